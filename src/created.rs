//! Columns added earlier in the current transaction: invisible to other sessions until commit,
//! so renaming or dropping them again is no hazard. (Tables and indexes created in the
//! transaction are recognised from the relcache, see catalog.rs; columns have no such mark.)

use std::cell::RefCell;

use pgrx::pg_sys;

thread_local! {
    static ADDED: RefCell<Vec<(u32, u32, String)>> = const { RefCell::new(Vec::new()) };
}

fn local_transaction_id() -> u32 {
    // SAFETY: MyProc is set for every backend that runs statements.
    unsafe { (*pg_sys::MyProc).lxid }
}

/// Remember that `column` (quoted as an identifier) is being added to `relid`.
pub fn record_column(relid: u32, column: &str) {
    let lxid = local_transaction_id();
    ADDED.with(|a| {
        let mut a = a.borrow_mut();
        a.retain(|(x, _, _)| *x == lxid);
        a.push((lxid, relid, column.to_string()));
    });
}

pub fn column_added_in_transaction(relid: u32, column: &str) -> bool {
    let lxid = local_transaction_id();
    ADDED.with(|a| {
        a.borrow()
            .iter()
            .any(|(x, r, c)| *x == lxid && *r == relid && c == column)
    })
}

/// After RENAME COLUMN of a column added in this transaction, it is still new under its new name.
pub fn rename_column(relid: u32, from: &str, to: &str) {
    if column_added_in_transaction(relid, from) {
        record_column(relid, to);
    }
}
