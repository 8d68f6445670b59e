-- Expand/contract helpers (issue 7): column changes with dual writes, multi-transaction recipes
-- (set_not_null, add_foreign_key, add_check) and rename_table with a compatibility view.
-- (PL/pgSQL so reviewers can read it; loaded by CREATE EXTENSION. See docs/expand-contract.md.)
--
--   SELECT safe_ddl.begin_column_change('accounts', 'balance', 'balance_big', 'bigint');
--   CALL safe_ddl.backfill('public.accounts', 'balance_big = (balance::bigint)', ...);   -- printed
--   SELECT * FROM safe_ddl.column_change_status('accounts');
--   SELECT safe_ddl.finish_column_change('accounts', 'balance');
--
--   CALL safe_ddl.set_not_null('accounts', 'email');
--   CALL safe_ddl.add_foreign_key('orders', '{account_id}', 'accounts');
--   CALL safe_ddl.add_check('orders', 'orders_qty_positive', 'qty > 0');
--   SELECT safe_ddl.rename_table('orders', 'purchases');  ...  SELECT safe_ddl.finish_rename_table('orders');
--
-- Every DDL statement here runs through the safe_ddl guard like any other (its lock_timeout, its
-- retries, its refusals); where a step needs a hazard allowed, it is allowed for that statement
-- only (set_config(..., is_local) and restored right after). Everything runs with the caller's
-- privileges (SECURITY INVOKER); identifiers come from regclass or are quoted (%I, quote_ident).
-- The helpers' own reads of the user's tables (sample rows, out-of-step counts) are not recorded
-- as application use (safe_ddl.track_usage off for them).

----------------------------------------------------------------------------------------------------
-- Small internals
----------------------------------------------------------------------------------------------------

-- Turn usage tracking off (transaction-local) before the helper's own queries of the user's
-- table: they are not application use. Returns the previous value, which _ec_tracked() restores
-- right after (NULL: no such setting).
CREATE FUNCTION @extschema@._ec_untracked() RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    prev text := pg_catalog.current_setting('safe_ddl.track_usage', true);
BEGIN
    IF prev IS NOT NULL THEN
        PERFORM pg_catalog.set_config('safe_ddl.track_usage', 'off', true);
    END IF;
    RETURN prev;
END
$$;

-- Restore what _ec_untracked() returned.
CREATE FUNCTION @extschema@._ec_tracked(prev text) RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    IF prev IS NOT NULL THEN
        PERFORM pg_catalog.set_config('safe_ddl.track_usage', prev, true);
    END IF;
END
$$;

-- Allow hazards for the statements that follow in this transaction; returns the previous value of
-- safe_ddl.allow so the caller restores it (_ec_allow(prev)) right after its one statement.
CREATE FUNCTION @extschema@._ec_allow(hazards text) RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    prev text := COALESCE(pg_catalog.current_setting('safe_ddl.allow', true), '');
BEGIN
    PERFORM pg_catalog.set_config('safe_ddl.allow', hazards, true);
    RETURN prev;
END
$$;

-- An identifier of at most 63 bytes: prefix || body, the body cut and suffixed with a hash of the
-- whole when too long (deterministic: the same inputs give the same name on every call).
CREATE FUNCTION @extschema@._ec_name(prefix text, body text) RETURNS name
LANGUAGE sql IMMUTABLE STRICT
AS $$
    SELECT CASE WHEN pg_catalog.octet_length(prefix || body) <= 63 THEN (prefix || body)::name
                ELSE (pg_catalog.left(prefix || body,
                                      (SELECT pg_catalog.max(k) FROM pg_catalog.generate_series(1, 54) AS k
                                        WHERE pg_catalog.octet_length(pg_catalog.left(prefix || body, k)) <= 54))
                      || '_' || pg_catalog.left(pg_catalog.md5(prefix || body), 8))::name
           END
$$;

-- schema.name of a relation, quoted, whatever the search_path.
CREATE FUNCTION @extschema@._ec_qualified(rel pg_catalog.regclass) RETURNS text
LANGUAGE sql STABLE STRICT
AS $$
    SELECT pg_catalog.format('%I.%I', n.nspname, c.relname)
      FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
     WHERE c.oid = rel
$$;

-- Raise unless rel is a table (or partitioned table); caller names the function in the message.
CREATE FUNCTION @extschema@._ec_require_table(caller text, rel pg_catalog.regclass) RETURNS void
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    kind "char";
BEGIN
    IF rel IS NULL THEN
        RAISE EXCEPTION '%: relation must not be NULL', caller USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT c.relkind INTO kind FROM pg_catalog.pg_class AS c WHERE c.oid = rel;
    IF NOT FOUND THEN
        RAISE EXCEPTION '%: relation with OID % does not exist', caller, rel::oid USING ERRCODE = 'undefined_table';
    END IF;
    IF kind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION '%: % is not a table', caller, rel USING ERRCODE = 'wrong_object_type';
    END IF;
END
$$;

-- The attribute of a live column, or an error naming the table.
CREATE FUNCTION @extschema@._ec_column(caller text, rel pg_catalog.regclass, col name)
RETURNS pg_catalog.pg_attribute
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    a pg_catalog.pg_attribute;
BEGIN
    IF col IS NULL THEN
        RAISE EXCEPTION '%: column name must not be NULL', caller USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO a FROM pg_catalog.pg_attribute AS x
     WHERE x.attrelid = rel AND x.attname = col AND x.attnum > 0 AND NOT x.attisdropped;
    IF NOT FOUND THEN
        RAISE EXCEPTION '%: column "%" of relation % does not exist', caller, col, rel
        USING ERRCODE = 'undefined_column';
    END IF;
    RETURN a;
END
$$;

-- The last recorded use of a relation (a column of it, or with col NULL any of it) in
-- @extschema@.column_usage: recent = used within safe_ddl.usage_window; unproven = tracking of
-- the relation has run for less than the window (the guard refuses drops and renames then too).
-- Without usage tracking (no such view) everything is NULL.
CREATE FUNCTION @extschema@._ec_last_use(rel pg_catalog.regclass, col name,
                                         OUT last_read timestamptz, OUT last_write timestamptz,
                                         OUT tracking_since timestamptz, OUT recent boolean,
                                         OUT unproven boolean, OUT usage_window interval)
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    IF pg_catalog.to_regclass('@extschema@.column_usage') IS NULL THEN
        RETURN;
    END IF;
    usage_window := COALESCE(pg_catalog.current_setting('safe_ddl.usage_window', true), '1 day')::interval;
    SELECT pg_catalog.max(u.last_read) FILTER (WHERE col IS NULL OR u.column_name = col),
           pg_catalog.max(u.last_write) FILTER (WHERE col IS NULL OR u.column_name = col),
           pg_catalog.min(u.tracking_since)
      INTO last_read, last_write, tracking_since
      FROM @extschema@.column_usage AS u
     WHERE u.relation = rel;
    recent := COALESCE(GREATEST(last_read, last_write) >= pg_catalog.now() - usage_window, false);
    unproven := COALESCE(tracking_since > pg_catalog.now() - usage_window, false);
END
$$;

----------------------------------------------------------------------------------------------------
-- Column changes: expand (begin_column_change), migrate (backfill), contract (finish_column_change)
----------------------------------------------------------------------------------------------------

CREATE TABLE @extschema@.column_changes (
    change_id     bigserial PRIMARY KEY,
    relation      pg_catalog.regclass NOT NULL,
    old_column    name NOT NULL,
    new_column    name NOT NULL,
    old_type      text NOT NULL,   -- format_type() of each column, with its modifiers
    new_type      text NOT NULL,
    forward       text NOT NULL,   -- the new value, an expression over old_column (by its name)
    backward      text NOT NULL,   -- the old value, an expression over new_column (by its name)
    -- in the table's schema: the trigger and its function, the two expressions as functions
    trigger_name  name NOT NULL,
    trigger_function pg_catalog.regprocedure NOT NULL,
    forward_function pg_catalog.regprocedure NOT NULL,
    backward_function pg_catalog.regprocedure NOT NULL,
    status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'finished', 'cancelled')),
    started_by    name NOT NULL DEFAULT CURRENT_USER,
    started_at    timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    finished_at   timestamptz      -- finished or cancelled
);

