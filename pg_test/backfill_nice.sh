#!/usr/bin/env bash
# safe_ddl.backfill(..., nice => n) lowers its own backend's CPU priority while it runs (issue 14,
# section 3; docs/backfill.md, CPU priority), on a throwaway cluster:
#   1. the default: every batch runs at nice 10 (the set clause records the backend's nice value
#      from /proc/self/stat, and its autogroup's from /proc/self/autogroup); afterwards the
#      session's process keeps nice 10 (ps), the autogroup has its value from before back
#   2. nice => 0: the session's priority is left alone, before, during and after
#   3. a session at nice 15 already: a job with nice => 5 runs at 15 (never a higher priority)
#   4. a job that fails in a batch, and a CALL canceled by statement_timeout: the autogroup is
#      restored too
#   5. backfill_resume() runs at the nice value stored in the job
#   6. nice => 20, -1, NULL: ERROR 22023 naming the range, before a job row exists
# The autogroup checks run only where the kernel schedules by autogroup
# (kernel.sched_autogroup_enabled = 1). Each check prints a PASS line; the first failure exits
# non-zero. Takes a few seconds.
#
# Usage: bash pg_test/backfill_nice.sh [PORT]   (default 55472; as root or postgres)
# Needs the extension installed (pg_test/lib/install.sh) and Linux (/proc, ps). The cluster lives
# in /tmp/backfill_nice and is removed on success (kept with its server.log after a failure).
set -euo pipefail
cd "$(dirname "$0")/.."
. pg_test/lib/cluster.sh

PORT="${1:-55472}"
DIR=/tmp/backfill_nice
OK=0

cleanup() {
    cluster_stop "$DIR" 2>/dev/null || true
    if [ "$OK" != 1 ]; then
        echo "backfill_nice: FAILED; logs kept in $DIR" >&2
    else
        rm -rf "$DIR"
    fi
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "PASS: $*"; }

q() { cluster_psql "$DIR" "$PORT" -d bn -qAt -v ON_ERROR_STOP=1 -c "$1"; }

AUTOGROUP=0
[ "$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null || echo 0)" = 1 ] && AUTOGROUP=1
echo "kernel.sched_autogroup_enabled: $AUTOGROUP"

cluster_start "$DIR" "$PORT"
cluster_psql "$DIR" "$PORT" -qAt -c "CREATE DATABASE bn" >/dev/null
# n: the backend's nice value while it updated the row (field 19 of /proc/self/stat; the command
# name in field 2 is "(postgres)", without spaces); ag: its autogroup's nice value.
q "CREATE EXTENSION safe_ddl;
   CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL DEFAULT 0, n text, ag text);
   INSERT INTO t (id) SELECT g FROM generate_series(1, 2000) g;
   CREATE TABLE gate (g int NOT NULL);
   INSERT INTO gate VALUES (1);" >/dev/null

SET_NICE="n = pg_catalog.split_part(pg_catalog.pg_read_file('/proc/self/stat'), ' ', 19)"
SET_AG="ag = CASE WHEN $AUTOGROUP = 1 THEN pg_catalog.substring(pg_catalog.pg_read_file('/proc/self/autogroup'), 'nice (-?[0-9]+)') END"

# session NAME: run stdin in one psql session, output in $DIR/NAME.out. The script can print the
# backend's nice value and its autogroup's with \! after \setenv PID :pid.
session() {
    cluster_psql "$DIR" "$PORT" -d bn -X -At -v ON_ERROR_STOP=0 >"$DIR/$1.out" 2>&1 || true
}
PROBE='\! echo "PS_NI=$(ps -o ni= -p $PID | tr -d " ") AG_NI=$(sed -n "s/.* nice //p" /proc/$PID/autogroup)"'
# value FILE KEY N: the Nth KEY=value printed by PROBE
value() { grep -o "$2=[-0-9]*" "$DIR/$1.out" | sed -n "${3}p" | cut -d= -f2; }

# 1. the default
session default <<SQL
SELECT pg_backend_pid() AS pid \gset
\setenv PID :pid
$PROBE
CALL safe_ddl.backfill('t', \$\$ $SET_NICE, $SET_AG \$\$, batch_size => 500, target_batch_time => NULL, pause => '0');
$PROBE
SQL
base_ni="$(value default PS_NI 1)"; base_ag="$(value default AG_NI 1)"
[ -n "$base_ni" ] || fail "cannot read the backend's nice value: $(cat "$DIR/default.out")"
want=$(( base_ni > 10 ? base_ni : 10 ))
got="$(q "SELECT string_agg(DISTINCT n, ',') FROM t")"
[ "$got" = "$want" ] || fail "default: batches ran at nice $got, expected $want (session was at $base_ni); $(cat "$DIR/default.out")"
pass "default (nice => 10): every batch ran at nice $want (the session was at $base_ni)"
grep -q "NOTICE:  safe_ddl.backfill: job [0-9]* runs at CPU priority nice $want (nice => 0: unchanged); this session keeps nice $want until it disconnects" "$DIR/default.out" \
    || fail "default: no start NOTICE; $(cat "$DIR/default.out")"
