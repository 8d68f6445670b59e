#!/usr/bin/env bash
# bench/overhead.sh: what does having safe_ddl loaded cost when nothing is refused?
#
# One cluster (pgbench -i -s $BENCH_SCALE, loaded with safe_ddl not loaded), restarted between
# runs with shared_preload_libraries = '' ("off") or = a private copy of the installed safe_ddl.so
# ("on": enforce mode, every setting at its default). The modes alternate in ABBA order
# (off on, on off, off on, ...) for BENCH_REPEATS iterations; after each restart the pgbench
# tables are pg_prewarm'ed and each workload gets a short discarded warm-up. Per mode and
# iteration, in this order:
#   select   pgbench -S (built-in select-only), -M $BENCH_PROTOCOL, -c/-j, -T $BENCH_SECONDS
#   tpcb     pgbench built-in tpcb-like, same options
#   ddl_temp pgbench -n -c 1 -t $BENCH_DDL_TXNS, 4 DDL statements per transaction (autocommit):
#              CREATE TEMP TABLE ddl_t (id int, v text); ALTER TABLE ddl_t ADD COLUMN w int;
#              CREATE INDEX ddl_t_id ON ddl_t (id); DROP TABLE ddl_t;
#            (temporary tables are exempt from every hazard, but each statement is still parsed,
#            described and judged by the hook)
#   ddl_lock pgbench -n -c 1 -t $BENCH_DDL_TXNS, 2 statements per transaction on an existing
#            1,000-row table: ALTER TABLE ddl_target ALTER COLUMN v SET DEFAULT 1; ... DROP DEFAULT;
#            (each takes ACCESS EXCLUSIVE: the guarded path with safe_ddl.lock_timeout and the
#            stall-free lock acquisition)
# Reported: per workload the median and mean of each mode, the ratio on/off (TPS; for DDL the
# per-statement time, overhead = on/off - 1), and the median of the per-iteration ratios.
# Targets: TPS ratio >= 0.99, DDL per-statement overhead <= 5%.
# Files: bench/results/overhead.txt, overhead.csv (every run), overhead.png (bar chart of the
# ratios, one dot per iteration); raw pgbench output in $BENCH_DIR/out_<timestamp>/.
#
# Issue 19's method (resolving 1% on a noisy machine: many short alternations, server and
# pgbench on separate cores, select-only only):
#   BENCH_WORKLOADS=select BENCH_SECONDS=10 BENCH_ALTERNATIONS=12 BENCH_PIN=1 bash bench/overhead.sh
#
# Usage (as root, safe_ddl installed into the PostgreSQL of $PG_CONFIG, default the pg_config on PATH):
#   bash bench/overhead.sh                           # about 11 min with the defaults
# Environment (defaults in brackets):
#   BENCH_DIR [/tmp/bench_overhead]  BENCH_PORT [55482]  BENCH_RESULTS [bench/results]
#   BENCH_SECONDS [20] seconds per select / tpcb run   BENCH_REPEATS [5] runs per mode
#   BENCH_ALTERNATIONS [BENCH_REPEATS] the same, by the name issue 19 uses: how many off/on pairs
#     (one restart into each mode per pair, order ABBA...); the summary gives the median and the
#     spread (min-max and quartiles) of the per-pair ratios
#   BENCH_PIN [0] 1: the server (postmaster and backends) on CPU $BENCH_SERVER_CPU [0], pgbench
#     on CPU $BENCH_CLIENT_CPU [1] (taskset), so client and server do not take each other's core
#   BENCH_LIB [the installed safe_ddl.so] the library preloaded in mode on (e.g. an older build,
#     to compare two builds against the same not-loaded runs)
#   BENCH_WARMUP [3] seconds of discarded warm-up      BENCH_SCALE [10] pgbench scale
#   BENCH_CLIENTS [2]  BENCH_THREADS [2]  BENCH_PROTOCOL [prepared]
#   BENCH_DDL_TXNS [2000] transactions per DDL run     BENCH_WORKLOADS ["select tpcb ddl_temp ddl_lock"]
#   BENCH_ON_OPTIONS [empty] diagnosis only: PGOPTIONS for the pgbench sessions of mode on, e.g.
#     '-c safe_ddl.lock_retries=0' (what the stall-free lock acquisition costs per statement)
# Quick check: BENCH_SECONDS=3 BENCH_REPEATS=2 BENCH_WARMUP=1 BENCH_DDL_TXNS=300 BENCH_SCALE=2
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../pg_test/lib/cluster.sh
source "$HERE/../pg_test/lib/cluster.sh"
# shellcheck source=lib/common.sh
source "$HERE/lib/common.sh"

