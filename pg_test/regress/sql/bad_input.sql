-- Bad input to the helpers (issue 8): garbage, odd and injection-looking identifiers, wrong
-- types, missing objects. Every case is a clean ERROR or a sensible result, never a crash.
-- (Huge input and random binary noise are in pg_test/robustness.sh: no deterministic output.)
\set VERBOSITY terse

-- ---- safe_ddl.check() -----------------------------------------------------------------------
-- NULL, empty, blank, separators only, comments only: no rows, no error.
SELECT count(*) FROM safe_ddl.check(NULL);
SELECT count(*) FROM safe_ddl.check('');
SELECT count(*) FROM safe_ddl.check(E' \t\n\r ');
SELECT count(*) FROM safe_ddl.check(';;; ;');
SELECT count(*) FROM safe_ddl.check('/* only a comment */ -- and another');
-- Garbage: syntax errors with their position, never a crash.
SELECT * FROM safe_ddl.check('garbage');
SELECT * FROM safe_ddl.check('ALTER TABLE');
SELECT * FROM safe_ddl.check('$$');
SELECT * FROM safe_ddl.check('/* unterminated');
SELECT * FROM safe_ddl.check('"unterminated identifier');
SELECT * FROM safe_ddl.check(E'\'unterminated string');
SELECT * FROM safe_ddl.check(E'\\');
SELECT * FROM safe_ddl.check(E'\x01\x02\x03\x7f');
SELECT * FROM safe_ddl.check('ALTER TABLE t ADD COLUMN x int; ' || repeat('(', 5000));
SELECT * FROM safe_ddl.check('SELECT ' || repeat('(', 20000) || '1' || repeat(')', 20000));
SELECT * FROM safe_ddl.check(E'SELECT 1;\nSELECT 2;\n\n  ALTER TABLE t ADD COLUMN x int int;');
SET client_min_messages = warning;   -- (the NOTICE that the identifier is truncated repeats it)
SELECT * FROM safe_ddl.check('SELECT ' || repeat('x', 100000) || ' FROM');
RESET client_min_messages;
-- Statements on objects that do not exist: analysed, nothing to refuse, nothing run.
SELECT statement, hazard, verdict, lock_mode, relation
  FROM safe_ddl.check('CREATE INDEX ON no_such_table (a); ALTER TABLE no_such_schema.t DROP COLUMN a;
                       DROP TABLE IF EXISTS no_such_table; REINDEX TABLE no_such_table; VACUUM FULL no_such_table;
                       ALTER TABLE IF EXISTS nope ALTER COLUMN a TYPE text; CLUSTER nope USING nope_idx');
-- Transaction control, utility and DML statements: analysed, never run.
SELECT statement, hazard, verdict
  FROM safe_ddl.check('BEGIN; COMMIT; ROLLBACK; SAVEPOINT s; PREPARE TRANSACTION ''x''; COPY nope FROM STDIN;
                       DO $$ BEGIN RAISE EXCEPTION ''must not run''; END $$; CALL nope(); VACUUM; CHECKPOINT;
                       SELECT pg_terminate_backend(pg_backend_pid()); LOAD ''nope''; DISCARD ALL');
SELECT count(*) AS backend_alive FROM pg_stat_activity WHERE pid = pg_backend_pid();

-- Odd identifiers: quotes, unicode, a name that looks like SQL injection. The verdict names them
-- as Postgres quotes them and the hint's recipe keeps them quoted (it is SQL the user may copy).
CREATE SCHEMA "Odd ""Schema""";
CREATE TABLE "Odd ""Schema""".";DROP TABLE bi_victim; --" ("a; DROP TABLE bi_victim; --" int PRIMARY KEY, "é ü 日本" text);
INSERT INTO "Odd ""Schema""".";DROP TABLE bi_victim; --" SELECT g, 'x' FROM generate_series(1, 100) g;
CREATE TABLE bi_victim (id int);
SELECT statement, hazard, verdict, relation,
       hint LIKE E'%\n  CREATE INDEX CONCURRENTLY "x; DROP TABLE bi_victim; --" ON "Odd ""Schema""".";DROP TABLE bi_victim; --" ("é ü 日本");\n%' AS recipe_quoted,
       hint LIKE '%DROP INDEX CONCURRENTLY "Odd ""Schema"""."x; DROP TABLE bi_victim; --";%' AS cleanup_quoted
  FROM safe_ddl.check('CREATE INDEX "x; DROP TABLE bi_victim; --" ON "Odd ""Schema""".";DROP TABLE bi_victim; --" ("é ü 日本")');
SELECT hazard, verdict, relation,
       hint LIKE '%"Odd ""Schema""".";DROP TABLE bi_victim; --"%' AS table_quoted,
       hint LIKE '%"a; DROP TABLE bi_victim; --"%' AS column_quoted
  FROM safe_ddl.check('ALTER TABLE "Odd ""Schema""".";DROP TABLE bi_victim; --" ALTER COLUMN "a; DROP TABLE bi_victim; --" TYPE bigint');
SELECT hazard, verdict, relation
  FROM safe_ddl.check('ALTER TABLE "Odd ""Schema""".";DROP TABLE bi_victim; --" RENAME COLUMN "é ü 日本" TO "new"; DROP TABLE "Odd ""Schema""".";DROP TABLE bi_victim; --"');
-- The hook says the same, and runs nothing of the name.
CREATE INDEX "x; DROP TABLE bi_victim; --" ON "Odd ""Schema""".";DROP TABLE bi_victim; --" ("é ü 日本");
ALTER TABLE "Odd ""Schema""".";DROP TABLE bi_victim; --" DROP COLUMN "a; DROP TABLE bi_victim; --";
CREATE INDEX CONCURRENTLY "x; DROP TABLE bi_victim; --" ON "Odd ""Schema""".";DROP TABLE bi_victim; --" ("é ü 日本");
SELECT indexrelid::regclass FROM pg_index WHERE indrelid = '"Odd ""Schema""".";DROP TABLE bi_victim; --"'::regclass ORDER BY 1;
SELECT to_regclass('bi_victim') IS NOT NULL AS victim_still_there;

-- ---- safe_ddl.rehearse() -------------------------------------------------------------------
SELECT count(*) FROM safe_ddl.rehearse('');
SELECT * FROM safe_ddl.rehearse('garbage');
SELECT * FROM safe_ddl.rehearse('CREATE INDEX CONCURRENTLY ON bi_victim (id)');
SELECT * FROM safe_ddl.rehearse('COMMIT');
SELECT n, statement, relation, lock_mode FROM safe_ddl.rehearse('ALTER TABLE no_such_table ADD COLUMN x int');

-- ---- lock_report(), health() -------------------------------------------------------------------
SELECT count(*) FROM safe_ddl.lock_report(NULL);
SELECT count(*) FROM safe_ddl.lock_report(0);
SELECT count(*) FROM safe_ddl.lock_report('no_such_table');
SELECT count(*) FROM safe_ddl.lock_report('"Odd ""Schema""".";DROP TABLE bi_victim; --"');
SELECT count(*) > 0 AS rows FROM safe_ddl.health(NULL, NULL);
SELECT count(*) > 0 AS rows FROM safe_ddl.health('no_such_table');
SELECT count(*) > 0 AS rows FROM safe_ddl.health('pg_class', '-1 day');
SELECT DISTINCT section FROM safe_ddl.health('"Odd ""Schema""".";DROP TABLE bi_victim; --"') WHERE section = 'relation';
SELECT DISTINCT section FROM safe_ddl.health('"Odd ""Schema""".";DROP TABLE bi_victim; --_pkey"') WHERE section = 'relation';

-- ---- safe_ddl.backfill() -----------------------------------------------------------------------
SET client_min_messages = warning;   -- the NOTICEs of a backfill carry timings
-- A table whose names need quotes, key included.
CREATE TABLE "Weird Table" ("Odd key" int PRIMARY KEY, "Odd col" int, "Other ""col""" text);
INSERT INTO "Weird Table" SELECT g, g, NULL FROM generate_series(1, 250) g;
CALL safe_ddl.backfill('"Weird Table"', '"Other ""col""" = "Odd col" * 2', '"Odd col" % 2 = 0', batch_size => 40, pause => '0');
SELECT count(*) FILTER (WHERE "Other ""col""" = ("Odd col" * 2)::text) AS updated,
       count(*) FILTER (WHERE "Other ""col""" IS NULL) AS untouched FROM "Weird Table";
SELECT relation, status, key_columns, rows_done, rows_scanned, last_key FROM safe_ddl.backfill_jobs WHERE relation = '"Weird Table"'::regclass;
-- ... and the injection-looking table, walked on its injection-looking key.
CALL safe_ddl.backfill('"Odd ""Schema""".";DROP TABLE bi_victim; --"', '"é ü 日本" = ''y''', batch_size => 30, pause => '0');
SELECT "é ü 日本", count(*) FROM "Odd ""Schema""".";DROP TABLE bi_victim; --" GROUP BY 1;
SELECT key_columns, rows_done, last_key FROM safe_ddl.backfill_jobs WHERE relation = '"Odd ""Schema""".";DROP TABLE bi_victim; --"'::regclass;
-- Missing objects.
CALL safe_ddl.backfill('no_such_table', 'a = 1');
CALL safe_ddl.backfill('"weird table"', '"Odd col" = 1');
CALL safe_ddl.backfill(NULL, 'a = 1');
CALL safe_ddl.backfill('"Weird Table"', 'no_such_col = 1');
CALL safe_ddl.backfill('"Weird Table"', '"Odd col" = no_such_col');
CALL safe_ddl.backfill('"Weird Table"', '"Odd col" = 1', 'no_such_col > 0');
CALL safe_ddl.backfill_resume(NULL);
CALL safe_ddl.backfill_resume(-42);
SELECT safe_ddl.backfill_cancel(NULL);
-- Wrong types.
CALL safe_ddl.backfill(42, 'a = 1');
CALL safe_ddl.backfill('"Weird Table"', 42);
CALL safe_ddl.backfill('"Weird Table"', '"Odd col" = ''not a number''');
CALL safe_ddl.backfill('"Weird Table"', '"Odd col" = 1', '"Odd col"');
CALL safe_ddl.backfill('"Weird Table"', '"Odd col" = 1', '42');
CALL safe_ddl.backfill('"Weird Table"', '"Odd col" = 1', batch_size => 'many');
CALL safe_ddl.backfill('"Weird Table"', '"Odd col" = 1', batch_size => 0);
CALL safe_ddl.backfill('"Weird Table"', '"Odd col" = 1', batch_size => -5);
CALL safe_ddl.backfill('"Weird Table"', '"Odd col" = 1', batch_size => 3000000000);
CALL safe_ddl.backfill('"Weird Table"', '"Odd col" = 1', target_batch_time => '-1 s');
CALL safe_ddl.backfill('"Weird Table"', '"Odd col" = 1', pause => NULL);
CALL safe_ddl.backfill('"Weird Table"', '"Odd col" = 1', pause => 'soon');
CALL safe_ddl.backfill('"Weird Table"', '"Odd col" = 1', max_replication_lag => -1);
CALL safe_ddl.backfill('"Weird Table"', '"Odd col" = 1', max_dead_tuple_ratio => 'NaN');
CALL safe_ddl.backfill('"Weird Table"', '"Odd col" = 1', max_dead_tuple_ratio => 1.5);
-- Empty and odd clauses.
CALL safe_ddl.backfill('"Weird Table"', '');
CALL safe_ddl.backfill('"Weird Table"', E' \n\t ');
CALL safe_ddl.backfill('"Weird Table"', NULL);
CALL safe_ddl.backfill('"Weird Table"', '-- "Odd col" = 1');
-- Not a table.
CREATE VIEW bi_view AS SELECT * FROM "Weird Table";
CREATE SEQUENCE bi_seq;
CALL safe_ddl.backfill('bi_view', '"Odd col" = 1');
CALL safe_ddl.backfill('bi_seq', 'last_value = 1');
CALL safe_ddl.backfill('"Weird Table_pkey"', '"Odd col" = 1');
-- SQL in the clauses that tries to break out of its place: an error before any batch, and
-- nothing of it runs (the victim table is still there, no row changed, the sequence not used).
-- (A statement smuggled after the set clause must not run, not even in the validation's
-- rolled-back subtransaction: a sequence, dblink or pg_terminate_backend() is not rolled back.)
\set VERBOSITY sqlstate
CALL safe_ddl.backfill('"Weird Table"', '"Odd col" = 1 WHERE false; DROP TABLE bi_victim; UPDATE "Weird Table" SET "Odd col" = 1');
CALL safe_ddl.backfill('"Weird Table"', '"Odd col" = 1 WHERE false; SELECT nextval(''bi_seq''); UPDATE "Weird Table" SET "Odd col" = 1');
\set VERBOSITY terse
SELECT last_value, is_called AS sequence_used FROM bi_seq;
CALL safe_ddl.backfill('"Weird Table"', '"Odd col" = 1', 'true) OR (true');
CALL safe_ddl.backfill('"Weird Table"', '"Odd col" = 1', 'true; DROP TABLE bi_victim');
CALL safe_ddl.backfill('"Weird Table"', '"Odd col" = 1', 'true END; DROP TABLE bi_victim; SELECT CASE WHEN true');
CALL safe_ddl.backfill('"Weird Table"', '"Odd col" = (SELECT count(*) FROM bi_victim)', '"Odd key" < 0');
SELECT to_regclass('bi_victim') IS NOT NULL AS victim_still_there;
SELECT count(*) AS changed FROM "Weird Table" WHERE "Odd col" <> "Odd key";
-- An empty where_clause is no where_clause.
CALL safe_ddl.backfill('"Weird Table"', '"Odd col" = -1', '', pause => '0');
SELECT count(*) AS all_changed FROM "Weird Table" WHERE "Odd col" = -1;
-- Inside a transaction block or a function: refused before anything is done.
BEGIN;
CALL safe_ddl.backfill('"Weird Table"', '"Odd col" = "Odd col"');
ROLLBACK;
SELECT count(*) AS unfinished_jobs FROM safe_ddl.backfill_jobs WHERE status <> 'done';
RESET client_min_messages;

-- Clean up.
\set VERBOSITY default
DELETE FROM safe_ddl.backfill_jobs;
SET safe_ddl.allow = 'drop_table, in_use';
DROP TABLE "Weird Table", bi_victim CASCADE;
DROP SCHEMA "Odd ""Schema""" CASCADE;
DROP SEQUENCE bi_seq;
RESET safe_ddl.allow;
