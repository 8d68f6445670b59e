-- safe_ddl.mode, safe_ddl.allow validation, and who may change what.
CREATE TABLE orders AS SELECT g AS id FROM generate_series(1, 1000) g;

-- warn: the statement runs, a WARNING names the hazard.
SET safe_ddl.mode = warn;
CREATE INDEX orders_id_warn ON orders (id);
SELECT count(*) AS created FROM pg_class WHERE relname = 'orders_id_warn';

-- off: silent.
SET safe_ddl.mode = off;
CREATE INDEX orders_id_off ON orders (id);
SELECT value FROM safe_ddl.status() WHERE setting = 'guard_active';
RESET safe_ddl.mode;
SELECT value FROM safe_ddl.status() WHERE setting = 'guard_active';

-- Unknown hazard names are an error at SET time, in any case.
SET safe_ddl.allow = 'index_bild';
SET safe_ddl.allow = 'index_build, nope';
SET safe_ddl.allow = ' INDEX_BUILD ';
SHOW safe_ddl.allow;
RESET safe_ddl.allow;
-- Misspelt settings under the reserved prefix are rejected.
SET safe_ddl.alow = 'index_build';
-- Bad values for the other settings.
SET safe_ddl.mode = 'strict';
SET safe_ddl.lock_timeout = -1;

-- Only superusers may change the mode or the size threshold; anyone may use allow and
-- tighten lock_timeout.
GRANT ALL ON orders TO safe_ddl_app;
SET ROLE safe_ddl_app;
SET safe_ddl.mode = off;
SET safe_ddl.min_table_size = '1GB';
CREATE INDEX orders_app ON orders (id);
BEGIN;
SET LOCAL safe_ddl.allow = 'index_build';
SET LOCAL safe_ddl.lock_timeout = '100ms';
SELECT setting, value FROM safe_ddl.status() WHERE setting IN ('allow', 'lock_timeout') ORDER BY 1;
ROLLBACK;
RESET ROLE;

-- A superuser can set the mode per role (ALTER ROLE ... SET).
ALTER ROLE safe_ddl_app SET safe_ddl.mode = warn;
SELECT rolname, setconfig FROM pg_db_role_setting JOIN pg_roles ON oid = setrole WHERE rolname = 'safe_ddl_app';
ALTER ROLE safe_ddl_app RESET safe_ddl.mode;

SET safe_ddl.allow = 'drop_table';
DROP TABLE orders;
RESET safe_ddl.allow;
