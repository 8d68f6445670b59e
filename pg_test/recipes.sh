#!/usr/bin/env bash
# Every recipe executes (issue 16 point 4). For each case below, on a throwaway cluster with
# safe_ddl preloaded, in a fresh database:
#   1. the setup SQL runs (a table with rows: guarded, since safe_ddl.min_table_size is 0);
#   2. the statement is refused (psql error "safe_ddl: ..."), and its HINT is read from psql's
#      error output; safe_ddl.check() of the same statement gives the same hint;
#   3. the HINT holds no `<...>` placeholder;
#   4. the recipe is taken out of the HINT (the shape below) and run as pasted, in a fresh
#      session, in autocommit (psql -f, ON_ERROR_STOP): it must succeed;
#   5. the case's verify query returns t: the recipe did what the HINT says (the index exists and
#      is valid, the column has the new type and the data, the constraint is validated, the table
#      was not rewritten...).
# Then, a static check over every expected output of the pg_regress suites
# (pg_test/*/expected/*.out): no HINT holds a `<...>` placeholder.
#
# The HINT shape the extractor relies on (every rule's HINT follows it):
#   - a recipe's SQL lines are indented by two spaces and hold whole statements, each ending
#     with ';' (an optional `-- comment` may follow on the same line);
#   - indented lines that start with `--` are comments (steps done by hand, e.g. deploying the
#     application), skipped;
#   - prose lines and the last lines ("To take the lock anyway: ...", "See docs/...") are not
#     indented and are not run.
# Cases whose HINT has no SQL recipe (only an online tool or a maintenance window) are marked
# "norecipe": their HINT is checked for placeholders, and the override line is run instead.
# Cases marked "dml" (large_dml, the executor's check) are not compared with safe_ddl.check(),
# which looks at DDL only.
#
# Usage: bash pg_test/recipes.sh [PORT]   (default 55450; as root or postgres)
# Needs the extension installed (pg_test/lib/install.sh). The cluster lives in /tmp/recipes
# (removed on success; kept after a failure, or with RECIPES_KEEP=1).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
. pg_test/lib/cluster.sh

PORT="${1:-55450}"
DIR="${RECIPES_DIR:-/tmp/recipes}"
C="$DIR/cluster"
OK=0
FAILS=0

cleanup() {
    cluster_stop "$C" 2>/dev/null || true
    if [ "$OK" != 1 ]; then
        echo "recipes: FAILED; files kept in $DIR" >&2
    elif [ -n "${RECIPES_KEEP:-}" ]; then
        echo "recipes: files kept in $DIR"
    else
        rm -rf "$DIR"
    fi
}
trap cleanup EXIT

rm -rf "$DIR"; mkdir -p "$DIR"; chown postgres:postgres "$DIR"
# usage_window = 0: usage tracking does not count for drops and renames, so a recipe that ends
# with finish_column_change (after "once nothing uses it") runs in one go; the refusals tested
# here are the hazards themselves.
cluster_start "$C" "$PORT" "safe_ddl.usage_window = 0" "safe_ddl.max_dml_rows = 100" \
    "log_min_messages = warning" || exit 1

psql_db() { local db="$1"; shift; cluster_psql "$C" "$PORT" -d "$db" -X -q -v ON_ERROR_STOP=1 "$@"; }
psql_db postgres -c "CREATE DATABASE recipes_template" >/dev/null
psql_db recipes_template -c "CREATE EXTENSION safe_ddl" >/dev/null
mkdir -p "$DIR/tablespace"; chown postgres:postgres "$DIR/tablespace"
psql_db postgres -c "CREATE TABLESPACE recipes_ts LOCATION '$DIR/tablespace'" >/dev/null

fail_case() { echo "FAIL: $1: $2" >&2; FAILS=$((FAILS + 1)); }

