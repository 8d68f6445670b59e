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
    /// this transaction, temporary, holding no data, or smaller than min_table_size).
    pub fn guarded(&self, t: &Target) -> Option<&'a TableFacts> {
        self.facts(t).filter(|f| {
            f.exemption_with(self.min_table_size, self.empty_exempts())
                .is_none()
        })
    }

    /// Whether a table that holds no data is exempt in this statement: only when the hook takes
    /// the statement's lock itself (bounded, in the caller's transaction) and can look at the
    /// table again under it before the statement runs (hook.rs), so rows that arrive after the
    /// decision are caught. Statements that commit per table (VACUUM FULL, REINDEX or CLUSTER of
    /// a partitioned table) run without that lock and get no such exemption.
    pub fn empty_exempts(&self) -> bool {
        self.stmt.lock.is_some_and(|l| l.blocks_reads_or_writes())
    }

    /// `t` holds no data and the statement is one where that exempts (`empty_exempts`).
    pub fn spared_as_empty(&self, t: &TableFacts) -> bool {
        self.empty_exempts() && t.holds_no_data()
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
    let text = crate::sqltext::one_line(&input.stmt.text);
    rules::ALL
        .iter()
        .flat_map(|rule| rule(input))
        .map(|mut f| {
            f.hint = rules::with_statement(&f.hint, &text);
            f
        })
        .collect()
}

/// The tables whose emptiness spared the statement a finding: exempt only because they hold no
/// data (not created in this transaction, not temporary, not small enough for min_table_size
/// anyway). The hook looks at them again under the statement's lock. `found` is
/// `classify(input)`. Each table is tried alone as if it had not been measured; it is relied on
/// when that brings a finding `found` does not have (not merely more findings: a finding can
/// take another's place, as table_rewrite on a referenced table takes the place of
/// constraint_validation on its referencing tables). One classify call per empty table, no
/// catalog access.
pub fn relies_on_empty(input: &RuleInput, found: &[Finding]) -> Vec<u32> {
    if !input.empty_exempts() {
        return vec![];
    }
    relied_on(
        input,
        found,
        |f| f.holds_no_data(),
        |g| g.size_exact = false,
    )
}

/// The tables whose record of never having been used spared the statement a finding (a drop or
/// rename of what nobody used since its creation): a client may use it between this judgement
/// and the statement's lock (a transaction that holds a lock on it from PREPARE and executes
/// later), so the hook judges again under that lock, as for empty tables. `found` is
/// `classify(input)`; one classify call per such table, no catalog access.
pub fn relies_on_never_used(input: &RuleInput, found: &[Finding]) -> Vec<u32> {
    relied_on(
        input,
        found,
        |f| f.usage.as_ref().is_some_and(|u| u.has_creation()),
        |g| g.usage = g.usage.as_ref().map(|u| u.without_creation()),
    )
}

/// The tables (visible to others, and `candidate`) whose fact that `unprove` takes away spared
/// the statement a finding: classifying again with that one table unproven brings a finding
/// `found` does not have.
fn relied_on(
    input: &RuleInput,
    found: &[Finding],
    candidate: impl Fn(&TableFacts) -> bool,
    unprove: impl Fn(&mut TableFacts),
) -> Vec<u32> {
    input
        .tables
        .iter()
        .filter(|f| !f.created_in_transaction && !f.temporary && candidate(f))
        .filter(|f| {
            let unproven: Vec<TableFacts> = input
                .tables
                .iter()
                .map(|g| {
                    let mut g = g.clone();
                    if g.oid == f.oid {
                        unprove(&mut g);
                    }
                    g
                })
                .collect();
            classify(&RuleInput {
                tables: &unproven,
                ..*input
            })
            .iter()
            .any(|f| !known(found, f))
        })
        .map(|f| f.oid)
        .collect()
}

