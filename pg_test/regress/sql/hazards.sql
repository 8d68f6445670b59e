-- Every hazard: the refusal (and that nothing changed), the override, and the safe path.
-- "Allowed" cases are proven to take no rewrite (same relfilenode) and no scan (Postgres'
-- own DEBUG1 messages say when existing constraints spare it the scan).
CREATE TABLE acct AS
  SELECT g AS id, g % 100 AS customer_id, (g * 1.5)::numeric(10,2) AS amount,
         ('user' || g)::varchar(20) AS email, 'note ' || g AS note
  FROM generate_series(1, 1000) g;
BEGIN;  -- a table created in this transaction may get its primary key the plain way
CREATE TABLE customers AS SELECT g AS id FROM generate_series(0, 99) g;
ALTER TABLE customers ADD PRIMARY KEY (id);
COMMIT;
CREATE FUNCTION filenode(regclass) RETURNS oid LANGUAGE sql AS 'SELECT relfilenode FROM pg_class WHERE oid = $1';
SELECT filenode('acct') AS acct_file \gset

---------------------------------------------------------------- table_rewrite
-- ALTER COLUMN TYPE that is not binary coercible: refused, table untouched.
ALTER TABLE acct ALTER COLUMN id TYPE bigint;
SELECT filenode('acct') = :acct_file AS same_file, format_type(atttypid, atttypmod) AS id_type
  FROM pg_attribute WHERE attrelid = 'acct'::regclass AND attname = 'id';
ALTER TABLE acct ALTER COLUMN email TYPE varchar(10);
ALTER TABLE acct ALTER COLUMN amount TYPE numeric(10,3);
ALTER TABLE acct ALTER COLUMN id TYPE text USING id::text;
-- Binary-coercible changes are allowed and really do not rewrite.
ALTER TABLE acct ALTER COLUMN email TYPE varchar(50);
ALTER TABLE acct ALTER COLUMN email TYPE text;
ALTER TABLE acct ALTER COLUMN amount TYPE numeric(12,2);
CREATE DOMAIN plain_text AS text;
ALTER TABLE acct ALTER COLUMN note TYPE plain_text;
SELECT filenode('acct') = :acct_file AS same_file;
-- ADD COLUMN with a per-row default: refused.
ALTER TABLE acct ADD COLUMN created_at timestamptz DEFAULT clock_timestamp();
ALTER TABLE acct ADD COLUMN token uuid DEFAULT gen_random_uuid();
ALTER TABLE acct ADD COLUMN r float8 DEFAULT random();
ALTER TABLE acct ADD COLUMN seq_no bigserial;
ALTER TABLE acct ADD COLUMN ident int GENERATED ALWAYS AS IDENTITY;
ALTER TABLE acct ADD COLUMN doubled int GENERATED ALWAYS AS (id * 2) STORED;
CREATE DOMAIN positive_int AS int CHECK (VALUE > 0);
ALTER TABLE acct ADD COLUMN p positive_int;
SELECT count(*) AS new_columns FROM pg_attribute
 WHERE attrelid = 'acct'::regclass AND attname IN ('created_at', 'token', 'r', 'seq_no', 'ident', 'doubled', 'p');
-- ADD COLUMN with a constant or stable default, or none: allowed, no rewrite ("missing" value).
ALTER TABLE acct ADD COLUMN status text DEFAULT 'new', ADD COLUMN seen_at timestamptz DEFAULT now(),
                 ADD COLUMN flag boolean NOT NULL DEFAULT false, ADD COLUMN extra int;
SELECT filenode('acct') = :acct_file AS same_file,
       (SELECT count(*) FROM pg_attribute WHERE attrelid = 'acct'::regclass AND atthasmissing) AS missing_values;
