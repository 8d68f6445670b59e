#!/usr/bin/env bash
# bench/contrast.sh: what the application sees during the unsafe DDL vs its safe recipe.
#
# One cluster, safe_ddl preloaded (enforce, defaults) and CREATE EXTENSION safe_ddl, a table
#   items (id bigint PRIMARY KEY, n int, ref_a int, ref_b int, note text)
# with BENCH_ROWS rows (default 5,000,000). The application is pgbench -c 4 -j 2 with
#   \set id random(1, ROWS)
#   SELECT n, ref_a FROM items WHERE id = :id;
#   UPDATE items SET n = n + 1 WHERE id = :id;
# running from BENCH_LEAD s before to BENCH_TAIL s after each operation ("leg"). Legs, in order,
# each after VACUUM + CHECKPOINT:
#   index_plain         SET safe_ddl.allow = 'index_build'; CREATE INDEX items_ref_a_idx ON items (ref_a);
#   index_concurrently  CREATE INDEX CONCURRENTLY items_ref_a_idx ON items (ref_a);
#                       (after each index leg, unmeasured: DROP INDEX CONCURRENTLY items_ref_a_idx)
#   type_rewrite        SET safe_ddl.allow = 'table_rewrite'; ALTER TABLE items ALTER COLUMN ref_a TYPE bigint;
#   expand_contract     ref_b int -> bigint without a rewrite, one of two ways (BENCH_EXPAND):
#     helper  (issue 7's functions, when the installed extension has them)
#               SELECT safe_ddl.begin_column_change('items', 'ref_b', 'ref_b_new', 'bigint')  -- column + dual-write trigger
#               <the backfill CALL it returns>                                              -- CALL safe_ddl.backfill(...)
#               SET safe_ddl.usage_window = '1s' (if it exists); SELECT safe_ddl.finish_column_change('items', 'ref_b')
#               (finish is best effort: a refusal is reported, not fatal)
#     sql     (plain SQL, trigger-free: the application never writes ref_b)
#               ALTER TABLE items ADD COLUMN ref_b_new bigint;
#               CALL safe_ddl.backfill('items', 'ref_b_new = ref_b', 'ref_b_new IS DISTINCT FROM ref_b');
#               BEGIN; SET LOCAL safe_ddl.allow = 'drop_column'; ALTER TABLE items DROP COLUMN ref_b; COMMIT;
#     auto    (default) helper if safe_ddl.begin_column_change exists, else sql
#   Either way the new column keeps its name ref_b_new (no rename) and is not NOT NULL.
# Per leg: the operation's duration and result, the application's TPS during it (and in the lead
# before it), latency p50/p99/max of the transactions in flight while it ran, transactions
# > 100 ms / > 1 s, seconds with zero completed transactions, the longest gap between two
# completions, failed transactions. bench/results/contrast.txt (summary), contrast.csv (per-second
# series, t = seconds since the leg's operation started), contrast.png (2 x 2: index build | column
# type change; TPS on top, latency on a log scale below). Raw files in $BENCH_DIR/out_<timestamp>/.
#
# Usage (as root, safe_ddl installed into the PostgreSQL of pg_config):
#   bash bench/contrast.sh                                   # about 5-6 min with 5,000,000 rows
# Environment (defaults in brackets):
#   BENCH_DIR [/tmp/bench_contrast]  BENCH_PORT [55483]  BENCH_RESULTS [bench/results]
#   BENCH_ROWS [5000000]  BENCH_LEAD [5]  BENCH_TAIL [5]  BENCH_CLIENTS [4]  BENCH_THREADS [2]
#   BENCH_LEGS ["index_plain index_concurrently type_rewrite expand_contract"]
#   BENCH_EXPAND [auto] (helper | sql | auto)
# Quick check: BENCH_ROWS=300000 BENCH_LEAD=3 BENCH_TAIL=3
#
# Like backfill.sh it preloads the installed library by name (CREATE EXTENSION loads
# $libdir/safe_ddl): do not reinstall safe_ddl while it runs.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../pg_test/lib/cluster.sh
source "$HERE/../pg_test/lib/cluster.sh"
# shellcheck source=lib/common.sh
source "$HERE/lib/common.sh"

