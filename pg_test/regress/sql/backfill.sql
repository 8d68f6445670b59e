-- safe_ddl.backfill(): batched, resumable backfills (docs/backfill.md). Multi-session behaviour
-- (pg_terminate_backend, crash, cancel from another session, throttling) is in
-- pg_test/backfill_crash.sh.
-- The NOTICEs carry job ids, timings and rates: keep them out of the expected output.
SET client_min_messages = warning;
\set VERBOSITY terse
SET datestyle = 'Postgres, MDY';   -- not ISO: stored keys must not depend on it

-- Correctness: 200,000 rows, half of them matching, batches of 5,000 (adapting toward 200 ms).
CREATE TABLE bf_items (id int PRIMARY KEY, v int NOT NULL, v2 int, touched int NOT NULL DEFAULT 0);
INSERT INTO bf_items (id, v) SELECT g, (g * 7919) % 1000 FROM generate_series(1, 200000) g;
CALL safe_ddl.backfill('bf_items', 'touched = touched + 1, v2 = v * 2', 'v < 500',
                       batch_size => 5000, pause => '0');
SELECT status, rows_done, rows_scanned, key_columns, last_key, cancel_requested, error,
       finished_at IS NOT NULL AS finished, started_by = current_user::regrole AS mine
  FROM safe_ddl.backfill_jobs WHERE relation = 'bf_items'::regclass;
-- every matching row updated exactly once, the others untouched
SELECT v < 500 AS matches, touched, count(*) AS rows,
       bool_and(v2 IS NOT DISTINCT FROM CASE WHEN v < 500 THEN v * 2 END) AS v2_right
  FROM bf_items GROUP BY 1, 2 ORDER BY 1, 2;
SELECT status, active, percent_estimate FROM safe_ddl.backfill_status WHERE relation = 'bf_items'::regclass;

-- A composite primary key with a date, fixed batches of 100 (target_batch_time => NULL).
CREATE TABLE bf_events (tenant int, day date, seq int, touched int NOT NULL DEFAULT 0,
                        PRIMARY KEY (tenant, day, seq));
INSERT INTO bf_events (tenant, day, seq)
SELECT t, date '2024-01-01' + d, s
  FROM generate_series(1, 3) t, generate_series(0, 39) d, generate_series(1, 50) s;
CALL safe_ddl.backfill('bf_events', 'touched = touched + 1', 'seq % 3 = 0',
                       batch_size => 100, target_batch_time => NULL, pause => '0');
SELECT status, rows_done, rows_scanned, batches, batch_size, key_columns, last_key
  FROM safe_ddl.backfill_jobs WHERE relation = 'bf_events'::regclass;
SELECT seq % 3 = 0 AS matches, touched, count(*) AS rows FROM bf_events GROUP BY 1, 2 ORDER BY 1, 2;

-- Without a primary key: the narrowest unique index on NOT NULL columns (here code, not the
-- nullable alt).
CREATE TABLE bf_coded (code text NOT NULL UNIQUE, alt int UNIQUE, touched int NOT NULL DEFAULT 0);
INSERT INTO bf_coded (code, alt) SELECT 'c' || g, g FROM generate_series(1, 1000) g;
CALL safe_ddl.backfill('bf_coded', 'touched = touched + 1', batch_size => 300, pause => '0');
SELECT status, rows_done, key_columns, last_key FROM safe_ddl.backfill_jobs WHERE relation = 'bf_coded'::regclass;
SELECT touched, count(*) AS rows FROM bf_coded GROUP BY 1;

