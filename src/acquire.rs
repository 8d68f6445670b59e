//! Running a guarded DDL statement without stalling the application: bounded lock waits,
//! stall-free waiting while old transactions hold conflicting locks, retries with backoff in a
//! subtransaction, and an error that names the blockers when it gives up.
//!
//! Each attempt first looks at who holds (or waits for) a conflicting lock on the statement's
//! relations. While one of them has been in its transaction for longer than the lock timeout,
//! queueing would only make every later query wait behind us, so we do not queue: we sleep and
//! look again. Only when the conflicting holders are young do we queue, bounded by lock_timeout,
//! inside a subtransaction, so a timeout can be retried without losing the caller's transaction.

use std::time::{Duration, Instant};

use pgrx::pg_sys::panic::{CaughtError, ErrorReport};
use pgrx::pg_sys::{self};
use pgrx::prelude::*;

use crate::blockers::{self, Blocker};
use crate::ddl::{LockMode, Statement};
use crate::gucs;
use crate::pg_error::PgError;

/// The delay before attempt `n` (n >= 2): base * 2^(n-2), capped at 10 x base, +-25% jitter.
pub fn backoff(base_ms: i32, n: u32, jitter: f64) -> Duration {
    let base = f64::from(base_ms.max(1));
    let raw = base * 2f64.powi(n.saturating_sub(2).min(30) as i32);
    let capped = raw.min(base * 10.0);
    Duration::from_micros((capped * (0.75 + 0.5 * jitter.clamp(0.0, 1.0)) * 1000.0) as u64)
}

/// A cheap pseudo-random number in [0, 1) for jitter (no shared state across backends needed).
fn jitter() -> f64 {
    let seed = Instant::now().elapsed().as_nanos() as u64
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(7)
        ^ (u64::from(std::process::id()) << 32);
    let mut x = seed | 1;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    (x % 10_000) as f64 / 10_000.0
}

/// Sleep for `d`, waking up for cancel requests, and every 200 ms asking `done` whether to stop
/// early.
fn sleep_until(d: Duration, mut done: impl FnMut() -> bool) {
    let end = Instant::now() + d;
    let mut next_look = Instant::now() + Duration::from_millis(200);
    while Instant::now() < end {
        pgrx::check_for_interrupts!();
        if Instant::now() >= next_look {
            if done() {
                return;
            }
            next_look = Instant::now() + Duration::from_millis(200);
        }
        let left = end
            .saturating_duration_since(Instant::now())
            .min(Duration::from_millis(20));
        // SAFETY: plain sleep.
        unsafe { pg_sys::pg_usleep(left.as_micros() as std::ffi::c_long) };
    }
}

/// Returns when the successful attempt started (for the lock hold warning).
pub fn run_guarded(
    stmt: &Statement,
    lock: LockMode,
    mut run: impl FnMut() -> Result<(), PgError>,
) -> Result<pg_sys::TimestampTz, PgError> {
    let retries = u32::try_from(gucs::lock_retries()).unwrap_or(0);
    let attempts = retries + 1;
    let base = gucs::lock_retry_delay_ms();
    // SAFETY: LockTimeout is the current lock_timeout (already bounded by safe_ddl).
    let timeout_ms = f64::from(unsafe { pg_sys::LockTimeout });
    // Conflicting sessions that will not let go within our lock timeout. A prepared transaction
    // never ends by itself; a session whose age we may not see (another user's, without
    // pg_read_all_stats) is assumed young: queueing then still stalls nobody for longer than the
    // lock timeout.
    let old_blockers = || -> Vec<Blocker> {
        blockers::conflicting(&stmt.targets, lock)
            .into_iter()
            .filter(|b| b.pid.is_none() || b.xact_age_ms.is_some_and(|age| age > timeout_ms))
            .collect()
    };
    for attempt in 1..=attempts {
        let last = attempt == attempts;
        if retries > 0 && timeout_ms > 0.0 && blockers::any_conflict(&stmt.targets, lock) {
            // Stall-free: do not queue behind a transaction that will not end within our timeout.
            let old = old_blockers();
            if !old.is_empty() && last {
                // Queueing now would only stall the application for one more lock timeout.
                give_up(
                    "canceling statement: the tables are still locked by a long transaction",
                    attempts,
                    lock,
                    &old,
                );
            }
            if !old.is_empty() {
                notice(
                    &format!(
                        "safe_ddl: attempt {attempt} of {attempts}: not queueing for {} behind a long transaction; \
                         waiting for it to end",
                        lock.name()
                    ),
                    &blockers::summary(&old),
                );
                // Wait for the oldest one's transaction to end (its virtual transaction lock: no
                // table lock is requested, so nobody queues behind us), up to the next backoff
                // delay; without one to wait on, look again every 200 ms.
                let delay = backoff(base, attempt + 1, jitter());
                match old.iter().find_map(|b| b.vxid) {
                    Some(vxid) => wait_for_transaction_end(vxid, delay),
                    None => sleep_until(delay, || old_blockers().is_empty()),
                }
                continue;
            }
        }
        // SAFETY: plain clock read.
        let started = unsafe { pg_sys::GetCurrentTimestamp() };
        match try_once(&mut run) {
            Ok(()) => return Ok(started),
            Err(Failure::Error(e)) => return Err(e),
            Err(Failure::LockTimeout(message)) => {
                // Sessions that hold a conflicting lock (those that merely queued behind us while
                // we waited are not to blame).
                let holders: Vec<Blocker> = blockers::conflicting(&stmt.targets, lock)
                    .into_iter()
                    .filter(|b| b.granted)
                    .collect();
                if last {
                    give_up(&message, attempts, lock, &holders);
                }
                notice(
                    &format!(
                        "safe_ddl: attempt {attempt} of {attempts}: lock timeout waiting for {}; retrying",
                        lock.name()
                    ),
                    &blockers::summary(&holders),
                );
                sleep_until(backoff(base, attempt + 1, jitter()), || false);
            }
        }
    }
    unreachable!("the last attempt returns or raises")
}

