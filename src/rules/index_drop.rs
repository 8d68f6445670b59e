//! `index_drop`: DROP INDEX without CONCURRENTLY. It takes ACCESS EXCLUSIVE on the index's table:
//! quick once granted, but while it waits every query on the table queues behind it, and a query
//! still using the index keeps it waiting.

use crate::classify::{Finding, RuleInput};
use crate::ddl::{Ddl, DropKind, LockMode};
use crate::hazard::Hazard;
use crate::rules::{holds, override_text, Draft};

const H: Hazard = Hazard::IndexDrop;

pub fn check(input: &RuleInput) -> Vec<Finding> {
    let Ddl::Drop {
        kind: DropKind::Index,
        objects,
        tables,
        concurrent: false,
        constraints,
    } = &input.stmt.ddl
    else {
        return vec![];
    };
    let mut out = Vec::new();
    for (i, (index, table)) in objects.iter().zip(tables).enumerate() {
        // An index built in this transaction is invisible to others, like its table.
        if input.facts(index).is_some_and(|f| f.created_in_transaction) {
            continue;
        }
        let Some(t) = input.visible(table) else {
            continue;
        };
        // The table holds no data: the index serves no query's plan and dropping it deletes
        // next to nothing; the ACCESS EXCLUSIVE lock still gets the bounded, stall-free wait.
        if input.spared_as_empty(t) {
            continue;
        }
        let name = input
            .facts(index)
            .map(|f| f.qualified_name.clone())
            .unwrap_or_else(|| index.written.clone());
        let partitioned = t.is_partitioned();
        let table_name = &t.qualified_name;
        let hint = if let Some(Some(constraint)) = constraints.get(i) {
            format!(
                "{name} belongs to constraint {constraint} of {table_name}: Postgres refuses DROP INDEX for it, \
                 CONCURRENTLY too. Drop the constraint, which drops the index with it; it takes an ACCESS EXCLUSIVE \
                 lock on {table_name} (blocks all reads and writes), quick once granted, and a foreign key of \
                 another table that depends on it has to go first (or CASCADE, which takes that table's lock too):\n  \
                 ALTER TABLE {table_name} DROP CONSTRAINT {constraint};\n{}",
                override_text(H, true)
            )
        } else if partitioned {
            format!(
                "DROP INDEX CONCURRENTLY is not supported for an index on a partitioned table. Drop it in a quiet \
                 moment; the guard's lock_timeout keeps a blocked DROP from queueing the application.\n{}",
                override_text(H, true)
            )
        } else {
            format!(
                "Drop it without blocking, one index per statement, outside a transaction block:\n  \
                 DROP INDEX CONCURRENTLY IF EXISTS {name};\n{}",
                override_text(H, true)
            )
        };
        out.push(Draft { lock: LockMode::AccessExclusive, rewrites: false, scans: false }.finding(
            H,
            t,
            format!("DROP INDEX {name} locks table {} against all reads and writes", t.qualified_name),
            format!(
                "DROP INDEX {}: once granted it is quick, but while it waits for queries that use the table, every \
                 later query on the table queues behind it.",
                holds(LockMode::AccessExclusive, &t.qualified_name)
            ),
            hint,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::TableFacts;
    use crate::rules::test_support::*;

    #[test]
    fn ok_empty_table_err_one_page() {
        let stmt = locking(
            Ddl::Drop {
                kind: DropKind::Index,
                objects: vec![target(2, "i")],
                tables: vec![target(1, "t")],
                concurrent: false,
                constraints: vec![],
            },
            "DROP INDEX i",
            LockMode::AccessExclusive,
        );
        let run = |t| {
            check(&RuleInput {
                stmt: &stmt,
                tables: &[t, facts(2, "i")],
                min_table_size: 0,
            })
            .len()
        };
        assert_eq!(run(empty(1, "t")), 0);
        assert_eq!(run(one_page(1, "t")), 1);
        // Not measured (locked by someone else): guarded as before.
        assert_eq!(
            run(TableFacts {
                size_exact: false,
                ..empty(1, "t")
            }),
            1
        );
    }

    #[test]
    fn err_plain_drop_ok_concurrently_or_new() {
        let stmt = |concurrent| {
            statement(
                Ddl::Drop {
                    kind: DropKind::Index,
                    objects: vec![target(2, "i")],
                    tables: vec![target(1, "t")],
                    concurrent,
                    constraints: vec![],
                },
                "DROP INDEX i",
            )
        };
        let tables = [facts(1, "t"), facts(2, "i")];
        let found = check(&RuleInput {
            stmt: &stmt(false),
            tables: &tables,
            min_table_size: 0,
        });
        assert!(
            found[0]
                .hint
                .contains("DROP INDEX CONCURRENTLY IF EXISTS public.i;"),
            "{}",
            found[0].hint
        );
        assert!(check(&RuleInput {
            stmt: &stmt(true),
            tables: &tables,
            min_table_size: 0
        })
        .is_empty());
        let new_index = [
            facts(1, "t"),
            TableFacts {
                created_in_transaction: true,
                ..facts(2, "i")
            },
        ];
        assert!(check(&RuleInput {
            stmt: &stmt(false),
            tables: &new_index,
            min_table_size: 0
        })
        .is_empty());
    }

    #[test]
    fn err_constraint_index_recipe_is_drop_constraint() {
        let stmt = statement(
            Ddl::Drop {
                kind: DropKind::Index,
                objects: vec![target(2, "i"), target(3, "t_pkey")],
                tables: vec![target(1, "t"), target(1, "t")],
                concurrent: false,
                constraints: vec![None, Some("t_pkey".into())],
            },
            "DROP INDEX i, t_pkey",
        );
        let tables = [facts(1, "t"), facts(2, "i"), facts(3, "t_pkey")];
        let found = crate::classify::classify(&RuleInput {
            stmt: &stmt,
            tables: &tables,
            min_table_size: 0,
        });
        assert_eq!(found.len(), 2);
        assert!(found[0]
            .hint
            .contains("DROP INDEX CONCURRENTLY IF EXISTS public.i;"));
        assert!(
            found[1]
                .hint
                .contains("  ALTER TABLE public.t DROP CONSTRAINT t_pkey;\n"),
            "{}",
            found[1].hint
        );
        assert!(!found[1].hint.contains("CONCURRENTLY IF EXISTS"));
        // The override line carries the statement itself, no placeholder.
        assert!(found[1]
            .hint
            .contains("SET LOCAL safe_ddl.allow = 'index_drop'; DROP INDEX i, t_pkey; COMMIT;"));
        assert!(!found.iter().any(|f| f.hint.contains('<')));
    }
}
