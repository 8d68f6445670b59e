-- safe_ddl.backfill(): batched, resumable, throttled backfills (issue 6).
-- (Written as PL/pgSQL so reviewers can read it; loaded by CREATE EXTENSION. See docs/backfill.md.)
--
--   CALL safe_ddl.backfill('accounts', 'email_lower = lower(email)', 'email_lower IS NULL');
--
-- walks the table in key order (primary key, else a unique index on NOT NULL columns) with keyset
-- pagination and updates one batch per transaction:
--
--   upper := the key of the batch_size-th row after last_key      (SELECT ... ORDER BY key LIMIT n)
--   UPDATE t SET <set_clause>
--    WHERE (key) > (last_key) AND (key) <= (upper) AND (<where_clause>)
--   UPDATE safe_ddl.backfill_jobs SET last_key = upper, rows_done = rows_done + <rows> ...
--   COMMIT
--
-- The batch and the job row's progress are committed together, so after a crash, a
-- pg_terminate_backend() or an error the job row says exactly which batches are in the table:
-- calling the same backfill again (or backfill_resume(job_id)) goes on after the last committed
-- key, and no row is updated twice. A row with a key beyond the last batch that is inserted
-- while it runs is updated too; a row inserted below the current key is not (see docs).
--
-- Everything runs with the caller's privileges (SECURITY INVOKER, the default; there is no SET
-- clause either: both would forbid the COMMITs). The table is taken as a regclass, key columns
-- and types come from the catalog and are quoted (quote_ident, format_type), key values are
-- quoted literals (%L); the set and where clauses are SQL fragments the caller writes, validated
-- against the table (as the caller) before a job row exists.
--
-- The jobs table is readable and writable by every role, row-level security restricts each role
-- to its own jobs (superusers see all), and a job only ever runs as the role that started it, so
-- nobody can make another role run SQL it did not write.

CREATE TABLE @extschema@.backfill_jobs (
    job_id               bigserial PRIMARY KEY,
    relation             pg_catalog.regclass NOT NULL,
    set_clause           text NOT NULL,
    where_clause         text,
    -- the key the job walks, and the last key of the last committed batch (NULL: none yet);
    -- values are text in a fixed format (ISO dates, shortest exact floats), cast back with the
    -- column's type
    key_columns          text[] NOT NULL,
    last_key             text[],
    rows_done            bigint NOT NULL DEFAULT 0,   -- rows updated (matching where_clause)
    rows_scanned         bigint NOT NULL DEFAULT 0,   -- rows in the key ranges done
    batches              bigint NOT NULL DEFAULT 0,
    -- settings; batch_size is the current (adapted) size
    batch_size           int NOT NULL CHECK (batch_size > 0),
    target_batch_time    interval,
    pause                interval NOT NULL,
    max_replication_lag  bigint,
    max_dead_tuple_ratio float8,
    status               text NOT NULL DEFAULT 'running'
                         CHECK (status IN ('running', 'done', 'cancelled', 'failed')),
    cancel_requested     boolean NOT NULL DEFAULT false,
    error                text,                        -- why it failed
    throttled            interval NOT NULL DEFAULT '0', -- time spent waiting on replicas/vacuum
    started_by           name NOT NULL DEFAULT CURRENT_USER,
    pid                  int,                         -- the backend that last ran it
    started_at           timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    updated_at           timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    finished_at          timestamptz
);

COMMENT ON TABLE @extschema@.backfill_jobs IS
  'safe_ddl.backfill() jobs: one row per backfill, its progress updated in the same transaction '
  'as each batch. status running = not finished (see safe_ddl.backfill_status for whether a '
  'session runs it now). See docs/backfill.md.';

-- At most one unfinished job per table and clauses: the same CALL resumes it.
CREATE UNIQUE INDEX backfill_jobs_unfinished
    ON @extschema@.backfill_jobs (relation, pg_catalog.hashtextextended(set_clause, 0),
                                   pg_catalog.hashtextextended(COALESCE(where_clause, ''), 0))
 WHERE status <> 'done';

