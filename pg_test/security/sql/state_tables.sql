-- Issue 12, section 1: the helpers' state tables (safe_ddl.column_changes, table_renames,
-- backfill_jobs) are written only by the helpers, through safe_ddl._state(), which records the
-- role that calls it (GetUserId(), by OID) and checks every value against the catalog; a
-- superuser's status, finish and cancel never run code another role wrote. Each attack runs as
-- sec_attacker against the superuser postgres (and sec_app); its effect is checked from the
-- catalog and from st_log, a table the attacker's code would write to.
\set VERBOSITY terse
\set SHOW_CONTEXT never
SET client_min_messages = warning;
-- Drops need only their plain allow here (usage tracking would count every table as in use).
SET safe_ddl.usage_window = 0;

-- ---- the attacker's code: it logs who ran it, and creates a table when run as a superuser ----
SET ROLE sec_attacker;
CREATE TABLE public.st_log (who name, what text);
GRANT INSERT, SELECT ON public.st_log TO PUBLIC;
CREATE FUNCTION public.st_evil(v int) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.st_log VALUES (current_user, 'st_evil');
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        EXECUTE 'CREATE TABLE public.st_pwned (x int)';
    END IF;
    RETURN v;
END $$;
CREATE FUNCTION public.st_evil_oid(r oid) RETURNS bigint LANGUAGE sql AS $$ SELECT public.st_evil(1) $$;
RESET ROLE;

-- The victims' objects: a superuser's table and view, and sec_app's table.
CREATE TABLE public.st_victim (id int PRIMARY KEY, n int NOT NULL, keep int);
INSERT INTO public.st_victim SELECT g, g, g FROM generate_series(1, 20) g;
CREATE VIEW public.st_victim_view AS SELECT * FROM public.st_victim;
CREATE FUNCTION public.st_victim_fn(int) RETURNS int LANGUAGE sql AS 'SELECT $1';
SET ROLE sec_app;
CREATE TABLE sec_app.st_app (id int PRIMARY KEY, n int NOT NULL);
INSERT INTO sec_app.st_app SELECT g, g FROM generate_series(1, 20) g;
RESET ROLE;

-- ---- 1. No role writes the state tables directly (was: INSERT granted to PUBLIC) ---------------
SET ROLE sec_attacker;
INSERT INTO safe_ddl.column_changes
       (relation, old_column, new_column, old_type, new_type, forward, backward, trigger_name,
        trigger_function, forward_function, backward_function, started_by)
VALUES ('pg_am', 'amname', 'amhandler', 'name', 'regproc', 'x', 'y', 't',
        'public.st_evil_oid(oid)', 'public.st_evil_oid(oid)', 'public.st_evil_oid(oid)', 'postgres');
INSERT INTO safe_ddl.column_changes
       (relation, old_column, new_column, old_type, new_type, forward, backward, trigger_name,
        trigger_function, forward_function, backward_function, started_by)
VALUES ('public.st_victim', 'keep', 'n', 'int', 'bigint; DROP TABLE public.st_victim', 'x', 'y', 't',
        'public.st_victim_fn(int)', 'public.st_victim_fn(int)', 'public.st_victim_fn(int)', 'sec_attacker');
INSERT INTO safe_ddl.table_renames (relation, view, schema_name, old_name, new_name, started_by)
VALUES ('public.st_victim', 'public.st_victim_view', 'public', 'st_victim_view', 'st_victim', 'postgres');
INSERT INTO safe_ddl.backfill_jobs (relation, set_clause, key_columns, batch_size, pause, started_by, lock_key)
VALUES ('public.st_victim', 'n = public.st_evil(n)', '{id}', 10, '0', 'postgres', 1);
UPDATE safe_ddl.column_changes SET forward = 'x';
DELETE FROM safe_ddl.table_renames;
UPDATE safe_ddl.backfill_jobs SET set_clause = 'n = public.st_evil(n)';
SELECT setval('safe_ddl.backfill_jobs_job_id_seq', 1);
-- nor through the internals the helpers use: _state_write (and what it dispatches to) is not
-- PUBLIC's, and _state acts for the role that calls it
SELECT safe_ddl._state_write('postgres'::regrole, 'cc_register', '{"relation": 1, "change_id": 1}');
SELECT safe_ddl._cc_w_register('postgres'::regrole, '{}');
SELECT safe_ddl._tr_w_register('postgres'::regrole, json_build_object('view', 'public.st_victim_view'::regclass::oid)::jsonb);
RESET ROLE;
SELECT (SELECT count(*) FROM safe_ddl.column_changes) AS changes, (SELECT count(*) FROM safe_ddl.table_renames) AS renames,
       (SELECT count(*) FROM safe_ddl.backfill_jobs) AS jobs;

