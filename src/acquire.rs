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

use crate::blockers::{self, Blocker, Kind};
use crate::ddl::{LockMode, Statement};
use crate::forecast::{Forecast, Holder};
use crate::gucs;
use crate::metrics::LockWait;
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

/// How often a wait outside the lock queue tries to take the locks without waiting.
const POLL: Duration = Duration::from_millis(5);

/// Try to take `mode` on every relation of `relids` without waiting (no lock request is ever
/// queued, so nobody waits behind us). All or nothing: when one cannot be had, the ones just taken
/// are released again, so a failed look holds nothing.
fn try_lock_all(relids: &[u32], mode: LockMode) -> bool {
    for (i, relid) in relids.iter().enumerate() {
        // SAFETY: lock manager calls inside a transaction; UnlockRelationOid releases exactly the
        // lock ConditionalLockRelationOid took a moment ago under the same resource owner (a lock
        // the transaction held before keeps its own count).
        unsafe {
            if !pg_sys::ConditionalLockRelationOid(pg_sys::Oid::from(*relid), mode.to_pg()) {
                for taken in &relids[..i] {
                    pg_sys::UnlockRelationOid(pg_sys::Oid::from(*taken), mode.to_pg());
                }
                return false;
            }
        }
    }
    true
}

/// Release the locks `try_lock_all` took, when the statement run under them did not succeed.
fn release_all(relids: &[u32], mode: LockMode) {
    for relid in relids {
        // SAFETY: see try_lock_all.
        unsafe { pg_sys::UnlockRelationOid(pg_sys::Oid::from(*relid), mode.to_pg()) };
    }
}

/// How a wait outside the lock queue ended.
#[derive(Debug, PartialEq, Eq)]
enum Waited {
    /// Every target was free for an instant: we hold the statement's locks now.
    Locked,
    /// The transaction we waited for ended (another may hold the lock already).
    BlockerEnded,
    /// `max` passed and it is still there.
    TimedOut,
}

/// Wait up to `max` outside the lock queue: every 5 ms try to take the locks without waiting.
/// In between, wait on the virtual transaction lock of `vxid` (the awaited transaction) for at most
/// 5 ms: a lock wait that nobody queues behind (no lock on the table is requested), which ends the
/// moment that transaction ends, and shows in pg_blocking_pids who we wait for. Without one, sleep
/// and every 200 ms ask `ended` whether what we wait for is gone. Wakes up for cancel requests.
fn wait_outside(
    relids: &[u32],
    mode: LockMode,
    max: Duration,
    awaited: Option<((i32, u32), i32)>,
    watch: &mut DeadlockWatch,
    mut ended: impl FnMut() -> bool,
) -> Waited {
    let end = Instant::now() + max;
    let mut next_look = Instant::now() + Duration::from_millis(200);
    loop {
        pgrx::check_for_interrupts!();
        if try_lock_all(relids, mode) {
            return Waited::Locked;
        }
        let now = Instant::now();
        if now >= end {
            return Waited::TimedOut;
        }
        let left = end.saturating_duration_since(now).min(POLL);
        if let Some((vxid, pid)) = awaited {
            wait_for_transaction_end(vxid, left);
            if transaction_ended(vxid) {
                return Waited::BlockerEnded;
            }
            watch.look(pid, mode, relids);
            continue;
        }
        if now >= next_look {
            if ended() {
                return Waited::BlockerEnded;
            }
            next_look = now + Duration::from_millis(200);
        }
        // SAFETY: plain sleep.
        unsafe { pg_sys::pg_usleep(left.as_micros().max(1) as std::ffi::c_long) };
    }
}

/// The current deadlock_timeout (at least 1 ms).
fn deadlock_timeout() -> Duration {
    // SAFETY: DeadlockTimeout is the current deadlock_timeout in ms.
    Duration::from_millis(
        u64::try_from(unsafe { pg_sys::DeadlockTimeout })
            .unwrap_or(1000)
            .max(1),
    )
}

