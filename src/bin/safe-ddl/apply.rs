//! Ephemeral mode: apply a migration file as a migration tool would, each statement checked
//! (safe_ddl.check) in the state the earlier ones left, then executed; a statement the guard
//! refuses is run again with an allow, so later statements see its effect and every finding
//! of the file is reported, not only the first.

use crate::format::Finding;
use crate::libpq::{Conn, PgError};
use crate::position::Source;
use crate::rows::{self, Located, Row};
use crate::Fail;

/// One statement of the file.
struct Stmt {
    at: Located,
    text: String,
}

/// What stopped a pass over the file.
enum Stop {
    /// A statement that cannot run inside a transaction block (SQLSTATE 25001).
    NeedsAutocommit,
    Fail(Fail),
}

impl From<Fail> for Stop {
    fn from(f: Fail) -> Stop {
        Stop::Fail(f)
    }
}

const ALLOW_ALL: &str = "all, in_use";
const SAVEPOINT: &str = "safe_ddl_cli";

/// `autocommit`: a file without its own transaction control runs statement by statement too.
pub fn apply_file(conn: &Conn, src: &Source, autocommit: bool) -> Result<Vec<Finding>, Fail> {
    // The server's parser splits the file (BEGIN ATOMIC bodies, dollar quotes...); a syntax
    // error (or an unknown hazard in an inline allow) is reported at its place.
    let rows = rows::check(conn, &src.text).map_err(|e| Fail::at(src, &e, 1, false, None))?;
    let located = rows::locate(src, &rows);
    let mut stmts: Vec<Stmt> = Vec::new();
    for (row, at) in rows.iter().zip(located) {
        if stmts.last().is_none_or(|s| s.at != at) {
            stmts.push(Stmt {
                at,
                text: row.statement.clone(),
            });
        }
    }
    let own_control = stmts
        .iter()
        .any(|s| transaction_control(src.text_at(s.at.location)));
    if !own_control && !autocommit {
        exec(conn, src, "BEGIN")?;
        match run(conn, src, &stmts, true) {
            Ok(findings) => {
                conn.exec("COMMIT")
                    .map_err(|e| Fail::at(src, &e, 1, false, Some(src.chars().max(1))))?;
                return Ok(findings);
            }
            Err(Stop::NeedsAutocommit) => exec(conn, src, "ROLLBACK")?,
            Err(Stop::Fail(f)) => return Err(f),
        }
    }
    // As written, autocommit: the file's own BEGIN/COMMIT, or statements each on their own.
    let findings = match run(conn, src, &stmts, false) {
        Ok(f) => f,
        Err(Stop::Fail(f)) => return Err(f),
        Err(Stop::NeedsAutocommit) => unreachable!("run(.., false) never asks for autocommit"),
    };
    if conn.in_transaction() {
        // A file that leaves its transaction open: the migration tool's session would end it
        // with the connection; commit, as the next file expects to build on it.
        exec(conn, src, "COMMIT")?;
    }
    Ok(findings)
}

fn exec(conn: &Conn, src: &Source, sql: &str) -> Result<(), Fail> {
    conn.exec(sql)
        .map(drop)
        .map_err(|e| Fail::new(format!("{}: {sql}: {}", src.name, e.message)))
}

fn run(
    conn: &Conn,
    src: &Source,
    stmts: &[Stmt],
    one_transaction: bool,
) -> Result<Vec<Finding>, Stop> {
    let mut findings = Vec::new();
    for s in stmts {
        let fail_at = |e: &PgError, statement_position: bool| {
            Fail::at(src, e, s.at.start, statement_position, Some(s.at.location))
        };
        // The statement's own error: in one transaction, "cannot run inside a transaction
        // block" starts the file over statement by statement; anything else stops the check.
        let failed = |e: &PgError| -> Stop {
            if e.sqlstate == "25001" && one_transaction {
                Stop::NeedsAutocommit
            } else {
                fail_at(e, true).into()
            }
        };
        // Judged in the current state: earlier statements really ran.
        let rows: Vec<Row> = rows::check(conn, &s.text).map_err(|e| fail_at(&e, false))?;
        let guard_refused_row = rows.iter().any(|r| r.verdict == "refused");
        findings.extend(
            rows.iter()
                .filter(|r| r.is_finding())
                .map(|r| r.finding(src, &s.at, false)),
        );
        let control = transaction_control(src.text_at(s.at.location));
        let in_tx = conn.in_transaction();
        if in_tx && !control {
            exec(conn, src, &format!("SAVEPOINT {SAVEPOINT}"))?;
        }
        match conn.exec(&s.text) {
            Ok(_) => {}
            Err(e) if refusal(&e) => {
                if in_tx && !control {
                    exec(conn, src, &format!("ROLLBACK TO SAVEPOINT {SAVEPOINT}"))?;
                }
                let before = conn
                    .exec("SELECT pg_catalog.current_setting('safe_ddl.allow')")
                    .map_err(|e| fail_at(&e, false))?
                    .get(0, 0)
                    .unwrap_or_default();
                let local = if conn.in_transaction() {
                    "true"
                } else {
                    "false"
                };
                let set = |value: &str| {
                    conn.exec_params(
                        "SELECT pg_catalog.set_config('safe_ddl.allow', $1, $2::boolean)",
                        &[Some(value), Some(local)],
                    )
                    .map(drop)
                    .map_err(|e| fail_at(&e, false))
                };
                set(ALLOW_ALL)?;
                // On an error the transaction (if any) is aborted and the run stops or starts
                // over: the previous allow matters only after a success.
                match conn.exec(&s.text) {
                    Ok(_) => set(&before)?,
                    Err(e) => return Err(failed(&e)),
                }
                if !guard_refused_row {
                    findings.push(from_refusal(&e, src, &s.at, &s.text));
                }
            }
            Err(e) => return Err(failed(&e)),
        }
        if in_tx && !control && conn.in_transaction() {
            exec(conn, src, &format!("RELEASE SAVEPOINT {SAVEPOINT}"))?;
        }
    }
    Ok(findings)
}