COMMENT ON TABLE @extschema@.column_changes IS
  'safe_ddl.begin_column_change(): one row per column change (expand/contract), active until '
  'safe_ddl.finish_column_change(). See docs/expand-contract.md.';

-- One active change per column, either side.
CREATE UNIQUE INDEX column_changes_active_old ON @extschema@.column_changes (relation, old_column)
 WHERE status = 'active';
CREATE UNIQUE INDEX column_changes_active_new ON @extschema@.column_changes (relation, new_column)
 WHERE status = 'active';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.column_changes', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.column_changes_change_id_seq', '');

-- As for backfill_jobs: every role reads and writes its own changes (superusers see all).
ALTER TABLE @extschema@.column_changes ENABLE ROW LEVEL SECURITY;
CREATE POLICY column_changes_own ON @extschema@.column_changes
    USING (started_by = CURRENT_USER)
    WITH CHECK (started_by = CURRENT_USER);
GRANT SELECT, INSERT, UPDATE, DELETE ON @extschema@.column_changes TO PUBLIC;
GRANT USAGE ON SEQUENCE @extschema@.column_changes_change_id_seq TO PUBLIC;

-- schema.name of a function, quoted.
CREATE FUNCTION @extschema@._ec_func_name(f pg_catalog.regprocedure) RETURNS text
LANGUAGE sql STABLE STRICT
AS $$
    SELECT pg_catalog.format('%I.%I', n.nspname, p.proname)
      FROM pg_catalog.pg_proc AS p JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
     WHERE p.oid = f
$$;

-- The change's out-of-step predicate: true for a row whose new column is not what the forward
-- expression makes of its old column (cast to the new column's type, with its modifiers).
CREATE FUNCTION @extschema@._cc_out_of_step_sql(c @extschema@.column_changes) RETURNS text
LANGUAGE sql STABLE
AS $$
    SELECT pg_catalog.format('%I IS DISTINCT FROM CAST(%s(%I) AS %s)',
                             c.new_column, @extschema@._ec_func_name(c.forward_function), c.old_column, c.new_type)
$$;

-- Rows whose columns are out of step (NULL: the table is gone). Not recorded as application use.
CREATE FUNCTION @extschema@._cc_out_of_step(c @extschema@.column_changes) RETURNS bigint
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    prev text;
    n    bigint;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_class AS r WHERE r.oid = c.relation) THEN
        RETURN NULL;
    END IF;
    prev := @extschema@._ec_untracked();
    EXECUTE pg_catalog.format('SELECT pg_catalog.count(*) FROM %s WHERE %s',
                              @extschema@._ec_qualified(c.relation), @extschema@._cc_out_of_step_sql(c))
       INTO n;
    PERFORM @extschema@._ec_tracked(prev);
    RETURN n;
END
$$;

-- The backfill that fills the new column of the existing rows (and re-runs harmlessly).
CREATE FUNCTION @extschema@._cc_backfill_call(c @extschema@.column_changes) RETURNS text
LANGUAGE sql STABLE
AS $$
    SELECT pg_catalog.format('CALL %s.backfill(%L, %L, %L);',
               pg_catalog.quote_ident('@extschema@'),
               @extschema@._ec_qualified(c.relation),
               pg_catalog.format('%I = (%s)', c.new_column, c.forward),
               pg_catalog.format('%I IS DISTINCT FROM CAST((%s) AS %s)', c.new_column, c.forward, c.new_type))
$$;

CREATE FUNCTION @extschema@.begin_column_change(
    relation    pg_catalog.regclass,
    column_name name,
    new_column  name,
    new_type    text,
    forward     text DEFAULT NULL,
    backward    text DEFAULT NULL
) RETURNS text
LANGUAGE plpgsql VOLATILE
AS $begin$
#variable_conflict use_variable
DECLARE
    fn          constant text := 'safe_ddl.begin_column_change';
    rel         pg_catalog.regclass := begin_column_change.relation;
    old_att     pg_catalog.pg_attribute;
    type_oid    oid;
    new_type_t  text;
    old_type_t  text;
    fwd_text    text := NULLIF(pg_catalog.btrim(begin_column_change.forward), '');
    bwd_text    text := NULLIF(pg_catalog.btrim(begin_column_change.backward), '');
    nsp         name;
    relname     name;
    id          bigint;
    prefix      text;
    fwd_fn      text;
    bwd_fn      text;
    trg_fn      text;
    trg_name    name;
    prev        text;
    mismatches  bigint;
    sampled     bigint;
    c           @extschema@.column_changes;
    call_text   text;
    err_msg     text;
