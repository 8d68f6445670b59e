#!/usr/bin/env bash
# pg_test/autovacuum_blocker.sh: a guarded DDL blocked by autovacuum cancels it after
# deadlock_timeout, as PostgreSQL's lock manager does for any lock waiter (issue 14 review).
#
# safe_ddl waits outside the lock queue behind old transactions, where the lock manager's
# "sending cancel to blocking autovacuum" never happens: without this, a migration behind a slow
# autovacuum of its table waited out its whole budget and failed, where a plain ALTER would have
# cancelled the vacuum after a second. Here autovacuum is slowed down (cost delay 100 ms, cost
# limit 1) on a table with half its rows deleted; once the worker runs on it, a guarded ALTER with
# the default settings must complete in a few seconds, say so in a NOTICE, and the server log
# must show the autovacuum cancelled.
#
# Usage: bash pg_test/autovacuum_blocker.sh [PORT]   (default 54349; as root or postgres)
set -euo pipefail
cd "$(dirname "$0")/.."
. pg_test/lib/cluster.sh

PORT="${1:-54349}"
DIR="${SAFE_DDL_AV_DIR:-/tmp/safe_ddl_autovacuum_blocker}"
C="$DIR/cluster"
cleanup() { cluster_stop "$C" 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$DIR"; }
trap cleanup EXIT
rm -rf "$DIR" && mkdir -p "$DIR"
cluster_start "$C" "$PORT" "autovacuum_naptime = 1s" "autovacuum_vacuum_cost_delay = 100ms" \
    "autovacuum_vacuum_cost_limit = 1" "log_autovacuum_min_duration = 0" "deadlock_timeout = 1s" >/dev/null
q() { cluster_psql "$C" "$PORT" -d postgres -qAt "$@"; }
fail() { echo "FAIL: autovacuum_blocker: $*"; KEEP=1; exit 1; }

q -v ON_ERROR_STOP=1 -c "CREATE EXTENSION safe_ddl" \
  -c "CREATE TABLE av (id int PRIMARY KEY, v int) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000, autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 1000000000)" \
  -c "INSERT INTO av SELECT g, g FROM generate_series(1, 200000) g" \
  -c "DELETE FROM av WHERE id % 2 = 0" >/dev/null

worker=""
for _ in $(seq 1 120); do
    worker=$(q -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'autovacuum worker' AND query LIKE '%av%' AND query NOT LIKE '%wraparound%'")
    [ -n "$worker" ] && break
    sleep 0.25
done
[ -n "$worker" ] || fail "no autovacuum worker started on av within 30 s"
sleep 1.2   # the worker's transaction is older than the lock timeout: the ALTER waits outside the queue

t0=$(date +%s%N)
out=$(q -v VERBOSITY=terse -v ON_ERROR_STOP=1 -c "SET lock_timeout = 0" -c "ALTER TABLE av ADD COLUMN z int" 2>&1) || true
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "      ALTER behind autovacuum pid $worker: ${ms} ms"
[ "$(q -c "SELECT count(*) FROM pg_attribute WHERE attrelid = 'av'::regclass AND attname = 'z'")" = 1 ] \
    || fail "the ALTER did not complete (${ms} ms): $(echo "$out" | tail -2)"
echo "$out" | grep -q "canceled autovacuum pid $worker" || fail "no NOTICE about the cancelled autovacuum: $out"
[ "$ms" -lt 10000 ] || fail "the ALTER took ${ms} ms (deadlock_timeout is 1 s)"
sleep 0.5
grep -q "canceling autovacuum task" "$C/server.log" || fail "the server log does not show the autovacuum cancelled"
grep -q "safe_ddl: canceled autovacuum pid $worker" "$C/server.log" || fail "no LOG line naming the cancelled autovacuum"
echo "PASS: autovacuum_blocker: a guarded ALTER behind a (non-wraparound) autovacuum cancelled it after deadlock_timeout and completed (${ms} ms), NOTICE and LOG say so"
