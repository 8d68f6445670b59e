-- An active column change cannot be broken (issue 18, hazard active_column_change): the guard
-- refuses DROP COLUMN, RENAME COLUMN and ALTER COLUMN TYPE of either column of an unfinished
-- change (found in the catalog: its dual-write trigger), whatever the column's usage, and points
-- to cancel/finish; the helpers add their allows to the caller's (the caller's in_use counts).
\set SHOW_CONTEXT never
CREATE TABLE ccg (id int PRIMARY KEY, note text);
INSERT INTO ccg SELECT g, 'n' || g FROM generate_series(1, 100) g;
SELECT safe_ddl.begin_column_change('ccg', 'note', 'comment', 'varchar(200)') IS NOT NULL AS begun;
INSERT INTO ccg (id, comment) VALUES (101, 'new code');    -- new code writes the new column

-- The issue's scenario: usage not proven (a window longer than tracking has run), so
-- cancel_column_change is refused; its HINT is the helper again with in_use, never a DROP COLUMN.
SET safe_ddl.usage_window = '1h';
\set VERBOSITY terse
SELECT safe_ddl.cancel_column_change('ccg', 'note');
\set VERBOSITY default
DO $$
DECLARE
    h text;
BEGIN
    PERFORM safe_ddl.cancel_column_change('ccg', 'note');
EXCEPTION WHEN object_not_in_prerequisite_state THEN
    GET STACKED DIAGNOSTICS h = PG_EXCEPTION_HINT;
    RAISE NOTICE 'HINT: %', h;
END
$$;
-- Following the old HINT (drop_column, in_use + DROP COLUMN of the new column): refused now, as
-- active_column_change, pointing to cancel/finish.
BEGIN;
SET LOCAL safe_ddl.allow = 'drop_column, in_use';
ALTER TABLE ccg DROP COLUMN comment;
ROLLBACK;
-- check() says the same (same rules, same catalog facts).
SELECT hazard, verdict, relation,
       strpos(hint, 'SELECT safe_ddl.cancel_column_change(''public.ccg'', ''note'');') > 0 AS hint_cancels
  FROM safe_ddl.check('ALTER TABLE ccg DROP COLUMN comment') ORDER BY hazard;
-- The old column, renames and type changes of either column: refused too, whatever else is allowed.
\set VERBOSITY terse
BEGIN;
SET LOCAL safe_ddl.allow = 'drop_column, in_use';
ALTER TABLE ccg DROP COLUMN note;
ROLLBACK;
BEGIN;
SET LOCAL safe_ddl.allow = 'rename, in_use';
ALTER TABLE ccg RENAME COLUMN note TO remark;
ROLLBACK;
BEGIN;
SET LOCAL safe_ddl.allow = 'rename, in_use';
ALTER TABLE ccg RENAME COLUMN comment TO remark;
ROLLBACK;
BEGIN;
SET LOCAL safe_ddl.allow = 'table_rewrite';
ALTER TABLE ccg ALTER COLUMN note TYPE varchar(100);
ROLLBACK;
BEGIN;
SET LOCAL safe_ddl.allow = 'table_rewrite';
ALTER TABLE ccg ALTER COLUMN comment TYPE text;
ROLLBACK;
-- Another column of the table is not the change's.
BEGIN;
ALTER TABLE ccg ADD COLUMN extra int;
ALTER TABLE ccg RENAME COLUMN extra TO extra2;
ALTER TABLE ccg DROP COLUMN extra2;
ROLLBACK;
\set VERBOSITY default
-- Writes still work, both sides in step.
INSERT INTO ccg (id, note) VALUES (102, 'old code');
UPDATE ccg SET comment = 'changed' WHERE id = 1;
SELECT id, note, comment FROM ccg WHERE id IN (1, 101, 102) ORDER BY id;

-- The override works like every other hazard's, and shows what the refusal prevents: the
-- trigger stays, and every write of the table fails.
BEGIN;
SET LOCAL safe_ddl.allow = 'drop_column, in_use, active_column_change';
ALTER TABLE ccg DROP COLUMN comment;
UPDATE ccg SET note = 'x' WHERE id = 2;
ROLLBACK;

-- cancel_column_change honours the caller's in_use (it used to replace safe_ddl.allow with
-- drop_column alone): the new column and the dual writes go, the old column stays.
BEGIN;
SET LOCAL safe_ddl.allow = 'in_use';
SELECT safe_ddl.cancel_column_change('ccg', 'note');
SHOW safe_ddl.allow;    -- the caller's value again
SELECT tgname FROM pg_trigger WHERE tgrelid = 'ccg'::regclass AND NOT tgisinternal;
ROLLBACK;
-- Once usage is proven (here: a zero window), the refusal's HINT runs as pasted.
RESET safe_ddl.usage_window;
SELECT safe_ddl.cancel_column_change('public.ccg', 'note');
SELECT attname FROM pg_attribute WHERE attrelid = 'ccg'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum;
SELECT tgname FROM pg_trigger WHERE tgrelid = 'ccg'::regclass AND NOT tgisinternal;
-- Writes work afterwards; the old column is free again.
INSERT INTO ccg (id, note) VALUES (103, 'after cancel');
UPDATE ccg SET note = 'after' WHERE id = 3;
SELECT count(*) FROM ccg;
BEGIN;
SET LOCAL safe_ddl.allow = 'rename';
ALTER TABLE ccg RENAME COLUMN note TO remark;
ROLLBACK;

