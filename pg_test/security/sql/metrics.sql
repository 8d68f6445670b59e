-- Issue 19: safe_ddl.metrics. Any role may read the counters (counts name no table, role or
-- statement); only a superuser may reset them (REVOKE in SQL, and a superuser check in the C
-- function behind it); no role but the extension's owner, through a backfill's job writes, adds
-- to them by a call: the hazard and lock counters move only when the guard itself reports or
-- waits. sec_attacker tries; the counters are compared before and after.
\set VERBOSITY terse
\set SHOW_CONTEXT never
SET client_min_messages = warning;
SET safe_ddl.usage_window = 0;

-- The counters before the attacks (a superuser's snapshot).
SELECT safe_ddl.metrics_reset();
CREATE TABLE public.sm_before AS SELECT metric, hazard, action, value FROM safe_ddl.metrics;

-- A superuser's finished backfill job, for the attacker to forge progress of.
CREATE TABLE public.sm_victim (id int PRIMARY KEY, v int);
INSERT INTO public.sm_victim SELECT g, 0 FROM generate_series(1, 10) g;
CALL safe_ddl.backfill('public.sm_victim', 'v = 1', pause => '0', nice => 0);
SELECT set_config('sm.victim_job', job_id::text, false) IS NOT NULL AS victim_job
  FROM safe_ddl.backfill_jobs WHERE relation = 'public.sm_victim'::regclass;
UPDATE public.sm_before AS b SET value = m.value FROM safe_ddl.metrics AS m
 WHERE m.metric = b.metric AND m.metric LIKE 'backfill%';

SET ROLE sec_attacker;
-- Reading is fine.
SELECT count(*) > 0 AS readable FROM safe_ddl.metrics;
-- Resetting is not: neither the function nor the C function behind it.
SELECT safe_ddl.metrics_reset();
SELECT safe_ddl._metrics_reset();
-- The backfill counting entry is the extension owner's only.
SELECT safe_ddl._metrics_backfill(1000000, 1, 3600);
-- Forging a batch of another role's job through the state gate fails before anything is counted
-- (no_data_found: "no backfill job N", N depending on the files before, so SQLSTATEs only).
\set VERBOSITY sqlstate
SELECT safe_ddl._state('bf_progress', pg_catalog.jsonb_build_object(
    'job', current_setting('sm.victim_job')::bigint, 'expect_last_key', NULL, 'last_key', ARRAY['1'],
    'rows_done', 1000000, 'rows_scanned', 1, 'batch_size', 1, 'waited', '1 hour')::text) IS NULL AS forged;
SELECT safe_ddl._state('bf_stop', pg_catalog.jsonb_build_object(
    'job', current_setting('sm.victim_job')::bigint, 'status', 'done', 'batch_size', 1,
    'waited', '1 hour')::text) IS NULL AS forged;
\set VERBOSITY terse
-- No function the attacker may execute writes a counter: the only metrics function it may run
-- is the view's reader.
SELECT p.oid::regprocedure AS executable
  FROM pg_proc AS p
 WHERE p.pronamespace = 'safe_ddl'::regnamespace AND p.proname ~ 'metric'
   AND has_function_privilege('sec_attacker', p.oid, 'EXECUTE')
 ORDER BY 1::text;
-- Hijacking the names the job writes call: they qualify them with the extension's schema.
CREATE FUNCTION public._metrics_backfill(bigint, integer, double precision) RETURNS void
LANGUAGE sql AS 'SELECT NULL';
RESET ROLE;

-- A DBA's mistake: EXECUTE granted on the reset. The C function still refuses a non-superuser.
GRANT EXECUTE ON FUNCTION safe_ddl.metrics_reset(), safe_ddl._metrics_reset() TO sec_attacker;
SET ROLE sec_attacker;
SELECT safe_ddl.metrics_reset();
SELECT safe_ddl._metrics_reset();
RESET ROLE;
REVOKE EXECUTE ON FUNCTION safe_ddl.metrics_reset(), safe_ddl._metrics_reset() FROM sec_attacker;

-- Out-of-bounds reports are errors, even for the owner: a counter never goes absurd.
SELECT safe_ddl._metrics_backfill(-1, 1, 0);
SELECT safe_ddl._metrics_backfill(3000000000, 1, 0);
SELECT safe_ddl._metrics_backfill(0, 2, 0);
SELECT safe_ddl._metrics_backfill(0, -1, 0);
SELECT safe_ddl._metrics_backfill(0, 0, -1);
SELECT safe_ddl._metrics_backfill(0, 0, 'NaN');
SELECT safe_ddl._metrics_backfill(0, 0, 'Infinity');

-- Nothing moved: every counter is as before the attacks (stats_reset_seconds included).
SELECT m.metric, m.hazard, m.action, b.value AS before, m.value AS after
  FROM safe_ddl.metrics AS m
  JOIN public.sm_before AS b ON b.metric = m.metric AND b.hazard IS NOT DISTINCT FROM m.hazard
                             AND b.action IS NOT DISTINCT FROM m.action
 WHERE m.value IS DISTINCT FROM b.value;
SELECT count(*) AS rows_compared FROM public.sm_before;

SET safe_ddl.allow = 'drop_table';
DROP TABLE public.sm_before, public.sm_victim;
DROP FUNCTION public._metrics_backfill(bigint, integer, double precision);
RESET safe_ddl.allow;