# run_case NAME [norecipe] <<'EOF'  setup SQL / "-- statement" / statement / "-- verify" / query
run_case() {
    local name="$1" mode="${2:-}" body setup stmt verify db="r_$1" d="$DIR/$1"
    body="$(cat)"
    setup="$(printf '%s\n' "$body" | sed -n '1,/^-- statement$/p' | sed '$d')"
    stmt="$(printf '%s\n' "$body" | sed -n '/^-- statement$/,/^-- verify$/p' | sed '1d;$d')"
    verify="$(printf '%s\n' "$body" | sed -n '/^-- verify$/,$p' | sed '1d')"
    mkdir -p "$d"; chown postgres:postgres "$d"
    psql_db postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" \
        -c "CREATE DATABASE $db TEMPLATE recipes_template" >/dev/null
    # The setup is no migration under test: the guard is off for it.
    printf 'SET safe_ddl.mode = off;\n%s\n' "$setup" > "$d/setup.sql"
    printf '%s\n' "$stmt" > "$d/statement.sql"
    if ! psql_db "$db" -f "$d/setup.sql" > "$d/setup.out" 2>&1; then
        fail_case "$name" "setup failed: $(cat "$d/setup.out")"; return
    fi
    # 2. Refused, with a HINT (psql prints it after "HINT:  ", its further lines as they are).
    if psql_db "$db" -f "$d/statement.sql" > "$d/refusal.out" 2> "$d/refusal.err"; then
        fail_case "$name" "the statement was not refused"; return
    fi
    if ! grep -q "ERROR:  safe_ddl: " "$d/refusal.err"; then
        fail_case "$name" "not refused by safe_ddl: $(cat "$d/refusal.err")"; return
    fi
    awk '/^[A-Za-z:0-9._-]*psql:.*HINT:  /{sub(/^.*HINT:  /, ""); on=1}
         /^HINT:  /{sub(/^HINT:  /, ""); on=1}
         on && /^(CONTEXT|LOCATION|STATEMENT|QUERY):  /{on=0}
         on {print}' "$d/refusal.err" > "$d/hint.txt"
    if [ ! -s "$d/hint.txt" ]; then
        fail_case "$name" "no HINT: $(cat "$d/refusal.err")"; return
    fi
    # check() gives the same hint (findings joined as the error does when there are several);
    # it does not look at DML (large_dml is the executor's), so "dml" cases skip this.
    [ "$mode" = dml ] || psql_db "$db" -At -v stmt="$stmt" > "$d/check_hint.txt" 2>&1 <<'SQL' || true
SELECT CASE WHEN count(*) = 1 THEN min(hint)
            ELSE string_agg(hazard || ': ' || hint, E'\n' ORDER BY n) END
  FROM safe_ddl.check(:'stmt') WITH ORDINALITY AS c(statement, hazard, verdict, lock_mode, relation,
                                                     rewrites, scans, table_size, hint, n)
 WHERE verdict = 'refused';
SQL
    if [ "$mode" != dml ] && ! diff -q "$d/hint.txt" "$d/check_hint.txt" >/dev/null; then
        fail_case "$name" "check() gives another hint: $(diff "$d/hint.txt" "$d/check_hint.txt")"; return
    fi
    # 3. No placeholder.
    if grep -nE '<[A-Za-z_][^<>]*>' "$d/hint.txt"; then
        fail_case "$name" "the HINT has a placeholder"; return
    fi
    # 4. The recipe, as pasted.
    if [ "$mode" = norecipe ]; then
        # No SQL recipe (an online tool or a maintenance window): the override line runs.
        sed -n 's/^To take the lock anyway: //p' "$d/hint.txt" > "$d/recipe.sql"
    else
        grep -E '^  [^ ]' "$d/hint.txt" | grep -vE '^  --' > "$d/recipe.sql" || true
    fi
    if [ ! -s "$d/recipe.sql" ]; then
        fail_case "$name" "no SQL in the HINT"; return
    fi
    if grep -vqE ';( *--.*)?$' "$d/recipe.sql"; then
        fail_case "$name" "a recipe line does not end a statement: $(grep -vE ';( *--.*)?$' "$d/recipe.sql")"; return
    fi
    if ! psql_db "$db" -f "$d/recipe.sql" > "$d/recipe.out" 2>&1; then
        fail_case "$name" "the recipe failed: $(cat "$d/recipe.out")"; return
    fi
    # 5. It did what the HINT says.
    local got
    got="$(psql_db "$db" -At -c "$verify" 2>&1)" || true
    if [ "$got" != t ]; then
        fail_case "$name" "the recipe ran but did not do it (verify: $got)"; return
    fi
    echo "PASS: $name"
}

