-- Column usage tracking (issue 7): when each table and column was last read and written.
-- The data lives in shared memory (src/usage/store.rs), fed by an ExecutorStart hook; these
-- objects only present it. See docs/column_usage.md.

-- One row per relation used since tracking started (column_name NULL: the relation as a whole,
-- e.g. count(*) or DELETE) and one per column used; a whole-row reference (SELECT t FROM t)
-- counts as a use of every column. Times are to the second.
-- Rows are filtered by the querying role's privileges (issue 12: when a table or column was last
-- read or written is information about it): _usage_entries() returns only entries of relations
-- the role owns (is a member of the owner) or holds any privilege on, table-level or on some
-- column, and column entries only of columns it holds SELECT, INSERT, UPDATE or REFERENCES on
-- (or owns the table); superusers get every entry. The view applies the column rule again to
-- the columns a whole-row use expands to.
CREATE VIEW @extschema@.column_usage AS
WITH e AS (SELECT * FROM @extschema@._usage_entries())
SELECT e.relid::pg_catalog.regclass AS relation,
       NULL::name AS column_name,
       e.last_read, e.last_write, e.tracking_since
  FROM e
 WHERE e.attnum = -32768
UNION ALL
SELECT a.attrelid::pg_catalog.regclass,
       a.attname,
       GREATEST(c.last_read, w.last_read),
       GREATEST(c.last_write, w.last_write),
       COALESCE(c.tracking_since, w.tracking_since)
  FROM pg_catalog.pg_attribute a
  LEFT JOIN e c ON c.relid = a.attrelid AND c.attnum = a.attnum
  LEFT JOIN e w ON w.relid = a.attrelid AND w.attnum = 0
 WHERE a.attnum > 0 AND NOT a.attisdropped
   AND a.attrelid IN (SELECT relid FROM e)
   AND (c.relid IS NOT NULL OR w.relid IS NOT NULL)
   AND (pg_catalog.has_column_privilege(a.attrelid, a.attnum, 'SELECT, INSERT, UPDATE, REFERENCES')
        OR pg_catalog.pg_has_role((SELECT k.relowner FROM pg_catalog.pg_class k
                                    WHERE k.oid OPERATOR(pg_catalog.=) a.attrelid), 'USAGE'));

COMMENT ON VIEW @extschema@.column_usage IS
  'When each table and column of this database was last read and written (safe_ddl usage tracking); rows of relations and columns the querying role has no privilege on are hidden.';

CREATE FUNCTION @extschema@.reset_usage(relation pg_catalog.regclass DEFAULT NULL)
RETURNS boolean LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT @extschema@._reset_usage(relation::pg_catalog.oid) $$;

COMMENT ON FUNCTION @extschema@.reset_usage(pg_catalog.regclass) IS
  'Forget recorded uses of a relation (NULL: of everything); tracking of it restarts now.';

-- Resetting never makes an object look unused (tracking restarts, so nothing is proven unused
-- for a whole window), but it erases what the DBA may want to see: superusers only by default.
REVOKE ALL ON FUNCTION @extschema@.reset_usage(pg_catalog.regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._reset_usage(pg_catalog.oid) FROM PUBLIC;
GRANT SELECT ON @extschema@.column_usage TO PUBLIC;

-- The uses of this server, for a primary whose safe_ddl.usage_standbys lists it (issue 19): when
-- objects were used is statistics about them, so superusers and pg_read_all_stats only (the
-- function checks too).
REVOKE ALL ON FUNCTION @extschema@._usage_export(pg_catalog.oid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@._usage_export(pg_catalog.oid) TO pg_read_all_stats;
