//! The catalog questions that decide whether an ALTER TABLE subcommand rewrites or scans, answered
//! the way tablecmds.c answers them (PostgreSQL 15), without locking the table.

use std::ffi::CStr;

use pgrx::pg_sys::{self, NodeTag};
use pgrx::{is_a, PgList, Spi};

use crate::ddl::Rewrite;

use super::names::opt_str;

/// Column facts from pg_attribute.
struct Column {
    attnum: i16,
    typid: pg_sys::Oid,
    typmod: i32,
    collation: pg_sys::Oid,
    not_null: bool,
}

/// The attribute number of user column `name` of `relid` (syscache), None if it is missing or
/// dropped.
fn attnum(relid: pg_sys::Oid, name: &CStr) -> Option<i16> {
    // SAFETY: a syscache lookup inside a transaction; get_attnum returns 0 for a missing or
    // dropped column.
    let attnum = unsafe { pg_sys::get_attnum(relid, name.as_ptr()) };
    (attnum > 0).then_some(attnum)
}

/// The type of column `name` of `relid` as Postgres names it (format_type), for recipes; empty
/// when there is no such column. Syscache only.
pub fn column_type_name(relid: u32, name: &CStr) -> String {
    let relid = pg_sys::Oid::from(relid);
    let Some(attnum) = attnum(relid, name) else {
        return String::new();
    };
    // SAFETY: syscache lookups inside a transaction, on an existing column.
    unsafe {
        let (mut typid, mut typmod, mut collation) = (pg_sys::InvalidOid, -1, pg_sys::InvalidOid);
        pg_sys::get_atttypetypmodcoll(relid, attnum, &mut typid, &mut typmod, &mut collation);
        type_name(typid, typmod)
    }
}

fn column(relid: pg_sys::Oid, name: &CStr) -> Option<Column> {
    let attnum = attnum(relid, name)?;
    // SAFETY: syscache lookups inside a transaction, on an existing column.
    unsafe {
        let (mut typid, mut typmod, mut collation) = (pg_sys::InvalidOid, -1, pg_sys::InvalidOid);
        pg_sys::get_atttypetypmodcoll(relid, attnum, &mut typid, &mut typmod, &mut collation);
        let not_null = crate::spi_ro::get_one_with_args::<bool>(
            &format!(
                "SELECT {} FROM pg_catalog.pg_attribute WHERE attrelid OPERATOR(pg_catalog.=) $1 AND attnum OPERATOR(pg_catalog.=) $2",
                crate::pg_version::VALID_NOT_NULL_SQL
            ),
            &[relid.into(), attnum.into()],
        )
        .ok()
        .flatten()
        .unwrap_or(false);
        Some(Column {
            attnum,
            typid,
            typmod,
            collation,
            not_null,
        })
    }
}

pub fn column_exists(relid: u32, name: &CStr) -> bool {
    column(pg_sys::Oid::from(relid), name).is_some()
}

/// The validated foreign keys of other tables that reference column `name` of `relid` (top-level
/// constraints only: a partitioned referencing table's clones are its own). Nothing on error.
pub fn referencing_fks(relid: u32, name: &CStr) -> Vec<crate::ddl::ReferencingFk> {
    let relid = pg_sys::Oid::from(relid);
    let Some(col) = column(relid, name) else {
        return vec![];
    };
    Spi::connect(|client| {
        let rows = client.select(
            "SELECT c.conrelid, pg_catalog.quote_ident(c.conname::pg_catalog.text), \
                    pg_catalog.pg_get_constraintdef(c.oid), \
                    pg_catalog.quote_ident(n.nspname::pg_catalog.text) OPERATOR(pg_catalog.||) '.' \
                      OPERATOR(pg_catalog.||) pg_catalog.quote_ident(r.relname::pg_catalog.text) \
             FROM pg_catalog.pg_constraint c \
             JOIN pg_catalog.pg_class r ON r.oid OPERATOR(pg_catalog.=) c.conrelid \
             JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) r.relnamespace \
             WHERE c.contype OPERATOR(pg_catalog.=) 'f' AND c.confrelid OPERATOR(pg_catalog.=) $1 \
               AND c.conrelid OPERATOR(pg_catalog.<>) $1 \
               AND c.conparentid OPERATOR(pg_catalog.=) 0::pg_catalog.oid AND c.convalidated \
               AND $2 OPERATOR(pg_catalog.=) ANY (c.confkey) \
             ORDER BY c.oid",
            None,
            &[relid.into(), col.attnum.into()],
        )?;
        let mut out = Vec::new();
        for row in rows {
            let (Some(oid), Some(name), Some(definition), Some(written)) = (
                row.get::<pg_sys::Oid>(1)?,
                row.get::<String>(2)?,
                row.get::<String>(3)?,
                row.get::<String>(4)?,
            ) else {
                continue;
            };
            out.push(crate::ddl::ReferencingFk {
                table: crate::ddl::Target {
                    oid: Some(oid.to_u32()),
                    written,
                },
                name,
                definition,
            });
        }
        Ok::<_, pgrx::spi::Error>(out)
    })
    .unwrap_or_default()
}

