//! The one decision both the hook and `safe_ddl.check()` make: gather the catalog facts a
//! statement needs, classify it, and split the findings by `safe_ddl.allow`.

use pgrx::pg_sys;

use crate::catalog;
use crate::classify::{classify, Finding, RuleInput};
use crate::ddl::Statement;
use crate::gucs;

pub struct Judgement {
    /// Hazards that `safe_ddl.allow` lets through.
    pub allowed: Vec<Finding>,
    /// Hazards the mode decides about: refused (enforce) or warned about (warn).
    pub refused: Vec<Finding>,
}

/// Must run inside a transaction.
pub fn judge(stmt: &Statement) -> Judgement {
    let tables: Vec<_> = stmt
        .relations()
        .into_iter()
        .filter_map(|oid| catalog::table_facts(pg_sys::Oid::from(oid)))
        .collect();
    let findings = classify(&RuleInput {
        stmt,
        tables: &tables,
        min_table_size: gucs::min_table_size_bytes(),
    });
    let allow = gucs::allow();
    let (allowed, refused) = findings.into_iter().partition(|f| allow.allows(f.hazard));
    Judgement { allowed, refused }
}
