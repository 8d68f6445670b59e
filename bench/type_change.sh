#!/usr/bin/env bash
# bench/type_change.sh: an int identity key referenced by two tables converted to bigint keeping
# its name (issue 18), and what a prepared-statement application sees at each step.
#
# One cluster, database bench (CREATE EXTENSION safe_ddl; every session is the superuser postgres):
#   parent  (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL, score int NOT NULL)
#           BENCH_PARENTS rows (default 5,000,000)
#   child_a (id bigint identity PRIMARY KEY, parent_id int REFERENCES parent ON DELETE CASCADE,
#           qty int NOT NULL), index (parent_id); BENCH_CHILD_A rows (default 5,000,000: one per parent)
#   child_b (id bigint identity PRIMARY KEY, parent_id int NOT NULL REFERENCES parent, kind text
#           NOT NULL), index (parent_id, kind); BENCH_CHILD_B rows (default 1,000,000: every 5th parent)
# The application: pgbench -n -M prepared -c BENCH_CLIENTS (4) -j 2 -R BENCH_RATE (200 tps in all)
# --log, ONE session per client from BENCH_LEAD (5) s before the first step to BENCH_TAIL (5) s after
# the last, scripts (weights) as in pg_test/type_change.sh: insert a parent (identity default) with a
# child in each table through a data-modifying CTE (2), children of an existing parent (1), update a
# parent and a child and move a child to another parent (3), delete a parent: child_b rows then the
# parent, child_a by the cascade (1), join the three tables (3). No statement returns a converted
# column (a prepared statement whose result has parent.id fails after the swap with "cached plan
# must not change result type": see pg_test/type_change.sh and docs/expand-contract.md).
# Steps, one after the other, each in its own psql session (SET statement_timeout = 0):
#   begin         SELECT safe_ddl.begin_type_change('parent', 'id', 'bigint');
#   backfill_<t>  each CALL safe_ddl.backfill(...) it returned, as returned (defaults)
#   prepare_*     each statement SELECT safe_ddl.prepare_type_change('parent', 'id') returned (the
#                 CREATE INDEX CONCURRENTLY of each shadow column's indexes, CALL safe_ddl.set_not_null)
#   swap          CALL safe_ddl.swap_type_change('parent', 'id');
#   (wait)        safe_ddl.usage_window (BENCH_WINDOW = 5 s in the database) + 1 s
#   finish        CALL safe_ddl.finish_type_change('parent', 'id');
# Reported per step: its wall time (client clock around the statement), the application's
# transactions in flight during it, their p50/p99/max latency, the longest "once sent" (latency
# minus pgbench's schedule lag, i.e. without waiting for the client's earlier transaction),
# transactions > 100 ms / > 500 ms, failed ones (log lines without a latency); safe_ddl's NOTICEs of
# the step are in the raw files. After the run: relfilenodes unchanged, the three key columns bigint,
# type_change_status all 'done', a parent with id 3,000,000,000 and its children insertable.
# Goal (issue 18): the application's max latency under 500 ms at every swap on 5M rows.
# bench/results/type_change.txt (summary), type_change_summary.csv (per step), type_change.csv
# (per second: t,tps,started,p50_ms,p99_ms,max_ms,wait_ms; t = s since pgbench started),
# type_change.png. Raw files in $BENCH_DIR/out_<timestamp>/.
#
# Usage (as root, safe_ddl installed into the PostgreSQL of pg_config):
#   bash bench/type_change.sh                    # 5M/5M/1M rows: about 12 min on 2 vCPUs
# Environment (defaults in brackets):
#   BENCH_DIR [/tmp/bench_type_change]  BENCH_PORT [55497]  BENCH_RESULTS [bench/results]
#   BENCH_PARENTS [5000000]  BENCH_CHILD_A [5000000]  BENCH_CHILD_B [1000000]
#   BENCH_CLIENTS [4]  BENCH_RATE [200] (total tps)  BENCH_WINDOW [5]  BENCH_LEAD [5]  BENCH_TAIL [5]
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../pg_test/lib/cluster.sh
source "$HERE/../pg_test/lib/cluster.sh"
# shellcheck source=lib/common.sh
source "$HERE/lib/common.sh"

