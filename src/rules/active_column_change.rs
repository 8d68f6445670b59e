//! `active_column_change`: DROP COLUMN, RENAME COLUMN or ALTER COLUMN TYPE of a column that the
//! dual-write trigger of an unfinished column change names (either side: the old column or the
//! new one). The trigger stays and reads or assigns the column by name on every INSERT and
//! UPDATE: once the column is gone, renamed or of another type, every write of the table fails
//! (`record "new" has no field ...`). Refused whatever the column's usage, even for a column
//! nobody used: it is the trigger that breaks. The change's own helpers end it (they drop the
//! trigger first).

use crate::classify::{Finding, RuleInput};
use crate::ddl::{AlterCmd, Ddl, LockMode};
use crate::facts::ColumnChange;
use crate::hazard::Hazard;
use crate::rules::{literal, unquoted, Draft};

const H: Hazard = Hazard::ActiveColumnChange;

#[derive(Clone, Copy)]
enum Verb {
    Drop,
    Rename,
    Retype,
}

pub fn check(input: &RuleInput) -> Vec<Finding> {
    let (table, touched): (_, Vec<(Verb, &String)>) = match &input.stmt.ddl {
        Ddl::AlterTable { table, cmds } => (
            table,
            cmds.iter()
                .filter_map(|cmd| match cmd {
                    AlterCmd::DropColumn {
                        column,
                        exists: true,
                        ..
                    } => Some((Verb::Drop, column)),
                    AlterCmd::AlterType { column, .. } => Some((Verb::Retype, column)),
                    _ => None,
                })
                .collect(),
        ),
        Ddl::Rename {
            table,
            column: Some(column),
            ..
        } => (table, vec![(Verb::Rename, column)]),
        _ => return vec![],
    };
    // Whatever the table (created in this transaction too): the trigger breaks all the same.
    let Some(t) = input.facts(table) else {
        return vec![];
    };
    let mut out = Vec::new();
    for (verb, column) in touched {
        let name = unquoted(column);
        for c in t
            .column_changes
            .iter()
            .filter(|c| c.old_column == name || c.new_column == name)
        {
            out.push(finding(t, verb, column, c));
        }
    }
    out
}

fn finding(t: &crate::facts::TableFacts, verb: Verb, column: &str, c: &ColumnChange) -> Finding {
    let rel = &t.qualified_name;
    let (what, anyway, outcome) = match verb {
        Verb::Drop => ("DROP COLUMN", "drop it", format!("once {column} is gone")),
        Verb::Rename => (
            "RENAME COLUMN",
            "rename it",
            format!("once {column} no longer has its name"),
        ),
        Verb::Retype => (
            "ALTER COLUMN TYPE",
            "change its type",
            format!(
                "once {column} has another type (the change's forward and backward functions take and \
                 return the old one)"
            ),
        ),
    };
    let old = &c.old_column;
    let new = &c.new_column;
    let which = if *old == unquoted(column) {
        "old"
    } else {
        "new"
    };
    let trigger = format!("zz_safe_ddl_column_change_{}", c.id);
    Draft {
        lock: LockMode::AccessExclusive,
        rewrites: false,
        scans: false,
    }
    .finding(
        H,
        t,
        format!(
            "{what} {column} of table {rel} would break column change {id} ({old} -> {new}), whose {which} column it is",
            id = c.id,
        ),
        format!(
            "Trigger {trigger} on {rel} keeps {old} and {new} in step on every INSERT and UPDATE and names both \
             columns: {outcome}, every INSERT and UPDATE of {rel} fails (record \"new\" has no field ...) until the \
             trigger is dropped."
        ),
        hint(rel, c, anyway),
    )
}

