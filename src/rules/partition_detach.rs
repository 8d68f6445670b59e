//! `partition_detach`: ALTER TABLE ... DETACH PARTITION without CONCURRENTLY takes ACCESS EXCLUSIVE
//! on the partitioned table (PostgreSQL 14+ has the CONCURRENTLY form, SHARE UPDATE EXCLUSIVE).

use crate::classify::{Finding, RuleInput};
use crate::ddl::{AlterCmd, Ddl, LockMode};
use crate::hazard::Hazard;
use crate::rules::{holds, override_text, Draft};

const H: Hazard = Hazard::PartitionDetach;

pub fn check(input: &RuleInput) -> Vec<Finding> {
    let Ddl::AlterTable { table, cmds } = &input.stmt.ddl else {
        return vec![];
    };
    let Some(t) = input.visible(table) else {
        return vec![];
    };
    let name = &t.qualified_name;
    cmds.iter()
        .filter_map(|cmd| match cmd {
            AlterCmd::DetachPartition { partition, concurrent: false } => Some(partition),
            _ => None,
        })
        .map(|partition| {
            let part = input.facts(partition).map(|f| f.qualified_name.clone()).unwrap_or_else(|| partition.written.clone());
            Draft { lock: LockMode::AccessExclusive, rewrites: false, scans: false }.finding(
                H,
                t,
                format!("DETACH PARTITION {part} locks the partitioned table {name} against all reads and writes"),
                format!(
                    "DETACH PARTITION {} and on {part}: while it waits for running queries, every later query on \
                     the partitioned table queues behind it.",
                    holds(LockMode::AccessExclusive, name)
                ),
                format!(
                    "Detach it concurrently (SHARE UPDATE EXCLUSIVE: reads and writes go on), outside a transaction \
                     block:\n  ALTER TABLE {name} DETACH PARTITION {part} CONCURRENTLY;\n\
                     If it is interrupted, finish it with ALTER TABLE {name} DETACH PARTITION {part} FINALIZE;. \
                     CONCURRENTLY is not possible when the table has a default partition.\n{}",
                    override_text(H, true)
                ),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::*;

    #[test]
    fn err_plain_detach_ok_concurrently() {
        let stmt = |concurrent| {
            statement(
                Ddl::AlterTable {
                    table: target(1, "events"),
                    cmds: vec![AlterCmd::DetachPartition {
                        partition: target(2, "events_2020"),
                        concurrent,
                    }],
                },
                "",
            )
        };
        let tables = [facts(1, "events"), facts(2, "events_2020")];
        let found = check(&RuleInput {
            stmt: &stmt(false),
            tables: &tables,
            min_table_size: 0,
        });
        assert!(
            found[0]
                .hint
                .contains("DETACH PARTITION public.events_2020 CONCURRENTLY;"),
            "{}",
            found[0].hint
        );
        assert!(check(&RuleInput {
            stmt: &stmt(true),
            tables: &tables,
            min_table_size: 0
        })
        .is_empty());
    }
}
