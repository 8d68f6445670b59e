#!/usr/bin/env bash
# Robustness of safe_ddl (issue 8): the guard never crashes a backend, whatever it is given.
# On a throwaway cluster with safe_ddl preloaded:
#   1. corpus: pg_test/robustness/gen_corpus.py writes ~5,800 DDL statements (every ALTER TABLE
#      subcommand form against every kind of relation: quoted, unicode, schema-qualified and
#      injection-looking names, inheritance, partitions, typed, unlogged, temporary and foreign
#      tables, views, materialized views, sequences, missing objects; every CREATE / DROP /
#      REINDEX / CLUSTER / VACUUM form; domains, enums, types; DML under the large_dml guard,
#      PREPARE / EXECUTE). They run through these passes (passes.py), every pass in enforce
#      mode, direct/plpgsql/wire in warn mode, direct/do/rehearse in off mode (a superuser sets
#      safe_ddl.mode; the three modes run in parallel, each on databases of its own):
#        direct    each in a transaction of its own, rolled back, in a savepoint
#                  (ON_ERROR_ROLLBACK); those that cannot run in a transaction block in autocommit
#        check     through safe_ddl.check(), one at a time and 100 per call
#        rehearse  through safe_ddl.rehearse() (runs each in a subtransaction it rolls back)
#        plpgsql   through EXECUTE in a PL/pgSQL function (in its exception block)
#        do, proc  through EXECUTE in DO blocks and in a procedure (CALL)
#        wire      over the extended-query protocol (Parse/Bind/Execute/Sync), each prepared
#                  statement executed twice, plus parameterised DML (generic and custom plans)
#                  and a pipeline
#      Every outcome must be a success or an ERROR/WARNING with a SQLSTATE: no FATAL, PANIC or
#      lost connection (one check), no internal error XX000 (another check).
#   2. bad input that has no deterministic output (the rest is pg_test/regress/sql/bad_input.sql):
#      check() with several MB of SQL, with binary noise, with random garbage.
#   3. privileges that need several logins: lock_report() and the blocking view hide the query
#      text of other users' sessions from a role without pg_read_all_stats, show it with it.
#   4. the guard under load: pgbench (4 clients, prepared statements) on a table while a loop of
#      guarded DDL runs on it (ADD COLUMN, DROP COLUMN with allow, CREATE/DROP INDEX
#      CONCURRENTLY, refused CREATE INDEX and ALTER TYPE): pgbench reports 0 failed transactions
#      and no errors, every allowed DDL succeeds, every hazard is refused with 55000.
#   4b. interrupts of guarded waits and retries (cancel, statement_timeout, in a savepoint,
#      terminate): clean errors, the session (or transaction) goes on, nothing half-done.
#   5. errors raised under the hook keep their SQLSTATE, CONTEXT and fields (as without safe_ddl).
#   6. databases that are not UTF-8 (LATIN1, SQL_ASCII): non-ASCII names intact, no XX000.
#   7. the postmaster never restarted (pg_postmaster_start_time() before/after) and the server
#      log has no "terminated by signal", "server process ... was terminated", PANIC.
# Every check prints PASS or FAIL; the script goes on after a FAIL and exits 1 at the end.
# Takes about 2 minutes on 2 CPUs.
#
# Usage: bash pg_test/robustness.sh [PORT]   (default 54344; as root or postgres)
# The cluster lives in $SAFE_DDL_ROBUST_DIR (default /tmp/safe_ddl_robustness), its own Unix
# socket directory, no TCP; its data directory is always removed at the end, the rest (server
# log, corpus, every pass's output in work/) too on success, kept after a failure or with
# SAFE_DDL_ROBUST_KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
. pg_test/lib/cluster.sh