/// The deadlock detector never sees a wait outside the lock queue through: it runs only in a lock
/// wait that lasts deadlock_timeout, and ours are 5 ms slices. When the transaction we wait for
/// waits for a lock this transaction holds (it needs a table a previous statement of ours
/// locked, or a row we updated), neither would ever end. So every deadlock_timeout of waiting,
/// look whether the awaited session is blocked by us, and if so fail with Postgres' deadlock
/// error, as its deadlock detector would have. When it, too, waits outside the queue (a guarded
/// statement waiting for our transaction, wait_locktype virtualxid), only the one with the higher
/// pid gives up, so that the other goes through.
struct DeadlockWatch {
    next: Instant,
}

impl DeadlockWatch {
    fn new() -> DeadlockWatch {
        DeadlockWatch {
            next: Instant::now() + deadlock_timeout(),
        }
    }

    fn look(&mut self, pid: i32, mode: LockMode, relids: &[u32]) {
        if Instant::now() < self.next {
            return;
        }
        self.next = Instant::now() + deadlock_timeout();
        let Some(outside) = blockers::waits_for_us(pid) else {
            return;
        };
        // SAFETY: MyProcPid is this backend's pid.
        let me = unsafe { pg_sys::MyProcPid };
        if outside && pid > me {
            return;
        }
        let names: Vec<String> = relids
            .iter()
            // SAFETY: syscache look-up; NULL for a relation that is gone.
            .map(|oid| unsafe {
                let name = pg_sys::get_rel_name(pg_sys::Oid::from(*oid));
                if name.is_null() {
                    oid.to_string()
                } else {
                    crate::encoding::cstr_to_rust(name)
                }
            })
            .collect();
        let report = ErrorReport::new(
            PgSqlErrorCode::ERRCODE_T_R_DEADLOCK_DETECTED,
            "deadlock detected".to_string(),
            "safe_ddl",
        )
        .set_detail(format!(
            "Process {me} waits outside the lock queue (for {} on {}) for the transaction of process {pid} to end; \
             process {pid} waits for a lock held by the transaction of process {me}.",
            mode.name(),
            names.join(", ")
        ))
        .set_hint(
            "Retry the transaction. Transactions that lock the same tables in the same order cannot wait for each other."
                .to_string(),
        );
        crate::encoding::report(report, PgLogLevel::ERROR);
    }
}

/// Wait until the virtual transaction `vxid` ends, or `max` has passed: a lock wait in a
/// subtransaction, bounded by a `slice::Slice` (not by lock_timeout, whose end can swallow a
/// cancel request that arrives at the same moment).
fn wait_for_transaction_end(vxid: (i32, u32), max: Duration) {
    let slice = crate::slice::Slice::start(max);
    let mut wait = || {
        // No lock timeout of its own: the slice bounds the wait.
        let applied = crate::timeout::force(0);
        // A lock manager wait, inside the subtransaction try_once sets up.
        virtual_xact_lock(vxid, true);
        applied.restore();
        Ok(())
    };
    // The slice's own end is "not yet"; any other error (a cancel request, statement_timeout,
    // a deadlock) propagates, and the slice, dropped on the way, restores the signal mask.
    match try_once_or(&mut wait, |code| slice.ended_by_itself(code)) {
        Ok(()) => slice.finish(false),
        Err(Failure::LockTimeout(_)) => slice.finish(true),
        // The closure never returns Err (errors of its guarded calls come back as panics,
        // re-raised by try_once_or with the slice dropped on the way).
        Err(Failure::Error(e)) => {
            drop(slice);
            e.free();
            pgrx::error!("safe_ddl: internal error: a lock wait returned an error value")
        }
    }
    // A cancel request or statement_timeout that arrived during the slice.
    pgrx::check_for_interrupts!();
}

/// Whether the virtual transaction `vxid` has ended (no wait, no lock request).
fn transaction_ended(vxid: (i32, u32)) -> bool {
    virtual_xact_lock(vxid, false)
}

/// VirtualXactLock on `vxid`: with `wait`, until that transaction ends; without, only a look.
/// Returns whether it has ended.
fn virtual_xact_lock(vxid: (i32, u32), wait: bool) -> bool {
    // SAFETY: a lock manager call inside a transaction; a wait is interruptible and releases
    // its lock request on error.
    unsafe {
        pg_sys::VirtualXactLock(
            crate::pg_version::virtual_transaction_id(vxid.0, vxid.1),
            wait,
        )
    }
}

