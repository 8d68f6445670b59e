//! State that lives only as long as the current transaction, keyed by the backend's local
//! transaction id: entries of earlier transactions are ignored and dropped on the next insert.

use std::cell::RefCell;

/// The backend's local transaction id: changes with every transaction, including the ones a
/// statement starts and commits internally (VACUUM, CREATE INDEX CONCURRENTLY).
pub fn local_transaction_id() -> u32 {
    crate::pg_version::my_local_transaction_id()
}

pub struct TransactionSet<T> {
    items: RefCell<Vec<(u32, T)>>,
}

impl<T: PartialEq> TransactionSet<T> {
    pub const fn new() -> Self {
        TransactionSet {
            items: RefCell::new(Vec::new()),
        }
    }

    pub fn insert(&self, item: T) {
        let lxid = local_transaction_id();
        let mut items = self.items.borrow_mut();
        items.retain(|(x, _)| *x == lxid);
        items.push((lxid, item));
    }

    pub fn contains(&self, item: &T) -> bool {
        let lxid = local_transaction_id();
        self.items
            .borrow()
            .iter()
            .any(|(x, i)| *x == lxid && i == item)
    }
}
