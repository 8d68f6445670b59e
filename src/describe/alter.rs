//! ALTER TABLE: one `AlterCmd` per subcommand, with the rewrite/scan answers worked out.

use std::ffi::CStr;

use pgrx::pg_sys::{self, NodeTag};
use pgrx::{is_a, PgList};

use crate::ddl::{AlterCmd, ConstraintKind, Ddl, NewConstraint, Rewrite, Target};
use crate::encoding::Sql;
use crate::pg_version::{self, ConstraintChange};

use super::analysis;
use super::names::{quoted, quoted_strings, target};

/// # Safety
/// `s` must be a valid raw AlterTableStmt; `full` the query string its locations refer to.
#[allow(non_upper_case_globals)]
pub unsafe fn describe(s: *mut pg_sys::AlterTableStmt, full: &Sql) -> Ddl {
    use pg_sys::AlterTableType::*;
    // SAFETY (whole function): raw parse nodes; casts follow tag checks.
    unsafe {
        let table = target((*s).relation);
        // ALTER INDEX / VIEW / SEQUENCE / TYPE share the node; only tables hold data at risk.
        let on_table = matches!(
            (*s).objtype,
            pg_sys::ObjectType::OBJECT_TABLE | pg_sys::ObjectType::OBJECT_FOREIGN_TABLE
        );
        let relkind = table
            .oid
            .map(|o| pg_sys::get_rel_relkind(pg_sys::Oid::from(o)) as u8)
            .unwrap_or(0);
        let mut cmds = Vec::new();
        // Subcommands Postgres runs as part of one written (ATTACH PARTITION's index builds).
        let mut extra = Vec::new();
        let mut any_default = false;
        for cmd in PgList::<pg_sys::AlterTableCmd>::from_pg((*s).cmds).iter_ptr() {
            let name = (*cmd).name;
            let column = quoted(name).unwrap_or_default();
            let def = (*cmd).def;
            let subtype = pg_version::alter_table_subtype((*cmd).subtype);
            // An index's or a materialized view's files are copied by SET TABLESPACE (and a
            // materialized view's rewritten by SET ACCESS METHOD) like a table's.
            let moves_storage = matches!(
                (*s).objtype,
                pg_sys::ObjectType::OBJECT_INDEX | pg_sys::ObjectType::OBJECT_MATVIEW
            ) && matches!(relkind, b'i' | b'm')
                && matches!(subtype, AT_SetTableSpace | AT_SetAccessMethod);
            let described = match subtype {
                _ if !(on_table || moves_storage) || table.oid.is_none() => AlterCmd::Other,
                AT_AddColumn if is_a(def, NodeTag::T_ColumnDef) => {
                    add_column(&table, relkind, def.cast(), full)
                }
                // A virtual generated column (18) stores nothing: a new type rewrites nothing.
                AT_AlterColumnType
                    if is_a(def, NodeTag::T_ColumnDef)
                        && !name.is_null()
                        && analysis::generated_kind(
                            table.oid.unwrap_or(0),
                            CStr::from_ptr(name),
                        ) == Some(b'v') =>
                {
                    AlterCmd::Other
                }
                AT_AlterColumnType if is_a(def, NodeTag::T_ColumnDef) && !name.is_null() => {
                    let rewrite = analysis::alter_type_rewrite(
                        table.oid.unwrap_or(0),
                        relkind,
                        CStr::from_ptr(name),
                        def.cast(),
                    );
                    let referenced_by = if rewrite.is_some() {
                        analysis::referencing_fks(table.oid.unwrap_or(0), CStr::from_ptr(name))
                    } else {
                        vec![]
                    };
                    // Only when it rewrites: the type then resolved above (no new error here).
                    let new_type = if rewrite.is_some() {
                        analysis::column_def_type_name(def.cast())
                    } else {
                        String::new()
                    };
                    AlterCmd::AlterType {
                        rewrite,
                        column,
                        new_type,
                        referenced_by,
                    }
                }
                // SET EXPRESSION (17+): a stored generated column is computed again for every row
                // (ATPrepCmd queues a rewrite); a virtual one (18) stores nothing.
                t if Some(t) == pg_version::set_expression_subtype() && !name.is_null() => {
                    if analysis::generated_kind(table.oid.unwrap_or(0), CStr::from_ptr(name))
                        == Some(b's')
                    {
                        AlterCmd::Rewrites(Rewrite::GeneratedExpression(column.clone()))
                    } else {
                        AlterCmd::Other
                    }
                }
                // ALTER CONSTRAINT ... ENFORCED (18) of a NOT ENFORCED foreign key validates it.
                // ALTER CONSTRAINT ... INHERIT (18) of a NO INHERIT not-null constraint sets NOT
                // NULL on every child, scanning each that is not NOT NULL yet.
                AT_AlterConstraint
                    if pg_version::altered_constraint_name(def, ConstraintChange::Inherit)
                        .is_some() =>
                {
                    let cname = pg_version::altered_constraint_name(def, ConstraintChange::Inherit)
                        .unwrap_or_default();
                    match analysis::no_inherit_not_null_column(table.oid.unwrap_or(0), cname) {
                        Some(raw) => {
                            let children: Vec<Target> =
                                analysis::inheritance_children(table.oid.unwrap_or(0))
                                    .into_iter()
                                    .filter(|c| {
                                        let Ok(col) = std::ffi::CString::new(raw.as_str()) else {
                                            return true;
                                        };
                                        !analysis::not_null_proven(c.oid.unwrap_or(0), &col)
                                    })
                                    .collect();
                            let col = std::ffi::CString::new(raw).unwrap_or_default();
                            AlterCmd::InheritNotNull {
                                constraint: quoted(cname.as_ptr()).unwrap_or_default(),
                                column: quoted(col.as_ptr()).unwrap_or_default(),
                                children,
                            }
                        }
                        None => AlterCmd::Other,
                    }
                }
                AT_AlterConstraint => {
                    match pg_version::altered_constraint_name(def, ConstraintChange::Enforce) {
                        Some(cname) => {
                            analysis::not_enforced_foreign_key(table.oid.unwrap_or(0), cname)
                                .map(|definition| AlterCmd::EnforceForeignKey {
                                    name: quoted(cname.as_ptr()).unwrap_or_default(),
                                    definition,
                                })
                                .unwrap_or(AlterCmd::Other)
                        }
                        None => AlterCmd::Other,
                    }
                }
                AT_SetNotNull if !name.is_null() => {
                    set_not_null(&table, CStr::from_ptr(name), column, None)
                }
                // ADD CONSTRAINT name NOT NULL col (18): validated, it is SET NOT NULL under
                // another name (the same scan, the same proof that skips it); NOT VALID scans
                // nothing.
                AT_AddConstraint if is_a(def, NodeTag::T_Constraint) => {
                    let c = constraint(def.cast(), full);
                    match (&c.kind, c.not_valid, c.columns.as_slice()) {
                        (ConstraintKind::NotNull, false, [col]) => {
                            let keys = PgList::<pg_sys::Node>::from_pg(
                                (*def.cast::<pg_sys::Constraint>()).keys,
                            );
                            let raw = keys.get_ptr(0).filter(|n| is_a(*n, NodeTag::T_String));
                            match raw {
                                Some(s) => set_not_null(
                                    &table,
                                    CStr::from_ptr((*s.cast::<pg_sys::String>()).sval),
                                    col.clone(),
                                    Some(c.name.clone().unwrap_or_default()),
                                ),
                                None => AlterCmd::AddConstraint(c),
                            }
                        }
                        _ => AlterCmd::AddConstraint(c),
                    }
                }
                AT_ValidateConstraint if !name.is_null() => AlterCmd::ValidateConstraint {
                    kind: analysis::validation_kind(table.oid.unwrap_or(0), CStr::from_ptr(name)),
                    name: column.clone(),
                },
                AT_DropColumn if !name.is_null() => {
                    let oid = table.oid.unwrap_or(0);
                    AlterCmd::DropColumn {
                        exists: analysis::column_exists(oid, CStr::from_ptr(name)),
                        created_in_transaction: crate::created::column_added_in_transaction(
                            oid, &column,
                        ),
                        column,
                    }
                }
                AT_SetLogged | AT_SetUnLogged => {
                    let oid = pg_sys::Oid::from(table.oid.unwrap_or(0));
                    let now = pg_sys::get_rel_persistence(oid) as u8;
                    let wanted = if subtype == AT_SetLogged { b'p' } else { b'u' };
                    // Already in the wanted state: Postgres does nothing.
                    if now == wanted || relkind == b'p' {
                        AlterCmd::Other
                    } else {
                        AlterCmd::Rewrites(Rewrite::Persistence)
                    }
                }
                AT_SetAccessMethod if !name.is_null() => {
                    if relkind == b'p'
                        || analysis::same_access_method(
                            table.oid.unwrap_or(0),
                            CStr::from_ptr(name),
                        )
                    {
                        AlterCmd::Other
                    } else {
                        AlterCmd::Rewrites(Rewrite::AccessMethod)
                    }
                }
                // SET ACCESS METHOD DEFAULT (17+): default_table_access_method.
                AT_SetAccessMethod
                    if relkind != b'p'
                        && !pg_sys::default_table_access_method.is_null()
                        && !analysis::same_access_method(
                            table.oid.unwrap_or(0),
                            CStr::from_ptr(pg_sys::default_table_access_method),
                        ) =>
                {
                    AlterCmd::Rewrites(Rewrite::AccessMethod)
                }
                AT_SetTableSpace if !name.is_null() => {
                    // A partitioned table has no data: only the default for new partitions changes.
                    if relkind == b'p'
                        || analysis::same_tablespace(table.oid.unwrap_or(0), CStr::from_ptr(name))
                    {
                        AlterCmd::Other
                    } else {
                        AlterCmd::Rewrites(Rewrite::Tablespace)
                    }
                }
                AT_AttachPartition if is_a(def, NodeTag::T_PartitionCmd) => {
                    let pc = def.cast::<pg_sys::PartitionCmd>();
                    let partition = target((*pc).name);
                    let (scan, default_partition) =
                        analysis::attach_scans(table.oid.unwrap_or(0), &partition, (*pc).bound);
                    if let Some(part) = partition.oid {
                        let (indexes, foreign_keys) =
                            super::attach_work::missing(table.oid.unwrap_or(0), part);
                        if !indexes.is_empty() || !foreign_keys.is_empty() {
                            extra.push(AlterCmd::AttachWork {
                                partition: partition.clone(),
                                indexes,
                                foreign_keys,
                            });
                        }
                    }
                    let bound_check = match (&scan, partition.oid) {
                        (Some(_), Some(p)) => super::partition_bound::bound_check_text(
                            table.oid.unwrap_or(0),
                            p,
                            (*pc).bound,
                        ),
                        _ => None,
                    };
                    AlterCmd::AttachPartition {
                        partition,
                        scan,
                        default_partition,
                        bound_check,
                    }
                }
                AT_DetachPartition if is_a(def, NodeTag::T_PartitionCmd) => {
                    let pc = def.cast::<pg_sys::PartitionCmd>();
                    AlterCmd::DetachPartition {
                        partition: target((*pc).name),
                        concurrent: (*pc).concurrent,
                    }
                }
                _ => AlterCmd::Other,
            };
            any_default |= subtype == AT_AddColumn
                && is_a(def, NodeTag::T_ColumnDef)
                && has_default(def.cast());
            cmds.push(described);
            cmds.append(&mut extra);
            // ADD PRIMARY KEY makes its key columns NOT NULL: the same scan as SET NOT NULL
            // (the same proof skips it), with or without USING INDEX.
            if on_table && subtype == AT_AddConstraint && is_a(def, NodeTag::T_Constraint) {
                let c = def.cast::<pg_sys::Constraint>();
                if (*c).contype == pg_sys::ConstrType::CONSTR_PRIMARY {
                    for raw in primary_key_columns(&table, c) {
                        let Ok(raw) = std::ffi::CString::new(raw) else {
                            continue;
                        };
                        let column = quoted(raw.as_ptr()).unwrap_or_default();
                        if let AlterCmd::SetNotNull {
                            proven: false,
                            column,
                            added_as,
                            pending,
                            ..
                        } = set_not_null(&table, &raw, column, None)
                        {
                            cmds.push(AlterCmd::SetNotNull {
                                proven: false,
                                column,
                                added_as,
                                pending,
                                primary_key: true,
                            });
                        }
                    }
                }
            }
        }
        // transformAlterTableStmt: FOREIGN KEYs declared inline on new columns are not validated
        // when no new column has a default and no ADD FOREIGN KEY is in the same statement.
        let explicit_fk = cmds.iter().any(
            |c| matches!(c, AlterCmd::AddConstraint(k) if k.kind == ConstraintKind::ForeignKey),
        );
        if !any_default && !explicit_fk {
            for c in cmds.iter_mut() {
                if let AlterCmd::AddColumn { constraints, .. } = c {
                    for k in constraints
                        .iter_mut()
                        .filter(|k| k.kind == ConstraintKind::ForeignKey)
                    {
                        k.not_valid = true;
                    }
                }
            }
        }
        Ddl::AlterTable { table, cmds }
    }
}

