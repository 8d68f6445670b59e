-- safe_ddl.metrics (issue 19): cumulative counters for monitoring, one row per metric and labels.
-- The counters are cluster-wide and the suite runs one test at a time, so after a reset every
-- counter below moves exactly by what this file does. Lock waits are in the isolation suite
-- (lock_metrics), attacks on the counters in the security suite (metrics).
\set VERBOSITY terse

-- Reset (superuser): every counter is 0, stats_reset_seconds is now.
SELECT safe_ddl.metrics_reset();
SELECT count(*) FILTER (WHERE metric = 'statements_total') AS statement_series,
       count(DISTINCT hazard) AS hazards,
       count(DISTINCT action) AS actions,
       sum(value) FILTER (WHERE metric <> 'stats_reset_seconds') AS sum_of_counters
  FROM safe_ddl.metrics;
SELECT abs(value - extract(epoch FROM now())::float8) < 60 AS reset_now
  FROM safe_ddl.metrics WHERE metric = 'stats_reset_seconds';
SELECT metric, kind, description <> '' AS described FROM safe_ddl.metrics WHERE hazard IS NULL ORDER BY metric;
SELECT DISTINCT action FROM safe_ddl.metrics WHERE metric = 'statements_total' ORDER BY 1;

-- The counters that moved since the reset (times are shown apart).
CREATE VIEW moved AS
SELECT metric, hazard, action, value FROM safe_ddl.metrics
 WHERE value <> 0 AND metric NOT IN ('stats_reset_seconds', 'lock_stall_seconds_total',
                                     'lock_stall_seconds_max', 'backfill_throttle_seconds_total')
 ORDER BY metric, hazard, action;

CREATE TABLE mt AS SELECT g AS id, g AS v FROM generate_series(1, 1000) g;
ANALYZE mt;
SELECT * FROM moved;

-- A dry run counts nothing.
SELECT hazard, verdict FROM safe_ddl.check('CREATE INDEX mt_v ON mt (v); DROP TABLE mt');
SELECT * FROM moved;

-- Refusals: one per finding; a statement with two hazards counts once for each.
CREATE INDEX mt_v ON mt (v);
ALTER TABLE mt ALTER COLUMN id TYPE bigint, ADD CONSTRAINT mt_v_positive CHECK (v > 0);
DO $$ BEGIN DROP TABLE mt; EXCEPTION WHEN object_not_in_prerequisite_state THEN NULL; END $$;
SELECT * FROM moved;

-- warn mode: the WARNING, the statement ran.
SET safe_ddl.mode = warn;
CREATE INDEX mt_v ON mt (v);
RESET safe_ddl.mode;
SELECT * FROM moved;

-- Allowed by safe_ddl.allow, and by an inline allow (the statements run).
BEGIN;
SET LOCAL safe_ddl.allow = 'index_build';
CREATE INDEX mt_id ON mt (id);
COMMIT;
/* safe_ddl: allow index_drop */ DROP INDEX mt_id;
SELECT * FROM moved;

-- large_dml (the executor's guard) counts too.
SET safe_ddl.max_dml_rows = 100;
UPDATE mt SET v = v + 1;
RESET safe_ddl.max_dml_rows;
SELECT * FROM moved WHERE hazard = 'large_dml';

-- A statement without hazards counts nothing; none of these waited for a lock.
ALTER TABLE mt ADD COLUMN note text;
SELECT metric, value FROM safe_ddl.metrics WHERE metric LIKE 'lock%' ORDER BY metric;

-- A backfill: the rows and batches of its committed batches (1000 rows in batches of 300: the
-- size is not adapted, and nothing throttles it).
CREATE TABLE mb (id int PRIMARY KEY, v int);
INSERT INTO mb SELECT g, 0 FROM generate_series(1, 1000) g;
SET client_min_messages = warning;
CALL safe_ddl.backfill('mb', 'v = 1', batch_size => 300, target_batch_time => NULL, pause => '0',
                       max_replication_lag => NULL, max_dead_tuple_ratio => NULL, nice => 0);
RESET client_min_messages;
SELECT count(*) FILTER (WHERE v = 1) AS backfilled FROM mb;
SELECT * FROM moved WHERE metric LIKE 'backfill%';
SELECT value AS throttle_seconds FROM safe_ddl.metrics WHERE metric = 'backfill_throttle_seconds_total';
-- ... as the job row says.
SELECT rows_done, batches, throttled FROM safe_ddl.backfill_jobs WHERE relation = 'mb'::regclass;

-- Throttling: a backfill waits for vacuum (as many dead tuples as live ones, autovacuum off for
-- the table) until another session (dblink) cancels it. The wait counts, as in the job's
-- throttled column; no batch ran.
CREATE SCHEMA mx_dblink;
CREATE EXTENSION dblink SCHEMA mx_dblink;
CREATE TABLE md (id int PRIMARY KEY, v int) WITH (autovacuum_enabled = off);
INSERT INTO md SELECT g, 0 FROM generate_series(1, 1000) g;
UPDATE md SET v = 1;
SELECT pg_stat_force_next_flush();
SELECT mx_dblink.dblink_connect('mx_bf',
         format('host=%s port=%s dbname=%s user=postgres',
                split_part(current_setting('unix_socket_directories'), ',', 1),
                current_setting('port'), current_database()));
SELECT mx_dblink.dblink_exec('mx_bf', 'SET client_min_messages = warning');
SELECT mx_dblink.dblink_send_query('mx_bf',
         $$CALL safe_ddl.backfill('md', 'v = 2', pause => '0', max_dead_tuple_ratio => 0.01, nice => 0)$$);
SELECT pg_sleep(1.5);
SELECT safe_ddl.backfill_cancel(job_id) FROM safe_ddl.backfill_jobs WHERE relation = 'md'::regclass;
SELECT * FROM mx_dblink.dblink_get_result('mx_bf') AS x(r text);
SELECT * FROM mx_dblink.dblink_get_result('mx_bf') AS x(r text);
SELECT mx_dblink.dblink_disconnect('mx_bf');
SELECT * FROM moved WHERE metric LIKE 'backfill%';
SELECT b.status, b.batches, m.value BETWEEN 1.0 AND 30 AS throttled_over_a_second,
       m.value = extract(epoch FROM b.throttled)::float8 AS as_the_job_says
  FROM safe_ddl.metrics AS m, safe_ddl.backfill_jobs AS b
 WHERE m.metric = 'backfill_throttle_seconds_total' AND b.relation = 'md'::regclass;

-- A role without superuser may read the counters, not reset them.
SET ROLE safe_ddl_app;
SELECT count(*) > 0 AS readable FROM safe_ddl.metrics;
SELECT safe_ddl.metrics_reset();
RESET ROLE;

-- The reset: every counter back to 0.
SELECT safe_ddl.metrics_reset();
SELECT * FROM moved;

SET safe_ddl.allow = 'drop_table';
DROP VIEW moved;
DROP TABLE mt, mb, md;
RESET safe_ddl.allow;
DROP SCHEMA mx_dblink CASCADE;
