#!/usr/bin/env bash
# Column usage that survives restarts (issue 19), on a throwaway primary and a streaming standby:
#   1. a fast restart, an immediate shutdown and a backend crash (crash-restart) keep every
#      recorded use, tracking's `since` and the creation records: a table created and never used
#      still drops without an allow, a column read before the stop is still in use
#   2. a kill -9 of the postmaster (no complete save): the uses of the last periodic save stay,
#      `since` restarts and says why, creation records are forgotten, so the same DROP TABLE is
#      refused as not proven unused with a DETAIL that names the lost interval
#   3. a damaged file is ignored with a LOG line, tracking starts afresh
#   4. a standby made with pg_basebackup tracks its own clients from its start (not the primary's
#      copy); a read on the standby is on the standby's record and survives its restart
#   5. with safe_ddl.usage_standbys listing the standby, a column read only there is in use on
#      the primary; a standby that refuses the question or is down leaves columns not proven
#      unused, naming it and why; the setting is hidden from plain roles
#   6. once the standby is promoted, tracking restarts there and says so
# Each check prints a PASS line; the first failure exits non-zero. Takes about 40 seconds.
#
# Usage: bash pg_test/usage_persist.sh [PORT]   (default 55490, the standby PORT+1; as root)
# Needs the extension installed (pg_test/lib/install.sh). The clusters live in /tmp/usage_persist
# and are removed on success (kept with their server.log after a failure).
set -euo pipefail
cd "$(dirname "$0")/.."
. pg_test/lib/cluster.sh

PORT="${1:-55490}"
DIR=/tmp/usage_persist
PRIMARY="$DIR/primary"
STANDBY="$DIR/standby"
OK=0

cleanup() {
    cluster_stop "$STANDBY" 2>/dev/null || true
    cluster_stop "$PRIMARY" 2>/dev/null || true
    if [ "$OK" != 1 ]; then
        echo "usage_persist: FAILED; logs kept in $PRIMARY/server.log and $STANDBY/server.log" >&2
    else
        rm -rf "$DIR"
    fi
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# q SQL / qs SQL: as the superuser in database up, on the primary / the standby.
q() { cluster_psql "$PRIMARY" "$PORT" -d up -qAt -v ON_ERROR_STOP=1 -c "$1"; }
qs() { cluster_psql "$STANDBY" "$((PORT + 1))" -d up -qAt -v ON_ERROR_STOP=1 -c "$1"; }

# check DESCRIPTION SQL [q|qs]: SQL must return t.
check() {
    local got
    got="$("${3:-q}" "$2" 2>&1)" || fail "$1: $got"
    [ "$got" = t ] || fail "$1 (got: $got)"
    echo "PASS: $1"
}

# wait_up DIR PORT: until the server accepts connections (after a crash-restart), up to 30 s.
wait_up() {
    local i
    for i in $(seq 1 150); do
        cluster_psql "$1" "$2" -d up -qAt -c "SELECT 1" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    fail "the server on port $2 did not come back"
}

start_again() { # DIR PORT: start a stopped (or killed) cluster with its existing data
    as_postgres env -u RUST_BACKTRACE "$PGBIN/pg_ctl" -D "$1/data" -l "$1/server.log" -w -t 60 start >/dev/null
    wait_up "$1" "$2"
}

# The DROP TABLE of u (created, never used) in a transaction that rolls back: "free" when it needs
# no allow, else the refusal's text.
drop_u() {
    local out
    out="$(cluster_psql "$PRIMARY" "$PORT" -d up -qAt -c "BEGIN" -c "DROP TABLE u" -c "ROLLBACK" 2>&1 | tr '\n' ' ')"
    echo "${out:-free}"
}

tracking() { q "SELECT since || '|' || since_reason FROM safe_ddl.usage_tracking()"; }

cluster_start "$PRIMARY" "$PORT" "safe_ddl.usage_save_interval = 1" \
    "wal_level = replica" "max_wal_senders = 4" "hot_standby = on"
cluster_psql "$PRIMARY" "$PORT" -qAt -c "CREATE DATABASE up" >/dev/null
q "CREATE EXTENSION safe_ddl;
   CREATE TABLE t (a int, b int);
   CREATE TABLE u (x int);" >/dev/null
# Other transactions than the creating one: uses on record.
q "INSERT INTO t VALUES (1, 2)" >/dev/null
q "SELECT a FROM t" >/dev/null
since0="$(q "SELECT since FROM safe_ddl.usage_tracking()")"
check "fresh cluster: tracking since server start" \
    "SELECT since_reason = 'server start' FROM safe_ddl.usage_tracking()"
[ "$(drop_u)" = free ] || fail "before any restart, DROP TABLE u needs no allow (got: $(drop_u))"
echo "PASS: a table created and never used drops without an allow"

# ---- 1. complete saves -----------------------------------------------------------------------
same_history() { # WHAT
    [ "$(q "SELECT since FROM safe_ddl.usage_tracking()")" = "$since0" ] \
        || fail "$1: tracking's since changed: $(tracking) (was $since0)"
    check "$1: t.a's read and t.b's write are still on record" \
        "SELECT count(*) = 2 FROM safe_ddl.column_usage WHERE relation = 't'::regclass
           AND ((column_name = 'a' AND last_read IS NOT NULL) OR (column_name = 'b' AND last_write IS NOT NULL AND last_read IS NULL))"
    [ "$(drop_u)" = free ] || fail "$1: DROP TABLE u (created, never used) needs no allow (got: $(drop_u))"
    echo "PASS: $1: since unchanged, and u (created, never used) still drops without an allow"
}

as_postgres "$PGBIN/pg_ctl" -D "$PRIMARY/data" -m fast -w restart -l "$PRIMARY/server.log" >/dev/null
same_history "fast restart"
grep -q "safe_ddl: saved [0-9]* column usage records to safe_ddl/usage.state" "$PRIMARY/server.log" \
    || fail "no LOG line of the save at shutdown"
grep -q "safe_ddl: loaded [0-9]* column usage records from safe_ddl/usage.state (0 skipped)" "$PRIMARY/server.log" \
    || fail "no LOG line of the load at start"
echo "PASS: the save at shutdown and the load at start are logged"
check "the file is the server's own (mode 0600)" \
    "SELECT (pg_stat_file('safe_ddl/usage.state')).size > 0" 
[ "$(stat -c %a "$PRIMARY/data/safe_ddl/usage.state")" = 600 ] || fail "usage.state is not mode 0600"

as_postgres "$PGBIN/pg_ctl" -D "$PRIMARY/data" -m immediate -w stop >/dev/null
start_again "$PRIMARY" "$PORT"
same_history "immediate shutdown"

# A backend killed by a signal: the postmaster re-initialises shared memory (crash-restart).
(cluster_psql "$PRIMARY" "$PORT" -d up -qAt -c "SELECT pg_sleep(30)" >/dev/null 2>&1 || true) &
sleeper=""
for _ in $(seq 1 50); do
    sleeper="$(q "SELECT pid FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)'")"
    [ -n "$sleeper" ] && break
    sleep 0.1
