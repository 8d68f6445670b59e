-- Privileges (issue 8): an application role cannot switch the guard off, every helper runs with
-- the caller's privileges, and the extension's own tables give nobody more than their own rows.
-- (lock_report() hiding other users' queries needs several logins: pg_test/robustness.sh.)
CREATE ROLE priv_app LOGIN;
CREATE ROLE priv_other LOGIN;
CREATE SCHEMA priv_s AUTHORIZATION priv_app;
\set VERBOSITY terse

-- ---- safe_ddl.mode (and the other superuser settings) ------------------------------------------
SET ROLE priv_app;
SET safe_ddl.mode = off;
SET safe_ddl.mode = warn;
SET safe_ddl.mode TO DEFAULT;
RESET safe_ddl.mode;
BEGIN;
SET LOCAL safe_ddl.mode = off;
ROLLBACK;
SELECT set_config('safe_ddl.mode', 'off', false);
SELECT set_config('safe_ddl.mode', 'off', true);
ALTER ROLE priv_app SET safe_ddl.mode = off;
SELECT current_database() AS db \gset
ALTER ROLE priv_app IN DATABASE :"db" SET safe_ddl.mode = off;
ALTER ROLE priv_app RESET safe_ddl.mode;
CREATE FUNCTION priv_s.priv_off() RETURNS void LANGUAGE sql SET safe_ddl.mode = off AS 'SELECT';
CREATE PROCEDURE priv_s.priv_off_proc() LANGUAGE plpgsql SET safe_ddl.mode = 'off' AS $$ BEGIN END $$;
DO $$ BEGIN PERFORM set_config('safe_ddl.mode', 'off', true); END $$;
SET safe_ddl.min_table_size = '1TB';
SET safe_ddl.max_dml_rows = 0;
SHOW safe_ddl.mode;
SELECT value FROM safe_ddl.status() WHERE setting = 'mode';
RESET ROLE;
SELECT count(*) AS role_settings FROM pg_db_role_setting WHERE setrole = 'priv_app'::regrole;
-- A superuser still can, for a role too; the role then cannot take it back... or override it.
ALTER ROLE priv_app SET safe_ddl.mode = warn;
SELECT setconfig FROM pg_db_role_setting WHERE setrole = 'priv_app'::regrole;
ALTER ROLE priv_app RESET safe_ddl.mode;

-- ---- no SECURITY DEFINER, and the caller's privileges -----------------------------------------
-- Every function and procedure of the extension (its schema and pg_depend agree): none is
-- SECURITY DEFINER, none switches role.
SELECT count(*) > 20 AS many_functions,
       count(*) FILTER (WHERE p.prosecdef) AS security_definer,
       count(*) FILTER (WHERE p.pronamespace <> 'safe_ddl'::regnamespace) AS outside_schema,
       count(*) FILTER (WHERE EXISTS (SELECT FROM unnest(p.proconfig) AS c
                                       WHERE c ~* '^(role|session_authorization)=')) AS switches_role
  FROM pg_depend AS d JOIN pg_proc AS p ON p.oid = d.objid
 WHERE d.classid = 'pg_proc'::regclass AND d.refclassid = 'pg_extension'::regclass
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'safe_ddl') AND d.deptype = 'e';
SELECT count(*) AS security_definer_in_schema FROM pg_proc WHERE pronamespace = 'safe_ddl'::regnamespace AND prosecdef;
-- The state tables are written only through safe_ddl._state() (Rust: it reads the calling role
-- with GetUserId(), then calls safe_ddl._state_write() as the extension's owner, issue 12). No
-- function is SECURITY DEFINER (above): _state switches user inside, as Postgres' RI triggers do.
-- The state helpers' functions PUBLIC may not execute, exactly: _state_write and the writes it
-- dispatches to (each pins its search_path); _state itself is PUBLIC's (it has no SET clause: its
-- two queries are schema-qualified and fixed).
SELECT p.oid::regprocedure AS not_for_public,
       EXISTS (SELECT FROM unnest(p.proconfig) AS c WHERE c = 'search_path=pg_catalog, pg_temp') AS pinned
  FROM pg_proc AS p
 WHERE p.pronamespace = 'safe_ddl'::regnamespace AND NOT has_function_privilege('priv_app', p.oid, 'EXECUTE')
   AND p.proname ~ '^_(state|bf_w|cc_w|tr_w)'
 ORDER BY 1::text;
-- and every other function of the state helpers is PUBLIC's (they run as the caller)
SELECT count(*) AS state_helpers_not_for_public
  FROM pg_proc AS p
 WHERE p.pronamespace = 'safe_ddl'::regnamespace AND NOT has_function_privilege('priv_app', p.oid, 'EXECUTE')
   AND p.proname !~ '^_(state|bf_w|cc_w|tr_w)'
   AND p.proname ~ '^(_?backfill|_cc|_ec|_tr|_afk|_ac|_snn|_key|_type|_rel|_me$|_json|begin_column|finish_|cancel_col|column_change|rename_table|set_not_null|add_)';