# A table of 1000 rows every case can start from.
T="CREATE TABLE t AS SELECT g AS id, g AS v, 'note ' || g AS note, (g * 1.5)::numeric(10,2) AS amount
     FROM generate_series(1, 1000) g;
   ALTER TABLE t ADD PRIMARY KEY (id);
   ANALYZE t;
   CREATE TABLE before AS SELECT relfilenode AS file FROM pg_class WHERE oid = 't'::regclass;"
SAME_FILE="(SELECT file FROM before) = (SELECT relfilenode FROM pg_class WHERE oid = 't'::regclass)"

# ------------------------------------------------------------------ table_rewrite
run_case type_change <<EOF
$T
-- statement
ALTER TABLE t ALTER COLUMN v TYPE bigint;
-- verify
SELECT (SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'v_new') = 'bigint'
   AND NOT EXISTS (SELECT FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'v' AND NOT attisdropped)
   AND (SELECT bool_and(v_new = id) FROM t) AND $SAME_FILE;
EOF

run_case type_change_typmod <<EOF
$T
-- statement
ALTER TABLE t ALTER COLUMN amount TYPE numeric(12,3);
-- verify
SELECT (SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'amount_new') = 'numeric(12,3)'
   AND (SELECT bool_and(amount_new = id * 1.5) FROM t) AND $SAME_FILE;
EOF

run_case volatile_default_not_null <<EOF
$T
-- statement
ALTER TABLE t ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid();
-- verify
SELECT (SELECT attnotnull FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'token')
   AND (SELECT count(DISTINCT token) FROM t) = 1000
   AND pg_get_expr((SELECT adbin FROM pg_attrdef WHERE adrelid = 't'::regclass), 't'::regclass) = 'gen_random_uuid()'
   AND $SAME_FILE;
EOF

run_case volatile_default_check <<EOF
$T
-- statement
ALTER TABLE t ADD COLUMN r float8 DEFAULT random() CONSTRAINT r_range CHECK (r >= 0 AND r < 1);
-- verify
SELECT (SELECT convalidated FROM pg_constraint WHERE conrelid = 't'::regclass AND conname = 'r_range')
   AND (SELECT count(*) FROM t WHERE r IS NULL) = 0 AND $SAME_FILE;
EOF

run_case volatile_default_references <<EOF
$T
CREATE TABLE owners AS SELECT 1 AS id; ALTER TABLE owners ADD PRIMARY KEY (id);
-- statement
ALTER TABLE t ADD COLUMN owner int DEFAULT (random() * 0.5 + 1)::int REFERENCES owners;
-- verify
SELECT (SELECT convalidated FROM pg_constraint WHERE conrelid = 't'::regclass AND contype = 'f')
   AND (SELECT bool_and(owner = 1) FROM t) AND $SAME_FILE;
EOF

run_case serial <<EOF
$T
-- statement
ALTER TABLE t ADD COLUMN n bigserial;
-- verify
SELECT (SELECT attnotnull FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'n')
   AND (SELECT count(DISTINCT n) FROM t) = 1000
   AND pg_get_serial_sequence('t', 'n') IS NOT NULL AND $SAME_FILE;
EOF

run_case identity <<EOF
$T
-- statement
ALTER TABLE t ADD COLUMN n bigint GENERATED ALWAYS AS IDENTITY;
-- verify
INSERT INTO t (id, v) VALUES (1001, 1001);
SELECT (SELECT attidentity <> '' AND attnotnull FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'n')
   AND (SELECT count(DISTINCT n) FROM t) = 1001 AND $SAME_FILE;
EOF

run_case generated_stored <<EOF
$T
-- statement
ALTER TABLE t ADD COLUMN doubled int GENERATED ALWAYS AS (v * 2) STORED;
-- verify
INSERT INTO t (id, v) VALUES (1001, 7);
UPDATE t SET v = 8 WHERE id = 1;
SELECT (SELECT bool_and(doubled = v * 2) FROM t) AND $SAME_FILE;
EOF

