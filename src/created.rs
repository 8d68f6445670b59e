//! Columns added earlier in the current transaction: invisible to other sessions until commit,
//! so renaming or dropping them again is no hazard. (Tables and indexes created in the
//! transaction are recognised from the relcache, see catalog.rs; columns have no such mark.)

use crate::xact::TransactionSet;

thread_local! {
    static ADDED: TransactionSet<(u32, String)> = const { TransactionSet::new() };
}

/// Remember that `column` (quoted as an identifier) is being added to `relid`.
pub fn record_column(relid: u32, column: &str) {
    ADDED.with(|a| a.insert((relid, column.to_string())));
}

pub fn column_added_in_transaction(relid: u32, column: &str) -> bool {
    ADDED.with(|a| a.contains(&(relid, column.to_string())))
}

/// After RENAME COLUMN of a column added in this transaction, it is still new under its new name.
pub fn rename_column(relid: u32, from: &str, to: &str) {
    if column_added_in_transaction(relid, from) {
        record_column(relid, to);
    }
}
