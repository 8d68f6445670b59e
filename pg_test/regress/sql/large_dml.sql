-- large_dml (opt-in, safe_ddl.max_dml_rows): UPDATE/DELETE estimated above the limit is refused.
CREATE TABLE events AS SELECT g AS id, 0 AS v FROM generate_series(1, 20000) g;
ANALYZE events;
-- Off by default.
UPDATE events SET v = 0;
VACUUM ANALYZE events;  -- exact statistics: the estimates below are stable
SET safe_ddl.max_dml_rows = 1000;
UPDATE events SET v = v + 1 WHERE id > 0;
DELETE FROM events WHERE id > 100;
SELECT sum(v) AS untouched, count(*) AS rows FROM events;
-- Small statements and EXPLAIN pass.
UPDATE events SET v = 1 WHERE id = 5;
EXPLAIN (COSTS OFF) UPDATE events SET v = 1;
-- Inside functions too.
DO $$ BEGIN UPDATE events SET v = 2; END $$;
-- The override for one transaction.
BEGIN;
SET LOCAL safe_ddl.allow = 'large_dml';
UPDATE events SET v = v + 1;
COMMIT;
SELECT count(*) FILTER (WHERE v >= 1) AS updated FROM events;
-- warn mode reports and runs.
VACUUM ANALYZE events;
SET safe_ddl.mode = warn;
UPDATE events SET v = 0;
RESET safe_ddl.mode;
-- A table created in this transaction is exempt.
BEGIN;
CREATE TABLE fresh AS SELECT g AS id FROM generate_series(1, 5000) g;
ANALYZE fresh;
UPDATE fresh SET id = id + 1;
ROLLBACK;
-- Only superusers set the limit.
SET ROLE safe_ddl_app;
SET safe_ddl.max_dml_rows = 0;
RESET ROLE;
RESET safe_ddl.max_dml_rows;
SET safe_ddl.allow = 'drop_table';
DROP TABLE events;
RESET safe_ddl.allow;
-- A data-modifying CTE is guarded too.
BEGIN;
CREATE TABLE events2 AS SELECT g AS id, 0 AS v FROM generate_series(1, 20000) g;
ALTER TABLE events2 ADD PRIMARY KEY (id);
COMMIT;
VACUUM ANALYZE events2;
SET safe_ddl.max_dml_rows = 1000;
WITH u AS (UPDATE events2 SET v = 1 RETURNING id) SELECT count(*) FROM u;
-- The backfill's batches stay below the limit: it caps its batch size at half of safe_ddl.max_dml_rows.
SET client_min_messages = warning;
CALL safe_ddl.backfill('events2', 'v = v + 1', batch_size => 5000);
RESET client_min_messages;
SELECT count(*) FILTER (WHERE v = 1) AS once, count(*) AS rows FROM events2;
RESET safe_ddl.max_dml_rows;
SET safe_ddl.allow = 'drop_table';
DROP TABLE events2;
RESET safe_ddl.allow;