-- pg_dump keeps the jobs (and the sequence) of this extension-owned table.
SELECT pg_catalog.pg_extension_config_dump('@extschema@.backfill_jobs', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.backfill_jobs_job_id_seq', '');

-- Non-superusers run backfills too: every role may read and write its own jobs.
ALTER TABLE @extschema@.backfill_jobs ENABLE ROW LEVEL SECURITY;
CREATE POLICY backfill_jobs_own ON @extschema@.backfill_jobs
    USING (started_by = CURRENT_USER)
    WITH CHECK (started_by = CURRENT_USER);
GRANT SELECT, INSERT, UPDATE, DELETE ON @extschema@.backfill_jobs TO PUBLIC;
GRANT USAGE ON SEQUENCE @extschema@.backfill_jobs_job_id_seq TO PUBLIC;

-- A session-level advisory lock marks the job a session is running: taken before the job row
-- is changed, held across the COMMITs, released at the end and, whatever happens, when the
-- session ends. Keys: (0x5AFEDD1, job_id), i.e. classid 95415761, objid job_id in pg_locks.

-- The pid of the session running the job, NULL if none.
CREATE FUNCTION @extschema@._backfill_runner(job bigint) RETURNS int
LANGUAGE sql STABLE
AS $$
    SELECT l.pid
      FROM pg_catalog.pg_locks AS l
     WHERE l.locktype = 'advisory'
       AND l.database = (SELECT d.oid FROM pg_catalog.pg_database AS d
                          WHERE d.datname = pg_catalog.current_database())
       AND l.classid = 95415761
       AND l.objid = (job % 2147483647)::oid
       AND l.objsubid = 2
       AND l.granted
     LIMIT 1
$$;

-- Take the job's lock unless this session holds it already (left by an interrupted CALL).
CREATE FUNCTION @extschema@._backfill_try_lock(job bigint) RETURNS boolean
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    IF @extschema@._backfill_runner(job) = pg_catalog.pg_backend_pid() THEN
        RETURN true;
    END IF;
    RETURN pg_catalog.pg_try_advisory_lock(95415761, (job % 2147483647)::int);
END
$$;

CREATE FUNCTION @extschema@._backfill_unlock(job bigint) RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    IF @extschema@._backfill_runner(job) = pg_catalog.pg_backend_pid() THEN
        PERFORM pg_catalog.pg_advisory_unlock(95415761, (job % 2147483647)::int);
    END IF;
END
$$;

-- Raise unless this session may run the job (nobody else runs it).
CREATE FUNCTION @extschema@._backfill_lock(job bigint) RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    holder int;
BEGIN
    IF NOT @extschema@._backfill_try_lock(job) THEN
        holder := @extschema@._backfill_runner(job);
        RAISE EXCEPTION 'safe_ddl.backfill: job % is being run by another session (pid %)', job, holder
        USING ERRCODE = 'lock_not_available',
              HINT = 'Wait for it to end, or stop it at its next batch with SELECT safe_ddl.backfill_cancel('
                     || job || '). A session whose CALL was interrupted keeps the job until it '
                     'disconnects or calls a backfill again.';
    END IF;
END
$$;

-- A key value as text in a fixed format, whatever the session's settings: what the next
-- session reads back with the column's type must be the same value.
CREATE FUNCTION @extschema@._key_text(anyelement) RETURNS text
LANGUAGE sql STABLE STRICT
SET datestyle = 'ISO, YMD'
SET intervalstyle = 'postgres'
SET extra_float_digits = 1
SET bytea_output = 'hex'
AS $$ SELECT $1::text $$;

-- (v1::t1, v2::t2, ...) for a stored key.
CREATE FUNCTION @extschema@._key_literal(vals text[], types text[]) RETURNS text
LANGUAGE sql IMMUTABLE STRICT
AS $$
    SELECT pg_catalog.string_agg(pg_catalog.format('%L::%s', v.val, t.typ), ', ' ORDER BY v.n)
      FROM pg_catalog.unnest(vals) WITH ORDINALITY AS v(val, n)
      JOIN pg_catalog.unnest(types) WITH ORDINALITY AS t(typ, n) ON t.n = v.n
$$;

-- The plain tables whose rows an UPDATE of the relation touches: itself, or its partitions (and
-- inheritance children). From pg_inherits: pg_partition_tree() would lock them.
CREATE FUNCTION @extschema@._backfill_leaves(rel pg_catalog.regclass) RETURNS SETOF oid
LANGUAGE sql STABLE
AS $$
    WITH RECURSIVE tree(oid) AS (
        SELECT rel::oid
        UNION
        SELECT i.inhrelid FROM pg_catalog.pg_inherits AS i JOIN tree AS t ON i.inhparent = t.oid
    )
    SELECT t.oid FROM tree AS t JOIN pg_catalog.pg_class AS c ON c.oid = t.oid WHERE c.relkind = 'r'
$$;

-- Seconds as a short duration.
CREATE FUNCTION @extschema@._backfill_secs(secs float8) RETURNS text
LANGUAGE sql IMMUTABLE STRICT
AS $$
    SELECT CASE WHEN secs < 100 THEN pg_catalog.round(secs::numeric, 1) || ' s'
                WHEN secs < 6000 THEN pg_catalog.round(secs::numeric / 60, 1) || ' min'
                ELSE pg_catalog.round(secs::numeric / 3600, 1) || ' h' END
$$;

-- The settings of a backfill, checked before anything is done.
CREATE FUNCTION @extschema@._backfill_check_settings(
    batch_size int, target_batch_time interval, pause interval,
    max_replication_lag bigint, max_dead_tuple_ratio float8)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    IF batch_size IS NULL OR batch_size < 1 THEN
        RAISE EXCEPTION 'safe_ddl.backfill: batch_size must be at least 1, not %', COALESCE(batch_size::text, 'NULL')
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF target_batch_time <= interval '0' THEN
        RAISE EXCEPTION 'safe_ddl.backfill: target_batch_time must be positive (or NULL to keep batch_size), not %', target_batch_time
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF pause IS NULL OR pause < interval '0' THEN
        RAISE EXCEPTION 'safe_ddl.backfill: pause must be 0 or more, not %', COALESCE(pause::text, 'NULL')
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF max_replication_lag < 0 THEN
        RAISE EXCEPTION 'safe_ddl.backfill: max_replication_lag must be 0 or more bytes (or NULL: do not wait for standbys), not %', max_replication_lag
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF max_dead_tuple_ratio <= 0 OR max_dead_tuple_ratio > 1 OR max_dead_tuple_ratio = 'NaN' THEN
        RAISE EXCEPTION 'safe_ddl.backfill: max_dead_tuple_ratio must be above 0 and at most 1 (or NULL: do not wait for vacuum), not %', max_dead_tuple_ratio
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;

-- RAISE an ERROR with optional (NULL or empty) DETAIL and HINT.
CREATE FUNCTION @extschema@._backfill_raise(state text, msg text, detail text, hint text) RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    IF COALESCE(detail, '') = '' AND COALESCE(hint, '') = '' THEN
        RAISE EXCEPTION USING ERRCODE = state, MESSAGE = msg;
    ELSIF COALESCE(hint, '') = '' THEN
        RAISE EXCEPTION USING ERRCODE = state, MESSAGE = msg, DETAIL = detail;
    ELSIF COALESCE(detail, '') = '' THEN
        RAISE EXCEPTION USING ERRCODE = state, MESSAGE = msg, HINT = hint;
    ELSE
        RAISE EXCEPTION USING ERRCODE = state, MESSAGE = msg, DETAIL = detail, HINT = hint;
    END IF;
END
$$;

-- Check a backfill against the table, as the caller, without changing anything: the table, its
-- key (found, or the given one still usable), the privileges, the where clause and the set
-- clause. Returns the key columns and their types. Every failure is an ERROR naming what is wrong.
CREATE FUNCTION @extschema@._backfill_check(
    rel pg_catalog.regclass, set_clause text, where_clause text,
    INOUT key_columns text[], OUT key_types text[])
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    kind       "char";
    key_list   text;
    all_nn     boolean;
    what       text;
    probe      text;
    err_state  text;
    err_msg    text;
    err_detail text;
    err_hint   text;
BEGIN
    IF rel IS NULL THEN
        RAISE EXCEPTION 'safe_ddl.backfill: relation must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT c.relkind INTO kind FROM pg_catalog.pg_class AS c WHERE c.oid = rel;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'safe_ddl.backfill: relation with OID % does not exist', rel::oid
        USING ERRCODE = 'undefined_table';
    END IF;
    IF kind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION 'safe_ddl.backfill: % is not a table', rel
        USING ERRCODE = 'wrong_object_type',
              HINT = 'backfill updates the rows of a table (or partitioned table).';
    END IF;
    IF pg_catalog.pg_is_in_recovery() THEN
        RAISE EXCEPTION 'safe_ddl.backfill: this server is a standby'
        USING ERRCODE = 'read_only_sql_transaction', HINT = 'Run it on the primary.';
    END IF;
    IF set_clause IS NULL OR pg_catalog.btrim(set_clause) = '' THEN
        RAISE EXCEPTION 'safe_ddl.backfill: set_clause must not be empty'
        USING ERRCODE = 'invalid_parameter_value',
              HINT = 'set_clause is what follows SET in an UPDATE of the table, e.g. ''total = price * qty''.';
    END IF;

    IF key_columns IS NULL THEN
        -- The primary key, else the narrowest valid, non-partial unique index without
        -- expressions whose key columns are all NOT NULL (so that every row has a key).
        SELECT k.cols INTO key_columns
          FROM pg_catalog.pg_index AS i
          JOIN pg_catalog.pg_class AS ic ON ic.oid = i.indexrelid
          CROSS JOIN LATERAL (
                SELECT pg_catalog.array_agg(a.attname::text ORDER BY u.n) AS cols,
                       pg_catalog.bool_and(a.attnotnull) AS not_null,
                       pg_catalog.count(*) AS ncols
                  FROM pg_catalog.unnest(i.indkey::int2[]) WITH ORDINALITY AS u(attnum, n)
                  JOIN pg_catalog.pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = u.attnum
                 WHERE u.n <= i.indnkeyatts) AS k
         WHERE i.indrelid = rel
           AND i.indisunique AND i.indisvalid AND i.indislive
           AND i.indpred IS NULL
           AND NOT (0 = ANY (i.indkey::int2[]))
           AND k.not_null
           AND k.ncols = i.indnkeyatts
         ORDER BY i.indisprimary DESC, k.ncols, ic.relname
         LIMIT 1;
        IF key_columns IS NULL THEN
            RAISE EXCEPTION 'safe_ddl.backfill: table % has no primary key or unique index on NOT NULL columns', rel
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'backfill walks the table in key order, one key range per batch; it needs a key that every row has, once.',
                  HINT = 'Add one without blocking writes: CREATE UNIQUE INDEX CONCURRENTLY on NOT NULL columns, '
                         'then ALTER TABLE ... ADD PRIMARY KEY USING INDEX if you want it as the primary key.';
        END IF;
    END IF;

    -- The key's types (from the catalog, so a job resumed after ALTER ... TYPE uses the new one).
    SELECT pg_catalog.array_agg(pg_catalog.format_type(a.atttypid, a.atttypmod) ORDER BY c.n),
           pg_catalog.bool_and(a.attnotnull)
      INTO key_types, all_nn
      FROM pg_catalog.unnest(key_columns) WITH ORDINALITY AS c(name, n)
      LEFT JOIN pg_catalog.pg_attribute AS a
        ON a.attrelid = rel AND a.attname = c.name AND a.attnum > 0 AND NOT a.attisdropped;
    IF key_types IS NULL OR pg_catalog.array_position(key_types, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'safe_ddl.backfill: key column of % is gone (the job walks (%))', rel, pg_catalog.array_to_string(key_columns, ', ')
        USING ERRCODE = 'undefined_column';
    END IF;
    IF NOT all_nn THEN
        RAISE EXCEPTION 'safe_ddl.backfill: key column of % is no longer NOT NULL (the job walks (%))', rel, pg_catalog.array_to_string(key_columns, ', ')
        USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;

    IF NOT pg_catalog.has_any_column_privilege(rel, 'UPDATE') THEN
        RAISE EXCEPTION 'safe_ddl.backfill: permission denied: % needs UPDATE on table %', CURRENT_USER, rel
        USING ERRCODE = 'insufficient_privilege';
    END IF;

    SELECT pg_catalog.string_agg(pg_catalog.quote_ident(c), ', ') INTO key_list
      FROM pg_catalog.unnest(key_columns) AS c;

    -- Each statement below reads nothing (WHERE false); the last one runs in a subtransaction
    -- that is always rolled back (statement triggers fire even for zero rows). None of them is
    -- a use of the table by the application (column usage tracking), nor is any batch.
    PERFORM pg_catalog.set_config('safe_ddl.track_usage', 'off', true);
    BEGIN
        what := 'key';
        EXECUTE pg_catalog.format('SELECT %s FROM %s WHERE false ORDER BY %s LIMIT 0', key_list, rel, key_list);
        IF where_clause IS NOT NULL THEN
            -- Inside CASE WHEN ... THEN (not parentheses): a fragment like 'a) OR (b' that would
            -- escape the parentheses of the batch's WHERE is a syntax error here.
            what := 'where_clause';
            probe := pg_catalog.format(E'SELECT 1 FROM %s WHERE false AND CASE WHEN\n%s\nTHEN true END',
                                       rel, where_clause);
            -- Parsed before it runs: a clause that ends the statement and starts another one
            -- must not run even here (a sequence or pg_terminate_backend() is not rolled back).
            IF NOT @extschema@._one_statement(probe) THEN
                RAISE EXCEPTION 'it ends the statement and starts another one' USING ERRCODE = 'syntax_error';
            END IF;
            EXECUTE probe;
        END IF;
        what := 'set_clause';
        probe := pg_catalog.format(E'UPDATE %s SET\n%s\nWHERE false AND (\n%s\n)',
                                   rel, set_clause, COALESCE(where_clause, 'true'));
        IF NOT @extschema@._one_statement(probe) THEN
            RAISE EXCEPTION 'it ends the statement and starts another one' USING ERRCODE = 'syntax_error';
        END IF;
        EXECUTE probe;
        RAISE EXCEPTION USING ERRCODE = 'SDBF0';   -- roll the subtransaction back
    EXCEPTION
        WHEN SQLSTATE 'SDBF0' THEN
            NULL;
        WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS err_state = RETURNED_SQLSTATE, err_msg = MESSAGE_TEXT,
                                    err_detail = PG_EXCEPTION_DETAIL;
            IF err_state = '42501' THEN
                err_msg := 'safe_ddl.backfill: ' || err_msg;
                err_hint := pg_catalog.format('backfill needs SELECT on the key (%s) and on the columns the clauses read, and UPDATE on those it sets.', key_list);
            ELSIF what = 'key' THEN
                err_msg := pg_catalog.format('safe_ddl.backfill: cannot walk %s in key order (%s): %s', rel, key_list, err_msg);
            ELSIF what = 'where_clause' THEN
                err_msg := pg_catalog.format('safe_ddl.backfill: invalid where_clause for %s: %s', rel, err_msg);
                err_hint := 'where_clause is one boolean expression over the columns of the table, as after WHERE in an UPDATE of it.';
            ELSE
                err_msg := pg_catalog.format('safe_ddl.backfill: invalid set_clause for %s: %s', rel, err_msg);
                err_hint := 'set_clause is what follows SET in an UPDATE of the table, e.g. ''total = price * qty, note = NULL''.';
            END IF;
            PERFORM @extschema@._backfill_raise(err_state, err_msg, err_detail, err_hint);
    END;
END
$$;

-- Why the next batch must wait, or NULL: a standby replaying more than max_replication_lag bytes
-- behind, or a dead tuple ratio of the table above max_dead_tuple_ratio.
CREATE FUNCTION @extschema@._backfill_throttle(
    rel pg_catalog.regclass, max_replication_lag bigint, max_dead_tuple_ratio float8)
RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    standby text;
    lag     numeric;
    live    float8;
    dead    float8;
BEGIN
    -- Statistics are snapshotted per transaction: read fresh ones.
    PERFORM pg_catalog.pg_stat_clear_snapshot();
    IF max_replication_lag IS NOT NULL THEN
        SELECT COALESCE(NULLIF(r.application_name, ''), 'pid ' || r.pid),
               pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), r.replay_lsn)
          INTO standby, lag
          FROM pg_catalog.pg_stat_replication AS r
         WHERE r.replay_lsn IS NOT NULL
         ORDER BY 2 DESC
         LIMIT 1;
        IF lag > max_replication_lag THEN
            RETURN pg_catalog.format('standby %s replays %s behind (max_replication_lag is %s)',
                                     standby, pg_catalog.pg_size_pretty(lag),
                                     pg_catalog.pg_size_pretty(max_replication_lag::numeric));
        END IF;
    END IF;
    IF max_dead_tuple_ratio IS NOT NULL THEN
        SELECT pg_catalog.sum(s.n_live_tup), pg_catalog.sum(s.n_dead_tup) INTO live, dead
          FROM pg_catalog.pg_stat_all_tables AS s
         WHERE s.relid IN (SELECT @extschema@._backfill_leaves(rel));
        IF dead / NULLIF(live + dead, 0) > max_dead_tuple_ratio THEN
            RETURN pg_catalog.format('%s has %s dead tuples, %s%% of its rows (max_dead_tuple_ratio is %s%%): waiting for (auto)vacuum',
                                     rel, dead, pg_catalog.round((100 * dead / (live + dead))::numeric, 1),
                                     pg_catalog.round((100 * max_dead_tuple_ratio)::numeric, 1));
        END IF;
    END IF;
    RETURN NULL;