PORT="${1:-54344}"
DIR="${SAFE_DDL_ROBUST_DIR:-/tmp/safe_ddl_robustness}"
C="$DIR/cluster"
PY=/usr/bin/python3
LOAD_SECONDS="${SAFE_DDL_ROBUST_LOAD_SECONDS:-15}"
failures=()
BG_PIDS=()
T0=$(date +%s)

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; failures+=("$*"); }
cleanup() {
    local p
    for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    cluster_stop "$C" 2>/dev/null || true
    rm -rf "$C/data"   # ~350 MB of throwaway databases; the logs are in $C/server.log and $W
    if [ ${#failures[@]} -ne 0 ] || [ -n "${SAFE_DDL_ROBUST_KEEP:-}" ]; then
        echo "robustness: logs kept in $DIR"
    else
        rm -rf "$DIR"
    fi
}
trap cleanup EXIT

# psql as postgres (or as role $AS) on database $DB
DB=postgres
q() { cluster_psql "$C" "$PORT" -d "$DB" -qAt -v ON_ERROR_STOP=1 "$@"; }
q_as() { local role="$1"; shift; as_postgres "$PGBIN/psql" -X -h "$C/sock" -p "$PORT" -U "$role" -d "$DB" -qAt "$@"; }

rm -rf "$DIR" && mkdir -p "$DIR/work"
cluster_start "$C" "$PORT" "max_connections = 60" "log_min_messages = warning"
chown -R postgres:postgres "$DIR" 2>/dev/null || true
START_TIME="$(q -c 'SELECT pg_postmaster_start_time()')"
echo "robustness: cluster on port $PORT, started $START_TIME"

# ---- 1. the corpus --------------------------------------------------------------------------
W="$DIR/work"
# (copied next to the work files: postgres may not be able to read the checkout)
cp pg_test/robustness/gen_corpus.py pg_test/robustness/passes.py "$DIR/" && chown postgres:postgres "$DIR"/*.py
n_stmts=$(as_postgres "$PY" "$DIR/gen_corpus.py" "$W")
as_postgres "$PY" "$DIR/passes.py" scripts "$W" "$W"
q -c "CREATE DATABASE rob_tpl"
DB=rob_tpl q -c "CREATE EXTENSION safe_ddl" -c "SET safe_ddl.mode = off" -f "$W/fixtures.sql" >/dev/null
# Every pass in enforce mode; in warn and off (where the statements run instead of being
# refused, or the hook only chains) the passes that differ most, to stay within ~3 minutes.
MODES=(enforce warn off)
declare -A PASSES=([enforce]="direct check plpgsql do proc wire" [warn]="direct plpgsql wire" [off]="direct do rehearse")
n_passes=0
for m in "${MODES[@]}"; do
    for p in ${PASSES[$m]}; do q -c "CREATE DATABASE rob_${m}_$p TEMPLATE rob_tpl"; n_passes=$((n_passes + 1)); done
done
echo "robustness: corpus of $n_stmts statements, $n_passes passes (enforce: ${PASSES[enforce]}; warn: ${PASSES[warn]}; off: ${PASSES[off]})"

run_mode() {
    local m="$1" p rc
    for p in ${PASSES[$m]}; do
        rc=0
        if [ "$p" = wire ]; then
            as_postgres "$PY" "$DIR/passes.py" wire "$C/sock" "$PORT" "rob_${m}_$p" "$m" "$W" \
                "$W/$m.$p.wire" >"$W/$m.$p.out" 2>"$W/$m.$p.err" || rc=$?
        else
            as_postgres "$PGBIN/psql" -X -h "$C/sock" -p "$PORT" -d "rob_${m}_$p" -b -At -v mode="$m" \
                -f "$W/$p.sql" >"$W/$m.$p.out" 2>"$W/$m.$p.err" || rc=$?
        fi
        echo "$rc" >"$W/$m.$p.rc"
    done
}
t=$(date +%s)
mode_pids=()
for m in "${MODES[@]}"; do run_mode "$m" & mode_pids+=($!); done
for p in "${mode_pids[@]}"; do wait "$p" || true; done
echo "robustness: corpus passes took $(( $(date +%s) - t )) s"
for m in "${MODES[@]}"; do
    for p in ${PASSES[$m]}; do
        rc=$(cat "$W/$m.$p.rc")
        [ "$rc" = 0 ] || fail "corpus $m/$p: exit status $rc (connection lost?): $(tail -n 3 "$W/$m.$p.err")"
    done
done
echo "outcomes (ERROR/WARNING by SQLSTATE; 55000 = refused by safe_ddl; per pass in $W/summary.txt):"
logs=()
for m in "${MODES[@]}"; do
    for p in ${PASSES[$m]}; do
        case $p in
            wire) logs+=("$W/$m.$p.wire") ;;
            plpgsql) logs+=("$W/$m.$p.out" "$W/$m.$p.err") ;;
            *) logs+=("$W/$m.$p.err") ;;
        esac
    done
done
rc=0; "$PY" pg_test/robustness/passes.py summarize "${logs[@]}" >"$W/summary.txt" || rc=$?
grep -v "^  [a-z]*\.[a-z]*\.[a-z]*:" "$W/summary.txt" | head -n 40   # (per pass: $W/summary.txt)
if [ $rc -ne 1 ]; then
    pass "corpus: no backend crashed, no connection lost, no FATAL or PANIC ($n_stmts statements x $n_passes passes)"
else
    fail "corpus: FATAL, PANIC, lost connections, or the library missing (CRASH lines above)"
fi
if [ $rc -eq 0 ]; then
    pass "corpus: every outcome is a success or an ERROR/WARNING with a proper SQLSTATE (no internal error XX000)"
else
    fail "corpus: internal errors (XX000) instead of proper errors (INTERNAL ERROR lines above)"
fi
# The guard really judged the corpus: refusals in enforce, warnings in warn, neither in off.
refused=$(grep -c "ERROR:  55000: safe_ddl:" "$W/enforce.direct.err" || true)
warned=$(grep -c "WARNING:  55000: safe_ddl:" "$W/warn.direct.err" || true)
off_refused=$(grep -c "55000: safe_ddl:" "$W/off.direct.err" || true)
if [ "$refused" -ge 500 ] && [ "$warned" -ge 500 ] && [ "$off_refused" -eq 0 ]; then
    pass "corpus: enforce refused $refused statements, warn warned $warned times, off neither"
else
    fail "corpus: enforce refused $refused, warn warned $warned, off refused/warned $off_refused (expected >= 500, >= 500, 0)"
fi

# ---- 2. bad input without deterministic output ------------------------------------------------
DB=rob_enforce_direct
out=$(q -c "SELECT count(*) FROM safe_ddl.check(repeat('ALTER TABLE t ADD COLUMN x int; CREATE INDEX ON t (a); ', 60000))" 2>&1) || true
if [ "$out" = 120000 ]; then pass "check(): 4.8 MB of SQL, 120,000 statements, one row each"; else fail "check() on 4.8 MB: $out"; fi
out=$(q -c "SELECT count(*) FROM safe_ddl.check('SELECT ''' || repeat('x', 8000000) || '''')" 2>&1) || true
if [ "$out" = 1 ]; then pass "check(): one 8 MB statement"; else fail "check() on one 8 MB statement: $out"; fi
# Binary noise (every byte but NUL, as UTF-8 text or not at all), random garbage and fragments
# of SQL: each call either returns rows or raises an ERROR.
cat >"$W/noise.sql" <<'EOF'
\set VERBOSITY verbose
SET client_min_messages = warning;   -- (identifiers truncated: NOTICEs that repeat the noise)
SELECT setseed(0.8);
CREATE FUNCTION pg_temp.try_check(s text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text;
BEGIN
  PERFORM count(*) FROM safe_ddl.check(s);
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE;
  RETURN st;
END $$;
CREATE TEMP TABLE noise AS
  SELECT n, CASE n % 4
    WHEN 0 THEN (SELECT string_agg(chr(1 + floor(random() * 126)::int), '') FROM generate_series(1, 1 + (n * 37) % 3000) WHERE n > 0)
    WHEN 1 THEN (SELECT string_agg(chr(1 + floor(random() * 55000)::int), '') FROM generate_series(1, 1 + (n * 53) % 2000) WHERE n > 0)
    WHEN 2 THEN (SELECT string_agg((ARRAY['ALTER', 'TABLE', 't', 'ADD', 'COLUMN', 'x', 'int', ';', '(', ')', ',', '"', '''',
                       '$$', '--', '/*', '*/', 'CREATE', 'INDEX', 'ON', 'DROP', 'CONCURRENTLY', 'USING', 'TYPE', '\', E'\n',
                       'PARTITION', 'OF', 'FOR', 'VALUES', 'FROM', 'TO', 'SET', 'NOT', 'NULL', 'E''\\', '"x""y"', 'ü', '🙂'])[1 + floor(random() * 38)::int], ' ')
                 FROM generate_series(1, 1 + (n * 7) % 200) WHERE n > 0)
    ELSE (SELECT string_agg(chr(c), '') FROM (SELECT 1 + floor(random() * 1114000)::int AS c
                                                FROM generate_series(1, 1 + (n * 11) % 500) WHERE n > 0) AS r
           WHERE c NOT BETWEEN 55296 AND 57343) END AS s
  FROM generate_series(1, 2000) n;
