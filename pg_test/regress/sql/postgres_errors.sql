-- Analysis never raises an error of its own (issue 16). PostgreSQL's own regression suite run in
-- warn mode (pg_test/postgres_suite.sh) found ATTACH PARTITIONs that Postgres rejects reporting
-- safe_ddl's "could not convert row type" (mapping the bound onto the table's columns) instead
-- of Postgres' own error. Postgres' error must reach the client, in enforce and in warn mode,
-- and a table that can be attached is still judged.
CREATE TABLE pe_parent (a int, b char(2) COLLATE "C") PARTITION BY LIST (a);
CREATE TYPE pe_row AS (a int);
CREATE TABLE pe_typed OF pe_row;
CREATE TABLE pe_missing (a int);
CREATE TABLE pe_extra (a int, b char(2) COLLATE "C", c int);
CREATE TABLE pe_type (b varchar(2), a int);
CREATE TABLE pe_typmod (a int, b char(3) COLLATE "C");
CREATE TABLE pe_collation (a int, b char(2) COLLATE "POSIX");
CREATE TABLE pe_ok (b char(2) COLLATE "C", a int);
-- With rows, so that a scan would be a hazard (pe_typed is empty: typed tables are rejected
-- before anything else).
INSERT INTO pe_missing SELECT 1 FROM generate_series(1, 1000);
INSERT INTO pe_extra SELECT 1, 'x', g FROM generate_series(1, 1000) g;
INSERT INTO pe_type SELECT 'x', 1 FROM generate_series(1, 1000);
INSERT INTO pe_typmod SELECT 1, 'x' FROM generate_series(1, 1000);
INSERT INTO pe_collation SELECT 1, 'x' FROM generate_series(1, 1000);
INSERT INTO pe_ok SELECT 'x', 1 FROM generate_series(1, 1000);
-- enforce (the default): Postgres' own errors.
ALTER TABLE pe_parent ATTACH PARTITION pe_typed FOR VALUES IN (1);
ALTER TABLE pe_parent ATTACH PARTITION pe_missing FOR VALUES IN (1);
ALTER TABLE pe_parent ATTACH PARTITION pe_extra FOR VALUES IN (1);
ALTER TABLE pe_parent ATTACH PARTITION pe_type FOR VALUES IN (1);
ALTER TABLE pe_parent ATTACH PARTITION pe_typmod FOR VALUES IN (1);
ALTER TABLE pe_parent ATTACH PARTITION pe_collation FOR VALUES IN (1);
-- A table Postgres accepts (columns in another order are fine) is judged: it would be scanned.
ALTER TABLE pe_parent ATTACH PARTITION pe_ok FOR VALUES IN (1);
-- The default partition's check is judged as before too.
CREATE TABLE pe_default PARTITION OF pe_parent DEFAULT;
INSERT INTO pe_parent SELECT 7, 'y' FROM generate_series(1, 1000);
ALTER TABLE pe_parent ATTACH PARTITION pe_missing FOR VALUES IN (1);
-- warn: the same errors, no safe_ddl WARNING for statements Postgres rejects.
SET safe_ddl.mode = warn;
ALTER TABLE pe_parent ATTACH PARTITION pe_typed FOR VALUES IN (1);
ALTER TABLE pe_parent ATTACH PARTITION pe_missing FOR VALUES IN (1);
ALTER TABLE pe_parent ATTACH PARTITION pe_extra FOR VALUES IN (1);
ALTER TABLE pe_parent ATTACH PARTITION pe_type FOR VALUES IN (1);
ALTER TABLE pe_parent ATTACH PARTITION pe_typmod FOR VALUES IN (1);
ALTER TABLE pe_parent ATTACH PARTITION pe_collation FOR VALUES IN (1);
-- and the accepted one warns and runs.
BEGIN;
ALTER TABLE pe_parent ATTACH PARTITION pe_ok FOR VALUES IN (1);
SELECT count(*) AS attached_rows FROM pe_parent WHERE a = 1;
ROLLBACK;
RESET safe_ddl.mode;
BEGIN;
SET LOCAL safe_ddl.allow = 'drop_table';
DROP TABLE pe_parent, pe_typed, pe_missing, pe_extra, pe_type, pe_typmod, pe_collation, pe_ok;
DROP TYPE pe_row;
COMMIT;
-- LOCK TABLE outside a transaction block: Postgres' own error, in both modes (the guarded lock
-- wait runs the statement in a subtransaction, where it would count as inside a block).
CREATE TABLE pe_lock (id int);
LOCK TABLE pe_lock;
LOCK TABLE pe_lock IN SHARE MODE;
SET safe_ddl.mode = warn;
LOCK TABLE pe_lock;
RESET safe_ddl.mode;
-- In a transaction block it runs, guarded as before.
BEGIN;
LOCK TABLE pe_lock;
SELECT mode FROM pg_locks WHERE relation = 'pe_lock'::regclass AND pid = pg_backend_pid();
COMMIT;
-- In an implicit transaction block (several statements in one query string) too.
LOCK TABLE pe_lock\; SELECT 'locked' AS implicit_block;
BEGIN;
SET LOCAL safe_ddl.allow = 'drop_table';
DROP TABLE pe_lock;
COMMIT;
