#!/usr/bin/env bash
# bench/never_free.sh: a table that is never free, and an idle-in-transaction blocker (issue 14,
# section 1).
#
# One cluster (safe_ddl preloaded from a private copy of the installed library, no CREATE
# EXTENSION; every session is the superuser postgres). Before each leg the table is created again:
#   t (id int PRIMARY KEY, v int, note text), BENCH_ROWS rows (default 100,000)
# The application is pgbench -n -c 8 -j 2 -R BENCH_RATE --log: \set id random(1, ROWS);
# SELECT v FROM t WHERE id = :id; (short primary-key selects, autocommit). t = 0 when it starts;
# the migration runs at t = BENCH_LEAD (4 s):
#   SET lock_timeout = 0; <the leg's SETs>; ALTER TABLE t ADD COLUMN x int;
# Scenarios:
#   A  never-free table: BENCH_READERS (3) more sessions ("readers") run back-to-back
#      BEGIN; SELECT count(*) FROM t; SELECT pg_sleep(BENCH_READ_S = 1.4); COMMIT;
#      each in a new connection, started 1/3 of a period apart, so that at every instant some
#      transaction older than safe_ddl.lock_timeout holds ACCESS SHARE on t. A reader whose
#      transaction is cancelled starts the next one at once (a dashboard that refreshes).
#   B  idle in transaction: one session runs BEGIN; SELECT count(*) FROM t; at t = BENCH_LEAD - 2
#      and sits idle in transaction until BENCH_IDLE_S (50 s) after the ALTER started, then COMMITs.
# Legs (BENCH_LEGS, in order):
#   A_plain     SET safe_ddl.mode = off                       (plain PostgreSQL: the guard is off)
#   A_defaults  (nothing: safe_ddl at its defaults)
#   A_wait5min  SET safe_ddl.lock_wait_max = '5min'
#   A_cancel5s  SET safe_ddl.cancel_blockers_after = '5s'     (superuser: may signal anyone)
#   B_plain, B_defaults, B_cancel5s                            (the same SETs)
# A leg ends BENCH_TAIL (3) s after its ALTER returned. Cap: BENCH_CAP (70) s after the ALTER
# started, the bench stops the blockers (the readers start no new transaction, the idle session
# commits), so a leg whose ALTER would wait for ever still ends (reported as "ok after the bench
# stopped the blockers", i.e. did not complete on its own); 30 s later it terminates the ALTER.
#
# Reported per leg: the ALTER's result, wall time (server clock before/after), safe_ddl NOTICEs,
# the highest attempt number they or the error name, sessions signalled by cancel_blockers_after,
# its error; the application's p50/p99/max and transactions > 100 ms / > 1 s over the transactions
# in flight while the ALTER ran and over the whole leg; the readers' transactions (done / failed)
# and how long the table was free of readers while the ALTER ran (to check it is never free).
# Goals evaluated at the end (issue 14): A_defaults completes and no query in flight during it
# waits 100 ms; the cancel_blockers_after legs complete within the interval + 1 s.
# bench/results/never_free.txt (summary), never_free_summary.csv, never_free.csv (per second:
# leg,t,tps,started,p50_ms,p99_ms,max_ms,wait_ms; t = s since the leg's pgbench started),
# never_free.png. Raw files in $BENCH_DIR/out_<timestamp>/<leg>/.
#
# Usage (as root, safe_ddl installed into the PostgreSQL of pg_config):
#   bash bench/never_free.sh                                  # about 5 min
# Environment (defaults in brackets):
#   BENCH_DIR [/tmp/bench_never_free]  BENCH_PORT [55488]  BENCH_RESULTS [bench/results]
#   BENCH_ROWS [100000]  BENCH_CLIENTS [8]  BENCH_THREADS [2]  BENCH_RATE [1600] (total tps; 0 = as fast as possible)
#   BENCH_READERS [3]  BENCH_READ_S [1.4]  BENCH_IDLE_S [50]  BENCH_LEAD [4]  BENCH_TAIL [3]  BENCH_CAP [70]
#   BENCH_LEGS ["A_plain A_defaults A_wait5min A_cancel5s B_plain B_defaults B_cancel5s"]
# Quick check (about 1 min 30 s): BENCH_CAP=15 BENCH_IDLE_S=12 BENCH_LEGS="A_plain A_defaults A_cancel5s B_cancel5s"
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../pg_test/lib/cluster.sh
source "$HERE/../pg_test/lib/cluster.sh"
# shellcheck source=lib/common.sh
source "$HERE/lib/common.sh"

