-- The extension and the roles the other tests use.
CREATE EXTENSION safe_ddl;
SELECT setting, value FROM safe_ddl.status() ORDER BY setting;
CREATE ROLE safe_ddl_app LOGIN;
