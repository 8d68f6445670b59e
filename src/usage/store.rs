//! The shared usage table: a fixed array of slots, open addressing with linear probing, keyed
//! by (database, relation, attnum). Lookups are lock-free: a slot's key is written before its
//! `attr` word is published with Release, and readers load `attr` with Acquire. Claiming and
//! freeing slots take the LWLock. Last uses are stamps (`stamp`: the second and the backend),
//! updated by compare-and-swap only when they change, at most once a second per slot and
//! backend, so ordinary traffic mostly does relaxed loads of cache lines nobody writes.
//!
//! A slot also keeps when its object was created, if that happened while tracking ran
//! (`mark_created`, from `lifecycle` when the creating transaction commits): from then on every
//! use of the object is on record, which is what lets the verdict call an object that nobody used
//! since its creation unused.
//!
//! Slots of dropped relations and columns are freed when the dropping transaction commits
//! (`free`, from `drops`). A freed slot becomes a tombstone: lookups probe past it (so entries
//! further down the chain stay reachable without moving anything under lock-free readers), and
//! claims reuse it. A reader racing with a free and a reuse can at worst stamp a time on the
//! new owner of the slot, which makes that object look used, never unused.
//!
//! When no slot can be claimed, the use is dropped, counted, and its time kept (`overflow`): the
//! verdict then treats every object without a slot as "not proven unused" until a whole
//! safe_ddl.usage_window has passed without a dropped use, and one LOG line per overflow episode
//! tells the DBA to raise safe_ddl.usage_max_entries.

use std::ffi::CStr;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};

use pgrx::pg_sys;

use super::{own, persist, saved, stamp};

/// attnum of the slot that records use of the relation as a whole.
pub const TABLE: i16 = i16::MIN;
/// attnum of the slot whose `created` holds the time this relation's usage was last reset.
pub const RESET: i16 = i16::MIN + 1;
/// attnum of whole-row references (`SELECT t FROM t`, `row_to_json(t)`): every column.
pub const WHOLE_ROW: i16 = 0;

const NAME: &CStr = c"safe_ddl column usage";
/// Stop claiming slots at 3/4 full, so probe chains stay short.
const FILL_NUM: u64 = 3;
const FILL_DEN: u64 = 4;

#[repr(C)]
struct Header {
    capacity: u64,
    /// When tracking (re)started: server start or the last global reset.
    since: AtomicI64,
    /// Live slots.
    used: AtomicU64,
    /// Freed slots not reused yet.
    tombstones: AtomicU64,
    /// Uses not recorded because the table was full.
    dropped: AtomicU64,
    /// When the last of them happened (0 = never since server start), and when the overflow
    /// episode it belongs to began (its first dropped use).
    last_overflow: AtomicI64,
    overflow_since: AtomicI64,
    /// Why tracking (re)started at `since` (`saved::Restart`, as code and time), and when the
    /// table was last saved to disk (`persist`; 0 = not yet).
    restart_code: AtomicU32,
    restart_at: AtomicI64,
    last_save: AtomicI64,
    /// The server started as a standby and no promotion has been noted since.
    standby: AtomicBool,
}

#[repr(C)]
struct Slot {
    key: AtomicU64,
    /// 0 = free; else PUBLISHED | attnum as u16.
    attr: AtomicU32,
    _pad: u32,
    /// Stamps (`stamp`): the second of the last use and who used it then; 0 = none recorded.
    last_read: AtomicU64,
    last_write: AtomicU64,
    /// When the object was created (TimestampTz), if tracking saw it; 0 = unknown. In the RESET
    /// slot of a relation: when its usage was last reset.
    created: AtomicI64,
}

const PUBLISHED: u32 = 1 << 16;
/// `attr` of a freed slot: not free for probing (the chain goes on), free for claiming.
const TOMBSTONE: u32 = 1 << 17;
/// A dropped use more than this after the previous one (or the window, if longer) starts a new
/// overflow episode, which is logged.
const EPISODE_GAP_US: i64 = 60_000_000;

static mut CAPACITY: usize = 0;
static mut HEADER: *mut Header = ptr::null_mut();
static mut LOCK: *mut pg_sys::LWLock = ptr::null_mut();

