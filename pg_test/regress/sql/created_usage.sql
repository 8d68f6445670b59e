-- Issue 13, point 2: a relation or column created while usage tracking runs has its whole usage
-- history on record. If nobody used it since its creation (the transaction that created it and
-- the one dropping or renaming it aside), dropping or renaming it breaks no client: no hazard,
-- no allow, no waiting for safe_ddl.usage_window. Any other use counts as before.
-- (setup.sql gives this database usage_window = 0, which turns all of this off; here the window
-- is the default day, so the old rule alone would call nothing here unused.)
SET safe_ddl.usage_window = '1d';

-- Runs a statement; returns 'ok', or the message and the reason it is in use (times masked).
CREATE FUNCTION cu_try(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE m text; d text;
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL;
    d := substring(d from E'\nIt is .*$');
    d := regexp_replace(d, '\(\d{4}-\d\d-\d\d [^)]*\)', '(<time>)', 'g');
    d := regexp_replace(d, 'since \d{4}-\d\d-\d\d \S+ \(', 'since <time> (', 'g');
    d := regexp_replace(d, '\d+ (s|min|h) ago', '<n> ago', 'g');
    RETURN m || coalesce(d, '');
END $$;
-- check()'s verdict on a statement: the hook and check() must agree ("in use" when its HINT
-- is the in-use one: in use or not proven unused).
CREATE FUNCTION cu_check(sql text) RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(coalesce(hazard, '-') || ' ' || verdict
                      || CASE WHEN hint LIKE 'Wait until nothing has used it%' THEN ' (in use)'
                              ELSE '' END, '; ')
      FROM safe_ddl.check(sql) $$;

-- A table created (and committed) with no use since: dropping a column, renaming a column and
-- the table, dropping the table: all pass with no allow at all.
CREATE TABLE cu_fresh (id int PRIMARY KEY, a text, b text, "Order" int);
SELECT cu_check($$ALTER TABLE cu_fresh DROP COLUMN b$$);
SELECT cu_try($$ALTER TABLE cu_fresh DROP COLUMN b$$);
SELECT cu_check($$ALTER TABLE cu_fresh RENAME COLUMN a TO a2$$);
SELECT cu_try($$ALTER TABLE cu_fresh RENAME COLUMN a TO a2$$);
SELECT cu_try($$ALTER TABLE cu_fresh RENAME TO cu_fresh2$$);
SELECT cu_check($$DROP TABLE cu_fresh2$$);
-- Now some use: from this session, in a transaction of its own, a use like any other's.
SELECT "Order" FROM cu_fresh2;
SELECT cu_check($$ALTER TABLE cu_fresh2 DROP COLUMN "Order"$$);
SELECT cu_try($$ALTER TABLE cu_fresh2 DROP COLUMN "Order"$$);
SELECT cu_try($$DROP TABLE cu_fresh2$$);
-- a2 was not used (the table was): its drop still passes
SELECT cu_try($$ALTER TABLE cu_fresh2 DROP COLUMN a2$$);
-- Another session reads it: in use, and stays so with the plain allow.
\c
SET safe_ddl.usage_window = '1d';
CREATE TABLE cu_other (id int, c int, d int);
\c
SELECT c FROM cu_other;
\c
SET safe_ddl.usage_window = '1d';
SELECT cu_check($$ALTER TABLE cu_other DROP COLUMN c$$);
SELECT cu_try($$ALTER TABLE cu_other DROP COLUMN c$$);
BEGIN;
SET LOCAL safe_ddl.allow = 'drop_column';
SELECT cu_try($$ALTER TABLE cu_other DROP COLUMN c$$);
ROLLBACK;
SELECT cu_try($$ALTER TABLE cu_other DROP COLUMN d$$);
-- A view over it: reading the view reads the table's columns.
CREATE VIEW cu_other_v AS SELECT id FROM cu_other;
\c
SELECT count(*) FROM cu_other_v;
\c
SET safe_ddl.usage_window = '1d';
SELECT cu_try($$ALTER TABLE cu_other RENAME COLUMN id TO id2$$);
SET safe_ddl.allow = 'drop_table, in_use';
DROP TABLE cu_other CASCADE;
RESET safe_ddl.allow;

