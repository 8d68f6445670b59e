//! The coverage audit (issue 16): every statement kind that reaches ProcessUtility and every ALTER
//! subcommand, with the lock Postgres takes, the work that grows with the data, and what safe_ddl
//! does about it. `table` holds the rows (data only); this file holds their types, the rendering
//! of `docs/hazards/coverage.md`, and the tests that fail when the server knows a statement kind
//! or ALTER TABLE subcommand the table has no row for.

mod table;

use crate::hazard::Hazard;

pub use table::ROWS;

/// Which list of the server a row belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    /// A parse node tag (`T_...Stmt` of nodes.h / nodetags.h), without the `T_`.
    Statement,
    /// An `AlterTableType` (ALTER TABLE, INDEX, VIEW, MATERIALIZED VIEW, SEQUENCE, FOREIGN TABLE,
    /// TYPE of a composite type: all go through AlterTableStmt).
    AlterTable,
    /// `AlterDomainStmt.subtype`.
    AlterDomain,
    /// ALTER TYPE of a base, enum or composite type (AlterTypeStmt, AlterEnumStmt, and the
    /// composite type forms of AlterTableStmt/RenameStmt).
    AlterType,
    /// `AlterPublicationAction`, and option changes.
    AlterPublication,
    /// `AlterSubscriptionType`.
    AlterSubscription,
    /// AlterExtensionStmt and AlterExtensionContentsStmt.
    AlterExtension,
}

impl Section {
    pub const ALL: &'static [Section] = &[
        Section::Statement,
        Section::AlterTable,
        Section::AlterDomain,
        Section::AlterType,
        Section::AlterPublication,
        Section::AlterSubscription,
        Section::AlterExtension,
    ];

    fn heading(self) -> &'static str {
        match self {
            Section::Statement => "Statements (parse node tags)",
            Section::AlterTable => "ALTER TABLE subcommands (AlterTableType)",
            Section::AlterDomain => "ALTER DOMAIN (AlterDomainStmt subtypes)",
            Section::AlterType => "ALTER TYPE (base, enum and composite types)",
            Section::AlterPublication => "ALTER PUBLICATION (AlterPublicationAction)",
            Section::AlterSubscription => "ALTER SUBSCRIPTION (AlterSubscriptionType)",
            Section::AlterExtension => "ALTER EXTENSION",
        }
    }

    fn kind_column(self) -> &'static str {
        match self {
            Section::Statement => "Node tag",
            Section::AlterTable => "AlterTableType",
            Section::AlterDomain => "Subtype",
            Section::AlterType | Section::AlterExtension => "Node / form",
            Section::AlterPublication => "Action",
            Section::AlterSubscription => "AlterSubscriptionType",
        }
    }
}

/// What safe_ddl does with a statement of the kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Refused (enforce mode) or warned about (warn mode) as these hazards when the reason's
    /// condition holds, with the usual exemptions (new, temporary, empty, or below
    /// `safe_ddl.min_table_size`) and `safe_ddl.allow`; otherwise its lock wait is bounded.
    Refused(&'static [Hazard]),
    /// Strong lock (SHARE or stronger on a table) but no work that grows with the data: the lock
    /// wait is bounded by `safe_ddl.lock_timeout` and retried; nothing is refused.
    BoundedLockOnly,
    /// Blocks no reads or writes of application tables (no table lock, or one weaker than SHARE):
    /// passes, judged by nothing.
    Allowed,
    /// A strong lock without work that grows with the data, whose wait safe_ddl does NOT bound
    /// today (the statement passes through untouched).
    UnboundedLock,
    /// A strong lock held while doing work that grows with the data, NOT refused today: a known
    /// gap of the guard, listed so that it is visible until a rule covers it.
    Gap,
    /// Not DDL (transactions, settings, cursors, COPY, ...): passes through untouched.
    NotDdl,
    /// Never reaches ProcessUtility: planned statements (judged, where at all, by the executor
    /// hook) and nodes that are only parts of other statements.
    NotUtility,
    /// Internal to Postgres: made by parse analysis or by another command, never in a statement
    /// as a client writes it; judged as the statement it comes from.
    Internal,
    /// Details are per subcommand: see the section the reason names.
    PerSubcommand,
}

