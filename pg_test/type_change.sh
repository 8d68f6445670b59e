#!/usr/bin/env bash
# A key type change keeping the name, end to end, under prepared-statement traffic (issue 18,
# docs/expand-contract.md). On a throwaway cluster, database tc:
#
#   parent  (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL,
#            score int NOT NULL DEFAULT 0 CHECK (score >= 0))
#   child_a (id bigint identity PRIMARY KEY, parent_id int REFERENCES parent ON DELETE CASCADE,
#            qty int NOT NULL); index child_a_parent_id_idx (parent_id)
#   child_b (id bigint identity PRIMARY KEY, parent_id int NOT NULL REFERENCES parent,
#            kind text NOT NULL); index child_b_parent_id_kind_idx (parent_id, kind): child_b's
#            parent_id is only the first column of a two-column index (it serves the deletes and
#            the foreign key's checks), so the conversion has to rebuild a multi-column index
#   PARENTS parents; two child_a rows and one child_b row per parent.
#
# pgbench -M prepared (CLIENTS clients, rate-limited) runs ONE session per client from before
# safe_ddl.begin_type_change('parent', 'id', 'bigint') until after finish_type_change, so every
# client's prepared statements were planned against the int columns and are executed after the
# swap. Its scripts insert parents (identity default) with their children, insert children of
# existing parents, update parents and children (a child_a row moved to another parent too),
# delete parents (child_b rows first, child_a by the cascade) and join the three tables.
# No statement of the workload RETURNS (or SELECTs) a changed column: a prepared statement whose
# result includes parent.id / child_*.parent_id fails after the swap with "cached plan must not
# change result type", a PostgreSQL behaviour that no server-side change can avoid (the client
# holds the result's row description). Its INSERTs of parent + children use a data-modifying CTE
# (INSERT ... RETURNING id inside, no result columns outside). That behaviour is shown apart:
# a session PREPAREs SELECT id ... / SELECT * ... / SELECT name ... before the swap and EXECUTEs
# them after it.
# Ids are split so that the workload never fails by design: parents 1..PARENTS/2 are never
# deleted (children are added to and moved to them), PARENTS/2+1..PARENTS are the ones deleted.
#
# Steps, each under the traffic: begin and cancel (nothing left behind), then begin (the CALLs it
# returns), prepare refused before the backfills, each backfill CALL, prepare (SELECT
# safe_ddl.prepare_type_change(...) \gexec), swap, swap again, finish (safe_ddl.usage_window is
# 2 s in tc).
# Checks (each prints PASS; the first failure prints FAIL and exits non-zero):
#   - pgbench: exit 0, 0 failed transactions, no aborted client, nothing on stderr, its run
#     spanned the whole conversion; every script ran;
#   - no rewrite: pg_relation_filenode of parent, child_a and child_b never changed;
#   - the catalog is the one of the same tables created fresh with bigint keys (database fresh):
#     columns (name, type, NOT NULL, default, identity, generated, the identity's sequence and
#     its type/bounds/increment/cache/cycle) compared by NAME, not by position (the converted key
#     is a column added by begin_type_change, so it is the table's last one), constraints (name,
#     type, definition, validated; on 18 NOT NULL constraints too), indexes (name, definition,
#     valid), triggers (user and internal, by function and constraint), functions outside
#     extensions (none);
#   - type_change_status: every column 'done';
#   - ids past 2^31: a parent with OVERRIDING SYSTEM VALUE, children pointing at it, then the
#     identity default itself past 2^31;
#   - no orphans, counts: every child's parent exists; one new parent per insert transaction
#     of the workload, each with its two children.
#   - the prepared-statement session: what an EXECUTE of a statement prepared before the swap
#     returns after it (SELECT id / SELECT *: "cached plan must not change result type", each
#     time until re-PREPAREd; SELECT name: works).
# About 35 s (TYPE_CHANGE_TRAFFIC_S = 30 s of traffic, plus setup and checks; the conversion itself
# takes about 7 s on 2 vCPUs).
#
# Usage: bash pg_test/type_change.sh [PORT]   (default 55496; as root or postgres)
# Needs the extension installed (pg_test/lib/install.sh) into the PostgreSQL of $PG_CONFIG. The
# cluster lives in /tmp/type_change (TYPE_CHANGE_DIR) and is removed on success; after a failure
# (or with TYPE_CHANGE_KEEP=1) the directory is kept for the logs.
set -euo pipefail
cd "$(dirname "$0")/.."
. pg_test/lib/cluster.sh

