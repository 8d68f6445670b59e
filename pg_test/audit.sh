#!/usr/bin/env bash
# The audit trail's file (docs/audit.md, src/audit/file.rs) on a throwaway cluster with a tiny
# safe_ddl.audit_max_size (8kB) and TCP on 127.0.0.1:
#   1. 6 psql sessions refusing 60 statements each in parallel: every line of audit.log and
#      audit.log.1 is one JSON object (no interleaved or torn line), each file holds at most
#      audit_max_size, rotation happened, and what is kept is the newest records without a hole
#      (per session a contiguous run ending with its last statement)
#   2. with a large max size, the same load loses nothing: 360 records, all distinct
#   3. safe_ddl.audit = off (ALTER SYSTEM + reload) records nothing; on again records
#   4. a client over TCP has its address recorded
#   5. files are created mode 0600 in a 0700 directory
#   6. a torn last line (an OS crash mid-write) is skipped by the view, and the next record
#      starts on a line of its own
#   7. the records survive a backend crash (kill -9, crash restart) and pg_ctl stop -m immediate
#   8. without shared_preload_libraries (flock instead of the LWLock): 1 again
# Each check prints a PASS line; the first failure exits non-zero. Takes about 25 seconds.
#
# Usage: bash pg_test/audit.sh [PORT]   (default 55476; as root or postgres)
# Needs the extension installed (pg_test/lib/install.sh). The cluster lives in /tmp/audit_test
# and is removed on success (kept with its server.log after a failure).
set -euo pipefail
cd "$(dirname "$0")/.."
. pg_test/lib/cluster.sh

PORT="${1:-55476}"
DIR=/tmp/audit_test
OK=0
SESSIONS=6
EACH=60

cleanup() {
    cluster_stop "$DIR" 2>/dev/null || true
    if [ "$OK" != 1 ]; then
        echo "audit: FAILED; logs kept in $DIR/server.log" >&2
    else
        rm -rf "$DIR"
    fi
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# q SQL: run as the superuser in database au (unaligned, tuples only).
q() { cluster_psql "$DIR" "$PORT" -d au -qAt -v ON_ERROR_STOP=1 -c "$1"; }

# check DESCRIPTION SQL: SQL must return t.
check() {
    local got
    got="$(q "$2" 2>&1)" || fail "$1: $got"
    [ "$got" = t ] || fail "$1 (got: $got)"
    echo "PASS: $1"
}

# Every line of both files parsed as JSON by the server (an unparsable line is an ERROR).
LINES="SELECT line::jsonb AS r FROM (
         SELECT regexp_split_to_table(pg_read_file('safe_ddl/audit.log.1', 0, 100000000, true), E'\n') AS line
         UNION ALL
         SELECT regexp_split_to_table(pg_read_file('safe_ddl/audit.log'), E'\n')) f
        WHERE line <> ''"

# load TAG: $SESSIONS psql sessions, each refusing $EACH CREATE INDEX statements whose comment
# says "<TAG> s<session> n<number>" (padded so a record is about 600 bytes), all starting at once.
load() {
    local tag="$1" s pids=() start
    # All sessions start their statements at the same instant (psql and sudo take a while).
    start="$(date -u -d '+2 seconds' '+%Y-%m-%d %H:%M:%S.%N+00')"
    for s in $(seq 1 $SESSIONS); do
        {
            echo "SELECT pg_sleep_until('$start');"
            for n in $(seq 1 $EACH); do
                printf "CREATE INDEX ON t (id) /* %s s%d n%d %s */;\n" "$tag" "$s" "$n" "$(printf 'x%.0s' $(seq 1 200))"
            done
        } > "$DIR/load_$s.sql"
        chown postgres "$DIR/load_$s.sql"
        cluster_psql "$DIR" "$PORT" -d au -qAt -f "$DIR/load_$s.sql" >/dev/null 2>&1 &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || true; done
}

cluster_start "$DIR" "$PORT" "safe_ddl.audit_max_size = '8kB'" "listen_addresses = '127.0.0.1'"
cluster_psql "$DIR" "$PORT" -qAt -c "CREATE DATABASE au" >/dev/null
q "CREATE EXTENSION safe_ddl;
   CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 1000) g;" >/dev/null

# 1. Concurrent writers and rotation.
load c1
check "concurrent writers: every line of audit.log and audit.log.1 is one JSON object" \
    "SELECT count(*) > 0 AND bool_and(jsonb_typeof(r) = 'object') FROM ($LINES) l"
