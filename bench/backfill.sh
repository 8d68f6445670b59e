#!/usr/bin/env bash
# bench/backfill.sh: safe_ddl.backfill() vs one big UPDATE, and what the application sees.
#
# On a table `items (id bigint PRIMARY KEY, v int, v2 int)` of $BENCH_ROWS rows (default
# 5,000,000), with a pgbench application (2 clients; SELECT then UPDATE of one random row by id,
# autocommit, --log per transaction) running throughout, it measures in one cluster, in order:
#
#   baseline  pgbench alone for $BENCH_BASELINE_S seconds (default 15)
#   idle2     (after the UPDATE) pgbench alone again for as long, on the table state the backfill
#             finds, for a like-for-like p99 comparison
#   update    one statement: SET safe_ddl.max_dml_rows = 0; UPDATE items SET v2 = v * 2;
#   backfill  CALL safe_ddl.backfill('items', 'v2 = v * 3');  at its default settings
#   niceN     instead of `backfill`, when BENCH_NICE is set: one leg per value N, in that order,
#             CALL safe_ddl.backfill('items', 'v2 = v * <3, 5, 6, ...>', nice => N);
#             e.g. BENCH_NICE="0 10" (issue 14, section 3: the backfill at a lower CPU priority)
#   tuned     extra, only when BENCH_TUNED is not empty:
#             CALL safe_ddl.backfill('items', 'v2 = v * 4', NULL, <BENCH_TUNED>);
#             e.g. BENCH_TUNED="batch_size => 1000, target_batch_time => '1s', pause => '0'"
#
# Before each operation: VACUUM items; CHECKPOINT; (the UPDATE leaves one dead tuple per row: the
# VACUUM frees them, the table keeps its doubled size, and the next operation starts with a free
# half of every page). pgbench starts 2 s before each operation and is stopped (SIGTERM) 3 s after
# it ends. For each operation: rows (from the command tag / the job row), wall seconds (server
# clock_timestamp() around the statement), rows/s, and the application's TPS, latency p50/p99/max
# over the transactions in flight at some point while the operation ran, transactions > 100 ms and
# > 1 s, the longest gap between two completions, failed transactions (log lines whose latency is
# not a number, clients aborted). Table size, HOT updates and WAL bytes around each operation too.
# Raw files stay in $BENCH_DIR/out_<timestamp>/ (pgbench logs, psql output with backfill's
# NOTICEs, server log, result.json, summary.md).
#
# Targets (issue 6): backfill rows/s >= 70% of the single UPDATE's, and the application's p99
# during the backfill <= 2x its idle baseline.
#
# Usage (from the repo root, as root, safe_ddl installed into the PostgreSQL of pg_config):
#   bash bench/backfill.sh
# Environment:
#   BENCH_DIR         work directory (default /tmp/bench_backfill; its cluster/ is wiped)
#   BENCH_PORT        port of the private Unix socket (default 55444; no TCP)
#   BENCH_ROWS        rows of items (default 5000000)
#   BENCH_BASELINE_S  seconds of the idle baseline (default 15)
#   BENCH_TUNED       named arguments of an extra, tuned backfill run (default empty: no extra run)
#   BENCH_CLIENTS     pgbench clients of the application (default 2)
#   BENCH_NICE        nice values of the backfill legs, replacing the default leg (default empty:
#                     one leg at the defaults); each leg runs in a session of its own
# Takes about 2 min 45 s (5,000,000 rows, no tuned run; about 3 min 20 s with it) on 2 vCPUs.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../pg_test/lib/cluster.sh
source "$HERE/../pg_test/lib/cluster.sh"

BASE="${BENCH_DIR:-/tmp/bench_backfill}"
PORT="${BENCH_PORT:-55444}"
ROWS="${BENCH_ROWS:-5000000}"
BASELINE_S="${BENCH_BASELINE_S:-15}"
TUNED="${BENCH_TUNED:-}"
NICE="${BENCH_NICE:-}"
CL="$BASE/cluster"

# BENCH_CLIENTS: pgbench clients (default 2, each with its own thread). On 2 vCPUs, 2 clients
# running flat out keep both cores busy, so any work on the server competes with them for CPU.
CLIENTS="${BENCH_CLIENTS:-2}"
THREADS="$CLIENTS"
LEAD_S=2    # pgbench runs this long before each operation starts ...
TAIL_S=3    # ... and this long after it ends

