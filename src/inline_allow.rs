//! Inline allows: a comment `-- safe_ddl: allow <hazard>[, <hazard>...]` (or the same words in a
//! `/* ... */` comment) among the comments directly before a statement allows those hazards for
//! that statement only, in the hook and in check(), so the migration file records the decision.
//!
//! It is no weaker than `SET LOCAL safe_ddl.allow`: whoever can send the statement can send that
//! SET before it; the names are validated the same way (an unknown one is an ERROR); the list is
//! added to `safe_ddl.allow` under `safe_ddl.allow_ceiling` (`gucs::allow`); and it covers one
//! statement instead of the rest of the transaction. The LOG line of an allowed hazard names it.
//!
//! Parsing is pure (bytes of the query string as the server holds it; every server encoding keeps
//! ASCII bytes out of multibyte characters). `Scope` holds the statement's list while the guard
//! judges and runs it.

use std::cell::RefCell;

use crate::hazard::{AllowList, Hazard};
use crate::sqltext::{first_token, lexeme_bytes, Lexeme};

/// The inline allow of one statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inline {
    /// The names as written, comma-separated (validated: `AllowList::parse` accepts them).
    pub list: String,
}

/// A directive that cannot be honoured: an unknown hazard name, another directive than `allow`,
/// or an allow written after the previous statement on its line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    /// Byte offset of the comment in the query string.
    pub at: usize,
    pub message: String,
    pub detail: String,
    /// What to write instead (no placeholders: the comment corrected where that can be told).
    pub hint: String,
}

const MARKER: &[u8] = b"safe_ddl";

/// The inline allow of the statement Postgres locates at byte `location` of `query` (its first
/// token on PostgreSQL 18; just after the previous statement's `;` before 18, leading comments
/// included): the comments between the previous statement's `;` and the statement's first token.
pub fn before_statement(query: &[u8], location: usize) -> Result<Option<Inline>, Invalid> {
    let location = location.min(query.len());
    let first = first_token(query, location);
    // Almost every statement: no directive anywhere before it, and no scan from the start.
    if !query[..first]
        .windows(MARKER.len())
        .any(|w| w.eq_ignore_ascii_case(MARKER))
    {
        return Ok(None);
    }
    in_region(query, last_boundary(query, first), first)
}

/// The byte after the last `;` outside comments, quotes and dollar quotes before `end` (0 if none).
fn last_boundary(query: &[u8], end: usize) -> usize {
    let (mut i, mut boundary) = (0, 0);
    while i < end {
        let c = query[i];
        if let Some((next, _)) = lexeme_bytes(query, i) {
            i = next;
        } else if c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80 {
            // A word: `$` inside one (a$b$) is no dollar quote.
            while i < end
                && (query[i].is_ascii_alphanumeric()
                    || matches!(query[i], b'_' | b'$')
                    || query[i] >= 0x80)
            {
                i += 1;
            }
        } else {
            if c == b';' {
                boundary = i + 1;
            }
            i += 1;
        }
    }
    boundary.min(end)
}

