#!/usr/bin/env bash
# safe_ddl under a real migration framework (issue 8): Django's `manage.py migrate`, through
# psycopg 3, against a throwaway cluster with safe_ddl preloaded. The project is
# pg_test/django (pg_test/django/README.md): one app, `shop`, one model, `Order`, and two
# migration chains that end in the same models, chosen with SHOP_MIGRATIONS:
#   unsafe  what makemigrations writes: AddIndex (plain CREATE INDEX), AlterField
#           IntegerField -> BigIntegerField (ALTER COLUMN TYPE bigint: a rewrite), AlterField
#           null=True -> null=False (SET NOT NULL: a scan)
#   safe    their zero-downtime forms: AddIndexConcurrently in a non-atomic migration; a new
#           bigint column + dual-write trigger + CALL safe_ddl.backfill + contract
#           (SeparateDatabaseAndState); CHECK NOT VALID + VALIDATE + SET NOT NULL, one
#           transaction each (non-atomic, SeparateDatabaseAndState)
# Both start with 0001_initial, 0002_seed_orders (20,000 rows) and 0003_note_text
# (varchar(200) -> text, binary coercible). Each chain runs in its own database.
# Checks (each prints a PASS line; the first failure prints FAIL and exits non-zero):
#   1. 0003_note_text, a plain AlterField, is let through and does not rewrite the table;
#   2. unsafe chain: `manage.py migrate` fails on each hazardous migration in turn, the error
#      output shows safe_ddl's message (SQLSTATE 55000, psycopg's ObjectNotInPrerequisiteState),
#      DETAIL and HINT with the safe SQL, and the database (schema, storage, rows, applied
#      migrations) is exactly as before; each then passes with PGOPTIONS='-c safe_ddl.allow=...'
#      (the override, logged by the server), and the type change really rewrote the table;
#   3. safe chain: `manage.py migrate` succeeds; the catalog shows a valid index, quantity bigint
#      NOT NULL, status NOT NULL, nothing left over (column, trigger, function, CHECK), the
#      table never rewritten, every row's values kept, and the same schema and data as the
#      unsafe chain's end; the backfill job is done;
#   4. both chains' model state matches models.py (makemigrations --check) and nothing is left
#      unapplied (migrate --check); the server logged no ERROR for the safe database and no crash.
# Fresh databases (issue 13; docs/test-databases.md), with SHOP_EXTRA_APPS=1: Django's contrib
# apps, django-allauth and django-celery-results installed too (their histories go through 39
# hazardous statements on empty tables, listed at part 5 below):
#   5. a new database without CREATE EXTENSION, enforce mode, no allow: `manage.py migrate` of
#      every app, the shop's unsafe chain with SHOP_SEED_ROWS=0, from zero, applies everything and
#      the server logs no WARNING or ERROR of safe_ddl; the guard is on there (a CREATE INDEX on a
#      table with a row is refused); the safe chain from zero with the seed (and the extension,
#      for CALL safe_ddl.backfill) applies too, to the same schema and data as shop_safe;
#   6. `manage.py test` (Django's test runner creates test_fresh_test and migrates it from zero)
#      passes in enforce mode; with the 20,000 seeded rows the unsafe chain's AddIndex is
#      refused, and the allow in PGOPTIONS lets the test run through;
#   7. each of those hazardous migrations on a populated table (rows inserted after migrating to
#      just before it; for DROP COLUMN also a read of the column by another session) is refused
#      with safe_ddl's message and leaves the database exactly as before;
#   8. in warn mode the same fresh migrate logs no WARNING of safe_ddl at all.
# 5, 6 and 8 need safe_ddl's exemptions for tables that hold no data and for objects created
# while usage tracking ran (issue 13); 7 holds with or without them.
# The virtualenv pg_test/django/.venv is made with /usr/bin/python3 -m venv and filled from
# pg_test/django/requirements.txt (PyPI) when missing or not at the pinned versions; otherwise it
# is reused as it is. About 40 s the first time (the virtualenv), 30 s after (2 CPUs, loaded).
#
# Usage: bash pg_test/django_test.sh [PORT]   (default 54345; as root)
# Needs the extension installed (pg_test/lib/install.sh), python3 and python3-venv (setup.sh).
# The cluster lives in $SAFE_DDL_TEST_DIR/django (default /tmp/safe_ddl_test/django; its own
# Unix socket directory, no TCP) and is stopped on exit; the directory is removed after a
# success, kept after a failure (or with DJANGO_TEST_KEEP=1) for the logs.
set -euo pipefail
cd "$(dirname "$0")/.."
. pg_test/lib/cluster.sh
unset SAFE_DDL_PRELOAD   # cluster.sh: this test always wants safe_ddl in shared_preload_libraries
unset SHOP_EXTRA_APPS SHOP_SEED_ROWS   # set by the checks that want them (shopsite/settings.py)

PORT="${1:-54345}"
DIR="${SAFE_DDL_TEST_DIR:-/tmp/safe_ddl_test}/django"
CLUSTER="$DIR/cluster"
PROJECT="$PWD/pg_test/django"
VENV="$PROJECT/.venv"
ROWS=20000       # pg_test/django/shop/migrations/0002_seed_orders.py
OK=0