BASE="${BENCH_DIR:-/tmp/bench_never_free}"
PORT="${BENCH_PORT:-55488}"
RESULTS="$(realpath -m "${BENCH_RESULTS:-$HERE/results}")"   # relative to the caller's directory (the script cd /s)
ROWS="${BENCH_ROWS:-100000}"
CLIENTS="${BENCH_CLIENTS:-8}"
THREADS="${BENCH_THREADS:-2}"
RATE="${BENCH_RATE:-1600}"
READERS="${BENCH_READERS:-3}"
READ_S="${BENCH_READ_S:-1.4}"
IDLE_S="${BENCH_IDLE_S:-50}"
LEAD_S="${BENCH_LEAD:-4}"
TAIL_S="${BENCH_TAIL:-3}"
CAP_S="${BENCH_CAP:-70}"
LEGS="${BENCH_LEGS:-A_plain A_defaults A_wait5min A_cancel5s B_plain B_defaults B_cancel5s}"
CL="$BASE/cluster"
LIB="$BASE/lib/safe_ddl.so"

# leg_sets LEG: the migration session's settings before the ALTER
leg_sets() {
    case "$1" in
        *_plain) echo "SET lock_timeout = 0; SET safe_ddl.mode = off;" ;;
        *_defaults) echo "SET lock_timeout = 0;" ;;
        A_wait5min) echo "SET lock_timeout = 0; SET safe_ddl.lock_wait_max = '5min';" ;;
        *_cancel5s) echo "SET lock_timeout = 0; SET safe_ddl.cancel_blockers_after = '5s';" ;;
        *) return 1 ;;
    esac
}
leg_label() {
    case "$1" in
        *_plain) echo "plain PostgreSQL (safe_ddl.mode = off)" ;;
        *_defaults) echo "safe_ddl defaults" ;;
        A_wait5min) echo "safe_ddl: lock_wait_max = 5min" ;;
        *_cancel5s) echo "safe_ddl: cancel_blockers_after = 5s" ;;
    esac
}
for l in $LEGS; do
    case "$l" in A_plain|A_defaults|A_wait5min|A_cancel5s|B_plain|B_defaults|B_cancel5s) ;; *) echo "unknown leg '$l'" >&2; exit 2 ;; esac
done
[ "$LEAD_S" -ge 3 ] || { echo "BENCH_LEAD must be >= 3 (the blockers need a head start)" >&2; exit 2; }

# psql and pgbench run as the postgres OS user, which may not be able to enter the caller's cwd.
cd /

BG_PIDS=()
STARTED=0
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    local pid
    [ -z "${LEG_DIR:-}" ] || touch "$LEG_DIR/stop" 2>/dev/null || true
    for pid in "${BG_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${BG_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [ "$STARTED" = 1 ]; then
        cluster_stop "$CL" || true
        [ -z "${OUT:-}" ] || cp "$CL/server.log" "$OUT/server.log" 2>/dev/null || true
    fi
    [ "$rc" = 0 ] || echo "never_free.sh: FAILED (exit $rc); files in ${OUT:-$BASE}" >&2
    exit "$rc"
}
trap cleanup EXIT INT TERM

bpsql() {
    local app="$1"; shift
    cluster_psql "$CL" "$PORT" -d "dbname=bench application_name=$app" "$@"
}

bench_private_lib "$LIB"
export SAFE_DDL_PRELOAD="$LIB"
OUT="$BASE/out_$(date +%Y%m%d_%H%M%S)"
mkdir -p "$OUT" "$RESULTS"
chown postgres:postgres "$BASE" "$OUT"

