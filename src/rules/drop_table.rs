//! `drop_table`: DROP TABLE of a table other sessions can see needs an explicit allow.

use crate::classify::{Finding, RuleInput};
use crate::ddl::{Ddl, DropKind, LockMode};
use crate::hazard::Hazard;
use crate::rules::{mark_in_use, never_used, Draft};

const H: Hazard = Hazard::DropTable;

pub fn check(input: &RuleInput) -> Vec<Finding> {
    let Ddl::Drop {
        kind: DropKind::Table,
        objects,
        ..
    } = &input.stmt.ddl
    else {
        return vec![];
    };
    objects
        .iter()
        .filter_map(|o| input.visible(o))
        .filter(|t| !never_used(t, None))
        .map(|t| {
            let name = &t.qualified_name;
            let f = Draft { lock: LockMode::AccessExclusive, rewrites: false, scans: false }.finding(
                H,
                t,
                format!("DROP TABLE {name} needs an explicit allow"),
                format!(
                    "Every query that still uses {name} fails from the commit on, and its {} of data are gone.",
                    t.size_text()
                ),
                format!(
                    "First make sure nothing reads or writes it any more (pg_stat_user_tables.seq_scan, idx_scan \
                     and n_tup_ins/upd/del stop growing; if in doubt, REVOKE the application's privileges on it for a while and \
                     watch for errors), then:\n  \
                     BEGIN; SET LOCAL safe_ddl.allow = 'drop_table'; DROP TABLE {name}; COMMIT;\nSee {}",
                    H.doc_page()
                ),
            );
            mark_in_use(f, t, None)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ddl::Target;
    use crate::facts::TableFacts;
    use crate::rules::test_support::*;

    #[test]
    fn err_existing_ok_new_temporary_missing() {
        let stmt = statement(
            Ddl::Drop {
                kind: DropKind::Table,
                objects: vec![
                    target(1, "a"),
                    target(2, "b"),
                    target(3, "c"),
                    Target {
                        oid: None,
                        written: "gone".into(),
                    },
                ],
                tables: vec![],
                concurrent: false,
                constraints: vec![],
            },
            "DROP TABLE a, b, c, gone",
        );
        let tables = [
            facts(1, "a"),
            TableFacts {
                created_in_transaction: true,
                ..facts(2, "b")
            },
            TableFacts {
                temporary: true,
                ..facts(3, "c")
            },
        ];
        let found = check(&RuleInput {
            stmt: &stmt,
            tables: &tables,
            min_table_size: 0,
        });
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].subject, "public.a");
    }
}