-- SET LOGGED/UNLOGGED, SET ACCESS METHOD, SET TABLESPACE, VACUUM FULL, CLUSTER: refused.
ALTER TABLE acct SET UNLOGGED;
CREATE ACCESS METHOD heap2 TYPE TABLE HANDLER heap_tableam_handler;
ALTER TABLE acct SET ACCESS METHOD heap2;
SET allow_in_place_tablespaces = on;
CREATE TABLESPACE safe_ddl_ts LOCATION '';
ALTER TABLE acct SET TABLESPACE safe_ddl_ts;
-- The same forms change nothing when the table is already so: Postgres does nothing, allowed.
ALTER TABLE acct SET LOGGED;
ALTER TABLE acct SET ACCESS METHOD heap;
ALTER TABLE acct SET TABLESPACE pg_default;
VACUUM FULL acct;
VACUUM (FULL, ANALYZE) acct;
CREATE INDEX CONCURRENTLY acct_id ON acct (id);
CLUSTER acct USING acct_id;
SELECT filenode('acct') = :acct_file AS same_file;
-- Plain VACUUM is fine.
VACUUM acct;
-- The override really rewrites (which proves the refusals above were right).
BEGIN;
SET LOCAL safe_ddl.allow = 'table_rewrite';
ALTER TABLE acct ALTER COLUMN customer_id TYPE bigint;
SELECT filenode('acct') <> :acct_file AS rewritten;
ROLLBACK;
-- Several subcommands are judged one by one and every hazard is listed.
ALTER TABLE acct ALTER COLUMN id TYPE bigint, ADD COLUMN t2 timestamptz DEFAULT clock_timestamp(),
                 ADD CHECK (amount > 0), ALTER COLUMN email SET NOT NULL;

---------------------------------------------------------------- index_build (constraints)
ALTER TABLE acct ADD PRIMARY KEY (id);
ALTER TABLE acct ADD CONSTRAINT acct_email_key UNIQUE (email);
ALTER TABLE acct ADD COLUMN code int UNIQUE;
SELECT count(*) AS constraints FROM pg_constraint WHERE conrelid = 'acct'::regclass AND contype IN ('p', 'u');
-- The recipe: build the index concurrently, then attach it (instant).
CREATE UNIQUE INDEX CONCURRENTLY acct_email_key_idx ON acct (email);
ALTER TABLE acct ADD CONSTRAINT acct_email_key UNIQUE USING INDEX acct_email_key_idx;
SELECT conname, contype FROM pg_constraint WHERE conrelid = 'acct'::regclass AND contype = 'u';

---------------------------------------------------------------- not_null_scan
ALTER TABLE acct ALTER COLUMN customer_id SET NOT NULL;
SELECT attnotnull FROM pg_attribute WHERE attrelid = 'acct'::regclass AND attname = 'customer_id';
-- The recipe: a validated CHECK proves it, and Postgres skips the scan (its DEBUG1 says so).
ALTER TABLE acct ADD CONSTRAINT acct_customer_id_not_null CHECK (customer_id IS NOT NULL) NOT VALID;
ALTER TABLE acct VALIDATE CONSTRAINT acct_customer_id_not_null;
SET client_min_messages = debug1;
ALTER TABLE acct ALTER COLUMN customer_id SET NOT NULL;
RESET client_min_messages;
ALTER TABLE acct DROP CONSTRAINT acct_customer_id_not_null;
-- A NOT VALID check proves nothing yet.
ALTER TABLE acct ADD CONSTRAINT acct_amount_nn CHECK (amount IS NOT NULL) NOT VALID;
ALTER TABLE acct ALTER COLUMN amount SET NOT NULL;
-- Already NOT NULL: a no-op, allowed.
ALTER TABLE acct ALTER COLUMN customer_id SET NOT NULL;

---------------------------------------------------------------- constraint_validation
ALTER TABLE acct ADD CONSTRAINT acct_amount_positive CHECK (amount > 0);
ALTER TABLE acct ADD CONSTRAINT acct_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id);
ALTER TABLE acct ADD COLUMN customer2 int DEFAULT 1 REFERENCES customers (id);
-- Without a default the new column is all NULL: Postgres skips the validation, allowed.
ALTER TABLE acct ADD COLUMN customer3 int REFERENCES customers (id);
SELECT convalidated FROM pg_constraint WHERE conrelid = 'acct'::regclass AND conname = 'acct_customer3_fkey';
ALTER TABLE acct ADD COLUMN qty int CHECK (qty > 0);
SELECT count(*) AS constraints FROM pg_constraint WHERE conname IN ('acct_amount_positive', 'acct_customer_fk');
-- The recipe: NOT VALID (instant), then VALIDATE (SHARE UPDATE EXCLUSIVE).
ALTER TABLE acct ADD CONSTRAINT acct_amount_positive CHECK (amount > 0) NOT VALID;
ALTER TABLE acct VALIDATE CONSTRAINT acct_amount_positive;
ALTER TABLE acct ADD CONSTRAINT acct_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id) NOT VALID;
ALTER TABLE acct VALIDATE CONSTRAINT acct_customer_fk;
SELECT conname, convalidated FROM pg_constraint WHERE conname IN ('acct_amount_positive', 'acct_customer_fk') ORDER BY 1;

---------------------------------------------------------------- index_drop
DROP INDEX acct_id;
DROP INDEX CONCURRENTLY acct_id;
BEGIN;
CREATE INDEX acct_tmp ON acct (amount);  -- refused: the table is not new
ROLLBACK;

