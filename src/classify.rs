//! Statement + catalog facts -> hazards. Pure: no Postgres calls, covered by `cargo test`.

use crate::ddl::{LockMode, Statement, Target};
use crate::facts::TableFacts;
use crate::hazard::Hazard;
use crate::rules;

/// What a rule hands to the classifier.
pub struct RuleInput<'a> {
    pub stmt: &'a Statement,
    /// Facts about every existing relation the statement names (`Statement::relations`).
    pub tables: &'a [TableFacts],
    /// `safe_ddl.min_table_size` in bytes.
    pub min_table_size: i64,
}

impl<'a> RuleInput<'a> {
    pub fn facts(&self, t: &Target) -> Option<&'a TableFacts> {
        let oid = t.oid?;
        self.tables.iter().find(|f| f.oid == oid)
    }

    /// Facts of an existing table that is not exempt from scan/rewrite/build hazards (created in
    /// this transaction, temporary, or smaller than min_table_size).
    pub fn guarded(&self, t: &Target) -> Option<&'a TableFacts> {
        self.facts(t)
            .filter(|f| f.exemption(self.min_table_size).is_none())
    }

    /// Facts of an existing table that other sessions can see (created in this transaction and
    /// temporary tables are exempt, whatever their size): for renames and drops.
    pub fn visible(&self, t: &Target) -> Option<&'a TableFacts> {
        self.facts(t)
            .filter(|f| !f.created_in_transaction && !f.temporary)
    }
}

/// One hazard found in one statement, with the text of its report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub hazard: Hazard,
    /// The object it concerns, e.g. `public.items`.
    pub subject: String,
    /// The primary message, without the `safe_ddl:` prefix.
    pub message: String,
    /// What would happen: the lock, what it blocks, the table's size.
    pub detail: String,
    /// The exact safe recipe in SQL.
    pub hint: String,
    /// The lock the hazardous part takes on `subject`.
    pub lock: Option<LockMode>,
    /// Postgres rewrites the table.
    pub rewrites: bool,
    /// Postgres reads the whole table (a rewrite is also a scan).
    pub scans: bool,
    /// The table's size in bytes, when known.
    pub size_bytes: Option<i64>,
    /// Why the dropped or renamed object counts as in use (usage tracking); such a finding is
    /// only allowed when safe_ddl.allow also names `in_use`.
    pub in_use: Option<String>,
}

pub fn classify(input: &RuleInput) -> Vec<Finding> {
    rules::ALL.iter().flat_map(|rule| rule(input)).collect()
}