PORT="${1:-55496}"
DIR="${TYPE_CHANGE_DIR:-/tmp/type_change}"
C="$DIR/cluster"
PARENTS="${TYPE_CHANGE_PARENTS:-20000}"
STABLE=$((PARENTS / 2))            # parents 1..STABLE are never deleted
CLIENTS=4
RATE=400                            # transactions per second, all clients
TRAFFIC_S="${TYPE_CHANGE_TRAFFIC_S:-30}"   # pgbench -T: must outlast the conversion (checked)
WINDOW=2                            # safe_ddl.usage_window of tc, seconds
PGBENCH_PID=""
PREP_PID=""
OK=0

cleanup() {
    touch "$DIR/swapped" "$DIR/prep.stop" 2>/dev/null || true
    if [ -f "$C/data/postmaster.pid" ]; then
        as_postgres "$PGBIN/pg_ctl" -D "$C/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    local p
    for p in $PGBENCH_PID $PREP_PID; do
        if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then kill "$p" 2>/dev/null || true; fi
    done
    wait 2>/dev/null || true
    if [ "$OK" != 1 ]; then
        echo "type_change: FAILED; logs kept in $DIR (cluster/server.log, pgbench.out/.err, *.out)" >&2
    elif [ -n "${TYPE_CHANGE_KEEP:-}" ]; then
        echo "type_change: logs kept in $DIR"
    else
        rm -rf "$DIR"
    fi
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# q SQL [DB]: values (unaligned, tuples only, fields separated by |)
q() { cluster_psql "$C" "$PORT" -d "${2:-tc}" -qAt -v ON_ERROR_STOP=1 -c "$1"; }

# check DESCRIPTION SQL: SQL must return t.
check() {
    local got
    got="$(q "$2" 2>&1)" || fail "$1: $got"
    [ "$got" = t ] || fail "$1 (got: $got)"
    echo "PASS: $1"
}

# step NAME SQL: run SQL (outside a transaction block; psql input, so \gexec works) under the
# traffic; the output in DIR/NAME.out; prints how long it took.
step() {
    local name="$1" sql="$2" t0 rc=0
    t0=$(date +%s.%N)
    printf '%s\n' "SET statement_timeout = 0;" "$sql" |
        cluster_psql "$C" "$PORT" -d "dbname=tc application_name=$name" -v ON_ERROR_STOP=1 >"$DIR/$name.out" 2>&1 || rc=$?
    [ "$rc" = 0 ] || fail "$name: $sql: $(cat "$DIR/$name.out")"
    echo "PASS: $name under the traffic ($(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }') s): $sql"
}

rm -rf "$DIR"
mkdir -p "$DIR"
chown postgres:postgres "$DIR" 2>/dev/null || true
cluster_start "$C" "$PORT" "log_min_messages = warning" "max_connections = 30"
cluster_psql "$C" "$PORT" -d postgres -qAt -c "CREATE DATABASE tc" -c "CREATE DATABASE fresh" >/dev/null
q "CREATE EXTENSION safe_ddl" >/dev/null
q "ALTER DATABASE tc SET safe_ddl.usage_window = '${WINDOW}s'" >/dev/null
echo "type_change: PostgreSQL $PG_MAJOR, cluster on port $PORT, safe_ddl $(q "SELECT extversion FROM pg_extension WHERE extname = 'safe_ddl'")"

# tables TYPE: the three tables with keys of TYPE (the schema the application had, and what it
# would be created as today)
tables() {
    cat <<SQL
CREATE TABLE parent (id $1 GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL,
                     score int NOT NULL DEFAULT 0 CHECK (score >= 0));
CREATE TABLE child_a (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                      parent_id $1 REFERENCES parent ON DELETE CASCADE, qty int NOT NULL);
CREATE INDEX child_a_parent_id_idx ON child_a (parent_id);
CREATE TABLE child_b (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                      parent_id $1 NOT NULL REFERENCES parent, kind text NOT NULL);
CREATE INDEX child_b_parent_id_kind_idx ON child_b (parent_id, kind);
SQL
}
# Setup is not what is tested: the guard is off for it.
{ echo "SET safe_ddl.mode = off;"; tables int; cat <<SQL
INSERT INTO parent (name, score) SELECT 'p' || g, g % 100 FROM generate_series(1, $PARENTS) g;
INSERT INTO child_a (parent_id, qty) SELECT (g + 1) / 2, g % 7 FROM generate_series(1, 2 * $PARENTS) g;
INSERT INTO child_b (parent_id, kind) SELECT g, 'k' || g % 5 FROM generate_series(1, $PARENTS) g;
VACUUM ANALYZE parent, child_a, child_b;
SQL
} | cluster_psql "$C" "$PORT" -d tc -q -v ON_ERROR_STOP=1 >/dev/null
tables bigint | cluster_psql "$C" "$PORT" -d fresh -q -v ON_ERROR_STOP=1 >/dev/null
filenodes() { q "SELECT string_agg(c || '=' || pg_relation_filenode(c), ' ' ORDER BY c) FROM unnest('{parent,child_a,child_b}'::regclass[]) AS c"; }
FILENODES_BEFORE=$(filenodes)

# ---- the application: pgbench -M prepared, one session per client for the whole conversion ----
# Statements return no changed column (see the header). :p is a parent that is never deleted,
# :d one that may be.
cat >"$DIR/ins_family.sql" <<'EOF'
\set q random(1, 9)
WITH p AS (INSERT INTO parent (name) VALUES ('new') RETURNING id),
     a AS (INSERT INTO child_a (parent_id, qty) SELECT id, :q FROM p)
INSERT INTO child_b (parent_id, kind) SELECT id, 'new' FROM p;
EOF
cat >"$DIR/ins_child.sql" <<EOF
\set p random(1, $STABLE)
INSERT INTO child_a (parent_id, qty) VALUES (:p, 1);
INSERT INTO child_b (parent_id, kind) VALUES (:p, 'added');
EOF
cat >"$DIR/update.sql" <<EOF
\set p random(1, $STABLE)
\set c random(1, $((2 * PARENTS)))
\set p2 random(1, $STABLE)
\set c2 random(1, $((2 * PARENTS)))
BEGIN;
UPDATE parent SET score = score + 1 WHERE id = :p;
UPDATE child_a SET qty = qty + 1 WHERE id = :c;
END;
UPDATE child_a SET parent_id = :p2 WHERE id = :c2;
UPDATE child_b SET kind = 'updated' WHERE parent_id = :p AND kind = 'k1';
EOF
cat >"$DIR/delete.sql" <<EOF
\set d random($((STABLE + 1)), $PARENTS)
BEGIN;
DELETE FROM child_b WHERE parent_id = :d;
DELETE FROM parent WHERE id = :d;
END;
EOF
cat >"$DIR/join.sql" <<EOF
\set p random(1, $PARENTS)
SELECT p.name, p.score, count(DISTINCT a.id) AS a_rows, count(DISTINCT b.id) AS b_rows
  FROM parent AS p JOIN child_a AS a ON a.parent_id = p.id JOIN child_b AS b ON b.parent_id = p.id
 WHERE p.id = :p GROUP BY p.name, p.score;
SELECT count(*) FROM child_a AS a JOIN parent AS p ON p.id = a.parent_id WHERE a.id BETWEEN :p AND :p + 20;
EOF
chown postgres:postgres "$DIR"/*.sql 2>/dev/null || true

T0=$(date +%s.%N)
as_postgres "$PGBIN/pgbench" -n -h "$C/sock" -p "$PORT" -U postgres -M prepared -c "$CLIENTS" -j 2 \
    -R "$RATE" -T "$TRAFFIC_S" -P 5 \
    -f "$DIR/ins_family.sql@2" -f "$DIR/ins_child.sql@1" -f "$DIR/update.sql@3" \
    -f "$DIR/delete.sql@1" -f "$DIR/join.sql@3" tc >"$DIR/pgbench.out" 2>"$DIR/pgbench.err" &
PGBENCH_PID=$!
elapsed() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# ---- a session that prepared statements naming parent.id before the swap ----------------------
# It PREPAREs and EXECUTEs, then waits (reading its next statements from a pipe) until the swap
# is done, then EXECUTEs each twice, re-PREPAREs and EXECUTEs again.
(
    echo "PREPARE sel_id(int) AS SELECT id FROM parent WHERE id = \$1;"
    echo "PREPARE sel_star(int) AS SELECT * FROM parent WHERE id = \$1;"
    echo "PREPARE sel_name(int) AS SELECT name FROM parent WHERE id = \$1;"
    echo "EXECUTE sel_id(7); EXECUTE sel_star(7); EXECUTE sel_name(7);"
    echo "SET application_name = 'prepared_before_swap';"
    while [ ! -e "$DIR/swapped" ]; do sleep 0.1; done
    echo "\\echo == after the swap"
    echo "EXECUTE sel_id(7);"
    echo "EXECUTE sel_id(7);"
    echo "EXECUTE sel_star(7);"
    echo "EXECUTE sel_name(7);"
    echo "\\echo == re-prepared"
    echo "DEALLOCATE sel_id;"
    echo "PREPARE sel_id(bigint) AS SELECT id FROM parent WHERE id = \$1;"
    echo "EXECUTE sel_id(7);"
) | cluster_psql "$C" "$PORT" -d "dbname=tc application_name=prepared" -At >"$DIR/prepared.out" 2>&1 &
PREP_PID=$!
for _ in $(seq 1 200); do
    [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'prepared_before_swap'")" = 1 ] && break
    sleep 0.05
done
[ "$(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'prepared_before_swap'")" = 1 ] \
    || fail "the prepared-statement session did not start: $(cat "$DIR/prepared.out")"
sleep 2   # traffic before the first step

# ---- a change begun and cancelled under the traffic: nothing left, the application unharmed ------
q "SELECT safe_ddl.begin_type_change('parent', 'id', 'bigint')" >"$DIR/begin_cancelled.out" 2>&1 \
    || fail "begin_type_change (to cancel): $(cat "$DIR/begin_cancelled.out")"
q "SELECT safe_ddl.cancel_type_change('parent', 'id')" >"$DIR/cancel.out" 2>&1 \
    || fail "cancel_type_change under the traffic: $(cat "$DIR/cancel.out")"
echo "PASS: begin_type_change then cancel_type_change under the traffic: $(tail -1 "$DIR/cancel.out")"
check "the cancel left no shadow column, trigger or function, and rewrote nothing" \
    "SELECT NOT EXISTS (SELECT FROM pg_attribute WHERE attrelid IN ('parent'::regclass, 'child_a'::regclass, 'child_b'::regclass)
                         AND attname ~ '_(old|new)\$' AND NOT attisdropped)
        AND NOT EXISTS (SELECT FROM pg_trigger WHERE tgrelid IN ('parent'::regclass, 'child_a'::regclass, 'child_b'::regclass) AND NOT tgisinternal)
        AND NOT EXISTS (SELECT FROM pg_proc WHERE proname LIKE '\\_safe\\_ddl\\_cc%')
        AND (SELECT string_agg(c || '=' || pg_relation_filenode(c), ' ' ORDER BY c)
               FROM unnest('{parent,child_a,child_b}'::regclass[]) AS c) = '$FILENODES_BEFORE'"

# ---- the conversion, step by step, under the traffic -----------------------------------------------
t=$(date +%s.%N)
q "SELECT safe_ddl.begin_type_change('parent', 'id', 'bigint')" >"$DIR/begin.out" 2>"$DIR/begin.err" \
    || fail "begin_type_change: $(cat "$DIR/begin.err")"
echo "PASS: begin_type_change under the traffic ($(awk -v a="$t" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }') s, t=$(elapsed) s), returned:"
sed 's/^/      /' "$DIR/begin.out"
mapfile -t CALLS <"$DIR/begin.out"
[ "${#CALLS[@]}" = 3 ] || fail "begin_type_change returned ${#CALLS[@]} lines, expected one CALL per column (3)"
for c in "${CALLS[@]}"; do
    [[ "$c" == "CALL safe_ddl.backfill("* ]] || fail "begin_type_change returned something else than a CALL safe_ddl.backfill: $c"
done
[[ "${CALLS[0]}" == *parent\'* ]] && [[ "${CALLS[0]}" != *child_* ]] || fail "the first CALL is not parent's: ${CALLS[0]}"
check "type_change_status: parent, child_a, child_b at step backfill, rows out of step" \
    "SELECT count(*) = 3 AND bool_and(step = 'backfill') AND bool_and(rows_out_of_step > 0)
        AND array_agg(table_name::text ORDER BY table_name::text) = '{child_a,child_b,parent}'
       FROM safe_ddl.type_change_status('parent', 'id')"
check "shadow columns id_new / parent_id_new (bigint, nullable), dual-write triggers, no rewrite" \
    "SELECT count(*) = 3 AND bool_and(format_type(a.atttypid, a.atttypmod) = 'bigint' AND NOT a.attnotnull)
        AND (SELECT count(*) FROM pg_trigger WHERE tgrelid IN ('parent'::regclass, 'child_a'::regclass, 'child_b'::regclass)
                                                AND NOT tgisinternal AND tgenabled <> 'D') = 3
        AND (SELECT string_agg(c || '=' || pg_relation_filenode(c), ' ' ORDER BY c)
               FROM unnest('{parent,child_a,child_b}'::regclass[]) AS c) = '$FILENODES_BEFORE'
       FROM pg_attribute AS a
      WHERE (a.attrelid, a.attname) IN (('parent'::regclass, 'id_new'), ('child_a'::regclass, 'parent_id_new'),
                                        ('child_b'::regclass, 'parent_id_new')) AND NOT a.attisdropped"

# prepare before the backfills: refused, naming the CALLs to run
if q "SELECT safe_ddl.prepare_type_change('parent', 'id')" >"$DIR/prepare_early.out" 2>&1; then
    fail "prepare_type_change before the backfills succeeded: $(cat "$DIR/prepare_early.out")"
fi
grep -qF "CALL safe_ddl.backfill(" "$DIR/prepare_early.out" \
    || fail "prepare_type_change before the backfills: refused without naming the CALLs: $(cat "$DIR/prepare_early.out")"
echo "PASS: prepare_type_change before the backfills refused, naming the CALLs to run: $(grep -m1 -E 'ERROR' "$DIR/prepare_early.out")"

i=0
for c in "${CALLS[@]}"; do
    i=$((i + 1))
    step "backfill_$i" "$c"
    grep -q "done:" "$DIR/backfill_$i.out" || fail "backfill_$i: no final NOTICE: $(cat "$DIR/backfill_$i.out")"
done
check "after the backfills, under the traffic: no row out of step" \
    "SELECT count(*) = 3 AND bool_and(rows_out_of_step = 0) FROM safe_ddl.type_change_status('parent', 'id')"
check "every shadow value equals its column (read directly)" \
    "SELECT NOT EXISTS (SELECT FROM parent WHERE id_new IS DISTINCT FROM id)
        AND NOT EXISTS (SELECT FROM child_a WHERE parent_id_new IS DISTINCT FROM parent_id)
        AND NOT EXISTS (SELECT FROM child_b WHERE parent_id_new IS DISTINCT FROM parent_id)"

# prepare returns the statements still to run (CREATE INDEX CONCURRENTLY cannot run in a function)
step prepare "SELECT safe_ddl.prepare_type_change('parent', 'id') \\gexec"
grep -E '^(CREATE INDEX|CALL)$' "$DIR/prepare.out" | sort | uniq -c | sed 's/^ */      /'
check "prepare again: nothing left to run" "SET client_min_messages = warning; SELECT count(*) = 0 FROM safe_ddl.prepare_type_change('parent', 'id')"
check "after prepare: every column at step swap; indexes on the shadow columns valid; NOT NULL where the old had it" \
    "SELECT (SELECT bool_and(step = 'swap') FROM safe_ddl.type_change_status('parent', 'id'))
        AND (SELECT attnotnull FROM pg_attribute WHERE attrelid = 'parent'::regclass AND attname = 'id_new')
        AND (SELECT attnotnull FROM pg_attribute WHERE attrelid = 'child_b'::regclass AND attname = 'parent_id_new')
        AND NOT (SELECT attnotnull FROM pg_attribute WHERE attrelid = 'child_a'::regclass AND attname = 'parent_id_new')
        AND NOT EXISTS (SELECT FROM pg_index WHERE indrelid IN ('parent'::regclass, 'child_a'::regclass, 'child_b'::regclass)
                                               AND NOT (indisvalid AND indisready))
        AND (SELECT count(*) FROM pg_index AS i JOIN pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
              WHERE a.attname IN ('id_new', 'parent_id_new')) = 3"
check "prepare rewrote nothing" \
    "SELECT string_agg(c || '=' || pg_relation_filenode(c), ' ' ORDER BY c) = '$FILENODES_BEFORE'
       FROM unnest('{parent,child_a,child_b}'::regclass[]) AS c"

step swap "CALL safe_ddl.swap_type_change('parent', 'id')"
touch "$DIR/swapped"
check "after the swap: id and parent_id are bigint, the old columns are id_old / parent_id_old, foreign keys validated" \
    "SELECT (SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'parent'::regclass AND attname = 'id') = 'bigint'
        AND (SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'child_a'::regclass AND attname = 'parent_id') = 'bigint'
        AND (SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'child_b'::regclass AND attname = 'parent_id') = 'bigint'
        AND (SELECT count(*) FROM pg_attribute WHERE (attrelid, attname) IN (('parent'::regclass, 'id_old'),
                ('child_a'::regclass, 'parent_id_old'), ('child_b'::regclass, 'parent_id_old')) AND NOT attisdropped) = 3
        AND NOT EXISTS (SELECT FROM pg_constraint WHERE conrelid IN ('parent'::regclass, 'child_a'::regclass, 'child_b'::regclass)
                                                    AND NOT convalidated)
        AND (SELECT attidentity FROM pg_attribute WHERE attrelid = 'parent'::regclass AND attname = 'id') = 'a'
        AND bool_and(step = 'finish') FROM safe_ddl.type_change_status('parent', 'id')"
step swap_again "CALL safe_ddl.swap_type_change('parent', 'id')"
check "the swap again changed nothing" \
    "SELECT (SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'parent'::regclass AND attname = 'id') = 'bigint'
        AND bool_and(step = 'finish') FROM safe_ddl.type_change_status('parent', 'id')"
sleep $((WINDOW + 1))   # the old columns unused for safe_ddl.usage_window
step finish "CALL safe_ddl.finish_type_change('parent', 'id')"
echo "      conversion done at t=$(elapsed) s of $TRAFFIC_S s of traffic"
sleep 2   # the traffic goes on on the final tables
kill -0 "$PGBENCH_PID" 2>/dev/null \
    || fail "pgbench (-T $TRAFFIC_S) ended before the conversion did: raise TYPE_CHANGE_TRAFFIC_S"
rc=0; wait "$PGBENCH_PID" || rc=$?
PGBENCH_PID=""
wait "$PREP_PID" || true
PREP_PID=""

# ---- the application saw no error ------------------------------------------------------------------
[ "$rc" = 0 ] || fail "pgbench exited with $rc: $(cat "$DIR/pgbench.err" "$DIR/pgbench.out")"
# -P 5 progress lines go to stderr; anything else there is an error
! grep -v '^progress: ' "$DIR/pgbench.err" >/dev/null || fail "pgbench wrote to stderr: $(cat "$DIR/pgbench.err")"
grep -q "^number of failed transactions: 0 " "$DIR/pgbench.out" \
    || fail "pgbench: failed transactions: $(grep -E 'failed|aborted' "$DIR/pgbench.out")"
! grep -qi "aborted" "$DIR/pgbench.out" || fail "pgbench: $(grep -i aborted "$DIR/pgbench.out")"
n_txn=$(awk '/^number of transactions actually processed:/ { print $6 }' "$DIR/pgbench.out")
per_script=$(awk '/^SQL script [0-9]+:/ { s = $4; sub(/.*\//, "", s) } /^ - [0-9]+ transactions/ && s != "" { printf "%s %s, ", s, $2; s = "" }' "$DIR/pgbench.out")
echo "PASS: application (pgbench -M prepared, $CLIENTS sessions for the whole ${TRAFFIC_S} s): exit 0, $n_txn transactions, 0 failed, no aborted client, no error output (${per_script%, })"
awk '/^ - [0-9]+ transactions/ { if ($2 == 0) bad = 1 } END { exit bad }' "$DIR/pgbench.out" \
    || fail "a script of the workload never ran: $per_script"
n_family=$(awk '/^SQL script [0-9]+: .*ins_family.sql/ { s = 1; next } s && /^ - [0-9]+ transactions/ { print $2; exit }' "$DIR/pgbench.out")

# ---- the prepared-statement session --------------------------------------------------------------
# (counted over the whole output: psql's stdout and stderr may interleave out of order in the file)
sed 's/^/      /' "$DIR/prepared.out"
[ "$(grep -c 'ERROR:  cached plan must not change result type' "$DIR/prepared.out")" = 3 ] \
    || fail "prepared before the swap: expected 3 'cached plan must not change result type' errors (SELECT id twice, SELECT * once), got: $(cat "$DIR/prepared.out")"
[ "$(grep -c '^7|p7|' "$DIR/prepared.out")" = 1 ] && [ "$(grep -cx 'p7' "$DIR/prepared.out")" = 2 ] \
    && [ "$(grep -cx '7' "$DIR/prepared.out")" = 2 ] \
    || fail "prepared before the swap: expected SELECT id and SELECT * to work before it, SELECT name before and after it, SELECT id re-prepared after it: $(cat "$DIR/prepared.out")"
echo "PASS: a session that prepared SELECT id / SELECT * FROM parent before the swap gets 'cached plan must not change result type' at each EXECUTE after it (until re-PREPAREd, which works); SELECT name keeps working"

# ---- no rewrite, the catalog of a fresh bigint schema ---------------------------------------------
[ "$(filenodes)" = "$FILENODES_BEFORE" ] || fail "a table was rewritten: before $FILENODES_BEFORE, after $(filenodes)"
echo "PASS: no rewrite: relfilenodes unchanged ($FILENODES_BEFORE)"

# catalog DB: the three tables' catalog, one line per fact, ordered by name (not by position)
catalog() {
    q "WITH t(rel) AS (SELECT unnest('{parent,child_a,child_b}'::regclass[]))
       SELECT 'column ' || a.attrelid::regclass || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
              || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
              || coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '')
              || CASE a.attidentity WHEN 'a' THEN ' GENERATED ALWAYS AS IDENTITY' WHEN 'd' THEN ' GENERATED BY DEFAULT AS IDENTITY' ELSE '' END
              || CASE WHEN a.attgenerated <> '' THEN ' GENERATED ' || a.attgenerated::text ELSE '' END
              || coalesce(' sequence ' || s.seqrelid::regclass || ' AS ' || format_type(s.seqtypid, NULL)
                          || ' MINVALUE ' || s.seqmin || ' MAXVALUE ' || s.seqmax || ' INCREMENT ' || s.seqincrement
                          || ' CACHE ' || s.seqcache || CASE WHEN s.seqcycle THEN ' CYCLE' ELSE '' END, '')
         FROM t JOIN pg_attribute AS a ON a.attrelid = t.rel AND a.attnum > 0 AND NOT a.attisdropped
         LEFT JOIN pg_attrdef AS d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         LEFT JOIN pg_sequence AS s ON s.seqrelid = pg_get_serial_sequence(a.attrelid::regclass::text, a.attname)::regclass
       UNION ALL
       SELECT 'constraint ' || c.conrelid::regclass || ' ' || c.conname || ' ' || c.contype::text || ' '
              || pg_get_constraintdef(c.oid) || CASE WHEN c.convalidated THEN ' validated' ELSE ' NOT VALIDATED' END
              || CASE WHEN c.conindid <> 0 THEN ' index ' || c.conindid::regclass ELSE '' END
         FROM t JOIN pg_constraint AS c ON c.conrelid = t.rel
       UNION ALL
       SELECT 'index ' || i.indexrelid::regclass || ' ' || pg_get_indexdef(i.indexrelid)
              || CASE WHEN i.indisvalid AND i.indisready THEN '' ELSE ' INVALID' END
              || CASE WHEN i.indisprimary THEN ' primary' ELSE '' END
         FROM t JOIN pg_index AS i ON i.indrelid = t.rel
       UNION ALL
       SELECT 'trigger ' || tg.tgrelid::regclass || ' ' || CASE WHEN tg.tgisinternal THEN '(internal)' ELSE tg.tgname END
              || ' ' || tg.tgfoid::regproc || ' type ' || tg.tgtype || ' enabled ' || tg.tgenabled::text
              || coalesce(' constraint ' || (SELECT conname FROM pg_constraint WHERE oid = tg.tgconstraint), '')
         FROM t JOIN pg_trigger AS tg ON tg.tgrelid = t.rel
       UNION ALL
       SELECT 'function ' || p.oid::regprocedure
         FROM pg_proc AS p
        WHERE p.pronamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
          AND NOT EXISTS (SELECT FROM pg_depend WHERE classid = 'pg_proc'::regclass AND objid = p.oid AND deptype = 'e')
       UNION ALL
       SELECT 'sequence ' || c.oid::regclass || ' owned by ' || coalesce((SELECT refobjid::regclass || '.' || a.attname
                FROM pg_depend AS dp JOIN pg_attribute AS a ON a.attrelid = dp.refobjid AND a.attnum = dp.refobjsubid
               WHERE dp.classid = 'pg_class'::regclass AND dp.objid = c.oid AND dp.deptype IN ('a', 'i')), 'nothing')
         FROM pg_class AS c WHERE c.relkind = 'S' AND c.relnamespace = 'public'::regnamespace
       ORDER BY 1" "$1"
}
catalog tc >"$DIR/catalog_converted.txt"
catalog fresh >"$DIR/catalog_fresh.txt"
if ! diff -u "$DIR/catalog_fresh.txt" "$DIR/catalog_converted.txt" >"$DIR/catalog.diff"; then
    fail "the catalog differs from the same tables created with bigint keys (- fresh, + converted):
