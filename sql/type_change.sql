-- Type changes that keep the column's name (issue 18): a column, and with a key every column that
-- references it, goes to a new type (int to bigint above all) with no rewrite, no long lock and no
-- application deploy. (PL/pgSQL; loaded by CREATE EXTENSION after expand_contract.sql, whose
-- column changes it is made of. See docs/expand-contract.md, "Change a key's type".)
--
--   SELECT safe_ddl.begin_type_change('accounts', 'id', 'bigint');   -- returns the backfills
--   CALL safe_ddl.backfill(...);                                      -- each one it returned
--   SELECT safe_ddl.prepare_type_change('accounts', 'id') \gexec     -- indexes, NOT NULL
--   CALL safe_ddl.swap_type_change('accounts', 'id');                 -- renames, keys, identity
--   CALL safe_ddl.finish_type_change('accounts', 'id');               -- drops id_old
--   SELECT * FROM safe_ddl.type_change_status('accounts', 'id');
--
-- Each column of a type change is a column change (safe_ddl.column_changes, type_change = the key
-- column's change id): a shadow column <col>_new kept in step by the dual-write trigger. The swap
-- renames <col> to <col>_old and <col>_new to <col> in one short transaction per table, with the
-- constraints, indexes, identity or sequence default moved across; from then on nothing writes
-- <col>_old (the trigger goes with the swap) and finish drops it once unused.
--
-- Everything runs with the caller's privileges, every DDL statement through the safe_ddl guard
-- (lock_timeout, retries); names come from the catalog and are quoted.

----------------------------------------------------------------------------------------------------
-- Internals
----------------------------------------------------------------------------------------------------

-- The names a column gets during a type change: its shadow, and the old column after the swap.
CREATE FUNCTION @extschema@._tc_shadow(col name) RETURNS name
LANGUAGE sql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$ SELECT @extschema@._ec_name('', col || '_new') $$;

CREATE FUNCTION @extschema@._tc_retired(col name) RETURNS name
LANGUAGE sql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$ SELECT @extschema@._ec_name('', col || '_old') $$;

CREATE FUNCTION @extschema@._tc_attnum(rel pg_catalog.regclass, col name) RETURNS int2
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT a.attnum FROM pg_catalog.pg_attribute AS a
     WHERE a.attrelid = rel AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped
$$;

-- Storage parameters or column options (name=value text[], as the catalog keeps them) as SQL:
-- name = 'value', ...
CREATE FUNCTION @extschema@._tc_options_sql(opts text[]) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.string_agg(pg_catalog.format('%I = %L', pg_catalog.split_part(o, '=', 1),
                                                   pg_catalog.substr(o, pg_catalog.strpos(o, '=') + 1)), ', ')
      FROM pg_catalog.unnest(opts) AS o
$$;

-- A grantee of an aclitem as SQL: PUBLIC or the role's quoted name.
CREATE FUNCTION @extschema@._tc_grantee_sql(grantee oid) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(grantee)) END
$$;

-- The indexes on a column and what the column's shadow needs to replace each one: the CREATE
-- INDEX CONCURRENTLY of the same index on the shadow (new_name), the constraint it carries (the
-- swap re-creates it USING the new index), or why it cannot be copied (problem).
CREATE FUNCTION @extschema@._tc_index_plan(rel pg_catalog.regclass, col name, shadow name)
RETURNS TABLE (old_index oid, old_name name, new_name name, retired_name name, create_sql text,
               con_name name, con_type "char", new_index oid, new_valid boolean, problem text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    att   int2 := @extschema@._tc_attnum(rel, col);
    i     record;
    k     int;
    an    int2;
    keys  text[];
    incl  text[];
    part  text;
    opc   record;
BEGIN
    FOR i IN
        SELECT x.indexrelid, x.indkey::int2[] AS indkey, x.indclass::oid[] AS indclass,
               x.indcollation::oid[] AS indcoll, x.indoption::int2[] AS indoption,
               x.indnkeyatts, x.indnatts, x.indisunique, x.indexprs IS NOT NULL AS has_exprs,
               x.indpred IS NOT NULL AS has_pred, pg_catalog.pg_get_expr(x.indpred, x.indrelid) AS pred,
               c.relname, c.reloptions, am.amname,
               (SELECT to_jsonb(y) FROM (SELECT n.conname, n.contype, n.condeferrable FROM pg_catalog.pg_constraint AS n
                                          WHERE n.conindid = x.indexrelid AND n.conrelid = rel AND n.contype IN ('p', 'u', 'x')) AS y) AS con,
               to_jsonb(x) ? 'indnullsnotdistinct' AND (to_jsonb(x)->>'indnullsnotdistinct')::boolean AS nnd
          FROM pg_catalog.pg_index AS x
          JOIN pg_catalog.pg_class AS c ON c.oid = x.indexrelid
          JOIN pg_catalog.pg_am AS am ON am.oid = c.relam
         WHERE x.indrelid = rel
           AND (att = ANY (x.indkey::int2[])
                OR EXISTS (SELECT FROM pg_catalog.pg_depend AS d
                            WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = x.indexrelid
                              AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refobjid = rel
                              AND d.refobjsubid = att))
         ORDER BY c.relname
    LOOP
        old_index := i.indexrelid;
        old_name := i.relname;
        new_name := @extschema@._ec_name('', i.relname || '_new');
        retired_name := @extschema@._ec_name('', i.relname || '_old');
        con_name := i.con->>'conname';
        con_type := i.con->>'contype';
        problem := NULL;
        create_sql := NULL;
        SELECT c.oid, x.indisvalid INTO new_index, new_valid
          FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_index AS x ON x.indexrelid = c.oid
         WHERE c.relname = new_name AND c.relnamespace = (SELECT r.relnamespace FROM pg_catalog.pg_class AS r WHERE r.oid = rel)
           AND x.indrelid = rel;
        IF NOT FOUND THEN
            new_index := NULL;
            new_valid := NULL;
        END IF;
        IF i.has_exprs OR i.has_pred THEN
            problem := 'an expression or partial index on the column';
        ELSIF con_type = 'x' THEN
            problem := 'an exclusion constraint on the column';
        ELSIF (i.con->>'condeferrable')::boolean THEN
            problem := 'a deferrable constraint on the column';
        ELSE
            keys := '{}';
            incl := '{}';
            FOR k IN 1 .. i.indnatts LOOP
                an := i.indkey[k - 1];   -- (int2vector and oidvector are 0-based)
                part := pg_catalog.quote_ident(CASE WHEN an = att THEN shadow
                                               ELSE (SELECT a.attname FROM pg_catalog.pg_attribute AS a
                                                      WHERE a.attrelid = rel AND a.attnum = an) END);
                IF k > i.indnkeyatts THEN
                    incl := incl || part;
                    CONTINUE;
                END IF;
                SELECT oc.opcname, n.nspname, oc.opcdefault INTO opc
                  FROM pg_catalog.pg_opclass AS oc JOIN pg_catalog.pg_namespace AS n ON n.oid = oc.opcnamespace
                 WHERE oc.oid = i.indclass[k - 1];
                IF NOT opc.opcdefault THEN
                    IF an = att THEN
                        problem := pg_catalog.format('operator class %I.%I on the column', opc.nspname, opc.opcname);
                    END IF;
                    part := part || pg_catalog.format(' %I.%I', opc.nspname, opc.opcname);
                END IF;
                IF i.indcoll[k - 1] <> 0 AND i.indcoll[k - 1] IS DISTINCT FROM
                       (SELECT a.attcollation FROM pg_catalog.pg_attribute AS a WHERE a.attrelid = rel AND a.attnum = an) THEN
                    part := part || (SELECT pg_catalog.format(' COLLATE %I.%I', n.nspname, co.collname)
                                       FROM pg_catalog.pg_collation AS co JOIN pg_catalog.pg_namespace AS n ON n.oid = co.collnamespace
                                      WHERE co.oid = i.indcoll[k - 1]);
                END IF;
                IF i.amname = 'btree' THEN
                    IF i.indoption[k - 1] & 1 = 1 THEN
                        part := part || ' DESC' || CASE WHEN i.indoption[k - 1] & 2 = 0 THEN ' NULLS LAST' ELSE '' END;
                    ELSIF i.indoption[k - 1] & 2 = 2 THEN
                        part := part || ' NULLS FIRST';
                    END IF;
                END IF;
                keys := keys || part;
            END LOOP;
            create_sql := pg_catalog.format('CREATE %sINDEX CONCURRENTLY %I ON %s USING %I (%s)%s%s%s',
                              CASE WHEN i.indisunique THEN 'UNIQUE ' ELSE '' END, new_name, @extschema@._rel_sql(rel), i.amname,
                              pg_catalog.array_to_string(keys, ', '),
                              CASE WHEN pg_catalog.cardinality(incl) > 0 THEN ' INCLUDE (' || pg_catalog.array_to_string(incl, ', ') || ')' ELSE '' END,
                              CASE WHEN i.nnd THEN ' NULLS NOT DISTINCT' ELSE '' END,
                              CASE WHEN i.reloptions IS NOT NULL
                                   THEN ' WITH (' || @extschema@._tc_options_sql(i.reloptions) || ')' ELSE '' END);
        END IF;
        RETURN NEXT;
    END LOOP;
END
$$;

-- What else depends on a column and would keep pointing at the old one after the swap (views,
-- CHECK constraints, generated columns, policies, statistics, triggers on it): none of that is
-- moved across, so begin and swap refuse with the list.
CREATE FUNCTION @extschema@._tc_blockers(rel pg_catalog.regclass, col name) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.string_agg(DISTINCT pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid), ', ')
      FROM pg_catalog.pg_depend AS d
     WHERE d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refobjid = rel
       AND d.refobjsubid = @extschema@._tc_attnum(rel, col)
       AND d.deptype IN ('n', 'a')
       -- moved across by the swap: indexes (see _tc_index_plan), primary key, unique and foreign
       -- key constraints, NOT NULL constraints (18), its own default
       AND NOT (d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                AND EXISTS (SELECT FROM pg_catalog.pg_index AS x WHERE x.indexrelid = d.objid))
       AND NOT (d.classid = 'pg_catalog.pg_constraint'::pg_catalog.regclass
                AND EXISTS (SELECT FROM pg_catalog.pg_constraint AS c WHERE c.oid = d.objid AND c.contype IN ('p', 'u', 'f', 'n')))
       AND NOT (d.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass
                AND EXISTS (SELECT FROM pg_catalog.pg_attrdef AS ad
                             WHERE ad.oid = d.objid AND ad.adrelid = rel AND ad.adnum = d.refobjsubid))
       AND NOT (d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                AND EXISTS (SELECT FROM pg_catalog.pg_class AS s WHERE s.oid = d.objid AND s.relkind = 'S'))
