//! One hazard rule per file. Each exposes `check(&RuleInput) -> Option<Finding>`; this file
//! only lists them.

use crate::classify::{Finding, RuleInput};

pub mod index_build;

pub type Rule = fn(&RuleInput) -> Option<Finding>;

pub const ALL: &[Rule] = &[index_build::check];

/// The override sentence every HINT ends with.
pub(crate) fn override_text(hazard: crate::hazard::Hazard, in_transaction_block: bool) -> String {
    let how = if in_transaction_block {
        format!("BEGIN; SET LOCAL safe_ddl.allow = '{hazard}'; <statement>; COMMIT;")
    } else {
        // Statements that cannot run in a transaction block cannot use SET LOCAL.
        format!("SET safe_ddl.allow = '{hazard}'; <statement>; RESET safe_ddl.allow;")
    };
    format!("To take the lock anyway: {how}\nSee {}", hazard.doc_page())
}
