-- Issue 12, section 4: denial of service against other roles' work. Any role can take any
-- advisory lock key and, before, could leave state rows that collide with another role's
-- unique keys (invisible to that role under row-level security). Now: a holder of a job's
-- advisory key that is not the job's recorded runner is ignored (the job moves to a fresh random
-- key), uniqueness is per role, and every remaining refusal names what to do. The squatter is
-- sec_attacker in a second session (dblink); the victims are postgres and sec_app.
\set VERBOSITY terse
\set SHOW_CONTEXT never
SET client_min_messages = warning;
SET safe_ddl.usage_window = 0;
CREATE EXTENSION IF NOT EXISTS dblink;
SELECT pg_catalog.format('host=%s port=%s dbname=%s', pg_catalog.split_part(pg_catalog.current_setting('unix_socket_directories'), ',', 1),
                         pg_catalog.current_setting('port'), pg_catalog.current_database()) AS conn \gset

CREATE TABLE public.sq_items (id int PRIMARY KEY, v int NOT NULL, done int NOT NULL DEFAULT 0);
INSERT INTO public.sq_items SELECT g, g FROM generate_series(1, 2000) g;
CREATE TABLE sec_app.sq_app (id int PRIMARY KEY, v int NOT NULL, done int NOT NULL DEFAULT 0);
INSERT INTO sec_app.sq_app SELECT g, g FROM generate_series(1, 2000) g;
ALTER TABLE sec_app.sq_app OWNER TO sec_app;
-- sec_app lets every role update its table (so the attacker may run backfills of it too)
GRANT SELECT, UPDATE ON sec_app.sq_app TO PUBLIC;
GRANT USAGE ON SCHEMA sec_app TO PUBLIC;

-- ---- 1. Advisory lock keys of upcoming jobs, taken by another session -------------------------
-- The attacker's session takes (95415761, n) for the next 100 job ids (and keeps them).
SELECT pg_catalog.max(last_value) AS last_job FROM safe_ddl.backfill_jobs_job_id_seq \gset
SELECT dblink_connect('squat', :'conn' || ' user=sec_attacker');
SELECT * FROM dblink('squat', pg_catalog.format(
    'SELECT pg_catalog.count(*) FROM (SELECT pg_catalog.pg_advisory_lock(95415761, g) FROM pg_catalog.generate_series(%s, %s) AS g) AS x',
    :last_job + 1, :last_job + 100)) AS t(squatted bigint);
SELECT count(*) AS keys_held_by_attacker FROM pg_locks AS l JOIN pg_stat_activity AS a USING (pid)
 WHERE l.locktype = 'advisory' AND l.classid = 95415761 AND a.usename = 'sec_attacker';
