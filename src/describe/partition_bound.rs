//! Does a validated CHECK constraint of the table being attached already prove its partition
//! bound? The same proof ATExecAttachPartition runs (get_qual_from_partbound +
//! PartConstraintImpliedByRelConstraint), on a bound transformed here the way
//! transformPartitionBound does it (it is static in parse_utilcmd.c, so it is reimplemented).
//! Both relations are opened only if an ACCESS SHARE lock is granted at once.
//!
//! Unlike Postgres, nothing is evaluated: a bound value must be a constant, or fold to one from
//! built-in functions only (`fold`); `nextval(...)`, `pg_read_file(...)` or a function a role
//! wrote make the proof fail, so the ATTACH is assumed to scan. Partition keys and constraints
//! that call such functions are not simplified (see `fold`), and the relcache's partition key is
//! not even built while one of the keys involved calls one.

use std::ffi::{c_char, c_int};

use pgrx::pg_sys::{self, NodeTag};
use pgrx::{is_a, PgList};

/// PartitionKeyData (utils/partcache.h), which pgrx leaves opaque; only the type of `strategy`
/// differs between majors (pg_version).
#[repr(C)]
struct PartitionKeyData {
    strategy: crate::pg_version::PartitionKeyStrategy,
    partnatts: i16,
    partattrs: *mut i16,
    partexprs: *mut pg_sys::List,
    partopfamily: *mut pg_sys::Oid,
    partopcintype: *mut pg_sys::Oid,
    partsupfunc: *mut pg_sys::FmgrInfo,
    partcollation: *mut pg_sys::Oid,
    parttypid: *mut pg_sys::Oid,
    parttypmod: *mut i32,
    parttyplen: *mut i16,
    parttypbyval: *mut bool,
    parttypalign: *mut c_char,
    parttypcoll: *mut pg_sys::Oid,
}

extern "C-unwind" {
    fn RelationGetPartitionKey(rel: pg_sys::Relation) -> *mut PartitionKeyData;
    fn RelationGetPartitionQual(rel: pg_sys::Relation) -> *mut pg_sys::List;
    fn get_proposed_default_constraint(
        new_part_constraints: *mut pg_sys::List,
    ) -> *mut pg_sys::List;
    fn map_partition_varattnos(
        expr: *mut pg_sys::List,
        fromrel_varno: c_int,
        to_rel: pg_sys::Relation,
        from_rel: pg_sys::Relation,
    ) -> *mut pg_sys::List;
}

/// Why the proof could not be attempted.
pub enum Unproven {
    /// A table is locked by another session.
    Locked,
    /// A bound value is not a constant, or a partition key calls a function that is not built
    /// in: proving would mean running it.
    Unevaluated,
    /// Postgres rejects the ATTACH itself: the table is a typed table, or its columns are not
    /// exactly the parent's (by name, type, typmod and collation). Nothing to prove; mapping the
    /// bound onto its columns would raise an error of safe_ddl's own ("could not convert row
    /// type") instead of Postgres' more precise one.
    Rejected,
}

const ACCESS_SHARE: pg_sys::LOCKMODE = pg_sys::AccessShareLock as pg_sys::LOCKMODE;
const NO_LOCK: pg_sys::LOCKMODE = pg_sys::NoLock as pg_sys::LOCKMODE;

