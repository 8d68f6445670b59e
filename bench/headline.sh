#!/usr/bin/env bash
# bench/headline.sh: the stalled-migration outage, without and with safe_ddl.
#
# A pgbench workload (4 clients, 60 s; SELECT + UPDATE of one random row) runs on a populated table
# `accounts` (1,000,000 rows). At t=10 s a "report" session opens a transaction that reads the
# table (BEGIN; SELECT count(*) FROM accounts;) and keeps it open 30 s (COMMIT at t=40 s). At
# t=15 s a "migrate" session runs, with psql's \timing,
#     SET lock_timeout = 0;                        -- what migration tools run with
#     ALTER TABLE accounts ADD COLUMN note text;
# The same script runs twice, each time on a fresh cluster:
#   unguarded  safe_ddl not loaded (shared_preload_libraries = '')
#   safe_ddl   safe_ddl preloaded, all settings at their defaults (enforce, lock_timeout 200ms,
#              10 retries from 500ms)
# Expected: unguarded, every query queues behind the waiting ALTER until the report commits
# (~25 s outage); with safe_ddl no query waits much longer than the lock timeout and the ALTER
# completes right after the report's COMMIT.
#
# Reported per run (from pgbench's per-transaction logs): TPS; latency p50/p99/max (the max is the
# longest time an application query was blocked); transactions > 100 ms / > 1 s; seconds with zero
# completed transactions; the longest gap between two completions; the ALTER's result, start, end
# (relative to pgbench's start) and end minus the report's COMMIT. Per-second TPS and latency go to
# bench/results/headline.csv, the summary to bench/results/headline.txt (+ headline_summary.csv),
# a two-panel time-series plot of both runs to bench/results/headline.png. Raw files (pgbench logs,
# psql output with safe_ddl's NOTICEs, a pg_locks snapshot, server logs) stay in
# $BENCH_DIR/out_<timestamp>/<run>/.
#
# Usage (from anywhere, as root, safe_ddl installed into the PostgreSQL of pg_config):
#   bash bench/headline.sh                                    # about 3 min
# Environment (defaults in brackets):
#   BENCH_DIR [/tmp/bench_headline]  BENCH_PORT [55481]  BENCH_RESULTS [bench/results]
#   BENCH_ROWS [1000000]  BENCH_SECONDS [60]  BENCH_LONG_AT [10]  BENCH_LONG_S [30]
#   BENCH_ALTER_AT [15]  BENCH_CLIENTS [4]  BENCH_THREADS [2]  BENCH_RUNS ["unguarded safe_ddl"]
# Quick check: BENCH_ROWS=100000 BENCH_SECONDS=20 BENCH_LONG_AT=3 BENCH_LONG_S=10 BENCH_ALTER_AT=5
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../pg_test/lib/cluster.sh
source "$HERE/../pg_test/lib/cluster.sh"
# shellcheck source=lib/common.sh
source "$HERE/lib/common.sh"

BASE="${BENCH_DIR:-/tmp/bench_headline}"
PORT="${BENCH_PORT:-55481}"
RESULTS="$(realpath -m "${BENCH_RESULTS:-$HERE/results}")"   # relative to the caller's directory (the script cd /s)
ROWS="${BENCH_ROWS:-1000000}"
DURATION="${BENCH_SECONDS:-60}"
LONG_AT="${BENCH_LONG_AT:-10}"
LONG_S="${BENCH_LONG_S:-30}"
ALTER_AT="${BENCH_ALTER_AT:-15}"
CLIENTS="${BENCH_CLIENTS:-4}"
THREADS="${BENCH_THREADS:-2}"
RUNS="${BENCH_RUNS:-unguarded safe_ddl}"
LONG_END=$((LONG_AT + LONG_S))
SNAPSHOT_AT=$((ALTER_AT + (LONG_END - ALTER_AT) / 2))
CL="$BASE/cluster"
LIB="$BASE/lib/safe_ddl.so"

for r in $RUNS; do
    case "$r" in unguarded|safe_ddl) ;; *) echo "unknown run '$r' (expected unguarded, safe_ddl)" >&2; exit 2 ;; esac
done
[ "$LONG_END" -lt "$DURATION" ] || { echo "BENCH_LONG_AT + BENCH_LONG_S must be < BENCH_SECONDS" >&2; exit 2; }

# psql runs as the postgres OS user, which may not be able to enter the caller's cwd.
cd /