BEGIN
    PERFORM @extschema@._ec_require_table(fn, rel);
    old_att := @extschema@._ec_column(fn, rel, column_name);
    IF old_att.attgenerated <> '' THEN
        RAISE EXCEPTION '%: column "%" of % is a generated column', fn, column_name, rel
        USING ERRCODE = 'wrong_object_type';
    END IF;
    IF new_column IS NULL THEN
        RAISE EXCEPTION '%: new_column must not be NULL', fn USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF EXISTS (SELECT FROM pg_catalog.pg_attribute AS a
                WHERE a.attrelid = rel AND a.attname = new_column AND NOT a.attisdropped) THEN
        RAISE EXCEPTION '%: column "%" of relation % already exists', fn, new_column, rel
        USING ERRCODE = 'duplicate_column',
              HINT = 'new_column is the column to add; choose a name that is not taken.';
    END IF;
    IF EXISTS (SELECT FROM @extschema@.column_changes AS x
                WHERE x.relation = rel AND x.status = 'active'
                  AND column_name IN (x.old_column, x.new_column)) THEN
        RAISE EXCEPTION '%: column "%" of % is already part of an unfinished column change', fn, column_name, rel
        USING ERRCODE = 'object_not_in_prerequisite_state',
              HINT = 'See SELECT * FROM safe_ddl.column_change_status(); finish that change first.';
    END IF;

    -- The new type: a type name as in ALTER TABLE ... TYPE, with modifiers ('numeric(12,2)').
    -- to_regtype() accepts only a type name, so the text is safe to put into the DDL below.
    IF new_type IS NULL OR pg_catalog.btrim(new_type) = '' THEN
        RAISE EXCEPTION '%: new_type must not be empty', fn USING ERRCODE = 'null_value_not_allowed';
    END IF;
    BEGIN
        type_oid := pg_catalog.to_regtype(new_type);
    EXCEPTION WHEN OTHERS THEN
        type_oid := NULL;
    END;
    IF type_oid IS NULL THEN
        RAISE EXCEPTION '%: type "%" does not exist', fn, new_type
        USING ERRCODE = 'undefined_object',
              HINT = 'new_type is a type name as in ALTER TABLE ... ALTER COLUMN ... TYPE, e.g. ''bigint'' or ''numeric(12,2)''.';
    END IF;
    new_type_t := pg_catalog.btrim(new_type);
    old_type_t := pg_catalog.format_type(old_att.atttypid, old_att.atttypmod);

    SELECT n.nspname, r.relname INTO nsp, relname
      FROM pg_catalog.pg_class AS r JOIN pg_catalog.pg_namespace AS n ON n.oid = r.relnamespace
     WHERE r.oid = rel;

    -- Defaults: plain casts. The placeholder is the column's own name: forward is written over
    -- column_name, backward over new_column, exactly as in an UPDATE of the table. The casts are
    -- to the types without modifiers: the trigger's assignment to the column applies those like a
    -- write of the column does (numeric(12,2) rounds, varchar(8) refuses longer values), where an
    -- explicit cast to varchar(8) would silently cut them.
    fwd_text := COALESCE(fwd_text, pg_catalog.format('%I::%s', column_name, pg_catalog.format_type(type_oid, NULL)));
    bwd_text := COALESCE(bwd_text, pg_catalog.format('%I::%s', new_column, pg_catalog.format_type(old_att.atttypid, NULL)));

    -- The change's id names its objects (the trigger fires last among BEFORE triggers: zz_...).
    id := pg_catalog.nextval('@extschema@.column_changes_change_id_seq');
    prefix := '_safe_ddl_cc' || id || '_';
    fwd_fn := pg_catalog.format('%I.%I', nsp, prefix || 'forward');
    bwd_fn := pg_catalog.format('%I.%I', nsp, prefix || 'backward');
    trg_fn := pg_catalog.format('%I.%I', nsp, prefix || 'dual_write');
    trg_name := ('zz_safe_ddl_column_change_' || id)::name;

    -- The expressions as functions of the one column they may use (SQL-standard bodies: parsed,
    -- checked and bound now, with this search_path). A bad expression is an error here.
    BEGIN
        EXECUTE pg_catalog.format('CREATE FUNCTION %s(%I %s) RETURNS %s LANGUAGE sql VOLATILE RETURN (%s%s%s)',
                                  fwd_fn, column_name, old_type_t, new_type_t, E'\n', fwd_text, E'\n');
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS err_msg = MESSAGE_TEXT;
        RAISE EXCEPTION '%: invalid forward expression: %', fn, err_msg
        USING ERRCODE = 'invalid_parameter_value',
              DETAIL = pg_catalog.format('forward: %s', fwd_text),
              HINT = pg_catalog.format('forward computes the new column (%s) from the old one, naming it %I and no other column, e.g. %L.',
                                       new_type_t, column_name, pg_catalog.format('%I::%s', column_name, new_type_t));
    END;
    BEGIN
        EXECUTE pg_catalog.format('CREATE FUNCTION %s(%I %s) RETURNS %s LANGUAGE sql VOLATILE RETURN (%s%s%s)',
                                  bwd_fn, new_column, new_type_t, old_type_t, E'\n', bwd_text, E'\n');
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS err_msg = MESSAGE_TEXT;
        RAISE EXCEPTION '%: invalid backward expression: %', fn, err_msg
        USING ERRCODE = 'invalid_parameter_value',
              DETAIL = pg_catalog.format('backward: %s', bwd_text),
              HINT = pg_catalog.format('backward computes the old column (%s) from the new one, naming it %I and no other column, e.g. %L.',
                                       old_type_t, new_column, pg_catalog.format('%I::%s', new_column, old_type_t));
    END;

    -- Try them on up to 1000 rows (before any lock stronger than the read's): a forward that
    -- fails on real data would fail application writes. Warn when backward(forward(x)) <> x: a
    -- write of the new column by new code would then change the old one's value.
    prev := @extschema@._ec_untracked();
    BEGIN
        EXECUTE pg_catalog.format(
            'SELECT pg_catalog.count(*), pg_catalog.count(*) FILTER (WHERE CAST(%s(f) AS %s) IS DISTINCT FROM o)
               FROM (SELECT o, CAST(%s(o) AS %s) AS f FROM (SELECT %I AS o FROM %s LIMIT 1000) AS s) AS s',
            bwd_fn, old_type_t, fwd_fn, new_type_t, column_name, @extschema@._ec_qualified(rel))
           INTO sampled, mismatches;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS err_msg = MESSAGE_TEXT;
        RAISE EXCEPTION '%: the expressions fail on existing rows of %: %', fn, rel, err_msg
        USING ERRCODE = 'invalid_parameter_value',
              DETAIL = pg_catalog.format('forward: %s; backward: %s (tried on up to 1000 rows)', fwd_text, bwd_text),
              HINT = 'Every write of the old column runs forward, every write of the new one runs backward: both must work for every value.';
    END;
    PERFORM @extschema@._ec_tracked(prev);
    IF mismatches > 0 THEN
        RAISE WARNING '%: backward(forward(%)) differs from % in % of % sampled rows of %', fn, column_name, column_name, mismatches, sampled, rel
        USING DETAIL = pg_catalog.format('forward: %s; backward: %s', fwd_text, bwd_text),
              HINT = 'When new code writes the new column, the old column gets backward(new): old code will see changed values.';
    END IF;

    -- The trigger function: whichever side a statement wrote, the other follows.
    --   INSERT: new column NULL (old code) -> new := forward(old);
    --           new column given (new code) -> old := backward(new), unless already in step: the
    --           old column may hold its DEFAULT rather than a value anyone wrote;
    --   UPDATE: only the old column changed -> new := forward(old);
    --           only the new column changed -> old := backward(new), unless the row is already in
    --           step (new = forward(old): e.g. the backfill's UPDATE) -- then nothing;
    --           both changed -> both as written.
    -- It only assigns NEW's fields (no query, no loop: a BEFORE trigger's assignments fire nothing).
    EXECUTE pg_catalog.format($f$
CREATE FUNCTION %1$s() RETURNS trigger LANGUAGE plpgsql AS $body$
-- safe_ddl.begin_column_change(): dual writes of change %7$s (see safe_ddl.column_changes)
DECLARE
    f %8$s;
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.%5$I IS NULL THEN
            NEW.%5$I := %2$s(NEW.%4$I);
        ELSE
            f := %2$s(NEW.%4$I);
            IF NEW.%5$I IS DISTINCT FROM f THEN
                NEW.%4$I := %3$s(NEW.%5$I);
            END IF;
        END IF;
    ELSIF NEW.%4$I IS DISTINCT FROM OLD.%4$I THEN
        IF NEW.%5$I IS NOT DISTINCT FROM OLD.%5$I THEN
            NEW.%5$I := %2$s(NEW.%4$I);
        END IF;
    ELSIF NEW.%5$I IS DISTINCT FROM OLD.%5$I THEN
        f := %2$s(NEW.%4$I);
        IF NEW.%5$I IS DISTINCT FROM f THEN
            NEW.%4$I := %3$s(NEW.%5$I);
        END IF;
    END IF;
    RETURN NEW;
END
$body$$f$, trg_fn, fwd_fn, bwd_fn, column_name, new_column, rel, id, new_type_t);

    -- The column (no default, nullable: no rewrite, no scan) and the trigger, through the guard.
    EXECUTE pg_catalog.format('ALTER TABLE %s ADD COLUMN %I %s',
                              @extschema@._ec_qualified(rel), new_column, new_type_t);
    EXECUTE pg_catalog.format('CREATE TRIGGER %I BEFORE INSERT OR UPDATE ON %s FOR EACH ROW EXECUTE FUNCTION %s()',
                              trg_name, @extschema@._ec_qualified(rel), trg_fn);

    INSERT INTO @extschema@.column_changes
           (change_id, relation, old_column, new_column, old_type, new_type, forward, backward,
            trigger_name, trigger_function, forward_function, backward_function)
    SELECT id, rel, column_name, new_column, old_type_t,
           pg_catalog.format_type(a.atttypid, a.atttypmod), fwd_text, bwd_text,
           trg_name, (trg_fn || '()')::pg_catalog.regprocedure,
           (fwd_fn || '(' || old_type_t || ')')::pg_catalog.regprocedure,
           (bwd_fn || '(' || new_type_t || ')')::pg_catalog.regprocedure
      FROM pg_catalog.pg_attribute AS a
     WHERE a.attrelid = rel AND a.attname = new_column
    RETURNING * INTO c;

    call_text := @extschema@._cc_backfill_call(c);
    RAISE NOTICE '%: added %.% (%), dual writes with % (trigger %)', fn, rel, new_column, c.new_type, column_name, trg_name
    USING DETAIL = pg_catalog.format('forward: %s; backward: %s', fwd_text, bwd_text),
          HINT = 'Fill the existing rows (outside a transaction block): ' || call_text;
    RETURN call_text;
END
$begin$;

COMMENT ON FUNCTION @extschema@.begin_column_change(pg_catalog.regclass, name, name, text, text, text) IS
  'Expand: add new_column (new_type, no rewrite) and a dual-write trigger keeping it in step with '
  'column_name (forward/backward expressions, default casts). Returns the backfill CALL that '
  'fills the existing rows. See docs/expand-contract.md.';

CREATE FUNCTION @extschema@.column_change_status(
    relation   pg_catalog.regclass DEFAULT NULL,
    count_rows boolean DEFAULT true
) RETURNS TABLE (
    change_id          bigint,
    table_name         pg_catalog.regclass,
    old_column         name,
    new_column         name,
    old_type           text,
    new_type           text,
    forward            text,
    backward           text,
    status             text,
    trigger_name       name,
    trigger_enabled    boolean,    -- NULL: the trigger is gone
    rows_out_of_step   bigint,     -- NULL when not counted (count_rows => false, or finished)
    old_last_read      timestamptz,
    old_last_write     timestamptz,
    new_last_read      timestamptz,
    new_last_write     timestamptz,
    tracking_since     timestamptz,
    old_used_recently  boolean,    -- within safe_ddl.usage_window (NULL: no usage tracking)
    backfill_call      text,
    started_by         name,
    started_at         timestamptz,
    finished_at        timestamptz
)
LANGUAGE plpgsql VOLATILE
AS $$
#variable_conflict use_column
DECLARE
    c   @extschema@.column_changes;
    o   record;
    n   record;
BEGIN
    FOR c IN SELECT * FROM @extschema@.column_changes AS x
              WHERE column_change_status.relation IS NULL OR x.relation = column_change_status.relation
              ORDER BY x.status, x.change_id
    LOOP
        change_id := c.change_id;
        table_name := c.relation;
        old_column := c.old_column;
        new_column := c.new_column;
        old_type := c.old_type;
        new_type := c.new_type;
        forward := c.forward;
        backward := c.backward;
        status := c.status;
        trigger_name := c.trigger_name;
        SELECT t.tgenabled <> 'D' INTO trigger_enabled
          FROM pg_catalog.pg_trigger AS t WHERE t.tgrelid = c.relation AND t.tgname = c.trigger_name;
        IF NOT FOUND THEN
            trigger_enabled := NULL;
        END IF;
        rows_out_of_step := CASE WHEN c.status = 'active' AND column_change_status.count_rows
                                 THEN @extschema@._cc_out_of_step(c) END;
        SELECT * INTO o FROM @extschema@._ec_last_use(c.relation, c.old_column);
        SELECT * INTO n FROM @extschema@._ec_last_use(c.relation, c.new_column);
        old_last_read := o.last_read;
        old_last_write := o.last_write;
        new_last_read := n.last_read;
        new_last_write := n.last_write;
        tracking_since := o.tracking_since;
        old_used_recently := o.recent;
        backfill_call := CASE WHEN c.status = 'active' THEN @extschema@._cc_backfill_call(c) END;
        started_by := c.started_by;
        started_at := c.started_at;
        finished_at := c.finished_at;
        RETURN NEXT;
    END LOOP;
END
$$;

COMMENT ON FUNCTION @extschema@.column_change_status(pg_catalog.regclass, boolean) IS
  'Column changes (of one table, or all): rows still out of step (a full scan unless count_rows '
  '=> false), whether the dual-write trigger is in place, and the recorded use of both columns.';

CREATE FUNCTION @extschema@.finish_column_change(relation pg_catalog.regclass, column_name name)
RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
#variable_conflict use_variable
DECLARE
    fn      constant text := 'safe_ddl.finish_column_change';
    rel     pg_catalog.regclass := finish_column_change.relation;
    c       @extschema@.column_changes;
    att     pg_catalog.pg_attribute;
    n       bigint;
    u       record;
    deps    text;
    prev    text;
    was_nn  boolean;
    def     text;
BEGIN
    PERFORM @extschema@._ec_require_table(fn, rel);
    SELECT * INTO c FROM @extschema@.column_changes AS x
     WHERE x.relation = rel AND x.status = 'active' AND x.old_column = column_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION '%: no unfinished column change of column "%" of %', fn, column_name, rel
        USING ERRCODE = 'no_data_found',
              HINT = 'column_name is the old column, as given to begin_column_change; see SELECT * FROM safe_ddl.column_change_status().';
    END IF;
    att := @extschema@._ec_column(fn, rel, c.old_column);
    was_nn := att.attnotnull;
    PERFORM @extschema@._ec_column(fn, rel, c.new_column);

    -- 1. Every row in step (a read of the whole table; no lock but the read's).
    n := @extschema@._cc_out_of_step(c);
    IF n > 0 THEN
        RAISE EXCEPTION '%: % rows of % are out of step: their % is not forward(%)', fn, n, rel, c.new_column, c.old_column
        USING ERRCODE = 'object_not_in_prerequisite_state',
              DETAIL = pg_catalog.format('Dropping %I now would lose what those rows hold in it (forward: %s).', c.old_column, c.forward),
              HINT = 'Fill them first (outside a transaction block): ' || @extschema@._cc_backfill_call(c);
    END IF;

    -- 2. Nothing used the old column within safe_ddl.usage_window.
    SELECT * INTO u FROM @extschema@._ec_last_use(rel, c.old_column);
    IF u.unproven AND NOT u.recent THEN
        RAISE EXCEPTION '%: column "%" of % is not proven unused: usage tracking has run for less than safe_ddl.usage_window (%)', fn, c.old_column, rel, u.usage_window
        USING ERRCODE = 'object_not_in_prerequisite_state',
              DETAIL = pg_catalog.format('Its use is tracked since %s (safe_ddl.column_usage).', u.tracking_since),
              HINT = 'Wait until tracking has run for safe_ddl.usage_window, then finish.';
    END IF;
    IF u.recent THEN
        RAISE EXCEPTION '%: column "%" of % was used within safe_ddl.usage_window (%)', fn, c.old_column, rel, u.usage_window
        USING ERRCODE = 'object_not_in_prerequisite_state',
              DETAIL = pg_catalog.format('Last read %s, last written %s (safe_ddl.column_usage).',
                                         COALESCE(u.last_read::text, 'never'), COALESCE(u.last_write::text, 'never')),
              HINT = pg_catalog.format('Deploy the application without %I (it reads and writes %I only), then wait until it has not been used for safe_ddl.usage_window.',
                                       c.old_column, c.new_column);
    END IF;

    -- 3. Nothing but the column itself would go with it: DROP COLUMN silently drops the indexes
    --    and constraints on it (a primary key!) and a sequence it owns.
    SELECT pg_catalog.string_agg(pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid), ', '
                                 ORDER BY pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid))
      INTO deps
      FROM pg_catalog.pg_depend AS d
     WHERE d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
       AND d.refobjid = rel
       AND d.refobjsubid = att.attnum
       AND NOT (d.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass
                AND EXISTS (SELECT FROM pg_catalog.pg_attrdef AS ad
                             WHERE ad.oid = d.objid AND ad.adrelid = rel AND ad.adnum = att.attnum));
    IF deps IS NOT NULL THEN
        RAISE EXCEPTION '%: other objects depend on column "%" of %: %', fn, c.old_column, rel, deps
        USING ERRCODE = 'object_not_in_prerequisite_state',
              DETAIL = 'DROP COLUMN would drop indexes and constraints on the column (and a sequence it owns) with it, or fail.',
              HINT = pg_catalog.format('Recreate them on %I first (CREATE INDEX CONCURRENTLY, safe_ddl.add_check, safe_ddl.add_foreign_key, '
                                       'ALTER SEQUENCE ... OWNED BY), drop the old ones, then finish.', c.new_column);
    END IF;

    -- 4. Contract, in this one transaction: the trigger, its functions, the old column. The
    --    DROP COLUMN goes through the guard with drop_column allowed for it alone: its lock_timeout
    --    and retries apply, and so does its own usage check.
    EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS %I ON %s', c.trigger_name, @extschema@._ec_qualified(rel));
    EXECUTE pg_catalog.format('DROP FUNCTION IF EXISTS %s', c.trigger_function);
    EXECUTE pg_catalog.format('DROP FUNCTION IF EXISTS %s', c.forward_function);
    EXECUTE pg_catalog.format('DROP FUNCTION IF EXISTS %s', c.backward_function);
    --    The old column's DEFAULT moves to the new one (instant; not earlier: during the change a
    --    default on the new column would look like a write of new code to the trigger).
    SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid) INTO def
      FROM pg_catalog.pg_attrdef AS d WHERE d.adrelid = rel AND d.adnum = att.attnum;
    IF EXISTS (SELECT FROM pg_catalog.pg_attribute AS a
                WHERE a.attrelid = rel AND a.attname = c.new_column AND a.atthasdef) THEN
        def := NULL;     -- the new column has one of its own
    END IF;
    IF def IS NOT NULL THEN
        EXECUTE pg_catalog.format('ALTER TABLE %s ALTER COLUMN %I SET DEFAULT %s', @extschema@._ec_qualified(rel), c.new_column, def);
    END IF;
    prev := @extschema@._ec_allow('drop_column');
    EXECUTE pg_catalog.format('ALTER TABLE %s DROP COLUMN %I', @extschema@._ec_qualified(rel), c.old_column);
    PERFORM @extschema@._ec_allow(prev);

    UPDATE @extschema@.column_changes AS x
       SET status = 'finished', finished_at = pg_catalog.clock_timestamp()
     WHERE x.change_id = c.change_id;

    IF was_nn THEN
        RAISE NOTICE '%: % was NOT NULL; % is not yet', fn, c.old_column, c.new_column
        USING HINT = pg_catalog.format('CALL safe_ddl.set_not_null(%L, %L);', @extschema@._ec_qualified(rel), c.new_column);
    END IF;
    RETURN pg_catalog.format('dropped %s.%I; %I (%s) replaces it', rel, c.old_column, c.new_column, c.new_type)
           || CASE WHEN def IS NOT NULL THEN pg_catalog.format(' (with its default %s)', def) ELSE '' END;
