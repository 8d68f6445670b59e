#!/usr/bin/env bash
# bench/stall_free.sh: does a migration stuck behind a long transaction stall the application?
#
# A pgbench workload (4 clients, 30 s) reads and updates single rows of a 1,000,000-row table
# `accounts`. At t=5 s a "report" session opens a transaction that reads the table
# (BEGIN; SELECT count(*) FROM accounts;) and leaves it open until t=20 s (COMMIT). At t=8 s a
# migration session runs ALTER TABLE accounts ADD COLUMN note_<run> text. The same timeline runs
# once per variant, each on a freshly initdb'd, freshly loaded and vacuumed cluster:
#
#   a  no guard:            SET safe_ddl.mode = off; SET lock_timeout = 0;
#   b  plain lock_timeout:  SET safe_ddl.mode = off; SET lock_timeout = '1s';
#   c  safe_ddl defaults:   SET lock_timeout = 0;   (enforce, safe_ddl.lock_timeout 200ms, retries)
#   d  extra, only when asked for (BENCH_RUNS="... d"): as c, plus
#      SET safe_ddl.lock_retry_delay = '$BENCH_RETRY_DELAY' (default 100ms)
#
# For each run it reports the application's TPS, latency p50/p99/max from pgbench's
# per-transaction log, how many transactions took > 100 ms, the longest stretch of whole seconds
# with near-zero throughput (< 5% of the run's median per-second count) and the longest gap
# between two consecutive transaction completions, and for the ALTER: success or failure, when it
# started, when it ended relative to the report's COMMIT. Raw files (pgbench logs, psql output
# with safe_ddl's NOTICEs, a pg_stat_activity/pg_locks snapshot at t=12 s, server log) stay in
# $BENCH_DIR/out_<timestamp>/<run>/.
#
# Usage (from the repo root, as root, safe_ddl installed into the PostgreSQL of pg_config):
#   bash bench/stall_free.sh
# Environment:
#   BENCH_DIR          work directory (default /tmp/bench_stall_free; the cluster in it is wiped)
#   BENCH_PORT         port of the private Unix socket (default 55477; no TCP)
#   BENCH_RUNS         variants to run, in order (default "a b c")
#   BENCH_RETRY_DELAY  safe_ddl.lock_retry_delay for variant d (default 100ms)
# Takes about 35 s per variant (about 1 min 45 s for the default three).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../pg_test/lib/cluster.sh
source "$HERE/../pg_test/lib/cluster.sh"

BASE="${BENCH_DIR:-/tmp/bench_stall_free}"
PORT="${BENCH_PORT:-55477}"
RUNS="${BENCH_RUNS:-a b c}"
RETRY_DELAY="${BENCH_RETRY_DELAY:-100ms}"
CL="$BASE/cluster"
LIB="$BASE/lib/safe_ddl.so"

ROWS=1000000
CLIENTS=4
THREADS=2
DURATION=30      # pgbench -T
LONG_AT=5        # the report's BEGIN; SELECT count(*) ...
LONG_END=20      # ... and its COMMIT (open 15 s)
ALTER_AT=8       # the migration's ALTER TABLE
SNAPSHOT_AT=12   # one look at pg_stat_activity / pg_locks while the ALTER waits

# psql and pgbench run as the postgres OS user, which may not be able to enter the caller's cwd.
cd /

BG_PIDS=()
STARTED=0
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    local pid
    for pid in "${BG_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${BG_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [ "$STARTED" = 1 ]; then cluster_stop "$CL" || true; fi
    [ "$rc" = 0 ] || echo "stall_free.sh: FAILED (exit $rc); files in ${OUT:-$BASE}" >&2
    exit "$rc"
}
trap cleanup EXIT INT TERM

now() { date +%s.%N; }
# sleep_until SECONDS: sleep until T0 + SECONDS
sleep_until() {
    local d
    d=$(awk -v t0="$T0" -v off="$1" -v n="$(now)" 'BEGIN { d = t0 + off - n; if (d < 0) d = 0; printf "%.3f", d }')
    sleep "$d"
}
# bpsql APPLICATION_NAME [psql args...]: psql into the bench database
bpsql() {
    local app="$1"; shift
    cluster_psql "$CL" "$PORT" -d "dbname=bench application_name=$app" "$@"
}

variant_sql() {
    case "$1" in
        a) echo "SET safe_ddl.mode = off; SET lock_timeout = 0;" ;;
        b) echo "SET safe_ddl.mode = off; SET lock_timeout = '1s';" ;;
        c) echo "SET lock_timeout = 0;" ;;
        d) echo "SET lock_timeout = 0; SET safe_ddl.lock_retry_delay = '$RETRY_DELAY';" ;;
        *) echo "unknown run '$1' (expected a, b, c or d)" >&2; return 1 ;;
    esac
}
variant_label() {
    case "$1" in
        a) echo "a: no guard (safe_ddl off, lock_timeout 0)" ;;
        b) echo "b: plain lock_timeout 1s (safe_ddl off)" ;;
        c) echo "c: safe_ddl defaults (lock_timeout 0 in session)" ;;
        d) echo "d (extra): safe_ddl, lock_retry_delay $RETRY_DELAY" ;;
    esac
}

