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
SET search_path = pg_catalog, pg_temp
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
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF prev IS NOT NULL THEN
        PERFORM pg_catalog.set_config('safe_ddl.track_usage', prev, true);
    END IF;
END
$$;

-- Allow hazards for the statements that follow in this transaction, on top of what the caller
-- allowed (a caller's in_use still counts: the helper's statement is refused for what the caller
-- did not allow, not for less). Returns the previous value of safe_ddl.allow so the caller
-- restores it (_ec_restore_allow(prev)) right after its one statement. safe_ddl.allow_ceiling
-- applies as to any SET (the GUC's check refuses a value above it). `optional`: hazards added only
-- where the ceiling permits them (belt and braces: the helper's statement should not need them).
CREATE FUNCTION @extschema@._ec_allow(hazards text, optional text DEFAULT NULL) RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    prev text := COALESCE(pg_catalog.current_setting('safe_ddl.allow', true), '');
    base text := CASE WHEN pg_catalog.btrim(prev) = '' THEN hazards ELSE prev || ', ' || hazards END;
BEGIN
    IF optional IS NOT NULL THEN
        BEGIN
            PERFORM pg_catalog.set_config('safe_ddl.allow', base || ', ' || optional, true);
            RETURN prev;
        EXCEPTION WHEN insufficient_privilege THEN
            NULL;   -- above safe_ddl.allow_ceiling: without them
        END;
    END IF;
    PERFORM pg_catalog.set_config('safe_ddl.allow', base, true);
    RETURN prev;
END
$$;

-- Restore safe_ddl.allow to what _ec_allow() returned.
CREATE FUNCTION @extschema@._ec_restore_allow(prev text) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pg_catalog.set_config('safe_ddl.allow', COALESCE(prev, ''), true);
END
$$;

-- Whether the caller's safe_ddl.allow names in_use (an override of the usage checks) and
-- safe_ddl.allow_ceiling permits it (names in_use or all; a ceiling can arrive after the allow).
-- The helper then skips its own usage refusal; the guard still judges its DROP with in_use under
-- the ceiling.
CREATE FUNCTION @extschema@._ec_allows_in_use() RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT COALESCE('in_use' = ANY (SELECT pg_catalog.lower(pg_catalog.btrim(x))
                                      FROM pg_catalog.unnest(pg_catalog.string_to_array(
                                               pg_catalog.current_setting('safe_ddl.allow', true), ',')) AS x), false)
       AND COALESCE(ARRAY['in_use', 'all'] && ARRAY(SELECT pg_catalog.lower(pg_catalog.btrim(x))
                                                     FROM pg_catalog.unnest(pg_catalog.string_to_array(
                                                              pg_catalog.current_setting('safe_ddl.allow_ceiling', true), ',')) AS x), false)
$$;

-- An identifier of at most 63 bytes: prefix || body, the body cut and suffixed with a hash of the
-- whole when too long (deterministic: the same inputs give the same name on every call).
CREATE FUNCTION @extschema@._ec_name(prefix text, body text) RETURNS name
LANGUAGE sql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN pg_catalog.octet_length(prefix || body) <= 63 THEN (prefix || body)::name
                ELSE (pg_catalog.left(prefix || body,
                                      (SELECT pg_catalog.max(k) FROM pg_catalog.generate_series(1, 54) AS k
                                        WHERE pg_catalog.octet_length(pg_catalog.left(prefix || body, k)) <= 54))
                      || '_' || pg_catalog.left(pg_catalog.md5(prefix || body), 8))::name
           END
$$;

-- Raise unless rel is a table (or partitioned table); caller names the function in the message.
CREATE FUNCTION @extschema@._ec_require_table(caller text, rel pg_catalog.regclass) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
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
SET search_path = pg_catalog, pg_temp
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
SET search_path = pg_catalog, pg_temp
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
    old_type      text NOT NULL,   -- format_type() of each column, with its modifiers (qualified)
    new_type      text NOT NULL,
    forward       text NOT NULL,   -- the new value, an expression over old_column (by its name)
    backward      text NOT NULL,   -- the old value, an expression over new_column (by its name)
    -- in the table's schema: the trigger and its function, the two expressions as functions
    -- (for display: the helpers find them again by the change id, see _cc_objects)
    trigger_name  name NOT NULL,
    trigger_function pg_catalog.regprocedure NOT NULL,
    forward_function pg_catalog.regprocedure NOT NULL,
    backward_function pg_catalog.regprocedure NOT NULL,
    -- 'swapped': a type change (sql/type_change.sql) renamed the new column into the old one's
    -- place (the old one is retired_column now, its trigger and functions are gone)
    status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'swapped', 'finished', 'cancelled')),
    started_by    pg_catalog.regrole NOT NULL,   -- the role whose change it is (it owns the functions)
    started_at    timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    finished_at   timestamptz,     -- finished or cancelled
    type_change   bigint,          -- the type change (safe_ddl.begin_type_change) it is part of: the
                                   -- change_id of its key column's change; NULL for begin_column_change's
    retired_column name            -- after the swap of a type change: the old column's new name
);

COMMENT ON TABLE @extschema@.column_changes IS
  'safe_ddl.begin_column_change(): one row per column change (expand/contract), active until '
  'safe_ddl.finish_column_change(). See docs/expand-contract.md.';

-- One active change per column of a table, either side, per role: another role's row (invisible
-- to this one) never blocks it. Across roles, begin_column_change refuses a column that a live
-- dual-write trigger covers, found in the catalog.
CREATE UNIQUE INDEX column_changes_active_old ON @extschema@.column_changes (started_by, relation, old_column)
 WHERE status = 'active';
CREATE UNIQUE INDEX column_changes_active_new ON @extschema@.column_changes (started_by, relation, new_column)
 WHERE status = 'active';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.column_changes', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.column_changes_change_id_seq', '');

-- As for backfill_jobs: every role reads its own changes (superusers see all); nobody writes the
-- table but safe_ddl._state() (see _cc_w_register). The sequence only names a change's objects.
ALTER TABLE @extschema@.column_changes ENABLE ROW LEVEL SECURITY;
CREATE POLICY column_changes_own ON @extschema@.column_changes FOR SELECT
    USING (started_by = pg_catalog.to_regrole(pg_catalog.quote_ident(CURRENT_USER)));
REVOKE ALL ON @extschema@.column_changes FROM PUBLIC;
GRANT SELECT ON @extschema@.column_changes TO PUBLIC;
GRANT USAGE ON SEQUENCE @extschema@.column_changes_change_id_seq TO PUBLIC;

-- schema.name of a function, quoted.
CREATE FUNCTION @extschema@._ec_func_name(f pg_catalog.regprocedure) RETURNS text
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.format('%I.%I', n.nspname, p.proname)
      FROM pg_catalog.pg_proc AS p JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
     WHERE p.oid = f
$$;

-- The equality operator of a type as OPERATOR(schema.=), from its default btree (else hash)
-- operator class, as IS DISTINCT FROM finds it; NULL when only a polymorphic one of
-- pg_catalog's applies (arrays, enums, records: OPERATOR(pg_catalog.=) finds it).
CREATE FUNCTION @extschema@._ec_eq_oper(typ oid) RETURNS oid
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT o.oid
      FROM pg_catalog.pg_type AS t
      CROSS JOIN LATERAL (SELECT CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END AS base) AS b
      JOIN pg_catalog.pg_opclass AS oc ON oc.opcdefault
      JOIN pg_catalog.pg_am AS am ON am.oid = oc.opcmethod AND am.amname IN ('btree', 'hash')
      JOIN pg_catalog.pg_amop AS ao ON ao.amopfamily = oc.opcfamily
                                   AND ao.amoplefttype = oc.opcintype AND ao.amoprighttype = oc.opcintype
                                   AND ao.amopstrategy = CASE WHEN am.amname = 'btree' THEN 3 ELSE 1 END
      JOIN pg_catalog.pg_operator AS o ON o.oid = ao.amopopr
      JOIN pg_catalog.pg_namespace AS n ON n.oid = o.oprnamespace
     WHERE t.oid = typ
       AND (oc.opcintype = b.base
            OR EXISTS (SELECT FROM pg_catalog.pg_cast AS c
                        WHERE c.castsource = b.base AND c.casttarget = oc.opcintype AND c.castmethod = 'b'))
     ORDER BY oc.opcintype = b.base DESC, am.amname = 'btree' DESC
     LIMIT 1
$$;

CREATE FUNCTION @extschema@._ec_eq_op(typ oid) RETURNS text
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.format('OPERATOR(%I.%s)', n.nspname, o.oprname)
      FROM pg_catalog.pg_operator AS o JOIN pg_catalog.pg_namespace AS n ON n.oid = o.oprnamespace
     WHERE o.oid = @extschema@._ec_eq_oper(typ)
$$;

-- The pg_catalog type a type's equality compares as, when that = is pg_catalog's and takes
-- another type (varchar: text), as SQL; else NULL.
CREATE FUNCTION @extschema@._ec_eq_catalog_type(typ oid) RETURNS text
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.format_type(o.oprleft, NULL)
      FROM pg_catalog.pg_operator AS o
     WHERE o.oid = @extschema@._ec_eq_oper(typ)
       AND o.oprnamespace = 'pg_catalog'::pg_catalog.regnamespace AND o.oprleft = o.oprright AND o.oprleft <> typ
$$;

