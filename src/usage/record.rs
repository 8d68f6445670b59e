//! ExecutorStart hook: every query the executor runs (top level, SPI inside functions and DO
//! blocks, prepared and extended-protocol statements, views expanded by the rewriter) records
//! which relations and columns its range table reads and writes, from the permission bitmaps
//! Postgres itself checks: selectedCols (read), insertedCols / updatedCols (written), and
//! requiredPerms for uses without columns (count(*), DELETE).

use pgrx::pg_sys;
use pgrx::PgList;

use super::store;
use crate::gucs;

/// From the ExecutorStart hook (executor_hook.rs): record what the statement reads and writes,
/// when tracking runs (preloaded) and this session records. Parallel workers run part of a query
/// their leader already recorded.
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
        let now = pg_sys::GetCurrentStatementStartTimestamp();
        for rte in PgList::<pg_sys::RangeTblEntry>::from_pg((*pstmt).rtable).iter_ptr() {
            if rte.is_null() || (*rte).rtekind != pg_sys::RTEKind::RTE_RELATION {
                continue;
            }
            let rel = u32::from((*rte).relid);
            let perms = (*rte).requiredPerms;
            let writes_cols = !pg_sys::bms_is_empty((*rte).insertedCols)
                || !pg_sys::bms_is_empty((*rte).updatedCols);
            let writes = writes_cols || perms & (pg_sys::ACL_INSERT | pg_sys::ACL_DELETE) != 0;
            let reads =
                perms & pg_sys::ACL_SELECT != 0 || !pg_sys::bms_is_empty((*rte).selectedCols);
            if reads {
                store::touch(db, rel, store::TABLE, false, now);
                columns((*rte).selectedCols, |attnum| {
                    store::touch(db, rel, attnum, false, now)
                });
            }
            if writes {
                store::touch(db, rel, store::TABLE, true, now);
                columns((*rte).insertedCols, |attnum| {
                    store::touch(db, rel, attnum, true, now)
                });
                columns((*rte).updatedCols, |attnum| {
                    store::touch(db, rel, attnum, true, now)
                });
            }
        }
    }
}

/// Calls `f` with each user column (attnum >= 1) and whole-row reference (0) in a column bitmap
/// (members are offset by FirstLowInvalidHeapAttributeNumber); system columns are skipped.
unsafe fn columns(set: *mut pg_sys::Bitmapset, mut f: impl FnMut(i16)) {
    let mut member = -1;
    loop {
        // SAFETY: NULL or a valid Bitmapset.
        member = unsafe { pg_sys::bms_next_member(set, member) };
        if member < 0 {
            break;
        }
        let attnum = member + pg_sys::FirstLowInvalidHeapAttributeNumber;
        if let Ok(attnum) = i16::try_from(attnum) {
            if attnum >= store::WHOLE_ROW {
                f(attnum);
            }
        }
    }
}