check "rotation happened and each file is at most audit_max_size (8 kB)" \
    "SELECT (pg_stat_file('safe_ddl/audit.log.1')).size BETWEEN 1 AND 8192
        AND (pg_stat_file('safe_ddl/audit.log')).size BETWEEN 1 AND 8192"
check "the view shows exactly the records of the files" \
    "SELECT (SELECT count(*) FROM safe_ddl.audit_log) = (SELECT count(*) FROM ($LINES) l)"
check "what is kept is the newest records: per session, a run without a hole ending with its last statement" \
    "WITH k AS (SELECT substring(statement FROM 'c1 s([0-9]+) ')::int AS s,
                       substring(statement FROM 'c1 s[0-9]+ n([0-9]+) ')::int AS n
                  FROM safe_ddl.audit_log WHERE statement LIKE '%/* c1 %')
     SELECT count(*) > 0 AND bool_and(ok) FROM (
       SELECT s, max(n) = $EACH AND max(n) - min(n) + 1 = count(*) AND count(DISTINCT n) = count(*) AS ok
         FROM k GROUP BY s) x"

# 2. Nothing lost under the same load when nothing needs to rotate away.
q "ALTER SYSTEM SET safe_ddl.audit_max_size = '10MB'" >/dev/null; q "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
load c2
check "no record lost: $((SESSIONS * EACH)) records of $SESSIONS concurrent sessions, all distinct, all refusals" \
    "SELECT count(*) = $((SESSIONS * EACH)) AND count(DISTINCT statement) = count(*) AND bool_and(action = 'refused')
       FROM safe_ddl.audit_log WHERE statement LIKE '%/* c2 %'"
check "each refusal recorded by its own backend" \
    "SELECT count(DISTINCT pid) = $SESSIONS FROM safe_ddl.audit_log WHERE statement LIKE '%/* c2 %'"
check "the sessions ran concurrently: their records alternate in the file more than $SESSIONS times" \
    "WITH v AS (SELECT pid, lag(pid) OVER (ORDER BY n) AS prev
                  FROM (SELECT pid, row_number() OVER () AS n FROM safe_ddl.audit_log
                         WHERE statement LIKE '%/* c2 %') f)
     SELECT count(*) FILTER (WHERE pid <> prev) > $SESSIONS FROM v"

# 3. safe_ddl.audit off, then on.
q "ALTER SYSTEM SET safe_ddl.audit = off" >/dev/null; q "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
q "CREATE INDEX ON t (id) /* while off */" 2>/dev/null && fail "the refusal did not happen"
q "ALTER SYSTEM RESET safe_ddl.audit" >/dev/null; q "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
q "CREATE INDEX ON t (id) /* on again */" 2>/dev/null && fail "the refusal did not happen"
check "safe_ddl.audit = off records nothing; on again records" \
    "SELECT count(*) FILTER (WHERE statement LIKE '%while off%') = 0
        AND count(*) FILTER (WHERE statement LIKE '%on again%') = 1 FROM safe_ddl.audit_log"

# 4. A TCP client's address.
as_postgres "$PGBIN/psql" -X -h 127.0.0.1 -p "$PORT" -U postgres -d au -qAt \
    -c "SET application_name = 'over tcp'" -c "CREATE INDEX ON t (id) /* over tcp */" >/dev/null 2>&1 \
    && fail "the refusal over TCP did not happen"
check "a client over TCP: client_addr 127.0.0.1 and its application_name" \
    "SELECT client_addr = '127.0.0.1'::inet AND application_name = 'over tcp'
       FROM safe_ddl.audit_log WHERE statement LIKE '%over tcp%'"
check "a client over the Unix socket: client_addr NULL" \
    "SELECT client_addr IS NULL FROM safe_ddl.audit_log WHERE statement LIKE '%on again%'"

# 5. File modes.
mode_file="$(stat -c %a "$DIR/data/safe_ddl/audit.log")"
mode_dir="$(stat -c %a "$DIR/data/safe_ddl")"
[ "$mode_file" = 600 ] && [ "$mode_dir" = 700 ] || fail "modes: audit.log $mode_file, safe_ddl/ $mode_dir"
echo "PASS: audit.log is mode 0600, its directory 0700"

