//! `partition_scan`: ALTER TABLE ... ATTACH PARTITION scans the new partition to check its rows
//! fit the bound (and a default partition to check none of its rows belong to the new one),
//! unless validated CHECK constraints already prove it.

use crate::classify::{Finding, RuleInput};
use crate::ddl::{AlterCmd, Ddl, LockMode};
use crate::hazard::Hazard;
use crate::rules::{holds, made_name, override_text, Draft};

const H: Hazard = Hazard::PartitionScan;

pub fn check(input: &RuleInput) -> Vec<Finding> {
    if let Ddl::CreatePartition {
        parent,
        default_partition: Some(d),
    } = &input.stmt.ddl
    {
        return default_scan(input, parent, d).into_iter().collect();
    }
    let Ddl::AlterTable { table, cmds } = &input.stmt.ddl else {
        return vec![];
    };
    let Some(parent) = input.visible(table) else {
        return vec![];
    };
    let mut out = Vec::new();
    for cmd in cmds {
        let AlterCmd::AttachPartition {
            partition,
            scan,
            default_partition,
            bound_check,
        } = cmd
        else {
            continue;
        };
        let stmt = crate::rules::stmt(&input.stmt.text);
        // The scanned table decides: exempt when it is new, temporary, empty or small.
        if let (Some(why), Some(p)) = (scan, input.guarded(partition)) {
            let name = &p.qualified_name;
            let check = made_name(name, &[], "partition_bound");
            out.push(Draft { lock: LockMode::AccessExclusive, rewrites: false, scans: true }.finding(
                H,
                p,
                format!("ATTACH PARTITION {name} scans it to check the partition bound"),
                format!(
                    "ATTACH PARTITION {why}; meanwhile it {} and a SHARE UPDATE EXCLUSIVE lock on {}. The table is {}.",
                    holds(LockMode::AccessExclusive, name),
                    parent.qualified_name,
                    p.size_text()
                ),
                match bound_check {
                    Some(expr) => format!(
                        "Prove the bound with a CHECK constraint first, so ATTACH skips the scan:\n  \
                         ALTER TABLE {name} ADD CONSTRAINT {check} CHECK ({expr}) NOT VALID;\n  \
                         ALTER TABLE {name} VALIDATE CONSTRAINT {check};  -- scans without blocking reads or writes\n  \
                         {stmt};  -- now instant\n  \
                         ALTER TABLE {name} DROP CONSTRAINT {check};\n{}",
                        override_text(H, true),
                    ),
                    None => format!(
                        "Prove the bound with a validated CHECK constraint on {name} that implies it (added NOT VALID, \
                         then VALIDATE CONSTRAINT, which blocks no reads or writes), so ATTACH skips the scan; drop the \
                         CHECK after the ATTACH.\n{}",
                        override_text(H, true),
                    ),
                },
            ));
        }
        // A default partition that holds no data is scanned in no time (guarded() exempts it).
        if let Some(d) = default_partition.as_ref().and_then(|d| input.guarded(d)) {
            let name = &d.qualified_name;
            out.push(Draft { lock: LockMode::AccessExclusive, rewrites: false, scans: true }.finding(
                H,
                d,
                format!("ATTACH PARTITION scans the default partition {name}"),
                format!(
                    "Postgres reads every row of the default partition {name} to check that none belongs to the new \
                     partition, holding an ACCESS EXCLUSIVE lock on it (blocks all reads and writes); it is {}.",
                    d.size_text()
                ),
                format!(
                    "Keep the default partition small or empty, or give it a validated CHECK constraint that excludes \
                     the new partition's range (NOT VALID, then VALIDATE CONSTRAINT), so the scan is skipped; then:\n  \
                     {stmt};\n{}",
                    override_text(H, true)
                ),
            ));
        }
    }
    out
}

