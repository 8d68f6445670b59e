//! The one decision both the hook and `safe_ddl.check()` make: gather the catalog facts a
//! statement needs, classify it, and split the findings by `safe_ddl.allow`.

use pgrx::pg_sys;

use crate::catalog;
use crate::classify::{classify, relies_on_empty, relies_on_never_used, Finding, RuleInput};
use crate::ddl::Statement;
use crate::gucs;
use crate::usage;

pub struct Judgement {
    /// Hazards that `safe_ddl.allow` lets through.
    pub allowed: Vec<Finding>,
    /// Hazards the mode decides about: refused (enforce) or warned about (warn).
    pub refused: Vec<Finding>,
    /// Every relation the statement locks is temporary or was created in this transaction: no
    /// other session can hold a lock on it, so there is no lock wait to bound.
    pub private: bool,
    /// The facts the judgement rests on, for the rest of the hook.
    pub tables: Vec<crate::facts::TableFacts>,
    /// Tables exempt only because they hold no data, whose exemption spared the statement a
    /// finding: rows may arrive before the statement gets its lock, so the hook judges again
    /// under that lock (enforce mode). Empty for almost every statement.
    pub relies_on_empty: Vec<u32>,
    /// Tables whose drop or rename was let through because nobody used them since their
    /// creation: a client holding a lock on one may use it before the statement gets its lock,
    /// so the hook judges again under that lock too.
    pub relies_on_never_used: Vec<u32>,
}

impl Judgement {
    /// The verdict let the statement through on a fact that can change before the statement
    /// holds its lock (a table that held no data, an object nobody had used): the hook looks
    /// again under the lock.
    pub fn needs_second_look(&self) -> bool {
        !self.relies_on_empty.is_empty() || !self.relies_on_never_used.is_empty()
    }
}

/// Must run inside a transaction.
pub fn judge(stmt: &Statement) -> Judgement {
    judge_holding(stmt, &[])
}

/// `judge`, as if this transaction also held `held` (table OID, lock) besides what its lock
/// table says: `check()` of a script in which earlier statements of the same transaction block
/// take locks that were never taken, since check() executes nothing.
pub fn judge_holding(stmt: &Statement, held: &[(u32, crate::ddl::LockMode)]) -> Judgement {
    let tables: Vec<_> = stmt
        .relations()
        .into_iter()
        .filter_map(|oid| {
            let oid = pg_sys::Oid::from(oid);
            catalog::table_facts(oid).map(|mut f| {
                if stmt.drops_or_renames() {
                    f.usage = usage::relation_usage(oid);
                }
                if stmt.changes_columns() {
                    f.column_changes = catalog::column_changes(oid);
                }
                for (o, l) in held {
                    if *o == f.oid && l.blocks_reads_or_writes() {
                        f.held_lock = f.held_lock.max(Some(*l));
                    }
                }
                f
            })
        })
        .collect();
    let input = RuleInput {
        stmt,
        tables: &tables,
        min_table_size: gucs::min_table_size_bytes(),
    };
    let findings = classify(&input);
    let relies_on_empty = relies_on_empty(&input, &findings);
    let relies_on_never_used = relies_on_never_used(&input, &findings);
    let allow = gucs::allow();
    let (allowed, refused) = findings
        .into_iter()
        .partition(|f| allow.allows(f.hazard) && (f.in_use.is_none() || allow.in_use()));
    let private = !stmt.targets.is_empty()
        && stmt.targets.iter().all(|oid| {
            tables
                .iter()
                .any(|t| t.oid == *oid && (t.temporary || t.created_in_transaction))
        });
    Judgement {
        allowed,
        refused,
        private,
        tables,
        relies_on_empty,
        relies_on_never_used,
    }
}
