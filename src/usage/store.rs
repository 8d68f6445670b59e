//! The shared usage table: a fixed array of slots, open addressing with linear probing, keyed
//! by (database, relation, attnum). Slots are never freed (a reset only clears timestamps), so
//! lookups are lock-free: a slot's key is written before its `attr` word is published with
//! Release, and readers load `attr` with Acquire. Only claiming a new slot takes the LWLock.
//! Timestamps are updated with `fetch_max`, at most once a second per slot and backend, so
//! ordinary traffic mostly does relaxed loads of cache lines nobody writes.

use std::ffi::CStr;
use std::ptr;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};

use pgrx::{pg_guard, pg_sys};

/// attnum of the slot that records use of the relation as a whole.
pub const TABLE: i16 = i16::MIN;
/// attnum of the slot whose `last_write` holds the time this relation's usage was last reset.
pub const RESET: i16 = i16::MIN + 1;
/// attnum of whole-row references (`SELECT t FROM t`, `row_to_json(t)`): every column.
pub const WHOLE_ROW: i16 = 0;

const NAME: &CStr = c"safe_ddl column usage";
/// Stop claiming slots at 3/4 full, so probe chains stay short.
const FILL_NUM: u64 = 3;
const FILL_DEN: u64 = 4;
/// Skip a timestamp update when the stored one is at most this old (microseconds).
const GRANULARITY_US: i64 = 1_000_000;

#[repr(C)]
struct Header {
    capacity: u64,
    /// When tracking (re)started: server start or the last global reset.
    since: AtomicI64,
    used: AtomicU64,
    /// Uses not recorded because the table was full.
    dropped: AtomicU64,
}

#[repr(C)]
struct Slot {
    key: AtomicU64,
    /// 0 = free; else PUBLISHED | attnum as u16.
    attr: AtomicU32,
    _pad: u32,
    last_read: AtomicI64,
    last_write: AtomicI64,
}

const PUBLISHED: u32 = 1 << 16;

static mut CAPACITY: usize = 0;
static mut HEADER: *mut Header = ptr::null_mut();
static mut LOCK: *mut pg_sys::LWLock = ptr::null_mut();
static mut PREV_REQUEST: pg_sys::shmem_request_hook_type = None;
static mut PREV_STARTUP: pg_sys::shmem_startup_hook_type = None;

fn size(capacity: usize) -> usize {
    size_of::<Header>() + capacity * size_of::<Slot>()
}

/// From _PG_init in the postmaster.
pub fn request(capacity: usize) {
    // SAFETY: _PG_init runs once, single-threaded, before any hook can fire.
    unsafe {
        CAPACITY = capacity;
        PREV_REQUEST = pg_sys::shmem_request_hook;
        pg_sys::shmem_request_hook = Some(on_request);
        PREV_STARTUP = pg_sys::shmem_startup_hook;
        pg_sys::shmem_startup_hook = Some(on_startup);
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn on_request() {
    // SAFETY: the postmaster's shmem_request_hook; chained first, then our request.
    unsafe {
        if let Some(prev) = PREV_REQUEST {
            pg_sys::ffi::pg_guard_ffi_boundary(|| prev());
        }
        pg_sys::RequestAddinShmemSpace(size(CAPACITY));
        pg_sys::RequestNamedLWLockTranche(NAME.as_ptr(), 1);
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
        let mut found = false;
        let p = pg_sys::ShmemInitStruct(NAME.as_ptr(), size(CAPACITY), &mut found);
        if !found {
            ptr::write_bytes(p.cast::<u8>(), 0, size(CAPACITY));
            let h = p.cast::<Header>();
            (*h).capacity = CAPACITY as u64;
            (*h).since
                .store(pg_sys::GetCurrentTimestamp(), Ordering::Relaxed);
        }
        HEADER = p.cast();
        LOCK = &raw mut (*pg_sys::GetNamedLWLockTranche(NAME.as_ptr())).lock;
        pg_sys::LWLockRelease(init_lock);
    }
}

fn header() -> Option<&'static Header> {
    // SAFETY: set once in the postmaster before any backend forks; points into shared memory
    // that lives as long as the server.
    unsafe { HEADER.as_ref() }
}

fn slots(h: &'static Header) -> &'static [Slot] {
    // SAFETY: the slots follow the header in the same ShmemInitStruct allocation.
    unsafe {
        std::slice::from_raw_parts(ptr::from_ref(h).add(1).cast::<Slot>(), h.capacity as usize)
    }
}

pub fn available() -> bool {
    header().is_some()
}

fn key_of(db: u32, rel: u32) -> u64 {
    (u64::from(db) << 32) | u64::from(rel)
}

fn attr_of(attnum: i16) -> u32 {
    PUBLISHED | u32::from(attnum as u16)
}

fn start(key: u64, attr: u32, capacity: usize) -> usize {
    // splitmix64 finaliser
    let mut z = key ^ (u64::from(attr) << 40) ^ u64::from(attr);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z % capacity as u64) as usize
}

/// The slot of (key, attr), or the index of the free slot that ends its probe chain.
fn probe(slots: &[Slot], key: u64, attr: u32) -> Result<usize, Option<usize>> {
    let n = slots.len();
    let first = start(key, attr, n);
    for i in 0..n {
        let idx = (first + i) % n;
        let s = &slots[idx];
        let a = s.attr.load(Ordering::Acquire);
        if a == 0 {
            return Err(Some(idx));
        }
        if a == attr && s.key.load(Ordering::Relaxed) == key {
            return Ok(idx);
        }
    }
    Err(None)
}

fn find(db: u32, rel: u32, attnum: i16) -> Option<&'static Slot> {
    let h = header()?;
    let slots = slots(h);
    probe(slots, key_of(db, rel), attr_of(attnum))
        .ok()
        .map(|i| &slots[i])
}

