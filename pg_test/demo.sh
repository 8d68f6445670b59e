#!/usr/bin/env bash
# safe_ddl demo: a throwaway PostgreSQL 15 cluster with safe_ddl preloaded, a 1,000,000-row table,
# and the guard at work:
#   1. a plain CREATE INDEX is refused, with the safe statement in the HINT
#   2. CREATE INDEX CONCURRENTLY runs
#   3. an ALTER TABLE stuck behind a long transaction gives up after safe_ddl.lock_timeout,
#      while a reader workload keeps being served
#   4. the per-transaction override, SET LOCAL safe_ddl.allow, and its LOG line
#   5. safe_ddl.status()
#
# Usage: bash pg_test/demo.sh
# Environment:
#   SAFE_DDL_DEMO_DIR   cluster directory (default /tmp/safe_ddl_demo; wiped and recreated)
#   SAFE_DDL_DEMO_PORT  port of the private Unix socket (default 54329; no TCP)
#   SAFE_DDL_DEMO_KEEP  1 = leave the cluster running at the end and print how to connect
#
# Needs: the safe_ddl extension installed into the PostgreSQL of `pg_config`, root (or the
# postgres OS user) and sudo. Takes about 15 seconds.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/cluster.sh
source "$HERE/lib/cluster.sh"

DIR="${SAFE_DDL_DEMO_DIR:-/tmp/safe_ddl_demo}"
PORT="${SAFE_DDL_DEMO_PORT:-54329}"
KEEP="${SAFE_DDL_DEMO_KEEP:-0}"
unset SAFE_DDL_PRELOAD   # cluster.sh: the demo always wants safe_ddl in shared_preload_libraries
ROWS=1000000
LONG_TX_SECONDS=6     # the long-running transaction the ALTER gets stuck behind
READER_SECONDS=5      # how long the reader workload runs
READER_CLIENTS=4

# psql and pgbench run as the postgres OS user, which may not be able to enter the caller's cwd.
cd /

BG_PIDS=()            # background jobs (sudo/psql/pgbench), killed on exit
UNEXPECTED=0          # set when the output does not show what the demo is meant to show
STARTED=0

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    local pid
    for pid in "${BG_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${BG_PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [ "$STARTED" = 1 ]; then
        if [ "$KEEP" = 1 ]; then
            print_keep_help
        else
            cluster_stop "$DIR" || true
        fi
    fi
    if [ "$rc" != 0 ]; then
        echo >&2
        echo "demo.sh: FAILED (exit $rc). Server log: $DIR/server.log" >&2
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

print_keep_help() {
    echo
    echo "The cluster is still running (SAFE_DDL_DEMO_KEEP=1)."
    echo "  connect: sudo -u postgres $PGBIN/psql -X -h $DIR/sock -p $PORT -U postgres postgres"
    echo "  stop:    sudo -u postgres $PGBIN/pg_ctl -D $DIR/data -m fast stop"
    echo "  log:     $DIR/server.log"
}

heading() { printf '\n==== %s ====\n\n' "$*"; }
say() { printf '%s\n' "$*" | fold -s -w 100; }