-- Bad inputs: clear errors, before any batch, and no job row.
SELECT count(*) AS jobs_before FROM safe_ddl.backfill_jobs \gset
CREATE TABLE bf_nokey (a int UNIQUE, b int);
INSERT INTO bf_nokey SELECT g, g FROM generate_series(1, 10) g;
CALL safe_ddl.backfill('bf_nokey', 'b = b + 1');
CALL safe_ddl.backfill('bf_items', 'nope = 1');
CALL safe_ddl.backfill('bf_items', 'touched = nope');
CALL safe_ddl.backfill('bf_items', 'touched = touched + 1', 'nope > 0');
CALL safe_ddl.backfill('bf_items', 'touched = touched + 1', 'v + 1');
CALL safe_ddl.backfill('bf_items', 'touched = touched + 1', 'v < 5) OR (true');
CALL safe_ddl.backfill('bf_items', 'touched = touched + 1 WHERE true');
CALL safe_ddl.backfill('bf_items', '');
CALL safe_ddl.backfill('bf_items', 'touched = touched + 1', batch_size => 0);
CALL safe_ddl.backfill('bf_items', 'touched = touched + 1', batch_size => -5);
CALL safe_ddl.backfill('bf_items', 'touched = touched + 1', pause => '-1 s');
CALL safe_ddl.backfill('bf_items', 'touched = touched + 1', target_batch_time => '0');
CALL safe_ddl.backfill('bf_items', 'touched = touched + 1', max_dead_tuple_ratio => 1.5);
CALL safe_ddl.backfill('bf_items', 'touched = touched + 1', max_replication_lag => -1);
-- nice: the CPU priority of the session while it runs (issue 14), 0 to 19
CALL safe_ddl.backfill('bf_items', 'touched = touched + 1', nice => 20);
CALL safe_ddl.backfill('bf_items', 'touched = touched + 1', nice => -1);
CALL safe_ddl.backfill('bf_items', 'touched = touched + 1', nice => NULL);
CALL safe_ddl.backfill('bf_missing', 'touched = touched + 1');
CREATE VIEW bf_view AS SELECT * FROM bf_items;
CALL safe_ddl.backfill('bf_view', 'touched = touched + 1');
-- Inside a transaction block, a multi-statement query or a function: refused before anything.
BEGIN;
CALL safe_ddl.backfill('bf_items', 'touched = touched + 1');
ROLLBACK;
CALL safe_ddl.backfill('bf_items', 'touched = touched + 1') \; SELECT 1;
CREATE FUNCTION bf_in_function() RETURNS int LANGUAGE plpgsql
AS $$ BEGIN CALL safe_ddl.backfill('bf_items', 'touched = touched + 1'); RETURN 1; END $$;
SELECT bf_in_function();
SELECT count(*) - :jobs_before AS new_jobs FROM safe_ddl.backfill_jobs;
SELECT touched, count(*) AS rows FROM bf_items GROUP BY 1 ORDER BY 1;

-- A set clause that changes the key is stopped in its first batch, which is rolled back.
-- (max_dead_tuple_ratio => NULL: the dead rows of the earlier backfill of this table could make it
-- wait for autovacuum; the same for bf_resume below.)
CALL safe_ddl.backfill('bf_coded', 'code = ''z'' || code', batch_size => 10, pause => '0',
                       max_dead_tuple_ratio => NULL);
SELECT status, rows_done, last_key, error FROM safe_ddl.backfill_jobs
 WHERE relation = 'bf_coded'::regclass AND status <> 'done';
SELECT count(*) AS renamed FROM bf_coded WHERE code LIKE 'z%';

-- Resume: a batch fails halfway (an error in the set clause at id 23452); the earlier batches
-- stay committed, the job says where it stopped. Fixed, the same CALL goes on from there.
CREATE TABLE bf_resume (id bigint PRIMARY KEY, v int NOT NULL, touched int NOT NULL DEFAULT 0);
INSERT INTO bf_resume (id, v) SELECT g, g % 10 FROM generate_series(1, 50000) g;
CREATE TABLE bf_switch (fail boolean NOT NULL);
INSERT INTO bf_switch VALUES (true);
CREATE FUNCTION bf_fail_at(id bigint) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
    IF id = 23452 AND (SELECT fail FROM bf_switch) THEN
        RAISE EXCEPTION 'simulated failure at id %', id;
    END IF;
    RETURN 1;
END $$;
CALL safe_ddl.backfill('bf_resume', 'touched = touched + bf_fail_at(id)', 'v < 5',
                       batch_size => 5000, target_batch_time => NULL, pause => '0');
SELECT job_id AS resume_job FROM safe_ddl.backfill_jobs WHERE relation = 'bf_resume'::regclass \gset
UPDATE safe_ddl.backfill_jobs SET max_dead_tuple_ratio = NULL WHERE job_id = :resume_job;  -- settings are editable
SELECT status, rows_done, rows_scanned, batches, last_key, error, finished_at IS NOT NULL AS finished
  FROM safe_ddl.backfill_jobs WHERE job_id = :resume_job;
