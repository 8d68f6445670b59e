#!/usr/bin/env bash
# The safe-ddl command (issue 17; docs/ci.md), real runs of the binary:
#   1. --ephemeral on the fixture migrations (pg_test/cli/migrations, against the pg_dump
#      --schema-only of pg_test/cli/schema.sql): each format's exact output
#      (pg_test/cli/expected/{text,json,github}.txt; the docs directory replaced by <docs>), exit
#      status 1, the summary line on stderr; a clean file alone exits 0, an inline allow alone
#      exits 0 with verdict allowed (and the hook honoured it: the file ran without the command's
#      override, else the finding would be a refusal), stdin (-) works;
#   2. exit status 2, with FILE:LINE:COL where it concerns a file: a syntax error, an unknown
#      hazard in an inline allow, a statement that does not apply to the schema, bad arguments,
#      an unreadable or non-UTF-8 file, a schema file that fails, an unreachable --dsn, a
#      database without the extension, a server with safe_ddl.mode = off;
#   3. --ephemeral from a clean temporary directory as root (the server runs as postgres) and as
#      an unprivileged user (nobody), with PGOPTIONS='-c safe_ddl.allow=all' in the environment:
#      the same output; nothing left in TMPDIR, no server left running, also after an error or
#      a SIGTERM;
#   4. --dsn against the test cluster as a non-superuser: the findings with real table sizes,
#      in a read-only transaction (nothing changed); warn mode gives warned (exit 1); then against
#      a real streaming standby of it (pg_basebackup -R, hot standby): the same findings;
#   5. Django: `manage.py sqlmigrate` of each migration of pg_test/django's unsafe chain, in
#      order, checked with --ephemeral: exactly the three hazardous migrations are reported
#      (AddIndex: index_build, IntegerField -> BigIntegerField: table_rewrite, null=False:
#      not_null_scan), the varchar -> text AlterField is not; the safe chain with --autocommit
#      (non-atomic migrations have no BEGIN/COMMIT in sqlmigrate's output): nothing refused.
# Each check prints a PASS line; the first failure prints FAIL and exits non-zero. About a
# minute (a dozen throwaway clusters of about 2 s each, the Django virtualenv if missing).
#
# Usage: bash pg_test/cli.sh [PORT]   (default 55480, the standby PORT+1; as root)
# Needs the extension installed in the PostgreSQL of $PG_CONFIG (pg_test/lib/install.sh) and
# builds the command (cargo build --bin safe-ddl) unless SAFE_DDL_BIN names one to test.
# Everything lives in /tmp/safe_ddl_cli (removed on success, kept after a failure).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
. pg_test/lib/cluster.sh

PORT="${1:-55480}"
DIR=/tmp/safe_ddl_cli
PRIMARY="$DIR/primary"
STANDBY="$DIR/standby"
FIX="$ROOT/pg_test/cli"
OK=0

cleanup() {
    cluster_stop "$STANDBY" 2>/dev/null || true
    cluster_stop "$PRIMARY" 2>/dev/null || true
    if [ "$OK" != 1 ]; then
        echo "cli: FAILED; outputs kept in $DIR" >&2
    else
        rm -rf "$DIR"
    fi
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "PASS: $*"; }

rm -rf "$DIR" && mkdir -p "$DIR" && chmod 755 "$DIR"
export PG_CONFIG
if [ -n "${SAFE_DDL_BIN:-}" ]; then
    BIN="$SAFE_DDL_BIN"
else
    cargo build --quiet --bin safe-ddl || fail "cargo build --bin safe-ddl"
    BIN="$ROOT/${CARGO_TARGET_DIR:-target}/debug/safe-ddl"
fi
# A copy anyone may run (the checkout may be under /root).
install -m 0755 "$BIN" "$DIR/safe-ddl"
BIN="$DIR/safe-ddl"
DOCS="$("$PG_CONFIG" --sharedir)/doc/safe_ddl"