fn size(capacity: usize) -> usize {
    size_of::<Header>() + capacity * size_of::<Slot>()
}

/// From _PG_init in the postmaster.
pub fn request(capacity: usize) {
    // SAFETY: _PG_init runs once, single-threaded, before any hook can fire.
    unsafe { CAPACITY = capacity };
    crate::shmem::register(crate::shmem::Segment {
        name: NAME,
        size: size(capacity),
        locks: 1,
        attach,
    });
}

/// The segment, created (`found` false: zeroed here) or found, and the table's LWLock.
unsafe fn attach(p: *mut std::ffi::c_void, found: bool, lock: *mut pg_sys::LWLock) {
    // SAFETY: a segment of size(CAPACITY) bytes, under AddinShmemInitLock.
    unsafe {
        if !found {
            ptr::write_bytes(p.cast::<u8>(), 0, size(CAPACITY));
            let h = p.cast::<Header>();
            (*h).capacity = CAPACITY as u64;
            (*h).since
                .store(pg_sys::GetCurrentTimestamp(), Ordering::Relaxed);
        }
        HEADER = p.cast();
        LOCK = lock;
        // In the postmaster (and a single-user backend): what was saved at the last stop goes
        // back in, and the table is saved again when this postmaster exits or re-initialises
        // shared memory after a crash (persist.rs).
        if !found && !pg_sys::IsUnderPostmaster {
            persist::at_server_start();
        }
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
    // Range reduction by multiply-shift (the high half of z * capacity, uniform over
    // 0..capacity like z % capacity) instead of a 64-bit division on every probe.
    ((u128::from(z) * capacity as u128) >> 64) as usize
}

/// Where a missing (key, attr) could go: the first tombstone on its probe chain, and the empty
/// slot that ends the chain (None: the whole table was probed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Vacancy {
    tombstone: Option<usize>,
    empty: Option<usize>,
}

/// The slot of (key, attr), or where it could be claimed.
fn probe(slots: &[Slot], key: u64, attr: u32) -> Result<usize, Vacancy> {
    let n = slots.len();
    let first = start(key, attr, n);
    let mut tombstone = None;
    let mut idx = first;
    for _ in 0..n {
        let s = &slots[idx];
        let a = s.attr.load(Ordering::Acquire);
        if a == 0 {
            return Err(Vacancy {
                tombstone,
                empty: Some(idx),
            });
        }
        if a == TOMBSTONE {
            tombstone = tombstone.or(Some(idx));
        } else if a == attr && s.key.load(Ordering::Relaxed) == key {
            return Ok(idx);
        }
        idx += 1;
        if idx == n {
            idx = 0;
        }
    }
    Err(Vacancy {
        tombstone,
        empty: None,
    })
}

/// Whether `n` slots are fewer than 3/4 of `capacity`.
fn below_fill(n: u64, capacity: u64) -> bool {
    n * FILL_DEN < capacity * FILL_NUM
}

/// Which slot a claim takes, given the vacancy on its chain and the live and tombstone counts:
/// a tombstone while fewer than 3/4 of the slots are live, an empty slot only while fewer than
/// 3/4 are live or tombstones (so probe chains stay short and always end), else none.
fn choose(v: Vacancy, live: u64, tombstones: u64, capacity: u64) -> Option<usize> {
    let below = |n: u64| below_fill(n, capacity);
    if !below(live) {
        return None;
    }
    v.tombstone
        .or_else(|| v.empty.filter(|_| below(live + tombstones)))
}

fn find(db: u32, rel: u32, attnum: i16) -> Option<&'static Slot> {
    let h = header()?;
    let slots = slots(h);
    probe(slots, key_of(db, rel), attr_of(attnum))
        .ok()
        .map(|i| &slots[i])
}