/// The directives among the comments of `query[from..to]`, which holds only blanks and comments:
/// from just after the previous statement's `;` (or the start) to the statement's first token.
pub fn in_region(query: &[u8], from: usize, to: usize) -> Result<Option<Inline>, Invalid> {
    let mut names: Vec<String> = Vec::new();
    let mut i = from;
    while i < to {
        if query[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let Some((end, Lexeme::Comment)) = lexeme_bytes(query, i) else {
            break;
        };
        let end = end.min(to);
        let body = comment_body(&query[i..end]);
        if let Some(found) = directive(&body) {
            let comment = String::from_utf8_lossy(&query[i..end]).trim().to_string();
            let block = comment.starts_with("/*");
            let written = |names: &str| {
                if block {
                    format!("/* safe_ddl: allow {names} */")
                } else {
                    format!("-- safe_ddl: allow {names}")
                }
            };
            let invalid = |message: String, detail: String, hint: String| Invalid {
                at: i,
                message,
                detail,
                hint,
            };
            if from > 0 && !query[from..i].contains(&b'\n') {
                return Err(invalid(
                    "an inline allow must stand on its own line, before the statement it allows".into(),
                    format!(
                        "The comment {comment} follows the previous statement on its line, so it would \
                         allow the next statement, not that one."
                    ),
                    format!("Move {comment} to a line of its own directly before the statement it is for."),
                ));
            }
            match found {
                Directive::Allow(list) => {
                    if let Err(why) = AllowList::parse(&list) {
                        let hint = match corrected(&list) {
                            Some(fixed) => format!("Did you mean: {}", written(&fixed)),
                            None => {
                                "Name hazards from the list in the DETAIL, as safe_ddl.allow takes them."
                                    .into()
                            }
                        };
                        return Err(invalid(
                            "invalid inline allow".into(),
                            format!("In {comment}: {why}"),
                            hint,
                        ));
                    }
                    names.push(list);
                }
                Directive::Other(word, rest) => {
                    let hint = if rest.is_empty() {
                        format!(
                            "The only directive is allow, e.g. {}",
                            written("index_build")
                        )
                    } else {
                        format!("The only directive is allow: {}", written(&rest))
                    };
                    return Err(invalid(
                        format!("unknown safe_ddl directive \"{word}\" in a comment"),
                        format!("The comment: {comment}"),
                        hint,
                    ));
                }
                Directive::Empty => {
                    return Err(invalid(
                        "an inline allow names no hazard".into(),
                        format!("The comment: {comment}"),
                        format!(
                            "Name the hazards it allows, as safe_ddl.allow takes them, e.g. {}",
                            written("index_build")
                        ),
                    ));
                }
            }
        }
        i = end;
    }
    let names: Vec<&str> = names
        .iter()
        .flat_map(|l| l.split(','))
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    Ok((!names.is_empty()).then(|| Inline {
        list: names.join(", "),
    }))
}

/// The text of a comment without its delimiters.
fn comment_body(comment: &[u8]) -> String {
    let text = String::from_utf8_lossy(comment);
    let text = text.trim();
    let inner = if let Some(rest) = text.strip_prefix("--") {
        rest
    } else {
        let rest = text.strip_prefix("/*").unwrap_or(text);
        rest.strip_suffix("*/").unwrap_or(rest)
    };
    inner.trim().to_string()
}

enum Directive {
    /// `safe_ddl: allow a, b`
    Allow(String),
    /// `safe_ddl: <word> <rest>`
    Other(String, String),
    /// `safe_ddl: allow` and nothing after it
    Empty,
}

/// The directive of a comment whose text (delimiters removed) starts with `safe_ddl:`; None for
/// any other comment. The marker and the word are case-insensitive, as hazard names are.
fn directive(body: &str) -> Option<Directive> {
    let lower = body.to_ascii_lowercase();
    let rest = lower.strip_prefix("safe_ddl")?.trim_start();
    let rest = rest.strip_prefix(':')?.trim_start();
    let (word, names) = rest
        .split_once(char::is_whitespace)
        .map_or((rest, ""), |(w, n)| (w, n.trim()));
    if word != "allow" {
        return Some(Directive::Other(word.to_string(), names.to_string()));
    }
    if names.is_empty() {
        return Some(Directive::Empty);
    }
    Some(Directive::Allow(names.to_string()))
}

/// `list` with each unknown name replaced by the known one it is closest to (a typo: at most 2
/// edits, or a third of its length), if every unknown name has one.
fn corrected(list: &str) -> Option<String> {
    let known: Vec<&str> = Hazard::ALL
        .iter()
        .map(|h| h.name())
        .chain(["all", "in_use"])
        .collect();
    let mut out = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if known.contains(&name) {
            out.push(name.to_string());
            continue;
        }
        let (best, distance) = known
            .iter()
            .map(|k| (*k, edit_distance(name, k)))
            .min_by_key(|(_, d)| *d)?;
        if distance > 2.max(name.len() / 3) {
            return None;
        }
        out.push(best.to_string());
    }
    Some(out.join(", "))
}

