//! Shared memory for every part of safe_ddl that needs it (the usage table, the metrics
//! counters, the audit trail's lock): one pair of chained hooks, `shmem_request_hook` and
//! `shmem_startup_hook`, for all of them. Each part registers its segment from _PG_init while
//! shared_preload_libraries loads the library (`register`); the request hook asks for every
//! segment's space and named LWLock tranche, and the startup hook creates or finds each segment
//! under AddinShmemInitLock and hands it to its part (`Segment::attach`), in the postmaster
//! and again after a crash re-initialised shared memory.

use std::ffi::{c_void, CStr};
use std::ptr;

use pgrx::{pg_guard, pg_sys};

/// One part's shared memory.
#[derive(Clone, Copy)]
pub struct Segment {
    /// Its name, and that of its LWLock tranche.
    pub name: &'static CStr,
    /// Bytes of shared memory (0: only the lock).
    pub size: usize,
    /// LWLocks in its tranche (0: none).
    pub locks: i32,
    /// Called under AddinShmemInitLock with the segment (null when `size` is 0), whether it
    /// existed already, and the tranche's first LWLock (null when `locks` is 0).
    pub attach: unsafe fn(*mut c_void, bool, *mut pg_sys::LWLock),
}

const MAX: usize = 4;
static mut SEGMENTS: [Option<Segment>; MAX] = [None; MAX];
static mut PREV_REQUEST: pg_sys::shmem_request_hook_type = None;
static mut PREV_STARTUP: pg_sys::shmem_startup_hook_type = None;

/// From _PG_init while preloading: `segment` is requested and attached with the others. The
/// hooks are installed with the first one.
pub fn register(segment: Segment) {
    // SAFETY: _PG_init runs once, single-threaded, before any hook can fire; the array is
    // copied and written by value, never referenced.
    unsafe {
        let segments = SEGMENTS;
        if segments.iter().all(Option::is_none) {
            PREV_REQUEST = pg_sys::shmem_request_hook;
            pg_sys::shmem_request_hook = Some(on_request);
            PREV_STARTUP = pg_sys::shmem_startup_hook;
            pg_sys::shmem_startup_hook = Some(on_startup);
        }
        match segments.iter().position(Option::is_none) {
            Some(free) => SEGMENTS[free] = Some(segment),
            None => pgrx::error!("safe_ddl: more shared memory segments than {MAX}"),
        }
    }
}

fn segments() -> impl Iterator<Item = Segment> {
    // SAFETY: written only by `register` in _PG_init, before the hooks run; copied.
    let segments = unsafe { SEGMENTS };
    segments.into_iter().flatten()
}

#[pg_guard]
unsafe extern "C-unwind" fn on_request() {
    // SAFETY: the postmaster's shmem_request_hook; chained first, then our requests.
    unsafe {
        if let Some(prev) = PREV_REQUEST {
            pg_sys::ffi::pg_guard_ffi_boundary(|| prev());
        }
        for s in segments() {
            if s.size > 0 {
                pg_sys::RequestAddinShmemSpace(s.size);
            }
            if s.locks > 0 {
                pg_sys::RequestNamedLWLockTranche(s.name.as_ptr(), s.locks);
            }
        }
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn on_startup() {
    // SAFETY: shmem_startup_hook; AddinShmemInitLock (MainLWLockArray[21] in PG15's
    // lwlocknames.h) serialises ShmemInitStruct as Postgres' own modules do.
    unsafe {
        if let Some(prev) = PREV_STARTUP {
            pg_sys::ffi::pg_guard_ffi_boundary(|| prev());
        }
        let init_lock = &raw mut (*pg_sys::MainLWLockArray.add(21)).lock;
        pg_sys::LWLockAcquire(init_lock, pg_sys::LWLockMode::LW_EXCLUSIVE);
        for s in segments() {
            let mut found = false;
            let p = if s.size > 0 {
                pg_sys::ShmemInitStruct(s.name.as_ptr(), s.size, &mut found)
            } else {
                ptr::null_mut()
            };
            let lock = if s.locks > 0 {
                &raw mut (*pg_sys::GetNamedLWLockTranche(s.name.as_ptr())).lock
            } else {
                ptr::null_mut()
            };
            (s.attach)(p, found, lock);
        }
        pg_sys::LWLockRelease(init_lock);
    }
}
