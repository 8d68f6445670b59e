#!/usr/bin/env bash
# bench/overhead_cpu.sh: the CPU time one backend spends per pgbench -S transaction, with safe_ddl
# preloaded (tracking on, every setting at its default) and not loaded (issue 19's hot path).
#
# Why not TPS: on this VM single 10 s pgbench runs of the same mode vary by +-13% (neighbours),
# so TPS cannot resolve 1% (bench/RESULTS.md). The backend's own CPU time (user + system, kernel
# socket work included) for a fixed number of transactions is what the extension adds to, and a
# neighbour's load moves it far less: it is read from the postmaster's cutime + cstime
# (/proc/<postmaster>/stat), to which a backend's time is added when it exits and is reaped, so
# one pgbench connection = one backend = one delta (autovacuum is off: no other child exits).
#
# One cluster (pgbench -i -s $BENCH_SCALE), restarted into each mode in ABBA order for
# BENCH_ALTERNATIONS pairs; per run, after a discarded warm-up connection, one pgbench
# connection runs `-S -M prepared -c 1 -t $BENCH_TXNS`; the server on CPU $BENCH_SERVER_CPU and
# pgbench on CPU $BENCH_CLIENT_CPU (taskset). Reported: CPU microseconds per transaction per
# mode (median, min-max), the ratio not-loaded/preloaded as a throughput equivalent (a backend
# that needs x% more CPU per transaction does 1/(1+x) of the transactions on a saturated server),
# and the per-pair ratios. Target: ratio >= 0.99.
#
# Usage (as root, safe_ddl installed into the PostgreSQL of $PG_CONFIG, default the pg_config on PATH):
#   bash bench/overhead_cpu.sh            # about 6 minutes with the defaults
# Environment: BENCH_DIR [/tmp/bench_overhead_cpu] BENCH_PORT [55483] BENCH_RESULTS [bench/results]
#   BENCH_ALTERNATIONS [10] BENCH_TXNS [300000] BENCH_SCALE [10] BENCH_SERVER_CPU [0]
#   BENCH_CLIENT_CPU [1] BENCH_LIB [the installed safe_ddl.so]
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../pg_test/lib/cluster.sh
source "$HERE/../pg_test/lib/cluster.sh"
# shellcheck source=lib/common.sh
source "$HERE/lib/common.sh"

BASE="${BENCH_DIR:-/tmp/bench_overhead_cpu}"
PORT="${BENCH_PORT:-55483}"
RESULTS="$(realpath -m "${BENCH_RESULTS:-$HERE/results}")"
PAIRS="${BENCH_ALTERNATIONS:-10}"
TXNS="${BENCH_TXNS:-300000}"
SCALE="${BENCH_SCALE:-10}"
SERVER_CPU="${BENCH_SERVER_CPU:-0}"
CLIENT_CPU="${BENCH_CLIENT_CPU:-1}"
SRC_LIB="${BENCH_LIB:-}"
CL="$BASE/cluster"
LIB="$BASE/lib/safe_ddl.so"
TICK="$(getconf CLK_TCK)"

cd /
STARTED=0
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [ "$STARTED" = 1 ] && { cluster_stop "$CL" || true; }
    [ "$rc" = 0 ] || echo "overhead_cpu.sh: FAILED (exit $rc); files in $BASE" >&2
    exit "$rc"
}
trap cleanup EXIT INT TERM

if [ -n "$SRC_LIB" ]; then
    mkdir -p "$(dirname "$LIB")"
    install -m 0644 "$SRC_LIB" "$LIB"
    chmod 0755 "$(dirname "$LIB")"
else
    bench_private_lib "$LIB"
fi
OUT="$BASE/out_$(date +%Y%m%d_%H%M%S)"
mkdir -p "$OUT" "$RESULTS"
chown postgres:postgres "$BASE" "$OUT"
bench_machine_facts "bash bench/overhead_cpu.sh (BENCH_ALTERNATIONS=$PAIRS BENCH_TXNS=$TXNS BENCH_SCALE=$SCALE BENCH_LIB=\"$SRC_LIB\")" \
    | tee "$OUT/machine.txt"

