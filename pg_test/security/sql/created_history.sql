-- Issue 13, point 2 under attack: an object created while usage tracking runs and used by nobody
-- since may be dropped or renamed with no allow, and the dropping transaction's own uses do not
-- count. An unprivileged role must not be able to turn that into "unused" for another role's
-- column it (or anyone) uses: its uses count whenever and however they happen (in a transaction
-- of its own, through a view or a table it creates in that transaction, in the same second as
-- the victim's own read), it cannot make an old object look newly created, and check() does not
-- tell it whether a column of a table it has no privilege on was ever used.
-- The victim is the superuser postgres running the migration; usage_window is the default day.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
SET safe_ddl.usage_window = '1d';
-- The migration's helper: run a statement, return 'ok' or the message and the in-use reason.
CREATE FUNCTION pg_temp.ch_try(sql text) RETURNS text LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE m text; d text;
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL;
    d := substring(d from E'\nIt is [a-z ]*');
    RETURN m || coalesce(d, '');
END $$;

-- The victim's tables, created by an earlier migration; the attacker is a client of ch_victim.
CREATE TABLE public.ch_victim (id int PRIMARY KEY, secret int, spare int, extra int, more int);
GRANT SELECT ON public.ch_victim TO sec_attacker;
CREATE TABLE public.ch_private (id int, p int);

-- ---- 1. A read in a transaction of the attacker's own counts ---------------------------------
\c - sec_attacker
BEGIN;
SELECT secret FROM public.ch_victim;
COMMIT;
-- ... also through a view and a table it creates in the same transaction (uses by the creating
-- transaction are not recorded for what it creates, only for what it creates them from).
BEGIN;
CREATE VIEW public.ch_att_view AS SELECT spare FROM public.ch_victim;
SELECT * FROM public.ch_att_view;
CREATE TABLE public.ch_att_copy AS SELECT extra FROM public.ch_victim;
COMMIT;
\c - postgres
SET safe_ddl.usage_window = '1d';
CREATE FUNCTION pg_temp.ch_try(sql text) RETURNS text LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE m text; d text;
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL;
    d := substring(d from E'\nIt is [a-z ]*');
    RETURN m || coalesce(d, '');
END $$;
-- The victim's migration reads the columns itself, then drops them: its own reads do not count,
-- the attacker's do.
BEGIN;
SELECT secret, spare, extra, more FROM public.ch_victim;
SELECT pg_temp.ch_try($$ALTER TABLE public.ch_victim DROP COLUMN secret$$);
SELECT pg_temp.ch_try($$ALTER TABLE public.ch_victim DROP COLUMN spare$$);
SELECT pg_temp.ch_try($$ALTER TABLE public.ch_victim DROP COLUMN extra$$);
-- a column nobody but this transaction read
SELECT pg_temp.ch_try($$ALTER TABLE public.ch_victim DROP COLUMN more$$);
ROLLBACK;

-- ---- 2. No way to make an old object look newly created --------------------------------------
SELECT safe_ddl.reset_usage('public.ch_victim');
\c - sec_attacker
\set VERBOSITY terse
-- a creation record needs a new relation or column: of another role's table, it may add neither
ALTER TABLE public.ch_victim ADD COLUMN mine int;
CREATE TABLE public.ch_child () INHERITS (public.ch_victim);
CREATE TABLE public.ch_part (id int) PARTITION BY RANGE (id);
BEGIN;
SET LOCAL safe_ddl.allow = 'partition_scan';
ALTER TABLE public.ch_part ATTACH PARTITION public.ch_victim FOR VALUES FROM (0) TO (10);
ROLLBACK;
-- nor choose the OID of what it creates
SELECT binary_upgrade_set_next_heap_pg_class_oid('public.ch_victim'::regclass::oid);
-- nor reset the usage of anything (a reset voids a history, never completes one)
SELECT safe_ddl.reset_usage('public.ch_victim');
-- Tables it creates and drops take and free slots of their own OIDs only.
CREATE TABLE public.ch_churn (a int);
DROP TABLE public.ch_churn;
DROP TABLE public.ch_part;
\set VERBOSITY default
\c - postgres
SET safe_ddl.usage_window = '1d';
CREATE FUNCTION pg_temp.ch_try(sql text) RETURNS text LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE m text; d text;
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL;
    d := substring(d from E'\nIt is [a-z ]*');
    RETURN m || coalesce(d, '');
END $$;
-- After the reset, nothing of ch_victim is proven unused, not even a column nobody ever used.
SELECT pg_temp.ch_try($$ALTER TABLE public.ch_victim DROP COLUMN more$$);

-- ---- 3. check() does not tell a role without privileges that a column was never used --------
SELECT hazard, verdict FROM safe_ddl.check($$ALTER TABLE public.ch_private DROP COLUMN p$$);
SET ROLE sec_attacker;
SELECT hazard, verdict FROM safe_ddl.check($$ALTER TABLE public.ch_private DROP COLUMN p$$);
RESET ROLE;

-- ---- 4. the export a primary asks its standbys with (issue 19) is not for plain roles ---------
-- It would tell when each column of any table was used; and what it says cannot be forged: a
-- primary reads it from shared memory only.
SET ROLE sec_attacker;
SELECT count(*) FROM safe_ddl._usage_export('public.ch_private'::regclass);
RESET ROLE;
-- Even with EXECUTE granted, the function itself wants pg_read_all_stats (or superuser).
GRANT EXECUTE ON FUNCTION safe_ddl._usage_export(oid) TO sec_attacker;
SET ROLE sec_attacker;
SELECT count(*) FROM safe_ddl._usage_export('public.ch_private'::regclass);
RESET ROLE;
REVOKE EXECUTE ON FUNCTION safe_ddl._usage_export(oid) FROM sec_attacker;

SET safe_ddl.allow = 'drop_table, in_use';
DROP TABLE public.ch_victim CASCADE;
DROP TABLE public.ch_private, public.ch_att_copy;
RESET safe_ddl.allow;