run_case domain <<EOF
$T
CREATE DOMAIN positive_int AS int CHECK (VALUE > 0);
-- statement
ALTER TABLE t ADD COLUMN p positive_int DEFAULT 1;
-- verify
SELECT (SELECT bool_and(convalidated) FROM pg_constraint WHERE conrelid = 't'::regclass AND contype = 'c')
   AND (SELECT bool_and(p = 1) FROM t) AND $SAME_FILE;
EOF

run_case set_tablespace norecipe <<EOF
$T
-- statement
ALTER TABLE t SET TABLESPACE recipes_ts;
-- verify
SELECT reltablespace = (SELECT oid FROM pg_tablespace WHERE spcname = 'recipes_ts') FROM pg_class WHERE oid = 't'::regclass;
EOF

run_case vacuum_full norecipe <<EOF
$T
-- statement
VACUUM FULL t;
-- verify
SELECT NOT $SAME_FILE;
EOF

run_case cluster norecipe <<EOF
$T
-- statement
CLUSTER t USING t_pkey;
-- verify
SELECT NOT $SAME_FILE;
EOF

run_case set_unlogged norecipe <<EOF
$T
-- statement
ALTER TABLE t SET UNLOGGED;
-- verify
SELECT relpersistence = 'u' FROM pg_class WHERE oid = 't'::regclass;
EOF

run_case set_access_method norecipe <<EOF
$T
CREATE ACCESS METHOD heap2 TYPE TABLE HANDLER heap_tableam_handler;
-- statement
ALTER TABLE t SET ACCESS METHOD heap2;
-- verify
SELECT relam = (SELECT oid FROM pg_am WHERE amname = 'heap2') FROM pg_class WHERE oid = 't'::regclass;
EOF

if [ "$PG_MAJOR" -ge 17 ]; then
run_case set_expression norecipe <<EOF
CREATE TABLE g (id int PRIMARY KEY, v int, w int GENERATED ALWAYS AS (v * 2) STORED);
INSERT INTO g (id, v) SELECT x, x FROM generate_series(1, 1000) x;
-- statement
ALTER TABLE g ALTER COLUMN w SET EXPRESSION AS (v * 3);
-- verify
SELECT bool_and(w = v * 3) FROM g;
EOF
fi

# ------------------------------------------------------------------ rename
run_case rename_column <<EOF
$T
-- statement
ALTER TABLE t RENAME COLUMN note TO comment;
-- verify
SELECT (SELECT bool_and(comment = 'note ' || id) FROM t)
   AND NOT EXISTS (SELECT FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'note' AND NOT attisdropped)
   AND $SAME_FILE;
EOF

run_case rename_table <<EOF
$T
-- statement
ALTER TABLE t RENAME TO items;
-- verify
SELECT (SELECT relkind FROM pg_class WHERE oid = 'items'::regclass) = 'r'
   AND (SELECT relkind FROM pg_class WHERE oid = 't'::regclass) = 'v'
   AND (SELECT count(*) FROM t) = 1000;
EOF

# ------------------------------------------------------------------ index_build
INDEX_VALID="(SELECT indisvalid FROM pg_index WHERE indexrelid = 't_v_idx'::regclass)"
run_case create_index <<EOF
$T
-- statement
CREATE INDEX t_v_idx ON t (v) WHERE v > 0;
-- verify
SELECT $INDEX_VALID AND pg_get_indexdef('t_v_idx'::regclass) LIKE '%WHERE (v > 0)';
EOF

run_case reindex_index <<EOF
$T
CREATE INDEX t_v_idx ON t (v);
-- statement
REINDEX INDEX t_v_idx;
-- verify
SELECT $INDEX_VALID;
EOF

run_case reindex_table <<EOF
$T
-- statement
REINDEX TABLE t;
-- verify
SELECT (SELECT indisvalid FROM pg_index WHERE indexrelid = 't_pkey'::regclass)
   AND NOT EXISTS (SELECT FROM pg_class WHERE relname LIKE '%ccnew%');
EOF

