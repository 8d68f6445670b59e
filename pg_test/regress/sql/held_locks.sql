-- Statements judged in the context of the locks their transaction already holds (issue 14):
-- VALIDATE CONSTRAINT takes only SHARE UPDATE EXCLUSIVE, but after ADD CONSTRAINT ... NOT VALID
-- (or any read/write-blocking lock) in the same transaction its scan runs under that lock.
CREATE TABLE hl_customers (id int PRIMARY KEY);
INSERT INTO hl_customers SELECT g FROM generate_series(1, 1000) g;
CREATE TABLE hl_orders AS SELECT g AS id, g AS amount, g AS customer_id FROM generate_series(1, 1000) g;
CREATE TABLE hl_empty (id int, amount int);

-- One transaction: the validation scan would run under ADD CONSTRAINT's ACCESS EXCLUSIVE.
BEGIN;
ALTER TABLE hl_orders ADD CONSTRAINT hl_amount_positive CHECK (amount > 0) NOT VALID;
ALTER TABLE hl_orders VALIDATE CONSTRAINT hl_amount_positive;
ROLLBACK;
\set VERBOSITY terse
-- A foreign key: ADD took SHARE ROW EXCLUSIVE (blocks writes).
BEGIN;
ALTER TABLE hl_orders ADD CONSTRAINT hl_customer_fk FOREIGN KEY (customer_id) REFERENCES hl_customers NOT VALID;
ALTER TABLE hl_orders VALIDATE CONSTRAINT hl_customer_fk;
ROLLBACK;
-- An explicit LOCK TABLE that blocks writes counts too; a weak one does not.
ALTER TABLE hl_orders ADD CONSTRAINT hl_amount_positive CHECK (amount > 0) NOT VALID;
BEGIN;
LOCK TABLE hl_orders IN SHARE MODE;
ALTER TABLE hl_orders VALIDATE CONSTRAINT hl_amount_positive;
ROLLBACK;
BEGIN;
LOCK TABLE hl_orders IN ROW EXCLUSIVE MODE;
ALTER TABLE hl_orders VALIDATE CONSTRAINT hl_amount_positive;
ROLLBACK;

-- check() agrees, statement by statement: the script's BEGIN ... COMMIT makes the VALIDATE run
-- under the ADD's lock; without it each statement is its own transaction and VALIDATE is ok,
-- reporting its scan.
SELECT statement, hazard, verdict, lock_mode, relation, scans
FROM safe_ddl.check($$
BEGIN;
ALTER TABLE hl_orders ADD CONSTRAINT hl_amount_small CHECK (amount < 100000) NOT VALID;
ALTER TABLE hl_orders VALIDATE CONSTRAINT hl_amount_small;
COMMIT;
$$);
SELECT statement, hazard, verdict, lock_mode, relation, scans
FROM safe_ddl.check($$
ALTER TABLE hl_orders ADD CONSTRAINT hl_amount_small CHECK (amount < 100000) NOT VALID;
ALTER TABLE hl_orders VALIDATE CONSTRAINT hl_amount_small;
$$);
-- An existing NOT VALID constraint: ok and scans alone; refused inside a transaction that holds
-- a strong lock on the table (check() reads this transaction's own lock table).
SELECT statement, hazard, verdict, lock_mode, scans
FROM safe_ddl.check('ALTER TABLE hl_orders VALIDATE CONSTRAINT hl_amount_positive');
BEGIN;
LOCK TABLE hl_orders IN SHARE ROW EXCLUSIVE MODE;
SELECT statement, hazard, verdict, lock_mode, scans
FROM safe_ddl.check('ALTER TABLE hl_orders VALIDATE CONSTRAINT hl_amount_positive');
ROLLBACK;

-- Each in its own transaction: passes.
ALTER TABLE hl_orders VALIDATE CONSTRAINT hl_amount_positive;
ALTER TABLE hl_orders ADD CONSTRAINT hl_customer_fk FOREIGN KEY (customer_id) REFERENCES hl_customers NOT VALID;
ALTER TABLE hl_orders VALIDATE CONSTRAINT hl_customer_fk;
-- Already validated: nothing to scan.
SELECT statement, verdict, scans
FROM safe_ddl.check('ALTER TABLE hl_orders VALIDATE CONSTRAINT hl_customer_fk');

-- The override.
BEGIN;
ALTER TABLE hl_orders ADD CONSTRAINT hl_amount_small CHECK (amount < 100000) NOT VALID;
SET LOCAL safe_ddl.allow = 'constraint_validation';
ALTER TABLE hl_orders VALIDATE CONSTRAINT hl_amount_small;
COMMIT;
SELECT conname, convalidated FROM pg_constraint
WHERE conrelid = 'hl_orders'::regclass ORDER BY conname;

-- Exempt tables: created in this transaction, holding no data.
BEGIN;
CREATE TABLE hl_new AS SELECT g AS amount FROM generate_series(1, 1000) g;
ALTER TABLE hl_new ADD CONSTRAINT hl_new_positive CHECK (amount > 0) NOT VALID;
ALTER TABLE hl_new VALIDATE CONSTRAINT hl_new_positive;
COMMIT;
BEGIN;
ALTER TABLE hl_empty ADD CONSTRAINT hl_empty_positive CHECK (amount > 0) NOT VALID;
ALTER TABLE hl_empty VALIDATE CONSTRAINT hl_empty_positive;
COMMIT;

-- warn mode: warned, and it runs.
SET safe_ddl.mode = warn;
BEGIN;
ALTER TABLE hl_orders ADD CONSTRAINT hl_amount_tiny CHECK (amount < 1000000) NOT VALID;
ALTER TABLE hl_orders VALIDATE CONSTRAINT hl_amount_tiny;
COMMIT;
RESET safe_ddl.mode;
\set VERBOSITY default

SET safe_ddl.allow = 'drop_table';
DROP TABLE hl_orders, hl_customers, hl_empty, hl_new;
RESET safe_ddl.allow;
