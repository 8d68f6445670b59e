//! `constraint_validation`: ADD CONSTRAINT ... CHECK / FOREIGN KEY without NOT VALID (or an inline
//! CHECK / REFERENCES in ADD COLUMN) on an existing table validates every row while holding the
//! ALTER TABLE's lock; a foreign key also locks the referenced table SHARE ROW EXCLUSIVE.

use crate::classify::{Finding, RuleInput};
use crate::ddl::{AlterCmd, ConstraintKind, Ddl, LockMode, NewConstraint, Target};
use crate::facts::TableFacts;
use crate::hazard::Hazard;
use crate::rules::{holds, made_name, override_text, Draft};

const H: Hazard = Hazard::ConstraintValidation;

pub fn check(input: &RuleInput) -> Vec<Finding> {
    let Ddl::AlterTable { table, cmds } = &input.stmt.ddl else {
        return vec![];
    };
    let mut out = rebuilt_foreign_keys(input, table, cmds);
    out.extend(validated_under_held_lock(input, table, cmds));
    let Some(t) = input.guarded(table) else {
        return out;
    };
    out.extend(cmds.iter().filter_map(|cmd| match cmd {
        AlterCmd::EnforceForeignKey { name, definition } => Some(enforced(t, name, definition)),
        _ => None,
    }));
    for cmd in cmds {
        // ADD COLUMN that rewrites the table: table_rewrite's recipe adds its inline
        // constraints too (validated while the rewrite holds its lock anyway).
        if matches!(
            cmd,
            AlterCmd::AddColumn {
                rewrite: Some(_),
                ..
            }
        ) {
            continue;
        }
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

/// ALTER COLUMN TYPE that rewrites a table exempt from table_rewrite (it holds no data, or is
/// smaller than min_table_size): Postgres rebuilds the foreign keys of other tables on the column,
/// under ACCESS EXCLUSIVE on each referencing table, and validates them again when the comparison
/// operator changes (integer to bigint), reading the whole referencing table, which can hold data
/// (rows whose key is NULL). When the altered table itself is refused (table_rewrite), that finding
/// already stops the statement.
fn rebuilt_foreign_keys(input: &RuleInput, table: &Target, cmds: &[AlterCmd]) -> Vec<Finding> {
    let Some(altered) = input.facts(table) else {
        return vec![];
    };
    if input.guarded(table).is_some() {
        return vec![];
    }
    let mut out = Vec::new();
    for cmd in cmds {
        let AlterCmd::AlterType {
            column,
            rewrite: Some(_),
            referenced_by,
            ..
        } = cmd
        else {
            continue;
        };
        for fk in referenced_by {
            let Some(r) = input.guarded(&fk.table) else {
                continue;
            };
            let rname = &r.qualified_name;
            let lock = LockMode::AccessExclusive;
            out.push(Draft { lock, rewrites: false, scans: true }.finding(
                H,
                r,
                format!(
                    "ALTER COLUMN {column} TYPE of table {} validates foreign key {} of table {rname} again",
                    altered.qualified_name, fk.name
                ),
                format!(
                    "Postgres rebuilds the foreign key of {rname} on the changed column: it {} while it checks \
                     every row of {rname} against the new type. The table is {}.",
                    holds(lock, rname),
                    r.size_text()
                ),
                format!(
                    "Drop the foreign key and add it back NOT VALID in the same transaction (instant), then validate \
                     it in its own transaction, which takes only a SHARE UPDATE EXCLUSIVE lock (no reads or writes \
                     blocked):\n  \
                     BEGIN;\n  \
                     ALTER TABLE {rname} DROP CONSTRAINT {name};\n  \
                     {stmt};\n  \
                     ALTER TABLE {rname} ADD CONSTRAINT {name} {def} NOT VALID;\n  \
                     COMMIT;\n  \
                     ALTER TABLE {rname} VALIDATE CONSTRAINT {name};\n{}",
                    override_text(H, true),
                    name = fk.name,
                    def = fk.definition,
                    stmt = crate::sqltext::one_line(&input.stmt.text),
                ),
            ));
        }
    }
    out
}

/// VALIDATE CONSTRAINT takes only SHARE UPDATE EXCLUSIVE and is harmless alone; but when this
/// transaction already holds a lock on the table that blocks reads or writes (an earlier ADD
/// CONSTRAINT ... NOT VALID, ALTER TABLE or LOCK TABLE in the same transaction), the validation
/// scan runs while that lock is held, until COMMIT. Exempt like any scan: created in this
/// transaction, temporary, holding no data (nobody can add rows under the held lock), or smaller
/// than min_table_size.
fn validated_under_held_lock(input: &RuleInput, table: &Target, cmds: &[AlterCmd]) -> Vec<Finding> {
    let Some(t) = input.facts(table) else {
        return vec![];
    };
    let Some(held) = t.held_lock.filter(|l| l.blocks_reads_or_writes()) else {
        return vec![];
    };
    if t.exemption_with(input.min_table_size, true).is_some() {
        return vec![];
    }
    let name = &t.qualified_name;
    cmds.iter()
        .filter_map(|cmd| match cmd {
            AlterCmd::ValidateConstraint {
                name: cname,
                kind: kind @ (ConstraintKind::Check | ConstraintKind::ForeignKey | ConstraintKind::NotNull),
            } => Some((cname, *kind)),
            _ => None,
        })
        .map(|(cname, kind)| {
            let what = match kind {
                ConstraintKind::ForeignKey => "foreign key",
                ConstraintKind::NotNull => "NOT NULL constraint",
                _ => "check constraint",
            };
            Draft { lock: held, rewrites: false, scans: true }.finding(
                H,
                t,
                format!(
                    "VALIDATE CONSTRAINT {cname} on table {name} scans it while this transaction holds a stronger lock on it"
                ),
                format!(
                    "Validating the {what} reads every row of {name}. Alone it takes only a SHARE UPDATE EXCLUSIVE \
                     lock, but this transaction already {} (taken by an earlier statement, e.g. ADD CONSTRAINT ... \
                     NOT VALID), kept until COMMIT. The table is {}.",
                    holds(held, name),
                    t.size_text()
                ),
                format!(
                    "Split the migration: validate in a transaction of its own (SHARE UPDATE EXCLUSIVE: no reads or \
                     writes blocked), after the transaction that took the lock has committed:\n  \
                     ALTER TABLE {name} VALIDATE CONSTRAINT {cname};\n\
                     (COMMIT the statements before this one first; run the VALIDATE as its own transaction.)\n{}",
                    override_text(H, true)
                ),
            )
        })
        .collect()
}

/// ALTER CONSTRAINT ... ENFORCED of a NOT ENFORCED foreign key (18): validated under the ALTER
/// TABLE's ACCESS EXCLUSIVE lock. The online way is the two-step foreign key.
fn enforced(t: &TableFacts, cname: &str, definition: &str) -> Finding {
    let name = &t.qualified_name;
    let lock = LockMode::AccessExclusive;
    Draft { lock, rewrites: false, scans: true }.finding(
        H,
        t,
        format!("ALTER CONSTRAINT {cname} ENFORCED validates foreign key {cname} of table {name}"),
        format!(
            "Making a NOT ENFORCED foreign key enforced checks every row of {name} against the referenced table; \
             it {} meanwhile, and the referenced table is locked SHARE ROW EXCLUSIVE (blocks its writes). The \
             table is {}.",
            holds(lock, name),
            t.size_text()
        ),
        format!(
            "Replace it with a NOT VALID foreign key in one short transaction (it checks new rows at once), then \
             validate it in its own transaction, which takes only a SHARE UPDATE EXCLUSIVE lock (no reads or \
             writes blocked):\n  \
             BEGIN;\n  \
             ALTER TABLE {name} DROP CONSTRAINT {cname};\n  \
             ALTER TABLE {name} ADD CONSTRAINT {cname} {definition} NOT VALID;\n  \
             COMMIT;\n  \
             ALTER TABLE {name} VALIDATE CONSTRAINT {cname};\n{}",
            override_text(H, true)
        ),
    )
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
            without_overlaps: false,
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
    fn enforcing_a_not_enforced_foreign_key_is_refused_with_the_two_step_recipe() {
        let stmt = locking(
            Ddl::AlterTable {
                table: target(1, "orders"),
                cmds: vec![AlterCmd::EnforceForeignKey {
                    name: "orders_fk".into(),
                    definition: "FOREIGN KEY (customer_id) REFERENCES customers(id)".into(),
                }],
            },
            "ALTER TABLE orders ALTER CONSTRAINT orders_fk ENFORCED",
            LockMode::AccessExclusive,
        );
        let run = |t: TableFacts| {
            check(&RuleInput {
                stmt: &stmt,
                tables: &[t],
                min_table_size: 0,
            })
        };
        assert!(run(empty(1, "orders")).is_empty());
        let found = run(one_page(1, "orders"));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].lock, Some(LockMode::AccessExclusive));
        assert!(found[0].scans);
        let hint = &found[0].hint;
        assert!(hint.contains("DROP CONSTRAINT orders_fk;"), "{hint}");
        assert!(
            hint.contains("ADD CONSTRAINT orders_fk FOREIGN KEY (customer_id) REFERENCES customers(id) NOT VALID;"),
            "{hint}"
        );
        assert!(hint.contains("VALIDATE CONSTRAINT orders_fk;"), "{hint}");
    }

    #[test]
    fn validate_is_refused_only_under_a_held_lock_that_blocks_reads_or_writes() {
        let stmt = locking(
            Ddl::AlterTable {
                table: target(1, "orders"),
                cmds: vec![AlterCmd::ValidateConstraint {
                    name: "orders_check".into(),
                    kind: ConstraintKind::Check,
                }],
            },
            "ALTER TABLE orders VALIDATE CONSTRAINT orders_check",
            LockMode::ShareUpdateExclusive,
        );
        let run = |t: TableFacts| {
            check(&RuleInput {
                stmt: &stmt,
                tables: &[t],
                min_table_size: 0,
            })
        };
        // Alone: harmless.
        assert!(run(facts(1, "orders")).is_empty());
        // ROW EXCLUSIVE (an earlier INSERT) blocks nobody's reads or writes.
        let held = |l| TableFacts {
            held_lock: Some(l),
            ..facts(1, "orders")
        };
        assert!(run(held(LockMode::RowExclusive)).is_empty());
        let found = run(held(LockMode::AccessExclusive));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].lock, Some(LockMode::AccessExclusive));
        assert!(found[0].scans);
        assert!(found[0].hint.contains("VALIDATE CONSTRAINT orders_check;"));
        assert_eq!(run(held(LockMode::ShareRowExclusive)).len(), 1);
        // Exempt: created in this transaction, or holding no data (nobody can add rows under
        // the held lock).
        assert!(run(TableFacts {
            created_in_transaction: true,
            ..held(LockMode::AccessExclusive)
        })
        .is_empty());
        assert!(run(TableFacts {
            size_bytes: 0,
            ..held(LockMode::Share)
        })
        .is_empty());
        // A constraint with nothing to validate.
        let stmt = locking(
            Ddl::AlterTable {
                table: target(1, "orders"),
                cmds: vec![AlterCmd::ValidateConstraint {
                    name: "orders_check".into(),
                    kind: ConstraintKind::Other,
                }],
            },
            "",
            LockMode::ShareUpdateExclusive,
        );
        assert!(check(&RuleInput {
            stmt: &stmt,
            tables: &[held(LockMode::AccessExclusive)],
            min_table_size: 0,
        })
        .is_empty());
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

    #[test]
    fn an_empty_referenced_table_does_not_hide_the_referencing_tables_validation() {
        use crate::classify::{classify, relies_on_empty};
        use crate::ddl::{ReferencingFk, Rewrite};
        let stmt = locking(
            Ddl::AlterTable {
                table: target(1, "customers"),
                cmds: vec![AlterCmd::AlterType {
                    column: "id".into(),
                    new_type: "bigint".into(),
                    rewrite: Some(Rewrite::ColumnType("integer to bigint".into())),
                    referenced_by: vec![ReferencingFk {
                        table: target(2, "orders"),
                        name: "orders_customer_id_fkey".into(),
                        definition: "FOREIGN KEY (customer_id) REFERENCES customers(id)".into(),
                    }],
                }],
            },
            "ALTER TABLE customers ALTER COLUMN id TYPE bigint",
            LockMode::AccessExclusive,
        );
        let run = |tables: &[TableFacts]| {
            let input = RuleInput {
                stmt: &stmt,
                tables,
                min_table_size: 0,
            };
            let found = classify(&input);
            let relied = relies_on_empty(&input, &found);
            (found, relied)
        };
        // The referencing table holds data: refused on it. With that allowed, the verdict still
        // rests on customers: with data it would be rewritten (table_rewrite takes the place of
        // this finding, one finding either way).
        let (found, relied) = run(&[empty(1, "customers"), one_page(2, "orders")]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].hazard, H);
        assert_eq!(found[0].subject, "public.orders");
        assert_eq!(found[0].lock, Some(LockMode::AccessExclusive));
        assert!(
            found[0].hint.contains(
                "ALTER TABLE public.orders ADD CONSTRAINT orders_customer_id_fkey FOREIGN KEY (customer_id) \
                 REFERENCES customers(id) NOT VALID;"
            ),
            "{}",
            found[0].hint
        );
        assert_eq!(relied, vec![1]);
        // Both hold no data (a fresh database): passes, resting on both.
        let (found, relied) = run(&[empty(1, "customers"), empty(2, "orders")]);
        assert!(found.is_empty(), "{found:?}");
        assert_eq!(relied, vec![1, 2]);
        // customers holds data: table_rewrite alone, as before.
        let (found, _) = run(&[one_page(1, "customers"), one_page(2, "orders")]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].hazard, Hazard::TableRewrite);
    }
}