/// SET NOT NULL of `raw_col` (as the parser gave it; `column` quoted), or on 18 its twin
/// `ADD CONSTRAINT added_as NOT NULL col`: whether the scan is proven away, and a NOT VALID NOT
/// NULL constraint already on the column.
fn set_not_null(
    table: &Target,
    raw_col: &CStr,
    column: String,
    added_as: Option<String>,
) -> AlterCmd {
    let relid = table.oid.unwrap_or(0);
    AlterCmd::SetNotNull {
        proven: analysis::not_null_proven(relid, raw_col),
        column,
        added_as,
        pending: analysis::pending_not_null(relid, raw_col),
        primary_key: false,
    }
}

/// The key columns (as stored, unquoted) of ADD PRIMARY KEY (cols) or ADD PRIMARY KEY USING INDEX.
unsafe fn primary_key_columns(table: &Target, c: *mut pg_sys::Constraint) -> Vec<String> {
    // SAFETY: c is a raw Constraint; keys holds String nodes.
    unsafe {
        if (*c).indexname.is_null() {
            PgList::<pg_sys::Node>::from_pg((*c).keys)
                .iter_ptr()
                .filter(|n| is_a(*n, NodeTag::T_String))
                .map(|n| {
                    CStr::from_ptr((*n.cast::<pg_sys::String>()).sval)
                        .to_string_lossy()
                        .into_owned()
                })
                .collect()
        } else {
            analysis::index_key_columns(table.oid.unwrap_or(0), CStr::from_ptr((*c).indexname))
        }
    }
}

