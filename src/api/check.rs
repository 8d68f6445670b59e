//! `safe_ddl.check(sql text)`: analyse (never execute) one or many statements against the live
//! catalog, with exactly the judgement the hook applies (`guard::judge`).

use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::classify::Finding;
use crate::ddl::{AlterCmd, ConstraintKind, Ddl, LockMode, Statement, Target};
use crate::describe;
use crate::encoding::{Sql, Text};
use crate::guard;
use crate::gucs::{self, Mode};
use crate::{inline_allow, report};

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
    i32,
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
        name!(location, i32),
    ),
> {
    let sql = &sql;
    let stmts = super::parse::parse(sql);
    let mut rows = Vec::new();
    let mut script = Script::default();
    let mut previous_end = 0usize;
    for (node, location, len) in stmts {
        let span = Span::of(sql, previous_end, location, len);
        previous_end = span.end + 1;
        // The statement's inline allow, for this statement only (an invalid one is an ERROR
        // pointing at it, whatever the statement).
        let inline = match inline_allow::in_region(sql.server(), span.start, span.first) {
            Ok(found) => found.map(|i| i.list),
            Err(e) => {
                let at = char_position(sql, e.at);
                let (suffix, detail) = super::parse::located("", sql.text(), at);
                report::invalid_inline(&e, detail.map(|d| (suffix, d)));
                None
            }
        };
        let _inline = inline_allow::Scope::set(inline);
        let text = span.text(sql);
        let position = char_position(sql, span.first);
        // SAFETY: node comes from raw_parser in this call.
        if let Some(block) = unsafe { transaction_block(node) } {
            script.in_block = block;
            script.held.clear();
        }
        // SAFETY: node comes from raw_parser in this call; we are inside a transaction. As in
        // the hook, an error of the analysis itself is no answer: the statement is "unanalysed".
        let described = unsafe { describe::describe_node_guarded(node, sql, location, len) };
        let mut stmt = match described {
            Ok(Some(stmt)) => stmt,
            Ok(None) => {
                rows.push(ok_row(text, None, position));
                continue;
            }
            Err(why) => {
                let mut row = ok_row(text, None, position);
                row.2 = "unanalysed".into();
                row.8 = Some(Text(format!(
                    "safe_ddl could not analyse it ({why}); the hook lets Postgres run it unjudged \
                     (Postgres reports its own error if it rejects it)."
                )));
                rows.push(row);
                continue;
            }
        };
        script.before(&mut stmt);
        let judgement = guard::judge_holding(&stmt, &script.held);
        script.after(&stmt);
        if judgement.allowed.is_empty() && judgement.refused.is_empty() {
            rows.push(ok_row(text, Some(&stmt), position));
            continue;
        }
        let verdict = match gucs::mode() {
            Mode::Enforce => "refused",
            Mode::Warn => "warned",
            Mode::Off => "ok",
        };
        for f in &judgement.refused {
            rows.push(finding_row(&text, f, verdict, position));
        }
        for f in &judgement.allowed {
            rows.push(finding_row(&text, f, "allowed", position));
        }
    }
    TableIterator::new(rows)
}

/// Where one statement of the checked SQL lies, in server bytes: from just after the previous
/// statement's `;` (its leading comments, where inline allows are) to its end, and its first
/// token. Postgres locates a statement just after the previous `;` before 18, at its first token
/// from 18 on: both give the same span here.
struct Span {
    start: usize,
    first: usize,
    /// The byte after the statement (its `;`, or the end of the SQL).
    end: usize,
}

impl Span {
    fn of(sql: &Sql, previous_end: usize, location: i32, len: i32) -> Span {
        let total = sql.server().len();
        let location = usize::try_from(location).unwrap_or(0).min(total);
        let start = previous_end.min(location);
        let end = match usize::try_from(len) {
            Ok(l) if l > 0 => location.saturating_add(l).min(total),
            _ => total,
        };
        let first = crate::sqltext::first_token(sql.server(), location).min(end.max(location));
        Span { start, first, end }
    }

