//! One hazard rule per file. Each exposes `check(&RuleInput) -> Vec<Finding>`; this file only
//! lists them and holds the few text helpers they share.

use crate::classify::{Finding, RuleInput};
use crate::ddl::LockMode;
use crate::facts::TableFacts;
use crate::hazard::Hazard;

pub mod active_column_change;
pub mod attach_work;
pub mod constraint_validation;
pub mod domain_check;
pub mod drop_column;
pub mod drop_table;
pub mod index_build;
pub mod index_drop;
pub mod move_all;
pub mod not_null_scan;
pub mod partition_detach;
pub mod partition_scan;
pub mod refresh_matview;
pub mod rename;
pub mod table_rewrite;
pub mod typed_tables;

pub type Rule = fn(&RuleInput) -> Vec<Finding>;

pub const ALL: &[Rule] = &[
    // First: what breaks every write of the table comes before what only takes a lock.
    active_column_change::check,
    table_rewrite::check,
    index_build::check,
    index_drop::check,
    not_null_scan::check,
    constraint_validation::check,
    rename::check,
    drop_column::check,
    drop_table::check,
    // ATTACH PARTITION's builds and validations first: their recipes run before the bound
    // scan's, which ends with the ATTACH itself.
    attach_work::check,
    partition_scan::check,
    partition_detach::check,
    refresh_matview::check,
    domain_check::check,
    move_all::check,
    typed_tables::check,
];

/// Where the statement's own text goes in a HINT; `classify` puts it there (`with_statement`).
pub(crate) const STATEMENT: &str = "<statement>";

/// `hint` with the statement's own text (one line, `sqltext::one_line`) in place of
/// `STATEMENT`, so the override SQL runs as pasted. An empty text (unit tests) leaves it.
pub(crate) fn with_statement(hint: &str, text: &str) -> String {
    if text.is_empty() {
        hint.to_string()
    } else {
        hint.replace(STATEMENT, text)
    }
}

/// The override sentence every HINT ends with (`<statement>` is filled in by `classify`).
pub(crate) fn override_text(hazard: Hazard, in_transaction_block: bool) -> String {
    let how = if in_transaction_block {
        format!("BEGIN; SET LOCAL safe_ddl.allow = '{hazard}'; <statement>; COMMIT;")
    } else {
        // Statements that cannot run in a transaction block cannot use SET LOCAL.
        format!("SET safe_ddl.allow = '{hazard}'; <statement>; RESET safe_ddl.allow;")
    };
    format!("To take the lock anyway: {how}\nSee {}", hazard.doc_page())
}

/// A finding about table `t`.
pub(crate) struct Draft {
    pub lock: LockMode,
    pub rewrites: bool,
    pub scans: bool,
}

impl Draft {
    pub fn finding(
        self,
        hazard: Hazard,
        t: &TableFacts,
        message: String,
        detail: String,
        hint: String,
    ) -> Finding {
        Finding {
            hazard,
            subject: t.qualified_name.clone(),
            message: format!("{hazard}: {message}"),
            detail,
            hint,
            lock: Some(self.lock),
            rewrites: self.rewrites,
            scans: self.scans || self.rewrites,
            size_bytes: Some(t.size_bytes),
            in_use: None,
        }
    }
}

/// Usage tracking saw `column` of `t` (or `t` itself) created and nobody use it since (see
/// `RelationUsage::never_used`): dropping or renaming it breaks no client, so it is no hazard,
/// like an object created in this transaction.
pub(crate) fn never_used(t: &TableFacts, column: Option<&str>) -> bool {
    t.usage.as_ref().is_some_and(|u| u.never_used(column))
}

/// Marks a drop or rename finding of `column` of `t` (or of `t` itself) as in use when usage
/// tracking says so: DETAIL says when it was last used, HINT how to wait or override.
pub(crate) fn mark_in_use(mut f: Finding, t: &TableFacts, column: Option<&str>) -> Finding {
    let Some(why) = t
        .usage
        .as_ref()
        .and_then(|u| u.in_use(&t.qualified_name, column))
    else {
        return f;
    };
    let name = &t.qualified_name;
    f.detail = format!("{}\n{why}", f.detail);
    f.hint = format!(
        "Wait until nothing has used it for safe_ddl.usage_window; see \
         SELECT * FROM safe_ddl.column_usage WHERE relation = '{name}'::regclass;\n\
         Then the plain allow below works. To override while it is in use: \
         BEGIN; SET LOCAL safe_ddl.allow = '{}, in_use'; <statement>; COMMIT;\n{}",
        f.hazard, f.hint
    );
    f.in_use = Some(why);
    f
}