{
    bench_machine_facts "bash bench/never_free.sh (BENCH_ROWS=$ROWS BENCH_CLIENTS=$CLIENTS BENCH_THREADS=$THREADS BENCH_RATE=$RATE BENCH_READERS=$READERS BENCH_READ_S=$READ_S BENCH_IDLE_S=$IDLE_S BENCH_LEAD=$LEAD_S BENCH_TAIL=$TAIL_S BENCH_CAP=$CAP_S BENCH_LEGS=\"$LEGS\")"
    echo "safe_ddl.so preloaded: private copy $LIB, md5 $(md5sum <"$LIB" | cut -c1-32)"
    echo "application: pgbench -n -c $CLIENTS -j $THREADS $([ "$RATE" = 0 ] && echo "(unthrottled)" || echo "-R $RATE") SELECT v FROM t WHERE id = random(1, $ROWS); all sessions are the superuser postgres"
    echo "scenario A: $READERS readers, BEGIN; SELECT count(*) FROM t; SELECT pg_sleep($READ_S); COMMIT; back to back, staggered"
    echo "scenario B: BEGIN; SELECT count(*) FROM t; at t=$((LEAD_S - 2)) s, idle in transaction until $IDLE_S s after the ALTER started"
    echo "migration: t=$LEAD_S s, SET lock_timeout = 0; <leg's SETs>; ALTER TABLE t ADD COLUMN x int; blockers stopped by the bench ${CAP_S} s after the ALTER started at the latest"
} | tee "$OUT/machine.txt"

STARTED=1
cluster_start "$CL" "$PORT" \
    "shared_buffers = 256MB" \
    "log_lock_waits = on" \
    "log_autovacuum_min_duration = 0" \
    "max_connections = 60"
cluster_psql "$CL" "$PORT" -q -d postgres -c "CREATE DATABASE bench"
GUARD=$(bpsql check -At -c "SELECT 'safe_ddl.mode = ' || current_setting('safe_ddl.mode', true)
    || ', lock_timeout = ' || coalesce(current_setting('safe_ddl.lock_timeout', true), '?')
    || ', lock_retries = ' || coalesce(current_setting('safe_ddl.lock_retries', true), '?')
    || ', lock_retry_delay = ' || coalesce(current_setting('safe_ddl.lock_retry_delay', true), '?')
    || ', lock_wait_max = ' || coalesce(current_setting('safe_ddl.lock_wait_max', true), 'MISSING')
    || ', cancel_blockers_after = ' || coalesce(current_setting('safe_ddl.cancel_blockers_after', true), 'MISSING')")
echo "safe_ddl settings (defaults): $GUARD" | tee -a "$OUT/machine.txt"
for l in $LEGS; do
    case "$l:$GUARD" in
        A_wait5min:*"lock_wait_max = MISSING"*|*_cancel5s:*"cancel_blockers_after = MISSING"*)
            echo "leg $l needs a setting the installed safe_ddl does not have ($GUARD)" >&2; exit 2 ;;
    esac
done

cat >"$OUT/workload.sql" <<SQL
\set id random(1, $ROWS)
SELECT v FROM t WHERE id = :id;
SQL

# One reader: back-to-back read transactions in new connections until the file STOP exists. Log
# line per transaction: "held_from held_until returned rc error" (epoch s; held_from: the server
# clock in the SELECT count(*) that takes ACCESS SHARE; held_until: the server clock right after
# COMMIT, or when psql returned if the transaction failed).
cat >"$OUT/reader.sh" <<'SH'
#!/usr/bin/env bash
psql="$1" sock="$2" port="$3" i="$4" delay="$5" read_s="$6" stop="$7" log="$8"
sleep "$delay"
while [ ! -e "$stop" ]; do
    out=$("$psql" -X -q -At -h "$sock" -p "$port" -U postgres -d "dbname=bench application_name=reader$i" -v ON_ERROR_STOP=1 \
        -c "BEGIN" -c "SELECT 'H ' || extract(epoch FROM clock_timestamp()) || ' ' || count(*) FROM t" \
        -c "SELECT pg_sleep($read_s)" -c "COMMIT" -c "SELECT 'E ' || extract(epoch FROM clock_timestamp())" 2>&1)
    rc=$?
    ret=$(date +%s.%N)
    h=$(awk '$1 == "H" { print $2 }' <<<"$out")
    e=$(awk '$1 == "E" { print $2 }' <<<"$out")
    err=$(grep -m1 -E 'ERROR|FATAL' <<<"$out" | tr -s ' \t' '__' | cut -c1-120)
    echo "${h:-NaN} ${e:-$ret} $ret $rc ${err:--}" >>"$log"
done
SH
chmod 0755 "$OUT/reader.sh"