grep -q "NOTICE:  safe_ddl.backfill: this session stays at nice $want until it disconnects" "$DIR/default.out" \
    || fail "default: no end NOTICE; $(cat "$DIR/default.out")"
pass "default: NOTICEs at the start and the end say the session keeps nice $want"
[ "$(value default PS_NI 2)" = "$want" ] || fail "default: after the job the process is at nice $(value default PS_NI 2), expected $want"
pass "default: after the job the session's process stays at nice $want (cannot be lowered again)"
if [ "$AUTOGROUP" = 1 ]; then
    want_ag=$(( base_ag > 10 ? base_ag : 10 ))
    got="$(q "SELECT string_agg(DISTINCT ag, ',') FROM t")"
    [ "$got" = "$want_ag" ] || fail "default: batches ran in an autogroup at nice $got, expected $want_ag"
    [ "$(value default AG_NI 2)" = "$base_ag" ] || fail "default: after the job the autogroup is at nice $(value default AG_NI 2), expected $base_ag"
    pass "default: the autogroup ran at nice $want_ag and is back at nice $base_ag after the job"
fi

# 2. nice => 0
q "UPDATE t SET n = NULL, ag = NULL" >/dev/null
session zero <<SQL
SELECT pg_backend_pid() AS pid \gset
\setenv PID :pid
$PROBE
CALL safe_ddl.backfill('t', \$\$ $SET_NICE, $SET_AG \$\$, batch_size => 500, target_batch_time => NULL, pause => '0', nice => 0);
$PROBE
SQL
b="$(value zero PS_NI 1)"
got="$(q "SELECT string_agg(DISTINCT n, ',') FROM t")"
[ "$got" = "$b" ] && [ "$(value zero PS_NI 2)" = "$b" ] || fail "nice => 0: batches at nice $got, after $(value zero PS_NI 2), session at $b"
! grep -q "nice" <(grep NOTICE "$DIR/zero.out") || fail "nice => 0: a NOTICE about the priority; $(cat "$DIR/zero.out")"
if [ "$AUTOGROUP" = 1 ]; then
    got="$(q "SELECT string_agg(DISTINCT ag, ',') FROM t")"
    [ "$got" = "$(value zero AG_NI 1)" ] && [ "$(value zero AG_NI 2)" = "$(value zero AG_NI 1)" ] \
        || fail "nice => 0: autogroup at $got during, $(value zero AG_NI 2) after, $(value zero AG_NI 1) before"
fi
pass "nice => 0: the session's priority is unchanged before ($b), during and after the job, no NOTICE about it"

# 3. never a higher priority than the session has
q "UPDATE t SET n = NULL, ag = NULL" >/dev/null
session higher <<SQL
SELECT pg_backend_pid() AS pid \gset
\setenv PID :pid
CALL safe_ddl.backfill('t', 'v = v', nice => 15);
$PROBE
CALL safe_ddl.backfill('t', \$\$ $SET_NICE, $SET_AG \$\$, batch_size => 500, target_batch_time => NULL, pause => '0', nice => 5);
$PROBE
SQL
got="$(q "SELECT string_agg(DISTINCT n, ',') FROM t")"
[ "$got" = 15 ] && [ "$(value higher PS_NI 2)" = 15 ] || fail "nice => 5 after 15: batches at nice $got, after $(value higher PS_NI 2); $(cat "$DIR/higher.out")"
grep -q "runs at CPU priority nice 15" "$DIR/higher.out" || fail "nice => 5 after 15: the NOTICE does not say 15; $(cat "$DIR/higher.out")"
if [ "$AUTOGROUP" = 1 ]; then
    got="$(q "SELECT string_agg(DISTINCT ag, ',') FROM t")"
    [ "$got" = 5 ] || fail "nice => 5 after 15: autogroup at $got during the second job, expected 5"
    [ "$(value higher AG_NI 1)" = "$base_ag" ] && [ "$(value higher AG_NI 2)" = "$base_ag" ] \
        || fail "nice => 5 after 15: autogroup after the jobs at $(value higher AG_NI 1), $(value higher AG_NI 2)"
fi
pass "a session at nice 15 runs a nice => 5 job at 15 (a job never raises the priority)"