-- Uses by the transaction that creates it are the migration's: not recorded at all (a seed,
-- the creating migration's own reads).
BEGIN;
CREATE TABLE cu_seeded (id int, label text, extra int);
INSERT INTO cu_seeded VALUES (1, 'one', 1), (2, 'two', 2);
SELECT label FROM cu_seeded ORDER BY id;
UPDATE cu_seeded SET extra = extra + 1;
COMMIT;
SELECT count(*) AS recorded FROM safe_ddl.column_usage WHERE relation = 'cu_seeded'::regclass;
SELECT cu_try($$ALTER TABLE cu_seeded DROP COLUMN extra$$);
SELECT cu_try($$DROP TABLE cu_seeded$$);

-- Uses by the transaction that drops it are the migration's too: Django's
-- contenttypes.0002_remove_content_type_name on a table the previous migration created reads
-- every row (all columns) in a RunPython, then drops the column, in one transaction.
CREATE TABLE cu_content_type (id serial PRIMARY KEY, name varchar(100) NOT NULL,
                              app_label varchar(100) NOT NULL, model varchar(100) NOT NULL,
                              UNIQUE (app_label, model));
BEGIN;
ALTER TABLE cu_content_type ALTER COLUMN name DROP NOT NULL;
SELECT id, name, app_label, model FROM cu_content_type;
SELECT cu_check($$ALTER TABLE cu_content_type DROP COLUMN name$$);
ALTER TABLE cu_content_type DROP COLUMN name;
COMMIT;
SELECT count(*) AS name_left FROM pg_attribute
 WHERE attrelid = 'cu_content_type'::regclass AND attname = 'name' AND NOT attisdropped;
-- That transaction's reads of the other columns are uses for every later transaction.
SELECT cu_check($$ALTER TABLE cu_content_type DROP COLUMN model$$);
SELECT cu_try($$ALTER TABLE cu_content_type DROP COLUMN model$$);
SET safe_ddl.allow = 'drop_table, in_use';
DROP TABLE cu_content_type;
RESET safe_ddl.allow;
-- Own uses also in a savepoint that was rolled back, and through a function; a read in an
-- earlier transaction of the same session, even one that was rolled back, is a use.
CREATE TABLE cu_ct2 (id int, model text, app_label text, other text);
BEGIN;
SELECT other FROM cu_ct2;
ROLLBACK;
BEGIN;
SAVEPOINT s;
SELECT model FROM cu_ct2;
ROLLBACK TO SAVEPOINT s;
DO $$ BEGIN PERFORM app_label FROM cu_ct2; END $$;
SELECT cu_check($$ALTER TABLE cu_ct2 RENAME COLUMN model TO model2$$);
SELECT cu_try($$ALTER TABLE cu_ct2 RENAME COLUMN model TO model2$$);
SELECT cu_try($$ALTER TABLE cu_ct2 DROP COLUMN app_label$$);
SELECT cu_check($$ALTER TABLE cu_ct2 DROP COLUMN other$$);
SELECT cu_try($$ALTER TABLE cu_ct2 DROP COLUMN other$$);
ROLLBACK;
-- The same reads committed in an earlier transaction: uses.
SELECT model FROM cu_ct2;
SELECT cu_try($$ALTER TABLE cu_ct2 DROP COLUMN model$$);
SELECT cu_try($$ALTER TABLE cu_ct2 DROP COLUMN app_label$$);
SET safe_ddl.allow = 'drop_table, in_use';
DROP TABLE cu_ct2;
RESET safe_ddl.allow;

-- A reset after creation forgets uses: the history is no longer complete, and the old rule
-- applies (not proven unused until a whole window has passed).
CREATE TABLE cu_reset (id int, r int);
SELECT safe_ddl.reset_usage('cu_reset');
SELECT cu_check($$ALTER TABLE cu_reset DROP COLUMN r$$);
SELECT cu_try($$ALTER TABLE cu_reset DROP COLUMN r$$);
-- A column added after the reset has a complete history of its own: its drop passes, while the
-- table's older columns are still not proven unused.
ALTER TABLE cu_reset ADD COLUMN added int;
SELECT cu_check($$ALTER TABLE cu_reset DROP COLUMN added$$);
SELECT cu_try($$ALTER TABLE cu_reset DROP COLUMN added$$);
SELECT cu_try($$ALTER TABLE cu_reset DROP COLUMN id$$);
-- Uses of a column added in this transaction are not recorded; of the old ones they are.
BEGIN;
ALTER TABLE cu_reset ADD COLUMN added2 int;
UPDATE cu_reset SET added2 = r;
COMMIT;
SELECT column_name FROM safe_ddl.column_usage WHERE relation = 'cu_reset'::regclass
 ORDER BY column_name NULLS FIRST;