run_case add_primary_key <<EOF
CREATE TABLE t AS SELECT g AS id, g AS v FROM generate_series(1, 1000) g;
-- statement
ALTER TABLE t ADD PRIMARY KEY (id);
-- verify
SELECT (SELECT contype FROM pg_constraint WHERE conrelid = 't'::regclass AND conname = 't_pkey') = 'p'
   AND (SELECT attnotnull FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'id');
EOF

run_case add_unique <<EOF
$T
-- statement
ALTER TABLE t ADD CONSTRAINT t_v_key UNIQUE (v);
-- verify
SELECT (SELECT contype FROM pg_constraint WHERE conrelid = 't'::regclass AND conname = 't_v_key') = 'u';
EOF

PARTS="CREATE TABLE pt (id int, v int) PARTITION BY RANGE (id);
   CREATE TABLE pt_1 PARTITION OF pt FOR VALUES FROM (0) TO (500);
   CREATE TABLE pt_2 PARTITION OF pt FOR VALUES FROM (500) TO (1001);
   INSERT INTO pt SELECT g, g FROM generate_series(1, 1000) g;
   ANALYZE pt;"
run_case create_index_partitioned <<EOF
$PARTS
-- statement
CREATE INDEX pt_v_idx ON pt (v);
-- verify
SELECT (SELECT indisvalid FROM pg_index WHERE indexrelid = 'pt_v_idx'::regclass)
   AND (SELECT count(*) FROM pg_inherits WHERE inhparent = 'pt_v_idx'::regclass) = 2;
EOF

# ------------------------------------------------------------------ index_drop
run_case drop_index <<EOF
$T
CREATE INDEX t_v_idx ON t (v);
-- statement
DROP INDEX t_v_idx;
-- verify
SELECT to_regclass('t_v_idx') IS NULL;
EOF

run_case drop_constraint_index <<EOF
$T
CREATE INDEX t_v_idx ON t (v);
-- statement
DROP INDEX t_pkey;
-- verify
SELECT to_regclass('t_pkey') IS NULL
   AND NOT EXISTS (SELECT FROM pg_constraint WHERE conrelid = 't'::regclass AND contype = 'p');
EOF

run_case drop_index_partitioned norecipe <<EOF
$PARTS
CREATE INDEX pt_v_idx ON pt (v);
-- statement
DROP INDEX pt_v_idx;
-- verify
SELECT to_regclass('pt_v_idx') IS NULL;
EOF

# ------------------------------------------------------------------ not_null_scan, constraint_validation
run_case set_not_null <<EOF
$T
-- statement
ALTER TABLE t ALTER COLUMN v SET NOT NULL;
-- verify
SELECT attnotnull FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'v';
EOF

run_case add_check <<EOF
$T
-- statement
ALTER TABLE t ADD CONSTRAINT v_positive CHECK (v > 0);
-- verify
SELECT convalidated FROM pg_constraint WHERE conrelid = 't'::regclass AND conname = 'v_positive';
EOF

run_case add_foreign_key <<EOF
$T
CREATE TABLE refs AS SELECT g AS id, g AS t_id FROM generate_series(1, 1000) g;
-- statement
ALTER TABLE refs ADD CONSTRAINT refs_t_fkey FOREIGN KEY (t_id) REFERENCES t (id);
-- verify
SELECT convalidated FROM pg_constraint WHERE conrelid = 'refs'::regclass AND conname = 'refs_t_fkey';
EOF

run_case validate_under_held_lock <<EOF
$T
ALTER TABLE t ADD CONSTRAINT v_positive CHECK (v > 0) NOT VALID;
-- statement
BEGIN;
LOCK TABLE t IN ACCESS EXCLUSIVE MODE;
ALTER TABLE t VALIDATE CONSTRAINT v_positive;
-- verify
SELECT convalidated FROM pg_constraint WHERE conrelid = 't'::regclass AND conname = 'v_positive';
EOF

if [ "$PG_MAJOR" -ge 18 ]; then
run_case add_not_null_constraint <<EOF
$T
-- statement
ALTER TABLE t ADD CONSTRAINT t_v_not_null NOT NULL v;
-- verify
SELECT (SELECT attnotnull FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'v')
   AND (SELECT convalidated FROM pg_constraint WHERE conrelid = 't'::regclass AND contype = 'n' AND conname = 't_v_not_null');
EOF