impl Verdict {
    fn text(self) -> String {
        match self {
            Verdict::Refused(hazards) => {
                let names: Vec<String> = hazards
                    .iter()
                    .map(|h| format!("[{h}]({h}.md)", h = h.name()))
                    .collect();
                format!("refused: {}", names.join(", "))
            }
            Verdict::BoundedLockOnly => "lock wait bounded".into(),
            Verdict::Allowed => "allowed".into(),
            Verdict::UnboundedLock => "**not bounded**".into(),
            Verdict::Gap => "**gap: not refused**".into(),
            Verdict::NotDdl => "not DDL".into(),
            Verdict::NotUtility => "not utility".into(),
            Verdict::Internal => "internal".into(),
            Verdict::PerSubcommand => "per subcommand".into(),
        }
    }
}

/// The majors (of those safe_ddl supports, 15 to 18) in which the kind exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Majors {
    pub from: u32,
    /// The last major that has it; None: still there in 18.
    pub until: Option<u32>,
}

impl Majors {
    pub const ALL: Majors = Majors {
        from: 15,
        until: None,
    };

    pub fn contains(self, major: u32) -> bool {
        major >= self.from && self.until.is_none_or(|u| major <= u)
    }

    fn text(self) -> String {
        match (self.from, self.until) {
            (15, None) => String::new(),
            (f, None) => format!("{f}+"),
            (15, Some(u)) => format!("until {u}"),
            (f, Some(u)) if f == u => format!("{f} only"),
            (f, Some(u)) => format!("{f} to {u}"),
        }
    }
}

/// One row of the audit.
#[derive(Clone, Copy, Debug)]
pub struct Row {
    pub section: Section,
    /// The node tag without `T_` ("RefreshMatViewStmt"), the AlterTableType ("AT_AddColumn"),
    /// the subtype or action.
    pub kind: &'static str,
    /// The SQL forms the row covers.
    pub sql: &'static str,
    /// The heavyweight lock Postgres takes ("ACCESS EXCLUSIVE", "none", ...).
    pub lock: &'static str,
    /// On which objects.
    pub objects: &'static str,
    /// Work that grows with the data ("none" when there is none).
    pub data_work: &'static str,
    pub verdict: Verdict,
    /// Why: what the guard does today, and when.
    pub reason: &'static str,
    pub majors: Majors,
    /// Where a major differs.
    pub notes: &'static str,
}

impl Row {
    /// The row exists only in `from..=until` (None: to the newest).
    pub const fn majors(self, from: u32, until: Option<u32>) -> Row {
        Row {
            majors: Majors { from, until },
            ..self
        }
    }

    pub const fn note(self, notes: &'static str) -> Row {
        Row { notes, ..self }
    }
}

/// A row with no per-major difference.
#[allow(clippy::too_many_arguments)]
pub const fn row(
    section: Section,
    kind: &'static str,
    sql: &'static str,
    lock: &'static str,
    objects: &'static str,
    data_work: &'static str,
    verdict: Verdict,
    reason: &'static str,
) -> Row {
    Row {
        section,
        kind,
        sql,
        lock,
        objects,
        data_work,
        verdict,
        reason,
        majors: Majors::ALL,
        notes: "",
    }
}

/// The rows of `section` that exist in `major`.
pub fn kinds(section: Section, major: u32) -> Vec<&'static str> {
    ROWS.iter()
        .filter(|r| r.section == section && r.majors.contains(major))
        .map(|r| r.kind)
        .collect()
}