/// (is the new partition's bound proven by its constraints, is the default partition's new
/// constraint proven by its constraints), or why that could not be worked out.
///
/// # Safety
/// `bound` must be the raw PartitionBoundSpec of an ATTACH PARTITION, inside a transaction.
pub unsafe fn proofs(
    parent: u32,
    partition: Option<u32>,
    default: Option<pg_sys::Oid>,
    bound: *mut pg_sys::PartitionBoundSpec,
) -> Result<(bool, Option<bool>), Unproven> {
    if bound.is_null() {
        return Ok((false, None));
    }
    // partition is None for CREATE TABLE ... PARTITION OF: only the default partition is checked.
    let (parent, partition) = (pg_sys::Oid::from(parent), partition.map(pg_sys::Oid::from));
    // SAFETY (whole block): conditional locks never wait; relations are opened under them,
    // closed before the locks are released; raw C functions are called through
    // pg_guard_ffi_boundary so an ERROR cannot unwind through Rust frames unguarded.
    unsafe {
        if pg_sys::get_rel_relkind(parent) as u8 != b'p' {
            return Ok((true, None)); // not partitioned: Postgres rejects the statement itself
        }
        if partition.is_some_and(|p| !attachable(parent, p)) {
            return Err(Unproven::Rejected);
        }
        if !keys_builtin_only(parent) {
            return Err(Unproven::Unevaluated);
        }
        let mut locked: Vec<pg_sys::Oid> = Vec::new();
        for oid in [Some(parent), partition, default].into_iter().flatten() {
            if !pg_sys::ConditionalLockRelationOid(oid, ACCESS_SHARE) {
                locked
                    .iter()
                    .for_each(|o| pg_sys::UnlockRelationOid(*o, ACCESS_SHARE));
                return Err(Unproven::Locked);
            }
            locked.push(oid);
        }
        let prel = pg_sys::relation_open(parent, NO_LOCK);
        let arel = partition.map(|p| pg_sys::relation_open(p, NO_LOCK));
        let key = pg_sys::ffi::pg_guard_ffi_boundary(|| RelationGetPartitionKey(prel));
        let result = match transform(bound, key) {
            None => Err(Unproven::Unevaluated),
            Some(spec) => {
                let bound_qual = pg_sys::get_qual_from_partbound(prel, spec);
                // Proving only simplifies built-in expressions (get_proposed_default_constraint
                // and the fold below constant-fold): else nothing is proven.
                let foldable = super::fold::builtin_only(bound_qual.cast());
                // The default partition must not hold rows of the new partition (ATExecAttachPartition).
                let default_ok = default.map(|d| {
                    if !foldable {
                        return false;
                    }
                    let drel = pg_sys::relation_open(d, NO_LOCK);
                    let copy = pg_sys::copyObjectImpl(bound_qual.cast()).cast::<pg_sys::List>();
                    let c = pg_sys::ffi::pg_guard_ffi_boundary(|| {
                        get_proposed_default_constraint(copy)
                    });
                    let c = pg_sys::ffi::pg_guard_ffi_boundary(|| {
                        map_partition_varattnos(c, 1, drel, prel)
                    });
                    let ok = implied(d, c);
                    pg_sys::relation_close(drel, NO_LOCK);
                    ok
                });
                let inherited =
                    pg_sys::ffi::pg_guard_ffi_boundary(|| RelationGetPartitionQual(prel));
                let constraint = pg_sys::list_concat(bound_qual, inherited);
                let part_ok =
                    if let (false, Some(arel), Some(p)) = (constraint.is_null(), arel, partition) {
                        match super::fold::fold(constraint.cast()) {
                            Some(c) => {
                                let c = pg_sys::canonicalize_qual(c.cast(), true);
                                let c = pg_sys::make_ands_explicit(c.cast());
                                let list = pg_sys::lappend(std::ptr::null_mut(), c.cast());
                                let list = pg_sys::ffi::pg_guard_ffi_boundary(|| {
                                    map_partition_varattnos(list, 1, arel, prel)
                                });
                                implied(p, list)
                            }
                            None => false,
                        }
                    } else {
                        true
                    };
                Ok((part_ok, default_ok))
            }
        };
        if let Some(arel) = arel {
            pg_sys::relation_close(arel, NO_LOCK);
        }
        pg_sys::relation_close(prel, NO_LOCK);
        locked
            .iter()
            .rev()
            .for_each(|o| pg_sys::UnlockRelationOid(*o, ACCESS_SHARE));
        result
    }
}