done
[ -n "$sleeper" ] || fail "the sleeping backend did not show up"
kill -9 "$sleeper"
sleep 1
wait_up "$PRIMARY" "$PORT"
wait
grep -q "all server processes terminated; reinitializing" "$PRIMARY/server.log" || fail "no crash-restart happened"
same_history "backend crash (crash-restart)"

# ---- 2. the postmaster killed: only the periodic save is left ---------------------------------
sleep 1.5  # a periodic save (every second) after the last checks' reads
# Every process of the server at once, as a crash of the machine would (the postmaster first).
pm="$(head -1 "$PRIMARY/data/postmaster.pid")"
procs="$pm $(pgrep -P "$pm" | tr '\n' ' ')"
# shellcheck disable=SC2086
kill -9 $procs
gone() { local p; for p in $procs; do kill -0 "$p" 2>/dev/null && return 1; done; return 0; }
for _ in $(seq 1 100); do gone && break; sleep 0.1; done
gone || fail "the killed server's processes did not go away"
start_again "$PRIMARY" "$PORT"
since1="$(q "SELECT since FROM safe_ddl.usage_tracking()")"
check "postmaster killed: since restarts at this start" \
    "SELECT since > '$since0'::timestamptz AND since_reason LIKE 'the server had stopped without saving the usage table%' FROM safe_ddl.usage_tracking()"
check "postmaster killed: the last periodic save's uses stay (t.a read)" \
    "SELECT last_read IS NOT NULL FROM safe_ddl.column_usage WHERE relation = 't'::regclass AND column_name = 'a'"
got="$(drop_u)"
case "$got" in
    *"not proven unused"*"Tracking restarted then: the server had stopped without saving the usage table"*) ;;
    *) fail "postmaster killed: DROP TABLE u must be refused as not proven unused, naming the lost interval (got: $got)" ;;
esac
echo "PASS: postmaster killed: u's creation record is forgotten; its DROP is refused as not proven unused, and the DETAIL says why"

# ---- 3. a damaged file -------------------------------------------------------------------------
cluster_stop "$PRIMARY"
printf 'X' | dd of="$PRIMARY/data/safe_ddl/usage.state" bs=1 seek=30 conv=notrunc status=none
start_again "$PRIMARY" "$PORT"
grep -q "safe_ddl: ignoring safe_ddl/usage.state: its checksum does not match" "$PRIMARY/server.log" \
    || fail "no LOG line for the damaged file"