SELECT left(coalesce(try_check, 'NULL'), 2) AS class, count(*) FROM (SELECT pg_temp.try_check(s) FROM noise) x GROUP BY 1 ORDER BY 1;
EOF
chown postgres "$W/noise.sql" 2>/dev/null || true
out=$(q -F ' ' -f "$W/noise.sql" 2>&1) || true
echo "      check() on 2,000 noisy inputs, outcome classes: $(echo "$out" | tr '\n' ' ')"
if echo "$out" | grep -qE "^(ok|42|22|54) [0-9]+$" && ! echo "$out" | grep -qvE "^(ok|42|22|54) [0-9]+$|^$|^[0-9.]+$"; then
    pass "check(): binary noise and garbage give rows or syntax/encoding errors"
else
    fail "check() on noise: unexpected outcome: $out"
fi

# ---- 3. lock_report() and the blocking view hide other users' queries ------------------------
DB=rob_enforce_check
q -c "CREATE ROLE rob_holder LOGIN; CREATE ROLE rob_waiter LOGIN; CREATE ROLE rob_viewer LOGIN; CREATE ROLE rob_stats LOGIN IN ROLE pg_read_all_stats;
      CREATE TABLE rob_locked (id int); GRANT ALL ON rob_locked TO rob_holder, rob_waiter;"
