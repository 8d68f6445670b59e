//! Parsing SQL text handed to a function (check, rehearse), with syntax errors re-raised with
//! their position in that text.

use std::cell::Cell;
use std::ffi::{c_void, CString};

use pgrx::pg_sys::panic::{CaughtError, ErrorReport};
use pgrx::pg_sys::{self, NodeTag};
use pgrx::prelude::*;
use pgrx::{is_a, PgList};

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
pub fn parse(sql: &str) -> Vec<(*mut pg_sys::Node, i32, i32)> {
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
pub fn located(message: &str, sql: &str, pos: i32) -> (String, Option<String>) {
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

/// Whether `sql` is not several statements. backfill composes statements around the caller's
/// clauses and runs them only if the clauses did not end the statement and start another one.
/// A syntax error counts as one: running it raises that error before anything runs (the whole
/// string is parsed first), with the position in the caller's terms.
#[pgrx::pg_extern(immutable, parallel_safe)]
fn _one_statement(sql: &str) -> bool {
    // Only raw_parser runs in between: nothing to clean up but the error state.
    PgTryBuilder::new(|| parse(sql).len() <= 1)
        .catch_others(|_| true)
        .execute()
}
