//! safe_ddl.check()'s rows, and where their statements are in the checked file.

use crate::format::Finding;
use crate::libpq::{Conn, PgError};
use crate::position::{leading_trivia, Source};

/// One row of `safe_ddl.check(sql)`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row {
    /// From just after the previous statement's `;` (its leading comments included), trimmed.
    pub statement: String,
    pub hazard: Option<String>,
    pub verdict: String,
    pub lock_mode: Option<String>,
    pub relation: Option<String>,
    pub rewrites: bool,
    pub scans: bool,
    pub table_size: Option<i64>,
    pub hint: Option<String>,
    /// 1-based character position of the statement's first token in the checked SQL (servers
    /// before issue 17 have no such column: then the statement is looked up in the text).
    pub location: Option<usize>,
}

/// Where a row's statement is in the file (1-based character positions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Located {
    /// Its first token.
    pub location: usize,
    /// The start of its text as check() gives it (leading comments included).
    pub start: usize,
}

/// `SELECT * FROM safe_ddl.check($1)`, columns found by name.
pub fn check(conn: &Conn, sql: &str) -> Result<Vec<Row>, PgError> {
    let res = conn.exec_params("SELECT * FROM safe_ddl.check($1)", &[Some(sql)])?;
    let col = |name: &str| res.column(name);
    let (statement, hazard, verdict, lock_mode, relation) = (
        col("statement"),
        col("hazard"),
        col("verdict"),
        col("lock_mode"),
        col("relation"),
    );
    let (rewrites, scans, table_size, hint, location) = (
        col("rewrites"),
        col("scans"),
        col("table_size"),
        col("hint"),
        col("location"),
    );
    let get = |row, c: Option<usize>| c.and_then(|c| res.get(row, c));
    Ok((0..res.rows())
        .map(|r| Row {
            statement: get(r, statement).unwrap_or_default(),
            hazard: get(r, hazard),
            verdict: get(r, verdict).unwrap_or_default(),
            lock_mode: get(r, lock_mode),
            relation: get(r, relation),
            rewrites: get(r, rewrites).as_deref() == Some("t"),
            scans: get(r, scans).as_deref() == Some("t"),
            table_size: get(r, table_size).and_then(|s| s.parse().ok()),
            hint: get(r, hint),
            location: get(r, location).and_then(|s| s.parse().ok()),
        })
        .collect())
}

/// The error of calling check() where the extension is not installed.
pub fn missing_extension(e: &PgError) -> bool {
    // invalid_schema_name (no schema safe_ddl), undefined_function (an older or partial one)
    matches!(e.sqlstate.as_str(), "3F000" | "42883") && e.message.contains("safe_ddl")
}

impl Row {
    /// A hazard (refused, warned, allowed) or a statement safe_ddl could not analyse.
    pub fn is_finding(&self) -> bool {
        self.hazard.is_some() || self.verdict == "unanalysed"
    }

    /// The finding, at `at` in `src`; the table size only if `sizes` (not in ephemeral mode).
    pub fn finding(&self, src: &Source, at: &Located, sizes: bool) -> Finding {
        let (line, column) = src.line_col(at.location);
        let skip = at.location.saturating_sub(at.start);
        Finding {
            file: src.name.clone(),
            line,
            column,
            statement: self.statement.chars().skip(skip).collect(),
            hazard: self.hazard.clone(),
            verdict: self.verdict.clone(),
            lock: self.lock_mode.clone(),
            relation: self.relation.clone(),
            table_size: self.table_size.filter(|_| sizes),
            rewrites: self.rewrites,
            scans: self.scans,
            hint: self.hint.clone(),
        }
    }
}

/// Where each row's statement is in `src`. With the location column, its statement text is
/// found just before it; without (older servers), rows are looked up in order (rows of one
/// statement are consecutive and carry the same text).
pub fn locate(src: &Source, rows: &[Row]) -> Vec<Located> {
    let mut out: Vec<Located> = Vec::with_capacity(rows.len());
    let mut cursor = 1;
    for (i, row) in rows.iter().enumerate() {
        let located = match row.location {
            Some(location) => Located {
                location,
                start: src.start_of(&row.statement, location).unwrap_or(location),
            },
            None if i > 0
                && rows[i - 1].statement == row.statement
                && rows[i - 1].location.is_none() =>
            {
                out[i - 1]
            }
            None => {
                let start = src.find_from(&row.statement, cursor).unwrap_or(cursor);
                cursor = start + row.statement.chars().count();
                Located {
                    location: start + leading_trivia(&row.statement),
                    start,
                }
            }
        };
        out.push(located);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(statement: &str, location: Option<usize>) -> Row {
        Row {
            statement: statement.into(),
            location,
            ..Row::default()
        }
    }

    #[test]
    fn located_by_column() {
        let src = Source::new("f", "select 1;\n-- safe_ddl: allow x\nselect 1;");
        let rows = [
            row("select 1", Some(1)),
            row("-- safe_ddl: allow x\nselect 1", Some(32)),
            row("-- safe_ddl: allow x\nselect 1", Some(32)),
        ];
        let l = locate(&src, &rows);
        assert_eq!(
            l[0],
            Located {
                location: 1,
                start: 1
            }
        );
        assert_eq!(
            l[1],
            Located {
                location: 32,
                start: 11
            }
        );
        assert_eq!(l[2], l[1]);
        let f = rows[1].finding(&src, &l[1], true);
        assert_eq!((f.line, f.column, f.statement.as_str()), (3, 1, "select 1"));
    }

    #[test]
    fn located_by_text() {
        let src = Source::new("f", "select 1;\n  /* c */ select 1;");
        let rows = [row("select 1", None), row("/* c */ select 1", None)];
        let l = locate(&src, &rows);
        assert_eq!(
            l[0],
            Located {
                location: 1,
                start: 1
            }
        );
        assert_eq!(
            l[1],
            Located {
                location: 21,
                start: 13
            }
        );
        assert_eq!(src.line_col(21), (2, 11));
    }
}