# sd OUT [ARGS...]: run safe-ddl from $FIX; stdout to $DIR/OUT.out, stderr to $DIR/OUT.err;
# the exit status in $rc.
sd() {
    local out="$1"; shift
    rc=0
    (cd "$FIX" && "$BIN" "$@") >"$DIR/$out.out" 2>"$DIR/$out.err" || rc=$?
}
# expect_rc N OUT: the last sd's status must be N.
expect_rc() {
    [ "$rc" = "$1" ] || fail "$2: exit status $rc, expected $1; stdout: $(cat "$DIR/$2.out"); stderr: $(cat "$DIR/$2.err")"
}
# expect_err OUT TEXT: the last sd's stderr must start with TEXT (its first line).
expect_err() {
    local got; got="$(head -n 1 "$DIR/$1.err")"
    [ "$got" = "$2" ] || fail "$1: stderr starts with: $got
expected: $2"
}
# jl FILE FORMAT: each JSON line of FILE (a --format json output) as FORMAT, a Python f-string
# over its keys (python3 rather than jq: setup.sh installs it). Also fails on a line that is not
# a JSON object.
jl() {
    python3 - "$1" "$2" <<'PY'
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    o = json.loads(line)
    assert isinstance(o, dict), line
    print(eval("f" + repr(sys.argv[2]), {}, o))
PY
}
# normalised OUT: stdout with the installed docs directory as <docs>.
normalised() { sed "s#$DOCS#<docs>#g" "$DIR/$1.out"; }

# ---- the test cluster, its schema dump ----------------------------------------------------------
cluster_start "$PRIMARY" "$PORT"
q() { cluster_psql "$PRIMARY" "$PORT" -d shop -qAt -v ON_ERROR_STOP=1 "$@"; }
cluster_psql "$PRIMARY" "$PORT" -qAt -c "CREATE DATABASE shop" >/dev/null
{ echo "CREATE EXTENSION safe_ddl;"; cat "$FIX/schema.sql" "$FIX/data.sql";
  echo "CREATE ROLE ci_check LOGIN; GRANT SELECT ON ALL TABLES IN SCHEMA public TO ci_check;"
  echo "VACUUM ANALYZE;"; } | q >/dev/null
as_postgres "$PGBIN/pg_dump" -h "$PRIMARY/sock" -p "$PORT" -U postgres --schema-only --no-owner --no-privileges shop \
    >"$DIR/schema_dump.sql" || fail "pg_dump --schema-only"
DUMP="$DIR/schema_dump.sql"
chmod 644 "$DUMP"

# ---- 1. ephemeral: exact output per format ------------------------------------------------------
MIGRATIONS=(migrations/0001_clean.sql migrations/0002_refused.sql migrations/0003_allowed.sql
            migrations/0004_concurrently.sql migrations/0005_own_transaction.sql)
SUMMARY="safe-ddl: 5 files checked: 6 refused, 0 warned, 1 allowed, 0 unanalysed"
for fmt in text json github; do
    sd "$fmt" check --ephemeral --schema "$DUMP" --format "$fmt" "${MIGRATIONS[@]}"
    expect_rc 1 "$fmt"
    normalised "$fmt" >"$DIR/$fmt.txt"
    diff -u "$FIX/expected/$fmt.txt" "$DIR/$fmt.txt" >"$DIR/$fmt.diff" \
        || fail "--format $fmt: output differs from pg_test/cli/expected/$fmt.txt:
$(cat "$DIR/$fmt.diff")"
    expect_err "$fmt" "$SUMMARY"
    pass "ephemeral, --format $fmt: the exact expected output (pg_test/cli/expected/$fmt.txt), exit status 1, summary on stderr"
done
jl "$DIR/json.out" '{file}' >/dev/null || fail "--format json: not valid JSON Lines"
pass "ephemeral, --format json: every line is valid JSON"