run_case validate_not_null_not_valid <<EOF
$T
ALTER TABLE t ADD CONSTRAINT t_v_not_null NOT NULL v NOT VALID;
-- statement
ALTER TABLE t ALTER COLUMN v SET NOT NULL;
-- verify
SELECT convalidated FROM pg_constraint WHERE conrelid = 't'::regclass AND conname = 't_v_not_null';
EOF

run_case enforce_foreign_key <<EOF
$T
CREATE TABLE refs AS SELECT g AS id, g AS t_id FROM generate_series(1, 1000) g;
ALTER TABLE refs ADD CONSTRAINT refs_t_fkey FOREIGN KEY (t_id) REFERENCES t (id) NOT ENFORCED;
-- statement
ALTER TABLE refs ALTER CONSTRAINT refs_t_fkey ENFORCED;
-- verify
SELECT conenforced AND convalidated FROM pg_constraint WHERE conrelid = 'refs'::regclass AND conname = 'refs_t_fkey';
EOF
fi

# ------------------------------------------------------------------ drops
run_case drop_column <<EOF
$T
-- statement
ALTER TABLE t DROP COLUMN note;
-- verify
SELECT NOT EXISTS (SELECT FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'note' AND NOT attisdropped);
EOF

# ------------------------------------------------------------------ active_column_change
# A type change of the new column of a live column change (binary coercible: no other hazard);
# the recipe cancels the change, and writes of the table work after it.
run_case active_column_change <<EOF
$T
SELECT safe_ddl.begin_column_change('t', 'note', 'remark', 'varchar(100)');
-- statement
ALTER TABLE t ALTER COLUMN remark TYPE text;
-- verify
SELECT NOT EXISTS (SELECT FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'remark' AND NOT attisdropped)
   AND NOT EXISTS (SELECT FROM pg_trigger WHERE tgrelid = 't'::regclass AND NOT tgisinternal);
EOF

run_case drop_table <<EOF
$T
-- statement
DROP TABLE t;
-- verify
SELECT to_regclass('t') IS NULL;
EOF

# ------------------------------------------------------------------ partitions
run_case attach_partition <<EOF
CREATE TABLE pt (id int, v int) PARTITION BY RANGE (id);
CREATE TABLE pt_1 PARTITION OF pt FOR VALUES FROM (0) TO (500);
CREATE TABLE pt_2 (id int, v int);
INSERT INTO pt_2 SELECT g, g FROM generate_series(500, 1000) g;
-- statement
ALTER TABLE pt ATTACH PARTITION pt_2 FOR VALUES FROM (500) TO (1001);
-- verify
SELECT (SELECT inhparent FROM pg_inherits WHERE inhrelid = 'pt_2'::regclass) = 'pt'::regclass
   AND NOT EXISTS (SELECT FROM pg_constraint WHERE conrelid = 'pt_2'::regclass AND contype = 'c');
EOF

run_case create_partition_default_scan norecipe <<EOF
CREATE TABLE pd (id int, v int) PARTITION BY RANGE (id);
CREATE TABLE pd_default PARTITION OF pd DEFAULT;
INSERT INTO pd SELECT g, g FROM generate_series(1, 1000) g;
ANALYZE pd;
-- statement
CREATE TABLE pd_2000 PARTITION OF pd FOR VALUES FROM (2000) TO (3000);
-- verify
SELECT (SELECT inhparent FROM pg_inherits WHERE inhrelid = 'pd_2000'::regclass) = 'pd'::regclass;
EOF

run_case detach_partition <<EOF
$PARTS
-- statement
ALTER TABLE pt DETACH PARTITION pt_2;
-- verify
SELECT NOT EXISTS (SELECT FROM pg_inherits WHERE inhrelid = 'pt_2'::regclass);
EOF

# ------------------------------------------------------------------ large_dml
run_case large_update dml <<EOF
$T
-- statement
UPDATE t SET note = 'x' || id WHERE v > 10;
-- verify
SELECT (SELECT count(*) FROM t WHERE note = 'x' || id) = 990;
EOF

run_case large_delete dml <<EOF
$T
-- statement
DELETE FROM t WHERE v > 10;
-- verify
SELECT (SELECT count(*) FROM t) = 10;
EOF