fn notice(message: &str, detail: &str) {
    crate::encoding::report(
        ErrorReport::new(
            PgSqlErrorCode::ERRCODE_SUCCESSFUL_COMPLETION,
            message.to_string(),
            "safe_ddl",
        )
        .set_detail(detail.to_string()),
        PgLogLevel::NOTICE,
    );
}

/// The final 55P03, with the sessions that held conflicting locks in DETAIL.
fn give_up(message: &str, attempts: u32, lock: LockMode, blockers: &[Blocker]) -> ! {
    let detail = format!(
        "Gave up after {attempts} attempt{}. Sessions holding a lock that conflicts with {}:\n{}",
        if attempts == 1 { "" } else { "s" },
        lock.name(),
        blockers::summary(blockers)
    );
    let report = ErrorReport::new(PgSqlErrorCode::ERRCODE_LOCK_NOT_AVAILABLE, message.to_string(), "safe_ddl")
        .set_detail(detail)
        .set_hint(
            "Retry when the blocking transactions have ended (see SELECT * FROM safe_ddl.lock_report()), or end them \
             with pg_cancel_backend(pid) / pg_terminate_backend(pid). Raise safe_ddl.lock_retries to wait longer; \
             do not raise the lock timeout, which is how long the application stalls.",
        );
    crate::encoding::report(report, PgLogLevel::ERROR);
    unreachable!("ERROR does not return")
}

/// Wait until the virtual transaction `vxid` ends, or `max` has passed (lock_timeout on the
/// wait, in a subtransaction so the timeout is not an error for the caller).
fn wait_for_transaction_end(vxid: (i32, u32), max: Duration) {
    let ms = i32::try_from(max.as_millis()).unwrap_or(i32::MAX).max(1);
    let mut wait = || {
        let applied = crate::timeout::force(ms);
        // SAFETY: a lock manager wait inside the subtransaction try_once sets up; the lock
        // timeout bounds it.
        unsafe {
            pg_sys::VirtualXactLock(
                pg_sys::VirtualTransactionId {
                    backendId: vxid.0,
                    localTransactionId: vxid.1,
                },
                true,
            );
        }
        applied.restore();
        Ok(())
    };
    // A timeout just means "not yet"; the caller looks again. The closure never returns Err:
    // an error of its guarded calls comes back as a panic, which try_once re-raises.
    let _ = try_once(&mut wait);
}

/// Why an attempt failed.
enum Failure {
    /// lock_not_available (lock_timeout): try again. The message, for the final report.
    LockTimeout(String),
    /// Any other ERROR, raised by the statement itself: re-raised unchanged by the hook.
    Error(PgError),
}

/// One attempt in a subtransaction. A lock timeout rolls back only the subtransaction and comes
/// back as Err; any other error rolls back the subtransaction and propagates.
fn try_once(run: &mut impl FnMut() -> Result<(), PgError>) -> Result<(), Failure> {
    // SAFETY (whole function): the subtransaction pattern of PL/pgSQL's exception blocks: the
    // caller's memory context and resource owner are restored whatever happens, and a caught
    // error (copied into the caller's context by pg_error::catch) outlives the rollback.
    unsafe {
        let context = pg_sys::CurrentMemoryContext;
        let owner = pg_sys::CurrentResourceOwner;
        pg_sys::BeginInternalSubTransaction(std::ptr::null());
        pg_sys::MemoryContextSwitchTo(context);
        let restore = move || {
            pg_sys::MemoryContextSwitchTo(context);
            pg_sys::CurrentResourceOwner = owner;
        };
        let lock_not_available =
            |code: PgSqlErrorCode| code == PgSqlErrorCode::ERRCODE_LOCK_NOT_AVAILABLE;
        let outcome: Result<Result<(), PgError>, Box<CaughtError>> =
            PgTryBuilder::new(std::panic::AssertUnwindSafe(|| Ok(run())))
                .catch_others(|e| Err(Box::new(e)))
                .execute();
        match outcome {
            Ok(Ok(())) => {
                pg_sys::ReleaseCurrentSubTransaction();
                restore();
                Ok(())
            }
            Ok(Err(e)) => {
                pg_sys::RollbackAndReleaseCurrentSubTransaction();
                restore();
                if lock_not_available(PgSqlErrorCode::from(e.sqlerrcode())) {
                    let message = e.message();
                    e.free();
                    Err(Failure::LockTimeout(message))
                } else {
                    Err(Failure::Error(e))
                }
            }
            // An error of a guarded call of ours (pgrx turned it into a panic).
            Err(e) => {
                pg_sys::RollbackAndReleaseCurrentSubTransaction();
                restore();
                match *e {
                    CaughtError::PostgresError(r) if lock_not_available(r.sql_error_code()) => {
                        Err(Failure::LockTimeout(r.message().to_string()))
                    }
                    other => other.rethrow(),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::backoff;
    use std::time::Duration;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let mid = |n| backoff(500, n, 0.5);
        assert_eq!(mid(2), Duration::from_millis(500));
        assert_eq!(mid(3), Duration::from_millis(1000));
        assert_eq!(mid(5), Duration::from_millis(4000));
        assert_eq!(mid(6), Duration::from_millis(5000));
        assert_eq!(mid(11), Duration::from_millis(5000));
        assert_eq!(backoff(500, 2, 0.0), Duration::from_millis(375));
        let total: Duration = (2..=11).map(mid).sum();
        assert!(total >= Duration::from_secs(30), "{total:?}");
    }
}
