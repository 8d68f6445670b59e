#!/usr/bin/env bash
# pg_test/prepared_blocker.sh: a prepared transaction that holds a table a guarded DDL needs
# (issue 14; found in review). It has no session: it never ends by itself, pg_cancel_backend /
# pg_terminate_backend and safe_ddl.cancel_blockers_after cannot end it. The DDL must wait
# outside the lock queue (stall-free, within its budget), leave it alone, and fail with a HINT that
# says how to find and end it (pg_prepared_xacts, COMMIT/ROLLBACK PREPARED), not one that says to
# cancel sessions. Needs max_prepared_transactions > 0, hence a cluster of its own.
#
# Usage: bash pg_test/prepared_blocker.sh [PORT]   (default 54348; as root or postgres)
set -euo pipefail
cd "$(dirname "$0")/.."
. pg_test/lib/cluster.sh

PORT="${1:-54348}"
DIR="${SAFE_DDL_PREPARED_DIR:-/tmp/safe_ddl_prepared_blocker}"
C="$DIR/cluster"
cleanup() { cluster_stop "$C" 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$DIR"; }
trap cleanup EXIT
rm -rf "$DIR" && mkdir -p "$DIR"
cluster_start "$C" "$PORT" "max_prepared_transactions = 2" "log_min_messages = warning" >/dev/null
q() { cluster_psql "$C" "$PORT" -d postgres -qAt "$@"; }
q -v ON_ERROR_STOP=1 -c "CREATE EXTENSION safe_ddl" -c "CREATE TABLE held AS SELECT g AS id FROM generate_series(1, 100) g" \
  -c "BEGIN" -c "SELECT count(*) FROM held" -c "PREPARE TRANSACTION 'pb_gid'" >/dev/null

out=$(q -v VERBOSITY=verbose -c "SET lock_timeout = 0" -c "SET safe_ddl.lock_wait_max = '1s'" \
        -c "SET safe_ddl.cancel_blockers_after = '300ms'" -c "ALTER TABLE held ADD COLUMN x int" 2>&1 || true)
fail=0
check() { if printf '%s\n' "$out" | grep -q -- "$1"; then :; else echo "      missing: $1"; fail=1; fi; }
check "ERROR:  55P03: canceling statement"
check "DETAIL:  .*a prepared transaction holds AccessShareLock on held"
check "HINT:  A prepared transaction holds the lock: it never ends by itself.*pg_catalog.pg_prepared_xacts.*ROLLBACK PREPARED"
if printf '%s\n' "$out" | grep -q "cancel_blockers_after: "; then echo "      signalled something"; fail=1; fi
still=$(q -c "SELECT count(*) FROM pg_prepared_xacts WHERE gid = 'pb_gid'")
[ "$still" = 1 ] || { echo "      the prepared transaction is gone"; fail=1; }
q -c "ROLLBACK PREPARED 'pb_gid'" >/dev/null
after=$(q -c "SET lock_timeout = 0" -c "ALTER TABLE held ADD COLUMN x int" -c "SELECT 'done'" 2>&1 || true)
[ "$after" = done ] || { echo "      after ROLLBACK PREPARED: $after"; fail=1; }
crash=$(grep -cE "terminated by signal|PANIC" "$C/server.log" || true)
if [ "$fail" = 0 ] && [ "$crash" = 0 ]; then
    echo "PASS: prepared_blocker: a prepared transaction blocking a guarded ALTER is left alone, and the error says how to end it"
else
    printf '%s\n' "$out" | sed 's/^/      | /'
    echo "FAIL: prepared_blocker ($crash crashes)"
    KEEP=1
    exit 1
fi