q_as rob_holder -c "BEGIN; LOCK TABLE rob_locked IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60) /* secret holder query */;" >/dev/null 2>&1 &
BG_PIDS+=($!)
sleep 0.5
q_as rob_waiter -c "SELECT count(*) /* secret waiter query */ FROM rob_locked;" >/dev/null 2>&1 &
BG_PIDS+=($!)
for _ in $(seq 1 50); do
    [ "$(q -c "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'rob_locked'::regclass")" = 1 ] && break
    sleep 0.1
done
# (pg_stat_activity shows other users' query as '<insufficient privilege>', state NULL)
shown="coalesce(query LIKE '%secret%', false)"
viewer=$(q_as rob_viewer -F '|' -c "SELECT usename, $shown, state IS NULL, xact_age IS NULL, depth FROM safe_ddl.lock_report() ORDER BY depth" 2>&1)
viewer_view=$(q_as rob_viewer -F '|' -c "SELECT usename, $shown FROM safe_ddl.blocking ORDER BY depth" 2>&1)
stats=$(q_as rob_stats -F '|' -c "SELECT usename, $shown FROM safe_ddl.lock_report() ORDER BY depth" 2>&1)
holder=$(q_as rob_holder -F '|' -c "SELECT usename, $shown FROM safe_ddl.blocking ORDER BY depth" 2>&1)
expect_viewer=$'rob_holder|f|t|t|0\nrob_waiter|f|t|t|1'
if [ "$viewer" = "$expect_viewer" ] && [ "$viewer_view" = $'rob_holder|f\nrob_waiter|f' ]; then
    pass "lock_report()/blocking: a role without pg_read_all_stats sees the tree (users, depth) but not the other sessions' query, state or transaction age"
else
    fail "lock_report() as rob_viewer: got [$viewer] and view [$viewer_view], expected [$expect_viewer]"
