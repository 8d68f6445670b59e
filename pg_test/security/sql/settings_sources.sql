-- Issue 12, section 6: weakening the guard through database and role settings.
-- The attacker is a database owner that is not a superuser (sec_app owns gucs_db) and a plain role
-- (sec_attacker); the victim is the superuser postgres, whose sessions in gucs_db would have run
-- with whatever the owner set per database.
\set VERBOSITY terse
CREATE DATABASE gucs_db OWNER sec_app;
\c gucs_db postgres
CREATE EXTENSION safe_ddl;
CREATE TABLE gucs_victim AS SELECT g AS id, g AS v FROM generate_series(1, 1000) g;

-- 1. The owner tries to switch the guard off for every session of its database, superusers'
-- included: allow, and the settings that protect other sessions. Each is refused.
\c gucs_db sec_app
ALTER DATABASE gucs_db SET safe_ddl.allow = 'all';
ALTER DATABASE gucs_db SET safe_ddl.allow FROM CURRENT;
ALTER DATABASE gucs_db SET safe_ddl.track_usage = off;
ALTER DATABASE gucs_db SET safe_ddl.usage_window = 0;
ALTER DATABASE gucs_db SET safe_ddl.lock_timeout = 0;
ALTER DATABASE gucs_db SET safe_ddl.lock_retries = 0;
ALTER DATABASE gucs_db SET safe_ddl.auto_concurrently = on;
ALTER DATABASE gucs_db SET safe_ddl.max_lock_hold = 0;
ALTER DATABASE gucs_db SET safe_ddl.allow_ceiling = 'all';
-- ... and for its own role, in any database.
ALTER ROLE sec_app SET safe_ddl.allow = 'all';
ALTER ROLE sec_app IN DATABASE gucs_db SET safe_ddl.allow = 'drop_table';
ALTER ROLE sec_app SET safe_ddl.track_usage = off;
ALTER ROLE sec_app SET safe_ddl.lock_timeout = 0;
-- Nothing was stored.
SELECT count(*) AS stored FROM pg_db_role_setting s
 WHERE s.setdatabase = (SELECT oid FROM pg_database WHERE datname = 'gucs_db')
    OR s.setrole = 'sec_app'::regrole;
-- Resetting is always fine.
ALTER DATABASE gucs_db RESET safe_ddl.allow;
ALTER ROLE sec_app RESET ALL;

-- The effect: a new superuser session in gucs_db is still guarded.
\c gucs_db postgres
SELECT setting, value FROM safe_ddl.status()
 WHERE setting IN ('allow', 'lock_timeout', 'guard_active') ORDER BY 1;
SHOW safe_ddl.track_usage;
SHOW safe_ddl.usage_window;
CREATE INDEX gucs_victim_id ON gucs_victim (id);
SELECT count(*) AS indexes FROM pg_indexes WHERE tablename = 'gucs_victim';

-- 2. Not even a superuser can make safe_ddl.allow a per-database, per-role or server setting: it
-- only counts in the session or transaction that runs the statement.
ALTER DATABASE gucs_db SET safe_ddl.allow = 'index_build';
ALTER ROLE sec_attacker SET safe_ddl.allow = 'index_build';
ALTER SYSTEM SET safe_ddl.allow = 'index_build';
SELECT count(*) AS stored FROM pg_db_role_setting s
 WHERE s.setdatabase = (SELECT oid FROM pg_database WHERE datname = 'gucs_db')
    OR s.setrole = 'sec_attacker'::regrole;

-- 3. A value stored anyway (before this version, or written into the catalog directly) is ignored
-- at session start with a WARNING; the other safe_ddl settings stored by a superuser apply.
SET allow_system_table_mods = on;
INSERT INTO pg_db_role_setting
SELECT oid, 0, '{safe_ddl.allow=all,safe_ddl.lock_timeout=150ms}' FROM pg_database WHERE datname = 'gucs_db';
INSERT INTO pg_db_role_setting VALUES (0, 'sec_attacker'::regrole, '{safe_ddl.allow=drop_table}');
RESET allow_system_table_mods;
\c gucs_db postgres
SHOW safe_ddl.allow;
SHOW safe_ddl.lock_timeout;
CREATE INDEX gucs_victim_v ON gucs_victim (v);
\c gucs_db sec_attacker
SHOW safe_ddl.allow;
\c gucs_db postgres
SET allow_system_table_mods = on;
DELETE FROM pg_db_role_setting
 WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = 'gucs_db') OR setrole = 'sec_attacker'::regrole;
