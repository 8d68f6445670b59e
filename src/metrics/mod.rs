//! Cumulative counters for monitoring (issue 19): what the guard did per hazard (refused, warned,
//! allowed), how guarded statements got their locks (waits, retries, give-ups, stall time) and
//! what backfills did (rows, batches, throttled time). Kept in shared memory (`shmem`), so they
//! need shared_preload_libraries; without it nothing is counted and `safe_ddl.metrics` is empty.
//! Shown by `api` as one row per metric and labels (docs/metrics.md).
//!
//! Nothing here runs per query: statements are counted where the guard reports a finding
//! (report.rs), lock waits once per guarded statement that waited (acquire.rs), backfills once
//! per batch (sql/backfill.sql).

pub mod api;
mod shmem;

use std::time::{Duration, Instant};

use crate::classify::Finding;
use crate::hazard::Hazard;

pub const HAZARDS: usize = Hazard::ALL.len();
pub const ACTIONS: usize = 3;

/// What the guard did with a finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// The statement got the refusal ERROR.
    Refused = 0,
    /// warn mode: the WARNING, and the statement ran.
    Warned = 1,
    /// It ran because of safe_ddl.allow or an inline allow (the LOG line of report::log_allowed).
    Allowed = 2,
}

impl Action {
    pub const ALL: [Action; ACTIONS] = [Action::Refused, Action::Warned, Action::Allowed];

    pub fn name(self) -> &'static str {
        match self {
            Action::Refused => "refused",
            Action::Warned => "warned",
            Action::Allowed => "allowed",
        }
    }
}

/// The lock acquisition counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lock {
    Waits = 0,
    Retries = 1,
    GiveUps = 2,
}

impl Lock {
    pub const COUNT: usize = 3;
}

/// From _PG_init: request the segment when preloaded.
pub fn install() {
    // SAFETY: a plain global of the postmaster, read in _PG_init.
    if unsafe { pgrx::pg_sys::process_shared_preload_libraries_in_progress } {
        shmem::request();
    }
}

/// Count each finding once under `action` (a statement with two hazards counts for each).
pub fn statements(findings: &[Finding], action: Action) {
    for f in findings {
        shmem::statement(f.hazard as usize, action);
    }
}

/// Rows, batches and throttled time of backfill batches.
pub fn backfill(rows: u64, batches: u64, throttle: Duration) {
    shmem::backfill(
        rows,
        batches,
        u64::try_from(throttle.as_micros()).unwrap_or(u64::MAX),
    );
}

/// How one guarded statement got its locks (acquire::run_guarded), counted once when it is
/// dropped: when the statement ran, failed, or an ERROR (a give-up, a cancel) unwound through
/// run_guarded. A statement that got its locks at once counts nothing and touches no shared
/// memory.
pub struct LockWait {
    began: Instant,
    waited: bool,
    retries: u64,
    gave_up: bool,
    /// How long after `began` the attempt that is running now started (None: none is running;
    /// the statement waits).
    ran_after: Option<Duration>,
}

impl LockWait {
    pub fn new(began: Instant) -> LockWait {
        LockWait {
            began,
            waited: false,
            retries: 0,
            gave_up: false,
            ran_after: None,
        }
    }

    /// A conflicting lock was held or requested when the statement went for its locks.
    pub fn conflict(&mut self) {
        self.waited = true;
    }

    /// An attempt after the first (after a lock timeout, or a wait outside the lock queue that
    /// ended with the blocker still there).
    pub fn retry(&mut self) {
        self.waited = true;
        self.retries += 1;
    }

    /// An attempt starts running the statement (queueing for the locks, or under locks taken).
    pub fn attempt(&mut self) {
        self.ran_after = Some(self.began.elapsed());
    }

    /// That attempt timed out waiting for a lock: the statement waits again.
    pub fn attempt_failed(&mut self) {
        self.waited = true;
        self.ran_after = None;
    }

    /// The guard gives up with its 55P03 (called right before it is raised).
    pub fn give_up(&mut self) {
        self.waited = true;
        self.gave_up = true;
        self.ran_after = None;
    }

    fn stall(&self) -> Duration {
        self.ran_after.unwrap_or_else(|| self.began.elapsed())
    }
}

impl Drop for LockWait {
    fn drop(&mut self) {
        if !self.waited {
            return;
        }
        shmem::lock(Lock::Waits, 1);
        if self.retries > 0 {
            shmem::lock(Lock::Retries, self.retries);
        }
        if self.gave_up {
            shmem::lock(Lock::GiveUps, 1);
        }
        shmem::stall(u64::try_from(self.stall().as_micros()).unwrap_or(u64::MAX));
    }
}

