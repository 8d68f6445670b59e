//! Calling Postgres code that may raise an ERROR and keeping that error whole.
//!
//! pgrx's guard turns an ERROR raised below a Rust frame into a Rust panic and re-raises it from
//! a copy of a few fields: a custom SQLSTATE becomes XX000, and CONTEXT, schema, table, column
//! and constraint names are lost. Every statement passes through the ProcessUtility hook, so the
//! hook must not do that to errors that are not its own (a CALL of a procedure raising
//! 'AB123', a unique violation inside a DO block, ...). Here, as in PL/pgSQL's exception
//! blocks, the error is caught with sigsetjmp, copied whole (CopyErrorData) into the caller's
//! memory context, and later re-raised unchanged with ReThrowError from a frame with nothing to
//! drop (`rethrow`).

use std::ffi::{c_int, c_void};
use std::mem::MaybeUninit;

use pgrx::pg_sys;

/// An ERROR raised by Postgres, copied out of the error state (which has been flushed).
#[derive(Clone, Copy)]
pub struct PgError(*mut pg_sys::ErrorData);

impl PgError {
    pub fn sqlerrcode(&self) -> c_int {
        // SAFETY: a valid ErrorData from CopyErrorData.
        unsafe { (*self.0).sqlerrcode }
    }

    pub fn message(&self) -> String {
        // SAFETY: as above; message is NULL or a C string.
        unsafe {
            let m = (*self.0).message;
            if m.is_null() {
                String::new()
            } else {
                std::ffi::CStr::from_ptr(m).to_string_lossy().into_owned()
            }
        }
    }

    pub fn into_raw(self) -> *mut pg_sys::ErrorData {
        self.0
    }

    /// Forget the error (it is being handled, e.g. retried).
    pub fn free(self) {
        // SAFETY: allocated by CopyErrorData, not used afterwards.
        unsafe { pg_sys::FreeErrorData(self.0) }
    }
}

#[allow(improper_ctypes)]
unsafe extern "C-unwind" {
    // In pgrx-cshim (linked into every pgrx extension): sigsetjmp, then calls closure_code.
    fn call_closure_with_sigsetjmp(
        savemask: c_int,
        closure_env_ptr: *mut c_void,
        closure_code: unsafe extern "C-unwind" fn(jbuf: *mut c_void, env_ptr: *mut c_void) -> c_int,
    ) -> c_int;
}

/// Postgres functions declared without pgrx's guard: an ERROR in them must longjmp to `catch`'s
/// sigsetjmp whole, not be turned into a panic by pgrx's wrappers.
pub mod raw {
    use pgrx::pg_sys;
    use std::ffi::{c_char, c_int};
    #[allow(clashing_extern_declarations)]
    unsafe extern "C-unwind" {
        pub fn ReThrowError(edata: *mut pg_sys::ErrorData) -> !;
        pub fn standard_ProcessUtility(
            pstmt: *mut pg_sys::PlannedStmt,
            query_string: *const c_char,
            read_only_tree: bool,
            context: pg_sys::ProcessUtilityContext::Type,
            params: pg_sys::ParamListInfo,
            query_env: *mut pg_sys::QueryEnvironment,
            dest: *mut pg_sys::DestReceiver,
            qc: *mut pg_sys::QueryCompletion,
        );
        pub fn standard_ExecutorStart(query_desc: *mut pg_sys::QueryDesc, eflags: c_int);
    }
}

unsafe extern "C-unwind" fn trampoline<F: FnMut(*mut c_void) -> c_int>(
    jbuf: *mut c_void,
    env: *mut c_void,
) -> c_int {
    // SAFETY: env is the &mut F passed to call_closure_with_sigsetjmp below.
    unsafe { (*env.cast::<F>())(jbuf) }
}

fn trampoline_for<F: FnMut(*mut c_void) -> c_int>(
    _: &F,
) -> unsafe extern "C-unwind" fn(*mut c_void, *mut c_void) -> c_int {
    trampoline::<F>
}

/// Runs `f`, a direct call of C code (a raw function pointer or an unguarded symbol: nothing in
/// it may own Rust values that need dropping, since an ERROR longjmps over it). Returns its
/// result, or the ERROR it raised, copied into the current memory context.
///
/// # Safety
/// Main thread only; `f` must only call C code.
pub unsafe fn catch<T>(f: impl FnOnce() -> T) -> Result<T, PgError> {
    // SAFETY (whole function): the pattern of PG_TRY/PG_CATCH and of pgrx's own boundary.
    unsafe {
        let caller_cx = pg_sys::CurrentMemoryContext;
        let prev_stack = pg_sys::PG_exception_stack;
        let prev_context_stack = pg_sys::error_context_stack;
        let mut result: MaybeUninit<T> = MaybeUninit::uninit();
        let mut f = Some(f);
        let mut body = |jbuf: *mut c_void| -> c_int {
            pg_sys::PG_exception_stack = jbuf.cast();
            if let Some(f) = f.take() {
                result.write(f());
            }
            0
        };
        let jumped = call_closure_with_sigsetjmp(0, (&raw mut body).cast(), trampoline_for(&body));
        pg_sys::PG_exception_stack = prev_stack;
        pg_sys::error_context_stack = prev_context_stack;
        if jumped == 0 {
            Ok(result.assume_init())
        } else {
            pg_sys::CurrentMemoryContext = caller_cx;
            let edata = pg_sys::CopyErrorData();
            pg_sys::FlushErrorState();
            Err(PgError(edata))
        }
    }
}

/// Re-raise an error caught by `catch`, unchanged. Call it only from a frame that owns nothing
/// to drop (the hook's entry point): the longjmp skips it.
///
/// # Safety
/// See above; `e` must come from `catch` in this transaction.
pub unsafe fn rethrow(e: *mut pg_sys::ErrorData) -> ! {
    // SAFETY: the error state was flushed by `catch`, as ReThrowError requires.
    unsafe { raw::ReThrowError(e) }
}
