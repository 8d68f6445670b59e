//! The table_rewrite backstop: an event trigger owned by the extension (sql/finalize.sql) calls
//! `safe_ddl._rewrite_backstop_check()` before Postgres rewrites any table. A rewrite the
//! classifier did not foresee is refused like any other `table_rewrite`, so a case it misses
//! still cannot rewrite a table silently.

use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::classify::Finding;
use crate::ddl::LockMode;
use crate::gucs::{self, Mode};
use crate::hazard::Hazard;
use crate::xact::TransactionSet;
use crate::{catalog, report};

thread_local! {
    /// Tables whose rewrite the hook already let through (allowed and logged) in this transaction.
    /// Not an exemption: the backstop checks safe_ddl.allow again for every rewrite.
    static EXPECTED: TransactionSet<u32> = const { TransactionSet::new() };
}

/// The hook let a rewrite of `relid` through (allowed and logged).
pub fn expect_rewrite(relid: u32) {
    EXPECTED.with(|e| e.insert(relid));
}

/// Warn mode: the hook reported these rewrites as warnings; the event trigger need not again.
pub fn warned_rewrite(findings: &[Finding], relations: &[u32]) {
    if findings.iter().any(|f| f.hazard == Hazard::TableRewrite) {
        relations.iter().for_each(|oid| expect_rewrite(*oid));
    }
}

fn expected(relid: u32) -> bool {
    EXPECTED.with(|e| e.contains(&relid))
}

/// The client's statement for the override line: the query string when it holds one statement,
/// else its command tag (the event trigger does not see which statement of a multi-statement
/// string runs).
fn query_text(tag: &str) -> String {
    // SAFETY: debug_query_string is a backend global, NULL or a NUL-terminated string.
    let q = unsafe {
        let p = pg_sys::debug_query_string;
        (!p.is_null()).then(|| std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned())
    };
    let one = q.map(|q| crate::sqltext::one_line(&q)).unwrap_or_default();
    if one.is_empty() || one.contains(';') {
        format!("the {tag} statement")
    } else {
        one
    }
}

/// The client's query string as it was sent (whole, several statements or a CALL included: the
/// event trigger cannot tell which of them runs), or the command tag when there is none; for the
/// LOG line of an allowed rewrite and the audit trail.
fn statement_text(tag: &str) -> String {
    // SAFETY: debug_query_string is a backend global, NULL or a NUL-terminated string.
    let q = unsafe { crate::encoding::cstr_to_rust(pg_sys::debug_query_string) };
    let q = crate::sqltext::trimmed(&q);
    if q.is_empty() {
        tag.to_string()
    } else {
        q.to_string()
    }
}

/// pg_event_trigger_table_rewrite_reason() bits.
fn reason_text(reason: i32) -> String {
    let mut parts = Vec::new();
    if reason & 1 != 0 {
        parts.push("persistence change");
    }
    if reason & 2 != 0 {
        parts.push("a default computed per row");
    }
    if reason & 4 != 0 {
        parts.push("a column type change");
    }
    if reason & 8 != 0 {
        parts.push("an access method change");
    }
    if parts.is_empty() {
        parts.push("an unknown reason");
    }
    parts.join(", ")
}

#[pg_extern(volatile)]
fn _rewrite_backstop_check(relid: pg_sys::Oid, reason: i32, tag: &str) {
    let mode = gucs::mode();
    // SAFETY: plain reads of backend globals.
    if mode == Mode::Off || unsafe { pg_sys::creating_extension } {
        return;
    }
    let Some(t) = catalog::table_facts(relid) else {
        return;
    };
    if t.exemption(gucs::min_table_size_bytes()).is_some() {
        return;
    }
    let finding = Finding {
        hazard: Hazard::TableRewrite,
        subject: t.qualified_name.clone(),
        message: format!("table_rewrite: {tag} is about to rewrite table {} ({})", t.qualified_name, reason_text(reason)),
        detail: format!(
            "Caught by safe_ddl's table_rewrite event trigger: {tag} holds an ACCESS EXCLUSIVE lock on {} (blocks all \
             reads and writes) while it copies every row; the table is {}.",
            t.qualified_name,
            t.size_text()
        ),
        hint: format!(
            "Use an expand/contract migration instead (new column or table, batched backfill, switch, drop).\n\
             To take the lock anyway: BEGIN; SET LOCAL safe_ddl.allow = 'table_rewrite'; {}; COMMIT;\nSee {}",
            query_text(tag),
            Hazard::TableRewrite.doc_page()
        ),
        lock: Some(LockMode::AccessExclusive),
        rewrites: true,
        scans: true,
        size_bytes: Some(t.size_bytes),
        in_use: None,
    };
    let findings = [finding];
    // The allow is checked now, for this rewrite: an earlier allowed rewrite of the same table in
    // this transaction (expected) only spares the LOG line the hook already wrote for it.
    if gucs::allow().allows(Hazard::TableRewrite) {
        if !expected(relid.to_u32()) {
            report::log_allowed(&findings, &statement_text(tag));
        }
    } else if mode == Mode::Warn {
        // The hook already warned about this table's rewrite (warned_rewrite): once is enough.
        if !expected(relid.to_u32()) {
            report::warn(&findings, &statement_text(tag));
        }
    } else {
        report::refuse(&findings, &statement_text(tag));
    }
}