RESET allow_system_table_mods;

-- 4. The legitimate uses still work. The session that runs the statement allows it (SET LOCAL,
-- set_config, a function's SET clause):
\c gucs_db sec_app
CREATE TABLE gucs_app_t AS SELECT g AS id FROM generate_series(1, 1000) g;
CREATE INDEX gucs_app_refused ON gucs_app_t (id);
BEGIN;
SET LOCAL safe_ddl.allow = 'index_build';
CREATE INDEX gucs_app_a ON gucs_app_t (id);
COMMIT;
BEGIN;
SELECT set_config('safe_ddl.allow', 'index_build', true);
CREATE INDEX gucs_app_b ON gucs_app_t (id);
COMMIT;
CREATE FUNCTION gucs_make_index() RETURNS void LANGUAGE plpgsql SET safe_ddl.allow = 'index_build'
AS $$ BEGIN CREATE INDEX gucs_app_c ON gucs_app_t (id); END $$;
SELECT gucs_make_index();
SELECT indexname FROM pg_indexes WHERE tablename = 'gucs_app_t' ORDER BY 1;
-- safe_ddl's helpers keep their own queries out of the usage record, as any role:
BEGIN;
SELECT set_config('safe_ddl.track_usage', 'off', true);
SHOW safe_ddl.track_usage;
COMMIT;
-- usage_window decides for every session what counts as in use: superuser only.
SET safe_ddl.usage_window = 0;
-- lock_timeout protects the sessions queued behind a waiting DDL: a role may tighten it, not
-- loosen or disable it.
SET safe_ddl.lock_timeout = '50ms';
SET safe_ddl.lock_timeout = '10s';
SET safe_ddl.lock_timeout = 0;
SHOW safe_ddl.lock_timeout;
RESET safe_ddl.lock_timeout;

-- A superuser sets the other safe_ddl settings per role or database, and may delegate them.
\c gucs_db postgres
ALTER ROLE sec_app IN DATABASE gucs_db SET safe_ddl.lock_timeout = '1s';
ALTER ROLE sec_app IN DATABASE gucs_db SET safe_ddl.track_usage = off;
ALTER DATABASE gucs_db SET safe_ddl.usage_window = '1h';
\c gucs_db sec_app
SHOW safe_ddl.lock_timeout;
SHOW safe_ddl.track_usage;
SHOW safe_ddl.usage_window;
SET safe_ddl.lock_timeout = '500ms';
SET safe_ddl.lock_timeout = '2s';
-- Client startup options (PGOPTIONS) are checked before the role and database settings are
-- applied, and then win over them: they are checked against what those settings give the role.
-- Above the role's 1 s: refused; up to it (more than the server's 200 ms): accepted.
\! PGOPTIONS='-c safe_ddl.lock_timeout=2s' psql -X -q -d gucs_db -U sec_app -c 'SHOW safe_ddl.lock_timeout' 2>&1 | sed -n 's/^.*FATAL: */FATAL:  /p'
\c "dbname=gucs_db user=sec_app options=-csafe_ddl.lock_timeout=900ms"
SHOW safe_ddl.lock_timeout;
-- A superuser lowers it for the role: the server's 200 ms is no way around that.
\c gucs_db postgres
ALTER ROLE sec_app IN DATABASE gucs_db SET safe_ddl.lock_timeout = '50ms';
\! PGOPTIONS='-c safe_ddl.lock_timeout=200ms' psql -X -q -d gucs_db -U sec_app -c 'SHOW safe_ddl.lock_timeout' 2>&1 | sed -n 's/^.*FATAL: */FATAL:  /p'
\! PGOPTIONS='-c safe_ddl.lock_timeout=0' psql -X -q -d gucs_db -U sec_app -c 'SHOW safe_ddl.lock_timeout' 2>&1 | sed -n 's/^.*FATAL: */FATAL:  /p'
\c "dbname=gucs_db user=sec_app options=-csafe_ddl.lock_timeout=40ms"
SHOW safe_ddl.lock_timeout;
\c "dbname=gucs_db user=postgres"
GRANT SET ON PARAMETER safe_ddl.lock_timeout TO sec_app;
GRANT SET ON PARAMETER safe_ddl.usage_window TO sec_app;
\c gucs_db sec_app
SET safe_ddl.lock_timeout = '2s';
SET safe_ddl.usage_window = '2h';
ALTER ROLE sec_app IN DATABASE gucs_db SET safe_ddl.lock_timeout = '3s';
SELECT setconfig FROM pg_db_role_setting WHERE setrole = 'sec_app'::regrole;
\c gucs_db postgres
REVOKE SET ON PARAMETER safe_ddl.lock_timeout FROM sec_app;
REVOKE SET ON PARAMETER safe_ddl.usage_window FROM sec_app;
ALTER ROLE sec_app IN DATABASE gucs_db RESET ALL;
ALTER DATABASE gucs_db RESET ALL;

