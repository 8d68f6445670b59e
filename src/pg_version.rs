//! Every difference between the PostgreSQL majors safe_ddl builds for, in one place: the rest of
//! the code calls these functions and never tests a version itself. Two kinds live here:
//!
//! - server API that moved (struct fields, function signatures), chosen at compile time by the
//!   `pgNN` cargo feature, so that one source builds against each major's headers;
//! - server behaviour that changed (a recipe that exists only from some major on), as functions of
//!   [`MAJOR`] that the rules and messages ask by name.
//!
//! Built and tested: 15, 17, 18. 16 is neither built nor tested (no 16 headers are reachable
//! here): its arms below follow the release notes (15's API until a change landed in 16, 17's
//! after) and have never been compiled. Anything before 15 is not supported.

use pgrx::pg_sys;

#[cfg(not(any(feature = "pg15", feature = "pg16", feature = "pg17", feature = "pg18")))]
compile_error!("build safe_ddl with one of the features pg15, pg16, pg17, pg18");

/// The PostgreSQL major this library was built for (and, by PG_MODULE_MAGIC, runs in).
pub const MAJOR: u32 = pg_sys::PG_VERSION_NUM / 10000;

// ---------------------------------------------------------------------------------------------
// Behaviour that differs by major.

/// PostgreSQL 18 catalogues NOT NULL constraints and lets one be added NOT VALID and validated
/// later under SHARE UPDATE EXCLUSIVE (`ALTER TABLE t ADD CONSTRAINT c NOT NULL col NOT VALID`,
/// then `VALIDATE CONSTRAINT c`). Before 18 the way to a NOT NULL without a scan under ACCESS
/// EXCLUSIVE is a validated `CHECK (col IS NOT NULL)`, which SET NOT NULL then uses as proof.
pub const fn not_null_not_valid() -> bool {
    MAJOR >= 18
}

/// PostgreSQL 18 has NOT ENFORCED constraints (pg_constraint.conenforced): `ALTER CONSTRAINT ...
/// ENFORCED` of such a foreign key validates it under ACCESS EXCLUSIVE.
pub const fn not_enforced_constraints() -> bool {
    MAJOR >= 18
}

// ---------------------------------------------------------------------------------------------
// Server API that moved.

/// The backend's local transaction id (PGPROC.lxid until 16, PGPROC.vxid.lxid from 17 on).
pub fn my_local_transaction_id() -> u32 {
    // SAFETY: MyProc is set for every backend that runs statements.
    unsafe {
        #[cfg(any(feature = "pg15", feature = "pg16"))]
        {
            (*pg_sys::MyProc).lxid
        }
        #[cfg(not(any(feature = "pg15", feature = "pg16")))]
        {
            (*pg_sys::MyProc).vxid.lxid
        }
    }
}

/// A VirtualTransactionId from (backend id, local transaction id), as pg_locks shows a
/// virtualxid (`backendId` until 16, `procNumber` from 17 on; pg_locks prints that number on all).
pub fn virtual_transaction_id(backend: i32, lxid: u32) -> pg_sys::VirtualTransactionId {
    #[cfg(any(feature = "pg15", feature = "pg16"))]
    {
        pg_sys::VirtualTransactionId {
            backendId: backend,
            localTransactionId: lxid,
        }
    }
    #[cfg(not(any(feature = "pg15", feature = "pg16")))]
    {
        pg_sys::VirtualTransactionId {
            procNumber: backend,
            localTransactionId: lxid,
        }
    }
}

/// Whether this backend holds `mode` exactly on `tag` (LockHeldByMe gained `orstronger` in 17).
///
/// # Safety
/// Inside a transaction; only reads the backend's local lock table.
pub unsafe fn lock_held_by_me(tag: &pg_sys::LOCKTAG, mode: pg_sys::LOCKMODE) -> bool {
    // SAFETY: as documented.
    unsafe {
        #[cfg(any(feature = "pg15", feature = "pg16"))]
        {
            pg_sys::LockHeldByMe(tag, mode)
        }
        #[cfg(not(any(feature = "pg15", feature = "pg16")))]
        {
            pg_sys::LockHeldByMe(tag, mode, false)
        }
    }
}

/// Whether `user` owns relation `oid` (pg_class_ownercheck until 15, object_ownercheck from 16).
///
/// # Safety
/// Inside a transaction (syscache lookup).
pub unsafe fn owns_relation(oid: pg_sys::Oid, user: pg_sys::Oid) -> bool {
    // SAFETY: as documented.
    unsafe {
        #[cfg(feature = "pg15")]
        {
            pg_sys::pg_class_ownercheck(oid, user)
        }
        #[cfg(not(feature = "pg15"))]
        {
            pg_sys::object_ownercheck(pg_sys::RelationRelationId, oid, user)
        }
    }
}