BASE="${BENCH_DIR:-/tmp/bench_contrast}"
PORT="${BENCH_PORT:-55483}"
RESULTS="$(realpath -m "${BENCH_RESULTS:-$HERE/results}")"   # relative to the caller's directory (the script cd /s)
ROWS="${BENCH_ROWS:-5000000}"
LEAD_S="${BENCH_LEAD:-5}"
TAIL_S="${BENCH_TAIL:-5}"
CLIENTS="${BENCH_CLIENTS:-4}"
THREADS="${BENCH_THREADS:-2}"
LEGS="${BENCH_LEGS:-index_plain index_concurrently type_rewrite expand_contract}"
EXPAND="${BENCH_EXPAND:-auto}"
CL="$BASE/cluster"

for l in $LEGS; do
    case "$l" in index_plain|index_concurrently|type_rewrite|expand_contract) ;; *) echo "unknown leg '$l'" >&2; exit 2 ;; esac
done
case "$EXPAND" in auto|helper|sql) ;; *) echo "BENCH_EXPAND must be auto, helper or sql" >&2; exit 2 ;; esac

cd /

BG_PIDS=()
STARTED=0
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    local pid
    for pid in "${BG_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${BG_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [ "$STARTED" = 1 ]; then
        cluster_stop "$CL" || true
        [ -z "${OUT:-}" ] || cp "$CL/server.log" "$OUT/server.log" 2>/dev/null || true
    fi
    [ "$rc" = 0 ] || echo "contrast.sh: FAILED (exit $rc); files in ${OUT:-$BASE}" >&2
    exit "$rc"
}
trap cleanup EXIT INT TERM

bpsql() {
    local app="$1"; shift
    cluster_psql "$CL" "$PORT" -d "dbname=bench application_name=$app" "$@"
}

OUT="$BASE/out_$(date +%Y%m%d_%H%M%S)"
mkdir -p "$OUT" "$RESULTS"
chown postgres:postgres "$BASE" "$OUT"

bench_machine_facts "bash bench/contrast.sh (BENCH_ROWS=$ROWS BENCH_LEAD=$LEAD_S BENCH_TAIL=$TAIL_S BENCH_CLIENTS=$CLIENTS BENCH_THREADS=$THREADS BENCH_LEGS=\"$LEGS\" BENCH_EXPAND=$EXPAND)" \
    | tee "$OUT/machine.txt"

STARTED=1
cluster_start "$CL" "$PORT" \
    "shared_buffers = 512MB" \
    "max_wal_size = 4GB" \
    "checkpoint_timeout = 30min" \
    "log_lock_waits = on" \
    "log_autovacuum_min_duration = 0" \
    "log_checkpoints = on"
cluster_psql "$CL" "$PORT" -q -d postgres -c "CREATE DATABASE bench"

echo
echo "=== load: $ROWS rows ==="
t_load=$(now)
# Table, rows and primary key in one transaction: exempt (created in the same transaction).
bpsql setup -q -v ON_ERROR_STOP=1 <<SQL
CREATE EXTENSION safe_ddl;
BEGIN;
CREATE TABLE items (id bigint NOT NULL, n int NOT NULL DEFAULT 0, ref_a int NOT NULL, ref_b int NOT NULL, note text NOT NULL);
INSERT INTO items (id, ref_a, ref_b, note)
SELECT g, (g * 7919::bigint) % 1000003, (g * 104729::bigint) % 1000003, 'item ' || g FROM generate_series(1, $ROWS) g;
ALTER TABLE items ADD PRIMARY KEY (id);
COMMIT;
VACUUM (ANALYZE) items;
CHECKPOINT;
SQL
echo "loaded in $(elapsed "$t_load") s: $(bpsql size -At -c "SELECT pg_size_pretty(pg_table_size('items')) || ' table, ' || pg_size_pretty(pg_indexes_size('items')) || ' index'")"
echo "table: $(bpsql size -At -c "SELECT pg_size_pretty(pg_table_size('items')) || ' heap, ' || pg_size_pretty(pg_indexes_size('items')) || ' primary key'")" >>"$OUT/machine.txt"

