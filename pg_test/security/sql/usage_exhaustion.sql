-- Issue 12, section 5: usage tracking cannot be exhausted to disable in_use.
-- Here, on the shared test cluster: temporary tables take no slots (the attack of the issue, 31
-- temporary tables of 1,600 columns, now records nothing), and the slots of dropped tables and
-- columns are freed when the DROP commits (not when it is rolled back). What happens when the
-- table does overflow is shown by pg_test/usage_overflow.sh on a cluster of its own with a tiny
-- safe_ddl.usage_max_entries (overflowing this cluster would make the suites after it
-- conservative for a whole safe_ddl.usage_window).
\set VERBOSITY terse
CREATE FUNCTION pg_temp.slots() RETURNS bigint LANGUAGE sql
    AS $$ SELECT slots_used FROM safe_ddl.usage_tracking() $$;
CREATE FUNCTION pg_temp.dropped() RETURNS bigint LANGUAGE sql
    AS $$ SELECT uses_dropped FROM safe_ddl.usage_tracking() $$;
SELECT tracking, slots > 0 AS has_slots, overflow_since IS NULL AS never_overflowed
  FROM safe_ddl.usage_tracking();
-- The view's own first read of pg_attribute takes slots: done before counting.
SELECT pg_catalog.count(*) >= 0 AS warm FROM safe_ddl.column_usage;
SELECT pg_temp.slots() AS slots_before \gset
SELECT pg_temp.dropped() AS dropped_before \gset
-- The attack: as an unprivileged role, 31 temporary tables of 1,600 columns, each read in full.
SET ROLE sec_attacker;
DO $$
DECLARE
    cols text := (SELECT pg_catalog.string_agg(pg_catalog.format('c%s int', i), ', ')
                    FROM pg_catalog.generate_series(1, 1600) i);
BEGIN
    FOR t IN 1..31 LOOP
        EXECUTE pg_catalog.format('CREATE TEMP TABLE ue_fill_%s (%s)', t, cols);
        EXECUTE pg_catalog.format('INSERT INTO ue_fill_%s (c1) VALUES (1)', t);
    END LOOP;
END $$;
DO $$
BEGIN
    FOR t IN 1..31 LOOP
        EXECUTE pg_catalog.format('SELECT * FROM ue_fill_%s', t);
    END LOOP;
END $$;
RESET ROLE;
-- Nothing recorded, nothing dropped.
SELECT pg_temp.slots() - :slots_before AS slots_taken, pg_temp.dropped() - :dropped_before AS uses_dropped;
SELECT pg_catalog.count(*) AS temp_rows_in_column_usage FROM safe_ddl.column_usage
 WHERE relation::text LIKE '%ue_fill%';
SELECT pg_temp.slots() AS slots_before \gset
-- A permanent table takes a slot for itself and one per column used ...
CREATE TABLE public.ue_t (a int, b int, c int);
SELECT * FROM public.ue_t;
SELECT pg_temp.slots() - :slots_before AS slots_taken;
-- ... kept when the DROP is rolled back, also in a savepoint ...
SET safe_ddl.allow = 'drop_table, drop_column, in_use';
BEGIN;
DROP TABLE public.ue_t;
ROLLBACK;
BEGIN;
SAVEPOINT s;
DROP TABLE public.ue_t;
ROLLBACK TO SAVEPOINT s;
COMMIT;
SELECT pg_temp.slots() - :slots_before AS slots_taken;
-- ... freed when a column drop commits ...
ALTER TABLE public.ue_t DROP COLUMN b;
SELECT pg_temp.slots() - :slots_before AS slots_taken;
-- ... and when the table's drop commits, also from a released savepoint.
BEGIN;
SAVEPOINT s;
DROP TABLE public.ue_t;
RELEASE SAVEPOINT s;
COMMIT;
SELECT pg_temp.slots() - :slots_before AS slots_taken;
-- Freed slots are reused: ten rounds of creating a table of 100 columns, reading it and
-- dropping it (each statement its own transaction) leave the count where it was, where they
-- took 1,010 slots for good before.
SELECT v.sql FROM pg_catalog.generate_series(1, 10) r,
  LATERAL (VALUES
    (1, 'CREATE TABLE public.ue_round (' || (SELECT pg_catalog.string_agg(pg_catalog.format('c%s int', i), ', ')
                                              FROM pg_catalog.generate_series(1, 100) i) || ')'),
    (2, 'SELECT pg_catalog.count(*) FROM (SELECT * FROM public.ue_round) x'),
    (3, 'DROP TABLE public.ue_round')) v(k, sql)
 ORDER BY r, v.k \gexec
SELECT pg_temp.slots() - :slots_before AS slots_taken, pg_temp.dropped() - :dropped_before AS uses_dropped;
RESET safe_ddl.allow;