/// All of the backend's settings (get_guc_variables changed shape in 16).
///
/// # Safety
/// The array and its entries live for the backend's lifetime; read only.
pub unsafe fn guc_variables() -> &'static [*mut pg_sys::config_generic] {
    // SAFETY: as documented.
    unsafe {
        #[cfg(feature = "pg15")]
        let (vars, n) = (
            pg_sys::get_guc_variables(),
            usize::try_from(pg_sys::GetNumConfigOptions()).unwrap_or(0),
        );
        #[cfg(not(feature = "pg15"))]
        let (vars, n) = {
            let mut n = 0;
            let vars = pg_sys::get_guc_variables(&mut n);
            (vars, usize::try_from(n).unwrap_or(0))
        };
        if vars.is_null() {
            &[]
        } else {
            std::slice::from_raw_parts(vars, n)
        }
    }
}

/// The ALTER TABLE subcommand kind with 15's recursing twins (AT_AddColumnRecurse, ...; gone in
/// 16, where recursion is a flag) folded into the plain kind.
pub fn alter_table_subtype(t: pg_sys::AlterTableType::Type) -> pg_sys::AlterTableType::Type {
    #[cfg(feature = "pg15")]
    #[allow(non_upper_case_globals)]
    {
        use pg_sys::AlterTableType::*;
        match t {
            AT_AddColumnRecurse => AT_AddColumn,
            AT_AddConstraintRecurse => AT_AddConstraint,
            AT_ValidateConstraintRecurse => AT_ValidateConstraint,
            AT_DropColumnRecurse => AT_DropColumn,
            AT_DropConstraintRecurse => AT_DropConstraint,
            other => other,
        }
    }
    #[cfg(not(feature = "pg15"))]
    {
        t
    }
}

/// What a range table entry of a planned statement asks permission for: the privileges and the
/// columns read, inserted and updated (on the RangeTblEntry until 15; in the statement's
/// RTEPermissionInfo list from 16). None for an entry without permission info (16+: inheritance
/// children and partitions the planner added; 15 gives them requiredPerms 0, returned as such).
pub struct RtePerms {
    pub required: pg_sys::AclMode,
    pub selected: *mut pg_sys::Bitmapset,
    pub inserted: *mut pg_sys::Bitmapset,
    pub updated: *mut pg_sys::Bitmapset,
}

/// # Safety
/// `pstmt` is a planned statement and `rte` one of its RTE_RELATION entries.
pub unsafe fn rte_perms(
    pstmt: *const pg_sys::PlannedStmt,
    rte: *const pg_sys::RangeTblEntry,
) -> RtePerms {
    // SAFETY: as documented; permInfos is a List of RTEPermissionInfo, indexed from 1.
    unsafe {
        #[cfg(feature = "pg15")]
        {
            let _ = pstmt;
            RtePerms {
                required: (*rte).requiredPerms,
                selected: (*rte).selectedCols,
                inserted: (*rte).insertedCols,
                updated: (*rte).updatedCols,
            }
        }
        #[cfg(not(feature = "pg15"))]
        {
            let index = (*rte).perminfoindex;
            match usize::try_from(index)
                .ok()
                .filter(|i| *i >= 1)
                .and_then(|i| {
                    crate::pg_struct::nth::<pg_sys::RTEPermissionInfo>((*pstmt).permInfos, i - 1)
                }) {
                Some(p) if !p.is_null() => RtePerms {
                    required: (*p).requiredPerms,
                    selected: (*p).selectedCols,
                    inserted: (*p).insertedCols,
                    updated: (*p).updatedCols,
                },
                _ => RtePerms {
                    required: 0,
                    selected: std::ptr::null_mut(),
                    inserted: std::ptr::null_mut(),
                    updated: std::ptr::null_mut(),
                },
            }
        }
    }
}

/// Whether a Bitmapset has no member (a function until 16, a macro testing NULL from 17; reading
/// its words in place works on all, and costs no FFI call).
///
/// # Safety
/// `set` is NULL or a valid Bitmapset.
pub unsafe fn bms_is_empty(set: *const pg_sys::Bitmapset) -> bool {
    // SAFETY: as documented.
    unsafe { crate::pg_struct::is_empty(set) }
}

/// Whether a range table entry of a planned statement names a relation whose use is recorded:
/// a table (RTE_RELATION), or a view. Until 15 a view stays in the range table as an
/// RTE_RELATION; from 16 the rewriter turns it into an RTE_SUBQUERY that keeps the view's relid
/// (and its permission info), so its use is told by the relid.
///
/// # Safety
/// `rte` is a valid RangeTblEntry.
pub unsafe fn rte_names_relation(rte: *const pg_sys::RangeTblEntry) -> bool {
    // SAFETY: as documented.
    unsafe {
        (*rte).rtekind == pg_sys::RTEKind::RTE_RELATION
            || (cfg!(not(feature = "pg15"))
                && (*rte).rtekind == pg_sys::RTEKind::RTE_SUBQUERY
                && (*rte).relid != pg_sys::InvalidOid
                && (*rte).relkind as u8 == pg_sys::RELKIND_VIEW)
    }
}