# psql and pgbench run as the postgres OS user, which may not be able to enter the caller's cwd.
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
    [ "$rc" = 0 ] || echo "backfill.sh: FAILED (exit $rc); files in ${OUT:-$BASE}" >&2
    exit "$rc"
}
trap cleanup EXIT INT TERM

now() { date +%s.%N; }
# bpsql APPLICATION_NAME [psql args...]: psql into the bench database
bpsql() {
    local app="$1"; shift
    cluster_psql "$CL" "$PORT" -d "dbname=bench application_name=$app" "$@"
}

OUT="$BASE/out_$(date +%Y%m%d_%H%M%S)"
mkdir -p "$OUT"
chown postgres:postgres "$BASE" "$OUT"
INSTALLED="$("${PG_CONFIG:-pg_config}" --pkglibdir)/safe_ddl.so"

{
    echo "command: bash bench/backfill.sh (BENCH_ROWS=$ROWS BENCH_BASELINE_S=$BASELINE_S BENCH_TUNED=\"$TUNED\" BENCH_CLIENTS=$CLIENTS BENCH_NICE=\"$NICE\")"
    echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "nproc: $(nproc)"
    echo "load average (1/5/15 min) at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "memory (free -g):"; free -g
    echo "postgres --version: $("$PGBIN/postgres" --version)"
    echo "safe_ddl.so: md5 $(md5sum <"$INSTALLED" | cut -c1-32), installed $(date -u -r "$INSTALLED" '+%Y-%m-%d %H:%M:%S UTC'); repo HEAD $(git -C "$HERE/.." rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo "pgbench: $CLIENTS clients, $THREADS threads, SELECT + UPDATE of one random row of $ROWS; from ${LEAD_S}s before to ${TAIL_S}s after each operation"
} | tee "$OUT/machine.txt"

# The backfill procedures come with CREATE EXTENSION, whose C functions load $libdir/safe_ddl, so
# (unlike stall_free.sh) the cluster preloads the installed library by name: do not reinstall
# safe_ddl while this runs.
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
# Table, rows and primary key in one transaction: safe_ddl exempts a table created in the same
# transaction (ADD PRIMARY KEY on an existing table is refused as index_build).
bpsql setup -q -v ON_ERROR_STOP=1 <<SQL
CREATE EXTENSION safe_ddl;
BEGIN;
CREATE TABLE items (id bigint NOT NULL, v int NOT NULL, v2 int NOT NULL);
INSERT INTO items SELECT g, (g % 1000)::int, 0 FROM generate_series(1, $ROWS) g;
ALTER TABLE items ADD PRIMARY KEY (id);
COMMIT;
VACUUM (ANALYZE) items;
CHECKPOINT;
SQL
echo "loaded in $(awk -v a="$t_load" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }') s"

cat >"$OUT/workload.sql" <<SQL
\set id random(1, $ROWS)
SELECT v, v2 FROM items WHERE id = :id;
UPDATE items SET v = v + 1 WHERE id = :id;
SQL
chown postgres:postgres "$OUT/workload.sql"

# table_state FILE: size, tuple counters and WAL position, one key=value per line
table_state() {
    bpsql state -At -F= >"$1" <<'SQL'
SELECT pg_stat_force_next_flush();
SELECT 'size_bytes', pg_relation_size('items');
SELECT 'n_tup_upd', n_tup_upd FROM pg_stat_user_tables WHERE relid = 'items'::regclass;
SELECT 'n_tup_hot_upd', n_tup_hot_upd FROM pg_stat_user_tables WHERE relid = 'items'::regclass;
SELECT 'n_dead_tup', n_dead_tup FROM pg_stat_user_tables WHERE relid = 'items'::regclass;
SELECT 'wal_lsn_bytes', pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0');
SELECT 'epoch', extract(epoch FROM clock_timestamp());
SQL
}

# start_pgbench DIR [pgbench args...]: pgbench in the background, PGBENCH_PID
start_pgbench() {
    local dir="$1"; shift
    # as root (a root-owned log), straight into the cluster's socket, so that the kill reaches it
    "$PGBIN/pgbench" -h "$CL/sock" -p "$PORT" -U postgres -n -c "$CLIENTS" -j "$THREADS" \
        -f "$OUT/workload.sql" --log --log-prefix="$dir/pgbench_log" "$@" bench \
        >"$dir/pgbench.out" 2>"$dir/pgbench.err" &
    PGBENCH_PID=$!
    BG_PIDS+=("$PGBENCH_PID")
}