END
$$;

COMMENT ON FUNCTION @extschema@.finish_column_change(pg_catalog.regclass, name) IS
  'Contract: once every row is in step and the old column is unused for safe_ddl.usage_window, '
  'drop the dual-write trigger and the old column. See docs/expand-contract.md.';

CREATE FUNCTION @extschema@.cancel_column_change(relation pg_catalog.regclass, column_name name)
RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
#variable_conflict use_variable
DECLARE
    fn      constant text := 'safe_ddl.cancel_column_change';
    rel     pg_catalog.regclass := cancel_column_change.relation;
    c       @extschema@.column_changes;
    prev    text;
    gone    boolean;
BEGIN
    SELECT * INTO c FROM @extschema@.column_changes AS x
     WHERE x.relation = rel AND x.status = 'active' AND x.old_column = column_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION '%: no unfinished column change of column "%" of %', fn, column_name, rel
        USING ERRCODE = 'no_data_found',
              HINT = 'column_name is the old column, as given to begin_column_change; see SELECT * FROM safe_ddl.column_change_status().';
    END IF;
    gone := NOT EXISTS (SELECT FROM pg_catalog.pg_class AS r WHERE r.oid = rel);
    IF NOT gone THEN
        IF EXISTS (SELECT FROM pg_catalog.pg_trigger AS t WHERE t.tgrelid = rel AND t.tgname = c.trigger_name) THEN
            EXECUTE pg_catalog.format('DROP TRIGGER %I ON %s', c.trigger_name, @extschema@._ec_qualified(rel));
        END IF;
        IF EXISTS (SELECT FROM pg_catalog.pg_attribute AS a
                    WHERE a.attrelid = rel AND a.attname = c.new_column AND NOT a.attisdropped) THEN
            -- Through the guard, drop_column allowed: its usage check refuses while new code uses it.
            prev := @extschema@._ec_allow('drop_column');
            EXECUTE pg_catalog.format('ALTER TABLE %s DROP COLUMN %I', @extschema@._ec_qualified(rel), c.new_column);
            PERFORM @extschema@._ec_allow(prev);
        END IF;
    END IF;
    EXECUTE pg_catalog.format('DROP FUNCTION IF EXISTS %s', c.trigger_function);
    EXECUTE pg_catalog.format('DROP FUNCTION IF EXISTS %s', c.forward_function);
    EXECUTE pg_catalog.format('DROP FUNCTION IF EXISTS %s', c.backward_function);
    UPDATE @extschema@.column_changes AS x
       SET status = 'cancelled', finished_at = pg_catalog.clock_timestamp()
     WHERE x.change_id = c.change_id;
    RETURN CASE WHEN gone THEN pg_catalog.format('cancelled change %s (its table is gone)', c.change_id)
                ELSE pg_catalog.format('dropped %s.%I and the dual writes; %I is unchanged', rel, c.new_column, c.old_column) END;