run_leg() {
    local leg="$1" dir="$OUT/$1" scen="${1%%_*}"
    LEG_DIR="$dir"
    mkdir -p "$dir"
    chown postgres:postgres "$dir"
    echo
    echo "=== $leg: scenario $scen, $(leg_label "$leg") ==="
    # Fresh table (setup DDL is not what is measured: guard off for it).
    bpsql setup -q -v ON_ERROR_STOP=1 <<SQL
SET safe_ddl.mode = off;
SET client_min_messages = warning;
DROP TABLE IF EXISTS t;
CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL, note text NOT NULL);
INSERT INTO t SELECT g, g % 1000, 'row ' || g FROM generate_series(1, $ROWS) g;
VACUUM (ANALYZE) t;
CHECKPOINT;
SQL
    local t0 rate_arg=()
    [ "$RATE" = 0 ] || rate_arg=(-R "$RATE")
    t0=$(now)
    echo "$t0" >"$dir/t0"
    "$PGBIN/pgbench" -h "$CL/sock" -p "$PORT" -U postgres -n -c "$CLIENTS" -j "$THREADS" "${rate_arg[@]}" \
        -T 600 -P 1 -f "$OUT/workload.sql" --log --log-prefix="$dir/app" bench \
        >"$dir/pgbench.out" 2>&1 &
    local pgbench_pid=$!
    BG_PIDS+=("$pgbench_pid")
    vmstat -n 1 >"$dir/vmstat.txt" 2>&1 &
    local vmstat_pid=$!
    BG_PIDS+=("$vmstat_pid")

    local i blocker_pid=""
    if [ "$scen" = A ]; then
        for i in $(seq 1 "$READERS"); do
            as_postgres "$OUT/reader.sh" "$PGBIN/psql" "$CL/sock" "$PORT" "$i" \
                "$(awk -v i="$i" -v n="$READERS" -v r="$READ_S" 'BEGIN { printf "%.3f", (i - 1) * (r + 0.1) / n }')" \
                "$READ_S" "$dir/stop" "$dir/reader$i.log" &
            BG_PIDS+=("$!")
        done
    else
        sleep_until "$t0" "$((LEAD_S - 2))"
        {
            echo "BEGIN;"
            echo "SELECT 'B_OPEN ' || extract(epoch FROM clock_timestamp()) || ' ' || count(*) FROM t;"
            while [ ! -e "$dir/stop" ] && awk -v t0="$t0" -v end="$((LEAD_S + IDLE_S))" -v n="$(now)" 'BEGIN { exit !(n < t0 + end) }'; do
                sleep 0.1
            done
            echo "COMMIT;"
            echo "SELECT 'B_COMMITTED ' || extract(epoch FROM clock_timestamp());"
        } | bpsql idle -At -v ON_ERROR_STOP=1 >"$dir/idle.out" 2>&1 &
        blocker_pid=$!
        BG_PIDS+=("$blocker_pid")
    fi

    sleep_until "$t0" "$LEAD_S"
    (
        rc=0
        # no ON_ERROR_STOP: ALTER_END is printed after a failed ALTER too
        bpsql migrate \
            -c "$(leg_sets "$leg")" \
            -c "SELECT 'SETTINGS ' || current_setting('lock_timeout') || ' ' || current_setting('safe_ddl.mode') || ' ' || coalesce(current_setting('safe_ddl.lock_wait_max', true), '-') || ' ' || coalesce(current_setting('safe_ddl.cancel_blockers_after', true), '-')" \
            -c "SELECT 'ALTER_START ' || extract(epoch FROM clock_timestamp())" \
            -c '\timing on' \
            -c "ALTER TABLE t ADD COLUMN x int" \
            -c '\timing off' \
            -c "SELECT 'ALTER_END ' || extract(epoch FROM clock_timestamp())" \
            >"$dir/alter.out" 2>&1 || rc=$?
        echo "$(now) $rc" >"$dir/alter.returned"
    ) &
    local alter_pid=$!
    BG_PIDS+=("$alter_pid")

    # Wait for the ALTER; at the cap stop the blockers, 30 s later terminate the ALTER.
    local stopped="" killed=""
    while kill -0 "$alter_pid" 2>/dev/null; do
        local el
        el=$(awk -v t0="$t0" -v n="$(now)" 'BEGIN { printf "%d", n - t0 }')
        if [ -z "$stopped" ] && [ "$el" -ge $((LEAD_S + CAP_S)) ]; then
            stopped=$(awk -v t0="$t0" -v n="$(now)" 'BEGIN { printf "%.3f", n - t0 }')
            echo "cap: the ALTER still runs ${CAP_S} s after it started; stopping the blockers at t=$stopped s"
            touch "$dir/stop"
        fi
        if [ -n "$stopped" ] && [ -z "$killed" ] && [ "$el" -ge $((LEAD_S + CAP_S + 30)) ]; then
            killed=1
            echo "the ALTER still runs 30 s after the blockers were stopped: terminating it"
            bpsql killer -At -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'bench' AND application_name = 'migrate'" || true
        fi
        sleep 0.2
    done
    wait "$alter_pid" || true
    echo "${stopped:-}" >"$dir/blockers_stopped_at"
    sleep "$TAIL_S"
    touch "$dir/stop"
    kill -TERM "$pgbench_pid" "$vmstat_pid" 2>/dev/null || true
    local pid
    for pid in "${BG_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    BG_PIDS=()
    echo "$(now)" >"$dir/t_end"
    cut -d' ' -f1 /proc/loadavg >"$dir/loadavg"
    bpsql check -At -c "SELECT string_agg(attname, ', ' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 't'::regclass AND attnum > 0 AND NOT attisdropped" \
        >"$dir/columns.txt" 2>&1 || true

    # --- numbers ---
    local t_end a_start a_end a_ret a_rc ok notices attempts signalled err
    t_end=$(awk -v t0="$t0" '{ printf "%.3f", $1 - t0 }' "$dir/t_end")
    # pgbench is stopped with SIGTERM: the last line of a log file may be cut; read each file on its
    # own (cat would glue a cut line to the next file's first) and keep whole lines only.
    local f
    for f in "$dir"/app.*; do awk '(NF == 6 || NF == 7) && $5 > 1000000000' "$f"; done >"$dir/app_log"
    txn_events "$t0" "$dir/app_log" >"$dir/events"
    per_second "$dir/events" 0 "$(awk -v e="$t_end" 'BEGIN { printf "%d", e + 1 }')" >"$dir/per_second.dat"
    read -r a_ret a_rc <"$dir/alter.returned"
    a_start=$(awk -v t0="$t0" '$1 == "ALTER_START" { printf "%.3f", $2 - t0 }' "$dir/alter.out")
    a_end=$(awk -v t0="$t0" -v r="$a_ret" '$1 == "ALTER_END" { s = $2 } END { printf "%.3f", (s != "" ? s : r) - t0 }' "$dir/alter.out")
    [ -n "$a_start" ] || a_start="$LEAD_S"
    ok=failed
    if grep -q '^ALTER TABLE' "$dir/alter.out"; then
        if [ -n "$stopped" ]; then ok=after_cap; else ok=ok; fi
    fi
    notices=$(grep -c 'NOTICE:  safe_ddl' "$dir/alter.out" || true)
    signalled=$(grep -c 'NOTICE:  safe_ddl: safe_ddl.cancel_blockers_after' "$dir/alter.out" || true)
    attempts=$(grep -oE 'attempt [0-9]+ of|Gave up after [0-9]+ attempt' "$dir/alter.out" | grep -oE '[0-9]+' | sort -n | tail -1 || true)
    err=$(grep -m1 -E 'ERROR:|FATAL:' "$dir/alter.out" | sed -E 's/^.*(ERROR|FATAL):  //; s/,/;/g' || true)
    local s_all s_alt n p50 p99 mx g100 g1s mx_at an ap50 ap99 amx ag100 ag1s amx_at
    s_all=$(lat_summary "$dir/events")
    s_alt=$(lat_summary "$dir/events" "$a_start" "$a_end")
    # With -R, pgbench's latency counts from the scheduled start, and its log has the schedule lag
    # (7th column, us): latency minus lag is how long the query took once sent. A query stuck in a
    # lock queue has a long one; a client starved of CPU (or stuck behind its own earlier query)
    # only a long lag. The longest of those, over the transactions in flight while the ALTER ran:
    local exec_alt
    exec_alt=$(awk -v t0="$t0" -v a="$a_start" -v b="$a_end" 'NF >= 6 && $3 ~ /^[0-9]+$/ {
            e = ($5 - int(t0)) + $6 / 1e6 - (t0 - int(t0)); x = $3 - (NF >= 7 ? $7 : 0)
            if (e - $3 / 1e6 <= b && e >= a && x > m) m = x }
        END { printf "%.3f", m / 1000 }' "$dir/app_log")
    read -r n p50 p99 mx g100 g1s mx_at <<<"$s_all"
    read -r an ap50 ap99 amx ag100 ag1s amx_at <<<"$s_alt"
    # readers (A): transactions done / failed, and the time within the ALTER's span in which no
    # reader held its lock ("free ms"), from the server clocks of the reader logs
    local rdone=0 rfail=0 free_ms="" blk="" rmax=""
    if [ "$scen" = A ]; then
        cat "$dir"/reader*.log 2>/dev/null >"$dir/readers.log" || true
        rdone=$(awk '$4 == 0 { n++ } END { print n + 0 }' "$dir/readers.log")
        rfail=$(awk '$4 != 0 { n++ } END { print n + 0 }' "$dir/readers.log")
        free_ms=$(awk -v t0="$t0" -v a="$a_start" -v b="$a_end" '$1 != "NaN" { print $1 - t0, $2 - t0 }' "$dir/readers.log" | sort -g |
            awk -v a="$a_start" -v b="$a_end" 'BEGIN { cov = a; free = 0 }
                 { s = $1; e = $2; if (e <= cov || s >= b) next
                   if (s > cov) free += s - cov
                   if (e > cov) cov = e }
                 END { if (cov < b) free += b - cov; printf "%.0f", free * 1000 }')
        rmax=$(awk '$1 != "NaN" && $2 - $1 > m { m = $2 - $1 } END { printf "%.2f", m }' "$dir/readers.log")
        blk="readers: $rdone done / $rfail failed / longest $rmax s"
    else
        if grep -q 'B_COMMITTED' "$dir/idle.out"; then blk="idle session committed at t=$(awk -v t0="$t0" '$1 == "B_COMMITTED" { printf "%.1f", $2 - t0 }' "$dir/idle.out")"
        elif grep -qE 'terminat|server closed' "$dir/idle.out"; then blk="idle session terminated"
        else blk="idle session: ?"; fi
    fi
    local wall
    wall=$(awk -v a="$a_start" -v b="$a_end" 'BEGIN { printf "%.2f", b - a }')
    # leg,scenario,label,alter,alter_start_s,alter_end_s,alter_wall_s,notices,attempts,signalled,
    # blockers_stopped_at_s,txns,p50,p99,max,gt100,gt1s,max_at,alter_txns,alter_p50,alter_p99,
    # alter_max,alter_gt100,alter_gt1s,readers_done,readers_failed,reader_free_ms,blockers,error,loadavg
    echo "$leg,$scen,$(leg_label "$leg"),$ok,$a_start,$a_end,$wall,$notices,${attempts:-0},$signalled,${stopped:-},$n,$p50,$p99,$mx,$g100,$g1s,$mx_at,$an,$ap50,$ap99,$amx,$ag100,$ag1s,$rdone,$rfail,${free_ms:-},$blk,${err:-},$(cat "$dir/loadavg"),$exec_alt" \
        >"$dir/summary.csv"
    echo "ALTER $ok after $wall s (t=$a_start..$a_end), NOTICEs $notices, attempts ${attempts:-0}, signalled $signalled; $blk${free_ms:+, free of readers $free_ms ms}"
    echo "app during ALTER: $an txns, p99 $ap99 ms, max $amx ms (longest once sent: $exec_alt ms), >100 ms $ag100; whole leg: $n txns, p99 $p99 ms, max $mx ms, >100 ms $g100"
    [ -z "$err" ] || echo "error: $err"
}

