//! A few milliseconds of waiting in the lock manager that a cancel request can never be lost in.
//!
//! While safe_ddl waits outside the lock queue it waits on the blocking transaction's virtual
//! transaction lock (so `pg_blocking_pids`, `lock_report()` and isolation tests see whom it
//! waits for) in slices of a few milliseconds, and between slices tries to take the statement's
//! locks without waiting. A lock wait ends only when the lock is granted or an interrupt raises
//! an error, so each slice needs a timeout that raises one. Bounding the slice with
//! `lock_timeout` loses cancels: the lock timeout signals SIGINT, and a user's cancel (also
//! SIGINT) that arrives while the slice's timeout fires is reported by ProcessInterrupts as the
//! lock timeout, which safe_ddl takes for "not yet" and waits on (seen under CPU load, about one
//! cancel in 20-40).
//!
//! So a slice is bounded by a timeout of its own whose handler requests the interrupt directly
//! (no signal), and SIGINT is held back for the slice's few milliseconds: whatever error ends the
//! wait is then either the slice's own end or statement_timeout's (seen from the timer's state).
//! A cancel request or statement_timeout's SIGINT that arrived meanwhile is delivered when the
//! slice ends (or when the subtransaction around the wait is rolled back: AbortSubTransaction
//! unblocks every signal) and processed at the next CHECK_FOR_INTERRUPTS as what it is.
//! `pg_test/cancel_waits.sh` cancels such waits under CPU load.

use std::ffi::c_int;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::Duration;

use pgrx::pg_sys;

/// `STATEMENT_TIMEOUT` of `TimeoutId` (utils/timeout.h): 3 in every supported major.
const STATEMENT_TIMEOUT: c_int = 3;
/// Any id at or above `USER_TIMEOUT` makes RegisterTimeout allocate a free user-defined slot
/// (`USER_TIMEOUT` is 12 on PostgreSQL 15, 13 on 17 and 18; `MAX_TIMEOUTS` = USER_TIMEOUT + 10).
const ANY_USER_TIMEOUT: c_int = 20;

/// This backend's registered timeout (-1: not yet registered). A backend registers it on first
/// use: the timeout table is set up per backend, after shared_preload_libraries are loaded.
static SLICE_TIMEOUT: AtomicI32 = AtomicI32::new(-1);
/// Set by the timeout handler: the slice's time is up.
static FIRED: AtomicBool = AtomicBool::new(false);

mod raw {
    use std::ffi::c_int;
    // utils/timeout.h is not in pgrx's bindings. None of these raises an ERROR (RegisterTimeout
    // raises FATAL when all user slots are taken, which ends the backend).
    unsafe extern "C-unwind" {
        pub fn RegisterTimeout(id: c_int, handler: Option<unsafe extern "C-unwind" fn()>) -> c_int;
        pub fn enable_timeout_after(id: c_int, delay_ms: c_int);
        pub fn disable_timeout(id: c_int, keep_indicator: bool);
        pub fn get_timeout_active(id: c_int) -> bool;
        pub fn get_timeout_indicator(id: c_int, reset_indicator: bool) -> bool;
    }
}

/// The slice's timeout handler, called in signal context from the SIGALRM handler (which has set
/// the latch): what LockTimeoutHandler's SIGINT would do, without the signal.
unsafe extern "C-unwind" fn slice_ended() {
    FIRED.store(true, Ordering::SeqCst);
    // SAFETY: sig_atomic_t flags that signal handlers set (as StatementCancelHandler does).
    unsafe {
        std::ptr::write_volatile(&raw mut pg_sys::InterruptPending, 1);
        std::ptr::write_volatile(&raw mut pg_sys::QueryCancelPending, 1);
        pg_sys::SetLatch(pg_sys::MyLatch);
    }
}

fn timeout_id() -> c_int {
    let id = SLICE_TIMEOUT.load(Ordering::Relaxed);
    if id >= 0 {
        return id;
    }
    // SAFETY: registering a handler in this backend's timeout table.
    let id = unsafe { raw::RegisterTimeout(ANY_USER_TIMEOUT, Some(slice_ended)) };
    SLICE_TIMEOUT.store(id, Ordering::Relaxed);
    id
}

/// Hold SIGINT back; returns the previous mask.
fn block_sigint() -> libc::sigset_t {
    // SAFETY: plain signal mask calls on this (single-threaded) backend; zeroed is a valid
    // sigset_t for sigprocmask to fill.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigprocmask(libc::SIG_BLOCK, &set, &mut old);
        old
    }
}

/// One slice: from `start` to `finish` (or drop), SIGINT is held back and the slice's timeout
/// is armed.
pub struct Slice {
    old_mask: libc::sigset_t,
    statement_timeout_armed: bool,
    id: c_int,
    finished: bool,
}

