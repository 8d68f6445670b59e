-- The audit trail (safe_ddl.audit_log, docs/audit.md): one record per finding for every
-- refusal, every hazard let through by an allow (SET LOCAL safe_ddl.allow or an inline allow)
-- and every warn-mode WARNING; a refusal stays recorded although its transaction rolls back;
-- check() records nothing. The trail is cluster-wide: this test reads only its own backend's
-- records since it started, and shows times, pids and addresses as comparisons.
CREATE TABLE au (id int, v int);
INSERT INTO au SELECT g, g FROM generate_series(1, 1000) g;
CREATE TABLE au_app (id int);
INSERT INTO au_app SELECT g FROM generate_series(1, 1000) g;
ALTER TABLE au_app OWNER TO safe_ddl_app;
SELECT pg_catalog.clock_timestamp() AS t0 \gset
CREATE VIEW au_mine AS
SELECT action, hazard, subject, session_user_name, current_user_name,
       database_name = current_database() AS this_database, application_name,
       client_addr, allow, inline_allow, sqlstate, message, statement
  FROM safe_ddl.audit_log
 WHERE pid = pg_backend_pid() AND time >= :'t0'
 ORDER BY time, hazard;

-- A refusal: the transaction rolls back, the record stays.
BEGIN;
CREATE INDEX au_id ON au (id);
ROLLBACK;
SELECT * FROM au_mine;

\set VERBOSITY terse
-- As another role (SET ROLE): current_user is that role, session_user who logged in.
SET ROLE safe_ddl_app;
CREATE INDEX au_app_id ON au_app (id);
RESET ROLE;

-- Let through by SET LOCAL safe_ddl.allow: recorded with the allow's value.
BEGIN;
SET LOCAL safe_ddl.allow = 'index_build, drop_column';
CREATE INDEX au_id ON au (id);
COMMIT;

-- Let through by an inline allow.
SELECT 'before' AS step \;
-- safe_ddl: allow index_build
CREATE INDEX au_v ON au (v);

-- Two hazards in one statement: two records.
BEGIN;
ALTER TABLE au ALTER v TYPE bigint, DROP COLUMN id;
ROLLBACK;

-- Warn mode: the WARNING is recorded, the statement runs.
SET safe_ddl.mode = 'warn';
CREATE INDEX au_v2 ON au (v);
RESET safe_ddl.mode;

-- large_dml, refused from the executor hook.
SET safe_ddl.max_dml_rows = 100;
UPDATE au SET v = v + 1;
RESET safe_ddl.max_dml_rows;
\set VERBOSITY default

-- check() is a dry run: nothing recorded. Nor are statements that are not hazards.
SELECT hazard, verdict FROM safe_ddl.check('CREATE INDEX ON au (v)');
CREATE TABLE au_new (id int);
CREATE INDEX ON au_new (id);

SELECT action, hazard, subject, session_user_name, current_user_name, allow, inline_allow,
       statement
  FROM au_mine;
SELECT count(*) AS records, count(*) FILTER (WHERE this_database) AS in_this_database,
       count(*) FILTER (WHERE application_name = 'pg_regress/audit') AS from_pg_regress,
       count(*) FILTER (WHERE client_addr IS NULL) AS over_unix_socket,
       count(*) FILTER (WHERE action = 'allowed' AND sqlstate IS NULL AND message IS NULL) AS allowed_without_error,
       count(*) FILTER (WHERE action <> 'allowed' AND sqlstate = '55000' AND message LIKE 'safe_ddl: %') AS with_error
  FROM au_mine;
SELECT action, message FROM au_mine WHERE action <> 'allowed';
-- Times are the events' clock times, in order, within this test.
SELECT bool_and(time >= :'t0' AND time <= clock_timestamp()) AS times_ok
  FROM safe_ddl.audit_log WHERE pid = pg_backend_pid() AND time >= :'t0';

-- The settings are the server's: no session turns auditing off or changes the size, not even
-- a superuser's.
\set VERBOSITY terse
SET safe_ddl.audit = off;
SET safe_ddl.audit_max_size = '1MB';
\set VERBOSITY default
SELECT name, setting, unit, context FROM pg_settings WHERE name LIKE 'safe_ddl.audit%' ORDER BY 1;

DROP VIEW au_mine;
SET safe_ddl.allow = 'drop_table';
DROP TABLE au, au_app, au_new;
RESET safe_ddl.allow;
