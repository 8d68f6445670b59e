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
-- key, and no row is updated twice. The job covers the keys up to the last one present when it
-- was created (upper_bound, stored in the job row, so a resumed job keeps it) and then ends:
-- rows inserted later are not its job (issue 14, pgroll #583). With follow_new_rows => true it
-- also updates rows inserted beyond the last batch while it runs, until it catches up (which it
-- never does while inserts outpace it); a row inserted below the current key is never updated
-- (see docs).
--
-- Everything runs with the caller's privileges (SECURITY INVOKER, the default; there is no SET
-- clause either: both would forbid the COMMITs, so every operator and function here is
-- schema-qualified and cast to an exact match in pg_catalog). The table is taken as a regclass,
-- key columns and types come from the catalog and are quoted (quote_ident, format_type), key
-- values are quoted literals (%L); the set and where clauses are SQL fragments the caller
-- writes, validated against the table (as the caller) before a job row exists, and run in the
-- caller's search_path, as documented.
--
-- The jobs table (issue 12): every role reads its own jobs (row-level security by role OID;
-- superusers see all), nobody writes it directly. Rows are written by safe_ddl._state() (Rust:
-- it reads the acting role with GetUserId(), then calls safe_ddl._state_write() as the
-- extension's owner), whose _bf_w_* operations below check every value against the catalog and
-- the job's role. A job only ever runs as the role that started it, so nobody can make another
-- role run SQL it did not write.

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
    -- the range the job covers (issue 14): unless follow_new_rows, the last key in key order when
    -- the job was created (NULL then: the table was empty), and the job ends there; rows inserted
    -- later are the application's (or a dual-write trigger's) job, not the backfill's
    follow_new_rows      boolean NOT NULL DEFAULT false,
    upper_bound          text[],
    -- the planner's estimate of the table's rows when the job was created (EXPLAIN: reltuples
    -- scaled to the table's current size), i.e. of the rows in a bounded job's range
    rows_at_start        float8,
    rows_done            bigint NOT NULL DEFAULT 0,   -- rows updated (matching where_clause)
    rows_scanned         bigint NOT NULL DEFAULT 0,   -- rows in the key ranges done
    batches              bigint NOT NULL DEFAULT 0,
    -- settings; batch_size is the current (adapted) size
    batch_size           int NOT NULL CHECK (batch_size > 0),
    target_batch_time    interval,
    pause                interval NOT NULL,
    max_replication_lag  bigint,
    max_dead_tuple_ratio float8,
    -- the CPU priority the job runs at (issue 14): 0 leaves it alone, 1..19 the nice value
    nice                 int NOT NULL DEFAULT 0 CHECK (nice BETWEEN 0 AND 19),
    status               text NOT NULL DEFAULT 'running'
                         CHECK (status IN ('running', 'done', 'cancelled', 'failed')),
    cancel_requested     boolean NOT NULL DEFAULT false,
    error                text,                        -- why it failed
    throttled            interval NOT NULL DEFAULT '0', -- time spent waiting on replicas/vacuum
    started_by           pg_catalog.regrole NOT NULL, -- the role the job runs as (safe_ddl._state's caller)
    pid                  int,                         -- the backend that last ran (claimed) it
    lock_key             int NOT NULL,                -- its advisory lock: (95415761, lock_key)
    started_at           timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    updated_at           timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    finished_at          timestamptz
);

COMMENT ON TABLE @extschema@.backfill_jobs IS
  'safe_ddl.backfill() jobs: one row per backfill, its progress updated in the same transaction '
  'as each batch. status running = not finished (see safe_ddl.backfill_status for whether a '
  'session runs it now). See docs/backfill.md.';

-- At most one unfinished job per role, table and clauses: the same CALL resumes it. Per role:
-- another role's job (invisible under row-level security) never blocks this role's.
CREATE UNIQUE INDEX backfill_jobs_unfinished
    ON @extschema@.backfill_jobs (started_by, relation, pg_catalog.hashtextextended(set_clause, 0),
                                   pg_catalog.hashtextextended(COALESCE(where_clause, ''), 0))
 WHERE status <> 'done';

-- pg_dump keeps the jobs (and the sequence) of this extension-owned table.
SELECT pg_catalog.pg_extension_config_dump('@extschema@.backfill_jobs', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.backfill_jobs_job_id_seq', '');

-- Every role reads its own jobs (superusers bypass row-level security and see all). No role
-- writes the table: safe_ddl._state() does, for the role that calls it.
ALTER TABLE @extschema@.backfill_jobs ENABLE ROW LEVEL SECURITY;
CREATE POLICY backfill_jobs_own ON @extschema@.backfill_jobs FOR SELECT
    USING (started_by = pg_catalog.to_regrole(pg_catalog.quote_ident(CURRENT_USER)));
REVOKE ALL ON @extschema@.backfill_jobs FROM PUBLIC;
GRANT SELECT ON @extschema@.backfill_jobs TO PUBLIC;
REVOKE ALL ON SEQUENCE @extschema@.backfill_jobs_job_id_seq FROM PUBLIC;

-- A session-level advisory lock marks the job a session is running: taken (by _bf_w_claim)
-- before the job row is changed, held across the COMMITs, released at the end and, whatever
-- happens, when the session ends. Key: (0x5AFEDD1, lock_key), i.e. classid 95415761, objid
-- lock_key in pg_locks; lock_key is the job id (mod 2^31-1) unless another session squatted that
-- key before the job's role took it (advisory locks have no owner: any role can take any key),
-- then a random one. A holder counts as the job's runner only if it is the backend recorded in
-- the job's pid by the claim, in a session whose user may act as the job's role (a pid is reused
-- once its backend is gone, and pg_locks shows every runner's pid): a squatter is ignored.

-- The pid of the session running the job (the one holding its lock and recorded as its runner),
-- NULL if none.
-- Whether column `col` of `rel` is NOT NULL for every row: attnotnull, and no NOT VALID not-null
-- constraint on it. From PostgreSQL 18 a NOT NULL constraint can be NOT VALID, and attnotnull is
-- then already true while old rows may hold NULLs; no earlier major has contype 'n', so the same
-- text serves every major (src/pg_version.rs, VALID_NOT_NULL_SQL).
CREATE FUNCTION @extschema@._valid_not_null(rel pg_catalog.oid, col pg_catalog.int2) RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT COALESCE((SELECT a.attnotnull FROM pg_catalog.pg_attribute AS a
                      WHERE a.attrelid = rel AND a.attnum = col AND NOT a.attisdropped), false)
       AND NOT EXISTS (SELECT FROM pg_catalog.pg_constraint AS c
                        WHERE c.conrelid = rel AND c.contype = 'n' AND NOT c.convalidated
                          AND c.conkey = ARRAY[col])
$$;

-- Whether this server has NOT NULL constraints that can be added NOT VALID (PostgreSQL 18 and
-- later; src/pg_version.rs, not_null_not_valid): the recipe of set_not_null depends on it.
CREATE FUNCTION @extschema@._not_null_not_valid() RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT pg_catalog.current_setting('server_version_num')::int >= 180000 $$;

CREATE FUNCTION @extschema@._backfill_runner(lock_key int, pid int, job_role pg_catalog.regrole) RETURNS int
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT l.pid
      FROM pg_catalog.pg_locks AS l
     WHERE l.locktype = 'advisory'
       AND l.database = (SELECT d.oid FROM pg_catalog.pg_database AS d
                          WHERE d.datname = pg_catalog.current_database())
       AND l.classid = 95415761::pg_catalog.oid
       AND l.objid = lock_key::pg_catalog.oid
       AND l.objsubid = 2::pg_catalog.int2
       AND l.granted
       AND l.pid = _backfill_runner.pid
       AND EXISTS (SELECT FROM pg_catalog.pg_stat_activity AS a
                    WHERE a.pid = l.pid AND pg_catalog.pg_has_role(a.usesysid, job_role::pg_catalog.oid, 'MEMBER'))
     LIMIT 1
$$;

-- The pid of any session holding the advisory key, NULL if none.
CREATE FUNCTION @extschema@._backfill_key_holder(lock_key int) RETURNS int
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT l.pid
      FROM pg_catalog.pg_locks AS l
     WHERE l.locktype = 'advisory'
       AND l.database = (SELECT d.oid FROM pg_catalog.pg_database AS d
                          WHERE d.datname = pg_catalog.current_database())
       AND l.classid = 95415761::pg_catalog.oid
       AND l.objid = lock_key::pg_catalog.oid
       AND l.objsubid = 2::pg_catalog.int2
       AND l.granted
     LIMIT 1
$$;

-- The role running this code, by OID (the policies' and _state_write's notion of "this role").
CREATE FUNCTION @extschema@._me() RETURNS pg_catalog.regrole
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT pg_catalog.to_regrole(pg_catalog.quote_ident(CURRENT_USER)) $$;

-- Release the job's lock if this session holds it.
CREATE FUNCTION @extschema@._backfill_unlock(job bigint) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k int;
BEGIN
    SELECT b.lock_key INTO k FROM @extschema@.backfill_jobs AS b WHERE b.job_id = job;
    IF @extschema@._backfill_key_holder(k) = pg_catalog.pg_backend_pid() THEN
        PERFORM pg_catalog.pg_advisory_unlock(95415761, k);
    END IF;
END
$$;

-- Raise unless this session may run the job (nobody else runs it): the claim takes the job's
-- lock and records this backend as its runner.
CREATE FUNCTION @extschema@._backfill_lock(job bigint) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    holder int;
BEGIN
    holder := NULLIF(@extschema@._state('bf_claim', pg_catalog.jsonb_build_object('job', job)::text), '')::int;
    IF holder IS NOT NULL THEN
        RAISE EXCEPTION 'safe_ddl.backfill: job % is being run by another session (pid %)', job, holder
        USING ERRCODE = 'lock_not_available',
              HINT = 'Wait for it to end, or stop it at its next batch with SELECT safe_ddl.backfill_cancel('
                     || job || '). A session whose CALL was interrupted keeps the job until it '
                     'disconnects or calls a backfill again.';
    END IF;
END
$$;

-- A type with its modifiers as SQL that means that type whatever the search_path (format_type
-- under this pinned search_path qualifies every type outside pg_catalog).
CREATE FUNCTION @extschema@._type_sql(typ oid, typmod int) RETURNS text
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$ SELECT pg_catalog.format_type(typ, typmod) $$;

-- A key value as text in a fixed format, whatever the session's settings: what the next
-- session reads back with the column's type must be the same value.
CREATE FUNCTION @extschema@._key_text(anyelement) RETURNS text
LANGUAGE sql STABLE STRICT
SET datestyle = 'ISO, YMD'
SET intervalstyle = 'postgres'
SET extra_float_digits = 1
SET bytea_output = 'hex'
SET search_path = pg_catalog, pg_temp
AS $$ SELECT $1::text $$;

-- (v1::t1, v2::t2, ...) for a stored key.
CREATE FUNCTION @extschema@._key_literal(vals text[], types text[]) RETURNS text
LANGUAGE sql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.string_agg(pg_catalog.format('%L::%s', v.val, t.typ), ', ' ORDER BY v.n)
      FROM pg_catalog.unnest(vals) WITH ORDINALITY AS v(val, n)
      JOIN pg_catalog.unnest(types) WITH ORDINALITY AS t(typ, n) ON t.n = v.n
$$;

-- The plain tables whose rows an UPDATE of the relation touches: itself, or its partitions (and
-- inheritance children). From pg_inherits: pg_partition_tree() would lock them.
CREATE FUNCTION @extschema@._backfill_leaves(rel pg_catalog.regclass) RETURNS SETOF oid
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
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
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN secs < 100 THEN pg_catalog.round(secs::numeric, 1) || ' s'
                WHEN secs < 6000 THEN pg_catalog.round(secs::numeric / 60, 1) || ' min'
                ELSE pg_catalog.round(secs::numeric / 3600, 1) || ' h' END
$$;

-- The settings of a backfill, checked before anything is done.
CREATE FUNCTION @extschema@._backfill_check_settings(
    batch_size int, target_batch_time interval, pause interval,
    max_replication_lag bigint, max_dead_tuple_ratio float8, nice int)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
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
    IF nice IS NULL OR nice < 0 OR nice > 19 THEN
        RAISE EXCEPTION 'safe_ddl.backfill: nice must be from 0 to 19, not %', COALESCE(nice::text, 'NULL')
        USING ERRCODE = 'invalid_parameter_value',
              DETAIL = 'It is the CPU scheduling priority (Unix nice value) the backfill''s session runs at: 0 leaves it alone, 1 to 19 lower it (19 is the lowest).',
              HINT = 'Leave it out for the default (10), or pass nice => 0 to keep the session''s priority.';
    END IF;
END
$$;

-- RAISE an ERROR with optional (NULL or empty) DETAIL and HINT.
CREATE FUNCTION @extschema@._backfill_raise(state text, msg text, detail text, hint text) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
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

-- The catalog half of _backfill_check: the table and its key (found, or the given one still
-- usable). Returns the key columns and their types (qualified: they mean the same in any
-- search_path).
CREATE FUNCTION @extschema@._backfill_check_table(
    rel pg_catalog.regclass, set_clause text,
    INOUT key_columns text[], OUT key_types text[])
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    kind       "char";
    all_nn     boolean;
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
                       pg_catalog.bool_and(@extschema@._valid_not_null(a.attrelid, a.attnum)) AS not_null,
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
    SELECT pg_catalog.array_agg(@extschema@._type_sql(a.atttypid, a.atttypmod) ORDER BY c.n),
           pg_catalog.bool_and(CASE WHEN a.attnum IS NOT NULL THEN @extschema@._valid_not_null(a.attrelid, a.attnum) END)
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

END
$$;

-- The relation as SQL: schema.name, quoted, whatever the search_path.
CREATE FUNCTION @extschema@._rel_sql(rel pg_catalog.regclass) RETURNS text
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.format('%I.%I', n.nspname, c.relname)
      FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
     WHERE c.oid = rel
$$;

-- Check a backfill against the table, as the caller, without changing anything: the table, its
-- key (found, or the given one still usable), the privileges, the where clause and the set
-- clause. Returns the key columns and their types. Every failure is an ERROR naming what is wrong.
-- Not pinned: the clauses are parsed in the caller's search_path (as documented); everything
-- else is qualified.
CREATE FUNCTION @extschema@._backfill_check(
    rel pg_catalog.regclass, set_clause text, where_clause text,
    INOUT key_columns text[], OUT key_types text[])
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    key_list   text;
    qrel       text;
    what       text;
    probe      text;
    err_state  text;
    err_msg    text;
    err_detail text;
    err_hint   text;
BEGIN
    SELECT c.key_columns, c.key_types INTO key_columns, key_types
      FROM @extschema@._backfill_check_table(rel, set_clause, key_columns) AS c;
    qrel := @extschema@._rel_sql(rel);

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
        EXECUTE pg_catalog.format('SELECT %s FROM %s WHERE false ORDER BY %s LIMIT 0', key_list, qrel, key_list);
        IF where_clause IS NOT NULL THEN
            -- Inside CASE WHEN ... THEN (not parentheses): a fragment like 'a) OR (b' that would
            -- escape the parentheses of the batch's WHERE is a syntax error here.
            what := 'where_clause';
            probe := pg_catalog.format(E'SELECT 1 FROM %s WHERE false AND CASE WHEN\n%s\nTHEN true END',
                                       qrel, where_clause);
            -- Parsed before it runs: a clause that ends the statement and starts another one
            -- must not run even here (a sequence or pg_terminate_backend() is not rolled back).
            IF NOT @extschema@._one_statement(probe) THEN
                RAISE EXCEPTION 'it ends the statement and starts another one' USING ERRCODE = 'syntax_error';
            END IF;
            EXECUTE probe;
        END IF;
        what := 'set_clause';
        probe := pg_catalog.format(E'UPDATE %s SET\n%s\nWHERE false AND (\n%s\n)',
                                   qrel, set_clause, COALESCE(where_clause, 'true'));
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
SET search_path = pg_catalog, pg_temp
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
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT COALESCE(
        NULLIF((SELECT pg_catalog.sum(GREATEST(c.reltuples, 0))
                  FROM pg_catalog.pg_class AS c
                 WHERE c.oid IN (SELECT @extschema@._backfill_leaves(rel))), 0),
        NULLIF((SELECT pg_catalog.sum(s.n_live_tup)
                  FROM pg_catalog.pg_stat_all_tables AS s
                 WHERE s.relid IN (SELECT @extschema@._backfill_leaves(rel))), 0))
$$;

-- The last key of the table in key order (the order the batches walk), as stored keys are
-- (_key_text), NULL if the table is empty: the upper bound of a new job. Reads the table as the
-- caller; the caller turns usage tracking off first (a SET clause would undo that here).
CREATE FUNCTION @extschema@._backfill_last_key(rel pg_catalog.regclass, key_columns text[]) RETURNS text[]
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    key_desc  text;
    key_texts text;
    k         text[];
BEGIN
    SELECT pg_catalog.string_agg(pg_catalog.quote_ident(c.c) || ' DESC', ', ' ORDER BY c.n),
           pg_catalog.string_agg(pg_catalog.format('@extschema@._key_text(%I)', c.c), ', ' ORDER BY c.n)
      INTO key_desc, key_texts
      FROM pg_catalog.unnest(key_columns) WITH ORDINALITY AS c(c, n);
    EXECUTE pg_catalog.format('SELECT ARRAY[%s] FROM %s ORDER BY %s LIMIT 1',
                              key_texts, @extschema@._rel_sql(rel), key_desc)
       INTO k;
    RETURN k;
END
$$;

-- The planner's estimate of the rows of the relation matching cond (key comparisons built by
-- _backfill_run from quoted identifiers and %L literals), 0 if none. Not pinned: cond's
-- operators are those _backfill_key_op chose, resolved as in the batches; EXPLAIN runs nothing.
CREATE FUNCTION @extschema@._backfill_rows_in(qrel text, cond text) RETURNS float8
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    plan pg_catalog.json;
BEGIN
    EXECUTE pg_catalog.format('EXPLAIN (FORMAT JSON) SELECT 1 FROM %s WHERE %s', qrel, cond) INTO plan;
    RETURN COALESCE(pg_catalog.json_extract_path_text(plan, '0', 'Plan', 'Plan Rows')::pg_catalog.float8, 0);
END
$$;

-- Batch size bounds: 10 .. 100000 rows (wider if the job started outside them), and at most
-- half of safe_ddl.max_dml_rows when the large_dml guard is on.
CREATE FUNCTION @extschema@._backfill_bounds(batch_size int, OUT bsize int, OUT bmin int, OUT bmax int)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    dml_limit int := NULLIF(pg_catalog.current_setting('safe_ddl.max_dml_rows', true), '')::int;
BEGIN
    bsize := batch_size;
    bmin := LEAST(10, bsize);
    bmax := GREATEST(100000, bsize);
    IF dml_limit > 0 THEN
        -- Half the limit: the guard judges the planner's estimate for a key range, which can be
        -- a little above the rows the batch really updates.
        bmax := LEAST(bmax, GREATEST(1, dml_limit / 2));
        bmin := LEAST(bmin, bmax);
        bsize := LEAST(bsize, bmax);
    END IF;
END
$$;

-- The next batch size toward target_batch_time: at most x2 or /2 per batch, not within 20% of
-- the target.
CREATE FUNCTION @extschema@._backfill_adapt(bsize int, bmin int, bmax int, target_secs float8, elapsed float8)
RETURNS int
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    factor float8 := target_secs / GREATEST(elapsed, 0.001);
BEGIN
    IF factor > 1.25 OR factor < 0.8 THEN
        factor := LEAST(2.0, GREATEST(0.5, factor));
        RETURN LEAST(bmax, GREATEST(bmin, pg_catalog.round(bsize * factor)::int));
    END IF;
    RETURN bsize;
END
$$;

-- The progress NOTICE's text.
-- A bounded job (left = the estimated rows still in its range, bound = its upper bound) counts
-- against its range: the rows scanned so far plus those left, and the time left is those left
-- at this run's rate. A job that follows new rows (bound NULL) counts against the table's size
-- now (left = that less the rows scanned), which grows while it runs; with left NULL too,
-- against the table's estimated size (reltuples).
CREATE FUNCTION @extschema@._backfill_progress(job bigint, rel pg_catalog.regclass, rows_done bigint, rows_scanned bigint,
                                              run_done bigint, run_scanned bigint, elapsed float8, bsize int,
                                              left_rows float8 DEFAULT NULL, bound text[] DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    est  float8 := @extschema@._backfill_estimate(rel);
    rate float8 := run_scanned / GREATEST(elapsed, 0.001);
    msg  text;
BEGIN
    msg := pg_catalog.format('safe_ddl.backfill: job %s on %s: %s rows updated (%s/s), %s rows scanned',
                             job, rel, rows_done, pg_catalog.round(run_done / GREATEST(elapsed, 0.001)), rows_scanned);
    IF left_rows IS NOT NULL AND bound IS NULL THEN
        -- following new rows: against the table's size now, which grows while inserts go on
        msg := msg || pg_catalog.format(', following new rows: about %s%% of about %s rows now in the table, about %s left at this rate (more while rows are inserted)',
            LEAST(99, pg_catalog.floor(100 * rows_scanned / GREATEST(rows_scanned + left_rows, 1))),
            pg_catalog.round((rows_scanned + left_rows)::numeric),
            @extschema@._backfill_secs(left_rows / GREATEST(rate, 1)));
    ELSIF left_rows IS NOT NULL THEN
        msg := msg || pg_catalog.format(', about %s%% of about %s rows up to key (%s), about %s left',
            LEAST(99, pg_catalog.floor(100 * rows_scanned / GREATEST(rows_scanned + left_rows, 1))),
            pg_catalog.round((rows_scanned + left_rows)::numeric),
            pg_catalog.array_to_string(bound, ', '),
            @extschema@._backfill_secs(left_rows / GREATEST(rate, 1)));
    ELSIF est IS NOT NULL THEN
        msg := msg || pg_catalog.format(', following new rows: about %s%% of %s rows now in the table, about %s left at this rate',
            LEAST(99, pg_catalog.floor(100 * rows_scanned / est)),
            pg_catalog.round(est::numeric),
            @extschema@._backfill_secs(GREATEST(est - rows_scanned, 0) / GREATEST(rate, 1)));
    END IF;
    RETURN msg || pg_catalog.format(', batch size %s', bsize);
END
$$;

-- How each key column compares with op ('>' or '<='): the operator of the default btree operator
-- class of its type (a domain's base type, or the type it is binary-coercible to: varchar's is
-- text's), its schema, and the type to cast the column and its values to so that the operator
-- is an exact match (NULL: the column's own type). Types compared only by pg_catalog's polymorphic
-- operators (enums, arrays, records) get those, by name.
CREATE FUNCTION @extschema@._backfill_key_cmp(rel pg_catalog.regclass, key_columns text[], op text)
RETURNS TABLE (n bigint, op_schema name, cast_to text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT k.n, COALESCE(x.nsp, 'pg_catalog'),   -- none: only a polymorphic one (enums, arrays, records)
           CASE WHEN x.intype IS DISTINCT FROM a.atttypid THEN pg_catalog.format_type(x.intype, NULL) END
      FROM pg_catalog.unnest(key_columns) WITH ORDINALITY AS k(c, n)
      JOIN pg_catalog.pg_attribute AS a ON a.attrelid = rel AND a.attname = k.c AND a.attnum > 0 AND NOT a.attisdropped
      JOIN pg_catalog.pg_type AS t ON t.oid = a.atttypid
      LEFT JOIN LATERAL (
            SELECT oc.opcintype AS intype, ns.nspname AS nsp
              FROM pg_catalog.pg_opclass AS oc
              JOIN pg_catalog.pg_am AS am ON am.oid = oc.opcmethod AND am.amname = 'btree'
              JOIN pg_catalog.pg_amop AS ao ON ao.amopfamily = oc.opcfamily AND ao.amoplefttype = oc.opcintype
                                           AND ao.amoprighttype = oc.opcintype
                                           AND ao.amopstrategy = CASE op WHEN '>' THEN 5 WHEN '<=' THEN 2 END
              JOIN pg_catalog.pg_operator AS o ON o.oid = ao.amopopr
              JOIN pg_catalog.pg_namespace AS ns ON ns.oid = o.oprnamespace
             WHERE oc.opcdefault
               AND (oc.opcintype = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
                    OR EXISTS (SELECT FROM pg_catalog.pg_cast AS c
                                WHERE c.castsource = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
                                  AND c.casttarget = oc.opcintype AND c.castmethod = 'b'))
             ORDER BY oc.opcintype = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END DESC
             LIMIT 1) AS x ON true
$$;

-- The operator comparing the key: OPERATOR(pg_catalog.op) when every key column's type (a domain's
-- base type) is one of pg_catalog's (as the plain operator resolves then, but immune to
-- look-alikes earlier in the search_path); else OPERATOR(schema.op) when the operators of all
-- key columns are of one schema (with the columns cast as _backfill_key_casts says, an exact
-- match there: a look-alike for a domain in that schema is never taken); else the plain operator
-- (each column cast to its operator's type: an exact match in the search_path).
CREATE FUNCTION @extschema@._backfill_key_op(rel pg_catalog.regclass, key_columns text[], op text) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN (SELECT pg_catalog.bool_and(COALESCE(b.typnamespace, t.typnamespace) = 'pg_catalog'::regnamespace)
                        FROM pg_catalog.unnest(key_columns) AS k(c)
                        JOIN pg_catalog.pg_attribute AS a ON a.attrelid = rel AND a.attname = k.c
                        JOIN pg_catalog.pg_type AS t ON t.oid = a.atttypid
                        LEFT JOIN pg_catalog.pg_type AS b ON t.typtype = 'd' AND b.oid = t.typbasetype)   -- a domain: its base type's
                THEN pg_catalog.format('OPERATOR(pg_catalog.%s)', op)
                WHEN pg_catalog.count(DISTINCT x.op_schema) = 1 AND pg_catalog.bool_and(x.op_schema IS NOT NULL)
                THEN pg_catalog.format('OPERATOR(%I.%s)', pg_catalog.min(x.op_schema::text), op)
                ELSE op END
      FROM @extschema@._backfill_key_cmp(rel, key_columns, op) AS x
$$;

-- Per key column, the type to cast it and its values to for the comparisons, or NULL (the key's
-- operator is pg_catalog's: see _backfill_key_op).
CREATE FUNCTION @extschema@._backfill_key_casts(rel pg_catalog.regclass, key_columns text[]) RETURNS text[]
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN @extschema@._backfill_key_op(rel, key_columns, '>') = 'OPERATOR(pg_catalog.>)'
                THEN pg_catalog.array_fill(NULL::text, ARRAY[pg_catalog.cardinality(key_columns)])
                ELSE (SELECT pg_catalog.array_agg(x.cast_to ORDER BY x.n) FROM @extschema@._backfill_key_cmp(rel, key_columns, '>') AS x) END
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
    key_gt         text;
    key_le         text;
    key_cmp        text;
    cmp_types      text[];
    qrel           text;
    lower_cond     text;
    bound_cond     text;
    range_desc     text;
    left_rows      float8;
    upper_key      text[];
    n_scanned      bigint;
    n_updated      bigint;
    n_moved        bigint;
    bsize          int;
    bmin           int;
    bmax           int;
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
    err_state      text;
    err_msg        text;
    err_detail     text;
    err_hint       text;
    -- NOTICE intervals
    progress_every CONSTANT interval := '5 s';
    wait_step      float8;
    -- the CPU priority asked for (0: unchanged) and the session's nice value once lowered
    job_nice       int;
    cur_nice       int;
    nice_end       text;
BEGIN
    SELECT * INTO j FROM @extschema@.backfill_jobs AS b WHERE b.job_id = job;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'safe_ddl.backfill: no job %', job USING ERRCODE = 'no_data_found';
    END IF;
    IF j.started_by::pg_catalog.oid OPERATOR(pg_catalog.<>) @extschema@._me()::pg_catalog.oid THEN
        RAISE EXCEPTION 'safe_ddl.backfill: the job was started by role %, and runs only as that role', j.started_by
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = 'A job runs its clauses with the privileges of the role that wrote them.',
              HINT = pg_catalog.format('Role %s runs it in a session logged in as %s (not SET ROLE in yours: its code could RESET ROLE and act as you): CALL safe_ddl.backfill_resume(%s);', j.started_by, j.started_by, job);
    END IF;
    PERFORM @extschema@._backfill_lock(job);   -- held already when called by backfill()
    SELECT c.key_types INTO key_types
      FROM @extschema@._backfill_check(j.relation, j.set_clause, j.where_clause, j.key_columns) AS c;
    key_cols := j.key_columns;
    qrel := @extschema@._rel_sql(j.relation);
    -- The key comparisons: pg_catalog's operators when every key type is pg_catalog's (varchar
    -- compares as text, as it always does), else those of the key types' schema, the columns and
    -- values cast to the operators' types (see _backfill_key_op): never a look-alike.
    key_gt := @extschema@._backfill_key_op(j.relation, key_cols, '>');
    key_le := @extschema@._backfill_key_op(j.relation, key_cols, '<=');
    SELECT pg_catalog.string_agg(pg_catalog.quote_ident(k.c), ', ' ORDER BY k.n),
           pg_catalog.string_agg(pg_catalog.quote_ident(k.c) || ' DESC', ', ' ORDER BY k.n),
           pg_catalog.string_agg(pg_catalog.format('@extschema@._key_text(%I)', k.c), ', ' ORDER BY k.n),
           pg_catalog.string_agg(CASE WHEN x.cast_to IS NULL THEN pg_catalog.quote_ident(k.c)
                                      ELSE pg_catalog.format('CAST(%I AS %s)', k.c, x.cast_to) END, ', ' ORDER BY k.n),
           pg_catalog.array_agg(COALESCE(x.cast_to, key_types[k.n]) ORDER BY k.n)
      INTO key_list, key_desc, key_texts, key_cmp, cmp_types
      FROM pg_catalog.unnest(key_cols) WITH ORDINALITY AS k(c, n)
      JOIN pg_catalog.unnest(@extschema@._backfill_key_casts(j.relation, key_cols)) WITH ORDINALITY AS x(cast_to, n)
        ON x.n OPERATOR(pg_catalog.=) k.n;

    -- The job's range (issue 14): up to the last key present when it was created, none if the
    -- table was empty then, or every key (follow_new_rows).
    IF j.follow_new_rows THEN
        bound_cond := 'true';
        range_desc := 'following rows inserted while it runs';
    ELSIF j.upper_bound IS NULL THEN
        bound_cond := 'false';
        range_desc := 'the table was empty when the job started: nothing to do';
    ELSE
        bound_cond := pg_catalog.format('(%s) %s (%s)', key_cmp, key_le, @extschema@._key_literal(j.upper_bound, cmp_types));
        range_desc := 'up to key (' || pg_catalog.array_to_string(j.upper_bound, ', ') || '), the last one when the job started';
    END IF;

    -- Batch size bounds: 10 .. 100000 rows (wider if the job started outside them), and at most
    -- half of safe_ddl.max_dml_rows when the large_dml guard is on.
    SELECT x.bsize, x.bmin, x.bmax INTO bsize, bmin, bmax FROM @extschema@._backfill_bounds(j.batch_size) AS x;
    target_secs := EXTRACT(epoch FROM j.target_batch_time)::float8;

    RAISE NOTICE 'safe_ddl.backfill: job % on %: %, key (%) %, batch size %, % rows done so far',
        job, j.relation,
        CASE WHEN j.last_key IS NULL THEN 'starting' ELSE 'resuming after key (' || pg_catalog.array_to_string(j.last_key, ', ') || ')' END,
        key_list, range_desc, bsize, j.rows_done;
    IF j.max_replication_lag IS NOT NULL
       AND EXISTS (SELECT FROM pg_catalog.pg_stat_replication AS r WHERE r.state IS NULL) THEN
        RAISE NOTICE 'safe_ddl.backfill: cannot see the replication lag of some standbys (needs pg_read_all_stats): not waiting for them';
    END IF;
    IF pg_catalog.current_setting('statement_timeout') NOT IN ('0', '0ms') THEN
        RAISE NOTICE 'safe_ddl.backfill: statement_timeout is %: it applies to the whole CALL, which will be canceled then (CALL again to resume)',
            pg_catalog.current_setting('statement_timeout');
    END IF;
    -- Lower this backend's CPU priority (issue 14): on a machine the application keeps busy, its
    -- queries then get the CPU first. Restored at the end where the kernel allows it (the
    -- autogroup's value); the process's own nice value stays until the session ends.
    job_nice := j.nice;
    IF job_nice > 0 THEN
        cur_nice := COALESCE(@extschema@._backfill_nice(job_nice), job_nice);
        RAISE NOTICE 'safe_ddl.backfill: job % runs at CPU priority nice % (nice => 0: unchanged); this session keeps nice % until it disconnects',
            job, cur_nice, cur_nice;
        nice_end := pg_catalog.format('safe_ddl.backfill: this session stays at nice %s until it disconnects (a process cannot raise its CPU priority back): run other work in another connection',
                                      cur_nice);
    END IF;
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
                PERFORM @extschema@._state('bf_stop', pg_catalog.jsonb_build_object(
                    'job', job, 'status', 'cancelled',
                    'waited', COALESCE(pg_catalog.clock_timestamp() - wait_start, '0'))::text);
                COMMIT;
                PERFORM @extschema@._backfill_unlock(job);
                RAISE NOTICE 'safe_ddl.backfill: job % on % cancelled after % rows (last key (%)); CALL safe_ddl.backfill_resume(%) goes on from there',
                    job, j.relation, j.rows_done, COALESCE(pg_catalog.array_to_string(j.last_key, ', '), 'none'), job;
                IF job_nice > 0 THEN
                    PERFORM @extschema@._backfill_restore_nice();
                    RAISE NOTICE '%', nice_end;
                END IF;
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
                    @extschema@._backfill_secs(EXTRACT(epoch FROM pg_catalog.clock_timestamp() - wait_start)::pg_catalog.float8), reason;
                last_notice := pg_catalog.clock_timestamp();
            END IF;
            COMMIT;
            PERFORM pg_catalog.pg_sleep(wait_step);
            COMMIT;
            wait_step := LEAST(1.0::pg_catalog.float8, wait_step OPERATOR(pg_catalog.*) 2::pg_catalog.float8);
        END LOOP;
        waited := COALESCE(pg_catalog.clock_timestamp() - wait_start, '0');
        run_waited := run_waited OPERATOR(pg_catalog.+) EXTRACT(epoch FROM waited)::pg_catalog.float8;
        IF last_notice IS NOT NULL THEN
            RAISE NOTICE 'safe_ddl.backfill: job % goes on after waiting %', job,
                @extschema@._backfill_secs(EXTRACT(epoch FROM waited)::pg_catalog.float8);
        END IF;

        -- 2. One batch: its upper key, the UPDATE and the job's progress in one transaction.
        lower_cond := CASE WHEN j.last_key IS NULL THEN 'true'
                           ELSE pg_catalog.format('(%s) %s (%s)', key_cmp, key_gt, @extschema@._key_literal(j.last_key, cmp_types)) END;
        finished := false;
        failed := false;
        retryable := false;
        t0 := pg_catalog.clock_timestamp();
        -- The backfill's reads and writes are a migration's, not the application's: keep them
        -- out of the column usage that drop/rename decisions rest on (this transaction only).
        PERFORM pg_catalog.set_config('safe_ddl.track_usage', 'off', true);
        BEGIN
            EXECUTE pg_catalog.format(
                'WITH b AS MATERIALIZED (SELECT %1$s FROM %2$s WHERE %3$s AND %6$s ORDER BY %1$s LIMIT $1), '
                'l AS (SELECT %1$s FROM b ORDER BY %4$s LIMIT 1) '
                'SELECT ARRAY[%5$s], (SELECT pg_catalog.count(*) FROM b) FROM l',
                key_list, qrel, lower_cond, key_desc, key_texts, bound_cond)
            INTO upper_key, n_scanned
            USING bsize;
            IF upper_key IS NULL THEN
                finished := true;
            ELSE
                -- The fragments stand on lines of their own, so a -- comment in one ends there.
                EXECUTE pg_catalog.format(
                    E'WITH u AS (UPDATE %1$s SET\n%2$s\nWHERE %3$s AND (%8$s) %7$s (%5$s) AND (\n%6$s\n) RETURNING %4$s)\n'
                    'SELECT pg_catalog.count(*), pg_catalog.count(*) FILTER (WHERE (%3$s AND (%8$s) %7$s (%5$s)) IS NOT TRUE) FROM u',
                    qrel, j.set_clause, lower_cond, key_list,
                    @extschema@._key_literal(upper_key, cmp_types), COALESCE(j.where_clause, 'true'), key_le, key_cmp)
                INTO n_updated, n_moved;
                IF n_moved > 0 THEN
                    RAISE EXCEPTION 'safe_ddl.backfill: set_clause moved % rows out of the batch''s key range', n_moved
                    USING ERRCODE = 'invalid_parameter_value',
                          DETAIL = pg_catalog.format('It changes the key (%s) that backfill walks: those rows would be updated again or skipped.', key_list),
                          HINT = 'Update key columns another way (a new column, then a switch).';
                END IF;
                -- The job's progress, in the batch's transaction: only if nobody changed it since.
                IF @extschema@._state('bf_progress', pg_catalog.jsonb_build_object(
                       'job', job, 'expect_last_key', j.last_key, 'last_key', upper_key,
                       'rows_done', n_updated, 'rows_scanned', n_scanned, 'batch_size', bsize,
                       'waited', waited)::text) OPERATOR(pg_catalog.<>) 'ok' THEN
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
                PERFORM pg_catalog.pg_sleep(0.1::pg_catalog.float8 OPERATOR(pg_catalog.*) (2::pg_catalog.float8 OPERATOR(pg_catalog.^) retries::pg_catalog.float8));
                COMMIT;
                CONTINUE;
            END IF;
        END IF;

        IF failed THEN
            -- The batch is rolled back; the job keeps every earlier batch and says why it stopped.
            PERFORM @extschema@._state('bf_stop', pg_catalog.jsonb_build_object(
                'job', job, 'status', 'failed', 'error', err_msg, 'batch_size', bsize)::text);
            COMMIT;
            PERFORM @extschema@._backfill_unlock(job);
            IF job_nice > 0 THEN
                PERFORM @extschema@._backfill_restore_nice();
                RAISE NOTICE '%', nice_end;
            END IF;
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
            PERFORM @extschema@._state('bf_stop', pg_catalog.jsonb_build_object(
                'job', job, 'status', 'done', 'batch_size', bsize, 'waited', waited)::text);
            COMMIT;
            PERFORM @extschema@._backfill_unlock(job);
            SELECT * INTO j FROM @extschema@.backfill_jobs AS b WHERE b.job_id = job;
            RAISE NOTICE 'safe_ddl.backfill: job % on % done: % rows updated, % scanned, in % batches (this run: % rows in %, waited %)%',
                job, j.relation, j.rows_done, j.rows_scanned, j.batches, run_done,
                @extschema@._backfill_secs(EXTRACT(epoch FROM pg_catalog.clock_timestamp() - run_start)::pg_catalog.float8),
                @extschema@._backfill_secs(run_waited),
                CASE WHEN j.follow_new_rows THEN ''
                     ELSE '; rows inserted after it started ' || COALESCE('beyond key (' || pg_catalog.array_to_string(j.upper_bound, ', ') || ')', '')
                          || ' are left to the application or its dual-write trigger' END;
            IF job_nice > 0 THEN
                PERFORM @extschema@._backfill_restore_nice();
                RAISE NOTICE '%', nice_end;
            END IF;
            RETURN;
        END IF;

        COMMIT;
        retries := 0;
        elapsed := EXTRACT(epoch FROM pg_catalog.clock_timestamp() - t0)::pg_catalog.float8;
        run_scanned := run_scanned + n_scanned;
        run_done := run_done + n_updated;

        -- 3. Adapt the batch size toward target_batch_time: at most x2 or /2 per batch, not for a
        --    short last batch, not within 20% of the target.
        IF target_secs IS NOT NULL AND n_scanned >= bsize THEN
            bsize := @extschema@._backfill_adapt(bsize, bmin, bmax, target_secs, elapsed);
        END IF;

        -- 4. Progress, every few seconds (rates over the time spent working, not waiting for
        --    standbys or vacuum).
        IF pg_catalog.clock_timestamp() - last_progress >= progress_every THEN
            last_progress := pg_catalog.clock_timestamp();
            -- A bounded job: the rows still in its range after this batch: the table's size when
            -- the job started (the planner's, scaled to the table's pages then) less the rows
            -- scanned since. Once more rows were scanned than that (rows inserted into gaps of
            -- the key, a poor estimate), the planner's estimate for the key range left. (Not that
            -- one first: after a burst of inserts beyond the last ANALYZE it is far off, both ways.)
            -- A job following new rows: the table's size now (the planner's, scaled to its pages)
            -- less the rows scanned.
            PERFORM pg_catalog.set_config('safe_ddl.track_usage', 'off', true);
            left_rows := NULL;
            IF j.follow_new_rows THEN
                left_rows := GREATEST(@extschema@._backfill_rows_in(qrel, 'true') OPERATOR(pg_catalog.-) (j.rows_scanned + n_scanned)::pg_catalog.float8,
                                      0::pg_catalog.float8);
            ELSE
                left_rows := COALESCE(j.rows_at_start, 0) OPERATOR(pg_catalog.-) (j.rows_scanned + n_scanned)::pg_catalog.float8;
                IF left_rows OPERATOR(pg_catalog.<=) 0::pg_catalog.float8 THEN
                    left_rows := @extschema@._backfill_rows_in(qrel, pg_catalog.format('(%s) %s (%s) AND %s',
                        key_cmp, key_gt, @extschema@._key_literal(upper_key, cmp_types), bound_cond));
                END IF;
            END IF;
            RAISE NOTICE '%', @extschema@._backfill_progress(job, j.relation, j.rows_done + n_updated,
                j.rows_scanned + n_scanned, run_done, run_scanned,
                EXTRACT(epoch FROM pg_catalog.clock_timestamp() - run_start)::pg_catalog.float8 OPERATOR(pg_catalog.-) run_waited,
                bsize, left_rows, j.upper_bound);
            COMMIT;
        END IF;

        -- 5. Let the application's transactions and the standbys through.
        IF j.pause > interval '0' THEN
            PERFORM pg_catalog.pg_sleep(EXTRACT(epoch FROM j.pause)::pg_catalog.float8);
            COMMIT;
        END IF;
    END LOOP;
END
$$;

COMMENT ON PROCEDURE @extschema@._backfill_run(bigint) IS
  'Internal: the batch loop of safe_ddl.backfill(); CALL safe_ddl.backfill_resume(job_id) instead.';

----------------------------------------------------------------------------------------------------
-- Writes of backfill_jobs (issue 12). Called only by safe_ddl._state_write(), i.e. through
-- safe_ddl._state() as the extension's owner, with the acting role (GetUserId() of _state's
-- caller) as actor: not executable by PUBLIC. Each one checks that the job is the actor's and
-- every value against the catalog; the clauses are the actor's own text, only ever run as it.
----------------------------------------------------------------------------------------------------

-- The unfinished job of this role with these clauses (at most one).
CREATE FUNCTION @extschema@._backfill_unfinished(rel pg_catalog.regclass, set_clause text, where_clause text)
RETURNS SETOF @extschema@.backfill_jobs
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT * FROM @extschema@.backfill_jobs AS b
     WHERE b.relation = $1 AND b.set_clause = $2 AND b.where_clause IS NOT DISTINCT FROM $3
       AND b.status <> 'done' AND b.started_by = @extschema@._me()
     ORDER BY b.job_id DESC
     LIMIT 1
$$;

-- A text[] sent as JSON (NULL for JSON null).
CREATE FUNCTION @extschema@._json_text_array(j jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN pg_catalog.jsonb_typeof(j) = 'array'
                THEN ARRAY(SELECT e.v FROM pg_catalog.jsonb_array_elements_text(j) WITH ORDINALITY AS e(v, n) ORDER BY e.n) END
$$;

-- The actor's job, locked for the write; errors name what to do.
CREATE FUNCTION @extschema@._bf_w_job(actor pg_catalog.regrole, job bigint, runner boolean)
RETURNS @extschema@.backfill_jobs
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    j @extschema@.backfill_jobs;
BEGIN
    SELECT * INTO j FROM @extschema@.backfill_jobs AS b WHERE b.job_id = job FOR UPDATE;
    -- Another role's job does not exist for the actor (as under row-level security), unless the
    -- actor is a superuser, who is told whose it is.
    IF NOT FOUND OR (j.started_by <> actor
                     AND NOT EXISTS (SELECT FROM pg_catalog.pg_roles AS r WHERE r.oid = actor AND r.rolsuper)) THEN
        RAISE EXCEPTION 'safe_ddl.backfill: no backfill job %', job USING ERRCODE = 'no_data_found',
              HINT = 'Each role sees its own jobs in safe_ddl.backfill_status (superusers see all).';
    END IF;
    IF j.started_by <> actor THEN
        RAISE EXCEPTION 'safe_ddl.backfill: the job was started by role %, and only that role runs or changes it', j.started_by
        USING ERRCODE = 'insufficient_privilege',
              HINT = pg_catalog.format('Role %s runs it in a session logged in as %s (not SET ROLE in yours: its code could RESET ROLE and act as you): CALL safe_ddl.backfill_resume(%s);', j.started_by, j.started_by, job);
    END IF;
    IF runner AND @extschema@._backfill_runner(j.lock_key, j.pid, j.started_by) IS DISTINCT FROM pg_catalog.pg_backend_pid() THEN
        RAISE EXCEPTION 'safe_ddl.backfill: this session does not run job %', job
        USING ERRCODE = 'object_not_in_prerequisite_state',
              HINT = pg_catalog.format('CALL safe_ddl.backfill_resume(%s);', job);
    END IF;
    RETURN j;
END
$$;

-- A new job of the actor; returns its id.
CREATE FUNCTION @extschema@._bf_w_create(actor pg_catalog.regrole, a jsonb) RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rel   pg_catalog.regclass := (a->>'relation')::oid;
    keys  text[] := @extschema@._json_text_array(a->'key_columns');
    set_text text := a->>'set_clause';
    where_text text := a->>'where_clause';
    bs    int := (a->>'batch_size')::int;
    tbt   interval := (a->>'target_batch_time')::interval;
    ps    interval := (a->>'pause')::interval;
    lag   bigint := (a->>'max_replication_lag')::bigint;
    dead  float8 := (a->>'max_dead_tuple_ratio')::float8;
    nic   int := COALESCE((a->>'nice')::int, 0);
    follow boolean := COALESCE((a->>'follow_new_rows')::boolean, false);
    bound text[] := @extschema@._json_text_array(a->'upper_bound');
    at_start float8 := GREATEST((a->>'rows_at_start')::float8, 0);
    job   bigint;
BEGIN
    PERFORM @extschema@._backfill_check_settings(bs, tbt, ps, lag, dead, nic);
    IF keys IS NULL THEN
        RAISE EXCEPTION 'safe_ddl.backfill: no key columns' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- The bound only narrows the actor's own job (it walks fewer rows, never other ones); it
    -- must be a key of the job's shape (cast with the key's types at every batch).
    IF follow AND bound IS NOT NULL THEN
        RAISE EXCEPTION 'safe_ddl.backfill: a job that follows new rows has no upper bound' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF bound IS NOT NULL AND (pg_catalog.cardinality(bound) <> pg_catalog.cardinality(keys)
                              OR pg_catalog.array_position(bound, NULL) IS NOT NULL) THEN
        RAISE EXCEPTION 'safe_ddl.backfill: the upper bound must have one value per key column (%)', pg_catalog.array_to_string(keys, ', ')
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM @extschema@._backfill_check_table(rel, set_text, keys);
    IF NOT pg_catalog.has_any_column_privilege(actor, rel, 'UPDATE') THEN
        RAISE EXCEPTION 'safe_ddl.backfill: permission denied: % needs UPDATE on table %', actor, rel
        USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF EXISTS (SELECT FROM @extschema@.backfill_jobs AS b
                WHERE b.started_by = actor AND b.relation = rel AND b.set_clause = set_text
                  AND b.where_clause IS NOT DISTINCT FROM where_text AND b.status <> 'done') THEN
        RAISE EXCEPTION 'safe_ddl.backfill: the same backfill of % was just started by another session of role %', rel, actor
        USING ERRCODE = 'unique_violation',
              HINT = 'See SELECT * FROM safe_ddl.backfill_status; the same CALL again resumes that job once its session is done with it.';
    END IF;
    job := pg_catalog.nextval('@extschema@.backfill_jobs_job_id_seq');
    INSERT INTO @extschema@.backfill_jobs
           (job_id, relation, set_clause, where_clause, key_columns, follow_new_rows, upper_bound, rows_at_start,
            batch_size, target_batch_time, pause, max_replication_lag, max_dead_tuple_ratio, nice, started_by, pid, lock_key)
    VALUES (job, rel, set_text, where_text, keys, follow, bound, at_start, bs, tbt, ps, lag, dead, nic, actor,
            pg_catalog.pg_backend_pid(), (job % 2147483647)::int);
    RETURN job::text;
END
$$;

-- Take the job's advisory lock for this session and record it as the job's runner. Returns ''
-- when this session runs the job now, else the pid of the session that does. A holder of the
-- key that is not the job's recorded runner (any role can take any advisory key) is ignored:
-- the job moves to a fresh random key, unknown to anyone until this session holds it. The row
-- lock serializes claims of the job, so its own runners still exclude each other.
CREATE FUNCTION @extschema@._bf_w_claim(actor pg_catalog.regrole, a jsonb) RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    j      @extschema@.backfill_jobs := @extschema@._bf_w_job(actor, (a->>'job')::bigint, false);
    me     int := pg_catalog.pg_backend_pid();
    holder int := @extschema@._backfill_key_holder(j.lock_key);
    k      int;
    tries  int := 0;
BEGIN
    IF holder IS DISTINCT FROM me AND NOT pg_catalog.pg_try_advisory_lock(95415761, j.lock_key) THEN
        holder := @extschema@._backfill_runner(j.lock_key, j.pid, j.started_by);
        IF holder IS NOT NULL THEN
            RETURN holder::text;          -- its runner (an interrupted CALL's session included)
        END IF;
        LOOP
            tries := tries + 1;
            k := pg_catalog.floor(pg_catalog.random() * 2147483646)::int + 1;
            EXIT WHEN pg_catalog.pg_try_advisory_lock(95415761, k);
            IF tries >= 100 THEN
                RAISE EXCEPTION 'safe_ddl.backfill: cannot find a free advisory lock key for job %', j.job_id
                USING ERRCODE = 'lock_not_available',
                      HINT = 'Sessions hold many advisory locks with classid 95415761 (see pg_locks); end them, then CALL again.';
            END IF;
        END LOOP;
        UPDATE @extschema@.backfill_jobs AS b SET lock_key = k WHERE b.job_id = j.job_id;
    END IF;
    UPDATE @extschema@.backfill_jobs AS b SET pid = me WHERE b.job_id = j.job_id;
    RETURN '';
END
$$;

-- Start a claimed job (again): status running, and with a new CALL's settings if given.
CREATE FUNCTION @extschema@._bf_w_restart(actor pg_catalog.regrole, a jsonb) RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    j @extschema@.backfill_jobs := @extschema@._bf_w_job(actor, (a->>'job')::bigint, true);
BEGIN
    IF a ? 'batch_size' THEN
        PERFORM @extschema@._backfill_check_settings((a->>'batch_size')::int, (a->>'target_batch_time')::interval,
                    (a->>'pause')::interval, (a->>'max_replication_lag')::bigint, (a->>'max_dead_tuple_ratio')::float8,
                    COALESCE((a->>'nice')::int, 0));
        UPDATE @extschema@.backfill_jobs AS b
           SET batch_size = (a->>'batch_size')::int,
               target_batch_time = (a->>'target_batch_time')::interval,
               pause = (a->>'pause')::interval,
               max_replication_lag = (a->>'max_replication_lag')::bigint,
               max_dead_tuple_ratio = (a->>'max_dead_tuple_ratio')::float8,
               nice = COALESCE((a->>'nice')::int, 0)
         WHERE b.job_id = j.job_id;
    END IF;
    UPDATE @extschema@.backfill_jobs AS b
       SET cancel_requested = b.cancel_requested AND b.status = 'running',
           status = 'running', error = NULL, finished_at = NULL,
           updated_at = pg_catalog.clock_timestamp()
     WHERE b.job_id = j.job_id;
    RETURN 'ok';
END
$$;

-- A batch's progress, in the batch's transaction: 'ok', or 'changed' if the job is no longer
-- where the batch started.
CREATE FUNCTION @extschema@._bf_w_progress(actor pg_catalog.regrole, a jsonb) RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    j @extschema@.backfill_jobs := @extschema@._bf_w_job(actor, (a->>'job')::bigint, true);
BEGIN
    UPDATE @extschema@.backfill_jobs AS b
       SET last_key = @extschema@._json_text_array(a->'last_key'),
           rows_done = b.rows_done + (a->>'rows_done')::bigint,
           rows_scanned = b.rows_scanned + (a->>'rows_scanned')::bigint,
           batches = b.batches + 1,
           batch_size = (a->>'batch_size')::int,
           throttled = b.throttled + (a->>'waited')::interval,
           updated_at = pg_catalog.clock_timestamp()
     WHERE b.job_id = j.job_id
       AND b.status = 'running'
       AND b.last_key IS NOT DISTINCT FROM @extschema@._json_text_array(a->'expect_last_key');
    IF NOT FOUND THEN
        RETURN 'changed';
    END IF;
    -- safe_ddl.metrics (src/metrics/), from the values just stored: committed with the batch.
    PERFORM @extschema@._metrics_backfill((a->>'rows_done')::bigint, 1,
                                          EXTRACT(epoch FROM (a->>'waited')::interval)::pg_catalog.float8);
    RETURN 'ok';
END
$$;

-- The end of a run: done, failed (with the error) or cancelled.
CREATE FUNCTION @extschema@._bf_w_stop(actor pg_catalog.regrole, a jsonb) RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    j  @extschema@.backfill_jobs := @extschema@._bf_w_job(actor, (a->>'job')::bigint, true);
    st text := a->>'status';
BEGIN
    IF st = 'cancelled' THEN
        UPDATE @extschema@.backfill_jobs AS b
           SET status = 'cancelled', cancel_requested = false,
               updated_at = pg_catalog.clock_timestamp(), finished_at = pg_catalog.clock_timestamp(),
               throttled = b.throttled + (a->>'waited')::interval
         WHERE b.job_id = j.job_id AND b.status IN ('running', 'cancelled');
    ELSIF st = 'failed' THEN
        UPDATE @extschema@.backfill_jobs AS b
           SET status = 'failed', error = a->>'error', batch_size = (a->>'batch_size')::int,
               updated_at = pg_catalog.clock_timestamp(), finished_at = pg_catalog.clock_timestamp()
         WHERE b.job_id = j.job_id AND b.status = 'running';
    ELSIF st = 'done' THEN
        UPDATE @extschema@.backfill_jobs AS b
           SET status = 'done', batch_size = (a->>'batch_size')::int, throttled = b.throttled + (a->>'waited')::interval,
               updated_at = pg_catalog.clock_timestamp(), finished_at = pg_catalog.clock_timestamp()
         WHERE b.job_id = j.job_id;
    ELSE
        RAISE EXCEPTION 'safe_ddl.backfill: unknown status %', st USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- The wait before the end (cancelled, or no batch left) counts as throttled time too.
    IF FOUND AND a ? 'waited' THEN
        PERFORM @extschema@._metrics_backfill(0, 0, EXTRACT(epoch FROM (a->>'waited')::interval)::pg_catalog.float8);
    END IF;
    RETURN st;
END
$$;

-- Cancel: the job's role, or a superuser (a cancel runs none of the job's clauses). A job its
-- runner is running stops at its next batch boundary; any other stops now.
CREATE FUNCTION @extschema@._bf_w_cancel(actor pg_catalog.regrole, a jsonb) RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    job    bigint := (a->>'job')::bigint;
    j      @extschema@.backfill_jobs;
    runner int;
BEGIN
    SELECT * INTO j FROM @extschema@.backfill_jobs AS b WHERE b.job_id = job FOR UPDATE;
    IF NOT FOUND OR (j.started_by <> actor
                     AND NOT EXISTS (SELECT FROM pg_catalog.pg_roles AS r WHERE r.oid = actor AND r.rolsuper)) THEN
        RAISE EXCEPTION 'safe_ddl.backfill_cancel: no backfill job %', job
        USING ERRCODE = 'no_data_found',
              HINT = 'Each role sees its own jobs in safe_ddl.backfill_status (superusers see all).';
    END IF;
    IF j.status IN ('done', 'cancelled') THEN
        RETURN j.status;
    END IF;
    runner := @extschema@._backfill_runner(j.lock_key, j.pid, j.started_by);
    IF runner IS NOT NULL AND runner <> pg_catalog.pg_backend_pid() THEN
        UPDATE @extschema@.backfill_jobs AS b
           SET cancel_requested = true, updated_at = pg_catalog.clock_timestamp()
         WHERE b.job_id = job;
        RETURN 'cancel requested';
    END IF;
    UPDATE @extschema@.backfill_jobs AS b
       SET status = 'cancelled', cancel_requested = false,
           updated_at = pg_catalog.clock_timestamp(), finished_at = pg_catalog.clock_timestamp()
     WHERE b.job_id = job;
    RETURN 'cancelled';
END
$$;

REVOKE ALL ON FUNCTION @extschema@._bf_w_job(pg_catalog.regrole, bigint, boolean),
                       @extschema@._bf_w_create(pg_catalog.regrole, jsonb),
                       @extschema@._bf_w_claim(pg_catalog.regrole, jsonb),
                       @extschema@._bf_w_restart(pg_catalog.regrole, jsonb),
                       @extschema@._bf_w_progress(pg_catalog.regrole, jsonb),
                       @extschema@._bf_w_stop(pg_catalog.regrole, jsonb),
                       @extschema@._bf_w_cancel(pg_catalog.regrole, jsonb) FROM PUBLIC;

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
    max_dead_tuple_ratio float8   DEFAULT 0.5,        -- more dead than live rows: vacuum is behind
    follow_new_rows      boolean  DEFAULT false,      -- also rows inserted while it runs (may never end)
    nice                 int      DEFAULT 10          -- CPU priority of this session while it runs (0: unchanged)
)
LANGUAGE plpgsql
AS $$
#variable_conflict use_column
DECLARE
    set_text text := pg_catalog.btrim(backfill.set_clause);
    where_text text := NULLIF(pg_catalog.btrim(backfill.where_clause), '');
    prev     record;
    keys     text[];
    bound    text[];
    at_start float8;
    job      bigint;
BEGIN
    -- Before anything else: it commits after every batch.
    CALL @extschema@._require_own_transaction('safe_ddl.backfill');
    COMMIT;   -- (raises "invalid transaction termination" if the check above could not tell)

    PERFORM @extschema@._backfill_check_settings(backfill.batch_size, backfill.target_batch_time, backfill.pause,
                                                 backfill.max_replication_lag, backfill.max_dead_tuple_ratio,
                                                 backfill.nice);

    -- The same backfill of this role, not done yet: resume it, with this CALL's settings.
    SELECT * INTO prev
      FROM @extschema@._backfill_unfinished(backfill.relation, set_text, where_text) AS b;

    SELECT c.key_columns INTO keys
      FROM @extschema@._backfill_check(backfill.relation, set_text, where_text, prev.key_columns) AS c;

    IF backfill.follow_new_rows IS NULL THEN
        RAISE EXCEPTION 'safe_ddl.backfill: follow_new_rows must be true or false, not NULL'
        USING ERRCODE = 'invalid_parameter_value';
    END IF;

    IF prev.job_id IS NULL THEN
        -- The range of the job: the keys present now (issue 14), unless it follows new rows.
        PERFORM pg_catalog.set_config('safe_ddl.track_usage', 'off', true);
        IF NOT backfill.follow_new_rows THEN
            bound := @extschema@._backfill_last_key(backfill.relation, keys);
        END IF;
        at_start := @extschema@._backfill_rows_in(@extschema@._rel_sql(backfill.relation), 'true');
        job := @extschema@._state('bf_create', pg_catalog.jsonb_build_object(
                   'relation', backfill.relation::pg_catalog.oid, 'set_clause', set_text, 'where_clause', where_text,
                   'key_columns', keys, 'follow_new_rows', backfill.follow_new_rows, 'upper_bound', bound,
                   'rows_at_start', at_start,
                   'batch_size', backfill.batch_size,
                   'target_batch_time', backfill.target_batch_time, 'pause', backfill.pause,
                   'max_replication_lag', backfill.max_replication_lag,
                   'max_dead_tuple_ratio', backfill.max_dead_tuple_ratio,
                   'nice', backfill.nice)::text)::bigint;
        PERFORM @extschema@._backfill_lock(job);
    ELSE
        job := prev.job_id;
        IF prev.follow_new_rows IS DISTINCT FROM backfill.follow_new_rows THEN
            RAISE NOTICE 'safe_ddl.backfill: job % resumes %, as it started; follow_new_rows => % applies to new jobs only',
                job, CASE WHEN prev.follow_new_rows THEN 'following new rows'
                          ELSE COALESCE('up to key (' || pg_catalog.array_to_string(prev.upper_bound, ', ') || ')', 'with an empty range') END,
                backfill.follow_new_rows
            USING HINT = 'A job keeps the range it started with. Once it is done, the same CALL starts a new job over the keys present then '
                         '(with a where_clause that skips rows already done, it updates only the others).';
        END IF;
        PERFORM @extschema@._backfill_lock(job);
        -- A stopped job starts again; a job left 'running' with a pending cancel stops at once.
        PERFORM @extschema@._state('bf_restart', pg_catalog.jsonb_build_object(
                   'job', job, 'batch_size', backfill.batch_size,
                   'target_batch_time', backfill.target_batch_time, 'pause', backfill.pause,
                   'max_replication_lag', backfill.max_replication_lag,
                   'max_dead_tuple_ratio', backfill.max_dead_tuple_ratio,
                   'nice', backfill.nice)::text);
    END IF;
    COMMIT;
    CALL @extschema@._backfill_run(job);
END
$$;

COMMENT ON PROCEDURE @extschema@.backfill(pg_catalog.regclass, text, text, int, interval, interval, bigint, float8, boolean, int) IS
  'UPDATE relation SET set_clause WHERE where_clause in key-ordered batches, one transaction each, '
  'over the keys present when the job starts (follow_new_rows => true: also rows inserted while it runs), '
  'throttled on replication lag and dead tuples, at a lower CPU priority (nice => 10; the session keeps it); resumable (the same CALL again) and cancellable '
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
    IF j.started_by::pg_catalog.oid OPERATOR(pg_catalog.<>) @extschema@._me()::pg_catalog.oid THEN
        RAISE EXCEPTION 'safe_ddl.backfill_resume: the job was started by role %, and runs only as that role', j.started_by
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = pg_catalog.format('Job %s runs its clauses with the privileges of the role that wrote them.', j.job_id),
              HINT = pg_catalog.format('Role %s runs it in a session logged in as %s (not SET ROLE in yours: its code could RESET ROLE and act as you): CALL safe_ddl.backfill_resume(%s);', j.started_by, j.started_by, j.job_id);
    END IF;
    IF j.status = 'done' THEN
        RAISE NOTICE 'safe_ddl.backfill_resume: job % is already done (% rows updated)', j.job_id, j.rows_done;
        RETURN;
    END IF;
    PERFORM @extschema@._backfill_check(j.relation, j.set_clause, j.where_clause, j.key_columns);
    PERFORM @extschema@._backfill_lock(j.job_id);
    PERFORM @extschema@._state('bf_restart', pg_catalog.jsonb_build_object('job', j.job_id)::text);
    COMMIT;
    CALL @extschema@._backfill_run(j.job_id);
END
$$;

COMMENT ON PROCEDURE @extschema@.backfill_resume(bigint) IS
  'Go on with a backfill job from its last committed batch, with its stored settings.';

CREATE FUNCTION @extschema@.backfill_cancel(job_id bigint) RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- Any job the caller sees: its own, and every job for a superuser (a cancel runs no clause).
    IF NOT EXISTS (SELECT FROM @extschema@.backfill_jobs AS b WHERE b.job_id = backfill_cancel.job_id) THEN
        RAISE EXCEPTION 'safe_ddl.backfill_cancel: no backfill job %', backfill_cancel.job_id
        USING ERRCODE = 'no_data_found',
              HINT = 'Each role sees its own jobs in safe_ddl.backfill_status (superusers see all).';
    END IF;
    RETURN @extschema@._state('bf_cancel', pg_catalog.jsonb_build_object('job', backfill_cancel.job_id)::text);
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
            -- a bounded job: against the table's size when it started (its range)
            WHEN NOT b.follow_new_rows AND b.rows_at_start > 0
            THEN LEAST(99, pg_catalog.floor(100 * b.rows_scanned / b.rows_at_start))
            ELSE LEAST(99, pg_catalog.floor(100 * b.rows_scanned
                                      / NULLIF(@extschema@._backfill_estimate(b.relation), 0)))
       END AS percent_estimate,
       b.batches,
       b.batch_size,
       b.last_key,
       b.cancel_requested,
       b.throttled,
       b.error,
       pg_catalog.pg_get_userbyid(b.started_by) AS started_by,
       b.started_at,
       b.updated_at,
       b.finished_at,
       COALESCE(b.finished_at, b.updated_at) - b.started_at AS elapsed,
       b.follow_new_rows,
       b.upper_bound,
       b.nice
  FROM @extschema@.backfill_jobs AS b
  LEFT JOIN LATERAL (SELECT @extschema@._backfill_runner(b.lock_key, b.pid, b.started_by) AS pid) AS r ON true;

GRANT SELECT ON @extschema@.backfill_status TO PUBLIC;

COMMENT ON VIEW @extschema@.backfill_status IS
  'safe_ddl.backfill_jobs with active (a session runs the job now, running_pid) and an estimated percent.';
