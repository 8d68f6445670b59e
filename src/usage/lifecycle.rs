//! Creations and drops reach the usage table only once their transaction has committed.
//!
//! Drops: slots of dropped relations, columns and databases go back to the table, but a DROP
//! that is rolled back (or refused, or run inside `rehearse()`, which always rolls back) must
//! leave every recorded use in place.
//!
//! Creations: a relation (table, partitioned table, view, materialized view, foreign table; not
//! temporary) or column created while tracking runs has its whole usage history on record from
//! its creation on, which `mark_created` notes in its slot with the commit time. Until then,
//! nobody else can see it, and the creating transaction's own uses are not recorded (`own`).
//!
//! The object_access_hook notes both with their subtransaction level; subtransaction callbacks
//! forget those of an aborted savepoint; at pre-commit the creations still there are checked in
//! the catalog (an object created and dropped again is gone, and relkind and persistence are
//! known only now); the commit callback frees the dropped slots and then records the creations.

use std::cell::RefCell;
use std::ffi::{c_int, c_void};
use std::sync::atomic::{AtomicBool, Ordering};

use pgrx::{pg_guard, pg_sys};

use super::{own, store};

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
    /// Creations that passed the pre-commit check: (relation, attnum or store::TABLE).
    static READY: RefCell<Vec<(u32, i16)>> = const { RefCell::new(Vec::new()) };
}

/// PENDING may not be empty: set with every push, cleared when it is emptied at the transaction's
/// end. A plain process global, read at the end of every transaction (see own::CREATING).
static DROPPING: AtomicBool = AtomicBool::new(false);

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