-- finish_column_change: the same allows (its own DROP COLUMN is allowed drop_column and
-- active_column_change on top of the caller's); a caller's in_use overrides its usage check.
SELECT safe_ddl.begin_column_change('ccg', 'note', 'comment', 'varchar(200)') IS NOT NULL AS begun;
SET client_min_messages = warning;
CALL safe_ddl.backfill('public.ccg', 'comment = (note::character varying(200))', 'comment IS DISTINCT FROM CAST((note::character varying(200)) AS character varying(200))', pause => '0');
RESET client_min_messages;
UPDATE ccg SET note = 'old code' WHERE id = 4;   -- old code, moments ago
SET safe_ddl.usage_window = '1h';
\set VERBOSITY terse
SELECT safe_ddl.finish_column_change('ccg', 'note');
-- in_use counts only under a ceiling that permits it (one that arrived after the allow: no skip)
BEGIN;
SET LOCAL safe_ddl.allow = 'in_use';
SET LOCAL safe_ddl.allow_ceiling = 'drop_column';
SELECT safe_ddl.finish_column_change('ccg', 'note');
ROLLBACK;
\set VERBOSITY default
BEGIN;
SET LOCAL safe_ddl.allow = 'in_use';
SELECT safe_ddl.finish_column_change('ccg', 'note');
SHOW safe_ddl.allow;
COMMIT;
RESET safe_ddl.usage_window;
SELECT attname FROM pg_attribute WHERE attrelid = 'ccg'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum;
SELECT tgname FROM pg_trigger WHERE tgrelid = 'ccg'::regclass AND NOT tgisinternal;
INSERT INTO ccg (id, comment) VALUES (104, 'after finish');
SELECT status FROM safe_ddl.column_change_status('ccg') ORDER BY change_id;

-- Under a ceiling that does not permit active_column_change, the helpers still work (they add it
-- only where the ceiling permits; their own trigger is gone before their DROP COLUMN anyway).
SELECT safe_ddl.begin_column_change('ccg', 'comment', 'remark', 'text') IS NOT NULL AS begun;
SET safe_ddl.allow_ceiling = 'drop_column, rename, in_use';
SELECT safe_ddl.cancel_column_change('ccg', 'comment');
BEGIN;
SET LOCAL safe_ddl.allow = 'active_column_change';    -- above the ceiling: refused
ROLLBACK;
RESET safe_ddl.allow_ceiling;
SELECT attname FROM pg_attribute WHERE attrelid = 'ccg'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum;

-- A table of another role's change is guarded too (the catalog shows every role's change, where
-- safe_ddl.column_changes shows each role its own).
CREATE SCHEMA ccg_app AUTHORIZATION safe_ddl_app;
SET ROLE safe_ddl_app;
CREATE TABLE ccg_app.t (id int PRIMARY KEY, v int);
INSERT INTO ccg_app.t VALUES (1, 1);
SELECT safe_ddl.begin_column_change('ccg_app.t', 'v', 'v_big', 'bigint') IS NOT NULL AS begun;
RESET ROLE;
\set VERBOSITY terse
BEGIN;
SET LOCAL safe_ddl.allow = 'drop_column';
ALTER TABLE ccg_app.t DROP COLUMN v_big;
ROLLBACK;
\set VERBOSITY default
SET ROLE safe_ddl_app;
SELECT safe_ddl.cancel_column_change('ccg_app.t', 'v');
RESET ROLE;
DROP SCHEMA ccg_app CASCADE;

-- The documented way around (docs/hazards/active_column_change.md): drop the trigger first; the
-- change is then no longer live, and cancel_column_change cleans up its functions afterwards.
SELECT safe_ddl.begin_column_change('ccg', 'comment', 'remark', 'text') IS NOT NULL AS begun \gset
SELECT tgname AS tg FROM pg_trigger WHERE tgrelid = 'ccg'::regclass AND NOT tgisinternal \gset
BEGIN;
SET LOCAL safe_ddl.allow = 'drop_column';
DROP TRIGGER :"tg" ON ccg;
ALTER TABLE ccg DROP COLUMN remark;
COMMIT;
INSERT INTO ccg (id, comment) VALUES (105, 'trigger dropped by hand');
SELECT safe_ddl.cancel_column_change('ccg', 'comment');
SELECT p.proname FROM pg_proc AS p WHERE p.proname LIKE '\_safe\_ddl\_cc%';

BEGIN;
SET LOCAL safe_ddl.allow = 'drop_table';
DROP TABLE ccg;
COMMIT;
