//! ExecutorStart hook: every query the executor runs (top level, SPI inside functions and DO
//! blocks, prepared and extended-protocol statements, views expanded by the rewriter) records
//! which relations and columns its range table reads and writes, from the permission bitmaps
//! Postgres itself checks: selectedCols (read), insertedCols / updatedCols (written), and
//! requiredPerms for uses without columns (count(*), DELETE). Temporary relations are not
//! recorded: they belong to one session, which drops them, and would only use up slots. Nor are
//! uses of relations and columns created in the current transaction (by the transaction that
//! creates them, which is the migration, not a client).

use pgrx::pg_sys;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;

use super::{own, store};
use crate::{gucs, pg_struct, pg_version};

/// Postgres functions called for every statement, declared without pgrx's FFI boundary (a
/// sigsetjmp per call): they only read backend globals and cannot raise an ERROR.
mod raw {
    use pgrx::pg_sys;
    #[allow(clashing_extern_declarations)]
    unsafe extern "C-unwind" {
        pub fn GetCurrentStatementStartTimestamp() -> pg_sys::TimestampTz;
    }
}

/// From the ExecutorStart hook (executor_hook.rs): record what the statement reads and writes,
/// when tracking runs (preloaded) and this session records. Parallel workers run part of a query
/// their leader already recorded.
///
/// Per statement: one pass over the range table, and per relation and column one lock-free
/// probe of the usage table (store::touch); no allocation, no lock, no catalog lookup unless a
/// relation or column gets its first slot.
///
/// # Safety
/// `query_desc` is the executor's.
pub unsafe fn record(query_desc: *mut pg_sys::QueryDesc) {
    // SAFETY: plain backend globals; query_desc is the executor's.
    unsafe {
        if store::available() && pg_sys::ParallelWorkerNumber < 0 && gucs::track_usage() {
            record_plan((*query_desc).plannedstmt);
        }
    }
}

unsafe fn record_plan(pstmt: *mut pg_sys::PlannedStmt) {
    if pstmt.is_null() {
        return;
    }
    // SAFETY (whole function): a planned statement of the executor; its range table holds
    // RangeTblEntry nodes, and the bitmaps are NULL or valid Bitmapsets.
    unsafe {
        let db = u32::from(pg_sys::MyDatabaseId);
        let now = raw::GetCurrentStatementStartTimestamp();
        let mut overflow = None;
        for rte in pg_struct::pointers::<pg_sys::RangeTblEntry>((*pstmt).rtable) {
            if rte.is_null() || !pg_version::rte_names_relation(rte) {
                continue;
            }
            let p = pg_version::rte_perms(pstmt, rte);
            let perms = p.required;
            let writes_cols =
                !pg_version::bms_is_empty(p.inserted) || !pg_version::bms_is_empty(p.updated);
            let writes = writes_cols
                || perms & (pg_sys::ACL_INSERT | pg_sys::ACL_DELETE) as pg_sys::AclMode != 0;
            // requiredPerms 0: an inheritance child or partition the planner added under its
            // parent (Postgres checks permissions on the parent only), or a rule's OLD/NEW. With
            // no column named (count(*), DELETE without WHERE) its rows are still read: once it
            // leaves the tree, dropping it must not look harmless.
            let reads = perms & pg_sys::ACL_SELECT as pg_sys::AclMode != 0
                || perms == 0
                || !pg_version::bms_is_empty(p.selected);
            let dropped = use_relation(db, (*rte).relid, now, reads, writes, false, |touch| {
                if reads {
                    columns(p.selected, |attnum| touch(attnum, false));
                }
                if writes {
                    columns(p.inserted, |attnum| touch(attnum, true));
                    columns(p.updated, |attnum| touch(attnum, true));
                }
            });
            overflow = overflow.or(dropped);
        }
        log_overflow_if(overflow);
    }
}

