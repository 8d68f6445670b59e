-- Hand-written SQL run at the end of CREATE EXTENSION safe_ddl.

COMMENT ON FUNCTION @extschema@.status() IS
  'Is the safe_ddl guard active in this backend, how was it loaded, and the effective settings.';
COMMENT ON FUNCTION @extschema@._preload_notice() IS
  'Internal: raises a WARNING during CREATE EXTENSION when the library is not preloaded.';

-- Anyone may look at the guard's status.
GRANT USAGE ON SCHEMA @extschema@ TO PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._preload_notice() FROM PUBLIC;

-- Say so when the guard will not protect other sessions.
SELECT @extschema@._preload_notice();
