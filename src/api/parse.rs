//! Parsing SQL text handed to a function (check, rehearse), with syntax errors re-raised with
//! their position in that text.

use std::ffi::{c_char, CString};

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::pg_sys::{self, NodeTag};
use pgrx::prelude::*;
use pgrx::{is_a, PgList};

use crate::encoding::{self, Sql};
use crate::pg_error;

mod raw {
    use pgrx::pg_sys;
    use std::ffi::c_char;
    // Unguarded: a syntax error must reach pg_error::catch whole (its position and its message
    // in the server encoding), not as pgrx's lossy copy.
    #[allow(clashing_extern_declarations)]
    unsafe extern "C-unwind" {
        pub fn raw_parser(
            str_: *const c_char,
            mode: pg_sys::RawParseMode::Type,
        ) -> *mut pg_sys::List;
    }
}

/// raw_parser, with syntax errors re-raised with their position in `sql`.
pub fn parse(sql: &Sql) -> Vec<(*mut pg_sys::Node, i32, i32)> {
    let Ok(c) = CString::new(sql.server()) else {
        ErrorReport::new(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            "safe_ddl.check: SQL contains a NUL byte",
            "safe_ddl",
        )
        .report(PgLogLevel::ERROR);
        unreachable!()
    };
    let query = c.as_ptr();
    // SAFETY: a direct call of C code on a NUL-terminated string.
    let parsed = unsafe {
        pg_error::catch(|| raw::raw_parser(query, pg_sys::RawParseMode::RAW_PARSE_DEFAULT))
    };
    let list = match parsed {
        Ok(list) => list,
        Err(e) => {
            let edata = e.into_raw();
            // SAFETY: a valid ErrorData from CopyErrorData, freed once read.
            let (code, message, detail, hint, pos) = unsafe {
                let text = |p: *const c_char| (!p.is_null()).then(|| encoding::cstr_to_rust(p));
                let read = (
                    (*edata).sqlerrcode,
                    text((*edata).message).unwrap_or_default(),
                    text((*edata).detail),
                    text((*edata).hint),
                    (*edata).cursorpos,
                );
                pg_sys::FreeErrorData(edata);
                read
            };
            let (message, located_detail) = located(&message, sql.text(), pos);
            let mut r = ErrorReport::new(PgSqlErrorCode::from(code), message, "safe_ddl");
            if let Some(d) = located_detail.or(detail) {
                r = r.set_detail(d);
            }
            if let Some(h) = hint {
                r = r.set_hint(h);
            }
            encoding::report(r, PgLogLevel::ERROR);
            unreachable!()
        }
    };
    // SAFETY: raw_parser returns a List of RawStmt.
    unsafe {
        PgList::<pg_sys::Node>::from_pg(list)
            .iter_ptr()
            .filter(|n| is_a(*n, NodeTag::T_RawStmt))
            .map(|n| {
                let r = n.cast::<pg_sys::RawStmt>();
                ((*r).stmt, (*r).stmt_location, (*r).stmt_len)
            })
            .collect()
    }
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
fn _one_statement(sql: Sql) -> bool {
    // Only raw_parser runs in between: nothing to clean up but the error state.
    PgTryBuilder::new(|| parse(&sql).len() <= 1)
        .catch_others(|_| {
            encoding::forget();
            true
        })
        .execute()
}