    fn text(&self, sql: &Sql) -> String {
        let len = i32::try_from(self.end - self.start).unwrap_or(0);
        sql.statement(i32::try_from(self.start).unwrap_or(0), len)
    }
}

/// The 1-based character position of server byte `at` of `sql`, as Postgres counts positions.
fn char_position(sql: &Sql, at: usize) -> i32 {
    let chars = match sql.offset(at) {
        Some(off) => sql.text()[..off].chars().count(),
        None => sql.text().chars().count(),
    };
    i32::try_from(chars + 1).unwrap_or(i32::MAX)
}

/// What earlier statements of the checked script did that check() never executes: locks taken
/// by statements of the same transaction block (`BEGIN; ...; COMMIT;` in the script), and
/// constraints added NOT VALID, which a later VALIDATE CONSTRAINT of the script scans.
#[derive(Default)]
struct Script {
    in_block: bool,
    held: Vec<(u32, LockMode)>,
    not_valid: Vec<(u32, String, ConstraintKind)>,
}

impl Script {
    /// VALIDATE CONSTRAINT of a constraint an earlier statement of the script adds NOT VALID.
    fn before(&self, stmt: &mut Statement) {
        let Ddl::AlterTable {
            table: Target { oid: Some(oid), .. },
            cmds,
        } = &mut stmt.ddl
        else {
            return;
        };
        for cmd in cmds {
            if let AlterCmd::ValidateConstraint { name, kind } = cmd {
                if *kind == ConstraintKind::Other {
                    if let Some((_, _, k)) = self
                        .not_valid
                        .iter()
                        .find(|(o, n, _)| o == oid && n == name)
                    {
                        *kind = *k;
                    }
                }
            }
        }
    }

    fn after(&mut self, stmt: &Statement) {
        if let Ddl::AlterTable {
            table: Target { oid: Some(oid), .. },
            cmds,
        } = &stmt.ddl
        {
            for cmd in cmds {
                if let AlterCmd::AddConstraint(c) = cmd {
                    if c.not_valid {
                        if let Some(name) = &c.name {
                            self.not_valid.push((*oid, name.clone(), c.kind));
                        }
                    }
                }
            }
        }
        if !self.in_block {
            return;
        }
        if let Some(lock) = stmt.lock.filter(|l| l.blocks_reads_or_writes()) {
            for oid in &stmt.targets {
                self.held.push((*oid, lock));
            }
        }
    }
}

/// BEGIN / START TRANSACTION: Some(true); COMMIT, ROLLBACK, END, PREPARE TRANSACTION: Some(false);
/// any other statement: None.
///
/// # Safety
/// `node` must be a raw parse tree node.
unsafe fn transaction_block(node: *mut pg_sys::Node) -> Option<bool> {
    use pg_sys::TransactionStmtKind::*;
    // SAFETY: a raw parse node; the cast follows the tag check.
    let kind = unsafe {
        if !pgrx::is_a(node, pg_sys::NodeTag::T_TransactionStmt) {
            return None;
        }
        (*node.cast::<pg_sys::TransactionStmt>()).kind
    };
    match kind {
        TRANS_STMT_BEGIN | TRANS_STMT_START => Some(true),
        TRANS_STMT_COMMIT
        | TRANS_STMT_ROLLBACK
        | TRANS_STMT_PREPARE
        | TRANS_STMT_COMMIT_PREPARED
        | TRANS_STMT_ROLLBACK_PREPARED => Some(false),
        _ => None,
    }
}

fn ok_row(text: String, stmt: Option<&Statement>, position: i32) -> Row {
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
        stmt.is_some_and(|s| s.ddl.validates()),
        None,
        None,
        position,
    )
}

/// `text`: the statement with its leading comments (the `statement` column); the finding's hint
/// quotes it from its first token.
fn finding_row(text: &str, f: &Finding, verdict: &str, position: i32) -> Row {
    (
        Text(text.to_string()),
        Some(Text::from(f.hazard.name())),
        Text::from(verdict),
        f.lock.map(|l| Text::from(l.name())),
        Some(Text(f.subject.clone())),
        f.rewrites,
        f.scans,
        f.size_bytes,
        Some(Text(f.hint.clone())),
        position,
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
