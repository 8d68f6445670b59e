-- Issue 12, section 3: check() and the guard's own analysis in the hook evaluate nothing.
-- Partition bounds, defaults (also a domain's), casts, CHECK constraints and partition keys
-- written by an unprivileged role must not run when a superuser (or CI) calls check() on a
-- statement, or when the hook analyses a statement it then refuses: no sequence advanced, no
-- setting set, no function with a side effect run, no file content in any message.
\set VERBOSITY terse
SET ROLE sec_attacker;
CREATE SEQUENCE public.cne_s;
-- "Immutable" but with side effects: advances cne_s and sets cne.evil in the calling session.
CREATE FUNCTION public.cne_evil() RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    PERFORM pg_catalog.nextval('public.cne_s');
    PERFORM pg_catalog.set_config('cne.evil', 'ran as ' || current_user, false);
    RETURN 1;
END $$;
CREATE TABLE public.cne_p (a int) PARTITION BY LIST (a);
CREATE TABLE public.cne_q (a int, CHECK (a < public.cne_evil() + 100));
-- A partition key calling it (the relcache folds keys when it first builds them).
CREATE TABLE public.cne_pk (a int) PARTITION BY LIST ((a + public.cne_evil()));
CREATE TABLE public.cne_q2 (a int);
-- One row each: tables that hold no data are exempt from the scan and rewrite hazards, and the
-- statements below must be refused (the hook's analysis is what is tested, not Postgres').
INSERT INTO public.cne_q VALUES (1);
INSERT INTO public.cne_q2 VALUES (0);
-- A domain whose default calls it.
CREATE DOMAIN public.cne_d AS int DEFAULT public.cne_evil();
-- A domain whose CHECK constraint calls it: the type cache plans (constant-folds) a domain's
-- CHECK expressions the first time a backend asks whether the domain has constraints.
CREATE DOMAIN public.cne_dc AS int CHECK (VALUE > public.cne_evil() - 1000);
-- Literals read as an array or row holding that domain: their input (array_in, record_in)
-- reads the domain's values with domain_in, which evaluates its CHECK constraint.
CREATE TYPE public.cne_row AS (x public.cne_dc);
-- A cast through an inlinable SQL function calling it.
CREATE TYPE public.cne_e AS ENUM ('a', 'b');
CREATE FUNCTION public.cne_to_e(int) RETURNS public.cne_e LANGUAGE sql IMMUTABLE
    AS $$ SELECT CASE WHEN $1 + public.cne_evil() > 0 THEN 'a'::public.cne_e ELSE 'b'::public.cne_e END $$;
CREATE CAST (int AS public.cne_e) WITH FUNCTION public.cne_to_e(int) AS ASSIGNMENT;
RESET ROLE;
-- Creating those ran cne_evil (the relcache built the partition key) in this session: start
-- from a clean slate.
\c
\set VERBOSITY terse
ALTER SEQUENCE public.cne_s RESTART;
CREATE FUNCTION pg_temp.effects() RETURNS TABLE (sequence_advanced boolean, setting text)
LANGUAGE sql AS $$
    SELECT (SELECT is_called FROM public.cne_s), pg_catalog.current_setting('cne.evil', true)
$$;
SELECT * FROM pg_temp.effects();
-- The statements of the issue, and one per place an expression could be folded.
CREATE TEMP TABLE cne_statements (n int, sql text);
INSERT INTO cne_statements VALUES
 (1, $$ALTER TABLE public.cne_p ATTACH PARTITION public.cne_q FOR VALUES IN (nextval('public.cne_s')::int + length(set_config('cne.x', 'y', false)))$$),
 (2, $$ALTER TABLE public.cne_p ATTACH PARTITION public.cne_q FOR VALUES IN (pg_read_file('postgresql.auto.conf')::int)$$),
 (3, $$ALTER TABLE public.cne_p ATTACH PARTITION public.cne_q FOR VALUES IN (public.cne_evil())$$),
 (4, $$ALTER TABLE public.cne_p ATTACH PARTITION public.cne_q FOR VALUES IN (1)$$),
 (5, $$ALTER TABLE public.cne_pk ATTACH PARTITION public.cne_q2 FOR VALUES IN (1)$$),
 (6, $$ALTER TABLE public.cne_q ALTER COLUMN a SET NOT NULL$$),
 (7, $$ALTER TABLE public.cne_q ADD COLUMN b int DEFAULT public.cne_evil()$$),
 (8, $$ALTER TABLE public.cne_q ADD COLUMN c public.cne_d$$),
 (9, $$ALTER TABLE public.cne_q ADD COLUMN d int DEFAULT nextval('public.cne_s') + length(set_config('cne.x', 'y', false))$$),
 (10, $$ALTER TABLE public.cne_q ALTER COLUMN a TYPE public.cne_e$$),
 (11, $$ALTER TABLE public.cne_q ADD COLUMN e public.cne_dc$$),
 (12, $$ALTER TABLE public.cne_q ALTER COLUMN a TYPE public.cne_dc$$),
 (13, $$ALTER TABLE public.cne_q ADD COLUMN f int DEFAULT 1::public.cne_dc$$),
 (14, $$ALTER TABLE public.cne_p ATTACH PARTITION public.cne_q FOR VALUES IN (1::public.cne_dc)$$),
 (15, $$ALTER TABLE public.cne_q ADD COLUMN g public.cne_dc[] DEFAULT '{5}'$$),
 (16, $$ALTER TABLE public.cne_q ADD COLUMN h public.cne_row DEFAULT '(5)'$$),
 (17, $$ALTER TABLE public.cne_q ADD COLUMN i int DEFAULT ('{5}'::public.cne_dc[])[1]$$),
 (18, $$ALTER TABLE public.cne_p ATTACH PARTITION public.cne_q FOR VALUES IN ((('(5)'::public.cne_row).x)::int)$$);
GRANT SELECT ON cne_statements TO sec_attacker;
-- As the superuser: every statement is judged, nothing ran.
SELECT s.n, c.hazard, c.verdict, c.scans, c.rewrites
  FROM cne_statements s, LATERAL safe_ddl.check(s.sql) c ORDER BY s.n, c.hazard;
SELECT * FROM pg_temp.effects();
SELECT pg_catalog.current_setting('cne.x', true) AS cne_x;
-- The DETAIL of an ATTACH whose bound is not a constant says why it is assumed to scan.
\set VERBOSITY default
ALTER TABLE public.cne_p ATTACH PARTITION public.cne_q FOR VALUES IN (nextval('public.cne_s')::int + length(set_config('cne.x', 'y', false)));
-- The file is never read: no content of it in any message (checked, then refused by the hook).
ALTER TABLE public.cne_p ATTACH PARTITION public.cne_q FOR VALUES IN (pg_read_file('postgresql.auto.conf')::int);
\set VERBOSITY terse
-- Refused by the hook: nothing ran before the refusal either.
ALTER TABLE public.cne_p ATTACH PARTITION public.cne_q FOR VALUES IN (public.cne_evil());
ALTER TABLE public.cne_pk ATTACH PARTITION public.cne_q2 FOR VALUES IN (1);
ALTER TABLE public.cne_q ALTER COLUMN a TYPE public.cne_e;
ALTER TABLE public.cne_q ADD COLUMN e public.cne_dc;
ALTER TABLE public.cne_q ALTER COLUMN a TYPE public.cne_dc;
ALTER TABLE public.cne_p ATTACH PARTITION public.cne_q FOR VALUES IN (1::public.cne_dc);
ALTER TABLE public.cne_q ADD COLUMN g public.cne_dc[] DEFAULT '{5}';
ALTER TABLE public.cne_q ADD COLUMN h public.cne_row DEFAULT '(5)';
SELECT * FROM pg_temp.effects();
SELECT pg_catalog.current_setting('cne.x', true) AS cne_x;
SELECT pg_catalog.count(*) AS partitions FROM pg_catalog.pg_inherits
 WHERE inhparent IN ('public.cne_p'::regclass, 'public.cne_pk'::regclass);
-- As the attacker, the same: check() runs none of it either.
SET ROLE sec_attacker;
SELECT s.n, c.hazard, c.verdict
  FROM cne_statements s, LATERAL safe_ddl.check(s.sql) c WHERE s.n IN (1, 3, 5, 7, 8, 10, 11, 14, 15, 16, 18) ORDER BY s.n, c.hazard;
SELECT * FROM pg_temp.effects();
RESET ROLE;
-- Legitimate use still works: constant bounds, and built-in immutable expressions folded, are
-- proven by a matching CHECK constraint, so the ATTACH is not a hazard.
CREATE TABLE public.cne_ok_p (a int) PARTITION BY LIST (a);
CREATE TABLE public.cne_ok_q (a int NOT NULL CHECK (a IN (1, 2)));
CREATE TABLE public.cne_ok_r (a varchar(10)) PARTITION BY RANGE (a);
CREATE TABLE public.cne_ok_s (a varchar(10) CHECK (a IS NOT NULL AND a >= 'a' AND a < 'm'));
INSERT INTO public.cne_ok_s VALUES ('b');
SELECT hazard, verdict FROM safe_ddl.check($$ALTER TABLE public.cne_ok_p ATTACH PARTITION public.cne_ok_q FOR VALUES IN (1, 1 + 1)$$);
SELECT hazard, verdict FROM safe_ddl.check($$ALTER TABLE public.cne_ok_r ATTACH PARTITION public.cne_ok_s FOR VALUES FROM ('a') TO ('m')$$);
ALTER TABLE public.cne_ok_p ATTACH PARTITION public.cne_ok_q FOR VALUES IN (1, 1 + 1);
-- A volatile built-in default still makes ADD COLUMN a rewrite; an immutable built-in does not.
SELECT hazard, verdict, rewrites FROM safe_ddl.check($$ALTER TABLE public.cne_ok_s ADD COLUMN b timestamptz DEFAULT clock_timestamp()$$);
SELECT hazard, verdict, rewrites FROM safe_ddl.check($$ALTER TABLE public.cne_ok_s ADD COLUMN b int DEFAULT 1 + abs(-2)$$);
-- A literal whose type holds no such domain is read as before, even while that domain exists.
SELECT hazard, verdict, rewrites FROM safe_ddl.check($$ALTER TABLE public.cne_ok_s ADD COLUMN c text DEFAULT 'x'$$);
SELECT hazard, verdict, rewrites FROM safe_ddl.check($$ALTER TABLE public.cne_ok_s ADD COLUMN c int[] DEFAULT '{1,2}'$$);
SELECT hazard, verdict, rewrites FROM safe_ddl.check($$ALTER TABLE public.cne_ok_s ADD COLUMN c interval DEFAULT '1 day'::interval * 2$$);
SELECT * FROM pg_temp.effects();
-- Clean up (the guard would refuse dropping tables it saw used just now).
SET safe_ddl.allow = 'all, in_use';
DROP TABLE public.cne_ok_p, public.cne_ok_r, public.cne_ok_s;
DROP TABLE public.cne_p, public.cne_q, public.cne_pk, public.cne_q2;
DROP CAST (int AS public.cne_e);
DROP FUNCTION public.cne_to_e(int);
DROP TYPE public.cne_e;
DROP DOMAIN public.cne_d;
DROP TYPE public.cne_row;
DROP DOMAIN public.cne_dc;
DROP FUNCTION public.cne_evil();
DROP SEQUENCE public.cne_s;
