//! Turning findings into Postgres messages: the refusal ERROR, the warn-mode WARNING and the
//! LOG line for statements that run only because of `safe_ddl.allow`. Each of the three also
//! counts its findings for `safe_ddl.metrics` and records them in the audit trail (check()
//! reports nothing through here, so a dry run counts and records nothing).

use pgrx::pg_sys;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{PgLogLevel, PgSqlErrorCode};

use crate::audit;
use crate::classify::Finding;
use crate::encoding;
use crate::metrics::{self, Action};

/// The one SQLSTATE of every refusal: 55000 object_not_in_prerequisite_state ("the table is not
/// in a state where this can run safely"). Distinct from 55P03 lock_not_available, which a
/// lock_timeout raises.
pub const REFUSAL_SQLSTATE: PgSqlErrorCode =
    PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE;
/// The same, as the audit trail records it.
pub const REFUSAL_SQLSTATE_TEXT: &str = "55000";

/// Message, detail and hint for one or more findings of one statement.
pub fn compose(findings: &[Finding]) -> (String, String, String) {
    if let [f] = findings {
        return (
            format!("safe_ddl: {}", f.message),
            f.detail.clone(),
            f.hint.clone(),
        );
    }
    let names: Vec<String> = findings
        .iter()
        .map(|f| format!("{} on {}", f.hazard, f.subject))
        .collect();
    let message = format!("safe_ddl: {} hazards: {}", findings.len(), names.join(", "));
    // Each finding's own message first: two findings of one hazard are then told apart.
    let detail = findings
        .iter()
        .map(|f| format!("{}:\n  {}", f.message, f.detail))
        .collect::<Vec<_>>()
        .join("\n");
    let hint = findings
        .iter()
        .map(|f| format!("{}: {}", f.hazard, f.hint))
        .collect::<Vec<_>>()
        .join("\n");
    (message, detail, hint)
}

/// Refuse the statement (`statement`: its text, for the audit trail). Does not return.
pub fn refuse(findings: &[Finding], statement: &str) {
    metrics::statements(findings, Action::Refused);
    // Recorded before the ERROR: the record outlives the transaction the ERROR rolls back.
    audit::record(audit::line::Action::Refused, findings, statement);
    let (message, detail, hint) = compose(findings);
    encoding::report(
        ErrorReport::new(REFUSAL_SQLSTATE, message, "safe_ddl")
            .set_detail(detail)
            .set_hint(hint),
        PgLogLevel::ERROR,
    );
}

/// warn mode: tell the user what would have been refused, then let it run.
pub fn warn(findings: &[Finding], statement: &str) {
    metrics::statements(findings, Action::Warned);
    audit::record(audit::line::Action::Warned, findings, statement);
    let (message, detail, hint) = compose(findings);
    encoding::report(
        ErrorReport::new(REFUSAL_SQLSTATE, message, "safe_ddl")
            .set_detail(detail)
            .set_hint(hint),
        PgLogLevel::WARNING,
    );
}

/// A statement safe_ddl could not analyse (its analysis raised an error of its own, `why`) runs
/// unjudged: a WARNING in warn mode, a LOG line (server log only) in enforce mode.
pub fn undecided(warn: bool, why: &str, statement: &str) {
    let (level, code) = if warn {
        (PgLogLevel::WARNING, REFUSAL_SQLSTATE)
    } else {
        (
            PgLogLevel::LOG,
            PgSqlErrorCode::ERRCODE_SUCCESSFUL_COMPLETION,
        )
    };
    encoding::report(
        ErrorReport::new(
            code,
            "safe_ddl: could not analyse this statement; it runs unjudged",
            "safe_ddl",
        )
        .set_detail(format!(
            "The analysis stopped at: {why}. Postgres runs the statement and reports its own error \
             if it rejects it; its lock wait is still bounded by safe_ddl.lock_timeout and a table \
             rewrite is still caught by safe_ddl's rewrite backstop. Statement: {statement}"
        ))
        .set_hint(
            "If the statement succeeds, safe_ddl did not judge it: check by hand that it holds no \
             strong lock for long on a large table, and report the analysis error to safe_ddl's \
             maintainers.",
        ),
        level,
    );
}