END
$$;

COMMENT ON FUNCTION @extschema@.cancel_column_change(pg_catalog.regclass, name) IS
  'Roll back a column change: drop the dual-write trigger, its functions and the new column '
  '(not while new code uses it); the old column stays as it is.';

----------------------------------------------------------------------------------------------------
-- Multi-transaction recipes (procedures: CALL them outside a transaction block). Each step looks
-- at the catalog first, so a CALL interrupted anywhere goes on from where it stopped when CALLed
-- again.
----------------------------------------------------------------------------------------------------

-- A NOT VALID constraint validated in a transaction of its own (SHARE UPDATE EXCLUSIVE: reads and
-- writes go on). On a violation, say which constraint stays behind and how to go on. Untracked: a
-- foreign key's validation is a query of both tables, not a use by the application.
CREATE PROCEDURE @extschema@._ec_validate(caller text, rel pg_catalog.regclass, con name)
LANGUAGE plpgsql
AS $$
DECLARE
    err_msg text;
    prev    text := @extschema@._ec_untracked();
BEGIN
    BEGIN
        EXECUTE pg_catalog.format('ALTER TABLE %s VALIDATE CONSTRAINT %I', @extschema@._ec_qualified(rel), con);
        PERFORM @extschema@._ec_tracked(prev);
    EXCEPTION WHEN check_violation OR foreign_key_violation THEN
        GET STACKED DIAGNOSTICS err_msg = MESSAGE_TEXT;
        RAISE EXCEPTION '%: %', caller, err_msg
        USING ERRCODE = 'object_not_in_prerequisite_state',
              DETAIL = pg_catalog.format('The constraint %I stays on %s as NOT VALID: it already holds for every new or updated row.', con, rel),
              HINT = 'Fix the existing rows that violate it (e.g. with CALL safe_ddl.backfill(...)), then CALL this again: it goes on with the validation.';
    END;
END
$$;

CREATE PROCEDURE @extschema@.set_not_null(relation pg_catalog.regclass, column_name name)
LANGUAGE plpgsql
AS $$
#variable_conflict use_variable
DECLARE
    fn   constant text := 'safe_ddl.set_not_null';
    rel  pg_catalog.regclass := set_not_null.relation;
    att  pg_catalog.pg_attribute;
    con  name;
    def  text;
    ok   boolean;
    qrel text;