for r in $RUNS; do variant_sql "$r" >/dev/null; done

mkdir -p "$BASE/lib"
# The cluster preloads a private copy of the installed safe_ddl.so, by absolute path: every run of
# this invocation measures the same build, and a reinstall while the bench runs (`cargo pgrx
# test`/`install` copy the library in place) cannot crash the running server with SIGBUS. Only
# the hook is needed here, so CREATE EXTENSION (which would load $libdir/safe_ddl a second time)
# is not run.
INSTALLED="$("${PG_CONFIG:-pg_config}" --pkglibdir)/safe_ddl.so"
for _ in 1 2 3 4 5; do   # retry if a reinstall is writing the file while we copy it
    before=$(stat -c '%s %Y' "$INSTALLED")
    install -m 0644 "$INSTALLED" "$LIB"
    sleep 1
    [ "$(stat -c '%s %Y' "$INSTALLED")" != "$before" ] || break
done
export SAFE_DDL_PRELOAD="$LIB"
OUT="$BASE/out_$(date +%Y%m%d_%H%M%S)"
mkdir -p "$OUT"
chown postgres:postgres "$BASE" "$OUT"

{
    echo "command: bash bench/stall_free.sh (BENCH_RUNS=\"$RUNS\")"
    echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "nproc: $(nproc)"
    echo "load average (1/5/15 min) at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "memory (free -g):"; free -g
    echo "postgres --version: $("$PGBIN/postgres" --version)"
    echo "safe_ddl.so: md5 $(md5sum <"$LIB" | cut -c1-32), installed $(date -u -r "$INSTALLED" '+%Y-%m-%d %H:%M:%S UTC'); repo HEAD $(git -C "$HERE/.." rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo "pgbench: $CLIENTS clients, $THREADS threads, -T $DURATION, $ROWS rows; report BEGIN t=${LONG_AT}s COMMIT t=${LONG_END}s; ALTER t=${ALTER_AT}s"
} | tee "$OUT/machine.txt"

