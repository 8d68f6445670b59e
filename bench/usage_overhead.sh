#!/usr/bin/env bash
# bench/usage_overhead.sh: what column usage tracking costs ordinary traffic (issue 7).
#
# One cluster with safe_ddl preloaded (enforce mode, defaults), pgbench scale $BENCH_SCALE
# (default 10: 1,000,000 accounts). For each workload (built-in select-only -S, and tpcb-like),
# $BENCH_ROUNDS rounds (default 5), each round one run with tracking on and one with it off
# (PGOPTIONS='-c safe_ddl.track_usage=off' for the pgbench sessions), the order alternating
# between rounds so drift (caches, autovacuum, checkpoints) hits both sides alike. Each run:
# pgbench -n -c $BENCH_CLIENTS -j 2 -T $BENCH_SECONDS (defaults 4 clients, 15 s), prepared protocol.
# Reports TPS per run, median and mean per side, and on/off ratio of the medians
# (target >= 0.98). Writes bench/results/usage_overhead.txt.
#
# Usage (repo root, as root, safe_ddl installed): bash bench/usage_overhead.sh
# Takes about 2 x rounds x 2 x seconds (5 min with the defaults) plus setup.
set -euo pipefail
cd "$(dirname "$0")/.."
. pg_test/lib/cluster.sh

DIR="${BENCH_DIR:-/tmp/bench_usage}"
PORT="${BENCH_PORT:-55450}"
SCALE="${BENCH_SCALE:-10}"
ROUNDS="${BENCH_ROUNDS:-5}"
SECONDS_PER_RUN="${BENCH_SECONDS:-15}"
CLIENTS="${BENCH_CLIENTS:-4}"
OUT="bench/results/usage_overhead.txt"
mkdir -p bench/results

trap 'cluster_stop "$DIR/c" 2>/dev/null || true' EXIT
cluster_start "$DIR/c" "$PORT" "shared_buffers = '512MB'" "max_wal_size = '4GB'"
cluster_psql "$DIR/c" "$PORT" -d postgres -qc "CREATE EXTENSION safe_ddl" >/dev/null
# pgbench -i adds primary keys to its tables after loading them: guarded, so unguarded here.
as_postgres env PGOPTIONS="-c safe_ddl.mode=off" "$PGBIN/pgbench" -h "$DIR/c/sock" -p "$PORT" -U postgres -i -q -s "$SCALE" postgres >/dev/null
cluster_psql "$DIR/c" "$PORT" -d postgres -qc "VACUUM ANALYZE" >/dev/null

run() { # run WORKLOAD_FLAG TRACKING(on|off) -> tps
    local flag="$1" opt=""
    [ "$2" = off ] && opt="-c safe_ddl.track_usage=off"
    as_postgres env PGOPTIONS="$opt" "$PGBIN/pgbench" -h "$DIR/c/sock" -p "$PORT" -U postgres -n -M prepared \
        $flag -c "$CLIENTS" -j 2 -T "$SECONDS_PER_RUN" postgres 2>/dev/null \
        | awk '/^tps = / { printf "%.1f\n", $3 }'
}

stats() { # values on stdin -> "median mean"
    sort -n | awk '{ v[NR] = $1; s += $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.1f %.1f\n", m, s / NR }'
}

{
    echo "command: bash bench/usage_overhead.sh (BENCH_SCALE=$SCALE BENCH_ROUNDS=$ROUNDS BENCH_SECONDS=$SECONDS_PER_RUN BENCH_CLIENTS=$CLIENTS)"
    echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); machine: $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GB; $("$PGBIN/postgres" --version)"
    echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT"

for workload in select-only tpcb-like; do
    flag="-S"; [ "$workload" = tpcb-like ] && flag=""
    run "$flag" on >/dev/null # warm-up
    on=(); off=()
    for r in $(seq 1 "$ROUNDS"); do
        if [ $((r % 2)) -eq 1 ]; then order="on off"; else order="off on"; fi
        for side in $order; do
            tps=$(run "$flag" "$side")
            if [ "$side" = on ]; then on+=("$tps"); else off+=("$tps"); fi
            echo "  $workload round $r tracking $side: $tps tps" | tee -a "$OUT"
        done
    done
    read -r on_med on_mean < <(printf '%s\n' "${on[@]}" | stats)
    read -r off_med off_mean < <(printf '%s\n' "${off[@]}" | stats)
    ratio=$(awk -v a="$on_med" -v b="$off_med" 'BEGIN { printf "%.3f", a / b }')
    echo "$workload: tracking on median $on_med tps (mean $on_mean), off median $off_med tps (mean $off_mean), on/off = $ratio (target >= 0.98)" | tee -a "$OUT"
done
slots=$(cluster_psql "$DIR/c" "$PORT" -d postgres -Atc "SELECT slots_used || ' of ' || slots FROM safe_ddl.usage_tracking()")
echo "usage table slots used at the end: $slots" | tee -a "$OUT"