-- SQL for "a IS DISTINCT FROM b" (two values of type typ) with the type's own equality operator
-- named by its schema: the same answer in any search_path, no look-alike operator can run.
-- Arrays, enums, records and ranges get pg_catalog's polymorphic one by name: a plain IS
-- DISTINCT FROM would take an exact match for the type from anywhere in the caller's
-- search_path (begin's sample and the printed backfill run there). Outside pg_catalog, a
-- domain's values (or a binary-coercible type's) are cast to the operator's own types:
-- OPERATOR(public.=) of two domain values would take an exact match that another role with
-- CREATE on that schema defined for the domain rather than the real one (citext's, say).
CREATE FUNCTION @extschema@._ec_distinct_sql(a text, b text, typ oid) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.format('(CASE WHEN (%1$s) IS NULL OR (%2$s) IS NULL '
                             'THEN ((%1$s) IS NULL) OPERATOR(pg_catalog.<>) ((%2$s) IS NULL) '
                             'ELSE NOT (%4$s %3$s %5$s) END)', a, b, COALESCE(x.op, 'OPERATOR(pg_catalog.=)'),
                             CASE WHEN x.cast_l IS NULL THEN pg_catalog.format('(%s)', a)
                                  ELSE pg_catalog.format('CAST((%s) AS %s)', a, x.cast_l) END,
                             CASE WHEN x.cast_r IS NULL THEN pg_catalog.format('(%s)', b)
                                  ELSE pg_catalog.format('CAST((%s) AS %s)', b, x.cast_r) END)
      FROM (SELECT @extschema@._ec_eq_op(typ) AS op,
                   CASE WHEN o.oprnamespace <> 'pg_catalog'::pg_catalog.regnamespace AND o.oprleft <> typ
                        THEN pg_catalog.format_type(o.oprleft, NULL) END AS cast_l,
                   CASE WHEN o.oprnamespace <> 'pg_catalog'::pg_catalog.regnamespace AND o.oprright <> typ
                        THEN pg_catalog.format_type(o.oprright, NULL) END AS cast_r
              FROM (SELECT @extschema@._ec_eq_oper(typ) AS oid) AS e
              LEFT JOIN pg_catalog.pg_operator AS o ON o.oid = e.oid) AS x
$$;

-- A change's objects, found in the catalog by its id (never taken from a row): in the table's
-- schema, _safe_ddl_cc<id>_forward(old column), _safe_ddl_cc<id>_backward(new column),
-- _safe_ddl_cc<id>_dual_write() RETURNS trigger, and the trigger zz_safe_ddl_column_change_<id>
-- on the table calling it. NULL for what is not there; owner is the forward function's owner,
-- one_owner whether the three functions have the same one.
CREATE FUNCTION @extschema@._cc_objects(rel pg_catalog.regclass, id bigint,
    OUT nsp name, OUT forward_fn oid, OUT backward_fn oid, OUT trigger_fn oid, OUT trigger_oid oid,
    OUT trigger_name name, OUT old_column name, OUT new_column name, OUT old_type oid,
    OUT new_type oid, OUT owner oid, OUT one_owner boolean)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ns     oid;
    prefix text := '_safe_ddl_cc' || id || '_';
    bo     oid;
    tro    oid;
BEGIN
    SELECT c.relnamespace, n.nspname INTO ns, nsp
      FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
     WHERE c.oid = rel;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT p.oid, p.proargnames[1], p.proargtypes[0], p.proowner INTO forward_fn, old_column, old_type, owner
      FROM pg_catalog.pg_proc AS p
     WHERE p.pronamespace = ns AND p.proname = prefix || 'forward' AND p.pronargs = 1 AND p.prokind = 'f';
    SELECT p.oid, p.proargnames[1], p.proargtypes[0], p.proowner INTO backward_fn, new_column, new_type, bo
      FROM pg_catalog.pg_proc AS p
     WHERE p.pronamespace = ns AND p.proname = prefix || 'backward' AND p.pronargs = 1 AND p.prokind = 'f';
    SELECT p.oid, p.proowner INTO trigger_fn, tro
      FROM pg_catalog.pg_proc AS p
     WHERE p.pronamespace = ns AND p.proname = prefix || 'dual_write' AND p.pronargs = 0
       AND p.prorettype = 'pg_catalog.trigger'::pg_catalog.regtype;
    trigger_name := ('zz_safe_ddl_column_change_' || id)::name;
    SELECT t.oid INTO trigger_oid
      FROM pg_catalog.pg_trigger AS t
     WHERE t.tgrelid = rel AND t.tgname = trigger_name AND t.tgfoid = trigger_fn;
    one_owner := owner = bo AND owner = tro;
END
$$;

-- The live column changes of a table, of every role, from the catalog: its dual-write triggers
-- and the columns their functions take.
CREATE FUNCTION @extschema@._cc_live(rel pg_catalog.regclass)
RETURNS TABLE (change_id bigint, old_column name, new_column name, owner pg_catalog.regrole)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT x.id, o.old_column, o.new_column, o.owner::pg_catalog.regrole
      FROM pg_catalog.pg_trigger AS t
      CROSS JOIN LATERAL (SELECT pg_catalog.substr(t.tgname, 27)::bigint AS id) AS x
      CROSS JOIN LATERAL @extschema@._cc_objects(rel, x.id) AS o
     WHERE t.tgrelid = rel AND t.tgname ~ '^zz_safe_ddl_column_change_[0-9]{1,18}$' AND o.trigger_oid = t.oid
$$;

-- Whether this role may run the change's code: the change is its own and the functions the
-- catalog holds under the change's id are its own. Else NULL, or why not.
CREATE FUNCTION @extschema@._cc_not_runnable(c @extschema@.column_changes) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    o record;
BEGIN
    IF c.started_by <> @extschema@._me() THEN
        RETURN pg_catalog.format('change %s is role %s''s: its functions run only as that role', c.change_id, c.started_by);
    END IF;
    SELECT * INTO o FROM @extschema@._cc_objects(c.relation, c.change_id);
    IF o.forward_fn IS NULL OR o.old_column IS DISTINCT FROM c.old_column OR o.new_column IS DISTINCT FROM c.new_column THEN
        RETURN pg_catalog.format('the functions of change %s are gone or changed', c.change_id);
    END IF;
    IF o.owner <> c.started_by::oid THEN
        RETURN pg_catalog.format('the functions of change %s are not owned by role %s', c.change_id, c.started_by);
    END IF;
    RETURN NULL;
END
$$;

-- The change's out-of-step predicate over the table (qualified: it means the same in any
-- search_path): true for a row whose new column is not what the forward function (found in the
-- catalog) makes of its old column, cast to the new column's type with its modifiers.
CREATE FUNCTION @extschema@._cc_out_of_step_sql(c @extschema@.column_changes) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.format('SELECT pg_catalog.count(*) FROM (SELECT %I AS n, CAST(%s(%I) AS %s) AS f FROM %s OFFSET 0) AS s WHERE %s',
                             c.new_column, @extschema@._ec_func_name(o.forward_fn::pg_catalog.regprocedure), c.old_column,
                             @extschema@._type_sql(a.atttypid, a.atttypmod), @extschema@._rel_sql(c.relation),
                             @extschema@._ec_distinct_sql('s.n', 's.f', a.atttypid))
      FROM @extschema@._cc_objects(c.relation, c.change_id) AS o
      JOIN pg_catalog.pg_attribute AS a ON a.attrelid = c.relation AND a.attname = c.new_column AND NOT a.attisdropped
$$;

-- Rows whose columns are out of step (NULL: the table is gone, or not counted: the change's code
-- is not this role's to run). Not recorded as application use.
CREATE FUNCTION @extschema@._cc_out_of_step(c @extschema@.column_changes) RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    prev text;
    q    text;
    n    bigint;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_class AS r WHERE r.oid = c.relation)
       OR @extschema@._cc_not_runnable(c) IS NOT NULL THEN
        RETURN NULL;
    END IF;
    q := @extschema@._cc_out_of_step_sql(c);
    IF q IS NULL THEN
        RETURN NULL;
    END IF;
    prev := @extschema@._ec_untracked();
    EXECUTE q INTO n;
    PERFORM @extschema@._ec_tracked(prev);
    RETURN n;
END
$$;

-- The backfill that fills the new column of the existing rows (and re-runs harmlessly): the
-- change's role's own expression, so only for that role (NULL for another role's change).
CREATE FUNCTION @extschema@._cc_backfill_call(c @extschema@.column_changes) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN c.started_by = @extschema@._me() THEN x.call
                -- Another role's: its expression would run as whoever pastes the call (SET ROLE
                -- does not hold it: its code could RESET ROLE), so none is shown.
                END
      FROM (SELECT pg_catalog.format('CALL %s.backfill(%L, %L, %L);',
               pg_catalog.quote_ident('@extschema@'),
               @extschema@._rel_sql(c.relation),
               pg_catalog.format('%I = (%s)', c.new_column, c.forward),
               -- IS DISTINCT FROM where pg_catalog has the type's = exactly (nothing earlier in
               -- the search_path can then take its place); for a type compared as another one
               -- of pg_catalog's (varchar as text), both sides cast to that one; else the type's
               -- own = named by its schema.
               CASE WHEN t.typ IS NULL OR EXISTS (SELECT FROM pg_catalog.pg_operator AS o
                                                   WHERE o.oprname = '=' AND o.oprnamespace = 'pg_catalog'::pg_catalog.regnamespace
                                                     AND o.oprleft = t.typ AND o.oprright = t.typ)
                    THEN pg_catalog.format('%I IS DISTINCT FROM CAST((%s) AS %s)', c.new_column, c.forward, c.new_type)
                    WHEN t.cmp IS NOT NULL
                    THEN pg_catalog.format('%I::%s IS DISTINCT FROM CAST((%s) AS %s)::%s', c.new_column, t.cmp, c.forward, c.new_type, t.cmp)
                    ELSE @extschema@._ec_distinct_sql(pg_catalog.quote_ident(c.new_column),
                                                      pg_catalog.format('CAST((%s) AS %s)', c.forward, c.new_type), t.typ) END) AS call
              FROM (SELECT y.typ, @extschema@._ec_eq_catalog_type(y.typ) AS cmp
                      FROM (SELECT (SELECT a.atttypid FROM pg_catalog.pg_attribute AS a
                                     WHERE a.attrelid = c.relation AND a.attname = c.new_column AND NOT a.attisdropped) AS typ) AS y) AS t) AS x
$$;

-- The checks of begin_column_change that need only the catalog; errors name what to do.
CREATE FUNCTION @extschema@._cc_begin_checks(fn text, rel pg_catalog.regclass, column_name name, new_column name)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    old_att pg_catalog.pg_attribute := @extschema@._ec_column(fn, rel, column_name);
    l record;
BEGIN
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
    -- A live dual-write trigger (any role's, from the catalog) covering the column.
    SELECT * INTO l FROM @extschema@._cc_live(rel) AS x
     WHERE column_name IN (x.old_column, x.new_column) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION '%: column "%" of % is already part of an unfinished column change%', fn, column_name, rel,
                        CASE WHEN l.owner = @extschema@._me() THEN '' ELSE pg_catalog.format(' of role %s', l.owner) END
        USING ERRCODE = 'object_not_in_prerequisite_state',
              HINT = CASE WHEN l.owner = @extschema@._me()
                          THEN 'See SELECT * FROM safe_ddl.column_change_status(); finish or cancel that change first.'
                          ELSE pg_catalog.format('Role %s finishes or cancels it in a session logged in as %s (not SET ROLE in yours: its code could RESET ROLE and act as you): SELECT safe_ddl.cancel_column_change(%L, %L);',
                                                 l.owner, l.owner, @extschema@._rel_sql(rel), l.old_column) END;
    END IF;
    -- This role's own row of a change whose objects are gone (dropped by hand).
    SELECT * INTO l FROM @extschema@.column_changes AS x
     WHERE x.relation = rel AND x.status = 'active' AND x.started_by = @extschema@._me()
       AND column_name IN (x.old_column, x.new_column) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION '%: column "%" of % is already part of an unfinished column change', fn, column_name, rel
        USING ERRCODE = 'object_not_in_prerequisite_state',
              HINT = pg_catalog.format('See SELECT * FROM safe_ddl.column_change_status(); finish it, or cancel it: SELECT safe_ddl.cancel_column_change(%L, %L);',
                                       @extschema@._rel_sql(rel), l.old_column);
    END IF;
END
$$;

-- A change id whose object names are free in the table's schema: a role with CREATE there could
-- take the names of the next ids first.
CREATE FUNCTION @extschema@._cc_free_id(rel pg_catalog.regclass) RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ns oid := (SELECT c.relnamespace FROM pg_catalog.pg_class AS c WHERE c.oid = rel);
    id bigint;
BEGIN
    FOR i IN 1..10000 LOOP
        id := pg_catalog.nextval('@extschema@.column_changes_change_id_seq');
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_proc AS p
                        WHERE p.pronamespace = ns AND p.proname IN ('_safe_ddl_cc' || id || '_forward',
                                                                     '_safe_ddl_cc' || id || '_backward',
                                                                     '_safe_ddl_cc' || id || '_dual_write'))
           AND NOT EXISTS (SELECT FROM pg_catalog.pg_trigger AS t
                            WHERE t.tgrelid = rel AND t.tgname = 'zz_safe_ddl_column_change_' || id) THEN
            RETURN id;
        END IF;
    END LOOP;
    RAISE EXCEPTION 'safe_ddl.begin_column_change: the names of 10000 change ids are taken in schema %', ns::pg_catalog.regnamespace
    USING ERRCODE = 'duplicate_function',
          HINT = 'Drop the functions named _safe_ddl_cc<N>_forward/_backward/_dual_write there that no column change uses, or REVOKE CREATE on the schema from the roles that made them.';