END
$$;

-- Rows in the table, estimated (pg_class.reltuples, else the statistics), NULL if unknown.
CREATE FUNCTION @extschema@._backfill_estimate(rel pg_catalog.regclass) RETURNS float8
LANGUAGE sql STABLE
AS $$
    SELECT COALESCE(
        NULLIF((SELECT pg_catalog.sum(GREATEST(c.reltuples, 0))
                  FROM pg_catalog.pg_class AS c
                 WHERE c.oid IN (SELECT @extschema@._backfill_leaves(rel))), 0),
        NULLIF((SELECT pg_catalog.sum(s.n_live_tup)
                  FROM pg_catalog.pg_stat_all_tables AS s
                 WHERE s.relid IN (SELECT @extschema@._backfill_leaves(rel))), 0))
$$;

-- The batch loop of a job whose lock this session holds (backfill() and backfill_resume() take
-- it). Internal: call those instead.
CREATE PROCEDURE @extschema@._backfill_run(job bigint)
LANGUAGE plpgsql
AS $$
#variable_conflict use_column
DECLARE
    j              record;
    key_cols       text[];
    key_types      text[];
    key_list       text;
    key_desc       text;
    key_texts      text;
    lower_cond     text;
    upper_key      text[];
    n_scanned      bigint;
    n_updated      bigint;
    n_moved        bigint;
    bsize          int;
    bmin           int;
    bmax           int;
    dml_limit      int;
    factor         float8;
    target_secs    float8;
    elapsed        float8;
    finished       boolean;
    failed         boolean;
    retryable      boolean;
    retries        int := 0;
    reason         text;
    wait_start     timestamptz;
    waited         interval;
    last_notice    timestamptz;
    t0             timestamptz;
    run_start      timestamptz := pg_catalog.clock_timestamp();
    run_scanned    bigint := 0;
    run_done       bigint := 0;
    run_waited     float8 := 0;
    last_progress  timestamptz := pg_catalog.clock_timestamp();
    est            float8;
    rate           float8;
    msg            text;
    err_state      text;
    err_msg        text;
    err_detail     text;
    err_hint       text;
    -- NOTICE intervals
    progress_every CONSTANT interval := '5 s';
    wait_step      float8;
