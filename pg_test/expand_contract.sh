#!/usr/bin/env bash
# Expand/contract helpers on a real cluster, under load and interrupted (issue 7,
# docs/expand-contract.md). On a throwaway cluster:
#
# (a) an int -> bigint change of a populated table, end to end, while pgbench writes it:
#     - "old code" (pgbench, 2 clients) increments v and inserts rows naming v, logging every
#       increment and insert in the same transaction;
#     - safe_ddl.begin_column_change('items', 'v', 'v_big', 'bigint') under that load, then the
#       backfill it prints (CALL safe_ddl.backfill ...);
#     - "new code" (pgbench, 2 clients) starts, incrementing v_big and inserting rows naming only
#       v_big, side by side with the old code; then the old code stops;
#     - finish_column_change is refused while v was used within safe_ddl.usage_window (5 s
#       here), then, the window passed, succeeds while the new code keeps writing;
#   checks: pgbench (every run) exit 0, 0 failed transactions, nothing on stderr; both columns in
#   step while both ran; after the finish every original row's v_big = its start value + every
#   logged increment (old and new code), every logged insert is there with its value; v is gone,
#   v_big is bigint and takes values beyond int; the relfilenode never changed (no rewrite).
# (b) each multi-step recipe interrupted in the middle and called again:
#     - set_not_null / add_check / add_foreign_key: an event trigger (this test's) stretches the
#       first step's transaction (ADD CONSTRAINT ... NOT VALID) to 2 s; meanwhile a second session
#       queues for SHARE UPDATE EXCLUSIVE, which it gets the moment that step commits, so the
#       VALIDATE step waits; the CALL is cancelled (pg_cancel_backend) or its backend terminated
#       (pg_terminate_backend) there. The NOT VALID constraint is committed; the same CALL again
#       goes on from it ("going on with constraint") and completes: one constraint, validated
#       (set_not_null: the column NOT NULL, its helper CHECK gone);
#     - begin_column_change / rename_table (one transaction each): terminated while waiting for
#       their lock behind an open transaction, they leave nothing behind; called again they work.
# Each check prints PASS; the first failure prints FAIL and exits non-zero. About 45 s.
#
# Usage: bash pg_test/expand_contract.sh [PORT]   (default 55424; as root or postgres)
# Needs the extension installed (pg_test/lib/install.sh). The cluster lives in
# /tmp/expand_contract (own Unix socket directory, no TCP) and is removed on success; after a
# failure (or with EXPAND_CONTRACT_KEEP=1) the directory is kept for the logs.
set -euo pipefail
cd "$(dirname "$0")/.."
. pg_test/lib/cluster.sh

PORT="${1:-55424}"
DIR="${EXPAND_CONTRACT_DIR:-/tmp/expand_contract}"
C="$DIR/cluster"
ROWS=100000
CLIENTS=2
ROUND=2            # seconds per pgbench run (runs are repeated until a flag file appears)
WINDOW=5           # safe_ddl.usage_window for the test database, seconds
OLD_PID=""
NEW_PID=""
BG_PIDS=()
OK=0

