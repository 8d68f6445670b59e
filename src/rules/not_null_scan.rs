//! `not_null_scan`: ALTER COLUMN ... SET NOT NULL scans the whole table under ACCESS EXCLUSIVE,
//! unless a validated CHECK constraint already proves the column has no NULLs (Postgres then
//! skips the scan: NotNullImpliedByRelConstraints). From PostgreSQL 18, `ADD CONSTRAINT ... NOT
//! NULL col` is the same statement under another name, and the recipe is a NOT NULL constraint
//! added NOT VALID and validated later (pg_version::not_null_not_valid).

use crate::classify::{Finding, RuleInput};
use crate::ddl::{AlterCmd, Ddl, LockMode};
use crate::hazard::Hazard;
use crate::pg_version;
use crate::rules::{holds, made_name, override_text, Draft};

const H: Hazard = Hazard::NotNullScan;

pub fn check(input: &RuleInput) -> Vec<Finding> {
    let Ddl::AlterTable { table, cmds } = &input.stmt.ddl else {
        return vec![];
    };
    let mut out = inherit_not_null(input, cmds);
    let Some(t) = input.guarded(table) else {
        return out;
    };
    let name = &t.qualified_name;
    let own: Vec<Finding> = cmds.iter()
        .filter_map(|cmd| match cmd {
            AlterCmd::SetNotNull {
                column,
                proven: false,
                added_as,
                pending,
                primary_key,
            } => Some((column, added_as, pending, *primary_key)),
            _ => None,
        })
        .map(|(column, added_as, pending, primary_key)| {
            // The constraint name of the recipe: the one written in ADD CONSTRAINT, else the
            // name Postgres would give (and safe_ddl.set_not_null uses).
            let check = match added_as {
                Some(n) if !n.is_empty() => n.clone(),
                _ => made_name(name, &[column], "not_null"),
            };
            let statement = if primary_key {
                "ADD PRIMARY KEY"
            } else if added_as.is_some() {
                "ADD CONSTRAINT ... NOT NULL"
            } else {
                "SET NOT NULL"
            };
            Draft { lock: LockMode::AccessExclusive, rewrites: false, scans: true }.finding(
                H,
                t,
                format!("{statement} on {name}.{column} scans the whole table"),
                format!(
                    "{statement} {} while it reads every row to prove there is no NULL; the table is {}. \
                     No validated CHECK constraint proves {column} IS NOT NULL.",
                    holds(LockMode::AccessExclusive, name),
                    t.size_text()
                ),
                match (pending, primary_key) {
                    (Some(p), _) => validate_pending(name, column, p),
                    (None, false) => recipe(name, column, &check),
                    (None, true) => format!(
                        "Make {column} NOT NULL without the scan first, then add the key: it finds {column} NOT NULL \
                         and scans nothing.\n{}",
                        recipe(name, column, &check)
                    ),
                },
            )
        })
        .collect();
    out.extend(own);
    out
}

/// 18: ALTER CONSTRAINT ... INHERIT of a NO INHERIT not-null constraint: Postgres sets NOT NULL on
/// each direct child, scanning those not NOT NULL yet under ACCESS EXCLUSIVE.
fn inherit_not_null(input: &RuleInput, cmds: &[AlterCmd]) -> Vec<Finding> {
    let mut out = Vec::new();
    for cmd in cmds {
        let AlterCmd::InheritNotNull {
            constraint,
            column,
            children,
        } = cmd
        else {
            continue;
        };
        for c in children.iter().filter_map(|c| input.guarded(c)) {
            let name = &c.qualified_name;
            out.push(
                Draft { lock: LockMode::AccessExclusive, rewrites: false, scans: true }.finding(
                    H,
                    c,
                    format!("ALTER CONSTRAINT {constraint} INHERIT scans child table {name} for NULLs in {column}"),
                    format!(
                        "Making the not-null constraint inherited sets NOT NULL on {name}.{column}: it {} while it \
                         reads every row to prove there is no NULL; the table is {}.",
                        holds(LockMode::AccessExclusive, name),
                        c.size_text()
                    ),
                    format!(
                        "Make {column} NOT NULL on the child first, without the scan; ALTER CONSTRAINT ... INHERIT \
                         then finds it NOT NULL and scans nothing.\n{}",
                        recipe(name, column, &made_name(name, &[column], "not_null"))
                    ),
                ),
            );
        }
    }
    out
}

/// 18: a NOT VALID NOT NULL constraint is already on the column (a second cannot be added):
/// validating it is all that is left.
fn validate_pending(name: &str, column: &str, pending: &str) -> String {
    format!(
        "{column} already has the NOT NULL constraint {pending}, NOT VALID (new and updated rows are checked). \
         Validate it in its own transaction; it scans, but blocks no reads or writes:\n  \
         ALTER TABLE {name} VALIDATE CONSTRAINT {pending};\n{}",
        override_text(H, true)
    )
}