BEGIN
    SELECT * INTO j FROM @extschema@.backfill_jobs AS b WHERE b.job_id = job;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'safe_ddl.backfill: no job %', job USING ERRCODE = 'no_data_found';
    END IF;
    IF j.started_by <> CURRENT_USER THEN
        RAISE EXCEPTION 'safe_ddl.backfill: the job was started by role %, and runs only as that role', j.started_by
        USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM @extschema@._backfill_lock(job);   -- held already when called by backfill()
    SELECT c.key_types INTO key_types
      FROM @extschema@._backfill_check(j.relation, j.set_clause, j.where_clause, j.key_columns) AS c;
    key_cols := j.key_columns;
    SELECT pg_catalog.string_agg(pg_catalog.quote_ident(c), ', ' ORDER BY n),
           pg_catalog.string_agg(pg_catalog.quote_ident(c) || ' DESC', ', ' ORDER BY n),
           pg_catalog.string_agg(pg_catalog.format('@extschema@._key_text(%I)', c), ', ' ORDER BY n)
      INTO key_list, key_desc, key_texts
      FROM pg_catalog.unnest(key_cols) WITH ORDINALITY AS k(c, n);

    -- Batch size bounds: 10 .. 100000 rows (wider if the job started outside them), and at most
    -- half of safe_ddl.max_dml_rows when the large_dml guard is on.
    bsize := j.batch_size;
    bmin := LEAST(10, bsize);
    bmax := GREATEST(100000, bsize);
    dml_limit := NULLIF(pg_catalog.current_setting('safe_ddl.max_dml_rows', true), '')::int;
    IF dml_limit > 0 THEN
        -- Half the limit: the guard judges the planner's estimate for a key range, which can be
        -- a little above the rows the batch really updates.
        bmax := LEAST(bmax, GREATEST(1, dml_limit / 2));
        bmin := LEAST(bmin, bmax);
        bsize := LEAST(bsize, bmax);
    END IF;
    target_secs := EXTRACT(epoch FROM j.target_batch_time);

    RAISE NOTICE 'safe_ddl.backfill: job % on %: %, key (%), batch size %, % rows done so far',
        job, j.relation,
        CASE WHEN j.last_key IS NULL THEN 'starting' ELSE 'resuming after key (' || pg_catalog.array_to_string(j.last_key, ', ') || ')' END,
        key_list, bsize, j.rows_done;
    IF j.max_replication_lag IS NOT NULL
       AND EXISTS (SELECT FROM pg_catalog.pg_stat_replication AS r WHERE r.state IS NULL) THEN
        RAISE NOTICE 'safe_ddl.backfill: cannot see the replication lag of some standbys (needs pg_read_all_stats): not waiting for them';
    END IF;
    IF pg_catalog.current_setting('statement_timeout') NOT IN ('0', '0ms') THEN
        RAISE NOTICE 'safe_ddl.backfill: statement_timeout is %: it applies to the whole CALL, which will be canceled then (CALL again to resume)',
            pg_catalog.current_setting('statement_timeout');
    END IF;
    UPDATE @extschema@.backfill_jobs AS b SET pid = pg_catalog.pg_backend_pid() WHERE b.job_id = job;
    COMMIT;

    LOOP
        -- 1. Stop if asked to; wait while a standby or vacuum is behind. Each check and each
        --    sleep in a short transaction of its own (no xid, no locks).
        wait_start := NULL;
        last_notice := NULL;
        LOOP
            SELECT * INTO j FROM @extschema@.backfill_jobs AS b WHERE b.job_id = job;
            IF NOT FOUND THEN
                PERFORM @extschema@._backfill_unlock(job);
                RAISE EXCEPTION 'safe_ddl.backfill: job % was deleted', job USING ERRCODE = 'no_data_found';
            END IF;
            IF j.cancel_requested OR j.status <> 'running' THEN
                UPDATE @extschema@.backfill_jobs AS b
                   SET status = 'cancelled', cancel_requested = false,
                       updated_at = pg_catalog.clock_timestamp(), finished_at = pg_catalog.clock_timestamp(),
                       throttled = b.throttled + COALESCE(pg_catalog.clock_timestamp() - wait_start, '0')
                 WHERE b.job_id = job AND b.status IN ('running', 'cancelled');
                COMMIT;
                PERFORM @extschema@._backfill_unlock(job);
                RAISE NOTICE 'safe_ddl.backfill: job % on % cancelled after % rows (last key (%)); CALL safe_ddl.backfill_resume(%) goes on from there',
                    job, j.relation, j.rows_done, COALESCE(pg_catalog.array_to_string(j.last_key, ', '), 'none'), job;
                RETURN;
            END IF;
            reason := @extschema@._backfill_throttle(j.relation, j.max_replication_lag, j.max_dead_tuple_ratio);
            EXIT WHEN reason IS NULL;
            -- Poll every 50 ms at first, then less often (up to every second); say why once the
            -- wait has lasted a second (short waits are frequent with a tight limit), then every
            -- few seconds.
            IF wait_start IS NULL THEN
                wait_start := pg_catalog.clock_timestamp();
                wait_step := 0.05;
            END IF;
            IF last_notice IS NULL THEN
                IF pg_catalog.clock_timestamp() - wait_start >= interval '1 s' THEN
                    RAISE NOTICE 'safe_ddl.backfill: job % waits: %', job, reason;
                    last_notice := pg_catalog.clock_timestamp();
                END IF;
            ELSIF pg_catalog.clock_timestamp() - last_notice >= progress_every THEN
                RAISE NOTICE 'safe_ddl.backfill: job % still waiting after %: %', job,
                    @extschema@._backfill_secs(EXTRACT(epoch FROM pg_catalog.clock_timestamp() - wait_start)::float8), reason;
                last_notice := pg_catalog.clock_timestamp();
            END IF;
            COMMIT;
            PERFORM pg_catalog.pg_sleep(wait_step);
            COMMIT;
            wait_step := LEAST(1.0, wait_step * 2);
        END LOOP;
        waited := COALESCE(pg_catalog.clock_timestamp() - wait_start, '0');
        run_waited := run_waited + EXTRACT(epoch FROM waited);
        IF last_notice IS NOT NULL THEN
            RAISE NOTICE 'safe_ddl.backfill: job % goes on after waiting %', job,
                @extschema@._backfill_secs(EXTRACT(epoch FROM waited)::float8);
        END IF;

        -- 2. One batch: its upper key, the UPDATE and the job's progress in one transaction.
        lower_cond := CASE WHEN j.last_key IS NULL THEN 'true'
                           ELSE pg_catalog.format('(%s) > (%s)', key_list, @extschema@._key_literal(j.last_key, key_types)) END;
        finished := false;
        failed := false;
        retryable := false;
        t0 := pg_catalog.clock_timestamp();
        -- The backfill's reads and writes are a migration's, not the application's: keep them
        -- out of the column usage that drop/rename decisions rest on (this transaction only).
        PERFORM pg_catalog.set_config('safe_ddl.track_usage', 'off', true);
        BEGIN
            EXECUTE pg_catalog.format(
                'WITH b AS MATERIALIZED (SELECT %1$s FROM %2$s WHERE %3$s ORDER BY %1$s LIMIT $1), '
                'l AS (SELECT %1$s FROM b ORDER BY %4$s LIMIT 1) '
                'SELECT ARRAY[%5$s], (SELECT pg_catalog.count(*) FROM b) FROM l',
                key_list, j.relation, lower_cond, key_desc, key_texts)
            INTO upper_key, n_scanned
            USING bsize;
            IF upper_key IS NULL THEN
                finished := true;
            ELSE
                -- The fragments stand on lines of their own, so a -- comment in one ends there.
                EXECUTE pg_catalog.format(
                    E'WITH u AS (UPDATE %1$s SET\n%2$s\nWHERE %3$s AND (%4$s) <= (%5$s) AND (\n%6$s\n) RETURNING %4$s)\n'
                    'SELECT pg_catalog.count(*), pg_catalog.count(*) FILTER (WHERE (%3$s AND (%4$s) <= (%5$s)) IS NOT TRUE) FROM u',
                    j.relation, j.set_clause, lower_cond, key_list,
                    @extschema@._key_literal(upper_key, key_types), COALESCE(j.where_clause, 'true'))
                INTO n_updated, n_moved;
                IF n_moved > 0 THEN
                    RAISE EXCEPTION 'safe_ddl.backfill: set_clause moved % rows out of the batch''s key range', n_moved
                    USING ERRCODE = 'invalid_parameter_value',
                          DETAIL = pg_catalog.format('It changes the key (%s) that backfill walks: those rows would be updated again or skipped.', key_list),
                          HINT = 'Update key columns another way (a new column, then a switch).';
                END IF;
                UPDATE @extschema@.backfill_jobs AS b
                   SET last_key = upper_key,
                       rows_done = b.rows_done + n_updated,
                       rows_scanned = b.rows_scanned + n_scanned,
                       batches = b.batches + 1,
                       batch_size = bsize,
                       throttled = b.throttled + waited,
                       updated_at = pg_catalog.clock_timestamp()
                 WHERE b.job_id = job
                   AND b.status = 'running'
                   AND b.last_key IS NOT DISTINCT FROM j.last_key;
                IF NOT FOUND THEN
                    RAISE EXCEPTION 'safe_ddl.backfill: job % was changed by someone else during a batch', job
                    USING ERRCODE = 'object_not_in_prerequisite_state';
                END IF;
            END IF;
        EXCEPTION
            -- A row lock conflict with the application: roll this batch back, retry it smaller.
            WHEN deadlock_detected OR lock_not_available OR serialization_failure THEN
                GET STACKED DIAGNOSTICS err_state = RETURNED_SQLSTATE, err_msg = MESSAGE_TEXT,
                                        err_detail = PG_EXCEPTION_DETAIL, err_hint = PG_EXCEPTION_HINT;
                retryable := true;
            WHEN OTHERS THEN
                GET STACKED DIAGNOSTICS err_state = RETURNED_SQLSTATE, err_msg = MESSAGE_TEXT,
                                        err_detail = PG_EXCEPTION_DETAIL, err_hint = PG_EXCEPTION_HINT;
                failed := true;
        END;

        IF retryable THEN
            retries := retries + 1;
            failed := retries > 5;
            IF NOT failed THEN
                bsize := GREATEST(bmin, bsize / 2);
                RAISE NOTICE 'safe_ddl.backfill: job % batch rolled back (%): retry % of 5 with batch size %',
                    job, err_msg, retries, bsize;
                COMMIT;
                PERFORM pg_catalog.pg_sleep(0.1 * 2 ^ retries);
                COMMIT;
                CONTINUE;
            END IF;
        END IF;

        IF failed THEN
            -- The batch is rolled back; the job keeps every earlier batch and says why it stopped.
            UPDATE @extschema@.backfill_jobs AS b
               SET status = 'failed', error = err_msg, batch_size = bsize,
                   updated_at = pg_catalog.clock_timestamp(), finished_at = pg_catalog.clock_timestamp()
             WHERE b.job_id = job AND b.status = 'running';
            COMMIT;
            PERFORM @extschema@._backfill_unlock(job);
            RAISE EXCEPTION USING
                ERRCODE = err_state,
                MESSAGE = err_msg,
                DETAIL = CASE WHEN err_detail <> '' THEN err_detail || E'\n' ELSE '' END
                         || pg_catalog.format('safe_ddl.backfill job %s failed in the batch after key (%s); %s rows of earlier batches are committed.',
                                              job, COALESCE(pg_catalog.array_to_string(j.last_key, ', '), 'none'), j.rows_done),
                HINT = CASE WHEN err_hint <> '' THEN err_hint || E'\n' ELSE '' END
                       || pg_catalog.format('Fix the cause, then CALL safe_ddl.backfill_resume(%s) (or the same backfill again) to go on from the last committed batch.', job);
        END IF;

        IF finished THEN
            UPDATE @extschema@.backfill_jobs AS b
               SET status = 'done', batch_size = bsize, throttled = b.throttled + waited,
                   updated_at = pg_catalog.clock_timestamp(), finished_at = pg_catalog.clock_timestamp()
             WHERE b.job_id = job;
            COMMIT;
            PERFORM @extschema@._backfill_unlock(job);
            SELECT * INTO j FROM @extschema@.backfill_jobs AS b WHERE b.job_id = job;
            RAISE NOTICE 'safe_ddl.backfill: job % on % done: % rows updated, % scanned, in % batches (this run: % rows in %, waited %)',
                job, j.relation, j.rows_done, j.rows_scanned, j.batches, run_done,
                @extschema@._backfill_secs(EXTRACT(epoch FROM pg_catalog.clock_timestamp() - run_start)::float8),
                @extschema@._backfill_secs(run_waited);
            RETURN;
        END IF;

        COMMIT;
        retries := 0;
        elapsed := EXTRACT(epoch FROM pg_catalog.clock_timestamp() - t0);
        run_scanned := run_scanned + n_scanned;
        run_done := run_done + n_updated;

        -- 3. Adapt the batch size toward target_batch_time: at most x2 or /2 per batch, not for a
        --    short last batch, not within 20% of the target.
        IF target_secs IS NOT NULL AND n_scanned >= bsize THEN
            factor := target_secs / GREATEST(elapsed, 0.001);
            IF factor > 1.25 OR factor < 0.8 THEN
                factor := LEAST(2.0, GREATEST(0.5, factor));
                bsize := LEAST(bmax, GREATEST(bmin, pg_catalog.round(bsize * factor)::int));
            END IF;
        END IF;

        -- 4. Progress, every few seconds.
        IF pg_catalog.clock_timestamp() - last_progress >= progress_every THEN
            last_progress := pg_catalog.clock_timestamp();
            est := @extschema@._backfill_estimate(j.relation);
            -- rates over the time spent working (not waiting for standbys or vacuum)
            elapsed := EXTRACT(epoch FROM pg_catalog.clock_timestamp() - run_start) - run_waited;
            rate := run_scanned / GREATEST(elapsed, 0.001);
            msg := pg_catalog.format('safe_ddl.backfill: job %s on %s: %s rows updated (%s/s), %s rows scanned',
                                     job, j.relation, j.rows_done + n_updated,
                                     pg_catalog.round(run_done / GREATEST(elapsed, 0.001)),
                                     j.rows_scanned + n_scanned);
            IF est IS NOT NULL THEN
                msg := msg || pg_catalog.format(', about %s%% of %s rows, about %s left',
                    LEAST(99, pg_catalog.floor(100 * (j.rows_scanned + n_scanned) / est)),
                    pg_catalog.round(est::numeric),
                    @extschema@._backfill_secs(GREATEST(est - (j.rows_scanned + n_scanned), 0) / GREATEST(rate, 1)));
            END IF;
            RAISE NOTICE '%, batch size %', msg, bsize;
        END IF;

        -- 5. Let the application's transactions and the standbys through.
        IF j.pause > interval '0' THEN
            PERFORM pg_catalog.pg_sleep(EXTRACT(epoch FROM j.pause)::float8);
            COMMIT;
        END IF;
    END LOOP;
