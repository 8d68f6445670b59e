-- safe_ddl.rehearse(): run statements in a subtransaction that is always rolled back, and report
-- the locks they take, whether they rewrite, the rows they read and how long they ran.
CREATE TABLE ledger AS SELECT g AS id, g::numeric(10,2) AS amount FROM generate_series(1, 10000) g;
SELECT relfilenode AS ledger_file FROM pg_class WHERE relname = 'ledger' \gset
-- A rewriting ALTER: ACCESS EXCLUSIVE, rewritten, every row read.
SELECT n, statement, relation, lock_mode, rewritten, rows_scanned, elapsed_ms >= 0 AS timed
  FROM safe_ddl.rehearse('ALTER TABLE ledger ALTER COLUMN id TYPE bigint');
-- ... and the table is untouched afterwards.
SELECT relfilenode = :ledger_file AS same_file, format_type(atttypid, atttypmod) AS id_type
  FROM pg_class JOIN pg_attribute ON attrelid = pg_class.oid WHERE relname = 'ledger' AND attname = 'id';
-- An instant ADD COLUMN: same lock, no rewrite, no rows read.
SELECT n, relation, lock_mode, rewritten, rows_scanned FROM safe_ddl.rehearse('ALTER TABLE ledger ADD COLUMN note text');
SELECT count(*) AS note_columns FROM pg_attribute WHERE attrelid = 'ledger'::regclass AND attname = 'note';
-- Several statements in one rehearsal run in order (the index is on the column added first); the
-- locks reported are those the rehearsal's transaction holds after each statement.
SELECT n, relation, lock_mode, rewritten, rows_scanned
  FROM safe_ddl.rehearse('ALTER TABLE ledger ADD COLUMN ref int; CREATE INDEX ledger_ref ON ledger (ref); SELECT 1')
 ORDER BY n, relation;
-- CREATE INDEX alone takes SHARE: writes wait, reads go on.
SELECT relation, lock_mode, rows_scanned FROM safe_ddl.rehearse('CREATE INDEX ledger_amount ON ledger (amount)') ORDER BY relation;
SELECT count(*) AS indexes FROM pg_indexes WHERE tablename = 'ledger';
-- Refused: what cannot run in a rolled-back subtransaction.
SELECT * FROM safe_ddl.rehearse('CREATE INDEX CONCURRENTLY ledger_id ON ledger (id)');
SELECT * FROM safe_ddl.rehearse('ALTER TABLE ledger ADD COLUMN x int; COMMIT');
SELECT * FROM safe_ddl.rehearse('VACUUM ledger');
SELECT * FROM safe_ddl.rehearse('REINDEX TABLE CONCURRENTLY ledger');
-- A failing statement: its error, and nothing of the rehearsal stays.
SELECT * FROM safe_ddl.rehearse('ALTER TABLE ledger ADD COLUMN y int; ALTER TABLE ledger ADD COLUMN y int');
SELECT count(*) AS y_columns FROM pg_attribute WHERE attrelid = 'ledger'::regclass AND attname = 'y';
-- Syntax errors point at the position.
SELECT * FROM safe_ddl.rehearse('ALTER TABLE ledger ADD COLUM z int');
-- Inside a transaction block the caller's transaction goes on.
BEGIN;
SELECT count(*) AS rows FROM safe_ddl.rehearse('ALTER TABLE ledger ALTER COLUMN amount TYPE float8');
SELECT format_type(atttypid, atttypmod) AS amount_type FROM pg_attribute WHERE attrelid = 'ledger'::regclass AND attname = 'amount';
COMMIT;
SET safe_ddl.allow = 'drop_table';
DROP TABLE ledger;
RESET safe_ddl.allow;