BASE="${BENCH_DIR:-/tmp/bench_type_change}"
PORT="${BENCH_PORT:-55497}"
RESULTS="$(realpath -m "${BENCH_RESULTS:-$HERE/results}")"   # relative to the caller's directory (the script cd /s)
PARENTS="${BENCH_PARENTS:-5000000}"
CHILD_A="${BENCH_CHILD_A:-5000000}"
CHILD_B="${BENCH_CHILD_B:-1000000}"
CLIENTS="${BENCH_CLIENTS:-4}"
RATE="${BENCH_RATE:-200}"
WINDOW="${BENCH_WINDOW:-5}"
LEAD_S="${BENCH_LEAD:-5}"
TAIL_S="${BENCH_TAIL:-5}"
STABLE=$((PARENTS / 2))    # parents 1..STABLE are never deleted; children are added to / moved to them
CL="$BASE/cluster"

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
    [ "$rc" = 0 ] || echo "type_change.sh: FAILED (exit $rc); files in ${OUT:-$BASE}" >&2
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
COMMAND="bash bench/type_change.sh (BENCH_PARENTS=$PARENTS BENCH_CHILD_A=$CHILD_A BENCH_CHILD_B=$CHILD_B BENCH_CLIENTS=$CLIENTS BENCH_RATE=$RATE BENCH_WINDOW=$WINDOW BENCH_LEAD=$LEAD_S BENCH_TAIL=$TAIL_S)"
{
    bench_machine_facts "$COMMAND"
    echo "application: pgbench -n -M prepared -c $CLIENTS -j 2 -R $RATE --log, one session per client for the whole conversion"
    echo "tables: parent $PARENTS rows (int identity key), child_a $CHILD_A rows (ON DELETE CASCADE, index on parent_id), child_b $CHILD_B rows (NOT NULL, index on (parent_id, kind))"
} | tee "$OUT/machine.txt"

# The type change procedures come with CREATE EXTENSION, whose C functions load $libdir/safe_ddl,
# so the cluster preloads the installed library by name: do not reinstall safe_ddl while this runs.
STARTED=1
cluster_start "$CL" "$PORT" \
    "shared_buffers = 512MB" \
    "max_wal_size = 8GB" \
    "checkpoint_timeout = 30min" \
    "maintenance_work_mem = 256MB" \
    "log_lock_waits = on" \
    "log_autovacuum_min_duration = 0" \
    "log_checkpoints = on" \
    "log_min_messages = notice"
cluster_psql "$CL" "$PORT" -q -d postgres -c "CREATE DATABASE bench"

echo
echo "=== load: $PARENTS parents, $CHILD_A child_a, $CHILD_B child_b rows ==="
t_load=$(now)
# Setup is not what is measured: the guard is off for it; keys and indexes after the rows.
bpsql setup -q -v ON_ERROR_STOP=1 <<SQL
CREATE EXTENSION safe_ddl;
ALTER DATABASE bench SET safe_ddl.usage_window = '${WINDOW}s';
SET safe_ddl.mode = off;
CREATE TABLE parent (id int GENERATED ALWAYS AS IDENTITY, name text NOT NULL, score int NOT NULL DEFAULT 0);
CREATE TABLE child_a (id bigint GENERATED ALWAYS AS IDENTITY, parent_id int, qty int NOT NULL);
CREATE TABLE child_b (id bigint GENERATED ALWAYS AS IDENTITY, parent_id int NOT NULL, kind text NOT NULL);
INSERT INTO parent (name, score) SELECT 'p' || g, g % 100 FROM generate_series(1, $PARENTS) g;
INSERT INTO child_a (parent_id, qty) SELECT (g - 1) % $PARENTS + 1, g % 7 FROM generate_series(1, $CHILD_A) g;
INSERT INTO child_b (parent_id, kind) SELECT ((g - 1) * 5) % $PARENTS + 1, 'k' || g % 5 FROM generate_series(1, $CHILD_B) g;
ALTER TABLE parent ADD PRIMARY KEY (id);
ALTER TABLE child_a ADD PRIMARY KEY (id);
ALTER TABLE child_b ADD PRIMARY KEY (id);
ALTER TABLE child_a ADD FOREIGN KEY (parent_id) REFERENCES parent ON DELETE CASCADE;
ALTER TABLE child_b ADD FOREIGN KEY (parent_id) REFERENCES parent;
CREATE INDEX child_a_parent_id_idx ON child_a (parent_id);
CREATE INDEX child_b_parent_id_kind_idx ON child_b (parent_id, kind);
VACUUM (ANALYZE) parent, child_a, child_b;
CHECKPOINT;
SQL
echo "loaded in $(elapsed "$t_load") s; sizes: $(bpsql size -At -c "SELECT string_agg(c || ' ' || pg_size_pretty(pg_total_relation_size(c)), ', ') FROM unnest('{parent,child_a,child_b}'::regclass[]) AS c")" \
    | tee -a "$OUT/machine.txt"
