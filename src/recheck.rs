//! The second look under the lock. A table that holds no data is exempt from the scan, rewrite
//! and build hazards, but the guard decides before the statement takes its lock (catalog.rs
//! measures under a conditional ACCESS SHARE), and rows can arrive in between. When a judgement
//! relied on such an exemption (`guard::Judgement::relies_on_empty`), the hook takes the
//! statement's own locks on those tables first, in the modes and order Postgres takes them, inside
//! the bounded, retried attempt (`acquire::run_guarded`), and judges again: every mode that
//! exempts an empty table (SHARE or stronger, `RuleInput::empty_exempts`) conflicts with the ROW
//! EXCLUSIVE lock that INSERT and COPY take, so under it the table stays as measured and the
//! second judgement is final.
//!
//! Cost: only statements whose verdict depended on emptiness pay, with one lock request the
//! statement makes anyway (taken a moment earlier) and one more `guard::judge`.

use pgrx::pg_sys;

use crate::classify::Finding;
use crate::ddl::{AlterCmd, Ddl, DropKind, LockMode, Statement, Target};
use crate::hazard::Hazard;
use crate::{guard, report};

/// The locks to take before judging again, in the order Postgres takes them: the statement's
/// locks on its tables up to the last table in `relied`. A relied table always gets a mode that
/// keeps writers out (the statement's lock, SHARE or stronger).
pub fn locks(stmt: &Statement, relied: &[u32]) -> Vec<(u32, LockMode)> {
    let Some(lock) = stmt.lock else {
        return vec![];
    };
    let mut out: Vec<(u32, LockMode)> = Vec::new();
    let mut add = |t: &Target, mode: LockMode| {
        if let Some(oid) = t.oid {
            if !out.iter().any(|(o, _)| *o == oid) {
                out.push((oid, mode));
            }
        }
    };
    match &stmt.ddl {
        Ddl::CreateIndex { table, .. }
        | Ddl::Reindex {
            table: Some(table), ..
        } => add(table, lock),
        Ddl::AlterTable { table, cmds } => {
            let attaches = cmds
                .iter()
                .any(|c| matches!(c, AlterCmd::AttachPartition { .. }));
            // ATTACH PARTITION takes SHARE UPDATE EXCLUSIVE on the parent (describe raises the
            // statement's lock to the ACCESS EXCLUSIVE it takes on the partitions).
            add(
                table,
                if attaches {
                    LockMode::ShareUpdateExclusive
                } else {
                    lock
                },
            );
            for c in cmds {
                if let AlterCmd::AttachPartition {
                    partition,
                    default_partition,
                    ..
                } = c
                {
                    add(partition, LockMode::AccessExclusive);
                    if let Some(d) = default_partition {
                        add(d, LockMode::AccessExclusive);
                    }
                }
            }
        }
        // DROP INDEX locks each index's table before the index; DROP TABLE each table in turn.
        Ddl::Drop {
            kind: DropKind::Table,
            objects,
            ..
        } => objects.iter().for_each(|t| add(t, lock)),
        Ddl::Drop { tables, .. } => tables.iter().for_each(|t| add(t, lock)),
        Ddl::Rename { table, .. } => add(table, lock),
        Ddl::CreatePartition {
            parent,
            default_partition,
        } => {
            add(parent, lock);
            if let Some(d) = default_partition {
                add(d, LockMode::AccessExclusive);
            }
        }
        Ddl::Rewrite { tables, .. } => tables.iter().for_each(|t| add(t, lock)),
        _ => {}
    }
    for oid in relied {
        match out.iter_mut().find(|(o, _)| o == oid) {
            Some((_, mode)) if !mode.blocks_reads_or_writes() => *mode = lock,
            Some(_) => {}
            None => out.push((*oid, lock)),
        }
    }
    let last = out.iter().rposition(|(o, _)| relied.contains(o));
    out.truncate(last.map_or(0, |i| i + 1));
    out
}