-- The superuser's backfill and sec_app's run all the same (was: "job is being run by another
-- session", for every job id the attacker holds, with no way for the victim to clear it).
CALL safe_ddl.backfill('public.sq_items', 'done = done + 1', batch_size => 500, pause => '0', max_dead_tuple_ratio => NULL);
SET ROLE sec_app;
CALL safe_ddl.backfill('sec_app.sq_app', 'done = done + 1', batch_size => 500, pause => '0', max_dead_tuple_ratio => NULL);
RESET ROLE;
SELECT relation, status, rows_done, started_by, lock_key::bigint <> job_id AS moved_to_a_fresh_key
  FROM safe_ddl.backfill_jobs ORDER BY job_id;
SELECT (SELECT count(*) FROM public.sq_items WHERE done = 1) AS items_done, (SELECT count(*) FROM sec_app.sq_app WHERE done = 1) AS app_done;
-- A key held by a squatter does not make the job look active.
SELECT relation, active FROM safe_ddl.backfill_status ORDER BY job_id;

-- ---- 2. The runners of a job still exclude each other --------------------------------------
-- sec_app's job on a squatted key, run slowly by sec_app in another session: a second run of
-- it (the same CALL, or backfill_resume) is refused and says what to do; a cancel stops it.
SELECT * FROM dblink('squat', pg_catalog.format(
    'SELECT pg_catalog.count(*) FROM (SELECT pg_catalog.pg_advisory_lock(95415761, g) FROM pg_catalog.generate_series(%s, %s) AS g) AS x',
    :last_job + 101, :last_job + 200)) AS t(squatted bigint);
SELECT dblink_connect('runner', :'conn' || ' user=sec_app');
SELECT dblink_send_query('runner', $q$CALL safe_ddl.backfill('sec_app.sq_app', 'done = done + 10', batch_size => 10, target_batch_time => NULL, pause => '50ms', max_dead_tuple_ratio => NULL)$q$);
DO $$
BEGIN
    FOR i IN 1..200 LOOP
        EXIT WHEN EXISTS (SELECT FROM safe_ddl.backfill_status WHERE active AND relation = 'sec_app.sq_app'::regclass);
        PERFORM pg_catalog.pg_sleep(0.05);
    END LOOP;
END $$;
SELECT relation, status, active, running_pid <> pg_backend_pid() AS other_session
  FROM safe_ddl.backfill_status WHERE status = 'running';
SELECT job_id AS run_job FROM safe_ddl.backfill_jobs WHERE status = 'running' \gset
-- (55P03 lock_not_available: "job N is being run by another session (pid P)", HINT: wait for
-- it, or SELECT safe_ddl.backfill_cancel(N))
SET ROLE sec_app;
\set VERBOSITY sqlstate
CALL safe_ddl.backfill('sec_app.sq_app', 'done = done + 10', batch_size => 10, target_batch_time => NULL, pause => '50ms', max_dead_tuple_ratio => NULL);
CALL safe_ddl.backfill_resume(:run_job);
\set VERBOSITY terse
SELECT safe_ddl.backfill_cancel(:run_job);
RESET ROLE;
SELECT * FROM dblink_get_result('runner') AS r(x text);
SELECT dblink_disconnect('runner');
SELECT status, cancel_requested, rows_done < 2000 AS stopped_early FROM safe_ddl.backfill_jobs WHERE job_id = :run_job;

-- ---- 3. Uniqueness per role: another role's job with the same clauses does not block --------
-- The attacker (it may update sec_app's table) starts and cancels the very backfill sec_app is
-- about to run; sec_app's CALL creates its own job and runs (was: unique_violation, the
-- squatting row invisible to sec_app).
SET ROLE sec_attacker;
CREATE FUNCTION public.sq_stop(int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'stopped'; END $$;
CALL safe_ddl.backfill('sec_app.sq_app', 'v = v + public.sq_stop(v)', batch_size => 10, pause => '0', max_dead_tuple_ratio => NULL);
SELECT status, started_by FROM safe_ddl.backfill_jobs;
RESET ROLE;
SET ROLE sec_app;
CREATE FUNCTION sec_app.sq_noop(int) RETURNS int LANGUAGE sql RETURN 0;
SELECT count(*) AS visible_jobs_before FROM safe_ddl.backfill_jobs WHERE set_clause LIKE 'v = v + %';
CALL safe_ddl.backfill('sec_app.sq_app', 'v = v + public.sq_stop(v)', batch_size => 10, pause => '0', max_dead_tuple_ratio => NULL);
RESET ROLE;
SELECT relation, set_clause, status, started_by FROM safe_ddl.backfill_jobs WHERE set_clause LIKE 'v = v + %' ORDER BY job_id;

-- A squatter whose backend got the pid recorded as the job's runner (pids are reused once the
-- runner's session is gone; pg_locks shows every runner's pid and key): its holding the job's key
-- must not stop the job's role either. Simulated by recording the squatting session's pid. It is
-- not a session of the job's role, so sec_app's resume moves to a fresh key and runs its batch
-- (was: 55P03 "being run by another session", which sec_app could neither wait out nor cancel).
SELECT job_id AS app_job, lock_key AS app_key FROM safe_ddl.backfill_jobs
 WHERE started_by = 'sec_app'::regrole AND set_clause LIKE 'v = v + %' \gset
SELECT * FROM dblink('squat', 'SELECT pg_catalog.pg_backend_pid()') AS t(pid int) \gset squat_
UPDATE safe_ddl.backfill_jobs SET pid = :squat_pid WHERE job_id = :app_job;
SELECT * FROM dblink('squat', pg_catalog.format('SELECT pg_catalog.pg_advisory_lock(95415761, %s)::text', :app_key)) AS t(x text);
SELECT active, running_pid IS NULL AS no_runner FROM safe_ddl.backfill_status WHERE job_id = :app_job;
SET ROLE sec_app;
\set VERBOSITY sqlstate
CALL safe_ddl.backfill_resume(:app_job);     -- P0001: its own batch ran (and raised 'stopped')
\set VERBOSITY terse
RESET ROLE;
SELECT status, error, lock_key <> :app_key AS moved_to_a_fresh_key FROM safe_ddl.backfill_jobs WHERE job_id = :app_job;
SELECT * FROM dblink('squat', pg_catalog.format('SELECT pg_catalog.pg_advisory_unlock(95415761, %s)::text', :app_key)) AS t(x text);

-- Column changes: a column covered by another role's live change is refused by name, with the
-- SQL that finishes it as that role (the row itself is invisible to the caller).
SELECT safe_ddl.begin_column_change('sec_app.sq_app', 'v', 'v_big', 'bigint') IS NOT NULL AS superuser_began;
SET ROLE sec_app;
\set VERBOSITY default
SELECT safe_ddl.begin_column_change('sec_app.sq_app', 'v', 'v_big2', 'bigint');
\set VERBOSITY terse
SELECT count(*) AS visible_changes FROM safe_ddl.column_changes;
RESET ROLE;
SELECT safe_ddl.cancel_column_change('sec_app.sq_app', 'v');
SET ROLE sec_app;
SELECT safe_ddl.begin_column_change('sec_app.sq_app', 'v', 'v_big2', 'bigint') IS NOT NULL AS app_began;
SELECT safe_ddl.cancel_column_change('sec_app.sq_app', 'v');
RESET ROLE;
SELECT started_by, status FROM safe_ddl.column_changes ORDER BY change_id;
-- Functions named after the next change ids in the table's schema (an attacker with CREATE on
-- public) do not block begin_column_change: it takes the next free id.
SELECT pg_catalog.max(last_value) AS last_change FROM safe_ddl.column_changes_change_id_seq \gset
SET ROLE sec_attacker;
\set ECHO none
SELECT pg_catalog.format('CREATE FUNCTION public.%I() RETURNS int LANGUAGE sql RETURN 1', '_safe_ddl_cc' || g || '_forward')
  FROM pg_catalog.generate_series(:last_change + 1, :last_change + 5) AS g \gexec