sd clean check --ephemeral --schema "$DUMP" migrations/0001_clean.sql
expect_rc 0 clean
[ ! -s "$DIR/clean.out" ] || fail "clean file: findings: $(cat "$DIR/clean.out")"
pass "ephemeral: the clean file alone (new table and its index, ADD COLUMN, varchar(50) -> text): no finding, exit status 0"

sd allowed check --ephemeral --schema "$DUMP" --format json migrations/0003_allowed.sql
expect_rc 0 allowed
[ "$(jl "$DIR/allowed.out" '{line}:{column} {hazard} {verdict}')" = "3:1 index_build allowed" ] \
    || fail "inline allow: $(cat "$DIR/allowed.out")"
pass "ephemeral: an inline allow (-- safe_ddl: allow index_build) honoured by check() (verdict allowed) and by the hook (it ran, no refusal): exit status 0"

rc=0
(cd "$FIX" && "$BIN" check --ephemeral --schema "$DUMP" --format json - <migrations/0002_refused.sql) \
    >"$DIR/stdin.out" 2>"$DIR/stdin.err" || rc=$?
expect_rc 1 stdin
[ "$(jl "$DIR/stdin.out" '{file}:{line}:{column} {hazard}' | paste -sd' ')" \
  = "<stdin>:2:1 index_build <stdin>:5:1 table_rewrite <stdin>:7:12 not_null_scan <stdin>:8:1 constraint_validation" ] \
    || fail "stdin: $(cat "$DIR/stdin.out")"
pass "ephemeral: - reads stdin (<stdin>:LINE:COL, columns in characters: 7:12 after /* café */)"

sd vacuum check --ephemeral --schema "$DUMP" --format json more/vacuum_full.sql
expect_rc 1 vacuum
[ "$(jl "$DIR/vacuum.out" '{line}:{column} {hazard} {verdict}' | paste -sd' ')" = "3:1 table_rewrite refused 5:1 index_build refused" ] \
    || fail "VACUUM FULL: $(cat "$DIR/vacuum.out" "$DIR/vacuum.err")"
pass "ephemeral: VACUUM FULL refused, then outside a transaction block: the file starts over statement by statement and reports every finding"

# ---- 2. exit status 2 ---------------------------------------------------------------------------
sd syntax check --ephemeral --schema "$DUMP" errors/syntax.sql
expect_rc 2 syntax
expect_err syntax 'errors/syntax.sql:3:29: error: syntax error at or near ";"'
pass "a syntax error: exit status 2 at errors/syntax.sql:3:29"

sd unknown check --ephemeral --schema "$DUMP" errors/unknown_allow.sql
expect_rc 2 unknown
expect_err unknown 'errors/unknown_allow.sql:2:1: error: safe_ddl: invalid inline allow'
grep -q 'Unknown hazard "index_bulid"' "$DIR/unknown.err" || fail "unknown allow: $(cat "$DIR/unknown.err")"
pass "an unknown hazard in an inline allow: exit status 2 at the comment's line (errors/unknown_allow.sql:2:1)"

sd missing check --ephemeral --schema "$DUMP" migrations/0001_clean.sql errors/missing_table.sql
expect_rc 2 missing
expect_err missing 'errors/missing_table.sql:2:1: error: relation "order_lines" does not exist'
pass "a statement that does not apply to the schema: exit status 2 at errors/missing_table.sql:2:1 with Postgres' message"

printf 'SELECT 1;\n\xff\n' >"$DIR/latin1.sql"
for args in "--format xml --ephemeral x.sql" "check --ephemeral --format xml migrations/0001_clean.sql" \
            "check migrations/0001_clean.sql" "check --ephemeral" "check --dsn x --ephemeral y.sql" \
            "check --ephemeral no/such/file.sql" "check --ephemeral $DIR/latin1.sql"; do
    # shellcheck disable=SC2086
    sd args $args
    expect_rc 2 args
    grep -q "^safe-ddl: error: " "$DIR/args.err" || fail "safe-ddl $args: $(cat "$DIR/args.err")"