/// ALTER COLUMN TYPE: does Postgres rewrite? Mirrors ATPrepAlterColumnType (coerce, plan) and
/// ATColumnChangeRequiresRewrite. None = no rewrite, or a statement Postgres will reject.
pub unsafe fn alter_type_rewrite(
    relid: u32,
    relkind: u8,
    name: &CStr,
    def: *mut pg_sys::ColumnDef,
) -> Option<Rewrite> {
    if !matches!(relkind, b'r' | b'p') {
        return None; // only tables have data to rewrite
    }
    let col = column(pg_sys::Oid::from(relid), name)?;
    // SAFETY (whole block): standard parser/planner calls on nodes we own (copied first).
    unsafe {
        let (mut target, mut target_mod) = (pg_sys::InvalidOid, -1);
        pg_sys::typenameTypeIdAndMod(
            std::ptr::null_mut(),
            (*def).typeName,
            &mut target,
            &mut target_mod,
        );
        let mut expr = pg_sys::makeVar(1, col.attnum, col.typid, col.typmod, col.collation, 0)
            .cast::<pg_sys::Node>();
        let using = (*def).raw_default;
        if !using.is_null() {
            match using_cast(using, name) {
                UsingForm::SameColumn => {}
                UsingForm::Cast(type_name) => {
                    let (mut t, mut m) = (pg_sys::InvalidOid, -1);
                    pg_sys::typenameTypeIdAndMod(std::ptr::null_mut(), type_name, &mut t, &mut m);
                    expr = pg_sys::coerce_to_target_type(
                        std::ptr::null_mut(),
                        expr,
                        col.typid,
                        t,
                        m,
                        pg_sys::CoercionContext::COERCION_EXPLICIT,
                        pg_sys::CoercionForm::COERCE_EXPLICIT_CAST,
                        -1,
                    );
                    if expr.is_null() {
                        return None;
                    }
                }
                UsingForm::Expression => {
                    return Some(Rewrite::ColumnType("USING computes new values".into()))
                }
            }
        }
        let from = pg_sys::exprType(expr);
        let coerced = pg_sys::coerce_to_target_type(
            std::ptr::null_mut(),
            expr,
            from,
            target,
            target_mod,
            pg_sys::CoercionContext::COERCION_ASSIGNMENT,
            pg_sys::CoercionForm::COERCE_IMPLICIT_CAST,
            -1,
        );
        if coerced.is_null() {
            return None; // Postgres will say it cannot cast automatically
        }
        // A cast through a function a role wrote is not planned (planning would run or inline
        // it); unplanned, a function call counts as a rewrite, as it does in Postgres.
        let planned = super::fold::plan(coerced).unwrap_or(coerced);
        if !requires_rewrite(planned, col.attnum) {
            return None;
        }
        let old = type_name(col.typid, col.typmod);
        let new = type_name(target, target_mod);
        Some(Rewrite::ColumnType(format!(
            "{old} to {new} is not binary coercible"
        )))
    }
}

enum UsingForm {
    SameColumn,
    Cast(*mut pg_sys::TypeName),
    Expression,
}