/// CREATE TABLE ... PARTITION OF scans a non-empty default partition.
fn default_scan(
    input: &RuleInput,
    parent: &crate::ddl::Target,
    default: &crate::ddl::Target,
) -> Option<Finding> {
    let d = input.guarded(default)?;
    let parent = input
        .facts(parent)
        .map(|f| f.qualified_name.clone())
        .unwrap_or_else(|| parent.written.clone());
    let name = &d.qualified_name;
    Some(Draft { lock: LockMode::AccessExclusive, rewrites: false, scans: true }.finding(
        H,
        d,
        format!("CREATE TABLE ... PARTITION OF {parent} scans the default partition {name}"),
        format!(
            "Postgres reads every row of the default partition {name} to check that none belongs to the new partition, \
             while it holds an ACCESS EXCLUSIVE lock on {parent} (blocks all reads and writes on every partition); \
             the default partition is {}.",
            d.size_text()
        ),
        format!(
            "Create the table on its own and attach it (ATTACH PARTITION takes only SHARE UPDATE EXCLUSIVE on the \
             parent), after giving the default partition a validated CHECK constraint that excludes the new range \
             (NOT VALID, then VALIDATE CONSTRAINT), so no scan is needed: \
             the new table as CREATE TABLE ... (LIKE {parent} INCLUDING ALL), then ALTER TABLE {parent} ATTACH \
             PARTITION ... with the same FOR VALUES.\n{}",
            override_text(H, true)
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::*;

    #[test]
    fn ok_empty_partition_or_default_err_one_page() {
        let stmt = locking(
            Ddl::AlterTable {
                table: target(1, "events"),
                cmds: vec![AlterCmd::AttachPartition {
                    partition: target(2, "events_2027"),
                    scan: Some("reads every row of public.events_2027".into()),
                    default_partition: Some(target(3, "events_default")),
                    bound_check: None,
                }],
            },
            "ALTER TABLE events ATTACH PARTITION events_2027 FOR VALUES FROM (1) TO (2);",
            LockMode::AccessExclusive,
        );
        let run = |partition, default| {
            check(&RuleInput {
                stmt: &stmt,
                tables: &[facts(1, "events"), partition, default],
                min_table_size: 0,
            })
            .into_iter()
            .map(|f| f.subject)
            .collect::<Vec<_>>()
        };
        assert!(run(empty(2, "events_2027"), empty(3, "events_default")).is_empty());
        assert_eq!(
            run(one_page(2, "events_2027"), empty(3, "events_default")),
            ["public.events_2027"]
        );
        assert_eq!(
            run(empty(2, "events_2027"), one_page(3, "events_default")),
            ["public.events_default"]
        );
        // CREATE TABLE ... PARTITION OF with a default partition.
        let create = locking(
            Ddl::CreatePartition {
                parent: target(1, "events"),
                default_partition: Some(target(3, "events_default")),
            },
            "CREATE TABLE events_2028 PARTITION OF events FOR VALUES FROM (2) TO (3)",
            LockMode::AccessExclusive,
        );
        let run = |default| {
            check(&RuleInput {
                stmt: &create,
                tables: &[facts(1, "events"), default],
                min_table_size: 0,
            })
            .len()
        };
        assert_eq!(run(empty(3, "events_default")), 0);
        assert_eq!(run(one_page(3, "events_default")), 1);
    }

    #[test]
    fn err_unproven_bound_ok_proven() {
        let stmt = |scan: Option<&str>| {
            statement(
                Ddl::AlterTable {
                    table: target(1, "events"),
                    cmds: vec![AlterCmd::AttachPartition {
                        partition: target(2, "events_2027"),
                        scan: scan.map(String::from),
                        default_partition: None,
                        bound_check: scan.map(|_| "((a >= 1) AND (a < 2))".to_string()),
                    }],
                },
                "ALTER TABLE events ATTACH PARTITION events_2027 FOR VALUES FROM (1) TO (2);",
            )
        };
        let tables = [facts(1, "events"), facts(2, "events_2027")];
        let found = check(&RuleInput {
            stmt: &stmt(Some("reads every row of public.events_2027")),
            tables: &tables,
            min_table_size: 0,
        });
        assert!(
            found[0]
                .hint
                .contains("VALIDATE CONSTRAINT events_2027_partition_bound;"),
            "{}",
            found[0].hint
        );
        assert!(
            found[0].hint.contains(
                "ATTACH PARTITION events_2027 FOR VALUES FROM (1) TO (2);  -- now instant"
            ),
            "{}",
            found[0].hint
        );
        assert!(check(&RuleInput {
            stmt: &stmt(None),
            tables: &tables,
            min_table_size: 0
        })
        .is_empty());
    }
}
