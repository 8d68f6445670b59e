//! Long lock hold warning: a transaction that took a lock blocking reads or writes on an existing
//! table and commits more than `safe_ddl.max_lock_hold` later gets a WARNING (and a LOG line).

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};

use pgrx::pg_sys;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;

use crate::gucs;

thread_local! {
    /// (relation, lock name, when it was requested) for this transaction.
    static HELD: RefCell<Vec<(String, &'static str, pg_sys::TimestampTz)>> = const { RefCell::new(Vec::new()) };
}

/// HELD may not be empty: set by `record`, cleared when HELD is emptied. A plain process global
/// (a backend is one thread), so that the callback at the end of every transaction is two
/// instructions when no guarded DDL ran in it.
static HOLDING: AtomicBool = AtomicBool::new(false);

pub fn install() {
    // SAFETY: registering a callback from _PG_init.
    unsafe { pg_sys::RegisterXactCallback(Some(at_transaction_end), std::ptr::null_mut()) };
}

/// The statement that locked `relations` in `lock` started at `since`.
pub fn record(relations: Vec<String>, lock: &'static str, since: pg_sys::TimestampTz) {
    HELD.with(|h| {
        let mut h = h.borrow_mut();
        for r in relations {
            if !h.iter().any(|(x, l, _)| *x == r && *l == lock) {
                h.push((r, lock, since));
            }
        }
    });
    HOLDING.store(true, Ordering::Relaxed);
}

/// Not guarded by pgrx: reads a flag, owns nothing, cannot panic; the rest runs under #[pg_guard].
unsafe extern "C-unwind" fn at_transaction_end(
    event: pg_sys::XactEvent::Type,
    arg: *mut std::ffi::c_void,
) {
    if HOLDING.load(Ordering::Relaxed) {
        // SAFETY: the callback's arguments, passed on.
        unsafe { on_transaction_end(event, arg) }
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn on_transaction_end(
    event: pg_sys::XactEvent::Type,
    _arg: *mut std::ffi::c_void,
) {
    match event {
        pg_sys::XactEvent::XACT_EVENT_PRE_COMMIT => {
            let held = HELD.with(|h| std::mem::take(&mut *h.borrow_mut()));
            HOLDING.store(false, Ordering::Relaxed);
            let limit = i64::from(gucs::max_lock_hold_ms());
            if limit == 0 || held.is_empty() {
                return;
            }
            // SAFETY: plain clock read.
            let now = unsafe { pg_sys::GetCurrentTimestamp() };
            for (relation, lock, since) in held {
                let ms = (now - since) / 1000;
                if ms > limit {
                    let message = format!(
                        "safe_ddl: {lock} on {relation} was held longer than safe_ddl.max_lock_hold ({limit} ms)"
                    );
                    let detail = format!(
                        "Held for {:.2} s, until this COMMIT: every query on the table that needed a conflicting lock \
                         waited up to that long.",
                        ms as f64 / 1000.0
                    );
                    crate::encoding::report(
                        ErrorReport::new(PgSqlErrorCode::ERRCODE_WARNING, message.clone(), "safe_ddl")
                            .set_detail(detail.clone())
                            .set_hint(
                                "Keep DDL in short transactions of its own: no data migration, sleeps or other slow \
                                 statements between the DDL and COMMIT.",
                            ),
                        PgLogLevel::WARNING,
                    );
                    crate::encoding::report(
                        ErrorReport::new(PgSqlErrorCode::ERRCODE_WARNING, message, "safe_ddl"),
                        PgLogLevel::LOG,
                    );
                }
            }
        }
        pg_sys::XactEvent::XACT_EVENT_ABORT | pg_sys::XactEvent::XACT_EVENT_COMMIT => {
            HELD.with(|h| h.borrow_mut().clear());
            HOLDING.store(false, Ordering::Relaxed);
        }
        _ => {}
    }
}
