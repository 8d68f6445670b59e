#!/usr/bin/env bash
# Usage tracking when its shared table overflows (issue 12, section 5), on a throwaway cluster
# with a tiny table (safe_ddl.usage_max_entries = 128, so 96 slots can be claimed) and a 3 s
# safe_ddl.usage_window:
#   1. temporary tables, however wide, take no slot and drop no use
#   2. a dropped table's slots are reused (rounds of create, read, drop never overflow)
#   3. an unprivileged role filling the table with a wide permanent table: uses are dropped,
#      safe_ddl.usage_tracking() shows when, the server log has one LOG line for the episode
#      (not one per statement), and a superuser's DROP COLUMN of a column without a slot, allowed
#      before, is refused as not proven unused with a DETAIL naming the overflow and
#      safe_ddl.usage_max_entries; the column is still there
#   4. once the filler is dropped and no use was dropped for a whole window, the drop works
# Each check prints a PASS line; the first failure exits non-zero. Takes about 15 seconds.
#
# Usage: bash pg_test/usage_overflow.sh [PORT]   (default 55470; as root or postgres)
# Needs the extension installed (pg_test/lib/install.sh). The cluster lives in /tmp/usage_overflow
# and is removed on success (kept with its server.log after a failure).
set -euo pipefail
cd "$(dirname "$0")/.."
. pg_test/lib/cluster.sh

PORT="${1:-55470}"
DIR=/tmp/usage_overflow
OK=0