/// A SQL string literal.
pub(crate) fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// An identifier as written (`"Odd ""x"""`) -> its name (`Odd "x"`).
pub(crate) fn unquoted(ident: &str) -> String {
    match ident.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => ident.to_string(),
    }
}

/// "holds an ACCESS EXCLUSIVE lock on public.t (blocks all reads and writes)"
pub(crate) fn holds(lock: LockMode, table: &str) -> String {
    format!(
        "holds {} lock on {table} ({})",
        lock_article(lock),
        blocks_text(lock)
    )
}

fn lock_article(lock: LockMode) -> String {
    let words = match lock {
        LockMode::AccessShare => "ACCESS SHARE",
        LockMode::RowShare => "ROW SHARE",
        LockMode::RowExclusive => "ROW EXCLUSIVE",
        LockMode::ShareUpdateExclusive => "SHARE UPDATE EXCLUSIVE",
        LockMode::Share => "SHARE",
        LockMode::ShareRowExclusive => "SHARE ROW EXCLUSIVE",
        LockMode::Exclusive => "EXCLUSIVE",
        LockMode::AccessExclusive => "ACCESS EXCLUSIVE",
    };
    let article = if matches!(
        lock,
        LockMode::AccessShare | LockMode::AccessExclusive | LockMode::Exclusive
    ) {
        "an"
    } else {
        "a"
    };
    format!("{article} {words}")
}

fn blocks_text(lock: LockMode) -> &'static str {
    match lock {
        LockMode::AccessExclusive => "blocks all reads and writes",
        LockMode::Share | LockMode::ShareRowExclusive | LockMode::Exclusive => {
            "blocks INSERT, UPDATE, DELETE"
        }
        _ => "blocks no reads or writes",
    }
}

/// Strip one trailing `;` and blanks.
pub(crate) fn stmt(sql: &str) -> &str {
    crate::sqltext::trimmed(sql)
}

/// A name for a constraint or index the recipe creates: Postgres' own style, truncated to 63 bytes.
pub(crate) fn made_name(table: &str, parts: &[&str], suffix: &str) -> String {
    let bare = |s: &str| s.trim_matches('"').to_string();
    let table = bare(table.rsplit('.').next().unwrap_or(table));
    let mut name = table;
    for p in parts {
        name.push('_');
        name.push_str(&bare(p));
    }
    name.push('_');
    name.push_str(suffix);
    name.truncate(63);
    if name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        name
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use crate::ddl::{Ddl, LockMode, Statement, Target};
    use crate::facts::TableFacts;

    pub fn facts(oid: u32, name: &str) -> TableFacts {
        TableFacts {
            oid,
            qualified_name: format!("public.{name}"),
            schema: "public".into(),
            relkind: b'r',
            temporary: false,
            created_in_transaction: false,
            size_bytes: 42 << 20,
            size_exact: true,
            inheritance_children: false,
            usage: None,
            held_lock: None,
            column_changes: vec![],
        }
    }

    /// A committed table that holds no data: measured at 0 pages.
    pub fn empty(oid: u32, name: &str) -> TableFacts {
        TableFacts {
            size_bytes: 0,
            ..facts(oid, name)
        }
    }

    /// A table with one page (one row, or rows deleted but not truncated).
    pub fn one_page(oid: u32, name: &str) -> TableFacts {
        TableFacts {
            size_bytes: 8192,
            ..facts(oid, name)
        }
    }

    pub fn target(oid: u32, name: &str) -> Target {
        Target {
            oid: Some(oid),
            written: name.into(),
        }
    }

    pub fn statement(ddl: Ddl, sql: &str) -> Statement {
        Statement {
            ddl,
            tag: String::new(),
            lock: None,
            text: sql.into(),
            targets: vec![],
        }
    }

    /// A statement that takes `lock` (as `describe` computes it) in the caller's transaction.
    pub fn locking(ddl: Ddl, sql: &str, lock: LockMode) -> Statement {
        Statement {
            lock: Some(lock),
            ..statement(ddl, sql)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_override_line_carries_the_statement() {
        let hint = super::override_text(crate::hazard::Hazard::IndexBuild, true);
        let text = crate::sqltext::one_line("CREATE INDEX i\n  ON t (v); -- why\n");
        assert_eq!(
            super::with_statement(&hint, &text).lines().next(),
            Some("To take the lock anyway: BEGIN; SET LOCAL safe_ddl.allow = 'index_build'; CREATE INDEX i ON t (v); COMMIT;")
        );
    }
}