fi
if [ "$stats" = $'rob_holder|t\nrob_waiter|t' ]; then
    pass "lock_report(): a member of pg_read_all_stats sees the other sessions' queries"
else
    fail "lock_report() as a pg_read_all_stats member: got [$stats]"
fi
# rob_holder is connected twice: its own (other) session is its own user's, so it sees that query.
if [ "$holder" = $'rob_holder|t\nrob_waiter|f' ]; then
    pass "blocking view: a role sees its own sessions' queries, not other users'"
else
    fail "blocking view as rob_holder: got [$holder]"
fi
q -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename IN ('rob_holder', 'rob_waiter')" >/dev/null
for p in "${BG_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
BG_PIDS=()

# ---- 4. the guard under pgbench load ---------------------------------------------------------
DB=postgres q -c "CREATE DATABASE rob_load"
DB=rob_load
q -c "CREATE EXTENSION safe_ddl" \
  -c "CREATE TABLE app (id int PRIMARY KEY, v int NOT NULL DEFAULT 0, note text);
      INSERT INTO app (id) SELECT generate_series(1, 20000);
      CREATE TABLE app_log (id int, at timestamptz DEFAULT now());" \
  -c "VACUUM ANALYZE app"
cat >"$W/app.sql" <<'EOF'
\set id random(1, 20000)
BEGIN;
UPDATE app SET v = v + 1 WHERE id = :id;
SELECT id, v, note FROM app WHERE id = :id;
INSERT INTO app_log (id) VALUES (:id);
END;
SELECT count(*) FROM app WHERE v > 1000000;
EOF
chown postgres "$W/app.sql" 2>/dev/null || true
rc_bench=0
as_postgres "$PGBIN/pgbench" -n -h "$C/sock" -p "$PORT" -U postgres -M prepared -c 4 -j 2 -T "$LOAD_SECONDS" \
    -f "$W/app.sql" rob_load >"$W/pgbench.out" 2>"$W/pgbench.err" &
BENCH=$!
BG_PIDS+=($BENCH)
sleep 1
# ddl SQL EXPECT: EXPECT ok (must succeed) or refused (must fail with 55000 safe_ddl)
ddl_ok=0; ddl_refused=0; ddl_bad=0; i=0
ddl() {
    local sql="$1" expect="$2" out rc=0
    out=$(cluster_psql "$C" "$PORT" -d rob_load -qAt -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -c "$sql" 2>&1) || rc=$?
    printf '%s\t%s\t%s\n' "$expect" "$sql" "$(echo "$out" | head -n 3 | tr '\n' ' ')" >>"$W/ddl.log"
    if [ "$expect" = ok ] && [ $rc -eq 0 ]; then
        ddl_ok=$((ddl_ok + 1))
    elif [ "$expect" = refused ] && [ $rc -ne 0 ] && [[ "$out" == *"ERROR:  55000: safe_ddl:"* ]]; then
        ddl_refused=$((ddl_refused + 1))
    else
        ddl_bad=$((ddl_bad + 1))
        echo "      unexpected outcome (expected $expect): $sql: $out" | head -n 5
    fi
}
while kill -0 "$BENCH" 2>/dev/null; do
    i=$((i + 1))
    ddl "ALTER TABLE app ADD COLUMN extra_$i int" ok
    ddl "ALTER TABLE app ADD COLUMN extra_d_$i text DEFAULT 'x'" ok
    ddl "CREATE INDEX app_v_$i ON app (v)" refused
    ddl "ALTER TABLE app ALTER COLUMN v TYPE bigint" refused
    # A client reads extra_$i (a session of its own): dropping it is refused as in use. Nobody
    # uses extra_d_$i: created while usage tracking ran and never used, its drop is no hazard
    # (issue 13).
    ddl "SELECT extra_$i FROM app WHERE id = 1" ok
    ddl "ALTER TABLE app DROP COLUMN extra_$i" refused
    ddl "ALTER TABLE app DROP COLUMN extra_d_$i" ok
    ddl "BEGIN; SET LOCAL safe_ddl.allow = 'drop_column, in_use'; ALTER TABLE app DROP COLUMN extra_$i; COMMIT;" ok
    ddl "CREATE INDEX CONCURRENTLY app_v_c ON app (v)" ok
    ddl "DROP INDEX app_v_c" refused
    ddl "DROP INDEX CONCURRENTLY app_v_c" ok
    ddl "ALTER TABLE app ADD CONSTRAINT v_pos_$i CHECK (v >= 0) NOT VALID" ok
    ddl "ALTER TABLE app VALIDATE CONSTRAINT v_pos_$i" ok
    ddl "ALTER TABLE app DROP CONSTRAINT v_pos_$i" ok
    ddl "BEGIN; SET LOCAL safe_ddl.allow = 'index_build'; CREATE INDEX app_note ON app (note); DROP INDEX app_note; COMMIT;" ok