for l in $LEGS; do run_leg "$l"; done
LEG_DIR=""
cluster_stop "$CL"
STARTED=0
cp "$CL/server.log" "$OUT/server.log"
if grep -q "terminated by signal" "$OUT/server.log"; then
    echo "WARNING: the server crashed; see $OUT/server.log" >&2
fi

# --- results: csv, txt, png ---
HEADER="leg,scenario,label,alter,alter_start_s,alter_end_s,alter_wall_s,notices,attempts,signalled,blockers_stopped_at_s,txns,p50_ms,p99_ms,max_ms,gt100ms,gt1s,max_started_at_s,alter_txns,alter_p50_ms,alter_p99_ms,alter_max_ms,alter_gt100ms,alter_gt1s,readers_done,readers_failed,reader_free_ms,blockers,error,loadavg_1min_at_end,alter_max_exec_ms"
{
    echo "$HEADER"
    for l in $LEGS; do cat "$OUT/$l/summary.csv"; done
} >"$RESULTS/never_free_summary.csv"
{
    echo "leg,t,tps,started,p50_ms,p99_ms,max_ms,wait_ms"
    for l in $LEGS; do
        awk -v l="$l" '!/^#/ { printf "%s,%s,%s,%s,%s,%s,%s,%s\n", l, $1, $2, $3, $4, $5, $6, $7 }' "$OUT/$l/per_second.dat"
    done
} >"$RESULTS/never_free.csv"

