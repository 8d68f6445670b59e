//! Uses that never reach the executor, recorded from the ProcessUtility hook: `COPY table TO`
//! reads the table and its listed columns (all of them, as a whole-row use, without a list),
//! `COPY table FROM` writes them, `TRUNCATE` writes each table it names. Without this, a table
//! loaded with COPY and exported with COPY would look never used, and its drop would need no
//! allow (`verdict::never_used`). `COPY (query) TO` runs its query through the executor, which
//! records it (record.rs).

use pgrx::pg_sys;
use pgrx::PgList;

use super::record::{log_overflow_if, use_relation};
use super::store;
use crate::gucs;

/// From the ProcessUtility hook, before the statement runs, whatever safe_ddl.mode says (usage
/// tracking is not the guard). A relation that does not resolve is skipped: the statement itself
/// then fails with Postgres' own error.
///
/// # Safety
/// `pstmt` is the statement Postgres is executing; inside a transaction.
pub unsafe fn record(pstmt: *mut pg_sys::PlannedStmt) {
    // SAFETY (whole function): the parse tree of the executing statement; relation names are
    // resolved without a lock and without raising for a missing relation.
    unsafe {
        if pstmt.is_null()
            || !store::available()
            || pg_sys::ParallelWorkerNumber >= 0
            || !pg_sys::IsTransactionState()
        {
            return;
        }
        let node = (*pstmt).utilityStmt;
        if node.is_null() {
            return;
        }
        let db = u32::from(pg_sys::MyDatabaseId);
        let now = pg_sys::GetCurrentStatementStartTimestamp();
        if (*node).type_ == pg_sys::NodeTag::T_AlterTableStmt {
            leaving_tree(db, node.cast(), now);
            return;
        }
        if !gucs::track_usage() {
            return;
        }
        match (*node).type_ {
            pg_sys::NodeTag::T_CopyStmt => {
                let copy = node.cast::<pg_sys::CopyStmt>();
                if (*copy).relation.is_null() || !(*copy).query.is_null() {
                    return;
                }
                let Some(relid) = resolve((*copy).relation) else {
                    return;
                };
                let write = (*copy).is_from;
                let names = PgList::<pg_sys::String>::from_pg((*copy).attlist);
                let dropped = use_relation(db, relid, now, !write, write, false, |touch| {
                    if names.is_empty() {
                        touch(store::WHOLE_ROW, write);
                    }
                    for name in names.iter_ptr() {
                        if name.is_null() || (*name).sval.is_null() {
                            continue;
                        }
                        let attnum = pg_sys::get_attnum(relid, (*name).sval);
                        if attnum > 0 {
                            touch(attnum, write);
                        }
                    }
                });
                log_overflow_if(dropped);
            }
            pg_sys::NodeTag::T_TruncateStmt => {
                let truncate = node.cast::<pg_sys::TruncateStmt>();
                let mut overflow = None;
                for rv in PgList::<pg_sys::RangeVar>::from_pg((*truncate).relations).iter_ptr() {
                    if let Some(relid) = resolve(rv) {
                        overflow =
                            overflow.or(use_relation(db, relid, now, false, true, false, |_| {}));
                    }
                }
                log_overflow_if(overflow);
            }
            _ => {}
        }
    }
}

/// DETACH PARTITION and NO INHERIT: the relation leaving the tree held rows that clients wrote
/// and read through the parent (tuple routing, count(*)), uses that are on no record of the
/// relation itself. Recorded as a read and write of it and of every column (a whole-row use) on
/// behalf of those clients, whatever this session's safe_ddl.track_usage says, so that a drop
/// after the detach is judged as any other, not as never used.
///
/// # Safety
/// `stmt` is the executing ALTER TABLE; inside a transaction.
unsafe fn leaving_tree(db: u32, stmt: *mut pg_sys::AlterTableStmt, now: i64) {
    // SAFETY: the parse tree of the executing statement: a list of AlterTableCmd nodes; a
    // DETACH's def is a PartitionCmd.
    unsafe {
        let mut overflow = None;
        for cmd in PgList::<pg_sys::AlterTableCmd>::from_pg((*stmt).cmds).iter_ptr() {
            if cmd.is_null() {
                continue;
            }
            let rv = match (*cmd).subtype {
                pg_sys::AlterTableType::AT_DetachPartition
                | pg_sys::AlterTableType::AT_DetachPartitionFinalize => {
                    let def = (*cmd).def;
                    if def.is_null() || (*def).type_ != pg_sys::NodeTag::T_PartitionCmd {
                        continue;
                    }
                    (*def.cast::<pg_sys::PartitionCmd>()).name
                }
                pg_sys::AlterTableType::AT_DropInherit => (*stmt).relation,
                _ => continue,
            };
            if let Some(relid) = resolve(rv) {
                overflow = overflow.or(use_relation(db, relid, now, true, true, true, |touch| {
                    touch(store::WHOLE_ROW, false);
                    touch(store::WHOLE_ROW, true);
                }));
            }
        }
        log_overflow_if(overflow);
    }
}

/// The relation a name in the statement means now, or None (missing, or a name Postgres will
/// reject: another database's). A name qualified with this database's own name
/// (`COPY mydb.public.t TO ...`) is valid and means the same table.
unsafe fn resolve(rv: *mut pg_sys::RangeVar) -> Option<pg_sys::Oid> {
    // SAFETY: a RangeVar of the parse tree; RVR_MISSING_OK makes a missing relation InvalidOid.
    // get_database_name returns NULL or a palloc'd NUL-terminated name.
    unsafe {
        if rv.is_null() {
            return None;
        }
        if !(*rv).catalogname.is_null() {
            let here = pg_sys::get_database_name(pg_sys::MyDatabaseId);
            if here.is_null()
                || std::ffi::CStr::from_ptr(here) != std::ffi::CStr::from_ptr((*rv).catalogname)
            {
                return None;
            }
        }
        let oid = pg_sys::RangeVarGetRelidExtended(
            rv,
            pg_sys::NoLock as pg_sys::LOCKMODE,
            pg_sys::RVROption::RVR_MISSING_OK,
            None,
            std::ptr::null_mut(),
        );
        (oid != pg_sys::InvalidOid).then_some(oid)
    }
}