---------------------------------------------------------------- rename
ALTER TABLE acct RENAME TO accounts;
ALTER TABLE acct RENAME COLUMN note TO remark;
SELECT count(*) AS still_named_acct FROM pg_class WHERE relname = 'acct';
-- A column added in this transaction may be renamed and dropped.
BEGIN;
ALTER TABLE acct ADD COLUMN nickname text;
ALTER TABLE acct RENAME COLUMN nickname TO handle;
ALTER TABLE acct DROP COLUMN handle;
ROLLBACK;
-- The table recipe: rename plus an updatable view under the old name.
BEGIN;
SET LOCAL safe_ddl.allow = 'rename';
ALTER TABLE customers RENAME TO clients;
CREATE VIEW customers AS SELECT * FROM clients;
COMMIT;
INSERT INTO customers VALUES (100);
SELECT count(*) FROM clients;

---------------------------------------------------------------- drop_column, drop_table
ALTER TABLE acct DROP COLUMN extra;
BEGIN;
SET LOCAL safe_ddl.allow = 'drop_column';
ALTER TABLE acct DROP COLUMN extra;
COMMIT;
CREATE TABLE old_stuff (id int);
DROP TABLE old_stuff;
DROP TABLE IF EXISTS never_existed;
BEGIN;
SET LOCAL safe_ddl.allow = 'drop_table';
DROP TABLE old_stuff;
COMMIT;