/// The counters at one moment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    /// TimestampTz of the last reset or the server start.
    pub reset_at: i64,
    pub statements: [[u64; ACTIONS]; HAZARDS],
    pub lock: [u64; Lock::COUNT],
    pub stall_total_us: u64,
    pub stall_max_us: u64,
    pub backfill_rows: u64,
    pub backfill_batches: u64,
    pub backfill_throttle_us: u64,
}

/// One row of `safe_ddl.metrics`: metric, hazard, action, value, kind, description.
pub type Row = (
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    f64,
    &'static str,
    &'static str,
);

/// Seconds between the Unix epoch and PostgreSQL's (2000-01-01).
const PG_EPOCH_UNIX_SECONDS: f64 = 946_684_800.0;

fn seconds(us: u64) -> f64 {
    us as f64 / 1e6
}

/// The view's rows (pure): every hazard x action, with 0 where nothing happened, so that every
/// series exists from the start; then the lock, backfill and reset rows.
pub fn rows(s: &Snapshot) -> Vec<Row> {
    const STATEMENTS: &str = "Findings of guarded statements by what safe_ddl did: refused (the \
         statement got the refusal ERROR), warned (warn mode: WARNING, the statement ran), allowed \
         (ran because of safe_ddl.allow or an inline allow); one per hazard of a statement";
    let mut out: Vec<Row> = Vec::with_capacity(HAZARDS * ACTIONS + 10);
    for h in Hazard::ALL {
        for a in Action::ALL {
            out.push((
                "statements_total",
                Some(h.name()),
                Some(a.name()),
                s.statements[*h as usize][a as usize] as f64,
                "counter",
                STATEMENTS,
            ));
        }
    }
    let plain = |metric, value, kind, description| (metric, None, None, value, kind, description);
    out.extend([
        plain(
            "lock_waits_total",
            s.lock[Lock::Waits as usize] as f64,
            "counter",
            "Guarded statements that did not get their locks at once: a conflicting lock was held or \
             requested when they went for them, or an attempt timed out",
        ),
        plain(
            "lock_retries_total",
            s.lock[Lock::Retries as usize] as f64,
            "counter",
            "Attempts after the first of guarded statements (after a lock timeout, or a wait outside \
             the lock queue that ended with the blocker still there)",
        ),
        plain(
            "lock_give_ups_total",
            s.lock[Lock::GiveUps as usize] as f64,
            "counter",
            "Guarded statements that gave up waiting for their locks (the 55P03 error naming the \
             blockers)",
        ),
        plain(
            "lock_stall_seconds_total",
            seconds(s.stall_total_us),
            "counter",
            "Seconds guarded statements that waited spent waiting for their locks: until the attempt \
             that ran started, or until they gave up",
        ),
        plain(
            "lock_stall_seconds_max",
            seconds(s.stall_max_us),
            "gauge",
            "The longest such wait of one guarded statement since the last reset, in seconds",
        ),
        plain(
            "backfill_rows_total",
            s.backfill_rows as f64,
            "counter",
            "Rows updated by committed safe_ddl.backfill batches",
        ),
        plain(
            "backfill_batches_total",
            s.backfill_batches as f64,
            "counter",
            "safe_ddl.backfill batches committed",
        ),
        plain(
            "backfill_throttle_seconds_total",
            seconds(s.backfill_throttle_us),
            "counter",
            "Seconds backfills waited because a standby lagged or the table had too many dead tuples",
        ),
        plain(
            "stats_reset_seconds",
            s.reset_at as f64 / 1e6 + PG_EPOCH_UNIX_SECONDS,
            "gauge",
            "When counting started (the last safe_ddl.metrics_reset() or the server start), in \
             seconds since the Unix epoch",
        ),
    ]);
    out
}

/// The most one call may add, so that a bad argument is an error rather than a counter gone
/// absurd: a batch updates at most int rows (batch sizes are int), and a throttled wait before
/// one batch lasts less than a year.
pub const MAX_BATCH_ROWS: i64 = i32::MAX as i64;
pub const MAX_BATCHES: i32 = 1;
pub const MAX_THROTTLE_SECONDS: f64 = 365.0 * 86_400.0;