/// A blocking transaction whose statement safe_ddl.cancel_blockers_after cancelled: its session's
/// pid and its virtual transaction.
type CancelledXact = (i32, Option<(i32, u32)>);

/// Returns when the successful attempt started (for the lock hold warning).
///
/// Attempts (`safe_ddl.lock_retries` + 1) are used by waits in the lock queue that time out and
/// by waits outside it that end with the awaited transaction still running; a wait outside the
/// queue that ends because that transaction ended uses none, and all waits outside the queue
/// together are bounded by `safe_ddl.lock_wait_max` (0: every such wait is an attempt).
pub fn run_guarded(
    stmt: &Statement,
    lock: LockMode,
    mut run: impl FnMut() -> Result<(), PgError>,
) -> Result<pg_sys::TimestampTz, PgError> {
    let retries = u32::try_from(gucs::lock_retries()).unwrap_or(0);
    let attempts = retries + 1;
    let base = gucs::lock_retry_delay_ms();
    let wait_max = Duration::from_millis(u64::try_from(gucs::lock_wait_max_ms()).unwrap_or(0));
    let began = Instant::now();
    // What this statement's wait adds to safe_ddl.metrics, counted when it is dropped (also by an
    // ERROR unwinding through here); nothing for a statement that got its locks at once.
    let mut tally = LockWait::new(began);
    // SAFETY: LockTimeout is the current lock_timeout (already bounded by safe_ddl).
    let timeout_ms = f64::from(unsafe { pg_sys::LockTimeout });
    // Conflicting sessions that will not let go within our lock timeout. A prepared transaction
    // never ends by itself; a session whose age we may not see (another user's, without
    // pg_read_all_stats) is assumed young: queueing then still stalls nobody for longer than the
    // lock timeout.
    let is_old = |b: &Blocker| b.pid.is_none() || b.xact_age_ms.is_some_and(|age| age > timeout_ms);
    let old_blockers = || -> Vec<Blocker> {
        blockers::conflicting(&stmt.targets, lock)
            .into_iter()
            .filter(is_old)
            .collect()
    };
    // Durations of the blocking transactions seen ending, to tell when queueing is worth it.
    let mut forecast = Forecast::default();
    // Run the statement under the locks a look outside the queue took; they are released again
    // if it fails for want of another lock.
    let run_locked = |run: &mut dyn FnMut() -> Result<(), PgError>, tally: &mut LockWait| {
        // SAFETY: plain clock read.
        let started = unsafe { pg_sys::GetCurrentTimestamp() };
        tally.attempt();
        match try_once(&mut || run()) {
            Ok(()) => Ok(Ok(started)),
            Err(Failure::Error(e)) => Ok(Err(e)),
            Err(Failure::LockTimeout(message)) => {
                tally.attempt_failed();
                release_all(&stmt.targets, lock);
                Err(message)
            }
        }
    };
    // Tables this transaction already holds read/write-blocking locks on: looked up only once a
    // wait is needed.
    let mut held: Option<Vec<String>> = None;
    // Distinct blocking transactions that ended while we waited (to tell a stream of short
    // transactions from one long one).
    let mut ended_while_waiting = 0usize;
    let mut last_notice: Option<Instant> = None;
    // Under safe_ddl.cancel_blockers_after: the transactions whose statement was cancelled (each
    // once; a session's next transaction is another one), and the sessions terminated (each once).
    let mut cancelled: Vec<(CancelledXact, Instant)> = Vec::new();
    let mut terminated: Vec<i32> = Vec::new();
    let mut watch = DeadlockWatch::new();
    // Autovacuum workers cancelled after deadlock_timeout (each once).
    let mut autovacuum_cancelled: Vec<i32> = Vec::new();
    let deadlock_timeout = deadlock_timeout();
    let mut attempt = 1u32;
    loop {
        let last = attempt >= attempts;
        // The queued attempt about to run was entered on the forecast.
        let mut forecast_queued = false;
        if timeout_ms > 0.0 && blockers::any_conflict(&stmt.targets, lock) {
            tally.conflict();
            let held = held.get_or_insert_with(|| blockers::held_elsewhere(&stmt.targets));
            if !held.is_empty() {
                // Every moment we wait, the application waits on the tables we hold: look for a
                // free instant (never queueing) for one lock timeout in all, then give up.
                let max = Duration::from_micros((timeout_ms * 1000.0) as u64);
                if wait_outside(&stmt.targets, lock, max, None, &mut watch, || false)
                    == Waited::Locked
                {
                    match run_locked(&mut run, &mut tally) {
                        Ok(result) => return result,
                        Err(message) => {
                            tally.give_up();
                            give_up_holding(&message, held, lock, &stmt.targets)
                        }
                    }
                }
                tally.give_up();
                give_up_holding(
                    "canceling statement: not waiting for the lock while this transaction holds locks on other tables that block reads or writes",
                    held,
                    lock,
                    &stmt.targets,
                );
            }
            let conflicting = if retries > 0 {
                blockers::conflicting(&stmt.targets, lock)
            } else {
                vec![]
            };
            let holders: Vec<Holder> = conflicting
                .iter()
                .filter(|b| b.granted)
                .map(|b| Holder {
                    vxid: b.vxid,
                    age_ms: b.xact_age_ms,
                    idle: b.idle_in_transaction(),
                })
                .collect();
            forecast.observe(&holders, began.elapsed().as_secs_f64() * 1000.0);
            let old: Vec<Blocker> = conflicting.into_iter().filter(is_old).collect();
            // Old holders, but those seen ending so far say the current ones will all be gone
            // within half the lock timeout (the other half is a margin): queue now; the attempt
            // stays bounded by the lock timeout.
            let queue_now = forecast
                .expected_stall_ms(&holders)
                .filter(|stall| *stall <= timeout_ms / 2.0);
            forecast_queued = queue_now.is_some() && !old.is_empty();
            if let (false, Some(stall)) = (old.is_empty(), queue_now) {
                notice(
                    &format!(
                        "safe_ddl: attempt {attempt} of {attempts}: entering the lock queue for {}: the blocking \
                         transactions are expected to end within {stall:.0} ms",
                        lock.name()
                    ),
                    &format!(
                        "The blocking transactions seen ending while this statement waited lasted up to {:.0} ms; \
                         the lock timeout ({timeout_ms:.0} ms) bounds the wait in the queue.\n{}",
                        forecast.typical_ms().unwrap_or(0.0),
                        blockers::summary(&old)
                    ),
                );
            }
            if !old.is_empty() && queue_now.is_none() {
                // Stall-free: do not queue behind a transaction that will not end within our
                // timeout.
                let cancel_after = Duration::from_millis(
                    u64::try_from(gucs::cancel_blockers_after_ms()).unwrap_or(0),
                );
                // Someone was cancelled in this round: look again within a second whether its
                // transaction survived the cancel (it is terminated then).
                let mut just_cancelled = false;
                if cancel_after > Duration::ZERO && began.elapsed() >= cancel_after {
                    // Opt-in policy: end what blocks us, then take the lock. A cancel ends the
                    // blocking transaction, unless it survives it (rolled back to a savepoint, as
                    // psql's ON_ERROR_ROLLBACK and ORMs' nested transactions do, or caught the
                    // error) and still holds its locks a second later: then the session is
                    // terminated, as pg_repack does.
                    let mut cancel: Vec<i32> = Vec::new();
                    let mut terminate: Vec<i32> = Vec::new();
                    for b in &old {
                        let Some(pid) = b.pid else { continue };
                        if terminated.contains(&pid)
                            || cancel.contains(&pid)
                            || terminate.contains(&pid)
                        {
                            continue;
                        }
                        match cancelled.iter().find(|(key, _)| *key == (pid, b.vxid)) {
                            Some((_, at)) if at.elapsed() >= Duration::from_millis(900) => {
                                terminate.push(pid)
                            }
                            // Cancelled a moment ago: its transaction may still be aborting.
                            Some(_) => {}
                            None => {
                                cancelled.push(((pid, b.vxid), Instant::now()));
                                cancel.push(pid);
                            }
                        }
                    }
                    terminated.extend(&terminate);
                    just_cancelled = !cancel.is_empty();
                    for line in blockers::signal(&cancel, &terminate) {
                        notice_and_log(
                            &format!("safe_ddl: safe_ddl.cancel_blockers_after: {line}"),
                            &format!(
                                "The statement waited {} ms for its lock outside the queue.",
                                began.elapsed().as_millis()
                            ),
                        );
                    }
                }
                // As PostgreSQL's lock manager does for a lock waiter after deadlock_timeout:
                // cancel a blocking autovacuum that does not run to prevent wraparound.
                if began.elapsed() >= deadlock_timeout {
                    for line in blockers::cancel_autovacuum(&old, &mut autovacuum_cancelled) {
                        just_cancelled = true;
                        notice_and_log(
                            &format!("safe_ddl: {line}"),
                            &format!(
                                "The statement waited {} ms for its lock outside the queue; PostgreSQL's lock manager \
                                 cancels such an autovacuum for any statement waiting deadlock_timeout for its lock.",
                                began.elapsed().as_millis()
                            ),
                        );
                    }
                }
                let kind = blockers::kind(&old, ended_while_waiting);
                let out_of_time = wait_max > Duration::ZERO && began.elapsed() >= wait_max;
                if last || out_of_time {
                    // Queueing now would only stall the application for one more lock timeout.
                    tally.give_up();
                    give_up(kind, attempt, out_of_time, lock, &old);
                }
                if last_notice.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                    last_notice = Some(Instant::now());
                    notice(
                        &format!(
                            "safe_ddl: attempt {attempt} of {attempts}: not queueing for {} behind {}; \
                             waiting outside the lock queue",
                            lock.name(),
                            what(kind)
                        ),
                        &blockers::summary(&old),
                    );
                }
                // Wait outside the lock queue (nobody queues behind us) for the oldest one's
                // transaction to end, up to the next backoff delay, taking the locks at once if
                // the tables are free for an instant.
                let full_delay = backoff(base, attempt + 1, jitter());
                let mut delay = full_delay;
                if wait_max > Duration::ZERO {
                    delay = delay.min(wait_max.saturating_sub(began.elapsed()));
                }
                if cancel_after > began.elapsed() {
                    // Look again when safe_ddl.cancel_blockers_after is reached, not a whole
                    // backoff delay later.
                    delay = delay.min(cancel_after - began.elapsed());
                }
                if just_cancelled {
                    delay = delay.min(Duration::from_secs(1));
                }
                if deadlock_timeout > began.elapsed() {
                    // Look again at deadlock_timeout, when a blocking autovacuum is cancelled.
                    delay = delay.min(deadlock_timeout - began.elapsed());
                }
                let waited = match old.iter().find_map(|b| Some((b.vxid?, b.pid?))) {
                    Some(awaited) => wait_outside(
                        &stmt.targets,
                        lock,
                        delay,
                        Some(awaited),
                        &mut watch,
                        || false,
                    ),
                    None => wait_outside(&stmt.targets, lock, delay, None, &mut watch, || {
                        old_blockers().is_empty()
                    }),
                };
                match waited {
                    Waited::Locked => match run_locked(&mut run, &mut tally) {
                        Ok(result) => return result,
                        Err(_) => {
                            attempt += 1;
                            tally.retry();
                        }
                    },
                    Waited::BlockerEnded if wait_max > Duration::ZERO => ended_while_waiting += 1,
                    // Cut short to look again at a set moment (deadlock_timeout, the blocker
                    // policy): not a whole attempt's wait, so it uses none.
                    Waited::TimedOut if delay < full_delay => {}
                    Waited::BlockerEnded | Waited::TimedOut => {
                        attempt += 1;
                        tally.retry();
                    }
                }
                continue;
            }
        }
        // SAFETY: plain clock read.
        let started = unsafe { pg_sys::GetCurrentTimestamp() };
        tally.attempt();
        match try_once(&mut run) {
            Ok(()) => return Ok(started),
            Err(Failure::Error(e)) => return Err(e),
            Err(Failure::LockTimeout(message)) => {
                tally.attempt_failed();
                // Sessions that hold a conflicting lock (those that merely queued behind us while
                // we waited are not to blame).
                let holders: Vec<Blocker> = blockers::conflicting(&stmt.targets, lock)
                    .into_iter()
                    .filter(|b| b.granted)
                    .collect();
                if last {
                    tally.give_up();
                    give_up_queued(&message, attempts, lock, &holders);
                }
                notice(
                    &format!(
                        "safe_ddl: attempt {attempt} of {attempts}: lock timeout waiting for {}; retrying",
                        lock.name()
                    ),
                    &blockers::summary(&holders),
                );
                if forecast_queued {
                    // The forecast was wrong: start again from what is seen from now on.
                    forecast.forget();
                }
                attempt += 1;
                tally.retry();
                // Between attempts, too, take the locks the moment the tables are free.
                let delay = backoff(base, attempt, jitter());
                if wait_outside(&stmt.targets, lock, delay, None, &mut watch, || false)
                    == Waited::Locked
                {
                    match run_locked(&mut run, &mut tally) {
                        Ok(result) => return result,
                        Err(_) => {
                            attempt += 1;
                            tally.retry();
                        }
                    }
                }
            }
        }
    }
}