/// USING col, or USING col::type; anything else computes new values and rewrites.
unsafe fn using_cast(node: *mut pg_sys::Node, column: &CStr) -> UsingForm {
    // SAFETY: raw parse nodes; casts follow tag checks.
    unsafe {
        let is_column = |n: *mut pg_sys::Node| {
            if !is_a(n, NodeTag::T_ColumnRef) {
                return false;
            }
            let fields = PgList::<pg_sys::Node>::from_pg((*n.cast::<pg_sys::ColumnRef>()).fields);
            match fields.iter_ptr().last() {
                Some(last) if is_a(last, NodeTag::T_String) => {
                    CStr::from_ptr((*last.cast::<pg_sys::String>()).sval) == column
                }
                _ => false,
            }
        };
        if is_column(node) {
            return UsingForm::SameColumn;
        }
        if is_a(node, NodeTag::T_TypeCast) {
            let tc = node.cast::<pg_sys::TypeCast>();
            if is_column((*tc).arg) {
                return UsingForm::Cast((*tc).typeName);
            }
        }
        UsingForm::Expression
    }
}

/// ATColumnChangeRequiresRewrite (tablecmds.c): only relabelings, unconstrained domains and the
/// timestamp <-> timestamptz conversion under a UTC session leave the stored bytes unchanged.
unsafe fn requires_rewrite(mut expr: *mut pg_sys::Node, attnum: i16) -> bool {
    // SAFETY: planner output nodes; casts follow tag checks.
    unsafe {
        loop {
            if expr.is_null() {
                return true;
            }
            if is_a(expr, NodeTag::T_Var) && (*expr.cast::<pg_sys::Var>()).varattno == attnum {
                return false;
            } else if is_a(expr, NodeTag::T_RelabelType) {
                expr = (*expr.cast::<pg_sys::RelabelType>()).arg.cast();
            } else if is_a(expr, NodeTag::T_CoerceToDomain) {
                let d = expr.cast::<pg_sys::CoerceToDomain>();
                if super::fold::domain_has_constraints((*d).resulttype) {
                    return true;
                }
                expr = (*d).arg.cast();
            } else if is_a(expr, NodeTag::T_FuncExpr) {
                let f = expr.cast::<pg_sys::FuncExpr>();
                let fid = (*f).funcid;
                let ts = fid == pg_sys::Oid::from(2027) || fid == pg_sys::Oid::from(2028); // timestamptz_timestamp, timestamp_timestamptz
                if ts && !pg_sys::TimestampTimestampTzRequiresRewrite() {
                    expr = PgList::<pg_sys::Node>::from_pg((*f).args)
                        .get_ptr(0)
                        .unwrap_or(std::ptr::null_mut());
                } else {
                    return true;
                }
            } else {
                return true;
            }
        }
    }
}

/// The type of a ColumnDef as Postgres names it (format_type_with_typemod), e.g. `bigint`,
/// `character varying(20)`; for a type that already resolved (no error of its own otherwise).
pub unsafe fn column_def_type_name(def: *mut pg_sys::ColumnDef) -> String {
    // SAFETY: def is a raw ColumnDef whose typeName resolved before (alter_type_rewrite).
    unsafe {
        if def.is_null() || (*def).typeName.is_null() {
            return String::new();
        }
        let (mut t, mut m) = (pg_sys::InvalidOid, -1);
        pg_sys::typenameTypeIdAndMod(std::ptr::null_mut(), (*def).typeName, &mut t, &mut m);
        type_name(t, m)
    }
}

/// The base type of a domain named by `tn` (format_type), None when it is no domain.
pub unsafe fn domain_base_name(tn: *mut pg_sys::TypeName) -> Option<String> {
    // SAFETY: tn is a raw TypeName that resolved before (add_column_rewrite).
    unsafe {
        if tn.is_null() {
            return None;
        }
        let (mut t, mut m) = (pg_sys::InvalidOid, -1);
        pg_sys::typenameTypeIdAndMod(std::ptr::null_mut(), tn, &mut t, &mut m);
        let base = pg_sys::getBaseTypeAndTypmod(t, &mut m);
        (base != t).then(|| type_name(base, m))
    }
}

fn type_name(typid: pg_sys::Oid, typmod: i32) -> String {
    // SAFETY: format_type_with_typemod returns a palloc'd string for any type OID.
    unsafe { opt_str(pg_sys::format_type_with_typemod(typid, typmod)) }.unwrap_or_default()
}