/// Does a new column get a default (explicit, generated, or serial's nextval)?
unsafe fn has_default(def: *mut pg_sys::ColumnDef) -> bool {
    // SAFETY: raw ColumnDef with Constraint nodes.
    unsafe {
        !(*def).raw_default.is_null()
            || PgList::<pg_sys::Node>::from_pg((*def).constraints)
                .iter_ptr()
                .any(|c| {
                    is_a(c, NodeTag::T_Constraint)
                        && matches!(
                            (*c.cast::<pg_sys::Constraint>()).contype,
                            pg_sys::ConstrType::CONSTR_DEFAULT
                                | pg_sys::ConstrType::CONSTR_GENERATED
                        )
                })
            || analysis::is_serial(def)
    }
}

unsafe fn add_column(
    table: &Target,
    relkind: u8,
    def: *mut pg_sys::ColumnDef,
    full: &Sql,
) -> AlterCmd {
    // SAFETY: def is a raw ColumnDef; its constraints are Constraint nodes.
    unsafe {
        let column = quoted((*def).colname).unwrap_or_default();
        let type_text = type_text((*def).typeName, full);
        let rewrite = analysis::add_column_rewrite(relkind, def);
        let constraints = PgList::<pg_sys::Node>::from_pg((*def).constraints)
            .iter_ptr()
            .filter(|n| is_a(*n, NodeTag::T_Constraint))
            .map(|n| constraint(n.cast(), full))
            .filter(|c| c.kind != ConstraintKind::Other)
            .collect();
        let _ = table;
        let default_text = PgList::<pg_sys::Node>::from_pg((*def).constraints)
            .iter_ptr()
            .filter(|n| is_a(*n, NodeTag::T_Constraint))
            .map(|n| n.cast::<pg_sys::Constraint>())
            .find_map(|c| match (*c).contype {
                pg_sys::ConstrType::CONSTR_DEFAULT => full
                    .rest_at((*c).location)
                    .and_then(crate::sqltext::default_expression),
                pg_sys::ConstrType::CONSTR_GENERATED => full
                    .rest_at((*c).location)
                    .and_then(|r| crate::sqltext::parenthesized_after(r, "as")),
                pg_sys::ConstrType::CONSTR_IDENTITY => Some(
                    if (*c).generated_when as u8 == b'a' {
                        "ALWAYS"
                    } else {
                        "BY DEFAULT"
                    }
                    .to_string(),
                ),
                _ => None,
            });
        let domain_base = match &rewrite {
            Some(crate::ddl::Rewrite::ColumnDefault(why))
                if why.starts_with("its type is a domain") =>
            {
                analysis::domain_base_name((*def).typeName)
            }
            _ => None,
        };
        AlterCmd::AddColumn {
            column,
            type_text,
            default_text,
            domain_base,
            rewrite,
            constraints,
        }
    }
}