-- the table holds exactly the committed batches: ids 1..20000, the matching half of them
SELECT touched, count(*) AS rows, max(id) AS max_id FROM bf_resume WHERE v < 5 GROUP BY 1 ORDER BY 1;
-- Cancel a job no session is running: it is cancelled at once.
SELECT safe_ddl.backfill_cancel(:resume_job);
SELECT status, active, cancel_requested FROM safe_ddl.backfill_status WHERE job_id = :resume_job;
-- A cancel requested while a session ran it, which died before the next batch: the next run
-- honours it at its first batch boundary, before any batch.
UPDATE safe_ddl.backfill_jobs SET status = 'running', cancel_requested = true WHERE job_id = :resume_job;
CALL safe_ddl.backfill_resume(:resume_job);
SELECT status, rows_done, last_key, cancel_requested FROM safe_ddl.backfill_jobs WHERE job_id = :resume_job;
-- Resuming a cancelled (or failed) job goes on: still failing here, then fixed.
CALL safe_ddl.backfill_resume(:resume_job);
SELECT status, rows_done, last_key, error FROM safe_ddl.backfill_jobs WHERE job_id = :resume_job;
UPDATE bf_switch SET fail = false;
-- The same CALL again resumes the unfinished job, with the settings of this CALL.
CALL safe_ddl.backfill('bf_resume', 'touched = touched + bf_fail_at(id)', 'v < 5',
                       batch_size => 5000, target_batch_time => NULL, pause => '0',
                       max_dead_tuple_ratio => NULL);
SELECT job_id = :resume_job AS same_job, status, rows_done, rows_scanned, last_key, error
  FROM safe_ddl.backfill_jobs WHERE relation = 'bf_resume'::regclass;
SELECT v < 5 AS matches, touched, count(*) AS rows FROM bf_resume GROUP BY 1, 2 ORDER BY 1, 2;
-- Done is done.
SELECT safe_ddl.backfill_cancel(:resume_job);
CALL safe_ddl.backfill_resume(:resume_job);
SELECT status, rows_done FROM safe_ddl.backfill_jobs WHERE job_id = :resume_job;
CALL safe_ddl.backfill_resume(-1);
SELECT safe_ddl.backfill_cancel(-1);

-- A role without superuser rights runs backfills on the tables it may update, and sees and
-- resumes only its own jobs.
CREATE TABLE bf_app (id int PRIMARY KEY, touched int NOT NULL DEFAULT 0);
INSERT INTO bf_app (id) SELECT generate_series(1, 1000);
GRANT SELECT, UPDATE ON bf_app TO safe_ddl_app;
SET ROLE safe_ddl_app;
SELECT count(*) AS jobs_visible FROM safe_ddl.backfill_jobs;
CALL safe_ddl.backfill('bf_app', 'touched = touched + 1', batch_size => 100, pause => '0');
SELECT relation, status, rows_done, started_by FROM safe_ddl.backfill_jobs;
SELECT relation, status, active, percent_estimate FROM safe_ddl.backfill_status;
CALL safe_ddl.backfill('bf_items', 'touched = touched + 1');
\set VERBOSITY sqlstate
CALL safe_ddl.backfill_resume(:resume_job);   -- no_data_found: invisible to this role
SELECT safe_ddl.backfill_cancel(:resume_job);
\set VERBOSITY terse
UPDATE safe_ddl.backfill_jobs SET started_by = 'postgres';
RESET ROLE;
SELECT touched, count(*) AS rows FROM bf_app GROUP BY 1;
-- the superuser sees every job, but resumes another role's job only as that role
SELECT count(DISTINCT started_by) AS roles FROM safe_ddl.backfill_jobs;
UPDATE safe_ddl.backfill_jobs SET status = 'failed' WHERE relation = 'bf_app'::regclass;
SELECT job_id AS app_job FROM safe_ddl.backfill_jobs WHERE relation = 'bf_app'::regclass \gset
CALL safe_ddl.backfill_resume(:app_job);

-- Issue 14: a job covers the keys present when it starts (upper_bound, in the job row) and ends
-- there; rows inserted later are not its job, also when they come while it is stopped: the
-- resumed job keeps its bound. A batch fails at id 50, 50 rows are inserted beyond the end, the
-- job is resumed: ids 1..100 are updated exactly once, 101..150 not at all.
CREATE TABLE bf_bound (id bigserial PRIMARY KEY, touched int NOT NULL DEFAULT 0);
INSERT INTO bf_bound (touched) SELECT 0 FROM generate_series(1, 100);
CREATE TABLE bf_follow (id bigserial PRIMARY KEY, touched int NOT NULL DEFAULT 0);
INSERT INTO bf_follow (touched) SELECT 0 FROM generate_series(1, 100);
UPDATE bf_switch SET fail = true;
CREATE FUNCTION bf_fail_at_50(id bigint) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
    IF id = 50 AND (SELECT fail FROM bf_switch) THEN
        RAISE EXCEPTION 'simulated failure at id %', id;
    END IF;
    RETURN 1;