END
$$;

-- The rest of begin_column_change once the expressions are functions and the new column is
-- there: the dual-write trigger function (types and operators from the catalog, search_path
-- pinned), the trigger, and the change's row (through safe_ddl._state).
CREATE FUNCTION @extschema@._cc_install(rel pg_catalog.regclass, id bigint, fwd_text text, bwd_text text,
                                        type_change bigint DEFAULT NULL)
RETURNS @extschema@.column_changes
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $install$
DECLARE
    o   record;
    na  pg_catalog.pg_attribute;
    oa  pg_catalog.pg_attribute;
    trg_fn text;
    c   @extschema@.column_changes;
BEGIN
    SELECT * INTO o FROM @extschema@._cc_objects(rel, id);
    SELECT * INTO oa FROM pg_catalog.pg_attribute AS a WHERE a.attrelid = rel AND a.attname = o.old_column AND NOT a.attisdropped;
    SELECT * INTO na FROM pg_catalog.pg_attribute AS a WHERE a.attrelid = rel AND a.attname = o.new_column AND NOT a.attisdropped;
    trg_fn := pg_catalog.format('%I.%I', o.nsp, '_safe_ddl_cc' || id || '_dual_write');
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
CREATE FUNCTION %1$s() RETURNS trigger LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $body$
-- %11$s: dual writes of change %6$s (see safe_ddl.column_changes)
DECLARE
    f %7$s;
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.%5$I IS NULL THEN
            NEW.%5$I := %2$s(NEW.%4$I);
        ELSE
            f := %2$s(NEW.%4$I);
            IF %8$s THEN
                NEW.%4$I := %3$s(NEW.%5$I);
            END IF;
        END IF;
    ELSIF %9$s THEN
        IF NOT %10$s THEN
            NEW.%5$I := %2$s(NEW.%4$I);
        END IF;
    ELSIF %10$s THEN
        f := %2$s(NEW.%4$I);
        IF %8$s THEN
            NEW.%4$I := %3$s(NEW.%5$I);
        END IF;
    END IF;
    RETURN NEW;
END
$body$$f$, trg_fn, @extschema@._ec_func_name(o.forward_fn::pg_catalog.regprocedure),
        @extschema@._ec_func_name(o.backward_fn::pg_catalog.regprocedure), o.old_column, o.new_column, id,
        @extschema@._type_sql(na.atttypid, na.atttypmod),
        @extschema@._ec_distinct_sql(pg_catalog.format('NEW.%I', o.new_column), 'f', na.atttypid),
        @extschema@._ec_distinct_sql(pg_catalog.format('NEW.%I', o.old_column), pg_catalog.format('OLD.%I', o.old_column), oa.atttypid),
        @extschema@._ec_distinct_sql(pg_catalog.format('NEW.%I', o.new_column), pg_catalog.format('OLD.%I', o.new_column), na.atttypid),
        -- the marker the guard's active_column_change HINT goes by
        CASE WHEN type_change IS NULL THEN 'safe_ddl.begin_column_change()' ELSE 'safe_ddl.begin_type_change()' END);
    EXECUTE pg_catalog.format('CREATE TRIGGER %I BEFORE INSERT OR UPDATE ON %s FOR EACH ROW EXECUTE FUNCTION %s()',
                              o.trigger_name, @extschema@._rel_sql(rel), trg_fn);
    PERFORM @extschema@._state('cc_register', pg_catalog.jsonb_build_object(
        'relation', rel::oid, 'change_id', id, 'forward', fwd_text, 'backward', bwd_text, 'type_change', type_change)::text);
    SELECT * INTO c FROM @extschema@.column_changes AS x WHERE x.change_id = id;
    RETURN c;
END
$install$;

