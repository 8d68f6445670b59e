-- Type changes that keep the column's name (sql/type_change.sql, docs/expand-contract.md):
-- begin/prepare/swap/finish_type_change, type_change_status, cancel_type_change. Under pgbench
-- traffic with prepared statements, and the final catalog against fresh bigint tables:
-- pg_test/type_change.sh.
\set SHOW_CONTEXT never
-- Change ids from 101 on, whatever ran before in this database.
SELECT setval('safe_ddl.column_changes_change_id_seq', 100) IS NOT NULL AS ids_from_101;
CREATE VIEW tc_objects AS
SELECT 'function' AS kind, p.proname::text AS name FROM pg_proc AS p WHERE p.proname LIKE '\_safe\_ddl\_cc%'
UNION ALL
SELECT 'trigger', t.tgname::text FROM pg_trigger AS t WHERE t.tgname LIKE 'zz\_safe\_ddl\_column\_change\_%'
ORDER BY 1, 2;
-- Columns, constraints and indexes of the tables, as a fresh table would show them.
CREATE VIEW tc_shape AS
SELECT c.relname AS tbl, 'column' AS what,
       a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
       || CASE a.attidentity WHEN 'a' THEN ' identity always' WHEN 'd' THEN ' identity by default' ELSE '' END
       || COALESCE(' default ' || pg_get_expr(d.adbin, d.adrelid), '') AS def
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
 WHERE c.relname LIKE 'tc\_%' AND c.relkind = 'r'
UNION ALL
SELECT c.relname, 'constraint', x.conname || ' ' || pg_get_constraintdef(x.oid) || CASE WHEN x.convalidated THEN '' ELSE ' (not valid)' END
  FROM pg_class c JOIN pg_constraint x ON x.conrelid = c.oid
 WHERE c.relname LIKE 'tc\_%' AND c.relkind = 'r' AND x.contype <> 'n'
UNION ALL
SELECT c.relname, 'index', pg_get_indexdef(i.indexrelid)
  FROM pg_class c JOIN pg_index i ON i.indrelid = c.oid
 WHERE c.relname LIKE 'tc\_%' AND c.relkind = 'r'
UNION ALL
SELECT c.relname, 'sequence', s.seqrelid::regclass || ' ' || format_type(s.seqtypid, NULL) || ' max ' || s.seqmax
  FROM pg_class c JOIN pg_depend d ON d.refobjid = c.oid AND d.classid = 'pg_class'::regclass
  JOIN pg_sequence s ON s.seqrelid = d.objid
 WHERE c.relname LIKE 'tc\_%' AND c.relkind = 'r'
ORDER BY 1, 2, 3;