BASE="${BENCH_DIR:-/tmp/bench_overhead}"
PORT="${BENCH_PORT:-55482}"
RESULTS="$(realpath -m "${BENCH_RESULTS:-$HERE/results}")"   # relative to the caller's directory (the script cd /s)
SECONDS_RUN="${BENCH_SECONDS:-20}"
REPEATS="${BENCH_ALTERNATIONS:-${BENCH_REPEATS:-5}}"
PIN="${BENCH_PIN:-0}"
SERVER_CPU="${BENCH_SERVER_CPU:-0}"
CLIENT_CPU="${BENCH_CLIENT_CPU:-1}"
SRC_LIB="${BENCH_LIB:-}"
WARMUP="${BENCH_WARMUP:-3}"
SCALE="${BENCH_SCALE:-10}"
CLIENTS="${BENCH_CLIENTS:-2}"
THREADS="${BENCH_THREADS:-2}"
PROTOCOL="${BENCH_PROTOCOL:-prepared}"
DDL_TXNS="${BENCH_DDL_TXNS:-2000}"
WORKLOADS="${BENCH_WORKLOADS:-select tpcb ddl_temp ddl_lock}"
ON_OPTIONS="${BENCH_ON_OPTIONS:-}"   # diagnosis only: PGOPTIONS of the pgbench sessions in mode on
CL="$BASE/cluster"
LIB="$BASE/lib/safe_ddl.so"

for w in $WORKLOADS; do
    case "$w" in select|tpcb|ddl_temp|ddl_lock) ;; *) echo "unknown workload '$w'" >&2; exit 2 ;; esac
done

cd /

STARTED=0
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ "$STARTED" = 1 ]; then
        cluster_stop "$CL" || true
        [ -z "${OUT:-}" ] || cp "$CL/server.log" "$OUT/server.log" 2>/dev/null || true
    fi
    [ "$rc" = 0 ] || echo "overhead.sh: FAILED (exit $rc); files in ${OUT:-$BASE}" >&2
    exit "$rc"
}
trap cleanup EXIT INT TERM

bpsql() { cluster_psql "$CL" "$PORT" -d bench "$@"; }

# With BENCH_PIN=1, the server's and pgbench's command lines start with these (taskset)
SERVER_PIN=()
CLIENT_PIN=()
if [ "$PIN" = 1 ]; then
    SERVER_PIN=(taskset -c "$SERVER_CPU")
    CLIENT_PIN=(taskset -c "$CLIENT_CPU")
fi

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

{
    bench_machine_facts "bash bench/overhead.sh (BENCH_SECONDS=$SECONDS_RUN BENCH_ALTERNATIONS=$REPEATS BENCH_WARMUP=$WARMUP BENCH_SCALE=$SCALE BENCH_CLIENTS=$CLIENTS BENCH_THREADS=$THREADS BENCH_PROTOCOL=$PROTOCOL BENCH_DDL_TXNS=$DDL_TXNS BENCH_WORKLOADS=\"$WORKLOADS\" BENCH_ON_OPTIONS=\"$ON_OPTIONS\" BENCH_PIN=$PIN BENCH_LIB=\"$SRC_LIB\")"
    [ -z "$ON_OPTIONS" ] || echo "NOTE: not the defaults: mode on runs pgbench with PGOPTIONS='$ON_OPTIONS'"
    [ "$PIN" != 1 ] || echo "pinned: server on CPU $SERVER_CPU, pgbench on CPU $CLIENT_CPU (taskset)"
    echo "safe_ddl.so preloaded in mode on: private copy $LIB of ${SRC_LIB:-the installed library}, md5 $(md5sum <"$LIB" | cut -c1-32)"
} | tee "$OUT/machine.txt"