# 4. a job that fails in a batch; 5. resumed at its stored nice value
q "UPDATE t SET n = NULL, ag = NULL; UPDATE gate SET g = 0" >/dev/null
FAILING="$SET_NICE, $SET_AG, v = v + 1 / (CASE WHEN id > 1000 THEN (SELECT g FROM gate) ELSE 1 END)"
session failing <<SQL
SELECT pg_backend_pid() AS pid \gset
\setenv PID :pid
CALL safe_ddl.backfill('t', \$\$ $FAILING \$\$, batch_size => 500, target_batch_time => NULL, pause => '0', nice => 7);
$PROBE
SQL
grep -q "ERROR:  division by zero" "$DIR/failing.out" || fail "failing job: no division by zero; $(cat "$DIR/failing.out")"
job="$(q "SELECT job_id FROM safe_ddl.backfill_jobs WHERE status = 'failed' AND nice = 7")"
[ -n "$job" ] || fail "failing job: no failed job with nice 7"
got="$(q "SELECT string_agg(DISTINCT n, ',') FROM t WHERE id <= 1000")"
want=$(( base_ni > 7 ? base_ni : 7 ))
[ "$got" = "$want" ] && [ "$(value failing PS_NI 1)" = "$want" ] || fail "failing job: batches at $got, after at $(value failing PS_NI 1)"
if [ "$AUTOGROUP" = 1 ]; then
    [ "$(value failing AG_NI 1)" = "$base_ag" ] || fail "failing job: the autogroup is at nice $(value failing AG_NI 1) after the error, expected $base_ag"
fi
pass "a job failing in a batch ran at nice $want; after its ERROR the autogroup is restored, the process stays at $want"
# The same for a CALL that ends in an ERROR outside the batches (statement_timeout here): the
# transaction-abort callback restores the autogroup.
session timeout <<SQL
SELECT pg_backend_pid() AS pid \gset
\setenv PID :pid
SET statement_timeout = '1s';
CALL safe_ddl.backfill('t', 'v = v + 3', batch_size => 100, target_batch_time => NULL, pause => '200ms', nice => 9);
$PROBE
SQL
grep -q "ERROR:  canceling statement due to statement timeout" "$DIR/timeout.out" || fail "timeout: not canceled; $(cat "$DIR/timeout.out")"
want9=$(( base_ni > 9 ? base_ni : 9 ))
[ "$(value timeout PS_NI 1)" = "$want9" ] || fail "timeout: the process is at nice $(value timeout PS_NI 1) after the error, expected $want9"
if [ "$AUTOGROUP" = 1 ]; then
    [ "$(value timeout AG_NI 1)" = "$base_ag" ] || fail "timeout: the autogroup is at nice $(value timeout AG_NI 1) after the error, expected $base_ag"
fi
pass "a CALL canceled by statement_timeout: the autogroup is restored, the process stays at nice $want9"
q "CALL safe_ddl.backfill('t', 'v = v + 3', nice => 0)" >/dev/null 2>&1

q "UPDATE gate SET g = 1" >/dev/null
session resumed <<SQL
CALL safe_ddl.backfill_resume($job);
SQL
got="$(q "SELECT string_agg(DISTINCT n, ',') FROM t WHERE id > 1000")"
[ "$got" = "$want" ] || fail "backfill_resume: batches at nice $got, expected the job's $want; $(cat "$DIR/resumed.out")"
[ "$(q "SELECT status FROM safe_ddl.backfill_jobs WHERE job_id = $job")" = done ] || fail "backfill_resume: job not done"
pass "backfill_resume($job) runs at the job's stored nice value ($want)"

# 6. bad values
before="$(q "SELECT count(*) FROM safe_ddl.backfill_jobs")"
for bad in 20 -1 NULL; do
    out="$(cluster_psql "$DIR" "$PORT" -d bn -X -At -v VERBOSITY=verbose -c "CALL safe_ddl.backfill('t', 'v = v + 2', nice => $bad)" 2>&1 || true)"
    shown="$bad"; [ "$bad" = NULL ] && shown=NULL
    echo "$out" | grep -q "ERROR:  22023: safe_ddl.backfill: nice must be from 0 to 19, not $shown" \
        || fail "nice => $bad: $out"
    echo "$out" | grep -q "HINT:  Leave it out for the default (10), or pass nice => 0" || fail "nice => $bad: no HINT: $out"
done
[ "$(q "SELECT count(*) FROM safe_ddl.backfill_jobs")" = "$before" ] || fail "bad nice values left job rows"
pass "nice => 20, -1, NULL: ERROR 22023 naming the range, with a HINT, no job row"

grep -E "terminated by signal|PANIC:" "$DIR/server.log" && fail "a backend crashed"
OK=1
echo "backfill_nice: all checks passed"