/// The partition constraint an ATTACH of `partition` with `bound` would check, as a CHECK
/// expression over the partition's own columns (deparsed, Postgres' own text), for the recipe
/// that proves it beforehand. None when it cannot be worked out without waiting or evaluating.
///
/// # Safety
/// `bound` must be the raw PartitionBoundSpec of an ATTACH PARTITION, inside a transaction.
pub unsafe fn bound_check_text(
    parent: u32,
    partition: u32,
    bound: *mut pg_sys::PartitionBoundSpec,
) -> Option<String> {
    if bound.is_null() {
        return None;
    }
    let (parent, partition) = (pg_sys::Oid::from(parent), pg_sys::Oid::from(partition));
    // SAFETY (whole block): as in proofs(): conditional locks, relations opened under them.
    unsafe {
        if pg_sys::get_rel_relkind(parent) as u8 != b'p' || !keys_builtin_only(parent) {
            return None;
        }
        if !pg_sys::ConditionalLockRelationOid(parent, ACCESS_SHARE) {
            return None;
        }
        if !pg_sys::ConditionalLockRelationOid(partition, ACCESS_SHARE) {
            pg_sys::UnlockRelationOid(parent, ACCESS_SHARE);
            return None;
        }
        let prel = pg_sys::relation_open(parent, NO_LOCK);
        let arel = pg_sys::relation_open(partition, NO_LOCK);
        let key = pg_sys::ffi::pg_guard_ffi_boundary(|| RelationGetPartitionKey(prel));
        let text = transform(bound, key).and_then(|spec| {
            let bound_qual = pg_sys::get_qual_from_partbound(prel, spec);
            let inherited = pg_sys::ffi::pg_guard_ffi_boundary(|| RelationGetPartitionQual(prel));
            let constraint = pg_sys::list_concat(bound_qual, inherited);
            // Deparsing runs no function of the expression, only the output functions of its
            // constants' types (base types' are C, created by superusers); still, only
            // expressions of built-in functions are shown, as elsewhere.
            if constraint.is_null() || !super::fold::builtin_only(constraint.cast()) {
                return None;
            }
            let expr = pg_sys::make_ands_explicit(constraint);
            let list = pg_sys::lappend(std::ptr::null_mut(), expr.cast());
            let list =
                pg_sys::ffi::pg_guard_ffi_boundary(|| map_partition_varattnos(list, 1, arel, prel));
            let mapped = PgList::<pg_sys::Node>::from_pg(list).get_ptr(0)?;
            let name = pg_sys::get_rel_name(partition);
            if name.is_null() {
                return None;
            }
            let ctx = pg_sys::deparse_context_for(name, partition);
            super::names::opt_str(pg_sys::deparse_expression(mapped, ctx, false, false))
        });
        pg_sys::relation_close(arel, NO_LOCK);
        pg_sys::relation_close(prel, NO_LOCK);
        pg_sys::UnlockRelationOid(partition, ACCESS_SHARE);
        pg_sys::UnlockRelationOid(parent, ACCESS_SHARE);
        text
    }
}

/// PartConstraintImpliedByRelConstraint, with the relation's constraints simplified only as
/// `fold` allows.
unsafe fn implied(rel: pg_sys::Oid, test: *mut pg_sys::List) -> bool {
    // SAFETY: inside a transaction; the lists are node lists built by the caller.
    unsafe {
        let exist = super::analysis::known_constraints(rel, true);
        pg_sys::predicate_implied_by(test, exist, true)
    }
}