# set_mode off|on: restart the cluster with / without the library preloaded, check, prewarm
set_mode() {
    local pre=""
    [ "$1" = off ] || pre="$LIB"
    echo "shared_preload_libraries = '$pre'" | as_postgres tee "$CL/data/preload.conf" >/dev/null
    as_postgres "${SERVER_PIN[@]}" env -u RUST_BACKTRACE "$PGBIN/pg_ctl" -D "$CL/data" -l "$CL/server.log" -w -t 60 -m fast restart >/dev/null
    local got
    got=$(bpsql -At -c "SELECT coalesce(current_setting('safe_ddl.mode', true), 'not loaded')")
    case "$1:$got" in
        off:"not loaded"|on:enforce) ;;
        *) echo "mode $1: expected safe_ddl $([ "$1" = off ] && echo 'not loaded' || echo enforce), got '$got'" >&2; return 1 ;;
    esac
    bpsql -q -At -c "SELECT sum(pg_prewarm(c)) FROM unnest(ARRAY['pgbench_accounts', 'pgbench_accounts_pkey', 'pgbench_branches', 'pgbench_tellers', 'ddl_target']::regclass[]) c" >/dev/null
}

cat >"$OUT/ddl_temp.sql" <<'SQL'
CREATE TEMP TABLE ddl_t (id int, v text);
ALTER TABLE ddl_t ADD COLUMN w int;
CREATE INDEX ddl_t_id ON ddl_t (id);
DROP TABLE ddl_t;
SQL
cat >"$OUT/ddl_lock.sql" <<'SQL'
ALTER TABLE ddl_target ALTER COLUMN v SET DEFAULT 1;
ALTER TABLE ddl_target ALTER COLUMN v DROP DEFAULT;
SQL
stmts_of() { case "$1" in ddl_temp) echo 4 ;; ddl_lock) echo 2 ;; *) echo 1 ;; esac; }

# run_pgbench WORKLOAD FILE SECONDS|TRANSACTIONS: pgbench output into FILE ($mode: PGOPTIONS)
run_pgbench() {
    local w="$1" f="$2" len="$3" args opts=""
    [ "$mode" = off ] || opts="$ON_OPTIONS"
    case "$w" in
        select) args=(-S -M "$PROTOCOL" -c "$CLIENTS" -j "$THREADS" -T "$len") ;;
        tpcb) args=(-M "$PROTOCOL" -c "$CLIENTS" -j "$THREADS" -T "$len") ;;
        ddl_*) args=(-n -M simple -c 1 -j 1 -f "$OUT/$w.sql" -t "$len") ;;
    esac
    PGOPTIONS="$opts" "${CLIENT_PIN[@]}" "$PGBIN/pgbench" -h "$CL/sock" -p "$PORT" -U postgres "${args[@]}" bench >"$f" 2>&1
}

echo
echo "=== setup: pgbench -i -s $SCALE (safe_ddl not loaded) ==="
STARTED=1
SAFE_DDL_PRELOAD="" cluster_start "$CL" "$PORT" \
    "shared_buffers = 512MB" \
    "max_wal_size = 4GB" \
    "checkpoint_timeout = 30min" \
    "include_if_exists = 'preload.conf'"
cluster_psql "$CL" "$PORT" -q -d postgres -c "CREATE DATABASE bench"
mode=off
"$PGBIN/pgbench" -h "$CL/sock" -p "$PORT" -U postgres -i -q -s "$SCALE" bench >"$OUT/init.out" 2>&1
bpsql -q -v ON_ERROR_STOP=1 <<'SQL'
CREATE EXTENSION pg_prewarm;
CREATE TABLE ddl_target (id int PRIMARY KEY, v int);
INSERT INTO ddl_target SELECT g, g FROM generate_series(1, 1000) g;
VACUUM (ANALYZE);
CHECKPOINT;
SQL