bpsql() { cluster_psql "$CL" "$PORT" -d bench "$@"; }
# children_ticks: the postmaster's cutime + cstime (clock ticks of its reaped children)
children_ticks() {
    local pm
    pm="$(head -1 "$CL/data/postmaster.pid")"
    # fields after the command's closing parenthesis: state is field 3, cutime 16, cstime 17
    sed -E 's/^.*\) //' "/proc/$pm/stat" | awk '{ print $14 + $15 }'
}
set_mode() {
    local pre=""
    [ "$1" = off ] || pre="$LIB"
    echo "shared_preload_libraries = '$pre'" | as_postgres tee "$CL/data/preload.conf" >/dev/null
    as_postgres taskset -c "$SERVER_CPU" env -u RUST_BACKTRACE "$PGBIN/pg_ctl" -D "$CL/data" -l "$CL/server.log" -w -t 60 -m fast restart >/dev/null
    local got
    got=$(bpsql -At -c "SELECT coalesce(current_setting('safe_ddl.mode', true), 'not loaded')")
    case "$1:$got" in
        off:"not loaded"|on:enforce) ;;
        *) echo "mode $1: expected safe_ddl $([ "$1" = off ] && echo 'not loaded' || echo enforce), got '$got'" >&2; return 1 ;;
    esac
    bpsql -q -At -c "SELECT sum(pg_prewarm(c)) FROM unnest(ARRAY['pgbench_accounts', 'pgbench_accounts_pkey', 'pgbench_branches', 'pgbench_tellers']::regclass[]) c" >/dev/null
}
run() { # MODE N: one connection, N transactions; prints CPU µs per transaction
    local before after
    taskset -c "$CLIENT_CPU" "$PGBIN/pgbench" -h "$CL/sock" -p "$PORT" -U postgres -n -S -M prepared -c 1 -t 3000 bench >/dev/null 2>&1
    sleep 0.3
    before="$(children_ticks)"
    taskset -c "$CLIENT_CPU" "$PGBIN/pgbench" -h "$CL/sock" -p "$PORT" -U postgres -n -S -M prepared -c 1 -t "$2" bench >"$OUT/$1_$(date +%s%N).out" 2>&1
    sleep 0.5   # the backend exits and is reaped
    after="$(children_ticks)"
    awk -v b="$before" -v a="$after" -v n="$2" -v t="$TICK" 'BEGIN { printf "%.3f", (a - b) / t / n * 1e6 }'
}

STARTED=1
SAFE_DDL_PRELOAD="" cluster_start "$CL" "$PORT" "shared_buffers = 512MB" "autovacuum = off" \
    "include_if_exists = 'preload.conf'"
cluster_psql "$CL" "$PORT" -q -d postgres -c "CREATE DATABASE bench"
"$PGBIN/pgbench" -h "$CL/sock" -p "$PORT" -U postgres -i -q -s "$SCALE" bench >"$OUT/init.out" 2>&1
bpsql -q -c "CREATE EXTENSION pg_prewarm" -c "VACUUM ANALYZE"

CSV="$OUT/runs.csv"
echo "pair,mode,cpu_us_per_txn" >"$CSV"
for i in $(seq 1 "$PAIRS"); do
    if [ $((i % 2)) = 1 ]; then order="off on"; else order="on off"; fi
    for mode in $order; do
        set_mode "$mode"
        us="$(run "$mode" "$TXNS")"
        echo "$i,$mode,$us" >>"$CSV"
        printf '  pair %2d %-3s %8s CPU us/transaction\n' "$i" "$mode" "$us"
    done
done

python3 - "$CSV" <<'PY' | tee "$OUT/summary.txt"
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
by = {"off": [], "on": []}
pairs = {}
for r in rows:
    v = float(r["cpu_us_per_txn"]); by[r["mode"]].append(v); pairs.setdefault(r["pair"], {})[r["mode"]] = v
off, on = statistics.median(by["off"]), statistics.median(by["on"])
ratios = sorted(p["off"] / p["on"] for p in pairs.values())
q = statistics.quantiles(ratios, n=4) if len(ratios) >= 2 else [ratios[0]] * 3
print("| not loaded: CPU µs/txn median (min-max) | preloaded: CPU µs/txn median (min-max) | throughput ratio off/on of medians | per-pair ratios: median (min-max) [quartiles] | target | verdict |")
print("| ---: | ---: | ---: | ---: | --- | --- |")
r = off / on
print(f"| {off:.3f} ({min(by['off']):.3f}-{max(by['off']):.3f}) | {on:.3f} ({min(by['on']):.3f}-{max(by['on']):.3f}) | {r:.4f} | "
      f"{statistics.median(ratios):.4f} ({ratios[0]:.4f}-{ratios[-1]:.4f}) [{q[0]:.4f}-{q[2]:.4f}] | >= 0.99 | "
      f"{'met' if r >= 0.99 else 'NOT met'} |")
PY
cp "$CSV" "$RESULTS/overhead_cpu.csv"
cp "$OUT/summary.txt" "$RESULTS/overhead_cpu.txt"
echo "results: $RESULTS/overhead_cpu.txt, overhead_cpu.csv; raw files: $OUT"
