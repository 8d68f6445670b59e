-- The audit trail (issue 19): every refusal, every hazard let through by an allow and every
-- warn-mode WARNING, one row per finding, oldest first. The records live in files under the
-- data directory ($PGDATA/safe_ddl/audit.log and audit.log.1, JSON lines: src/audit/), written
-- outside the statement's transaction, so a refusal (whose transaction rolls back) stays
-- recorded. See docs/audit.md.
--
-- Privileges: superusers, and roles granted SELECT on the view. A function called in a view
-- runs and is checked as the caller, so _audit_entries() checks SELECT on this view itself
-- (42501 "permission denied for view audit_log" otherwise, through the view or called
-- directly); its EXECUTE stays with PUBLIC so that GRANT SELECT on the view is all it takes.
CREATE VIEW @extschema@.audit_log AS
SELECT e.time, e.action, e.hazard, e.subject,
       e.session_user_name, e.current_user_name, e.database_name, e.application_name,
       e.client_addr, e.pid, e.allow, e.inline_allow, e.statement, e.sqlstate, e.message
  FROM @extschema@._audit_entries() e;

COMMENT ON VIEW @extschema@.audit_log IS
  'safe_ddl audit trail: refusals, hazards let through by an allow, warn-mode warnings (docs/audit.md). Readable by superusers and roles granted SELECT on it.';
COMMENT ON FUNCTION @extschema@._audit_entries() IS
  'Internal: the records of the audit files, for the view safe_ddl.audit_log (checks SELECT on it).';

REVOKE ALL ON @extschema@.audit_log FROM PUBLIC;
