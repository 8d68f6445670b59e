-- The audit trail without shared_preload_libraries (docs/audit.md): a backend that loaded the
-- library records its refusals and allows all the same; with no shared memory for the LWLock,
-- writers exclude each other with flock(2) on $PGDATA/safe_ddl/audit.lock. The view reads them.
LOAD 'safe_ddl';
CREATE TABLE ant AS SELECT g AS id FROM generate_series(1, 1000) g;
SELECT pg_catalog.clock_timestamp() AS t0 \gset
\set VERBOSITY terse
CREATE INDEX ant_id ON ant (id);
\set VERBOSITY default
BEGIN;
SET LOCAL safe_ddl.allow = 'index_build';
CREATE INDEX ant_id ON ant (id);
COMMIT;
SELECT action, hazard, subject, allow, statement
  FROM safe_ddl.audit_log WHERE pid = pg_backend_pid() AND time >= :'t0' ORDER BY time;
-- The writers' lock file exists (only this path creates it).
SELECT (pg_stat_file('safe_ddl/audit.lock')).size AS lock_file_size;
SET safe_ddl.allow = 'drop_table';
DROP TABLE ant;
