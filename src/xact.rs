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

/// Run `f` inside an internal subtransaction, as PL/pgSQL runs an exception block: an ERROR
/// raised in it (or a Rust panic) rolls back only the subtransaction -- its locks, buffer pins,
/// SPI connections and open relations go with it -- and comes back as Err with the error's
/// message; the caller's memory context and resource owner are restored whatever happens, so
/// what `f` allocated in the caller's context outlives the subtransaction.
///
/// For safe_ddl's own analysis, which must never raise an error of its own (issue 16); not for
/// code whose errors are meant to reach the client.
pub fn in_subtransaction<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    use pgrx::pg_sys;
    use pgrx::pg_sys::panic::CaughtError;
    use pgrx::PgTryBuilder;
    // SAFETY: the subtransaction pattern of PL/pgSQL's exception blocks (see acquire::try_once).
    unsafe {
        let context = pg_sys::CurrentMemoryContext;
        let owner = pg_sys::CurrentResourceOwner;
        pg_sys::BeginInternalSubTransaction(std::ptr::null());
        pg_sys::MemoryContextSwitchTo(context);
        let outcome: Result<T, Box<CaughtError>> =
            PgTryBuilder::new(std::panic::AssertUnwindSafe(|| Ok(f())))
                .catch_others(|e| Err(Box::new(e)))
                .execute();
        match outcome {
            Ok(value) => {
                pg_sys::ReleaseCurrentSubTransaction();
                pg_sys::MemoryContextSwitchTo(context);
                pg_sys::CurrentResourceOwner = owner;
                Ok(value)
            }
            Err(e) => {
                pg_sys::RollbackAndReleaseCurrentSubTransaction();
                pg_sys::MemoryContextSwitchTo(context);
                pg_sys::CurrentResourceOwner = owner;
                Err(match *e {
                    CaughtError::PostgresError(r) | CaughtError::ErrorReport(r) => {
                        r.message().to_string()
                    }
                    CaughtError::RustPanic { ereport, .. } => ereport.message().to_string(),
                })
            }
        }
    }
}