-- begin_column_change's work; begin_type_change's for each of its columns (type_change: 0 = a
-- new type change whose id is this change's, > 0 = a column of that type change).
CREATE FUNCTION @extschema@._cc_begin(
    fn          text,
    relation    pg_catalog.regclass,
    column_name name,
    new_column  name,
    new_type    text,
    forward     text,
    backward    text,
    type_change bigint
) RETURNS text
LANGUAGE plpgsql VOLATILE
-- No SET search_path: new_type, forward and backward are the caller's SQL and resolve in the
-- caller's search_path, as documented. Everything else is qualified or done by pinned helpers.
AS $begin$
#variable_conflict use_variable
DECLARE
    rel         pg_catalog.regclass := _cc_begin.relation;
    old_att     pg_catalog.pg_attribute;
    type_oid    oid;
    new_type_t  text;
    old_type_q  text;
    fwd_text    text := NULLIF(pg_catalog.btrim(_cc_begin.forward), '');
    bwd_text    text := NULLIF(pg_catalog.btrim(_cc_begin.backward), '');
    nsp         name;
    id          bigint;
    fwd_fn      text;
    bwd_fn      text;
    prev        text;
    mismatches  bigint;
    sampled     bigint;
    c           @extschema@.column_changes;
    call_text   text;
    err_msg     text;
BEGIN
    PERFORM @extschema@._ec_require_table(fn, rel);
    old_att := @extschema@._ec_column(fn, rel, column_name);
    PERFORM @extschema@._cc_begin_checks(fn, rel, column_name, new_column);

    -- The new type: a type name as in ALTER TABLE ... TYPE, with modifiers ('numeric(12,2)'),
    -- in the caller's search_path. to_regtype() parses exactly one type name (nothing else), so
    -- the text is safe to put into the DDL below; the trigger function takes the type from the
    -- catalog once the column is there.
    IF new_type IS NULL OR pg_catalog.btrim(new_type) OPERATOR(pg_catalog.=) '' THEN
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
    old_type_q := @extschema@._type_sql(old_att.atttypid, old_att.atttypmod);
    nsp := (SELECT n.nspname FROM pg_catalog.pg_class AS r JOIN pg_catalog.pg_namespace AS n ON n.oid OPERATOR(pg_catalog.=) r.relnamespace
             WHERE r.oid OPERATOR(pg_catalog.=) rel::pg_catalog.oid);

    -- Defaults: plain casts. The placeholder is the column's own name: forward is written over
    -- column_name, backward over new_column, exactly as in an UPDATE of the table. The casts are
    -- to the types without modifiers: the trigger's assignment to the column applies those like a
    -- write of the column does (numeric(12,2) rounds, varchar(8) refuses longer values), where an
    -- explicit cast to varchar(8) would silently cut them.
    fwd_text := COALESCE(fwd_text, pg_catalog.format('%I::%s', column_name, pg_catalog.format_type(type_oid, NULL)));
    bwd_text := COALESCE(bwd_text, pg_catalog.format('%I::%s', new_column, pg_catalog.format_type(old_att.atttypid, NULL)));

    -- The change's id names its objects (the trigger fires last among BEFORE triggers: zz_...).
    id := @extschema@._cc_free_id(rel);
    fwd_fn := pg_catalog.format('%I.%I', nsp, '_safe_ddl_cc' || id::text || '_forward');
    bwd_fn := pg_catalog.format('%I.%I', nsp, '_safe_ddl_cc' || id::text || '_backward');

    -- The expressions as functions of the one column they may use (SQL-standard bodies: parsed,
    -- checked and bound now, with this search_path). A bad expression is an error here.
    BEGIN
        EXECUTE pg_catalog.format('CREATE FUNCTION %s(%I %s) RETURNS %s LANGUAGE sql VOLATILE RETURN (%s%s%s)',
                                  fwd_fn, column_name, old_type_q, new_type_t, E'\n', fwd_text, E'\n');
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
                                  bwd_fn, new_column, new_type_t, old_type_q, E'\n', bwd_text, E'\n');
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS err_msg = MESSAGE_TEXT;
        RAISE EXCEPTION '%: invalid backward expression: %', fn, err_msg
        USING ERRCODE = 'invalid_parameter_value',
              DETAIL = pg_catalog.format('backward: %s', bwd_text),
              HINT = pg_catalog.format('backward computes the old column (%s) from the new one, naming it %I and no other column, e.g. %L.',
                                       pg_catalog.format_type(old_att.atttypid, old_att.atttypmod), new_column,
                                       pg_catalog.format('%I::%s', new_column, pg_catalog.format_type(old_att.atttypid, old_att.atttypmod)));
    END;

    -- Try them on up to 1000 rows (before any lock stronger than the read's): a forward that
    -- fails on real data would fail application writes. Warn when backward(forward(x)) <> x: a
    -- write of the new column by new code would then change the old one's value.
    prev := @extschema@._ec_untracked();
    BEGIN
        EXECUTE pg_catalog.format(
            'SELECT pg_catalog.count(*), pg_catalog.count(*) FILTER (WHERE %s)
               FROM (SELECT s.o, CAST(%s(s.o) AS %s) AS f FROM (SELECT %I AS o FROM %s LIMIT 1000) AS s OFFSET 0) AS s',
            @extschema@._ec_distinct_sql(pg_catalog.format('CAST(%s(s.f) AS %s)', bwd_fn, old_type_q), 's.o', old_att.atttypid),
            fwd_fn, new_type_t, column_name, @extschema@._rel_sql(rel))
           INTO sampled, mismatches;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS err_msg = MESSAGE_TEXT;
        RAISE EXCEPTION '%: the expressions fail on existing rows of %: %', fn, rel, err_msg
        USING ERRCODE = 'invalid_parameter_value',
              DETAIL = pg_catalog.format('forward: %s; backward: %s (tried on up to 1000 rows)', fwd_text, bwd_text),
              HINT = 'Every write of the old column runs forward, every write of the new one runs backward: both must work for every value.';
    END;
    PERFORM @extschema@._ec_tracked(prev);
    IF mismatches OPERATOR(pg_catalog.>) 0::pg_catalog.int8 THEN
        RAISE WARNING '%: backward(forward(%)) differs from % in % of % sampled rows of %', fn, column_name, column_name, mismatches, sampled, rel
        USING DETAIL = pg_catalog.format('forward: %s; backward: %s', fwd_text, bwd_text),
              HINT = 'When new code writes the new column, the old column gets backward(new): old code will see changed values.';
    END IF;

    -- The column (no default, nullable: no rewrite, no scan), through the guard; then the trigger
    -- and the change's row.
    EXECUTE pg_catalog.format('ALTER TABLE %s ADD COLUMN %I %s',
                              @extschema@._rel_sql(rel), new_column, new_type_t);
    c := @extschema@._cc_install(rel, id, fwd_text, bwd_text,
                                 CASE WHEN type_change OPERATOR(pg_catalog.=) 0 THEN id ELSE type_change END);

    call_text := @extschema@._cc_backfill_call(c);
    RAISE NOTICE '%: added %.% (%), dual writes with % (trigger %)', fn, rel, new_column, c.new_type, column_name, c.trigger_name
    USING DETAIL = pg_catalog.format('forward: %s; backward: %s', fwd_text, bwd_text),
          HINT = 'Fill the existing rows (outside a transaction block): ' || call_text;
    RETURN call_text;
END
$begin$;

CREATE FUNCTION @extschema@.begin_column_change(
    relation    pg_catalog.regclass,
    column_name name,
    new_column  name,
    new_type    text,
    forward     text DEFAULT NULL,
    backward    text DEFAULT NULL
) RETURNS text
LANGUAGE plpgsql VOLATILE
-- Not pinned: see _cc_begin. (PL/pgSQL, not an inlinable SQL function: a call is a call.)
AS $$
BEGIN
    RETURN @extschema@._cc_begin('safe_ddl.begin_column_change', relation, column_name, new_column, new_type,
                                 forward, backward, NULL);
END
$$;

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
    rows_out_of_step   bigint,     -- NULL when not counted (count_rows => false, finished, or another role's change)
    old_last_read      timestamptz,
    old_last_write     timestamptz,
    new_last_read      timestamptz,
    new_last_write     timestamptz,
    tracking_since     timestamptz,
    old_used_recently  boolean,    -- within safe_ddl.usage_window (NULL: no usage tracking)
    backfill_call      text,       -- NULL for another role's change (only that role runs its expression)
    started_by         name,
    started_at         timestamptz,
    finished_at        timestamptz
)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    c   @extschema@.column_changes;
    o   record;
    n   record;
    why text;
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
        rows_out_of_step := NULL;
        IF c.status = 'active' AND column_change_status.count_rows THEN
            -- Counting runs the change's forward function: only this role's own code.
            why := @extschema@._cc_not_runnable(c);
            IF why IS NULL THEN
                rows_out_of_step := @extschema@._cc_out_of_step(c);
            ELSIF c.started_by <> @extschema@._me() THEN
                RAISE NOTICE 'safe_ddl.column_change_status: rows_out_of_step of change % not counted: %', c.change_id, why
                USING HINT = pg_catalog.format('Role %s counts them in a session logged in as %s (not SET ROLE in yours: its code could RESET ROLE and act as you): SELECT * FROM safe_ddl.column_change_status(%L);',
                                               c.started_by, c.started_by, @extschema@._rel_sql(c.relation));
            ELSE
                RAISE NOTICE 'safe_ddl.column_change_status: rows_out_of_step of change % not counted: %', c.change_id, why
                USING HINT = pg_catalog.format('SELECT safe_ddl.cancel_column_change(%L, %L);', @extschema@._rel_sql(c.relation), c.old_column);
            END IF;
        END IF;
        SELECT * INTO o FROM @extschema@._ec_last_use(c.relation, c.old_column);
        SELECT * INTO n FROM @extschema@._ec_last_use(c.relation, c.new_column);
        old_last_read := o.last_read;
        old_last_write := o.last_write;
        new_last_read := n.last_read;
        new_last_write := n.last_write;
        tracking_since := o.tracking_since;
        old_used_recently := o.recent;
        backfill_call := CASE WHEN c.status = 'active' THEN @extschema@._cc_backfill_call(c) END;
        started_by := pg_catalog.pg_get_userbyid(c.started_by);
        started_at := c.started_at;
        finished_at := c.finished_at;
        RETURN NEXT;
    END LOOP;
END
$$;

COMMENT ON FUNCTION @extschema@.column_change_status(pg_catalog.regclass, boolean) IS
  'Column changes (of one table, or all): rows still out of step (a full scan unless count_rows '
  '=> false; only for the caller''s own changes), whether the dual-write trigger is in place, and '
  'the recorded use of both columns.';

-- The unfinished change of a column (by its old column) to finish or cancel: the caller's own;
-- another role's (a superuser sees them) is refused with the SQL that runs it as that role.
CREATE FUNCTION @extschema@._cc_own_change(fn text, rel pg_catalog.regclass, column_name name)
RETURNS @extschema@.column_changes
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c @extschema@.column_changes;
BEGIN
    SELECT * INTO c FROM @extschema@.column_changes AS x
     WHERE x.relation = rel AND x.status = 'active' AND x.old_column = column_name
     ORDER BY x.started_by = @extschema@._me() DESC, x.change_id DESC
     LIMIT 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION '%: no unfinished column change of column "%" of %', fn, column_name, rel
        USING ERRCODE = 'no_data_found',
              HINT = 'column_name is the old column, as given to begin_column_change; see SELECT * FROM safe_ddl.column_change_status().';
    END IF;
    IF c.type_change IS NOT NULL THEN
        SELECT * INTO c FROM @extschema@.column_changes AS x WHERE x.change_id = c.type_change;
        RAISE EXCEPTION '%: column "%" of % is part of a type change (safe_ddl.begin_type_change)', fn, column_name, rel
        USING ERRCODE = 'object_not_in_prerequisite_state',
              DETAIL = 'Its columns are finished or cancelled together.',
              HINT = pg_catalog.format('See SELECT * FROM safe_ddl.type_change_status(%L, %L); go on with it, or cancel it: SELECT safe_ddl.cancel_type_change(%L, %L);',
                                       @extschema@._rel_sql(c.relation), c.old_column, @extschema@._rel_sql(c.relation), c.old_column);
    END IF;
    IF c.started_by <> @extschema@._me() THEN
        RAISE EXCEPTION '%: the change of column "%" of % is role %''s, and only that role finishes or cancels it', fn, column_name, rel, c.started_by
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = 'Finishing or cancelling a change runs and drops the functions that role wrote; safe_ddl never runs one role''s code as another.',
              HINT = pg_catalog.format('Role %s runs it in a session logged in as %s (not SET ROLE in yours: its code could RESET ROLE and act as you): SELECT %s(%L, %L);',
                                       c.started_by, c.started_by, fn, @extschema@._rel_sql(rel), column_name);
    END IF;
    RETURN c;
END
$$;

-- Drop the change's trigger and functions that the catalog holds under its id and that this
-- role owns (never an object of another name, schema or owner).
CREATE FUNCTION @extschema@._cc_drop_objects(c @extschema@.column_changes) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    o  record;
    me oid := @extschema@._me()::oid;
    f  oid;
BEGIN
    SELECT * INTO o FROM @extschema@._cc_objects(c.relation, c.change_id);
    IF o.nsp IS NULL THEN
        -- The table is gone (and its trigger with it): the functions recorded for the change, if
        -- they still carry its names and are this role's.
        FOREACH f IN ARRAY ARRAY[c.trigger_function::oid, c.forward_function::oid, c.backward_function::oid] LOOP
            IF EXISTS (SELECT FROM pg_catalog.pg_proc AS p
                        WHERE p.oid = f AND p.proowner = me
                          AND p.proname IN ('_safe_ddl_cc' || c.change_id || '_forward', '_safe_ddl_cc' || c.change_id || '_backward',
                                            '_safe_ddl_cc' || c.change_id || '_dual_write')) THEN
                EXECUTE pg_catalog.format('DROP FUNCTION %s', f::pg_catalog.regprocedure);
            END IF;
        END LOOP;
        RETURN;
    END IF;
    IF o.trigger_oid IS NOT NULL THEN
        EXECUTE pg_catalog.format('DROP TRIGGER %I ON %s', o.trigger_name, @extschema@._rel_sql(c.relation));
    END IF;
    IF o.trigger_fn IS NOT NULL AND (SELECT p.proowner FROM pg_catalog.pg_proc AS p WHERE p.oid = o.trigger_fn) = me THEN
        EXECUTE pg_catalog.format('DROP FUNCTION %s', o.trigger_fn::pg_catalog.regprocedure);
    END IF;
    IF o.forward_fn IS NOT NULL AND (SELECT p.proowner FROM pg_catalog.pg_proc AS p WHERE p.oid = o.forward_fn) = me THEN
        EXECUTE pg_catalog.format('DROP FUNCTION %s', o.forward_fn::pg_catalog.regprocedure);
    END IF;
    IF o.backward_fn IS NOT NULL AND (SELECT p.proowner FROM pg_catalog.pg_proc AS p WHERE p.oid = o.backward_fn) = me THEN
        EXECUTE pg_catalog.format('DROP FUNCTION %s', o.backward_fn::pg_catalog.regprocedure);
    END IF;
END
$$;

-- DROP COLUMN col of rel, a column of the caller's own change whose trigger is already gone:
-- through the guard (its lock_timeout, retries and usage check), drop_column allowed for this one
-- statement on top of the caller's allows (a caller's in_use counts), active_column_change too
-- where the ceiling permits. A refusal of the guard (the column in use) is re-raised as the
-- helper's, its HINT the helper's call (`again`) with in_use: never a DROP COLUMN by hand, which
-- would leave the dual-write trigger behind when run without the helper.
CREATE FUNCTION @extschema@._cc_drop_column(fn text, rel pg_catalog.regclass, col name, again text) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    prev text;
    msg  text;
    det  text;
BEGIN
    prev := @extschema@._ec_allow('drop_column', 'active_column_change');
    BEGIN
        EXECUTE pg_catalog.format('ALTER TABLE %s DROP COLUMN %I', @extschema@._rel_sql(rel), col);
    EXCEPTION WHEN object_not_in_prerequisite_state THEN
        GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
        RAISE EXCEPTION '%: could not drop column % of %: %', fn, pg_catalog.quote_ident(col), @extschema@._rel_sql(rel), msg
        USING ERRCODE = 'object_not_in_prerequisite_state', DETAIL = det,
              HINT = pg_catalog.format('Wait until nothing has used %I for safe_ddl.usage_window '
                                       '(SELECT * FROM safe_ddl.column_usage WHERE relation = %L::regclass;), then run it again. '
                                       'To override while it is in use: BEGIN; SET LOCAL safe_ddl.allow = ''in_use''; %s COMMIT;',
                                       col, @extschema@._rel_sql(rel), again);
    END;
    PERFORM @extschema@._ec_restore_allow(prev);
END
$$;

CREATE FUNCTION @extschema@.finish_column_change(relation pg_catalog.regclass, column_name name)
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
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
    was_nn  boolean;
    def     text;
    why     text;
