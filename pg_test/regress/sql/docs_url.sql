-- safe_ddl.docs_url (issue 16): where every message points for the docs. Default: the docs
-- installed with the extension (<sharedir>/doc/safe_ddl, found from the server's own paths), and
-- the page a message names exists there; a DBA's URL is used as given; only a superuser sets it.
-- (The test clusters set it to 'docs', so the other suites keep saying "See docs/hazards/x.md".)
CREATE TABLE du_orders (id int, customer int);
INSERT INTO du_orders SELECT g, g % 10 FROM generate_series(1, 1000) AS g;
-- The HINT of a refused CREATE INDEX, with the path the messages name replaced by <docs>.
CREATE FUNCTION du_hint(OUT see text, OUT page text) LANGUAGE plpgsql AS $$
DECLARE
  h text;
BEGIN
  CREATE INDEX du_orders_customer ON du_orders (customer);
  RAISE EXCEPTION 'not refused';
EXCEPTION WHEN object_not_in_prerequisite_state THEN
  GET STACKED DIAGNOSTICS h = PG_EXCEPTION_HINT;
  page := substring(h FROM 'See (\S+)$');
  see := replace(substring(h FROM 'See \S+$'), current_setting('safe_ddl.docs_url'), '<docs>');
END $$;
\set VERBOSITY terse

-- ---- the default: the installed docs ------------------------------------------------------------
SELECT boot_val = (SELECT setting FROM pg_config WHERE name = 'SHAREDIR') || '/doc/safe_ddl' AS default_is_installed_docs,
       context
  FROM pg_settings WHERE name = 'safe_ddl.docs_url';
SELECT set_config('safe_ddl.docs_url', boot_val, false) IS NOT NULL AS set_to_default
  FROM pg_settings WHERE name = 'safe_ddl.docs_url';
SELECT see FROM du_hint();
-- the file the message names is there, and is the page of that hazard
SELECT (pg_stat_file(page)).size > 0 AS page_exists,
       pg_read_file(page) LIKE '# `index_build`%' AS is_the_index_build_page
  FROM du_hint();
-- every hazard's page, and the pages other messages name
SELECT h AS missing_page
  FROM unnest(ARRAY['table_rewrite', 'index_build', 'index_drop', 'not_null_scan', 'constraint_validation',
                    'rename', 'drop_column', 'drop_table', 'partition_scan', 'partition_detach', 'large_dml']) AS h
 WHERE pg_stat_file(current_setting('safe_ddl.docs_url') || '/hazards/' || h || '.md', true) IS NULL
UNION ALL
SELECT 'expand-contract.md'
 WHERE pg_stat_file(current_setting('safe_ddl.docs_url') || '/expand-contract.md', true) IS NULL;

-- ---- a DBA's URL, used as given (a trailing slash is not doubled) ----------------------------------
SET safe_ddl.docs_url = 'https://wiki.example.com/safe_ddl/';
SELECT page FROM du_hint();
SET safe_ddl.docs_url = 'https://wiki.example.com/safe_ddl';
SELECT page FROM du_hint();
SELECT substring(hint FROM '\(https://[^)]*\)') AS expand_contract_page
  FROM safe_ddl.check('ALTER TABLE du_orders ALTER COLUMN id TYPE bigint');
RESET safe_ddl.docs_url;
SELECT current_setting('safe_ddl.docs_url') AS from_postgresql_conf;

-- ---- only a superuser sets it ----------------------------------------------------------------------
CREATE ROLE du_app;
GRANT ALL ON SCHEMA public TO du_app;
SET ROLE du_app;
SET safe_ddl.docs_url = 'https://evil.example.com/';
SELECT set_config('safe_ddl.docs_url', 'https://evil.example.com/', false);
BEGIN;
SET LOCAL safe_ddl.docs_url = 'https://evil.example.com/';
ROLLBACK;
ALTER ROLE du_app SET safe_ddl.docs_url = 'https://evil.example.com/';
CREATE FUNCTION du_evil() RETURNS void LANGUAGE sql SET safe_ddl.docs_url = 'https://evil.example.com/' AS 'SELECT';
SHOW safe_ddl.docs_url;
RESET ROLE;
SELECT count(*) AS role_settings FROM pg_db_role_setting WHERE setrole = 'du_app'::regrole;

DROP FUNCTION du_hint();
BEGIN;
SET LOCAL safe_ddl.allow = 'drop_table, in_use';
DROP TABLE du_orders;
COMMIT;
REVOKE ALL ON SCHEMA public FROM du_app;
DROP ROLE du_app;