/// `f` is one of `found` (the same hazard, subject and message): comparing the findings, not
/// their number, since one finding can take another's place.
fn known(found: &[Finding], f: &Finding) -> bool {
    found
        .iter()
        .any(|g| g.hazard == f.hazard && g.subject == f.subject && g.message == f.message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ddl::{AlterCmd, ConstraintKind, Ddl, LockMode, NewConstraint};
    use crate::rules::test_support::*;

    fn fk(table: u32, referenced: u32) -> Statement {
        locking(
            Ddl::AlterTable {
                table: target(table, "orders"),
                cmds: vec![AlterCmd::AddConstraint(NewConstraint {
                    kind: ConstraintKind::ForeignKey,
                    name: None,
                    not_valid: false,
                    using_index: false,
                    columns: vec!["customer_id".into()],
                    referenced: Some(target(referenced, "customers")),
                    ref_columns: vec![],
                    expr_text: None,
                    without_overlaps: false,
                })],
            },
            "ALTER TABLE orders ADD FOREIGN KEY (customer_id) REFERENCES customers",
            LockMode::ShareRowExclusive,
        )
    }

    #[test]
    fn only_the_tables_whose_emptiness_spared_a_finding_are_relied_on() {
        // The referencing table is scanned; the referenced one's emptiness decides nothing.
        let stmt = fk(1, 2);
        let tables = [empty(1, "orders"), empty(2, "customers")];
        let input = RuleInput {
            stmt: &stmt,
            tables: &tables,
            min_table_size: 0,
        };
        let found = classify(&input);
        assert!(found.is_empty(), "{found:?}");
        assert_eq!(relies_on_empty(&input, &found), vec![1]);

        // Populated: a finding, nothing relied on.
        let tables = [one_page(1, "orders"), empty(2, "customers")];
        let input = RuleInput {
            stmt: &stmt,
            tables: &tables,
            min_table_size: 0,
        };
        let found = classify(&input);
        assert_eq!(found.len(), 1);
        assert!(relies_on_empty(&input, &found).is_empty());

        // Exempt by min_table_size anyway: nothing to look at again (as before).
        let tables = [empty(1, "orders"), empty(2, "customers")];
        let input = RuleInput {
            stmt: &stmt,
            tables: &tables,
            min_table_size: 1 << 20,
        };
        assert!(relies_on_empty(&input, &classify(&input)).is_empty());

        // Created in this transaction: never relied on.
        let tables = [
            TableFacts {
                created_in_transaction: true,
                ..empty(1, "orders")
            },
            empty(2, "customers"),
        ];
        let input = RuleInput {
            stmt: &stmt,
            tables: &tables,
            min_table_size: 0,
        };
        assert!(relies_on_empty(&input, &classify(&input)).is_empty());
    }

    #[test]
    fn no_emptiness_exemption_without_the_statements_own_lock() {
        // VACUUM FULL commits per table: describe gives it no lock, the guard cannot look again.
        let stmt = statement(
            Ddl::Rewrite {
                tables: vec![target(1, "t")],
                verb: "VACUUM FULL",
                all: false,
            },
            "VACUUM FULL t",
        );
        let tables = [empty(1, "t")];
        let input = RuleInput {
            stmt: &stmt,
            tables: &tables,
            min_table_size: 0,
        };
        assert!(!input.empty_exempts());
        assert_eq!(classify(&input).len(), 1);
        assert!(relies_on_empty(&input, &classify(&input)).is_empty());
        // CLUSTER of a plain table takes ACCESS EXCLUSIVE in the caller's transaction.
        let stmt = locking(
            Ddl::Rewrite {
                tables: vec![target(1, "t")],
                verb: "CLUSTER",
                all: false,
            },
            "CLUSTER t",
            LockMode::AccessExclusive,
        );
        let input = RuleInput {
            stmt: &stmt,
            tables: &tables,
            min_table_size: 0,
        };
        assert!(classify(&input).is_empty());
        assert_eq!(relies_on_empty(&input, &classify(&input)), vec![1]);
    }
}