# Run a psql script from stdin with every statement echoed, errors shown but not fatal.
demo_psql() {
    cluster_psql "$DIR" "$PORT" -e -v ON_ERROR_STOP=0 -v VERBOSITY=default "$@" 2>&1
}
# One value, no decoration, errors fatal.
psql_value() {
    cluster_psql "$DIR" "$PORT" -At -v ON_ERROR_STOP=1 -c "$1"
}
# Wait until the background long transaction really holds its lock on accounts.
wait_for_long_tx_lock() {
    local held=0
    for _ in $(seq 100); do
        held=$(psql_value "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
            WHERE a.application_name = 'demo_long_tx' AND l.relation = 'accounts'::regclass AND l.granted")
        [ "$held" = 1 ] && return 0
        sleep 0.05
    done
    echo "the long transaction did not get its lock" >&2
    exit 1
}

# Start a command as the postgres OS user in the background; $! is then sudo itself (or the
# command), which passes a SIGTERM on to it.
bg_postgres() {
    if [ "$(id -un)" = postgres ]; then "$@" & else sudo -u postgres -H -- "$@" & fi
    BG_PIDS+=("$!")
}

# expect FILE REGEX WHAT: complain (and fail at the end) when the demo did not show WHAT.
expect() {
    if ! grep -Eq -- "$2" "$1"; then
        echo "!! UNEXPECTED: $3 (no match for /$2/)"
        UNEXPECTED=1
    fi
}

now_ms() { date +%s%3N; }

T0=$(now_ms)

# ---------------------------------------------------------------------------------------------
heading "0. Setup: a fresh cluster with safe_ddl preloaded and a table of 1,000,000 rows"
say "Cluster in $DIR (Unix socket $DIR/sock, port $PORT), shared_preload_libraries = 'safe_ddl'."
STARTED=1
cluster_start "$DIR" "$PORT" "client_min_messages = warning"
OUT="$DIR/out"
mkdir -p "$OUT"

cluster_psql "$DIR" "$PORT" -q -v ON_ERROR_STOP=1 <<SQL
CREATE EXTENSION safe_ddl;
CREATE TABLE accounts (
    id         bigint PRIMARY KEY,
    balance    int NOT NULL,
    email      text NOT NULL,
    created_at timestamptz NOT NULL
);
INSERT INTO accounts
SELECT i, (random() * 10000)::int, 'user' || i || '@example.com', now() - i * interval '1 minute'
FROM generate_series(1, $ROWS) AS i;
ANALYZE accounts;
SQL
say "Table accounts: $(psql_value "SELECT to_char(count(*), 'FM9,999,999') || ' rows, '
    || pg_size_pretty(pg_table_size('accounts')) || ' (plus '
    || pg_size_pretty(pg_indexes_size('accounts')) || ' of indexes)' FROM accounts")"

# ---------------------------------------------------------------------------------------------
heading "1. A plain CREATE INDEX is refused"
say "CREATE INDEX holds a SHARE lock for the whole build: every INSERT/UPDATE/DELETE on accounts would wait. safe_ddl refuses it before it starts and says what to run instead."
echo
demo_psql <<'SQL' | tee "$OUT/1.txt"
CREATE INDEX accounts_email_idx ON accounts (email);
SQL
expect "$OUT/1.txt" '^ERROR: +safe_ddl: index_build: CREATE INDEX on table public\.accounts' "the refusal ERROR"
expect "$OUT/1.txt" '^DETAIL: .*SHARE lock' "the refusal DETAIL"
expect "$OUT/1.txt" 'CREATE INDEX CONCURRENTLY accounts_email_idx ON accounts \(email\)' "the CONCURRENTLY statement in the HINT"

# ---------------------------------------------------------------------------------------------
heading "2. CREATE INDEX CONCURRENTLY is allowed"
say "The statement from the HINT builds the same index without blocking writes."
echo
demo_psql <<'SQL' | tee "$OUT/2.txt"
\set QUIET on
\timing on
\set QUIET off
CREATE INDEX CONCURRENTLY accounts_email_idx ON accounts (email);
\set QUIET on
\timing off
\set QUIET off
SELECT indexrelid::regclass AS index, indisvalid AS valid, pg_size_pretty(pg_relation_size(indexrelid)) AS size
FROM pg_index WHERE indrelid = 'accounts'::regclass ORDER BY 1;
SQL
expect "$OUT/2.txt" '^CREATE INDEX$' "CREATE INDEX CONCURRENTLY succeeding"
expect "$OUT/2.txt" 'accounts_email_idx +\| t ' "accounts_email_idx being valid"

# ---------------------------------------------------------------------------------------------
heading "3. An ALTER TABLE stuck behind a long transaction gives up after 200 ms"
say "A report holds a read lock on accounts for ${LONG_TX_SECONDS} s. ALTER TABLE ... ADD COLUMN needs an ACCESS EXCLUSIVE lock, so it has to wait for the report, and while it waits every new query on accounts queues behind it. safe_ddl runs such DDL with lock_timeout = safe_ddl.lock_timeout (200 ms), even when the session says lock_timeout = 0 (wait forever). (Retries are switched off here to show the bound alone; step 3b shows them.)"
echo

printf 'BEGIN; SELECT count(*) FROM accounts; SELECT pg_sleep(%s); COMMIT;\n' "$LONG_TX_SECONDS" >"$OUT/long_tx.sql"
cat >"$OUT/reader.sql" <<SQL
\set id random(1, $ROWS)
SELECT balance FROM accounts WHERE id = :id;
SQL
chown -R postgres:postgres "$OUT" 2>/dev/null || true

say "[background] long transaction: $(cat "$OUT/long_tx.sql")"
bg_postgres "$PGBIN/psql" -X -q -h "$DIR/sock" -p "$PORT" -U postgres \
    -d "dbname=postgres application_name=demo_long_tx" -f "$OUT/long_tx.sql" >"$OUT/long_tx.out" 2>&1
wait_for_long_tx_lock

say "[background] readers: pgbench, $READER_CLIENTS clients, ${READER_SECONDS} s of: SELECT balance FROM accounts WHERE id = :id (random id)"
bg_postgres "$PGBIN/pgbench" -n -h "$DIR/sock" -p "$PORT" -U postgres \
    -c "$READER_CLIENTS" -j 2 -T "$READER_SECONDS" -f "$OUT/reader.sql" \
    --log --log-prefix="$OUT/reader" postgres >"$OUT/pgbench.out" 2>&1
sleep 1

say "[foreground, 1 s later] the migration:"
echo
demo_psql <<'SQL' | tee "$OUT/3.txt"
SHOW safe_ddl.lock_timeout;
SET lock_timeout = 0;
SET safe_ddl.lock_retries = 0;
\set QUIET on
\timing on
\set QUIET off
ALTER TABLE accounts ADD COLUMN note text;
\set QUIET on
\timing off
\set QUIET off
SHOW lock_timeout;
SQL
expect "$OUT/3.txt" '^ERROR: +canceling statement due to lock timeout' "the ALTER failing with a lock timeout"
expect "$OUT/3.txt" '^Time: (1[5-9][0-9]|2[0-9][0-9]|3[0-4][0-9])\.[0-9]+ ms' "the ALTER giving up after about 200 ms"
expect "$OUT/3.txt" '^ 0$' "lock_timeout being 0 again after the ALTER"
say "The session's own lock_timeout (0) is back: the 200 ms applied to the ALTER only."

echo
say "Waiting for the background jobs to finish ..."
for pid in "${BG_PIDS[@]}"; do
    wait "$pid"
done
BG_PIDS=()

echo
echo "The readers over those $READER_SECONDS s (pgbench):"
# Per-transaction log lines: client_id transaction_no latency_us script_no epoch_s epoch_us
failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$OUT/pgbench.out")
cat "$OUT"/reader.* | awk -v failed="${failed:-?}" -v secs="$READER_SECONDS" '
    { n++; lat = $3 / 1000.0; sum += lat; if (lat > max) max = lat; if (lat > 50) slow++ }
    END {
        if (n == 0) { print "  no reader transactions logged"; exit 1 }
        printf "  queries served:     %d in %d s, %s failed\n", n, secs, failed
        printf "  latency average:    %.3f ms\n", sum / n
        printf "  latency maximum:    %.1f ms\n", max
        printf "  queries over 50 ms: %d (those that arrived while the ALTER was waiting for its lock)\n", slow + 0
    }' | tee "$OUT/3-readers.txt"
expect "$OUT/3-readers.txt" ', 0 failed$' "no failed reader queries"
expect "$OUT/3-readers.txt" 'latency maximum: +([0-9]|[1-9][0-9]|[1-4][0-9][0-9])\.[0-9] ms' "reader latency staying below 500 ms"
echo
say "Without safe_ddl the ALTER (lock_timeout = 0) would have waited until the report committed, about $((LONG_TX_SECONDS - 1)) s, and every one of those reader queries arriving meanwhile would have queued behind it: the maximum latency would have been about $((LONG_TX_SECONDS - 1)) s, not 200 ms. (Not demonstrated here.)"
echo

# ---------------------------------------------------------------------------------------------
heading "3b. With retries (the default): the ALTER waits outside the lock queue, then runs"
say "Same situation, default settings. The report's transaction is older than the lock timeout, so queueing would only stall the readers and time out. safe_ddl does not queue: it waits for the report's transaction itself to end (a wait that blocks nobody), then takes the lock at once. Up to safe_ddl.lock_retries = 10 attempts, about 37 s in all."
echo
bg_postgres "$PGBIN/psql" -X -q -h "$DIR/sock" -p "$PORT" -U postgres \
    -d "dbname=postgres application_name=demo_long_tx" -f "$OUT/long_tx.sql" >"$OUT/long_tx2.out" 2>&1
wait_for_long_tx_lock
rm -f "$OUT"/reader2.*
bg_postgres "$PGBIN/pgbench" -n -h "$DIR/sock" -p "$PORT" -U postgres \
    -c "$READER_CLIENTS" -j 2 -T "$READER_SECONDS" -f "$OUT/reader.sql" \
    --log --log-prefix="$OUT/reader2" postgres >"$OUT/pgbench2.out" 2>&1
sleep 1
say "[foreground, 1 s later] the same migration, default settings:"
echo
demo_psql <<'SQL' 2>&1 | tee "$OUT/3b.txt"
SET client_min_messages = notice;
SET lock_timeout = 0;
\set QUIET on
\timing on
\set QUIET off
ALTER TABLE accounts ADD COLUMN note text;
SQL
expect "$OUT/3b.txt" '^ALTER TABLE$' "the ALTER succeeding once the report ended"
expect "$OUT/3b.txt" 'not queueing for AccessExclusiveLock behind a long transaction' "the ALTER not queueing behind the report"
for pid in "${BG_PIDS[@]}"; do
    wait "$pid"
done
BG_PIDS=()
echo
echo "The readers meanwhile (pgbench):"
cat "$OUT"/reader2.* | awk '
    { n++; lat = $3 / 1000.0; sum += lat; if (lat > max) max = lat; if (lat > 50) slow++ }
    END {
        printf "  queries served:     %d\n", n
        printf "  latency average:    %.3f ms\n", sum / n
        printf "  latency maximum:    %.1f ms\n", max
        printf "  queries over 50 ms: %d\n", slow + 0
    }' | tee "$OUT/3b-readers.txt"
expect "$OUT/3b-readers.txt" 'latency maximum: +([0-9]|[1-9][0-9])\.[0-9] ms' "reader latency staying below 100 ms"
echo

# ---------------------------------------------------------------------------------------------
heading "4. The override: SET LOCAL safe_ddl.allow"
say "When blocking writes for the build is acceptable (say, in a maintenance window), allow the hazard for one transaction. It runs, and the server log records who did it."
echo
demo_psql <<'SQL' | tee "$OUT/4.txt"
BEGIN;
SET LOCAL safe_ddl.allow = 'index_build';
CREATE INDEX accounts_created_idx ON accounts (created_at);
COMMIT;
SHOW safe_ddl.allow;
SQL
expect "$OUT/4.txt" '^CREATE INDEX$' "the allowed CREATE INDEX succeeding"
expect "$OUT/4.txt" '^COMMIT$' "the override transaction committing"
expect "$OUT/4.txt" '^ safe_ddl\.allow *$' "SHOW safe_ddl.allow after COMMIT"
if ! grep -A2 -E '^ safe_ddl\.allow *$' "$OUT/4.txt" | tail -n 1 | grep -Eq '^ *$'; then
    echo "!! UNEXPECTED: safe_ddl.allow is not empty after COMMIT"
    UNEXPECTED=1
fi
say "After COMMIT safe_ddl.allow is empty again: SET LOCAL lasted one transaction."
echo
echo "Server log ($DIR/server.log):"
if ! grep -F 'allowed by safe_ddl.allow' "$DIR/server.log" | sed 's/^/  /'; then
    echo "!! UNEXPECTED: no 'allowed by safe_ddl.allow' line in the server log"
    UNEXPECTED=1
fi

# ---------------------------------------------------------------------------------------------
heading "5. Dropping a column the application still reads: the usage check"
say "safe_ddl records when each column was last read or written. The demo's readers read balance;"
say "a DROP COLUMN of it is refused even with the plain allow, and DETAIL says when it was last used."
demo_psql <<'SQL' 2>&1 | tee "$OUT/5u.txt"
SELECT relation, column_name, last_read, last_write FROM safe_ddl.column_usage
 WHERE relation = 'accounts'::regclass ORDER BY column_name NULLS FIRST;
BEGIN;
SET LOCAL safe_ddl.allow = 'drop_column';
ALTER TABLE accounts DROP COLUMN balance;
ROLLBACK;
SQL
expect "$OUT/5u.txt" 'It is in use: safe_ddl saw column balance of public.accounts read' "the in-use refusal"

# ---------------------------------------------------------------------------------------------
heading "6. safe_ddl.status()"
demo_psql <<'SQL' | tee "$OUT/6.txt"
SELECT * FROM safe_ddl.status();
SQL
expect "$OUT/6.txt" 'guard_active +\| true' "guard_active = true"

# ---------------------------------------------------------------------------------------------
echo
awk -v ms="$(( $(now_ms) - T0 ))" 'BEGIN { printf "Demo finished in %.1f s.\n", ms / 1000 }'
if [ "$UNEXPECTED" = 1 ]; then
    echo "Some steps did not show what they should (see the !! lines above)." >&2
    exit 1
fi