/// ADD COLUMN: does Postgres fill it per row (rewrite) instead of storing a "missing" value?
/// Mirrors ATExecAddColumn: identity, GENERATED STORED, a domain with constraints, or a default
/// that is volatile after planning.
pub unsafe fn add_column_rewrite(relkind: u8, def: *mut pg_sys::ColumnDef) -> Option<Rewrite> {
    if !matches!(relkind, b'r' | b'p') {
        return None;
    }
    // SAFETY (whole block): raw parse nodes (copied before transformation) and parser calls.
    unsafe {
        let mut raw_default: *mut pg_sys::Node = (*def).raw_default;
        for c in PgList::<pg_sys::Node>::from_pg((*def).constraints).iter_ptr() {
            if !is_a(c, NodeTag::T_Constraint) {
                continue;
            }
            let c = c.cast::<pg_sys::Constraint>();
            match (*c).contype {
                pg_sys::ConstrType::CONSTR_IDENTITY => {
                    return Some(Rewrite::ColumnDefault(
                        "an identity column gets a sequence value per row".into(),
                    ))
                }
                pg_sys::ConstrType::CONSTR_GENERATED
                    if !crate::pg_version::generated_is_virtual(c) =>
                {
                    return Some(Rewrite::ColumnDefault(
                        "GENERATED ... STORED computes a value per row".into(),
                    ))
                }
                pg_sys::ConstrType::CONSTR_DEFAULT => raw_default = (*c).raw_expr,
                _ => {}
            }
        }
        if let Some(serial) = serial_type(def) {
            return Some(Rewrite::ColumnDefault(format!(
                "{serial} gets a sequence value per row"
            )));
        }
        let (mut typid, mut typmod) = (pg_sys::InvalidOid, -1);
        pg_sys::typenameTypeIdAndMod(
            std::ptr::null_mut(),
            (*def).typeName,
            &mut typid,
            &mut typmod,
        );
        if super::fold::domain_has_constraints(typid) {
            return Some(Rewrite::ColumnDefault(
                "its type is a domain with constraints, checked per row".into(),
            ));
        }
        if !raw_default.is_null() && !super::fold::literal_input_safe(raw_default, typid) {
            return Some(Rewrite::ColumnDefault(
                "reading a literal in its default would run the CHECK constraint of a domain that calls a function \
                 that is not built in, and safe_ddl evaluates nothing, so it is assumed to be computed per row"
                    .into(),
            ));
        }
        let cooked = if raw_default.is_null() {
            // A domain's own default applies when the column has none.
            pg_sys::get_typdefault(typid)
        } else {
            let (pstate, expr) = transform_assigned(
                raw_default,
                pg_sys::ParseExprKind::EXPR_KIND_COLUMN_DEFAULT,
                typid,
                typmod,
            );
            if !expr.is_null() {
                pg_sys::assign_expr_collations(pstate, expr);
            }
            expr
        };
        if cooked.is_null() {
            return None;
        }
        // Postgres plans the default, then computes it once unless it is volatile. A default
        // calling a function a role wrote is not planned here (planning would run immutable
        // ones and inline SQL ones): unplanned it is volatile whenever planned it could be.
        let planned = super::fold::plan(cooked).unwrap_or(cooked);
        if pg_sys::contain_volatile_functions(planned) {
            return Some(Rewrite::ColumnDefault(
                "its default is volatile, so it is computed per row".into(),
            ));
        }
        None
    }
}

/// Parse-analyse a copy of the raw expression `raw` (its parse tree stays untouched) and coerce it
/// to `typid`/`typmod` by assignment, as cookDefault and transformPartitionBoundValue do. The
/// expression is NULL when it cannot be coerced (Postgres reports that itself); collations are
/// left to the caller, which the two callers assign differently.
pub(super) unsafe fn transform_assigned(
    raw: *mut pg_sys::Node,
    kind: pg_sys::ParseExprKind::Type,
    typid: pg_sys::Oid,
    typmod: i32,
) -> (*mut pg_sys::ParseState, *mut pg_sys::Node) {
    // SAFETY: parser calls on a copy of a raw expression, inside a transaction.
    unsafe {
        let pstate = pg_sys::make_parsestate(std::ptr::null_mut());
        let raw = pg_sys::copyObjectImpl(raw.cast()).cast::<pg_sys::Node>();
        let expr = pg_sys::transformExpr(pstate, raw, kind);
        let expr = pg_sys::coerce_to_target_type(
            pstate,
            expr,
            pg_sys::exprType(expr),
            typid,
            typmod,
            pg_sys::CoercionContext::COERCION_ASSIGNMENT,
            pg_sys::CoercionForm::COERCE_IMPLICIT_CAST,
            -1,
        );
        (pstate, expr)
    }
}

