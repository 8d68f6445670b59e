-- Inline allows: a comment "-- safe_ddl: allow <hazard>[, ...]" (or the same in /* */) on the
-- line(s) directly before a statement allows those hazards for that statement only, in check()
-- and in the hook; unknown names are an error; the ceiling applies; the LOG line says so.
CREATE TABLE ia (a int, b int);
INSERT INTO ia SELECT g, g FROM generate_series(1, 1000) g;

-- check(): the first statement is allowed, the second (no comment) refused; location is the
-- 1-based character position of each statement's first token; the statement text keeps its
-- leading comments (the inline allow) on every major.
SELECT hazard, verdict, location, statement
  FROM safe_ddl.check(E'-- safe_ddl: allow index_build\nCREATE INDEX ia_a ON ia (a);\nCREATE INDEX ia_b ON ia (b);');
-- The block comment form, two directives adding up, and a reason on its own line.
SELECT hazard, verdict, location
  FROM safe_ddl.check(E'SELECT 1;\n/* safe_ddl: allow table_rewrite */\n-- the table is tiny\n-- safe_ddl: allow in_use, drop_column\nALTER TABLE ia ALTER b TYPE bigint, DROP COLUMN a;');
-- Only the statement directly after: a comment inside a statement is no directive.
SELECT hazard, verdict
  FROM safe_ddl.check(E'CREATE INDEX ia_a -- safe_ddl: allow index_build\n ON ia (a);');
-- Errors, pointing at the comment: an unknown hazard, another directive, an empty list, and an
-- allow written after the previous statement on its line (it would allow the next one).
SELECT * FROM safe_ddl.check(E'SELECT 1;\n-- safe_ddl: allow idx_build\nCREATE INDEX ON ia (a);');
SELECT * FROM safe_ddl.check(E'-- safe_ddl: permit index_build\nCREATE INDEX ON ia (a);');
SELECT * FROM safe_ddl.check(E'-- safe_ddl: allow\nCREATE INDEX ON ia (a);');
SELECT * FROM safe_ddl.check(E'CREATE INDEX ON ia (a); -- safe_ddl: allow index_build\nSELECT 1;');
-- Any statement's directive is checked, not only DDL's.
SELECT * FROM safe_ddl.check(E'-- safe_ddl: allow nothing_like_this\nSELECT 1;');

-- The hook: a multi-statement query as migration tools send a file (psql sends the comments
-- after "\;" with the statement; it drops "--" comments before a statement it sends alone).
SELECT 'before' AS step \;
-- safe_ddl: allow index_build
CREATE INDEX ia_a ON ia (a);
SELECT indexrelid::regclass, indisvalid FROM pg_index WHERE indrelid = 'ia'::regclass;
-- The allow covered that statement only.
SELECT 'before' AS step \;
-- safe_ddl: allow index_build
CREATE INDEX ia_b ON ia (b) \;
CREATE INDEX ia_ab ON ia (a, b);
SELECT indexrelid::regclass FROM pg_index WHERE indrelid = 'ia'::regclass ORDER BY 1;
-- psql sends a block comment before a statement: the form for files run with psql -f.
/* safe_ddl: allow index_build */ CREATE INDEX ia_ab ON ia (a, b);
SELECT indexrelid::regclass FROM pg_index WHERE indrelid = 'ia'::regclass ORDER BY 1;
-- Through EXECUTE too (the hook sees the executed string).
DO $$ BEGIN EXECUTE E'-- safe_ddl: allow index_build\nCREATE INDEX ia_ba ON ia (b, a)'; END $$;
-- An unknown name is an ERROR in the hook as well, and nothing runs.
DO $$ BEGIN EXECUTE E'-- safe_ddl: allow index_buld\nCREATE INDEX ia_x ON ia (b)'; END $$;
SELECT count(*) AS ia_x FROM pg_class WHERE relname = 'ia_x';
-- The allow ends with its statement, also when the statement fails: Postgres' own error (the
-- index exists) and a refusal of another hazard than the one allowed leave nothing behind.
SELECT 'before' AS step \;
-- safe_ddl: allow index_build
CREATE INDEX ia_a ON ia (a);
CREATE INDEX ia_z ON ia (b);
SELECT 'before' AS step \;
-- safe_ddl: allow index_build
ALTER TABLE ia ALTER b TYPE text;
CREATE INDEX ia_z ON ia (b);
SELECT count(*) AS ia_z FROM pg_class WHERE relname = 'ia_z';
-- A large UPDATE (the executor's guard) honours it too.
SET safe_ddl.max_dml_rows = 100;
SELECT 'before' AS step \;
-- safe_ddl: allow large_dml
UPDATE ia SET b = b + 1;
UPDATE ia SET b = b + 1;
RESET safe_ddl.max_dml_rows;

-- The LOG lines name the inline allow as what let each statement through (ia_a, ia_b, ia_ab,
-- ia_ba, and the second ia_a: logged before it ran into Postgres' error).
SELECT count(*) AS log_lines
  FROM regexp_split_to_table(encode(pg_read_binary_file(current_setting('data_directory') || '/../server.log'), 'escape'), E'\n') AS line
 WHERE line LIKE '%safe_ddl: hazard index_build on public.ia allowed by the statement''s inline allow (safe_ddl: allow index_build) for user "postgres" (session user "postgres") in database "%": %';

-- Under safe_ddl.allow_ceiling, as safe_ddl.allow is.
CREATE ROLE ia_app LOGIN;
GRANT CREATE ON SCHEMA public TO ia_app;
ALTER TABLE ia OWNER TO ia_app;
SET safe_ddl.allow_ceiling = 'drop_table';
SET ROLE ia_app;
SELECT 'before' AS step \;
-- safe_ddl: allow index_build
CREATE INDEX ia_c ON ia (b);
SELECT hazard, verdict FROM safe_ddl.check(E'-- safe_ddl: allow index_build\nCREATE INDEX ia_c ON ia (b);');
RESET ROLE;
RESET safe_ddl.allow_ceiling;
BEGIN;
SET LOCAL safe_ddl.allow = 'drop_table';
DROP TABLE ia;
COMMIT;
REVOKE CREATE ON SCHEMA public FROM ia_app;
DROP ROLE ia_app;

-- safe_ddl.exempt_empty_tables: an empty table is exempt (0 pages, measured) unless it is off,
-- as in a schema-only CI database (safe-ddl check --ephemeral); superuser only.
CREATE TABLE ie (a int);
SELECT hazard, verdict FROM safe_ddl.check('CREATE INDEX ON ie (a)');
SET safe_ddl.exempt_empty_tables = off;
SELECT hazard, verdict, table_size FROM safe_ddl.check('CREATE INDEX ON ie (a)');
CREATE INDEX ON ie (a);
RESET safe_ddl.exempt_empty_tables;
CREATE ROLE ie_app;
SET ROLE ie_app;
SET safe_ddl.exempt_empty_tables = off;
RESET ROLE;
DROP ROLE ie_app;
SELECT 'cleanup' AS step \;
-- safe_ddl: allow drop_table
DROP TABLE ie;
