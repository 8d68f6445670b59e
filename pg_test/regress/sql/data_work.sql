-- Statements outside ALTER TABLE whose work grows with the data (issue 16's coverage audit,
-- docs/hazards/coverage.md): each refused with its recipe, the recipe run, and the override.
-- Locks read from pg_locks, rewrites from pg_relation_filenode.
CREATE TABLE dw_orders (id int PRIMARY KEY, amount int);
INSERT INTO dw_orders SELECT g, g % 100 FROM generate_series(1, 2000) g;

-- REFRESH MATERIALIZED VIEW without CONCURRENTLY: ACCESS EXCLUSIVE while the query runs again.
CREATE MATERIALIZED VIEW dw_totals AS SELECT amount, count(*) AS n FROM dw_orders GROUP BY amount;
REFRESH MATERIALIZED VIEW dw_totals;
SELECT hazard, verdict, lock_mode, relation, rewrites FROM safe_ddl.check('REFRESH MATERIALIZED VIEW dw_totals');
-- A view of one small page over a big table: the work is the table's.
SET safe_ddl.min_table_size = '32kB';
CREATE MATERIALIZED VIEW dw_count AS SELECT count(*) AS n FROM dw_orders;
REFRESH MATERIALIZED VIEW dw_count;
RESET safe_ddl.min_table_size;
-- WITH NO DATA empties it (nothing to compute): allowed; an unpopulated view has no readers.
REFRESH MATERIALIZED VIEW dw_count WITH NO DATA;
REFRESH MATERIALIZED VIEW dw_count;
SELECT n FROM dw_count;
-- The recipe, as the HINT gives it: the unique index concurrently, then CONCURRENTLY (EXCLUSIVE:
-- readers go on).
CREATE UNIQUE INDEX CONCURRENTLY dw_totals_refresh_key ON public.dw_totals (amount, n);
BEGIN;
REFRESH MATERIALIZED VIEW CONCURRENTLY public.dw_totals;
SELECT mode FROM pg_locks WHERE relation = 'dw_totals'::regclass AND pid = pg_backend_pid() ORDER BY 1;
COMMIT;
-- With a usable unique index, the HINT is the REFRESH ... CONCURRENTLY alone.
REFRESH MATERIALIZED VIEW dw_totals;
-- Override: ACCESS EXCLUSIVE, a new file.
SELECT pg_relation_filenode('dw_totals') AS f0 \gset
BEGIN;
SET LOCAL safe_ddl.allow = 'table_rewrite';
REFRESH MATERIALIZED VIEW dw_totals;
SELECT mode FROM pg_locks WHERE relation = 'dw_totals'::regclass AND pid = pg_backend_pid() AND mode = 'AccessExclusiveLock';
COMMIT;
SELECT pg_relation_filenode('dw_totals') <> :f0 AS rewritten;
-- Created in this transaction: nobody else can read it.
BEGIN;
CREATE MATERIALIZED VIEW dw_new AS SELECT * FROM dw_orders;
REFRESH MATERIALIZED VIEW dw_new;
ROLLBACK;

-- ALTER DOMAIN: a validated CHECK, SET NOT NULL and VALIDATE read every stored value under a
-- SHARE lock on each table with a column of the domain (writes wait).
CREATE DOMAIN dw_amount AS int;
CREATE DOMAIN dw_small AS dw_amount;
CREATE TABLE dw_pay (id int, a dw_small);
INSERT INTO dw_pay SELECT g, g FROM generate_series(1, 2000) g;
CREATE TABLE dw_tiny (a dw_amount);
ALTER DOMAIN dw_amount ADD CHECK (VALUE > 0);
SELECT hazard, verdict, lock_mode, relation, scans FROM safe_ddl.check('ALTER DOMAIN dw_amount ADD CHECK (VALUE > 0)');
ALTER DOMAIN dw_amount SET NOT NULL;
-- The recipes, as the HINTs give them: NOT VALID locks no table and checks new values at once.
BEGIN;
ALTER DOMAIN public.dw_amount ADD CONSTRAINT dw_amount_check CHECK (VALUE > 0) NOT VALID;
SELECT count(*) AS table_locks FROM pg_locks WHERE relation IN ('dw_pay'::regclass, 'dw_tiny'::regclass) AND pid = pg_backend_pid();
COMMIT;
ALTER DOMAIN public.dw_amount ADD CONSTRAINT dw_amount_not_null CHECK (VALUE IS NOT NULL) NOT VALID;
INSERT INTO dw_pay VALUES (0, 0);
INSERT INTO dw_pay VALUES (0, NULL);
-- VALIDATE reads every row again under SHARE: refused too.
ALTER DOMAIN dw_amount VALIDATE CONSTRAINT dw_amount_check;
-- Override: the scan under SHARE on the domain's tables (the sub-domain's too).
BEGIN;
SET LOCAL safe_ddl.allow = 'constraint_validation';
ALTER DOMAIN dw_amount VALIDATE CONSTRAINT dw_amount_check;
SELECT relation::regclass, mode FROM pg_locks WHERE relation IN ('dw_pay'::regclass, 'dw_tiny'::regclass) AND pid = pg_backend_pid() ORDER BY 1, 2;
COMMIT;
-- NOT VALID, DROP NOT NULL, SET DEFAULT, DROP CONSTRAINT: no scan, not refused.
ALTER DOMAIN dw_amount ADD CONSTRAINT dw_lt CHECK (VALUE < 100000) NOT VALID;
ALTER DOMAIN dw_amount SET DEFAULT 1;
ALTER DOMAIN dw_amount DROP CONSTRAINT dw_lt;
-- No big table uses it: allowed.
CREATE DOMAIN dw_unused AS int;
ALTER DOMAIN dw_unused SET NOT NULL;
-- A name Postgres cannot resolve: Postgres' own error.
ALTER DOMAIN dw_nosuch SET NOT NULL;
ALTER DOMAIN dw_orders SET NOT NULL;

