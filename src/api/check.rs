//! `safe_ddl.check(sql text)`: analyse (never execute) one or many statements against the live
//! catalog, with exactly the judgement the hook applies (`guard::judge`).

use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::classify::Finding;
use crate::ddl::Statement;
use crate::describe;
use crate::encoding::{Sql, Text};
use crate::guard;
use crate::gucs::{self, Mode};

type Row = (
    Text,
    Option<Text>,
    Text,
    Option<Text>,
    Option<Text>,
    bool,
    bool,
    Option<i64>,
    Option<Text>,
);

/// One row per statement and hazard; a statement without hazards gets one row with hazard NULL
/// and verdict `ok`. Verdicts: `refused` (enforce), `warned` (warn mode), `allowed`
/// (safe_ddl.allow), `ok`.
#[pg_extern(volatile)]
#[allow(clippy::type_complexity)]
fn check(
    sql: Sql,
) -> TableIterator<
    'static,
    (
        name!(statement, Text),
        name!(hazard, Option<Text>),
        name!(verdict, Text),
        name!(lock_mode, Option<Text>),
        name!(relation, Option<Text>),
        name!(rewrites, bool),
        name!(scans, bool),
        name!(table_size, Option<i64>),
        name!(hint, Option<Text>),
    ),
> {
    let sql = &sql;
    let stmts = super::parse::parse(sql);
    let mut rows = Vec::new();
    for (node, location, len) in stmts {
        // SAFETY: node comes from raw_parser in this call; we are inside a transaction.
        let described = unsafe { describe::describe_node(node, sql, location, len) };
        let Some(stmt) = described else {
            rows.push(ok_row(sql.statement(location, len), None));
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
    let lock = stmt.and_then(|s| s.lock).map(|l| Text::from(l.name()));
    let relation = stmt
        .and_then(|s| s.relations().first().copied())
        .and_then(|oid| {
            crate::catalog::table_facts(pg_sys::Oid::from(oid)).map(|f| Text(f.qualified_name))
        });
    (
        Text(text),
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
        Text(stmt.text.clone()),
        Some(Text::from(f.hazard.name())),
        Text::from(verdict),
        f.lock.map(|l| Text::from(l.name())),
        Some(Text(f.subject.clone())),
        f.rewrites,
        f.scans,
        f.size_bytes,
        Some(Text(f.hint.clone())),
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