check "damaged file: tracking starts afresh" \
    "SELECT since > '$since1'::timestamptz AND since_reason = 'server start' FROM safe_ddl.usage_tracking()"
check "damaged file: no old use is loaded" \
    "SELECT count(*) = 0 FROM safe_ddl.column_usage WHERE relation = 't'::regclass AND column_name = 'a'"

# ---- 4. a standby ------------------------------------------------------------------------------
q "SELECT a FROM t" >/dev/null
sleep 1.5
rm -rf "$STANDBY" && mkdir -p "$STANDBY/sock" && chown -R postgres:postgres "$STANDBY"
as_postgres "$PGBIN/pg_basebackup" -h "$PRIMARY/sock" -p "$PORT" -U postgres -D "$STANDBY/data" \
    -R -X stream --checkpoint=fast >"$DIR/basebackup.log" 2>&1 || fail "pg_basebackup: $(cat "$DIR/basebackup.log")"
{ echo "port = $((PORT + 1))"; echo "unix_socket_directories = '$STANDBY/sock'"; echo "log_connections = on"; } \
    | as_postgres tee -a "$STANDBY/data/postgresql.conf" >/dev/null
start_again "$STANDBY" "$((PORT + 1))"
check "standby: in recovery" "SELECT pg_is_in_recovery()" qs
check "standby: tracks its own clients from its start, not the primary's copied file" \
    "SELECT since_reason LIKE 'this standby started from a copy of another server''s data directory%' FROM safe_ddl.usage_tracking()" qs
check "standby: the primary's uses are not the standby's" \
    "SELECT count(*) = 0 FROM safe_ddl.column_usage WHERE relation = 't'::regclass" qs
qs "SELECT b FROM t" >/dev/null
check "standby: a read on the standby is on its record" \
    "SELECT last_read IS NOT NULL FROM safe_ddl.column_usage WHERE relation = 't'::regclass AND column_name = 'b'" qs
sb_since="$(qs "SELECT since FROM safe_ddl.usage_tracking()")"
as_postgres "$PGBIN/pg_ctl" -D "$STANDBY/data" -m fast -w restart -l "$STANDBY/server.log" >/dev/null
wait_up "$STANDBY" "$((PORT + 1))"
check "standby restarted: since and its read of t.b stay" \
    "SELECT since = '$sb_since'::timestamptz AND (SELECT last_read IS NOT NULL FROM safe_ddl.column_usage WHERE relation = 't'::regclass AND column_name = 'b') FROM safe_ddl.usage_tracking()" qs

# ---- 5. the primary counts the standby's uses (safe_ddl.usage_standbys) -----------------------
# try SQL: run SQL on the primary in a transaction that rolls back: "ok", or the error's text.
try() {
    local out
    out="$(cluster_psql "$PRIMARY" "$PORT" -d up -qAt -c "BEGIN" -c "$1" -c "ROLLBACK" 2>&1 | tr '\n' ' ')"
    echo "${out:-ok}"
}
replayed() { # wait until the standby has replayed everything the primary wrote so far
    local lsn i
    lsn="$(q "SELECT pg_current_wal_insert_lsn()")"
    for i in $(seq 1 100); do
        [ "$(qs "SELECT pg_last_wal_replay_lsn() >= '$lsn'::pg_lsn")" = t ] && return 0
        sleep 0.1
    done
    fail "the standby did not replay up to $lsn"
}
q "CREATE TABLE s (id int, only_standby int, unused int); CREATE ROLE usage_reader LOGIN" >/dev/null
replayed
qs "SELECT only_standby FROM s" >/dev/null
check "the standby's read of s.only_standby is on its record only" \
    "SELECT (SELECT count(*) FROM safe_ddl.column_usage WHERE relation = 's'::regclass AND column_name = 'only_standby') = 0" q
free="$(try "ALTER TABLE s DROP COLUMN only_standby")"
[ "$free" = ok ] || fail "without usage_standbys, the primary sees no use of s.only_standby: the drop needs no allow (got: $free)"
echo "PASS: without usage_standbys, a column read only on the standby looks never used on the primary"
set_standbys() {
    q "ALTER SYSTEM SET safe_ddl.usage_standbys = '$1'" >/dev/null
    q "SELECT pg_reload_conf()" >/dev/null
    sleep 0.5
}
set_standbys "host=$STANDBY/sock port=$((PORT + 1)) user=postgres"
got="$(try "ALTER TABLE s DROP COLUMN only_standby")"
case "$got" in
    *"It is in use: safe_ddl saw column only_standby of public.s read"*) ;;
    *) fail "with usage_standbys, s.only_standby (read only on the standby) must be in use on the primary (got: $got)" ;;
