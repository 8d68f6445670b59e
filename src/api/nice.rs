//! A backfill's lower CPU priority (issue 14, section 3): `safe_ddl.backfill(..., nice => n)`
//! makes its own backend yield the CPU to the application's sessions while the job runs.
//!
//! Two kernel knobs, because which one the scheduler uses depends on the machine:
//!
//! * the process's nice value (`setpriority(PRIO_PROCESS, 0, n)`): what the scheduler weighs
//!   when the backend shares a scheduling group with the application's backends (PostgreSQL in a
//!   cgroup with a CPU controller: containers, most systemd units with CPU accounting; kernels
//!   without autogroup). An unprivileged process may raise its nice value but never lower it
//!   again (RLIMIT_NICE is 0 for postgres), so the backend keeps it until it disconnects;
//! * the nice value of its autogroup (`/proc/self/autogroup`, Linux with
//!   `kernel.sched_autogroup_enabled = 1`, tasks in the root CPU cgroup). Every backend calls
//!   setsid() at its start, so it is alone in its autogroup, and the scheduler weighs the groups:
//!   the process's own nice value then changes nothing against the other backends. An
//!   unprivileged process may set its autogroup's nice to any value from 0 to 19, so this one is
//!   restored when the job ends (also when it fails: the transaction-abort callback below).
//!
//! Neither is ever made lower (a higher priority) than it was; a failure is a WARNING, never an
//! error: the job runs either way, at the priority it has.

use std::cell::Cell;
use std::ffi::c_int;

use pgrx::pg_sys;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;

const AUTOGROUP: &str = "/proc/self/autogroup";
const AUTOGROUP_ENABLED: &str = "/proc/sys/kernel/sched_autogroup_enabled";

thread_local! {
    /// The autogroup nice value this backend had before the job lowered it, and the one the job
    /// set: restored at the job's end if the group still has the job's value.
    static AUTOGROUP_SET: Cell<Option<(i32, i32)>> = const { Cell::new(None) };
    static CALLBACK: Cell<bool> = const { Cell::new(false) };
}

fn warn(message: String, detail: String) {
    crate::encoding::report(
        ErrorReport::new(PgSqlErrorCode::ERRCODE_WARNING, message, "safe_ddl")
            .set_detail(detail)
            .set_hint("The backfill runs at its current CPU priority. CALL it with nice => 0 to skip this step."),
        PgLogLevel::WARNING,
    );
}

#[cfg(any(target_os = "linux", target_os = "android", target_os = "emscripten"))]
fn errno_location() -> *mut c_int {
    // SAFETY: returns this thread's errno.
    unsafe { libc::__errno_location() }
}

#[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
fn errno_location() -> *mut c_int {
    // SAFETY: returns this thread's errno.
    unsafe { libc::__error() }
}

/// The process's nice value. getpriority() may return -1 as a value: errno tells.
fn process_nice() -> Result<i32, std::io::Error> {
    // SAFETY: errno is this thread's; getpriority has no other side effect.
    unsafe {
        *errno_location() = 0;
        let n = libc::getpriority(libc::PRIO_PROCESS, 0);
        if n == -1 && *errno_location() != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(n)
    }
}

/// The autogroup's nice value, if the kernel schedules this backend by autogroup.
fn autogroup_nice() -> Option<i32> {
    let enabled = std::fs::read_to_string(AUTOGROUP_ENABLED).ok()?;
    if enabled.trim() != "1" {
        return None;
    }
    // "/autogroup-123 nice 0"
    let text = std::fs::read_to_string(AUTOGROUP).ok()?;
    let mut words = text.split_whitespace();
    while let Some(w) = words.next() {
        if w == "nice" {
            return words.next()?.parse().ok();
        }
    }
    None
}

/// Write the autogroup's nice value. The kernel accepts one such write per 100 ms from all
/// unprivileged processes together (EAGAIN otherwise): retry for about a second.
fn set_autogroup_nice(n: i32) -> Result<(), std::io::Error> {
    let mut tries = 0;
    loop {
        match std::fs::write(AUTOGROUP, format!("{n}\n")) {
            Ok(()) => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) && tries < 10 => {
                tries += 1;
                // SAFETY: a plain sleep (interrupts are serviced at the next CHECK_FOR_INTERRUPTS).
                unsafe { pg_sys::pg_usleep(110_000) };
            }
            Err(e) => return Err(e),
        }
    }
}