/// The type of PartitionKeyData.strategy (utils/partcache.h): a char until 15, the
/// PartitionStrategy enum (an int holding the same letter) from 16.
#[cfg(feature = "pg15")]
pub type PartitionKeyStrategy = std::ffi::c_char;
#[cfg(not(feature = "pg15"))]
pub type PartitionKeyStrategy = std::ffi::c_int;

/// A generated column's kind in a raw Constraint: VIRTUAL (computed when read, the default from
/// 18) adds no data and rewrites nothing; STORED (the only kind until 17) fills every row.
///
/// # Safety
/// `c` is a raw CONSTR_GENERATED Constraint.
pub unsafe fn generated_is_virtual(c: *const pg_sys::Constraint) -> bool {
    #[cfg(any(feature = "pg15", feature = "pg16", feature = "pg17"))]
    {
        let _ = c;
        false
    }
    #[cfg(not(any(feature = "pg15", feature = "pg16", feature = "pg17")))]
    // SAFETY: as documented.
    unsafe {
        (*c).generated_kind as u8 == pg_sys::ATTRIBUTE_GENERATED_VIRTUAL
    }
}

/// A condition on a pg_attribute row (columns unqualified) that holds when the column is NOT
/// NULL in a way Postgres relies on to skip scans. Until 17 that is attnotnull. From 18 a NOT
/// NULL constraint can be NOT VALID, and attnotnull is then true although rows may hold NULLs
/// (Postgres itself checks attnullability = ATTNULLABLE_VALID), so a NOT VALID not-null
/// constraint on the column (pg_constraint contype 'n', which no earlier major has) voids it.
/// The same text is right on every major.
pub const VALID_NOT_NULL_SQL: &str =
    "(attnotnull AND NOT EXISTS (SELECT FROM pg_catalog.pg_constraint AS nn \
     WHERE nn.conrelid OPERATOR(pg_catalog.=) attrelid AND nn.contype OPERATOR(pg_catalog.=) 'n' \
     AND NOT nn.convalidated AND nn.conkey OPERATOR(pg_catalog.=) ARRAY[attnum]))";

/// ALTER COLUMN ... SET EXPRESSION AS (...), new in 17: the subcommand kind, None before.
pub fn set_expression_subtype() -> Option<pg_sys::AlterTableType::Type> {
    #[cfg(any(feature = "pg15", feature = "pg16"))]
    {
        None
    }
    #[cfg(not(any(feature = "pg15", feature = "pg16")))]
    {
        Some(pg_sys::AlterTableType::AT_SetExpression)
    }
}

/// PRIMARY KEY / UNIQUE ... WITHOUT OVERLAPS (18) in a raw Constraint; false before 18.
///
/// # Safety
/// `c` is a raw Constraint.
pub unsafe fn constraint_without_overlaps(c: *const pg_sys::Constraint) -> bool {
    #[cfg(any(feature = "pg15", feature = "pg16", feature = "pg17"))]
    {
        let _ = c;
        false
    }
    #[cfg(not(any(feature = "pg15", feature = "pg16", feature = "pg17")))]
    // SAFETY: as documented.
    unsafe {
        (*c).without_overlaps
    }
}

/// What an ALTER CONSTRAINT (18: an ATAlterConstraint node) changes that makes Postgres read rows.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ConstraintChange {
    /// ENFORCED of a NOT ENFORCED foreign key: Postgres validates it.
    Enforce,
    /// INHERIT of a NO INHERIT not-null constraint: Postgres sets NOT NULL on every direct
    /// inheritance child, scanning each one that is not NOT NULL yet.
    Inherit,
}

/// The name of the constraint an ALTER CONSTRAINT makes `change` to. None before 18 (the node is
/// a Constraint there, and changes only deferrability) and for any other ALTER CONSTRAINT.
///
/// # Safety
/// `def` is the raw `def` of an AT_AlterConstraint AlterTableCmd (or NULL).
pub unsafe fn altered_constraint_name(
    def: *mut pg_sys::Node,
    change: ConstraintChange,
) -> Option<&'static std::ffi::CStr> {
    #[cfg(any(feature = "pg15", feature = "pg16", feature = "pg17"))]
    {
        let _ = (def, change);
        None
    }
    #[cfg(not(any(feature = "pg15", feature = "pg16", feature = "pg17")))]
    // SAFETY: as documented; the name lives as long as the parse tree (the statement).
    unsafe {
        if !pgrx::is_a(def, pg_sys::NodeTag::T_ATAlterConstraint) {
            return None;
        }
        let a = def.cast::<pg_sys::ATAlterConstraint>();
        let wanted = match change {
            ConstraintChange::Enforce => (*a).alterEnforceability && (*a).is_enforced,
            ConstraintChange::Inherit => (*a).alterInheritability && !(*a).noinherit,
        };
        (wanted && !(*a).conname.is_null()).then(|| std::ffi::CStr::from_ptr((*a).conname))
    }
}