echo "iteration,mode,workload,tps,latency_ms,statements_per_txn,us_per_statement,loadavg_1min" >"$OUT/runs.csv"
t_start=$(now)
for i in $(seq 1 "$REPEATS"); do
    if [ $((i % 2)) = 1 ]; then order="off on"; else order="on off"; fi
    for mode in $order; do
        set_mode "$mode"
        for w in $WORKLOADS; do
            f="$OUT/${i}_${mode}_${w}.out"
            case "$w" in
                ddl_*) run_pgbench "$w" "$f.warmup" $((DDL_TXNS / 10 + 1)); run_pgbench "$w" "$f" "$DDL_TXNS" ;;
                *) run_pgbench "$w" "$f.warmup" "$WARMUP"; run_pgbench "$w" "$f" "$SECONDS_RUN" ;;
            esac
            tps=$(awk '/^tps = .*without initial connection time/ { print $3 }' "$f")
            lat=$(awk '/^latency average = / { print $4 }' "$f")
            [ -n "$tps" ] && [ -n "$lat" ] || { echo "pgbench $w failed:"; cat "$f"; exit 1; } >&2
            st=$(stmts_of "$w")
            us=$(awk -v l="$lat" -v s="$st" 'BEGIN { printf "%.2f", l * 1000 / s }')
            echo "$i,$mode,$w,$tps,$lat,$st,$us,$(cut -d' ' -f1 /proc/loadavg)" >>"$OUT/runs.csv"
            printf '  iteration %d %-3s %-8s tps %10.1f  latency %8.3f ms  %8.2f us/statement\n' "$i" "$mode" "$w" "$tps" "$lat" "$us"
        done
    done
done
echo "measured in $(elapsed "$t_start") s"
cluster_stop "$CL"
STARTED=0
cp "$CL/server.log" "$OUT/server.log"
cp "$OUT/runs.csv" "$RESULTS/overhead.csv"

# --- summary ---
python3 - "$OUT/runs.csv" "$OUT/tps_ratios.dat" "$OUT/ddl_ratios.dat" <<'PY' >"$OUT/summary.txt"
import csv, statistics as st, sys
rows = list(csv.DictReader(open(sys.argv[1])))
wls = list(dict.fromkeys(r["workload"] for r in rows))
label = {"select": "select-only (-S)", "tpcb": "tpcb-like", "ddl_temp": "DDL on a temp table", "ddl_lock": "DDL on an existing table"}
dat = {False: open(sys.argv[2], "w"), True: open(sys.argv[3], "w")}
nplot = {False: 0, True: 0}
print("| workload | metric | not loaded: median / mean | preloaded: median / mean | ratio on/off (median / mean) | per-iteration ratios: median (min-max) [quartiles] | target | verdict |")
print("| --- | --- | ---: | ---: | ---: | ---: | --- | --- |")
def quartiles(xs):
    if len(xs) < 4:
        return ""
    q = st.quantiles(xs, n=4)
    return f" [{q[0]:.3f}-{q[2]:.3f}]"
for k, w in enumerate(wls):
    ddl = w.startswith("ddl")
    key = "us_per_statement" if ddl else "tps"
    val = {m: {int(r["iteration"]): float(r[key]) for r in rows if r["workload"] == w and r["mode"] == m} for m in ("off", "on")}
    off, on = list(val["off"].values()), list(val["on"].values())
    if not off or not on:
        continue
    r_med, r_mean = st.median(on) / st.median(off), st.mean(on) / st.mean(off)
    pairs = [val["on"][i] / val["off"][i] for i in sorted(val["off"]) if i in val["on"]]
    p_med = st.median(pairs)
    if ddl:
        target, ok = "overhead <= 5%", r_med <= 1.05
        verdict = f"{(r_med - 1) * 100:+.1f}% per statement (mean {(r_mean - 1) * 100:+.1f}%): {'met' if ok else 'NOT met'}"
    else:
        target, ok = "ratio >= 0.99", r_med >= 0.99
        verdict = f"{r_med:.3f} (mean {r_mean:.3f}): {'met' if ok else 'NOT met'}"
    unit = "us/statement" if ddl else "TPS"
    print(f"| {label.get(w, w)} | {unit} | {st.median(off):,.1f} / {st.mean(off):,.1f} | {st.median(on):,.1f} / {st.mean(on):,.1f} "
          f"| {r_med:.3f} / {r_mean:.3f} | {p_med:.3f} ({min(pairs):.3f}-{max(pairs):.3f}){quartiles(pairs)} | {target} | {verdict} |")
    # plot data: x, label, ratio on/off of the medians, then the per-iteration ratios
    dat[ddl].write(f'{nplot[ddl]} "{label.get(w, w)}" {r_med:.4f} ' + " ".join(f"{x:.4f}" for x in pairs) + "\n")
    nplot[ddl] += 1
print()
print("ratio on/off: preloaded / not loaded; for TPS higher is better, for DDL (time per statement) lower is better.")
print("per-iteration ratio: iteration i's preloaded run over its not-loaded run (the pair ran back to back).")
PY