done
grep -q "latin1.sql is not valid UTF-8 (byte 10)" "$DIR/args.err" || fail "non-UTF-8 file: $(cat "$DIR/args.err")"
pass "bad arguments, an unreadable file, a non-UTF-8 file: exit status 2 with safe-ddl: error: ..."

# A PostgreSQL without safe_ddl: a pg_config whose pkglibdir has no safe_ddl.so.
mkdir -p "$DIR/fake/lib"
printf '#!/bin/sh\ncase "$1" in --pkglibdir) echo %s/fake/lib ;; *) echo /nonexistent ;; esac\n' "$DIR" >"$DIR/fake/pg_config"
chmod 755 "$DIR/fake/pg_config"
sd fakepg check --ephemeral --pg-config "$DIR/fake/pg_config" migrations/0001_clean.sql
expect_rc 2 fakepg
expect_err fakepg "safe-ddl: error: safe_ddl is not installed in the PostgreSQL of $DIR/fake/pg_config (no $DIR/fake/lib/safe_ddl.so)"
rc=0
(cd "$FIX" && PG_CONFIG="$DIR/fake/pg_config" "$BIN" check --ephemeral migrations/0001_clean.sql) >/dev/null 2>"$DIR/fakeenv.err" || rc=$?
[ $rc = 2 ] && grep -q "safe_ddl is not installed in the PostgreSQL of $DIR/fake/pg_config" "$DIR/fakeenv.err" \
    || fail "PG_CONFIG without safe_ddl: $rc $(cat "$DIR/fakeenv.err")"
pass "ephemeral with a PostgreSQL without safe_ddl (--pg-config, or PG_CONFIG): exit status 2 naming it"

mkdir -p "$DIR/private" && chmod 700 "$DIR/private"
rc=0
(cd "$FIX" && TMPDIR="$DIR/private" "$BIN" check --ephemeral migrations/0001_clean.sql) >/dev/null 2>"$DIR/private.err" || rc=$?
[ $rc = 2 ] && grep -q "must be able to reach $DIR/private/safe-ddl\.[A-Za-z0-9]*; set TMPDIR" "$DIR/private.err" \
    || fail "root with a TMPDIR the server's user cannot reach: $rc $(cat "$DIR/private.err")"
[ -z "$(ls -A "$DIR/private")" ] || fail "private TMPDIR: left behind: $(ls -A "$DIR/private")"
pass "ephemeral as root with a TMPDIR the server's user cannot reach: exit status 2 saying so, nothing left behind"

echo "CREATE TABLE t (a int; -- broken" >"$DIR/bad_schema.sql"
chmod 644 "$DIR/bad_schema.sql"
sd badschema check --ephemeral --schema "$DIR/bad_schema.sql" migrations/0001_clean.sql
expect_rc 2 badschema
grep -q "^psql:$DIR/bad_schema.sql:1: ERROR:  syntax error" "$DIR/badschema.err" || fail "bad schema: $(cat "$DIR/badschema.err")"
pass "a schema file that fails: exit status 2 with psql's message"

DSN_APP="host=$PRIMARY/sock port=$PORT dbname=shop user=ci_check"
sd nowhere check --dsn "host=$DIR/nowhere port=$PORT dbname=shop" migrations/0001_clean.sql
expect_rc 2 nowhere
grep -q "could not connect to the database (--dsn)" "$DIR/nowhere.err" || fail "unreachable: $(cat "$DIR/nowhere.err")"
sd noext check --dsn "postgresql:///postgres?host=$PRIMARY/sock&port=$PORT&user=ci_check" migrations/0001_clean.sql
expect_rc 2 noext
grep -q "Run CREATE EXTENSION safe_ddl;" "$DIR/noext.err" || fail "no extension: $(cat "$DIR/noext.err")"
sd off check --dsn "$DSN_APP user=postgres options='-c safe_ddl.mode=off'" migrations/0002_refused.sql
expect_rc 2 off
grep -q "safe_ddl.mode is off on that server" "$DIR/off.err" || fail "mode off: $(cat "$DIR/off.err")"
pass "--dsn: an unreachable server, a database without the extension (URL form), safe_ddl.mode = off: exit status 2 saying so"

