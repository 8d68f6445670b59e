#!/usr/bin/env bash
# bench/audit.sh: what the audit trail (docs/audit.md) costs a refused and an allowed statement
# (issue 19).
#
# One cluster with safe_ddl preloaded (defaults, safe_ddl.usage_window = 0 so a rename needs only
# its plain allow), a table t of 1,000 rows. Two pgbench custom scripts, one client (-c 1: the
# per-statement latency, no lock contention), simple protocol:
#   refused: DO $$ BEGIN CREATE INDEX ON t (id); EXCEPTION WHEN object_not_in_prerequisite_state
#            THEN NULL; END $$;   (the refusal is caught, so pgbench's client goes on)
#   allowed: BEGIN; SET LOCAL safe_ddl.allow = 'rename'; ALTER TABLE t RENAME COLUMN v TO w;
#            ROLLBACK;             (a cheap statement that runs only because of the allow)
# Each writes one audit record per transaction when safe_ddl.audit is on. $BENCH_ROUNDS rounds
# (default 6) of one run with audit on and one off (ALTER SYSTEM + reload), alternating which
# goes first, $BENCH_SECONDS each (default 5). Reports pgbench's latency average per run, the
# medians per side and their difference: the audit's cost per statement, in microseconds.
# Then the refusal again in a loop inside one DO block (no client round trip), timed in the
# server, the same rounds. The audit file rotates at the default 10MB during the runs, so
# rotation is in the cost.
# Writes bench/results/audit.txt.
#
# Usage (repo root, as root, safe_ddl installed): flock /work/hx/cpu.lock bash bench/audit.sh
# Takes about 2 workloads x 2 x rounds x seconds (2 min with the defaults) plus setup.
set -euo pipefail
cd "$(dirname "$0")/.."
. pg_test/lib/cluster.sh

DIR="${BENCH_DIR:-/tmp/bench_audit}"
PORT="${BENCH_PORT:-55477}"
ROUNDS="${BENCH_ROUNDS:-6}"
SECONDS_PER_RUN="${BENCH_SECONDS:-5}"
OUT="bench/results/audit.txt"
mkdir -p bench/results

trap 'cluster_stop "$DIR/c" 2>/dev/null || true' EXIT
cluster_start "$DIR/c" "$PORT" "safe_ddl.usage_window = 0"
psql_() { cluster_psql "$DIR/c" "$PORT" -d postgres -qAt "$@"; }
psql_ -c "CREATE EXTENSION safe_ddl" >/dev/null
psql_ -c "CREATE TABLE t AS SELECT g AS id, g AS v FROM generate_series(1, 1000) g" >/dev/null
psql_ -c "VACUUM ANALYZE t" >/dev/null

cat > "$DIR/refused.sql" <<'EOF'
DO $$ BEGIN CREATE INDEX ON t (id); EXCEPTION WHEN object_not_in_prerequisite_state THEN NULL; END $$;
EOF
cat > "$DIR/allowed.sql" <<'EOF'
BEGIN;
SET LOCAL safe_ddl.allow = 'rename';
ALTER TABLE t RENAME COLUMN v TO w;
ROLLBACK;
EOF
chown postgres "$DIR/refused.sql" "$DIR/allowed.sql"

audit() { # on|off
    psql_ -c "ALTER SYSTEM SET safe_ddl.audit = $1" >/dev/null
    psql_ -c "SELECT pg_reload_conf()" >/dev/null
    sleep 0.3
    [ "$(psql_ -c "SHOW safe_ddl.audit")" = "$1" ] || { echo "safe_ddl.audit is not $1" >&2; exit 1; }
}

run() { # run WORKLOAD -> latency average in ms
    as_postgres "$PGBIN/pgbench" -h "$DIR/c/sock" -p "$PORT" -U postgres -n -M simple \
        -f "$DIR/$1.sql" -c 1 -j 1 -T "$SECONDS_PER_RUN" postgres 2>/dev/null \
        | awk '/^latency average = / { print $4 }'
}

median() { sort -g | awk '{ v[NR] = $1 } END { printf "%.4f\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

{
    echo "command: flock /work/hx/cpu.lock bash bench/audit.sh (BENCH_ROUNDS=$ROUNDS BENCH_SECONDS=$SECONDS_PER_RUN)"
    echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); machine: $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GB; $("$PGBIN/postgres" --version)"
    echo "safe_ddl: $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ' + uncommitted changes')"
    echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT"

for workload in refused allowed; do
    audit on
    run "$workload" >/dev/null # warm-up
    on=(); off=()
    for r in $(seq 1 "$ROUNDS"); do
        if [ $((r % 2)) -eq 1 ]; then order="on off"; else order="off on"; fi
        for side in $order; do
            audit "$side"
            lat=$(run "$workload")
            if [ "$side" = on ]; then on+=("$lat"); else off+=("$lat"); fi
            echo "  $workload round $r audit $side: latency average $lat ms" | tee -a "$OUT"
        done
    done
    on_med=$(printf '%s\n' "${on[@]}" | median)
    off_med=$(printf '%s\n' "${off[@]}" | median)
    diff_us=$(awk -v a="$on_med" -v b="$off_med" 'BEGIN { printf "%.1f", (a - b) * 1000 }')
    echo "$workload: audit on median $on_med ms, off median $off_med ms per statement: the audit record costs $diff_us us" | tee -a "$OUT"
done
# The same refusal without the client round trip: 5,000 refusals caught in one DO block, timed
# with clock_timestamp() inside the server (µs per refusal).
loop="DO \$\$ DECLARE t0 timestamptz := clock_timestamp(); BEGIN
        FOR i IN 1..5000 LOOP
          BEGIN CREATE INDEX ON t (id); EXCEPTION WHEN object_not_in_prerequisite_state THEN NULL; END;
        END LOOP;
        RAISE NOTICE '%', round(extract(epoch FROM clock_timestamp() - t0) * 1e6 / 5000, 2);
      END \$\$;"
on=(); off=()
for r in $(seq 1 "$ROUNDS"); do
    if [ $((r % 2)) -eq 1 ]; then order="on off"; else order="off on"; fi
    for side in $order; do
        audit "$side"
        us=$(psql_ -c "$loop" 2>&1 | sed -n 's/.*NOTICE: *//p')
        if [ "$side" = on ]; then on+=("$us"); else off+=("$us"); fi
        echo "  refused in a server-side loop round $r audit $side: $us us per refusal" | tee -a "$OUT"
    done
done
on_med=$(printf '%s\n' "${on[@]}" | median)
off_med=$(printf '%s\n' "${off[@]}" | median)
diff_us=$(awk -v a="$on_med" -v b="$off_med" 'BEGIN { printf "%.1f", a - b }')
echo "refused in a server-side loop: audit on median $on_med us, off median $off_med us per refusal: the audit record costs $diff_us us" | tee -a "$OUT"
audit on
records=$(psql_ -c "SELECT count(*) FROM safe_ddl.audit_log")
sizes=$(ls -l "$DIR/c/data/safe_ddl/" | awk 'NR > 1 { printf "%s %s; ", $9, $5 }')
echo "audit records kept at the end: $records ($sizes)" | tee -a "$OUT"
