//! The audit trail (issue 19): one record per finding that safe_ddl refused, let through because
//! of an allow (`safe_ddl.allow` or an inline allow), or reported as a warn-mode WARNING, with
//! who, where, when, the allow and the statement. Written where `report` raises the refusal,
//! the WARNING or the allow's LOG line (hook, second look, rewrite backstop, large_dml), so
//! `check()` and `rehearse()`'s dry analysis record nothing; statements safe_ddl's helpers run
//! for real go through the hook like any other and are recorded when a hazard is refused or
//! allowed in them.
//!
//! Records go to an append-only file under the data directory (`file`: why a file, durability,
//! rotation, locking) as JSON lines (`line`), read back by `safe_ddl.audit_log` (`api`).
//! `safe_ddl.audit` (PGC_SIGHUP: no session can turn off the auditing of its own statements)
//! switches recording; `safe_ddl.audit_max_size` bounds the files.

pub mod api;
mod file;
pub mod line;

use pgrx::pg_sys;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{PgLogLevel, PgSqlErrorCode};

use crate::classify::Finding;
use crate::gucs;
use line::{Action, Record};

/// From _PG_init: the writers' LWLock, when preloaded (else `file` uses flock(2)).
pub fn install() {
    // SAFETY: a plain global of the postmaster, read in _PG_init.
    if unsafe { pg_sys::process_shared_preload_libraries_in_progress } {
        file::request();
    }
}

/// Record `findings` of one statement (`statement`: its text; `sqlstate`/`message` per finding
/// for refusals and warnings). Never raises an error: a record that cannot be written goes to
/// the server log instead, with the reason.
pub fn record(action: Action, findings: &[Finding], statement: &str) {
    if findings.is_empty() || !gucs::audit() {
        return;
    }
    let who = Who::now();
    let (allow, inline_allow) = match action {
        Action::Allowed => {
            let allow = gucs::allow_text();
            (
                (!allow.trim().is_empty()).then_some(allow),
                crate::inline_allow::current(),
            )
        }
        Action::Refused | Action::Warned => (None, None),
    };
    let mut lines = String::new();
    for f in findings {
        let (sqlstate, message) = match action {
            Action::Allowed => (None, None),
            Action::Refused | Action::Warned => (
                Some(crate::report::REFUSAL_SQLSTATE_TEXT.to_string()),
                Some(format!("safe_ddl: {}", f.message)),
            ),
        };
        let r = Record {
            time: who.time,
            action,
            hazard: f.hazard.name().to_string(),
            subject: f.subject.clone(),
            session_user: who.session_user.clone(),
            current_user: who.current_user.clone(),
            database: who.database.clone(),
            application_name: who.application_name.clone(),
            client_addr: who.client_addr.clone(),
            pid: who.pid,
            allow: allow.clone(),
            inline_allow: inline_allow.clone(),
            statement: statement.to_string(),
            sqlstate,
            message,
        };
        lines.push_str(&r.to_line());
    }
    // All of one statement's records in one write().
    if let Err(e) = file::append(lines.as_bytes(), gucs::audit_max_size_bytes()) {
        crate::encoding::report(
            ErrorReport::new(
                PgSqlErrorCode::ERRCODE_SUCCESSFUL_COMPLETION,
                format!(
                    "safe_ddl: could not write the audit record to {}: {e}; the record: {}",
                    file::CURRENT,
                    lines.trim_end()
                ),
                "safe_ddl",
            ),
            PgLogLevel::LOG,
        );
    }
}

/// Who runs the statement, where, when.
struct Who {
    time: i64,
    session_user: Option<String>,
    current_user: Option<String>,
    database: Option<String>,
    application_name: Option<String>,
    client_addr: Option<String>,
    pid: i32,
}

impl Who {
    fn now() -> Who {
        // SAFETY: reads of backend globals; catalog lookups only inside a transaction, with
        // their noerr forms (NULL when missing); inet_client_addr reads MyProcPort (NULL for a
        // Unix socket or a process without a client).
        unsafe {
            let in_xact = pg_sys::IsTransactionState();
            let text =
                |p: *mut std::ffi::c_char| (!p.is_null()).then(|| crate::encoding::cstr_to_rust(p));
            let name = |oid: pg_sys::Oid| {
                if in_xact {
                    text(pg_sys::GetUserNameFromId(oid, true))
                } else {
                    None
                }
            };
            Who {
                time: pg_sys::GetCurrentTimestamp(),
                session_user: name(pg_sys::GetSessionUserId()),
                current_user: name(pg_sys::GetUserId()),
                database: if in_xact {
                    text(pg_sys::get_database_name(pg_sys::MyDatabaseId))
                } else {
                    None
                },
                application_name: text(pg_sys::application_name),
                client_addr: pgrx::direct_function_call::<pgrx::Inet>(
                    pg_sys::inet_client_addr,
                    &[],
                )
                .map(|i| i.0),
                pid: pg_sys::MyProcPid,
            }
        }
    }
}