/// Lock the tables the judgement relied on as empty and judge again. Raises the refusal when
/// rows arrived meanwhile; returns the findings the new judgement allows that the first did not
/// (for the caller to log). Runs inside `acquire::run_guarded`'s attempt, so a lock wait is
/// bounded by lock_timeout and retried like the statement's own.
pub fn under_lock(
    stmt: &Statement,
    relied: &[u32],
    relied_never_used: &[u32],
    allowed_before: &[Finding],
) -> Vec<Finding> {
    let mut all: Vec<u32> = relied.to_vec();
    all.extend(relied_never_used.iter().filter(|o| !relied.contains(o)));
    for (oid, mode) in locks(stmt, &all) {
        let rel = pg_sys::Oid::from(oid);
        let mode = mode.to_pg() as pg_sys::LOCKMODE;
        // SAFETY: lock manager calls inside the caller's (sub)transaction; a lock timeout or a
        // cancel is an ERROR that the attempt catches. A relation dropped meanwhile is locked by
        // OID only, and judge() then finds no facts for it.
        unsafe {
            pg_sys::LockRelationOid(rel, mode);
            // A partitioned table holds no data only when none of its partitions does: lock them
            // too, as ALTER TABLE, CREATE INDEX and DROP INDEX do (parent first, same mode).
            if relied.contains(&oid) && pg_sys::get_rel_relkind(rel) as u8 == b'p' {
                pg_sys::ffi::pg_guard_ffi_boundary(|| {
                    crate::catalog::raw::find_all_inheritors(rel, mode, std::ptr::null_mut())
                });
            }
        }
    }
    let again = guard::judge(stmt);
    if !again.refused.is_empty() {
        let refused: Vec<Finding> = again
            .refused
            .into_iter()
            .map(|mut f| {
                let why = if matches!(
                    f.hazard,
                    Hazard::DropColumn | Hazard::DropTable | Hazard::Rename
                ) && !relied_never_used.is_empty()
                {
                    "Nobody had used it since its creation when the statement was judged; it was used while the statement waited for its lock."
                } else {
                    "The table held no data when the statement was judged; rows arrived while it waited for its lock."
                };
                f.detail = format!("{}\n{why}", f.detail);
                f
            })
            .collect();
        report::refuse(&refused, &stmt.text);
    }
    let same = |a: &Finding, b: &Finding| {
        a.hazard == b.hazard && a.subject == b.subject && a.message == b.message
    };
    again
        .allowed
        .into_iter()
        .filter(|f| !allowed_before.iter().any(|b| same(f, b)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::*;
    use LockMode::*;

    #[test]
    fn the_statements_own_locks_in_postgres_order() {
        let create = locking(
            Ddl::CreateIndex {
                table: target(1, "t"),
                index_name: None,
                concurrent: false,
                only: false,
                partitions: vec![],
            },
            "CREATE INDEX ON t (v)",
            Share,
        );
        assert_eq!(locks(&create, &[1]), [(1, Share)]);
        assert!(locks(&create, &[]).is_empty());

        // ATTACH PARTITION: the parent as Postgres locks it, then the partition and the default.
        let attach = locking(
            Ddl::AlterTable {
                table: target(1, "events"),
                cmds: vec![AlterCmd::AttachPartition {
                    partition: target(2, "events_2027"),
                    scan: Some("reads it".into()),
                    default_partition: Some(target(3, "events_default")),
                    bound_check: None,
                }],
            },
            "ALTER TABLE events ATTACH PARTITION events_2027 FOR VALUES IN (2027)",
            AccessExclusive,
        );
        assert_eq!(
            locks(&attach, &[2]),
            [(1, ShareUpdateExclusive), (2, AccessExclusive)]
        );
        assert_eq!(
            locks(&attach, &[3]),
            [
                (1, ShareUpdateExclusive),
                (2, AccessExclusive),
                (3, AccessExclusive)
            ]
        );

        // DROP INDEX: the index's table.
        let drop = locking(
            Ddl::Drop {
                kind: crate::ddl::DropKind::Index,
                objects: vec![target(5, "i")],
                tables: vec![target(1, "t")],
                concurrent: false,
                constraints: vec![],
            },
            "DROP INDEX i",
            AccessExclusive,
        );
        assert_eq!(locks(&drop, &[1]), [(1, AccessExclusive)]);

        // A relied table the statement's shape does not name still gets the statement's lock.
        let other = locking(Ddl::Other, "", ShareRowExclusive);
        assert_eq!(locks(&other, &[7]), [(7, ShareRowExclusive)]);
        // No lock of its own: nothing to take (such statements get no emptiness exemption).
        assert!(locks(&statement(Ddl::Other, ""), &[7]).is_empty());
    }
}
