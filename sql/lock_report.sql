-- safe_ddl.lock_report() and the safe_ddl.blocking view: the blocking tree of the cluster.
-- (Written as plain SQL so reviewers can read it; loaded by CREATE EXTENSION.)
--
-- Every catalog relation and function is schema-qualified with pg_catalog, and the function
-- pins search_path = pg_catalog, pg_temp: an operator without an exact match in pg_catalog
-- (regclass = regclass, below) would otherwise pick one that any role with CREATE on a schema
-- of the caller's search_path defined there (docs/security.md). It runs with the caller's privileges
-- (SECURITY INVOKER, the default) and shows what pg_stat_activity lets the caller see.
-- pg_locks and pg_blocking_pids() are readable by everyone, so the structure of the tree (pids,
-- lock modes, relations, how long each waits) is always complete; the columns that come from
-- pg_stat_activity (state, xact_age, query) are hidden for other users' sessions unless the
-- caller has pg_read_all_stats.
--
-- Nothing here can fail because a session ended while the report runs: pg_locks is read once,
-- pg_blocking_pids() of a vanished pid is an empty array, and pg_stat_activity is LEFT JOINed.
--
-- VOLATILE (the default, spelt out): pg_locks and pg_blocking_pids() read live lock state.

CREATE FUNCTION @extschema@.lock_report(relation pg_catalog.regclass DEFAULT NULL)
RETURNS TABLE (
    depth            int,
    pid              int,
    blocked_by       int[],
    wait_mode        text,
    wait_locktype    text,
    relation         pg_catalog.regclass,
    waiting          interval,
    state            text,
    xact_age         interval,
    usename          name,
    datname          name,
    application_name text,
    query            text,
    path             int[],
    tree             text
)
LANGUAGE sql
VOLATILE
ROWS 20
-- The planner's row estimates for pg_locks and the recursive CTEs are huge (millions of rows
-- when there are a handful), which crosses jit_above_cost: JIT compilation then takes about
-- a second, more than the query itself by far.
SET jit = off
SET search_path = pg_catalog, pg_temp
AS $lock_report$
WITH RECURSIVE
-- The heavyweight lock each waiting backend waits for (one snapshot of pg_locks; a backend
-- waits for at most one lock, DISTINCT ON is only a guard).
waits AS MATERIALIZED (
    SELECT DISTINCT ON (l.pid)
           l.pid, l.locktype, l.mode, l.database, l.relation, l.waitstart
      FROM pg_catalog.pg_locks AS l
     WHERE NOT l.granted
       AND l.pid IS NOT NULL
     ORDER BY l.pid, l.waitstart
),
-- blocker -> waiter, one pg_blocking_pids() call per waiter. For parallel queries it lists the
-- leader's pid, possibly several times; a prepared transaction blocks as pid 0.
edges AS MATERIALIZED (
    SELECT DISTINCT b.blocker, w.pid AS waiter
      FROM waits AS w
     CROSS JOIN LATERAL pg_catalog.unnest(pg_catalog.pg_blocking_pids(w.pid)) AS b(blocker)
     WHERE b.blocker <> w.pid
),
blocked AS (
    SELECT e.waiter AS pid,
           pg_catalog.array_agg(e.blocker ORDER BY e.blocker) AS blocked_by
      FROM edges AS e
     GROUP BY e.waiter
),
-- reach(src, dst): src blocks dst, directly or through other waiters. UNION (not UNION ALL)
-- makes it terminate on cycles.
reach (src, dst) AS (
    SELECT e.blocker, e.waiter
      FROM edges AS e
    UNION
    SELECT r.src, e.waiter
      FROM reach AS r
      JOIN edges AS e ON e.blocker = r.dst
),
-- Roots: sessions that block someone and are blocked by nobody. A cycle of waiters that
-- nobody outside it blocks (a deadlock the deadlock detector has not broken yet) has no such
-- session; it is entered at its lowest pid.
roots AS MATERIALIZED (
    SELECT DISTINCT e.blocker AS pid
      FROM edges AS e
     WHERE NOT EXISTS (SELECT FROM edges AS x WHERE x.waiter = e.blocker)
    UNION
    SELECT r.src
      FROM reach AS r
     WHERE r.dst = r.src
       AND NOT EXISTS (
             SELECT FROM reach AS a
              WHERE a.dst = r.src
                AND (a.src < r.src
                     OR NOT EXISTS (SELECT FROM reach AS back
                                     WHERE back.src = r.src
                                       AND back.dst = a.src)))
),
-- A waiter blocked by both b and b2, where b2 is itself (directly or not) blocked by b, is
-- placed under b2, not directly under b: in a queue of conflicting waiters, each blocked by
-- every one ahead of it, every waiter sits under the one just ahead of it.
near_edges AS MATERIALIZED (
    SELECT e.blocker, e.waiter
      FROM edges AS e
    EXCEPT
    SELECT e.blocker, e.waiter
      FROM edges AS e
      JOIN edges AS o ON o.waiter = e.waiter AND o.blocker <> e.blocker
      JOIN reach AS down ON down.src = e.blocker AND down.dst = o.blocker
      LEFT JOIN reach AS up ON up.src = o.blocker AND up.dst = e.blocker
     WHERE up.src IS NULL
),
-- Breadth-first levels from the roots over those edges (a session may be reached at several
-- levels; its depth is the lowest). The bound on the level stops it in cycles.
levels (pid, level) AS (
    SELECT r.pid, 0
      FROM roots AS r
    UNION
    SELECT n.waiter, l.level + 1
      FROM levels AS l
      JOIN near_edges AS n ON n.blocker = l.pid
     WHERE l.level < (SELECT pg_catalog.count(*) FROM waits)
),
depths AS (
    SELECT l.pid, pg_catalog.min(l.level) AS depth
      FROM levels AS l
     GROUP BY l.pid
),
-- One row per session: each waiter hangs under one of its nearest blockers, one level up
-- (the lowest pid if there are several; blocked_by lists them all). Roots have no parent.
parents AS (
    SELECT DISTINCT ON (n.waiter) n.waiter AS pid, n.blocker AS parent
      FROM near_edges AS n
      JOIN depths AS w ON w.pid = n.waiter
      JOIN depths AS b ON b.pid = n.blocker
     WHERE b.depth = w.depth - 1
     ORDER BY n.waiter, n.blocker
),
-- The tree: paths from the roots. The path guard is only a safety net, parents are one level
-- up by construction.
tree (pid, depth, path) AS (
    SELECT r.pid, 0, ARRAY[r.pid]
      FROM roots AS r
    UNION ALL
    SELECT p.pid, t.depth + 1, t.path || p.pid
      FROM tree AS t
      JOIN parents AS p ON p.parent = t.pid
     WHERE p.pid <> ALL (t.path)
),
activity AS MATERIALIZED (
    SELECT a.pid, a.state, a.xact_start, a.query_start, a.state_change, a.usename, a.datname,
           a.application_name, a.query
      FROM pg_catalog.pg_stat_activity AS a
),
-- The granted relation and tuple locks on lock_report.relation (read once, and only when a
-- relation is given and a wait for a transaction's end is in a tree).
rel_locks AS MATERIALIZED (
    SELECT l.pid, l.locktype
      FROM pg_catalog.pg_locks AS l
     WHERE l.granted
       AND l.locktype IN ('relation', 'tuple')
       AND l.relation = lock_report.relation
       AND l.database IN (0, (SELECT d.oid FROM pg_catalog.pg_database AS d
                               WHERE d.datname = pg_catalog.current_database()))
),
report AS (
    SELECT t.depth,
           t.pid,
           COALESCE(b.blocked_by, '{}'::int[]) AS blocked_by,
           w.mode AS wait_mode,
           w.locktype AS wait_locktype,
           -- pg_locks.relation is an OID in pg_locks.database; only this database's (and
           -- shared catalogs') OIDs can be named here.
           CASE WHEN w.database = 0
                  OR w.database =
                     (SELECT d.oid FROM pg_catalog.pg_database AS d
                       WHERE d.datname = pg_catalog.current_database())
                THEN w.relation::pg_catalog.regclass
           END AS relation,
           CASE WHEN w.pid IS NOT NULL
                THEN pg_catalog.statement_timestamp()
                     - COALESCE(w.waitstart, a.state_change, a.query_start)
           END AS waiting,
           a.state,
           pg_catalog.statement_timestamp() - a.xact_start AS xact_age,
           a.usename,
           a.datname,
           a.application_name,
           a.query,
           t.path,
           pg_catalog.repeat('  ', t.depth) || t.pid::text AS tree
      FROM tree AS t
      LEFT JOIN waits AS w ON w.pid = t.pid
      LEFT JOIN blocked AS b ON b.pid = t.pid
      LEFT JOIN activity AS a ON a.pid = t.pid
)
SELECT r.depth, r.pid, r.blocked_by, r.wait_mode, r.wait_locktype, r.relation, r.waiting,
       r.state, r.xact_age, r.usename, r.datname, r.application_name, r.query, r.path, r.tree
  FROM report AS r
 WHERE lock_report.relation IS NULL
    OR r.path[1] IN (SELECT x.path[1] FROM report AS x
                      WHERE x.relation = lock_report.relation
                         -- A wait for another transaction's end whose blocker holds a lock on
                         -- the relation: safe_ddl waiting outside the lock queue waits on the
                         -- blocker's virtual transaction.
                         OR (x.wait_locktype = 'virtualxid'
                             AND EXISTS (SELECT FROM rel_locks AS h
                                          WHERE h.locktype = 'relation'
                                            AND h.pid = ANY (x.blocked_by)))
                         -- A row lock wait (on the transaction that holds the row) for a row of
                         -- the relation: the waiter holds the row's tuple lock meanwhile. (That
                         -- the blocker also holds some lock on the relation says nothing: it
                         -- may have merely read it.)
                         OR (x.wait_locktype = 'transactionid'
                             AND EXISTS (SELECT FROM rel_locks AS t
                                          WHERE t.locktype = 'tuple'
                                            AND t.pid = x.pid)))
 ORDER BY r.path
$lock_report$;

COMMENT ON FUNCTION @extschema@.lock_report(pg_catalog.regclass) IS
  'The blocking tree of the cluster: root blockers (depth 0) first, each waiter under the sessions '
  'blocking it; ORDER BY path. With a relation, only the trees in which someone waits for a lock '
  'on it. Other users'' queries are hidden without pg_read_all_stats. See docs/lock_report.md.';

CREATE VIEW @extschema@.blocking AS
  SELECT * FROM @extschema@.lock_report();

COMMENT ON VIEW @extschema@.blocking IS
  'safe_ddl.lock_report() for every relation: who blocks whom in the cluster right now. '
  'ORDER BY path to read it as a tree. See docs/lock_report.md.';

GRANT SELECT ON @extschema@.blocking TO PUBLIC;
