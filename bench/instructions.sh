#!/usr/bin/env bash
# bench/instructions.sh: what safe_ddl's per-statement path costs, in instructions (issue 19).
#
# Throughput ratios cannot resolve 1% on a loaded machine; instruction counts can: they do not
# depend on what else runs. The server (postmaster and every backend it forks) runs under
# valgrind's callgrind; pgbench -n -S -M prepared -c 1 runs $BENCH_TXNS_1 and then
# $BENCH_TXNS_2 transactions on a pgbench scale-1 database, each run in its own connection, and
# the difference between the two client backends' totals, divided by the difference in
# transactions, is the backend's instructions per transaction, without connection start-up. That
# is done for each library given (and for "none": not preloaded), each on the same cluster
# restarted; then the functions of safe_ddl.so (inclusive and self), per transaction.
#
# Usage (as root, PostgreSQL of $PG_CONFIG; valgrind installed):
#   bash bench/instructions.sh none /path/to/old/safe_ddl.so /path/to/new/safe_ddl.so
#   (no argument: none and the installed library) -- about 30 s per library
# Environment: BENCH_DIR [/tmp/bench_instructions]  BENCH_PORT [55483]
#   BENCH_TXNS_1 [300]  BENCH_TXNS_2 [1300]
# Output: a table on stdout and in $BENCH_DIR/summary.txt; callgrind files in $BENCH_DIR/out_<n>/.
# Counts vary by a few tens of instructions per transaction between runs: how often the backend
# polls its socket before the next query arrives (WaitEventSetWait, secure_read) depends on timing.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../pg_test/lib/cluster.sh
source "$HERE/../pg_test/lib/cluster.sh"

BASE="${BENCH_DIR:-/tmp/bench_instructions}"
PORT="${BENCH_PORT:-55483}"
N1="${BENCH_TXNS_1:-300}"
N2="${BENCH_TXNS_2:-1300}"
[ "$#" -gt 0 ] || set -- none "$("$PG_CONFIG" --pkglibdir)/safe_ddl.so"
command -v valgrind >/dev/null || { echo "instructions.sh: valgrind is needed (apt-get install valgrind)" >&2; exit 1; }
CL="$BASE/cluster"
cd /

cleanup() { cluster_stop "$CL" 2>/dev/null || true; }
trap cleanup EXIT INT TERM

SAFE_DDL_PRELOAD="" cluster_start "$CL" "$PORT" "shared_buffers = 32MB" "autovacuum = off" \
    "include_if_exists = 'preload.conf'"
"$PGBIN/pgbench" -h "$CL/sock" -p "$PORT" -U postgres -i -q -s 1 postgres >/dev/null 2>&1
cluster_psql "$CL" "$PORT" -q -d postgres -c "VACUUM ANALYZE"
cluster_stop "$CL"

# run_one N LIB: callgrind files of a server with LIB preloaded ('' for none) in $BASE/out_N
run_one() {
    local out="$BASE/out_$1" lib="$2" t
    rm -rf "$out"; mkdir -p "$out"; chown postgres:postgres "$out"
    mkdir -p "$BASE/lib"; chmod 0755 "$BASE" "$BASE/lib"
    if [ -n "$lib" ]; then install -m 0644 "$lib" "$BASE/lib/safe_ddl_$1.so"; lib="$BASE/lib/safe_ddl_$1.so"; fi
    echo "shared_preload_libraries = '$lib'" | as_postgres tee "$CL/data/preload.conf" >/dev/null
    as_postgres env -u RUST_BACKTRACE valgrind --tool=callgrind --trace-children=yes \
        --callgrind-out-file="$out/cg.%p" "$PGBIN/postgres" -D "$CL/data" >"$out/valgrind.log" 2>&1 &
    for _ in $(seq 1 120); do
        cluster_psql "$CL" "$PORT" -d postgres -Atc "SELECT 1" >/dev/null 2>&1 && break
        sleep 1
    done
    for t in "$N1" "$N2"; do
        "$PGBIN/pgbench" -h "$CL/sock" -p "$PORT" -U postgres -n -S -M prepared -c 1 -t "$t" postgres >"$out/pgbench_$t.out" 2>&1
        sleep 2
    done
    as_postgres "$PGBIN/pg_ctl" -D "$CL/data" -m fast -w -t 300 stop >/dev/null
}

summary="$BASE/summary.txt"
: >"$summary"
i=0
for lib in "$@"; do
    i=$((i + 1))
    [ "$lib" = none ] && l="" || l="$lib"
    run_one "$i" "$l"
    python3 - "$BASE/out_$i" "$N1" "$N2" "$lib" <<'PY' | tee -a "$summary"
import glob, os, re, subprocess, sys
out, n1, n2, label = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def annotate(f, inclusive):
    args = ["callgrind_annotate", "--threshold=100"] + (["--inclusive=yes"] if inclusive else [])
    text = subprocess.run(args + [f], capture_output=True, text=True).stdout
    d = {}
    for line in text.splitlines():
        m = re.match(r"\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*?)(?: \[.*\])?$", line)
        if m:
            d[m.group(2)] = int(m.group(1).replace(",", ""))
    return d
# The client backends (prepared statements: GetCachedPlan; pgbench's set-up connection and
# the readiness check use simple queries), in the order they ended.
files = sorted(glob.glob(os.path.join(out, "cg.*")), key=os.path.getmtime)
backends = [f for f in files if "GetCachedPlan" in open(f, errors="replace").read()]
c1, c2 = backends[-2], backends[-1]
a, b = annotate(c1, True), annotate(c2, True)
sa, sb = annotate(c1, False), annotate(c2, False)
n = n2 - n1
total = (b.get("PROGRAM TOTALS", 0) - a.get("PROGRAM TOTALS", 0)) / n
print(f"{label}: backend instructions per transaction: {total:,.0f}")
rows = [((b[k] - a.get(k, 0)) / n, (sb.get(k, 0) - sa.get(k, 0)) / n, k) for k in b if "safe_ddl" in k or "pgrx" in k]
for incl, self_, k in sorted(rows, reverse=True):
    if incl >= 1:
        print(f"    {incl:8.1f} inclusive {self_:8.1f} self  {k[:110]}")
PY
done
echo "summary: $summary"