/// Check one backfill report (pure): rows, batches, throttled seconds.
pub fn check_backfill(
    rows: i64,
    batches: i32,
    throttle_s: f64,
) -> Result<(u64, u64, Duration), String> {
    if !(0..=MAX_BATCH_ROWS).contains(&rows) {
        return Err(format!(
            "rows must be between 0 and {MAX_BATCH_ROWS}, not {rows}"
        ));
    }
    if !(0..=MAX_BATCHES).contains(&batches) {
        return Err(format!("batches must be 0 or {MAX_BATCHES}, not {batches}"));
    }
    if !(0.0..=MAX_THROTTLE_SECONDS).contains(&throttle_s) {
        return Err(format!(
            "throttle_seconds must be between 0 and {MAX_THROTTLE_SECONDS}, not {throttle_s}"
        ));
    }
    Ok((
        rows as u64,
        batches as u64,
        Duration::from_secs_f64(throttle_s),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hazard_discriminants_index_all() {
        for (i, h) in Hazard::ALL.iter().enumerate() {
            assert_eq!(*h as usize, i, "{h}");
        }
        for (i, a) in Action::ALL.iter().enumerate() {
            assert_eq!(*a as usize, i);
        }
    }

    #[test]
    fn every_hazard_and_action_has_a_row_from_the_start() {
        let rows = rows(&Snapshot::default());
        let statements: Vec<_> = rows.iter().filter(|r| r.0 == "statements_total").collect();
        assert_eq!(statements.len(), HAZARDS * ACTIONS);
        assert!(statements
            .iter()
            .all(|r| r.1.is_some() && r.2.is_some() && r.3 == 0.0));
        let names: Vec<&str> = rows.iter().skip(HAZARDS * ACTIONS).map(|r| r.0).collect();
        assert_eq!(
            names,
            [
                "lock_waits_total",
                "lock_retries_total",
                "lock_give_ups_total",
                "lock_stall_seconds_total",
                "lock_stall_seconds_max",
                "backfill_rows_total",
                "backfill_batches_total",
                "backfill_throttle_seconds_total",
                "stats_reset_seconds"
            ]
        );
        assert!(rows.iter().all(|r| r.4 == "counter" || r.4 == "gauge"));
        assert!(rows
            .iter()
            .all(|r| (r.4 == "counter") == r.0.ends_with("_total")));
    }

    #[test]
    fn values_are_placed_and_converted() {
        let mut s = Snapshot::default();
        s.statements[Hazard::DropColumn as usize][Action::Warned as usize] = 3;
        s.stall_total_us = 1_500_000;
        s.stall_max_us = 250_000;
        s.backfill_throttle_us = 2_000_000;
        // 2026-01-01 00:00:00 UTC in PostgreSQL's microseconds since 2000
        s.reset_at = 820_540_800_000_000;
        let rows = rows(&s);
        let get = |m: &str, h: Option<&str>, a: Option<&str>| {
            rows.iter()
                .find(|r| r.0 == m && r.1 == h && r.2 == a)
                .map(|r| r.3)
        };
        assert_eq!(
            get("statements_total", Some("drop_column"), Some("warned")),
            Some(3.0)
        );
        assert_eq!(
            get("statements_total", Some("drop_column"), Some("refused")),
            Some(0.0)
        );
        assert_eq!(get("lock_stall_seconds_total", None, None), Some(1.5));
        assert_eq!(get("lock_stall_seconds_max", None, None), Some(0.25));
        assert_eq!(
            get("backfill_throttle_seconds_total", None, None),
            Some(2.0)
        );
        assert_eq!(
            get("stats_reset_seconds", None, None),
            Some(1_767_225_600.0)
        );
    }

    #[test]
    fn backfill_reports_are_bounded() {
        assert_eq!(
            check_backfill(10, 1, 0.5),
            Ok((10, 1, Duration::from_millis(500)))
        );
        assert!(check_backfill(-1, 1, 0.0).unwrap_err().contains("rows"));
        assert!(check_backfill(MAX_BATCH_ROWS + 1, 1, 0.0).is_err());
        assert!(check_backfill(0, 2, 0.0).unwrap_err().contains("batches"));
        assert!(check_backfill(0, -1, 0.0).is_err());
        assert!(check_backfill(0, 0, -0.1).unwrap_err().contains("throttle"));
        assert!(check_backfill(0, 0, f64::NAN).is_err());
        assert!(check_backfill(0, 0, f64::INFINITY).is_err());
        assert!(check_backfill(0, 0, 1e12).is_err());
    }
}