SELECT has_function_privilege('priv_app', 'safe_ddl._state(text, text)', 'EXECUTE') AS state_gate_for_all,
       (SELECT proconfig FROM pg_proc WHERE oid = 'safe_ddl._state(text, text)'::regprocedure) AS state_gate_config;
-- backfill_status runs as the caller (and so sees only the caller's jobs); the blocking view
-- calls lock_report(), which runs as the caller.
SELECT c.relname, c.reloptions FROM pg_class AS c
 WHERE c.oid IN ('safe_ddl.backfill_status'::regclass, 'safe_ddl.blocking'::regclass) ORDER BY 1;

-- backfill() updates the table as its caller: a role without UPDATE on the table (or on the
-- column it sets) gets permission denied, and no job row.
CREATE TABLE priv_t (id int PRIMARY KEY, a int, b int, secret text);
INSERT INTO priv_t SELECT g, g, g, 's' FROM generate_series(1, 50) g;
GRANT SELECT (id, a, b) ON priv_t TO priv_app;
GRANT UPDATE (a) ON priv_t TO priv_app;
CREATE TABLE priv_hidden (id int PRIMARY KEY, a int);
INSERT INTO priv_hidden SELECT g, g FROM generate_series(1, 50) g;
SET ROLE priv_app;
CALL safe_ddl.backfill('priv_hidden', 'a = a + 1');
CALL safe_ddl.backfill('priv_t', 'b = b + 1');
CALL safe_ddl.backfill('priv_t', 'a = length(secret)');
CALL safe_ddl.backfill('priv_t', 'a = a + 1', 'secret IS NOT NULL');
SET client_min_messages = warning;
CALL safe_ddl.backfill('priv_t', 'a = a + 1', 'b > 25', batch_size => 10, pause => '0');
RESET client_min_messages;
SELECT relation, status, rows_done, started_by FROM safe_ddl.backfill_jobs;
-- check() and rehearse() as the caller: rehearse runs the statement, with the caller's rights.
SELECT hazard, verdict FROM safe_ddl.check('ALTER TABLE priv_t ADD COLUMN x int');
SELECT * FROM safe_ddl.rehearse('ALTER TABLE priv_t ADD COLUMN x int');
SELECT * FROM safe_ddl.rehearse('DELETE FROM priv_hidden');
RESET ROLE;
SELECT count(*) FILTER (WHERE a = id + 1) AS app_updated, count(*) FILTER (WHERE b <> id) AS b_changed FROM priv_t;
SELECT count(*) AS hidden_changed FROM priv_hidden WHERE a <> id;

-- ---- the extension's tables --------------------------------------------------------------------
-- Its relations, from pg_depend, and what any role may do with them: views only SELECT,
-- sequences only USAGE (nextval, not setval), tables only SELECT (issue 12: no INSERT, UPDATE,
-- DELETE, TRUNCATE, TRIGGER, REFERENCES), under row-level security restricted to the role's own
-- rows by role OID. Every relation breaking that is listed (none).
WITH rels AS (
    SELECT c.oid, c.oid::regclass AS relation, c.relkind, c.relrowsecurity, c.relforcerowsecurity
      FROM pg_depend AS d JOIN pg_class AS c ON c.oid = d.objid
     WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_extension'::regclass
       AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'safe_ddl') AND d.deptype = 'e'),
checks AS (
    SELECT r.relation, r.relkind,
           CASE
             WHEN r.relkind = 'S' THEN
               CASE WHEN has_sequence_privilege('priv_app', r.oid, 'UPDATE') THEN 'setval by anyone' END
             WHEN r.relkind IN ('v', 'm') THEN
               CASE WHEN has_table_privilege('priv_app', r.oid, 'INSERT, UPDATE, DELETE, TRUNCATE, TRIGGER, REFERENCES')
                    THEN 'writable view' END
             WHEN r.relkind IN ('r', 'p') THEN
               CASE WHEN has_table_privilege('priv_app', r.oid, 'INSERT, UPDATE, DELETE, TRUNCATE, TRIGGER, REFERENCES') THEN 'writable'
                    WHEN NOT has_table_privilege('priv_app', r.oid, 'SELECT') THEN NULL
                    WHEN NOT r.relrowsecurity THEN 'readable without row-level security'
                    WHEN NOT EXISTS (SELECT FROM pg_policy AS p WHERE p.polrelid = r.oid) THEN 'no policy'
                    WHEN EXISTS (SELECT FROM pg_policy AS p WHERE p.polrelid = r.oid
                                    AND (NOT p.polpermissive OR p.polcmd <> 'r'
                                         OR pg_get_expr(p.polqual, p.polrelid) IS DISTINCT FROM
                                            '((started_by)::oid = (to_regrole(quote_ident((CURRENT_USER)::text)))::oid)'))
                    THEN 'a policy that is not FOR SELECT USING (started_by = the role''s OID)'
               END
             ELSE 'unexpected relkind ' || r.relkind::text
           END AS problem
      FROM rels AS r)