BG_PIDS=()
STARTED=0
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    local pid
    for pid in "${BG_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${BG_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [ "$STARTED" = 1 ]; then cluster_stop "$CL" || true; fi
    [ "$rc" = 0 ] || echo "headline.sh: FAILED (exit $rc); files in ${OUT:-$BASE}" >&2
    exit "$rc"
}
trap cleanup EXIT INT TERM

bpsql() {
    local app="$1"; shift
    cluster_psql "$CL" "$PORT" -d "dbname=bench application_name=$app" "$@"
}

bench_private_lib "$LIB"
OUT="$BASE/out_$(date +%Y%m%d_%H%M%S)"
mkdir -p "$OUT" "$RESULTS"
chown postgres:postgres "$BASE" "$OUT"

{
    bench_machine_facts "bash bench/headline.sh (BENCH_ROWS=$ROWS BENCH_SECONDS=$DURATION BENCH_LONG_AT=$LONG_AT BENCH_LONG_S=$LONG_S BENCH_ALTER_AT=$ALTER_AT BENCH_CLIENTS=$CLIENTS BENCH_THREADS=$THREADS BENCH_RUNS=\"$RUNS\")"
    echo "safe_ddl.so preloaded (run safe_ddl): private copy $LIB, md5 $(md5sum <"$LIB" | cut -c1-32)"
    echo "workload: pgbench -c $CLIENTS -j $THREADS -T $DURATION, SELECT + UPDATE of one random row of $ROWS; report BEGIN t=${LONG_AT}s COMMIT t=${LONG_END}s; ALTER t=${ALTER_AT}s"
} | tee "$OUT/machine.txt"

