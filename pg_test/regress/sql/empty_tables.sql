-- Tables that hold no data (issue 13): a committed table whose main fork was measured at 0 pages
-- (for a partitioned table: every partition's) is exempt from table_rewrite, index_build,
-- not_null_scan, constraint_validation, partition_scan and index_drop, in the hook and in check()
-- alike. One row makes it hold data; DELETE leaves its pages (still data); TRUNCATE empties it.
-- Statements that commit per table (VACUUM FULL) get no such exemption. Populated tables are
-- judged as before (hazards.sql and index_build.sql).
CREATE FUNCTION et_filenode(regclass) RETURNS oid LANGUAGE sql AS 'SELECT relfilenode FROM pg_class WHERE oid = $1';
CREATE FUNCTION et_pages(regclass) RETURNS bigint LANGUAGE sql
  AS $$SELECT pg_relation_size($1) / current_setting('block_size')::bigint$$;
-- What the hook does with a statement: run it in a subtransaction that is always rolled back.
CREATE FUNCTION et_hook(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  BEGIN
    EXECUTE sql;
    RAISE EXCEPTION 'et_rollback';
  EXCEPTION
    WHEN raise_exception THEN
      IF SQLERRM = 'et_rollback' THEN RETURN 'ok'; END IF;
      RETURN 'error: ' || SQLERRM;
    WHEN object_not_in_prerequisite_state THEN
      IF SQLERRM LIKE 'safe_ddl:%' THEN RETURN 'refused'; END IF;
      RETURN 'error: ' || SQLERRM;
  END;
END $$;
CREATE FUNCTION et_check(sql text) RETURNS text LANGUAGE sql AS $$
  SELECT CASE WHEN bool_or(verdict = 'refused') THEN 'refused' ELSE 'ok' END FROM safe_ddl.check(sql)
$$;
-- The relation locks a statement leaves held in its transaction (run, then rolled back).
CREATE FUNCTION et_locks(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE held text;
BEGIN
  BEGIN
    EXECUTE sql;
    SELECT string_agg(c.relname || ' ' || l.mode, ', ' ORDER BY c.relname, l.mode) INTO held
      FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
     WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation' AND c.relname LIKE 'et\_%'
       AND c.relname NOT IN ('et_corpus', 'et_plain_locks', 'et_guarded_locks');
    RAISE EXCEPTION 'et_rollback';
  EXCEPTION
    WHEN raise_exception THEN
      IF SQLERRM = 'et_rollback' THEN RETURN held; END IF;
      RETURN 'error: ' || SQLERRM;
    WHEN others THEN
      RETURN 'error: ' || SQLERRM;
  END;
END $$;

CREATE TABLE et_parent (id int PRIMARY KEY);
INSERT INTO et_parent SELECT g FROM generate_series(1, 10) g;
CREATE TABLE et_t (id int, v int, s text);
CREATE INDEX et_t_v ON et_t (v);  -- on a committed table that holds no data: not refused
CREATE TABLE et_parted (id int, v int) PARTITION BY RANGE (id);
CREATE TABLE et_parted_default PARTITION OF et_parted DEFAULT;
CREATE TABLE et_part (id int, v int);
CREATE TYPE et_pair AS (a int, b int);
CREATE TABLE et_pairs OF et_pair;
CREATE TABLE et_corpus (n int, sql text);
INSERT INTO et_corpus VALUES
 (1, 'ALTER TABLE et_t ALTER COLUMN v TYPE bigint'),
 (2, 'ALTER TABLE et_t ADD COLUMN at timestamptz DEFAULT clock_timestamp()'),
 (3, 'ALTER TABLE et_t ALTER COLUMN s SET NOT NULL'),
 (4, 'ALTER TABLE et_t ADD CONSTRAINT et_t_v_positive CHECK (v > 0)'),
 (5, 'ALTER TABLE et_t ADD CONSTRAINT et_t_parent FOREIGN KEY (id) REFERENCES et_parent (id)'),
 (6, 'CREATE INDEX et_t_s ON et_t (s)'),
 (7, 'CREATE UNIQUE INDEX et_t_id ON et_t (id)'),
 (8, 'ALTER TABLE et_t ADD PRIMARY KEY (id)'),
 (9, 'ALTER TABLE et_t ADD CONSTRAINT et_t_s_key UNIQUE (s)'),
 (10, 'REINDEX TABLE et_t'),
 (11, 'REINDEX INDEX et_t_v'),
 (12, 'CLUSTER et_t USING et_t_v'),
 (13, 'DROP INDEX et_t_v'),
 (14, 'ALTER TABLE et_parted ATTACH PARTITION et_part FOR VALUES FROM (0) TO (100)'),
 (15, 'CREATE INDEX et_parted_v ON et_parted (v)'),
 (16, 'ALTER TABLE et_parted ALTER COLUMN v TYPE bigint'),
 -- A rewrite the hook does not foresee (nor does check()): the table_rewrite backstop judges
 -- the typed table when the rewrite starts, under its ACCESS EXCLUSIVE lock.
 (17, 'ALTER TYPE et_pair ALTER ATTRIBUTE b TYPE bigint CASCADE'),
 (18, 'ALTER TABLE et_parted ADD CONSTRAINT et_parted_uq UNIQUE (v, id)');
CREATE FUNCTION et_verdicts() RETURNS TABLE (n int, sql text, check_verdict text, hook_verdict text)
LANGUAGE sql AS $$SELECT n, sql, et_check(sql), et_hook(sql) FROM et_corpus ORDER BY n$$;

---------------------------------------------------------------- no data: every form passes
SELECT et_pages('et_t') AS et_t_pages, et_pages('et_part') AS et_part_pages,
       et_pages('et_parted_default') AS default_pages, et_pages('et_pairs') AS et_pairs_pages;
SELECT * FROM et_verdicts();
-- VACUUM FULL commits per table, so the guard cannot look again under its lock: still refused.
SELECT hazard, verdict FROM safe_ddl.check('VACUUM FULL et_t');
VACUUM FULL et_t;
-- What check() says about an empty table (no hazard, the table named).
SELECT statement, hazard, verdict, relation FROM safe_ddl.check('CREATE INDEX et_t_s ON et_t (s)');
-- Locking first changes no lock: each statement leaves exactly the locks Postgres takes without
-- safe_ddl (the guard took the statement's own locks, in its modes, before judging again).
SET safe_ddl.mode = off;
CREATE TEMP TABLE et_plain_locks AS SELECT n, et_locks(sql) AS locks FROM et_corpus;
RESET safe_ddl.mode;
SELECT c.n, p.locks FROM et_corpus c JOIN et_plain_locks p USING (n)
 WHERE c.n IN (1, 3, 5, 6, 10, 11, 13, 14, 15) ORDER BY c.n;
CREATE TEMP TABLE et_guarded_locks AS SELECT n, et_locks(sql) AS locks FROM et_corpus;
-- The one difference: ADD UNIQUE on a partitioned table builds the partitions' indexes under
-- SHARE; the guard locks them in the statement's ACCESS EXCLUSIVE first (stronger, not an upgrade).
SELECT n,
       (SELECT string_agg(x, ', ') FROM (SELECT unnest(string_to_array(g.locks, ', '))
                                          EXCEPT SELECT unnest(string_to_array(p.locks, ', '))) d(x)) AS only_with_safe_ddl,
       (SELECT string_agg(x, ', ') FROM (SELECT unnest(string_to_array(p.locks, ', '))
                                          EXCEPT SELECT unnest(string_to_array(g.locks, ', '))) d(x)) AS only_without
  FROM et_plain_locks p JOIN et_guarded_locks g USING (n)
 WHERE g.locks IS DISTINCT FROM p.locks ORDER BY n;
-- The real effect (in a transaction that is rolled back, so the corpus keeps its meaning): the
-- rewrite happened (a new file), the indexes and constraints are valid, the table is still empty.
SELECT et_filenode('et_t') AS et_t_file \gset
BEGIN;
ALTER TABLE et_t ALTER COLUMN v TYPE bigint;
SELECT et_filenode('et_t') <> :et_t_file AS rewritten,
       (SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'et_t'::regclass AND attname = 'v') AS v_type;
CREATE INDEX et_t_s ON et_t (s);
ALTER TABLE et_t ADD PRIMARY KEY (id), ALTER COLUMN s SET NOT NULL,
                 ADD CONSTRAINT et_t_parent FOREIGN KEY (id) REFERENCES et_parent (id);
ALTER TABLE et_parted ATTACH PARTITION et_part FOR VALUES FROM (0) TO (100);
CREATE INDEX et_parted_v ON et_parted (v);
SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
 WHERE i.indrelid IN ('et_t'::regclass, 'et_parted'::regclass, 'et_part'::regclass, 'et_parted_default'::regclass)
 ORDER BY 1;
SELECT conname, convalidated FROM pg_constraint WHERE conrelid = 'et_t'::regclass ORDER BY 1;
DROP INDEX et_t_v;
SELECT count(*) AS et_t_v_left FROM pg_class WHERE relname = 'et_t_v';
SELECT et_pages('et_t') AS et_t_pages;
ROLLBACK;

---------------------------------------------------------------- one row: every form refused
INSERT INTO et_t VALUES (1, 1, 'a');
INSERT INTO et_part VALUES (1, 1);
INSERT INTO et_parted VALUES (1000, 1);  -- into the default partition
INSERT INTO et_pairs VALUES (1, 1);
SELECT et_pages('et_t') AS et_t_pages, et_pages('et_part') AS et_part_pages,
       et_pages('et_parted_default') AS default_pages, et_pages('et_pairs') AS et_pairs_pages;
SELECT * FROM et_verdicts();
-- The refusal says how big the table is.
\set VERBOSITY default
CREATE INDEX et_t_s ON et_t (s);
\set VERBOSITY terse
ALTER TYPE et_pair ALTER ATTRIBUTE b TYPE bigint CASCADE;
-- The override still takes the lock (one per hazard; hazards.sql has the rest).
BEGIN;
SET LOCAL safe_ddl.allow = 'index_build';
CREATE INDEX et_t_s ON et_t (s);
ROLLBACK;
BEGIN;
SET LOCAL safe_ddl.allow = 'index_drop';
DROP INDEX et_t_v;
ROLLBACK;

---------------------------------------------------------------- DELETE leaves the pages: still refused
DELETE FROM et_t;
DELETE FROM et_part;
DELETE FROM et_parted;
DELETE FROM et_pairs;
SELECT count(*) AS rows, et_pages('et_t') AS et_t_pages FROM et_t;
SELECT * FROM et_verdicts();

---------------------------------------------------------------- TRUNCATE empties it again
TRUNCATE et_t, et_part, et_parted, et_pairs;
SELECT et_pages('et_t') AS et_t_pages, et_pages('et_part') AS et_part_pages,
       et_pages('et_parted_default') AS default_pages, et_pages('et_pairs') AS et_pairs_pages;
SELECT * FROM et_verdicts();

---------------------------------------------------------------- partitions
-- One row in any partition: the partitioned table holds data.
INSERT INTO et_parted VALUES (1000, 1);
SELECT hazard, verdict, relation FROM safe_ddl.check('CREATE INDEX et_parted_v ON et_parted (v)');
TRUNCATE et_parted;
SELECT hazard, verdict, relation FROM safe_ddl.check('CREATE INDEX et_parted_v ON et_parted (v)');

---------------------------------------------------------------- inheritance
-- A plain table with inheritance children is not exempt: ALTER TABLE would scan or rewrite the
-- children too.
CREATE TABLE et_inh_parent (id int);
CREATE TABLE et_inh_child () INHERITS (et_inh_parent);
INSERT INTO et_inh_child VALUES (1);
SELECT et_pages('et_inh_parent') AS parent_pages, hazard, verdict
  FROM safe_ddl.check('ALTER TABLE et_inh_parent ALTER COLUMN id TYPE bigint');

---------------------------------------------------------------- in the same transaction
-- Rows this transaction wrote count too (the file grows at INSERT, before COMMIT), and an
-- aborted INSERT leaves its page behind: data until TRUNCATE.
BEGIN;
INSERT INTO et_t VALUES (1, 1, 'a');
CREATE INDEX et_t_s ON et_t (s);
ROLLBACK;
SELECT count(*) AS rows, et_pages('et_t') AS et_t_pages_after_rollback FROM et_t;
SELECT hazard, verdict FROM safe_ddl.check('CREATE INDEX et_t_s ON et_t (s)');

---------------------------------------------------------------- clean up
TRUNCATE et_t;
SET safe_ddl.allow = 'drop_table';
DROP TABLE et_t, et_parent, et_parted, et_part, et_pairs, et_corpus, et_inh_parent, et_inh_child;
RESET safe_ddl.allow;
DROP TYPE et_pair;
DROP FUNCTION et_verdicts(), et_hook(text), et_check(text), et_locks(text), et_filenode(regclass), et_pages(regclass);