-- ---- 2. Registering another role's objects through _state ------------------------------------
-- The attacker names functions after a change id in public (where it may CREATE): no trigger of
-- that change is on the victim's table, and the functions are not the caller's... they are the
-- attacker's, and a row would be in its own name. Either way: refused, no row.
SET ROLE sec_attacker;
CREATE FUNCTION public._safe_ddl_cc900_forward(keep int) RETURNS int LANGUAGE sql RETURN public.st_evil(keep);
CREATE FUNCTION public._safe_ddl_cc900_backward(n int) RETURNS int LANGUAGE sql RETURN n;
CREATE FUNCTION public._safe_ddl_cc900_dual_write() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
SELECT safe_ddl._state('cc_register', json_build_object('relation', 'public.st_victim'::regclass::oid, 'change_id', 900,
                                                        'forward', 'keep', 'backward', 'n')::text);
-- the superuser's view as the attacker's rename, or the superuser's: not a view it made
SELECT safe_ddl._state('tr_register', json_build_object('view', 'public.st_victim_view'::regclass::oid)::text);
-- a backfill job of the superuser's table: the attacker may not update it
SELECT safe_ddl._state('bf_create', json_build_object('relation', 'public.st_victim'::regclass::oid,
       'set_clause', 'n = public.st_evil(n)', 'key_columns', '{id}'::text[], 'batch_size', 10, 'pause', '0')::text);
RESET ROLE;
SELECT (SELECT count(*) FROM safe_ddl.column_changes) AS changes, (SELECT count(*) FROM safe_ddl.table_renames) AS renames,
       (SELECT count(*) FROM safe_ddl.backfill_jobs) AS jobs;