BEGIN
    CALL @extschema@._require_own_transaction(fn);
    COMMIT;
    PERFORM @extschema@._ec_require_table(fn, rel);
    att := @extschema@._ec_column(fn, rel, column_name);
    qrel := @extschema@._ec_qualified(rel);
    -- The name safe_ddl's not_null_scan HINT uses: a recipe started by hand goes on here too.
    con := @extschema@._ec_name('', (SELECT r.relname FROM pg_catalog.pg_class AS r WHERE r.oid = rel) || '_' || column_name || '_not_null');

    SELECT c.convalidated, pg_catalog.pg_get_expr(c.conbin, c.conrelid) INTO ok, def
      FROM pg_catalog.pg_constraint AS c
     WHERE c.conrelid = rel AND c.conname = con AND c.contype = 'c';
    IF FOUND AND def IS DISTINCT FROM pg_catalog.format('(%I IS NOT NULL)', column_name) THEN
        RAISE EXCEPTION '%: % already has a constraint named % that is not CHECK (% IS NOT NULL): %', fn, rel, con, column_name, def
        USING ERRCODE = 'duplicate_object';
    END IF;

    IF att.attnotnull THEN
        IF ok IS NOT NULL THEN      -- done but for the helper constraint (or set by hand)
            EXECUTE pg_catalog.format('ALTER TABLE %s DROP CONSTRAINT %I', qrel, con);
            COMMIT;
        END IF;
        RAISE NOTICE '%: %.% is NOT NULL', fn, rel, column_name;
        RETURN;
    END IF;

    -- 1. The constraint, NOT VALID: new and updated rows are checked from now on (brief ACCESS
    --    EXCLUSIVE lock, no scan).
    IF ok IS NULL THEN
        EXECUTE pg_catalog.format('ALTER TABLE %s ADD CONSTRAINT %I CHECK (%I IS NOT NULL) NOT VALID', qrel, con, column_name);
        COMMIT;
        ok := false;
    ELSE
        RAISE NOTICE '%: going on with constraint % (%)', fn, con, CASE WHEN ok THEN 'validated' ELSE 'NOT VALID' END;
    END IF;

    -- 2. Validate it: a scan under SHARE UPDATE EXCLUSIVE (reads and writes go on).
    IF NOT ok THEN
        CALL @extschema@._ec_validate(fn, rel, con);
        COMMIT;
    END IF;

    -- 3. SET NOT NULL, proven by the validated CHECK (no scan), and the CHECK is no longer needed:
    --    one brief ACCESS EXCLUSIVE lock for both.
    EXECUTE pg_catalog.format('ALTER TABLE %s ALTER COLUMN %I SET NOT NULL', qrel, column_name);
    EXECUTE pg_catalog.format('ALTER TABLE %s DROP CONSTRAINT %I', qrel, con);
    COMMIT;
    RAISE NOTICE '%: %.% is NOT NULL', fn, rel, column_name;
END
$$;

COMMENT ON PROCEDURE @extschema@.set_not_null(pg_catalog.regclass, name) IS
  'SET NOT NULL without a long lock: CHECK (col IS NOT NULL) NOT VALID, COMMIT, VALIDATE, COMMIT, '
  'SET NOT NULL (proven by the CHECK), DROP the CHECK. Resumable. CALL it outside a transaction block.';

CREATE PROCEDURE @extschema@.add_check(relation pg_catalog.regclass, name name, expression text)
LANGUAGE plpgsql
AS $$
#variable_conflict use_variable
DECLARE
    fn    constant text := 'safe_ddl.add_check';
    rel   pg_catalog.regclass := add_check.relation;
    con   name := add_check.name;
    expr  text := pg_catalog.btrim(add_check.expression);
    kind  "char";
    ok    boolean;
    def   text;
    qrel  text;
    prev  text;
    err_msg text;