END
$$;

COMMENT ON PROCEDURE @extschema@._backfill_run(bigint) IS
  'Internal: the batch loop of safe_ddl.backfill(); CALL safe_ddl.backfill_resume(job_id) instead.';

-- Refuse to go on unless the calling procedure may COMMIT, i.e. it was CALLed as a statement of
-- its own. In an exception block COMMIT always fails; the message says whether it is because of
-- the block (fine) or because the CALL runs in a transaction block (atomic context, which a
-- nested CALL inherits).
CREATE PROCEDURE @extschema@._require_own_transaction(caller text)
LANGUAGE plpgsql
AS $$
DECLARE
    in_block boolean := false;
BEGIN
    BEGIN
        COMMIT;
    EXCEPTION WHEN invalid_transaction_termination THEN
        in_block := SQLERRM = 'invalid transaction termination';
    END;
    IF in_block THEN
        RAISE EXCEPTION '% cannot run inside a transaction block', caller
        USING ERRCODE = 'active_sql_transaction',
              DETAIL = 'It commits between its steps (a backfill after every batch), which a procedure can only do when CALLed as a statement of its own: '
                       'not inside BEGIN ... COMMIT, not in a multi-statement query string, not from a function.',
              HINT = 'CALL it outside BEGIN ... COMMIT (in autocommit mode).';
    END IF;
