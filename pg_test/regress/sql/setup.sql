-- The extension and the roles the other tests use.
CREATE EXTENSION safe_ddl;
SELECT setting, value FROM safe_ddl.status() ORDER BY setting;
CREATE ROLE safe_ddl_app LOGIN;
-- Usage tracking would count every test table as in use (each is used right before it is
-- dropped or renamed), so the other tests run with a zero usage window: drops and renames need
-- only their plain allow. column_usage.sql tests the in-use refusals with real windows.
DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET safe_ddl.usage_window = 0', current_database()); END $$;