# TODO(issue 7): the helper leg follows sql/expand_contract.sql as of 2026-11-28
# (begin_column_change(relation, column_name, new_column, new_type, ...) returns the backfill CALL;
# finish_column_change(relation, column_name)); adjust expand_helper_sql if that API changes.
HAVE_HELPER=$(bpsql check -At -c "SELECT to_regproc('safe_ddl.begin_column_change') IS NOT NULL AND to_regproc('safe_ddl.finish_column_change') IS NOT NULL")
if [ "$EXPAND" = auto ]; then
    if [ "$HAVE_HELPER" = t ]; then EXPAND=helper; else EXPAND=sql; fi
fi
if [ "$EXPAND" = helper ] && [ "$HAVE_HELPER" != t ]; then
    echo "BENCH_EXPAND=helper, but the installed safe_ddl has no begin_column_change/finish_column_change" >&2
    exit 2
fi
echo "expand_contract leg: $EXPAND path (begin_column_change installed: $HAVE_HELPER)" | tee -a "$OUT/machine.txt"

cat >"$OUT/workload.sql" <<SQL
\set id random(1, $ROWS)
SELECT n, ref_a FROM items WHERE id = :id;
UPDATE items SET n = n + 1 WHERE id = :id;
SQL

# leg_sql LEG: the psql script of the operation (autocommit; STEP markers with the server clock)
step() { echo "SELECT 'STEP $1 ' || extract(epoch FROM clock_timestamp());"; }
leg_sql() {
    case "$1" in
        index_plain)
            echo "SET safe_ddl.allow = 'index_build';"
            step create_index; echo "CREATE INDEX items_ref_a_idx ON items (ref_a);" ;;
        index_concurrently)
            step create_index_concurrently; echo "CREATE INDEX CONCURRENTLY items_ref_a_idx ON items (ref_a);" ;;
        type_rewrite)
            echo "SET safe_ddl.allow = 'table_rewrite';"
            step alter_type; echo "ALTER TABLE items ALTER COLUMN ref_a TYPE bigint;" ;;
        expand_contract)
            if [ "$EXPAND" = helper ]; then
                step begin_column_change
                echo "SELECT safe_ddl.begin_column_change('items', 'ref_b', 'ref_b_new', 'bigint') AS backfill_call \\gset"
                echo "\\echo backfill: :backfill_call"
                step backfill; echo ":backfill_call"
                step finish_column_change
                echo "\\set ON_ERROR_STOP 0"
                echo "SELECT set_config('safe_ddl.usage_window', '1s', false) WHERE current_setting('safe_ddl.usage_window', true) IS NOT NULL;"
                echo "SELECT safe_ddl.finish_column_change('items', 'ref_b');"
                echo "\\set ON_ERROR_STOP 1"
            else
                step add_column; echo "ALTER TABLE items ADD COLUMN ref_b_new bigint;"
                step backfill; echo "CALL safe_ddl.backfill('items', 'ref_b_new = ref_b', 'ref_b_new IS DISTINCT FROM ref_b');"
                step drop_old_column
                # The backfill itself reads ref_b, so usage tracking (where the build has it) sees
                # the column in use: allow 'in_use' too when that name exists.
                echo "BEGIN;"
                echo "DO \$\$ BEGIN PERFORM set_config('safe_ddl.allow', 'drop_column, in_use', true); EXCEPTION WHEN OTHERS THEN PERFORM set_config('safe_ddl.allow', 'drop_column', true); END \$\$;"
                echo "ALTER TABLE items DROP COLUMN ref_b;"
                echo "COMMIT;"
            fi ;;
    esac
}
leg_after() {   # unmeasured clean-up after a leg
    case "$1" in
        index_*) bpsql cleanup -q -v ON_ERROR_STOP=1 -c "DROP INDEX CONCURRENTLY items_ref_a_idx" ;;
    esac
}
leg_label() {
    case "$1" in
        index_plain) echo "CREATE INDEX (allowed)" ;;
        index_concurrently) echo "CREATE INDEX CONCURRENTLY" ;;
        type_rewrite) echo "ALTER COLUMN TYPE bigint (allowed rewrite)" ;;
        expand_contract) echo "expand/contract to bigint ($EXPAND)" ;;
    esac
}