# ------------------------------------------------------------------ coverage audit (issue 16)
run_case refresh_matview <<EOF
$T
CREATE MATERIALIZED VIEW mv AS SELECT v % 10 AS k, count(*) AS n FROM t GROUP BY 1;
UPDATE t SET v = 1 WHERE id <= 100;
-- statement
REFRESH MATERIALIZED VIEW mv;
-- verify
SELECT EXISTS (SELECT FROM pg_index WHERE indrelid = 'mv'::regclass AND indisunique AND indisvalid)
   AND (SELECT n FROM mv WHERE k = 1) = (SELECT count(*) FROM t WHERE v % 10 = 1);
EOF

run_case refresh_matview_keyed <<EOF
$T
CREATE MATERIALIZED VIEW mv AS SELECT v % 10 AS k, count(*) AS n FROM t GROUP BY 1;
CREATE UNIQUE INDEX mv_k ON mv (k);
UPDATE t SET v = 1 WHERE id <= 100;
-- statement
REFRESH MATERIALIZED VIEW mv;
-- verify
SELECT (SELECT n FROM mv WHERE k = 1) = (SELECT count(*) FROM t WHERE v % 10 = 1);
EOF

run_case domain_add_check <<EOF
CREATE DOMAIN positive AS int;
CREATE TABLE d AS SELECT g::positive AS p FROM generate_series(1, 1000) g;
-- statement
ALTER DOMAIN positive ADD CHECK (VALUE > 0);
-- verify
SELECT (SELECT NOT convalidated FROM pg_constraint WHERE contypid = 'positive'::regtype AND conname = 'positive_check')
   AND pg_get_constraintdef((SELECT oid FROM pg_constraint WHERE conname = 'positive_check')) LIKE 'CHECK ((VALUE > 0)) NOT VALID';
EOF

run_case domain_set_not_null <<EOF
CREATE DOMAIN positive AS int;
CREATE TABLE d AS SELECT g::positive AS p FROM generate_series(1, 1000) g;
-- statement
ALTER DOMAIN positive SET NOT NULL;
-- verify
SELECT EXISTS (SELECT FROM pg_constraint WHERE contypid = 'positive'::regtype AND conname = 'positive_not_null' AND NOT convalidated);
EOF

run_case domain_validate norecipe <<EOF
CREATE DOMAIN positive AS int;
CREATE TABLE d AS SELECT g::positive AS p FROM generate_series(1, 1000) g;
ALTER DOMAIN positive ADD CONSTRAINT positive_check CHECK (VALUE > 0) NOT VALID;
-- statement
ALTER DOMAIN positive VALIDATE CONSTRAINT positive_check;
-- verify
SELECT convalidated FROM pg_constraint WHERE conname = 'positive_check';
EOF

run_case typed_table_rewrite <<EOF
CREATE TYPE pair AS (a int, b int);
CREATE TABLE pairs OF pair;
INSERT INTO pairs SELECT g, g FROM generate_series(1, 1000) g;
CREATE TABLE before AS SELECT relfilenode AS file FROM pg_class WHERE oid = 'pairs'::regclass;
-- statement
ALTER TYPE pair ALTER ATTRIBUTE b TYPE bigint CASCADE;
-- verify
SELECT (SELECT reloftype = 0 FROM pg_class WHERE oid = 'pairs'::regclass)
   AND (SELECT atttypid = 'bigint'::regtype FROM pg_attribute a JOIN pg_type t ON t.typrelid = a.attrelid WHERE t.oid = 'pair'::regtype AND a.attname = 'b')
   AND (SELECT file FROM before) = (SELECT relfilenode FROM pg_class WHERE oid = 'pairs'::regclass);
EOF

run_case typed_table_drop_attribute <<EOF
CREATE TYPE pair AS (a int, b int);
CREATE TABLE pairs OF pair;
INSERT INTO pairs SELECT g, g FROM generate_series(1, 1000) g;
-- statement
ALTER TYPE pair DROP ATTRIBUTE b CASCADE;
-- verify
SELECT NOT EXISTS (SELECT FROM pg_attribute WHERE attrelid = 'pairs'::regclass AND attname = 'b' AND NOT attisdropped)
   AND NOT EXISTS (SELECT FROM pg_attribute a JOIN pg_type t ON t.typrelid = a.attrelid WHERE t.oid = 'pair'::regtype AND a.attname = 'b' AND NOT a.attisdropped);
