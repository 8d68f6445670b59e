//! Parse tree -> `Statement`. The only place that reads Postgres nodes; everything it returns is
//! an owned Rust value, so nothing dangles once the statement has run (CIC and VACUUM commit
//! inside it).

use std::ffi::{c_char, CStr};

use pgrx::pg_sys::{self, NodeTag};
use pgrx::{is_a, PgList};

use crate::ddl::{Ddl, LockMode, ReindexKind, Statement, Target};

/// Describe a utility statement the guard cares about, or None for everything else (SET, SHOW,
/// BEGIN, COMMIT, COPY, EXPLAIN, ...), which then passes through untouched.
///
/// # Safety
/// `pstmt` must be the PlannedStmt Postgres passed to ProcessUtility, inside a transaction.
pub unsafe fn describe(pstmt: *mut pg_sys::PlannedStmt, query: *const c_char) -> Option<Statement> {
    // SAFETY: the caller guarantees a valid PlannedStmt.
    let node = unsafe { (*pstmt).utilityStmt };
    if node.is_null() {
        return None;
    }
    // SAFETY: node is a valid parse node; each branch casts only after checking its tag.
    let (ddl, lock) = unsafe { classify_node(node)? };
    // SAFETY: as above; query is the source string Postgres passed (may be NULL).
    let (tag, text) = unsafe {
        let tag = CStr::from_ptr(pg_sys::GetCommandTagName(pg_sys::CreateCommandTag(node)))
            .to_string_lossy()
            .into_owned();
        (
            tag,
            statement_text(query, (*pstmt).stmt_location, (*pstmt).stmt_len),
        )
    };
    Some(Statement {
        ddl,
        tag,
        lock,
        text,
    })
}

/// The part of a (possibly multi-statement) query string that is this statement.
unsafe fn statement_text(query: *const c_char, location: i32, len: i32) -> String {
    if query.is_null() {
        return String::new();
    }
    // SAFETY: Postgres' query strings are NUL-terminated.
    let bytes = unsafe { CStr::from_ptr(query) }.to_bytes();
    let start = usize::try_from(location).unwrap_or(0).min(bytes.len());
    let end = match usize::try_from(len) {
        Ok(l) if l > 0 => (start + l).min(bytes.len()),
        _ => bytes.len(),
    };
    String::from_utf8_lossy(&bytes[start..end])
        .trim()
        .to_string()
}

