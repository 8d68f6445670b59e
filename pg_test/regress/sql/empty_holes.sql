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

SET safe_ddl.allow = 'drop_table, in_use';
DROP TABLE eh_toast;
RESET safe_ddl.allow;
DROP TABLESPACE eh_ts;