END
$$;

CREATE PROCEDURE @extschema@.backfill(
    relation             pg_catalog.regclass,
    set_clause           text,
    where_clause         text     DEFAULT NULL,
    batch_size           int      DEFAULT 1000,
    target_batch_time    interval DEFAULT '200ms',
    pause                interval DEFAULT '10ms',
    max_replication_lag  bigint   DEFAULT 67108864,   -- 64 MB of WAL not yet replayed
    max_dead_tuple_ratio float8   DEFAULT 0.5         -- more dead than live rows: vacuum is behind
)
LANGUAGE plpgsql
AS $$
#variable_conflict use_column
DECLARE
    set_text text := pg_catalog.btrim(backfill.set_clause);
    where_text text := NULLIF(pg_catalog.btrim(backfill.where_clause), '');
    prev     record;
    keys     text[];
    job      bigint;
BEGIN
    -- Before anything else: it commits after every batch.
    CALL @extschema@._require_own_transaction('safe_ddl.backfill');
    COMMIT;   -- (raises "invalid transaction termination" if the check above could not tell)

    PERFORM @extschema@._backfill_check_settings(backfill.batch_size, backfill.target_batch_time, backfill.pause,
                                                 backfill.max_replication_lag, backfill.max_dead_tuple_ratio);

    -- The same backfill, not done yet: resume it, with this CALL's settings.
    SELECT * INTO prev
      FROM @extschema@.backfill_jobs AS b
     WHERE b.relation = backfill.relation
       AND b.set_clause = set_text
       AND b.where_clause IS NOT DISTINCT FROM where_text
       AND b.status <> 'done'
       AND b.started_by = CURRENT_USER
     ORDER BY b.job_id DESC
     LIMIT 1;

    SELECT c.key_columns INTO keys
      FROM @extschema@._backfill_check(backfill.relation, set_text, where_text, prev.key_columns) AS c;

    IF prev.job_id IS NULL THEN
        BEGIN
            INSERT INTO @extschema@.backfill_jobs
                   (relation, set_clause, where_clause, key_columns, batch_size, target_batch_time,
                    pause, max_replication_lag, max_dead_tuple_ratio, pid)
            VALUES (backfill.relation, set_text, where_text, keys, backfill.batch_size,
                    backfill.target_batch_time, backfill.pause, backfill.max_replication_lag,
                    backfill.max_dead_tuple_ratio, pg_catalog.pg_backend_pid())
            RETURNING job_id INTO job;
        EXCEPTION WHEN unique_violation THEN
            RAISE EXCEPTION 'safe_ddl.backfill: the same backfill of % is already unfinished under another role, or was just started by another session', backfill.relation
            USING ERRCODE = 'unique_violation',
                  HINT = 'See SELECT * FROM safe_ddl.backfill_status (as a superuser for every role''s jobs).';
        END;
        PERFORM @extschema@._backfill_lock(job);
    ELSE
        job := prev.job_id;
        PERFORM @extschema@._backfill_lock(job);
        -- A stopped job starts again; a job left 'running' with a pending cancel stops at once.
        UPDATE @extschema@.backfill_jobs AS b
           SET batch_size = backfill.batch_size,
               target_batch_time = backfill.target_batch_time,
               pause = backfill.pause,
               max_replication_lag = backfill.max_replication_lag,
               max_dead_tuple_ratio = backfill.max_dead_tuple_ratio,
               cancel_requested = b.cancel_requested AND b.status = 'running',
               status = 'running', error = NULL, finished_at = NULL,
               updated_at = pg_catalog.clock_timestamp()
         WHERE b.job_id = job;
    END IF;
    COMMIT;
    CALL @extschema@._backfill_run(job);
