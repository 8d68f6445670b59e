//! The ExecutorStart hook, FFI only: before a statement starts, the `large_dml` guard
//! (dml_guard.rs) may refuse it and column usage tracking (usage/record.rs) records what it reads
//! and writes; then the previous hook or standard_ExecutorStart, whose ERRORs (permission
//! denied, ...) pass through unchanged, as in the ProcessUtility hook (pg_error.rs).

use std::ffi::c_int;

use pgrx::pg_guard;
use pgrx::pg_sys;

use crate::pg_error;
use crate::{dml_guard, usage};

static mut PREV: pg_sys::ExecutorStart_hook_type = None;

pub fn install() {
    // SAFETY: _PG_init, once per backend.
    unsafe {
        PREV = pg_sys::ExecutorStart_hook;
        pg_sys::ExecutorStart_hook = Some(executor_start);
    }
}

/// Not guarded by pgrx: forwards to `guarded` and re-raises the executor's own ERROR unchanged
/// from this frame, which owns nothing.
unsafe extern "C-unwind" fn executor_start(query_desc: *mut pg_sys::QueryDesc, eflags: c_int) {
    // SAFETY: the executor's arguments; an error pointer comes from pg_error::catch.
    unsafe {
        let failed = guarded(query_desc, eflags);
        if !failed.is_null() {
            pg_error::rethrow(failed);
        }
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn guarded(
    query_desc: *mut pg_sys::QueryDesc,
    eflags: c_int,
) -> *mut pg_sys::ErrorData {
    // SAFETY: query_desc is the executor's; EXPLAIN without ANALYZE runs nothing. Then the
    // previous hook or standard_ExecutorStart, unguarded C, under pg_error::catch.
    unsafe {
        if eflags & pg_sys::EXEC_FLAG_EXPLAIN_ONLY as c_int == 0 {
            dml_guard::check(query_desc);
            usage::record::record(query_desc);
        }
        match pg_error::catch(|| match PREV {
            Some(prev) => prev(query_desc, eflags),
            None => pg_error::raw::standard_ExecutorStart(query_desc, eflags),
        }) {
            Ok(()) => std::ptr::null_mut(),
            Err(e) => e.into_raw(),
        }
    }
}