fn find_or_claim(db: u32, rel: u32, attnum: i16) -> Option<&'static Slot> {
    let h = header()?;
    let slots = slots(h);
    let (key, attr) = (key_of(db, rel), attr_of(attnum));
    if let Ok(i) = probe(slots, key, attr) {
        return Some(&slots[i]);
    }
    let _guard = Exclusive::take();
    match probe(slots, key, attr) {
        Ok(i) => Some(&slots[i]),
        Err(Some(i)) if h.used.load(Ordering::Relaxed) * FILL_DEN < h.capacity * FILL_NUM => {
            let s = &slots[i];
            s.key.store(key, Ordering::Relaxed);
            s.last_read.store(0, Ordering::Relaxed);
            s.last_write.store(0, Ordering::Relaxed);
            s.attr.store(attr, Ordering::Release);
            h.used.fetch_add(1, Ordering::Relaxed);
            Some(s)
        }
        Err(_) => {
            h.dropped.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

/// The usage table's LWLock in exclusive mode, released on drop (an ERROR in between releases
/// it through LWLockReleaseAll at abort; nothing in between can raise one).
struct Exclusive;

impl Exclusive {
    fn take() -> Exclusive {
        // SAFETY: LOCK is set whenever HEADER is (same startup hook).
        unsafe { pg_sys::LWLockAcquire(LOCK, pg_sys::LWLockMode::LW_EXCLUSIVE) };
        Exclusive
    }
}

impl Drop for Exclusive {
    fn drop(&mut self) {
        // SAFETY: taken in `take`.
        unsafe { pg_sys::LWLockRelease(LOCK) };
    }
}

/// Record a read (or write) of (rel, attnum) at `now`.
pub fn touch(db: u32, rel: u32, attnum: i16, write: bool, now: i64) {
    let Some(slot) = find_or_claim(db, rel, attnum) else {
        return;
    };
    let field = if write {
        &slot.last_write
    } else {
        &slot.last_read
    };
    if field.load(Ordering::Relaxed) < now - GRANULARITY_US {
        field.fetch_max(now, Ordering::Relaxed);
    }
}

/// One used (rel, attnum) of a database.
pub struct Entry {
    pub rel: u32,
    pub attnum: i16,
    /// 0 = never since tracking started (or the last reset).
    pub last_read: i64,
    pub last_write: i64,
}

/// Every slot of database `db` (and relation `rel`, if given) with a use recorded.
pub fn entries(db: u32, rel: Option<u32>) -> Vec<Entry> {
    let Some(h) = header() else {
        return vec![];
    };
    slots(h)
        .iter()
        .filter_map(|s| {
            let a = s.attr.load(Ordering::Acquire);
            if a == 0 {
                return None;
            }
            let key = s.key.load(Ordering::Relaxed);
            let (kdb, krel) = ((key >> 32) as u32, key as u32);
            let attnum = (a & 0xffff) as u16 as i16;
            if kdb != db || rel.is_some_and(|r| r != krel) || attnum == RESET {
                return None;
            }
            let (last_read, last_write) = (
                s.last_read.load(Ordering::Relaxed),
                s.last_write.load(Ordering::Relaxed),
            );
            (last_read > 0 || last_write > 0).then_some(Entry {
                rel: krel,
                attnum,
                last_read,
                last_write,
            })
        })
        .collect()
}

/// Since when uses of `rel` have been recorded without a gap: server start, the last global
/// reset or the last reset of this relation, whichever is latest.
pub fn tracking_since(db: u32, rel: u32) -> Option<i64> {
    let h = header()?;
    let global = h.since.load(Ordering::Relaxed);
    let own = find(db, rel, RESET).map_or(0, |s| s.last_write.load(Ordering::Relaxed));
    Some(global.max(own))
}

pub struct Stats {
    pub since: i64,
    pub capacity: u64,
    pub used: u64,
    pub dropped: u64,
}

pub fn stats() -> Option<Stats> {
    let h = header()?;
    Some(Stats {
        since: h.since.load(Ordering::Relaxed),
        capacity: h.capacity,
        used: h.used.load(Ordering::Relaxed),
        dropped: h.dropped.load(Ordering::Relaxed),
    })
}

/// Forget recorded uses: of one relation of database `db` (its tracking restarts at `now`), or
/// of everything in the cluster (tracking restarts at `now` for all).
pub fn reset(db: u32, rel: Option<u32>, now: i64) {
    let Some(h) = header() else {
        return;
    };
    if let Some(rel) = rel {
        if let Some(marker) = find_or_claim(db, rel, RESET) {
            marker.last_write.fetch_max(now, Ordering::Relaxed);
        }
    }
    let _guard = Exclusive::take();
    if rel.is_none() {
        h.since.store(now, Ordering::Relaxed);
    }
    for s in slots(h) {
        let a = s.attr.load(Ordering::Acquire);
        let key = s.key.load(Ordering::Relaxed);
        let attnum = (a & 0xffff) as u16 as i16;
        if a == 0 || attnum == RESET {
            continue;
        }
        if rel.is_none() || key == key_of(db, rel.unwrap_or_default()) {
            s.last_read.store(0, Ordering::Relaxed);
            s.last_write.store(0, Ordering::Relaxed);
        }
    }
}