$(cat "$DIR/catalog.diff")"
fi
echo "PASS: catalog identical to the same tables created fresh with bigint keys ($(wc -l <"$DIR/catalog_fresh.txt") facts: columns by name, constraints, indexes, triggers, functions, sequences):"
grep -E '^(column parent.id|constraint child_[ab] child_[ab]_parent_id_fkey|index (parent_pkey|child_a_parent_id_idx|child_b_parent_id_kind_idx))' \
    "$DIR/catalog_converted.txt" | sed 's/^/      /'
check "column order: the converted keys are the tables' last columns (a new column is always last)" \
    "SELECT (SELECT attname FROM pg_attribute WHERE attrelid = 'parent'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum DESC LIMIT 1) = 'id'
        AND (SELECT attname FROM pg_attribute WHERE attrelid = 'child_a'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum DESC LIMIT 1) = 'parent_id'"
check "type_change_status: every column done" \
    "SELECT count(*) = 3 AND bool_and(step = 'done') FROM safe_ddl.type_change_status('parent', 'id')"
check "no trigger, column or function of the change left (besides the catalog comparison: by name)" \
    "SELECT NOT EXISTS (SELECT FROM pg_attribute WHERE attrelid IN ('parent'::regclass, 'child_a'::regclass, 'child_b'::regclass)
                         AND attname ~ '_(old|new)\$' AND NOT attisdropped)
        AND NOT EXISTS (SELECT FROM pg_trigger WHERE tgname LIKE 'zz\\_safe\\_ddl%')"