-- A serial key referenced by two tables (one ON DELETE CASCADE, one NOT NULL with a two-column
-- index), and a table that is not in the change.
CREATE TABLE tc_parent (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE tc_child (id int PRIMARY KEY, parent_id int REFERENCES tc_parent ON DELETE CASCADE, amount int);
CREATE INDEX tc_child_parent_idx ON tc_child (parent_id DESC);
CREATE TABLE tc_other (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES tc_parent, note text);
CREATE INDEX tc_other_parent_note_idx ON tc_other (parent_id, note) INCLUDE (id);
INSERT INTO tc_parent (name) SELECT 'p' || g FROM generate_series(1, 1000) g;
INSERT INTO tc_child SELECT g, 1 + g % 1000, g FROM generate_series(1, 2000) g;
INSERT INTO tc_other SELECT g, 1 + g % 1000, 'n' || (g % 7) FROM generate_series(1, 2000) g;
SELECT pg_relation_filenode('tc_parent') AS f_parent, pg_relation_filenode('tc_child') AS f_child,
       pg_relation_filenode('tc_other') AS f_other \gset
-- What the column carries besides its type: a role granted only some columns, a comment, a
-- statistics target.
CREATE ROLE tc_reader;
GRANT SELECT (id, name) ON tc_parent TO tc_reader;
COMMENT ON COLUMN tc_parent.id IS 'the key';
ALTER TABLE tc_parent ALTER COLUMN id SET STATISTICS 500;

-- Refused before anything is added: bad arguments, objects the swap cannot move across.
SELECT safe_ddl.begin_type_change('tc_parent', 'nope', 'bigint');
SELECT safe_ddl.begin_type_change('tc_parent', 'id', 'no_such_type');
SELECT safe_ddl.begin_type_change('tc_parent', 'id', 'integer');
SELECT safe_ddl.begin_type_change(NULL, 'id', 'bigint');
CREATE VIEW tc_parent_names AS SELECT id, name FROM tc_parent;
SELECT safe_ddl.begin_type_change('tc_parent', 'id', 'bigint');
DROP VIEW tc_parent_names;
ALTER TABLE tc_child ADD CONSTRAINT tc_child_parent_positive CHECK (parent_id > 0) NOT VALID;
SELECT safe_ddl.begin_type_change('tc_parent', 'id', 'bigint');
ALTER TABLE tc_child DROP CONSTRAINT tc_child_parent_positive;
CREATE INDEX CONCURRENTLY tc_other_expr_idx ON tc_other ((parent_id % 10));
SELECT safe_ddl.begin_type_change('tc_parent', 'id', 'bigint');
DROP INDEX CONCURRENTLY tc_other_expr_idx;
CREATE TABLE tc_part (id int, PRIMARY KEY (id)) PARTITION BY RANGE (id);
SELECT safe_ddl.begin_type_change('tc_part', 'id', 'bigint');
BEGIN; SET LOCAL safe_ddl.allow = 'drop_table'; DROP TABLE tc_part; COMMIT;
SELECT * FROM tc_objects;
SELECT attname FROM pg_attribute WHERE attrelid IN ('tc_parent'::regclass, 'tc_child'::regclass, 'tc_other'::regclass)
   AND attname LIKE '%\_new' ORDER BY 1;

-- 1. Begin: a shadow column and dual writes on the key and on each referencing column; the
--    backfills to run are returned.
SELECT safe_ddl.begin_type_change('tc_parent', 'id', 'bigint');
SELECT * FROM tc_objects;
SELECT table_name, table_column, step, rows_out_of_step FROM safe_ddl.type_change_status('tc_parent', 'id');
-- the columns of a type change are finished or cancelled together
SELECT safe_ddl.cancel_column_change('tc_child', 'parent_id');
SELECT safe_ddl.finish_column_change('tc_parent', 'id');
-- and not dropped, renamed or retyped by hand (the guard: active_column_change), with the type
-- change's own call as the HINT, which works from any of its columns
ALTER TABLE tc_child DROP COLUMN parent_id_new;
ALTER TABLE tc_parent RENAME COLUMN id TO ident;
SELECT table_name, table_column, step, left(detail, 50) AS detail FROM safe_ddl.type_change_status('tc_child', 'parent_id', count_rows => false);
-- the application writes on, through the old columns
INSERT INTO tc_parent (name) VALUES ('new') RETURNING id, id_new;
INSERT INTO tc_child VALUES (5001, 1001, 1) RETURNING parent_id, parent_id_new;
-- too early
SELECT safe_ddl.prepare_type_change('tc_parent', 'id');
CALL safe_ddl.swap_type_change('tc_parent', 'id');

-- 2. The backfills, then prepare's statements (psql's \gexec runs each one outside a
--    transaction block).
SET client_min_messages = warning;
SELECT detail FROM safe_ddl.type_change_status('tc_parent', 'id') WHERE step = 'backfill' \gexec
RESET client_min_messages;
SELECT table_name, table_column, step, rows_out_of_step, detail FROM safe_ddl.type_change_status('tc_parent', 'id');
SELECT safe_ddl.prepare_type_change('tc_parent', 'id');
CALL safe_ddl.swap_type_change('tc_parent', 'id');          -- not prepared yet
SET client_min_messages = warning;
SELECT safe_ddl.prepare_type_change('tc_parent', 'id') \gexec
RESET client_min_messages;
SELECT safe_ddl.prepare_type_change('tc_parent', 'id');
SELECT table_name, table_column, step, detail FROM safe_ddl.type_change_status('tc_parent', 'id');

-- A view made after begin: the swap refuses it, and changes nothing.
CREATE VIEW tc_child_view AS SELECT parent_id FROM tc_child;
CALL safe_ddl.swap_type_change('tc_parent', 'id');
DROP VIEW tc_child_view;
SELECT table_name, table_column, step FROM safe_ddl.type_change_status('tc_parent', 'id', count_rows => false);

-- 3. Swap: per table, the new column takes the name, key, indexes, default and sequence; the
--    foreign keys are re-created NOT VALID and validated. No table is rewritten.
--    Interrupted after the referencing tables (a view on the key refuses the key's table, the
--    last one): they stay swapped, the application writes on, and the same CALL goes on.
CREATE VIEW tc_parent_view AS SELECT id FROM tc_parent;
CALL safe_ddl.swap_type_change('tc_parent', 'id');
SELECT table_name, table_column, step FROM safe_ddl.type_change_status('tc_parent', 'id', count_rows => false);
SELECT conrelid::regclass, conname, pg_get_constraintdef(oid), convalidated FROM pg_constraint
 WHERE contype = 'f' AND confrelid = 'tc_parent'::regclass ORDER BY 1;