/// The object_access_hook. Postgres also calls it for every function a query's expressions
/// call (OAT_FUNCTION_EXECUTE) and for namespace searches, so those only chain the previous hook,
/// without pgrx's guard: this frame owns nothing and cannot panic, and an ERROR of the previous
/// hook (C code, or another extension's hook, which must not let a panic escape since Postgres
/// calls it from C) leaves through it unchanged. Creations and drops go to `on_create_or_drop`,
/// under #[pg_guard].
unsafe extern "C-unwind" fn on_object_access(
    access: pg_sys::ObjectAccessType::Type,
    class_id: pg_sys::Oid,
    object_id: pg_sys::Oid,
    sub_id: c_int,
    arg: *mut c_void,
) {
    // SAFETY: the object_access_hook's arguments, passed on unchanged.
    unsafe {
        if access == pg_sys::ObjectAccessType::OAT_POST_CREATE
            || access == pg_sys::ObjectAccessType::OAT_DROP
        {
            on_create_or_drop(access, class_id, object_id, sub_id, arg);
        } else if let Some(prev) = PREV_OBJECT_ACCESS {
            prev(access, class_id, object_id, sub_id, arg);
        }
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn on_create_or_drop(
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
        let level = pg_sys::GetCurrentTransactionNestLevel();
        if access == pg_sys::ObjectAccessType::OAT_POST_CREATE {
            // A new relation (sub_id 0) or a column added to one (ALTER TABLE ADD COLUMN). The
            // new catalog row may not be visible to lookups yet: checked at pre-commit.
            if class_id == pg_sys::RelationRelationId && sub_id >= 0 {
                let attnum = (sub_id > 0).then(|| i16::try_from(sub_id).ok()).flatten();
                if sub_id == 0 || attnum.is_some() {
                    own::created(u32::from(object_id), attnum, level);
                }
            }
            return;
        }
        if access != pg_sys::ObjectAccessType::OAT_DROP {
            return;
        }
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
        DROPPING.store(true, Ordering::Relaxed);
    }
}

/// The creations of this transaction whose objects still exist and are tracked: relations of a
/// kind that can be used by queries, not temporary, and columns not dropped again (a column
/// added to a relation created in the same transaction is covered by the relation's record).
fn ready_creations() -> Vec<(u32, i16)> {
    let created = own::transaction_creations();
    let new_relations: Vec<u32> = created
        .iter()
        .filter(|c| c.attnum.is_none())
        .map(|c| c.rel)
        .collect();
    let mut ready: Vec<(u32, i16)> = vec![];
    for c in created {
        let oid = pg_sys::Oid::from(c.rel);
        // SAFETY: syscache lookups inside the committing transaction (pre-commit); a relation
        // that no longer exists has relkind 0.
        let tracked = unsafe {
            let kind = pg_sys::get_rel_relkind(oid) as u8;
            matches!(
                kind,
                pg_sys::RELKIND_RELATION
                    | pg_sys::RELKIND_PARTITIONED_TABLE
                    | pg_sys::RELKIND_VIEW
                    | pg_sys::RELKIND_MATVIEW
                    | pg_sys::RELKIND_FOREIGN_TABLE
            ) && pg_sys::get_rel_persistence(oid) as u8 != pg_sys::RELPERSISTENCE_TEMP
        };
        if !tracked {
            continue;
        }
        let entry = match c.attnum {
            None => (c.rel, store::TABLE),
            Some(_) if new_relations.contains(&c.rel) => continue,
            Some(attnum) => {
                // SAFETY: syscache lookup; NULL for a dropped or missing column.
                let exists = unsafe {
                    let tuple = pg_sys::SearchSysCacheAttNum(oid, attnum);
                    if tuple.is_null() {
                        false
                    } else {
                        pg_sys::ReleaseSysCache(tuple);
                        true
                    }
                };
                if !exists {
                    continue;
                }
                (c.rel, attnum)
            }
        };
        if !ready.contains(&entry) {
            ready.push(entry);
        }
    }
    ready
}

/// Called at the end of every transaction, so first the common case: nothing dropped, created
/// or stored by it (own::untouched), when every branch below would do nothing. Not guarded by
/// pgrx: it reads two flags, owns nothing and cannot panic; the rest runs under #[pg_guard].
unsafe extern "C-unwind" fn at_transaction_end(event: pg_sys::XactEvent::Type, arg: *mut c_void) {
    if !DROPPING.load(Ordering::Relaxed) && own::untouched() {
        return;
    }
    // SAFETY: the callback's arguments, passed on.
    unsafe { on_transaction_end(event, arg) }
}

#[pg_guard]
unsafe extern "C-unwind" fn on_transaction_end(event: pg_sys::XactEvent::Type, _arg: *mut c_void) {
    match event {
        pg_sys::XactEvent::XACT_EVENT_PRE_COMMIT => {
            let ready = ready_creations();
            READY.with(|r| *r.borrow_mut() = ready);
        }
        pg_sys::XactEvent::XACT_EVENT_COMMIT | pg_sys::XactEvent::XACT_EVENT_PARALLEL_COMMIT => {
            let pending = PENDING.with(|p| std::mem::take(&mut *p.borrow_mut()));
            DROPPING.store(false, Ordering::Relaxed);
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
            // After the frees, so that freed slots can be reused. A creation that finds no free
            // slot is simply not recorded: the object is judged as any other.
            let ready = READY.with(|r| std::mem::take(&mut *r.borrow_mut()));
            if !ready.is_empty() {
                // SAFETY: plain backend globals and calls; nothing here can raise an ERROR.
                let (db, now) = unsafe {
                    (
                        u32::from(pg_sys::MyDatabaseId),
                        pg_sys::GetCurrentTimestamp(),
                    )
                };
                for (rel, attnum) in ready {
                    store::mark_created(db, rel, attnum, now);
                }
            }
            own::transaction_end();
        }
        // Rolled back, or prepared (its dropped slots stay until the server restarts: they can
        // only make something look used; its creations are not recorded: judged as any other).
        pg_sys::XactEvent::XACT_EVENT_ABORT
        | pg_sys::XactEvent::XACT_EVENT_PARALLEL_ABORT
        | pg_sys::XactEvent::XACT_EVENT_PREPARE => {
            PENDING.with(|p| p.borrow_mut().clear());
            DROPPING.store(false, Ordering::Relaxed);
            READY.with(|r| r.borrow_mut().clear());
            own::transaction_end();
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
    let committed = match event {
        pg_sys::SubXactEvent::SUBXACT_EVENT_ABORT_SUB => false,
        pg_sys::SubXactEvent::SUBXACT_EVENT_COMMIT_SUB => true,
        _ => return,
    };
    PENDING.with(|p| {
        let mut p = p.borrow_mut();
        if committed {
            p.iter_mut()
                .filter(|d| d.level >= level)
                .for_each(|d| d.level = level - 1);
        } else {
            p.retain(|d| d.level < level);
        }
    });
    own::subtransaction_end(level, committed);
}
