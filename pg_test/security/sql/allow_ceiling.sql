-- Issue 12, section 7: who may override. safe_ddl.allow_ceiling, set by a superuser per role,
-- per database or per role in a database, is the most safe_ddl.allow may name. For each path
-- that sets allow (SET / SET LOCAL, set_config as safe_ddl's helpers use it, client startup
-- options, a ceiling lowered later) a refusal and an override within the ceiling; plus the
-- break-glass role.
\set VERBOSITY terse
CREATE DATABASE ceil_db OWNER sec_app;
\c ceil_db postgres
CREATE EXTENSION safe_ddl;
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ceil_glass') THEN
        CREATE ROLE ceil_glass LOGIN;
    END IF;
END $$;
-- The application's table, owned by sec_app.
SET ROLE sec_app;
CREATE TABLE ceil_t AS SELECT g AS id, g AS x FROM generate_series(1, 1000) g;
RESET ROLE;
-- The application reads x (else x, created while usage tracking ran and never used, could be
-- dropped with no allow at all: issue 13).
SELECT count(x) AS x_read FROM ceil_t;
-- The break-glass role may act as the application's owner; sec_attacker gets a table of its own.
GRANT sec_app TO ceil_glass;
CREATE TABLE ceil_att AS SELECT g AS id FROM generate_series(1, 1000) g;
ALTER TABLE ceil_att OWNER TO sec_attacker;
GRANT CREATE ON SCHEMA public TO sec_attacker;
-- Without a ceiling (default all), a role may allow any hazard in its own session: that is what
-- the ceiling limits.
SHOW safe_ddl.allow_ceiling;

-- Per role: sec_app may allow index builds only.
ALTER ROLE sec_app SET safe_ddl.allow_ceiling = 'index_build';
\c ceil_db sec_app
SHOW safe_ddl.allow_ceiling;
SELECT setting, value FROM safe_ddl.status() WHERE setting = 'allow_ceiling';
-- Refused at SET time (SET LOCAL, SET, set_config as the helpers call it):
BEGIN;
SET LOCAL safe_ddl.allow = 'drop_column';
ROLLBACK;
SET safe_ddl.allow = 'all';
SET safe_ddl.allow = 'index_build, in_use';
BEGIN;
SELECT set_config('safe_ddl.allow', 'drop_column', true);
ROLLBACK;
-- ... so the drop stays refused, and the column is still there.
ALTER TABLE ceil_t DROP COLUMN x;
SELECT count(*) AS x_column FROM pg_attribute WHERE attrelid = 'ceil_t'::regclass AND attname = 'x' AND NOT attisdropped;
-- The role cannot raise its own ceiling.
SET safe_ddl.allow_ceiling = 'all';
ALTER ROLE sec_app SET safe_ddl.allow_ceiling = 'all';
ALTER DATABASE ceil_db SET safe_ddl.allow_ceiling = 'all';
-- Within the ceiling, allow works as before (SET LOCAL, set_config).
BEGIN;
SET LOCAL safe_ddl.allow = 'index_build';
CREATE INDEX ceil_t_a ON ceil_t (id);
COMMIT;
BEGIN;
SELECT set_config('safe_ddl.allow', 'index_build', true);
CREATE INDEX ceil_t_b ON ceil_t (id);
COMMIT;
SELECT indexname FROM pg_indexes WHERE tablename = 'ceil_t' ORDER BY 1;

-- Client startup options are applied before role settings, so a SET-time check cannot see the
-- role's ceiling: the ceiling is checked again when the hazard comes up.
\c "dbname=ceil_db user=sec_app options=-csafe_ddl.allow=drop_column"
SHOW safe_ddl.allow;
SHOW safe_ddl.allow_ceiling;
ALTER TABLE ceil_t DROP COLUMN x;
SELECT count(*) AS x_column FROM pg_attribute WHERE attrelid = 'ceil_t'::regclass AND attname = 'x' AND NOT attisdropped;
-- A startup option within the ceiling works.
\c "dbname=ceil_db user=sec_app options=-csafe_ddl.allow=index_build"
CREATE INDEX ceil_t_c ON ceil_t (id);
SELECT count(*) AS ceil_t_c FROM pg_indexes WHERE indexname = 'ceil_t_c';