\set ECHO all
RESET ROLE;
SELECT safe_ddl.begin_column_change('public.sq_items', 'v', 'v_big', 'bigint') IS NOT NULL AS began;
SELECT change_id > :last_change + 5 AS skipped_taken_ids, status FROM safe_ddl.column_changes WHERE relation = 'public.sq_items'::regclass;
SELECT safe_ddl.cancel_column_change('public.sq_items', 'v');

-- Clean up.
SELECT dblink_disconnect('squat');
SET ROLE sec_attacker;
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid FROM pg_proc AS p WHERE p.proname LIKE '\_safe\_ddl\_cc%' AND p.proowner = 'sec_attacker'::regrole LOOP
        EXECUTE pg_catalog.format('DROP FUNCTION %s', f);
    END LOOP;
END $$;
DROP FUNCTION public.sq_stop(int);
RESET ROLE;
SET safe_ddl.allow = 'drop_table, in_use';
DROP TABLE public.sq_items, sec_app.sq_app;
RESET safe_ddl.allow;
DROP FUNCTION sec_app.sq_noop(int);
REVOKE USAGE ON SCHEMA sec_app FROM PUBLIC;
DROP EXTENSION dblink;
DELETE FROM safe_ddl.column_changes;
DELETE FROM safe_ddl.backfill_jobs;