cleanup() {
    touch "$DIR/old.stop" "$DIR/new.stop" 2>/dev/null || true
    if [ -f "$C/data/postmaster.pid" ]; then
        as_postgres "$PGBIN/pg_ctl" -D "$C/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    local p
    for p in $OLD_PID $NEW_PID "${BG_PIDS[@]}"; do
        if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then kill "$p" 2>/dev/null || true; fi
    done
    wait 2>/dev/null || true
    if [ "$OK" != 1 ]; then
        echo "expand_contract: FAILED; logs kept in $DIR (cluster/server.log, *.out, *.err, pgbench_*)" >&2
    elif [ -n "${EXPAND_CONTRACT_KEEP:-}" ]; then
        echo "expand_contract: logs kept in $DIR"
    else
        rm -rf "$DIR"
    fi
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# q SQL: values from the test database (unaligned, tuples only, fields separated by spaces).
q() { cluster_psql "$C" "$PORT" -d ec -qAt -F ' ' -v ON_ERROR_STOP=1 -c "$1"; }

# check DESCRIPTION SQL: SQL must return t.
check() {
    local got
    got="$(q "$2" 2>&1)" || fail "$1: $got"
    [ "$got" = t ] || fail "$1 (got: $got)"
    echo "PASS: $1"
}

# wait_for DESCRIPTION SECONDS SQL: poll until SQL returns t.
wait_for() {
    local i
    for ((i = 0; i < $2 * 20; i++)); do
        [ "$(q "$3" 2>/dev/null || true)" = t ] && return 0
        sleep 0.05
    done
    fail "timed out after $2 s waiting for: $1"
}

rm -rf "$DIR"
mkdir -p "$DIR"
chown postgres:postgres "$DIR" 2>/dev/null || true
cluster_start "$C" "$PORT" "log_min_messages = warning" "deadlock_timeout = '100ms'"
cluster_psql "$C" "$PORT" -d postgres -qAt -c "CREATE DATABASE ec" >/dev/null
q "CREATE EXTENSION safe_ddl" >/dev/null 2>&1
q "ALTER DATABASE ec SET safe_ddl.usage_window = '${WINDOW}s'" >/dev/null
echo "expand_contract: cluster on port $PORT, safe_ddl $(q "SELECT extversion FROM pg_extension WHERE extname = 'safe_ddl'")"

# ================================================================================================
# (a) int -> bigint under load
# ================================================================================================
# The table, filled in the transaction that creates it (no hazard), then in use.
q "CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL DEFAULT 0, note text);
   INSERT INTO items (id, v) SELECT g, g FROM generate_series(1, $ROWS) g;
   CREATE TABLE incs (id int NOT NULL, side text NOT NULL);
   CREATE TABLE inserted (id int PRIMARY KEY, side text NOT NULL, value int NOT NULL);
   CREATE SEQUENCE old_ids START 1000001;
   CREATE SEQUENCE new_ids START 2000001;" >/dev/null
q "VACUUM ANALYZE items" >/dev/null
filenode=$(q "SELECT pg_relation_filenode('items')")

# Old code knows v only; new code knows v_big only. Each logs what it did in its transaction.
cat >"$DIR/old_inc.sql" <<EOF
\set id random(1, $ROWS)
BEGIN;
UPDATE items SET v = v + 1 WHERE id = :id;
INSERT INTO incs VALUES (:id, 'old');
END;
EOF
cat >"$DIR/old_ins.sql" <<EOF
BEGIN;
INSERT INTO items (id, v) VALUES (nextval('old_ids'), 5);
INSERT INTO inserted VALUES (currval('old_ids'), 'old', 5);
END;
EOF
cat >"$DIR/new_inc.sql" <<EOF
\set id random(1, $ROWS)
BEGIN;
UPDATE items SET v_big = v_big + 1 WHERE id = :id;
INSERT INTO incs VALUES (:id, 'new');
END;
EOF
cat >"$DIR/new_ins.sql" <<EOF
BEGIN;
INSERT INTO items (id, v_big) VALUES (nextval('new_ids'), 7);
INSERT INTO inserted VALUES (currval('new_ids'), 'new', 7);
END;
EOF
chown postgres:postgres "$DIR"/*.sql 2>/dev/null || true

# app_load NAME SCRIPTS...: pgbench runs of ROUND seconds, back to back, until DIR/NAME.stop.
app_load() {
    local name="$1" i=0 rc
    shift
    local files=()
    for f in "$@"; do files+=(-f "$DIR/$f"); done
    while :; do
        i=$((i + 1)); rc=0
        as_postgres "$PGBIN/pgbench" -n -h "$C/sock" -p "$PORT" -U postgres -c "$CLIENTS" -j 2 -T "$ROUND" \
            "${files[@]}" ec >"$DIR/pgbench_${name}_$i.out" 2>"$DIR/pgbench_${name}_$i.err" || rc=$?
        echo "$rc" >"$DIR/pgbench_${name}_$i.rc"
        [ -f "$DIR/$name.stop" ] && break
    done
}

app_load old old_inc.sql@9 old_ins.sql@1 &
OLD_PID=$!
sleep 1

# Expand, under the old code's writes.
out="$(q "SELECT safe_ddl.begin_column_change('items', 'v', 'v_big', 'bigint')" 2>"$DIR/begin.err")" \
    || fail "begin_column_change: $(cat "$DIR/begin.err")"
[ "$out" = "CALL safe_ddl.backfill('public.items', 'v_big = (v::bigint)', 'v_big IS DISTINCT FROM CAST((v::bigint) AS bigint)');" ] \
    || fail "begin_column_change returned: $out"
echo "PASS: begin_column_change under load: $out"
check "begin_column_change: v_big bigint added, trigger enabled, no rewrite" \
    "SELECT format_type(a.atttypid, a.atttypmod) = 'bigint' AND s.trigger_enabled AND pg_relation_filenode('items') = $filenode
       FROM pg_attribute AS a, safe_ddl.column_change_status('items', false) AS s
      WHERE a.attrelid = 'items'::regclass AND a.attname = 'v_big'"

# Migrate: the printed backfill, still under the old code's writes.
cluster_psql "$C" "$PORT" -d ec -v ON_ERROR_STOP=1 -c "SET statement_timeout = 0" -c "$out" >"$DIR/backfill.out" 2>&1 \
    || fail "backfill: $(cat "$DIR/backfill.out")"
grep -q "done:" "$DIR/backfill.out" || fail "backfill: no final NOTICE: $(cat "$DIR/backfill.out")"
echo "      $(grep -o 'job .* done: .*' "$DIR/backfill.out")"
check "after the backfill, under the old code's writes: every row in step" \
    "SELECT rows_out_of_step = 0 FROM safe_ddl.column_change_status('items')"

# The new code joins, side by side with the old code, then the old code stops.
app_load new new_inc.sql@9 new_ins.sql@1 &
NEW_PID=$!
sleep 3
check "old and new code side by side: every row in step" \
    "SELECT count(*) FILTER (WHERE v_big IS DISTINCT FROM v) = 0 AND count(*) > $ROWS FROM items"
touch "$DIR/old.stop"
wait "$OLD_PID" || true
OLD_PID=""
n_old_new=$(q "SELECT count(*) FROM incs WHERE side = 'new'")
[ "$n_old_new" -gt 0 ] || fail "the new code made no increments while the old code ran"

# Contract: refused while v was used within the window, then done while the new code writes.
if q "SELECT safe_ddl.finish_column_change('items', 'v')" >"$DIR/finish1.out" 2>&1; then
    fail "finish_column_change succeeded right after the old code stopped: $(cat "$DIR/finish1.out")"
fi
grep -q 'column "v" of public.items was used within safe_ddl.usage_window' "$DIR/finish1.out" \
    || fail "finish_column_change refused for another reason: $(cat "$DIR/finish1.out")"
echo "PASS: finish_column_change refused while v was used within safe_ddl.usage_window ($WINDOW s)"
check "the refused finish changed nothing" \
    "SELECT count(*) = 1 FROM pg_attribute WHERE attrelid = 'items'::regclass AND attname = 'v' AND NOT attisdropped"
sleep $((WINDOW + 1))
q "SELECT safe_ddl.finish_column_change('items', 'v')" >"$DIR/finish2.out" 2>"$DIR/finish2.err" \
    || fail "finish_column_change: $(cat "$DIR/finish2.err")"
echo "PASS: finish_column_change under the new code's writes: $(cat "$DIR/finish2.out")"
sleep 2          # the new code goes on writing without v
touch "$DIR/new.stop"
wait "$NEW_PID" || true
NEW_PID=""

# ---- the application saw no errors --------------------------------------------------------------
runs=0
for rcf in "$DIR"/pgbench_*.rc; do
    base="${rcf%.rc}"
    runs=$((runs + 1))
    [ "$(cat "$rcf")" = 0 ] || fail "$(basename "$base") exited with $(cat "$rcf"): $(cat "$base.err" "$base.out")"
    [ ! -s "$base.err" ] || fail "$(basename "$base") wrote to stderr: $(cat "$base.err")"
    grep -q "^number of failed transactions: 0 " "$base.out" \
        || fail "$(basename "$base"): failed transactions: $(grep -E 'failed|aborted' "$base.out")"
done
echo "PASS: application: $runs pgbench runs (old and new code), exit status 0, 0 failed transactions, no error output"

# ---- no lost writes, no rewrite ------------------------------------------------------------------
read -r n_old n_new n_ins <<<"$(q "SELECT count(*) FILTER (WHERE side = 'old'), count(*) FILTER (WHERE side = 'new'),
                                          (SELECT count(*) FROM inserted) FROM incs")"
echo "      increments: $n_old by the old code, $n_new by the new code; $n_ins rows inserted"
[ "$n_old" -gt 100 ] && [ "$n_new" -gt 100 ] || fail "too little application work to judge ($n_old old, $n_new new increments)"
check "v is gone, v_big is bigint, the trigger and its functions are gone" \
    "SELECT NOT EXISTS (SELECT FROM pg_attribute WHERE attrelid = 'items'::regclass AND attname = 'v' AND NOT attisdropped)
        AND (SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'items'::regclass AND attname = 'v_big') = 'bigint'
        AND NOT EXISTS (SELECT FROM pg_trigger WHERE tgrelid = 'items'::regclass AND NOT tgisinternal)
        AND NOT EXISTS (SELECT FROM pg_proc WHERE proname LIKE '\_safe\_ddl\_cc%')"
check "no lost write: every original row's v_big = start value + all its increments (old and new code)" \
    "SELECT bool_and(i.v_big = i.id + COALESCE(n.incs, 0)) AND count(*) = $ROWS
       FROM items AS i LEFT JOIN (SELECT id, count(*) AS incs FROM incs GROUP BY id) AS n USING (id)
      WHERE i.id <= $ROWS"
check "no lost insert: every logged insert is there with its value, and nothing else" \
    "SELECT (SELECT count(*) FROM items WHERE id > $ROWS) = $n_ins
        AND NOT EXISTS (SELECT FROM inserted AS x LEFT JOIN items AS i USING (id) WHERE i.v_big IS DISTINCT FROM x.value)"
check "no rewrite: the relfilenode of items never changed" "SELECT pg_relation_filenode('items') = $filenode"
q "UPDATE items SET v_big = v_big + 5000000000 WHERE id = 1" >/dev/null
check "v_big holds values beyond int" "SELECT v_big > 5000000000 FROM items WHERE id = 1"
check "the change is recorded as finished" \
    "SELECT status = 'finished' AND finished_at IS NOT NULL FROM safe_ddl.column_changes WHERE relation = 'items'::regclass"

# ================================================================================================
# (b) interrupted and resumed
# ================================================================================================
q "CREATE TABLE custs (id int PRIMARY KEY);
   INSERT INTO custs SELECT generate_series(1, 1000);
   CREATE TABLE recipes (id int PRIMARY KEY, note text, qty int, cust_id int);
   INSERT INTO recipes SELECT g, 'n' || g, g % 50 + 1, g % 1000 + 1 FROM generate_series(1, 50000) g;
   CREATE FUNCTION ec_slow_ddl() RETURNS event_trigger LANGUAGE plpgsql AS \$\$
   BEGIN
       IF current_setting('ec_test.slow_ddl', true) = 'on' THEN PERFORM pg_sleep(2); END IF;
   END \$\$;
   CREATE EVENT TRIGGER ec_slow_ddl ON ddl_command_end WHEN TAG IN ('ALTER TABLE') EXECUTE FUNCTION ec_slow_ddl();" >/dev/null

# start_bg NAME SQL...: a psql session in the background (application_name NAME), each SQL a
# statement of its own; output in DIR/NAME.out, exit status in DIR/NAME.rc.
start_bg() {
    local name="$1"; shift
    local args=()
    for s in "$@"; do args+=(-c "$s"); done
    rm -f "$DIR/$name.rc"
    ( rc=0; cluster_psql "$C" "$PORT" -d "dbname=ec application_name=$name" -v ON_ERROR_STOP=1 "${args[@]}" >"$DIR/$name.out" 2>&1 || rc=$?
      echo "$rc" >"$DIR/$name.rc" ) &
    BG_PIDS+=($!)
}
pid_of() { q "SELECT pid FROM pg_stat_activity WHERE application_name = '$1' AND datname = 'ec'"; }
wait_rc() {
    local i
    for ((i = 0; i < 400; i++)); do [ -f "$DIR/$1.rc" ] && { cat "$DIR/$1.rc"; return 0; }; sleep 0.05; done
    fail "$1 did not end: $(cat "$DIR/$1.out")"
}

# interrupt_validate NAME HOW CALL TABLE CONSTRAINT: run CALL with its first step stretched; once
# it holds its lock, a blocker queues for SHARE UPDATE EXCLUSIVE on TABLE, gets it at the first
# step's commit, and the VALIDATE waits; then HOW (cancel or terminate) the CALL.
interrupt_validate() {
    local name="$1" how="$2" call="$3" table="$4" con="$5" pid bpid rc
    start_bg "${name}_call" "SET ec_test.slow_ddl = on" "$call"
    wait_for "$name: the first step holds its lock on $table" 10 \
        "SELECT EXISTS (SELECT FROM pg_locks AS l JOIN pg_stat_activity AS a USING (pid)
                         WHERE a.application_name = '${name}_call' AND l.relation = '$table'::regclass
                           AND l.granted AND l.mode IN ('AccessExclusiveLock', 'ShareRowExclusiveLock'))"
    start_bg "${name}_blocker" "SET safe_ddl.mode = off" \
        "BEGIN; LOCK TABLE $table IN SHARE UPDATE EXCLUSIVE MODE; SELECT pg_sleep(60); COMMIT;"
    wait_for "$name: VALIDATE waits behind the blocker" 10 \
        "SELECT EXISTS (SELECT FROM pg_locks AS l JOIN pg_stat_activity AS a USING (pid)
                         WHERE a.application_name = '${name}_call' AND l.relation = '$table'::regclass
                           AND NOT l.granted AND l.mode = 'ShareUpdateExclusiveLock')
            AND EXISTS (SELECT FROM pg_constraint WHERE conrelid = '$table'::regclass AND conname = '$con' AND NOT convalidated)"
    pid=$(pid_of "${name}_call")
    q "SELECT pg_${how}_backend($pid)" >/dev/null
    rc=$(wait_rc "${name}_call")
    [ "$rc" != 0 ] || fail "$name: the interrupted CALL succeeded: $(cat "$DIR/${name}_call.out")"
    if [ "$how" = cancel ]; then
        grep -q "canceling statement due to user request" "$DIR/${name}_call.out" || fail "$name: $(cat "$DIR/${name}_call.out")"
    else
        grep -qE "terminating connection|server closed the connection" "$DIR/${name}_call.out" || fail "$name: $(cat "$DIR/${name}_call.out")"
    fi
    bpid=$(pid_of "${name}_blocker")
    q "SELECT pg_cancel_backend($bpid)" >/dev/null
    wait_rc "${name}_blocker" >/dev/null
    check "$name: $how during VALIDATE left the NOT VALID constraint $con" \
        "SELECT count(*) = 1 AND bool_and(NOT convalidated) FROM pg_constraint WHERE conrelid = '$table'::regclass AND conname = '$con'"
    # the same CALL again goes on from it
    cluster_psql "$C" "$PORT" -d ec -v ON_ERROR_STOP=1 -c "$call" >"$DIR/${name}_again.out" 2>&1 \
        || fail "$name: the CALL again failed: $(cat "$DIR/${name}_again.out")"
    grep -q "going on with constraint $con" "$DIR/${name}_again.out" \
        || fail "$name: the CALL again did not go on from $con: $(cat "$DIR/${name}_again.out")"
    echo "PASS: $name: the same CALL again went on from the NOT VALID constraint and completed"
}

interrupt_validate set_not_null cancel "CALL safe_ddl.set_not_null('recipes', 'note')" recipes recipes_note_not_null
check "set_not_null: note is NOT NULL, no helper CHECK left, no duplicate" \
    "SELECT attnotnull AND NOT EXISTS (SELECT FROM pg_constraint WHERE conrelid = 'recipes'::regclass AND contype = 'c')
       FROM pg_attribute WHERE attrelid = 'recipes'::regclass AND attname = 'note'"

interrupt_validate add_check terminate "CALL safe_ddl.add_check('recipes', 'recipes_qty_positive', 'qty > 0')" \
    recipes recipes_qty_positive
check "add_check: one constraint recipes_qty_positive, validated" \
    "SELECT count(*) = 1 AND bool_and(convalidated) FROM pg_constraint
      WHERE conrelid = 'recipes'::regclass AND contype = 'c' AND pg_get_constraintdef(oid) LIKE '%qty > 0%'"

interrupt_validate add_foreign_key cancel "CALL safe_ddl.add_foreign_key('recipes', '{cust_id}', 'custs')" \
    recipes recipes_cust_id_fkey
check "add_foreign_key: one foreign key recipes_cust_id_fkey, validated" \
    "SELECT count(*) = 1 AND bool_and(convalidated AND conname = 'recipes_cust_id_fkey') FROM pg_constraint
      WHERE conrelid = 'recipes'::regclass AND contype = 'f'"

# One-transaction helpers: terminated while waiting for their lock, nothing is left behind.
# interrupt_lock_wait NAME SQL: SQL waits behind an open transaction that read the table.
interrupt_lock_wait() {
    local name="$1" sql="$2" pid rc
    start_bg "${name}_reader" "BEGIN; SELECT count(*) FROM recipes; SELECT pg_sleep(60); COMMIT;"
    wait_for "$name: the reader holds its lock" 10 \
        "SELECT EXISTS (SELECT FROM pg_locks AS l JOIN pg_stat_activity AS a USING (pid)
                         WHERE a.application_name = '${name}_reader' AND l.relation = 'recipes'::regclass AND l.granted)"
    start_bg "${name}_call" "$sql"
    # safe_ddl's stall-free wait: it waits for the reader to end, outside the lock queue
    wait_for "$name: it waits for the reader" 10 \
        "SELECT EXISTS (SELECT FROM pg_stat_activity WHERE application_name = '${name}_call' AND state = 'active'
                          AND wait_event_type IN ('Lock', 'Timeout'))"
    sleep 1
    [ ! -f "$DIR/${name}_call.rc" ] || fail "$name: did not wait behind the reader: $(cat "$DIR/${name}_call.out")"
    pid=$(pid_of "${name}_call")
    q "SELECT pg_terminate_backend($pid)" >/dev/null
    rc=$(wait_rc "${name}_call")
    [ "$rc" != 0 ] || fail "$name: the terminated call succeeded: $(cat "$DIR/${name}_call.out")"
    q "SELECT pg_cancel_backend($(pid_of "${name}_reader"))" >/dev/null
    wait_rc "${name}_reader" >/dev/null
}

interrupt_lock_wait begin_column_change "SELECT safe_ddl.begin_column_change('recipes', 'qty', 'qty_big', 'bigint')"
check "begin_column_change terminated: no column, trigger, function or change row left" \
    "SELECT NOT EXISTS (SELECT FROM pg_attribute WHERE attrelid = 'recipes'::regclass AND attname = 'qty_big')
        AND NOT EXISTS (SELECT FROM pg_trigger WHERE tgrelid = 'recipes'::regclass AND NOT tgisinternal)
        AND NOT EXISTS (SELECT FROM pg_proc WHERE proname LIKE '\_safe\_ddl\_cc%')
        AND NOT EXISTS (SELECT FROM safe_ddl.column_changes WHERE relation = 'recipes'::regclass)"
out="$(q "SELECT safe_ddl.begin_column_change('recipes', 'qty', 'qty_big', 'bigint')" 2>&1)" || fail "begin_column_change again: $out"
check "begin_column_change again: done" \
    "SELECT count(*) = 1 FROM safe_ddl.column_change_status('recipes', false) WHERE status = 'active' AND trigger_enabled"

interrupt_lock_wait rename_table "SELECT safe_ddl.rename_table('recipes', 'formulas')"
check "rename_table terminated: nothing renamed, no view" \
    "SELECT (SELECT relkind FROM pg_class WHERE oid = to_regclass('recipes')) = 'r' AND to_regclass('formulas') IS NULL
        AND NOT EXISTS (SELECT FROM safe_ddl.table_renames)"
out="$(q "SELECT safe_ddl.rename_table('recipes', 'formulas')" 2>&1)" || fail "rename_table again: $out"
check "rename_table again: the table is formulas, recipes a view over it that takes writes" \
    "SELECT (SELECT relkind FROM pg_class WHERE oid = to_regclass('formulas')) = 'r'
        AND (SELECT relkind FROM pg_class WHERE oid = to_regclass('recipes')) = 'v'"
q "INSERT INTO recipes (id, note, qty, cust_id) VALUES (60000, 'via view', 3, 1)" >/dev/null
check "a write through the old name reached the table, with the dual writes" \
    "SELECT qty_big = 3 FROM formulas WHERE id = 60000"

if grep -E "terminated by signal|PANIC:" "$C/server.log"; then
    fail "a backend crashed"
fi
OK=1
echo "expand_contract: all passed"