BEGIN
    PERFORM @extschema@._ec_require_table(fn, rel);
    c := @extschema@._cc_own_change(fn, rel, column_name);
    att := @extschema@._ec_column(fn, rel, c.old_column);
    was_nn := @extschema@._valid_not_null(rel, att.attnum);
    PERFORM @extschema@._ec_column(fn, rel, c.new_column);

    -- 1. Every row in step (a read of the whole table; no lock but the read's), counted with
    --    the change's own forward function (this role's).
    why := @extschema@._cc_not_runnable(c);
    IF why IS NOT NULL THEN
        RAISE EXCEPTION '%: cannot check that the rows of % are in step: %', fn, rel, why
        USING ERRCODE = 'object_not_in_prerequisite_state',
              HINT = pg_catalog.format('Cancel the change: SELECT safe_ddl.cancel_column_change(%L, %L);', @extschema@._rel_sql(rel), c.old_column);
    END IF;
    n := @extschema@._cc_out_of_step(c);
    IF n > 0 THEN
        RAISE EXCEPTION '%: % rows of % are out of step: their % is not forward(%)', fn, n, rel, c.new_column, c.old_column
        USING ERRCODE = 'object_not_in_prerequisite_state',
              DETAIL = pg_catalog.format('Dropping %I now would lose what those rows hold in it (forward: %s).', c.old_column, c.forward),
              HINT = 'Fill them first (outside a transaction block): ' || @extschema@._cc_backfill_call(c);
    END IF;

    -- 2. Nothing used the old column within safe_ddl.usage_window, unless the caller allowed
    --    in_use (then the guard's own usage check of the DROP COLUMN honours it, under the ceiling).
    SELECT * INTO u FROM @extschema@._ec_last_use(rel, c.old_column);
    IF @extschema@._ec_allows_in_use() THEN
        NULL;
    ELSIF u.unproven AND NOT u.recent THEN
        RAISE EXCEPTION '%: column "%" of % is not proven unused: usage tracking has run for less than safe_ddl.usage_window (%)', fn, c.old_column, rel, u.usage_window
        USING ERRCODE = 'object_not_in_prerequisite_state',
              DETAIL = pg_catalog.format('Its use is tracked since %s (safe_ddl.column_usage).', u.tracking_since),
              HINT = pg_catalog.format('Wait until tracking has run for safe_ddl.usage_window, then finish. To finish anyway: '
                                       'BEGIN; SET LOCAL safe_ddl.allow = ''in_use''; SELECT safe_ddl.finish_column_change(%L, %L); COMMIT;',
                                       @extschema@._rel_sql(rel), c.old_column);
    ELSIF u.recent THEN
        RAISE EXCEPTION '%: column "%" of % was used within safe_ddl.usage_window (%)', fn, c.old_column, rel, u.usage_window
        USING ERRCODE = 'object_not_in_prerequisite_state',
              DETAIL = pg_catalog.format('Last read %s, last written %s (safe_ddl.column_usage).',
                                         COALESCE(u.last_read::text, 'never'), COALESCE(u.last_write::text, 'never')),
              HINT = pg_catalog.format('Deploy the application without %I (it reads and writes %I only), then wait until it has not been used for safe_ddl.usage_window. '
                                       'To finish anyway: BEGIN; SET LOCAL safe_ddl.allow = ''in_use''; SELECT safe_ddl.finish_column_change(%L, %L); COMMIT;',
                                       c.old_column, c.new_column, @extschema@._rel_sql(rel), c.old_column);
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
                             WHERE ad.oid = d.objid AND ad.adrelid = rel AND ad.adnum = att.attnum))
       -- Its own NOT NULL constraint (PostgreSQL 18 catalogues them): it is the column's
       -- attnotnull, goes with it, and the NOTICE below says to set the new column's.
       AND NOT (d.classid = 'pg_catalog.pg_constraint'::pg_catalog.regclass
                AND EXISTS (SELECT FROM pg_catalog.pg_constraint AS nc
                             WHERE nc.oid = d.objid AND nc.contype = 'n' AND nc.conrelid = rel));
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
    PERFORM @extschema@._cc_drop_objects(c);
    --    The old column's DEFAULT moves to the new one (instant; not earlier: during the change a
    --    default on the new column would look like a write of new code to the trigger).
    SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid) INTO def
      FROM pg_catalog.pg_attrdef AS d WHERE d.adrelid = rel AND d.adnum = att.attnum;
    IF EXISTS (SELECT FROM pg_catalog.pg_attribute AS a
                WHERE a.attrelid = rel AND a.attname = c.new_column AND a.atthasdef) THEN
        def := NULL;     -- the new column has one of its own
    END IF;
    IF def IS NOT NULL THEN
        EXECUTE pg_catalog.format('ALTER TABLE %s ALTER COLUMN %I SET DEFAULT %s', @extschema@._rel_sql(rel), c.new_column, def);
    END IF;
    PERFORM @extschema@._cc_drop_column(fn, rel, c.old_column,
        pg_catalog.format('SELECT safe_ddl.finish_column_change(%L, %L);', @extschema@._rel_sql(rel), c.old_column));

    PERFORM @extschema@._state('cc_close', pg_catalog.jsonb_build_object('change_id', c.change_id, 'status', 'finished')::text);

    IF was_nn THEN
        RAISE NOTICE '%: % was NOT NULL; % is not yet', fn, c.old_column, c.new_column
        USING HINT = pg_catalog.format('CALL safe_ddl.set_not_null(%L, %L);', @extschema@._rel_sql(rel), c.new_column);
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
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    fn      constant text := 'safe_ddl.cancel_column_change';
    rel     pg_catalog.regclass := cancel_column_change.relation;
    c       @extschema@.column_changes;
    gone    boolean;
BEGIN
    c := @extschema@._cc_own_change(fn, rel, column_name);
    gone := NOT EXISTS (SELECT FROM pg_catalog.pg_class AS r WHERE r.oid = rel);
    PERFORM @extschema@._cc_drop_objects(c);
    IF NOT gone THEN
        IF EXISTS (SELECT FROM pg_catalog.pg_attribute AS a
                    WHERE a.attrelid = rel AND a.attname = c.new_column AND NOT a.attisdropped) THEN
            -- Through the guard: its usage check refuses while new code uses it (unless the
            -- caller allowed in_use).
            PERFORM @extschema@._cc_drop_column(fn, rel, c.new_column,
                pg_catalog.format('SELECT safe_ddl.cancel_column_change(%L, %L);', @extschema@._rel_sql(rel), c.old_column));
        END IF;
    END IF;
    PERFORM @extschema@._state('cc_close', pg_catalog.jsonb_build_object('change_id', c.change_id, 'status', 'cancelled')::text);
    RETURN CASE WHEN gone THEN pg_catalog.format('cancelled change %s (its table is gone)', c.change_id)
                ELSE pg_catalog.format('dropped %s.%I and the dual writes; %I is unchanged', rel, c.new_column, c.old_column) END;
END
$$;

COMMENT ON FUNCTION @extschema@.cancel_column_change(pg_catalog.regclass, name) IS
  'Roll back a column change: drop the dual-write trigger, its functions and the new column '
  '(not while new code uses it); the old column stays as it is.';

-- ---- Writes of column_changes (issue 12): only through safe_ddl._state(), see _state_write ----

-- Register the change the actor just made: everything from the catalog by the change id (its
-- functions, owned by the actor; its trigger on the table; both columns live, of the functions'
-- types). The expressions are the actor's own text (display and the backfill it is shown).
CREATE FUNCTION @extschema@._cc_w_register(actor pg_catalog.regrole, a jsonb) RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rel pg_catalog.regclass := (a->>'relation')::oid;
    id  bigint := (a->>'change_id')::bigint;
    o   record;
    oa  pg_catalog.pg_attribute;
    na  pg_catalog.pg_attribute;
BEGIN
    PERFORM @extschema@._ec_require_table('safe_ddl.begin_column_change', rel);
    SELECT * INTO o FROM @extschema@._cc_objects(rel, id);
    IF o.forward_fn IS NULL OR o.backward_fn IS NULL OR o.trigger_fn IS NULL OR o.trigger_oid IS NULL THEN
        RAISE EXCEPTION 'safe_ddl.begin_column_change: the objects of change % are not on %', id, rel
        USING ERRCODE = 'undefined_object';
    END IF;
    IF NOT o.one_owner OR o.owner <> actor::oid THEN
        RAISE EXCEPTION 'safe_ddl.begin_column_change: the functions of change % are not role %''s', id, actor
        USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT * INTO oa FROM pg_catalog.pg_attribute AS x WHERE x.attrelid = rel AND x.attname = o.old_column AND x.attnum > 0 AND NOT x.attisdropped;
    SELECT * INTO na FROM pg_catalog.pg_attribute AS x WHERE x.attrelid = rel AND x.attname = o.new_column AND x.attnum > 0 AND NOT x.attisdropped;
    IF oa.attnum IS NULL OR na.attnum IS NULL OR oa.atttypid <> o.old_type OR na.atttypid <> o.new_type THEN
        RAISE EXCEPTION 'safe_ddl.begin_column_change: the columns of change % are not those its functions take', id
        USING ERRCODE = 'undefined_column';
    END IF;
    IF EXISTS (SELECT FROM @extschema@.column_changes AS x WHERE x.change_id = id) THEN
        RAISE EXCEPTION 'safe_ddl.begin_column_change: change % is registered already', id USING ERRCODE = 'unique_violation';
    END IF;
    -- A column of a type change: the first one's (its own id), or one of the actor's unfinished
    -- type changes.
    IF (a->>'type_change')::bigint IS DISTINCT FROM id AND (a->>'type_change') IS NOT NULL
       AND NOT EXISTS (SELECT FROM @extschema@.column_changes AS x
                        WHERE x.change_id = (a->>'type_change')::bigint AND x.type_change = x.change_id
                          AND x.started_by = actor AND x.status = 'active') THEN
        RAISE EXCEPTION 'safe_ddl.begin_type_change: no unfinished type change % of role %', a->>'type_change', actor
        USING ERRCODE = 'no_data_found';
    END IF;
    IF EXISTS (SELECT FROM @extschema@.column_changes AS x
                WHERE x.started_by = actor AND x.relation = rel AND x.status = 'active'
                  AND (x.old_column IN (o.old_column, o.new_column) OR x.new_column IN (o.old_column, o.new_column))) THEN
        RAISE EXCEPTION 'safe_ddl.begin_column_change: column "%" of % is already part of an unfinished column change', o.old_column, rel
        USING ERRCODE = 'object_not_in_prerequisite_state',
              HINT = 'See SELECT * FROM safe_ddl.column_change_status(); finish or cancel that change first.';
    END IF;
    INSERT INTO @extschema@.column_changes
           (change_id, relation, old_column, new_column, old_type, new_type, forward, backward,
            trigger_name, trigger_function, forward_function, backward_function, started_by, type_change)
    VALUES (id, rel, o.old_column, o.new_column, @extschema@._type_sql(oa.atttypid, oa.atttypmod),
            @extschema@._type_sql(na.atttypid, na.atttypmod), a->>'forward', a->>'backward',
            o.trigger_name, o.trigger_fn, o.forward_fn, o.backward_fn, actor, (a->>'type_change')::bigint);
    RETURN id::text;