echo
echo "=== baseline: pgbench alone, ${BASELINE_S} s ==="
mkdir -p "$OUT/baseline"
now >"$OUT/baseline/t0"
start_pgbench "$OUT/baseline" -T "$BASELINE_S"
wait "$PGBENCH_PID" || echo "pgbench exited with $? (see $OUT/baseline/pgbench.*)" >&2
BG_PIDS=()
now >"$OUT/baseline/t1"

# run_op NAME SQL...: VACUUM + CHECKPOINT, pgbench from LEAD_S before to TAIL_S after the
# operation, which runs as one psql with one -c per argument (each its own transaction).
run_op() {
    local name="$1"; shift
    local dir="$OUT/$name"
    mkdir -p "$dir"
    echo
    echo "=== $name ==="
    bpsql prepare -q -v ON_ERROR_STOP=1 -c "VACUUM items" -c "CHECKPOINT"
    table_state "$dir/state_before"
    now >"$dir/t0"
    start_pgbench "$dir" -T 3600
    sleep "$LEAD_S"
    local args=() s
    for s in "$@"; do args+=(-c "$s"); done
    local rc=0
    bpsql "$name" -v ON_ERROR_STOP=1 \
        -c "SET statement_timeout = 0" \
        -c "SELECT 'OP_START ' || extract(epoch FROM clock_timestamp())" \
        -c '\timing on' \
        "${args[@]}" \
        -c "SELECT 'OP_END ' || extract(epoch FROM clock_timestamp())" \
        >"$dir/op.out" 2>&1 || rc=$?
    echo "$rc" >"$dir/op.rc"
    sleep "$TAIL_S"
    kill -TERM "$PGBENCH_PID" 2>/dev/null || true
    wait "$PGBENCH_PID" 2>/dev/null || true
    BG_PIDS=()
    now >"$dir/t1"
    table_state "$dir/state_after"
    bpsql jobs -At -F'|' -c "SELECT job_id, status, rows_done, rows_scanned, batches, batch_size, throttled, extract(epoch FROM finished_at - started_at) FROM safe_ddl.backfill_jobs ORDER BY job_id DESC LIMIT 1" \
        >"$dir/job.txt" 2>&1 || true
    cut -d' ' -f1 /proc/loadavg >"$dir/loadavg"
    cat "$dir/op.out"
    [ "$rc" = 0 ] || { echo "$name failed (exit $rc), see $dir/op.out" >&2; return 1; }
}

run_op update "SET safe_ddl.max_dml_rows = 0" "UPDATE items SET v2 = v * 2"
# The application alone again, on the table as the backfill will find it (after the UPDATE and
# the VACUUM: twice the size, half-empty pages, an index with two entries per row).
run_op idle2 "SELECT pg_sleep($BASELINE_S)"
RUNS="baseline update idle2"
if [ -z "$NICE" ]; then
    run_op backfill "CALL safe_ddl.backfill('items', 'v2 = v * 3')"
    RUNS="$RUNS backfill"
else
    factor=3
    for n in $NICE; do
        run_op "nice$n" "CALL safe_ddl.backfill('items', 'v2 = v * $factor', nice => $n)"
        RUNS="$RUNS nice$n"
        factor=$((factor == 3 ? 5 : factor + 1))
    done
fi
if [ -n "$TUNED" ]; then
    run_op tuned "CALL safe_ddl.backfill('items', 'v2 = v * 4', NULL, $TUNED)"
    RUNS="$RUNS tuned"
fi

bpsql final -At -c "SELECT 'items: ' || count(*) || ' rows, ' || pg_size_pretty(pg_relation_size('items')) FROM items" \
    >"$OUT/final.txt" 2>&1 || true
cluster_stop "$CL"
STARTED=0
cp "$CL/server.log" "$OUT/server.log"

python3 - "$OUT" "$ROWS" "$TUNED" $RUNS <<'PY' | tee "$OUT/summary.md"
import glob, json, math, os, re, sys

out, rows_total, tuned, runs = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]