/// Would ATExecAttachPartition accept `partition`'s row type: not a typed table, and exactly the
/// parent's columns, each with the parent's type, typmod and collation? (Postgres checks the
/// same in MergeAttributesIntoExisting and rejects the statement otherwise.) Read from the
/// catalog, operators qualified. When the catalog cannot be read, assumed attachable: the proof is
/// then attempted, and analysis errors are caught by `describe_guarded`.
fn attachable(parent: pg_sys::Oid, partition: pg_sys::Oid) -> bool {
    crate::spi_ro::get_one_with_args::<bool>(
        "SELECT NOT EXISTS (SELECT FROM pg_catalog.pg_class c \
                            WHERE c.oid OPERATOR(pg_catalog.=) $2 \
                              AND c.reloftype OPERATOR(pg_catalog.<>) 0::pg_catalog.oid) \
            AND NOT EXISTS ( \
                SELECT FROM (SELECT attname, atttypid, atttypmod, attcollation \
                             FROM pg_catalog.pg_attribute \
                             WHERE attrelid OPERATOR(pg_catalog.=) $1 \
                               AND attnum OPERATOR(pg_catalog.>) 0::pg_catalog.int2 AND NOT attisdropped) p \
                FULL JOIN (SELECT attname, atttypid, atttypmod, attcollation \
                           FROM pg_catalog.pg_attribute \
                           WHERE attrelid OPERATOR(pg_catalog.=) $2 \
                             AND attnum OPERATOR(pg_catalog.>) 0::pg_catalog.int2 AND NOT attisdropped) a \
                  ON p.attname OPERATOR(pg_catalog.=) a.attname \
                WHERE p.attname IS NULL OR a.attname IS NULL \
                   OR p.atttypid OPERATOR(pg_catalog.<>) a.atttypid \
                   OR p.atttypmod OPERATOR(pg_catalog.<>) a.atttypmod \
                   OR p.attcollation OPERATOR(pg_catalog.<>) a.attcollation)",
        &[parent.into(), partition.into()],
    )
    .ok()
    .flatten()
    .unwrap_or(true)
}

/// Do the partition keys of `parent` and of every partitioned table above it (whose bounds make
/// up the inherited constraint) call only built-in functions? Read from pg_partitioned_table,
/// so that the relcache, which constant-folds a key when it first builds it, is not asked for a
/// key that calls a function a role wrote.
fn keys_builtin_only(parent: pg_sys::Oid) -> bool {
    let exprs = super::fold::catalog_texts(
        "SELECT p.partexprs::pg_catalog.text FROM pg_catalog.pg_partitioned_table p \
         WHERE p.partexprs IS NOT NULL AND p.partrelid OPERATOR(pg_catalog.=) ANY \
         (SELECT a.relid FROM pg_catalog.pg_partition_ancestors($1) a)",
        &[parent.into()],
    );
    let Ok(exprs) = exprs else {
        return false;
    };
    exprs
        .iter()
        .all(|text| super::fold::stored_builtin_only(text))
}

/// transformPartitionBound: the raw bound with its values coerced to Consts of the key's types.
/// None for shapes this does not handle, and for values that are not constants (then the ATTACH
/// is assumed to scan).
unsafe fn transform(
    bound: *mut pg_sys::PartitionBoundSpec,
    key: *mut PartitionKeyData,
) -> Option<*mut pg_sys::PartitionBoundSpec> {
    // SAFETY: key comes from the relcache of an open partitioned table; nodes are copies.
    unsafe {
        if key.is_null() {
            return None;
        }
        let spec = pg_sys::copyObjectImpl(bound.cast()).cast::<pg_sys::PartitionBoundSpec>();
        (*spec).strategy = (*key).strategy as c_char;
        if (*spec).is_default {
            return Some(spec);
        }
        let natts = usize::try_from((*key).partnatts).ok()?;
        match (*key).strategy as u8 {
            b'h' => Some(spec),
            b'l' => {
                if natts != 1 {
                    return None;
                }
                let mut values: *mut pg_sys::List = std::ptr::null_mut();
                for raw in PgList::<pg_sys::Node>::from_pg((*spec).listdatums).iter_ptr() {
                    values = pg_sys::lappend(values, bound_value(raw, key, 0)?.cast());
                }
                (*spec).listdatums = values;
                Some(spec)
            }
            b'r' => {
                (*spec).lowerdatums = range_datums((*spec).lowerdatums, key, natts)?;
                (*spec).upperdatums = range_datums((*spec).upperdatums, key, natts)?;
                Some(spec)
            }
            _ => None,
        }
    }
}