/// The outcome of looking up a slot to record a use in.
enum Claim {
    /// The slot and its index.
    Slot(usize, &'static Slot),
    /// The object may not be tracked (a temporary relation): nothing to record.
    Untracked,
    /// No slot was free: the use is dropped; Some(time) when this began an overflow episode.
    Dropped(Option<i64>),
}

/// The slot of (db, rel, attnum), claimed if missing and `trackable()` says the relation may
/// have one. `now` dates a dropped use.
#[inline]
fn find_or_claim(
    db: u32,
    rel: u32,
    attnum: i16,
    now: i64,
    trackable: &mut dyn FnMut() -> bool,
) -> Claim {
    let Some(h) = header() else {
        return Claim::Untracked;
    };
    let slots = slots(h);
    let (key, attr) = (key_of(db, rel), attr_of(attnum));
    if let Ok(i) = probe(slots, key, attr) {
        return Claim::Slot(i, &slots[i]);
    }
    claim_or_drop(h, slots, key, attr, now, trackable)
}

/// `find_or_claim` when the slot is missing (out of line: the common path is the probe above).
#[cold]
#[inline(never)]
fn claim_or_drop(
    h: &'static Header,
    slots: &'static [Slot],
    key: u64,
    attr: u32,
    now: i64,
    trackable: &mut dyn FnMut() -> bool,
) -> Claim {
    if !trackable() {
        return Claim::Untracked;
    }
    // A table whose live slots have reached the 3/4 mark claims nothing (`choose`): decide that
    // without the lock, so that a full table does not make every untracked use queue on it.
    // `used` rises only after a claim has published its slot (Release, read here with Acquire:
    // the probe below then sees that slot) and falls only after a free has tombstoned one, so
    // "full" read here was true when the last claim ended, or just before a free in progress;
    // the use is dropped as if it had come then. Any other case takes the lock and decides
    // there, as before.
    if !below_fill(h.used.load(Ordering::Acquire), h.capacity) {
        // Claimed by another backend since the first probe (the last claim before full)?
        if let Ok(i) = probe(slots, key, attr) {
            return Claim::Slot(i, &slots[i]);
        }
        return Claim::Dropped(drop_use(h, now));
    }
    let _guard = Exclusive::take();
    match claim_locked(h, slots, key, attr) {
        Some(i) => Claim::Slot(i, &slots[i]),
        None => Claim::Dropped(drop_use(h, now)),
    }
}

/// Count a use dropped for lack of space at `now`; Some(now) when it began an overflow episode.
/// Lock-free: of concurrent droppers, only the one that swaps out a `last_overflow` older than
/// the gap (or 0) begins the episode.
fn drop_use(h: &Header, now: i64) -> Option<i64> {
    h.dropped.fetch_add(1, Ordering::Relaxed);
    let previous = h.last_overflow.swap(now.max(1), Ordering::Relaxed);
    let gap = crate::gucs::usage_window_us().max(EPISODE_GAP_US);
    let new_episode = previous == 0 || now - previous > gap;
    if new_episode {
        h.overflow_since.store(now.max(1), Ordering::Relaxed);
    }
    new_episode.then_some(now)
}

/// The index of the slot of (key, attr), claimed (empty: no use, creation unknown) if missing;
/// None when none is free. Callers hold the lock.
fn claim_locked(h: &Header, slots: &[Slot], key: u64, attr: u32) -> Option<usize> {
    let vacancy = match probe(slots, key, attr) {
        Ok(i) => return Some(i),
        Err(v) => v,
    };
    let (live, tombstones) = (
        h.used.load(Ordering::Relaxed),
        h.tombstones.load(Ordering::Relaxed),
    );
    let i = choose(vacancy, live, tombstones, h.capacity)?;
    let s = &slots[i];
    if Some(i) == vacancy.tombstone {
        h.tombstones.fetch_sub(1, Ordering::Relaxed);
    }
    s.key.store(key, Ordering::Relaxed);
    s.last_read.store(0, Ordering::Relaxed);
    s.last_write.store(0, Ordering::Relaxed);
    s.created.store(0, Ordering::Relaxed);
    s.attr.store(attr, Ordering::Release);
    // Release: a lock-free reader that sees the new count sees the slot (find_or_claim).
    h.used.fetch_add(1, Ordering::Release);
    Some(i)
}

/// Note that (rel, attnum) of database `db` (attnum TABLE: the relation) was created at `at`, by
/// a transaction that has just committed: from `at` on, every use of it is on record. Uses
/// already recorded stay (another session may have used it since the commit). False when no slot
/// is free: then nothing is known about its creation, and it is judged as any other object.
pub fn mark_created(db: u32, rel: u32, attnum: i16, at: i64) -> bool {
    let Some(h) = header() else {
        return false;
    };
    let slots = slots(h);
    // Under the lock even when the slot exists: a slot found without it could be freed and
    // claimed by another object before the store.
    let _guard = Exclusive::take();
    let Some(i) = claim_locked(h, slots, key_of(db, rel), attr_of(attnum)) else {
        return false;
    };
    slots[i].created.store(at, Ordering::Relaxed);
    true
}

/// Free every slot of the given relations (attnum None) and columns of database `db`, and with
/// `rel` None every slot of `db`. Called after the transaction that dropped them committed.
pub fn free(db: u32, dropped: &[(Option<u32>, Option<i16>)]) {
    let Some(h) = header() else {
        return;
    };
    if dropped.is_empty() {
        return;
    }
    let _guard = Exclusive::take();
    for s in slots(h) {
        let a = s.attr.load(Ordering::Acquire);
        if a == 0 || a == TOMBSTONE {
            continue;
        }
        let key = s.key.load(Ordering::Relaxed);
        let (kdb, krel) = ((key >> 32) as u32, key as u32);
        let attnum = (a & 0xffff) as u16 as i16;
        let hit = kdb == db
            && dropped.iter().any(|(rel, col)| match (rel, col) {
                (None, _) => true,
                (Some(r), None) => *r == krel,
                (Some(r), Some(c)) => *r == krel && *c == attnum,
            });
        if hit {
            s.attr.store(TOMBSTONE, Ordering::Release);
            h.used.fetch_sub(1, Ordering::Relaxed);
            h.tombstones.fetch_add(1, Ordering::Relaxed);
        }
    }
    let cleared = clear_trailing_tombstones(slots(h));
    h.tombstones.fetch_sub(cleared, Ordering::Relaxed);
}

/// Turn back into empty slots the tombstones no probe chain needs: those followed (after more
/// such tombstones) by an empty slot. A live entry's chain runs from its home slot to it over
/// non-empty slots only, so it never crosses a slot whose successor is empty; readers probing
/// meanwhile stop at such a slot instead of one later, where nothing they look for can be.
/// Without this, tombstones would pile up to the 3/4 mark and block new claims. Returns how many
/// were cleared. Callers hold the lock.
fn clear_trailing_tombstones(slots: &[Slot]) -> u64 {
    let n = slots.len();
    let mut cleared = 0;
    for i in 0..n {
        if slots[i].attr.load(Ordering::Relaxed) != 0 {
            continue;
        }
        let mut j = (i + n - 1) % n;
        while j != i && slots[j].attr.load(Ordering::Relaxed) == TOMBSTONE {
            slots[j].attr.store(0, Ordering::Release);
            cleared += 1;
            j = (j + n - 1) % n;
        }
    }
    cleared
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

/// Record a read (or write) of (rel, attnum) at `now` (by this transaction, or with `others` on
/// behalf of other sessions: never discounted as this transaction's own); `trackable` is asked (at most once per
/// call) before a slot is claimed for it. Returns Some(time) when this use was dropped for lack
/// of space and began an overflow episode (the caller logs it, outside the lock).
#[inline]
pub fn touch(
    db: u32,
    rel: u32,
    attnum: i16,
    write: bool,
    now: i64,
    others: bool,
    trackable: &mut dyn FnMut() -> bool,
) -> Option<i64> {
    let (index, slot) = match find_or_claim(db, rel, attnum, now, trackable) {
        Claim::Slot(i, s) => (i, s),
        Claim::Untracked => return None,
        Claim::Dropped(episode) => return episode,
    };
    let field = if write {
        &slot.last_write
    } else {
        &slot.last_read
    };
    // A use on behalf of others is tagged MULTI: never this transaction's, never discounted.
    let me = if others { stamp::MULTI } else { own::me() };
    if let Some((replaced, stored)) = stamp::update(field, stamp::second_of(now), me) {
        if !others {
            own::stored(index, write, replaced, stored);
        }
    }
    None
}

/// One used (rel, attnum) of a database.
pub struct Entry {
    pub rel: u32,
    pub attnum: i16,
    /// Where it is (for `own`: what this transaction stored there).
    pub slot: usize,
    /// Stamps; 0 = never since tracking started (or the last reset).
    pub last_read: u64,
    pub last_write: u64,
    /// When the object was created, if tracking saw it (0 = unknown).
    pub created: i64,
}

/// Every slot of database `db` (and relation `rel`, if given) with a use recorded, or with
/// `with_empty` also those without (uses reset, or a creation recorded: the object has a slot,
/// so its uses since are all recorded).
pub fn entries(db: u32, rel: Option<u32>, with_empty: bool) -> Vec<Entry> {
    let Some(h) = header() else {
        return vec![];
    };
    slots(h)
        .iter()
        .enumerate()
        .filter_map(|(slot, s)| {
            let a = s.attr.load(Ordering::Acquire);
            if a == 0 || a == TOMBSTONE {
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
            (with_empty || last_read > 0 || last_write > 0).then(|| Entry {
                rel: krel,
                attnum,
                slot,
                last_read,
                last_write,
                created: s.created.load(Ordering::Relaxed),
            })
        })
        .collect()
}

/// Since when uses of `rel` have been recorded without a gap: server start, the last global
/// reset or the last reset of this relation, whichever is latest.
pub fn tracking_since(db: u32, rel: u32) -> Option<i64> {
    let h = header()?;
    let global = h.since.load(Ordering::Relaxed);
    let own = find(db, rel, RESET).map_or(0, |s| s.created.load(Ordering::Relaxed));
    Some(global.max(own))
}

pub struct Stats {
    pub since: i64,
    pub capacity: u64,
    pub used: u64,
    pub dropped: u64,
    /// 0 = no use dropped since server start.
    pub overflow_since: i64,
    pub last_overflow: i64,
}

pub fn stats() -> Option<Stats> {
    let h = header()?;
    Some(Stats {
        since: h.since.load(Ordering::Relaxed),
        capacity: h.capacity,
        used: h.used.load(Ordering::Relaxed),
        dropped: h.dropped.load(Ordering::Relaxed),
        overflow_since: h.overflow_since.load(Ordering::Relaxed),
        last_overflow: h.last_overflow.load(Ordering::Relaxed),
    })
}

/// When a use was last dropped for lack of space (None: never since server start).
pub fn last_overflow() -> Option<i64> {
    let at = header()?.last_overflow.load(Ordering::Relaxed);
    (at > 0).then_some(at)
}

/// Forget recorded uses: of one relation of database `db` (its tracking restarts at `now`), or
/// of everything in the cluster (tracking restarts at `now` for all). False when there is no
/// slot left for the relation's restart time: then nothing is forgotten, since without it the
/// relation would look unused at once.
pub fn reset(db: u32, rel: Option<u32>, now: i64) -> bool {
    let Some(h) = header() else {
        return false;
    };
    if let Some(rel) = rel {
        match find_or_claim(db, rel, RESET, now, &mut || true) {
            Claim::Slot(_, marker) => {
                marker.created.fetch_max(now, Ordering::Relaxed);
            }
            Claim::Untracked | Claim::Dropped(_) => return false,
        }
    }
    let _guard = Exclusive::take();
    if rel.is_none() {
        h.since.store(now, Ordering::Relaxed);
        set_restart(h, saved::Restart::Reset);
    }
    for s in slots(h) {
        let a = s.attr.load(Ordering::Acquire);
        let key = s.key.load(Ordering::Relaxed);
        let attnum = (a & 0xffff) as u16 as i16;
        if a == 0 || a == TOMBSTONE || attnum == RESET {
            continue;
        }
        if rel.is_none() || key == key_of(db, rel.unwrap_or_default()) {
            s.last_read.store(0, Ordering::Relaxed);
            s.last_write.store(0, Ordering::Relaxed);
        }
    }
    true
}

/// Note why tracking (re)started at `since`.
fn set_restart(h: &Header, r: saved::Restart) {
    let (code, at) = r.code();
    h.restart_code.store(code, Ordering::Relaxed);
    h.restart_at.store(at, Ordering::Relaxed);
}

/// Why tracking (re)started at `since`.
pub fn restart() -> Option<saved::Restart> {
    let h = header()?;
    saved::Restart::from_code(
        h.restart_code.load(Ordering::Relaxed),
        h.restart_at.load(Ordering::Relaxed),
    )
}

/// When the table was last saved to disk (None: not since server start).
pub fn last_save() -> Option<i64> {
    let at = header()?.last_save.load(Ordering::Relaxed);
    (at > 0).then_some(at)
}

/// A server that started as a standby has been promoted since (it no longer is in recovery):
/// tracking restarts now, since the former primary's clients' uses are not on record here. Noted
/// once; called before the table is saved or judged.
pub fn note_promotion_if(in_recovery: bool, now: i64) {
    let Some(h) = header() else {
        return;
    };
    if !in_recovery
        && h.standby
            .compare_exchange(true, false, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        h.since.fetch_max(now, Ordering::Relaxed);
        set_restart(h, saved::Restart::Promoted);
    }
}

/// The table as saved: its header (with `system_id`, `kind`, written `now`) and every live slot.
pub(super) fn snapshot(
    system_id: u64,
    kind: saved::Kind,
    now: i64,
) -> Option<(saved::Header, Vec<saved::Record>)> {
    let h = header()?;
    let restart = restart().unwrap_or(saved::Restart::Fresh);
    let head = saved::Header {
        system_id,
        kind,
        standby: h.standby.load(Ordering::Relaxed),
        written_at: now,
        since: h.since.load(Ordering::Relaxed),
        restart,
        dropped: h.dropped.load(Ordering::Relaxed),
        last_overflow: h.last_overflow.load(Ordering::Relaxed),
        overflow_since: h.overflow_since.load(Ordering::Relaxed),
    };
    let records = slots(h)
        .iter()
        .filter_map(|s| {
            let a = s.attr.load(Ordering::Acquire);
            (a != 0 && a != TOMBSTONE).then(|| saved::Record {
                key: s.key.load(Ordering::Relaxed),
                attnum: (a & 0xffff) as u16 as i16,
                last_read: s.last_read.load(Ordering::Relaxed),
                last_write: s.last_write.load(Ordering::Relaxed),
                created: s.created.load(Ordering::Relaxed),
            })
        })
        .collect();
    Some((head, records))
}

/// Note that the table was saved at `at`.
pub(super) fn saved_at(at: i64) {
    if let Some(h) = header() {
        h.last_save.store(at, Ordering::Relaxed);
    }
}

/// Fill the freshly initialised table from a saved file, as `plan` says, at server start (no
/// other process runs yet); `standby`: this server starts as one. Returns (loaded, skipped):
/// records skipped as implausible or for lack of space (then an overflow is noted, so objects
/// without a slot stay "not proven unused" for a window).
pub(super) fn restore(
    plan: &saved::Plan,
    file: Option<&(saved::Header, Vec<saved::Record>)>,
    standby: bool,
    now: i64,
) -> (u64, u64) {
    let Some(h) = header() else {
        return (0, 0);
    };
    h.since.store(plan.since, Ordering::Relaxed);
    h.standby.store(standby, Ordering::Relaxed);
    set_restart(h, plan.restart);
    let Some((head, records)) = file.filter(|_| plan.rows) else {
        return (0, 0);
    };
    h.dropped.store(head.dropped, Ordering::Relaxed);
    h.last_overflow.store(head.last_overflow, Ordering::Relaxed);
    h.overflow_since
        .store(head.overflow_since, Ordering::Relaxed);
    let slots = slots(h);
    let (mut loaded, mut skipped) = (0, 0);
    for r in records {
        if !saved::plausible(r, now) {
            skipped += 1;
            continue;
        }
        match claim_locked(h, slots, r.key, attr_of(r.attnum)) {
            Some(i) => {
                let s = &slots[i];
                s.last_read.store(r.last_read, Ordering::Relaxed);
                s.last_write.store(r.last_write, Ordering::Relaxed);
                s.created
                    .store(if plan.created { r.created } else { 0 }, Ordering::Relaxed);
                loaded += 1;
            }
            None => {
                skipped += 1;
                h.dropped.fetch_add(1, Ordering::Relaxed);
                h.last_overflow.store(now, Ordering::Relaxed);
                h.overflow_since.store(now, Ordering::Relaxed);
            }
        }
    }
    (loaded, skipped)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(n: usize) -> Vec<Slot> {
        (0..n)
            .map(|_| Slot {
                key: AtomicU64::new(0),
                attr: AtomicU32::new(0),
                _pad: 0,
                last_read: AtomicU64::new(0),
                last_write: AtomicU64::new(0),
                created: AtomicI64::new(0),
            })
            .collect()
    }

    fn put(slots: &[Slot], idx: usize, key: u64, attr: u32) {
        slots[idx].key.store(key, Ordering::Relaxed);
        slots[idx].attr.store(attr, Ordering::Relaxed);
    }

    #[test]
    fn probing_goes_past_tombstones_and_offers_the_first_one() {
        let slots = table(8);
        let (key, attr) = (key_of(1, 42), attr_of(3));
        let home = start(key, attr, 8);
        put(&slots, home, key_of(1, 7), attr_of(1));
        put(&slots, (home + 1) % 8, 0, TOMBSTONE);
        put(&slots, (home + 2) % 8, key, attr);
        // the entry behind a tombstone is still found
        assert_eq!(probe(&slots, key, attr), Ok((home + 2) % 8));
        // once freed too, a claim is offered the first tombstone and the empty slot ending the chain
        slots[(home + 2) % 8]
            .attr
            .store(TOMBSTONE, Ordering::Relaxed);
        assert_eq!(
            probe(&slots, key, attr),
            Err(Vacancy {
                tombstone: Some((home + 1) % 8),
                empty: Some((home + 3) % 8)
            })
        );
    }

    #[test]
    fn tombstones_before_an_empty_slot_are_cleared_and_chains_stay_intact() {
        let slots = table(8);
        // slots: 0 live, 1 tomb, 2 live, 3 tomb, 4 tomb, 5 empty, 6 tomb, 7 tomb (wraps to 0)
        put(&slots, 0, key_of(1, 1), attr_of(1));
        put(&slots, 1, 0, TOMBSTONE);
        put(&slots, 2, key_of(1, 2), attr_of(1));
        put(&slots, 3, 0, TOMBSTONE);
        put(&slots, 4, 0, TOMBSTONE);
        put(&slots, 6, 0, TOMBSTONE);
        put(&slots, 7, 0, TOMBSTONE);
        assert_eq!(clear_trailing_tombstones(&slots), 2);
        let attrs: Vec<u32> = slots
            .iter()
            .map(|s| s.attr.load(Ordering::Relaxed))
            .collect();
        // 3 and 4 end at the empty 5; 1 sits between live entries; 6 and 7 lead to live 0
        assert_eq!(
            attrs,
            vec![
                attr_of(1),
                TOMBSTONE,
                attr_of(1),
                0,
                0,
                0,
                TOMBSTONE,
                TOMBSTONE
            ]
        );
        // a table of tombstones only (no empty slot) is left alone
        let full = table(2);
        put(&full, 0, 0, TOMBSTONE);
        put(&full, 1, 0, TOMBSTONE);
        assert_eq!(clear_trailing_tombstones(&full), 0);
    }

    #[test]
    fn claims_stop_at_three_quarters_live_and_reuse_tombstones() {
        let v = Vacancy {
            tombstone: Some(5),
            empty: Some(9),
        };
        let empty_only = Vacancy {
            tombstone: None,
            empty: Some(9),
        };
        assert_eq!(choose(v, 10, 0, 100), Some(5));
        assert_eq!(choose(empty_only, 10, 0, 100), Some(9));
        // 75 live of 100: full, even with a tombstone on the chain
        assert_eq!(choose(v, 75, 3, 100), None);
        // 50 live + 25 tombstones: only tombstones are reused, so chains still end
        assert_eq!(choose(v, 50, 25, 100), Some(5));
        assert_eq!(choose(empty_only, 50, 25, 100), None);
        // nothing found on a fully probed table
        let none = Vacancy {
            tombstone: None,
            empty: None,
        };
        assert_eq!(choose(none, 1, 0, 100), None);
    }
}