# 6. A torn last line.
before="$(q "SELECT count(*) FROM safe_ddl.audit_log")"
printf '{"v":1,"time":"2026-12-06T00:00:00.0000' | as_postgres tee -a "$DIR/data/safe_ddl/audit.log" >/dev/null
check "a torn last line is skipped" "SELECT count(*) = $before FROM safe_ddl.audit_log"
q "CREATE INDEX ON t (id) /* after the torn line */" 2>/dev/null && fail "the refusal did not happen"
check "the record after a torn line starts a line of its own and is read" \
    "SELECT count(*) = $before + 1 AND count(*) FILTER (WHERE statement LIKE '%after the torn line%') = 1
       FROM safe_ddl.audit_log"

# 7. Crashes. A refusal, then a backend killed with SIGKILL (the postmaster restarts every
# backend and reinitialises shared memory, LWLock included), then an immediate shutdown.
q "CREATE INDEX ON t (id) /* before the backend crash */" 2>/dev/null && fail "the refusal did not happen"
cluster_psql "$DIR" "$PORT" -d au -qAt -c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
sleeper=$!
sleep 0.5
victim="$(q "SELECT pid FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(60)%' AND pid <> pg_backend_pid()")"
[ -n "$victim" ] || fail "no backend to kill"
kill -9 "$victim"
wait "$sleeper" 2>/dev/null || true
for _ in $(seq 1 50); do q "SELECT 1" >/dev/null 2>&1 && break; sleep 0.2; done
grep -q "terminated by signal 9" "$DIR/server.log" || fail "the backend crash did not happen"
check "after a backend crash and restart: the record is there" \
    "SELECT count(*) = 1 FROM safe_ddl.audit_log WHERE statement LIKE '%before the backend crash%'"
q "CREATE INDEX ON t (id) /* after the crash restart */" 2>/dev/null && fail "the refusal did not happen"
check "after the crash restart (new LWLock): records are written" \
    "SELECT count(*) = 1 FROM safe_ddl.audit_log WHERE statement LIKE '%after the crash restart%'"
q "CREATE INDEX ON t (id) /* before stop -m immediate */" 2>/dev/null && fail "the refusal did not happen"
as_postgres "$PGBIN/pg_ctl" -D "$DIR/data" -m immediate -w stop >/dev/null
as_postgres env -u RUST_BACKTRACE "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 start >/dev/null
check "after pg_ctl stop -m immediate: every record is there" \
    "SELECT count(*) = 1 FROM safe_ddl.audit_log WHERE statement LIKE '%before stop -m immediate%'
        AND (SELECT count(*) FROM safe_ddl.audit_log WHERE statement LIKE '%/* c2 %') = $((SESSIONS * EACH))"

# 8. Without shared_preload_libraries (session_preload_libraries): no LWLock, writers exclude
# each other with flock(2) on audit.lock; the same concurrent load with rotation.
q "ALTER SYSTEM SET safe_ddl.audit_max_size = '8kB'" >/dev/null
q "ALTER DATABASE au SET session_preload_libraries = 'safe_ddl'" >/dev/null
echo "shared_preload_libraries = ''" | as_postgres tee -a "$DIR/data/postgresql.conf" >/dev/null
as_postgres env -u RUST_BACKTRACE "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 restart >/dev/null
check "restarted without shared_preload_libraries, the library loaded per session" \
    "SELECT current_setting('shared_preload_libraries') = '' AND current_setting('safe_ddl.audit_max_size') = '8kB'"
load c3
check "flock: every line of both files is one JSON object, each file at most 8 kB" \
    "SELECT (SELECT count(*) > 0 AND bool_and(jsonb_typeof(r) = 'object') FROM ($LINES) l)
        AND (pg_stat_file('safe_ddl/audit.log.1')).size <= 8192 AND (pg_stat_file('safe_ddl/audit.log')).size <= 8192
        AND (pg_stat_file('safe_ddl/audit.lock')).size = 0"
check "flock: the newest records without a hole, per session" \
    "WITH k AS (SELECT substring(statement FROM 'c3 s([0-9]+) ')::int AS s,
                       substring(statement FROM 'c3 s[0-9]+ n([0-9]+) ')::int AS n
                  FROM safe_ddl.audit_log WHERE statement LIKE '%/* c3 %')
     SELECT count(*) > 0 AND bool_and(ok) FROM (
       SELECT s, max(n) = $EACH AND max(n) - min(n) + 1 = count(*) AND count(DISTINCT n) = count(*) AS ok
         FROM k GROUP BY s) x"

OK=1
echo "audit: all checks passed"
