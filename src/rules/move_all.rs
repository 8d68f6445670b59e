//! `table_rewrite` for ALTER TABLE|INDEX|MATERIALIZED VIEW ALL IN TABLESPACE ... SET TABLESPACE:
//! every relation it moves is copied block by block under ACCESS EXCLUSIVE, and all of them stay
//! locked until the transaction ends.

use crate::classify::{Finding, RuleInput};
use crate::ddl::{Ddl, LockMode};
use crate::hazard::Hazard;
use crate::rules::{holds, override_text, Draft};

const H: Hazard = Hazard::TableRewrite;

pub fn check(input: &RuleInput) -> Vec<Finding> {
    let Ddl::MoveAll { tables, to } = &input.stmt.ddl else {
        return vec![];
    };
    let count = tables.len();
    tables
        .iter()
        .filter_map(|t| input.guarded(t))
        .map(|t| {
            let name = &t.qualified_name;
            let kind = match t.relkind {
                b'i' => "INDEX",
                b'm' => "MATERIALIZED VIEW",
                _ => "TABLE",
            };
            let one = format!(
                "BEGIN; SET LOCAL safe_ddl.allow = 'table_rewrite'; ALTER {kind} {name} SET TABLESPACE {to}; COMMIT;"
            );
            Draft {
                lock: LockMode::AccessExclusive,
                rewrites: true,
                scans: true,
            }
            .finding(
                H,
                t,
                format!("ALL IN TABLESPACE ... SET TABLESPACE copies every file of {name}"),
                format!(
                    "It {} while it copies every block of its files into tablespace {to}; it is {}. The statement \
                     moves {count} relation(s) in one transaction, and each stays locked until it ends.",
                    holds(LockMode::AccessExclusive, name),
                    t.size_text()
                ),
                format!(
                    "PostgreSQL has no online form. Move a table online with pg_repack (--tablespace), or move one \
                     relation per transaction, each when it can be locked for its copy:\n  {one}\n\
                     New relations can be created in the target tablespace directly (default_tablespace).\n{}",
                    override_text(H, true)
                ),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::TableFacts;
    use crate::rules::test_support::*;

    #[test]
    fn err_each_big_relation_moved() {
        let stmt = locking(
            Ddl::MoveAll {
                tables: vec![
                    target(1, "orders"),
                    target(2, "orders_pkey"),
                    target(3, "tiny"),
                ],
                to: "fast".into(),
            },
            "ALTER TABLE ALL IN TABLESPACE slow SET TABLESPACE fast",
            LockMode::AccessExclusive,
        );
        let tables = [
            facts(1, "orders"),
            TableFacts {
                relkind: b'i',
                ..facts(2, "orders_pkey")
            },
            one_page(3, "tiny"),
        ];
        let f = check(&RuleInput {
            stmt: &stmt,
            tables: &tables,
            min_table_size: 1 << 20,
        });
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(f[0]
            .hint
            .contains("ALTER TABLE public.orders SET TABLESPACE fast;"));
        assert!(f[1]
            .hint
            .contains("ALTER INDEX public.orders_pkey SET TABLESPACE fast;"));
        assert!(f[0].detail.contains("moves 3 relation(s)"));
    }
}
