-- Databases whose encoding is not UTF-8: names, query text and messages are converted between
-- the server encoding and Rust's UTF-8 (src/encoding.rs). The client speaks UTF-8 throughout.
\set regress_db :DBNAME
SET client_min_messages = warning;
DROP DATABASE IF EXISTS safe_ddl_latin1;
DROP DATABASE IF EXISTS safe_ddl_sql_ascii;
CREATE DATABASE safe_ddl_latin1 ENCODING 'LATIN1' TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C';
CREATE DATABASE safe_ddl_sql_ascii ENCODING 'SQL_ASCII' TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C';
\c safe_ddl_latin1
SET client_encoding = 'UTF8';
CREATE EXTENSION safe_ddl;
CREATE TABLE "café" (a int, "naïve" text);
-- One row: a table that holds no data would be exempt from the hazards shown here.
INSERT INTO "café" VALUES (1, 'é');
-- The refusal names the table and writes the safe statement exactly.
CREATE INDEX "idx_é" ON "café" (a);
-- check(): text in, text out.
SELECT statement, hazard, verdict, relation FROM safe_ddl.check('SELECT ''ñ''; CREATE INDEX "idx_é" ON "café" (a)');
SELECT hint FROM safe_ddl.check('ALTER TABLE "café" ADD COLUMN "ç" numeric(10,2) CHECK ("ç" > 0)');
-- Syntax errors point at the right character of the checked SQL.
SELECT * FROM safe_ddl.check(E'SELECT ''é'';\nALTER TABLE "café" ADD COLUMN ÿ int DEFAULT;');
-- rehearse(): runs the statement as written; errors keep their text.
SELECT n, statement, relation, lock_mode, rewritten FROM safe_ddl.rehearse('ALTER TABLE "café" ADD COLUMN "ö" int');
SELECT * FROM safe_ddl.rehearse('ALTER TABLE "nöpe" ADD COLUMN "ø" int');
SELECT * FROM safe_ddl.rehearse('CREATE INDEX CONCURRENTLY "ï" ON "café" (a)');
-- Warnings, and refusals inside PL/pgSQL (caught: SQLERRM is in the server encoding too).
SET safe_ddl.mode = warn;
CREATE INDEX "idx_é" ON "café" (a);
RESET safe_ddl.mode;
DO $$ BEGIN EXECUTE 'CREATE INDEX "idx_ë" ON "café" (a)'; EXCEPTION WHEN others THEN RAISE NOTICE 'caught: %', SQLERRM; END $$;
SELECT safe_ddl._one_statement('SELECT ''é''; SELECT 2') AS two, safe_ddl._one_statement('SELECT ''é''') AS one;
-- SQL_ASCII: bytes that are not UTF-8 are checked too (replaced in the output, never an error).
\c safe_ddl_sql_ascii
CREATE EXTENSION safe_ddl;
SELECT count(*) FROM safe_ddl.check('CREATE INDEX ON ' || chr(200) || chr(255) || ' (a); SELECT ''' || chr(233) || '''');
\c :regress_db
SET client_min_messages = warning;
DROP DATABASE safe_ddl_latin1;
DROP DATABASE safe_ddl_sql_ascii;