# ---- rows: no orphan, every insert of the workload there ----------------------------------------
check "no orphan: every child's parent exists" \
    "SELECT NOT EXISTS (SELECT FROM child_a AS a WHERE a.parent_id IS NOT NULL AND NOT EXISTS (SELECT FROM parent AS p WHERE p.id = a.parent_id))
        AND NOT EXISTS (SELECT FROM child_b AS b WHERE NOT EXISTS (SELECT FROM parent AS p WHERE p.id = b.parent_id))"
check "never-deleted parents all there; one new parent per insert transaction ($n_family), each with its child_a and child_b row" \
    "SELECT (SELECT count(*) FROM parent WHERE id <= $STABLE) = $STABLE
        AND (SELECT count(*) FROM parent WHERE id > $PARENTS) = $n_family
        AND (SELECT count(*) FROM child_a WHERE parent_id > $PARENTS) = $n_family
        AND (SELECT count(*) FROM child_b WHERE parent_id > $PARENTS) = $n_family"
check "deleted parents took their child_a rows (cascade) and child_b rows with them" \
    "SELECT count(*) > 0 AND bool_and(NOT EXISTS (SELECT FROM child_a WHERE parent_id = g) AND NOT EXISTS (SELECT FROM child_b WHERE parent_id = g))
       FROM generate_series($((STABLE + 1)), $PARENTS) AS g WHERE NOT EXISTS (SELECT FROM parent WHERE id = g)"

