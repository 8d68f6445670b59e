//! The counters' shared memory segment: a fixed block of atomics, requested from _PG_init when
//! the library is preloaded. Counting is a relaxed `fetch_add` (or `fetch_max`) on it, never a
//! lock: the counts are statistics, read by the view a moment later, and nothing is decided on
//! them. The LWLock only serialises resets (each one zeroes every counter, then dates itself).

use std::ffi::CStr;
use std::ptr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use pgrx::pg_sys;

use super::{Action, Lock, Snapshot, ACTIONS, HAZARDS};

const NAME: &CStr = c"safe_ddl metrics";

#[repr(C)]
pub struct Counters {
    /// When counting (re)started: server start or the last reset (TimestampTz).
    reset_at: AtomicI64,
    statements: [[AtomicU64; ACTIONS]; HAZARDS],
    lock: [AtomicU64; Lock::COUNT],
    /// Microseconds; the longest one stall.
    stall_total_us: AtomicU64,
    stall_max_us: AtomicU64,
    backfill_rows: AtomicU64,
    backfill_batches: AtomicU64,
    backfill_throttle_us: AtomicU64,
}

static mut COUNTERS: *mut Counters = ptr::null_mut();
static mut LOCK: *mut pg_sys::LWLock = ptr::null_mut();

/// From _PG_init in the postmaster, when preloaded.
pub fn request() {
    crate::shmem::register(crate::shmem::Segment {
        name: NAME,
        size: size_of::<Counters>(),
        locks: 1,
        attach,
    });
}

/// The segment, created (`found` false: zeroed and dated here) or found, and the reset lock.
unsafe fn attach(p: *mut std::ffi::c_void, found: bool, lock: *mut pg_sys::LWLock) {
    // SAFETY: a segment of size_of::<Counters>() bytes, under AddinShmemInitLock.
    unsafe {
        if !found {
            // All-zero bytes are valid atomics at 0.
            ptr::write_bytes(p.cast::<u8>(), 0, size_of::<Counters>());
            (*p.cast::<Counters>())
                .reset_at
                .store(pg_sys::GetCurrentTimestamp(), Ordering::Relaxed);
        }
        COUNTERS = p.cast();
        LOCK = lock;
    }
}

fn counters() -> Option<&'static Counters> {
    // SAFETY: set once in the postmaster before any backend forks (or in each backend on
    // EXEC_BACKEND); points into shared memory that lives as long as the server.
    unsafe { COUNTERS.as_ref() }
}

pub fn available() -> bool {
    counters().is_some()
}

pub fn statement(hazard: usize, action: Action) {
    if let Some(c) = counters() {
        c.statements[hazard][action as usize].fetch_add(1, Ordering::Relaxed);
    }
}

pub fn lock(which: Lock, n: u64) {
    if let Some(c) = counters() {
        c.lock[which as usize].fetch_add(n, Ordering::Relaxed);
    }
}

pub fn stall(us: u64) {
    if let Some(c) = counters() {
        c.stall_total_us.fetch_add(us, Ordering::Relaxed);
        c.stall_max_us.fetch_max(us, Ordering::Relaxed);
    }
}

pub fn backfill(rows: u64, batches: u64, throttle_us: u64) {
    if let Some(c) = counters() {
        c.backfill_rows.fetch_add(rows, Ordering::Relaxed);
        c.backfill_batches.fetch_add(batches, Ordering::Relaxed);
        c.backfill_throttle_us
            .fetch_add(throttle_us, Ordering::Relaxed);
    }
}

pub fn snapshot() -> Option<Snapshot> {
    let c = counters()?;
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    Some(Snapshot {
        reset_at: c.reset_at.load(Ordering::Relaxed),
        statements: std::array::from_fn(|h| std::array::from_fn(|a| load(&c.statements[h][a]))),
        lock: std::array::from_fn(|i| load(&c.lock[i])),
        stall_total_us: load(&c.stall_total_us),
        stall_max_us: load(&c.stall_max_us),
        backfill_rows: load(&c.backfill_rows),
        backfill_batches: load(&c.backfill_batches),
        backfill_throttle_us: load(&c.backfill_throttle_us),
    })
}

/// Zero every counter and date the reset `now`. False when there is no segment.
pub fn reset(now: i64) -> bool {
    let Some(c) = counters() else {
        return false;
    };
    // SAFETY: LOCK is set whenever COUNTERS is (same startup hook); nothing between acquire and
    // release can raise an ERROR (and LWLockReleaseAll at abort would release it).
    unsafe { pg_sys::LWLockAcquire(LOCK, pg_sys::LWLockMode::LW_EXCLUSIVE) };
    let zero = |a: &AtomicU64| a.store(0, Ordering::Relaxed);
    c.statements.iter().flatten().for_each(zero);
    c.lock.iter().for_each(zero);
    for a in [
        &c.stall_total_us,
        &c.stall_max_us,
        &c.backfill_rows,
        &c.backfill_batches,
        &c.backfill_throttle_us,
    ] {
        zero(a);
    }
    c.reset_at.store(now, Ordering::Relaxed);
    // SAFETY: taken above.
    unsafe { pg_sys::LWLockRelease(LOCK) };
    true
}