run_leg() {
    local leg="$1" dir="$OUT/$1"
    mkdir -p "$dir"
    chown postgres:postgres "$dir"
    echo
    echo "=== $leg: $(leg_label "$leg") ==="
    bpsql prepare -q -v ON_ERROR_STOP=1 -c "VACUUM items" -c "CHECKPOINT"
    bpsql state -At -c "SELECT pg_size_pretty(pg_table_size('items')) || ' heap, ' || pg_size_pretty(pg_indexes_size('items')) || ' indexes'" >"$dir/size_before"
    {
        echo "SELECT 'OP_START ' || extract(epoch FROM clock_timestamp());"
        echo "\\timing on"
        leg_sql "$leg"
        echo "\\timing off"
        echo "SELECT 'OP_END ' || extract(epoch FROM clock_timestamp());"
    } >"$dir/op.sql"
    chown postgres:postgres "$dir/op.sql"
    "$PGBIN/pgbench" -h "$CL/sock" -p "$PORT" -U postgres -n -c "$CLIENTS" -j "$THREADS" -T 36000 \
        -f "$OUT/workload.sql" --log --log-prefix="$dir/pgbench_log" bench \
        >"$dir/pgbench.out" 2>"$dir/pgbench.err" &
    local pgbench_pid=$!
    BG_PIDS+=("$pgbench_pid")
    sleep "$LEAD_S"
    local rc=0
    bpsql "$leg" -v ON_ERROR_STOP=1 -f "$dir/op.sql" >"$dir/op.out" 2>&1 || rc=$?
    echo "$rc" >"$dir/op.rc"
    sleep "$TAIL_S"
    kill -TERM "$pgbench_pid" 2>/dev/null || true
    wait "$pgbench_pid" 2>/dev/null || true
    BG_PIDS=()
    cut -d' ' -f1 /proc/loadavg >"$dir/loadavg"
    bpsql state -At -c "SELECT pg_size_pretty(pg_table_size('items')) || ' heap, ' || pg_size_pretty(pg_indexes_size('items')) || ' indexes'" >"$dir/size_after"
    grep -E 'NOTICE|WARNING|ERROR|^Time|backfill:' "$dir/op.out" | cut -c1-250 || true
    [ "$rc" = 0 ] || { echo "$leg failed (exit $rc), see $dir/op.out" >&2; cat "$dir/op.out" >&2; return 1; }
    leg_after "$leg"

    # --- numbers (t = s since OP_START, server clock) ---
    local t0 t1 dur
    t0=$(awk '$1 == "OP_START" { print $2 }' "$dir/op.out")
    t1=$(awk '$1 == "OP_END" { print $2 }' "$dir/op.out")
    dur=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    echo "$dur" >"$dir/duration"
    txn_events "$t0" "$dir"/pgbench_log* >"$dir/events"
    per_second "$dir/events" "-$LEAD_S" "$(awk -v d="$dur" -v t="$TAIL_S" 'BEGIN { printf "%d", d + t }')" >"$dir/per_second.dat"
    awk '$5 == "NaN" { print ""; next } { print }' "$dir/per_second.dat" >"$dir/p99.dat"
    local s tps_op tps_before gap zero failed aborted
    s=$(lat_summary "$dir/events" 0 "$dur")
    tps_op=$(tps_between "$dir/events" 0 "$dur")
    tps_before=$(tps_between "$dir/events" "-$((LEAD_S - 1))" 0)
    gap=$(awk -v d="$dur" '$2 >= -0.5 && $1 <= d + 0.5' "$dir/events" >"$dir/events_op"; longest_gap "$dir/events_op")
    zero=$(awk -v d="$dur" '!/^#/ && $1 > 0 && $1 < d && $2 == 0 { n++ } END { print n + 0 }' "$dir/per_second.dat")
    failed=$(txn_failed "$dir"/pgbench_log*)
    aborted=$(grep -c 'aborted' "$dir/pgbench.err" || true)
    local n p50 p99 mx g100 g1s mx_at
    read -r n p50 p99 mx g100 g1s mx_at <<<"$s"
    local steps
    steps=$(awk -v t0="$t0" '$1 == "STEP" { printf "%s%s@%.1f", sep, $2, $3 - t0; sep = " " }' "$dir/op.out")
    local finish=""
    if grep -q 'ERROR' "$dir/op.out"; then finish="errors: $(grep -m1 'ERROR' "$dir/op.out" | cut -c1-160)"; fi
    # leg,seconds,tps_before,tps_during,transactions,p50_ms,p99_ms,max_ms,max_started_at_s,gt100ms,gt1s,zero_tps_seconds,longest_gap_ms,failed,steps,note
    echo "$leg,$dur,$tps_before,$tps_op,$n,$p50,$p99,$mx,$mx_at,$g100,$g1s,$zero,${gap%% *},$((failed + aborted)),$steps,\"$finish\"" >"$dir/summary.csv"
    cat "$dir/summary.csv"
}