END
$$;

COMMENT ON PROCEDURE @extschema@.backfill(pg_catalog.regclass, text, text, int, interval, interval, bigint, float8) IS
  'UPDATE relation SET set_clause WHERE where_clause in key-ordered batches, one transaction each, '
  'throttled on replication lag and dead tuples; resumable (the same CALL again) and cancellable '
  '(safe_ddl.backfill_cancel). CALL it outside a transaction block. See docs/backfill.md.';

CREATE PROCEDURE @extschema@.backfill_resume(job_id bigint)
LANGUAGE plpgsql
AS $$
#variable_conflict use_column
DECLARE
    j        record;
BEGIN
    CALL @extschema@._require_own_transaction('safe_ddl.backfill_resume');
    COMMIT;

    SELECT * INTO j FROM @extschema@.backfill_jobs AS b WHERE b.job_id = backfill_resume.job_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'safe_ddl.backfill_resume: no backfill job %', backfill_resume.job_id
        USING ERRCODE = 'no_data_found',
              HINT = 'Each role sees its own jobs in safe_ddl.backfill_status (superusers see all).';
    END IF;
    IF j.started_by <> CURRENT_USER THEN
        RAISE EXCEPTION 'safe_ddl.backfill_resume: the job was started by role %, and runs only as that role', j.started_by
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = pg_catalog.format('Job %s runs its clauses with the privileges of the role that wrote them.', j.job_id),
              HINT = pg_catalog.format('SET ROLE %I first.', j.started_by);
    END IF;
    IF j.status = 'done' THEN
        RAISE NOTICE 'safe_ddl.backfill_resume: job % is already done (% rows updated)', j.job_id, j.rows_done;
        RETURN;
    END IF;
    PERFORM @extschema@._backfill_check(j.relation, j.set_clause, j.where_clause, j.key_columns);
    PERFORM @extschema@._backfill_lock(j.job_id);
    UPDATE @extschema@.backfill_jobs AS b
       SET cancel_requested = b.cancel_requested AND b.status = 'running',
           status = 'running', error = NULL, finished_at = NULL,
           updated_at = pg_catalog.clock_timestamp()
     WHERE b.job_id = j.job_id;
    COMMIT;
    CALL @extschema@._backfill_run(j.job_id);