-- The ceiling may be lowered after allow was set (here by a superuser in its own session): the
-- use-time check still refuses. (A connection string, so that psql drops the options above.)
\c "dbname=ceil_db user=postgres"
SET safe_ddl.allow = 'drop_column';
SET safe_ddl.allow_ceiling = 'index_build';
ALTER TABLE ceil_t DROP COLUMN x;
SELECT count(*) AS x_column FROM pg_attribute WHERE attrelid = 'ceil_t'::regclass AND attname = 'x' AND NOT attisdropped;
RESET safe_ddl.allow_ceiling;
RESET safe_ddl.allow;

-- Per database: no role may allow anything in ceil_db ...
ALTER DATABASE ceil_db SET safe_ddl.allow_ceiling = '';
\c ceil_db sec_attacker
SHOW safe_ddl.allow_ceiling;
BEGIN;
SET LOCAL safe_ddl.allow = 'index_build';
ROLLBACK;
CREATE INDEX ceil_t_attacker ON ceil_att (id);
SELECT count(*) AS ceil_t_attacker FROM pg_indexes WHERE indexname = 'ceil_t_attacker';
-- ... except where a role's own (or role-in-database) setting overrides it: role settings take
-- precedence over database settings.
\c ceil_db postgres
ALTER ROLE sec_attacker IN DATABASE ceil_db SET safe_ddl.allow_ceiling = 'index_build';
\c ceil_db sec_attacker
SHOW safe_ddl.allow_ceiling;
BEGIN;
SET LOCAL safe_ddl.allow = 'index_build';
CREATE INDEX ceil_t_attacker ON ceil_att (id);
COMMIT;
BEGIN;
SET LOCAL safe_ddl.allow = 'drop_column';
ROLLBACK;
SELECT count(*) AS ceil_t_attacker FROM pg_indexes WHERE indexname = 'ceil_t_attacker';

-- Break glass: a role whose ceiling is all (set by a superuser), whose every allowed statement is
-- in the server log (and, with log_statement = all, every statement).
\c ceil_db postgres
ALTER ROLE ceil_glass SET safe_ddl.allow_ceiling = 'all';
ALTER ROLE ceil_glass SET log_statement = 'all';
\c ceil_db ceil_glass
SHOW safe_ddl.allow_ceiling;
BEGIN;
SET LOCAL safe_ddl.allow = 'drop_column, in_use';
ALTER TABLE ceil_t DROP COLUMN x;
COMMIT;
SELECT count(*) AS x_column FROM pg_attribute WHERE attrelid = 'ceil_t'::regclass AND attname = 'x' AND NOT attisdropped;
\c ceil_db postgres
SELECT count(*) AS log_lines
  FROM regexp_split_to_table(encode(pg_read_binary_file(current_setting('data_directory') || '/../server.log'), 'escape'), E'\n') AS line
 WHERE line LIKE '%safe_ddl: hazard drop_column on public.ceil_t allowed by safe_ddl.allow = ''drop_column, in_use'' for user "ceil_glass" (session user "ceil_glass") in database "ceil_db": ALTER TABLE ceil_t DROP COLUMN x%';

-- Delegation: GRANT SET ON PARAMETER lets a role that is not a superuser set the ceiling.
GRANT SET ON PARAMETER safe_ddl.allow_ceiling TO sec_app;
\c ceil_db sec_app
SET safe_ddl.allow_ceiling = 'all';
SET safe_ddl.allow = 'drop_table';
SHOW safe_ddl.allow;
\c ceil_db postgres
REVOKE SET ON PARAMETER safe_ddl.allow_ceiling FROM sec_app;

-- rehearse() runs the statements for real: it may not allow more than the ceiling either.
\c ceil_db sec_app
SELECT n, relation, lock_mode, rewritten FROM safe_ddl.rehearse('CREATE INDEX ceil_t_r ON ceil_t (id)');
SELECT n, relation, lock_mode, rewritten FROM safe_ddl.rehearse('ALTER TABLE ceil_t ALTER COLUMN id TYPE bigint');

\c safe_ddl_security postgres
DROP DATABASE ceil_db;
ALTER ROLE sec_app RESET ALL;
ALTER ROLE ceil_glass RESET ALL;
DROP ROLE ceil_glass;