/// A `safe_ddl: ...` comment before a statement that cannot be honoured (unknown hazard, unknown
/// directive, misplaced): an ERROR, as `SET safe_ddl.allow` of an unknown name is. `located` is
/// the message suffix and detail that point at it in check()'s SQL. Does not return.
pub fn invalid_inline(e: &crate::inline_allow::Invalid, located: Option<(String, String)>) {
    let (suffix, detail) = match located {
        Some((suffix, at)) => (suffix, format!("{}\n{at}", e.detail)),
        None => (String::new(), e.detail.clone()),
    };
    encoding::report(
        ErrorReport::new(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            format!("safe_ddl: {}{suffix}", e.message),
            "safe_ddl",
        )
        .set_detail(detail)
        .set_hint(e.hint.clone()),
        PgLogLevel::ERROR,
    );
}

/// One LOG line per allowed hazard: hazard, subject, current_user, database, session_user, the
/// safe_ddl.allow value, the statement; and one record each in the audit trail.
pub fn log_allowed(findings: &[Finding], statement: &str) {
    metrics::statements(findings, Action::Allowed);
    audit::record(audit::line::Action::Allowed, findings, statement);
    let (user, session_user, database) = who();
    let allow = crate::gucs::allow_text();
    let by = match crate::inline_allow::current() {
        Some(inline) if allow.trim().is_empty() => {
            format!("the statement's inline allow (safe_ddl: allow {inline})")
        }
        Some(inline) => format!(
            "safe_ddl.allow = '{allow}' and the statement's inline allow (safe_ddl: allow {inline})"
        ),
        None => format!("safe_ddl.allow = '{allow}'"),
    };
    for f in findings {
        let message = format!(
            "safe_ddl: hazard {} on {} allowed by {by} for user \"{user}\" \
             (session user \"{session_user}\") in database \"{database}\": {statement}",
            f.hazard, f.subject
        );
        encoding::report(
            ErrorReport::new(
                PgSqlErrorCode::ERRCODE_SUCCESSFUL_COMPLETION,
                message,
                "safe_ddl",
            ),
            PgLogLevel::LOG,
        );
    }
}

/// current_user (whose privileges the statement runs with), session_user (who logged in: SET
/// ROLE and SECURITY DEFINER functions do not change it), database.
fn who() -> (String, String, String) {
    // SAFETY: the lookups are catalog reads inside a transaction; noerr/NULL handled.
    unsafe {
        let user = pg_sys::GetUserNameFromId(pg_sys::GetUserId(), true);
        let session_user = pg_sys::GetUserNameFromId(pg_sys::GetSessionUserId(), true);
        let db = pg_sys::get_database_name(pg_sys::MyDatabaseId);
        let s = |p: *mut std::ffi::c_char| {
            if p.is_null() {
                "?".to_string()
            } else {
                crate::encoding::cstr_to_rust(p)
            }
        };
        (s(user), s(session_user), s(db))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hazard::Hazard;

    fn f(detail: &str) -> Finding {
        Finding {
            hazard: Hazard::IndexBuild,
            subject: "public.t".into(),
            message: "index_build: x".into(),
            detail: detail.into(),
            hint: "h".into(),
            lock: None,
            rewrites: false,
            scans: false,
            size_bytes: None,
            in_use: None,
        }
    }

    #[test]
    fn one_finding_keeps_its_text() {
        let (m, d, h) = compose(&[f("d")]);
        assert_eq!(
            (m.as_str(), d.as_str(), h.as_str()),
            ("safe_ddl: index_build: x", "d", "h")
        );
    }

    #[test]
    fn several_findings_are_all_listed() {
        let (m, d, _) = compose(&[f("d1"), f("d2")]);
        assert!(m.contains("2 hazards"));
        assert!(d.contains("d1") && d.contains("d2"));
    }
}