BEGIN
    CALL @extschema@._require_own_transaction(fn);
    COMMIT;
    PERFORM @extschema@._ec_require_table(fn, rel);
    qrel := @extschema@._ec_qualified(rel);
    IF con IS NULL OR con = '' THEN
        RAISE EXCEPTION '%: name must not be empty', fn USING ERRCODE = 'null_value_not_allowed',
              HINT = 'The constraint''s name also identifies it when the CALL is repeated to go on after an interruption.';
    END IF;

    SELECT c.contype, c.convalidated, pg_catalog.pg_get_constraintdef(c.oid) INTO kind, ok, def
      FROM pg_catalog.pg_constraint AS c WHERE c.conrelid = rel AND c.conname = con;
    IF FOUND THEN
        IF kind <> 'c' THEN
            RAISE EXCEPTION '%: % already has a constraint named % that is not a CHECK: %', fn, rel, con, def
            USING ERRCODE = 'duplicate_object';
        END IF;
        IF ok THEN
            RAISE NOTICE '%: constraint % of % is already valid: %', fn, con, rel, def;
            RETURN;
        END IF;
        RAISE NOTICE '%: going on with constraint % of %: %', fn, con, rel, def;
    ELSE
        IF expr IS NULL OR expr = '' THEN
            RAISE EXCEPTION '%: expression must not be empty', fn USING ERRCODE = 'null_value_not_allowed';
        END IF;
        -- One boolean expression over the table's columns, nothing else: checked as a CASE
        -- condition (a fragment that would close the CHECK's parentheses is a syntax error) on
        -- no rows, untracked.
        prev := @extschema@._ec_untracked();
        BEGIN
            EXECUTE pg_catalog.format('SELECT FROM %s WHERE CASE WHEN (%s%s%s) THEN false ELSE false END',
                                      qrel, E'\n', expr, E'\n');
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS err_msg = MESSAGE_TEXT;
            RAISE EXCEPTION '%: invalid expression for %: %', fn, rel, err_msg
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'expression: ' || expr,
                  HINT = 'expression is one boolean expression over the table''s columns, as in CHECK (...).';
        END;
        PERFORM @extschema@._ec_tracked(prev);
        -- 1. NOT VALID: brief ACCESS EXCLUSIVE lock, no scan; new and updated rows checked.
        EXECUTE pg_catalog.format('ALTER TABLE %s ADD CONSTRAINT %I CHECK (%s%s%s) NOT VALID', qrel, con, E'\n', expr, E'\n');
        COMMIT;
    END IF;

    -- 2. VALIDATE: a scan under SHARE UPDATE EXCLUSIVE.
    CALL @extschema@._ec_validate(fn, rel, con);
    COMMIT;
    SELECT pg_catalog.pg_get_constraintdef(c.oid) INTO def
      FROM pg_catalog.pg_constraint AS c WHERE c.conrelid = rel AND c.conname = con;
    RAISE NOTICE '%: constraint % of % is valid: %', fn, con, rel, def;
END
$$;

COMMENT ON PROCEDURE @extschema@.add_check(pg_catalog.regclass, name, text) IS
  'ADD CONSTRAINT name CHECK (expression) NOT VALID, COMMIT, VALIDATE. Resumable (by name). '
  'CALL it outside a transaction block.';

CREATE PROCEDURE @extschema@.add_foreign_key(
    relation     pg_catalog.regclass,
    columns      name[],
    ref_relation pg_catalog.regclass,
    ref_columns  name[] DEFAULT NULL,   -- NULL: the referenced table's primary key
    name         name DEFAULT NULL,     -- NULL: <table>_<columns>_fkey
    on_delete    text DEFAULT NULL,     -- NO ACTION (default), RESTRICT, CASCADE, SET NULL, SET DEFAULT
    on_update    text DEFAULT NULL
)
LANGUAGE plpgsql
AS $$
#variable_conflict use_variable
DECLARE
    fn     constant text := 'safe_ddl.add_foreign_key';
    rel    pg_catalog.regclass := add_foreign_key.relation;
    ref    pg_catalog.regclass := add_foreign_key.ref_relation;
    cols   name[] := add_foreign_key.columns;
    rcols  name[] := add_foreign_key.ref_columns;
    con    name := add_foreign_key.name;
    del    text := pg_catalog.upper(pg_catalog.btrim(pg_catalog.regexp_replace(COALESCE(add_foreign_key.on_delete, 'NO ACTION'), '\s+', ' ', 'g')));
    upd    text := pg_catalog.upper(pg_catalog.btrim(pg_catalog.regexp_replace(COALESCE(add_foreign_key.on_update, 'NO ACTION'), '\s+', ' ', 'g')));
    actions constant text[] := '{NO ACTION,RESTRICT,CASCADE,SET NULL,SET DEFAULT}';
    col    name;
    relnm  name;
    kind   "char";
    ok     boolean;
    def    text;
    want_att int2[];
    qrel   text;
BEGIN
    CALL @extschema@._require_own_transaction(fn);
    COMMIT;
    PERFORM @extschema@._ec_require_table(fn, rel);
    PERFORM @extschema@._ec_require_table(fn, ref);
    qrel := @extschema@._ec_qualified(rel);
    IF cols IS NULL OR pg_catalog.cardinality(cols) = 0 THEN
        RAISE EXCEPTION '%: columns must name at least one column', fn USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOREACH col IN ARRAY cols LOOP
        PERFORM @extschema@._ec_column(fn, rel, col);
    END LOOP;
    IF rcols IS NULL THEN
        SELECT pg_catalog.array_agg(a.attname ORDER BY u.n) INTO rcols
          FROM pg_catalog.pg_constraint AS c
          CROSS JOIN LATERAL pg_catalog.unnest(c.conkey) WITH ORDINALITY AS u(attnum, n)
          JOIN pg_catalog.pg_attribute AS a ON a.attrelid = c.conrelid AND a.attnum = u.attnum
         WHERE c.conrelid = ref AND c.contype = 'p';
        IF rcols IS NULL THEN
            RAISE EXCEPTION '%: % has no primary key', fn, ref
            USING ERRCODE = 'invalid_foreign_key', HINT = 'Name the referenced columns (ref_columns).';
        END IF;
    END IF;
    FOREACH col IN ARRAY rcols LOOP
        PERFORM @extschema@._ec_column(fn, ref, col);
    END LOOP;
    IF pg_catalog.cardinality(rcols) <> pg_catalog.cardinality(cols) THEN
        RAISE EXCEPTION '%: % columns reference % columns', fn, pg_catalog.cardinality(cols), pg_catalog.cardinality(rcols)
        USING ERRCODE = 'invalid_foreign_key';
    END IF;
    IF NOT del = ANY (actions) THEN
        RAISE EXCEPTION '%: on_delete must be one of %, not %', fn, pg_catalog.array_to_string(actions, ', '), add_foreign_key.on_delete
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT upd = ANY (actions) THEN
        RAISE EXCEPTION '%: on_update must be one of %, not %', fn, pg_catalog.array_to_string(actions, ', '), add_foreign_key.on_update
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF con IS NULL THEN
        SELECT r.relname INTO relnm FROM pg_catalog.pg_class AS r WHERE r.oid = rel;
        con := @extschema@._ec_name('', relnm || '_' || pg_catalog.array_to_string(cols, '_') || '_fkey');
    END IF;

    SELECT c.contype, c.convalidated, pg_catalog.pg_get_constraintdef(c.oid) INTO kind, ok, def
      FROM pg_catalog.pg_constraint AS c WHERE c.conrelid = rel AND c.conname = con;
    IF FOUND THEN
        -- Ours from an interrupted CALL, or someone else's: the same columns and target?
        IF kind <> 'f' OR NOT EXISTS (
            SELECT FROM pg_catalog.pg_constraint AS c
             WHERE c.conrelid = rel AND c.conname = con AND c.confrelid = ref
               AND c.conkey = (SELECT pg_catalog.array_agg(a.attnum ORDER BY u.n)
                                 FROM pg_catalog.unnest(cols) WITH ORDINALITY AS u(nm, n)
                                 JOIN pg_catalog.pg_attribute AS a ON a.attrelid = rel AND a.attname = u.nm)
               AND c.confkey = (SELECT pg_catalog.array_agg(a.attnum ORDER BY u.n)
                                  FROM pg_catalog.unnest(rcols) WITH ORDINALITY AS u(nm, n)
                                  JOIN pg_catalog.pg_attribute AS a ON a.attrelid = ref AND a.attname = u.nm)) THEN
            RAISE EXCEPTION '%: % already has a constraint named % that is not this foreign key: %', fn, rel, con, def
            USING ERRCODE = 'duplicate_object';
        END IF;
        IF ok THEN
            RAISE NOTICE '%: constraint % of % is already valid: %', fn, con, rel, def;
            RETURN;
        END IF;
        RAISE NOTICE '%: going on with constraint % of %: %', fn, con, rel, def;
    ELSE
        -- 1. NOT VALID: brief SHARE ROW EXCLUSIVE locks on both tables, no scan.
        EXECUTE pg_catalog.format('ALTER TABLE %s ADD CONSTRAINT %I FOREIGN KEY (%s) REFERENCES %s (%s) ON DELETE %s ON UPDATE %s NOT VALID',
            qrel, con,
            (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(x), ', ' ORDER BY n) FROM pg_catalog.unnest(cols) WITH ORDINALITY AS u(x, n)),
            @extschema@._ec_qualified(ref),
            (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(x), ', ' ORDER BY n) FROM pg_catalog.unnest(rcols) WITH ORDINALITY AS u(x, n)),
            del, upd);
        COMMIT;
    END IF;

    -- 2. VALIDATE: SHARE UPDATE EXCLUSIVE on the table, ROW SHARE on the referenced one.
    CALL @extschema@._ec_validate(fn, rel, con);
    COMMIT;
    SELECT pg_catalog.pg_get_constraintdef(c.oid) INTO def
      FROM pg_catalog.pg_constraint AS c WHERE c.conrelid = rel AND c.conname = con;
    RAISE NOTICE '%: constraint % of % is valid: %', fn, con, rel, def;

    -- A DELETE or key UPDATE of the referenced table looks the referencing rows up: without an
    -- index that starts with these columns, each is a scan of this table.
    SELECT pg_catalog.array_agg(a.attnum ORDER BY u.n) INTO want_att
      FROM pg_catalog.unnest(cols) WITH ORDINALITY AS u(nm, n)
      JOIN pg_catalog.pg_attribute AS a ON a.attrelid = rel AND a.attname = u.nm;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_index AS i
                    WHERE i.indrelid = rel AND i.indisvalid
                      AND (i.indkey::int2[])[0:pg_catalog.cardinality(want_att) - 1] @> want_att
                      AND (i.indkey::int2[])[0:pg_catalog.cardinality(want_att) - 1] <@ want_att) THEN
        RAISE NOTICE '%: no index of % starts with (%): every DELETE from % scans %', fn, rel,
                     pg_catalog.array_to_string(cols, ', '), ref, rel
        USING HINT = pg_catalog.format('CREATE INDEX CONCURRENTLY ON %s (%s);', qrel,
                     (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(x), ', ' ORDER BY n) FROM pg_catalog.unnest(cols) WITH ORDINALITY AS u(x, n)));
    END IF;
END
$$;

COMMENT ON PROCEDURE @extschema@.add_foreign_key(pg_catalog.regclass, name[], pg_catalog.regclass, name[], name, text, text) IS
  'ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID, COMMIT, VALIDATE. Resumable (by name). CALL it '
  'outside a transaction block.';

----------------------------------------------------------------------------------------------------
-- rename_table: the table gets its new name, a view keeps the old one working
----------------------------------------------------------------------------------------------------

CREATE TABLE @extschema@.table_renames (
    rename_id    bigserial PRIMARY KEY,
    relation     pg_catalog.regclass NOT NULL,   -- the table (by its new name)
    view         pg_catalog.regclass,            -- the view under the old name (NULL once dropped)
    schema_name  name NOT NULL,
    old_name     name NOT NULL,
    new_name     name NOT NULL,
    status       text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'finished')),
    started_by   name NOT NULL DEFAULT CURRENT_USER,
    started_at   timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    finished_at  timestamptz
);

COMMENT ON TABLE @extschema@.table_renames IS
  'safe_ddl.rename_table(): tables renamed with a view under the old name, active until '
  'safe_ddl.finish_rename_table() drops the view.';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.table_renames', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.table_renames_rename_id_seq', '');
ALTER TABLE @extschema@.table_renames ENABLE ROW LEVEL SECURITY;
CREATE POLICY table_renames_own ON @extschema@.table_renames
    USING (started_by = CURRENT_USER)
    WITH CHECK (started_by = CURRENT_USER);
GRANT SELECT, INSERT, UPDATE, DELETE ON @extschema@.table_renames TO PUBLIC;
GRANT USAGE ON SEQUENCE @extschema@.table_renames_rename_id_seq TO PUBLIC;

CREATE FUNCTION @extschema@.rename_table(relation pg_catalog.regclass, new_name name) RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
#variable_conflict use_variable
DECLARE
    fn     constant text := 'safe_ddl.rename_table';
    rel    pg_catalog.regclass := rename_table.relation;
    nsp    name;
    oldnm  name;
    kind   "char";
    prev   text;
    qview  text;
    v      pg_catalog.regclass;
    g      record;