for l in $LEGS; do run_leg "$l"; done

bpsql final -At -c "SELECT 'items columns: ' || string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'items'::regclass AND attnum > 0 AND NOT attisdropped" \
    >"$OUT/final.txt" 2>&1 || true
cluster_stop "$CL"
STARTED=0
cp "$CL/server.log" "$OUT/server.log"
if grep -q "terminated by signal" "$OUT/server.log"; then echo "WARNING: the server crashed; see $OUT/server.log" >&2; fi

# --- results ---
{
    echo "leg,t,tps,started,p50_ms,p99_ms,max_ms,wait_ms"
    for l in $LEGS; do
        awk -v l="$l" '!/^#/ { printf "%s,%s,%s,%s,%s,%s,%s,%s\n", l, $1, $2, $3, $4, $5, $6, $7 }' "$OUT/$l/per_second.dat"
    done
} >"$RESULTS/contrast.csv"
{
    echo "leg,seconds,tps_before,tps_during,transactions,p50_ms,p99_ms,max_ms,max_started_at_s,gt100ms,gt1s,zero_tps_seconds,longest_gap_ms,failed,steps,note"
    for l in $LEGS; do cat "$OUT/$l/summary.csv"; done
} >"$RESULTS/contrast_summary.csv"
{
    echo "# bench/contrast.sh: unsafe DDL vs its safe recipe, $ROWS rows"
    echo
    cat "$OUT/machine.txt"
    echo "raw files: $OUT"
    echo
    echo "application: pgbench -c $CLIENTS -j $THREADS, SELECT n, ref_a + UPDATE n of one random row; from ${LEAD_S} s before to ${TAIL_S} s after each operation."
    echo "Latencies: transactions in flight at some point while the operation ran. TPS before: the ${LEAD_S} s lead."
    echo
    printf '| %-20s | %-42s | %8s | %10s | %10s | %7s | %8s | %10s | %7s | %5s | %7s | %8s | %6s |\n' \
        leg operation seconds "TPS before" "TPS during" "p50 ms" "p99 ms" "max ms" ">100ms" ">1s" "0-TPS s" "gap ms" failed
    printf '| %-20s | %-42s | %8s | %10s | %10s | %7s | %8s | %10s | %7s | %5s | %7s | %8s | %6s |\n' \
        --- --- ---: ---: ---: ---: ---: ---: ---: ---: ---: ---: ---:
    for l in $LEGS; do
        IFS=, read -r leg dur tb td n p50 p99 mx mx_at g100 g1s zero gap failed steps note <"$OUT/$l/summary.csv"
        printf '| %-20s | %-42s | %8s | %10s | %10s | %7s | %8s | %10s | %7s | %5s | %7s | %8s | %6s |\n' \
            "$leg" "$(leg_label "$l")" "$dur" "$tb" "$td" "$p50" "$p99" "$mx" "$g100" "$g1s" "$zero" "$gap" "$failed"
    done
    echo
    for l in $LEGS; do
        IFS=, read -r leg dur tb td n p50 p99 mx mx_at g100 g1s zero gap failed steps note <"$OUT/$l/summary.csv"
        echo "## $l: $(leg_label "$l")"
        echo "steps (name@s since start): $steps; table before: $(cat "$OUT/$l/size_before"), after: $(cat "$OUT/$l/size_after"); 1-min load at end: $(cat "$OUT/$l/loadavg")"
        [ "$note" = '""' ] || echo "note: $note"
        echo "operation script and output:"
        sed 's/^/    > /' "$OUT/$l/op.sql"
        grep -vE '^\s*$|^\(1 row\)|^-+$|\?column\?|^ *backfill_call *$' "$OUT/$l/op.out" | cut -c1-300 | sed 's/^/    /'
        echo
    done
    cat "$OUT/final.txt"
} >"$RESULTS/contrast.txt"

