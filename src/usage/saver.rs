//! The usage saver: a background worker that saves the usage table every
//! `safe_ddl.usage_save_interval` (persist.rs), on primaries and standbys alike, and notes a
//! promotion of a standby as soon as it sees one. It holds no lock and runs no SQL; it shows in
//! pg_stat_activity as backend_type `safe_ddl usage saver` and takes one of
//! max_worker_processes.

use std::time::{Duration, Instant};

use pgrx::bgworkers::{
    BackgroundWorker, BackgroundWorkerBuilder, BgWorkerStartTime, SignalWakeFlags,
};
use pgrx::{pg_guard, pg_sys};

use super::{persist, saved, store};
use crate::gucs;

/// From _PG_init while preloading, when the usage table exists.
pub fn register() {
    BackgroundWorkerBuilder::new("safe_ddl usage saver")
        .set_type("safe_ddl usage saver")
        .set_library("safe_ddl")
        .set_function("safe_ddl_usage_saver")
        .enable_shmem_access(None)
        .set_start_time(BgWorkerStartTime::PostmasterStart)
        .set_restart_time(Some(Duration::from_secs(10)))
        .load();
}

/// How often it wakes to look for a promotion when saving is off or rare.
const LOOK: Duration = Duration::from_secs(10);

#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn safe_ddl_usage_saver(_arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    let mut last = Instant::now();
    let nap = || {
        let every = gucs::usage_save_interval();
        if every.is_zero() {
            LOOK
        } else {
            every.min(LOOK)
        }
    };
    while BackgroundWorker::wait_latch(Some(nap())) {
        if BackgroundWorker::sighup_received() {
            // SAFETY: the documented way for a background worker to reload its settings.
            unsafe { pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP) };
        }
        // SAFETY: reads the shared recovery state; no transaction needed.
        let in_recovery = unsafe { pg_sys::RecoveryInProgress() };
        // SAFETY: a plain clock read.
        store::note_promotion_if(in_recovery, unsafe { pg_sys::GetCurrentTimestamp() });
        let every = gucs::usage_save_interval();
        // A few ms early is on time (the latch's timeout is not exact).
        if every.is_zero() || last.elapsed() + Duration::from_millis(50) < every {
            continue;
        }
        last = Instant::now();
        if let Err(e) = persist::save(saved::Kind::Periodic) {
            pgrx::log!("safe_ddl: {e}");
        }
    }
}