run_one() {
    local run="$1" dir="$OUT/$1"
    mkdir -p "$dir"
    chown postgres:postgres "$dir"
    echo
    echo "=== $(variant_label "$run") ==="

    STARTED=1
    cluster_start "$CL" "$PORT" \
        "log_lock_waits = on" \
        "log_autovacuum_min_duration = 0" \
        "shared_buffers = 256MB"
    cluster_psql "$CL" "$PORT" -q -d postgres -c "CREATE DATABASE bench"
    # Setup DDL (primary key on a populated table) with the guard off: it is not what is measured.
    bpsql setup -q -v ON_ERROR_STOP=1 <<SQL
SET safe_ddl.mode = off;
CREATE TABLE accounts (id int NOT NULL, balance bigint NOT NULL DEFAULT 0, owner text NOT NULL);
INSERT INTO accounts (id, owner) SELECT g, 'owner ' || g FROM generate_series(1, $ROWS) g;
ALTER TABLE accounts ADD PRIMARY KEY (id);
VACUUM (ANALYZE) accounts;
CHECKPOINT;
SQL

    cat >"$dir/workload.sql" <<SQL
\set id random(1, $ROWS)
SELECT balance FROM accounts WHERE id = :id;
UPDATE accounts SET balance = balance + 1 WHERE id = :id;
SQL
    chown postgres:postgres "$dir/workload.sql"

    T0=$(now)
    echo "$T0" >"$dir/t0"
    as_postgres "$PGBIN/pgbench" -h "$CL/sock" -p "$PORT" -U postgres -n -c "$CLIENTS" -j "$THREADS" \
        -T "$DURATION" -P 1 -f "$dir/workload.sql" --log --log-prefix="$dir/pgbench_log" bench \
        >"$dir/pgbench.out" 2>&1 &
    local pgbench_pid=$!
    BG_PIDS+=("$pgbench_pid")

    sleep_until "$LONG_AT"
    {
        echo "SELECT 'LT_BEGIN ' || extract(epoch FROM clock_timestamp());"
        echo "BEGIN;"
        echo "SELECT 'LT_COUNT ' || count(*) FROM accounts;"
        echo "SELECT 'LT_OPEN ' || extract(epoch FROM clock_timestamp());"
        sleep_until "$LONG_END"
        echo "COMMIT;"
        echo "SELECT 'LT_COMMITTED ' || extract(epoch FROM clock_timestamp());"
    } | bpsql report -At -v ON_ERROR_STOP=1 >"$dir/long_txn.out" 2>&1 &
    local long_pid=$!
    BG_PIDS+=("$long_pid")

    sleep_until "$ALTER_AT"
    (
        rc=0
        start=$(now)
        bpsql migrate -v ON_ERROR_STOP=1 \
            -c "$(variant_sql "$run")" \
            -c "SELECT 'ALTER_START ' || extract(epoch FROM clock_timestamp())" \
            -c '\timing on' \
            -c "ALTER TABLE accounts ADD COLUMN note_$run text;" \
            >"$dir/alter.out" 2>&1 || rc=$?
        end=$(now)
        echo "$start $end $rc" >"$dir/alter.times"
    ) &
    local alter_pid=$!
    BG_PIDS+=("$alter_pid")

    sleep_until "$SNAPSHOT_AT"
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

    local rc
    rc=0; wait "$pgbench_pid" || rc=$?
    cut -d' ' -f1 /proc/loadavg >"$dir/loadavg"   # 1-minute load average at the end of the run
    [ "$rc" = 0 ] || echo "pgbench exited with $rc (see $dir/pgbench.out)" >&2
    wait "$long_pid" || echo "report session failed (see $dir/long_txn.out)" >&2
    wait "$alter_pid" || true
    BG_PIDS=()

    bpsql check -At -c "SELECT 'columns now: ' || string_agg(attname, ', ' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'accounts'::regclass AND attnum > 0 AND NOT attisdropped" \
        >"$dir/columns.txt" 2>&1 || true
    cluster_stop "$CL"
    STARTED=0
    cp "$CL/server.log" "$dir/server.log"

    python3 - "$dir" "$run" "$(variant_label "$run")" "$DURATION" <<'PY'
import glob, json, math, os, re, statistics, sys

d, run, label, duration = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
t0 = float(open(os.path.join(d, "t0")).read())

# (start, end) relative to t0 in s, latency in us; log columns:
# client_id transaction_no time(us) script_no time_epoch time_us
pairs = []
for f in glob.glob(os.path.join(d, "pgbench_log*")):
    for line in open(f):
        p = line.split()
        if len(p) < 6:
            continue
        e = int(p[4]) + int(p[5]) / 1e6 - t0
        pairs.append((e - int(p[2]) / 1e6, e, int(p[2])))
lats = sorted(x[2] for x in pairs)
n = len(lats)

def pct(q):
    # nearest-rank percentile, in ms
    return lats[max(0, min(n - 1, math.ceil(q * n) - 1))] / 1000.0

slow = [x for x in pairs if x[2] > 100_000]

# per-second completions over the benchmark's seconds
ends_sorted = sorted(e for _, e, _ in pairs)
first = min(s for s, _, _ in pairs) if pairs else 0.0
nsec = int(duration)
bins = [0] * (nsec + 2)
for e in ends_sorted:
    i = int(e - first)
    if 0 <= i < len(bins):
        bins[i] += 1
bins = bins[:nsec]
med = statistics.median(bins) if bins else 0
thresh = 0.05 * med
longest, cur, cur_start, longest_start = 0, 0, 0, None
for i, c in enumerate(bins):
    if c < thresh:
        if cur == 0:
            cur_start = i
        cur += 1
        if cur > longest:
            longest, longest_start = cur, cur_start
    else:
        cur = 0
gap, gap_at = 0.0, None
for a, b in zip(ends_sorted, ends_sorted[1:]):
    if b - a > gap:
        gap, gap_at = b - a, a

tps_pgbench = None
m = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", open(os.path.join(d, "pgbench.out")).read())
if m:
    tps_pgbench = float(m.group(1))

lt = {}
for line in open(os.path.join(d, "long_txn.out")):
    p = line.split()
    if len(p) == 2 and p[0].startswith("LT_"):
        lt[p[0]] = float(p[1])
a_start, a_end, a_rc = open(os.path.join(d, "alter.times")).read().split()
a_start, a_end, a_rc = float(a_start) - t0, float(a_end) - t0, int(a_rc)
alter_out = open(os.path.join(d, "alter.out")).read()
srv_start = None
m = re.search(r"ALTER_START ([0-9.]+)", alter_out)
if m:
    srv_start = float(m.group(1)) - t0
m = re.search(r"Time: ([0-9.]+) ms", alter_out)
alter_ms = float(m.group(1)) if m else None
ok = a_rc == 0 and "ALTER TABLE" in alter_out
err = re.search(r"ERROR:\s+(.*)", alter_out)
commit = lt.get("LT_COMMITTED")
commit_rel = commit - t0 if commit else None
def max_overlapping(a, b):
    # the slowest transaction in flight at some point of [a, b] (s relative to t0), in ms
    lat = [l for st, e, l in pairs if st <= b and e >= a]
    return round(max(lat) / 1000.0, 1) if lat else None
alter_from = srv_start if srv_start is not None else a_start
notices = len(re.findall(r"NOTICE:\s+safe_ddl: attempt", alter_out))

res = {
    "run": run, "label": label, "transactions": n,
    "tps_pgbench": tps_pgbench, "tps_log": n / duration,
    "p50_ms": pct(0.50), "p99_ms": pct(0.99), "max_ms": lats[-1] / 1000.0 if n else None,
    "slow_gt_100ms": len(slow),
    "slow_window_s": [round(min(s for s, _, _ in slow), 3), round(max(e for _, e, _ in slow), 3)] if slow else None,
    "median_tps_per_s": med, "near_zero_seconds": longest,
    "near_zero_from_s": (round(first + longest_start, 1) if longest_start is not None else None),
    "longest_gap_ms": round(gap * 1000, 1), "longest_gap_at_s": round(gap_at, 3) if gap_at is not None else None,
    "report_open_s": round(lt["LT_OPEN"] - t0, 3) if "LT_OPEN" in lt else None,
    "report_commit_s": round(commit_rel, 3) if commit_rel is not None else None,
    "alter_ok": ok, "alter_error": err.group(1).strip() if err else None,
    "alter_start_s": round(a_start, 3), "alter_server_start_s": round(srv_start, 3) if srv_start is not None else None,
    "alter_end_s": round(a_end, 3), "alter_statement_ms": alter_ms,
    "alter_end_minus_commit_s": round(a_end - commit_rel, 3) if commit_rel is not None else None,
    "safe_ddl_notices": notices,
    "max_ms_while_alter_ran": max_overlapping(alter_from, a_end),
    "max_ms_commit_to_alter_end": max_overlapping(commit_rel, a_end) if commit_rel is not None and a_end >= commit_rel else None,
    "slowest": [[round(st, 3), round(l / 1000, 1)] for st, _, l in sorted(pairs, key=lambda x: -x[2])[:5]],
    "loadavg_1min_at_end": float(open(os.path.join(d, "loadavg")).read()),
    "server_crashed": "terminated by signal" in open(os.path.join(d, "server.log")).read(),
}
if res["server_crashed"]:
    print(f"WARNING: the server crashed during run {run}; see {d}/server.log", file=sys.stderr)
json.dump(res, open(os.path.join(d, "result.json"), "w"), indent=1)
print(json.dumps(res, indent=1))
PY
}

