//! `rename`: ALTER TABLE ... RENAME TO, and RENAME COLUMN, of a table other sessions use. The
//! rename itself is instant, but every running application version that still uses the old
//! name fails from that moment on.

use crate::classify::{Finding, RuleInput};
use crate::ddl::{Ddl, LockMode};
use crate::hazard::Hazard;
use crate::rules::{literal, mark_in_use, never_used, override_text, unquoted, Draft};

const H: Hazard = Hazard::Rename;

pub fn check(input: &RuleInput) -> Vec<Finding> {
    let Ddl::Rename {
        table,
        column,
        column_type,
        new_name,
        column_created_in_transaction,
    } = &input.stmt.ddl
    else {
        return vec![];
    };
    let Some(t) = input.visible(table) else {
        return vec![];
    };
    if !matches!(t.relkind, b'r' | b'p') || never_used(t, column.as_deref()) {
        return vec![];
    }
    let name = &t.qualified_name;
    let draft = Draft {
        lock: LockMode::AccessExclusive,
        rewrites: false,
        scans: false,
    };
    let finding = match column {
        Some(_) if *column_created_in_transaction => return vec![],
        Some(col) => draft.finding(
            H,
            t,
            format!("RENAME COLUMN {col} of table {name} breaks every client that still uses the old name"),
            format!(
                "The rename is instant, but from its commit on, every query of the running application that names \
                 {col} fails."
            ),
            format!(
                "Rename with expand/contract across deploys: a new column that a trigger keeps in step with the old \
                 one (dual writes), filled in batches, then the old one dropped once unused ({docs}):\n  \
                 SELECT safe_ddl.begin_column_change({rel}, {col_lit}, {new_lit}, {type_lit});\n  \
                 CALL safe_ddl.backfill({rel}, {set_lit}, {where_lit});  -- outside a transaction block\n  \
                 -- move every reader and writer to {new_name}; once {col} is unused for safe_ddl.usage_window:\n  \
                 SELECT safe_ddl.finish_column_change({rel}, {col_lit});\n\
                 If {col} is NOT NULL, finish_column_change says so and gives the CALL safe_ddl.set_not_null that \
                 makes {new_name} NOT NULL without a long lock.\n{}",
                override_text(H, true),
                docs = crate::hazard::docs_page("expand-contract.md"),
                rel = literal(name),
                col_lit = literal(&unquoted(col)),
                new_lit = literal(&unquoted(new_name)),
                type_lit = literal(column_type),
                set_lit = literal(&format!("{new_name} = ({col}::{column_type})")),
                where_lit = literal(&format!(
                    "{new_name} IS DISTINCT FROM CAST(({col}::{column_type}) AS {column_type})"
                )),
            ),
        ),
        None => {
            let old = table.written.clone();
            draft.finding(
                H,
                t,
                format!("RENAME of table {name} breaks every client that still uses the old name"),
                "The rename is instant, but from its commit on, every query of the running application that names \
                 the old table fails."
                    .to_string(),
                format!(
                    "Rename it and leave an updatable view under the old name, in one transaction \
                     (SELECT safe_ddl.rename_table('{old}', '{new_name}') does exactly this):\n  \
                     BEGIN;\n  \
                     SET LOCAL safe_ddl.allow = 'rename, in_use';  -- the view keeps the old name working\n  \
                     ALTER TABLE {old} RENAME TO {new_name};\n  \
                     CREATE VIEW {old} WITH (security_invoker = true) AS SELECT * FROM {schema}.{new_name};  -- simple views are updatable\n  \
                     COMMIT;\n\
                     Drop the view once no client uses the old name.\n{}",
                    override_text(H, true),
                    schema = t.schema,
                ),
            )
        }
    };
    vec![mark_in_use(finding, t, column.as_deref())]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::TableFacts;
    use crate::rules::test_support::*;

    fn stmt(column: Option<&str>, created: bool) -> crate::ddl::Statement {
        statement(
            Ddl::Rename {
                table: target(1, "users"),
                column: column.map(String::from),
                column_type: "text".into(),
                new_name: "people".into(),
                column_created_in_transaction: created,
            },
            "",
        )
    }

    #[test]
    fn err_table_and_column_renames_ok_new_objects() {
        let tables = [facts(1, "users")];
        let found = check(&RuleInput {
            stmt: &stmt(None, false),
            tables: &tables,
            min_table_size: 0,
        });
        assert!(
            found[0].hint.contains("AS SELECT * FROM public.people;"),
            "{}",
            found[0].hint
        );
        let found = check(&RuleInput {
            stmt: &stmt(Some("name"), false),
            tables: &tables,
            min_table_size: 0,
        });
        assert!(
            found[0]
                .hint
                .contains("begin_column_change('public.users', 'name', 'people', 'text');"),
            "{}",
            found[0].hint
        );
        assert!(check(&RuleInput {
            stmt: &stmt(Some("name"), true),
            tables: &tables,
            min_table_size: 0
        })
        .is_empty());
        let new = [TableFacts {
            created_in_transaction: true,
            ..facts(1, "users")
        }];
        assert!(check(&RuleInput {
            stmt: &stmt(None, false),
            tables: &new,
            min_table_size: 0
        })
        .is_empty());
        // Size does not matter: a small table is just as much in use.
        assert!(!check(&RuleInput {
            stmt: &stmt(None, false),
            tables: &tables,
            min_table_size: 1 << 40
        })
        .is_empty());
    }
}