EOF

run_case pk_using_index_nullable <<EOF
CREATE TABLE k AS SELECT g AS id FROM generate_series(1, 1000) g;
CREATE UNIQUE INDEX k_id ON k (id);
-- statement
ALTER TABLE k ADD PRIMARY KEY USING INDEX k_id;
-- verify
SELECT attnotnull FROM pg_attribute WHERE attrelid = 'k'::regclass AND attname = 'id';
EOF

run_case attach_missing_index_and_fk <<EOF
CREATE TABLE owners AS SELECT g AS id FROM generate_series(1, 1000) g; ALTER TABLE owners ADD PRIMARY KEY (id);
CREATE TABLE ev (id int NOT NULL, at int NOT NULL, owner int REFERENCES owners) PARTITION BY RANGE (at);
CREATE UNIQUE INDEX ev_id_at ON ev (id, at);
CREATE TABLE ev_1 (id int NOT NULL, at int NOT NULL, owner int);
INSERT INTO ev_1 SELECT g, 1, g FROM generate_series(1, 1000) g;
-- statement
ALTER TABLE ev ATTACH PARTITION ev_1 FOR VALUES FROM (1) TO (2);
-- verify
SELECT (SELECT inhparent FROM pg_inherits WHERE inhrelid = 'ev_1'::regclass) = 'ev'::regclass
   AND (SELECT count(*) FROM pg_index WHERE indrelid = 'ev_1'::regclass) = 1
   AND (SELECT conparentid <> 0 AND convalidated FROM pg_constraint WHERE conrelid = 'ev_1'::regclass AND contype = 'f');
EOF

run_case index_set_tablespace norecipe <<EOF
$T
-- statement
ALTER INDEX t_pkey SET TABLESPACE recipes_ts;
-- verify
SELECT reltablespace = (SELECT oid FROM pg_tablespace WHERE spcname = 'recipes_ts') FROM pg_class WHERE oid = 't_pkey'::regclass;
EOF

run_case move_all_tablespace <<EOF
CREATE TABLE m (id int) TABLESPACE recipes_ts;
INSERT INTO m SELECT generate_series(1, 1000);
-- statement
ALTER TABLE ALL IN TABLESPACE recipes_ts SET TABLESPACE pg_default;
-- verify
SELECT reltablespace = 0 FROM pg_class WHERE oid = 'm'::regclass;
EOF

# ------------------------------------------------------------------ static check
# A HINT runs from its "HINT:  " line to its "See docs/..." line, a blank line or the next
# message or statement echoed by psql; isolation outputs also carry hints inline ("hint: ...").
bad="$(awk '
    FNR == 1 { on = 0 }
    /^([a-z0-9_]+: )?HINT:  / { on = 1 }
    on && FNR > 1 && !/HINT:  / && (/^$/ || /^(ERROR|DETAIL|WARNING|NOTICE|CONTEXT|LOCATION|QUERY|STATEMENT|step |[a-z0-9_]+: )/ || /^(SELECT|ALTER|CREATE|DROP|BEGIN|COMMIT|ROLLBACK|SET|RESET|INSERT|UPDATE|DELETE|CALL|VACUUM|CLUSTER|REINDEX|--|\\)/) { on = 0 }
    (on || /hint: /) && /<[A-Za-z_][^<>]*>/ { print FILENAME ":" FNR ": " $0 }
    on && /^See docs\// { on = 0 }
' "$ROOT"/pg_test/*/expected/*.out)"
if [ -n "$bad" ]; then
    fail_case "expected outputs" "HINT placeholders left:
$bad"
else
    echo "PASS: no HINT in pg_test/*/expected/*.out holds a <...> placeholder"
fi

if [ "$FAILS" -ne 0 ]; then
    echo "recipes: $FAILS failure(s)" >&2
    exit 1
fi
OK=1
echo "recipes: every recipe ran and did what its HINT says"