done
wait "$BENCH" || rc_bench=$?
BG_PIDS=()
echo "      pgbench: $(grep -E '^(number of transactions actually processed|number of failed|latency average|tps)' "$W/pgbench.out" | tr '\n' ';')"
echo "      guarded DDL during the load: $i rounds, $ddl_ok succeeded, $ddl_refused refused, $ddl_bad unexpected"
if [ $rc_bench -eq 0 ] && [ ! -s "$W/pgbench.err" ] && grep -q "^number of failed transactions: 0 " "$W/pgbench.out"; then
    pass "under load: pgbench exit status 0, 0 failed transactions, no errors"
else
    fail "under load: pgbench exit $rc_bench: $(cat "$W/pgbench.err") $(grep -E 'failed|aborted' "$W/pgbench.out")"
fi
if [ "$ddl_bad" -eq 0 ] && [ "$i" -ge 2 ]; then
    pass "under load: every allowed DDL succeeded ($ddl_ok), every hazard was refused ($ddl_refused)"
else
    fail "under load: $ddl_bad DDL outcomes unexpected (or only $i rounds)"
fi

# ---- 4b. interrupts while the guard waits or retries ------------------------------------------
# A long transaction holds app; guarded ALTERs wait for it (stall-free waits and retries) and are
# interrupted: pg_cancel_backend(), statement_timeout, a cancel inside a savepoint (the
# transaction goes on after ROLLBACK TO), pg_terminate_backend(). Each ends with its clean
# error (57014 / FATAL 57P01 for the terminated session only) and the others are unaffected.
DB=rob_load
q_bg() { cluster_psql "$C" "$PORT" -d rob_load -qAt -v VERBOSITY=verbose "$@"; }
q_bg -c "SET application_name = 'rob_holder'" -c "BEGIN" -c "SELECT count(*) FROM app" -c "SELECT pg_sleep(30)" >/dev/null 2>&1 &
BG_PIDS+=($!)
sleep 0.5
guarded="SET lock_timeout = 0; SET safe_ddl.lock_timeout = '100ms'; SET safe_ddl.lock_retry_delay = '100ms'; SET safe_ddl.lock_retries = 100;"
q_bg -c "SET application_name = 'rob_cancel'" -c "$guarded" -c "ALTER TABLE app ADD COLUMN int_a int" -c "SELECT 'alive after cancel'" >"$W/int_cancel.out" 2>&1 &
p_cancel=$!
q_bg -c "SET application_name = 'rob_timeout'" -c "$guarded" -c "SET statement_timeout = '700ms'" -c "ALTER TABLE app ADD COLUMN int_b int" -c "SELECT 'alive after timeout'" >"$W/int_timeout.out" 2>&1 &
p_timeout=$!
q_bg -c "SET application_name = 'rob_savepoint'" -c "$guarded" -c "BEGIN" -c "CREATE TEMP TABLE int_t (a int)" -c "SAVEPOINT s" \
     -c "ALTER TABLE app ADD COLUMN int_c int" -c "ROLLBACK TO SAVEPOINT s" -c "INSERT INTO int_t VALUES (1)" -c "SELECT 'alive in transaction', count(*) FROM int_t" -c "COMMIT" >"$W/int_savepoint.out" 2>&1 &