# ---- 3. ephemeral from clean temporary directories, as root and as nobody -----------------------
# run_as USER: the fixture migrations copied into a new directory owned by USER, checked from
# there with TMPDIR a new directory of USER's; the text output must be the expected one, and
# TMPDIR empty afterwards, also after a failing run.
run_as() {
    local user="$1" work="$DIR/as_$1" tmp="$DIR/tmp_$1" r=0
    mkdir -p "$work" "$tmp"
    cp -r "$FIX/migrations" "$FIX/errors" "$DUMP" "$work/"
    chown -R "$user" "$work" "$tmp"
    chmod 755 "$tmp"
    # The caller's libpq environment changes nothing (the cluster's connections set their options).
    local cmd=(env TMPDIR="$tmp" PG_CONFIG="$PG_CONFIG" NO_COLOR=1 PGOPTIONS="-c safe_ddl.allow=all" PGTZ=Asia/Tokyo "$BIN" check --ephemeral --schema schema_dump.sql "${MIGRATIONS[@]}")
    if [ "$user" = root ]; then
        (cd "$work" && "${cmd[@]}") >"$DIR/as_$user.out" 2>"$DIR/as_$user.err" || r=$?
    else
        (cd "$work" && runuser -u "$user" -- "${cmd[@]}") >"$DIR/as_$user.out" 2>"$DIR/as_$user.err" || r=$?
    fi
    [ $r = 1 ] || fail "as $user: exit status $r: $(cat "$DIR/as_$user.err")"
    normalised "as_$user" | diff -u "$FIX/expected/text.txt" - >"$DIR/as_$user.diff" \
        || fail "as $user: output differs: $(cat "$DIR/as_$user.diff")"
    [ -z "$(ls -A "$tmp")" ] || fail "as $user: left in TMPDIR: $(ls -A "$tmp")"
    r=0
    (cd "$work" && if [ "$user" = root ]; then env TMPDIR="$tmp" "$BIN" check --ephemeral errors/syntax.sql
                   else runuser -u "$user" -- env TMPDIR="$tmp" PG_CONFIG="$PG_CONFIG" "$BIN" check --ephemeral errors/syntax.sql; fi) \
        >/dev/null 2>&1 || r=$?
    [ $r = 2 ] || fail "as $user: the syntax error: exit status $r"
    [ -z "$(ls -A "$tmp")" ] || fail "as $user: left in TMPDIR after an error: $(ls -A "$tmp")"
    ! pgrep -f -- "-D $tmp/" >/dev/null || fail "as $user: a server is still running in $tmp"
}
run_as root
pass "ephemeral as root from a clean directory (the server ran as postgres), PGOPTIONS allowing all in the environment: the expected output; TMPDIR empty and no server left, also after an error"
run_as nobody
pass "ephemeral as an unprivileged user (nobody) from a clean directory: the expected output; TMPDIR empty and no server left, also after an error"

# A cancelled run (SIGTERM, as a CI job's cancel) stops its server and removes its directory.
tmp="$DIR/tmp_signal"
mkdir -p "$tmp" && chmod 755 "$tmp"
echo "SELECT pg_sleep(60);" >"$DIR/slow.sql" && chmod 644 "$DIR/slow.sql"
(cd "$FIX" && TMPDIR="$tmp" exec "$BIN" check --ephemeral --schema "$DIR/slow.sql" migrations/0001_clean.sql) \
    >"$DIR/signal.out" 2>"$DIR/signal.err" &
