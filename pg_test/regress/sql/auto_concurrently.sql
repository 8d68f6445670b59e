-- safe_ddl.auto_concurrently: plain index DDL at top level runs as its CONCURRENTLY form.
CREATE TABLE books AS SELECT g AS id, 'title ' || g AS title FROM generate_series(1, 1000) g;
SET safe_ddl.auto_concurrently = on;
CREATE INDEX books_title ON books (title);
SELECT indexrelid::regclass, indisvalid FROM pg_index WHERE indrelid = 'books'::regclass;
REINDEX INDEX books_title;
REINDEX TABLE books;
DROP INDEX books_title;
SELECT count(*) AS indexes FROM pg_index WHERE indrelid = 'books'::regclass;
-- Inside a transaction block it is refused as usual.
BEGIN;
CREATE INDEX books_id ON books (id);
ROLLBACK;
-- A failed concurrent build leaves an INVALID index; the NOTICE said how to drop it.
INSERT INTO books VALUES (1, 'duplicate');
CREATE UNIQUE INDEX books_id_unique ON books (id);
SELECT indexrelid::regclass, indisvalid FROM pg_index WHERE indrelid = 'books'::regclass;
DROP INDEX CONCURRENTLY books_id_unique;
-- Off (the default): refused.
RESET safe_ddl.auto_concurrently;
CREATE INDEX books_title ON books (title);
SET safe_ddl.allow = 'drop_table';
DROP TABLE books;
RESET safe_ddl.allow;