impl Slice {
    /// Process what is already pending (a cancel that arrived before is reported as such), hold
    /// SIGINT back and arm the timeout for `max` (at least 1 ms).
    pub fn start(max: Duration) -> Slice {
        pgrx::check_for_interrupts!();
        let id = timeout_id();
        let mut old_mask = block_sigint();
        // A cancel request that arrived between the look above and the blocking is pending now;
        // with the slice's timeout firing before the wait looks at it, it would be taken for the
        // slice's own end and lost. Process it as what it is.
        // SAFETY: interrupt flag of this backend; signal mask calls as in block_sigint.
        if unsafe { std::ptr::read_volatile(&raw const pg_sys::QueryCancelPending) } != 0 {
            unsafe { libc::sigprocmask(libc::SIG_SETMASK, &old_mask, std::ptr::null_mut()) };
            pgrx::check_for_interrupts!();
            old_mask = block_sigint();
        }
        FIRED.store(false, Ordering::SeqCst);
        let ms = c_int::try_from(max.as_millis())
            .unwrap_or(c_int::MAX)
            .max(1);
        // SAFETY: timeout API on this backend's own timeouts.
        let statement_timeout_armed = unsafe {
            raw::enable_timeout_after(id, ms);
            raw::get_timeout_active(STATEMENT_TIMEOUT)
        };
        Slice {
            old_mask,
            statement_timeout_armed,
            id,
            finished: false,
        }
    }

    /// Whether the error `code` that ended the wait is the slice's own end: a query cancel
    /// raised while SIGINT was held back, after the slice's timeout fired, and not reported as
    /// statement_timeout's. The caller then just looks again.
    ///
    /// statement_timeout may fire between ProcessInterrupts reporting the slice's end (as a
    /// cancel "due to user request": the timeout had not fired yet) and this look. Its indicator
    /// is then still set (ProcessInterrupts resets it only when it reports the timeout), and its
    /// SIGINT is pending: the wait is the slice's own end, and the next CHECK_FOR_INTERRUPTS
    /// reports the statement timeout as such (seen on PostgreSQL 18, about one round in 100 of
    /// pg_test/cancel_waits.sh, as "canceling statement due to user request").
    pub fn ended_by_itself(&self, code: pgrx::PgSqlErrorCode) -> bool {
        code == pgrx::PgSqlErrorCode::ERRCODE_QUERY_CANCELED
            && FIRED.load(Ordering::SeqCst)
            && (!self.statement_timeout_fired() || self.statement_timeout_unreported())
    }

    /// statement_timeout fired and ProcessInterrupts has not reported it yet.
    fn statement_timeout_unreported(&self) -> bool {
        // SAFETY: reads the timeout's indicator without resetting it.
        self.statement_timeout_armed
            && unsafe { raw::get_timeout_indicator(STATEMENT_TIMEOUT, false) }
    }

    fn statement_timeout_fired(&self) -> bool {
        // SAFETY: reads the timeout's state. A timeout that fired is no longer active.
        self.statement_timeout_armed && !unsafe { raw::get_timeout_active(STATEMENT_TIMEOUT) }
    }

    /// End the slice after the wait: `by_itself` when `ended_by_itself` said so, false when
    /// the wait ended without an error. A cancel request or statement_timeout that arrived during
    /// the slice is pending again when this returns, for the next CHECK_FOR_INTERRUPTS.
    pub fn finish(mut self, by_itself: bool) {
        // Stop the timer before looking at FIRED: firing between that look and restore()'s
        // disabling, its request would stay pending and cancel a later statement.
        // SAFETY: timeout API on this backend's own timeout (disabling twice is harmless).
        unsafe { raw::disable_timeout(self.id, false) };
        if !by_itself && FIRED.load(Ordering::SeqCst) {
            // The timeout fired after the wait had ended, and SIGINT was held back all along
            // (nothing rolled back, which would have unblocked it): the query cancel still
            // pending is the slice's own request. Withdraw it. (When the wait ended by itself,
            // ProcessInterrupts consumed that request, and the subtransaction's abort has
            // unblocked SIGINT: a pending cancel now is someone else's.)
            // SAFETY: interrupt flag of this backend.
            unsafe { std::ptr::write_volatile(&raw mut pg_sys::QueryCancelPending, 0) };
        }
        self.restore();
    }

    fn restore(&mut self) {
        self.finished = true;
        // SAFETY: timeout API and signal mask of this backend. A SIGINT held back is delivered
        // here (unless a subtransaction abort already unblocked it).
        unsafe {
            raw::disable_timeout(self.id, false);
            libc::sigprocmask(libc::SIG_SETMASK, &self.old_mask, std::ptr::null_mut());
        }
    }
}

/// Dropped unfinished: an error is on its way out of the wait.
impl Drop for Slice {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let statement_timeout_fired = self.statement_timeout_fired();
        self.restore();
        if statement_timeout_fired {
            // The error was raised after statement_timeout fired (its own, or one reported in
            // its place): the SIGINT it sent, just delivered, would cancel again later.
            // SAFETY: interrupt flag of this backend.
            unsafe { std::ptr::write_volatile(&raw mut pg_sys::QueryCancelPending, 0) };
        }
    }
}