-- ALTER TYPE ... ALTER ATTRIBUTE ... TYPE ... CASCADE rewrites every typed table.
CREATE TYPE dw_point AS (x int, y int);
CREATE TABLE dw_points OF dw_point;
INSERT INTO dw_points SELECT g, g FROM generate_series(1, 2000) g;
-- Without CASCADE Postgres refuses by itself, with its own error.
ALTER TYPE dw_point ALTER ATTRIBUTE x TYPE bigint;
ALTER TYPE dw_point ALTER ATTRIBUTE x TYPE bigint CASCADE;
-- Binary coercible: nothing rewritten, not refused.
ALTER TYPE dw_point ALTER ATTRIBUTE y TYPE int CASCADE;
-- The recipe: detach the table from the type (no rewrite), change the type alone.
SELECT pg_relation_filenode('dw_points') AS f1 \gset
ALTER TABLE public.dw_points NOT OF;
ALTER TYPE dw_point ALTER ATTRIBUTE x TYPE bigint;
-- The table keeps its integer column, to change with expand/contract like any table's.
SELECT pg_relation_filenode('dw_points') = :f1 AS not_rewritten, format_type(atttypid, atttypmod) AS x_type
FROM pg_attribute WHERE attrelid = 'dw_points'::regclass AND attname = 'x';
-- Override, on a second typed table: rewritten.
CREATE TABLE dw_points2 OF dw_point;
INSERT INTO dw_points2 SELECT g, g FROM generate_series(1, 2000) g;
SELECT pg_relation_filenode('dw_points2') AS f2 \gset
BEGIN;
SET LOCAL safe_ddl.allow = 'table_rewrite';
ALTER TYPE dw_point ALTER ATTRIBUTE y TYPE bigint CASCADE;
COMMIT;
SELECT pg_relation_filenode('dw_points2') <> :f2 AS rewritten;

-- ADD PRIMARY KEY makes its columns NOT NULL: on a nullable column, the SET NOT NULL scan under
-- ACCESS EXCLUSIVE, with or without USING INDEX (not_null_scan).
CREATE TABLE dw_keyed (id int, v int);
INSERT INTO dw_keyed SELECT g, g FROM generate_series(1, 2000) g;
CREATE UNIQUE INDEX CONCURRENTLY dw_keyed_id ON dw_keyed (id);
ALTER TABLE dw_keyed ADD PRIMARY KEY USING INDEX dw_keyed_id;
SELECT hazard, verdict, lock_mode, relation, scans FROM safe_ddl.check('ALTER TABLE dw_keyed ADD CONSTRAINT dw_keyed_pkey PRIMARY KEY USING INDEX dw_keyed_id');
-- Without USING INDEX: the build and the scan.
SELECT hazard, verdict FROM safe_ddl.check('ALTER TABLE dw_keyed ADD PRIMARY KEY (id)') ORDER BY 1;
-- The recipe (safe_ddl.set_not_null does the same steps), then the key scans nothing.
CALL safe_ddl.set_not_null('dw_keyed', 'id');
ALTER TABLE dw_keyed ADD PRIMARY KEY USING INDEX dw_keyed_id;
SELECT conname, contype FROM pg_constraint WHERE conrelid = 'dw_keyed'::regclass AND contype = 'p';
-- A key column added in the same statement has no NULL to look for (the index build remains).
SELECT hazard, verdict FROM safe_ddl.check('ALTER TABLE dw_keyed DROP CONSTRAINT dw_keyed_pkey, ADD COLUMN k int, ADD PRIMARY KEY (k)') ORDER BY 1;

