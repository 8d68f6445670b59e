-- The audit trail (docs/audit.md) against an unprivileged role: it cannot read the records
-- (through the view, calling the function, or through a view of its own), cannot turn auditing
-- off or shrink the trail, and cannot forge or break a record with its statement text. A role
-- granted SELECT on the view reads them.
CREATE ROLE sec_auditor LOGIN;
CREATE TABLE sec_app.aud_t AS SELECT g AS id FROM generate_series(1, 1000) g;
ALTER TABLE sec_app.aud_t OWNER TO sec_app;
SELECT pg_catalog.clock_timestamp() AS t0 \gset

-- 1. Not readable by PUBLIC.
SELECT has_table_privilege('sec_attacker', 'safe_ddl.audit_log', 'SELECT') AS attacker_may_select;
SET ROLE sec_attacker;
SELECT count(*) FROM safe_ddl.audit_log;
SELECT count(*) FROM safe_ddl._audit_entries();
-- A view of its own runs the function as the attacker, who still lacks SELECT on audit_log.
CREATE VIEW public.aud_steal AS SELECT * FROM safe_ddl._audit_entries();
SELECT count(*) FROM public.aud_steal;
DROP VIEW public.aud_steal;

-- 2. The settings are the server's (PGC_SIGHUP): no session, no per-role or per-database
-- setting, turns auditing off or changes the retention.
\set VERBOSITY terse
SET safe_ddl.audit = off;
SELECT set_config('safe_ddl.audit', 'off', false);
SET safe_ddl.audit_max_size = '8kB';
ALTER ROLE sec_attacker SET safe_ddl.audit = off;
ALTER SYSTEM SET safe_ddl.audit = off;
RESET ROLE;
-- Not even a superuser's session.
SET safe_ddl.audit = off;
ALTER DATABASE postgres SET safe_ddl.audit = off;
\set VERBOSITY default
SELECT name, setting, context FROM pg_settings WHERE name LIKE 'safe_ddl.audit%' ORDER BY 1;

-- 3. A hostile statement text: newlines, quotes, backslashes, "} and a forged record in a
-- comment, odd characters. One record, its text intact, and every line of the file is one
-- well-formed JSON object.
\set VERBOSITY terse
SET ROLE sec_app;
DO $$
BEGIN
  EXECUTE E'CREATE INDEX ON sec_app.aud_t (id) /* "}\n{"v":1,"time":"2000-01-01T00:00:00.000000Z","action":"allowed","hazard":"index_build","subject":"forged","session_user":"postgres","current_user":"postgres","database":"x","application_name":"x","client_addr":null,"pid":1,"allow":"all","inline_allow":null,"statement":"forged","sqlstate":null,"message":null}\n\\" \\\\ \\n \r\t \u2028 \u00e9\u20ac '' */';
END $$;
RESET ROLE;
SELECT action, hazard, subject, session_user_name, current_user_name,
       statement = E'CREATE INDEX ON sec_app.aud_t (id) /* "}\n{"v":1,"time":"2000-01-01T00:00:00.000000Z","action":"allowed","hazard":"index_build","subject":"forged","session_user":"postgres","current_user":"postgres","database":"x","application_name":"x","client_addr":null,"pid":1,"allow":"all","inline_allow":null,"statement":"forged","sqlstate":null,"message":null}\n\\" \\\\ \\n \r\t \u2028 \u00e9\u20ac '' */' AS text_intact
  FROM safe_ddl.audit_log WHERE pid = pg_backend_pid() AND time >= :'t0';
SELECT count(*) AS forged FROM safe_ddl.audit_log WHERE subject = 'forged' OR statement = 'forged';
SELECT count(*) > 0 AS lines,
       count(*) FILTER (WHERE pg_catalog.jsonb_typeof(line::jsonb) = 'object') = count(*) AS all_json_objects,
       count(*) FILTER (WHERE (line::jsonb ->> 'pid')::int = pg_backend_pid()
                          AND (line::jsonb ->> 'time')::timestamptz >= :'t0') AS mine
  FROM regexp_split_to_table(pg_read_file('safe_ddl/audit.log'), E'\n') AS line
 WHERE line <> '';

-- 4. A long statement is cut at 4096 bytes, with a marker giving its whole length.
SELECT pg_catalog.clock_timestamp() AS t1 \gset
SET ROLE sec_app;
DO $$ BEGIN EXECUTE 'CREATE INDEX ON sec_app.aud_t (id) /* ' || repeat('é', 3000) || ' */'; END $$;
RESET ROLE;
\set VERBOSITY default
SELECT octet_length(statement) AS bytes, left(statement, 40) AS head, right(statement, 30) AS tail
  FROM safe_ddl.audit_log WHERE pid = pg_backend_pid() AND time >= :'t1';

-- 5. GRANT SELECT on the view is all an auditor needs (view and function).
GRANT SELECT ON safe_ddl.audit_log TO sec_auditor;
SET ROLE sec_auditor;
SELECT count(*) AS mine FROM safe_ddl.audit_log WHERE pid = pg_backend_pid() AND time >= :'t0';
SELECT count(*) AS mine FROM safe_ddl._audit_entries() WHERE pid = pg_backend_pid() AND time >= :'t0';
RESET ROLE;
REVOKE SELECT ON safe_ddl.audit_log FROM sec_auditor;
DROP ROLE sec_auditor;
SET safe_ddl.allow = 'drop_table';
DROP TABLE sec_app.aud_t;
RESET safe_ddl.allow;