-- 5. The rewrite backstop checks safe_ddl.allow for every rewrite: one allowed rewrite of a table
-- no longer exempts it for the rest of the transaction.
\c gucs_db sec_app
CREATE TYPE gucs_ct AS (a int, b int);
CREATE TABLE gucs_rw OF gucs_ct;
INSERT INTO gucs_rw SELECT g, g FROM generate_series(1, 1000) g;
BEGIN;
SET LOCAL safe_ddl.allow = 'table_rewrite';
ALTER TABLE gucs_rw SET UNLOGGED;
SET LOCAL safe_ddl.allow = '';
SAVEPOINT again;
ALTER TYPE gucs_ct ALTER ATTRIBUTE b TYPE bigint CASCADE;
ROLLBACK TO SAVEPOINT again;
COMMIT;
-- The allowed rewrite happened, the second one did not.
SELECT relpersistence FROM pg_class WHERE oid = 'gucs_rw'::regclass;
SELECT atttypid::regtype FROM pg_attribute WHERE attrelid = 'gucs_rw'::regclass AND attname = 'b';
-- With the allow still in place, both run.
BEGIN;
SET LOCAL safe_ddl.allow = 'table_rewrite';
ALTER TABLE gucs_rw SET LOGGED;
ALTER TYPE gucs_ct ALTER ATTRIBUTE b TYPE bigint CASCADE;
COMMIT;
SELECT relpersistence FROM pg_class WHERE oid = 'gucs_rw'::regclass;
SELECT atttypid::regtype FROM pg_attribute WHERE attrelid = 'gucs_rw'::regclass AND attname = 'b';

-- 6. column_usage only shows relations and columns the querying role holds a privilege on.
\c gucs_db postgres
CREATE TABLE gucs_secret (id int, ssn text);
CREATE TABLE gucs_shared (id int, note text);
GRANT SELECT (id) ON gucs_shared TO sec_attacker;
SELECT ssn FROM gucs_secret;
SELECT id, note FROM gucs_shared;
SELECT relation, column_name, last_read IS NOT NULL AS read FROM safe_ddl.column_usage
 WHERE relation::text IN ('gucs_secret', 'gucs_shared') ORDER BY 1, 2 NULLS FIRST;
\c gucs_db sec_attacker
SELECT relation, column_name, last_read IS NOT NULL AS read FROM safe_ddl.column_usage
 WHERE relation::text IN ('gucs_secret', 'gucs_shared') ORDER BY 1, 2 NULLS FIRST;
-- Calling the function behind the view directly shows no more.
SELECT count(*) AS secret_entries FROM safe_ddl._usage_entries() WHERE relid = 'gucs_secret'::regclass;
-- Nor do check() and the refusal of a drop or rename (the hook judges before Postgres checks
-- ownership): the verdict is the same, but no time of use is shown.
SELECT hazard, verdict FROM safe_ddl.check('ALTER TABLE gucs_secret DROP COLUMN ssn');
\set VERBOSITY default
ALTER TABLE gucs_secret DROP COLUMN ssn;
DROP TABLE gucs_secret;
\set VERBOSITY terse

-- 7. Audit lines name session_user as well as current_user.
\c gucs_db postgres
SET ROLE sec_app;
BEGIN;
SET LOCAL safe_ddl.allow = 'index_build';
CREATE INDEX gucs_app_audit ON gucs_app_t (id);
COMMIT;
RESET ROLE;
SELECT count(*) AS log_lines
  FROM regexp_split_to_table(encode(pg_read_binary_file(current_setting('data_directory') || '/../server.log'), 'escape'), E'\n') AS line
 WHERE line LIKE '%safe_ddl: hazard index_build on public.gucs_app_t allowed by safe_ddl.allow = ''index_build'' for user "sec_app" (session user "postgres") in database "gucs_db": CREATE INDEX gucs_app_audit ON gucs_app_t (id)%';

\c safe_ddl_security postgres
DROP DATABASE gucs_db;
