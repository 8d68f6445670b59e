//! `safe_ddl.check(sql text)`: analyse (never execute) one or many statements against the live
//! catalog, with exactly the judgement the hook applies (`guard::judge`).

use std::cell::Cell;
use std::ffi::{c_void, CString};

use pgrx::pg_sys::panic::{CaughtError, ErrorReport};
use pgrx::pg_sys::{self, NodeTag};
use pgrx::prelude::*;
use pgrx::{is_a, PgList};

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
    let stmts = parse(sql);
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

thread_local! {
    static ERROR_POSITION: Cell<i32> = const { Cell::new(0) };
}

/// Error context callback: remember the cursor position of the error being raised, which the
/// copy pgrx makes of the error would otherwise drop.
unsafe extern "C-unwind" fn remember_position(_arg: *mut c_void) {
    // SAFETY: called by errfinish while an error is being built; geterrposition only reads it.
    let pos = unsafe { pg_sys::geterrposition() };
    ERROR_POSITION.with(|p| p.set(pos));
}

/// raw_parser, with syntax errors re-raised with their position in `sql`.
fn parse(sql: &str) -> Vec<(*mut pg_sys::Node, i32, i32)> {
    let Ok(c) = CString::new(sql) else {
        ErrorReport::new(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            "safe_ddl.check: SQL contains a NUL byte",
            "safe_ddl",
        )
        .report(PgLogLevel::ERROR);
        unreachable!()
    };
    ERROR_POSITION.with(|p| p.set(0));
    let mut callback = pg_sys::ErrorContextCallback {
        // SAFETY: reading the current context stack head.
        previous: unsafe { pg_sys::error_context_stack },
        callback: Some(remember_position),
        arg: std::ptr::null_mut(),
    };
    // SAFETY: we push our callback for the duration of raw_parser and pop it on every path.
    unsafe { pg_sys::error_context_stack = &mut callback };
    let result = PgTryBuilder::new(|| {
        // SAFETY: c is a NUL-terminated copy of sql.
        let list =
            unsafe { pg_sys::raw_parser(c.as_ptr(), pg_sys::RawParseMode::RAW_PARSE_DEFAULT) };
        // SAFETY: raw_parser returns a List of RawStmt.
        unsafe {
            PgList::<pg_sys::Node>::from_pg(list)
                .iter_ptr()
                .filter(|n| is_a(*n, NodeTag::T_RawStmt))
                .map(|n| {
                    let r = n.cast::<pg_sys::RawStmt>();
                    ((*r).stmt, (*r).stmt_location, (*r).stmt_len)
                })
                .collect::<Vec<_>>()
        }
    })
    .catch_others(|e| {
        // SAFETY: restore the stack before raising anything.
        unsafe { pg_sys::error_context_stack = callback.previous };
        match e {
            CaughtError::PostgresError(report) | CaughtError::ErrorReport(report) => {
                let pos = ERROR_POSITION.with(|p| p.get());
                let (message, detail) = located(report.message(), sql, pos);
                let mut r = ErrorReport::new(report.sql_error_code(), message, "safe_ddl");
                if let Some(d) = detail.or_else(|| report.detail().map(String::from)) {
                    r = r.set_detail(d);
                }
                if let Some(h) = report.hint() {
                    r = r.set_hint(h.to_string());
                }
                r.report(PgLogLevel::ERROR);
                unreachable!()
            }
            other => other.rethrow(),
        }
    })
    .execute();
    // SAFETY: pop our callback.
    unsafe { pg_sys::error_context_stack = callback.previous };
    result
}

/// "syntax error at or near "FOO"" -> "... at character 12 of the checked SQL", plus the line
/// with a caret under the position, as psql shows it.
fn located(message: &str, sql: &str, pos: i32) -> (String, Option<String>) {
    let Ok(pos) = usize::try_from(pos) else {
        return (message.to_string(), None);
    };
    if pos == 0 {
        return (message.to_string(), None);
    }
    let chars: Vec<char> = sql.chars().collect();
    let at = (pos - 1).min(chars.len());
    let line_start = chars[..at]
        .iter()
        .rposition(|c| *c == '\n')
        .map(|i| i + 1)
        .unwrap_or(0);
    let line_end = chars[at..]
        .iter()
        .position(|c| *c == '\n')
        .map(|i| at + i)
        .unwrap_or(chars.len());
    let line_no = chars[..at].iter().filter(|c| **c == '\n').count() + 1;
    let line: String = chars[line_start..line_end].iter().collect();
    let caret = " ".repeat(at - line_start);
    (
        format!("{message} at character {pos} of the checked SQL"),
        Some(format!(
            "The error is here:\nline {line_no}: {line}\n{}^",
            " ".repeat(format!("line {line_no}: ").len()) + &caret
        )),
    )
}

#[cfg(test)]
mod tests {
    use super::located;

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