unsafe fn classify_node(node: *mut pg_sys::Node) -> Option<(Ddl, Option<LockMode>)> {
    use LockMode::*;
    // SAFETY (whole function): every cast follows an is_a() check of the node's tag.
    unsafe {
        if is_a(node, NodeTag::T_IndexStmt) {
            let s = node.cast::<pg_sys::IndexStmt>();
            let ddl = Ddl::CreateIndex {
                table: target((*s).relation),
                index_name: quoted((*s).idxname),
                concurrent: (*s).concurrent,
                only: !(*s).relation.is_null() && !(*(*s).relation).inh,
            };
            let lock = if (*s).concurrent { None } else { Some(Share) };
            return Some((ddl, lock));
        }
        if is_a(node, NodeTag::T_ReindexStmt) {
            return Some(reindex(node.cast()));
        }
        if is_a(node, NodeTag::T_AlterTableStmt) {
            let s = node.cast::<pg_sys::AlterTableStmt>();
            // Postgres' own computation of the lock this ALTER TABLE will take.
            let lock = LockMode::from_pg(pg_sys::AlterTableGetLockLevel((*s).cmds));
            return Some((Ddl::Other, lock));
        }
        let lock = if is_a(node, NodeTag::T_DropStmt) {
            let s = node.cast::<pg_sys::DropStmt>();
            if (*s).concurrent {
                None
            } else {
                drop_lock((*s).removeType, (*s).behavior)
            }
        } else if is_a(node, NodeTag::T_TruncateStmt)
            || is_a(node, NodeTag::T_CreatePolicyStmt)
            || is_a(node, NodeTag::T_AlterPolicyStmt)
            || is_a(node, NodeTag::T_RuleStmt)
            || is_a(node, NodeTag::T_AlterTableMoveAllStmt)
            || is_a(node, NodeTag::T_DropOwnedStmt)
            || is_a(node, NodeTag::T_ReassignOwnedStmt)
        {
            Some(AccessExclusive)
        } else if is_a(node, NodeTag::T_CreateTrigStmt) || is_a(node, NodeTag::T_AlterSeqStmt) {
            Some(ShareRowExclusive)
        } else if is_a(node, NodeTag::T_AlterDomainStmt) {
            // Adding or validating a domain constraint scans every table using the domain.
            Some(Share)
        } else if is_a(node, NodeTag::T_RenameStmt) {
            let s = node.cast::<pg_sys::RenameStmt>();
            // Renaming an index takes SHARE UPDATE EXCLUSIVE; other relation renames ACCESS EXCLUSIVE.
            // Renames of non-relations (functions, types, ...) have no relation and no table lock.
            let index = (*s).renameType == pg_sys::ObjectType::OBJECT_INDEX;
            (!index && !(*s).relation.is_null()).then_some(AccessExclusive)
        } else if is_a(node, NodeTag::T_AlterObjectSchemaStmt) {
            let s = node.cast::<pg_sys::AlterObjectSchemaStmt>();
            if (*s).relation.is_null() {
                None
            } else {
                Some(AccessExclusive)
            }
        } else if is_a(node, NodeTag::T_ClusterStmt) {
            // CLUSTER of one plain table runs in the caller's transaction; CLUSTER of all tables
            // or of a partitioned table commits per table (see `own_transactions`).
            let s = node.cast::<pg_sys::ClusterStmt>();
            let t = target((*s).relation);
            match t.oid {
                Some(oid) if !partitioned(oid) => Some(AccessExclusive),
                _ => None,
            }
        } else if is_a(node, NodeTag::T_VacuumStmt) {
            // Plain VACUUM and ANALYZE block no reads or writes. VACUUM FULL does, but VACUUM
            // commits and starts its own transactions, which would end a statement-scoped
            // lock_timeout before the lock is requested: it is not bounded (documented).
            None
        } else if is_a(node, NodeTag::T_LockStmt) {
            LockMode::from_pg((*node.cast::<pg_sys::LockStmt>()).mode)
        } else if is_a(node, NodeTag::T_RefreshMatViewStmt) {
            let s = node.cast::<pg_sys::RefreshMatViewStmt>();
            if (*s).concurrent {
                None
            } else {
                Some(AccessExclusive)
            }
        } else if is_a(node, NodeTag::T_ViewStmt) {
            let s = node.cast::<pg_sys::ViewStmt>();
            if (*s).replace {
                Some(AccessExclusive)
            } else {
                None
            }
        } else if is_a(node, NodeTag::T_CreateStmt) {
            create_table_lock(node.cast())
        } else {
            return None;
        };
        Some((Ddl::Other, lock))
    }
}

unsafe fn reindex(s: *mut pg_sys::ReindexStmt) -> (Ddl, Option<LockMode>) {
    use pg_sys::ReindexObjectType::*;
    // SAFETY (whole function): s is a valid ReindexStmt; its params are DefElems.
    unsafe {
        let mut concurrent = false;
        for opt in PgList::<pg_sys::DefElem>::from_pg((*s).params).iter_ptr() {
            if CStr::from_ptr((*opt).defname).to_bytes() == b"concurrently" {
                concurrent = pg_sys::defGetBoolean(opt);
            }
        }
        let kind = match (*s).kind {
            REINDEX_OBJECT_INDEX => ReindexKind::Index,
            REINDEX_OBJECT_TABLE => ReindexKind::Table,
            REINDEX_OBJECT_SCHEMA => ReindexKind::Schema,
            REINDEX_OBJECT_SYSTEM => ReindexKind::System,
            _ => ReindexKind::Database,
        };
        let (table, name) = if (*s).relation.is_null() {
            (None, opt_str((*s).name).unwrap_or_default())
        } else {
            let t = target((*s).relation);
            let name = t.written.clone();
            let table = match kind {
                // The hazard is judged on the index's table.
                ReindexKind::Index => Target {
                    oid: t.oid.and_then(|i| {
                        let heap = pg_sys::IndexGetRelation(pg_sys::Oid::from(i), true);
                        (heap != pg_sys::InvalidOid).then(|| heap.to_u32())
                    }),
                    written: t.written,
                },
                _ => t,
            };
            (Some(table), name)
        };
        // REINDEX SCHEMA/DATABASE/SYSTEM and REINDEX of a partitioned table commit per table,
        // so a statement-scoped lock_timeout cannot cover them; CONCURRENTLY blocks nobody.
        let own_transactions = match (kind, &table) {
            (ReindexKind::Index | ReindexKind::Table, Some(Target { oid: Some(oid), .. })) => {
                partitioned(*oid)
            }
            (ReindexKind::Index | ReindexKind::Table, _) => false,
            _ => true,
        };
        let lock = if concurrent || own_transactions {
            None
        } else {
            Some(LockMode::Share)
        };
        (
            Ddl::Reindex {
                kind,
                table,
                name,
                concurrent,
            },
            lock,
        )
    }
}