{
    echo "# bench/overhead.sh: safe_ddl preloaded (enforce, defaults) vs not loaded"
    echo
    cat "$OUT/machine.txt"
    echo "raw files: $OUT"
    echo
    echo "pgbench -s $SCALE; select/tpcb: -M $PROTOCOL -c $CLIENTS -j $THREADS -T $SECONDS_RUN (after a ${WARMUP} s warm-up);"
    echo "DDL: -n -M simple -c 1 -t $DDL_TXNS (after $((DDL_TXNS / 10 + 1)) warm-up transactions); $REPEATS runs per mode, ABBA order, restart + pg_prewarm before each mode."
    echo
    cat "$OUT/summary.txt"
    echo
    echo "every run (bench/results/overhead.csv):"
    column -s, -t <"$OUT/runs.csv" | sed 's/^/    /'
} >"$RESULTS/overhead.txt"

# bar charts: left, application TPS preloaded / not loaded (target >= 0.99); right, DDL time per
# statement preloaded / not loaded (target <= 1.05). Bars: ratio of the medians; dots: iterations.
# plot_bars DATFILE: the plot command for one panel
plot_bars() {
    local f="$1" n j cmd
    n=$(awk -F'"' '{ print split($3, a, " ") - 1 }' "$f" | sort -n | tail -1)
    cmd="plot '$f' using 1:3:xtic(2) with boxes lc rgb '#1f77b4' title 'ratio of the medians', '' using 1:3:(sprintf('%.3f', \$3)) with labels offset 0,0.8 font ',11' notitle"
    for j in $(seq 1 "$n"); do
        cmd="$cmd, '' using (\$1 + 0.06 * ($j - ($n + 1) / 2.0)):$((3 + j)) with points pt 7 ps 0.8 lc rgb 'black' $([ "$j" = 1 ] && echo "title 'each iteration (pair)'" || echo notitle)"
    done
    echo "$cmd"
}
{
    echo "set terminal pngcairo noenhanced size 1200,550 font 'DejaVu Sans,10'"
    echo "set output '$RESULTS/overhead.png'"
    echo "set multiplot layout 1,2 title \"safe_ddl overhead: preloaded (enforce, defaults) vs not loaded; $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $REPEATS runs per mode\""
    echo "set style fill solid 0.6 border -1"
    echo "set boxwidth 0.5"
    echo "set grid ytics"
    echo "set key below"
    if [ -s "$OUT/tps_ratios.dat" ]; then
        echo "set title 'application TPS, preloaded / not loaded (pgbench -M $PROTOCOL -c $CLIENTS, ${SECONDS_RUN} s runs)'"
        echo "set ylabel 'TPS ratio (1 = no cost; higher is better)'"
        echo "set xrange [-0.6:$(awk 'END { print NR - 0.4 }' "$OUT/tps_ratios.dat")]"
        echo "set yrange [*<0.9:1.06<*]"
        echo "set arrow 1 from graph 0, first 0.99 to graph 1, first 0.99 nohead front dt 2 lw 1.5 lc rgb '#2ca02c'"
        echo "set label 1 'target >= 0.99' at graph 0.99, first 0.99 right offset 0,-0.8 front tc rgb '#2ca02c'"
        plot_bars "$OUT/tps_ratios.dat"
    fi
    if [ -s "$OUT/ddl_ratios.dat" ]; then
        echo "unset arrow; unset label"
        echo "set title 'DDL time per statement, preloaded / not loaded (pgbench -c 1, $DDL_TXNS txns per run)'"
        echo "set ylabel 'time ratio (1 = no cost; lower is better)'"
        echo "set xrange [-0.6:$(awk 'END { print NR - 0.4 }' "$OUT/ddl_ratios.dat")]"
        echo "set yrange [0:1.2<*]"
        echo "set arrow 1 from graph 0, first 1.05 to graph 1, first 1.05 nohead front dt 2 lw 1.5 lc rgb '#d62728'"
        echo "set label 1 'target <= 1.05' at graph 0.99, first 1.05 right offset 0,0.8 front tc rgb '#d62728'"
        plot_bars "$OUT/ddl_ratios.dat"
    fi
    echo "unset multiplot"
} >"$OUT/overhead.gp"
gnuplot "$OUT/overhead.gp"

echo
cat "$OUT/summary.txt"
echo "results: $RESULTS/overhead.txt, overhead.csv, overhead.png; raw files: $OUT"
