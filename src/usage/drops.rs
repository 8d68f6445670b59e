//! Slots of dropped relations, columns and databases go back to the usage table, but only once
//! the dropping transaction has committed: a DROP that is rolled back (or refused, or run inside
//! `rehearse()`, which always rolls back) must leave every recorded use in place. The
//! object_access_hook notes each drop with its subtransaction level; subtransaction callbacks
//! forget the drops of an aborted savepoint; the commit callback frees the slots.

use std::cell::RefCell;
use std::ffi::{c_int, c_void};

use pgrx::{pg_guard, pg_sys};

use super::store;

/// A dropped object: database, relation (None: the whole database), column (None: the whole
/// relation), and the subtransaction nesting level that dropped it.
struct Dropped {
    db: u32,
    rel: Option<u32>,
    column: Option<i16>,
    level: c_int,
}

thread_local! {
    static PENDING: RefCell<Vec<Dropped>> = const { RefCell::new(Vec::new()) };
}

static mut PREV_OBJECT_ACCESS: pg_sys::object_access_hook_type = None;

/// From _PG_init, when the usage table exists.
pub fn install() {
    // SAFETY: _PG_init runs once, single-threaded; hooks are chained.
    unsafe {
        PREV_OBJECT_ACCESS = pg_sys::object_access_hook;
        pg_sys::object_access_hook = Some(on_object_access);
        pg_sys::RegisterXactCallback(Some(at_transaction_end), std::ptr::null_mut());
        pg_sys::RegisterSubXactCallback(Some(at_subtransaction_end), std::ptr::null_mut());
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn on_object_access(
    access: pg_sys::ObjectAccessType::Type,
    class_id: pg_sys::Oid,
    object_id: pg_sys::Oid,
    sub_id: c_int,
    arg: *mut c_void,
) {
    // SAFETY: the object_access_hook's arguments; the previous hook is chained first. The
    // relation still exists in the catalog while OAT_DROP runs.
    unsafe {
        if let Some(prev) = PREV_OBJECT_ACCESS {
            pg_sys::ffi::pg_guard_ffi_boundary(|| prev(access, class_id, object_id, sub_id, arg));
        }
        if access != pg_sys::ObjectAccessType::OAT_DROP {
            return;
        }
        let level = pg_sys::GetCurrentTransactionNestLevel();
        let dropped = if class_id == pg_sys::RelationRelationId {
            // Temporary relations and indexes never get slots.
            let kind = pg_sys::get_rel_relkind(object_id) as u8;
            let temp = pg_sys::get_rel_persistence(object_id) as u8 == pg_sys::RELPERSISTENCE_TEMP;
            if temp || kind == pg_sys::RELKIND_INDEX || kind == pg_sys::RELKIND_PARTITIONED_INDEX {
                return;
            }
            Dropped {
                db: u32::from(pg_sys::MyDatabaseId),
                rel: Some(u32::from(object_id)),
                column: (sub_id > 0).then(|| i16::try_from(sub_id).ok()).flatten(),
                level,
            }
        } else if class_id == pg_sys::DatabaseRelationId {
            Dropped {
                db: u32::from(object_id),
                rel: None,
                column: None,
                level,
            }
        } else {
            return;
        };
        PENDING.with(|p| p.borrow_mut().push(dropped));
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn at_transaction_end(event: pg_sys::XactEvent::Type, _arg: *mut c_void) {
    match event {
        pg_sys::XactEvent::XACT_EVENT_COMMIT | pg_sys::XactEvent::XACT_EVENT_PARALLEL_COMMIT => {
            let pending = PENDING.with(|p| std::mem::take(&mut *p.borrow_mut()));
            let mut dbs: Vec<u32> = pending.iter().map(|d| d.db).collect();
            dbs.sort_unstable();
            dbs.dedup();
            for db in dbs {
                let objects: Vec<_> = pending
                    .iter()
                    .filter(|d| d.db == db)
                    .map(|d| (d.rel, d.column))
                    .collect();
                store::free(db, &objects);
            }
        }
        // Rolled back, or prepared (its slots stay until the server restarts: they can only
        // make something look used).
        pg_sys::XactEvent::XACT_EVENT_ABORT
        | pg_sys::XactEvent::XACT_EVENT_PARALLEL_ABORT
        | pg_sys::XactEvent::XACT_EVENT_PREPARE => {
            PENDING.with(|p| p.borrow_mut().clear());
        }
        _ => {}
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn at_subtransaction_end(
    event: pg_sys::SubXactEvent::Type,
    _my: pg_sys::SubTransactionId,
    _parent: pg_sys::SubTransactionId,
    _arg: *mut c_void,
) {
    // SAFETY: plain backend call; the ending subtransaction is still the current one.
    let level = unsafe { pg_sys::GetCurrentTransactionNestLevel() };
    PENDING.with(|p| {
        let mut p = p.borrow_mut();
        match event {
            pg_sys::SubXactEvent::SUBXACT_EVENT_ABORT_SUB => p.retain(|d| d.level < level),
            pg_sys::SubXactEvent::SUBXACT_EVENT_COMMIT_SUB => p
                .iter_mut()
                .filter(|d| d.level >= level)
                .for_each(|d| d.level = level - 1),
            _ => {}
        }
    });
}