/// serial, bigserial, smallserial (and serial2/4/8), unqualified or in pg_catalog.
pub unsafe fn is_serial(def: *mut pg_sys::ColumnDef) -> bool {
    // SAFETY: as serial_type.
    unsafe { serial_type(def).is_some() }
}

unsafe fn serial_type(def: *mut pg_sys::ColumnDef) -> Option<String> {
    // SAFETY: TypeName.names is a List of String nodes.
    unsafe {
        let tn = (*def).typeName;
        if tn.is_null() || !(*tn).arrayBounds.is_null() {
            return None;
        }
        let names = PgList::<pg_sys::Node>::from_pg((*tn).names);
        let parts: Vec<String> = names
            .iter_ptr()
            .filter(|n| is_a(*n, NodeTag::T_String))
            .filter_map(|n| opt_str((*n.cast::<pg_sys::String>()).sval))
            .collect();
        let last = parts.last()?.to_ascii_lowercase();
        let qualified_ok = parts.len() == 1 || (parts.len() == 2 && parts[0] == "pg_catalog");
        let serial = matches!(
            last.as_str(),
            "serial" | "bigserial" | "smallserial" | "serial2" | "serial4" | "serial8"
        );
        (qualified_ok && serial).then_some(last)
    }
}

/// A column's pg_attribute.attgenerated ('s' stored, 'v' virtual on 18), None if it is not a
/// generated column or does not exist.
pub fn generated_kind(relid: u32, name: &CStr) -> Option<u8> {
    let rel = pg_sys::Oid::from(relid);
    let attnum = attnum(rel, name)?;
    // SAFETY: a syscache lookup inside a transaction, on an existing column.
    let kind = unsafe { pg_sys::get_attgenerated(rel, attnum) } as u8;
    (kind != 0).then_some(kind)
}

/// SET NOT NULL: is the column already NOT NULL, or do validated CHECK constraints prove
/// `col IS NOT NULL` (NotNullImpliedByRelConstraints)? Reads pg_constraint, so no table lock.
pub fn not_null_proven(relid: u32, name: &CStr) -> bool {
    let rel = pg_sys::Oid::from(relid);
    let Some(col) = column(rel, name) else {
        return true;
    };
    if col.not_null {
        return true;
    }
    // SAFETY: nodes built here and read from pg_constraint.conbin (nodeToString output).
    unsafe {
        let exist = known_constraints(rel, false);
        if exist.is_null() {
            return false;
        }
        let test =
            pg_sys::palloc0(std::mem::size_of::<pg_sys::NullTest>()).cast::<pg_sys::NullTest>();
        (*test).xpr.type_ = NodeTag::T_NullTest;
        (*test).arg =
            pg_sys::makeVar(1, col.attnum, col.typid, col.typmod, col.collation, 0).cast();
        (*test).nulltesttype = pg_sys::NullTestType::IS_NOT_NULL;
        (*test).argisrow = false;
        (*test).location = -1;
        let test_list = pg_sys::lappend(std::ptr::null_mut(), test.cast());
        pg_sys::predicate_implied_by(test_list, exist, true)
    }
}

/// The NOT VALID NOT NULL constraint on column `name` of `relid` (18; quoted), if any.
pub fn pending_not_null(relid: u32, name: &CStr) -> Option<String> {
    if !crate::pg_version::not_null_not_valid() {
        return None;
    }
    let rel = pg_sys::Oid::from(relid);
    let attnum = attnum(rel, name)?;
    crate::spi_ro::get_one_with_args::<String>(
        "SELECT pg_catalog.quote_ident(conname) FROM pg_catalog.pg_constraint \
         WHERE conrelid OPERATOR(pg_catalog.=) $1 AND contype OPERATOR(pg_catalog.=) 'n' \
           AND NOT convalidated AND conkey OPERATOR(pg_catalog.=) ARRAY[$2::pg_catalog.int2]",
        &[rel.into(), attnum.into()],
    )
    .ok()
    .flatten()
}