unsafe fn range_datums(
    list: *mut pg_sys::List,
    key: *mut PartitionKeyData,
    natts: usize,
) -> Option<*mut pg_sys::List> {
    // SAFETY: raw grammar output: expressions, MINVALUE/MAXVALUE as single-name ColumnRefs.
    unsafe {
        let items = PgList::<pg_sys::Node>::from_pg(list);
        if items.len() != natts {
            return None;
        }
        let mut out: *mut pg_sys::List = std::ptr::null_mut();
        for (i, raw) in items.iter_ptr().enumerate() {
            let prd = pg_sys::palloc0(std::mem::size_of::<pg_sys::PartitionRangeDatum>())
                .cast::<pg_sys::PartitionRangeDatum>();
            (*prd).type_ = NodeTag::T_PartitionRangeDatum;
            (*prd).location = -1;
            match min_max(raw) {
                Some(kind) => (*prd).kind = kind,
                None => {
                    (*prd).kind = pg_sys::PartitionRangeDatumKind::PARTITION_RANGE_DATUM_VALUE;
                    (*prd).value = bound_value(raw, key, i)?.cast();
                }
            }
            out = pg_sys::lappend(out, prd.cast());
        }
        Some(out)
    }
}

unsafe fn min_max(raw: *mut pg_sys::Node) -> Option<pg_sys::PartitionRangeDatumKind::Type> {
    // SAFETY: casts follow tag checks.
    unsafe {
        if !is_a(raw, NodeTag::T_ColumnRef) {
            return None;
        }
        let fields = PgList::<pg_sys::Node>::from_pg((*raw.cast::<pg_sys::ColumnRef>()).fields);
        if fields.len() != 1 {
            return None;
        }
        let f = fields.get_ptr(0)?;
        if !is_a(f, NodeTag::T_String) {
            return None;
        }
        match std::ffi::CStr::from_ptr((*f.cast::<pg_sys::String>()).sval).to_bytes() {
            b"minvalue" => Some(pg_sys::PartitionRangeDatumKind::PARTITION_RANGE_DATUM_MINVALUE),
            b"maxvalue" => Some(pg_sys::PartitionRangeDatumKind::PARTITION_RANGE_DATUM_MAXVALUE),
            _ => None,
        }
    }
}

/// transformPartitionBoundValue: coerce one bound value to the key column's type, as a Const.
unsafe fn bound_value(
    raw: *mut pg_sys::Node,
    key: *mut PartitionKeyData,
    i: usize,
) -> Option<*mut pg_sys::Const> {
    // SAFETY: i < partnatts; the per-column arrays have partnatts entries.
    unsafe {
        let typid = *(*key).parttypid.add(i);
        let typmod = *(*key).parttypmod.add(i);
        let collation = *(*key).partcollation.add(i);
        // Reading it could run a domain's CHECK constraint a role wrote (see literal_input_safe).
        if !super::fold::literal_input_safe(raw, typid) {
            return None;
        }
        let (pstate, mut value) = super::analysis::transform_assigned(
            raw,
            pg_sys::ParseExprKind::EXPR_KIND_PARTITION_BOUND,
            typid,
            typmod,
        );
        if value.is_null() {
            return None;
        }
        if !is_a(value, NodeTag::T_Const) {
            // Postgres evaluates the expression (evaluate_expr); here it is only folded, from
            // built-in immutable functions of constants (`fold`), and must become a constant.
            pg_sys::assign_expr_collations(pstate, value);
            value = super::fold::fold(value)?;
            if !is_a(value, NodeTag::T_Const) {
                return None;
            }
            (*value.cast::<pg_sys::Const>()).constcollid = collation;
        } else {
            (*value.cast::<pg_sys::Const>()).constcollid = collation;
        }
        Some(value.cast())
    }
}
