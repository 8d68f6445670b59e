-- Hazard index_build: CREATE INDEX / REINDEX without CONCURRENTLY on an existing table.
CREATE TABLE items AS SELECT g AS id, g % 10 AS v FROM generate_series(1, 1000) g;

-- Refused: ERROR names the hazard and the table; DETAIL the lock and size; HINT the recipe.
CREATE INDEX items_v ON items (v);
-- ... and the index does not exist afterwards.
SELECT count(*) AS items_v_exists FROM pg_class WHERE relname = 'items_v';

-- One documented SQLSTATE for every refusal: 55000 object_not_in_prerequisite_state.
-- DDL inside a DO block (PROCESS_UTILITY_QUERY) is guarded too.
DO $$
BEGIN
  CREATE UNIQUE INDEX items_id ON items (id);
EXCEPTION WHEN object_not_in_prerequisite_state THEN
  RAISE NOTICE 'refused with SQLSTATE %', SQLSTATE;
END $$;

-- ... and inside a function.
CREATE FUNCTION make_index() RETURNS void LANGUAGE plpgsql AS
$$ BEGIN CREATE INDEX items_v_fn ON items (v); END $$;
SELECT make_index();

-- The safe form works.
CREATE INDEX CONCURRENTLY items_v ON items (v);
SELECT indexrelid::regclass, indisvalid FROM pg_index WHERE indrelid = 'items'::regclass;

-- The override: SET LOCAL safe_ddl.allow in the migration's transaction.
BEGIN;
SET LOCAL safe_ddl.allow = 'index_build';
CREATE INDEX items_id_idx ON items (id);
COMMIT;
-- The allow ended with the transaction.
SHOW safe_ddl.allow;
CREATE INDEX items_id_idx2 ON items (id);
-- The allowed statement left a LOG line in the server log (hazard, allow value, current and
-- session user, database, statement).
SELECT count(*) AS log_lines
  FROM regexp_split_to_table(pg_read_file(current_setting('data_directory') || '/../server.log'), E'\n') AS line
 WHERE line LIKE '%safe_ddl: hazard index_build on public.items allowed by safe_ddl.allow = ''index_build'' for user "postgres" (session user "postgres") in database "%": CREATE INDEX items_id_idx ON items (id)%';

-- 'all' allows every hazard.
BEGIN;
SET LOCAL safe_ddl.allow = 'all';
CREATE INDEX items_v2 ON items (v, id);
ROLLBACK;

-- A table created in the same transaction is exempt (nobody else can see it).
BEGIN;
CREATE TABLE fresh AS SELECT g AS id FROM generate_series(1, 1000) g;
CREATE INDEX fresh_id ON fresh (id);
REINDEX TABLE fresh;
COMMIT;
-- ... but not once it is committed.
CREATE INDEX fresh_id2 ON fresh (id);
-- ... even if it was altered earlier in this transaction.
BEGIN;
ALTER TABLE fresh ADD COLUMN x int;
CREATE INDEX fresh_x ON fresh (x);
ROLLBACK;

-- Temporary tables are invisible to other sessions: exempt.
CREATE TEMP TABLE scratch AS SELECT g AS id FROM generate_series(1, 1000) g;
CREATE INDEX scratch_id ON scratch (id);

-- Materialized views are guarded like tables.
CREATE MATERIALIZED VIEW items_mv AS SELECT * FROM items;
CREATE INDEX items_mv_v ON items_mv (v);

-- REINDEX without CONCURRENTLY is refused; with CONCURRENTLY it works.
REINDEX TABLE items;
REINDEX INDEX items_v;
REINDEX TABLE CONCURRENTLY items;
REINDEX INDEX CONCURRENTLY items_v;
REINDEX SCHEMA public;

-- Partitioned tables cannot be indexed CONCURRENTLY: the HINT gives the per-partition recipe.
CREATE TABLE events (id int, at date) PARTITION BY RANGE (at);
CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO events SELECT g, date '2026-01-01' + g % 300 FROM generate_series(1, 1000) g;
CREATE INDEX events_at ON events (at);
-- The recipe works.
CREATE INDEX events_at ON ONLY events (at);
CREATE INDEX CONCURRENTLY events_2026_at ON events_2026 (at);
ALTER INDEX events_at ATTACH PARTITION events_2026_at;
SELECT indexrelid::regclass, indisvalid FROM pg_index WHERE indexrelid = 'events_at'::regclass;

-- safe_ddl.min_table_size exempts small tables (superuser setting).
SET safe_ddl.min_table_size = '1MB';
CREATE INDEX items_small ON items (id, v);
RESET safe_ddl.min_table_size;

-- Names that need quoting are rewritten correctly in the HINT.
CREATE TABLE "Odd Table" ("Some Col" int);
INSERT INTO "Odd Table" VALUES (1);
CREATE INDEX "Odd idx" ON "Odd Table" ("Some Col") WHERE "Some Col" > 0;

-- A missing table is Postgres' error, not ours.
CREATE INDEX nope_idx ON no_such_table (id);

SET safe_ddl.allow = 'drop_table';
DROP TABLE items, fresh, events, "Odd Table" CASCADE;
RESET safe_ddl.allow;
DROP FUNCTION make_index();