/// Record a use of relation `relid` at `now`: of the relation as a whole (read and/or written),
/// and of the columns `columns` calls back with (attnum, written); by this transaction, or with
/// `others` on behalf of other sessions (store::touch). Not for temporary relations or
/// for what the current transaction created. Returns Some(time) when a use was dropped for lack of
/// space and began an overflow episode (the caller logs it once).
///
/// # Safety
/// Inside a transaction (catalog lookups).
pub(super) unsafe fn use_relation(
    db: u32,
    relid: pg_sys::Oid,
    now: i64,
    reads: bool,
    writes: bool,
    others: bool,
    columns: impl FnOnce(&mut dyn FnMut(i16, bool)),
) -> Option<i64> {
    let rel = u32::from(relid);
    // System catalogs and the other objects initdb made (information_schema): nobody drops or
    // renames them, and the guard's own catalog queries would only use up slots.
    // Created in this transaction (one branch when nothing was).
    if rel < pg_sys::FirstNormalObjectId || own::created_here(rel, None) {
        return None;
    }
    let mut overflow = None;
    // Asked only before a slot is claimed, at most once per relation and statement.
    let mut temporary = None;
    let mut trackable = || {
        !*temporary.get_or_insert_with(|| {
            // SAFETY: a syscache lookup inside a transaction.
            unsafe { pg_sys::get_rel_persistence(relid) as u8 == pg_sys::RELPERSISTENCE_TEMP }
        })
    };
    let mut touch = |attnum: i16, write: bool| {
        // A column added in this transaction.
        if attnum != store::TABLE && own::created_here(rel, Some(attnum)) {
            return;
        }
        if let Some(at) = store::touch(db, rel, attnum, write, now, others, &mut trackable) {
            overflow = overflow.or(Some(at));
        }
    };
    if reads {
        touch(store::TABLE, false);
    }
    if writes {
        touch(store::TABLE, true);
    }
    columns(&mut touch);
    overflow
}

/// Log the overflow episode that began at `at`, if one did.
pub(super) fn log_overflow_if(at: Option<i64>) {
    if at.is_some() {
        log_overflow();
    }
}

/// One LOG line when a use is dropped for lack of space and no use was dropped shortly before
/// (a new overflow episode), so the DBA learns that in_use is now conservative and why.
fn log_overflow() {
    let Some(s) = store::stats() else {
        return;
    };
    let message = format!(
        "safe_ddl: the column usage table is full ({} of {} slots used): uses of tables and columns without a slot are not recorded",
        s.used, s.capacity
    );
    let detail = "Until no use has been dropped for a whole safe_ddl.usage_window, every table and column without a \
                  slot counts as not proven unused: dropping or renaming it is refused unless in_use is allowed. \
                  SELECT * FROM safe_ddl.usage_tracking(); shows the uses dropped and when.";
    let hint = format!(
        "Raise safe_ddl.usage_max_entries (takes effect at server restart): ALTER SYSTEM SET safe_ddl.usage_max_entries = {};",
        s.capacity.saturating_mul(2).min(1 << 24)
    );
    crate::encoding::report(
        ErrorReport::new(
            PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
            message,
            "safe_ddl",
        )
        .set_detail(detail)
        .set_hint(hint),
        PgLogLevel::LOG,
    );
}

/// Calls `f` with each user column (attnum >= 1) and whole-row reference (0) in a column bitmap
/// (members are offset by FirstLowInvalidHeapAttributeNumber); system columns are skipped.
unsafe fn columns(set: *mut pg_sys::Bitmapset, mut f: impl FnMut(i16)) {
    // SAFETY: NULL or a valid Bitmapset.
    for member in unsafe { pg_struct::members(set) } {
        let attnum = member + pg_sys::FirstLowInvalidHeapAttributeNumber;
        if let Ok(attnum) = i16::try_from(attnum) {
            if attnum >= store::WHOLE_ROW {
                f(attnum);
            }
        }
    }
}
