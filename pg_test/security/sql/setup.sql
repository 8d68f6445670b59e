-- Security suite setup: the extension, and the roles of the threat model (docs/security.md).
--   sec_attacker  a role with only the default privileges (CONNECT, TEMP, and CREATE on public as
--                 on every cluster initialised before PostgreSQL 15 -- granted below)
--   sec_app       an ordinary application role that owns its tables
-- The victim is the superuser postgres running helpers, hooks and check().
CREATE EXTENSION safe_ddl;
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sec_attacker') THEN
        CREATE ROLE sec_attacker LOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sec_app') THEN
        CREATE ROLE sec_app LOGIN;
    END IF;
END $$;
-- As before PostgreSQL 15: every role may create objects in public.
GRANT CREATE ON SCHEMA public TO PUBLIC;
CREATE SCHEMA sec_app AUTHORIZATION sec_app;
SELECT rolname, rolsuper FROM pg_roles WHERE rolname IN ('sec_attacker', 'sec_app') ORDER BY 1;