cleanup() {
    cluster_stop "$CLUSTER" 2>/dev/null || true
    if [ "$OK" != 1 ]; then
        echo "django_test: FAILED; outputs kept in $DIR (cluster/server.log, *.out)" >&2
    elif [ -n "${DJANGO_TEST_KEEP:-}" ]; then
        echo "django_test: outputs kept in $DIR"
    else
        rm -rf "$DIR"
    fi
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

rm -rf "$DIR"
mkdir -p "$DIR"

# ---- the virtualenv -----------------------------------------------------------------------------
# venv_current: the venv's python runs and has exactly the versions pinned in requirements.txt.
venv_current() {
    [ -x "$VENV/bin/python" ] || return 1
    "$VENV/bin/python" - "$PROJECT/requirements.txt" <<'EOF' 2>/dev/null
import sys
from importlib.metadata import PackageNotFoundError, version

for line in open(sys.argv[1]):
    req = line.split("#", 1)[0].strip()
    if not req:
        continue
    name, _, pinned = req.partition("==")
    try:
        if version(name.strip()) != pinned.strip():
            sys.exit(1)
    except PackageNotFoundError:
        sys.exit(1)
EOF
}
if ! venv_current; then
    echo "django_test: installing pg_test/django/requirements.txt into pg_test/django/.venv"
    if ! { [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c '' 2>/dev/null; }; then
        rm -rf "$VENV"
        /usr/bin/python3 -m venv "$VENV" >"$DIR/venv.log" 2>&1 \
            || fail "/usr/bin/python3 -m venv $VENV (needs python3-venv, see setup.sh): $(cat "$DIR/venv.log")"
    fi
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$PROJECT/requirements.txt" \
        >"$DIR/pip.log" 2>&1 || fail "pip install -r pg_test/django/requirements.txt: $(tail -n 20 "$DIR/pip.log")"
    venv_current || fail "pg_test/django/.venv does not have the versions of requirements.txt after pip install"
fi

# ---- the cluster and the two databases ----------------------------------------------------------
cluster_start "$CLUSTER" "$PORT"

# q DB SQL: values (unaligned, tuples only).
q() { cluster_psql "$CLUSTER" "$PORT" -d "$1" -qAt -v ON_ERROR_STOP=1 -c "$2"; }

# check DESCRIPTION DB SQL: SQL must return t.
check() {
    local got
    got="$(q "$2" "$3" 2>&1)" || fail "$1: $got"
    [ "$got" = t ] || fail "$1 (got: $got)"
    echo "PASS: $1"
}

for db in shop_unsafe shop_safe; do
    out="$(q postgres "CREATE DATABASE $db" 2>&1)" || fail "CREATE DATABASE $db: $out"
    out="$(q "$db" "CREATE EXTENSION safe_ddl" 2>&1)" || fail "CREATE EXTENSION safe_ddl in $db: $out"
done

# manage DB CHAIN OUT PGOPTIONS ARGS...: python manage.py ARGS against DB with the migration chain
# CHAIN (safe|unsafe), output (stdout and stderr) in $DIR/OUT.out; returns its exit status.
# PGOPTIONS is libpq's: e.g. '-c safe_ddl.allow=index_build'.
manage() {
    local db="$1" chain="$2" out="$DIR/$3.out" opts="$4"
    shift 4
    env PGHOST="$CLUSTER/sock" PGPORT="$PORT" PGUSER=postgres PGDATABASE="$db" PGOPTIONS="$opts" \
        SHOP_MIGRATIONS="$chain" PYTHONDONTWRITEBYTECODE=1 \
        "$VENV/bin/python" "$PROJECT/manage.py" "$@" >"$out" 2>&1
}

# migrate_ok DB CHAIN OUT PGOPTIONS [TARGET...]: manage.py migrate must succeed.
migrate_ok() {
    local rc=0 target="${*:5}"
    manage "$1" "$2" "$3" "$4" migrate --no-input "${@:5}" || rc=$?
    [ $rc -eq 0 ] || fail "$2 chain, $1: manage.py migrate${target:+ $target} failed ($rc):
$(cat "$DIR/$3.out")"
}

# The state of shop_order that a migration could change, one fact per line, sorted:
#   schema DB: columns (name, type, NOT NULL), indexes (valid, ready, definition), constraints,
#              triggers, functions in public, rows (count, a digest of every value)
#   state DB:  the schema, the table's storage (relfilenode: a rewrite changes it) and the
#              applied shop migrations.
schema() {
    q "$1" "
    SELECT line FROM (
        SELECT 1 AS k, format('column %s %s%s', attname, format_type(atttypid, atttypmod),
                              CASE WHEN attnotnull THEN ' NOT NULL' ELSE '' END) AS line
          FROM pg_attribute WHERE attrelid = 'shop_order'::regclass AND attnum > 0 AND NOT attisdropped
        UNION ALL
        SELECT 2, format('index %s valid=%s ready=%s: %s', indexrelid::regclass, indisvalid, indisready,
                         pg_get_indexdef(indexrelid))
          FROM pg_index WHERE indrelid = 'shop_order'::regclass
        UNION ALL
        SELECT 3, format('constraint %s: %s', conname, pg_get_constraintdef(oid))
          FROM pg_constraint WHERE conrelid = 'shop_order'::regclass
        UNION ALL
        SELECT 4, format('trigger %s', tgname) FROM pg_trigger WHERE tgrelid = 'shop_order'::regclass AND NOT tgisinternal
        UNION ALL
        SELECT 5, format('function %s', oid::regprocedure) FROM pg_proc WHERE pronamespace = 'public'::regnamespace
        UNION ALL
        SELECT 6, format('rows %s, status NULL in %s, sum(quantity) %s, digest %s', count(*),
                         count(*) FILTER (WHERE status IS NULL), sum(quantity),
                         md5(string_agg(concat_ws('|', id, customer, quantity, status, note, created_at), ',' ORDER BY id)))
          FROM shop_order
    ) AS s ORDER BY k, line"
}
state() {
    echo "storage relfilenode $(q "$1" "SELECT pg_relation_filenode('shop_order')")"
    schema "$1"
    q "$1" "SELECT 'applied ' || name FROM django_migrations WHERE app = 'shop' ORDER BY id"
}
relfilenode() { q "$1" "SELECT pg_relation_filenode('shop_order')"; }

# expect_refused DB MIGRATION HAZARD MESSAGE HINT_LINE...: `manage.py migrate` (unsafe chain) must
# fail while applying MIGRATION, with safe_ddl's ERROR (SQLSTATE 55000, psycopg's
# ObjectNotInPrerequisiteState), its MESSAGE and every HINT_LINE in the output, and leave the
# database exactly as it was.
expect_refused() {
    local db="$1" migration="$2" hazard="$3" message="$4"
    shift 4
    local out="refused_$hazard" before after rc=0 line
    before="$(state "$db")"
    manage "$db" unsafe "$out" "" migrate --no-input || rc=$?
    local text="$DIR/$out.out"
    [ $rc -ne 0 ] || fail "manage.py migrate succeeded on $migration; safe_ddl should have refused it ($hazard):
$(cat "$text")"
    [ "$(grep -o 'Applying shop\.[0-9a-z_]*' "$text" | tail -n 1)" = "Applying shop.$migration" ] \
        || fail "manage.py migrate did not fail on $migration:
$(cat "$text")"
    grep -qF "psycopg.errors.ObjectNotInPrerequisiteState: safe_ddl: $hazard: $message" "$text" \
        || fail "$migration: no 'psycopg.errors.ObjectNotInPrerequisiteState: safe_ddl: $hazard: $message' in the output:
$(cat "$text")"
    grep -qF "django.db.utils.OperationalError: safe_ddl: $hazard: $message" "$text" \
        || fail "$migration: Django's exception does not carry safe_ddl's message:
$(cat "$text")"
    grep -qE '^DETAIL:  ' "$text" || fail "$migration: no DETAIL in the output:
$(cat "$text")"
    for line in "$@"; do
        grep -qF -- "$line" "$text" || fail "$migration: the HINT line '$line' is not in the output:
$(cat "$text")"
    done
    after="$(state "$db")"
    [ "$before" = "$after" ] || fail "$migration: the failed migration changed the database:
$(diff <(echo "$before") <(echo "$after"))"
    echo "PASS: unsafe chain: migrate refused $migration ($hazard, SQLSTATE 55000): message, DETAIL and HINT in Django's output; database unchanged"
    # What the developer sees: Django's exception, the last one of the traceback.
    sed -n '/^django\.db\.utils\.OperationalError: /,$p' "$text" | sed 's/^/      | /'
}

# allowed DB MIGRATION HAZARD: the same migration passes with the override for that one hazard,
# and the server logs it.
allowed() {
    local db="$1" migration="$2" hazard="$3"
    migrate_ok "$db" unsafe "allowed_$hazard" "-c safe_ddl.allow=$hazard" shop "$migration"
    grep -q "Applying shop.$migration... OK" "$DIR/allowed_$hazard.out" \
        || fail "$migration was not applied with safe_ddl.allow=$hazard: $(cat "$DIR/allowed_$hazard.out")"
    grep -q "postgres@$db LOG:  safe_ddl: hazard $hazard on public.shop_order allowed by safe_ddl.allow" "$CLUSTER/server.log" \
        || fail "no LOG line for the allowed $hazard in the server log"
    echo "PASS: unsafe chain: $migration applied with PGOPTIONS='-c safe_ddl.allow=$hazard' (logged by the server)"
}

# seeded DB CHAIN: 0001 and 0002 (the rows), then 0003_note_text must neither be refused nor
# rewrite the table.
seeded() {
    local db="$1" chain="$2" rel
    migrate_ok "$db" "$chain" "${chain}_seed" "" shop 0002_seed_orders
    rel="$(relfilenode "$db")"
    migrate_ok "$db" "$chain" "${chain}_note" "" shop 0003_note_text
    check "$chain chain: 0003_note_text (AlterField varchar(200) -> text) applied under the guard without a rewrite; $ROWS rows" "$db" \
        "SELECT pg_relation_filenode('shop_order') = $rel
            AND (SELECT format_type(atttypid, atttypmod) FROM pg_attribute
                  WHERE attrelid = 'shop_order'::regclass AND attname = 'note') = 'text'
            AND (SELECT count(*) FROM shop_order) = $ROWS"
}

echo "django_test: $("$VENV/bin/python" -c 'import django, psycopg; print("Django", django.get_version(), "psycopg", psycopg.__version__, "(libpq", psycopg.pq.version() // 10000, end=")")'), cluster on port $PORT, safe_ddl $(q shop_safe "SELECT extversion FROM pg_extension WHERE extname = 'safe_ddl'")"

# ---- 1-2. the unsafe chain ----------------------------------------------------------------------
seeded shop_unsafe unsafe

expect_refused shop_unsafe 0004_order_created_at_idx index_build \
    "CREATE INDEX on table public.shop_order blocks writes for the whole build" \
    "HINT:  Build the index without blocking writes, outside a transaction block" \
    '  CREATE INDEX CONCURRENTLY "shop_order_created_at_idx" ON "shop_order" ("created_at");' \
    'To take the lock anyway: BEGIN; SET LOCAL safe_ddl.allow = '"'"'index_build'"'"'; CREATE INDEX "shop_order_created_at_idx" ON "shop_order" ("created_at"); COMMIT;'
allowed shop_unsafe 0004_order_created_at_idx index_build

expect_refused shop_unsafe 0005_quantity_bigint table_rewrite \
    "ALTER COLUMN quantity TYPE rewrites table public.shop_order (integer to bigint is not binary coercible)" \
    "HINT:  Change the type with expand/contract instead of rewriting under the lock (docs/expand-contract.md):" \
    "  SELECT safe_ddl.begin_column_change('public.shop_order', 'quantity', 'quantity_new', 'bigint');" \
    'To take the lock anyway: BEGIN; SET LOCAL safe_ddl.allow = '"'"'table_rewrite'"'"'; ALTER TABLE "shop_order" ALTER COLUMN "quantity" TYPE bigint'
rel="$(relfilenode shop_unsafe)"
allowed shop_unsafe 0005_quantity_bigint table_rewrite
check "unsafe chain: the allowed 0005_quantity_bigint really rewrote the table (new relfilenode): the refusal was right" shop_unsafe \
    "SELECT pg_relation_filenode('shop_order') <> $rel"

expect_refused shop_unsafe 0006_status_not_null not_null_scan \
    "SET NOT NULL on public.shop_order.status scans the whole table" \
    "HINT:  Prove it with a CHECK constraint first; each step is its own transaction:" \
    "  ALTER TABLE public.shop_order ADD CONSTRAINT shop_order_status_not_null CHECK (status IS NOT NULL) NOT VALID;  -- instant" \
    "  ALTER TABLE public.shop_order VALIDATE CONSTRAINT shop_order_status_not_null;" \
    'To take the lock anyway: BEGIN; SET LOCAL safe_ddl.allow = '"'"'not_null_scan'"'"'; ALTER TABLE "shop_order" ALTER COLUMN "status" SET NOT NULL'
allowed shop_unsafe 0006_status_not_null not_null_scan

# ---- 3. the safe chain --------------------------------------------------------------------------
seeded shop_safe safe
rel="$(relfilenode shop_safe)"
migrate_ok shop_safe safe safe_migrate ""
for m in 0004_order_created_at_idx 0005_quantity_bigint_expand 0006_quantity_bigint_backfill \
         0007_quantity_bigint_contract 0008_status_not_null; do
    grep -q "Applying shop.$m... OK" "$DIR/safe_migrate.out" || fail "safe chain: $m not applied:
$(cat "$DIR/safe_migrate.out")"
done
if grep -q "safe_ddl" "$DIR/safe_migrate.out"; then fail "safe chain: safe_ddl in the output of migrate:
$(cat "$DIR/safe_migrate.out")"; fi
echo "PASS: safe chain: migrate applied 0004..0008 under the guard, nothing refused"
check "safe chain: index shop_order_created_at_idx on (created_at) is valid and ready" shop_safe \
    "SELECT indisvalid AND indisready
            AND pg_get_indexdef(indexrelid) = 'CREATE INDEX shop_order_created_at_idx ON public.shop_order USING btree (created_at)'
       FROM pg_index WHERE indexrelid = 'shop_order_created_at_idx'::regclass"
check "safe chain: quantity is bigint NOT NULL, status varchar(20) NOT NULL, note text NOT NULL" shop_safe \
    "SELECT array_agg(format('%s %s %s', attname, format_type(atttypid, atttypmod), attnotnull) ORDER BY attname)
            = '{\"created_at timestamp with time zone t\",\"customer character varying(100) t\",\"id bigint t\",\"note text t\",\"quantity bigint t\",\"status character varying(20) t\"}'
       FROM pg_attribute WHERE attrelid = 'shop_order'::regclass AND attnum > 0 AND NOT attisdropped"
check "safe chain: nothing left over (only the primary key constraint, no trigger, no function in public)" shop_safe \
    "SELECT (SELECT array_agg(conname) FROM pg_constraint WHERE conrelid = 'shop_order'::regclass) = '{shop_order_pkey}'
        AND NOT EXISTS (SELECT FROM pg_trigger WHERE tgrelid = 'shop_order'::regclass AND NOT tgisinternal)
        AND NOT EXISTS (SELECT FROM pg_proc WHERE pronamespace = 'public'::regnamespace)"
check "safe chain: the table was never rewritten (same relfilenode as after 0003)" shop_safe \
    "SELECT pg_relation_filenode('shop_order') = $rel"
check "safe chain: the backfill job is done, $ROWS rows" shop_safe \
    "SELECT bool_and(status = 'done' AND rows_done = $ROWS) AND count(*) = 1 FROM safe_ddl.backfill_jobs"
safe_schema="$(schema shop_safe)"
unsafe_schema="$(schema shop_unsafe)"
[ "$safe_schema" = "$unsafe_schema" ] || fail "the safe chain's schema or data differs from the unsafe chain's:
$(diff <(echo "$unsafe_schema") <(echo "$safe_schema"))"
echo "PASS: safe chain: same schema and same values in every row as the unsafe chain's end:"
sed 's/^/      | /' <<<"$safe_schema"

# ---- 4. model state, applied migrations, server log ---------------------------------------------
for chain in unsafe safe; do
    rc=0; manage "shop_$chain" "$chain" "${chain}_makemigrations" "" makemigrations --check --dry-run shop || rc=$?
    [ $rc -eq 0 ] || fail "$chain chain: the migrations' state differs from models.py: $(cat "$DIR/${chain}_makemigrations.out")"
    rc=0; manage "shop_$chain" "$chain" "${chain}_migrate_check" "" migrate --check || rc=$?
    [ $rc -eq 0 ] || fail "$chain chain: unapplied migrations: $(cat "$DIR/${chain}_migrate_check.out")"
done
echo "PASS: both chains: model state matches models.py (makemigrations --check), nothing unapplied (migrate --check)"
if grep -E "postgres@shop_safe (ERROR|FATAL|PANIC)" "$CLUSTER/server.log"; then fail "the server logged errors for the safe chain"; fi
if grep -E "terminated by signal|PANIC:" "$CLUSTER/server.log"; then fail "a backend crashed"; fi
echo "PASS: server log: no error for the safe chain, no crash"

# ---- 5-8. fresh databases (issue 13) ------------------------------------------------------------
# A test run, a CI job, a new developer's setup: the whole migration history replayed on a new,
# empty database. SHOP_EXTRA_APPS=1 adds Django's contrib apps and two third-party apps with long
# histories (django-allauth, django-celery-results); SHOP_SEED_ROWS=0 makes the shop's seed
# migration insert nothing, as in a test database without seed data. Such a replay goes through
# these hazardous statements, each on a table that was created by an earlier migration of the
# same run and holds no row (from safe_ddl's WARNINGs in warn mode; plan order):
#   account.0003_alter_emailaddress_create_unique_verified_email   index_build x2 (ADD UNIQUE, CREATE UNIQUE INDEX)
#   account.0004_alter_emailaddress_drop_unique_email              index_drop
#   account.0005_emailaddress_idx_upper_email                      index_build
#   account.0007_emailaddress_idx_email                            index_drop, index_build x2
#   account.0009_emailaddress_unique_primary_email                 index_build
#   contenttypes.0002_remove_content_type_name                     drop_column (django_content_type.name)
#   django_celery_results.0004_auto_20190516_0412                  index_build x5
#   django_celery_results.0005_taskresult_worker                   index_build x2
#   django_celery_results.0006_taskresult_date_created             index_build
#   django_celery_results.0007_remove_taskresult_hidden            drop_column (taskresult.hidden)
#   django_celery_results.0009_groupresult                         index_drop x8, index_build x5
#   django_celery_results.0013_taskresult_django_cele_periodi_1993cf_idx  index_build
#   shop.0004_order_created_at_idx (unsafe chain)                  index_build
#   shop.0005_quantity_bigint (unsafe chain)                       table_rewrite
#   shop.0006_status_not_null (unsafe chain)                       not_null_scan
#   sites.0002_alter_domain_unique                                 index_build x2 (ADD UNIQUE, CREATE INDEX)
#   socialaccount.0005_socialtoken_nullable_app                    constraint_validation (ADD FOREIGN KEY)
#   socialaccount.0006_alter_socialaccount_extra_data              table_rewrite (text -> jsonb)
# 39 statements: 23 index_build, 10 index_drop, 2 table_rewrite, 2 drop_column, 1
# constraint_validation, 1 not_null_scan. With safe_ddl's exemptions for tables that hold no data
# and for objects created while usage tracking ran and used by nothing since, all of them pass in
# enforce mode (5, 6, 8), and each kind is still refused on a populated table (7; the shop's on
# the populated shop_unsafe above, 2).
FRESH_MIGRATIONS="account.0003_alter_emailaddress_create_unique_verified_email
account.0004_alter_emailaddress_drop_unique_email
account.0005_emailaddress_idx_upper_email
account.0007_emailaddress_idx_email
account.0009_emailaddress_unique_primary_email
contenttypes.0002_remove_content_type_name
django_celery_results.0004_auto_20190516_0412
django_celery_results.0005_taskresult_worker
django_celery_results.0006_taskresult_date_created
django_celery_results.0007_remove_taskresult_hidden
django_celery_results.0009_groupresult
django_celery_results.0013_taskresult_django_cele_periodi_1993cf_idx
shop.0004_order_created_at_idx
shop.0005_quantity_bigint
shop.0006_status_not_null
sites.0002_alter_domain_unique
socialaccount.0005_socialtoken_nullable_app
socialaccount.0006_alter_socialaccount_extra_data"

# fmanage DB CHAIN SEED OUT PGOPTIONS ARGS...: manage (above) with the extra apps installed and
# SHOP_SEED_ROWS=SEED.
fmanage() {
    local db="$1" chain="$2" seed="$3" out="$4" opts="$5"
    shift 5
    SHOP_EXTRA_APPS=1 SHOP_SEED_ROWS="$seed" manage "$db" "$chain" "$out" "$opts" "$@"
}

# fmigrate_ok DB CHAIN SEED OUT PGOPTIONS [APP [MIGRATION]]: manage.py migrate must succeed.
fmigrate_ok() {
    local rc=0 target="${*:6}"
    fmanage "$1" "$2" "$3" "$4" "$5" migrate --no-input "${@:6}" || rc=$?
    [ $rc -eq 0 ] || fail "$1: manage.py migrate${target:+ $target}${5:+ with PGOPTIONS='$5'} failed ($rc):
$(cat "$DIR/$4.out")"
}

# no_safe_ddl_log DB WHAT: the server logged no WARNING or ERROR of safe_ddl for DB.
no_safe_ddl_log() {
    local lines
    lines="$(grep -E "postgres@$1 (WARNING|ERROR):  safe_ddl" "$CLUSTER/server.log" || true)"
    [ -z "$lines" ] || fail "$2: the server logged safe_ddl WARNINGs or ERRORs for $1 ($(grep -c . <<<"$lines")):
$(cut -c1-300 <<<"$lines")"
}

# applied_all DB OUT WHAT: every migration of FRESH_MIGRATIONS was applied by the run in OUT, and
# nothing is left unapplied.
applied_all() {
    local m rc=0
    for m in $FRESH_MIGRATIONS; do
        grep -q "Applying $m... OK" "$DIR/$2.out" || fail "$3: $m not applied:
$(cat "$DIR/$2.out")"
    done
    fmanage "$1" unsafe 0 "$2_check" "" migrate --check || rc=$?
    [ $rc -eq 0 ] || fail "$3: unapplied migrations: $(cat "$DIR/$2_check.out")"
}

for db in fresh fresh_warn fresh_populated fresh_safe; do
    out="$(q postgres "CREATE DATABASE $db" 2>&1)" || fail "CREATE DATABASE $db: $out"
done

# ---- 5. a fresh database in enforce mode, without CREATE EXTENSION ------------------------------
# The guard is the preloaded library's hook: it needs no CREATE EXTENSION (the SQL functions do).
migrate_start=$SECONDS
fmigrate_ok fresh unsafe 0 fresh_migrate ""
applied_all fresh fresh_migrate "fresh database"
no_safe_ddl_log fresh "fresh database"
echo "PASS: fresh database, enforce mode, no allow, no CREATE EXTENSION: migrate of contrib, allauth, celery_results and the shop's unsafe chain from zero applied all $(grep -c '^  Applying .* OK$' "$DIR/fresh_migrate.out") migrations (among them the 39 hazardous statements listed in django_test.sh, on empty tables) in $((SECONDS - migrate_start)) s; no WARNING or ERROR from safe_ddl"
check "fresh database: safe_ddl's extension is not created there" fresh \
    "SELECT NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'safe_ddl')"
# ... and the guard is on there: once the table holds a row, the same kind of statement is refused.
out="$(q fresh "INSERT INTO shop_order (customer, quantity, status, note, created_at) VALUES ('c', 1, 'new', 'n', now())" 2>&1)" || fail "fresh: INSERT INTO shop_order: $out"
rc=0; out="$(q fresh "CREATE INDEX shop_order_customer_idx ON shop_order (customer)" 2>&1)" || rc=$?
[ $rc -ne 0 ] && grep -qF "ERROR:  safe_ddl: index_build: CREATE INDEX on table public.shop_order blocks writes for the whole build" <<<"$out" \
    || fail "fresh database: CREATE INDEX on shop_order with a row was not refused by safe_ddl ($rc): $out"
echo "PASS: fresh database: the guard is active without the extension (CREATE INDEX on shop_order with one row refused, index_build)"

# ---- 5b. the safe chain from zero, with the seed ------------------------------------------------
# (CALL safe_ddl.backfill needs the extension.)
out="$(q fresh_safe "CREATE EXTENSION safe_ddl" 2>&1)" || fail "CREATE EXTENSION safe_ddl in fresh_safe: $out"
fmigrate_ok fresh_safe safe "$ROWS" fresh_safe_migrate ""
for m in 0001_initial 0002_seed_orders 0003_note_text 0004_order_created_at_idx 0005_quantity_bigint_expand \
         0006_quantity_bigint_backfill 0007_quantity_bigint_contract 0008_status_not_null; do
    grep -q "Applying shop.$m... OK" "$DIR/fresh_safe_migrate.out" || fail "fresh_safe: shop.$m not applied:
$(cat "$DIR/fresh_safe_migrate.out")"
done
no_safe_ddl_log fresh_safe "fresh database, safe chain"
[ "$(schema fresh_safe)" = "$safe_schema" ] || fail "fresh_safe: schema or data differ from shop_safe's:
$(diff <(echo "$safe_schema") <(schema fresh_safe))"
check "fresh database with the extension: the safe chain with $ROWS seeded rows, contrib and third-party apps from zero applied in enforce mode, no allow but the chain's own (0007); the backfill job is done; same schema and data as shop_safe" fresh_safe \
    "SELECT bool_and(status = 'done' AND rows_done = $ROWS) AND count(*) = 1 FROM safe_ddl.backfill_jobs"

# ---- 6. Django's test runner --------------------------------------------------------------------
# manage.py test creates test_<NAME> from scratch (CREATE DATABASE from the postgres database),
# migrates it and runs shop/tests.py.
test_ok() {
    local out="$1" opts="$2" seed="$3" rc=0
    fmanage fresh_test unsafe "$seed" "$out" "$opts" test --noinput shop || rc=$?
    [ $rc -eq 0 ] && grep -q '^Ran 1 test' "$DIR/$out.out" && grep -qx 'OK' "$DIR/$out.out" \
        || fail "manage.py test${opts:+ with PGOPTIONS='$opts'}, SHOP_SEED_ROWS=$seed failed ($rc):
$(cat "$DIR/$out.out")"
}
test_ok test_fresh "" 0
no_safe_ddl_log test_fresh_test "manage.py test"
echo "PASS: manage.py test (enforce mode, no allow): test_fresh_test created and migrated from zero with every app, shop/tests.py passed; no WARNING or ERROR from safe_ddl"
# With the seed the test database is populated before shop.0004: the unsafe chain's hazards are
# real there (index, rewrite and scan of 20,000 rows) and are refused, and the allow in PGOPTIONS
# is the way to run such a test suite anyway (docs/test-databases.md).
rc=0; fmanage fresh_test unsafe "$ROWS" test_seeded "" test --noinput shop || rc=$?
[ $rc -ne 0 ] && grep -qF "django.db.utils.OperationalError: safe_ddl: index_build: CREATE INDEX on table public.shop_order blocks writes for the whole build" "$DIR/test_seeded.out" \
    || fail "manage.py test with $ROWS seeded rows: not refused at shop.0004 ($rc):
$(cat "$DIR/test_seeded.out")"
echo "PASS: manage.py test with $ROWS seeded rows: the unsafe chain's AddIndex on the populated shop_order refused (index_build)"
test_ok test_seeded_allowed "-c safe_ddl.allow=index_build,table_rewrite,not_null_scan" "$ROWS"
echo "PASS: manage.py test with $ROWS seeded rows passes with PGOPTIONS='-c safe_ddl.allow=index_build,table_rewrite,not_null_scan'"

# ---- 7. the same statements on populated tables are still refused -------------------------------
# One database, migrated step by step: to just before a hazardous migration, rows inserted (and
# for DROP COLUMN a read of the column by another session), then the migration must be refused
# with safe_ddl's message and leave the database exactly as it was; then it is applied with the
# allow, and on to the next one.

# pstate DB TABLE: the public schema (columns, indexes, constraints, storage), TABLE's rows and the
# applied migrations.
pstate() {
    q "$1" "
    SELECT line FROM (
        SELECT format('column %s.%s %s%s', c.relname, attname, format_type(atttypid, atttypmod),
                      CASE WHEN attnotnull THEN ' NOT NULL' ELSE '' END) AS line
          FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
         WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND attnum > 0 AND NOT attisdropped
        UNION ALL
        SELECT format('index %s valid=%s: %s', indexrelid::regclass, indisvalid, pg_get_indexdef(indexrelid))
          FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid WHERE c.relnamespace = 'public'::regnamespace
        UNION ALL
        SELECT format('constraint %s.%s: %s', conrelid::regclass, conname, pg_get_constraintdef(oid))
          FROM pg_constraint WHERE connamespace = 'public'::regnamespace
        UNION ALL
        SELECT format('storage %s %s', relname, pg_relation_filenode(oid))
          FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'
        UNION ALL
        SELECT format('rows %s %s', count(*), md5(string_agg(t::text, ',' ORDER BY t::text))) FROM $2 AS t
        UNION ALL
        SELECT format('applied %s.%s', app, name) FROM django_migrations
    ) AS s ORDER BY line"
}

# refused_populated APP MIGRATION HAZARD TABLE MESSAGE [LINE...]: manage.py migrate APP MIGRATION
# on fresh_populated must fail while applying it, with safe_ddl's ERROR (hazard and MESSAGE) and
# every LINE in Django's output, and leave the database exactly as before. With ALLOW set (e.g.
# ALLOW=index_drop refused_populated ...), the run has that allow: the migration's first hazard
# passes and a later statement of another kind is refused.
ALLOW=""
refused_populated() {
    local app="$1" migration="$2" hazard="$3" table="$4" message="$5"
    shift 5
    local out="populated_${app}_${migration%%_*}${ALLOW:+_$ALLOW}" before after rc=0 line
    before="$(pstate fresh_populated "$table")"
    fmanage fresh_populated unsafe 0 "$out" "${ALLOW:+-c safe_ddl.allow=$ALLOW}" migrate --no-input "$app" "$migration" || rc=$?
    local text="$DIR/$out.out"
    [ $rc -ne 0 ] || fail "populated $table: manage.py migrate $app $migration succeeded; safe_ddl should have refused it ($hazard):
$(cat "$text")"
    [ "$(grep -o 'Applying [a-z_]*\.[0-9a-z_]*' "$text" | tail -n 1)" = "Applying $app.$migration" ] \
        || fail "populated $table: manage.py migrate did not fail on $app.$migration:
$(cat "$text")"
    grep -qF "django.db.utils.OperationalError: safe_ddl: $hazard: $message" "$text" \
        || fail "populated $table: $app.$migration: no 'safe_ddl: $hazard: $message' in Django's exception:
$(cat "$text")"
    for line in "$@"; do
        grep -qF -- "$line" "$text" || fail "populated $table: $app.$migration: '$line' is not in the output:
$(cat "$text")"
    done
    after="$(pstate fresh_populated "$table")"
    [ "$before" = "$after" ] || fail "populated $table: the refused $app.$migration changed the database:
$(diff <(echo "$before") <(echo "$after"))"
    echo "PASS: populated $table: $app.$migration refused ($hazard: $message)${ALLOW:+ with safe_ddl.allow=$ALLOW}; database unchanged"
}

# allowed_populated APP MIGRATION ALLOW: the same migration passes with PGOPTIONS' allow.
allowed_populated() {
    fmigrate_ok fresh_populated unsafe 0 "allowed_${1}_${2%%_*}" "-c safe_ddl.allow=$3" "$1" "$2"
    grep -q "Applying $1.$2... OK" "$DIR/allowed_${1}_${2%%_*}.out" \
        || fail "$1.$2 not applied with safe_ddl.allow=$3: $(cat "$DIR/allowed_${1}_${2%%_*}.out")"
}

# populate SQL: rows for the next refusal. used SQL: a read by another session (psql), which
# safe_ddl's usage tracking records.
populate() { local out; out="$(q fresh_populated "$1" 2>&1)" || fail "fresh_populated: $1: $out"; }
used() { local out; out="$(q fresh_populated "$1" 2>&1)" || fail "fresh_populated: $1: $out"; }

# contenttypes.0002: DROP COLUMN name, in use.
fmigrate_ok fresh_populated unsafe 0 populated_ct0001 "" contenttypes 0001_initial
populate "INSERT INTO django_content_type (name, app_label, model)
                   SELECT 'type ' || g, 'populated', 'model' || g FROM generate_series(1, 1000) AS g"
used "SELECT count(name) FROM django_content_type"
refused_populated contenttypes 0002_remove_content_type_name drop_column django_content_type \
    "DROP COLUMN name of table public.django_content_type needs an explicit allow" \
    "It is in use: safe_ddl saw column name of public.django_content_type read"
allowed_populated contenttypes 0002_remove_content_type_name "drop_column,in_use"

# sites.0002: after `migrate sites 0001`, Django's post_migrate handler inserts the default site
# (example.com): a data step between two migration runs, so the ADD UNIQUE has a row to index.
fmigrate_ok fresh_populated unsafe 0 populated_sites0001 "" sites 0001_initial
refused_populated sites 0002_alter_domain_unique index_build django_site \
    "ADD UNIQUE on table public.django_site builds an index while holding an ACCESS EXCLUSIVE lock"
allowed_populated sites 0002_alter_domain_unique index_build

# account.0003, 0004: ADD UNIQUE (index_build), DROP INDEX (index_drop) on account_emailaddress.
fmigrate_ok fresh_populated unsafe 0 populated_account0002 "" account 0002_email_max_length
populate "INSERT INTO auth_user (password, last_login, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined)
                   SELECT '!', now(), false, 'user' || g, '', '', 'user' || g || '@example.com', false, true, now()
                     FROM generate_series(1, 1000) AS g;
                   INSERT INTO account_emailaddress (email, verified, \"primary\", user_id)
                   SELECT email, true, true, id FROM auth_user"
refused_populated account 0003_alter_emailaddress_create_unique_verified_email index_build account_emailaddress \
    "ADD UNIQUE on table public.account_emailaddress builds an index while holding an ACCESS EXCLUSIVE lock"
allowed_populated account 0003_alter_emailaddress_create_unique_verified_email index_build
refused_populated account 0004_alter_emailaddress_drop_unique_email index_drop account_emailaddress \
    "DROP INDEX public.account_emailaddress_email_03be32b2_like locks table public.account_emailaddress against all reads and writes"
allowed_populated account 0004_alter_emailaddress_drop_unique_email index_drop
refused_populated account 0005_emailaddress_idx_upper_email index_build account_emailaddress \
    "CREATE INDEX on table public.account_emailaddress blocks writes for the whole build"
allowed_populated account 0006_emailaddress_lower index_build
refused_populated account 0007_emailaddress_idx_email index_drop account_emailaddress \
    "DROP INDEX public.account_emailaddress_upper locks table public.account_emailaddress against all reads and writes"
ALLOW=index_drop refused_populated account 0007_emailaddress_idx_email index_build account_emailaddress \
    "CREATE INDEX on table public.account_emailaddress blocks writes for the whole build"
allowed_populated account 0008_emailaddress_unique_primary_email_fixup "index_drop,index_build"
refused_populated account 0009_emailaddress_unique_primary_email index_build account_emailaddress \
    "CREATE INDEX on table public.account_emailaddress blocks writes for the whole build"
allowed_populated account 0009_emailaddress_unique_primary_email index_build

# django_celery_results.0004 (CREATE INDEX), 0007 (DROP COLUMN hidden, in use), 0009 (DROP INDEX).
fmigrate_ok fresh_populated unsafe 0 populated_celery0003 "" django_celery_results 0003_auto_20181106_1101
populate "INSERT INTO django_celery_results_taskresult
                          (task_id, status, content_type, content_encoding, result, date_done, hidden, task_name)
                   SELECT 'task ' || g, 'SUCCESS', 'application/json', 'utf-8', 'null', now(), false, 'shop.tasks.t' || g % 10
                     FROM generate_series(1, 1000) AS g"
refused_populated django_celery_results 0004_auto_20190516_0412 index_build django_celery_results_taskresult \
    "CREATE INDEX on table public.django_celery_results_taskresult blocks writes for the whole build"
allowed_populated django_celery_results 0004_auto_20190516_0412 index_build
for m in 0005_taskresult_worker 0006_taskresult_date_created; do
    refused_populated django_celery_results $m index_build django_celery_results_taskresult \
        "CREATE INDEX on table public.django_celery_results_taskresult blocks writes for the whole build"
    allowed_populated django_celery_results $m index_build
done
used "SELECT count(*) FROM django_celery_results_taskresult WHERE NOT hidden"
refused_populated django_celery_results 0007_remove_taskresult_hidden drop_column django_celery_results_taskresult \
    "DROP COLUMN hidden of table public.django_celery_results_taskresult needs an explicit allow" \
    "It is in use: safe_ddl saw column hidden of public.django_celery_results_taskresult read"
allowed_populated django_celery_results 0008_chordcounter "drop_column,in_use"
refused_populated django_celery_results 0009_groupresult index_drop django_celery_results_taskresult \
    "DROP INDEX public.django_celery_results_taskresult_date_created_099f3424 locks table public.django_celery_results_taskresult against all reads and writes"
ALLOW=index_drop refused_populated django_celery_results 0009_groupresult index_build django_celery_results_taskresult \
    "CREATE INDEX on table public.django_celery_results_taskresult blocks writes for the whole build"
allowed_populated django_celery_results 0012_taskresult_date_started "index_drop,index_build"
refused_populated django_celery_results 0013_taskresult_django_cele_periodi_1993cf_idx index_build django_celery_results_taskresult \
    "CREATE INDEX on table public.django_celery_results_taskresult blocks writes for the whole build"
allowed_populated django_celery_results 0013_taskresult_django_cele_periodi_1993cf_idx index_build

# socialaccount.0005 (ADD FOREIGN KEY: constraint_validation), 0006 (text -> jsonb: table_rewrite).
fmigrate_ok fresh_populated unsafe 0 populated_social0004 "" socialaccount 0004_app_provider_id_settings
populate "INSERT INTO socialaccount_socialapp (provider, name, client_id, secret, key, provider_id, settings)
                   VALUES ('github', 'GitHub', 'id', 'secret', '', '', '{}');
                   INSERT INTO socialaccount_socialaccount (provider, uid, last_login, date_joined, extra_data, user_id)
                   SELECT 'github', id::text, now(), now(), '{}', id FROM auth_user;
                   INSERT INTO socialaccount_socialtoken (token, token_secret, account_id, app_id)
                   SELECT 'token', '', a.id, (SELECT id FROM socialaccount_socialapp) FROM socialaccount_socialaccount AS a"
refused_populated socialaccount 0005_socialtoken_nullable_app constraint_validation socialaccount_socialtoken \
    "ADD FOREIGN KEY on table public.socialaccount_socialtoken validates every row while holding its lock"
allowed_populated socialaccount 0005_socialtoken_nullable_app constraint_validation
refused_populated socialaccount 0006_alter_socialaccount_extra_data table_rewrite socialaccount_socialaccount \
    "ALTER COLUMN extra_data TYPE rewrites table public.socialaccount_socialaccount (text to jsonb is not binary coercible)"
allowed_populated socialaccount 0006_alter_socialaccount_extra_data table_rewrite

# ---- 8. warn mode on a fresh database: nothing to warn about ------------------------------------
fmigrate_ok fresh_warn unsafe 0 fresh_warn_migrate "-c safe_ddl.mode=warn"
applied_all fresh_warn fresh_warn_migrate "fresh database, warn mode"
no_safe_ddl_log fresh_warn "fresh database, warn mode"
echo "PASS: fresh database, warn mode: the same migrate applied everything without a single WARNING from safe_ddl"
if grep -E "terminated by signal|PANIC:" "$CLUSTER/server.log"; then fail "a backend crashed (fresh databases)"; fi
echo "PASS: server log: no crash in the fresh-database checks"

OK=1
echo "django_test: all passed"