spid=$!
for _ in $(seq 100); do pgrep -f -- "-f $DIR/slow.sql" >/dev/null && break; sleep 0.2; done
pgrep -f -- "-f $DIR/slow.sql" >/dev/null || fail "signal: the schema file never ran: $(cat "$DIR/signal.err")"
kill -TERM "$spid"
r=0; wait "$spid" || r=$?
[ $r = 143 ] || fail "signal: exit status $r, expected 143 (128 + SIGTERM): $(cat "$DIR/signal.err")"
[ "$(cat "$DIR/signal.err")" = "safe-ddl: interrupted (signal 15)" ] || fail "signal: stderr: $(cat "$DIR/signal.err")"
[ -z "$(ls -A "$tmp")" ] || fail "signal: left in TMPDIR: $(ls -A "$tmp")"
! pgrep -f -- "-D $tmp/" >/dev/null || fail "signal: a server is still running in $tmp"
pass "ephemeral cancelled by SIGTERM while loading the schema: exit status 143, the server stopped and TMPDIR empty"

# ---- 4. dsn: the test cluster and a streaming standby ------------------------------------------
before="$(q -c "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'")"
sd dsn check --dsn "$DSN_APP" --format json "${MIGRATIONS[@]}"
expect_rc 1 dsn
# The live catalog as it stands (dsn mode executes nothing): 0001's index on shipments, a table
# 0001 creates, is not judged (no such table yet); 0005's CREATE INDEX on customers (email), a
# column 0005 adds, is judged on customers as it is; the drop_column is in_use too (data.sql
# wrote the table just now).
got="$(jl "$DIR/dsn.out" '{file}:{line}:{column} {hazard} {verdict} {relation} {str(table_size > 0).lower()}')"
want="migrations/0002_refused.sql:2:1 index_build refused public.orders true
migrations/0002_refused.sql:5:1 table_rewrite refused public.orders true
migrations/0002_refused.sql:7:12 not_null_scan refused public.orders true
migrations/0002_refused.sql:8:1 constraint_validation refused public.orders true
migrations/0003_allowed.sql:3:1 index_build allowed public.customers true
migrations/0004_concurrently.sql:3:1 drop_column refused public.orders true
migrations/0005_own_transaction.sql:4:1 index_build refused public.customers true"
[ "$got" = "$want" ] || fail "dsn: findings:
$got
expected:
$want
$(cat "$DIR/dsn.out" "$DIR/dsn.err")"
after="$(q -c "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'")"
[ "$before" = "$after" ] || fail "dsn: the catalog changed"
[ "$(q -c "SELECT count(*) FROM information_schema.columns WHERE table_name = 'orders' AND column_name IN ('note', 'discount')")" = 1 ] \
    || fail "dsn: a migration ran"
# check() only reads: not even a transaction id (a standby cannot assign one).
got="$(printf '%s\n' "BEGIN READ ONLY;" "SELECT count(*) FROM safe_ddl.check(:'sql');" \
          "SELECT pg_catalog.txid_current_if_assigned() IS NULL;" "ROLLBACK;" \
        | q -v sql="$(cat "$FIX/migrations/0002_refused.sql")")"
