//! `safe_ddl._audit_entries()`, the set-returning function behind the view
//! `safe_ddl.audit_log` (sql/audit.sql).
//!
//! Privileges: a function called in a view is checked (EXECUTE) and runs as the caller, so the
//! function itself decides: superusers, and roles that hold SELECT on the view (`GRANT SELECT ON
//! safe_ddl.audit_log TO auditor;` is all it takes), read the records; anyone else gets 42501
//! "permission denied for view audit_log", whether through the view or calling it directly.

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::Inet;

use super::file;
use super::line::Record;
use crate::encoding::Text;

type Row = (
    TimestampWithTimeZone,
    Text,
    Text,
    Text,
    Option<Text>,
    Option<Text>,
    Option<Text>,
    Option<Text>,
    Option<Inet>,
    i32,
    Option<Text>,
    Option<Text>,
    Text,
    Option<Text>,
    Option<Text>,
);

#[pg_extern(volatile)]
#[allow(clippy::type_complexity)]
fn _audit_entries() -> TableIterator<
    'static,
    (
        name!(time, TimestampWithTimeZone),
        name!(action, Text),
        name!(hazard, Text),
        name!(subject, Text),
        name!(session_user_name, Option<Text>),
        name!(current_user_name, Option<Text>),
        name!(database_name, Option<Text>),
        name!(application_name, Option<Text>),
        name!(client_addr, Option<Inet>),
        name!(pid, i32),
        name!(allow, Option<Text>),
        name!(inline_allow, Option<Text>),
        name!(statement, Text),
        name!(sqlstate, Option<Text>),
        name!(message, Option<Text>),
    ),
> {
    check_privilege();
    let mut rows: Vec<Row> = Vec::new();
    let result = file::read_lines(|bytes| {
        // Not a record (a line cut by an OS crash, edited by hand): skipped.
        let Some(r) = std::str::from_utf8(bytes).ok().and_then(Record::parse) else {
            return;
        };
        if let Some(row) = row(r) {
            rows.push(row);
        }
    });
    if let Err(e) = result {
        crate::encoding::report(
            ErrorReport::new(
                PgSqlErrorCode::ERRCODE_IO_ERROR,
                format!(
                    "safe_ddl: could not read the audit trail ({}): {e}",
                    file::CURRENT
                ),
                "safe_ddl",
            ),
            PgLogLevel::ERROR,
        );
    }
    TableIterator::new(rows)
}

fn row(r: Record) -> Option<Row> {
    let t = |s: Option<String>| s.map(Text);
    // Only a valid address reaches inet's input function (a hand-edited file must not make the
    // view fail).
    let addr = r
        .client_addr
        .filter(|a| {
            a.split('/')
                .next()
                .is_some_and(|ip| ip.parse::<std::net::IpAddr>().is_ok())
        })
        .map(Inet);
    Some((
        TimestampWithTimeZone::try_from(r.time).ok()?,
        Text(r.action.name().to_string()),
        Text(r.hazard),
        Text(r.subject),
        t(r.session_user),
        t(r.current_user),
        t(r.database),
        t(r.application_name),
        addr,
        r.pid,
        t(r.allow),
        t(r.inline_allow),
        Text(r.statement),
        t(r.sqlstate),
        t(r.message),
    ))
}

/// Superuser, or SELECT on the view `safe_ddl.audit_log` (the role in effect: GetUserId()).
fn check_privilege() {
    // SAFETY: catalog lookups inside a transaction (a SQL function call); names are static.
    let allowed = unsafe {
        let user = pg_sys::GetUserId();
        pg_sys::superuser() || {
            let nsp = pg_sys::get_namespace_oid(c"safe_ddl".as_ptr(), true);
            let view = if nsp == pg_sys::InvalidOid {
                pg_sys::InvalidOid
            } else {
                pg_sys::get_relname_relid(c"audit_log".as_ptr(), nsp)
            };
            view != pg_sys::InvalidOid
                && pg_sys::pg_class_aclcheck(view, user, pg_sys::AclMode::from(pg_sys::ACL_SELECT))
                    == pg_sys::AclResult::ACLCHECK_OK
        }
    };
    if !allowed {
        ErrorReport::new(
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            "permission denied for view audit_log",
            "safe_ddl",
        )
        .set_hint("A superuser grants it with GRANT SELECT ON safe_ddl.audit_log to the role.")
        .report(PgLogLevel::ERROR);
    }
}