# ---- ids past 2^31 -------------------------------------------------------------------------------------
q "INSERT INTO parent (id, name) OVERRIDING SYSTEM VALUE VALUES (3000000000, 'big');
   INSERT INTO child_a (parent_id, qty) VALUES (3000000000, 1);
   INSERT INTO child_b (parent_id, kind) VALUES (3000000000, 'big');
   SELECT setval(pg_get_serial_sequence('parent', 'id'), 4000000000);
   INSERT INTO parent (name) VALUES ('identity past 2^31');" >/dev/null 2>"$DIR/big.err" || fail "ids past 2^31: $(cat "$DIR/big.err")"
check "ids past 2^31: a parent (OVERRIDING SYSTEM VALUE) with children pointing at it, the identity default itself" \
    "SELECT (SELECT count(*) FROM child_a AS a JOIN child_b AS b USING (parent_id) JOIN parent AS p ON p.id = a.parent_id WHERE p.id = 3000000000) = 1
        AND (SELECT id FROM parent WHERE name = 'identity past 2^31') = 4000000001"
if q "DELETE FROM parent WHERE id = 3000000000" >"$DIR/big_delete.out" 2>&1; then
    fail "deleting a parent that child_b references succeeded"
fi
grep -q 'violates foreign key constraint "child_b_parent_id_fkey"' "$DIR/big_delete.out" || fail "$(cat "$DIR/big_delete.out")"
q "DELETE FROM child_b WHERE parent_id = 3000000000; DELETE FROM parent WHERE id = 3000000000" >/dev/null
check "the foreign keys act on the new columns: child_b's refuses, child_a's cascades" \
    "SELECT NOT EXISTS (SELECT FROM child_a WHERE parent_id = 3000000000)"

if grep -E "terminated by signal|PANIC:" "$C/server.log"; then
    fail "a backend crashed"
fi
OK=1
echo "type_change: all passed"
