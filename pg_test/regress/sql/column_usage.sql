-- Column usage tracking: what is recorded, and how the drop/rename hazards use it.
-- (setup.sql gives this database usage_window = 0; here the window is real.)
SET safe_ddl.usage_window = '1d';
SELECT tracking, slots > 0 AS has_slots FROM safe_ddl.usage_tracking();

CREATE TABLE acct (id int PRIMARY KEY, email text, note text, legacy int, spare int);
INSERT INTO acct SELECT g, 'u' || g, NULL, g, g FROM generate_series(1, 50) g;
CREATE VIEW acct_emails AS SELECT id, email FROM acct;
CREATE FUNCTION acct_legacy_sum() RETURNS bigint LANGUAGE plpgsql
AS $$ BEGIN RETURN (SELECT sum(legacy) FROM acct); END $$;
CREATE FUNCTION acct_note(i int) RETURNS text LANGUAGE sql STABLE
AS $$ SELECT note FROM acct WHERE id = i $$;

-- Which columns of acct were read (r) and written (w) since the last reset.
CREATE FUNCTION uses(rel regclass) RETURNS TABLE (col name, r bool, w bool) LANGUAGE sql
AS $$ SELECT column_name, last_read IS NOT NULL, last_write IS NOT NULL
        FROM safe_ddl.column_usage WHERE relation = rel ORDER BY column_name NULLS FIRST $$;

