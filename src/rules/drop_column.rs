//! `drop_column`: ALTER TABLE ... DROP COLUMN of a column other sessions can see. Instant for
//! Postgres (the column is only marked dropped), fatal for any client that still reads it.

use crate::classify::{Finding, RuleInput};
use crate::ddl::{AlterCmd, Ddl, LockMode};
use crate::hazard::Hazard;
use crate::rules::{mark_in_use, never_used, Draft};

const H: Hazard = Hazard::DropColumn;

pub fn check(input: &RuleInput) -> Vec<Finding> {
    let Ddl::AlterTable { table, cmds } = &input.stmt.ddl else {
        return vec![];
    };
    let Some(t) = input.visible(table) else {
        return vec![];
    };
    let name = &t.qualified_name;
    cmds.iter()
        .filter_map(|cmd| match cmd {
            AlterCmd::DropColumn { column, exists: true, created_in_transaction: false } => Some(column),
            _ => None,
        })
        .filter(|column| !never_used(t, Some(column)))
        .map(|column| {
            let f = Draft { lock: LockMode::AccessExclusive, rewrites: false, scans: false }.finding(
                H,
                t,
                format!("DROP COLUMN {column} of table {name} needs an explicit allow"),
                format!(
                    "The drop is instant, but every query that still names {column} (including SELECT * consumers \
                     that map columns by position) fails from its commit on, and the data is gone."
                ),
                format!(
                    "First make sure nothing reads or writes {column} any more: deploy the application without it \
                     (ORMs: mark it ignored first), then drop it:\n  \
                     BEGIN; SET LOCAL safe_ddl.allow = 'drop_column'; ALTER TABLE {name} DROP COLUMN {column}; COMMIT;\n\
                     See {}",
                    H.doc_page()
                ),
            );
            mark_in_use(f, t, Some(column))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::*;

    #[test]
    fn err_existing_column_ok_new_or_missing() {
        let stmt = |exists, created| {
            statement(
                Ddl::AlterTable {
                    table: target(1, "t"),
                    cmds: vec![AlterCmd::DropColumn {
                        column: "legacy".into(),
                        exists,
                        created_in_transaction: created,
                    }],
                },
                "",
            )
        };
        let tables = [facts(1, "t")];
        let found = check(&RuleInput {
            stmt: &stmt(true, false),
            tables: &tables,
            min_table_size: 0,
        });
        assert!(found[0]
            .hint
            .contains("SET LOCAL safe_ddl.allow = 'drop_column'"));
        assert!(check(&RuleInput {
            stmt: &stmt(true, true),
            tables: &tables,
            min_table_size: 0
        })
        .is_empty());
        assert!(check(&RuleInput {
            stmt: &stmt(false, false),
            tables: &tables,
            min_table_size: 0
        })
        .is_empty());
    }
}
