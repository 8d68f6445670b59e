//! `constraint_validation`: ADD CONSTRAINT ... CHECK / FOREIGN KEY without NOT VALID (or an inline
//! CHECK / REFERENCES in ADD COLUMN) on an existing table validates every row while holding the
//! ALTER TABLE's lock; a foreign key also locks the referenced table SHARE ROW EXCLUSIVE.

use crate::classify::{Finding, RuleInput};
use crate::ddl::{ConstraintKind, Ddl, LockMode, NewConstraint};
use crate::facts::TableFacts;
use crate::hazard::Hazard;
use crate::rules::{holds, made_name, override_text, Draft};

const H: Hazard = Hazard::ConstraintValidation;

pub fn check(input: &RuleInput) -> Vec<Finding> {
    let Ddl::AlterTable { table, cmds } = &input.stmt.ddl else {
        return vec![];
    };
    let Some(t) = input.guarded(table) else {
        return vec![];
    };
    let mut out = Vec::new();
    for cmd in cmds {
        let (constraints, new_column) = cmd.added_constraints();
        for c in constraints {
            if !matches!(c.kind, ConstraintKind::Check | ConstraintKind::ForeignKey) || c.not_valid
            {
                continue;
            }
            let referenced = c.referenced.as_ref().and_then(|r| input.facts(r));
            out.push(finding(t, c, new_column, referenced));
        }
    }
    out
}

fn finding(
    t: &TableFacts,
    c: &NewConstraint,
    new_column: Option<(&String, &String)>,
    referenced: Option<&TableFacts>,
) -> Finding {
    let name = &t.qualified_name;
    let fk = c.kind == ConstraintKind::ForeignKey;
    let columns: Vec<String> = match new_column.map(|(c, _)| c) {
        Some(col) if c.columns.is_empty() => vec![col.clone()],
        _ => c.columns.clone(),
    };
    let col_refs: Vec<&str> = columns.iter().map(|s| s.as_str()).collect();
    let cname = c.name.clone().unwrap_or_else(|| {
        if fk {
            made_name(name, &col_refs, "fkey")
        } else {
            made_name(name, &col_refs, "check")
        }
    });
    let ref_name = referenced
        .map(|r| r.qualified_name.clone())
        .or_else(|| c.referenced.as_ref().map(|r| r.written.clone()));
    let body = if fk {
        let refcols = if c.ref_columns.is_empty() {
            String::new()
        } else {
            format!(" ({})", c.ref_columns.join(", "))
        };
        format!(
            "FOREIGN KEY ({}) REFERENCES {}{refcols}",
            columns.join(", "),
            ref_name.clone().unwrap_or_default()
        )
    } else {
        format!(
            "CHECK ({})",
            c.expr_text.clone().unwrap_or_else(|| "<expression>".into())
        )
    };
    let first = match new_column {
        Some((col, ty)) => {
            format!("ALTER TABLE {name} ADD COLUMN {col} {ty};  -- without the constraint\n  ")
        }
        None => String::new(),
    };
    // ADD FOREIGN KEY takes SHARE ROW EXCLUSIVE; ADD CHECK and anything with ADD COLUMN take
    // ACCESS EXCLUSIVE (AlterTableGetLockLevel).
    let lock = if fk && new_column.is_none() {
        LockMode::ShareRowExclusive
    } else {
        LockMode::AccessExclusive
    };
    let partitioned_fk = if fk && t.is_partitioned() {
        "\nOn a partitioned table NOT VALID foreign keys are not supported: add the constraint NOT VALID to each \
         partition and VALIDATE it there, then add it to the partitioned table, which reuses the partitions' \
         validated constraints."
    } else {
        ""
    };
    let also = match (fk, &ref_name) {
        (true, Some(r)) => format!(
            " and a SHARE ROW EXCLUSIVE lock on the referenced table {r} (blocks its writes)"
        ),
        _ => String::new(),
    };
    Draft { lock, rewrites: false, scans: true }.finding(
        H,
        t,
        format!(
            "ADD {} on table {name} validates every row while holding its lock",
            if fk { "FOREIGN KEY" } else { "CHECK" }
        ),
        format!(
            "Validation reads the whole table; meanwhile ALTER TABLE {}{also}. The table is {}.",
            holds(lock, name),
            t.size_text()
        ),
        format!(
            "Add it NOT VALID (instant; enforced for new rows at once), then validate it in its own transaction, \
             which takes only a SHARE UPDATE EXCLUSIVE lock (no reads or writes blocked):\n  \
             {first}ALTER TABLE {name} ADD CONSTRAINT {cname} {body} NOT VALID;\n  \
                          ALTER TABLE {name} VALIDATE CONSTRAINT {cname};{partitioned_fk}\n{}",
            override_text(H, true)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ddl::AlterCmd;
    use crate::rules::test_support::*;

    fn constraint(kind: ConstraintKind, not_valid: bool) -> NewConstraint {
        NewConstraint {
            kind,
            name: None,
            not_valid,
            using_index: false,
            columns: if kind == ConstraintKind::ForeignKey {
                vec!["customer_id".into()]
            } else {
                vec![]
            },
            referenced: (kind == ConstraintKind::ForeignKey).then(|| target(2, "customers")),
            ref_columns: vec!["id".into()],
            expr_text: Some("amount > 0".into()),
        }
    }

    fn run(c: NewConstraint) -> Vec<Finding> {
        let stmt = statement(
            Ddl::AlterTable {
                table: target(1, "orders"),
                cmds: vec![AlterCmd::AddConstraint(c)],
            },
            "",
        );
        let tables = [facts(1, "orders"), facts(2, "customers")];
        check(&RuleInput {
            stmt: &stmt,
            tables: &tables,
            min_table_size: 0,
        })
    }

    #[test]
    fn ok_empty_referencing_table_err_one_page() {
        for kind in [ConstraintKind::Check, ConstraintKind::ForeignKey] {
            let stmt = locking(
                Ddl::AlterTable {
                    table: target(1, "orders"),
                    cmds: vec![AlterCmd::AddConstraint(constraint(kind, false))],
                },
                "",
                LockMode::ShareRowExclusive,
            );
            let run = |orders, customers| {
                check(&RuleInput {
                    stmt: &stmt,
                    tables: &[orders, customers],
                    min_table_size: 0,
                })
                .len()
            };
            // The scanned table is the one that decides; the referenced table's size does not.
            assert_eq!(run(empty(1, "orders"), facts(2, "customers")), 0);
            assert_eq!(run(one_page(1, "orders"), empty(2, "customers")), 1);
        }
    }

    #[test]
    fn err_foreign_key_and_check_ok_not_valid() {
        let found = run(constraint(ConstraintKind::ForeignKey, false));
        assert!(
            found[0].detail.contains("public.customers"),
            "{}",
            found[0].detail
        );
        assert!(
            found[0].hint.contains(
                "ADD CONSTRAINT orders_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES public.customers (id) NOT VALID;"
            ),
            "{}",
            found[0].hint
        );
        assert!(found[0]
            .hint
            .contains("VALIDATE CONSTRAINT orders_customer_id_fkey;"));
        let found = run(constraint(ConstraintKind::Check, false));
        assert!(
            found[0].hint.contains("CHECK (amount > 0) NOT VALID;"),
            "{}",
            found[0].hint
        );
        assert!(run(constraint(ConstraintKind::Check, true)).is_empty());
        assert!(run(constraint(ConstraintKind::ForeignKey, true)).is_empty());
    }
}