fmt_ms() { awk -v x="$1" 'BEGIN { if (x == "NaN" || x == "") print "-"; else if (x >= 1000) printf "%.2f s", x / 1000; else printf "%.1f", x }'; }
{
    echo "# bench/never_free.sh: a table that is never free, an idle-in-transaction blocker (issue 14 section 1)"
    echo
    cat "$OUT/machine.txt"
    echo "raw files: $OUT"
    echo
    echo "| leg | migration | ALTER | wall s | NOTICEs | attempts | signalled | app max ms during / whole leg | max once sent, during | app p99 ms during / whole leg | > 100 ms during / whole leg | blockers |"
    echo "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
    for l in $LEGS; do
        IFS=, read -r leg scen label ok a_s a_e wall notices attempts signalled stopped n p50 p99 mx g100 g1s mx_at an ap50 ap99 amx ag100 ag1s rdone rfail free blk err load xmx <"$OUT/$l/summary.csv"
        case "$ok" in
            ok) st="ok" ;;
            after_cap) st="**not on its own**: ok only after the bench stopped the blockers (t=$stopped)" ;;
            *) st="**failed**" ;;
        esac
        echo "| $leg | $label | $st | $wall | $notices | $attempts | $signalled | $(fmt_ms "$amx") / $(fmt_ms "$mx") | $(fmt_ms "$xmx") | $(fmt_ms "$ap99") / $(fmt_ms "$p99") | $ag100 / $g100 | $blk${free:+; free of readers $free ms while the ALTER ran} |"
    done
    echo
    echo "ALTER: ok = completed on its own; wall s = server clock after minus before the ALTER statement."
    echo "NOTICEs = safe_ddl NOTICE lines of the migration session; attempts = the highest attempt number they"
    echo "or the error name (0: none named); signalled = sessions cancelled/terminated by cancel_blockers_after."
    echo "'during' = application transactions in flight at some point while the ALTER ran; 'whole leg' = all of them"
    echo "(pgbench latency with -R counts from the scheduled start, so a client stuck behind the ALTER makes its"
    echo "queued transactions late as well). 'max once sent' = the longest latency minus pgbench's schedule lag"
    echo "among the transactions in flight while the ALTER ran: a lock wait shows there, a client starved of CPU does not."
    echo "blockers: readers' transactions done / failed (cancelled) / the longest (1.4 s of pg_sleep + round trips; much"
    echo "longer = client processes starved of CPU), and how long no reader held t while the ALTER ran."
    echo
    echo "## Errors"
    for l in $LEGS; do
        IFS=, read -r leg _ _ ok _ <"$OUT/$l/summary.csv"
        e=$(grep -m1 -E 'ERROR:|FATAL:' "$OUT/$l/alter.out" || true)
        echo "* $leg: ${e:-none}"
    done
    echo
    echo "## Goals (issue 14 section 1)"
    for l in $LEGS; do
        IFS=, read -r leg scen label ok a_s a_e wall notices attempts signalled stopped n p50 p99 mx g100 g1s mx_at an ap50 ap99 amx ag100 ag1s rest <"$OUT/$l/summary.csv"
        case "$leg" in
            A_defaults)
                if [ "$ok" = ok ] && [ "$ag100" = 0 ]; then v="MET"; else v="NOT MET"; fi
                echo "* defaults on the never-free table: the ALTER completes ($ok, ${wall} s) and no application query in flight during it waits 100 ms ($ag100 > 100 ms, max $(fmt_ms "$amx") ms; whole leg: $g100, max $(fmt_ms "$mx") ms): **$v**" ;;
            *_cancel5s)
                if [ "$ok" = ok ] && awk -v w="$wall" 'BEGIN { exit !(w <= 6.0) }'; then v="MET"; else v="NOT MET"; fi
                echo "* $leg: cancel_blockers_after = 5s: the ALTER completes within 5 s + 1 s ($ok after ${wall} s; app max during $(fmt_ms "$amx") ms, $ag100 > 100 ms): **$v**" ;;
        esac
    done
    for l in $LEGS; do
        echo
        echo "## $l: $(leg_label "$l")"
        echo "settings: $(grep -m1 '^SETTINGS' "$OUT/$l/alter.out" || echo '?') (lock_timeout, safe_ddl.mode, lock_wait_max, cancel_blockers_after); 1-min load at end: $(cat "$OUT/$l/loadavg"); columns after: $(cat "$OUT/$l/columns.txt")"
        echo "migration session output (the first 16 and the last 16 lines; all of it in $OUT/$l/alter.out):"
        awk '{ line[NR] = $0 } END { for (i = 1; i <= NR; i++) { if (i == 17 && NR > 32) { printf "    [... %d lines ...]\n", NR - 32; i = NR - 16; continue } print "    " line[i] } }' "$OUT/$l/alter.out"
    done
} >"$RESULTS/never_free.txt"