fn hint(rel: &str, c: &ColumnChange, anyway: &str) -> String {
    let rel_lit = literal(rel);
    let col_lit = literal(&c.old_column);
    // One recipe line (the cancel, which always applies); the finish is prose: the recipe
    // lines of a HINT run in sequence (pg_test/recipes.sh).
    let end = if c.type_change {
        format!(
            "End the type change with its own helpers instead, which drop the dual-write trigger with the column. \
             Before the swap, cancel it (drops the shadow column and the triggers):\n  \
             SELECT safe_ddl.cancel_type_change({rel_lit}, {col_lit});\n\
             After the swap, finish it once the old column is unused: CALL safe_ddl.finish_type_change({rel_lit}, {col_lit});\n\
             See {}",
            crate::hazard::docs_page("expand-contract.md")
        )
    } else {
        format!(
            "End the change with its own helpers instead, which drop the dual-write trigger with the column. \
             Cancel it ({new} and the dual writes go, {old} stays as it is):\n  \
             SELECT safe_ddl.cancel_column_change({rel_lit}, {col_lit});\n\
             Or, once the application uses {new} only, finish it ({old} goes): \
             SELECT safe_ddl.finish_column_change({rel_lit}, {col_lit});\n\
             Either honours a caller's SET LOCAL safe_ddl.allow = 'in_use' (in a transaction block) while the column it drops \
             is in use. See {}",
            crate::hazard::docs_page("expand-contract.md"),
            old = c.old_column,
            new = c.new_column,
        )
    };
    format!(
        "{end}\nTo {anyway} anyway, knowing that writes of the table fail until the trigger is dropped: \
         BEGIN; SET LOCAL safe_ddl.allow = '{H}'; <statement>; COMMIT;\nSee {}",
        H.doc_page()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ddl::Statement;
    use crate::facts::TableFacts;
    use crate::rules::test_support::*;

    fn change(type_change: bool) -> ColumnChange {
        ColumnChange {
            id: 7,
            old_column: "note".into(),
            new_column: "Comment".into(),
            type_change,
        }
    }

    fn table(changes: Vec<ColumnChange>) -> TableFacts {
        TableFacts {
            column_changes: changes,
            ..facts(1, "t")
        }
    }

    fn run(stmt: &Statement, t: TableFacts) -> Vec<Finding> {
        let tables = [t];
        check(&RuleInput {
            stmt,
            tables: &tables,
            min_table_size: 0,
        })
    }

    fn drop(column: &str) -> Statement {
        statement(
            Ddl::AlterTable {
                table: target(1, "t"),
                cmds: vec![AlterCmd::DropColumn {
                    column: column.into(),
                    exists: true,
                    created_in_transaction: true,
                }],
            },
            "",
        )
    }

    #[test]
    fn drop_of_either_side_is_refused_with_the_cancel_and_finish_calls() {
        let found = run(&drop("note"), table(vec![change(false)]));
        assert_eq!(found.len(), 1);
        let f = &found[0];
        assert_eq!(f.hazard, H);
        assert!(f.message.contains("DROP COLUMN note of table public.t would break column change 7 (note -> Comment), whose old column"), "{}", f.message);
        assert!(
            f.detail
                .contains("every INSERT and UPDATE of public.t fails"),
            "{}",
            f.detail
        );
        assert!(
            f.hint
                .contains("SELECT safe_ddl.cancel_column_change('public.t', 'note');"),
            "{}",
            f.hint
        );
        assert!(
            f.hint
                .contains("SELECT safe_ddl.finish_column_change('public.t', 'note');"),
            "{}",
            f.hint
        );
        assert!(
            f.hint
                .contains("SET LOCAL safe_ddl.allow = 'active_column_change'; <statement>;"),
            "{}",
            f.hint
        );
        assert!(f.in_use.is_none());
        // The new side, written quoted; added in this transaction or never used makes no difference.
        let found = run(&drop("\"Comment\""), table(vec![change(false)]));
        assert!(
            found[0].message.contains("whose new column"),
            "{}",
            found[0].message
        );
        // Another column, or no live change: nothing.
        assert!(run(&drop("other"), table(vec![change(false)])).is_empty());
        assert!(run(&drop("note"), table(vec![])).is_empty());
        // DROP COLUMN IF EXISTS of a column that is not there.
        let missing = statement(
            Ddl::AlterTable {
                table: target(1, "t"),
                cmds: vec![AlterCmd::DropColumn {
                    column: "note".into(),
                    exists: false,
                    created_in_transaction: false,
                }],
            },
            "",
        );
        assert!(run(&missing, table(vec![change(false)])).is_empty());
    }

    #[test]
    fn rename_and_retype_are_refused_too() {
        let rename = statement(
            Ddl::Rename {
                table: target(1, "t"),
                column: Some("note".into()),
                column_type: "text".into(),
                new_name: "remark".into(),
                column_created_in_transaction: false,
            },
            "",
        );
        let found = run(&rename, table(vec![change(false)]));
        assert!(
            found[0]
                .message
                .starts_with("active_column_change: RENAME COLUMN note"),
            "{}",
            found[0].message
        );
        assert!(
            found[0].hint.contains("To rename it anyway"),
            "{}",
            found[0].hint
        );
        let retype = statement(
            Ddl::AlterTable {
                table: target(1, "t"),
                cmds: vec![AlterCmd::AlterType {
                    column: "\"Comment\"".into(),
                    new_type: "text".into(),
                    rewrite: None,
                    referenced_by: vec![],
                }],
            },
            "",
        );
        let found = run(&retype, table(vec![change(false)]));
        assert!(
            found[0]
                .message
                .starts_with("active_column_change: ALTER COLUMN TYPE \"Comment\""),
            "{}",
            found[0].message
        );
        assert!(
            found[0].hint.contains("To change its type anyway"),
            "{}",
            found[0].hint
        );
        // A rename of the table is not a column's.
        let table_rename = statement(
            Ddl::Rename {
                table: target(1, "t"),
                column: None,
                column_type: String::new(),
                new_name: "u".into(),
                column_created_in_transaction: false,
            },
            "",
        );
        assert!(run(&table_rename, table(vec![change(false)])).is_empty());
    }

    #[test]
    fn a_type_change_points_to_its_own_helpers() {
        let found = run(&drop("note"), table(vec![change(true)]));
        let h = &found[0].hint;
        assert!(
            h.contains("SELECT safe_ddl.cancel_type_change('public.t', 'note');"),
            "{h}"
        );
        assert!(
            h.contains("CALL safe_ddl.finish_type_change('public.t', 'note');"),
            "{h}"
        );
        assert!(!h.contains("cancel_column_change"), "{h}");
    }

    #[test]
    fn every_change_that_names_the_column_is_reported() {
        let other = ColumnChange {
            id: 9,
            old_column: "Comment".into(),
            new_column: "comment2".into(),
            type_change: false,
        };
        let found = run(&drop("\"Comment\""), table(vec![change(false), other]));
        assert_eq!(found.len(), 2);
        assert!(
            found[1].message.contains("column change 9"),
            "{}",
            found[1].message
        );
    }
}
