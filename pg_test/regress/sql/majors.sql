-- What differs by PostgreSQL major (src/pg_version.rs), checked on the live server. On 15 the
-- newer syntax is a syntax error; 17's and 18's expected outputs are majors_1.out and majors_2.out.
-- 17: SET EXPRESSION. 18: virtual generated columns (the default kind), NOT NULL constraints
-- that can be added NOT VALID and validated later (the not_null_scan recipe and set_not_null).
CREATE TABLE mj (id int PRIMARY KEY, v int, w int GENERATED ALWAYS AS (v * 2) STORED);
INSERT INTO mj (id, v) SELECT g, g FROM generate_series(1, 2000) g;
SELECT pg_relation_filenode('mj') AS f0 \gset
-- 17+: SET EXPRESSION of a stored generated column computes every row again: refused ...
ALTER TABLE mj ALTER COLUMN w SET EXPRESSION AS (v * 3);
SELECT hazard, verdict, rewrites FROM safe_ddl.check($$ALTER TABLE mj ALTER COLUMN w SET EXPRESSION AS (v * 3)$$);
-- ... and allowed: the table was rewritten, the values are the new expression's.
BEGIN;
SET LOCAL safe_ddl.allow = 'table_rewrite';
ALTER TABLE mj ALTER COLUMN w SET EXPRESSION AS (v * 3);
COMMIT;
SELECT pg_relation_filenode('mj') <> :f0 AS rewritten, (SELECT w FROM mj WHERE id = 2) AS w;
SELECT pg_relation_filenode('mj') AS f1 \gset
-- 18: a virtual generated column (the default kind) stores nothing: no rewrite, not refused.
ALTER TABLE mj ADD COLUMN x int GENERATED ALWAYS AS (v + 1);
ALTER TABLE mj ADD COLUMN y int GENERATED ALWAYS AS (v + 1) VIRTUAL;
ALTER TABLE mj ALTER COLUMN y SET EXPRESSION AS (v + 2);
SELECT pg_relation_filenode('mj') = :f1 AS not_rewritten;
-- A stored one is still refused.
ALTER TABLE mj ADD COLUMN z int GENERATED ALWAYS AS (v + 1) STORED;
-- 18: ADD CONSTRAINT ... NOT NULL is SET NOT NULL under another name: the same scan under
-- ACCESS EXCLUSIVE, refused.
ALTER TABLE mj ADD CONSTRAINT mj_v_not_null NOT NULL v;
-- The HINT's recipe: NOT VALID (no scan) ...
BEGIN;
ALTER TABLE mj ADD CONSTRAINT mj_v_not_null NOT NULL v NOT VALID;
SELECT mode FROM pg_locks WHERE relation = 'mj'::regclass AND pid = pg_backend_pid() ORDER BY 1;
COMMIT;
-- ... which sets attnotnull but proves nothing: SET NOT NULL would still scan (refused) ...
SELECT attnotnull FROM pg_attribute WHERE attrelid = 'mj'::regclass AND attname = 'v';
ALTER TABLE mj ALTER COLUMN v SET NOT NULL;
-- ... then VALIDATE, a scan under SHARE UPDATE EXCLUSIVE only.
BEGIN;
ALTER TABLE mj VALIDATE CONSTRAINT mj_v_not_null;
SELECT mode FROM pg_locks WHERE relation = 'mj'::regclass AND pid = pg_backend_pid() ORDER BY 1;
COMMIT;
SELECT conname, convalidated FROM pg_constraint WHERE conrelid = 'mj'::regclass AND contype = 'n' ORDER BY 1;
SELECT pg_relation_filenode('mj') = :f1 AS not_rewritten;
-- Validated, it proves the column: SET NOT NULL is not refused.
ALTER TABLE mj ALTER COLUMN v SET NOT NULL;
-- The override of the validating ADD CONSTRAINT ... NOT NULL.
CREATE TABLE mj2 (id int, v int);
INSERT INTO mj2 SELECT g, g FROM generate_series(1, 2000) g;
BEGIN;
SET LOCAL safe_ddl.allow = 'not_null_scan';
ALTER TABLE mj2 ADD CONSTRAINT mj2_v_nn NOT NULL v;
COMMIT;
SELECT conname, convalidated FROM pg_constraint WHERE conrelid = 'mj2'::regclass ORDER BY 1;
-- set_not_null on this major: a validated CHECK then SET NOT NULL (15, 17), the NOT NULL
-- constraint itself NOT VALID then validated (18).
CREATE TABLE mj3 (id int, v int);
INSERT INTO mj3 SELECT g, g FROM generate_series(1, 2000) g;
CALL safe_ddl.set_not_null('mj3', 'v');
SELECT attnotnull FROM pg_attribute WHERE attrelid = 'mj3'::regclass AND attname = 'v';
SELECT conname, contype, convalidated FROM pg_constraint WHERE conrelid = 'mj3'::regclass ORDER BY 1;
SET safe_ddl.allow = 'drop_table';
DROP TABLE mj, mj2, mj3;
RESET safe_ddl.allow;
-- 18: the type of a virtual generated column changes without a rewrite: not refused.
CREATE TABLE mj4 (id int PRIMARY KEY, v int GENERATED ALWAYS AS (id * 2) VIRTUAL);
INSERT INTO mj4 (id) SELECT g FROM generate_series(1, 2000) g;
SELECT pg_relation_filenode('mj4') AS f4 \gset
ALTER TABLE mj4 ALTER COLUMN v TYPE bigint;
SELECT pg_relation_filenode('mj4') = :f4 AS not_rewritten;
-- 18: ALTER CONSTRAINT ... ENFORCED of a NOT ENFORCED foreign key validates it under ACCESS
-- EXCLUSIVE: refused; the HINT's recipe (NOT VALID, then VALIDATE) runs as pasted.
CREATE TABLE mj5 (id int PRIMARY KEY, ref int);
INSERT INTO mj5 SELECT g, g FROM generate_series(1, 2000) g;
ALTER TABLE mj5 ADD CONSTRAINT mj5_ref_fk FOREIGN KEY (ref) REFERENCES mj4 (id) NOT ENFORCED;
ALTER TABLE mj5 ALTER CONSTRAINT mj5_ref_fk ENFORCED;
SELECT hazard, verdict, lock_mode, scans FROM safe_ddl.check($$ALTER TABLE mj5 ALTER CONSTRAINT mj5_ref_fk ENFORCED$$);
BEGIN;
ALTER TABLE public.mj5 DROP CONSTRAINT mj5_ref_fk;
ALTER TABLE public.mj5 ADD CONSTRAINT mj5_ref_fk FOREIGN KEY (ref) REFERENCES mj4(id) NOT VALID;
COMMIT;
ALTER TABLE public.mj5 VALIDATE CONSTRAINT mj5_ref_fk;
SELECT conname, convalidated FROM pg_constraint WHERE conname = 'mj5_ref_fk';
-- The override.
ALTER TABLE mj5 ADD CONSTRAINT mj5_ref_fk2 FOREIGN KEY (ref) REFERENCES mj4 (id) NOT ENFORCED;
BEGIN;
SET LOCAL safe_ddl.allow = 'constraint_validation';
ALTER TABLE mj5 ALTER CONSTRAINT mj5_ref_fk2 ENFORCED;
COMMIT;
SELECT conname, convalidated FROM pg_constraint WHERE conname = 'mj5_ref_fk2';
-- 18: a WITHOUT OVERLAPS key builds a GiST index under ACCESS EXCLUSIVE; USING INDEX takes only
-- btree indexes, so the HINT offers no concurrent build.
CREATE TABLE mj6 (room int4range, during tstzrange);
INSERT INTO mj6 SELECT int4range(g, g + 1), tstzrange('2026-01-01', '2026-01-02') FROM generate_series(1, 2000) g;
ALTER TABLE mj6 ADD CONSTRAINT mj6_key UNIQUE (room, during WITHOUT OVERLAPS);
SET safe_ddl.allow = 'drop_table';
DROP TABLE mj4, mj5, mj6 CASCADE;
RESET safe_ddl.allow;
-- 17+: SET ACCESS METHOD DEFAULT rewrites only when the table's access method is not the default.
CREATE TABLE mj7 (id int);
INSERT INTO mj7 SELECT g FROM generate_series(1, 2000) g;
SELECT pg_relation_filenode('mj7') AS f7 \gset
ALTER TABLE mj7 SET ACCESS METHOD DEFAULT;
SELECT pg_relation_filenode('mj7') = :f7 AS not_rewritten;
CREATE ACCESS METHOD heap2 TYPE TABLE HANDLER heap_tableam_handler;
SET default_table_access_method = heap2;
ALTER TABLE mj7 SET ACCESS METHOD DEFAULT;
BEGIN;
SET LOCAL safe_ddl.allow = 'table_rewrite';
ALTER TABLE mj7 SET ACCESS METHOD DEFAULT;
COMMIT;
SELECT pg_relation_filenode('mj7') <> :f7 AS rewritten, amname FROM pg_class c JOIN pg_am a ON a.oid = c.relam WHERE c.oid = 'mj7'::regclass;
RESET default_table_access_method;
SET safe_ddl.allow = 'drop_table';
DROP TABLE mj7;
RESET safe_ddl.allow;
DROP ACCESS METHOD heap2;
-- 18: ALTER CONSTRAINT ... INHERIT of a NO INHERIT not-null constraint sets NOT NULL on every
-- child (Postgres' DEBUG1: verifying table), each under ACCESS EXCLUSIVE: not_null_scan per child.
CREATE TABLE mj_par (id int, CONSTRAINT mj_par_id_nn NOT NULL id NO INHERIT);
CREATE TABLE mj_chi (id int) INHERITS (mj_par);
INSERT INTO mj_chi SELECT generate_series(1, 2000);
ALTER TABLE mj_par ALTER CONSTRAINT mj_par_id_nn INHERIT;
-- The recipe on the child, then the statement scans nothing.
ALTER TABLE public.mj_chi ADD CONSTRAINT mj_chi_id_not_null NOT NULL id NOT VALID;
ALTER TABLE public.mj_chi VALIDATE CONSTRAINT mj_chi_id_not_null;
ALTER TABLE mj_par ALTER CONSTRAINT mj_par_id_nn INHERIT;
SELECT conname, conislocal, coninhcount FROM pg_constraint WHERE conrelid = 'mj_chi'::regclass AND contype = 'n';
SET safe_ddl.allow = 'drop_table';
DROP TABLE mj_chi, mj_par;
RESET safe_ddl.allow;