/// The column type as written, for recipes.
unsafe fn type_text(tn: *mut pg_sys::TypeName, full: &Sql) -> String {
    if tn.is_null() {
        return "<type>".into();
    }
    // SAFETY: tn is a raw TypeName; its location points into `full`.
    let loc = unsafe { (*tn).location };
    full.rest_at(loc)
        .map(crate::sqltext::type_at)
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "<type>".into())
}

unsafe fn constraint(c: *mut pg_sys::Constraint, full: &Sql) -> NewConstraint {
    use pg_sys::ConstrType::*;
    // SAFETY: c is a raw Constraint node.
    unsafe {
        let kind = match (*c).contype {
            CONSTR_CHECK => ConstraintKind::Check,
            CONSTR_FOREIGN => ConstraintKind::ForeignKey,
            CONSTR_PRIMARY => ConstraintKind::PrimaryKey,
            CONSTR_UNIQUE => ConstraintKind::Unique,
            CONSTR_EXCLUSION => ConstraintKind::Exclusion,
            CONSTR_NOTNULL => ConstraintKind::NotNull,
            _ => ConstraintKind::Other,
        };
        let columns = if kind == ConstraintKind::ForeignKey {
            quoted_strings((*c).fk_attrs)
        } else {
            quoted_strings((*c).keys)
        };
        let expr_text = (kind == ConstraintKind::Check)
            .then(|| full.rest_at((*c).location))
            .flatten()
            .and_then(crate::sqltext::check_expression);
        NewConstraint {
            kind,
            name: quoted((*c).conname),
            not_valid: (*c).skip_validation,
            using_index: !(*c).indexname.is_null(),
            columns,
            referenced: (kind == ConstraintKind::ForeignKey).then(|| target((*c).pktable)),
            ref_columns: quoted_strings((*c).pk_attrs),
            expr_text,
            without_overlaps: pg_version::constraint_without_overlaps(c),
        }
    }
}