---------------------------------------------------------------- partition_scan, partition_detach
CREATE TABLE events (id int, at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE events_2026 (id int, at date NOT NULL);
INSERT INTO events_2026 SELECT g, date '2026-01-01' + g % 365 FROM generate_series(1, 1000) g;
ALTER TABLE events ATTACH PARTITION events_2026 FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
-- A validated CHECK that implies the bound: ATTACH skips the scan (DEBUG1 says so), allowed.
ALTER TABLE events_2026 ADD CONSTRAINT events_2026_bound
  CHECK (at >= DATE '2026-01-01' AND at < DATE '2027-01-01') NOT VALID;
ALTER TABLE events_2026 VALIDATE CONSTRAINT events_2026_bound;
SET client_min_messages = debug1;
ALTER TABLE events ATTACH PARTITION events_2026 FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
RESET client_min_messages;
-- A check that does not cover the bound proves nothing.
CREATE TABLE events_2027 (id int, at date NOT NULL CHECK (at >= '2027-01-01'));
INSERT INTO events_2027 VALUES (1, '2027-06-01');
ALTER TABLE events ATTACH PARTITION events_2027 FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');
-- LIST partitions too.
CREATE TABLE regions (id int, region text NOT NULL) PARTITION BY LIST (region);
CREATE TABLE regions_eu (id int, region text NOT NULL CHECK (region IN ('de', 'fr')));
INSERT INTO regions_eu VALUES (1, 'de');
ALTER TABLE regions ATTACH PARTITION regions_eu FOR VALUES IN ('de', 'fr');
CREATE TABLE regions_us (id int, region text NOT NULL);
INSERT INTO regions_us VALUES (1, 'us');
ALTER TABLE regions ATTACH PARTITION regions_us FOR VALUES IN ('us');
-- A non-empty default partition is scanned too (to check none of its rows belong to the new one).
CREATE TABLE regions_other PARTITION OF regions DEFAULT;
INSERT INTO regions VALUES (2, 'jp');
CREATE TABLE regions_ca (id int, region text NOT NULL CHECK (region = 'ca'));
ALTER TABLE regions ATTACH PARTITION regions_ca FOR VALUES IN ('ca');
-- CREATE TABLE ... PARTITION OF scans it too, under ACCESS EXCLUSIVE on the parent.
CREATE TABLE regions_mx PARTITION OF regions FOR VALUES IN ('mx');
-- Proven by a validated CHECK on the default partition: allowed (Postgres skips the scan then).
ALTER TABLE regions_other ADD CONSTRAINT regions_other_not_mx CHECK (region <> 'mx') NOT VALID;
ALTER TABLE regions_other VALIDATE CONSTRAINT regions_other_not_mx;
CREATE TABLE regions_mx PARTITION OF regions FOR VALUES IN ('mx');
-- DETACH without CONCURRENTLY: refused; CONCURRENTLY works.
ALTER TABLE events DETACH PARTITION events_2025;
ALTER TABLE events DETACH PARTITION events_2025 CONCURRENTLY;

---------------------------------------------------------------- overrides
-- Every refusal above can be overridden for one transaction; the statement then really runs.
CREATE INDEX CONCURRENTLY acct_amount ON acct (amount);
BEGIN;
SET LOCAL safe_ddl.allow = 'index_drop';
DROP INDEX acct_amount;
SELECT count(*) AS acct_amount_left FROM pg_class WHERE relname = 'acct_amount';
ROLLBACK;
BEGIN;
SET LOCAL safe_ddl.allow = 'not_null_scan';
ALTER TABLE acct ALTER COLUMN amount SET NOT NULL;
SELECT attnotnull FROM pg_attribute WHERE attrelid = 'acct'::regclass AND attname = 'amount';
ROLLBACK;
BEGIN;
SET LOCAL safe_ddl.allow = 'constraint_validation';
ALTER TABLE acct ADD CONSTRAINT acct_id_positive CHECK (id > 0);
SELECT convalidated FROM pg_constraint WHERE conname = 'acct_id_positive';
ROLLBACK;
-- id is nullable: the key also makes it NOT NULL, a scan under the same lock (not_null_scan).
BEGIN;
SET LOCAL safe_ddl.allow = 'index_build, not_null_scan';
ALTER TABLE acct ADD PRIMARY KEY (id);
SELECT contype FROM pg_constraint WHERE conrelid = 'acct'::regclass AND contype = 'p';
ROLLBACK;
BEGIN;
SET LOCAL safe_ddl.allow = 'partition_scan';
ALTER TABLE regions ATTACH PARTITION regions_us FOR VALUES IN ('us');
SELECT count(*) AS us_rows FROM regions WHERE region = 'us';
ROLLBACK;
BEGIN;
SET LOCAL safe_ddl.allow = 'partition_detach';
ALTER TABLE events DETACH PARTITION events_2026;
SELECT count(*) AS partitions FROM pg_inherits WHERE inhparent = 'events'::regclass;
ROLLBACK;
BEGIN;
SET LOCAL safe_ddl.allow = 'rename';
ALTER TABLE acct RENAME COLUMN note TO remark;
ROLLBACK;
-- warn mode: every hazard of the statement is reported and the statement runs.
SET safe_ddl.mode = warn;
BEGIN;
ALTER TABLE acct ALTER COLUMN amount SET NOT NULL, ADD CONSTRAINT acct_id_positive CHECK (id > 0);
ROLLBACK;
RESET safe_ddl.mode;

---------------------------------------------------------------- backstop
-- A rewrite the classifier does not foresee (ALTER TYPE ... CASCADE rewrites the typed tables)
-- is stopped by the table_rewrite event trigger.
CREATE TYPE pair AS (a int, b int);
CREATE TABLE pairs OF pair;
INSERT INTO pairs SELECT g, g FROM generate_series(1, 100) g;
SELECT filenode('pairs') AS pairs_file \gset
ALTER TYPE pair ALTER ATTRIBUTE b TYPE bigint CASCADE;
SELECT filenode('pairs') = :pairs_file AS same_file;
BEGIN;
SET LOCAL safe_ddl.allow = 'table_rewrite';
ALTER TYPE pair ALTER ATTRIBUTE b TYPE bigint CASCADE;
SELECT filenode('pairs') <> :pairs_file AS rewritten;
ROLLBACK;
SET safe_ddl.mode = warn;
BEGIN;
ALTER TYPE pair ALTER ATTRIBUTE b TYPE bigint CASCADE;
ROLLBACK;
RESET safe_ddl.mode;

---------------------------------------------------------------- exemptions
-- Everything goes for a table created in this transaction.
BEGIN;
CREATE TABLE fresh AS SELECT g AS id, g::text AS s FROM generate_series(1, 100) g;
ALTER TABLE fresh ALTER COLUMN id TYPE bigint, ADD COLUMN at timestamptz DEFAULT clock_timestamp(),
                  ALTER COLUMN s SET NOT NULL, ADD PRIMARY KEY (id), ADD CHECK (id > 0);
ALTER TABLE fresh RENAME COLUMN s TO t;
ALTER TABLE fresh DROP COLUMN t;
ALTER TABLE fresh RENAME TO fresher;
DROP TABLE fresher;
COMMIT;
SET safe_ddl.allow = 'drop_table';
DROP TABLE pairs, acct, events, events_2025, regions, regions_us, regions_ca, clients CASCADE;
RESET safe_ddl.allow;
DROP TYPE pair;
DROP TABLESPACE safe_ddl_ts;
DROP ACCESS METHOD heap2;
DROP DOMAIN plain_text, positive_int;
DROP FUNCTION filenode(regclass);