$$;

-- The columns a type change of rel.col takes along: the single column of every foreign key that
-- references exactly rel(col), not of the new type yet (the key's own column first).
CREATE FUNCTION @extschema@._tc_columns(rel pg_catalog.regclass, col name, new_type oid)
RETURNS TABLE (relation pg_catalog.regclass, column_name name, via name)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT rel, col, NULL::name
    UNION ALL
    SELECT DISTINCT ON (c.conrelid, a.attname) c.conrelid::pg_catalog.regclass, a.attname, c.conname
      FROM pg_catalog.pg_constraint AS c
      JOIN pg_catalog.pg_attribute AS a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
     WHERE c.contype = 'f' AND c.confrelid = rel AND c.confkey = ARRAY[@extschema@._tc_attnum(rel, col)]
       AND pg_catalog.cardinality(c.conkey) = 1 AND a.atttypid <> new_type
       AND NOT (c.conrelid = rel AND a.attname = col)
$$;

-- The catalog checks of one column of a type change; errors say what to do.
CREATE FUNCTION @extschema@._tc_begin_checks(fn text, rel pg_catalog.regclass, col name, new_type oid) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    att   pg_catalog.pg_attribute;
    what  text;
BEGIN
    PERFORM @extschema@._ec_require_table(fn, rel);
    att := @extschema@._ec_column(fn, rel, col);
    IF (SELECT c.relkind FROM pg_catalog.pg_class AS c WHERE c.oid = rel) = 'p'
       OR EXISTS (SELECT FROM pg_catalog.pg_inherits AS h WHERE h.inhrelid = rel OR h.inhparent = rel) THEN
        RAISE EXCEPTION '%: % is partitioned or has inheritance children or parents', fn, rel
        USING ERRCODE = 'feature_not_supported',
              DETAIL = 'CREATE INDEX CONCURRENTLY, which the shadow column''s indexes need, does not build on a partitioned table, and the columns of inheritance children change with their parent''s.',
              HINT = 'Change each partition''s column with safe_ddl.begin_column_change, or see docs/expand-contract.md.';
    END IF;
    IF att.atttypid = new_type THEN
        RAISE EXCEPTION '%: column "%" of % is % already', fn, col, rel, pg_catalog.format_type(new_type, NULL)
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF att.attgenerated <> '' THEN
        RAISE EXCEPTION '%: column "%" of % is a generated column', fn, col, rel USING ERRCODE = 'feature_not_supported';
    END IF;
    IF @extschema@._tc_attnum(rel, @extschema@._tc_shadow(col)) IS NOT NULL
       OR @extschema@._tc_attnum(rel, @extschema@._tc_retired(col)) IS NOT NULL THEN
        RAISE EXCEPTION '%: % already has a column "%" or "%", the names the type change of "%" uses', fn, rel,
                        @extschema@._tc_shadow(col), @extschema@._tc_retired(col), col
        USING ERRCODE = 'duplicate_column',
              HINT = 'Rename or drop that column first.';
    END IF;
    what := @extschema@._tc_blockers(rel, col);
    IF what IS NOT NULL THEN
        RAISE EXCEPTION '%: other objects depend on column "%" of %: %', fn, col, rel, what
        USING ERRCODE = 'dependent_objects_still_exist',
              DETAIL = 'After the swap they would still use the old column (by its number, not its name): the type change does not move them across.',
              HINT = 'Drop them (a view: DROP VIEW; a CHECK: ALTER TABLE ... DROP CONSTRAINT), change the type, then create them again.';
    END IF;
    SELECT pg_catalog.string_agg(pg_catalog.format('%I (%s)', p.old_name, p.problem), ', ') INTO what
      FROM @extschema@._tc_index_plan(rel, col, @extschema@._tc_shadow(col)) AS p WHERE p.problem IS NOT NULL;
    IF what IS NOT NULL THEN
        RAISE EXCEPTION '%: indexes on column "%" of % that the type change cannot copy: %', fn, col, rel, what
        USING ERRCODE = 'feature_not_supported',
              HINT = 'Drop them first (DROP INDEX CONCURRENTLY) and create them again after the type change.';
    END IF;
END
$$;

-- The type change of rel.col (its key column's change id): this role's, unfinished; col is the
-- key column or any column that goes along with it (a referencing table's, as the guard's
-- active_column_change HINT names it).
CREATE FUNCTION @extschema@._tc_find(fn text, rel pg_catalog.regclass, col name) RETURNS bigint
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    id bigint;
BEGIN
    IF rel IS NULL OR col IS NULL THEN
        RAISE EXCEPTION '%: relation and column_name must not be NULL', fn USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT x.type_change INTO id FROM @extschema@.column_changes AS x
     WHERE x.relation = rel AND x.old_column = col AND x.type_change IS NOT NULL
       AND x.status IN ('active', 'swapped') AND x.started_by = @extschema@._me()
     ORDER BY x.change_id DESC LIMIT 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION '%: no unfinished type change of column "%" of %', fn, col, rel
        USING ERRCODE = 'no_data_found',
              HINT = pg_catalog.format('Start one: SELECT safe_ddl.begin_type_change(%L, %L, %L);', @extschema@._rel_sql(rel), col, 'bigint');
    END IF;
    RETURN id;
END
$$;

-- The columns of a type change: the key's own last (the swap goes table by table in this order).
CREATE FUNCTION @extschema@._tc_members(id bigint) RETURNS SETOF @extschema@.column_changes
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT x.* FROM @extschema@.column_changes AS x
     WHERE x.type_change = id AND x.started_by = @extschema@._me() AND x.status IN ('active', 'swapped', 'finished')
     ORDER BY x.change_id = id, x.change_id
$$;

-- LOCK TABLE of these tables in ACCESS EXCLUSIVE mode, in OID order: one statement, so the
-- guard takes all of them at once or none (no table held while waiting for the next, which an
-- application transaction that uses two of them would be stuck behind, or deadlock with).
CREATE FUNCTION @extschema@._tc_lock_sql(rels pg_catalog.regclass[]) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE',
                             pg_catalog.string_agg(@extschema@._rel_sql(r.r), ', ' ORDER BY r.r::oid))
      FROM (SELECT DISTINCT x AS r FROM pg_catalog.unnest(rels) AS x) AS r
$$;

-- Its columns in one state (the procedures below cannot pin their search_path: they COMMIT; they
-- use no operator of their own).
CREATE FUNCTION @extschema@._tc_members_in(id bigint, st text) RETURNS SETOF @extschema@.column_changes
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM @extschema@._tc_members(id) AS x WHERE x.status = st $$;

-- Its tables in the order of the swap: the referencing ones first, the key's own last.
CREATE FUNCTION @extschema@._tc_tables(id bigint) RETURNS SETOF pg_catalog.regclass
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT m.relation FROM @extschema@._tc_members(id) AS m
     GROUP BY m.relation ORDER BY pg_catalog.bool_or(m.change_id = id), pg_catalog.min(m.change_id)
$$;

----------------------------------------------------------------------------------------------------
-- 1. begin_type_change: shadow columns and dual writes
----------------------------------------------------------------------------------------------------

CREATE FUNCTION @extschema@.begin_type_change(relation pg_catalog.regclass, column_name name, new_type text)
RETURNS SETOF text
LANGUAGE plpgsql VOLATILE
-- Not pinned: new_type is the caller's type name in the caller's search_path (as in
-- begin_column_change); everything else is qualified or done by pinned helpers.
AS $$
#variable_conflict use_variable
DECLARE
    fn   constant text := 'safe_ddl.begin_type_change';
    rel  pg_catalog.regclass := begin_type_change.relation;
    typ  oid;
    m    record;
    id   bigint;
    call text;
BEGIN
    PERFORM @extschema@._ec_require_table(fn, rel);
    PERFORM @extschema@._ec_column(fn, rel, column_name);
    BEGIN
        typ := pg_catalog.to_regtype(new_type);
    EXCEPTION WHEN OTHERS THEN
        typ := NULL;
    END;
    IF typ IS NULL THEN
        RAISE EXCEPTION '%: type "%" does not exist', fn, new_type USING ERRCODE = 'undefined_object',
              HINT = 'new_type is a type name as in ALTER TABLE ... ALTER COLUMN ... TYPE, e.g. ''bigint''.';
    END IF;
    -- Every column first, so that nothing is added when one of them cannot be done.
    FOR m IN SELECT * FROM @extschema@._tc_columns(rel, column_name, typ) LOOP
        PERFORM @extschema@._tc_begin_checks(fn, m.relation, m.column_name, typ);
    END LOOP;
    -- Every table's lock up front, all or none, as the swap does: one ADD COLUMN after another
    -- would wait for the next table while holding the previous ones, which the guard refuses
    -- (an application transaction that writes the parent and then a child is always in the way).
    EXECUTE @extschema@._tc_lock_sql(ARRAY(SELECT tc.relation FROM @extschema@._tc_columns(rel, column_name, typ) AS tc));
    FOR m IN SELECT * FROM @extschema@._tc_columns(rel, column_name, typ) LOOP
        call := @extschema@._cc_begin(fn, m.relation, m.column_name, @extschema@._tc_shadow(m.column_name),
                                      new_type, NULL, NULL, COALESCE(id, 0));
        IF id IS NULL THEN
            id := @extschema@._tc_find(fn, rel, column_name);
        END IF;
        RETURN NEXT call;
    END LOOP;
    RAISE NOTICE '%', pg_catalog.format('%s: next, run each backfill above (outside a transaction block), then: SELECT safe_ddl.prepare_type_change(%L, %L) \gexec',
                                        fn, @extschema@._rel_sql(rel), column_name);
END
$$;

COMMENT ON FUNCTION @extschema@.begin_type_change(pg_catalog.regclass, name, text) IS
  'Start changing column_name of relation to new_type keeping its name (and, for a key, every '
  'column that references it): shadow columns <col>_new with dual-write triggers, no rewrite. '
  'Returns the backfills to run. Then prepare_type_change, swap_type_change, finish_type_change. '
  'See docs/expand-contract.md.';

----------------------------------------------------------------------------------------------------
-- 2. prepare_type_change: the shadow columns' indexes (CONCURRENTLY) and NOT NULL
----------------------------------------------------------------------------------------------------

-- The backfills still to run (NULL when every row of every column is in step).
CREATE FUNCTION @extschema@._tc_backfills_left(id bigint) RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c    @extschema@.column_changes;
    left_ text[] := '{}';
BEGIN
    FOR c IN SELECT * FROM @extschema@._tc_members(id) WHERE status = 'active' LOOP
        IF COALESCE(@extschema@._cc_out_of_step(c), 1) > 0 THEN
            left_ := left_ || @extschema@._cc_backfill_call(c);
        END IF;
    END LOOP;
    RETURN NULLIF(pg_catalog.array_to_string(left_, E'\n'), '');
END
$$;

-- What prepare has left to do for one column: the index builds (a leftover invalid build first
-- dropped), and whether its shadow needs NOT NULL.
CREATE FUNCTION @extschema@._tc_prepare_left(c @extschema@.column_changes,
                                             OUT builds text[], OUT drops text[], OUT needs_not_null boolean)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p record;
BEGIN
    builds := '{}';
    drops := '{}';
    FOR p IN SELECT * FROM @extschema@._tc_index_plan(c.relation, c.old_column, c.new_column) LOOP
        IF p.problem IS NOT NULL THEN
            RAISE EXCEPTION 'safe_ddl.prepare_type_change: index % of % cannot be copied: %', p.old_name, c.relation, p.problem
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Drop it first (DROP INDEX CONCURRENTLY) and create it again after the type change.';
        END IF;
        IF p.new_index IS NOT NULL AND NOT p.new_valid THEN
            drops := drops || pg_catalog.format('DROP INDEX CONCURRENTLY %s', p.new_index::pg_catalog.regclass);
        END IF;
        IF p.new_index IS NULL OR NOT p.new_valid THEN
            builds := builds || p.create_sql;
        END IF;
    END LOOP;
    needs_not_null := @extschema@._valid_not_null(c.relation, @extschema@._tc_attnum(c.relation, c.old_column))
                      AND NOT @extschema@._valid_not_null(c.relation, @extschema@._tc_attnum(c.relation, c.new_column));
END
$$;

-- CREATE INDEX CONCURRENTLY cannot run inside a function or procedure: prepare returns the
-- statements (like begin returns the backfills), for psql's \gexec or a migration's own steps.
CREATE FUNCTION @extschema@.prepare_type_change(relation pg_catalog.regclass, column_name name)
RETURNS SETOF text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    fn    constant text := 'safe_ddl.prepare_type_change';
    rel   pg_catalog.regclass := prepare_type_change.relation;
    id    bigint;
    c     @extschema@.column_changes;
    st    record;
    q     text;
    left_ text;
    n     int := 0;
BEGIN
    id := @extschema@._tc_find(fn, rel, column_name);
    IF EXISTS (SELECT FROM @extschema@._tc_members(id) AS x WHERE x.status <> 'active') THEN
        RAISE NOTICE '%: the type change of %.% is swapped already', fn, rel, column_name;
        RETURN;
    END IF;
    left_ := @extschema@._tc_backfills_left(id);
    IF left_ IS NOT NULL THEN
        RAISE EXCEPTION '%: rows are not in step yet: run the backfills first', fn
        USING ERRCODE = 'object_not_in_prerequisite_state',
              DETAIL = 'The shadow columns'' indexes and NOT NULL need every row filled.',
              HINT = 'Outside a transaction block, then call this again: ' || left_;
    END IF;
    FOR c IN SELECT * FROM @extschema@._tc_members(id) LOOP
        SELECT * INTO st FROM @extschema@._tc_prepare_left(c);
        FOREACH q IN ARRAY st.drops || st.builds LOOP
            RETURN NEXT q || ';';
            n := n + 1;
        END LOOP;
        IF st.needs_not_null THEN
            RETURN NEXT pg_catalog.format('CALL safe_ddl.set_not_null(%L, %L);', @extschema@._rel_sql(c.relation), c.new_column);
            n := n + 1;
        END IF;

    END LOOP;
    IF n = 0 THEN
        RAISE NOTICE '%', pg_catalog.format('%s: the shadow columns are ready; next: CALL safe_ddl.swap_type_change(%L, %L);',
                                            fn, @extschema@._rel_sql(rel), column_name);
    ELSE
        RAISE NOTICE '%', pg_catalog.format('%s: run these %s statements outside a transaction block (in psql: \gexec), then: CALL safe_ddl.swap_type_change(%L, %L);',
                                            fn, n, @extschema@._rel_sql(rel), column_name);
    END IF;
END
$$;

COMMENT ON FUNCTION @extschema@.prepare_type_change(pg_catalog.regclass, name) IS
  'After the backfills: the statements that build the equivalent of every index on the old '
  'columns on the shadow columns (CREATE INDEX CONCURRENTLY) and set NOT NULL where the old '
  'columns have it (CALL safe_ddl.set_not_null), still to run; none once prepared. Run them '
  'outside a transaction block (psql: SELECT safe_ddl.prepare_type_change(...) \gexec).';

----------------------------------------------------------------------------------------------------
-- 3. swap_type_change: one short transaction per table, then the foreign keys validated
----------------------------------------------------------------------------------------------------

-- The foreign keys on either side of these columns of a table (attnums), with their definitions
-- as pg_get_constraintdef writes them (by column names, so that the same text names the swapped
-- columns afterwards; qualified as this search_path needs).
CREATE FUNCTION @extschema@._tc_fkeys(rel pg_catalog.regclass, atts int2[])
RETURNS TABLE (con oid, conrelid pg_catalog.regclass, confrelid pg_catalog.regclass, conname name, def text, valid boolean)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT c.oid, c.conrelid::pg_catalog.regclass, c.confrelid::pg_catalog.regclass, c.conname,
           pg_catalog.regexp_replace(pg_catalog.pg_get_constraintdef(c.oid), '\s+NOT VALID$', ''), c.convalidated
      FROM pg_catalog.pg_constraint AS c
     WHERE c.contype = 'f'
       AND ((c.conrelid = rel AND c.conkey && atts) OR (c.confrelid = rel AND c.confkey && atts))
     ORDER BY c.conrelid, c.conname
$$;

-- What else of the old column the new one must have from the swap on, as statements: its column
-- privileges (GRANT ... (col): without them a role granted only columns loses access), its
-- comment, statistics target and options (n_distinct). Run after the renames: col is the name
-- the new column has then, old_att the old column's number.
CREATE FUNCTION @extschema@._tc_column_props_sql(rel pg_catalog.regclass, old_att int2, col name) RETURNS SETOF text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.format('GRANT %s (%I) ON %s TO %s%s', g.privilege_type, col, @extschema@._rel_sql(rel),
                             @extschema@._tc_grantee_sql(g.grantee),
                             CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)
      FROM pg_catalog.pg_attribute AS a CROSS JOIN LATERAL pg_catalog.aclexplode(a.attacl) AS g
     WHERE a.attrelid = rel AND a.attnum = old_att AND a.attacl IS NOT NULL
    UNION ALL
    SELECT pg_catalog.format('COMMENT ON COLUMN %s.%I IS %L', @extschema@._rel_sql(rel), col, d.description)
      FROM pg_catalog.pg_description AS d
     WHERE d.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objoid = rel AND d.objsubid = old_att
    UNION ALL
    SELECT pg_catalog.format('ALTER TABLE %s ALTER COLUMN %I SET STATISTICS %s', @extschema@._rel_sql(rel), col, a.attstattarget)
      FROM pg_catalog.pg_attribute AS a
     WHERE a.attrelid = rel AND a.attnum = old_att AND a.attstattarget >= 0
    UNION ALL
    SELECT pg_catalog.format('ALTER TABLE %s ALTER COLUMN %I SET (%s)', @extschema@._rel_sql(rel), col,
                             @extschema@._tc_options_sql(a.attoptions))
      FROM pg_catalog.pg_attribute AS a
     WHERE a.attrelid = rel AND a.attnum = old_att AND a.attoptions IS NOT NULL
$$;

-- The privileges on a sequence, as GRANTs on another one (an identity's new sequence).
CREATE FUNCTION @extschema@._tc_sequence_grants_sql(old_acl aclitem[], seq pg_catalog.regclass) RETURNS SETOF text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.format('GRANT %s ON SEQUENCE %s TO %s%s', g.privilege_type, seq,
                             @extschema@._tc_grantee_sql(g.grantee),
                             CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)
      FROM pg_catalog.aclexplode(old_acl) AS g
     WHERE g.grantee IS DISTINCT FROM (SELECT c.relowner FROM pg_catalog.pg_class AS c WHERE c.oid = seq)
$$;

-- ANALYZE of a table's shadow columns not swapped yet (NULL: none). Planner statistics follow a
-- column's number through the renames: gathered just before the swap, the new column has them
-- from its first query on (ANALYZE takes SHARE UPDATE EXCLUSIVE: reads and writes go on).
CREATE FUNCTION @extschema@._tc_analyze_sql(id bigint, rel pg_catalog.regclass) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.format('ANALYZE %s (%s)', @extschema@._rel_sql(rel),
                             pg_catalog.string_agg(pg_catalog.quote_ident(m.new_column), ', ' ORDER BY m.change_id))
      FROM @extschema@._tc_members_in(id, 'active') AS m
     WHERE m.relation = rel
    HAVING pg_catalog.count(*) > 0
$$;

-- The swap of one table's columns of a type change, in the caller's transaction. False when
-- they are swapped already.
CREATE FUNCTION @extschema@._tc_swap_table(fn text, id bigint, rel pg_catalog.regclass) RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cols   @extschema@.column_changes[];
    c      @extschema@.column_changes;
    atts   int2[] := '{}';
    fks    jsonb;
    fk     record;
    p      record;
    st     record;
    what   text;
    qrel   text := @extschema@._rel_sql(rel);
    prev   text;
    ident  "char";
    seq    pg_catalog.regclass;
    sq     record;
    def    text;
    retired name;
    nn     name;
    plan   jsonb;
    lv     record;
    old_att int2;
    seq_acl aclitem[];
    q      text;
BEGIN
    SELECT pg_catalog.array_agg(x ORDER BY x.change_id) INTO cols
      FROM @extschema@._tc_members(id) AS x WHERE x.relation = rel AND x.status = 'active';
    IF cols IS NULL THEN
        RETURN false;
    END IF;
    FOREACH c IN ARRAY cols LOOP
        atts := atts || @extschema@._tc_attnum(rel, c.old_column) || @extschema@._tc_attnum(rel, c.new_column);
    END LOOP;
    SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.to_jsonb(f)), '[]') INTO fks FROM @extschema@._tc_fkeys(rel, atts) AS f;

    -- Every lock up front, all or none (the guard takes them without queueing behind old
    -- transactions, within lock_timeout): this table and the other side of each foreign key.
    EXECUTE @extschema@._tc_lock_sql(ARRAY[rel]
        || ARRAY(SELECT (f->>'conrelid')::pg_catalog.regclass FROM pg_catalog.jsonb_array_elements(fks) AS f)
        || ARRAY(SELECT (f->>'confrelid')::pg_catalog.regclass FROM pg_catalog.jsonb_array_elements(fks) AS f));

    -- Under the locks: everything still as prepare left it.
    FOREACH c IN ARRAY cols LOOP
        what := COALESCE(@extschema@._tc_blockers(rel, c.old_column), @extschema@._tc_blockers(rel, c.new_column));
        IF what IS NOT NULL THEN
            RAISE EXCEPTION '%: other objects depend on column "%" of %: %', fn, c.old_column, rel, what
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = 'After the swap they would still use the old column (by its number, not its name).',
                  HINT = 'Drop them (a view: DROP VIEW), CALL the swap again, then create them again.';
        END IF;
        SELECT * INTO st FROM @extschema@._tc_prepare_left(c);
        IF pg_catalog.cardinality(st.builds) > 0 OR st.needs_not_null THEN
            RAISE EXCEPTION '%: the shadow column "%" of % is not prepared', fn, c.new_column, rel
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = CASE WHEN pg_catalog.cardinality(st.builds) > 0 THEN 'Missing: ' || pg_catalog.array_to_string(st.builds, '; ')
                                ELSE 'It is not NOT NULL yet.' END,
                  HINT = pg_catalog.format('In psql: SELECT safe_ddl.prepare_type_change(%L, %L) \gexec',
                                           @extschema@._rel_sql((SELECT x.relation FROM @extschema@.column_changes AS x WHERE x.change_id = id)),
                                           (SELECT x.old_column FROM @extschema@.column_changes AS x WHERE x.change_id = id));
        END IF;
    END LOOP;

    -- 1. The foreign keys on either side go (they are re-created by name below).
    FOR fk IN SELECT * FROM pg_catalog.jsonb_to_recordset(fks) AS x(con oid, conrelid pg_catalog.regclass, conname name, def text) LOOP
        EXECUTE pg_catalog.format('ALTER TABLE %s DROP CONSTRAINT %I', @extschema@._rel_sql(fk.conrelid), fk.conname);
    END LOOP;

    FOREACH c IN ARRAY cols LOOP
        retired := @extschema@._tc_retired(c.old_column);
        -- 2. Primary key and unique constraints go (their indexes with them); other indexes on
        --    the old column step aside for the shadow's.
        SELECT pg_catalog.jsonb_agg(pg_catalog.to_jsonb(x)) INTO plan
          FROM @extschema@._tc_index_plan(rel, c.old_column, c.new_column) AS x;
        FOR p IN SELECT x.old_index, x.con_name, x.retired_name
                   FROM pg_catalog.jsonb_to_recordset(COALESCE(plan, '[]')) AS x(old_index oid, con_name name, retired_name name) LOOP
            IF p.con_name IS NOT NULL THEN
                EXECUTE pg_catalog.format('ALTER TABLE %s DROP CONSTRAINT %I', qrel, p.con_name);
            ELSE
                EXECUTE pg_catalog.format('ALTER INDEX %s RENAME TO %I', p.old_index::pg_catalog.regclass, p.retired_name);
            END IF;
        END LOOP;
        -- 3. The identity, or the default (and the sequence a serial owns), off the old column.
        SELECT a.attidentity INTO ident FROM pg_catalog.pg_attribute AS a
         WHERE a.attrelid = rel AND a.attname = c.old_column AND NOT a.attisdropped;
        seq := pg_catalog.pg_get_serial_sequence(qrel, pg_catalog.quote_ident(c.old_column))::pg_catalog.regclass;
        old_att := @extschema@._tc_attnum(rel, c.old_column);
        seq_acl := (SELECT x.relacl FROM pg_catalog.pg_class AS x WHERE x.oid = seq);
        sq := NULL;
        def := NULL;
        IF ident <> '' THEN
            SELECT s.seqstart, s.seqincrement, s.seqcache, s.seqcycle INTO sq FROM pg_catalog.pg_sequence AS s WHERE s.seqrelid = seq;
            EXECUTE pg_catalog.format('SELECT last_value, is_called FROM %s', seq) INTO lv;
            EXECUTE pg_catalog.format('ALTER TABLE %s ALTER COLUMN %I DROP IDENTITY', qrel, c.old_column);
        ELSE
            SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid) INTO def
              FROM pg_catalog.pg_attrdef AS d
             WHERE d.adrelid = rel AND d.adnum = @extschema@._tc_attnum(rel, c.old_column);
            IF def IS NOT NULL THEN
                EXECUTE pg_catalog.format('ALTER TABLE %s ALTER COLUMN %I DROP DEFAULT', qrel, c.old_column);
            END IF;
        END IF;
        -- 4. The dual writes end here: from now on nothing writes the old column, which may then
        --    hold NULL.
        PERFORM @extschema@._cc_drop_objects(c);
        IF EXISTS (SELECT FROM pg_catalog.pg_attribute AS a WHERE a.attrelid = rel AND a.attname = c.old_column AND a.attnotnull) THEN
            EXECUTE pg_catalog.format('ALTER TABLE %s ALTER COLUMN %I DROP NOT NULL', qrel, c.old_column);
        END IF;
        -- 5. The names.
        prev := @extschema@._ec_allow('rename, in_use');
        EXECUTE pg_catalog.format('ALTER TABLE %s RENAME COLUMN %I TO %I', qrel, c.old_column, retired);
        EXECUTE pg_catalog.format('ALTER TABLE %s RENAME COLUMN %I TO %I', qrel, c.new_column, c.old_column);
        PERFORM @extschema@._ec_restore_allow(prev);
        -- 6. Constraints and indexes on the new column, under the old names.
        --    (The old column's other indexes, renamed above, go with it at finish.)
        FOR p IN SELECT x.con_name, x.con_type, x.new_name, x.old_name
                   FROM pg_catalog.jsonb_to_recordset(COALESCE(plan, '[]')) AS x(con_name name, con_type "char", new_name name, old_name name) LOOP
            IF p.con_name IS NOT NULL THEN
                EXECUTE pg_catalog.format('ALTER TABLE %s ADD CONSTRAINT %I %s USING INDEX %I', qrel, p.con_name,
                                          CASE WHEN p.con_type = 'p' THEN 'PRIMARY KEY' ELSE 'UNIQUE' END, p.new_name);
            ELSE
                EXECUTE pg_catalog.format('ALTER INDEX %I.%I RENAME TO %I',
                                          (SELECT n.nspname FROM pg_catalog.pg_class AS r JOIN pg_catalog.pg_namespace AS n ON n.oid = r.relnamespace WHERE r.oid = rel),
                                          p.new_name, p.old_name);
            END IF;
        END LOOP;
        -- 7. Identity or default on the new column, going on from where the old one was.
        IF ident <> '' THEN
            EXECUTE pg_catalog.format('ALTER TABLE %s ALTER COLUMN %I ADD GENERATED %s AS IDENTITY (START WITH %s INCREMENT BY %s CACHE %s %s)',
                                      qrel, c.old_column, CASE WHEN ident = 'a' THEN 'ALWAYS' ELSE 'BY DEFAULT' END,
                                      sq.seqstart, sq.seqincrement, sq.seqcache, CASE WHEN sq.seqcycle THEN 'CYCLE' ELSE 'NO CYCLE' END);
            PERFORM pg_catalog.setval(pg_catalog.pg_get_serial_sequence(qrel, pg_catalog.quote_ident(c.old_column)), lv.last_value, lv.is_called);
            FOR q IN SELECT * FROM @extschema@._tc_sequence_grants_sql(seq_acl,
                         pg_catalog.pg_get_serial_sequence(qrel, pg_catalog.quote_ident(c.old_column))::pg_catalog.regclass) LOOP
                EXECUTE q;
            END LOOP;
        ELSIF def IS NOT NULL THEN
            EXECUTE pg_catalog.format('ALTER TABLE %s ALTER COLUMN %I SET DEFAULT %s', qrel, c.old_column, def);
            IF seq IS NOT NULL THEN
                EXECUTE pg_catalog.format('ALTER SEQUENCE %s OWNED BY %s.%I', seq, qrel, c.old_column);
                IF (SELECT s.seqtypid FROM pg_catalog.pg_sequence AS s WHERE s.seqrelid = seq) IN ('pg_catalog.int2'::pg_catalog.regtype, 'pg_catalog.int4'::pg_catalog.regtype)
                   AND (SELECT a.atttypid FROM pg_catalog.pg_attribute AS a WHERE a.attrelid = rel AND a.attname = c.old_column AND NOT a.attisdropped)
                       IN ('pg_catalog.int4'::pg_catalog.regtype, 'pg_catalog.int8'::pg_catalog.regtype) THEN
                    EXECUTE pg_catalog.format('ALTER SEQUENCE %s AS %s', seq,
                        (SELECT pg_catalog.format_type(a.atttypid, NULL) FROM pg_catalog.pg_attribute AS a WHERE a.attrelid = rel AND a.attname = c.old_column AND NOT a.attisdropped));
                END IF;
            END IF;
        END IF;
        -- 8. Its column privileges, comment, statistics target and options.
        FOR q IN SELECT * FROM @extschema@._tc_column_props_sql(rel, old_att, c.old_column) LOOP
            EXECUTE q;
        END LOOP;
        -- 9. PostgreSQL 18: the NOT NULL constraint under the name a new table's column gets.
        IF @extschema@._not_null_not_valid() THEN
            nn := @extschema@._ec_name('', (SELECT r.relname FROM pg_catalog.pg_class AS r WHERE r.oid = rel) || '_' || c.old_column || '_not_null');
            SELECT x.conname INTO what FROM pg_catalog.pg_constraint AS x
             WHERE x.conrelid = rel AND x.contype = 'n' AND x.conkey = ARRAY[@extschema@._tc_attnum(rel, c.old_column)];
            IF what IS NOT NULL AND what <> nn AND NOT EXISTS (SELECT FROM pg_catalog.pg_constraint AS x WHERE x.conrelid = rel AND x.conname = nn) THEN
                EXECUTE pg_catalog.format('ALTER TABLE %s RENAME CONSTRAINT %I TO %I', qrel, what, nn);
            END IF;
        END IF;
        PERFORM @extschema@._state('cc_close', pg_catalog.jsonb_build_object(
            'change_id', c.change_id, 'status', 'swapped', 'retired_column', retired)::text);
    END LOOP;

    -- 10. The foreign keys again, by the same text (the names now mean the new columns), NOT
    --    VALID: enforced for every write from now on; swap_type_change validates them once every
    --    table is swapped.
    FOR fk IN SELECT * FROM pg_catalog.jsonb_to_recordset(fks) AS x(con oid, conrelid pg_catalog.regclass, conname name, def text) LOOP
        EXECUTE pg_catalog.format('ALTER TABLE %s ADD CONSTRAINT %I %s NOT VALID', @extschema@._rel_sql(fk.conrelid), fk.conname, fk.def);
    END LOOP;
    RETURN true;
END
$$;

-- The foreign keys on the columns of a type change that are not validated yet.
CREATE FUNCTION @extschema@._tc_unvalidated(id bigint)
RETURNS TABLE (conrelid pg_catalog.regclass, conname name)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT DISTINCT f.conrelid, f.conname
      FROM @extschema@._tc_members(id) AS m
      CROSS JOIN LATERAL @extschema@._tc_fkeys(m.relation, ARRAY[@extschema@._tc_attnum(m.relation, m.old_column)]) AS f
     WHERE m.status = 'swapped' AND NOT f.valid
     ORDER BY 1, 2
$$;

CREATE PROCEDURE @extschema@.swap_type_change(relation pg_catalog.regclass, column_name name)
LANGUAGE plpgsql
AS $$
#variable_conflict use_variable
DECLARE
    fn   constant text := 'safe_ddl.swap_type_change';
    rel  pg_catalog.regclass := swap_type_change.relation;
    id   bigint;
    t    record;
    fk   record;
    left_ text;
BEGIN
    CALL @extschema@._require_own_transaction(fn);
    COMMIT;
    id := @extschema@._tc_find(fn, rel, column_name);
    left_ := @extschema@._tc_backfills_left(id);
    IF left_ IS NOT NULL THEN
        RAISE EXCEPTION '%: rows are not in step: run the backfills first', fn
        USING ERRCODE = 'object_not_in_prerequisite_state',
              HINT = 'Outside a transaction block: ' || left_;
    END IF;
    -- Table by table, the referencing ones first: each swap is one short transaction (the
    -- locks of a catalog change; no scan, no rewrite).
    FOR t IN SELECT x AS relation, @extschema@._tc_analyze_sql(id, x) AS analyze FROM @extschema@._tc_tables(id) AS x LOOP
        IF t.analyze IS NOT NULL THEN
            EXECUTE t.analyze;
            COMMIT;
        END IF;
        IF @extschema@._tc_swap_table(fn, id, t.relation) THEN
            RAISE NOTICE '%: swapped %', fn, t.relation;
        END IF;
        COMMIT;
    END LOOP;
    -- The foreign keys, each validated in a transaction of its own (SHARE UPDATE EXCLUSIVE on the
    -- referencing table, ROW SHARE on the referenced one: reads and writes go on).
    FOR fk IN SELECT * FROM @extschema@._tc_unvalidated(id) LOOP
        CALL @extschema@._ec_validate(fn, fk.conrelid, fk.conname);
        COMMIT;
        RAISE NOTICE '%: validated % on %', fn, fk.conname, fk.conrelid;
    END LOOP;
    RAISE NOTICE '%', pg_catalog.format('%s: %s.%I is swapped; once nothing has used the old columns for safe_ddl.usage_window: CALL safe_ddl.finish_type_change(%L, %L);',
                                        fn, rel, column_name, @extschema@._rel_sql(rel), column_name);
END
$$;

COMMENT ON PROCEDURE @extschema@.swap_type_change(pg_catalog.regclass, name) IS
  'After prepare_type_change: per table, in one short transaction, rename <col> to <col>_old and '
  '<col>_new to <col>, re-create the primary key / unique constraints USING the new indexes, move '
  'the identity or default, re-create the foreign keys NOT VALID; then validate them. Resumable. '
  'CALL it outside a transaction block.';

----------------------------------------------------------------------------------------------------
-- 4. finish_type_change: the old columns go, once unused
----------------------------------------------------------------------------------------------------

-- Refuse while the retired column was used within safe_ddl.usage_window or tracking has not run
-- that long (unless the caller's safe_ddl.allow has in_use).
CREATE FUNCTION @extschema@._tc_check_unused(fn text, c @extschema@.column_changes, call text) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    u record;
BEGIN
    IF @extschema@._ec_allows_in_use() THEN
        RETURN;
    END IF;
    SELECT * INTO u FROM @extschema@._ec_last_use(c.relation, c.retired_column);
    IF u.recent THEN
        RAISE EXCEPTION '%: column "%" of % was used within safe_ddl.usage_window (%)', fn, c.retired_column, c.relation, u.usage_window
        USING ERRCODE = 'object_not_in_prerequisite_state',
              DETAIL = pg_catalog.format('Last read %s, last written %s (safe_ddl.column_usage; the uses of "%s" before the swap count).',
                                         COALESCE(u.last_read::text, 'never'), COALESCE(u.last_write::text, 'never'), c.old_column),
              HINT = 'Wait until it has not been used for safe_ddl.usage_window, then CALL this again.';
    ELSIF u.unproven THEN
        RAISE EXCEPTION '%: column "%" of % is not proven unused: usage tracking has run for less than safe_ddl.usage_window (%)', fn, c.retired_column, c.relation, u.usage_window
        USING ERRCODE = 'object_not_in_prerequisite_state',
              DETAIL = pg_catalog.format('Its use is tracked since %s (safe_ddl.column_usage).', u.tracking_since),
              HINT = 'Wait until tracking has run for safe_ddl.usage_window; or, when you know nothing reads it: SET safe_ddl.allow = ''in_use''; ' || call || ' RESET safe_ddl.allow;';
    END IF;
END
$$;

CREATE PROCEDURE @extschema@.finish_type_change(relation pg_catalog.regclass, column_name name)
LANGUAGE plpgsql
AS $$
#variable_conflict use_variable
DECLARE
    fn   constant text := 'safe_ddl.finish_type_change';
    rel  pg_catalog.regclass := finish_type_change.relation;
    id   bigint;
    c    @extschema@.column_changes;
    prev text;
BEGIN
    CALL @extschema@._require_own_transaction(fn);
    COMMIT;
    id := @extschema@._tc_find(fn, rel, column_name);
    IF EXISTS (SELECT FROM @extschema@._tc_members_in(id, 'active'))
       OR EXISTS (SELECT FROM @extschema@._tc_unvalidated(id)) THEN
        RAISE EXCEPTION '%: the type change of %.% is not swapped yet', fn, rel, column_name
        USING ERRCODE = 'object_not_in_prerequisite_state',
              HINT = pg_catalog.format('CALL safe_ddl.swap_type_change(%L, %L);', @extschema@._rel_sql(rel), column_name);
    END IF;
    -- Every column first: none goes while one of them is still in use.
    FOR c IN SELECT * FROM @extschema@._tc_members_in(id, 'swapped') LOOP
        PERFORM @extschema@._tc_check_unused(fn, c, pg_catalog.format('CALL safe_ddl.finish_type_change(%L, %L);', @extschema@._rel_sql(rel), column_name));
    END LOOP;
    FOR c IN SELECT * FROM @extschema@._tc_members_in(id, 'swapped') LOOP
        IF @extschema@._tc_attnum(c.relation, c.retired_column) IS NOT NULL THEN
            -- (through the guard, which judges its use again: the caller's in_use counts)
            prev := @extschema@._ec_allow('drop_column');
            EXECUTE pg_catalog.format('ALTER TABLE %s DROP COLUMN %I', @extschema@._rel_sql(c.relation), c.retired_column);
            PERFORM @extschema@._ec_restore_allow(prev);
        END IF;
        PERFORM @extschema@._state('cc_close', pg_catalog.jsonb_build_object('change_id', c.change_id, 'status', 'finished')::text);
        COMMIT;
        RAISE NOTICE '%: dropped %.%', fn, c.relation, c.retired_column;
    END LOOP;
END
$$;

COMMENT ON PROCEDURE @extschema@.finish_type_change(pg_catalog.regclass, name) IS
  'After swap_type_change: drop the <col>_old columns once unused for safe_ddl.usage_window, one '
  'transaction per table. CALL it outside a transaction block.';

----------------------------------------------------------------------------------------------------
-- 5. type_change_status, cancel_type_change
----------------------------------------------------------------------------------------------------

CREATE FUNCTION @extschema@.type_change_status(relation pg_catalog.regclass, column_name name, count_rows boolean DEFAULT true)
RETURNS TABLE (table_name pg_catalog.regclass, table_column name, change_id bigint, step text,
               rows_out_of_step bigint, detail text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    id  bigint;
    c   @extschema@.column_changes;
    st  record;
    u   record;
BEGIN
    SELECT x.type_change INTO id FROM @extschema@.column_changes AS x
     WHERE x.relation = type_change_status.relation AND x.old_column = type_change_status.column_name
       AND x.type_change IS NOT NULL AND x.started_by = @extschema@._me()
     ORDER BY x.change_id DESC LIMIT 1;
    IF id IS NULL THEN
        RAISE EXCEPTION 'safe_ddl.type_change_status: no type change of column "%" of %', type_change_status.column_name, type_change_status.relation
        USING ERRCODE = 'no_data_found';
    END IF;
    FOR c IN SELECT * FROM @extschema@._tc_members(id) LOOP
        table_name := c.relation;
        table_column := c.old_column;
        change_id := c.change_id;
        rows_out_of_step := NULL;
        IF c.status = 'active' THEN
            IF type_change_status.count_rows THEN
                rows_out_of_step := @extschema@._cc_out_of_step(c);
            END IF;
            IF type_change_status.count_rows AND COALESCE(rows_out_of_step, 1) > 0 THEN
                step := 'backfill';
                detail := @extschema@._cc_backfill_call(c);
            ELSE
                SELECT * INTO st FROM @extschema@._tc_prepare_left(c);
                IF pg_catalog.cardinality(st.builds) > 0 OR st.needs_not_null THEN
                    step := 'prepare';
                    detail := CASE WHEN NOT type_change_status.count_rows THEN '(rows not counted: the backfill first, if not done) ' ELSE '' END
                              || pg_catalog.array_to_string(st.builds || CASE WHEN st.needs_not_null THEN
                                  ARRAY[pg_catalog.format('NOT NULL on %I', c.new_column)] ELSE '{}' END, '; ');
                ELSE
                    step := 'swap';
                    detail := pg_catalog.format('%I (%s) is ready to take the place of %I (%s)', c.new_column, c.new_type, c.old_column, c.old_type);
                END IF;
            END IF;
        ELSIF c.status = 'swapped' THEN
            IF EXISTS (SELECT FROM @extschema@._tc_unvalidated(id) AS v WHERE v.conrelid = c.relation) THEN
                step := 'validate';
                detail := (SELECT 'NOT VALID: ' || pg_catalog.string_agg(v.conname, ', ') FROM @extschema@._tc_unvalidated(id) AS v WHERE v.conrelid = c.relation);
            ELSE
                step := 'finish';
                SELECT * INTO u FROM @extschema@._ec_last_use(c.relation, c.retired_column);
                detail := pg_catalog.format('%I (%s) waits to be dropped; last read %s, last written %s%s', c.retired_column, c.old_type,
                                            COALESCE(u.last_read::text, 'never'), COALESCE(u.last_write::text, 'never'),
                                            CASE WHEN u.recent THEN ', within safe_ddl.usage_window'
                                                 WHEN u.unproven THEN ', usage tracked for less than safe_ddl.usage_window' ELSE '' END);
            END IF;
        ELSE
            step := 'done';
            detail := pg_catalog.format('%I is %s', c.old_column, c.new_type);
        END IF;
        RETURN NEXT;
    END LOOP;
END
$$;

COMMENT ON FUNCTION @extschema@.type_change_status(pg_catalog.regclass, name, boolean) IS
  'The steps of a type change, per column: backfill, prepare, swap, validate, finish or done, with '
  'what is left (count_rows => false skips the count of rows out of step, a read of each table).';

CREATE FUNCTION @extschema@.cancel_type_change(relation pg_catalog.regclass, column_name name)
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    fn   constant text := 'safe_ddl.cancel_type_change';
    rel  pg_catalog.regclass := cancel_type_change.relation;
    id   bigint;
    c    @extschema@.column_changes;
    p    record;
    prev text;
    n    int := 0;
BEGIN
    id := @extschema@._tc_find(fn, rel, column_name);
    IF EXISTS (SELECT FROM @extschema@._tc_members(id) AS x WHERE x.status <> 'active') THEN
        RAISE EXCEPTION '%: the type change of %.% is swapped (on %)', fn, rel, column_name,
                        (SELECT pg_catalog.string_agg(x.relation::text, ', ') FROM @extschema@._tc_members(id) AS x WHERE x.status <> 'active')
        USING ERRCODE = 'object_not_in_prerequisite_state',
              DETAIL = 'The application writes the new columns under the old names now, and nothing writes the old columns any more.',
              HINT = pg_catalog.format('Finish it: CALL safe_ddl.swap_type_change(%L, %L); then CALL safe_ddl.finish_type_change(%L, %L);',
                                       @extschema@._rel_sql(rel), column_name, @extschema@._rel_sql(rel), column_name);
    END IF;
    -- Every table's lock up front, all or none (as begin and swap do): dropping one table's
    -- objects and then waiting for the next table's lock while holding the first would make the
    -- application's transactions that use both wait on it, and deadlock with it.
    EXECUTE @extschema@._tc_lock_sql(ARRAY(SELECT x.relation FROM @extschema@._tc_members(id) AS x));
    FOR c IN SELECT * FROM @extschema@._tc_members(id) LOOP
        -- The shadow's indexes (a brief lock each; they are the change's own), the trigger and its
        -- functions, the shadow column (through the guard: its usage check refuses while code
        -- uses it, unless the caller allows in_use).
        FOR p IN SELECT * FROM @extschema@._tc_index_plan(c.relation, c.old_column, c.new_column) WHERE new_index IS NOT NULL LOOP
            prev := @extschema@._ec_allow('index_drop');
            EXECUTE pg_catalog.format('DROP INDEX %s', p.new_index::pg_catalog.regclass);
            PERFORM @extschema@._ec_restore_allow(prev);
        END LOOP;
        PERFORM @extschema@._cc_drop_objects(c);
        IF @extschema@._tc_attnum(c.relation, c.new_column) IS NOT NULL THEN
            PERFORM @extschema@._cc_drop_column(fn, c.relation, c.new_column,
                pg_catalog.format('SELECT safe_ddl.cancel_type_change(%L, %L);', @extschema@._rel_sql(rel), column_name));
        END IF;
        PERFORM @extschema@._state('cc_close', pg_catalog.jsonb_build_object('change_id', c.change_id, 'status', 'cancelled')::text);
        n := n + 1;
    END LOOP;
    RETURN pg_catalog.format('cancelled the type change of %s.%I: dropped %s shadow column(s) and their dual writes', rel, column_name, n);
END
$$;

COMMENT ON FUNCTION @extschema@.cancel_type_change(pg_catalog.regclass, name) IS
  'Before the swap: drop the shadow columns, their indexes and dual-write triggers of a type change.';