-- ---- 3. The attacker's own change, rename and job: a superuser never runs their code ----------
SET ROLE sec_attacker;
CREATE TABLE public.st_att (id int PRIMARY KEY, n int NOT NULL);
INSERT INTO public.st_att SELECT g, g FROM generate_series(1, 5) g;
TRUNCATE public.st_log;
-- forward calls st_evil (run on the sample rows, as the attacker: that is its own code)
SELECT safe_ddl.begin_column_change('public.st_att', 'n', 'n_big', 'bigint', forward => 'public.st_evil(n)') IS NOT NULL AS begun;
SELECT safe_ddl.rename_table('public.st_att', 'st_att2');
CREATE TABLE public.st_att3 (id int PRIMARY KEY, n int NOT NULL);
INSERT INTO public.st_att3 SELECT g, g FROM generate_series(1, 5) g;
UPDATE safe_ddl.backfill_jobs SET status = 'failed';
RESET ROLE;
SELECT who, count(*) FROM public.st_log GROUP BY 1;   -- its own sample rows, as itself
DELETE FROM public.st_log;
-- The attacker's unfinished backfill (it failed on its first batch: st_fail).
SET ROLE sec_attacker;
CREATE FUNCTION public.st_fail(int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'stop'; END $$;
\set VERBOSITY sqlstate
CALL safe_ddl.backfill('public.st_att3', 'n = public.st_evil(n) + public.st_fail(n)', pause => '0');
\set VERBOSITY terse
RESET ROLE;
DELETE FROM public.st_log;
SELECT relation, status, started_by FROM safe_ddl.backfill_jobs;
SELECT table_name, old_column, new_column, status, started_by FROM safe_ddl.column_change_status(count_rows => false);
-- The superuser's status: the attacker's change is not counted (that would run st_evil), with a
-- NOTICE saying how that role counts it; no backfill_call (it would run the attacker's expression
-- as whoever pastes it).
SET client_min_messages = notice;
\set VERBOSITY default
SELECT table_name, rows_out_of_step, backfill_call FROM safe_ddl.column_change_status();
\set VERBOSITY terse
SET client_min_messages = warning;
-- finish and cancel refuse: they would run and drop that role's code
\set VERBOSITY default
SELECT safe_ddl.finish_column_change('public.st_att2', 'n');
SELECT safe_ddl.cancel_column_change('public.st_att2', 'n');
SELECT safe_ddl.finish_rename_table('public.st_att2');
\set VERBOSITY terse
SELECT job_id AS att_job FROM safe_ddl.backfill_jobs WHERE relation = 'public.st_att3'::regclass \gset
CALL safe_ddl.backfill_resume(:att_job);
CALL safe_ddl._backfill_run(:att_job);
-- nothing of the attacker's ran as the superuser, nothing was dropped
SELECT count(*) AS evil_runs, to_regclass('public.st_pwned') AS pwned FROM public.st_log;
SELECT to_regclass('public.st_att') AS view_kept,
       (SELECT count(*) FROM pg_proc WHERE proname LIKE '\_safe\_ddl\_cc%' AND proname NOT LIKE '%900%' AND proowner = 'sec_attacker'::regrole) AS change_functions,
       (SELECT count(*) FROM pg_attribute WHERE attrelid = 'public.st_att2'::regclass AND attname IN ('n', 'n_big') AND NOT attisdropped) AS columns;
-- No SET ROLE in what the helpers tell a superuser to run (they used to print
-- 'SET ROLE sec_attacker; <call>; RESET ROLE;'): code run after SET ROLE can RESET ROLE and act
-- as the session's user. The attacker's change whose forward function does just that: pasting
-- the old HINT ran it as the superuser.
SET ROLE sec_attacker;
CREATE TABLE public.st_esc (id int PRIMARY KEY, n int);
INSERT INTO public.st_esc VALUES (1, 1);
CREATE FUNCTION public.st_escape(v int) RETURNS bigint LANGUAGE sql RETURN v;
SELECT safe_ddl.begin_column_change('public.st_esc', 'n', 'n_big', 'bigint', 'public.st_escape(n)') IS NOT NULL AS begun;
-- (armed once the change is in place: this test's own sessions are SET ROLE too)
CREATE OR REPLACE FUNCTION public.st_escape(v int) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    IF session_user <> current_user THEN
        RESET ROLE;
        INSERT INTO public.st_log VALUES (current_user, 'st_escape');
        SET ROLE sec_attacker;
    END IF;
    RETURN v;
END $$;
RESET ROLE;
SELECT backfill_call FROM safe_ddl.column_change_status(count_rows => false) WHERE table_name = 'public.st_esc'::regclass;
\set VERBOSITY default
SELECT safe_ddl.finish_column_change('public.st_esc', 'n');
\set VERBOSITY terse
SELECT count(*) AS evil_runs FROM public.st_log;
-- what the old HINT did when pasted (PostgreSQL's SET ROLE, not safe_ddl, lets it out):
SET ROLE sec_attacker; SELECT * FROM safe_ddl.column_change_status('public.st_esc', count_rows => true) \gset
RESET ROLE;
SELECT * FROM public.st_log;
DELETE FROM public.st_log;
SET ROLE sec_attacker;
SELECT safe_ddl.cancel_column_change('public.st_esc', 'n');
RESET ROLE;
DELETE FROM safe_ddl.column_changes WHERE relation = 'public.st_esc'::regclass;
SET ROLE sec_attacker;
BEGIN;
SET LOCAL safe_ddl.allow = 'drop_table';
DROP TABLE public.st_esc;
COMMIT;
DROP FUNCTION public.st_escape(int);
RESET ROLE;
-- Cancelling a job runs nothing: a superuser may cancel any role's job.
SELECT safe_ddl.backfill_cancel(job_id) FROM safe_ddl.backfill_jobs WHERE relation = 'public.st_att3'::regclass;
SELECT count(*) AS evil_runs FROM public.st_log;
-- The attacker's own role runs its own change as before.
SET ROLE sec_attacker;
SELECT safe_ddl.finish_rename_table('public.st_att2');
SELECT safe_ddl.cancel_column_change('public.st_att2', 'n');
RESET ROLE;
SELECT status, started_by FROM safe_ddl.column_changes WHERE relation = 'public.st_att2'::regclass;
SELECT status, started_by FROM safe_ddl.table_renames WHERE relation = 'public.st_att2'::regclass;

-- ---- 4. new_type is a type name, never SQL ----------------------------------------------------
SELECT safe_ddl.begin_column_change('public.st_victim', 'n', 'n2', 'bigint) ; DROP TABLE public.st_victim; --');
SELECT safe_ddl.begin_column_change('public.st_victim', 'n', 'n2', 'int DEFAULT public.st_evil(1)');
SELECT to_regclass('public.st_victim') AS victim, count(*) AS evil_runs FROM public.st_log;

-- ---- 5. Legitimate use: the superuser's and sec_app's own changes, renames and backfills ------
DROP VIEW public.st_victim_view;
SELECT safe_ddl.begin_column_change('public.st_victim', 'n', 'n_big', 'bigint') AS call \gset
:call
SELECT table_name, rows_out_of_step, status, started_by FROM safe_ddl.column_change_status('public.st_victim');
SELECT safe_ddl.finish_column_change('public.st_victim', 'n');
SET ROLE sec_app;
SELECT safe_ddl.begin_column_change('sec_app.st_app', 'n', 'n_big', 'bigint') AS call \gset
:call
SELECT table_name, rows_out_of_step, status, started_by FROM safe_ddl.column_change_status();
SELECT safe_ddl.finish_column_change('sec_app.st_app', 'n');
SELECT safe_ddl.rename_table('sec_app.st_app', 'st_app2');
SELECT safe_ddl.finish_rename_table('sec_app.st_app2');
SELECT count(*) AS visible_changes FROM safe_ddl.column_changes;
RESET ROLE;
-- A change whose table was dropped: cancel (by the table's OID) drops its functions, and only those.
CREATE TABLE public.st_gone (id int PRIMARY KEY, n int);
SELECT safe_ddl.begin_column_change('public.st_gone', 'n', 'n2', 'bigint') IS NOT NULL AS begun;
SELECT 'public.st_gone'::regclass::oid AS gone_oid \gset
SET safe_ddl.allow = 'drop_table, in_use';
DROP TABLE public.st_gone;
RESET safe_ddl.allow;
SELECT count(*) AS functions_left_behind FROM pg_proc WHERE proname LIKE '\_safe\_ddl\_cc%' AND proowner = 'postgres'::regrole;
SELECT safe_ddl.cancel_column_change(:gone_oid::oid::regclass, 'n') LIKE 'cancelled change % (its table is gone)' AS cancelled;
SELECT count(*) AS functions_left_behind FROM pg_proc WHERE proname LIKE '\_safe\_ddl\_cc%' AND proowner = 'postgres'::regrole;
SELECT c.relation::oid = :gone_oid AS gone_table, c.status FROM safe_ddl.column_changes AS c WHERE c.relation::oid = :gone_oid;
SELECT c.relation, c.status, c.started_by FROM safe_ddl.column_changes AS c WHERE c.relation::oid <> :gone_oid ORDER BY c.change_id;
SELECT count(*) AS evil_runs FROM public.st_log;

-- ---- 6. Look-alike operators in public (section 2, for these helpers) -------------------------
-- The attacker defines, in public (first in the superuser's search_path after "$user"),
-- operators for type pairs pg_catalog has no exact match for: the ones the helpers' SQL and the
-- SQL they generate would otherwise meet (varchar comparisons in the dual-write trigger, the
-- out-of-step count, the printed backfill and its key ranges; oid = int, regclass = regclass,
-- regrole = regrole, int * float8, float8 > numeric, float8 + numeric, text || bigint). Each logs and answers
-- correctly. The superuser then runs every helper of these files: nothing is logged (the test's
-- own statements cast so that they do not meet the look-alikes either).
SET ROLE sec_attacker;
CREATE FUNCTION public.st_h_vc(a varchar, b varchar, op text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.st_log VALUES (current_user, 'varchar ' || op);
    RETURN CASE op WHEN '=' THEN a::text OPERATOR(pg_catalog.=) b::text WHEN '<>' THEN a::text OPERATOR(pg_catalog.<>) b::text
                   WHEN '<' THEN a::text OPERATOR(pg_catalog.<) b::text WHEN '>' THEN a::text OPERATOR(pg_catalog.>) b::text
                   WHEN '<=' THEN a::text OPERATOR(pg_catalog.<=) b::text ELSE a::text OPERATOR(pg_catalog.>=) b::text END;
END $$;
CREATE FUNCTION public.st_h_veq(varchar, varchar) RETURNS boolean LANGUAGE sql AS $$ SELECT public.st_h_vc($1, $2, '=') $$;
CREATE FUNCTION public.st_h_vne(varchar, varchar) RETURNS boolean LANGUAGE sql AS $$ SELECT public.st_h_vc($1, $2, '<>') $$;
CREATE FUNCTION public.st_h_vlt(varchar, varchar) RETURNS boolean LANGUAGE sql AS $$ SELECT public.st_h_vc($1, $2, '<') $$;
CREATE FUNCTION public.st_h_vgt(varchar, varchar) RETURNS boolean LANGUAGE sql AS $$ SELECT public.st_h_vc($1, $2, '>') $$;
CREATE FUNCTION public.st_h_vle(varchar, varchar) RETURNS boolean LANGUAGE sql AS $$ SELECT public.st_h_vc($1, $2, '<=') $$;
CREATE FUNCTION public.st_h_vge(varchar, varchar) RETURNS boolean LANGUAGE sql AS $$ SELECT public.st_h_vc($1, $2, '>=') $$;
CREATE OPERATOR public.= (LEFTARG = varchar, RIGHTARG = varchar, FUNCTION = public.st_h_veq);
CREATE OPERATOR public.<> (LEFTARG = varchar, RIGHTARG = varchar, FUNCTION = public.st_h_vne);
CREATE OPERATOR public.< (LEFTARG = varchar, RIGHTARG = varchar, FUNCTION = public.st_h_vlt);
CREATE OPERATOR public.> (LEFTARG = varchar, RIGHTARG = varchar, FUNCTION = public.st_h_vgt);
CREATE OPERATOR public.<= (LEFTARG = varchar, RIGHTARG = varchar, FUNCTION = public.st_h_vle);
CREATE OPERATOR public.>= (LEFTARG = varchar, RIGHTARG = varchar, FUNCTION = public.st_h_vge);
CREATE FUNCTION public.st_h_oid_int(a oid, b int) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.st_log VALUES (current_user, 'oid = int'); RETURN a OPERATOR(pg_catalog.=) b::oid; END $$;
CREATE OPERATOR public.= (LEFTARG = oid, RIGHTARG = int, FUNCTION = public.st_h_oid_int);
CREATE FUNCTION public.st_h_regclass(a regclass, b regclass) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.st_log VALUES (current_user, 'regclass = regclass'); RETURN a::oid OPERATOR(pg_catalog.=) b::oid; END $$;
CREATE OPERATOR public.= (LEFTARG = regclass, RIGHTARG = regclass, FUNCTION = public.st_h_regclass);
CREATE FUNCTION public.st_h_regrole(a regrole, b regrole) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.st_log VALUES (current_user, 'regrole = regrole'); RETURN a::oid OPERATOR(pg_catalog.=) b::oid; END $$;
CREATE OPERATOR public.= (LEFTARG = regrole, RIGHTARG = regrole, FUNCTION = public.st_h_regrole);
CREATE FUNCTION public.st_h_regrole_ne(a regrole, b regrole) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.st_log VALUES (current_user, 'regrole <> regrole'); RETURN a::oid OPERATOR(pg_catalog.<>) b::oid; END $$;
CREATE OPERATOR public.<> (LEFTARG = regrole, RIGHTARG = regrole, FUNCTION = public.st_h_regrole_ne);
CREATE FUNCTION public.st_h_mul(a int, b float8) RETURNS float8 LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.st_log VALUES (current_user, 'int * float8'); RETURN a::float8 OPERATOR(pg_catalog.*) b; END $$;
CREATE OPERATOR public.* (LEFTARG = int, RIGHTARG = float8, FUNCTION = public.st_h_mul);
CREATE FUNCTION public.st_h_gt(a float8, b numeric) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.st_log VALUES (current_user, 'float8 > numeric'); RETURN a OPERATOR(pg_catalog.>) b::float8; END $$;
CREATE OPERATOR public.> (LEFTARG = float8, RIGHTARG = numeric, FUNCTION = public.st_h_gt);
CREATE FUNCTION public.st_h_add(a float8, b numeric) RETURNS float8 LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.st_log VALUES (current_user, 'float8 + numeric'); RETURN a OPERATOR(pg_catalog.+) b::float8; END $$;
CREATE OPERATOR public.+ (LEFTARG = float8, RIGHTARG = numeric, FUNCTION = public.st_h_add);
CREATE FUNCTION public.st_h_cat(a text, b bigint) RETURNS text LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.st_log VALUES (current_user, 'text || bigint'); RETURN a OPERATOR(pg_catalog.||) b::text; END $$;
CREATE OPERATOR public.|| (LEFTARG = text, RIGHTARG = bigint, FUNCTION = public.st_h_cat);
RESET ROLE;
-- The look-alikes are live: plain SQL of the superuser runs them.
SELECT 'a'::varchar = 'a'::varchar AS plain_sql_hijacked;
SELECT what FROM public.st_log;
DELETE FROM public.st_log;

CREATE TABLE public.st_h (code varchar(10) PRIMARY KEY, region varchar(8), n int, ref int);
INSERT INTO public.st_h SELECT 'c' || g::text, 'r' || (g % 3)::text, g, g FROM generate_series(1, 300) g;
CREATE TABLE public.st_h_ref (id int PRIMARY KEY);
INSERT INTO public.st_h_ref SELECT generate_series(1, 300);
SELECT safe_ddl.begin_column_change('public.st_h', 'region', 'region2', 'varchar(12)') AS call \gset
INSERT INTO public.st_h (code, region, n, ref) VALUES ('x1', 'eu', 1, 1);
INSERT INTO public.st_h (code, region2, n, ref) VALUES ('x2', 'us', 2, 2);
UPDATE public.st_h SET region = 'asia' WHERE code::text = 'c1';
UPDATE public.st_h SET region2 = 'af' WHERE code::text = 'c2';
SELECT rows_out_of_step FROM safe_ddl.column_change_status('public.st_h');
\echo :call
:call
SELECT rows_out_of_step FROM safe_ddl.column_change_status('public.st_h');
SELECT status, rows_done, lock_key IS NOT NULL AS keyed FROM safe_ddl.backfill_jobs WHERE relation::oid = 'public.st_h'::regclass::oid;
SELECT relation, status, active FROM safe_ddl.backfill_status WHERE relation::oid = 'public.st_h'::regclass::oid;
CALL safe_ddl.backfill('public.st_h', 'n = n + 0', 'n > 5', batch_size => 50, pause => '0', max_dead_tuple_ratio => NULL);
SELECT safe_ddl.backfill_cancel(job_id) FROM safe_ddl.backfill_jobs WHERE relation::oid = 'public.st_h'::regclass::oid ORDER BY job_id;
SELECT safe_ddl.finish_column_change('public.st_h', 'region');
CALL safe_ddl.set_not_null('public.st_h', 'n');
CALL safe_ddl.add_check('public.st_h', 'st_h_n_pos', 'n > 0');
CALL safe_ddl.add_foreign_key('public.st_h', '{ref}', 'public.st_h_ref');
SELECT safe_ddl.rename_table('public.st_h', 'st_h2');
SELECT safe_ddl.finish_rename_table('public.st_h2');
-- a key of a domain type: compared as its base type, pg_catalog's
CREATE DOMAIN public.st_dom AS int;
CREATE TABLE public.st_hd (id public.st_dom PRIMARY KEY, n int);
INSERT INTO public.st_hd SELECT g, g FROM generate_series(1, 120) g;
SET ROLE sec_attacker;
CREATE FUNCTION public.st_h_dgt(a public.st_dom, b public.st_dom) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.st_log VALUES (current_user, 'st_dom > st_dom'); RETURN a::int OPERATOR(pg_catalog.>) b::int; END $$;
CREATE FUNCTION public.st_h_dle(a public.st_dom, b public.st_dom) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.st_log VALUES (current_user, 'st_dom <= st_dom'); RETURN a::int OPERATOR(pg_catalog.<=) b::int; END $$;
CREATE OPERATOR public.> (LEFTARG = public.st_dom, RIGHTARG = public.st_dom, FUNCTION = public.st_h_dgt);
CREATE OPERATOR public.<= (LEFTARG = public.st_dom, RIGHTARG = public.st_dom, FUNCTION = public.st_h_dle);
RESET ROLE;
CALL safe_ddl.backfill('public.st_hd', 'n = n + 1', batch_size => 50, target_batch_time => NULL, pause => '0', max_dead_tuple_ratio => NULL);
SELECT status, rows_done, batches FROM safe_ddl.backfill_jobs WHERE relation::oid = 'public.st_hd'::regclass::oid;
SET safe_ddl.allow = 'drop_table, in_use';
DROP TABLE public.st_hd;
RESET safe_ddl.allow;
SET ROLE sec_attacker;
DROP OPERATOR public.> (public.st_dom, public.st_dom), public.<= (public.st_dom, public.st_dom);
DROP FUNCTION public.st_h_dgt(public.st_dom, public.st_dom), public.st_h_dle(public.st_dom, public.st_dom);
RESET ROLE;
DROP DOMAIN public.st_dom;
SELECT safe_ddl.begin_column_change('public.st_h2', 'region2', 'region3', 'text') IS NOT NULL AS begun;
SELECT safe_ddl.cancel_column_change('public.st_h2', 'region2');
SELECT what, count(*) FROM public.st_log GROUP BY 1 ORDER BY 1;
SELECT count(*) FILTER (WHERE region2 IS NULL) AS unfilled, count(*) AS rows FROM public.st_h2;
SET safe_ddl.allow = 'drop_table, in_use';
DROP TABLE public.st_h2, public.st_h_ref;
RESET safe_ddl.allow;
SET ROLE sec_attacker;
DROP OPERATOR public.= (varchar, varchar), public.<> (varchar, varchar), public.< (varchar, varchar),
              public.> (varchar, varchar), public.<= (varchar, varchar), public.>= (varchar, varchar),
              public.= (oid, int), public.= (regclass, regclass), public.= (regrole, regrole),
              public.<> (regrole, regrole), public.* (int, float8), public.> (float8, numeric), public.+ (float8, numeric),
              public.|| (text, bigint);
DROP FUNCTION public.st_h_veq(varchar, varchar), public.st_h_vne(varchar, varchar), public.st_h_vlt(varchar, varchar),
              public.st_h_vgt(varchar, varchar), public.st_h_vle(varchar, varchar), public.st_h_vge(varchar, varchar),
              public.st_h_vc(varchar, varchar, text), public.st_h_oid_int(oid, int), public.st_h_regclass(regclass, regclass),
              public.st_h_regrole(regrole, regrole), public.st_h_regrole_ne(regrole, regrole), public.st_h_mul(int, float8),
              public.st_h_gt(float8, numeric), public.st_h_add(float8, numeric), public.st_h_cat(text, bigint);
RESET ROLE;

-- ---- 7. A domain over a type whose operators live outside pg_catalog (citext in public) -------
-- OPERATOR(public.=) of two domain values, or a plain > between them, took the exact match the
-- attacker defined in public for the domain: its code ran in the superuser's dual-write
-- trigger (every write of the table, by anyone), status count and backfill (key walk and the
-- printed where clause). Now the values are cast to the operator's own type first.
CREATE EXTENSION citext SCHEMA public;
CREATE DOMAIN public.st_email AS public.citext;
CREATE TABLE public.st_dm (id public.st_email PRIMARY KEY, e text);
INSERT INTO public.st_dm SELECT 'U' || g::text || '@x', 'u' || g::text FROM generate_series(1, 30) g;
SET ROLE sec_attacker;
CREATE FUNCTION public.st_dm_op(a public.st_email, b public.st_email, op text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.st_log VALUES (current_user, 'st_email ' || op);
    RETURN CASE op WHEN '=' THEN a::text OPERATOR(pg_catalog.=) b::text WHEN '>' THEN a::text OPERATOR(pg_catalog.>) b::text
                   ELSE a::text OPERATOR(pg_catalog.<=) b::text END;
END $$;
CREATE FUNCTION public.st_dm_eq(public.st_email, public.st_email) RETURNS boolean LANGUAGE sql RETURN public.st_dm_op($1, $2, '=');
CREATE FUNCTION public.st_dm_gt(public.st_email, public.st_email) RETURNS boolean LANGUAGE sql RETURN public.st_dm_op($1, $2, '>');
CREATE FUNCTION public.st_dm_le(public.st_email, public.st_email) RETURNS boolean LANGUAGE sql RETURN public.st_dm_op($1, $2, '<=');
CREATE OPERATOR public.= (LEFTARG = public.st_email, RIGHTARG = public.st_email, FUNCTION = public.st_dm_eq);
CREATE OPERATOR public.> (LEFTARG = public.st_email, RIGHTARG = public.st_email, FUNCTION = public.st_dm_gt);
CREATE OPERATOR public.<= (LEFTARG = public.st_email, RIGHTARG = public.st_email, FUNCTION = public.st_dm_le);
RESET ROLE;
SET search_path = "$user", public;
SELECT safe_ddl.begin_column_change('public.st_dm', 'e', 'e2', 'public.st_email') AS call \gset
INSERT INTO public.st_dm VALUES ('new@x', 'n');
UPDATE public.st_dm SET e = 'U1!' WHERE id::text = 'U1@x';
UPDATE public.st_dm SET e2 = 'U2!' WHERE id::text = 'U2@x';
SELECT rows_out_of_step FROM safe_ddl.column_change_status('public.st_dm');
\echo :call
:call
CALL safe_ddl.backfill('public.st_dm', 'e = e', batch_size => 10, pause => '0', max_dead_tuple_ratio => NULL);
SELECT rows_out_of_step FROM safe_ddl.column_change_status('public.st_dm');
SELECT safe_ddl.finish_column_change('public.st_dm', 'e');
RESET search_path;
SELECT count(*) AS evil_runs FROM public.st_log;
SET ROLE sec_attacker;
DROP OPERATOR public.= (public.st_email, public.st_email), public.> (public.st_email, public.st_email),
              public.<= (public.st_email, public.st_email);
DROP FUNCTION public.st_dm_eq(public.st_email, public.st_email), public.st_dm_gt(public.st_email, public.st_email),
              public.st_dm_le(public.st_email, public.st_email), public.st_dm_op(public.st_email, public.st_email, text);
RESET ROLE;
SET safe_ddl.allow = 'drop_table, in_use';
DROP TABLE public.st_dm;
RESET safe_ddl.allow;
DROP DOMAIN public.st_email;
DROP EXTENSION citext;
-- Arrays and enums have only pg_catalog's polymorphic = and >: a plain IS DISTINCT FROM (begin's
-- sample, the printed backfill) and the backfill's key walk took the attacker's exact matches.
CREATE TYPE public.st_mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE public.st_ar (k public.st_mood, id int, a int[], PRIMARY KEY (k, id));
INSERT INTO public.st_ar SELECT (ARRAY['sad', 'ok', 'happy']::public.st_mood[])[g % 3 + 1], g, ARRAY[g] FROM generate_series(1, 30) g;
SET ROLE sec_attacker;
CREATE FUNCTION public.st_ar_log(what text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.st_log VALUES (current_user, what); RETURN true; END $$;
CREATE FUNCTION public.st_ar_eq4(int[], int[]) RETURNS boolean LANGUAGE sql RETURN public.st_ar_log('int[] =') AND $1 OPERATOR(pg_catalog.=) $2;
CREATE FUNCTION public.st_ar_eq8(bigint[], bigint[]) RETURNS boolean LANGUAGE sql RETURN public.st_ar_log('bigint[] =') AND $1 OPERATOR(pg_catalog.=) $2;
CREATE FUNCTION public.st_mood_gt(public.st_mood, public.st_mood) RETURNS boolean LANGUAGE sql RETURN public.st_ar_log('st_mood >') AND $1 OPERATOR(pg_catalog.>) $2;
CREATE FUNCTION public.st_mood_le(public.st_mood, public.st_mood) RETURNS boolean LANGUAGE sql RETURN public.st_ar_log('st_mood <=') AND $1 OPERATOR(pg_catalog.<=) $2;
CREATE OPERATOR public.= (LEFTARG = int[], RIGHTARG = int[], FUNCTION = public.st_ar_eq4);
CREATE OPERATOR public.= (LEFTARG = bigint[], RIGHTARG = bigint[], FUNCTION = public.st_ar_eq8);
CREATE OPERATOR public.> (LEFTARG = public.st_mood, RIGHTARG = public.st_mood, FUNCTION = public.st_mood_gt);
CREATE OPERATOR public.<= (LEFTARG = public.st_mood, RIGHTARG = public.st_mood, FUNCTION = public.st_mood_le);
RESET ROLE;
SET search_path = "$user", public;
SELECT safe_ddl.begin_column_change('public.st_ar', 'a', 'a2', 'bigint[]') AS call \gset
INSERT INTO public.st_ar (k, id, a2) VALUES ('ok', 100, ARRAY[100]);
UPDATE public.st_ar SET a2 = ARRAY[7, 7] WHERE id OPERATOR(pg_catalog.=) 1;
\echo :call
:call
SELECT rows_out_of_step FROM safe_ddl.column_change_status('public.st_ar');
SELECT safe_ddl.finish_column_change('public.st_ar', 'a');
RESET search_path;
SELECT count(*) AS evil_runs FROM public.st_log;
SET ROLE sec_attacker;
DROP OPERATOR public.= (int[], int[]), public.= (bigint[], bigint[]), public.> (public.st_mood, public.st_mood),
              public.<= (public.st_mood, public.st_mood);
DROP FUNCTION public.st_ar_eq4(int[], int[]), public.st_ar_eq8(bigint[], bigint[]), public.st_mood_gt(public.st_mood, public.st_mood),
              public.st_mood_le(public.st_mood, public.st_mood), public.st_ar_log(text);
RESET ROLE;
SET safe_ddl.allow = 'drop_table, in_use';
DROP TABLE public.st_ar;
RESET safe_ddl.allow;
DROP TYPE public.st_mood;

-- Clean up.
SET safe_ddl.allow = 'drop_table, in_use';
DROP TABLE public.st_victim, public.st_att2, public.st_att3, sec_app.st_app2 CASCADE;
RESET safe_ddl.allow;
DROP FUNCTION public.st_victim_fn(int);
SET ROLE sec_attacker;
DROP FUNCTION public._safe_ddl_cc900_forward(int), public._safe_ddl_cc900_backward(int), public._safe_ddl_cc900_dual_write(),
              public.st_evil_oid(oid), public.st_fail(int);
RESET ROLE;
SET safe_ddl.allow = 'drop_table, in_use';
DROP FUNCTION public.st_evil(int);
DROP TABLE public.st_log;
RESET safe_ddl.allow;
DELETE FROM safe_ddl.column_changes;
DELETE FROM safe_ddl.table_renames;
DELETE FROM safe_ddl.backfill_jobs;