filenodes() { bpsql filenodes -At -c "SELECT string_agg(c || '=' || pg_relation_filenode(c), ' ' ORDER BY c) FROM unnest('{parent,child_a,child_b}'::regclass[]) AS c"; }
FILENODES_BEFORE=$(filenodes)

cat >"$OUT/ins_family.sql" <<'EOF'
\set q random(1, 9)
WITH p AS (INSERT INTO parent (name) VALUES ('new') RETURNING id),
     a AS (INSERT INTO child_a (parent_id, qty) SELECT id, :q FROM p)
INSERT INTO child_b (parent_id, kind) SELECT id, 'new' FROM p;
EOF
cat >"$OUT/ins_child.sql" <<EOF
\set p random(1, $STABLE)
INSERT INTO child_a (parent_id, qty) VALUES (:p, 1);
INSERT INTO child_b (parent_id, kind) VALUES (:p, 'added');
EOF
cat >"$OUT/update.sql" <<EOF
\set p random(1, $STABLE)
\set c random(1, $CHILD_A)
\set c2 random(1, $CHILD_A)
\set p2 random(1, $STABLE)
BEGIN;
UPDATE parent SET score = score + 1 WHERE id = :p;
UPDATE child_a SET qty = qty + 1 WHERE id = :c;
END;
UPDATE child_a SET parent_id = :p2 WHERE id = :c2;
UPDATE child_b SET kind = 'updated' WHERE parent_id = :p AND kind = 'k1';
EOF
cat >"$OUT/delete.sql" <<EOF
\set d random($((STABLE + 1)), $PARENTS)
BEGIN;
DELETE FROM child_b WHERE parent_id = :d;
DELETE FROM parent WHERE id = :d;
END;
EOF
cat >"$OUT/join.sql" <<EOF
\set p random(1, $PARENTS)
SELECT p.name, p.score, count(DISTINCT a.id) AS a_rows, count(DISTINCT b.id) AS b_rows
  FROM parent AS p JOIN child_a AS a ON a.parent_id = p.id LEFT JOIN child_b AS b ON b.parent_id = p.id
 WHERE p.id = :p GROUP BY p.name, p.score;