def state(path):
    d = {}
    if os.path.exists(path):
        for line in open(path):
            if "=" in line:
                k, v = line.strip().split("=", 1)
                try:
                    d[k] = float(v)
                except ValueError:
                    pass
    return d

def analyse(name):
    d = os.path.join(out, name)
    t0 = float(open(os.path.join(d, "t0")).read())
    txns, failed = [], 0   # (start, end) in s since t0, latency us
    for f in glob.glob(os.path.join(d, "pgbench_log*")):
        for line in open(f):
            p = line.split()
            if len(p) < 6:
                continue
            if not p[2].isdigit():          # "failed" / "skipped" instead of a latency
                failed += 1
                continue
            e = int(p[4]) + int(p[5]) / 1e6 - t0
            txns.append((e - int(p[2]) / 1e6, e, int(p[2])))
    err = open(os.path.join(d, "pgbench.err")).read()
    aborted = len(re.findall(r"client \d+ aborted", err))
    r = {"name": name, "failed": failed, "clients_aborted": aborted}
    if name == "baseline":
        a, b = 0.0, float(open(os.path.join(d, "t1")).read()) - t0
        m = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", open(os.path.join(d, "pgbench.out")).read())
        r["tps_pgbench"] = float(m.group(1)) if m else None
        sel = txns
        r["seconds"] = round(b - a, 2)
        r["tps"] = len(txns) / (max(e for _, e, _ in txns) - min(s for s, _, _ in txns)) if txns else None
    else:
        o = open(os.path.join(d, "op.out")).read()
        a = float(re.search(r"OP_START ([0-9.]+)", o).group(1)) - t0
        b = float(re.search(r"OP_END ([0-9.]+)", o).group(1)) - t0
        r["rc"] = int(open(os.path.join(d, "op.rc")).read())
        r["seconds"] = round(b - a, 2)
        r["statement_ms"] = [float(x) for x in re.findall(r"Time: ([0-9.]+) ms", o)]
        m = re.search(r"^UPDATE (\d+)", o, re.M)
        rows = int(m.group(1)) if m else None
        job = open(os.path.join(d, "job.txt")).read().strip().split("|")
        if name not in ("update", "idle2") and len(job) >= 8:
            r["job"] = {"id": job[0], "status": job[1], "rows_done": int(job[2]), "batches": int(job[4]),
                        "final_batch_size": int(job[5]), "throttled": job[6], "job_seconds": float(job[7])}
            rows = int(job[2])
        r["rows"] = rows
        r["rows_per_s"] = round(rows / (b - a)) if rows else None
        r["notices"] = [l for l in o.splitlines() if "NOTICE" in l]
        # transactions in flight at some point while the operation ran
        sel = [x for x in txns if x[0] <= b and x[1] >= a]
        done_in = [x for x in txns if a <= x[1] <= b]
        r["tps"] = len(done_in) / (b - a)
        r["op_window_s"] = [round(a, 3), round(b, 3)]
        s0, s1 = state(os.path.join(d, "state_before")), state(os.path.join(d, "state_after"))
        if s0 and s1:
            r["size_mb_before"] = round(s0["size_bytes"] / 2**20)
            r["size_mb_after"] = round(s1["size_bytes"] / 2**20)
            r["wal_mb"] = round((s1["wal_lsn_bytes"] - s0["wal_lsn_bytes"]) / 2**20)
            r["upd"] = int(s1["n_tup_upd"] - s0["n_tup_upd"])
            r["hot_upd"] = int(s1["n_tup_hot_upd"] - s0["n_tup_hot_upd"])
            r["dead_after"] = int(s1["n_dead_tup"])
        # slowest: when they started relative to the operation
        r["slowest"] = [[round(st - a, 3), round(l / 1000, 1)] for st, _, l in sorted(sel, key=lambda x: -x[2])[:5]]
        r["loadavg_1min_at_end"] = float(open(os.path.join(d, "loadavg")).read())
    lats = sorted(x[2] for x in sel)
    n = len(lats)
    def pct(q):
        return lats[max(0, min(n - 1, math.ceil(q * n) - 1))] / 1000.0 if n else None
    ends = sorted(x[1] for x in sel)
    r.update({
        "transactions": n, "p50_ms": pct(0.5), "p99_ms": pct(0.99), "max_ms": lats[-1] / 1000.0 if n else None,
        "gt_100ms": sum(1 for l in lats if l > 100_000), "gt_1s": sum(1 for l in lats if l > 1_000_000),
        "longest_gap_ms": round(max((y - x for x, y in zip(ends, ends[1:])), default=0) * 1000, 1),
    })
    json.dump(r, open(os.path.join(d, "result.json"), "w"), indent=1)
    return r