END
$$;

-- Close the actor's active change: finished (its old column is gone) or cancelled (its new
-- column is gone, or the table); or a type change's column: swapped (the new column has the old
-- one's name and its type, the old one is retired_column, the trigger is gone), then finished
-- (retired_column is gone).
CREATE FUNCTION @extschema@._cc_w_close(actor pg_catalog.regrole, a jsonb) RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c  @extschema@.column_changes;
    st text := a->>'status';
BEGIN
    SELECT * INTO c FROM @extschema@.column_changes AS x
     WHERE x.change_id = (a->>'change_id')::bigint AND x.started_by = actor AND x.status IN ('active', 'swapped') FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'safe_ddl: no unfinished column change % of role %', a->>'change_id', actor USING ERRCODE = 'no_data_found';
    END IF;
    IF c.status = 'swapped' OR st = 'swapped' THEN
        IF c.type_change IS NULL
           OR (st = 'swapped' AND (c.status <> 'active'
                   OR (SELECT o.trigger_oid FROM @extschema@._cc_objects(c.relation, c.change_id) AS o) IS NOT NULL
                   OR EXISTS (SELECT FROM pg_catalog.pg_attribute AS x
                               WHERE x.attrelid = c.relation AND NOT x.attisdropped AND x.attname = c.new_column)
                   OR NOT EXISTS (SELECT FROM pg_catalog.pg_attribute AS x
                                   WHERE x.attrelid = c.relation AND NOT x.attisdropped AND x.attname = c.old_column
                                     AND @extschema@._type_sql(x.atttypid, x.atttypmod) = c.new_type)
                   OR NOT EXISTS (SELECT FROM pg_catalog.pg_attribute AS x
                                   WHERE x.attrelid = c.relation AND NOT x.attisdropped AND x.attname = (a->>'retired_column')
                                     AND @extschema@._type_sql(x.atttypid, x.atttypmod) = c.old_type)))
           OR (c.status = 'swapped' AND (st <> 'finished'
                   OR EXISTS (SELECT FROM pg_catalog.pg_attribute AS x
                               WHERE x.attrelid = c.relation AND NOT x.attisdropped AND x.attname = c.retired_column))) THEN
            RAISE EXCEPTION 'safe_ddl: column change % cannot be % now (status %)', c.change_id, st, c.status
            USING ERRCODE = 'object_not_in_prerequisite_state';
        END IF;
        UPDATE @extschema@.column_changes AS x
           SET status = st,
               retired_column = CASE WHEN st = 'swapped' THEN (a->>'retired_column')::name ELSE x.retired_column END,
               finished_at = CASE WHEN st = 'finished' THEN pg_catalog.clock_timestamp() END
         WHERE x.change_id = c.change_id;
        RETURN st;
    END IF;
    IF st NOT IN ('finished', 'cancelled')
       OR EXISTS (SELECT FROM pg_catalog.pg_attribute AS x
                   WHERE x.attrelid = c.relation AND NOT x.attisdropped
                     AND x.attname = CASE WHEN st = 'finished' THEN c.old_column ELSE c.new_column END) THEN
        RAISE EXCEPTION 'safe_ddl: column change % cannot be % while its % column is there', c.change_id, st,
                        CASE WHEN st = 'finished' THEN 'old' ELSE 'new' END
        USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    UPDATE @extschema@.column_changes AS x SET status = st, finished_at = pg_catalog.clock_timestamp()
     WHERE x.change_id = c.change_id;
    RETURN st;
END
$$;

REVOKE ALL ON FUNCTION @extschema@._cc_w_register(pg_catalog.regrole, jsonb),
                       @extschema@._cc_w_close(pg_catalog.regrole, jsonb) FROM PUBLIC;

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
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    err_msg text;
    prev    text := @extschema@._ec_untracked();
BEGIN
    BEGIN
        EXECUTE pg_catalog.format('ALTER TABLE %s VALIDATE CONSTRAINT %I', @extschema@._rel_sql(rel), con);
        PERFORM @extschema@._ec_tracked(prev);
    -- not_null_violation: a NOT NULL constraint (PostgreSQL 18, set_not_null).
    EXCEPTION WHEN check_violation OR foreign_key_violation OR not_null_violation THEN
        GET STACKED DIAGNOSTICS err_msg = MESSAGE_TEXT;
        RAISE EXCEPTION '%: %', caller, err_msg
        USING ERRCODE = 'object_not_in_prerequisite_state',
              DETAIL = pg_catalog.format('The constraint %I stays on %s as NOT VALID: it already holds for every new or updated row.', con, rel),
              HINT = 'Fix the existing rows that violate it (e.g. with CALL safe_ddl.backfill(...)), then CALL this again: it goes on with the validation.';
    END;
END
$$;

-- The catalog half of set_not_null: the helper constraint's name, whether it is there and
-- validated (NULL: not there), whether the column is NOT NULL already.
CREATE FUNCTION @extschema@._snn_state(fn text, rel pg_catalog.regclass, column_name name,
                                       OUT qrel text, OUT con name, OUT ok boolean, OUT is_notnull boolean)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    att pg_catalog.pg_attribute;
    def text;
    named name;
BEGIN
    PERFORM @extschema@._ec_require_table(fn, rel);
    att := @extschema@._ec_column(fn, rel, column_name);
    is_notnull := @extschema@._valid_not_null(rel, att.attnum);
    qrel := @extschema@._rel_sql(rel);
    -- The name safe_ddl's not_null_scan HINT uses: a recipe started by hand goes on here too.
    con := @extschema@._ec_name('', (SELECT r.relname FROM pg_catalog.pg_class AS r WHERE r.oid = rel) || '_' || column_name || '_not_null');
    IF @extschema@._not_null_not_valid() THEN
        named := con;
        -- PostgreSQL 18: the NOT NULL constraint itself, added NOT VALID and validated; one on the
        -- column already (by any name) is the one to go on with.
        SELECT c.conname, c.convalidated INTO con, ok
          FROM pg_catalog.pg_constraint AS c
         WHERE c.conrelid = rel AND c.contype = 'n' AND c.conkey = ARRAY[att.attnum];
        IF NOT FOUND THEN
            con := named;    -- SELECT INTO found nothing and set con to NULL
        END IF;
        RETURN;
    END IF;
    SELECT c.convalidated, pg_catalog.pg_get_expr(c.conbin, c.conrelid) INTO ok, def
      FROM pg_catalog.pg_constraint AS c
     WHERE c.conrelid = rel AND c.conname = con AND c.contype = 'c';
    IF FOUND AND def IS DISTINCT FROM pg_catalog.format('(%I IS NOT NULL)', column_name) THEN
        RAISE EXCEPTION '%: % already has a constraint named % that is not CHECK (% IS NOT NULL): %', fn, rel, con, column_name, def
        USING ERRCODE = 'duplicate_object';
    END IF;
END
$$;

-- A procedure that COMMITs cannot pin its search_path: the catalog work is in pinned functions,
-- and what is left here uses no operator.
CREATE PROCEDURE @extschema@.set_not_null(relation pg_catalog.regclass, column_name name)
LANGUAGE plpgsql
AS $$
#variable_conflict use_variable
DECLARE
    fn   constant text := 'safe_ddl.set_not_null';
    rel  pg_catalog.regclass := set_not_null.relation;
    st   record;
    ok   boolean;
BEGIN
    CALL @extschema@._require_own_transaction(fn);
    COMMIT;
    SELECT * INTO st FROM @extschema@._snn_state(fn, rel, column_name);

    IF st.is_notnull THEN
        IF st.ok IS NOT NULL AND NOT @extschema@._not_null_not_valid() THEN      -- done but for the helper constraint (or set by hand)
            EXECUTE pg_catalog.format('ALTER TABLE %s DROP CONSTRAINT %I', st.qrel, st.con);
            COMMIT;
        END IF;
        RAISE NOTICE '%: %.% is NOT NULL', fn, rel, column_name;
        RETURN;
    END IF;

    -- 1. The constraint, NOT VALID: new and updated rows are checked from now on (brief ACCESS
    --    EXCLUSIVE lock, no scan).
    IF st.ok IS NULL AND @extschema@._not_null_not_valid() THEN
        -- PostgreSQL 18: the NOT NULL constraint itself, NOT VALID.
        EXECUTE pg_catalog.format('ALTER TABLE %s ADD CONSTRAINT %I NOT NULL %I NOT VALID', st.qrel, st.con, column_name);
        COMMIT;
        ok := false;
    ELSIF st.ok IS NULL THEN
        EXECUTE pg_catalog.format('ALTER TABLE %s ADD CONSTRAINT %I CHECK (%I IS NOT NULL) NOT VALID', st.qrel, st.con, column_name);
        COMMIT;
        ok := false;
    ELSE
        ok := st.ok;
        RAISE NOTICE '%: going on with constraint % (%)', fn, st.con, CASE WHEN ok THEN 'validated' ELSE 'NOT VALID' END;
    END IF;

    -- 2. Validate it: a scan under SHARE UPDATE EXCLUSIVE (reads and writes go on).
    IF NOT ok THEN
        CALL @extschema@._ec_validate(fn, rel, st.con);
        COMMIT;
    END IF;

    -- On 18 the validated NOT NULL constraint is the column's NOT NULL: done.
    IF @extschema@._not_null_not_valid() THEN
        RAISE NOTICE '%: %.% is NOT NULL', fn, rel, column_name;
        RETURN;
    END IF;

    -- 3. SET NOT NULL, proven by the validated CHECK (no scan), and the CHECK is no longer needed:
    --    one brief ACCESS EXCLUSIVE lock for both.
    EXECUTE pg_catalog.format('ALTER TABLE %s ALTER COLUMN %I SET NOT NULL', st.qrel, column_name);
    EXECUTE pg_catalog.format('ALTER TABLE %s DROP CONSTRAINT %I', st.qrel, st.con);
    COMMIT;
    RAISE NOTICE '%: %.% is NOT NULL', fn, rel, column_name;
END
$$;

COMMENT ON PROCEDURE @extschema@.set_not_null(pg_catalog.regclass, name) IS
  'SET NOT NULL without a long lock: CHECK (col IS NOT NULL) NOT VALID, COMMIT, VALIDATE, COMMIT, '
  'SET NOT NULL (proven by the CHECK), DROP the CHECK; on PostgreSQL 18, ADD CONSTRAINT ... NOT NULL col NOT VALID, '
  'COMMIT, VALIDATE. Resumable. CALL it outside a transaction block.';

-- The catalog half of add_check: the table, the constraint's name, and whether a constraint of
-- that name is there (NULL), validated (true) or NOT VALID (false); an error if it is not a CHECK.
CREATE FUNCTION @extschema@._ac_state(fn text, rel pg_catalog.regclass, con name, OUT qrel text, OUT ok boolean)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    kind "char";
    def  text;