/// Lower this backend's CPU priority to `nice` (1-19; 0 does nothing) unless it is lower
/// already. Returns the process's nice value afterwards (NULL if it cannot be read).
#[pg_extern(volatile, parallel_unsafe)]
fn _backfill_nice(nice: i32) -> Option<i32> {
    if !(0..=19).contains(&nice) {
        ErrorReport::new(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            format!("safe_ddl.backfill: nice must be from 0 to 19, not {nice}"),
            "safe_ddl",
        )
        .set_hint("nice => 0 leaves the CPU priority alone; 1 to 19 lower it (19 is the lowest).")
        .report(PgLogLevel::ERROR);
        unreachable!();
    }
    if nice == 0 {
        return process_nice().ok();
    }
    match process_nice() {
        Ok(current) if current >= nice => {}
        Ok(_) => {
            // SAFETY: changes only this process's priority; no memory is involved.
            if unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice as c_int) } != 0 {
                let e = std::io::Error::last_os_error();
                warn(
                    format!("safe_ddl.backfill: could not lower this session's CPU priority to nice {nice}: {e}"),
                    "setpriority(PRIO_PROCESS, 0, n) on the backend failed.".into(),
                );
            }
        }
        Err(e) => warn(
            format!("safe_ddl.backfill: could not read this session's CPU priority: {e}"),
            "getpriority(PRIO_PROCESS, 0) on the backend failed; its priority is left alone."
                .into(),
        ),
    }
    if let Some(before) = autogroup_nice() {
        if before < nice {
            match set_autogroup_nice(nice) {
                Ok(()) => {
                    AUTOGROUP_SET.with(|s| {
                        // A job after a job in the same session: keep the value from before both.
                        let orig = s.get().map_or(before, |(o, _)| o);
                        s.set(Some((orig, nice)));
                    });
                    register_callback();
                }
                Err(e) => warn(
                    format!("safe_ddl.backfill: could not lower the CPU priority of this session's scheduling group to nice {nice}: {e}"),
                    format!("Writing {AUTOGROUP} failed (the kernel schedules backends by autogroup here, so the process's nice value alone does not make it yield the CPU)."),
                ),
            }
        }
    }
    process_nice().ok()
}

/// Give the autogroup back the nice value it had before `_backfill_nice` (if it still has the
/// one that set). The process's own nice value stays: it cannot be lowered again.
#[pg_extern(volatile, parallel_unsafe)]
fn _backfill_restore_nice() {
    restore(false);
}

fn restore(aborting: bool) {
    let Some((orig, set)) = AUTOGROUP_SET.with(|s| s.take()) else {
        return;
    };
    if autogroup_nice() != Some(set) {
        return; // changed by someone else since: theirs stands
    }
    if let Err(e) = set_autogroup_nice(orig) {
        let message = format!(
            "safe_ddl.backfill: could not give this session's scheduling group its CPU priority back (nice {orig}): {e}"
        );
        if aborting {
            // No WARNING while aborting; the server log has it.
            crate::encoding::report(
                ErrorReport::new(PgSqlErrorCode::ERRCODE_WARNING, message, "safe_ddl"),
                PgLogLevel::LOG,
            );
        } else {
            crate::encoding::report(
                ErrorReport::new(PgSqlErrorCode::ERRCODE_WARNING, message, "safe_ddl").set_hint(
                    "The session keeps the backfill's lower CPU priority until it disconnects: run other work in another session.",
                ),
                PgLogLevel::WARNING,
            );
        }
    }
}

fn register_callback() {
    if !CALLBACK.with(|c| c.replace(true)) {
        // SAFETY: registers a function of this library for the backend's lifetime.
        unsafe { pg_sys::RegisterXactCallback(Some(at_transaction_end), std::ptr::null_mut()) };
    }
}

/// A backfill's CALL that ends in an error aborts the transaction it runs in (its batches'
/// own errors are caught in subtransactions and never get here): restore the priority then.
#[pg_guard]
unsafe extern "C-unwind" fn at_transaction_end(
    event: pg_sys::XactEvent::Type,
    _arg: *mut std::ffi::c_void,
) {
    if event == pg_sys::XactEvent::XACT_EVENT_ABORT {
        restore(true);
    }
}