run_one() {
    local run="$1" dir="$OUT/$1"
    mkdir -p "$dir"
    chown postgres:postgres "$dir"
    echo
    echo "=== $run ==="
    local preload=""
    [ "$run" = unguarded ] || preload="$LIB"

    STARTED=1
    SAFE_DDL_PRELOAD="$preload" cluster_start "$CL" "$PORT" \
        "shared_buffers = 256MB" \
        "log_lock_waits = on" \
        "log_autovacuum_min_duration = 0"
    cluster_psql "$CL" "$PORT" -q -d postgres -c "CREATE DATABASE bench"
    # Table, rows and primary key in one transaction: safe_ddl exempts a table created in the same
    # transaction (setup is not what is measured).
    bpsql setup -q -v ON_ERROR_STOP=1 <<SQL
BEGIN;
CREATE TABLE accounts (id int NOT NULL, balance bigint NOT NULL DEFAULT 0, owner text NOT NULL);
INSERT INTO accounts (id, owner) SELECT g, 'owner ' || g FROM generate_series(1, $ROWS) g;
ALTER TABLE accounts ADD PRIMARY KEY (id);
COMMIT;
VACUUM (ANALYZE) accounts;
CHECKPOINT;
SQL
    bpsql check -At >"$dir/guard.txt" 2>&1 <<'SQL'
SELECT coalesce('safe_ddl.mode = ' || current_setting('safe_ddl.mode', true)
                || ', safe_ddl.lock_timeout = ' || current_setting('safe_ddl.lock_timeout', true)
                || ', safe_ddl.lock_retries = ' || current_setting('safe_ddl.lock_retries', true),
                'safe_ddl not loaded')
       || '; shared_preload_libraries = ''' || current_setting('shared_preload_libraries') || '''';
SQL
    cat "$dir/guard.txt"

    cat >"$dir/workload.sql" <<SQL
\set id random(1, $ROWS)
SELECT balance FROM accounts WHERE id = :id;
UPDATE accounts SET balance = balance + 1 WHERE id = :id;
SQL

    local t0
    t0=$(now)
    echo "$t0" >"$dir/t0"
    "$PGBIN/pgbench" -h "$CL/sock" -p "$PORT" -U postgres -n -c "$CLIENTS" -j "$THREADS" \
        -T "$DURATION" -P 1 -f "$dir/workload.sql" --log --log-prefix="$dir/pgbench_log" bench \
        >"$dir/pgbench.out" 2>&1 &
    local pgbench_pid=$!
    BG_PIDS+=("$pgbench_pid")

    sleep_until "$t0" "$LONG_AT"
    {
        echo "SELECT 'LT_BEGIN ' || extract(epoch FROM clock_timestamp());"
        echo "BEGIN;"
        echo "SELECT 'LT_COUNT ' || count(*) FROM accounts;"
        echo "SELECT 'LT_OPEN ' || extract(epoch FROM clock_timestamp());"
        sleep_until "$t0" "$LONG_END"
        echo "COMMIT;"
        echo "SELECT 'LT_COMMITTED ' || extract(epoch FROM clock_timestamp());"
    } | bpsql report -At -v ON_ERROR_STOP=1 >"$dir/long_txn.out" 2>&1 &
    local long_pid=$!
    BG_PIDS+=("$long_pid")

    sleep_until "$t0" "$ALTER_AT"
    (
        rc=0
        start=$(now)
        bpsql migrate -v ON_ERROR_STOP=1 \
            -c "SET lock_timeout = 0" \
            -c "SELECT 'ALTER_START ' || extract(epoch FROM clock_timestamp())" \
            -c '\timing on' \
            -c "ALTER TABLE accounts ADD COLUMN note text" \
            -c '\timing off' \
            -c "SELECT 'ALTER_END ' || extract(epoch FROM clock_timestamp())" \
            >"$dir/alter.out" 2>&1 || rc=$?
        echo "$start $(now) $rc" >"$dir/alter.times"
    ) &
    local alter_pid=$!
    BG_PIDS+=("$alter_pid")

    sleep_until "$t0" "$SNAPSHOT_AT"
    bpsql snapshot >"$dir/snapshot_t${SNAPSHOT_AT}.txt" 2>&1 <<'SQL' || true
SELECT pid, application_name, state, wait_event_type, wait_event,
       round(extract(epoch FROM clock_timestamp() - xact_start)::numeric, 3) AS xact_age_s,
       left(query, 70) AS query
  FROM pg_stat_activity WHERE datname = 'bench' AND pid <> pg_backend_pid()
 ORDER BY application_name, pid;
SELECT l.pid, a.application_name, l.locktype, l.mode, l.granted, l.relation::regclass AS relation,
       l.virtualxid, pg_blocking_pids(l.pid) AS blocked_by
  FROM pg_locks l JOIN pg_stat_activity a USING (pid)
 WHERE (NOT l.granted OR a.application_name IN ('migrate', 'report'))
   AND l.locktype IN ('relation', 'virtualxid') AND (l.relation IS NULL OR l.relation = 'accounts'::regclass)
 ORDER BY l.granted, a.application_name, l.pid;
SQL

    local rc=0
    wait "$pgbench_pid" || rc=$?
    cut -d' ' -f1 /proc/loadavg >"$dir/loadavg"
    [ "$rc" = 0 ] || echo "pgbench exited with $rc (see $dir/pgbench.out)" >&2
    wait "$long_pid" || echo "report session failed (see $dir/long_txn.out)" >&2
    wait "$alter_pid" || true
    BG_PIDS=()
    cluster_stop "$CL"
    STARTED=0
    cp "$CL/server.log" "$dir/server.log"
    if grep -q "terminated by signal" "$dir/server.log"; then
        echo "WARNING: the server crashed during run $run; see $dir/server.log" >&2
    fi

    # --- numbers ---
    txn_events "$t0" "$dir"/pgbench_log* >"$dir/events"
    per_second "$dir/events" 0 "$DURATION" >"$dir/per_second.dat"
    local commit a_srv a_end a_rc a_ms ok notices
    commit=$(awk -v t0="$t0" '$1 == "LT_COMMITTED" { printf "%.3f", $2 - t0 }' "$dir/long_txn.out")
    a_srv=$(awk -v t0="$t0" '$1 == "ALTER_START" { printf "%.3f", $2 - t0 }' "$dir/alter.out")
    read -r _ a_end a_rc <"$dir/alter.times"
    # the ALTER's end: the server clock right after it (ALTER_END), else when psql returned
    a_end=$(awk -v t0="$t0" -v e="$a_end" '$1 == "ALTER_END" { s = $2 } END { printf "%.3f", (s != "" ? s : e) - t0 }' "$dir/alter.out")
    a_ms=$(awk '/^Time: / { print $2; exit }' "$dir/alter.out")
    ok=failed
    if [ "$a_rc" = 0 ] && grep -q '^ALTER TABLE' "$dir/alter.out"; then ok=ok; fi
    notices=$(grep -c 'NOTICE:  safe_ddl: attempt' "$dir/alter.out" || true)
    local tps s_all s_alter gap zero
    tps=$(awk '/^tps = .*without initial connection time/ { printf "%.0f", $3 }' "$dir/pgbench.out")
    s_all=$(lat_summary "$dir/events")
    s_alter=$(lat_summary "$dir/events" "${a_srv:-$ALTER_AT}" "$a_end")
    gap=$(longest_gap "$dir/events")
    zero=$(awk '!/^#/ && $2 == 0 { n++ } END { print n + 0 }' "$dir/per_second.dat")
    # run,tps,transactions,p50_ms,p99_ms,max_ms,max_started_at_s,gt100ms,gt1s,zero_tps_seconds,
    # longest_gap_ms,max_ms_during_alter,alter,alter_start_s,alter_end_s,alter_end_minus_commit_s,
    # alter_statement_ms,safe_ddl_attempt_notices,report_commit_s,loadavg_1min_at_end
    read -r n p50 p99 mx g100 g1s mx_at <<<"$s_all"
    read -r _ _ _ mx_alter _ _ _ <<<"$s_alter"
    read -r gap_ms _ <<<"$gap"
    echo "$run,$tps,$n,$p50,$p99,$mx,$mx_at,$g100,$g1s,$zero,$gap_ms,$mx_alter,$ok,${a_srv:-},$a_end,$(awk -v a="$a_end" -v c="$commit" 'BEGIN { if (c == "") print ""; else printf "%.3f", a - c }'),${a_ms:-},$notices,$commit,$(cat "$dir/loadavg")" \
        >"$dir/summary.csv"
    cat "$dir/summary.csv"
}

for r in $RUNS; do run_one "$r"; done

# --- results: csv, txt, png ---
{
    echo "run,t,tps,started,p50_ms,p99_ms,max_ms,wait_ms"
    for r in $RUNS; do
        awk -v r="$r" '!/^#/ { printf "%s,%s,%s,%s,%s,%s,%s,%s\n", r, $1, $2, $3, $4, $5, $6, $7 }' "$OUT/$r/per_second.dat"
    done
} >"$RESULTS/headline.csv"
{
    echo "run,tps,transactions,p50_ms,p99_ms,max_ms,max_started_at_s,gt100ms,gt1s,zero_tps_seconds,longest_gap_ms,max_ms_during_alter,alter,alter_start_s,alter_end_s,alter_end_minus_commit_s,alter_statement_ms,safe_ddl_attempt_notices,report_commit_s,loadavg_1min_at_end"
    for r in $RUNS; do cat "$OUT/$r/summary.csv"; done
} >"$RESULTS/headline_summary.csv"

{
    echo "# bench/headline.sh: a migration stuck behind a long transaction"
    echo
    cat "$OUT/machine.txt"
    echo "raw files: $OUT"
    echo
    echo "Timeline (t = s since pgbench started): report BEGIN; SELECT count(*) at t=$LONG_AT, COMMIT at t=$LONG_END;"
    echo "migration 'SET lock_timeout = 0; ALTER TABLE accounts ADD COLUMN note text' at t=$ALTER_AT."
    echo
    printf '| %-9s | %6s | %6s | %7s | %9s | %11s | %7s | %7s | %7s | %8s | %-6s | %9s | %15s | %8s |\n' \
        run TPS "p50 ms" "p99 ms" "max ms" "max at t= s" ">100ms" ">1s" "0-TPS s" "gap ms" ALTER "ALTER t=" "ALTER-COMMIT s" attempts
    printf '| %-9s | %6s | %6s | %7s | %9s | %11s | %7s | %7s | %7s | %8s | %-6s | %9s | %15s | %8s |\n' \
        --- ---: ---: ---: ---: ---: ---: ---: ---: ---: --- ---: ---: ---:
    for r in $RUNS; do
        IFS=, read -r run tps n p50 p99 mx mx_at g100 g1s zero gap mx_alter ok a_srv a_end a_c a_ms notices commit load <"$OUT/$r/summary.csv"
        printf '| %-9s | %6s | %6s | %7s | %9s | %11s | %7s | %7s | %7s | %8s | %-6s | %9s | %15s | %8s |\n' \
            "$run" "$tps" "$p50" "$p99" "$mx" "$mx_at" "$g100" "$g1s" "$zero" "$gap" "$ok" "$a_end" "$a_c" "$((notices > 0 ? notices + 1 : 1))"
    done
    echo
    echo "max ms = the longest time an application transaction took (blocked), max at t= its start;"
    echo "0-TPS s = seconds with no completed transaction; gap ms = longest time between two completions;"
    echo "ALTER t= = when the ALTER ended (server clock right after it; if it failed, when psql returned); ALTER-COMMIT s = that minus the report's COMMIT;"
    echo "attempts = safe_ddl lock attempts (its 'attempt N' NOTICEs + 1; 1 without safe_ddl)."
    echo
    for r in $RUNS; do
        IFS=, read -r run tps n p50 p99 mx mx_at g100 g1s zero gap mx_alter ok a_srv a_end a_c a_ms notices commit load <"$OUT/$r/summary.csv"
        awk -v r="$r" -v mx="$mx" -v zero="$zero" -v ok="$ok" -v a_end="$a_end" -v a_c="$a_c" 'BEGIN {
            printf "* %s: the longest an application query was blocked: %s; %d s with zero TPS; ", r, (mx >= 1000 ? sprintf("%.1f s", mx / 1000) : sprintf("%.0f ms", mx)), zero
            if (ok == "ok") printf "the ALTER finished at t=%.1f s, %.3f s after the report COMMIT\n", a_end, a_c
            else printf "the ALTER FAILED (returned at t=%.1f s)\n", a_end
        }'
    done
    for r in $RUNS; do
        echo
        echo "## $r: $(cat "$OUT/$r/guard.txt")"
        echo "1-min load at end: $(cat "$OUT/$r/loadavg")"
        echo "migration session output:"
        sed 's/^/    /' "$OUT/$r/alter.out"
    done
} >"$RESULTS/headline.txt"

# Plot: TPS (top) and latency p99/max on a log scale (bottom), both runs, markers at the report's
# BEGIN, the ALTER and the report's COMMIT, and where each run's ALTER ended.
{
    echo "set terminal pngcairo noenhanced size 1200,800 font 'DejaVu Sans,10'"
    echo "set output '$RESULTS/headline.png'"
    echo "set datafile missing 'NaN'"
    echo "set multiplot layout 2,1 title \"safe_ddl headline: ALTER TABLE ADD COLUMN behind a ${LONG_S} s transaction, pgbench -c $CLIENTS, $ROWS rows ($(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs)\""
    echo "set xrange [0:$DURATION]"
    echo "set grid"
    echo "set key bottom right"
    for m in "$LONG_AT:report BEGIN" "$ALTER_AT:ALTER starts" "$LONG_END:report COMMIT"; do
        echo "set arrow from ${m%%:*}, graph 0 to ${m%%:*}, graph 1 nohead dt 2 lc rgb 'gray40'"
    done
    echo "set label 1 'report BEGIN' at $LONG_AT, graph 0.97 right offset -0.5,0 font ',9'"
    echo "set label 2 'ALTER starts' at $ALTER_AT, graph 0.97 left offset 0.5,0 font ',9'"
    echo "set label 3 'report COMMIT' at $LONG_END, graph 0.97 left offset 0.5,0 font ',9'"
    echo "set ylabel 'transactions / s'"
    echo "set yrange [0:*]"
    echo "set xlabel ''"
    plot="plot"
    i=0
    for r in $RUNS; do
        c=$([ "$r" = unguarded ] && echo "#d62728" || echo "#1f77b4")
        plot="$plot '$OUT/$r/per_second.dat' using 1:2 with lines lw 2 lc rgb '$c' title '$r',"
        a_end=$(cut -d, -f15 "$OUT/$r/summary.csv"); ok=$(cut -d, -f13 "$OUT/$r/summary.csv")
        i=$((i + 1))
        echo "set arrow $((10 + i)) from $a_end, graph 0 to $a_end, graph 0.85 nohead lw 1.5 dt 3 lc rgb '$c'"
        echo "set label $((10 + i)) 'ALTER $ok ($r)' at $a_end, graph $(awk -v i="$i" 'BEGIN { print 0.90 - 0.06 * i }') left offset 0.5,0 tc rgb '$c' font ',9'"
    done
    echo "${plot%,}"
    echo "unset label"
    echo "set logscale y"
    echo "set yrange [0.05:*]"
    echo "set ylabel 'latency ms (log scale)'"
    echo "set xlabel 't = seconds since pgbench started'"
    plot="plot"
    for r in $RUNS; do
        c=$([ "$r" = unguarded ] && echo "#d62728" || echo "#1f77b4")
        # seconds without a started transaction become blank lines: the p99 line breaks there
        awk '$5 == "NaN" { print ""; next } { print }' "$OUT/$r/per_second.dat" >"$OUT/$r/p99.dat"
        plot="$plot '$OUT/$r/per_second.dat' using 1:7 with lines lw 2 lc rgb '$c' title '$r: longest wait in progress',"
        plot="$plot '$OUT/$r/p99.dat' using 1:5 with lines lw 1 dt 2 lc rgb '$c' title '$r: p99 (by start second)',"
    done
    echo "${plot%,}"
    echo "unset multiplot"
} >"$OUT/headline.gp"
gnuplot "$OUT/headline.gp"

echo
cat "$RESULTS/headline.txt" | sed -n '/^| run/,/^$/p'
echo "results: $RESULTS/headline.txt, headline.csv, headline_summary.csv, headline.png; raw files: $OUT"