for r in $RUNS; do run_one "$r"; done

python3 - "$OUT" $RUNS <<'PY' | tee "$OUT/summary.md"
import json, os, sys
out, runs = sys.argv[1], sys.argv[2:]
def f(x, nd=1):
    return "-" if x is None else (f"{x:.{nd}f}" if isinstance(x, float) else str(x))
print(f"Results in {out}\n")
print("| run | TPS | p50 ms | p99 ms | max ms | txns > 100 ms | near-zero TPS s (from t=) | longest gap ms | max ms of txns overlapping the ALTER | ALTER | ALTER start t= s | ALTER end - COMMIT s | ALTER stmt ms |")
print("| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | --- | ---: | ---: | ---: |")
for r in runs:
    j = json.load(open(os.path.join(out, r, "result.json")))
    alter = "ok" if j["alter_ok"] else "failed: " + (j["alter_error"] or "?")
    nz = f'{j["near_zero_seconds"]}' + (f' (t={j["near_zero_from_s"]})' if j["near_zero_seconds"] else "")
    print(f'| {j["label"]} | {f(j["tps_pgbench"],0)} | {f(j["p50_ms"],2)} | {f(j["p99_ms"],2)} | {f(j["max_ms"],1)} '
          f'| {j["slow_gt_100ms"]} | {nz} | {f(j["longest_gap_ms"],1)} | {f(j["max_ms_while_alter_ran"],1)} | {alter} '
          f'| {f(j["alter_server_start_s"],2)} | {f(j["alter_end_minus_commit_s"],3)} | {f(j["alter_statement_ms"],1)} |')
print("\n1-minute load average at the end of each run (%s on %s CPUs): %s" % (
    " ".join(runs), os.cpu_count(),
    " / ".join(f(json.load(open(os.path.join(out, r, "result.json")))["loadavg_1min_at_end"], 2) for r in runs)))
print("\nReport transaction: open at t=%s s, COMMIT at t=%s s (per run: %s)" % (
    "/".join(f(json.load(open(os.path.join(out, r, "result.json")))["report_open_s"], 2) for r in runs),
    "/".join(f(json.load(open(os.path.join(out, r, "result.json")))["report_commit_s"], 2) for r in runs),
    " ".join(runs)))
PY
