//! `table_rewrite` for ALTER TYPE ... ALTER ATTRIBUTE ... TYPE ... CASCADE of a composite type
//! with typed tables (CREATE TABLE ... OF type): each typed table is rewritten under ACCESS
//! EXCLUSIVE, as ALTER TABLE ... ALTER COLUMN TYPE would.

use crate::classify::{Finding, RuleInput};
use crate::ddl::{Ddl, LockMode};
use crate::hazard::Hazard;
use crate::rules::{holds, mark_in_use, never_used, override_text, stmt, Draft};

const H: Hazard = Hazard::TableRewrite;

pub fn check(input: &RuleInput) -> Vec<Finding> {
    if let Ddl::TypedTablesColumn {
        type_name,
        tables,
        column,
        rename_to,
    } = &input.stmt.ddl
    {
        return column_change(input, type_name, tables, column, rename_to.as_deref());
    }
    let Ddl::TypedTablesRewrite { type_name, tables } = &input.stmt.ddl else {
        return vec![];
    };
    let without_cascade = without_cascade(stmt(&input.stmt.text));
    tables
        .iter()
        .filter_map(|t| input.guarded(t))
        .map(|t| {
            let name = &t.qualified_name;
            let then = match &without_cascade {
                Some(s) => format!("  {s}\n"),
                None => "  -- then the same ALTER TYPE without CASCADE\n".to_string(),
            };
            Draft {
                lock: LockMode::AccessExclusive,
                rewrites: true,
                scans: true,
            }
            .finding(
                H,
                t,
                format!("ALTER TYPE {type_name} ... CASCADE rewrites typed table {name}"),
                format!(
                    "It {} while it copies every row into a new file and rebuilds every index; the table is {}.",
                    holds(LockMode::AccessExclusive, name),
                    t.size_text()
                ),
                format!(
                    "Detach the table from the type first (instant, no rewrite: it keeps its columns as an ordinary \
                     table), change the type alone, then change the table's column without a rewrite (expand/contract, \
                     as the HINT of ALTER TABLE ... ALTER COLUMN TYPE on it shows):\n  \
                     ALTER TABLE {name} NOT OF;\n{then}{}",
                    override_text(H, true)
                ),
            )
        })
        .collect()
}

/// The statement without its (last) CASCADE: what runs once no typed table is left.
fn without_cascade(text: &str) -> Option<String> {
    text.len()
        .checked_sub("cascade".len())
        .filter(|&cut| text.is_char_boundary(cut) && text[cut..].eq_ignore_ascii_case("cascade"))
        .map(|cut| format!("{};", text[..cut].trim_end()))
}

/// DROP / RENAME ATTRIBUTE ... CASCADE: the drop_column and rename hazards of each typed table
/// other sessions can see, with usage tracking's verdict, as ALTER TABLE would have them.
fn column_change(
    input: &RuleInput,
    type_name: &str,
    tables: &[crate::ddl::Target],
    column: &str,
    rename_to: Option<&str>,
) -> Vec<Finding> {
    let hazard = if rename_to.is_some() {
        Hazard::Rename
    } else {
        Hazard::DropColumn
    };
    let then = without_cascade(stmt(&input.stmt.text))
        .unwrap_or_else(|| "-- the same ALTER TYPE without CASCADE".into());
    tables
        .iter()
        .filter_map(|t| input.visible(t))
        .filter(|t| !never_used(t, Some(column)))
        .map(|t| {
            let name = &t.qualified_name;
            let (what, own) = match rename_to {
                None => (
                    format!("drops column {column} of typed table {name}"),
                    format!(
                        "-- once nothing reads {column} (SELECT * FROM safe_ddl.column_usage WHERE relation = {}::regclass):\n  \
                         BEGIN; SET LOCAL safe_ddl.allow = 'drop_column'; ALTER TABLE {name} DROP COLUMN {column}; COMMIT;",
                        crate::rules::literal(name)
                    ),
                ),
                Some(to) => (
                    format!("renames column {column} of typed table {name} to {to}"),
                    format!(
                        "-- rename {name}.{column} with expand/contract: the HINT of ALTER TABLE {name} RENAME COLUMN \
                         {column} TO {to} gives the steps"
                    ),
                ),
            };
            let f = Draft {
                lock: LockMode::AccessExclusive,
                rewrites: false,
                scans: false,
            }
            .finding(
                hazard,
                t,
                format!("ALTER TYPE {type_name} ... CASCADE {what}"),
                format!(
                    "Every query that still names {name}.{column} fails from its commit on; through the type, the \
                     column's own checks (usage tracking) would be skipped."
                ),
                format!(
                    "Detach the table from the type first (instant, no rewrite), change its column as a table's \
                     column, and the type alone:\n  ALTER TABLE {name} NOT OF;\n  {own}\n  {then}\n{}",
                    override_text(hazard, true)
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
    fn err_typed_table_column_drop_and_rename() {
        let stmt = |rename_to: Option<&str>| {
            locking(
                Ddl::TypedTablesColumn {
                    type_name: "public.point3".into(),
                    tables: vec![target(1, "points")],
                    column: "x".into(),
                    rename_to: rename_to.map(String::from),
                },
                "ALTER TYPE point3 DROP ATTRIBUTE x CASCADE",
                LockMode::AccessExclusive,
            )
        };
        let tables = [facts(1, "points")];
        let run = |s: &crate::ddl::Statement| {
            check(&RuleInput {
                stmt: s,
                tables: &tables,
                min_table_size: 1 << 30,
            })
        };
        let f = run(&stmt(None));
        assert_eq!(f.len(), 1, "visible tables, whatever their size");
        assert_eq!(f[0].hazard, Hazard::DropColumn);
        assert!(f[0]
            .hint
            .contains("ALTER TABLE public.points NOT OF;\n  -- once nothing reads x"));
        assert!(f[0].hint.contains(
            "SET LOCAL safe_ddl.allow = 'drop_column'; ALTER TABLE public.points DROP COLUMN x; COMMIT;"
        ));
        assert!(
            f[0].hint.contains("ALTER TYPE point3 DROP ATTRIBUTE x;"),
            "{}",
            f[0].hint
        );
        assert_eq!(run(&stmt(Some("y")))[0].hazard, Hazard::Rename);
    }

    #[test]
    fn err_typed_table_rewrite_with_recipe() {
        let stmt = locking(
            Ddl::TypedTablesRewrite {
                type_name: "public.point3".into(),
                tables: vec![target(1, "points")],
            },
            "ALTER TYPE point3 ALTER ATTRIBUTE x TYPE bigint CASCADE;",
            LockMode::AccessExclusive,
        );
        let tables = [facts(1, "points")];
        let f = check(&RuleInput {
            stmt: &stmt,
            tables: &tables,
            min_table_size: 0,
        });
        assert_eq!(f.len(), 1);
        assert!(f[0].hint.contains("ALTER TABLE public.points NOT OF;\n  ALTER TYPE point3 ALTER ATTRIBUTE x TYPE bigint;"), "{}", f[0].hint);
    }
}