BEGIN
    PERFORM @extschema@._ec_require_table(fn, rel);
    qrel := @extschema@._rel_sql(rel);
    IF con IS NULL OR con = '' THEN
        RAISE EXCEPTION '%: name must not be empty', fn USING ERRCODE = 'null_value_not_allowed',
              HINT = 'The constraint''s name also identifies it when the CALL is repeated to go on after an interruption.';
    END IF;
    SELECT c.contype, c.convalidated, pg_catalog.pg_get_constraintdef(c.oid) INTO kind, ok, def
      FROM pg_catalog.pg_constraint AS c WHERE c.conrelid = rel AND c.conname = con;
    IF FOUND AND kind <> 'c' THEN
        RAISE EXCEPTION '%: % already has a constraint named % that is not a CHECK: %', fn, rel, con, def
        USING ERRCODE = 'duplicate_object';
    END IF;
END
$$;

-- The definition of a table's constraint.
CREATE FUNCTION @extschema@._ec_condef(rel pg_catalog.regclass, con name) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.pg_get_constraintdef(c.oid) FROM pg_catalog.pg_constraint AS c WHERE c.conrelid = rel AND c.conname = con
$$;

-- Not pinned (it COMMITs, and the expression is the caller's SQL in the caller's search_path);
-- the catalog work is in pinned functions.
CREATE PROCEDURE @extschema@.add_check(relation pg_catalog.regclass, name name, expression text)
LANGUAGE plpgsql
AS $$
#variable_conflict use_variable
DECLARE
    fn    constant text := 'safe_ddl.add_check';
    rel   pg_catalog.regclass := add_check.relation;
    con   name := add_check.name;
    expr  text := NULLIF(pg_catalog.btrim(add_check.expression), '');
    st    record;
    prev  text;
    err_msg text;
BEGIN
    CALL @extschema@._require_own_transaction(fn);
    COMMIT;
    SELECT * INTO st FROM @extschema@._ac_state(fn, rel, con);
    IF st.ok THEN
        RAISE NOTICE '%: constraint % of % is already valid: %', fn, con, rel, @extschema@._ec_condef(rel, con);
        RETURN;
    ELSIF NOT st.ok THEN
        RAISE NOTICE '%: going on with constraint % of %: %', fn, con, rel, @extschema@._ec_condef(rel, con);
    ELSE
        IF expr IS NULL THEN
            RAISE EXCEPTION '%: expression must not be empty', fn USING ERRCODE = 'null_value_not_allowed';
        END IF;
        -- One boolean expression over the table's columns, nothing else: checked as a CASE
        -- condition (a fragment that would close the CHECK's parentheses is a syntax error) on
        -- no rows, untracked.
        prev := @extschema@._ec_untracked();
        BEGIN
            EXECUTE pg_catalog.format('SELECT FROM %s WHERE CASE WHEN (%s%s%s) THEN false ELSE false END',
                                      st.qrel, E'\n', expr, E'\n');
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS err_msg = MESSAGE_TEXT;
            RAISE EXCEPTION '%: invalid expression for %: %', fn, rel, err_msg
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.concat('expression: ', expr),
                  HINT = 'expression is one boolean expression over the table''s columns, as in CHECK (...).';
        END;
        PERFORM @extschema@._ec_tracked(prev);
        -- 1. NOT VALID: brief ACCESS EXCLUSIVE lock, no scan; new and updated rows checked.
        EXECUTE pg_catalog.format('ALTER TABLE %s ADD CONSTRAINT %I CHECK (%s%s%s) NOT VALID', st.qrel, con, E'\n', expr, E'\n');
        COMMIT;
    END IF;

    -- 2. VALIDATE: a scan under SHARE UPDATE EXCLUSIVE.
    CALL @extschema@._ec_validate(fn, rel, con);
    COMMIT;
    RAISE NOTICE '%: constraint % of % is valid: %', fn, con, rel, @extschema@._ec_condef(rel, con);
END
$$;

COMMENT ON PROCEDURE @extschema@.add_check(pg_catalog.regclass, name, text) IS
  'ADD CONSTRAINT name CHECK (expression) NOT VALID, COMMIT, VALIDATE. Resumable (by name). '
  'CALL it outside a transaction block.';

-- The catalog half of add_foreign_key: the arguments checked, the constraint's name, whether it
-- is there (ok NULL: not there) and the ADD CONSTRAINT ... NOT VALID that makes it.
CREATE FUNCTION @extschema@._afk_prepare(fn text, rel pg_catalog.regclass, cols name[], ref pg_catalog.regclass,
                                         rcols name[], con name, on_delete text, on_update text,
                                         OUT con_name name, OUT ok boolean, OUT def text, OUT add_sql text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    del    text := pg_catalog.upper(pg_catalog.btrim(pg_catalog.regexp_replace(COALESCE(on_delete, 'NO ACTION'), '\s+', ' ', 'g')));
    upd    text := pg_catalog.upper(pg_catalog.btrim(pg_catalog.regexp_replace(COALESCE(on_update, 'NO ACTION'), '\s+', ' ', 'g')));
    actions constant text[] := '{NO ACTION,RESTRICT,CASCADE,SET NULL,SET DEFAULT}';
    col    name;
    relnm  name;
    kind   "char";
    qrel   text;
BEGIN
    PERFORM @extschema@._ec_require_table(fn, rel);
    PERFORM @extschema@._ec_require_table(fn, ref);
    qrel := @extschema@._rel_sql(rel);
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
        RAISE EXCEPTION '%: on_delete must be one of %, not %', fn, pg_catalog.array_to_string(actions, ', '), on_delete
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT upd = ANY (actions) THEN
        RAISE EXCEPTION '%: on_update must be one of %, not %', fn, pg_catalog.array_to_string(actions, ', '), on_update
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
    END IF;
    con_name := con;
    add_sql := pg_catalog.format('ALTER TABLE %s ADD CONSTRAINT %I FOREIGN KEY (%s) REFERENCES %s (%s) ON DELETE %s ON UPDATE %s NOT VALID',
        qrel, con,
        (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(x), ', ' ORDER BY n) FROM pg_catalog.unnest(cols) WITH ORDINALITY AS u(x, n)),
        @extschema@._rel_sql(ref),
        (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(x), ', ' ORDER BY n) FROM pg_catalog.unnest(rcols) WITH ORDINALITY AS u(x, n)),
        del, upd);
END
$$;

-- A DELETE or key UPDATE of the referenced table looks the referencing rows up: without an
-- index that starts with these columns, each is a scan of this table. The CREATE INDEX to run
-- then, else NULL.
CREATE FUNCTION @extschema@._afk_index_hint(rel pg_catalog.regclass, cols name[]) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    want_att int2[];
BEGIN
    SELECT pg_catalog.array_agg(a.attnum ORDER BY u.n) INTO want_att
      FROM pg_catalog.unnest(cols) WITH ORDINALITY AS u(nm, n)
      JOIN pg_catalog.pg_attribute AS a ON a.attrelid = rel AND a.attname = u.nm;
    IF EXISTS (SELECT FROM pg_catalog.pg_index AS i
                WHERE i.indrelid = rel AND i.indisvalid
                  AND (i.indkey::int2[])[0:pg_catalog.cardinality(want_att) - 1] @> want_att
                  AND (i.indkey::int2[])[0:pg_catalog.cardinality(want_att) - 1] <@ want_att) THEN
        RETURN NULL;
    END IF;
    RETURN pg_catalog.format('CREATE INDEX CONCURRENTLY ON %s (%s);', @extschema@._rel_sql(rel),
                             (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(x), ', ' ORDER BY n) FROM pg_catalog.unnest(cols) WITH ORDINALITY AS u(x, n)));
END
$$;

-- Not pinned (it COMMITs): the catalog work is in pinned functions, no operator is left here.
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
    st     record;
    hint   text;
BEGIN
    CALL @extschema@._require_own_transaction(fn);
    COMMIT;
    SELECT * INTO st FROM @extschema@._afk_prepare(fn, rel, add_foreign_key.columns, ref, add_foreign_key.ref_columns,
                                                   add_foreign_key.name, add_foreign_key.on_delete, add_foreign_key.on_update);
    IF st.ok THEN
        RAISE NOTICE '%: constraint % of % is already valid: %', fn, st.con_name, rel, st.def;
        RETURN;
    ELSIF NOT st.ok THEN
        RAISE NOTICE '%: going on with constraint % of %: %', fn, st.con_name, rel, st.def;
    ELSE
        -- 1. NOT VALID: brief SHARE ROW EXCLUSIVE locks on both tables, no scan.
        EXECUTE st.add_sql;
        COMMIT;
    END IF;

    -- 2. VALIDATE: SHARE UPDATE EXCLUSIVE on the table, ROW SHARE on the referenced one.
    CALL @extschema@._ec_validate(fn, rel, st.con_name);
    COMMIT;
    RAISE NOTICE '%: constraint % of % is valid: %', fn, st.con_name, rel, @extschema@._ec_condef(rel, st.con_name);

    hint := @extschema@._afk_index_hint(rel, add_foreign_key.columns);
    IF hint IS NOT NULL THEN
        RAISE NOTICE '%: no index of % starts with (%): every DELETE from % scans %', fn, rel,
                     pg_catalog.array_to_string(add_foreign_key.columns, ', '), ref, rel
        USING HINT = hint;
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
    started_by   pg_catalog.regrole NOT NULL,    -- the role that renamed it (owns the view)
    started_at   timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    finished_at  timestamptz
);

COMMENT ON TABLE @extschema@.table_renames IS
  'safe_ddl.rename_table(): tables renamed with a view under the old name, active until '
  'safe_ddl.finish_rename_table() drops the view.';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.table_renames', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.table_renames_rename_id_seq', '');
-- Every role reads its own renames (superusers see all); nobody writes the table but
-- safe_ddl._state() (see _tr_w_register).
ALTER TABLE @extschema@.table_renames ENABLE ROW LEVEL SECURITY;
CREATE POLICY table_renames_own ON @extschema@.table_renames FOR SELECT
    USING (started_by = pg_catalog.to_regrole(pg_catalog.quote_ident(CURRENT_USER)));
REVOKE ALL ON @extschema@.table_renames FROM PUBLIC;
GRANT SELECT ON @extschema@.table_renames TO PUBLIC;
REVOKE ALL ON SEQUENCE @extschema@.table_renames_rename_id_seq FROM PUBLIC;