SELECT cu_try($$ALTER TABLE cu_reset DROP COLUMN added2$$);
SET safe_ddl.allow = 'drop_table, in_use';
DROP TABLE cu_reset;
RESET safe_ddl.allow;

-- Uses that never reach the executor count too (recorded by the ProcessUtility hook): COPY TO
-- reads, COPY FROM and TRUNCATE write. Without them a table loaded and exported with COPY would
-- look never used.
CREATE TABLE cu_copy (id int, a text, b text);
CREATE TABLE cu_copy_all (id int, a text);
CREATE TABLE cu_trunc (id int);
\c
COPY cu_copy (a) FROM stdin;
x
\.
COPY cu_copy_all TO stdout;
TRUNCATE cu_trunc;
\c
SET safe_ddl.usage_window = '1d';
-- a was written by COPY FROM; b was not in its column list
SELECT cu_try($$ALTER TABLE cu_copy DROP COLUMN a$$);
SELECT cu_try($$ALTER TABLE cu_copy DROP COLUMN b$$);
-- COPY TO without a column list reads every column
SELECT cu_try($$ALTER TABLE cu_copy_all DROP COLUMN a$$);
SELECT cu_try($$DROP TABLE cu_trunc$$);
SET safe_ddl.allow = 'drop_table, in_use';
DROP TABLE cu_copy, cu_copy_all, cu_trunc;
RESET safe_ddl.allow;

-- Creations that do not commit leave nothing: no record, no slot.
SELECT slots_used AS slots_before FROM safe_ddl.usage_tracking() \gset
BEGIN;
CREATE TABLE cu_gone (a int);
ROLLBACK;
BEGIN;
CREATE TABLE cu_kept (a int);
CREATE TABLE cu_dropped (a int);
DROP TABLE cu_dropped;
SAVEPOINT s;
ALTER TABLE cu_kept ADD COLUMN b int;
CREATE TABLE cu_in_savepoint (a int);
ROLLBACK TO SAVEPOINT s;
COMMIT;
CREATE TEMP TABLE cu_temp (a int);
BEGIN;
SET LOCAL safe_ddl.allow = 'index_build';
CREATE INDEX ON cu_kept (a);
COMMIT;
CREATE SEQUENCE cu_seq;
SELECT slots_used - :slots_before AS slots_taken FROM safe_ddl.usage_tracking();
DROP TABLE cu_kept, cu_temp;
DROP SEQUENCE cu_seq;

-- Inheritance and partitions: uses through the parent are not all recorded as the member's, and
-- dropping a parent drops its partitions: the ordinary rules apply.
CREATE TABLE cu_parted (id int, v int) PARTITION BY RANGE (id);
CREATE TABLE cu_part1 PARTITION OF cu_parted FOR VALUES FROM (0) TO (10);
SELECT cu_try($$DROP TABLE cu_part1$$);
SELECT cu_try($$ALTER TABLE cu_parted DROP COLUMN v$$);
SET safe_ddl.allow = 'drop_table, in_use';
DROP TABLE cu_parted;
RESET safe_ddl.allow;

-- With the in-use check off (a zero window), nothing of this applies: the plain hazards.
CREATE TABLE cu_off (id int, z int);
SET safe_ddl.usage_window = 0;
SELECT cu_try($$ALTER TABLE cu_off DROP COLUMN z$$);
SET safe_ddl.usage_window = '1d';
SELECT cu_try($$DROP TABLE cu_off$$);
SET safe_ddl.allow = 'drop_table, in_use';
DROP TABLE cu_fresh2;
RESET safe_ddl.allow;

DROP FUNCTION cu_try(text), cu_check(text);