BEGIN
    IF rel IS NULL OR new_name IS NULL OR new_name = '' THEN
        RAISE EXCEPTION '%: relation and new_name must not be NULL or empty', fn USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT n.nspname, c.relname, c.relkind INTO nsp, oldnm, kind
      FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
     WHERE c.oid = rel;
    -- Called again after it worked: the old name is the view now.
    IF kind = 'v' AND EXISTS (SELECT FROM @extschema@.table_renames AS x
                               WHERE x.view = rel AND x.status = 'active' AND x.new_name = rename_table.new_name) THEN
        RAISE NOTICE '%: % is already renamed to % (% is its view)', fn, rel, new_name, rel;
        RETURN pg_catalog.format('%I.%I', nsp, new_name);
    END IF;
    PERFORM @extschema@._ec_require_table(fn, rel);
    IF pg_catalog.to_regclass(pg_catalog.format('%I.%I', nsp, new_name)) IS NOT NULL THEN
        RAISE EXCEPTION '%: relation "%" already exists in schema "%"', fn, new_name, nsp
        USING ERRCODE = 'duplicate_table';
    END IF;
    qview := pg_catalog.format('%I.%I', nsp, oldnm);

    -- One transaction: the rename (safe here: the view keeps the old name working) and the view.
    prev := @extschema@._ec_allow('rename, in_use');
    EXECUTE pg_catalog.format('ALTER TABLE %s RENAME TO %I', qview, new_name);
    PERFORM @extschema@._ec_allow(prev);
    -- A simple view is automatically updatable (SELECT, INSERT with the table's defaults, UPDATE,
    -- DELETE, ON CONFLICT, RETURNING). security_invoker: privileges and row-level security of the
    -- table apply to whoever uses the view, as they applied to the table.
    EXECUTE pg_catalog.format('CREATE VIEW %s WITH (security_invoker = true) AS SELECT * FROM %I.%I',
                              qview, nsp, new_name);
    v := qview::pg_catalog.regclass;
    -- The view needs the privileges the table had (the table keeps its own): table and column grants.
    FOR g IN
        SELECT a.privilege_type, a.grantee, NULL::name AS col, a.is_grantable
          FROM pg_catalog.pg_class AS c, pg_catalog.aclexplode(c.relacl) AS a
         WHERE c.oid = rel AND a.grantee <> c.relowner
           AND a.privilege_type IN ('SELECT', 'INSERT', 'UPDATE', 'DELETE', 'REFERENCES', 'TRIGGER')
        UNION ALL
        SELECT a.privilege_type, a.grantee, att.attname, a.is_grantable
          FROM pg_catalog.pg_class AS c
          JOIN pg_catalog.pg_attribute AS att ON att.attrelid = c.oid AND att.attnum > 0 AND NOT att.attisdropped,
               pg_catalog.aclexplode(att.attacl) AS a
         WHERE c.oid = rel AND a.grantee <> c.relowner
           AND a.privilege_type IN ('SELECT', 'INSERT', 'UPDATE', 'REFERENCES')
    LOOP
        EXECUTE pg_catalog.format('GRANT %s%s ON %s TO %s%s', g.privilege_type,
                                  CASE WHEN g.col IS NOT NULL THEN pg_catalog.format(' (%I)', g.col) ELSE '' END,
                                  qview,
                                  CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(g.grantee)) END,
                                  CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
    END LOOP;
    EXECUTE pg_catalog.format('COMMENT ON VIEW %s IS %L', qview,
        pg_catalog.format('safe_ddl.rename_table: %s was renamed to %I; this view keeps the old name working until SELECT safe_ddl.finish_rename_table(%L)',
                          qview, new_name, qview));
    INSERT INTO @extschema@.table_renames (relation, view, schema_name, old_name, new_name)
    VALUES (rel, v, nsp, oldnm, new_name);
    RAISE NOTICE '%: % is now %.%; the view % keeps the old name working', fn, qview, pg_catalog.quote_ident(nsp), pg_catalog.quote_ident(new_name), qview
    USING HINT = pg_catalog.format('Once no client uses the old name: SELECT safe_ddl.finish_rename_table(%L);', qview);
    RETURN pg_catalog.format('%I.%I', nsp, new_name);
END
$$;

COMMENT ON FUNCTION @extschema@.rename_table(pg_catalog.regclass, name) IS
  'In one transaction: rename the table and create an auto-updatable view under its old name, so '
  'old and new code both work. Drop the view later with safe_ddl.finish_rename_table().';

CREATE FUNCTION @extschema@.finish_rename_table(relation pg_catalog.regclass) RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
#variable_conflict use_variable
DECLARE
    fn   constant text := 'safe_ddl.finish_rename_table';
    r    @extschema@.table_renames;
    u    record;
    prev text;
BEGIN
    IF relation IS NULL THEN
        RAISE EXCEPTION '%: relation must not be NULL', fn USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- The view (old name) or the renamed table (new name).
    SELECT * INTO r FROM @extschema@.table_renames AS x
     WHERE x.status = 'active' AND (x.view = relation OR x.relation = relation)
     ORDER BY x.rename_id DESC LIMIT 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION '%: % is not a table renamed by safe_ddl.rename_table (nor its view)', fn, relation
        USING ERRCODE = 'no_data_found',
              HINT = 'See SELECT * FROM safe_ddl.table_renames WHERE status = ''active''.';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_class AS c WHERE c.oid = r.view AND c.relkind = 'v') THEN
        UPDATE @extschema@.table_renames AS x SET status = 'finished', view = NULL, finished_at = pg_catalog.clock_timestamp()
         WHERE x.rename_id = r.rename_id;
        RETURN pg_catalog.format('the view %I.%I is already gone', r.schema_name, r.old_name);
    END IF;

    SELECT * INTO u FROM @extschema@._ec_last_use(r.view, NULL);
    IF u.unproven AND NOT u.recent THEN
        RAISE EXCEPTION '%: the view % (the old name of %) is not proven unused: usage tracking has run for less than safe_ddl.usage_window (%)', fn, r.view, r.relation, u.usage_window
        USING ERRCODE = 'object_not_in_prerequisite_state',
              DETAIL = pg_catalog.format('Its use is tracked since %s (safe_ddl.column_usage).', u.tracking_since),
              HINT = 'Wait until tracking has run for safe_ddl.usage_window, then finish.';
    END IF;
    IF u.recent THEN
        RAISE EXCEPTION '%: the view % (the old name of %) was used within safe_ddl.usage_window (%)', fn, r.view, r.relation, u.usage_window
        USING ERRCODE = 'object_not_in_prerequisite_state',
              DETAIL = pg_catalog.format('Last read %s, last written %s (safe_ddl.column_usage).',
                                         COALESCE(u.last_read::text, 'never'), COALESCE(u.last_write::text, 'never')),
              HINT = pg_catalog.format('Move every client to %s, then wait until the old name has not been used for safe_ddl.usage_window.', r.relation);
    END IF;

    -- DROP VIEW through the guard: drop_table allowed (for this statement; the guard's own usage
    -- check still applies), its lock_timeout and retries.
    prev := @extschema@._ec_allow('drop_table');
    EXECUTE pg_catalog.format('DROP VIEW %s', r.view);
    PERFORM @extschema@._ec_allow(prev);
    UPDATE @extschema@.table_renames AS x SET status = 'finished', view = NULL, finished_at = pg_catalog.clock_timestamp()
     WHERE x.rename_id = r.rename_id;
    RETURN pg_catalog.format('dropped the view %I.%I; the table is %s', r.schema_name, r.old_name, r.relation);
END
$$;

COMMENT ON FUNCTION @extschema@.finish_rename_table(pg_catalog.regclass) IS
  'Drop the view rename_table() left under the old name (given the view or the renamed table), '
  'once it has not been used for safe_ddl.usage_window.';
