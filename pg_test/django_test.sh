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
# The virtualenv pg_test/django/.venv is made with /usr/bin/python3 -m venv and filled from
# pg_test/django/requirements.txt (PyPI) when missing or not at the pinned versions; otherwise it
# is reused as it is. About 30 s the first time (the virtualenv), 15-20 s after (2 CPUs, loaded).
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
    "To take the lock anyway: BEGIN; SET LOCAL safe_ddl.allow = 'index_build'; <statement>; COMMIT;"
allowed shop_unsafe 0004_order_created_at_idx index_build

expect_refused shop_unsafe 0005_quantity_bigint table_rewrite \
    "ALTER COLUMN quantity TYPE rewrites table public.shop_order (integer to bigint is not binary coercible)" \
    "HINT:  Change the type with expand/contract instead of rewriting under the lock (docs/expand-contract.md):" \
    "  SELECT safe_ddl.begin_column_change('public.shop_order', 'quantity', 'quantity_new', '<new type>');" \
    "To take the lock anyway: BEGIN; SET LOCAL safe_ddl.allow = 'table_rewrite'; <statement>; COMMIT;"
rel="$(relfilenode shop_unsafe)"
allowed shop_unsafe 0005_quantity_bigint table_rewrite
check "unsafe chain: the allowed 0005_quantity_bigint really rewrote the table (new relfilenode): the refusal was right" shop_unsafe \
    "SELECT pg_relation_filenode('shop_order') <> $rel"

expect_refused shop_unsafe 0006_status_not_null not_null_scan \
    "SET NOT NULL on public.shop_order.status scans the whole table" \
    "HINT:  Prove it with a CHECK constraint first; each step is its own transaction:" \
    "  ALTER TABLE public.shop_order ADD CONSTRAINT shop_order_status_not_null CHECK (status IS NOT NULL) NOT VALID;  -- instant" \
    "  ALTER TABLE public.shop_order VALIDATE CONSTRAINT shop_order_status_not_null;" \
    "To take the lock anyway: BEGIN; SET LOCAL safe_ddl.allow = 'not_null_scan'; <statement>; COMMIT;"
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

OK=1
echo "django_test: all passed"
