//! The ExecutorStart hook, FFI only: before a statement starts, the `large_dml` guard
//! (dml_guard.rs) may refuse it and column usage tracking (usage/record.rs) records what it reads
//! and writes; then the previous hook or standard_ExecutorStart, whose ERRORs (permission
//! denied, ...) pass through unchanged.
//!
//! Every statement comes through here, so the path costs what it does (issue 19: under 1% of the
//! cheapest pgbench query). How errors and panics are kept on their side of the FFI boundary:
//! - `executor_start`, the function Postgres calls, holds only raw pointers and integers: no
//!   value with a destructor, nothing that can panic. An ERROR raised by the chained call
//!   (previous hook or standard_ExecutorStart) longjmps over it as over a C frame (a "plain old
//!   frame" in the terms of the C-unwind RFC 2945), unchanged and with its CONTEXT, and no
//!   sigsetjmp is paid per statement to catch and re-raise it. Nothing unwinds out of that call:
//!   it is C, or another extension's hook, which Postgres calls from C all the same and which
//!   must therefore never let a panic escape (pgrx's #[pg_guard] sees to that).
//! - The Rust part runs in `before_start`, under `#[pg_guard]`: a Rust panic there is caught
//!   before it reaches C and becomes an ERROR; the guard's own ERROR (a refused large_dml) is
//!   raised by pgrx once every Rust value of that call has been dropped. Postgres functions
//!   reached from it through `pg_sys` (catalog lookups when a usage slot is claimed, the
//!   guard's checks) are behind pgrx's FFI boundary, which turns their ERROR into a panic.
//!   The few it calls on every statement without that boundary (pg_struct.rs reads Lists and
//!   Bitmapsets in place; usage/record.rs's `raw` reads the statement's start time) cannot
//!   raise an ERROR at all.

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

/// Not guarded by pgrx (see the module's comment): owns nothing, cannot panic.
unsafe extern "C-unwind" fn executor_start(query_desc: *mut pg_sys::QueryDesc, eflags: c_int) {
    // SAFETY: the executor's arguments, passed on unchanged; EXPLAIN without ANALYZE runs
    // nothing. The previous hook is a C function pointer, standard_ExecutorStart is declared
    // without pgrx's boundary: their ERROR leaves through this frame, which owns nothing.
    unsafe {
        if eflags & pg_sys::EXEC_FLAG_EXPLAIN_ONLY as c_int == 0 {
            before_start(query_desc);
        }
        match PREV {
            Some(prev) => prev(query_desc, eflags),
            None => pg_error::raw::standard_ExecutorStart(query_desc, eflags),
        }
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn before_start(query_desc: *mut pg_sys::QueryDesc) {
    // SAFETY: the executor's QueryDesc.
    unsafe {
        dml_guard::check(query_desc);
        usage::record::record(query_desc);
    }
}