SELECT count(*) FROM child_a AS a JOIN parent AS p ON p.id = a.parent_id WHERE a.id BETWEEN :p AND :p + 20;
EOF
chown postgres:postgres "$OUT"/*.sql

echo
echo "=== conversion under pgbench -M prepared -c $CLIENTS -R $RATE ==="
T0=$(now)
echo "$T0" >"$OUT/t0"
# as root (a root-owned log), straight into the cluster's socket, so that the kill reaches it
"$PGBIN/pgbench" -h "$CL/sock" -p "$PORT" -U postgres -n -M prepared -c "$CLIENTS" -j 2 -R "$RATE" \
    -T 36000 -P 5 --log --log-prefix="$OUT/app" \
    -f "$OUT/ins_family.sql@2" -f "$OUT/ins_child.sql@1" -f "$OUT/update.sql@3" \
    -f "$OUT/delete.sql@1" -f "$OUT/join.sql@3" bench >"$OUT/pgbench.out" 2>"$OUT/pgbench.err" &
PGBENCH_PID=$!
BG_PIDS+=("$PGBENCH_PID")
vmstat -n 5 >"$OUT/vmstat.txt" 2>&1 &
BG_PIDS+=("$!")
sleep_until "$T0" "$LEAD_S"

STEPS=()
# step NAME SQL: run SQL in a session of its own; "NAME start_s end_s rc" (s since T0) to steps.txt
step() {
    local name="$1" sql="$2" a b rc=0
    a=$(now)
    bpsql "$name" -v ON_ERROR_STOP=1 -c "SET statement_timeout = 0" -c '\timing on' -c "$sql" >"$OUT/$name.out" 2>&1 || rc=$?
    b=$(now)
    STEPS+=("$name")
    awk -v n="$name" -v a="$a" -v b="$b" -v t0="$T0" -v rc="$rc" 'BEGIN { printf "%s %.3f %.3f %d\n", n, a - t0, b - t0, rc }' >>"$OUT/steps.txt"
    printf '%-18s %8.2f s  (t=%s s)%s\n' "$name" "$(awk -v a="$a" -v b="$b" 'BEGIN { print b - a }')" \
        "$(awk -v a="$a" -v t0="$T0" 'BEGIN { printf "%.1f", a - t0 }')" "$([ "$rc" = 0 ] || echo "  FAILED: $(grep -m1 ERROR "$OUT/$name.out")")"
    [ "$rc" = 0 ] || { echo "step $name failed; the conversion stops here (output: $OUT/$name.out)" >&2; return 1; }
}

: >"$OUT/steps.txt"
CONVERSION_OK=1
step begin "SELECT safe_ddl.begin_type_change('parent', 'id', 'bigint')" || CONVERSION_OK=0
if [ "$CONVERSION_OK" = 1 ]; then
    mapfile -t CALLS < <(grep -E '^ *CALL safe_ddl\.backfill' "$OUT/begin.out" | sed -E 's/^ +//; s/ +$//')
    for c in "${CALLS[@]}"; do
        tbl=$(grep -oE "public\.[a-z_]+|'[a-z_]+'" <<<"$c" | head -1 | tr -d "'" | sed 's/^public\.//')
        step "backfill_$tbl" "$c" || { CONVERSION_OK=0; break; }
    done
fi
# prepare_type_change returns the statements still to run (CREATE INDEX CONCURRENTLY, CALL
# safe_ddl.set_not_null): each one is a step of its own here (psql's \gexec would run them the same way).
if [ "$CONVERSION_OK" = 1 ]; then
    bpsql prepare_list -At -v ON_ERROR_STOP=1 -c "SELECT safe_ddl.prepare_type_change('parent', 'id')" >"$OUT/prepare_list.out" 2>&1 \
        || { echo "prepare_type_change failed: $(cat "$OUT/prepare_list.out")" >&2; CONVERSION_OK=0; }
    mapfile -t PREPS < <(grep -E '^(CREATE|CALL|DROP)' "$OUT/prepare_list.out")
    for s in "${PREPS[@]}"; do
        case "$s" in
            CREATE*INDEX*) n="prepare_index_$(awk '{ for (i = 1; i <= NF; i++) if ($i == "CONCURRENTLY") { print $(i + 1); exit } }' <<<"$s")" ;;
            *set_not_null*) n="prepare_not_null_$(grep -oE "'[^']+'" <<<"$s" | head -1 | tr -d "'" | sed 's/^public\.//')" ;;
            *) n="prepare_other" ;;
        esac
        step "$n" "$s" || { CONVERSION_OK=0; break; }
    done
fi
[ "$CONVERSION_OK" = 0 ] || step swap "CALL safe_ddl.swap_type_change('parent', 'id')" || CONVERSION_OK=0
if [ "$CONVERSION_OK" = 1 ]; then
    sleep $((WINDOW + 1))
    step finish "CALL safe_ddl.finish_type_change('parent', 'id')" || CONVERSION_OK=0
fi
sleep "$TAIL_S"
T_END=$(now)
kill -TERM "${BG_PIDS[@]}" 2>/dev/null || true
for pid in "${BG_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
BG_PIDS=()
cut -d' ' -f1-3 /proc/loadavg >"$OUT/loadavg_end"

# --- the final state ----------------------------------------------------------------------------------
FILENODES_AFTER=$(filenodes)
bpsql final -At -F ' ' >"$OUT/final.txt" 2>&1 <<'SQL' || true
SELECT 'types', string_agg(attrelid::regclass || '.' || attname || '=' || format_type(atttypid, atttypmod), ' ' ORDER BY attrelid::regclass::text)
  FROM pg_attribute WHERE (attrelid, attname) IN (('parent'::regclass, 'id'), ('child_a'::regclass, 'parent_id'), ('child_b'::regclass, 'parent_id'));
SELECT 'leftover_columns', count(*) FROM pg_attribute
 WHERE attrelid IN ('parent'::regclass, 'child_a'::regclass, 'child_b'::regclass) AND attname ~ '_(old|new)$' AND NOT attisdropped;
SELECT 'status', string_agg(table_name || ':' || step, ' ' ORDER BY table_name::text) FROM safe_ddl.type_change_status('parent', 'id');
SELECT 'not_validated', count(*) FROM pg_constraint WHERE conrelid IN ('parent'::regclass, 'child_a'::regclass, 'child_b'::regclass) AND NOT convalidated;
SELECT 'sequence', format_type(seqtypid, NULL) FROM pg_sequence WHERE seqrelid = pg_get_serial_sequence('parent', 'id')::regclass;
BEGIN;
INSERT INTO parent (id, name) OVERRIDING SYSTEM VALUE VALUES (3000000000, 'big');
INSERT INTO child_a (parent_id, qty) VALUES (3000000000, 1);
INSERT INTO child_b (parent_id, kind) VALUES (3000000000, 'big');
SELECT 'id_past_2^31', count(*) FROM child_a JOIN child_b USING (parent_id) WHERE parent_id = 3000000000;
ROLLBACK;
SELECT 'orphans', (SELECT count(*) FROM child_a AS a WHERE a.parent_id IS NOT NULL AND NOT EXISTS (SELECT FROM parent AS p WHERE p.id = a.parent_id))
                + (SELECT count(*) FROM child_b AS b WHERE NOT EXISTS (SELECT FROM parent AS p WHERE p.id = b.parent_id));
SQL
cluster_stop "$CL"
STARTED=0
cp "$CL/server.log" "$OUT/server.log"
grep -q "terminated by signal" "$OUT/server.log" && echo "WARNING: the server crashed; see $OUT/server.log" >&2

# --- numbers ---------------------------------------------------------------------------------------------
# pgbench was stopped with SIGTERM: a log file's last line may be cut; whole lines only, file by file.
for f in "$OUT"/app.*; do awk '(NF == 6 || NF == 7) && $5 > 1000000000' "$f"; done >"$OUT/app_log"
txn_events "$T0" "$OUT/app_log" >"$OUT/events"
t_end=$(awk -v t0="$T0" -v e="$T_END" 'BEGIN { printf "%.3f", e - t0 }')
per_second "$OUT/events" 0 "$(awk -v e="$t_end" 'BEGIN { printf "%d", e + 1 }')" >"$OUT/per_second.dat"
aborted=$(grep -c -E 'aborted|error' "$OUT/pgbench.err" || true)

# per step: name,start_s,end_s,wall_s,rc,txns,p50_ms,p99_ms,max_ms,max_once_sent_ms,gt100ms,gt500ms,failed
: >"$OUT/summary.csv"
summarize() {
    local name="$1" a="$2" b="$3" rc="$4" s n p50 p99 mx g100 g1s mx_at x g500 failed
    s=$(lat_summary "$OUT/events" "$a" "$b")
    read -r n p50 p99 mx g100 g1s mx_at <<<"$s"
    x=$(awk -v t0="$T0" -v a="$a" -v b="$b" 'NF >= 6 && $3 ~ /^[0-9]+$/ {
            e = ($5 - int(t0)) + $6 / 1e6 - (t0 - int(t0)); x = $3 - (NF >= 7 ? $7 : 0)
            if (e - $3 / 1e6 <= b && e >= a && x > m) m = x }
        END { printf "%.3f", m / 1000 }' "$OUT/app_log")
    g500=$(awk -v a="$a" -v b="$b" '$1 <= b && $2 >= a && $3 > 500 { n++ } END { print n + 0 }' "$OUT/events")
    failed=$(awk -v t0="$T0" -v a="$a" -v b="$b" 'NF >= 6 && $3 !~ /^[0-9]+$/ { e = $5 + $6 / 1e6 - t0; if (e >= a && e <= b) n++ } END { print n + 0 }' "$OUT/app_log")
    echo "$name,$a,$b,$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", b - a }'),$rc,$n,$p50,$p99,$mx,$x,$g100,$g500,$failed" >>"$OUT/summary.csv"
}
summarize whole_run 0 "$t_end" 0
while read -r name a b rc; do summarize "$name" "$a" "$b" "$rc"; done <"$OUT/steps.txt"
conv_a=$(awk 'NR == 1 { print $2 }' "$OUT/steps.txt")
conv_b=$(awk 'END { print $3 }' "$OUT/steps.txt")
summarize conversion "$conv_a" "$conv_b" "$([ "$CONVERSION_OK" = 1 ] && echo 0 || echo 1)"

# The swap's parts: each table's swap transaction and each foreign key's validation, from the
# server log's timestamps of the swap's NOTICEs ("swapped <table>", "validated <fk> on <table>"),
# each part from the end of the one before (the first from the CALL's start).
python3 - "$OUT/server.log" "$T0" "$OUT/steps.txt" >"$OUT/swap_parts.txt" <<'PY'
import re, sys
from datetime import datetime, timezone
log, t0, steps = sys.argv[1], float(sys.argv[2]), sys.argv[3]
swap = [l.split() for l in open(steps) if l.startswith("swap ")]
if not swap:
    sys.exit(0)
prev = float(swap[0][1])
pat = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+) UTC .*NOTICE:  safe_ddl\.swap_type_change: (swapped (\S+)|validated (\S+) on (\S+))$")
for line in open(log):
    m = pat.match(line.rstrip("\n"))
    if not m:
        continue
    t = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=timezone.utc).timestamp() - t0
    name = f"swap:{m.group(3)}" if m.group(3) else f"validate:{m.group(4)}"
    print(f"{name} {prev:.3f} {t:.3f} 0")
    prev = t
PY
while read -r name a b rc; do summarize "  $name" "$a" "$b" "$rc"; done <"$OUT/swap_parts.txt"

HEADER="step,start_s,end_s,wall_s,rc,txns,p50_ms,p99_ms,max_ms,max_once_sent_ms,gt100ms,gt500ms,failed"
{ echo "$HEADER"; cat "$OUT/summary.csv"; } >"$RESULTS/type_change_summary.csv"
{
    echo "t,tps,started,p50_ms,p99_ms,max_ms,wait_ms"
    awk '!/^#/ { printf "%s,%s,%s,%s,%s,%s,%s\n", $1, $2, $3, $4, $5, $6, $7 }' "$OUT/per_second.dat"
} >"$RESULTS/type_change.csv"

fmt_ms() { awk -v x="$1" 'BEGIN { if (x == "NaN" || x == "") print "-"; else if (x >= 1000) printf "%.2f s", x / 1000; else printf "%.1f", x }'; }
swap_max=$(awk -F, '$1 == "swap" { print $9 }' "$OUT/summary.csv")
# the slowest application transaction in flight during any table's swap transaction
swaps_max=$(awk -F, '$1 ~ /^  swap:/ { if ($9 > m) m = $9; n++ } END { if (n) print m }' "$OUT/summary.csv")
{
    echo "# bench/type_change.sh: int -> bigint key of parent (referenced by child_a, child_b) keeping its name, under pgbench -M prepared"
    echo
    cat "$OUT/machine.txt"
    echo "load average (1/5/15 min) at the end: $(cat "$OUT/loadavg_end")"
    echo "raw files: $OUT"
    echo
    echo "| step | wall s | t = s | app txns | p50 ms | p99 ms | max ms | max once sent ms | > 100 ms | > 500 ms | failed |"
    echo "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    while IFS=, read -r name a b wall rc n p50 p99 mx x g100 g500 failed; do
        label="$name"; [ "$rc" = 0 ] || label="$name (**failed**)"
        case "$name" in whole_run|conversion) label="*$label*" ;; "  "*) label="&nbsp;&nbsp;${label# }" ;; esac
        echo "| $label | $wall | $(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.1f-%.1f", a, b }') | $n | $(fmt_ms "$p50") | $(fmt_ms "$p99") | $(fmt_ms "$mx") | $(fmt_ms "$x") | $g100 | $g500 | $failed |"
    done <"$OUT/summary.csv"
    echo
    echo "app txns = application transactions in flight at some point of the step (whole_run: all of them; conversion: from"
    echo "begin's start to finish's end). Latency as pgbench logs it with -R: from the scheduled start, so it includes waiting"
    echo "for the client's previous transaction; 'max once sent' leaves that lag out. failed = log lines without a latency."
    echo "pgbench stderr lines naming an error or an aborted client: $aborted"
    echo "relfilenodes before: $FILENODES_BEFORE; after: $FILENODES_AFTER ($([ "$FILENODES_BEFORE" = "$FILENODES_AFTER" ] && echo unchanged || echo CHANGED))"
    echo "final state:"
    sed 's/^/    /' "$OUT/final.txt"
    echo
    echo "## Goal (issue 18)"
    if [ "$CONVERSION_OK" = 1 ] && [ -n "$swaps_max" ] && awk -v m="$swaps_max" 'BEGIN { exit !(m < 500) }'; then v=MET; else v="NOT MET"; fi
    echo "* the application's max latency during every table's swap under 500 ms on $PARENTS rows: $(fmt_ms "${swaps_max:-NaN}") ms ($(awk -F, '$1 ~ /^  swap:/ { sub(/^  swap:/, "", $1); printf "%s%s %.1f ms", sep, $1, $9; sep = ", " }' "$OUT/summary.csv")): **$v**"
    echo "* during the whole swap CALL (every table's swap and the validations): max $(fmt_ms "$swap_max") ms"
    echo "* failed application transactions over the whole run: $(awk -F, '$1 == "whole_run" { print $13 }' "$OUT/summary.csv"), pgbench error/abort lines: $aborted"
    for s in "${STEPS[@]}"; do
        echo
        echo "## $s"
        echo "output (the first 12 and the last 12 lines; all of it in $OUT/$s.out):"
        awk '{ line[NR] = $0 } END { for (i = 1; i <= NR; i++) { if (i == 13 && NR > 24) { printf "    [... %d lines ...]\n", NR - 24; i = NR - 12; continue } print "    " line[i] } }' "$OUT/$s.out"
    done
} >"$RESULTS/type_change.txt"

# Plot: per second, the application's max and p99 latency (by start second) and the longest wait in
# progress, log scale; each step shaded with its name; 500 ms dashed.
{
    echo "set terminal pngcairo noenhanced size 1400,600 font 'DejaVu Sans,9'"
    echo "set output '$RESULTS/type_change.png'"
    echo "set datafile missing 'NaN'"
    echo "set title \"safe_ddl type change: parent.id int -> bigint ($PARENTS parents, $CHILD_A child_a, $CHILD_B child_b rows) under pgbench -M prepared -c $CLIENTS -R $RATE ($(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs)\""
    echo "set grid"
    echo "set logscale y"
    echo "set yrange [0.1:100000]"
    echo "set ylabel 'application latency, ms (log)'"
    echo "set xlabel 't = s since pgbench started'"
    echo "set xrange [0:$(awk -v e="$t_end" 'BEGIN { printf "%d", e + 1 }')]"
    echo "set key bottom right font ',8'"
    echo "set arrow 1 from graph 0, first 500 to graph 1, first 500 nohead dt 2 lc rgb 'gray30'"
    k=0
    colors=("#c6dbef" "#fdd0a2" "#c7e9c0" "#dadaeb" "#fcbba1" "#d9d9d9" "#fee391" "#a1d99b")
    while read -r name a b rc; do
        k=$((k + 1))
        short=$(sed -E 's/^backfill_/backfill /; s/^prepare_index_(.*)_new$/CIC \1/; s/^prepare_not_null_/NOT NULL /' <<<"$name")
        fill="${colors[$(((k - 1) % ${#colors[@]}))]}"; [ "$name" = swap ] && fill="#fb6a4a"
        echo "set object $k rect from $a, graph 0 to $b, graph 1 behind fc rgb '$fill' fs solid 0.7 noborder"
        echo "set label $k '$short' at $a, graph $(awk -v k="$k" 'BEGIN { printf "%.3f", 0.97 - 0.045 * ((k - 1) % 7) }') left offset 0.3,0 font ',8'"
    done <"$OUT/steps.txt"
    awk '$6 == "NaN" { print ""; next } { print }' "$OUT/per_second.dat" >"$OUT/max.dat"
    echo "plot '$OUT/max.dat' using 1:6 with linespoints pt 7 ps 0.3 lw 1.2 lc rgb '#d62728' title 'max latency (by start second)', '$OUT/max.dat' using 1:5 with lines lw 1 lc rgb '#2ca02c' title 'p99', '$OUT/per_second.dat' using 1:7 with lines lw 1 lc rgb '#1f77b4' title 'longest wait in progress'"
} >"$OUT/type_change.gp"
gnuplot "$OUT/type_change.gp"

echo
sed -n '/^| step/,/^$/p' "$RESULTS/type_change.txt"
sed -n '/^## Goal/,/^$/p' "$RESULTS/type_change.txt"
echo "results: $RESULTS/type_change.txt, type_change.csv, type_change_summary.csv, type_change.png; raw files: $OUT"
[ "$CONVERSION_OK" = 1 ]
