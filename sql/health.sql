-- safe_ddl.health(): replication lag, dead tuples, xmin horizon, long transactions, invalid indexes.
-- (Written as PL/pgSQL so reviewers can read it; loaded by CREATE EXTENSION. See docs/health.md.)
--
-- One row per finding: (section, subject, metric, value, detail), sections in this order:
--   replication   standbys connected to this server, their state and lag; inactive slots
--   relation      only with a relation: tuples, dead ratio, (auto)vacuum/analyze, vacuum running
--   xmin_horizon  the oldest transaction, replication slot and prepared transactions holding
--                 back the horizon below which vacuum may not remove dead rows
--   sessions      long-running transactions and idle-in-transaction sessions
--   indexes       INVALID indexes (failed concurrent builds) with the statement to drop them
-- `value` is short and machine-readable (a number, an interval, yes/no); `detail` says what it
-- means and what to do.
--
-- It runs with the caller's privileges (SECURITY INVOKER, the default) and reports what the
-- caller may see. Everyone sees pids, users, databases, application names and backend_xmin /
-- backend_xid in pg_stat_activity, pg_locks, pg_replication_slots, pg_prepared_xacts and the
-- catalogs; the state, query and timestamps of other users' sessions, the details of
-- pg_stat_replication and of vacuum progress need pg_read_all_stats, and the report says where
-- they were hidden.
--
-- Cheap and never blocking: it reads shared-memory views and the catalogs, never opens or locks
-- a relation (no pg_relation_size(), no pg_partition_tree(): both lock), and a session that ends
-- meanwhile cannot make it fail: pg_stat_activity and the progress views are read from one local
-- snapshot (pg_stat_clear_snapshot() first, so the numbers are fresh even inside a long
-- transaction; this discards the caller's own statistics snapshot).
--
-- search_path is pinned to pg_catalog, pg_temp: operators without an exact match in pg_catalog
-- (numeric > int, ...) would otherwise pick one that any role with CREATE on a schema of the
-- caller's search_path defined there (docs/security.md). Every catalog relation and function is
-- schema-qualified with pg_catalog as well, so nothing depends on search_path (GREATEST, LEAST, COALESCE and NULLIF are syntax, not functions: they cannot
-- be qualified); `#variable_conflict use_column` because the parameters share names with
-- catalog columns (pg_locks.relation).

CREATE FUNCTION @extschema@.health(
    relation   pg_catalog.regclass DEFAULT NULL,
    long_after interval            DEFAULT '1 min'
)
RETURNS TABLE (
    section text,
    subject text,
    metric  text,
    value   text,
    detail  text
)
LANGUAGE plpgsql
VOLATILE
SECURITY INVOKER
ROWS 20
-- The view joins are estimated far above jit_above_cost; JIT would cost more than the query.
SET jit = off
SET search_path = pg_catalog, pg_temp
AS $health$
#variable_conflict use_column
DECLARE
    in_recovery boolean := pg_catalog.pg_is_in_recovery();
    -- the end of WAL here: what standbys must reach. pg_current_wal_lsn() raises an ERROR
    -- during recovery; a standby serves cascading standbys up to what it has replayed.
    cur_lsn     pg_catalog.pg_lsn;
    -- may the caller see other users' session state (HAS_PGSTAT_PERMISSIONS)?
    all_stats   boolean := pg_catalog.pg_has_role('pg_read_all_stats', 'USAGE');
    this_db     oid := (SELECT d.oid FROM pg_catalog.pg_database AS d
                         WHERE d.datname = pg_catalog.current_database());
    -- Our own session holds back the horizon only if our transaction began before this
    -- statement and has an xid or a transaction snapshot (in READ COMMITTED, our backend_xmin
    -- is this statement's own snapshot).
    own_old     boolean := pg_catalog.now() < pg_catalog.statement_timestamp()
                           AND (pg_catalog.pg_current_xact_id_if_assigned() IS NOT NULL
                                OR pg_catalog.current_setting('transaction_isolation') <> 'read committed');
    stmt_ts     timestamptz := pg_catalog.statement_timestamp();
    rel_kind    "char";
    rel_name    text;
    rels        oid[];
    hidden      bigint;
    n           bigint;
BEGIN
    PERFORM pg_catalog.pg_stat_clear_snapshot();

    IF in_recovery THEN
        cur_lsn := COALESCE(pg_catalog.pg_last_wal_replay_lsn(), pg_catalog.pg_last_wal_receive_lsn());
    ELSE
        cur_lsn := pg_catalog.pg_current_wal_lsn();
    END IF;

    ---------------------------------------------------------------- replication
    IF in_recovery THEN
        RETURN QUERY
        SELECT 'replication', 'this server', 'in_recovery', 'yes',
               pg_catalog.format(
                 'this server is a standby; last replayed transaction committed %s ago on the primary%s',
                 COALESCE(pg_catalog.date_trunc('second', stmt_ts
                            - pg_catalog.pg_last_xact_replay_timestamp())::text, '(none yet)'),
                 CASE WHEN pg_catalog.pg_is_wal_replay_paused() THEN '; replay is PAUSED (pg_wal_replay_resume())'
                      ELSE '' END);
    END IF;

    SELECT pg_catalog.count(*) INTO n FROM pg_catalog.pg_stat_replication AS r;
    RETURN QUERY
    SELECT 'replication', NULL::text, 'standbys', n::text,
           CASE WHEN n = 0 THEN 'no standby is connected (pg_stat_replication is empty)'
                ELSE pg_catalog.format('%s standby(s) connected; one row per standby and metric follows', n)
           END;

    RETURN QUERY
    WITH s AS (
        SELECT r.pid, r.application_name, r.client_addr, r.state, r.sync_state, r.backend_start,
               r.sent_lsn, r.write_lsn, r.flush_lsn, r.replay_lsn,
               r.write_lag, r.flush_lag, r.replay_lag, r.reply_time,
               pg_catalog.format('%s (pid %s, %s)',
                                 COALESCE(NULLIF(r.application_name, ''), 'standby'), r.pid,
                                 COALESCE(pg_catalog.host(r.client_addr),
                                          CASE WHEN r.state IS NULL THEN 'address hidden'
                                               ELSE 'local socket' END)) AS who,
               pg_catalog.pg_wal_lsn_diff(cur_lsn, r.replay_lsn)::bigint AS lag_bytes
          FROM pg_catalog.pg_stat_replication AS r
    )
    SELECT 'replication', s.who, m.metric, m.value, m.detail
      FROM s
     CROSS JOIN LATERAL (VALUES
        (1, 'state', s.state,
         CASE WHEN s.state IS NULL
              THEN 'details hidden: they need pg_read_all_stats'
              ELSE pg_catalog.format('%s standby, connected %s ago%s', s.sync_state,
                     pg_catalog.date_trunc('second', stmt_ts - s.backend_start),
                     CASE WHEN s.state <> 'streaming'
                          THEN '; not streaming yet: it is catching up or starting' ELSE '' END)
         END),
        (2, 'replay_lag_bytes', s.lag_bytes::text,
         CASE WHEN s.state IS NULL THEN 'details hidden: they need pg_read_all_stats'
              WHEN s.replay_lsn IS NULL THEN 'the standby has not reported a replay position yet'
              ELSE pg_catalog.format(
                     '%s of WAL not replayed yet (not sent: %s, sent but not flushed: %s, flushed but not replayed: %s)',
                     pg_catalog.pg_size_pretty(s.lag_bytes::numeric),
                     pg_catalog.pg_size_pretty(pg_catalog.pg_wal_lsn_diff(cur_lsn, s.sent_lsn)),
                     pg_catalog.pg_size_pretty(pg_catalog.pg_wal_lsn_diff(s.sent_lsn, s.flush_lsn)),
                     pg_catalog.pg_size_pretty(pg_catalog.pg_wal_lsn_diff(s.flush_lsn, s.replay_lsn)))
         END),
        (3, 'replay_lag', s.replay_lag::text,
         CASE WHEN s.state IS NULL THEN 'details hidden: they need pg_read_all_stats'
              WHEN s.replay_lag IS NULL
              THEN 'no measurement: the standby is caught up and no new WAL was written lately'
              ELSE pg_catalog.format('time from a commit here to its replay there, as of the standby''s last reply %s ago (an idle standby replies every wal_receiver_status_interval, so a stuck replay shows here late; replay_lag_bytes grows at once); write_lag %s, flush_lag %s',
                                     pg_catalog.date_trunc('second', stmt_ts - s.reply_time),
                                     s.write_lag, s.flush_lag)
         END)
     ) AS m(ord, metric, value, detail)
     ORDER BY s.application_name, s.pid, m.ord;

    -- Slots nobody consumes keep WAL (and, with an xmin, dead rows) until they are dropped.
    RETURN QUERY
    SELECT 'replication', sl.slot_name::text, 'inactive_slot',
           pg_catalog.pg_wal_lsn_diff(cur_lsn, sl.restart_lsn)::bigint::text,
           pg_catalog.format(
             '%s slot%s not in use; it retains %s of WAL (wal_status %s)%s. If its consumer is gone: SELECT pg_catalog.pg_drop_replication_slot(%L);',
             sl.slot_type,
             CASE WHEN sl.database IS NOT NULL THEN ' of database ' || sl.database ELSE '' END,
             COALESCE(pg_catalog.pg_size_pretty(pg_catalog.pg_wal_lsn_diff(cur_lsn, sl.restart_lsn)), 'no'),
             COALESCE(sl.wal_status, 'unknown'),
             CASE WHEN sl.xmin IS NOT NULL OR sl.catalog_xmin IS NOT NULL
                  THEN ' and holds back the xmin horizon' ELSE '' END,
             sl.slot_name)
      FROM pg_catalog.pg_replication_slots AS sl
     WHERE NOT sl.active
     ORDER BY sl.slot_name;

    ---------------------------------------------------------------- relation
    IF health.relation IS NOT NULL THEN
        SELECT c.relkind, pg_catalog.format('%I.%I', ns.nspname, c.relname)
          INTO rel_kind, rel_name
          FROM pg_catalog.pg_class AS c
          JOIN pg_catalog.pg_namespace AS ns ON ns.oid = c.relnamespace
         WHERE c.oid = health.relation;

        IF rel_kind IS NULL OR rel_kind NOT IN ('r', 'm', 't', 'p') THEN
            RETURN QUERY
            SELECT 'relation', COALESCE(rel_name, health.relation::oid::text), 'not_a_table', NULL::text,
                   CASE WHEN rel_kind IS NULL THEN 'the relation no longer exists'
                        ELSE 'not a table, materialized view or TOAST table: it has no vacuum statistics'
                   END;
        ELSIF rel_kind = 'p' THEN
            -- pg_inherits, not pg_partition_tree() (which locks every partition).
            WITH RECURSIVE tree(oid) AS (
                SELECT i.inhrelid FROM pg_catalog.pg_inherits AS i WHERE i.inhparent = health.relation
                UNION
                SELECT i.inhrelid FROM tree AS t JOIN pg_catalog.pg_inherits AS i ON i.inhparent = t.oid
            ),
            leaves AS (
                SELECT c.oid, pg_catalog.pg_stat_get_dead_tuples(c.oid) AS dead
                  FROM tree AS t
                  JOIN pg_catalog.pg_class AS c ON c.oid = t.oid AND c.relkind IN ('r', 'm')
            )
            SELECT ARRAY(SELECT l.oid FROM leaves AS l ORDER BY l.dead DESC, l.oid LIMIT 5)
              INTO rels;

            RETURN QUERY
            WITH RECURSIVE tree(oid) AS (
                SELECT i.inhrelid FROM pg_catalog.pg_inherits AS i WHERE i.inhparent = health.relation
                UNION
                SELECT i.inhrelid FROM tree AS t JOIN pg_catalog.pg_inherits AS i ON i.inhparent = t.oid
            ),
            sums AS (
                SELECT pg_catalog.count(*) AS parts,
                       COALESCE(pg_catalog.sum(pg_catalog.pg_stat_get_live_tuples(c.oid)), 0) AS live,
                       COALESCE(pg_catalog.sum(pg_catalog.pg_stat_get_dead_tuples(c.oid)), 0) AS dead
                  FROM tree AS t
                  JOIN pg_catalog.pg_class AS c ON c.oid = t.oid AND c.relkind IN ('r', 'm')
            )
            SELECT 'relation', rel_name, 'partitions', x.parts::text,
                   pg_catalog.format(
                     'partitioned table: over its %s leaf partitions %s live and %s dead tuples (dead ratio %s); the rows below are for the %s with the most dead tuples',
                     x.parts, x.live, x.dead,
                     CASE WHEN x.live + x.dead > 0
                          THEN pg_catalog.round(x.dead / (x.live + x.dead), 4) ELSE 0 END,
                     LEAST(x.parts, 5))
              FROM sums AS x;
        ELSE
            rels := ARRAY[health.relation::oid];
        END IF;

        IF rels IS NOT NULL THEN
            RETURN QUERY
            WITH t AS (
                SELECT r.ord, c.oid,
                       pg_catalog.format('%I.%I', ns.nspname, c.relname) AS name,
                       c.reltuples,
                       -- The functions behind pg_stat_all_tables / pg_stat_user_tables, called for
                       -- these tables only: the view aggregates over every table of the database
                       -- before its relid can be matched against a computed list.
                       pg_catalog.pg_stat_get_live_tuples(c.oid) AS n_live_tup,
                       pg_catalog.pg_stat_get_dead_tuples(c.oid) AS n_dead_tup,
                       pg_catalog.pg_stat_get_mod_since_analyze(c.oid) AS n_mod_since_analyze,
                       pg_catalog.pg_stat_get_ins_since_vacuum(c.oid) AS n_ins_since_vacuum,
                       pg_catalog.pg_stat_get_last_vacuum_time(c.oid) AS last_vacuum,
                       pg_catalog.pg_stat_get_last_autovacuum_time(c.oid) AS last_autovacuum,
                       pg_catalog.pg_stat_get_last_analyze_time(c.oid) AS last_analyze,
                       pg_catalog.pg_stat_get_last_autoanalyze_time(c.oid) AS last_autoanalyze,
                       pg_catalog.pg_stat_get_vacuum_count(c.oid) AS vacuum_count,
                       pg_catalog.pg_stat_get_autovacuum_count(c.oid) AS autovacuum_count,
                       pg_catalog.pg_stat_get_analyze_count(c.oid) AS analyze_count,
                       pg_catalog.pg_stat_get_autoanalyze_count(c.oid) AS autoanalyze_count,
                       (SELECT o.option_value::boolean FROM pg_catalog.pg_options_to_table(c.reloptions) AS o
                         WHERE o.option_name = 'autovacuum_enabled') AS av_enabled,
                       (SELECT o.option_value::float8 FROM pg_catalog.pg_options_to_table(c.reloptions) AS o
                         WHERE o.option_name = 'autovacuum_vacuum_threshold') AS vac_base,
                       (SELECT o.option_value::float8 FROM pg_catalog.pg_options_to_table(c.reloptions) AS o
                         WHERE o.option_name = 'autovacuum_vacuum_scale_factor') AS vac_scale,
                       (SELECT o.option_value::float8 FROM pg_catalog.pg_options_to_table(c.reloptions) AS o
                         WHERE o.option_name = 'autovacuum_analyze_threshold') AS an_base,
                       (SELECT o.option_value::float8 FROM pg_catalog.pg_options_to_table(c.reloptions) AS o
                         WHERE o.option_name = 'autovacuum_analyze_scale_factor') AS an_scale
                  FROM pg_catalog.unnest(rels) WITH ORDINALITY AS r(oid, ord)
                  JOIN pg_catalog.pg_class AS c ON c.oid = r.oid
                  JOIN pg_catalog.pg_namespace AS ns ON ns.oid = c.relnamespace
            ),
            u AS (
                SELECT t.*,
                       CASE WHEN COALESCE(t.n_live_tup, 0) + COALESCE(t.n_dead_tup, 0) > 0
                            THEN pg_catalog.round(t.n_dead_tup::numeric / (t.n_live_tup + t.n_dead_tup), 4)
                            ELSE 0 END AS ratio,
                       pg_catalog.round((COALESCE(t.vac_base, pg_catalog.current_setting('autovacuum_vacuum_threshold')::float8)
                         + COALESCE(t.vac_scale, pg_catalog.current_setting('autovacuum_vacuum_scale_factor')::float8)
                           * GREATEST(t.reltuples, 0))::numeric) AS vac_at,
                       pg_catalog.round((COALESCE(t.an_base, pg_catalog.current_setting('autovacuum_analyze_threshold')::float8)
                         + COALESCE(t.an_scale, pg_catalog.current_setting('autovacuum_analyze_scale_factor')::float8)
                           * GREATEST(t.reltuples, 0))::numeric) AS an_at,
                       CASE WHEN NOT pg_catalog.current_setting('autovacuum')::boolean
                            THEN 'autovacuum is off for the whole server (autovacuum = off)'
                            WHEN NOT pg_catalog.current_setting('track_counts')::boolean
                            THEN 'autovacuum cannot work: track_counts = off'
                            WHEN NOT COALESCE(t.av_enabled, true)
                            THEN 'autovacuum is disabled on this table (autovacuum_enabled = false)'
                       END AS av_off,
                       v.pid AS v_pid, v.is_auto AS v_auto, v.phase AS v_phase,
                       v.heap_blks_total AS v_total, v.heap_blks_scanned AS v_scanned,
                       v.xact_start AS v_start, v.query AS v_query
                  FROM t
                  -- A vacuum running on it now. Without pg_read_all_stats the progress row of
                  -- another user's (or autovacuum's) VACUUM has relid NULL: then the
                  -- ShareUpdateExclusiveLock it holds on the table (pg_locks is public) says which,
                  -- and an autovacuum worker is the only such backend without a user (usesysid,
                  -- visible to all, is NULL for it; its backend_type is hidden).
                  LEFT JOIN LATERAL (
                      SELECT p.pid, p.phase, p.heap_blks_total, p.heap_blks_scanned,
                             COALESCE(a.backend_type = 'autovacuum worker', a.usesysid IS NULL) AS is_auto,
                             a.xact_start, a.query
                        FROM pg_catalog.pg_stat_progress_vacuum AS p
                        LEFT JOIN pg_catalog.pg_stat_activity AS a ON a.pid = p.pid
                       WHERE p.datid = this_db
                         AND (p.relid = t.oid
                              OR (p.relid IS NULL
                                  AND EXISTS (SELECT FROM pg_catalog.pg_locks AS l
                                               WHERE l.pid = p.pid AND l.locktype = 'relation'
                                                 AND l.database = this_db AND l.relation = t.oid
                                                 AND l.mode = 'ShareUpdateExclusiveLock' AND l.granted)))
                       ORDER BY 5 DESC NULLS LAST, p.pid
                       LIMIT 1
                  ) AS v ON true
            )
            SELECT 'relation', u.name, m.metric, m.value, m.detail
              FROM u
             CROSS JOIN LATERAL (VALUES
                (1, 'live_tuples', u.n_live_tup::text,
                 CASE WHEN u.n_live_tup = 0 AND u.n_dead_tup = 0 AND u.n_mod_since_analyze = 0
                      THEN 'no statistics for this table yet (or it is empty and untouched)'
                      ELSE pg_catalog.format('live row versions (statistics); the planner''s estimate, pg_class.reltuples: %s',
                                             CASE WHEN u.reltuples < 0 THEN 'none, never vacuumed or analyzed'
                                                  ELSE u.reltuples::text END) END),
                (2, 'dead_tuples', u.n_dead_tup::text,
                 pg_catalog.format('%s; autovacuum vacuums it once dead tuples exceed %s (autovacuum_vacuum_threshold + autovacuum_vacuum_scale_factor x reltuples)%s',
                   CASE WHEN COALESCE(u.n_dead_tup, 0) > 0
                        THEN 'row versions deleted or updated away, not yet removed by vacuum'
                        ELSE 'no dead row versions' END,
                   u.vac_at,
                   COALESCE('; ' || u.av_off, ''))),
                (3, 'dead_ratio', u.ratio::text,
                 pg_catalog.format('dead / (live + dead)%s',
                   CASE WHEN COALESCE(u.n_dead_tup, 0) <= u.vac_at THEN ''
                        WHEN u.av_off IS NOT NULL
                        THEN '; above autovacuum''s threshold, but ' || u.av_off || ': run VACUUM (not FULL) on it'
                        ELSE '; above autovacuum''s threshold: autovacuum should vacuum it within autovacuum_naptime; if it stays high after a vacuum, something holds back the xmin horizon (see xmin_horizon)'
                   END)),
                (4, 'last_vacuum',
                 COALESCE(pg_catalog.date_trunc('second', stmt_ts - u.last_vacuum)::text || ' ago', 'never'),
                 pg_catalog.format('manual VACUUM: %s times%s', COALESCE(u.vacuum_count, 0),
                                   COALESCE(', last at ' || u.last_vacuum, ''))),
                (5, 'last_autovacuum',
                 COALESCE(pg_catalog.date_trunc('second', stmt_ts - u.last_autovacuum)::text || ' ago', 'never'),
                 pg_catalog.format('autovacuum: %s times%s; %s rows inserted since the last vacuum%s',
                                   COALESCE(u.autovacuum_count, 0), COALESCE(', last at ' || u.last_autovacuum, ''),
                                   COALESCE(u.n_ins_since_vacuum, 0), COALESCE('; ' || u.av_off, ''))),
                (6, 'last_analyze',
                 COALESCE(pg_catalog.date_trunc('second', stmt_ts - u.last_analyze)::text || ' ago', 'never'),
                 pg_catalog.format('manual ANALYZE: %s times%s', COALESCE(u.analyze_count, 0),
                                   COALESCE(', last at ' || u.last_analyze, ''))),
                (7, 'last_autoanalyze',
                 COALESCE(pg_catalog.date_trunc('second', stmt_ts - u.last_autoanalyze)::text || ' ago', 'never'),
                 pg_catalog.format('autoanalyze: %s times%s; %s rows changed since the last analyze, autoanalyze runs after %s%s',
                                   COALESCE(u.autoanalyze_count, 0), COALESCE(', last at ' || u.last_autoanalyze, ''),
                                   COALESCE(u.n_mod_since_analyze, 0), u.an_at, COALESCE('; ' || u.av_off, ''))),
                (8, 'autovacuum_running',
                 CASE WHEN u.v_pid IS NULL THEN 'no'
                      WHEN u.v_auto THEN 'yes'
                      ELSE 'no' END,
                 CASE WHEN u.v_pid IS NULL
                      THEN 'no vacuum is running on it' || COALESCE('; ' || u.av_off, '')
                      WHEN u.v_phase IS NULL
                      THEN pg_catalog.format('%s pid %s is vacuuming it; its progress needs pg_read_all_stats',
                             CASE WHEN u.v_auto THEN 'autovacuum' ELSE 'no autovacuum, but a manual VACUUM by' END, u.v_pid)
                      ELSE pg_catalog.format('%s pid %s, phase %s, heap blocks scanned %s of %s, running for %s%s',
                             CASE WHEN u.v_auto THEN 'autovacuum' ELSE 'no autovacuum, but a manual VACUUM by' END,
                             u.v_pid, u.v_phase, u.v_scanned, u.v_total,
                             COALESCE(pg_catalog.date_trunc('second', stmt_ts - u.v_start)::text, '?'),
                             CASE WHEN u.v_query LIKE '%to prevent wraparound%'
                                  THEN ' (to prevent wraparound: it does not give way to conflicting locks, so DDL on the table waits for it; let it finish)'
                                  ELSE '' END)
                 END)
             ) AS m(ord, metric, value, detail)
             ORDER BY u.ord, m.ord;
        END IF;
    END IF;

    ---------------------------------------------------------------- xmin_horizon
    -- Sessions whose snapshot (backend_xmin) or transaction id (backend_xid) keeps vacuum from
    -- removing dead rows in this database: those of this database, plus walsenders that carry a
    -- standby's hot_standby_feedback (no database: they hold back every database). Lazy VACUUMs
    -- do not count (Postgres ignores them), nor does our own session unless own_old.
    -- backend_xmin/backend_xid are visible to everyone.
    RETURN QUERY
    WITH cand AS (
        SELECT a.pid, a.usename, a.datname, a.application_name, a.backend_type, a.state,
               a.xact_start, a.query_start, a.query, a.backend_xid, a.backend_xmin,
               GREATEST(pg_catalog.age(a.backend_xid), pg_catalog.age(a.backend_xmin)) AS xid_age
          FROM pg_catalog.pg_stat_activity AS a
         WHERE (a.backend_xid IS NOT NULL OR a.backend_xmin IS NOT NULL)
           AND (a.datid = this_db OR a.datid IS NULL)
           AND (a.pid <> pg_catalog.pg_backend_pid() OR own_old)
           AND a.pid NOT IN (SELECT p.pid FROM pg_catalog.pg_stat_progress_vacuum AS p)
    ),
    oldest AS (
        SELECT * FROM cand AS c ORDER BY c.xid_age DESC, c.pid LIMIT 1
    )
    SELECT 'xmin_horizon',
           CASE WHEN o.pid IS NULL THEN NULL::text
                WHEN o.pid = pg_catalog.pg_backend_pid() THEN pg_catalog.format('pid %s (this session)', o.pid)
                ELSE pg_catalog.format('pid %s', o.pid) END,
           'oldest_transaction',
           COALESCE(o.xid_age::text, 'none'),
           CASE WHEN o.pid IS NULL
                THEN 'no session holds back the xmin horizon'
                WHEN o.backend_type = 'walsender'
                THEN pg_catalog.format('walsender for %s: xmin sent by the standby (hot_standby_feedback), held by queries running on the standby; age in transactions',
                                       COALESCE(NULLIF(o.application_name, ''), 'a standby'))
                ELSE pg_catalog.format('age in transactions of its %s (vacuum keeps every row version that died after it); user %s, database %s, application %s, %s',
                       CASE WHEN o.backend_xid IS NOT NULL THEN 'transaction id' ELSE 'snapshot' END,
                       COALESCE(o.usename::text, '?'), COALESCE(o.datname::text, '-'),
                       COALESCE(NULLIF(o.application_name, ''), '-'),
                       CASE WHEN o.state IS NULL AND o.backend_type IS NULL
                            THEN 'state, transaction start and query hidden (need pg_read_all_stats)'
                            ELSE pg_catalog.format('state %s, transaction open %s, query started %s ago: %s',
                                   o.state,
                                   COALESCE(pg_catalog.date_trunc('second', stmt_ts - o.xact_start)::text, '?'),
                                   COALESCE(pg_catalog.date_trunc('second', stmt_ts - o.query_start)::text, '?'),
                                   pg_catalog.left(pg_catalog.regexp_replace(pg_catalog.regexp_replace(COALESCE(o.query, ''), '\s+', ' ', 'g'), '[ ;]+$', ''), 100))
                       END)
           END
      FROM (SELECT 1) AS one
      LEFT JOIN oldest AS o ON true;

    -- The replication slot with the oldest xmin or catalog_xmin (cluster-wide).
    RETURN QUERY
    WITH held AS (
        SELECT sl.slot_name, sl.slot_type, sl.database, sl.active, sl.active_pid, sl.xmin, sl.catalog_xmin,
               GREATEST(pg_catalog.age(sl.xmin), pg_catalog.age(sl.catalog_xmin)) AS xid_age
          FROM pg_catalog.pg_replication_slots AS sl
         WHERE sl.xmin IS NOT NULL OR sl.catalog_xmin IS NOT NULL
    ),
    oldest AS (
        SELECT * FROM held AS h ORDER BY h.xid_age DESC, h.slot_name LIMIT 1
    )
    SELECT 'xmin_horizon', o.slot_name::text, 'oldest_slot', COALESCE(o.xid_age::text, 'none'),
           CASE WHEN o.slot_name IS NULL
                THEN 'no replication slot holds back the xmin horizon'
                ELSE pg_catalog.format('%s slot%s, %s; xmin age %s (holds back every table), catalog_xmin age %s (holds back the system catalogs)%s',
                       o.slot_type,
                       CASE WHEN o.database IS NOT NULL THEN ' of database ' || o.database ELSE '' END,
                       CASE WHEN o.active THEN 'in use by pid ' || o.active_pid ELSE 'NOT in use' END,
                       COALESCE(pg_catalog.age(o.xmin)::text, '-'),
                       COALESCE(pg_catalog.age(o.catalog_xmin)::text, '-'),
                       CASE WHEN NOT o.active
                            THEN pg_catalog.format('; if its consumer is gone: SELECT pg_catalog.pg_drop_replication_slot(%L);', o.slot_name)
                            ELSE '' END)
           END
      FROM (SELECT 1) AS one
      LEFT JOIN oldest AS o ON true;

    -- Prepared transactions hold their locks and their xmin until COMMIT/ROLLBACK PREPARED,
    -- across restarts.
    RETURN QUERY
    SELECT 'xmin_horizon', px.gid, 'prepared_transaction', pg_catalog.age(px.transaction)::text,
           pg_catalog.format('prepared %s ago by %s in database %s; age in transactions; finish it: COMMIT PREPARED %L; or ROLLBACK PREPARED %L; (in that database)',
                             pg_catalog.date_trunc('second', stmt_ts - px.prepared), px.owner, px.database,
                             px.gid, px.gid)
      FROM pg_catalog.pg_prepared_xacts AS px
     ORDER BY px.prepared, px.gid;

    ---------------------------------------------------------------- sessions
    -- Transactions open longer than long_after, and sessions idle in transaction, cluster-wide.
    -- Not autovacuum workers (see the relation section) nor parallel workers (their leader is
    -- listed).
    RETURN QUERY
    WITH s AS (
        SELECT a.pid, a.usename, a.datname, a.application_name, a.state, a.xact_start,
               a.state_change, a.query,
               a.state LIKE 'idle in transaction%' AS idle_in_xact
          FROM pg_catalog.pg_stat_activity AS a
         WHERE a.xact_start IS NOT NULL
           AND a.backend_type IS DISTINCT FROM 'autovacuum worker'
           AND (a.leader_pid IS NULL OR a.leader_pid = a.pid)
           AND (a.xact_start < stmt_ts - health.long_after OR a.state LIKE 'idle in transaction%')
    )
    SELECT 'sessions',
           CASE WHEN s.pid = pg_catalog.pg_backend_pid() THEN pg_catalog.format('pid %s (this session)', s.pid)
                ELSE pg_catalog.format('pid %s', s.pid) END,
           CASE WHEN s.idle_in_xact THEN 'idle_in_transaction' ELSE 'long_transaction' END,
           pg_catalog.date_trunc('second', stmt_ts
                                 - CASE WHEN s.idle_in_xact THEN s.state_change ELSE s.xact_start END)::text,
           pg_catalog.format('%s; user %s, database %s, application %s; %s: %s',
                             CASE WHEN s.idle_in_xact
                                  THEN pg_catalog.format('idle inside a transaction open for %s: it keeps its locks and its snapshot%s',
                                         pg_catalog.date_trunc('second', stmt_ts - s.xact_start),
                                         CASE WHEN s.pid = pg_catalog.pg_backend_pid() THEN ''
                                              ELSE pg_catalog.format('; end it: SELECT pg_catalog.pg_terminate_backend(%s)', s.pid) END)
                                  ELSE pg_catalog.format('transaction open this long, state %s%s', s.state,
                                         CASE WHEN s.pid = pg_catalog.pg_backend_pid() THEN ''
                                              WHEN s.state = 'active'
                                              THEN pg_catalog.format('; cancel its query: SELECT pg_catalog.pg_cancel_backend(%s)', s.pid)
                                              ELSE pg_catalog.format('; end it: SELECT pg_catalog.pg_terminate_backend(%s)', s.pid) END)
                             END,
                             s.usename, s.datname, COALESCE(NULLIF(s.application_name, ''), '-'),
                             CASE WHEN s.state = 'active' THEN 'running' ELSE 'last query' END,
                             pg_catalog.left(pg_catalog.regexp_replace(pg_catalog.regexp_replace(COALESCE(s.query, ''), '\s+', ' ', 'g'), '[ ;]+$', ''), 100))
      FROM s
     ORDER BY s.xact_start, s.pid;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n = 0 THEN
        RETURN QUERY
        SELECT 'sessions', NULL::text, 'long_transactions', '0',
               pg_catalog.format('no transaction open longer than %s, no session idle in transaction%s',
                                 health.long_after,
                                 CASE WHEN all_stats THEN '' ELSE ' (among the sessions you can see)' END);
    END IF;

    IF NOT all_stats THEN
        SELECT pg_catalog.count(*) INTO hidden
          FROM pg_catalog.pg_stat_activity AS a
         WHERE a.backend_type IS NULL       -- hidden: it is someone else's session
           AND a.datid IS NOT NULL          -- connected to a database (not a background process)
           AND a.usesysid IS NOT NULL;      -- and has a user (not an autovacuum worker)
        IF hidden > 0 THEN
            RETURN QUERY
            SELECT 'sessions', NULL::text, 'hidden_sessions', hidden::text,
                   'sessions of other users whose state and transaction start you cannot see: they need pg_read_all_stats (GRANT pg_read_all_stats TO ...)';
        END IF;
    END IF;

    ---------------------------------------------------------------- indexes
    -- INVALID indexes of this database: not used by queries, still updated by every write.
    -- An index being built right now by CREATE/REINDEX INDEX CONCURRENTLY is INVALID too: a
    -- session with an index build in progress that holds a lock on the table (pg_locks is
    -- public, pg_stat_progress_create_index shows everyone the pid) marks it as such.
    RETURN QUERY
    WITH inv AS (
        SELECT i.indexrelid, i.indrelid, ic.relkind,
               pg_catalog.format('%I.%I', ns.nspname, ic.relname) AS index_name,
               pg_catalog.format('%I.%I', tns.nspname, tc.relname) AS table_name,
               ic.relname ~ '_cc(new|old)[0-9]*$' AS from_reindex,
               (SELECT pg_catalog.min(p.pid)
                  FROM pg_catalog.pg_stat_progress_create_index AS p
                 WHERE p.datid = this_db
                   AND (p.index_relid = i.indexrelid
                        OR p.relid = i.indrelid
                        OR (p.relid IS NULL
                            AND EXISTS (SELECT FROM pg_catalog.pg_locks AS l
                                         WHERE l.pid = p.pid AND l.locktype = 'relation'
                                           AND l.database = this_db AND l.relation = i.indrelid)))
               ) AS builder
          FROM pg_catalog.pg_index AS i
          JOIN pg_catalog.pg_class AS ic ON ic.oid = i.indexrelid
          JOIN pg_catalog.pg_namespace AS ns ON ns.oid = ic.relnamespace
          JOIN pg_catalog.pg_class AS tc ON tc.oid = i.indrelid
          JOIN pg_catalog.pg_namespace AS tns ON tns.oid = tc.relnamespace
         WHERE NOT i.indisvalid
           AND NOT pg_catalog.pg_is_other_temp_schema(ns.oid)
    )
    SELECT 'indexes', v.index_name, 'invalid_index', v.table_name,
           CASE WHEN v.builder IS NOT NULL
                THEN pg_catalog.format('pid %s is building an index on %s right now: this may be that build in progress, not a leftover; look again when it ends',
                                       v.builder, v.table_name)
                WHEN v.relkind = 'I'
                THEN pg_catalog.format('partitioned index, invalid until every partition has a valid index attached: build the missing ones with CREATE INDEX CONCURRENTLY on each partition and ALTER INDEX %s ATTACH PARTITION ...; (DROP INDEX CONCURRENTLY does not work on partitioned indexes)',
                                       v.index_name)
                WHEN v.from_reindex
                THEN pg_catalog.format('left by a failed REINDEX CONCURRENTLY (the original index is still there); not used by queries but updated by every write. Drop it: DROP INDEX CONCURRENTLY %s;',
                                       v.index_name)
                ELSE pg_catalog.format('left by a failed CREATE INDEX CONCURRENTLY; not used by queries but updated by every write. Drop it: DROP INDEX CONCURRENTLY %s; then, once the cause is fixed (duplicates for a unique index), build it again: %s;',
                                       v.index_name,
                                       pg_catalog.regexp_replace(pg_catalog.pg_get_indexdef(v.indexrelid),
                                                                 '^CREATE (UNIQUE )?INDEX ', 'CREATE \1INDEX CONCURRENTLY '))
           END
      FROM inv AS v
     ORDER BY v.table_name, v.index_name;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n = 0 THEN
        RETURN QUERY
        SELECT 'indexes', NULL::text, 'invalid_indexes', '0', 'no INVALID index in this database';
    END IF;
END
$health$;

COMMENT ON FUNCTION @extschema@.health(pg_catalog.regclass, interval) IS
  'Health report, one row per finding (section, subject, metric, value, detail): replication lag '
  'per standby in bytes and time; with a relation, its live/dead tuples, dead ratio, last '
  '(auto)vacuum and (auto)analyze and whether autovacuum runs on it now; the oldest transaction, '
  'replication slot and prepared transactions holding back the xmin horizon; transactions open '
  'longer than long_after and sessions idle in transaction; INVALID indexes with the DROP INDEX '
  'CONCURRENTLY statement. Shows what the caller may see (pg_read_all_stats for everything). '
  'See docs/health.md.';