[ "$got" = "4
t" ] || fail "dsn: check() assigned a transaction id (got: $got)"
sd dsn_text check --dsn "$DSN_APP" migrations/0002_refused.sql
size="$(q -c "SELECT pg_size_pretty(table_size) FROM safe_ddl.check('CREATE INDEX ON orders (created_at)')")"
grep -q "^migrations/0002_refused.sql:2:1: refused: index_build on public.orders (SHARE lock, $size, scans the table)$" "$DIR/dsn_text.out" \
    || fail "dsn text: $(cat "$DIR/dsn_text.out")"
pass "dsn against the test cluster as a non-superuser: the findings with real sizes ($size), nothing executed"

sd warn check --dsn "$DSN_APP user=postgres options='-c safe_ddl.mode=warn'" --format json migrations/0002_refused.sql
expect_rc 1 warn
[ "$(jl "$DIR/warn.out" '{verdict}' | sort -u)" = warned ] || fail "warn mode: $(cat "$DIR/warn.out")"
pass "dsn with safe_ddl.mode = warn: the same hazards as warned, exit status 1"

sd dsn_unknown check --dsn "$DSN_APP" errors/unknown_allow.sql
expect_rc 2 dsn_unknown
expect_err dsn_unknown 'errors/unknown_allow.sql:2:1: error: safe_ddl: invalid inline allow'
pass "dsn: an unknown hazard in an inline allow: exit status 2 at the comment's line"

mkdir -p "$STANDBY/sock" && chown -R postgres:postgres "$STANDBY"
as_postgres "$PGBIN/pg_basebackup" -h "$PRIMARY/sock" -p "$PORT" -U postgres -D "$STANDBY/data" \
    -R -X stream --checkpoint=fast >"$DIR/basebackup.log" 2>&1 || fail "pg_basebackup: $(cat "$DIR/basebackup.log")"
{ echo "port = $((PORT + 1))"; echo "unix_socket_directories = '$STANDBY/sock'"; echo "hot_standby = on"; } \
    | as_postgres tee -a "$STANDBY/data/postgresql.conf" >/dev/null
echo "primary_conninfo = 'host=$PRIMARY/sock port=$PORT user=postgres application_name=cli_standby'" \
    | as_postgres tee -a "$STANDBY/data/postgresql.auto.conf" >/dev/null
as_postgres env -u RUST_BACKTRACE "$PGBIN/pg_ctl" -D "$STANDBY/data" -l "$STANDBY/server.log" -w -t 60 start >/dev/null \
    || fail "standby start: $(cat "$STANDBY/server.log")"
for _ in $(seq 60); do
    [ "$(q -c "SELECT count(*) FROM pg_stat_replication WHERE application_name = 'cli_standby' AND state = 'streaming' AND replay_lsn >= pg_current_wal_insert_lsn()")" = 1 ] && break
    sleep 0.5
done
[ "$(cluster_psql "$STANDBY" "$((PORT + 1))" -d shop -qAt -c "SELECT pg_is_in_recovery()")" = t ] || fail "standby: not in recovery"
sd standby check --dsn "host=$STANDBY/sock port=$((PORT + 1)) dbname=shop user=ci_check" --format json "${MIGRATIONS[@]}"
expect_rc 1 standby
diff -u "$DIR/dsn.out" "$DIR/standby.out" >"$DIR/standby.diff" || fail "standby: other findings than the primary's: $(cat "$DIR/standby.diff")"
pass "dsn against a streaming standby (pg_basebackup -R, hot standby, read-only): the same findings and sizes as on the primary"

# ---- 5. Django's sqlmigrate output --------------------------------------------------------------
PROJECT="$ROOT/pg_test/django"
VENV="$PROJECT/.venv"
if ! "$VENV/bin/python" -c 'import django, psycopg' 2>/dev/null; then
    echo "cli: making pg_test/django/.venv from pg_test/django/requirements.txt"
    rm -rf "$VENV"
    /usr/bin/python3 -m venv "$VENV" >"$DIR/venv.log" 2>&1 || fail "python3 -m venv: $(cat "$DIR/venv.log")"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$PROJECT/requirements.txt" \
        >"$DIR/pip.log" 2>&1 || fail "pip install: $(tail -n 20 "$DIR/pip.log")"
fi
q -c "CREATE DATABASE django_sql" >/dev/null
# sqlmigrate CHAIN DIR: each migration's SQL into DIR/<migration>.sql
sqlmigrate() {
    local chain="$1" dir="$2" m name
    mkdir -p "$dir"
    for m in "$PROJECT/shop/$3"/0*.py; do
        name="$(basename "$m" .py)"
        env PGHOST="$PRIMARY/sock" PGPORT="$PORT" PGUSER=postgres PGDATABASE=django_sql SHOP_MIGRATIONS="$chain" \
            "$VENV/bin/python" "$PROJECT/manage.py" sqlmigrate shop "${name%%_*}" >"$dir/$name.sql" 2>"$dir/$name.err" \
            || fail "manage.py sqlmigrate shop $name ($chain chain): $(cat "$dir/$name.err")"
        rm "$dir/$name.err"
    done
    chmod -R a+rX "$dir"
}
sqlmigrate unsafe "$DIR/django" migrations_unsafe
rc=0
(cd "$DIR/django" && "$BIN" check --ephemeral --format json 0*.sql) >"$DIR/django.out" 2>"$DIR/django.err" || rc=$?
expect_rc 1 django
got="$(jl "$DIR/django.out" '{file} {hazard} {verdict} {relation}')"
want="0004_order_created_at_idx.sql index_build refused public.shop_order
0005_quantity_bigint.sql table_rewrite refused public.shop_order
0006_status_not_null.sql not_null_scan refused public.shop_order"
[ "$got" = "$want" ] || fail "Django: findings:
$got
expected:
$want
$(cat "$DIR/django.out" "$DIR/django.err")"
for f in 0004_order_created_at_idx 0005_quantity_bigint 0006_status_not_null; do
    line="$(jl "$DIR/django.out" '{file}|{line}' | sed -n "s/^$f\.sql|//p")"
    first="$(jl "$DIR/django.out" '{file}|{statement.splitlines()[0]}' | sed -n "s/^$f\.sql|//p")"
    [ "$(sed -n "${line}p" "$DIR/django/$f.sql")" = "$first;" ] || [ "$(sed -n "${line}p" "$DIR/django/$f.sql")" = "$first" ] \
        || fail "Django $f: line $line is not the statement: $(sed -n "${line}p" "$DIR/django/$f.sql") / $first"
done
pass "Django sqlmigrate output of the unsafe chain (0001..0006, BEGIN/COMMIT as Django writes them) checked in order: index_build, table_rewrite and not_null_scan at their lines, 0003's varchar -> text not reported"

# The safe chain: its non-atomic migrations (CONCURRENTLY, the backfill, NOT VALID + VALIDATE in
# transactions of their own) have no BEGIN/COMMIT in sqlmigrate's output: --autocommit runs
# them statement by statement, as Django does. Nothing refused; 0007's drop and rename are
# allowed by its own SET LOCAL safe_ddl.allow.
sqlmigrate safe "$DIR/django_safe" migrations
rc=0
(cd "$DIR/django_safe" && "$BIN" check --ephemeral --autocommit --format json 0*.sql) >"$DIR/django_safe.out" 2>"$DIR/django_safe.err" || rc=$?
expect_rc 0 django_safe
got="$(jl "$DIR/django_safe.out" '{file}:{line}:{column} {hazard} {verdict}')"
want="0007_quantity_bigint_contract.sql:9:1 drop_column allowed
0007_quantity_bigint_contract.sql:10:1 rename allowed"
[ "$got" = "$want" ] || fail "Django safe chain: findings:
$got
expected:
$want
$(cat "$DIR/django_safe.err")"
rc=0
(cd "$DIR/django_safe" && "$BIN" check --ephemeral 0*.sql) >/dev/null 2>"$DIR/django_safe_tx.err" || rc=$?
[ $rc = 1 ] && grep -q "1 refused" "$DIR/django_safe_tx.err" || fail "Django safe chain in one transaction per file: $rc $(cat "$DIR/django_safe_tx.err")"
pass "Django sqlmigrate output of the safe chain (0001..0008) with --autocommit: exit status 0, only 0007's own allows; without it 0008's NOT VALID + VALIDATE in one transaction is refused"

OK=1