INSERT INTO tc_parent (name) VALUES ('between') RETURNING id, id_new;
INSERT INTO tc_child (id, parent_id, amount) VALUES (5004, 1002, 4) RETURNING parent_id, parent_id_old;
DROP VIEW tc_parent_view;
CALL safe_ddl.swap_type_change('tc_parent', 'id');
SELECT pg_relation_filenode('tc_parent') = :f_parent AS parent_same_file,
       pg_relation_filenode('tc_child') = :f_child AS child_same_file,
       pg_relation_filenode('tc_other') = :f_other AS other_same_file;
SELECT * FROM tc_objects;
SELECT * FROM tc_shape;
SELECT table_name, table_column, step FROM safe_ddl.type_change_status('tc_parent', 'id');
-- the new id has the old one's grant, comment, statistics target, and planner statistics
SELECT has_column_privilege('tc_reader', 'tc_parent', 'id', 'SELECT') AS reader_id,
       has_column_privilege('tc_reader', 'tc_parent', 'name', 'SELECT') AS reader_name,
       col_description('tc_parent'::regclass, (SELECT attnum FROM pg_attribute WHERE attrelid = 'tc_parent'::regclass AND attname = 'id')) AS comment,
       (SELECT attstattarget FROM pg_attribute WHERE attrelid = 'tc_parent'::regclass AND attname = 'id') AS stattarget,
       EXISTS (SELECT FROM pg_stats WHERE tablename = 'tc_parent' AND attname = 'id') AS has_stats;
SET ROLE tc_reader;
SELECT name FROM tc_parent WHERE id = 1;
RESET ROLE;
CALL safe_ddl.swap_type_change('tc_parent', 'id');          -- again: nothing left to do
-- no way back once swapped
SELECT safe_ddl.cancel_type_change('tc_parent', 'id');
-- writes go on, past 2^31, and nothing writes the old columns any more
INSERT INTO tc_parent (name) VALUES ('after') RETURNING id, id_old;
INSERT INTO tc_parent (id, name) VALUES (3000000000, 'big');
INSERT INTO tc_child (id, parent_id, amount) VALUES (5002, 3000000000, 2), (5003, 1002, 3);
INSERT INTO tc_other (id, parent_id, note) VALUES (5002, 3000000000, 'big');
-- (the columns are in another order now: an INSERT without a column list, or a reader of
-- SELECT * by position, sees parent_id_old where parent_id was; see docs/expand-contract.md)
SELECT attname FROM pg_attribute WHERE attrelid = 'tc_child'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum;
SELECT id, parent_id, parent_id_old FROM tc_child WHERE id >= 5001 ORDER BY id;
DELETE FROM tc_other WHERE id = 5002;
DELETE FROM tc_parent WHERE id = 3000000000;      -- cascades to tc_child
SELECT count(*) AS orphans FROM tc_child c WHERE NOT EXISTS (SELECT FROM tc_parent p WHERE p.id = c.parent_id);

-- 4. Finish: refused while the old columns were used within safe_ddl.usage_window; the caller's
--    in_use allow is honoured.
SET safe_ddl.usage_window = '1h';   -- (this database runs with a zero window)
\set VERBOSITY terse
CALL safe_ddl.finish_type_change('tc_parent', 'id');
\set VERBOSITY default
SELECT table_name, table_column, step, regexp_replace(detail, '[A-Z][a-z]{2} [A-Z][a-z]{2} [0-9]{2} [0-9:]{8} [0-9]{4} P[SD]T', '<time>', 'g') AS detail
  FROM safe_ddl.type_change_status('tc_parent', 'id');
SET safe_ddl.allow = 'in_use';
CALL safe_ddl.finish_type_change('tc_parent', 'id');
RESET safe_ddl.allow;
RESET safe_ddl.usage_window;
SELECT table_name, table_column, step, detail FROM safe_ddl.type_change_status('tc_parent', 'id');
SELECT pg_relation_filenode('tc_parent') = :f_parent AS parent_same_file,
       pg_relation_filenode('tc_child') = :f_child AS child_same_file,
       pg_relation_filenode('tc_other') = :f_other AS other_same_file;
CALL safe_ddl.finish_type_change('tc_parent', 'id');

-- The same tables created with bigint keys: the same catalog (columns compared by name: a new
-- column always comes last).
CREATE TEMP TABLE shape_after AS SELECT * FROM tc_shape;
BEGIN;
SET LOCAL safe_ddl.allow = 'drop_table';
DROP TABLE tc_child, tc_other, tc_parent;
CREATE TABLE tc_parent (id bigserial PRIMARY KEY, name text NOT NULL);
CREATE TABLE tc_child (id int PRIMARY KEY, parent_id bigint REFERENCES tc_parent ON DELETE CASCADE, amount int);
CREATE INDEX tc_child_parent_idx ON tc_child (parent_id DESC);
CREATE TABLE tc_other (id int PRIMARY KEY, parent_id bigint NOT NULL REFERENCES tc_parent, note text);
CREATE INDEX tc_other_parent_note_idx ON tc_other (parent_id, note) INCLUDE (id);
COMMIT;
SELECT count(*) AS rows_compared FROM shape_after;
(SELECT * FROM shape_after EXCEPT SELECT * FROM tc_shape) UNION ALL (SELECT * FROM tc_shape EXCEPT SELECT * FROM shape_after);
BEGIN; SET LOCAL safe_ddl.allow = 'drop_table'; DROP TABLE tc_child, tc_other, tc_parent; COMMIT;