res = {n: analyse(n) for n in runs}
def f(x, nd=1):
    return "-" if x is None else (f"{x:,.{nd}f}" if isinstance(x, float) else f"{x:,}" if isinstance(x, int) else str(x))

print(f"Results in {out}\n")
print("| operation | rows | seconds | rows/s | app TPS | p50 ms | p99 ms | max ms | txns > 100 ms / > 1 s | longest gap ms | failed |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
labels = {"baseline": "idle baseline (pgbench alone)", "update": "(1) one UPDATE",
          "idle2": "idle again, same table state as the backfill (pg_sleep)",
          "backfill": "(2) backfill, defaults", "tuned": f"(3) extra: backfill, {tuned}"}
for n in runs:
    if n.startswith("nice"):
        labels[n] = f"(2) backfill, nice => {n[4:]}"
for n in runs:
    r = res[n]
    print(f'| {labels[n]} | {f(r.get("rows"))} | {f(r["seconds"], 2)} | {f(r.get("rows_per_s"))} | {f(r["tps"], 0)} '
          f'| {f(r["p50_ms"], 2)} | {f(r["p99_ms"], 2)} | {f(r["max_ms"], 1)} | {r["gt_100ms"]} / {r["gt_1s"]} '
          f'| {f(r["longest_gap_ms"], 1)} | {r["failed"] + r["clients_aborted"]} |')
print()
for n in runs:
    r = res[n]
    if n in ("baseline", "idle2"):
        continue
    extra = ""
    if "job" in r:
        j = r["job"]
        extra = f'; job {j["id"]} {j["status"]}, {j["batches"]} batches, final batch size {j["final_batch_size"]}, throttled {j["throttled"]}'
    print(f'* {n}: table {f(r.get("size_mb_before"))} MB -> {f(r.get("size_mb_after"))} MB, WAL {f(r.get("wal_mb"))} MB, '
          f'updates {f(r.get("upd"))} (HOT {f(r.get("hot_upd"))}), n_dead_tup after {f(r.get("dead_after"))}{extra}; '
          f'load {r["loadavg_1min_at_end"]}; slowest app txns [start s rel. to op start, ms]: {r["slowest"]}')
b, u = res["baseline"], res["update"]
i2 = res.get("idle2")
for leg in [n for n in runs if n == "backfill" or n.startswith("nice")]:
    bf = res[leg]
    print(f"\n{labels[leg]}:")
    if u.get("rows_per_s") and bf.get("rows_per_s"):
        ratio = bf["rows_per_s"] / u["rows_per_s"]
        print(f'Target 1: backfill rows/s >= 70% of the UPDATE\'s: {ratio:.0%} -> {"met" if ratio >= 0.7 else "NOT met"}')
    if b["p99_ms"] and bf["p99_ms"]:
        q = bf["p99_ms"] / b["p99_ms"]
        print(f'Target 2: app p99 during the backfill <= 2x idle ({b["p99_ms"]:.2f} ms): {bf["p99_ms"]:.2f} ms = {q:.1f}x -> {"met" if q <= 2 else "NOT met"}')
    if i2 and i2["p99_ms"] and bf["p99_ms"]:
        q = bf["p99_ms"] / i2["p99_ms"]
        print(f'Target 2, same table state: app p99 during the backfill <= 2x idle on that table ({i2["p99_ms"]:.2f} ms): {bf["p99_ms"]:.2f} ms = {q:.1f}x -> {"met" if q <= 2 else "NOT met"}')
if "tuned" in res and res["tuned"].get("rows_per_s") and u.get("rows_per_s"):
    t = res["tuned"]
    print(f'Extra run: {t["rows_per_s"] / u["rows_per_s"]:.0%} of the UPDATE\'s rows/s, p99 {t["p99_ms"]:.2f} ms = {t["p99_ms"] / b["p99_ms"]:.1f}x idle')
PY