/// What the validated CHECK constraints of `rel` (and, with `not_null`, its NOT NULL columns as
/// `IS NOT NULL` tests) already guarantee, as an implicit-AND list for predicate_implied_by: the
/// list ConstraintImpliedByRelConstraint builds, except that a constraint is constant-folded only
/// when that cannot run a function a role wrote (`fold`); one that calls such a function is used
/// as written, so it can prove less, never more.
///
/// # Safety
/// Inside a transaction.
pub(super) unsafe fn known_constraints(rel: pg_sys::Oid, not_null: bool) -> *mut pg_sys::List {
    let checks = super::fold::catalog_texts(
        "SELECT conbin::pg_catalog.text FROM pg_catalog.pg_constraint \
         WHERE conrelid OPERATOR(pg_catalog.=) $1 AND contype OPERATOR(pg_catalog.=) 'c' \
         AND convalidated AND conbin IS NOT NULL ORDER BY oid",
        &[rel.into()],
    )
    .unwrap_or_default();
    let not_null_columns: Vec<i16> = if not_null {
        Spi::connect(|client| {
            let rows = client.select(
                &format!(
                    "SELECT attnum FROM pg_catalog.pg_attribute WHERE attrelid OPERATOR(pg_catalog.=) $1 \
                     AND attnum OPERATOR(pg_catalog.>) 0 AND {} AND NOT attisdropped ORDER BY attnum",
                    crate::pg_version::VALID_NOT_NULL_SQL
                ),
                None,
                &[rel.into()],
            )?;
            let mut out = Vec::new();
            for row in rows {
                if let Some(a) = row.get::<i16>(1)? {
                    out.push(a);
                }
            }
            Ok::<_, pgrx::spi::Error>(out)
        })
        .unwrap_or_default()
    } else {
        vec![]
    };
    // SAFETY: nodes built here and read from pg_constraint.conbin (nodeToString output).
    unsafe {
        let mut exist: *mut pg_sys::List = std::ptr::null_mut();
        for attnum in not_null_columns {
            let (mut typid, mut typmod, mut collation) =
                (pg_sys::InvalidOid, -1, pg_sys::InvalidOid);
            pg_sys::get_atttypetypmodcoll(rel, attnum, &mut typid, &mut typmod, &mut collation);
            let test =
                pg_sys::palloc0(std::mem::size_of::<pg_sys::NullTest>()).cast::<pg_sys::NullTest>();
            (*test).xpr.type_ = NodeTag::T_NullTest;
            (*test).arg = pg_sys::makeVar(1, attnum, typid, typmod, collation, 0).cast();
            (*test).nulltesttype = pg_sys::NullTestType::IS_NOT_NULL;
            (*test).argisrow = false;
            (*test).location = -1;
            exist = pg_sys::lappend(exist, test.cast());
        }
        for text in checks {
            let Ok(c) = std::ffi::CString::new(text) else {
                continue;
            };
            let expr = pg_sys::stringToNode(c.as_ptr()).cast::<pg_sys::Node>();
            let expr = super::fold::fold(expr).unwrap_or(expr);
            let expr = pg_sys::canonicalize_qual(expr.cast(), true);
            exist = pg_sys::list_concat(exist, pg_sys::make_ands_implicit(expr));
        }
        exist
    }
}

/// ATTACH PARTITION: will Postgres scan the new partition (Some(why)), and the parent's default
/// partition (Some(it))? A table is not scanned when its validated constraints prove what the
/// scan would check (QueuePartitionConstraintValidation).
pub unsafe fn attach_scans(
    parent: u32,
    partition: &crate::ddl::Target,
    bound: *mut pg_sys::PartitionBoundSpec,
) -> (Option<String>, Option<crate::ddl::Target>) {
    let Some(part) = partition.oid else {
        return (None, None);
    };
    let attaching_default = bound.is_null() || unsafe { (*bound).is_default };
    let default = if attaching_default {
        None
    } else {
        default_partition(parent)
    };
    let default_oid = default.as_ref().and_then(|d| d.oid).map(pg_sys::Oid::from);
    // SAFETY: see partition_bound.rs.
    let proofs = unsafe { super::partition_bound::proofs(parent, Some(part), default_oid, bound) };
    use super::partition_bound::Unproven;
    let why = match proofs {
        // Postgres rejects the statement with its own error: nothing to judge.
        Err(Unproven::Rejected) => return (None, None),
        Ok((part_ok, default_ok)) => {
            return (
                (!part_ok)
                    .then(|| "reads every row to check it fits the partition bound".to_string()),
                default.filter(|_| default_ok == Some(false)),
            )
        }
        Err(Unproven::Locked) => {
            "the tables are locked by another session, so their constraints could not be inspected"
        }
        Err(Unproven::Unevaluated) => {
            "the bound is not a constant or a partition key calls a function that is not built in, \
             and safe_ddl evaluates nothing, so it is assumed to scan"
        }
    };
    (
        Some(format!(
            "will read every row to check the bound unless constraints prove it ({why})"
        )),
        default,
    )
}