/// The safe way to the same NOT NULL, each step in its own transaction.
fn recipe(name: &str, column: &str, check: &str) -> String {
    if pg_version::not_null_not_valid() {
        format!(
            "Add the NOT NULL constraint NOT VALID, then validate it; each step is its own transaction:\n  \
             ALTER TABLE {name} ADD CONSTRAINT {check} NOT NULL {column} NOT VALID;  -- instant: new rows are checked\n  \
             ALTER TABLE {name} VALIDATE CONSTRAINT {check};  -- scans, but blocks no reads or writes\n{}",
            override_text(H, true)
        )
    } else {
        format!(
            "Prove it with a CHECK constraint first; each step is its own transaction:\n  \
             ALTER TABLE {name} ADD CONSTRAINT {check} CHECK ({column} IS NOT NULL) NOT VALID;  -- instant\n  \
             ALTER TABLE {name} VALIDATE CONSTRAINT {check};  -- scans, but blocks no reads or writes\n  \
             ALTER TABLE {name} ALTER COLUMN {column} SET NOT NULL;  -- instant: the constraint proves it\n  \
             ALTER TABLE {name} DROP CONSTRAINT {check};\n{}",
            override_text(H, true)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::*;

    #[test]
    fn a_pending_not_null_constraint_is_validated_not_added_again() {
        let stmt = statement(
            Ddl::AlterTable {
                table: target(1, "t"),
                cmds: vec![AlterCmd::SetNotNull {
                    column: "email".into(),
                    proven: false,
                    added_as: Some("t_email_nn".into()),
                    pending: Some("t_email_old".into()),
                    primary_key: false,
                }],
            },
            "ALTER TABLE t ADD CONSTRAINT t_email_nn NOT NULL email",
        );
        let found = check(&RuleInput {
            stmt: &stmt,
            tables: &[facts(1, "t")],
            min_table_size: 0,
        });
        assert_eq!(found.len(), 1);
        let hint = &found[0].hint;
        assert!(hint.contains("VALIDATE CONSTRAINT t_email_old;"), "{hint}");
        assert!(!hint.contains("ADD CONSTRAINT"), "{hint}");
        assert!(
            found[0]
                .message
                .contains("ADD CONSTRAINT ... NOT NULL on public.t.email"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn ok_empty_table_err_one_page() {
        let stmt = locking(
            Ddl::AlterTable {
                table: target(1, "t"),
                cmds: vec![AlterCmd::SetNotNull {
                    column: "email".into(),
                    proven: false,
                    added_as: None,
                    pending: None,
                    primary_key: false,
                }],
            },
            "ALTER TABLE t ALTER COLUMN email SET NOT NULL",
            LockMode::AccessExclusive,
        );
        let run = |t| {
            check(&RuleInput {
                stmt: &stmt,
                tables: &[t],
                min_table_size: 0,
            })
            .len()
        };
        assert_eq!(run(empty(1, "t")), 0);
        assert_eq!(run(one_page(1, "t")), 1);
    }

    #[test]
    fn err_unproven_ok_proven() {
        let stmt = |proven| {
            statement(
                Ddl::AlterTable {
                    table: target(1, "t"),
                    cmds: vec![AlterCmd::SetNotNull {
                        column: "email".into(),
                        proven,
                        added_as: None,
                        pending: None,
                        primary_key: false,
                    }],
                },
                "ALTER TABLE t ALTER COLUMN email SET NOT NULL",
            )
        };
        let tables = [facts(1, "t")];
        let found = check(&RuleInput {
            stmt: &stmt(false),
            tables: &tables,
            min_table_size: 0,
        });
        // The recipe of the major this is built for (pg_version::not_null_not_valid).
        let first_step = if crate::pg_version::not_null_not_valid() {
            "ADD CONSTRAINT t_email_not_null NOT NULL email NOT VALID;"
        } else {
            "ADD CONSTRAINT t_email_not_null CHECK (email IS NOT NULL) NOT VALID;"
        };
        assert!(found[0].hint.contains(first_step), "{}", found[0].hint);
        assert_eq!(
            found[0].hint.contains("SET NOT NULL;"),
            !crate::pg_version::not_null_not_valid(),
            "{}",
            found[0].hint
        );
        assert!(found[0]
            .hint
            .contains("VALIDATE CONSTRAINT t_email_not_null;"));
        assert!(check(&RuleInput {
            stmt: &stmt(true),
            tables: &tables,
            min_table_size: 0
        })
        .is_empty());
    }
}