-- Runs a statement; on error returns the message and DETAIL with times masked.
CREATE FUNCTION try(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE m text; d text;
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL;
    d := regexp_replace(d, '\(\d{4}-\d\d-\d\d [^)]*\)', '(<time>)', 'g');
    d := regexp_replace(d, 'since \d{4}-\d\d-\d\d \S+ \(', 'since <time> (', 'g');
    d := regexp_replace(d, '\d+ (s|min|h) ago', '<n> ago', 'g');
    RETURN m || E'\n' || d;
END $$;

-- A SELECT reads the columns it names (and the table as a whole).
SELECT safe_ddl.reset_usage();
SELECT email FROM acct WHERE id = 1;
SELECT * FROM uses('acct');
-- count(*) reads the table but no column.
SELECT safe_ddl.reset_usage();
SELECT count(*) FROM acct;
SELECT * FROM uses('acct');
-- INSERT writes the columns it sets; UPDATE writes its SET columns and reads its WHERE columns.
SELECT safe_ddl.reset_usage();
INSERT INTO acct (id, email) VALUES (100, 'new');
SELECT * FROM uses('acct');
SELECT safe_ddl.reset_usage();
UPDATE acct SET note = 'x' WHERE id = 100;
SELECT * FROM uses('acct');
-- DELETE writes the table as a whole (and reads its WHERE column).
SELECT safe_ddl.reset_usage();
DELETE FROM acct WHERE id = 100;
SELECT * FROM uses('acct');
-- Through a view: the view's columns and the base table's columns.
SELECT safe_ddl.reset_usage();
SELECT email FROM acct_emails WHERE id = 2;
SELECT * FROM uses('acct');
SELECT * FROM uses('acct_emails');
-- Through functions: a PL/pgSQL query (SPI) and an inlined SQL function.
SELECT safe_ddl.reset_usage();
SELECT acct_legacy_sum();
SELECT acct_note(1) IS NULL AS note_is_null;
SELECT * FROM uses('acct');
-- A prepared statement, each time it runs.
SELECT safe_ddl.reset_usage();
PREPARE spare_of(int) AS SELECT spare FROM acct WHERE id = $1;
EXECUTE spare_of(3);
SELECT * FROM uses('acct');
DEALLOCATE spare_of;
-- A whole-row reference uses every column.
SELECT safe_ddl.reset_usage();
SELECT row_to_json(a) IS NOT NULL AS j FROM acct a WHERE id = 4;
SELECT * FROM uses('acct');
-- EXPLAIN without ANALYZE runs nothing, and safe_ddl.track_usage = off records nothing.
SELECT safe_ddl.reset_usage();
EXPLAIN (COSTS OFF) SELECT legacy FROM acct;
SET safe_ddl.track_usage = off;
SELECT legacy FROM acct WHERE id = 5;
RESET safe_ddl.track_usage;
SELECT count(*) AS recorded FROM uses('acct');

-- Drops and renames of objects in use: refused even with the plain allow.
SELECT safe_ddl.reset_usage();
SELECT legacy FROM acct WHERE id = 1;
SELECT try($$ALTER TABLE acct DROP COLUMN legacy$$);
BEGIN;
SET LOCAL safe_ddl.allow = 'drop_column';
SELECT try($$ALTER TABLE acct DROP COLUMN legacy$$);
SELECT try($$ALTER TABLE acct RENAME COLUMN legacy TO legacy2$$);
SET LOCAL safe_ddl.allow = 'drop_column, rename, drop_table';
SELECT try($$ALTER TABLE acct RENAME TO acct2$$);
SELECT try($$DROP TABLE acct CASCADE$$);
-- all does not cover in_use either
SET LOCAL safe_ddl.allow = 'all';
SELECT try($$ALTER TABLE acct DROP COLUMN legacy$$);
ROLLBACK;
-- The override: the hazard and in_use.
BEGIN;
SET LOCAL safe_ddl.allow = 'drop_column, in_use';
ALTER TABLE acct DROP COLUMN legacy;
SELECT count(*) AS legacy_left FROM pg_attribute WHERE attrelid = 'acct'::regclass AND attname = 'legacy';
ROLLBACK;
-- warn mode reports it and runs it (superuser setting; terse: DETAIL has times).
SET safe_ddl.mode = warn;
\set VERBOSITY terse
BEGIN;
ALTER TABLE acct DROP COLUMN legacy;
ROLLBACK;
\set VERBOSITY default
RESET safe_ddl.mode;

-- Not used, but not tracked for a whole window yet (after a reset, as after a restart): not
-- proven unused, so still refused with the plain allow.
SET safe_ddl.usage_window = '1h';
SELECT safe_ddl.reset_usage('acct');
BEGIN;
SET LOCAL safe_ddl.allow = 'drop_column';
SELECT try($$ALTER TABLE acct DROP COLUMN spare$$);
ROLLBACK;

-- A drop refused because of a recent read, allowed once the window has passed without use.
SET safe_ddl.usage_window = '3s';
SELECT safe_ddl.reset_usage('acct');
SELECT spare FROM acct WHERE id = 1;
BEGIN;
SET LOCAL safe_ddl.allow = 'drop_column';
SELECT try($$ALTER TABLE acct DROP COLUMN spare$$);
COMMIT;
SELECT pg_sleep(3.5);
BEGIN;
SET LOCAL safe_ddl.allow = 'drop_column';
ALTER TABLE acct DROP COLUMN spare;
COMMIT;
SELECT count(*) AS spare_left FROM pg_attribute
 WHERE attrelid = 'acct'::regclass AND attname = 'spare' AND NOT attisdropped;
-- Without the allow it is still the ordinary drop_column refusal, now without "in use".
SELECT try($$ALTER TABLE acct DROP COLUMN note$$);

-- check() judges the same way.
SET safe_ddl.usage_window = '1d';
SELECT email FROM acct WHERE id = 1;
SELECT hazard, verdict FROM safe_ddl.check($$ALTER TABLE acct DROP COLUMN email$$);
BEGIN;
SET LOCAL safe_ddl.allow = 'drop_column';
SELECT hazard, verdict FROM safe_ddl.check($$ALTER TABLE acct DROP COLUMN email$$);
SET LOCAL safe_ddl.allow = 'drop_column, in_use';
SELECT hazard, verdict FROM safe_ddl.check($$ALTER TABLE acct DROP COLUMN email$$);
ROLLBACK;

-- Resetting is for superusers (and whoever they grant it to); the view is for everyone.
SET ROLE safe_ddl_app;
SELECT safe_ddl.reset_usage('acct');
SELECT count(*) >= 0 AS can_read FROM safe_ddl.column_usage;
RESET ROLE;

SET safe_ddl.allow = 'drop_table, in_use';
DROP TABLE acct CASCADE;
RESET safe_ddl.allow;
DROP FUNCTION uses(regclass), try(text), acct_legacy_sum(), acct_note(int);