/// A table cell: no line breaks, no unescaped pipes.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// `docs/hazards/coverage.md`, rendered from `ROWS`.
pub fn render() -> String {
    let mut out = String::new();
    out.push_str(INTRO);
    for section in Section::ALL {
        out.push_str(&format!("\n## {}\n\n", section.heading()));
        out.push_str(&format!(
            "| {} | SQL | Lock | On | Work that grows with the data | Verdict | Why | Majors |\n",
            section.kind_column()
        ));
        out.push_str("|---|---|---|---|---|---|---|---|\n");
        for r in ROWS.iter().filter(|r| r.section == *section) {
            let majors = match (r.majors.text(), r.notes) {
                (m, "") => m,
                (m, n) if m.is_empty() => n.to_string(),
                (m, n) => format!("{m}; {n}"),
            };
            out.push_str(&format!(
                "| `{}` | {} | {} | {} | {} | {} | {} | {} |\n",
                r.kind,
                cell(r.sql),
                cell(r.lock),
                cell(r.objects),
                cell(r.data_work),
                r.verdict.text(),
                cell(r.reason),
                cell(&majors),
            ));
        }
    }
    out
}

const INTRO: &str = "\
<!-- Generated from src/coverage/table.rs by src/coverage/mod.rs: do not edit by hand. Regenerate
     with SAFE_DDL_BLESS=1 cargo pgrx test pg15 (or cargo test --features \"pg15 pg_test\"). -->
# Coverage: every statement kind and what safe_ddl does with it

This page accounts for every statement kind that reaches Postgres' `ProcessUtility` (the parse
node tags of PostgreSQL 15, 17 and 18) and every subcommand of the ALTER statements that have
subcommand lists, so that nothing is silently unclassified. A unit test fails when the server
safe_ddl is built for knows a node tag, `AlterTableType`, `AlterPublicationAction` or
`AlterSubscriptionType` this table has no row for.

How to read it:

- **Lock** is the heavyweight lock Postgres takes, in the names of the
  [lock table](https://www.postgresql.org/docs/current/explicit-locking.html): `SHARE` and
  stronger block writes (`INSERT`, `UPDATE`, `DELETE`) while held *and while waited for* (every
  later query queues behind the waiting statement); `ACCESS EXCLUSIVE` blocks reads too. `SHARE
  UPDATE EXCLUSIVE` and weaker block no reads or writes.
- **Work that grows with the data** is what makes a strong lock long: a scan, a rewrite, an
  index build, a validation or a recomputation.
- **Verdict** is what safe_ddl does:
  - *refused*: the named hazards are refused in `enforce` mode (warned about in `warn` mode)
    when the condition in *Why* holds, unless the tables are exempt (created in this
    transaction, temporary, empty, or below `safe_ddl.min_table_size`) or `safe_ddl.allow`
    names the hazard; otherwise the lock wait is bounded as below.
  - *lock wait bounded*: a strong lock but no work that grows with the data; safe_ddl waits for
    the lock at most `safe_ddl.lock_timeout` and retries ([lock_timeout](../lock_timeout.md)).
  - *allowed*: blocks no reads or writes of application tables; passes.
  - ***not bounded***: a strong lock without data work that safe_ddl does not bound yet.
  - ***gap: not refused***: a strong lock held while doing work that grows with the data that
    no rule refuses yet. Listed so that it stays visible until a rule covers it.
  - *not DDL*: transactions, settings, cursors, `COPY`: passes through untouched.
  - *not utility*: never reaches `ProcessUtility` (planned statements such as `SELECT`,
    `UPDATE`; large `UPDATE`/`DELETE` are judged by the executor hook as
    [large_dml](large_dml.md)), or a node that is only part of another statement.
  - *internal*: made by Postgres itself (parse analysis, `ALTER COLUMN TYPE` rebuilding
    dependent objects), never written by a client; judged as the statement it comes from.
- **Majors**: empty when the row holds for 15, 17 and 18 alike.

The *rewrite backstop*, an event trigger on `table_rewrite` that `CREATE EXTENSION safe_ddl`
creates in its database, refuses any table rewrite of `ALTER TABLE` / `ALTER TYPE` that the hook
did not foresee, as `table_rewrite`, after the lock is taken but before the rewrite starts. It
sees rewrites only: not file copies (`SET TABLESPACE`), scans, index builds or `VACUUM FULL`,
`CLUSTER`, `REFRESH MATERIALIZED VIEW`.

Statements run inside `CREATE EXTENSION` / `ALTER EXTENSION UPDATE` scripts, and the
sub-statements Postgres generates for a statement safe_ddl already judged, are not judged again.
";

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::path::{Path, PathBuf};
    use std::process::Command;

    const MAJOR: u32 = pgrx::pg_sys::PG_MAJORVERSION_NUM;

    /// `pg_config --version` -> the major ("PostgreSQL 15.18" -> 15).
    fn major_of(pg_config: &str) -> Option<u32> {
        let out = Command::new(pg_config).arg("--version").output().ok()?;
        let text = String::from_utf8_lossy(&out.stdout);
        text.split_whitespace()
            .nth(1)?
            .split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    }

    /// The pg_config of the major these tests are built for: $PG_CONFIG (pg_test/run.sh sets it),
    /// then pgrx's config.toml ($PGRX_HOME, else ~/.pgrx), then pg_config on PATH; the first of
    /// the right major.
    fn pg_config() -> String {
        let mut candidates: Vec<String> = std::env::var("PG_CONFIG").into_iter().collect();
        let home = std::env::var("PGRX_HOME")
            .ok()
            .or_else(|| std::env::var("HOME").ok().map(|h| format!("{h}/.pgrx")));
        if let Some(toml) =
            home.and_then(|h| std::fs::read_to_string(format!("{h}/config.toml")).ok())
        {
            let key = format!("pg{MAJOR}");
            for line in toml.lines() {
                if let Some((k, v)) = line.split_once('=') {
                    if k.trim() == key {
                        candidates.push(v.trim().trim_matches('"').to_string());
                    }
                }
            }
        }
        candidates.push("pg_config".into());
        candidates
            .into_iter()
            .find(|c| major_of(c) == Some(MAJOR))
            .unwrap_or_else(|| {
                panic!(
                    "no pg_config of PostgreSQL {MAJOR} found ($PG_CONFIG, pgrx's config.toml, PATH): \
                     the completeness tests read that server's headers"
                )
            })
    }

    fn server_include() -> PathBuf {
        let out = Command::new(pg_config())
            .arg("--includedir-server")
            .output()
            .expect("pg_config --includedir-server");
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    }

    fn read(dir: &Path, file: &str) -> String {
        let path = dir.join(file);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// Every `T_...Stmt` node tag the server knows (nodes/nodetags.h from 16, nodes/nodes.h in 15).
    fn statement_tags(dir: &Path) -> Vec<String> {
        let text = if dir.join("nodes/nodetags.h").exists() {
            read(dir, "nodes/nodetags.h")
        } else {
            read(dir, "nodes/nodes.h")
        };
        let mut tags: Vec<String> = text
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| w.starts_with("T_") && w.ends_with("Stmt"))
            .map(|w| w[2..].to_string())
            .collect();
        tags.sort();
        tags.dedup();
        tags
    }

    /// The members of `typedef enum NAME { ... } NAME;` in nodes/parsenodes.h.
    fn enum_members(dir: &Path, name: &str) -> Vec<String> {
        let text = read(dir, "nodes/parsenodes.h");
        let start = text
            .find(&format!("typedef enum {name}"))
            .unwrap_or_else(|| panic!("enum {name} not found in parsenodes.h"));
        let body = &text[start..];
        let body = &body[body.find('{').unwrap() + 1..body.find('}').unwrap()];
        // Drop comments, then take the identifier before each comma.
        let mut clean = String::new();
        let mut rest = body;
        while let Some(i) = rest.find("/*") {
            clean.push_str(&rest[..i]);
            rest = &rest[i + rest[i..].find("*/").map_or(rest.len() - i, |j| j + 2)..];
        }
        clean.push_str(rest);
        clean
            .split(',')
            .map(|m| m.split('=').next().unwrap_or("").trim().to_string())
            .filter(|m| !m.is_empty())
            .collect()
    }

    fn assert_complete(section: Section, known: &[String]) {
        let rows: HashSet<&str> = kinds(section, MAJOR).into_iter().collect();
        let missing: Vec<&String> = known
            .iter()
            .filter(|k| !rows.contains(k.as_str()))
            .collect();
        assert!(
            missing.is_empty(),
            "PostgreSQL {MAJOR} knows {section:?} kinds that src/coverage/table.rs has no row for: \
             {missing:?}. Audit each (lock, data work, what safe_ddl does), add its row, and \
             regenerate docs/hazards/coverage.md (SAFE_DDL_BLESS=1)."
        );
        let known: HashSet<&str> = known.iter().map(|k| k.as_str()).collect();
        // A kind in parentheses names a form without a member of its own (options only).
        let stale: Vec<&&str> = rows
            .iter()
            .filter(|r| !r.starts_with('(') && !known.contains(**r))
            .collect();
        assert!(
            stale.is_empty(),
            "src/coverage/table.rs has {section:?} rows for PostgreSQL {MAJOR} that the server \
             does not know: {stale:?}; fix their majors."
        );
    }

    #[test]
    fn every_statement_node_tag_has_a_row() {
        let tags = statement_tags(&server_include());
        assert!(tags.len() > 100, "too few node tags read: {tags:?}");
        assert_complete(Section::Statement, &tags);
    }

    #[test]
    fn every_alter_table_subcommand_has_a_row() {
        let dir = server_include();
        let members = enum_members(&dir, "AlterTableType");
        assert!(
            members.len() > 60,
            "too few AlterTableType read: {members:?}"
        );
        assert_complete(Section::AlterTable, &members);
        // The rows name pgrx's constants of this major: each maps to one, all distinct.
        let values: HashSet<u32> = kinds(Section::AlterTable, MAJOR)
            .iter()
            .map(|k| {
                alter_table_type(k).unwrap_or_else(|| panic!("{k} is no pg_sys::AlterTableType"))
            })
            .collect();
        assert_eq!(values.len(), members.len());
    }

    #[test]
    fn every_publication_and_subscription_subcommand_has_a_row() {
        let dir = server_include();
        assert_complete(
            Section::AlterPublication,
            &enum_members(&dir, "AlterPublicationAction"),
        );
        assert_complete(
            Section::AlterSubscription,
            &enum_members(&dir, "AlterSubscriptionType"),
        );
    }

    /// The AlterTableType constant of this major named `name`; a constant that exists in no
    /// supported major is a compile error, so the names below are pgrx's own.
    #[allow(non_upper_case_globals)]
    fn alter_table_type(name: &str) -> Option<u32> {
        use pgrx::pg_sys::AlterTableType::*;
        macro_rules! all {
            ($($n:ident),* $(,)?) => {
                match name { $(stringify!($n) => Some($n as u32),)* _ => None }
            };
        }
        #[cfg(feature = "pg15")]
        if let Some(v) = all!(
            AT_AddColumnRecurse,
            AT_DropColumnRecurse,
            AT_AddConstraintRecurse,
            AT_ValidateConstraintRecurse,
            AT_DropConstraintRecurse,
        ) {
            return Some(v);
        }
        #[cfg(any(feature = "pg15", feature = "pg16", feature = "pg17"))]
        if let Some(v) = all!(AT_CheckNotNull) {
            return Some(v);
        }
        #[cfg(any(feature = "pg17", feature = "pg18"))]
        if let Some(v) = all!(AT_SetExpression) {
            return Some(v);
        }
        all!(
            AT_AddColumn,
            AT_AddColumnToView,
            AT_ColumnDefault,
            AT_CookedColumnDefault,
            AT_DropNotNull,
            AT_SetNotNull,
            AT_DropExpression,
            AT_SetStatistics,
            AT_SetOptions,
            AT_ResetOptions,
            AT_SetStorage,
            AT_SetCompression,
            AT_DropColumn,
            AT_AddIndex,
            AT_ReAddIndex,
            AT_AddConstraint,
            AT_ReAddConstraint,
            AT_ReAddDomainConstraint,
            AT_AlterConstraint,
            AT_ValidateConstraint,
            AT_AddIndexConstraint,
            AT_DropConstraint,
            AT_ReAddComment,
            AT_AlterColumnType,
            AT_AlterColumnGenericOptions,
            AT_ChangeOwner,
            AT_ClusterOn,
            AT_DropCluster,
            AT_SetLogged,
            AT_SetUnLogged,
            AT_DropOids,
            AT_SetAccessMethod,
            AT_SetTableSpace,
            AT_SetRelOptions,
            AT_ResetRelOptions,
            AT_ReplaceRelOptions,
            AT_EnableTrig,
            AT_EnableAlwaysTrig,
            AT_EnableReplicaTrig,
            AT_DisableTrig,
            AT_EnableTrigAll,
            AT_DisableTrigAll,
            AT_EnableTrigUser,
            AT_DisableTrigUser,
            AT_EnableRule,
            AT_EnableAlwaysRule,
            AT_EnableReplicaRule,
            AT_DisableRule,
            AT_AddInherit,
            AT_DropInherit,
            AT_AddOf,
            AT_DropOf,
            AT_ReplicaIdentity,
            AT_EnableRowSecurity,
            AT_DisableRowSecurity,
            AT_ForceRowSecurity,
            AT_NoForceRowSecurity,
            AT_GenericOptions,
            AT_AttachPartition,
            AT_DetachPartition,
            AT_DetachPartitionFinalize,
            AT_AddIdentity,
            AT_SetIdentity,
            AT_DropIdentity,
            AT_ReAddStatistics,
        )
    }

    #[test]
    fn rows_are_well_formed() {
        for r in ROWS {
            assert!(
                !r.kind.is_empty() && !r.sql.is_empty() && !r.reason.is_empty(),
                "{r:?}"
            );
            assert!(!r.lock.is_empty() && !r.data_work.is_empty(), "{r:?}");
            if let Verdict::Refused(h) = r.verdict {
                assert!(!h.is_empty(), "{r:?}");
            }
        }
    }

    /// A new hazard gets a row that names it: every hazard but large_dml (judged in the executor,
    /// not in ProcessUtility) is the verdict of some row.
    #[test]
    fn every_hazard_is_the_verdict_of_a_row() {
        for h in Hazard::ALL.iter().filter(|h| **h != Hazard::LargeDml) {
            assert!(
                ROWS.iter()
                    .any(|r| matches!(r.verdict, Verdict::Refused(hs) if hs.contains(h))),
                "no row of src/coverage/table.rs is refused as {h}"
            );
        }
    }

    /// docs/hazards/coverage.md is `render()`'s output; SAFE_DDL_BLESS=1 writes it.
    #[test]
    fn coverage_page_is_generated_from_the_table() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/hazards/coverage.md");
        let rendered = render();
        if std::env::var("SAFE_DDL_BLESS").is_ok_and(|v| v == "1") {
            std::fs::write(&path, &rendered).expect("write docs/hazards/coverage.md");
            return;
        }
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            on_disk == rendered,
            "docs/hazards/coverage.md is not the rendering of src/coverage/table.rs: run \
             SAFE_DDL_BLESS=1 cargo test --features \"pg15 pg_test\" coverage (or \
             SAFE_DDL_BLESS=1 cargo pgrx test pg15) to regenerate it; never edit it by hand"
        );
    }
}