cleanup() {
    cluster_stop "$DIR" 2>/dev/null || true
    if [ "$OK" != 1 ]; then
        echo "usage_overflow: FAILED; logs kept in $DIR/server.log" >&2
    else
        rm -rf "$DIR"
    fi
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# q [psql args] SQL: run as the superuser in database uo (unaligned, tuples only).
q() { cluster_psql "$DIR" "$PORT" -d uo -qAt -v ON_ERROR_STOP=1 -c "$1"; }
# qa SQL: the same as the unprivileged role.
qa() { cluster_psql "$DIR" "$PORT" -d uo -qAt -v ON_ERROR_STOP=1 -c "SET ROLE uo_attacker" -c "$1"; }

# check DESCRIPTION SQL: SQL must return t.
check() {
    local got
    got="$(q "$2" 2>&1)" || fail "$1: $got"
    [ "$got" = t ] || fail "$1 (got: $got)"
    echo "PASS: $1"
}

# cols N: "c1 int, ..., cN int"
cols() { seq -s, 1 "$1" | sed 's/\([0-9][0-9]*\)/c\1 int/g'; }

log_lines() { grep -c "the column usage table is full" "$DIR/server.log" || true; }

cluster_start "$DIR" "$PORT" "safe_ddl.usage_max_entries = 128" "safe_ddl.usage_window = '3s'"
cluster_psql "$DIR" "$PORT" -qAt -c "CREATE DATABASE uo" >/dev/null
q "CREATE EXTENSION safe_ddl;
   CREATE ROLE uo_attacker;
   GRANT CREATE ON SCHEMA public TO PUBLIC;
   CREATE TABLE public.victim (a int, b int, c int);" >/dev/null
check "tracking runs with 128 slots" \
    "SELECT tracking AND slots = 128 AND uses_dropped = 0 AND last_overflow IS NULL FROM safe_ddl.usage_tracking()"
# Warm-up: each kind of statement once (system catalogs, which the guard queries, take no slot).
q "CREATE TABLE public.warm (a int); SELECT * FROM public.warm;" >/dev/null
q "SET safe_ddl.allow = 'drop_table, in_use'; DROP TABLE public.warm" >/dev/null
q "BEGIN; SET LOCAL safe_ddl.allow = 'drop_column, in_use'; ALTER TABLE public.victim DROP COLUMN c; ROLLBACK;" >/dev/null
base="$(q "SELECT slots_used FROM safe_ddl.usage_tracking()")"
echo "slots used after warm-up: $base of 96 claimable"

# 1. Temporary tables: the attack of the issue, scaled to this table.
qa "DO \$\$ BEGIN
      FOR t IN 1..3 LOOP
        EXECUTE pg_catalog.format('CREATE TEMP TABLE tmp_%s ($(cols 200))', t);
        EXECUTE pg_catalog.format('INSERT INTO tmp_%s (c1) VALUES (1)', t);
      END LOOP;
    END \$\$;" >/dev/null
qa "SELECT * FROM tmp_1" >/dev/null 2>&1 || true   # another session: the tables are gone
qa "CREATE TEMP TABLE tmp_w ($(cols 200)); SELECT * FROM tmp_w; SELECT * FROM tmp_w;" >/dev/null
check "temporary tables take no slot and drop no use" \
    "SELECT slots_used = $base AND uses_dropped = 0 FROM safe_ddl.usage_tracking()"

# 2. Dropped tables give their slots back: 8 rounds of 41 slots would need 328.
for r in 1 2 3 4 5 6 7 8; do
    q "CREATE TABLE public.round ($(cols 40))" >/dev/null
    q "SELECT * FROM public.round" >/dev/null
    q "SET safe_ddl.allow = 'drop_table, in_use'; DROP TABLE public.round" >/dev/null
done
check "a dropped table's slots are reused" \
    "SELECT slots_used = $base AND uses_dropped = 0 FROM safe_ddl.usage_tracking()"

# The victim's column b has no slot and no use; once tracking has run for the window, dropping it
# only needs drop_column.
sleep 3.2
q "BEGIN; SET LOCAL safe_ddl.allow = 'drop_column'; ALTER TABLE public.victim DROP COLUMN b; ROLLBACK;" >/dev/null \
    || fail "DROP COLUMN of an unused column was refused before any overflow"
echo "PASS: before any overflow, a column without a slot is proven unused"

# 3. The attacker fills the table with a permanent table in public.
qa "CREATE TABLE public.filler ($(cols 150)); SELECT * FROM public.filler;" >/dev/null
qa "SELECT * FROM public.filler" >/dev/null
qa "SELECT c1, c149 FROM public.filler" >/dev/null
check "uses were dropped, and usage_tracking() says when" \
    "SELECT uses_dropped > 0 AND last_overflow IS NOT NULL AND overflow_since <= last_overflow
       FROM safe_ddl.usage_tracking()"
sleep 0.5
[ "$(log_lines)" = 1 ] || fail "expected one LOG line for the overflow episode, got $(log_lines)"
grep -q "HINT:  Raise safe_ddl.usage_max_entries" "$DIR/server.log" || fail "the LOG line has no HINT"
echo "PASS: one LOG line for the episode, with a HINT"

out="$(q "SET safe_ddl.allow = 'drop_column'; ALTER TABLE public.victim DROP COLUMN b" 2>&1)" \
    && fail "DROP COLUMN of a column without a slot ran during an overflow: $out"
echo "$out" | grep -q "not proven unused: the usage table overflowed at" || fail "DETAIL: $out"
echo "$out" | grep -q "column b of public.victim has no slot" || fail "DETAIL: $out"
echo "$out" | grep -q "Raise safe_ddl.usage_max_entries" || fail "DETAIL: $out"
check "the column is still there" \
    "SELECT EXISTS (SELECT FROM pg_attribute WHERE attrelid = 'public.victim'::regclass AND attname = 'b')"
echo "PASS: during an overflow, DROP COLUMN of a column without a slot is refused, saying why:"
echo "$out" | sed 's/^/    /'
q "BEGIN; SET LOCAL safe_ddl.allow = 'drop_column, in_use'; ALTER TABLE public.victim DROP COLUMN b; ROLLBACK;" >/dev/null \
    || fail "allow in_use did not override"
echo "PASS: allow in_use overrides"

# 4. The filler goes; after a window without dropped uses, the drop works again.
q "SET safe_ddl.allow = 'drop_table, in_use'; DROP TABLE public.filler" >/dev/null
check "the filler's slots are freed" \
    "SELECT slots_used = $base FROM safe_ddl.usage_tracking()"
sleep 3.2
q "SET safe_ddl.allow = 'drop_column'; ALTER TABLE public.victim DROP COLUMN b" >/dev/null \
    || fail "DROP COLUMN still refused a window after the last dropped use"
[ "$(log_lines)" = 1 ] || fail "expected still one LOG line, got $(log_lines)"
echo "PASS: a window after the last dropped use, the drop runs"

OK=1
echo "usage_overflow: all checks passed"
