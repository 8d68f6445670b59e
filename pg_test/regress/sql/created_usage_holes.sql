-- Objects created while usage tracking ran are "never used" only if no client can depend on them
-- (issue 13, point 2; adversarial review). Each case here is a use the usage record cannot see,
-- or a drop that takes other, used objects with it: each must still need an allow.
SET safe_ddl.usage_window = '1d';
CREATE FUNCTION ch_try(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE m text;
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS m = MESSAGE_TEXT;
    RETURN m;
END $$;

-- COPY and TRUNCATE name a table with its database too: still recorded.
CREATE TABLE ch_copy (a int, b int);
CREATE TABLE ch_trunc (a int);
\c
SELECT format('COPY %I.public.ch_copy (b) TO STDOUT', current_database()) \gexec
SELECT format('TRUNCATE %I.public.ch_trunc', current_database()) \gexec
\c
SET safe_ddl.usage_window = '1d';
SELECT ch_try($$ALTER TABLE ch_copy DROP COLUMN b$$);
SELECT ch_try($$DROP TABLE ch_trunc$$);
-- a is not named by the COPY: its drop needs nothing
SELECT ch_try($$ALTER TABLE ch_copy DROP COLUMN a$$);

-- A generated column that clients read is computed from b: DROP COLUMN b CASCADE (as Django
-- writes it) drops g too.
CREATE TABLE ch_gen (a int, b int, g int GENERATED ALWAYS AS (b * 2) STORED);
\c
SELECT g FROM ch_gen;
\c
SET safe_ddl.usage_window = '1d';
SELECT ch_try($$ALTER TABLE ch_gen DROP COLUMN b CASCADE$$);
SELECT attname FROM pg_attribute
 WHERE attrelid = 'ch_gen'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum;

-- A trigger function sets c on every insert: the client never names c, the trigger does (by
-- name, in its body, which the usage record cannot see). Dropping c breaks every INSERT.
CREATE TABLE ch_trg (a int, c int);
CREATE FUNCTION ch_trg_f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.c := 1; RETURN NEW; END $$;
CREATE TRIGGER ch_trg_t BEFORE INSERT ON ch_trg FOR EACH ROW EXECUTE FUNCTION ch_trg_f();
\c
INSERT INTO ch_trg (a) VALUES (1);
\c
SET safe_ddl.usage_window = '1d';
SELECT ch_try($$ALTER TABLE ch_trg DROP COLUMN c$$);
SELECT ch_try($$ALTER TABLE ch_trg RENAME COLUMN c TO c2$$);
INSERT INTO ch_trg (a) VALUES (2);

-- A unique index on (a, b): dropping b drops it silently (no CASCADE needed), and the
-- uniqueness and index lookups on a that clients rely on are gone.
CREATE TABLE ch_ix (a int, b int);
CREATE UNIQUE INDEX ch_ix_ab ON ch_ix (a, b);
\c
SELECT a FROM ch_ix WHERE a = 1;
\c
SET safe_ddl.usage_window = '1d';
SELECT ch_try($$ALTER TABLE ch_ix DROP COLUMN b$$);
SELECT count(*) FROM pg_index WHERE indrelid = 'ch_ix'::regclass;
-- an index and a CHECK on b alone serve only b: dropping b with them needs nothing
CREATE TABLE ch_ix1 (a int, b int CHECK (b > 0));
CREATE INDEX ON ch_ix1 (b);
SELECT ch_try($$ALTER TABLE ch_ix1 DROP COLUMN b$$);

-- Another table's default uses this table's serial: DROP TABLE ... CASCADE removes it.
CREATE TABLE ch_s (id serial, x int);
CREATE TABLE ch_u (id int DEFAULT nextval('ch_s_id_seq'), x int);
\c
INSERT INTO ch_u (x) VALUES (1);
\c
SET safe_ddl.usage_window = '1d';
SELECT ch_try($$DROP TABLE ch_s CASCADE$$);
SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef WHERE adrelid = 'ch_u'::regclass;

-- A used table's foreign key references k: DROP COLUMN k CASCADE drops the constraint.
CREATE TABLE ch_pk (id int PRIMARY KEY, k int UNIQUE);
CREATE TABLE ch_fk (id int, k int REFERENCES ch_pk (k));
\c
SELECT id FROM ch_fk;
\c
SET safe_ddl.usage_window = '1d';
SELECT ch_try($$ALTER TABLE ch_pk DROP COLUMN k CASCADE$$);
SELECT ch_try($$DROP TABLE ch_pk CASCADE$$);
SELECT count(*) FROM pg_constraint WHERE conrelid = 'ch_fk'::regclass AND contype = 'f';
-- the referencing column itself: its foreign key serves only it
SELECT ch_try($$ALTER TABLE ch_fk DROP COLUMN k$$);

-- A function body that names the column (BEGIN ATOMIC: a dependency): CASCADE would drop it.
CREATE TABLE ch_f (a int, b int);
CREATE FUNCTION ch_ff() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT max(b) FROM ch_f; END;
SELECT ch_try($$ALTER TABLE ch_f DROP COLUMN b CASCADE$$);
SELECT ch_try($$DROP TABLE ch_f CASCADE$$);
SELECT ch_ff();

-- Still never used: a table of its own with nothing around it, dropped with CASCADE.
CREATE TABLE ch_plain (id int PRIMARY KEY, b int REFERENCES ch_pk (id));
SELECT ch_try($$ALTER TABLE ch_plain DROP COLUMN b CASCADE$$);
SELECT ch_try($$DROP TABLE ch_plain CASCADE$$);

-- Rows of an inheritance child (or partition) counted through the parent: Postgres checks no
-- permission on the child and the query names none of its columns, but its rows are read.
-- Once it leaves the tree (NO INHERIT, DETACH), dropping it drops data clients read.
CREATE TABLE ch_i (a int);
CREATE TABLE ch_i1 () INHERITS (ch_i);
CREATE TABLE ch_p (a int) PARTITION BY RANGE (a);
CREATE TABLE ch_p1 PARTITION OF ch_p FOR VALUES FROM (0) TO (10);
\c
SELECT count(*) FROM ch_i;
DELETE FROM ch_p;
\c
SET safe_ddl.usage_window = '1d';
ALTER TABLE ch_i1 NO INHERIT ch_i;
SELECT ch_try($$DROP TABLE ch_i1$$);
BEGIN;
SET LOCAL safe_ddl.allow = 'partition_detach';
ALTER TABLE ch_p DETACH PARTITION ch_p1;
COMMIT;
SELECT ch_try($$DROP TABLE ch_p1$$);

-- Rows routed into a partition by INSERT through the parent: the partition is in no range table,
-- so its own record says nobody wrote it. DETACH ... CONCURRENTLY needs no allow; dropping the
-- detached partition must still need one (the detach records the parent's clients' use of it).
CREATE TABLE ch_r (a int) PARTITION BY RANGE (a);
CREATE TABLE ch_r1 PARTITION OF ch_r FOR VALUES FROM (0) TO (10);
CREATE TABLE ch_r2 PARTITION OF ch_r FOR VALUES FROM (10) TO (20);
\c
INSERT INTO ch_r VALUES (1), (11);
\c
SET safe_ddl.usage_window = '1d';
ALTER TABLE ch_r DETACH PARTITION ch_r1 CONCURRENTLY;
SELECT ch_try($$DROP TABLE ch_r1$$);
SELECT ch_try($$ALTER TABLE ch_r1 DROP COLUMN a$$);
-- in one transaction with the drop (the detach's record is not this transaction's own use)
BEGIN;
SET LOCAL safe_ddl.allow = 'partition_detach';
ALTER TABLE ch_r DETACH PARTITION ch_r2;
SELECT ch_try($$DROP TABLE ch_r2$$);
COMMIT;
-- the detach cannot tell whether anyone wrote it: a detached partition is judged as before issue 13
CREATE TABLE ch_r3 PARTITION OF ch_r FOR VALUES FROM (20) TO (30);
ALTER TABLE ch_r DETACH PARTITION ch_r3 CONCURRENTLY;
SELECT ch_try($$DROP TABLE ch_r3$$);

-- A table that belongs to an extension: the extension's functions and upgrade scripts name its
-- columns, which no usage record sees.
CREATE TABLE ch_ext (a int, b int);
ALTER EXTENSION safe_ddl ADD TABLE ch_ext;
SELECT ch_try($$ALTER TABLE ch_ext DROP COLUMN b$$);
ALTER EXTENSION safe_ddl DROP TABLE ch_ext;
SELECT ch_try($$ALTER TABLE ch_ext DROP COLUMN b$$);

-- A published table: its subscribers read every column, far from this server's usage record.
SET client_min_messages = error;  -- wal_level may be too low to publish: not the point here
CREATE TABLE ch_pub (a int, b int);
CREATE PUBLICATION ch_pub_p FOR TABLE ch_pub;
SELECT ch_try($$ALTER TABLE ch_pub DROP COLUMN b$$);
SELECT ch_try($$ALTER TABLE ch_pub RENAME COLUMN b TO b2$$);
DROP PUBLICATION ch_pub_p;
CREATE TABLE ch_pub_all (a int, b int);
CREATE PUBLICATION ch_pub_all_p FOR ALL TABLES;
SELECT ch_try($$ALTER TABLE ch_pub_all DROP COLUMN b$$);
DROP PUBLICATION ch_pub_all_p;
RESET client_min_messages;
SELECT ch_try($$ALTER TABLE ch_pub DROP COLUMN b$$);
