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

-- The table_rewrite backstop: whatever the hook's classifier missed, no existing table is
-- rewritten without safe_ddl.allow = 'table_rewrite' (see docs/hazards/table_rewrite.md).
-- It fires inside the DDL of whoever runs it (a superuser, often): search_path is pinned and
-- every function is qualified besides (docs/security.md).
CREATE FUNCTION @extschema@._rewrite_backstop() RETURNS event_trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM @extschema@._rewrite_backstop_check(pg_catalog.pg_event_trigger_table_rewrite_oid(),
                                              pg_catalog.pg_event_trigger_table_rewrite_reason(),
                                              tg_tag);
END
$$;
COMMENT ON FUNCTION @extschema@._rewrite_backstop() IS
  'Event trigger function: refuses table rewrites the safe_ddl hook did not foresee.';
CREATE EVENT TRIGGER safe_ddl_rewrite_backstop ON table_rewrite
  EXECUTE FUNCTION @extschema@._rewrite_backstop();