esac
echo "PASS: with usage_standbys, a column read only on the standby is in use on the primary"
[ "$(try "ALTER TABLE s DROP COLUMN unused")" = ok ] \
    || fail "s.unused, used nowhere, drops without an allow (got: $(try "ALTER TABLE s DROP COLUMN unused"))"
echo "PASS: a column used on neither server still drops without an allow"
asked() { grep -c "application_name=safe_ddl usage check" "$STANDBY/server.log" || true; }
before="$(asked)"
try "ALTER TABLE s DROP COLUMN unused" >/dev/null
[ "$(( $(asked) - before ))" = 1 ] || fail "one drop asks the standby once (its second look under the lock reuses the answer); asked $(( $(asked) - before )) times"
echo "PASS: a drop of a never-used column asks the standby once, not again under its lock"
check "usage_standbys is hidden from roles that are not superusers" \
    "SELECT current_setting('safe_ddl.usage_standbys') <> ''" q
out="$(cluster_psql "$PRIMARY" "$PORT" -d up -qAt -c "SET ROLE usage_reader" -c "SHOW safe_ddl.usage_standbys" 2>&1 || true)"
case "$out" in *"must be superuser"*|*"permission denied"*|*"privileges of pg_read_all_settings"*) ;; *) fail "a plain role can read usage_standbys (got: $out)" ;; esac
echo "PASS: a plain role cannot read safe_ddl.usage_standbys"
set_standbys "host=$STANDBY/sock port=$((PORT + 1)) user=usage_reader"
got="$(try "ALTER TABLE s DROP COLUMN unused")"
case "$got" in
    *"not proven unused: safe_ddl could not ask every standby"*"standby 1 (host=$STANDBY/sock port=$((PORT + 1))): permission denied for function _usage_export"*) ;;
    *) fail "a role without pg_read_all_stats on the standby: the drop must be refused, naming the standby and why (got: $got)" ;;
esac
echo "PASS: a standby that refuses the question (role without pg_read_all_stats): not proven unused, and the DETAIL says which and why"
q "GRANT pg_read_all_stats TO usage_reader" >/dev/null
replayed
[ "$(try "ALTER TABLE s DROP COLUMN unused")" = ok ] || fail "with pg_read_all_stats the standby answers (got: $(try "ALTER TABLE s DROP COLUMN unused"))"
echo "PASS: with pg_read_all_stats granted, the standby answers"
cluster_stop "$STANDBY"
got="$(try "ALTER TABLE s DROP COLUMN unused")"
case "$got" in
    *"not proven unused: safe_ddl could not ask every standby"*"standby 1 (host=$STANDBY/sock"*) ;;
    *) fail "a standby that is down: the drop must be refused as not proven unused (got: $got)" ;;
esac
echo "PASS: a standby that is down: not proven unused"
start_again "$STANDBY" "$((PORT + 1))"
[ "$(try "ALTER TABLE s DROP COLUMN unused")" = ok ] || fail "the standby back: the drop needs no allow again"
got="$(try "ALTER TABLE s DROP COLUMN only_standby")"
case "$got" in *"It is in use: safe_ddl saw column only_standby of public.s read"*) ;; *) fail "after the standby's restart its read is still counted (got: $got)" ;; esac
echo "PASS: the standby back (restarted): its read of s.only_standby still counts on the primary"
set_standbys ""

as_postgres "$PGBIN/pg_ctl" -D "$STANDBY/data" -w promote >/dev/null
promoted=f
for _ in $(seq 1 100); do
    promoted="$(qs "SELECT NOT pg_is_in_recovery() AND since_reason LIKE 'this server was promoted from standby%' FROM safe_ddl.usage_tracking()")"
    [ "$promoted" = t ] && break
    sleep 0.2
done
[ "$promoted" = t ] || fail "promoted standby: tracking did not restart (got: $(qs "SELECT since || ' ' || since_reason FROM safe_ddl.usage_tracking()"))"
check "promoted: since is after the standby's start, its own read of t.b stays" \
    "SELECT since > '$sb_since'::timestamptz AND (SELECT last_read IS NOT NULL FROM safe_ddl.column_usage WHERE relation = 't'::regclass AND column_name = 'b') FROM safe_ddl.usage_tracking()" qs
echo "PASS: promoted standby: tracking restarts at the promotion and says so"

for log in "$PRIMARY/server.log" "$STANDBY/server.log"; do
    if grep -E "PANIC|terminated by signal [^9]" "$log"; then fail "a process crashed in $log"; fi
done
OK=1
echo "usage_persist: all checks passed"
