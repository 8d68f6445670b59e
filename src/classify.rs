//! Statement + catalog facts -> hazards. Pure: no Postgres calls, covered by `cargo test`.

use crate::ddl::Statement;
use crate::facts::TableFacts;
use crate::hazard::Hazard;
use crate::rules;

/// What a rule hands to the classifier.
pub struct RuleInput<'a> {
    pub stmt: &'a Statement,
    /// Facts about `stmt.table()`, when it names an existing table.
    pub table: Option<&'a TableFacts>,
    /// `safe_ddl.min_table_size` in bytes.
    pub min_table_size: i64,
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
}

pub fn classify(input: &RuleInput) -> Vec<Finding> {
    rules::ALL.iter().filter_map(|rule| rule(input)).collect()
}