/// The guard's refusal: ERROR 55000 whose message starts with "safe_ddl:".
fn refusal(e: &PgError) -> bool {
    e.sqlstate == "55000" && e.message.starts_with("safe_ddl:")
}

/// A refusal check() did not foresee, reported from the error itself:
/// "safe_ddl: HAZARD: what" -> hazard HAZARD, hint: message, DETAIL, HINT.
fn from_refusal(e: &PgError, src: &Source, at: &Located, text: &str) -> Finding {
    let rest = e.message.trim_start_matches("safe_ddl:").trim_start();
    let hazard = rest
        .split_once(':')
        .map(|(h, _)| h)
        .filter(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .unwrap_or("refused");
    let mut hint = e.message.clone();
    for part in [&e.detail, &e.hint].into_iter().flatten() {
        hint += "\n";
        hint += part;
    }
    let row = Row {
        statement: text.to_string(),
        hazard: Some(hazard.to_string()),
        verdict: "refused".into(),
        hint: Some(hint),
        ..Row::default()
    };
    row.finding(src, at, false)
}

/// Whether a statement (from its first token) is transaction control: the file manages its
/// own transactions, so it runs as written.
pub fn transaction_control(stmt: &str) -> bool {
    let mut words = stmt
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_uppercase);
    let first = words.next().unwrap_or_default();
    let second = words.next().unwrap_or_default();
    match first.as_str() {
        "BEGIN" | "COMMIT" | "END" | "ROLLBACK" | "ABORT" | "SAVEPOINT" | "RELEASE" => true,
        "START" | "PREPARE" => second == "TRANSACTION",
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_control_statements() {
        for s in [
            "BEGIN",
            "begin;",
            "START TRANSACTION ISOLATION LEVEL SERIALIZABLE",
            "COMMIT",
            "commit prepared 'x'",
            "END",
            "ROLLBACK TO SAVEPOINT a",
            "abort",
            "SAVEPOINT a",
            "RELEASE a",
            "PREPARE TRANSACTION 'x'",
        ] {
            assert!(transaction_control(s), "{s}");
        }
        for s in [
            "CREATE FUNCTION f() RETURNS int BEGIN ATOMIC SELECT 1; END",
            "PREPARE q AS SELECT 1",
            "START_X",
            "SELECT 'BEGIN'",
            "",
        ] {
            assert!(!transaction_control(s), "{s}");
        }
    }

    #[test]
    fn refusal_hazard() {
        let e = PgError {
            sqlstate: "55000".into(),
            message: "safe_ddl: index_build: CREATE INDEX on table public.t blocks writes".into(),
            detail: Some("d".into()),
            hint: Some("h".into()),
            position: None,
        };
        assert!(refusal(&e));
        let src = Source::new("f", "\ncreate index on t (a)");
        let at = Located {
            location: 2,
            start: 2,
        };
        let f = from_refusal(&e, &src, &at, "create index on t (a)");
        assert_eq!(f.hazard.as_deref(), Some("index_build"));
        assert_eq!((f.line, f.column), (2, 1));
        assert_eq!(
            f.hint.as_deref(),
            Some("safe_ddl: index_build: CREATE INDEX on table public.t blocks writes\nd\nh")
        );
        let odd = PgError {
            message: "safe_ddl: something else".into(),
            ..e
        };
        assert_eq!(
            from_refusal(&odd, &src, &at, "x").hazard.as_deref(),
            Some("refused")
        );
    }
}
