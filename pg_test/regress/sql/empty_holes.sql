-- Review of the empty-table exemption (issue 13): tables whose main fork has 0 pages but that
-- still hold data somewhere a statement reads or copies under its lock.
CREATE FUNCTION eh_hook(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  BEGIN
    EXECUTE sql;
    RAISE EXCEPTION 'eh_rollback';
  EXCEPTION
    WHEN raise_exception THEN
      IF SQLERRM = 'eh_rollback' THEN RETURN 'ok'; END IF;
      RETURN 'error: ' || SQLERRM;
    WHEN object_not_in_prerequisite_state THEN
      IF SQLERRM LIKE 'safe_ddl:%' THEN RETURN 'refused'; END IF;
      RETURN 'error: ' || SQLERRM;
  END;
END $$;
CREATE FUNCTION eh_check(sql text) RETURNS text LANGUAGE sql AS $$
  SELECT CASE WHEN bool_or(verdict = 'refused') THEN 'refused' ELSE 'ok' END FROM safe_ddl.check(sql)
$$;
SET allow_in_place_tablespaces = on;
CREATE TABLESPACE eh_ts LOCATION '';

-- 1. Data only in TOAST. A mass DELETE and a VACUUM that skips the TOAST table (autovacuum
-- vacuums it separately; here PROCESS_TOAST false) truncate the main fork to 0 pages while the
-- TOAST table keeps every page. SET TABLESPACE copies the TOAST table and REINDEX TABLE reads it
-- to rebuild its index, under the statement's lock: the table holds data.
CREATE TABLE eh_toast (id int, s text);
ALTER TABLE eh_toast ALTER COLUMN s SET STORAGE EXTERNAL;
INSERT INTO eh_toast SELECT g, repeat('x', 10000) FROM generate_series(1, 200) g;
DELETE FROM eh_toast;
VACUUM (PROCESS_TOAST false) eh_toast;
SELECT pg_relation_size('eh_toast') AS main_bytes,
       pg_relation_size(reltoastrelid) > 0 AS toast_has_pages
  FROM pg_class WHERE oid = 'eh_toast'::regclass;
SELECT sql, eh_hook(sql) AS hook, eh_check(sql) AS check
  FROM (VALUES ('ALTER TABLE eh_toast SET TABLESPACE eh_ts'),
               ('REINDEX TABLE eh_toast'),
               ('CREATE INDEX ON eh_toast (id)')) v(sql);
-- Once the TOAST table is vacuumed too, the table holds no data.
VACUUM eh_toast;
SELECT pg_relation_size(reltoastrelid) AS toast_bytes FROM pg_class WHERE oid = 'eh_toast'::regclass;
SELECT sql, eh_hook(sql) AS hook, eh_check(sql) AS check
  FROM (VALUES ('ALTER TABLE eh_toast SET TABLESPACE eh_ts'),
               ('REINDEX TABLE eh_toast')) v(sql);

-- 2. ALTER COLUMN TYPE of a column that other tables reference rebuilds their foreign keys,
-- which takes ACCESS EXCLUSIVE on each referencing table and validates it (a full scan) when the
-- comparison operator changes (integer to bigint). The referenced table holds no data, but a
-- referencing table can (rows whose key is NULL): it is judged too (constraint_validation).
CREATE TABLE eh_ref (id int PRIMARY KEY);
CREATE TABLE eh_fk (id int, ref int REFERENCES eh_ref);
INSERT INTO eh_fk SELECT g, NULL FROM generate_series(1, 1000) g;
-- What Postgres does, shown with a row that breaks the key (written past the foreign key's
-- trigger): the rebuilt foreign key reads the rows of eh_fk, under ACCESS EXCLUSIVE on it.
SET session_replication_role = replica;
INSERT INTO eh_fk VALUES (0, 42);
RESET session_replication_role;
BEGIN;
SET LOCAL safe_ddl.allow = 'constraint_validation';
ALTER TABLE eh_ref ALTER COLUMN id TYPE bigint;
ROLLBACK;
DELETE FROM eh_fk WHERE id = 0;
BEGIN;
SET LOCAL safe_ddl.allow = 'constraint_validation';
ALTER TABLE eh_ref ALTER COLUMN id TYPE bigint;
SELECT mode FROM pg_locks
 WHERE pid = pg_backend_pid() AND locktype = 'relation' AND relation = 'eh_fk'::regclass
   AND mode = 'AccessExclusiveLock';
ROLLBACK;
SELECT eh_hook('ALTER TABLE eh_ref ALTER COLUMN id TYPE bigint') AS hook,
       eh_check('ALTER TABLE eh_ref ALTER COLUMN id TYPE bigint') AS check;
ALTER TABLE eh_ref ALTER COLUMN id TYPE bigint;
-- The referencing table holds no data either (a fresh database): passes.
TRUNCATE eh_fk;
SELECT eh_hook('ALTER TABLE eh_ref ALTER COLUMN id TYPE bigint') AS hook,
       eh_check('ALTER TABLE eh_ref ALTER COLUMN id TYPE bigint') AS check;
-- A NOT VALID foreign key is rebuilt NOT VALID: nothing is read (the row that breaks the key
-- stays unnoticed), and nothing is refused.
ALTER TABLE eh_fk DROP CONSTRAINT eh_fk_ref_fkey;
ALTER TABLE eh_fk ADD CONSTRAINT eh_fk_ref_fkey FOREIGN KEY (ref) REFERENCES eh_ref NOT VALID;
INSERT INTO eh_fk VALUES (1, NULL);
SET session_replication_role = replica;
INSERT INTO eh_fk VALUES (0, 42);
RESET session_replication_role;
SELECT eh_hook('ALTER TABLE eh_ref ALTER COLUMN id TYPE bigint') AS hook;
BEGIN;
ALTER TABLE eh_ref ALTER COLUMN id TYPE bigint;
ROLLBACK;
DELETE FROM eh_fk WHERE id = 0;
-- The referenced table holds data: table_rewrite refuses it, as before.
ALTER TABLE eh_fk VALIDATE CONSTRAINT eh_fk_ref_fkey;
INSERT INTO eh_ref VALUES (1);
SELECT eh_hook('ALTER TABLE eh_ref ALTER COLUMN id TYPE bigint') AS hook;
SELECT hazard FROM safe_ddl.check('ALTER TABLE eh_ref ALTER COLUMN id TYPE bigint');

SET safe_ddl.allow = 'drop_table, in_use';
DROP TABLE eh_toast, eh_fk, eh_ref;
RESET safe_ddl.allow;
DROP TABLESPACE eh_ts;
