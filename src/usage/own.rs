//! What the current transaction of this backend did to the usage table itself: the stamps it
//! stored (so that its own uses can be discounted when it judges a drop or rename of what it
//! used), and the relations and columns it created (whose uses it does not record at all: the
//! migration that creates a table and fills or indexes it is not a client of it). Both are
//! forgotten when the transaction ends (`lifecycle`).

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use pgrx::pg_sys;

use super::stamp::{self, Own};

thread_local! {
    /// (slot index, write?) -> this transaction's stores into that stamp.
    static STORES: RefCell<HashMap<(usize, bool), Own>> = RefCell::new(HashMap::new());
    /// Relations created (attnum None) and columns added in this transaction, with the
    /// subtransaction level that did it.
    static CREATED: RefCell<Vec<Created>> = const { RefCell::new(Vec::new()) };
}

/// CREATED is not empty: the one branch the recorder pays when nothing was created. A plain
/// process global (a backend is one thread), not a thread-local: in a shared library every
/// thread-local access is a call, and the recorder asks once per relation and column of every
/// query.
static CREATING: AtomicBool = AtomicBool::new(false);
/// STORES is not empty (likewise, for the transaction-end callbacks: `untouched`).
static STORING: AtomicBool = AtomicBool::new(false);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Created {
    pub rel: u32,
    pub attnum: Option<i16>,
    pub level: i32,
}

/// This backend's tag in stamps.
pub fn me() -> u32 {
    // SAFETY: a plain global of the backend.
    stamp::tag_of_pid(unsafe { pg_sys::MyProcPid })
}

/// This transaction replaced `replaced` by `stored` in the read (or write) stamp of slot `index`.
pub fn stored(index: usize, write: bool, replaced: u64, stored: u64) {
    STORES.with(|m| {
        let mut m = m.borrow_mut();
        let own = m.get(&(index, write)).copied();
        m.insert((index, write), stamp::noted(own, replaced, stored));
    });
    STORING.store(true, Ordering::Relaxed);
}

/// Nothing noted in this transaction (no store, no creation): ending it has nothing to forget.
/// Two loads, for the callbacks that run at the end of every transaction (lifecycle.rs).
#[inline]
pub fn untouched() -> bool {
    !STORING.load(Ordering::Relaxed) && !CREATING.load(Ordering::Relaxed)
}

/// The last use recorded in a stamp of slot `index` that is not by this transaction.
pub fn effective(index: usize, write: bool, current: u64) -> u64 {
    if current == 0 {
        return 0;
    }
    let own = STORES.with(|m| m.borrow().get(&(index, write)).copied());
    stamp::effective(current, me(), own)
}

/// Note a relation (attnum None) or column created by this transaction at subtransaction `level`.
pub fn created(rel: u32, attnum: Option<i16>, level: i32) {
    CREATED.with(|c| c.borrow_mut().push(Created { rel, attnum, level }));
    CREATING.store(true, Ordering::Relaxed);
}

/// Was relation `rel` (attnum None), or its column `attnum`, created in this transaction?
/// Cheap when nothing was.
#[inline]
pub fn created_here(rel: u32, attnum: Option<i16>) -> bool {
    CREATING.load(Ordering::Relaxed)
        && CREATED.with(|c| {
            c.borrow()
                .iter()
                .any(|x| x.rel == rel && (x.attnum.is_none() || x.attnum == attnum))
        })
}

/// Forget the creations of an aborted subtransaction at `level`, or hand those of a committed one
/// to its parent.
pub fn subtransaction_end(level: i32, committed: bool) {
    CREATED.with(|c| {
        let mut c = c.borrow_mut();
        if committed {
            c.iter_mut()
                .filter(|x| x.level >= level)
                .for_each(|x| x.level = level - 1);
        } else {
            c.retain(|x| x.level < level);
        }
        CREATING.store(!c.is_empty(), Ordering::Relaxed);
    });
}

/// What this transaction created, as far as it has not been rolled back to a savepoint.
pub fn transaction_creations() -> Vec<Created> {
    CREATED.with(|c| c.borrow().clone())
}

/// The transaction ended: forget everything.
pub fn transaction_end() {
    STORES.with(|m| {
        let mut m = m.borrow_mut();
        if !m.is_empty() {
            m.clear();
        }
    });
    STORING.store(false, Ordering::Relaxed);
    CREATING.store(false, Ordering::Relaxed);
    CREATED.with(|c| c.borrow_mut().clear());
}