-- ATTACH PARTITION builds each index of the parent the partition has no match for, and
-- validates each validated foreign key of the parent it has no validated match for, under its
-- ACCESS EXCLUSIVE lock on the partition (index_build, constraint_validation).
CREATE TABLE dw_events (id int NOT NULL, at int NOT NULL, order_id int REFERENCES dw_orders) PARTITION BY RANGE (at);
CREATE UNIQUE INDEX dw_events_id_at ON dw_events (id, at);
CREATE TABLE dw_events_1 (id int NOT NULL, at int NOT NULL, order_id int);
INSERT INTO dw_events_1 SELECT g, 1, g FROM generate_series(1, 2000) g;
ALTER TABLE dw_events ATTACH PARTITION dw_events_1 FOR VALUES FROM (1) TO (2);
SELECT hazard, verdict, relation FROM safe_ddl.check('ALTER TABLE dw_events ATTACH PARTITION dw_events_1 FOR VALUES FROM (1) TO (2)') ORDER BY 1;
-- The recipes, as the HINTs give them (and the bound proven by a CHECK, partition_scan's recipe).
CREATE UNIQUE INDEX CONCURRENTLY dw_events_1_dw_events_id_at_idx ON public.dw_events_1 USING btree (id, at);
ALTER TABLE public.dw_events_1 ADD CONSTRAINT dw_events_1_order_id_fkey FOREIGN KEY (order_id) REFERENCES dw_orders(id) NOT VALID;
ALTER TABLE public.dw_events_1 VALIDATE CONSTRAINT dw_events_1_order_id_fkey;
ALTER TABLE dw_events_1 ADD CONSTRAINT dw_events_1_bound CHECK (at IS NOT NULL AND at >= 1 AND at < 2) NOT VALID;
ALTER TABLE dw_events_1 VALIDATE CONSTRAINT dw_events_1_bound;
BEGIN;
ALTER TABLE dw_events ATTACH PARTITION dw_events_1 FOR VALUES FROM (1) TO (2);
-- Adopted, not built: the partition's own index is the parent's index's partition.
SELECT count(*) AS partition_indexes FROM pg_index WHERE indrelid = 'dw_events_1'::regclass;
SELECT conname, conparentid <> 0 AS adopted FROM pg_constraint WHERE conrelid = 'dw_events_1'::regclass AND contype = 'f';
COMMIT;
-- A partition without the index, attached with the override: Postgres builds it.
CREATE TABLE dw_events_2 (id int NOT NULL, at int NOT NULL, order_id int);
INSERT INTO dw_events_2 SELECT g, 2, g FROM generate_series(1, 2000) g;
BEGIN;
SET LOCAL safe_ddl.allow = 'index_build, constraint_validation, partition_scan';
ALTER TABLE dw_events ATTACH PARTITION dw_events_2 FOR VALUES FROM (2) TO (3);
COMMIT;
SELECT count(*) AS partition_indexes FROM pg_index WHERE indrelid = 'dw_events_2'::regclass;

-- CREATE FOREIGN TABLE ... PARTITION OF scans the default partition like CREATE TABLE does.
CREATE FOREIGN DATA WRAPPER dw_fdw;
CREATE SERVER dw_server FOREIGN DATA WRAPPER dw_fdw;
CREATE TABLE dw_list (k int) PARTITION BY LIST (k);
CREATE TABLE dw_list_default PARTITION OF dw_list DEFAULT;
INSERT INTO dw_list SELECT g FROM generate_series(1, 2000) g;
CREATE FOREIGN TABLE dw_list_remote PARTITION OF dw_list FOR VALUES IN (-1) SERVER dw_server;
SELECT hazard, verdict, lock_mode FROM safe_ddl.check('CREATE FOREIGN TABLE dw_list_remote PARTITION OF dw_list FOR VALUES IN (-1) SERVER dw_server');

-- ALTER TYPE ... DROP / RENAME ATTRIBUTE ... CASCADE drop or rename the column of every typed
-- table: judged as the table's own DROP COLUMN / RENAME COLUMN would be.
CREATE TYPE dw_pair AS (a int, b int);
CREATE TABLE dw_pairs OF dw_pair;
INSERT INTO dw_pairs VALUES (1, 1);
ALTER TYPE dw_pair DROP ATTRIBUTE b CASCADE;
ALTER TYPE dw_pair RENAME ATTRIBUTE b TO c CASCADE;
-- Without CASCADE Postgres refuses by itself.
ALTER TYPE dw_pair DROP ATTRIBUTE b;
-- The recipe: detach, then the table's own statement (judged by drop_column), then the type.
ALTER TABLE public.dw_pairs NOT OF;
BEGIN;
SET LOCAL safe_ddl.allow = 'drop_column';
ALTER TABLE public.dw_pairs DROP COLUMN b;
COMMIT;
ALTER TYPE dw_pair DROP ATTRIBUTE b;
SELECT attname FROM pg_attribute WHERE attrelid = 'dw_pairs'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum;
-- Override.
CREATE TABLE dw_pairs2 OF dw_pair;
BEGIN;
SET LOCAL safe_ddl.allow = 'rename';
ALTER TYPE dw_pair RENAME ATTRIBUTE a TO z CASCADE;
COMMIT;
SELECT attname FROM pg_attribute WHERE attrelid = 'dw_pairs2'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum;

-- Statements that lock a table for a catalog change only: the lock wait is bounded.
SELECT statement, hazard, verdict, lock_mode FROM safe_ddl.check($$
ALTER INDEX dw_orders_pkey DEPENDS ON EXTENSION safe_ddl;
DROP EXTENSION IF EXISTS dw_nosuch_extension;
CREATE SCHEMA dw_s CREATE TABLE r (o int REFERENCES public.dw_orders);
$$);

-- ALTER TABLE ALL IN TABLESPACE ... SET TABLESPACE copies every relation it moves, each under
-- ACCESS EXCLUSIVE until the transaction ends. (An in-place tablespace: a directory under the
-- data directory, for tests.)
SET allow_in_place_tablespaces = on;
CREATE TABLESPACE dw_space LOCATION '';
CREATE TABLE dw_moved (id int) TABLESPACE dw_space;
INSERT INTO dw_moved SELECT generate_series(1, 2000);
ALTER TABLE ALL IN TABLESPACE dw_space SET TABLESPACE pg_default;
SELECT hazard, verdict, lock_mode, relation, rewrites FROM safe_ddl.check('ALTER TABLE ALL IN TABLESPACE dw_space SET TABLESPACE pg_default');
-- Indexes and materialized views are their own statements; none of those are in dw_space.
ALTER INDEX ALL IN TABLESPACE dw_space SET TABLESPACE pg_default;
-- Override: moved.
BEGIN;
SET LOCAL safe_ddl.allow = 'table_rewrite';
ALTER TABLE ALL IN TABLESPACE dw_space SET TABLESPACE pg_default;
SELECT mode FROM pg_locks WHERE relation = 'dw_moved'::regclass AND pid = pg_backend_pid() AND mode = 'AccessExclusiveLock';
COMMIT;
SELECT reltablespace = 0 AS moved FROM pg_class WHERE oid = 'dw_moved'::regclass;
-- ALTER INDEX / ALTER MATERIALIZED VIEW ... SET TABLESPACE copy the files too.
ALTER INDEX dw_orders_pkey SET TABLESPACE dw_space;
ALTER MATERIALIZED VIEW dw_totals SET TABLESPACE dw_space;
BEGIN;
SET LOCAL safe_ddl.allow = 'table_rewrite';
ALTER INDEX dw_orders_pkey SET TABLESPACE dw_space;
COMMIT;
SELECT relname, reltablespace <> 0 AS moved FROM pg_class WHERE oid IN ('dw_orders_pkey'::regclass, 'dw_totals'::regclass) ORDER BY 1;
-- Back where it was, to drop the tablespace.
SET safe_ddl.allow = 'table_rewrite';
ALTER INDEX dw_orders_pkey SET TABLESPACE pg_default;
RESET safe_ddl.allow;
SET safe_ddl.allow = 'drop_table';
DROP TABLE dw_points, dw_points2, dw_pay, dw_tiny, dw_moved, dw_keyed, dw_events, dw_list, dw_pairs, dw_pairs2;
DROP SERVER dw_server;
DROP FOREIGN DATA WRAPPER dw_fdw;
DROP TYPE dw_pair;
DROP TABLESPACE dw_space;
DROP MATERIALIZED VIEW dw_totals, dw_count;
DROP TABLE dw_orders;
DROP TYPE dw_point;
DROP DOMAIN dw_small, dw_amount, dw_unused;
RESET safe_ddl.allow;