p_savepoint=$!
q_bg -c "SET application_name = 'rob_terminate'" -c "$guarded" -c "BEGIN" -c "ALTER TABLE app ADD COLUMN int_d int" >"$W/int_terminate.out" 2>&1 &
p_terminate=$!
sleep 1.5
q -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name IN ('rob_cancel', 'rob_savepoint')" >/dev/null
q -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'rob_terminate'" >/dev/null
wait $p_cancel $p_timeout $p_savepoint $p_terminate 2>/dev/null || true
sleep 0.3
ok=1
grep -q "ERROR:  57014: canceling statement due to user request" "$W/int_cancel.out" && grep -q "alive after cancel" "$W/int_cancel.out" || { ok=0; echo "      cancel: $(cat "$W/int_cancel.out")"; }
grep -q "ERROR:  57014: canceling statement due to statement timeout" "$W/int_timeout.out" && grep -q "alive after timeout" "$W/int_timeout.out" || { ok=0; echo "      statement_timeout: $(cat "$W/int_timeout.out")"; }
grep -q "ERROR:  57014: canceling statement due to user request" "$W/int_savepoint.out" && grep -q "alive in transaction|1" "$W/int_savepoint.out" || { ok=0; echo "      savepoint: $(cat "$W/int_savepoint.out")"; }
grep -q "FATAL:  57P01: terminating connection due to administrator command" "$W/int_terminate.out" || { ok=0; echo "      terminate: $(cat "$W/int_terminate.out")"; }
cols=$(q -c "SELECT count(*) FROM pg_attribute WHERE attrelid = 'app'::regclass AND attname LIKE 'int\_%' AND NOT attisdropped")
[ "$cols" = 0 ] || { ok=0; echo "      $cols of the interrupted columns were added"; }
q -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'rob_holder'" >/dev/null
for p in "${BG_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
BG_PIDS=()
if [ $ok = 1 ]; then
    pass "interrupts during guarded waits and retries: cancel, statement_timeout, cancel in a savepoint (transaction goes on), terminate: clean errors, nothing added"
else
    fail "interrupts during guarded waits and retries: unexpected outcomes (above)"
fi

# ---- 5. errors raised under the hook keep their SQLSTATE, CONTEXT and fields -----------------
DB=rob_enforce_check
cat >"$W/errfields.sql" <<'EOF'
\set VERBOSITY verbose
\set SHOW_CONTEXT always
CREATE TABLE errf (id int CONSTRAINT errf_pk PRIMARY KEY);
INSERT INTO errf VALUES (1);
CREATE PROCEDURE errf_ins() LANGUAGE sql AS $$ INSERT INTO errf VALUES (1) $$;
CREATE PROCEDURE errf_custom() LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION USING ERRCODE = 'AB123', MESSAGE = 'app error'; END $$;
CALL errf_custom();
DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = 'AB124', MESSAGE = 'app error in DO'; END $$;
CALL errf_ins();
EOF
chown postgres "$W/errfields.sql" 2>/dev/null || true
out=$(cluster_psql "$C" "$PORT" -d "$DB" -f "$W/errfields.sql" 2>&1 || true)
ok=1
for want in "ERROR:  AB123: app error" "CONTEXT:  PL/pgSQL function errf_custom() line 1 at RAISE" \
            "ERROR:  AB124: app error in DO" "CONTEXT:  PL/pgSQL function inline_code_block line 1 at RAISE" \
            "CONSTRAINT NAME:  errf_pk" "TABLE NAME:  errf"; do
    [[ "$out" == *"$want"* ]] || { ok=0; echo "      missing: $want"; }
done
if [ $ok = 1 ]; then
    pass "errors raised inside CALL / DO keep their SQLSTATE, CONTEXT and constraint/table fields"
else
    echo "$out" | sed 's/^/      | /'
    fail "errors raised under the ProcessUtility hook lose their SQLSTATE (custom codes become XX000), CONTEXT and schema/table/constraint fields (not so without safe_ddl)"
fi