SELECT relation, problem FROM checks WHERE problem IS NOT NULL ORDER BY 1;
SELECT count(*) FILTER (WHERE relkind = 'r') > 0 AS tables_checked,
       bool_or(relation = 'safe_ddl.backfill_jobs'::regclass) AS jobs_checked
  FROM (SELECT c.oid::regclass AS relation, c.relkind
          FROM pg_depend AS d JOIN pg_class AS c ON c.oid = d.objid
         WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_extension'::regclass
           AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'safe_ddl') AND d.deptype = 'e') AS x;
SELECT has_table_privilege('priv_app', 'safe_ddl.backfill_jobs', 'SELECT') AS own_rows_readable,
       has_table_privilege('priv_app', 'safe_ddl.backfill_jobs', 'INSERT, UPDATE, DELETE') AS writable;
-- Another role's job: priv_other backfills its own table.
CREATE TABLE priv_other_t (id int PRIMARY KEY, a int);
INSERT INTO priv_other_t SELECT g, g FROM generate_series(1, 20) g;
ALTER TABLE priv_other_t OWNER TO priv_other;
SET ROLE priv_other;
SET client_min_messages = warning;
CALL safe_ddl.backfill('priv_other_t', 'a = a * 2', pause => '0');
RESET client_min_messages;
RESET ROLE;
SELECT job_id AS other_job FROM safe_ddl.backfill_jobs WHERE started_by = 'priv_other'::regrole \gset
SELECT job_id AS app_job FROM safe_ddl.backfill_jobs WHERE started_by = 'priv_app'::regrole \gset
SET ROLE priv_app;
-- invisible, unchangeable, undeletable
SELECT count(*) AS visible FROM safe_ddl.backfill_jobs WHERE job_id = :other_job;
SELECT count(*) AS visible FROM safe_ddl.backfill_status WHERE job_id = :other_job;
UPDATE safe_ddl.backfill_jobs SET set_clause = 'a = 0', status = 'running' WHERE job_id = :other_job;
DELETE FROM safe_ddl.backfill_jobs WHERE job_id = :other_job;
-- no rows in another role's name, and its own rows stay its own
INSERT INTO safe_ddl.backfill_jobs (relation, set_clause, key_columns, batch_size, pause, started_by)
VALUES ('priv_other_t', 'a = 0', '{id}', 10, '0', 'priv_other');
INSERT INTO safe_ddl.backfill_jobs (relation, set_clause, key_columns, batch_size, pause, started_by)
VALUES ('priv_other_t', 'a = 0', '{id}', 10, '0', 'postgres');
UPDATE safe_ddl.backfill_jobs SET started_by = 'priv_other' WHERE job_id = :app_job;
TRUNCATE safe_ddl.backfill_jobs;
UPDATE safe_ddl.backfill_status SET status = 'done';
ALTER TABLE safe_ddl.backfill_jobs DISABLE ROW LEVEL SECURITY;
DROP POLICY backfill_jobs_own ON safe_ddl.backfill_jobs;
SELECT setval('safe_ddl.backfill_jobs_job_id_seq', 1);
-- nor through the helpers' one way in: _state_write is not its to call, and _state writes rows
-- in its own name only, for a table it may update
SELECT safe_ddl._state_write('priv_other'::regrole, 'bf_stop', '{"job": 1, "status": "done"}');
SELECT safe_ddl._bf_w_cancel('priv_other'::regrole, '{"job": 1}');
SELECT safe_ddl._state('bf_create', json_build_object('relation', 'priv_other_t'::regclass::oid, 'set_clause', 'a = 0',
       'key_columns', '{id}'::text[], 'batch_size', 10, 'target_batch_time', NULL, 'pause', '0',
       'max_replication_lag', NULL, 'max_dead_tuple_ratio', NULL)::text);
\set VERBOSITY sqlstate
SELECT safe_ddl._state('bf_stop', json_build_object('job', :other_job, 'status', 'done')::text);
SELECT safe_ddl._state('bf_progress', json_build_object('job', :other_job, 'last_key', '{0}'::text[])::text);
SELECT safe_ddl._state('bf_claim', json_build_object('job', :other_job)::text);
\set VERBOSITY terse
-- the internal procedures give nothing more (no_data_found: the job is invisible)
\set VERBOSITY sqlstate
CALL safe_ddl._backfill_run(:other_job);
SELECT safe_ddl.backfill_cancel(:other_job);
CALL safe_ddl.backfill_resume(:other_job);
\set VERBOSITY terse
RESET ROLE;
SELECT status, a_zero FROM safe_ddl.backfill_jobs, LATERAL (SELECT count(*) FILTER (WHERE a = 0) AS a_zero FROM priv_other_t) x
 WHERE job_id = :other_job;
-- A superuser does not run another role's job either.
CALL safe_ddl._backfill_run(:other_job);
CALL safe_ddl.backfill_resume(:other_job);
SELECT count(*) FILTER (WHERE a = 0) AS a_zero FROM priv_other_t;

-- Clean up.
\set VERBOSITY default
DELETE FROM safe_ddl.backfill_jobs;
SET safe_ddl.allow = 'drop_table, in_use';
DROP TABLE priv_t, priv_hidden, priv_other_t;
RESET safe_ddl.allow;
DROP SCHEMA priv_s;
DROP ROLE priv_app, priv_other;