/// Levenshtein distance of two short ASCII names.
fn edit_distance(a: &str, b: &str) -> usize {
    let b = b.as_bytes();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.bytes().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != *cb))
                .min(above + 1)
                .min(row[j] + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

/// The inline allow of the statement at `location` of the source text `query` (the hook's and
/// the executor's view); an invalid one is an ERROR.
///
/// # Safety
/// `query` is NULL or a NUL-terminated string.
pub unsafe fn of_source(query: *const std::ffi::c_char, location: i32) -> Option<String> {
    if query.is_null() {
        return None;
    }
    // SAFETY: the caller's promise.
    let bytes = unsafe { std::ffi::CStr::from_ptr(query) }.to_bytes();
    match before_statement(bytes, usize::try_from(location).unwrap_or(0)) {
        Ok(found) => found.map(|i| i.list),
        Err(e) => {
            crate::report::invalid_inline(&e, None);
            None
        }
    }
}

thread_local! {
    static CURRENT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// The inline allow of the statement the guard is judging or running, if any.
pub fn current() -> Option<String> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Makes `list` the current inline allow until dropped (also when an ERROR unwinds through it),
/// then restores the one before (a statement run by a statement).
pub struct Scope {
    previous: Option<String>,
}

impl Scope {
    pub fn set(list: Option<String>) -> Scope {
        let previous = CURRENT.with(|c| c.replace(list));
        Scope { previous }
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(sql: &str, stmt: &str) -> Result<Option<Inline>, Invalid> {
        let at = sql.find(stmt).unwrap();
        before_statement(sql.as_bytes(), at)
    }

    fn list(sql: &str, stmt: &str) -> Option<String> {
        of(sql, stmt).unwrap().map(|i| i.list)
    }

    #[test]
    fn the_comments_before_the_statement() {
        let sql = "-- safe_ddl: allow index_build\nCREATE INDEX ON t(a);";
        assert_eq!(list(sql, "-- safe"), Some("index_build".into()));
        // Before 18 Postgres locates the statement just after the previous `;`, comments included.
        let sql = "SELECT 1;\n-- why: small table\n-- safe_ddl: allow index_build, in_use\nCREATE INDEX ON t(a);";
        assert_eq!(list(sql, "\n-- why"), Some("index_build, in_use".into()));
        // On 18 at its first token.
        assert_eq!(list(sql, "CREATE"), Some("index_build, in_use".into()));
        let sql = "/* SAFE_DDL: Allow table_rewrite */ ALTER TABLE t ALTER a TYPE bigint";
        assert_eq!(list(sql, "/*"), Some("table_rewrite".into()));
        // Two directives add up.
        let sql = "-- safe_ddl: allow index_build\n/* safe_ddl: allow drop_table */\nDROP TABLE t";
        assert_eq!(list(sql, "DROP"), Some("index_build, drop_table".into()));
    }

    #[test]
    fn only_for_the_next_statement() {
        let sql = "-- safe_ddl: allow index_build\nCREATE INDEX ON t(a);\nCREATE INDEX ON t(b);";
        assert_eq!(list(sql, "CREATE INDEX ON t(b)"), None);
        // Comments inside the statement and other comments are not directives.
        let sql = "CREATE INDEX -- safe_ddl: allow index_build\n ON t(a)";
        assert_eq!(list(sql, "CREATE"), None);
        let sql = "-- the safe_ddl: allow index_build below\nCREATE INDEX ON t(a)";
        assert_eq!(list(sql, "CREATE"), None);
        // A `;` in a string or dollar quote ends no statement; the directive text there is data.
        let sql = "SELECT '-- safe_ddl: allow index_build;'; SELECT $x$;$x$, a$b$c;\nCREATE INDEX ON t(a)";
        assert_eq!(list(sql, "CREATE"), None);
        let sql = "SELECT ';'\n-- safe_ddl: allow index_build\n;CREATE INDEX ON t(a)";
        assert_eq!(list(sql, "CREATE"), None);
    }

    #[test]
    fn errors() {
        let e = of(
            "-- safe_ddl: allow idx_build\nCREATE INDEX ON t(a)",
            "CREATE",
        )
        .unwrap_err();
        assert_eq!(e.at, 0);
        assert!(e.detail.contains("Unknown hazard \"idx_build\""), "{e:?}");
        assert_eq!(e.hint, "Did you mean: -- safe_ddl: allow index_build");
        let e = of(
            "/* safe_ddl: allow in_use, drop_colum */ DROP TABLE t",
            "DROP",
        )
        .unwrap_err();
        assert_eq!(
            e.hint,
            "Did you mean: /* safe_ddl: allow in_use, drop_column */"
        );
        let e = of("-- safe_ddl: allow everything\nDROP TABLE t", "DROP").unwrap_err();
        assert!(e.hint.starts_with("Name hazards"), "{e:?}");
        let e = of(
            "SELECT 1;\n-- safe_ddl: permit index_build\nCREATE INDEX ON t(a)",
            "CREATE",
        )
        .unwrap_err();
        assert_eq!(e.at, 10);
        assert!(
            e.message.contains("unknown safe_ddl directive \"permit\""),
            "{e:?}"
        );
        let e = of(
            "SELECT 1;\n-- safe_ddl: allow\nCREATE INDEX ON t(a)",
            "CREATE",
        )
        .unwrap_err();
        assert!(e.message.contains("names no hazard"), "{e:?}");
        let e = of(
            "CREATE INDEX ON t(a); -- safe_ddl: allow index_build\nDROP TABLE u",
            "DROP",
        )
        .unwrap_err();
        assert!(e.message.contains("own line"), "{e:?}");
        let e = of(
            "SELECT 1;\n-- safe_ddl: allowed index_build\nSELECT 2",
            "SELECT 2",
        )
        .unwrap_err();
        assert!(e.message.contains("\"allowed\""), "{e:?}");
    }

    #[test]
    fn scope_restores() {
        assert_eq!(current(), None);
        {
            let _a = Scope::set(Some("index_build".into()));
            {
                let _b = Scope::set(None);
                assert_eq!(current(), None);
            }
            assert_eq!(current().as_deref(), Some("index_build"));
        }
        assert_eq!(current(), None);
    }
}