# ---- 6. databases whose encoding is not UTF-8 ---------------------------------------------------
# The guard, check() and rehearse() in a LATIN1 and a SQL_ASCII database, with non-ASCII names
# (and, in SQL_ASCII, bytes that are not UTF-8): no crash, no internal error, names intact.
DB=postgres q -c "CREATE DATABASE rob_latin1 ENCODING 'LATIN1' TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'" \
              -c "CREATE DATABASE rob_ascii ENCODING 'SQL_ASCII' TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'"
cat >"$W/latin1.sql" <<'EOF'
\set VERBOSITY verbose
SET client_encoding = 'UTF8';
CREATE EXTENSION safe_ddl;
CREATE TABLE "café" (a int, "naïve" text);
INSERT INTO "café" VALUES (1, 'é');  -- a table that holds no data would be exempt
ALTER TABLE "café" ADD COLUMN "ü" int DEFAULT 1;
COMMENT ON TABLE "café" IS 'crème brûlée';
CREATE INDEX "idx_é" ON "café" (a);
SELECT hazard, relation, hint LIKE '%CREATE INDEX CONCURRENTLY "idx_é" ON "café" (a);%' AS hint_ok
  FROM safe_ddl.check('CREATE INDEX "idx_é" ON "café" (a)');
SELECT n, relation, lock_mode FROM safe_ddl.rehearse('ALTER TABLE "café" ADD COLUMN "ö" int');
EOF
chown postgres "$W/latin1.sql" 2>/dev/null || true
out=$(cluster_psql "$C" "$PORT" -d rob_latin1 -f "$W/latin1.sql" 2>&1 || true)
echo "$out" >"$W/latin1.out"
ok=1
for want in 'ERROR:  55000: safe_ddl: index_build: CREATE INDEX on table public."café" blocks writes' \
            'CREATE INDEX CONCURRENTLY "idx_é" ON "café" (a);' ' index_build | public."café" | t' \
            ' 1 | public."café" | AccessExclusiveLock'; do
    [[ "$out" == *"$want"* ]] || { ok=0; echo "      missing: $want"; }
done
if [[ "$out" == *XX000* ]]; then ok=0; fi
if [ $ok = 1 ]; then
    pass "LATIN1 database: refusals, hints, check() and rehearse() name non-ASCII tables correctly"
else
    echo "$out" | grep -E "ERROR|CONCURRENTLY" | head -n 8 | sed 's/^/      | /'
    fail "LATIN1 database: non-ASCII names garbled in messages and hints, or check()/rehearse() fail with XX000"
fi
out=$(cluster_psql "$C" "$PORT" -d rob_ascii -qAt -v VERBOSITY=verbose -c "CREATE EXTENSION safe_ddl" \
      -c "SELECT count(*) FROM safe_ddl.check('CREATE INDEX ON ' || chr(200) || chr(255) || ' (a); SELECT ''' || (SELECT string_agg(chr(g), '') FROM generate_series(32, 255) g WHERE g <> 39) || '''')" 2>&1 || true)
if [ "$out" = 2 ]; then
    pass "SQL_ASCII database: check() of bytes that are not UTF-8 returns its rows"
else
    fail "SQL_ASCII database: check() of bytes that are not UTF-8: $out"
fi

# ---- 7. no backend crashed, the postmaster never restarted -----------------------------------
DB=postgres
now_start="$(q -c 'SELECT pg_postmaster_start_time()')"
if [ "$now_start" = "$START_TIME" ]; then pass "the postmaster never restarted"; else fail "the postmaster restarted ($START_TIME -> $now_start)"; fi
if grep -nE "terminated by signal|server process .* was terminated|PANIC:|was terminated by exception|all server processes terminated" "$C/server.log"; then
    fail "the server log shows a crashed backend (above)"
else
    pass "the server log shows no crashed backend, no PANIC"
fi

echo "robustness: $(( $(date +%s) - T0 )) s"
if [ ${#failures[@]} -ne 0 ]; then
    printf 'robustness: FAILED: %s\n' "${failures[@]}"
    exit 1
fi
echo "robustness: all passed"
