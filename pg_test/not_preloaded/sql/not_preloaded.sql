-- Without shared_preload_libraries, CREATE EXTENSION says the guard does not cover all sessions.
CREATE EXTENSION safe_ddl;
SELECT value FROM safe_ddl.status() WHERE setting = 'loaded_via';
-- A new session that has not loaded the library is not guarded.
\c
CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 100) g;
CREATE INDEX t_unguarded ON t (id);
-- LOAD installs the guard in this backend.
LOAD 'safe_ddl';
CREATE INDEX t_guarded ON t (id);
SELECT setting, value FROM safe_ddl.status() WHERE setting IN ('guard_active', 'loaded_via') ORDER BY 1;
-- session_preload_libraries guards every new session of the database without a restart.
SELECT format('ALTER DATABASE %I SET session_preload_libraries = %L', current_database(), 'safe_ddl') \gexec
\c
SELECT setting, value FROM safe_ddl.status() WHERE setting IN ('guard_active', 'loaded_via') ORDER BY 1;
CREATE INDEX t_guarded ON t (id);
SELECT format('ALTER DATABASE %I RESET session_preload_libraries', current_database()) \gexec
SET safe_ddl.allow = 'drop_table';
DROP TABLE t;
-- The metrics live in shared memory, which only shared_preload_libraries provides: the view is
-- empty (although the guard above refused statements), and a reset does nothing but say so.
SELECT count(*) AS metric_rows FROM safe_ddl.metrics;
SELECT safe_ddl.metrics_reset();