# Plot: one panel per leg (A left, B right): per-second application max latency (by start
# second) and the longest wait in progress, log scale, the ALTER's span shaded (green: it
# completed; red: it failed or needed the bench to stop the blockers), 100 ms dashed.
{
    echo "set terminal pngcairo noenhanced size 1400,1100 font 'DejaVu Sans,9'"
    echo "set output '$RESULTS/never_free.png'"
    echo "set datafile missing 'NaN'"
    echo "set multiplot layout 4,2 columnsfirst title \"safe_ddl never_free: application (pgbench -c $CLIENTS $([ "$RATE" = 0 ] || echo "-R $RATE"), PK selects on $ROWS rows) while ALTER TABLE t ADD COLUMN x int runs; A: $READERS staggered ${READ_S} s readers, B: idle in transaction ($(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs)\""
    echo "set grid"
    echo "set logscale y"
    echo "set yrange [0.01:100000]"
    echo "set ylabel 'ms (log)'"
    echo "set key bottom right font ',8'"
    for col in A B; do
        k=0
        for l in $LEGS; do
            [ "${l%%_*}" = "$col" ] || continue
            k=$((k + 1))
            IFS=, read -r leg scen label ok a_s a_e wall notices attempts signalled stopped n p50 p99 mx g100 g1s mx_at an ap50 ap99 amx ag100 rest <"$OUT/$l/summary.csv"
            fill=$([ "$ok" = ok ] && echo "#c7e9c0" || echo "#fcbba1")
            echo "unset object; unset arrow; unset label"
            echo "set object 1 rect from $a_s, graph 0 to $a_e, graph 1 behind fc rgb '$fill' fs solid 0.6 noborder"
            echo "set arrow 1 from graph 0, first 100 to graph 1, first 100 nohead dt 2 lc rgb 'gray30'"
            case "$ok" in ok) st="ALTER ok after ${wall} s" ;; after_cap) st="ALTER still waiting at the cap: blockers stopped at t=$stopped, then ok (${wall} s)" ;; *) st="ALTER failed after ${wall} s" ;; esac
            echo "set label 1 '$st' at $a_s, graph 0.93 left offset 0.5,0 font ',8'"
            echo "set xrange [0:$(awk -v e="$(cut -d' ' -f1 "$OUT/$l/t_end")" -v t0="$(cat "$OUT/$l/t0")" 'BEGIN { printf "%d", e - t0 + 1 }')]"
            echo "set title '$leg: $label'"
            echo "set xlabel 't = s since the leg started'"
            awk '$6 == "NaN" { print ""; next } { print }' "$OUT/$l/per_second.dat" >"$OUT/$l/max.dat"
            echo "plot '$OUT/$l/max.dat' using 1:6 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '#d62728' title 'max latency (by start second)', '$OUT/$l/per_second.dat' using 1:7 with lines lw 1 lc rgb '#1f77b4' title 'longest wait in progress'"
        done
        while [ "$k" -lt 4 ]; do echo "set multiplot next"; k=$((k + 1)); done
    done
    echo "unset multiplot"
} >"$OUT/never_free.gp"
gnuplot "$OUT/never_free.gp"

echo
sed -n '/^| leg/,/^$/p' "$RESULTS/never_free.txt"
sed -n '/^## Goals/,/^$/p' "$RESULTS/never_free.txt"
echo "results: $RESULTS/never_free.txt, never_free.csv, never_free_summary.csv, never_free.png; raw files: $OUT"