END
$$;

COMMENT ON PROCEDURE @extschema@.backfill_resume(bigint) IS
  'Go on with a backfill job from its last committed batch, with its stored settings.';

CREATE FUNCTION @extschema@.backfill_cancel(job_id bigint) RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
#variable_conflict use_column
DECLARE
    j record;
BEGIN
    SELECT * INTO j FROM @extschema@.backfill_jobs AS b WHERE b.job_id = backfill_cancel.job_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'safe_ddl.backfill_cancel: no backfill job %', backfill_cancel.job_id
        USING ERRCODE = 'no_data_found',
              HINT = 'Each role sees its own jobs in safe_ddl.backfill_status (superusers see all).';
    END IF;
    IF j.status IN ('done', 'cancelled') THEN
        RETURN j.status;
    END IF;
    IF pg_catalog.pg_try_advisory_lock(95415761, (j.job_id % 2147483647)::int) THEN
        -- Nobody runs it (or only this session, interrupted): it stops now.
        PERFORM pg_catalog.pg_advisory_unlock(95415761, (j.job_id % 2147483647)::int);
        UPDATE @extschema@.backfill_jobs AS b
           SET status = 'cancelled', cancel_requested = false,
               updated_at = pg_catalog.clock_timestamp(), finished_at = pg_catalog.clock_timestamp()
         WHERE b.job_id = j.job_id;
        RETURN 'cancelled';
    END IF;
    -- A session runs it: it stops at its next batch boundary (or during a throttle wait).
    UPDATE @extschema@.backfill_jobs AS b
       SET cancel_requested = true, updated_at = pg_catalog.clock_timestamp()
     WHERE b.job_id = j.job_id;
    RETURN 'cancel requested';
END
$$;

COMMENT ON FUNCTION @extschema@.backfill_cancel(bigint) IS
  'Stop a backfill job: a running one at its next batch boundary (''cancel requested''), a stopped '
  'one at once (''cancelled''). Returns the outcome, or ''done''. The job can be resumed later.';

-- The jobs, with whether a session is running each now.
CREATE VIEW @extschema@.backfill_status WITH (security_invoker = true) AS
SELECT b.job_id,
       b.relation,
       b.status,
       r.pid IS NOT NULL AS active,
       r.pid AS running_pid,
       b.rows_done,
       b.rows_scanned,
       CASE WHEN b.status = 'done' THEN 100
            ELSE LEAST(99, pg_catalog.floor(100 * b.rows_scanned
                                      / NULLIF(@extschema@._backfill_estimate(b.relation), 0)))
       END AS percent_estimate,
       b.batches,
       b.batch_size,
       b.last_key,
       b.cancel_requested,
       b.throttled,
       b.error,
       b.started_by,
       b.started_at,
       b.updated_at,
       b.finished_at,
       COALESCE(b.finished_at, b.updated_at) - b.started_at AS elapsed
  FROM @extschema@.backfill_jobs AS b
  LEFT JOIN LATERAL (SELECT @extschema@._backfill_runner(b.job_id) AS pid) AS r ON true;

GRANT SELECT ON @extschema@.backfill_status TO PUBLIC;

COMMENT ON VIEW @extschema@.backfill_status IS
  'safe_ddl.backfill_jobs with active (a session runs the job now, running_pid) and an estimated percent.';