END $$;
CALL safe_ddl.backfill('bf_bound', 'touched = touched + bf_fail_at_50(id)',
                       batch_size => 20, target_batch_time => NULL, pause => '0', max_dead_tuple_ratio => NULL);
SELECT status, follow_new_rows, upper_bound, last_key, rows_done FROM safe_ddl.backfill_jobs
 WHERE relation = 'bf_bound'::regclass;
INSERT INTO bf_bound (touched) SELECT 0 FROM generate_series(1, 50);
UPDATE bf_switch SET fail = false;
SELECT job_id AS bound_job FROM safe_ddl.backfill_jobs WHERE relation = 'bf_bound'::regclass \gset
CALL safe_ddl.backfill_resume(:bound_job);
SELECT status, upper_bound, last_key, rows_done, rows_scanned, batches FROM safe_ddl.backfill_jobs
 WHERE relation = 'bf_bound'::regclass;
SELECT id <= 100 AS present_at_start, touched, count(*) AS rows FROM bf_bound GROUP BY 1, 2 ORDER BY 1, 2;
SELECT status, follow_new_rows, upper_bound, percent_estimate FROM safe_ddl.backfill_status
 WHERE relation = 'bf_bound'::regclass;
-- The same with follow_new_rows => true: no bound, the resumed job updates the new rows too.
UPDATE bf_switch SET fail = true;
CALL safe_ddl.backfill('bf_follow', 'touched = touched + bf_fail_at_50(id)',
                       batch_size => 20, target_batch_time => NULL, pause => '0', max_dead_tuple_ratio => NULL,
                       follow_new_rows => true);
INSERT INTO bf_follow (touched) SELECT 0 FROM generate_series(1, 50);
UPDATE bf_switch SET fail = false;
CALL safe_ddl.backfill('bf_follow', 'touched = touched + bf_fail_at_50(id)',
                       batch_size => 20, target_batch_time => NULL, pause => '0', max_dead_tuple_ratio => NULL,
                       follow_new_rows => true);
SELECT status, follow_new_rows, upper_bound, last_key, rows_done FROM safe_ddl.backfill_jobs
 WHERE relation = 'bf_follow'::regclass;
SELECT id <= 100 AS present_at_start, touched, count(*) AS rows FROM bf_follow GROUP BY 1, 2 ORDER BY 1, 2;
-- A table empty at the start: the job is done at once, and stays so (no bound to walk to).
CREATE TABLE bf_empty (id int PRIMARY KEY, touched int NOT NULL DEFAULT 0);
CALL safe_ddl.backfill('bf_empty', 'touched = touched + 1', pause => '0');
SELECT status, follow_new_rows, upper_bound, last_key, rows_done FROM safe_ddl.backfill_jobs
 WHERE relation = 'bf_empty'::regclass;
-- A bound that is no key of the job's shape is refused by the writer (only ever its own job).
SELECT safe_ddl._state('bf_create', json_build_object('relation', 'bf_empty'::regclass::oid, 'set_clause', 'touched = 0',
           'where_clause', 'touched > 5', 'key_columns', ARRAY['id'], 'upper_bound', ARRAY['1', '2'], 'batch_size', 10,
           'pause', '0')::text);
SELECT safe_ddl._state('bf_create', json_build_object('relation', 'bf_empty'::regclass::oid, 'set_clause', 'touched = 0',
           'where_clause', 'touched > 5', 'key_columns', ARRAY['id'], 'upper_bound', ARRAY['1'], 'follow_new_rows', true,
           'batch_size', 10, 'pause', '0')::text);
CALL safe_ddl.backfill('bf_empty', 'touched = touched + 1', follow_new_rows => NULL);

RESET datestyle;
RESET client_min_messages;
\set VERBOSITY default
SET safe_ddl.allow = 'drop_table';
DROP TABLE bf_items, bf_events, bf_coded, bf_nokey, bf_resume, bf_switch, bf_app, bf_bound, bf_follow, bf_empty CASCADE;
RESET safe_ddl.allow;
DROP FUNCTION bf_fail_at(bigint), bf_fail_at_50(bigint), bf_in_function();
DELETE FROM safe_ddl.backfill_jobs;
