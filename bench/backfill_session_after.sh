#!/usr/bin/env bash
# bench/backfill_session_after.sh: what a session pays after a `nice => 10` backfill (issue 14,
# section 3; docs/backfill.md, CPU priority), on a machine the application keeps busy.
#
# A fresh cluster; 2 pgbench clients run `SELECT count(*) FROM generate_series(1, 20000)` flat
# out (on 2 vCPUs both CPUs are busy); one psql session times a CPU-bound query
# (`SELECT sum(g) FROM generate_series(1, 3000000) g`) three times:
#   1. fresh (nice 0)
#   2. after CALL safe_ddl.backfill('t', 'v = 1') (default nice => 10): the process stays at nice
#      10, the autogroup's value is given back where the kernel schedules by autogroup
#   3. after SELECT safe_ddl._backfill_nice(10) with no give-back: the autogroup stays at 10 too,
#      i.e. what every query of the session pays where the process's nice value counts
# The backend's nice value (ps) and /proc/PID/autogroup are printed between the steps.
#
# Usage (from the repo root, as root, safe_ddl installed into the PostgreSQL of pg_config):
#   bash bench/backfill_session_after.sh     (BENCH_PORT, default 55445; BENCH_DIR, default
#                                             /tmp/bench_backfill_after; about 30 s)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../pg_test/lib/cluster.sh
source "$HERE/../pg_test/lib/cluster.sh"
DIR="${BENCH_DIR:-/tmp/bench_backfill_after}"
PORT="${BENCH_PORT:-55445}"
cd /
PGB=""
cleanup() {
    [ -z "$PGB" ] || { kill "$PGB" 2>/dev/null || true; wait "$PGB" 2>/dev/null || true; }
    cluster_stop "$DIR" || true
}
trap cleanup EXIT
cluster_start "$DIR" "$PORT" >/dev/null
cluster_psql "$DIR" "$PORT" -qAt -d postgres -c "CREATE DATABASE a" >/dev/null
cluster_psql "$DIR" "$PORT" -qAt -d a -c "CREATE EXTENSION safe_ddl;
    CREATE TABLE t (id int PRIMARY KEY, v int);
    INSERT INTO t SELECT g, 0 FROM generate_series(1, 1000) g;" >/dev/null
echo 'SELECT count(*) FROM generate_series(1, 20000);' >"$DIR/app.sql"
chmod 644 "$DIR/app.sql"
echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); nproc: $(nproc); kernel.sched_autogroup_enabled: $(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null || echo absent)"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
as_postgres "$PGBIN/pgbench" -h "$DIR/sock" -p "$PORT" -U postgres -n -c 2 -j 2 -T 120 -f "$DIR/app.sql" a >/dev/null 2>&1 &
PGB=$!
sleep 2
Q="SELECT sum(g) FROM generate_series(1, 3000000) g"
cluster_psql "$DIR" "$PORT" -d a -X -At <<SQL 2>&1 | grep -E "Time|NOTICE|ni=|step"
SELECT pg_backend_pid() AS pid \gset
\setenv PID :pid
\echo step 1: fresh session
\! echo "ni=\$(ps -o ni= -p \$PID | tr -d ' ') \$(cat /proc/\$PID/autogroup 2>/dev/null)"
\timing on
$Q; $Q; $Q;
CALL safe_ddl.backfill('t', 'v = 1');
\echo step 2: the same session after the nice => 10 backfill
\! echo "ni=\$(ps -o ni= -p \$PID | tr -d ' ') \$(cat /proc/\$PID/autogroup 2>/dev/null)"
$Q; $Q; $Q;
SELECT safe_ddl._backfill_nice(10);
\echo step 3: nice 10 with no give-back (autogroup left at 10 too)
\! echo "ni=\$(ps -o ni= -p \$PID | tr -d ' ') \$(cat /proc/\$PID/autogroup 2>/dev/null)"
$Q; $Q; $Q;
SQL
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
