-- Cumulative counters for monitoring (issue 19): what the guard did per hazard, how guarded
-- statements got their locks, what backfills did. The counters live in shared memory
-- (src/metrics/), so they need shared_preload_libraries; without it the view has no rows.
-- Cluster-wide: every database's statements count in the same counters. See docs/metrics.md.

-- One row per metric and labels, the shape Prometheus exporters expect. Every hazard x action
-- row of statements_total is there from the start (0), so every series exists. Counts are not
-- secret (no table, role or statement is named): PUBLIC reads them.
CREATE VIEW @extschema@.metrics AS
SELECT m.metric, m.hazard, m.action, m.value, m.kind, m.description
  FROM @extschema@._metrics() AS m;

COMMENT ON VIEW @extschema@.metrics IS
  'safe_ddl''s cumulative counters, one row per metric and labels (hazard, action); cluster-wide, since '
  'stats_reset_seconds; empty unless safe_ddl is in shared_preload_libraries. See docs/metrics.md.';
GRANT SELECT ON @extschema@.metrics TO PUBLIC;

-- Reset every counter (stats_reset_seconds becomes now). Superusers only: monitoring relies on
-- the counters, and a reset makes every rate jump. _metrics_reset() checks superuser itself too.
CREATE FUNCTION @extschema@.metrics_reset() RETURNS boolean
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT @extschema@._metrics_reset() $$;

COMMENT ON FUNCTION @extschema@.metrics_reset() IS
  'Superusers: zero every counter of safe_ddl.metrics; stats_reset_seconds becomes now. False (with a NOTICE) without shared_preload_libraries.';
REVOKE ALL ON FUNCTION @extschema@.metrics_reset() FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._metrics_reset() FROM PUBLIC;

-- Backfill batches are counted by the job writes (_bf_w_progress, _bf_w_stop) that safe_ddl._state()
-- runs as the extension's owner, from the same values it stores in the job row: not PUBLIC's.
-- A role that runs backfills can make its own job report more than it did (as it can make its
-- job row say so), and so add to the backfill counters, bounded per call; to nothing else
-- (docs/security.md).
REVOKE ALL ON FUNCTION @extschema@._metrics_backfill(bigint, integer, double precision) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@._metrics_backfill(bigint, integer, double precision) IS
  'Internal: add a backfill batch''s rows, the batch and its throttled seconds to safe_ddl.metrics (bounded).';