fn what(kind: Kind) -> &'static str {
    match kind {
        Kind::Long => "a long transaction",
        Kind::IdleInTransaction => "a session idle in transaction",
        Kind::Stream => "a stream of short transactions",
    }
}

/// A NOTICE for the session, and the message in the server log (what safe_ddl did to other
/// sessions).
fn notice_and_log(message: &str, detail: &str) {
    notice(message, detail);
    pgrx::log!("{message}");
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

const SHOW_BLOCKERS: &str = "see SELECT * FROM safe_ddl.lock_report()";

/// The final 55P03 after waiting outside the lock queue, with the blockers in DETAIL and a HINT
/// for the kind of traffic that kept the tables locked.
fn give_up(kind: Kind, attempt: u32, out_of_time: bool, lock: LockMode, blockers: &[Blocker]) -> ! {
    let message = match kind {
        Kind::Long => "canceling statement: the tables are still locked by a long transaction",
        Kind::IdleInTransaction => {
            "canceling statement: the tables are still locked by a session idle in transaction"
        }
        Kind::Stream => {
            "canceling statement: the tables were never free: a stream of short transactions kept them locked"
        }
    };
    let why = if out_of_time {
        format!(
            "Gave up after waiting safe_ddl.lock_wait_max ({} ms) outside the lock queue",
            gucs::lock_wait_max_ms()
        )
    } else {
        format!(
            "Gave up after {attempt} attempt{}",
            if attempt == 1 { "" } else { "s" }
        )
    };
    let idle_pids: Vec<String> = blockers
        .iter()
        .filter(|b| b.idle_in_transaction())
        .filter_map(|b| b.pid.map(|p| p.to_string()))
        .collect();
    let hint = match kind {
        Kind::IdleInTransaction => format!(
            "A session idle in transaction does not end by itself, and pg_cancel_backend does nothing to it (it runs no \
             statement): end it with SELECT pg_catalog.pg_terminate_backend({}); ({SHOW_BLOCKERS}), or find the \
             client that left it open. Set idle_in_transaction_session_timeout so this cannot last.",
            idle_pids.first().map_or("pid", String::as_str)
        ),
        Kind::Stream => format!(
            "Each blocking transaction is short, but a new one always holds the lock before the last one ends, so \
             there is no moment to take it without stalling the application until the youngest ends. Run the \
             migration when the traffic is lower ({SHOW_BLOCKERS}), or let it end the blocking statements after a \
             while: SET safe_ddl.cancel_blockers_after = '10s'; (a superuser's setting, or GRANT SET ON PARAMETER). \
             Do not raise the lock timeout, which is how long the application stalls."
        ),
        Kind::Long => format!(
            "Retry when the blocking transactions have ended ({SHOW_BLOCKERS}), or end them with \
             pg_cancel_backend(pid) / pg_terminate_backend(pid). Raise safe_ddl.lock_retries (and \
             safe_ddl.lock_wait_max) to wait longer; do not raise the lock timeout, which is how long the \
             application stalls."
        ),
    };
    // A prepared transaction has no session: pg_cancel_backend / pg_terminate_backend and
    // cancel_blockers_after cannot end it, and it never ends by itself.
    let hint = if blockers.iter().any(|b| b.granted && b.pid.is_none()) {
        format!(
            "A prepared transaction holds the lock: it never ends by itself and has no session to cancel or terminate. \
             Find it with SELECT gid, prepared, owner, database FROM pg_catalog.pg_prepared_xacts; and end it with \
             COMMIT PREPARED 'gid' or ROLLBACK PREPARED 'gid' (what its transaction manager would have done). {hint}"
        )
    } else {
        hint
    };
    report_error(
        message,
        format!(
            "{why}. Sessions holding a lock that conflicts with {}:\n{}",
            lock.name(),
            blockers::summary(blockers)
        ),
        hint,
    )
}

/// The final 55P03 after the last attempt in the lock queue timed out.
fn give_up_queued(message: &str, attempts: u32, lock: LockMode, blockers: &[Blocker]) -> ! {
    report_error(
        message,
        format!(
            "Gave up after {attempts} attempt{}. Sessions holding a lock that conflicts with {}:\n{}",
            if attempts == 1 { "" } else { "s" },
            lock.name(),
            blockers::summary(blockers)
        ),
        format!(
            "Retry when the blocking transactions have ended ({SHOW_BLOCKERS}), or end them with \
             pg_cancel_backend(pid) / pg_terminate_backend(pid). Raise safe_ddl.lock_retries to wait longer; \
             do not raise the lock timeout, which is how long the application stalls."
        ),
    )
}

/// The 55P03 of a statement that would have had to wait while its transaction holds locks that
/// block reads or writes on other tables (`held`): the application waits on those meanwhile.
fn give_up_holding(message: &str, held: &[String], lock: LockMode, targets: &[u32]) -> ! {
    let blockers = blockers::conflicting(targets, lock);
    let first = held.first().map_or("the first table", String::as_str);
    report_error(
        message,
        format!(
            "This transaction already holds locks that block reads or writes on {}, so every moment it waits, the \
             application waits on them too: it waited at most safe_ddl.lock_timeout ({} ms) in all for a moment \
             without conflicting holders, and gave up. Sessions holding a lock that conflicts with {}:\n{}",
            held.join(", "),
            // SAFETY: LockTimeout is the current lock_timeout.
            unsafe { pg_sys::LockTimeout },
            lock.name(),
            blockers::summary(&blockers)
        ),
        format!(
            "Split the migration: one transaction per table, so a wait holds nothing else (COMMIT after the \
             statements on {first}, then run the rest in a new transaction), or lock the busiest table first \
             (right after BEGIN, a LOCK TABLE of the busiest one IN ACCESS EXCLUSIVE MODE, then the rest) so the waits happen while nothing else is held."
        ),
    )
}

fn report_error(message: &str, detail: String, hint: String) -> ! {
    let report = ErrorReport::new(
        PgSqlErrorCode::ERRCODE_LOCK_NOT_AVAILABLE,
        message.to_string(),
        "safe_ddl",
    )
    .set_detail(detail)
    .set_hint(hint);
    crate::encoding::report(report, PgLogLevel::ERROR);
    unreachable!("ERROR does not return")
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
    try_once_or(run, |code| {
        code == PgSqlErrorCode::ERRCODE_LOCK_NOT_AVAILABLE
    })
}

/// `try_once` with the errors to retry chosen by `retryable` (asked after the rollback); they
/// come back as `Failure::LockTimeout`.
fn try_once_or(
    run: &mut impl FnMut() -> Result<(), PgError>,
    retryable: impl Fn(PgSqlErrorCode) -> bool,
) -> Result<(), Failure> {
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
                if retryable(PgSqlErrorCode::from(e.sqlerrcode())) {
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
                    CaughtError::PostgresError(r) if retryable(r.sql_error_code()) => {
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