/// SET ACCESS METHOD to the one the table already has is a no-op.
pub fn same_access_method(relid: u32, name: &CStr) -> bool {
    // SAFETY: catalog lookup; missing_ok.
    let wanted = unsafe { pg_sys::get_table_am_oid(name.as_ptr(), true) };
    let current = crate::spi_ro::get_one_with_args::<pg_sys::Oid>(
        "SELECT relam FROM pg_catalog.pg_class WHERE oid OPERATOR(pg_catalog.=) $1",
        &[pg_sys::Oid::from(relid).into()],
    )
    .ok()
    .flatten();
    current == Some(wanted)
}

/// The column (name as stored) of NO INHERIT not-null constraint `name` of `relid` (18), if it is one.
pub fn no_inherit_not_null_column(relid: u32, name: &CStr) -> Option<String> {
    crate::spi_ro::get_one_with_args::<String>(
        "SELECT a.attname::pg_catalog.text FROM pg_catalog.pg_constraint c \
         JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) c.conrelid \
           AND a.attnum OPERATOR(pg_catalog.=) c.conkey[1] \
         WHERE c.conrelid OPERATOR(pg_catalog.=) $1 AND c.conname OPERATOR(pg_catalog.=) $2::pg_catalog.name \
           AND c.contype OPERATOR(pg_catalog.=) 'n' AND c.connoinherit",
        &[pg_sys::Oid::from(relid).into(), name.to_string_lossy().as_ref().into()],
    )
    .ok()
    .flatten()
}

/// The direct inheritance children of `relid`, qualified and quoted.
pub fn inheritance_children(relid: u32) -> Vec<crate::ddl::Target> {
    super::data_work::relations(
        &format!(
            "SELECT c.oid, {} FROM pg_catalog.pg_inherits i \
             JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) i.inhrelid \
             JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace \
             WHERE i.inhparent OPERATOR(pg_catalog.=) $1 ORDER BY 2",
            super::data_work::QUALIFIED
        ),
        &[pg_sys::Oid::from(relid).into()],
    )
}

/// The key columns (names as stored) of index `name` of table `relid`, in its schema (ADD PRIMARY
/// KEY ... USING INDEX); nothing when there is no such index (Postgres reports it).
pub fn index_key_columns(relid: u32, name: &CStr) -> Vec<String> {
    let rel = pg_sys::Oid::from(relid);
    crate::spi_ro::get_one_with_args::<Vec<String>>(
        "SELECT ARRAY(SELECT a.attname::pg_catalog.text \
           FROM pg_catalog.pg_index i \
           JOIN pg_catalog.pg_class ic ON ic.oid OPERATOR(pg_catalog.=) i.indexrelid \
           JOIN pg_catalog.pg_class t ON t.oid OPERATOR(pg_catalog.=) i.indrelid \
           JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) i.indrelid \
             AND a.attnum OPERATOR(pg_catalog.=) ANY (i.indkey::pg_catalog.int2[]) AND a.attnum OPERATOR(pg_catalog.>) 0 \
           WHERE i.indrelid OPERATOR(pg_catalog.=) $1 AND ic.relnamespace OPERATOR(pg_catalog.=) t.relnamespace \
             AND ic.relname OPERATOR(pg_catalog.=) $2::pg_catalog.name \
           ORDER BY a.attnum)",
        &[rel.into(), name.to_string_lossy().as_ref().into()],
    )
    .ok()
    .flatten()
    .unwrap_or_default()
}

