-- safe_ddl.health(): one row per finding. Only stable things are printed (sections, metrics,
-- booleans, statements), never pids, timings or LSNs.
\pset null '(null)'

-- The shape: five text columns.
SELECT pg_get_function_result('safe_ddl.health(regclass, interval)'::regprocedure);

-- No standby (and no replication slot) in the test cluster: one row says so.
SELECT section, subject, metric, value, detail
  FROM safe_ddl.health() WHERE section = 'replication';

-- Without a relation there is no relation section; every other section is always present.
SELECT DISTINCT section FROM safe_ddl.health() ORDER BY 1;

-- A table with dead tuples, autovacuum off on it so nothing removes them meanwhile.
CREATE TABLE health_t (id int, v text) WITH (autovacuum_enabled = false);
INSERT INTO health_t SELECT g, 'v' || g FROM generate_series(1, 1000) g;
DELETE FROM health_t WHERE id % 4 = 0;
SELECT pg_stat_force_next_flush();
SELECT subject, metric FROM safe_ddl.health('health_t') WHERE section = 'relation';
SELECT metric, value::numeric > 0 AS positive
  FROM safe_ddl.health('health_t')
 WHERE metric IN ('live_tuples', 'dead_tuples', 'dead_ratio');
SELECT metric, detail LIKE '%autovacuum_enabled = false%' AS says_disabled
  FROM safe_ddl.health('health_t')
 WHERE metric IN ('dead_tuples', 'dead_ratio', 'autovacuum_running');
SELECT metric, value FROM safe_ddl.health('health_t')
 WHERE metric IN ('last_vacuum', 'autovacuum_running');

-- After a VACUUM. Inside a transaction block too: health() calls pg_stat_clear_snapshot() first.
VACUUM health_t;
SELECT pg_stat_force_next_flush();
BEGIN;
SELECT value <> 'never' AS vacuumed, detail LIKE 'manual VACUUM: 1 times, last at %' AS counted
  FROM safe_ddl.health('health_t') WHERE metric = 'last_vacuum';
COMMIT;

-- An INVALID index left by a failed concurrent build (plain CREATE INDEX is refused by
-- safe_ddl on an existing table; CONCURRENTLY is allowed), listed with the statement to drop it.
INSERT INTO health_t VALUES (1, 'duplicate');
CREATE UNIQUE INDEX CONCURRENTLY health_t_id_key ON health_t (id);
SELECT subject, value, detail
  FROM safe_ddl.health() WHERE metric = 'invalid_index' AND value = 'public.health_t';
-- Run the statement from the detail.
SELECT substring(detail FROM 'DROP INDEX CONCURRENTLY [^;]+')
  FROM safe_ddl.health() WHERE metric = 'invalid_index' AND value = 'public.health_t' \gexec
SELECT count(*) AS invalid_left
  FROM safe_ddl.health() WHERE metric = 'invalid_index' AND value = 'public.health_t';

-- A long transaction: ours, with long_after => 0, marked as this session.
BEGIN;
SELECT 1 AS started;
SELECT section, metric, value IS NOT NULL AS has_age
  FROM safe_ddl.health(long_after => '0')
 WHERE section = 'sessions' AND subject LIKE '%(this session)';
COMMIT;
SELECT count(*) AS this_session_rows
  FROM safe_ddl.health(long_after => '0') WHERE subject LIKE '%(this session)';

-- Not a table.
SELECT subject, metric, detail FROM safe_ddl.health('pg_class_oid_index') WHERE section = 'relation';

-- A partitioned table: a summary row, then the leaf partitions.
CREATE TABLE health_p (id int) PARTITION BY RANGE (id);
CREATE TABLE health_p1 PARTITION OF health_p FOR VALUES FROM (0) TO (100);
CREATE TABLE health_p2 PARTITION OF health_p FOR VALUES FROM (100) TO (200);
INSERT INTO health_p SELECT g FROM generate_series(0, 199) g;
DELETE FROM health_p WHERE id < 10;
SELECT pg_stat_force_next_flush();
SELECT subject, metric, CASE WHEN metric = 'partitions' THEN value
                            ELSE (value::bigint > 0)::text END AS value
  FROM safe_ddl.health('health_p') WHERE metric IN ('partitions', 'dead_tuples');

-- A role without pg_read_all_stats: no error, hidden things are said to be hidden.
GRANT SELECT ON health_t TO safe_ddl_app;
SET ROLE safe_ddl_app;
SELECT section, metric, value IS NOT NULL AS has_value
  FROM safe_ddl.health('health_t')
 WHERE section IN ('replication', 'relation') OR metric = 'hidden_sessions';
RESET ROLE;

SET safe_ddl.allow = 'drop_table';
DROP TABLE health_t, health_p;
RESET safe_ddl.allow;
