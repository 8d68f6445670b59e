//! `safe_ddl.check(sql text)`: analyse (never execute) one or many statements against the live
//! catalog, with exactly the judgement the hook applies (`guard::judge`).

use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::classify::Finding;
use crate::ddl::Statement;
use crate::describe;
use crate::guard;
use crate::gucs::{self, Mode};

type Row = (
    String,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    bool,
    bool,
    Option<i64>,
    Option<String>,
);

/// One row per statement and hazard; a statement without hazards gets one row with hazard NULL
/// and verdict `ok`. Verdicts: `refused` (enforce), `warned` (warn mode), `allowed`
/// (safe_ddl.allow), `ok`.
#[pg_extern(volatile)]
#[allow(clippy::type_complexity)]
fn check(
    sql: &str,
) -> TableIterator<
    'static,
    (
        name!(statement, String),
        name!(hazard, Option<String>),
        name!(verdict, String),
        name!(lock_mode, Option<String>),
        name!(relation, Option<String>),
        name!(rewrites, bool),
        name!(scans, bool),
        name!(table_size, Option<i64>),
        name!(hint, Option<String>),
    ),
> {
    let stmts = super::parse::parse(sql);
    let mut rows = Vec::new();
    for (node, location, len) in stmts {
        // SAFETY: node comes from raw_parser in this call; we are inside a transaction.
        let described = unsafe { describe::describe_node(node, sql, location, len) };
        let Some(stmt) = described else {
            rows.push(ok_row(describe::statement_text(sql, location, len), None));
            continue;
        };
        let judgement = guard::judge(&stmt);
        if judgement.allowed.is_empty() && judgement.refused.is_empty() {
            rows.push(ok_row(stmt.text.clone(), Some(&stmt)));
            continue;
        }
        let verdict = match gucs::mode() {
            Mode::Enforce => "refused",
            Mode::Warn => "warned",
            Mode::Off => "ok",
        };
        for f in &judgement.refused {
            rows.push(finding_row(&stmt, f, verdict));
        }
        for f in &judgement.allowed {
            rows.push(finding_row(&stmt, f, "allowed"));
        }
    }
    TableIterator::new(rows)
}

fn ok_row(text: String, stmt: Option<&Statement>) -> Row {
    let lock = stmt.and_then(|s| s.lock).map(|l| l.name().to_string());
    let relation = stmt
        .and_then(|s| s.relations().first().copied())
        .and_then(|oid| {
            crate::catalog::table_facts(pg_sys::Oid::from(oid)).map(|f| f.qualified_name)
        });
    (
        text,
        None,
        "ok".into(),
        lock,
        relation,
        false,
        false,
        None,
        None,
    )
}

fn finding_row(stmt: &Statement, f: &Finding, verdict: &str) -> Row {
    (
        stmt.text.clone(),
        Some(f.hazard.name().to_string()),
        verdict.to_string(),
        f.lock.map(|l| l.name().to_string()),
        Some(f.subject.clone()),
        f.rewrites,
        f.scans,
        f.size_bytes,
        Some(f.hint.clone()),
    )
}

#[cfg(test)]
mod tests {
    use super::super::parse::located;

    #[test]
    fn positions_point_at_the_right_line() {
        let (m, d) = located(
            "syntax error at or near \"TABL\"",
            "SELECT 1;\nALTER TABL t",
            17,
        );
        assert!(m.ends_with("at character 17 of the checked SQL"), "{m}");
        assert_eq!(
            d.unwrap(),
            "The error is here:\nline 2: ALTER TABL t\n              ^"
        );
    }
}