/// SET TABLESPACE to the one the table is in is a no-op (ATExecSetTableSpace).
pub fn same_tablespace(relid: u32, name: &CStr) -> bool {
    // SAFETY: catalog lookups; missing_ok.
    unsafe {
        let wanted = pg_sys::get_tablespace_oid(name.as_ptr(), true);
        let current = pg_sys::get_rel_tablespace(pg_sys::Oid::from(relid));
        wanted == current
            || (current == pg_sys::InvalidOid && wanted == pg_sys::MyDatabaseTableSpace)
    }
}

/// The default partition of a partitioned table, if it has one.
pub fn default_partition(parent: u32) -> Option<crate::ddl::Target> {
    let oid = crate::spi_ro::get_one_with_args::<pg_sys::Oid>(
        // oid <> int would pick an <>(oid, int) defined in any schema on the search_path: the
        // operator and the constant's type are pg_catalog's.
        "SELECT partdefid FROM pg_catalog.pg_partitioned_table \
         WHERE partrelid OPERATOR(pg_catalog.=) $1 AND partdefid OPERATOR(pg_catalog.<>) 0::pg_catalog.oid",
        &[pg_sys::Oid::from(parent).into()],
    )
    .ok()
    .flatten()?;
    Some(crate::ddl::Target {
        oid: Some(oid.to_u32()),
        written: String::new(),
    })
}

/// CREATE TABLE ... PARTITION OF: the parent's default partition, if Postgres will scan it to
/// check that none of its rows belong to the new partition (check_default_partition_contents).
pub unsafe fn create_partition_default_scan(
    parent: u32,
    bound: *mut pg_sys::PartitionBoundSpec,
) -> Option<crate::ddl::Target> {
    if bound.is_null() || unsafe { (*bound).is_default } {
        return None;
    }
    let default = default_partition(parent)?;
    let oid = default.oid.map(pg_sys::Oid::from);
    // SAFETY: see partition_bound.rs.
    match unsafe { super::partition_bound::proofs(parent, None, oid, bound) } {
        Ok((_, Some(true))) => None,
        _ => Some(default),
    }
}

/// VALIDATE CONSTRAINT `name` of `relid`: Check or ForeignKey when the constraint is one of those
/// and not validated yet (Postgres reads every row to validate it), else Other (already valid,
/// another kind, or no such constraint yet). Other on error.
pub fn validation_kind(relid: u32, name: &CStr) -> crate::ddl::ConstraintKind {
    use crate::ddl::ConstraintKind;
    let Ok(name) = name.to_str() else {
        return ConstraintKind::Other;
    };
    let contype = crate::spi_ro::get_one_with_args::<String>(
        "SELECT c.contype::pg_catalog.text FROM pg_catalog.pg_constraint c \
         WHERE c.conrelid OPERATOR(pg_catalog.=) $1 AND c.conname OPERATOR(pg_catalog.=) $2 \
           AND NOT c.convalidated",
        &[pg_sys::Oid::from(relid).into(), name.into()],
    );
    match contype.ok().flatten().as_deref() {
        Some("c") => ConstraintKind::Check,
        Some("f") => ConstraintKind::ForeignKey,
        // A NOT NULL constraint added NOT VALID (18).
        Some("n") => ConstraintKind::NotNull,
        _ => ConstraintKind::Other,
    }
}

/// The definition of foreign key `name` of `relid` when it is NOT ENFORCED (18), without those
/// words (pg_get_constraintdef deparses the catalog; nothing is run). None for anything else.
pub fn not_enforced_foreign_key(relid: u32, name: &CStr) -> Option<String> {
    if !crate::pg_version::not_enforced_constraints() {
        return None;
    }
    let name = name.to_str().ok()?;
    crate::spi_ro::get_one_with_args::<String>(
        "SELECT pg_catalog.pg_get_constraintdef(c.oid) FROM pg_catalog.pg_constraint c \
         WHERE c.conrelid OPERATOR(pg_catalog.=) $1 AND c.conname OPERATOR(pg_catalog.=) $2 \
           AND c.contype OPERATOR(pg_catalog.=) 'f' AND NOT c.conenforced",
        &[pg_sys::Oid::from(relid).into(), name.into()],
    )
    .ok()
    .flatten()
    // pg_get_constraintdef ends the definition with NOT ENFORCED; only that suffix goes (a quoted
    // name may hold the same words).
    .map(|d| {
        d.strip_suffix(" NOT ENFORCED")
            .map(str::to_owned)
            .unwrap_or(d)
    })
}