-- An ordinary column keeps its name too (no key, no foreign key), with an identity key beside
-- it; cancelled before the swap, then done.
CREATE TABLE tc_item (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, qty int NOT NULL DEFAULT 1);
CREATE INDEX CONCURRENTLY tc_item_qty_idx ON tc_item (qty) WHERE id > 0;
SELECT safe_ddl.begin_type_change('tc_item', 'qty', 'bigint');   -- a partial index
DROP INDEX CONCURRENTLY tc_item_qty_idx;
INSERT INTO tc_item (qty) SELECT g FROM generate_series(1, 100) g;
SELECT safe_ddl.begin_type_change('tc_item', 'qty', 'bigint');
SELECT safe_ddl.cancel_type_change('tc_item', 'qty');
SELECT * FROM tc_objects;
SELECT safe_ddl.begin_type_change('tc_item', 'qty', 'bigint') \gset
SET client_min_messages = warning;
SELECT detail FROM safe_ddl.type_change_status('tc_item', 'qty') WHERE step = 'backfill' \gexec
SELECT safe_ddl.prepare_type_change('tc_item', 'qty') \gexec
CALL safe_ddl.swap_type_change('tc_item', 'qty');
SET safe_ddl.allow = 'in_use';
CALL safe_ddl.finish_type_change('tc_item', 'qty');
RESET safe_ddl.allow;
RESET client_min_messages;
INSERT INTO tc_item DEFAULT VALUES RETURNING id, qty;
SELECT * FROM tc_shape WHERE tbl = 'tc_item';
-- and then its identity key, whose sequence another role may use: the new identity's sequence
-- goes on from the old one's value, with its grants
GRANT USAGE ON SEQUENCE tc_item_id_seq TO tc_reader;
SET client_min_messages = warning;
SELECT safe_ddl.begin_type_change('tc_item', 'id', 'bigint') \gset
SELECT detail FROM safe_ddl.type_change_status('tc_item', 'id') WHERE step = 'backfill' \gexec
SELECT safe_ddl.prepare_type_change('tc_item', 'id') \gexec
CALL safe_ddl.swap_type_change('tc_item', 'id');
SET safe_ddl.allow = 'in_use';
CALL safe_ddl.finish_type_change('tc_item', 'id');
RESET safe_ddl.allow;
RESET client_min_messages;
SELECT has_sequence_privilege('tc_reader', pg_get_serial_sequence('tc_item', 'id'), 'USAGE') AS reader_usage;
INSERT INTO tc_item DEFAULT VALUES RETURNING id, qty;
SELECT * FROM tc_shape WHERE tbl = 'tc_item';
BEGIN; SET LOCAL safe_ddl.allow = 'drop_table'; DROP TABLE tc_item; COMMIT;

-- Another role sees none of this role's type changes and cannot join one.
CREATE TABLE tc_mine (id int PRIMARY KEY);
INSERT INTO tc_mine VALUES (1);
SELECT safe_ddl.begin_type_change('tc_mine', 'id', 'bigint') IS NOT NULL AS begun;
SELECT max(change_id) AS my_change FROM safe_ddl.column_changes \gset
CREATE ROLE tc_intruder;
GRANT ALL ON tc_mine TO tc_intruder;
GRANT CREATE ON SCHEMA public TO tc_intruder;
SET ROLE tc_intruder;
SELECT safe_ddl.cancel_type_change('tc_mine', 'id');
SELECT * FROM safe_ddl.type_change_status('tc_mine', 'id');
CREATE TABLE tc_theirs (id int PRIMARY KEY, mine_id int);
SELECT safe_ddl._cc_begin('x', 'tc_theirs', 'mine_id', 'mine_id_new', 'bigint', NULL, NULL,
                          :my_change);
BEGIN; SET LOCAL safe_ddl.allow = 'drop_table'; DROP TABLE tc_theirs; COMMIT;
RESET ROLE;
SELECT safe_ddl.cancel_type_change('tc_mine', 'id');
SELECT * FROM tc_objects;
BEGIN; SET LOCAL safe_ddl.allow = 'drop_table'; DROP TABLE tc_mine; COMMIT;
REVOKE CREATE ON SCHEMA public FROM tc_intruder;
DROP ROLE tc_intruder;
DROP ROLE tc_reader;
DELETE FROM safe_ddl.backfill_jobs;