# Plot: 2 x 2; columns: index build (plain vs CONCURRENTLY) | column type change (rewrite vs
# expand/contract); rows: TPS | latency (log). t = 0: the operation starts; dotted: it ends.
color() { case "$1" in index_plain|type_rewrite) echo "#d62728" ;; *) echo "#1f77b4" ;; esac; }
{
    echo "set terminal pngcairo noenhanced size 1400,850 font 'DejaVu Sans,10'"
    echo "set output '$RESULTS/contrast.png'"
    echo "set datafile missing 'NaN'"
    echo "set multiplot layout 2,2 columnsfirst title \"safe_ddl contrast: application (pgbench -c $CLIENTS) during unsafe DDL vs its safe recipe, $ROWS rows ($(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs)\""
    echo "set grid"
    echo "set key below horizontal maxcols 2 font ',9'"
    for pair in "index_plain index_concurrently:index build" "type_rewrite expand_contract:int -> bigint column change"; do
        legs_here=""
        for l in ${pair%%:*}; do [[ " $LEGS " == *" $l "* ]] && legs_here="$legs_here $l"; done
        if [ -z "$legs_here" ]; then echo "set multiplot next"; echo "set multiplot next"; continue; fi
        maxd=0
        for l in $legs_here; do maxd=$(awk -v a="$maxd" -v b="$(cat "$OUT/$l/duration")" 'BEGIN { print (b > a) ? b : a }'); done
        echo "unset arrow; unset label"
        echo "set xrange [-$LEAD_S:$(awk -v d="$maxd" -v t="$TAIL_S" 'BEGIN { printf "%d", d + t + 1 }')]"
        echo "set arrow from 0, graph 0 to 0, graph 1 nohead dt 2 lc rgb 'gray40'"
        echo "set label 1 'operation starts' at 0, graph 0.97 left offset 0.5,0 font ',9'"
        i=1
        for l in $legs_here; do
            i=$((i + 1)); d=$(cat "$OUT/$l/duration")
            echo "set arrow from $d, graph 0 to $d, graph 1 nohead dt 3 lw 1.5 lc rgb '$(color "$l")'"
            # label left of the line if it is in the right half of the panel, else right of it
            side=$(awk -v d="$d" -v m="$maxd" -v t="$TAIL_S" 'BEGIN { print (d > (m + t) / 2) ? "right offset -0.5,0" : "left offset 0.5,0" }')
            echo "set label $i '$l done ($(printf '%.1f' "$d") s)' at $d, graph $(awk -v i="$i" 'BEGIN { print 1.0 - 0.07 * i }') $side tc rgb '$(color "$l")' font ',9'"
        done
        echo "set title '${pair#*:}: transactions / s'"
        echo "unset logscale y"
        echo "set yrange [0:*]"
        echo "set ylabel 'transactions / s'"
        echo "set xlabel ''"
        plot="plot"
        for l in $legs_here; do
            plot="$plot '$OUT/$l/per_second.dat' using 1:2 with lines lw 2 lc rgb '$(color "$l")' title '$(leg_label "$l")',"
        done
        echo "${plot%,}"
        echo "unset label"
        echo "set title '${pair#*:}: latency (log scale)'"
        echo "set logscale y"
        echo "set yrange [0.05:*]"
        echo "set ylabel 'ms'"
        echo "set xlabel 't = seconds since the operation started'"
        plot="plot"
        for l in $legs_here; do
            plot="$plot '$OUT/$l/per_second.dat' using 1:7 with lines lw 2 lc rgb '$(color "$l")' title '$l: longest wait in progress',"
            plot="$plot '$OUT/$l/p99.dat' using 1:5 with lines lw 1 dt 2 lc rgb '$(color "$l")' title '$l: p99 (by start second)',"
        done
        echo "${plot%,}"
    done
    echo "unset multiplot"
} >"$OUT/contrast.gp"
gnuplot "$OUT/contrast.gp"

echo
sed -n '/^| leg/,/^$/p' "$RESULTS/contrast.txt"
echo "results: $RESULTS/contrast.txt, contrast.csv, contrast_summary.csv, contrast.png; raw files: $OUT"