/// Dropping a relation, or anything with CASCADE, takes ACCESS EXCLUSIVE on a table.
fn drop_lock(
    kind: pg_sys::ObjectType::Type,
    behavior: pg_sys::DropBehavior::Type,
) -> Option<LockMode> {
    use pg_sys::ObjectType::*;
    let relation_level = matches!(
        kind,
        OBJECT_TABLE
            | OBJECT_INDEX
            | OBJECT_VIEW
            | OBJECT_MATVIEW
            | OBJECT_SEQUENCE
            | OBJECT_FOREIGN_TABLE
            | OBJECT_TRIGGER
            | OBJECT_RULE
            | OBJECT_POLICY
    );
    (relation_level || behavior == pg_sys::DropBehavior::DROP_CASCADE)
        .then_some(LockMode::AccessExclusive)
}

/// A partitioned table or partitioned index.
fn partitioned(oid: u32) -> bool {
    // SAFETY: syscache lookup inside a transaction; 0 for a missing relation.
    let kind = unsafe { pg_sys::get_rel_relkind(pg_sys::Oid::from(oid)) } as u8;
    kind == b'p' || kind == b'I'
}

/// CREATE TABLE ... PARTITION OF locks the parent ACCESS EXCLUSIVE; a REFERENCES clause locks
/// the referenced table SHARE ROW EXCLUSIVE.
unsafe fn create_table_lock(s: *mut pg_sys::CreateStmt) -> Option<LockMode> {
    // SAFETY: s is a valid CreateStmt; its elements are ColumnDef or Constraint nodes.
    unsafe {
        if !(*s).partbound.is_null() {
            return Some(LockMode::AccessExclusive);
        }
        let is_fk = |n: *mut pg_sys::Node| {
            is_a(n, NodeTag::T_Constraint)
                && (*n.cast::<pg_sys::Constraint>()).contype == pg_sys::ConstrType::CONSTR_FOREIGN
        };
        let mut fk = PgList::<pg_sys::Node>::from_pg((*s).constraints)
            .iter_ptr()
            .any(is_fk);
        for elt in PgList::<pg_sys::Node>::from_pg((*s).tableElts).iter_ptr() {
            if is_fk(elt) {
                fk = true;
            } else if is_a(elt, NodeTag::T_ColumnDef) {
                let col = elt.cast::<pg_sys::ColumnDef>();
                fk |= PgList::<pg_sys::Node>::from_pg((*col).constraints)
                    .iter_ptr()
                    .any(is_fk);
            }
        }
        fk.then_some(LockMode::ShareRowExclusive)
    }
}

/// Resolve a RangeVar without taking a lock; a missing relation is not an error here (Postgres
/// reports it itself when the statement runs).
unsafe fn target(rv: *mut pg_sys::RangeVar) -> Target {
    if rv.is_null() {
        return Target {
            oid: None,
            written: String::new(),
        };
    }
    // SAFETY: rv is a valid RangeVar from the parse tree.
    unsafe {
        let oid = pg_sys::RangeVarGetRelidExtended(
            rv,
            pg_sys::NoLock as pg_sys::LOCKMODE,
            pg_sys::RVROption::RVR_MISSING_OK,
            None,
            std::ptr::null_mut(),
        );
        let written = match opt_str((*rv).schemaname) {
            Some(s) => format!("{s}.{}", opt_str((*rv).relname).unwrap_or_default()),
            None => opt_str((*rv).relname).unwrap_or_default(),
        };
        Target {
            oid: (oid != pg_sys::InvalidOid).then(|| oid.to_u32()),
            written,
        }
    }
}

/// An identifier quoted the way Postgres would (keywords, upper case, odd characters).
unsafe fn quoted(p: *const c_char) -> Option<String> {
    if p.is_null() {
        return None;
    }
    // SAFETY: p is a NUL-terminated identifier; quote_identifier returns it or a palloc'd copy.
    unsafe { opt_str(pg_sys::quote_identifier(p)) }
}

unsafe fn opt_str(p: *const c_char) -> Option<String> {
    // SAFETY: parse-tree strings are NUL-terminated or NULL.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}