-- The comment rename_table puts on its view (only the view's owner can set it).
CREATE FUNCTION @extschema@._tr_comment(qview text, new_name name) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.format('safe_ddl.rename_table: %s was renamed to %I; this view keeps the old name working until SELECT safe_ddl.finish_rename_table(%L)',
                             qview, new_name, qview)
$$;

-- The one table a view selects from (its rule's dependencies), NULL if not exactly one.
CREATE FUNCTION @extschema@._tr_view_table(v pg_catalog.regclass) RETURNS pg_catalog.regclass
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN pg_catalog.count(DISTINCT d.refobjid) = 1 THEN pg_catalog.min(d.refobjid)::pg_catalog.regclass END
      FROM pg_catalog.pg_rewrite AS rw
      JOIN pg_catalog.pg_depend AS d ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.objid = rw.oid
      JOIN pg_catalog.pg_class AS c ON c.oid = d.refobjid AND c.relkind IN ('r', 'p')
     WHERE rw.ev_class = v AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refobjid <> v
$$;

CREATE FUNCTION @extschema@.rename_table(relation pg_catalog.regclass, new_name name) RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
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
    PERFORM @extschema@._ec_restore_allow(prev);
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
    EXECUTE pg_catalog.format('COMMENT ON VIEW %s IS %L', qview, @extschema@._tr_comment(qview, new_name));
    PERFORM @extschema@._state('tr_register', pg_catalog.jsonb_build_object('view', v::oid)::text);
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
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    fn   constant text := 'safe_ddl.finish_rename_table';
    r    @extschema@.table_renames;
    u    record;
    prev text;
    vnsp name;
    vname name;
    vkind "char";
    vowner oid;
BEGIN
    IF relation IS NULL THEN
        RAISE EXCEPTION '%: relation must not be NULL', fn USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- The view (old name) or the renamed table (new name); the caller's own rename first.
    SELECT * INTO r FROM @extschema@.table_renames AS x
     WHERE x.status = 'active' AND (x.view = relation OR x.relation = relation)
     ORDER BY x.started_by = @extschema@._me() DESC, x.rename_id DESC LIMIT 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION '%: % is not a table renamed by safe_ddl.rename_table (nor its view)', fn, relation
        USING ERRCODE = 'no_data_found',
              HINT = 'See SELECT * FROM safe_ddl.table_renames WHERE status = ''active''.';
    END IF;
    IF r.started_by <> @extschema@._me() THEN
        RAISE EXCEPTION '%: the rename of % is role %''s, and only that role finishes it', fn, relation, r.started_by
        USING ERRCODE = 'insufficient_privilege',
              HINT = pg_catalog.format('Role %s runs it in a session logged in as %s (not SET ROLE in yours: its code could RESET ROLE and act as you): SELECT safe_ddl.finish_rename_table(%L);',
                                       r.started_by, r.started_by, pg_catalog.format('%I.%I', r.schema_name, r.new_name));
    END IF;
    SELECT n.nspname, c.relname, c.relkind, c.relowner INTO vnsp, vname, vkind, vowner
      FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
     WHERE c.oid = r.view;
    IF NOT FOUND OR vkind <> 'v' THEN
        PERFORM @extschema@._state('tr_finish', pg_catalog.jsonb_build_object('rename_id', r.rename_id)::text);
        RETURN pg_catalog.format('the view %I.%I is already gone', r.schema_name, r.old_name);
    END IF;
    -- Still the view rename_table made: this role's, under the old name, of the renamed table.
    IF vowner <> r.started_by::oid OR vnsp <> r.schema_name OR vname <> r.old_name
       OR @extschema@._tr_view_table(r.view) IS DISTINCT FROM r.relation THEN
        RAISE EXCEPTION '%: % is no longer the view safe_ddl.rename_table made for %', fn, r.view, r.relation
        USING ERRCODE = 'object_not_in_prerequisite_state',
              DETAIL = 'It was renamed, replaced, or selects from another table; finish_rename_table drops only the view it made.',
              HINT = 'Drop the view yourself if it is no longer needed; the rename then counts as finished.';
    END IF;

    SELECT * INTO u FROM @extschema@._ec_last_use(r.view, NULL);
    IF u.unproven AND NOT u.recent THEN
        RAISE EXCEPTION '%: the view % (the old name of %) is not proven unused: usage tracking has run for less than safe_ddl.usage_window (%)', fn, r.view, r.relation, u.usage_window
        USING ERRCODE = 'object_not_in_prerequisite_state',
              DETAIL = pg_catalog.format('Its use is tracked since %s (safe_ddl.column_usage).', u.tracking_since),
              HINT = pg_catalog.format('Wait until tracking has run for safe_ddl.usage_window, then finish. To finish anyway: '
                                       'BEGIN; SET LOCAL safe_ddl.allow = ''in_use''; SELECT safe_ddl.finish_column_change(%L, %L); COMMIT;',
                                       @extschema@._rel_sql(rel), c.old_column);
    ELSIF u.recent THEN
        RAISE EXCEPTION '%: the view % (the old name of %) was used within safe_ddl.usage_window (%)', fn, r.view, r.relation, u.usage_window
        USING ERRCODE = 'object_not_in_prerequisite_state',
              DETAIL = pg_catalog.format('Last read %s, last written %s (safe_ddl.column_usage).',
                                         COALESCE(u.last_read::text, 'never'), COALESCE(u.last_write::text, 'never')),
              HINT = pg_catalog.format('Move every client to %s, then wait until the old name has not been used for safe_ddl.usage_window.', r.relation);
    END IF;

    -- DROP VIEW through the guard: drop_table allowed (for this statement; the guard's own usage
    -- check still applies), its lock_timeout and retries.
    prev := @extschema@._ec_allow('drop_table');
    EXECUTE pg_catalog.format('DROP VIEW %I.%I', vnsp, vname);
    PERFORM @extschema@._ec_restore_allow(prev);
    PERFORM @extschema@._state('tr_finish', pg_catalog.jsonb_build_object('rename_id', r.rename_id)::text);
    RETURN pg_catalog.format('dropped the view %I.%I; the table is %s', r.schema_name, r.old_name, r.relation);
END
$$;

-- ---- Writes of table_renames (issue 12): only through safe_ddl._state(), see _state_write ----

-- Register the rename the actor just made, from its view: a view the actor owns, with the comment
-- rename_table writes, selecting from one table of the same schema (the renamed table).
CREATE FUNCTION @extschema@._tr_w_register(actor pg_catalog.regrole, a jsonb) RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v   pg_catalog.regclass := (a->>'view')::oid;
    vc  pg_catalog.pg_class;
    t   pg_catalog.regclass;
    tc  pg_catalog.pg_class;
    nsp name;
    id  bigint;
BEGIN
    SELECT * INTO vc FROM pg_catalog.pg_class AS c WHERE c.oid = v;
    t := @extschema@._tr_view_table(v);
    SELECT * INTO tc FROM pg_catalog.pg_class AS c WHERE c.oid = t;
    nsp := (SELECT n.nspname FROM pg_catalog.pg_namespace AS n WHERE n.oid = vc.relnamespace);
    IF vc.relkind IS DISTINCT FROM 'v' OR vc.relowner <> actor::oid OR t IS NULL OR tc.relnamespace <> vc.relnamespace
       OR pg_catalog.obj_description(v, 'pg_class') IS DISTINCT FROM
          @extschema@._tr_comment(pg_catalog.format('%I.%I', nsp, vc.relname), tc.relname) THEN
        RAISE EXCEPTION 'safe_ddl.rename_table: % is not a view rename_table made for role %', v, actor
        USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF EXISTS (SELECT FROM @extschema@.table_renames AS x WHERE x.view = v AND x.status = 'active') THEN
        RAISE EXCEPTION 'safe_ddl.rename_table: the view % is registered already', v USING ERRCODE = 'unique_violation';
    END IF;
    id := pg_catalog.nextval('@extschema@.table_renames_rename_id_seq');
    INSERT INTO @extschema@.table_renames (rename_id, relation, view, schema_name, old_name, new_name, started_by)
    VALUES (id, t, v, nsp, vc.relname, tc.relname, actor);
    RETURN id::text;
END
$$;

-- Finish the actor's active rename once its view is gone.
CREATE FUNCTION @extschema@._tr_w_finish(actor pg_catalog.regrole, a jsonb) RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r @extschema@.table_renames;
BEGIN
    SELECT * INTO r FROM @extschema@.table_renames AS x
     WHERE x.rename_id = (a->>'rename_id')::bigint AND x.started_by = actor AND x.status = 'active' FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'safe_ddl.finish_rename_table: no active rename % of role %', a->>'rename_id', actor USING ERRCODE = 'no_data_found';
    END IF;
    IF EXISTS (SELECT FROM pg_catalog.pg_class AS c WHERE c.oid = r.view AND c.relkind = 'v') THEN
        RAISE EXCEPTION 'safe_ddl.finish_rename_table: the view % is still there', r.view USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    UPDATE @extschema@.table_renames AS x SET status = 'finished', view = NULL, finished_at = pg_catalog.clock_timestamp()
     WHERE x.rename_id = r.rename_id;
    RETURN 'finished';
END
$$;

REVOKE ALL ON FUNCTION @extschema@._tr_w_register(pg_catalog.regrole, jsonb),
                       @extschema@._tr_w_finish(pg_catalog.regrole, jsonb) FROM PUBLIC;

-- The one entry of safe_ddl._state() (Rust, src/api/state.rs): it calls this as the extension's
-- owner with actor = the role that called _state (GetUserId(), which nobody can forge). Not
-- executable by PUBLIC; each operation checks its arguments against the catalog and the actor.
CREATE FUNCTION @extschema@._state_write(actor oid, op text, args text) RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    who pg_catalog.regrole := actor;
    a   jsonb := args::jsonb;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles AS r WHERE r.oid = actor) THEN
        RAISE EXCEPTION 'safe_ddl._state: no role with OID %', actor USING ERRCODE = 'undefined_object';
    END IF;
    IF op IS NULL OR op NOT IN ('bf_create', 'bf_claim', 'bf_restart', 'bf_progress', 'bf_stop', 'bf_cancel',
                                'cc_register', 'cc_close', 'tr_register', 'tr_finish') THEN
        RAISE EXCEPTION 'safe_ddl._state: unknown operation %', op USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN CASE op
        WHEN 'bf_create'   THEN @extschema@._bf_w_create(who, a)
        WHEN 'bf_claim'    THEN @extschema@._bf_w_claim(who, a)
        WHEN 'bf_restart'  THEN @extschema@._bf_w_restart(who, a)
        WHEN 'bf_progress' THEN @extschema@._bf_w_progress(who, a)
        WHEN 'bf_stop'     THEN @extschema@._bf_w_stop(who, a)
        WHEN 'bf_cancel'   THEN @extschema@._bf_w_cancel(who, a)
        WHEN 'cc_register' THEN @extschema@._cc_w_register(who, a)
        WHEN 'cc_close'    THEN @extschema@._cc_w_close(who, a)
        WHEN 'tr_register' THEN @extschema@._tr_w_register(who, a)
        WHEN 'tr_finish'   THEN @extschema@._tr_w_finish(who, a)
    END;
END
$$;

REVOKE ALL ON FUNCTION @extschema@._state_write(oid, text, text) FROM PUBLIC;

COMMENT ON FUNCTION @extschema@.finish_rename_table(pg_catalog.regclass) IS
  'Drop the view rename_table() left under the old name (given the view or the renamed table), '
  'once it has not been used for safe_ddl.usage_window.';
