//! `index_build`: CREATE INDEX or REINDEX without CONCURRENTLY on an existing table.
//!
//! CREATE INDEX holds a SHARE lock on the table for the whole build (writes wait); REINDEX
//! holds SHARE on the table and ACCESS EXCLUSIVE on each index it rebuilds, which also blocks
//! every query that plans on the table. Both last as long as a full scan and sort.

use crate::classify::{Finding, RuleInput};
use crate::ddl::{Ddl, ReindexKind};
use crate::hazard::Hazard;
use crate::rules::override_text;
use crate::sqltext;

const H: Hazard = Hazard::IndexBuild;

pub fn check(input: &RuleInput) -> Option<Finding> {
    match &input.stmt.ddl {
        Ddl::CreateIndex {
            concurrent: false,
            index_name,
            only,
            ..
        } => create_index(input, index_name.as_deref(), *only),
        Ddl::Reindex {
            concurrent: false,
            kind,
            name,
            ..
        } => reindex(input, *kind, name),
        _ => None,
    }
}

fn create_index(input: &RuleInput, index_name: Option<&str>, only: bool) -> Option<Finding> {
    let t = input.table?;
    if t.exemption(input.min_table_size).is_some() {
        return None;
    }
    // ON ONLY a partitioned table creates an invalid parent index without building anything.
    if only && t.is_partitioned() {
        return None;
    }
    let sql = &input.stmt.text;
    let invalid = match index_name {
        Some(n) => format!("DROP INDEX CONCURRENTLY {}.{n};", t.schema),
        None => "DROP INDEX CONCURRENTLY <its name>; (find it with SELECT indexrelid::regclass FROM pg_index WHERE NOT indisvalid;)".into(),
    };
    let hint = if t.is_partitioned() {
        // PostgreSQL cannot build an index CONCURRENTLY on a partitioned table.
        let only = sqltext::insert_after(sql, "index", "on", "ONLY")
            .unwrap_or_else(|| "CREATE INDEX <name> ON ONLY <table> (...)".into());
        format!(
            "CREATE INDEX CONCURRENTLY is not supported on a partitioned table; build it partition by partition:\n  \
             {only};  -- instant: creates the parent index, not valid yet\n  \
             then, for each partition, outside a transaction block:\n  \
             CREATE INDEX CONCURRENTLY <partition_index> ON <partition> (...);\n  \
             ALTER INDEX <parent_index> ATTACH PARTITION <partition_index>;\n\
             The parent index becomes valid when every partition's index is attached \
             (partitions: SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = '{}'::regclass).\n{}",
            t.qualified_name.replace('\'', "''"),
            override_text(H, true)
        )
    } else {
        let safe = sqltext::insert_after(sql, "create", "index", "CONCURRENTLY")
            .unwrap_or_else(|| "CREATE INDEX CONCURRENTLY ...".into());
        format!(
            "Build the index without blocking writes, outside a transaction block \
             (CONCURRENTLY cannot run inside BEGIN ... COMMIT):\n  {safe};\n\
             If it fails it leaves an INVALID index behind: drop it with {invalid} then run it again.\n{}",
            override_text(H, true)
        )
    };
    Some(Finding {
        hazard: H,
        subject: t.qualified_name.clone(),
        message: format!(
            "index_build: CREATE INDEX on table {} blocks writes for the whole build",
            t.qualified_name
        ),
        detail: format!(
            "CREATE INDEX holds a SHARE lock on {} until the build finishes, which blocks writes (INSERT, UPDATE, DELETE); \
             the table is {}.",
            t.qualified_name,
            t.size_text()
        ),
        hint,
    })
}

fn reindex(input: &RuleInput, kind: ReindexKind, name: &str) -> Option<Finding> {
    let sql = &input.stmt.text;
    match kind {
        ReindexKind::Index | ReindexKind::Table => {
            let t = input.table?;
            if t.exemption(input.min_table_size).is_some() {
                return None;
            }
            let safe = sqltext::insert_after(sql, "reindex", &kind.keyword().to_ascii_lowercase(), "CONCURRENTLY")
                .unwrap_or_else(|| format!("REINDEX {} CONCURRENTLY {name}", kind.keyword()));
            let what = if kind == ReindexKind::Index { format!("index {name}") } else { "each of its indexes".into() };
            Some(Finding {
                hazard: H,
                subject: t.qualified_name.clone(),
                message: format!(
                    "index_build: REINDEX {} on table {} blocks writes, and reads that plan on the table, until it finishes",
                    kind.keyword(),
                    t.qualified_name
                ),
                detail: format!(
                    "REINDEX holds a SHARE lock on {} (blocks INSERT, UPDATE, DELETE) and an ACCESS EXCLUSIVE lock on {what} \
                     (blocks every query that plans on the table) for the whole rebuild; the table is {}.",
                    t.qualified_name,
                    t.size_text()
                ),
                hint: format!(
                    "Rebuild without blocking, outside a transaction block:\n  {safe};\n\
                     If it fails it leaves an INVALID index named <index>_ccnew behind: drop it with \
                     DROP INDEX CONCURRENTLY, then run it again.\n{}",
                    override_text(H, true)
                ),
            })
        }
        ReindexKind::Schema | ReindexKind::Database => {
            let safe = sqltext::insert_after(sql, "reindex", &kind.keyword().to_ascii_lowercase(), "CONCURRENTLY")
                .unwrap_or_else(|| format!("REINDEX {} CONCURRENTLY {name}", kind.keyword()));
            Some(Finding {
                hazard: H,
                subject: name.to_string(),
                message: format!(
                    "index_build: REINDEX {} {name} blocks writes on every table it reindexes",
                    kind.keyword()
                ),
                detail: "REINDEX without CONCURRENTLY holds a SHARE lock on each table and an ACCESS EXCLUSIVE lock on each index \
                         while it rebuilds them: writes, and queries that plan on the table, wait."
                    .into(),
                hint: format!(
                    "Rebuild without blocking (system catalogs are skipped; they cannot be reindexed concurrently):\n  {safe};\n{}",
                    override_text(H, false)
                ),
            })
        }
        ReindexKind::System => Some(Finding {
            hazard: H,
            subject: name.to_string(),
            message: "index_build: REINDEX SYSTEM locks the system catalogs while it rebuilds their indexes".into(),
            detail: "REINDEX SYSTEM takes SHARE and ACCESS EXCLUSIVE locks on system catalogs and their indexes: \
                     most queries and all DDL in the database wait. It has no CONCURRENTLY form."
                .into(),
            hint: format!(
                "Run it in a maintenance window, or reindex only the catalog index that needs it.\n{}",
                override_text(H, false)
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ddl::{Statement, Target};
    use crate::facts::TableFacts;

    fn facts() -> TableFacts {
        TableFacts {
            oid: 42,
            qualified_name: "public.items".into(),
            schema: "public".into(),
            relkind: b'r',
            temporary: false,
            created_in_transaction: false,
            size_bytes: 42 << 20,
            size_exact: true,
        }
    }

    fn create_index(sql: &str, concurrent: bool) -> Statement {
        Statement {
            ddl: Ddl::CreateIndex {
                table: Target {
                    oid: Some(42),
                    written: "items".into(),
                },
                index_name: sqltext::word_after(sql, "index")
                    .filter(|w| !w.eq_ignore_ascii_case("on")),
                concurrent,
                only: sql.to_ascii_lowercase().contains(" on only "),
            },
            tag: "CREATE INDEX".into(),
            lock: None,
            text: sql.into(),
        }
    }

    fn run(stmt: &Statement, f: Option<&TableFacts>, min: i64) -> Option<Finding> {
        check(&RuleInput {
            stmt,
            table: f,
            min_table_size: min,
        })
    }

    #[test]
    fn err_plain_create_index_on_existing_table() {
        let f = facts();
        let found = run(
            &create_index("CREATE INDEX items_v ON items (v);", false),
            Some(&f),
            0,
        )
        .unwrap();
        assert_eq!(found.hazard, Hazard::IndexBuild);
        assert!(
            found.message.starts_with("index_build:"),
            "{}",
            found.message
        );
        assert!(found.message.contains("public.items"));
        assert!(
            found.detail.contains("SHARE lock") && found.detail.contains("42 MB"),
            "{}",
            found.detail
        );
        assert!(
            found
                .hint
                .contains("CREATE INDEX CONCURRENTLY items_v ON items (v);"),
            "{}",
            found.hint
        );
        assert!(
            found
                .hint
                .contains("DROP INDEX CONCURRENTLY public.items_v;"),
            "{}",
            found.hint
        );
        assert!(found.hint.contains("docs/hazards/index_build.md"));
    }

    #[test]
    fn err_partitioned_table_gets_the_partition_recipe() {
        let f = TableFacts {
            relkind: b'p',
            ..facts()
        };
        let found = run(
            &create_index("CREATE INDEX m_idx ON measurements (ts)", false),
            Some(&f),
            0,
        )
        .unwrap();
        assert!(
            found
                .hint
                .contains("CREATE INDEX m_idx ON ONLY measurements (ts);"),
            "{}",
            found.hint
        );
        assert!(found.hint.contains("ATTACH PARTITION"));
        // ON ONLY builds nothing on a partitioned table; on a plain table it still builds.
        assert_eq!(
            run(
                &create_index("CREATE INDEX m_idx ON ONLY measurements (ts)", false),
                Some(&f),
                0
            ),
            None
        );
        let plain = facts();
        assert!(run(
            &create_index("CREATE INDEX m_idx ON ONLY items (ts)", false),
            Some(&plain),
            0
        )
        .is_some());
    }

    #[test]
    fn ok_concurrently_new_temporary_small_or_missing() {
        let f = facts();
        assert_eq!(
            run(
                &create_index("CREATE INDEX CONCURRENTLY i ON items (v)", true),
                Some(&f),
                0
            ),
            None
        );
        let new = TableFacts {
            created_in_transaction: true,
            ..facts()
        };
        assert_eq!(
            run(
                &create_index("CREATE INDEX i ON items (v)", false),
                Some(&new),
                0
            ),
            None
        );
        let temp = TableFacts {
            temporary: true,
            ..facts()
        };
        assert_eq!(
            run(
                &create_index("CREATE INDEX i ON items (v)", false),
                Some(&temp),
                0
            ),
            None
        );
        assert_eq!(
            run(
                &create_index("CREATE INDEX i ON items (v)", false),
                Some(&f),
                100 << 20
            ),
            None
        );
        assert_eq!(
            run(&create_index("CREATE INDEX i ON nope (v)", false), None, 0),
            None
        );
    }

    #[test]
    fn err_reindex_table_and_index_ok_concurrently() {
        let f = facts();
        let stmt = |sql: &str, kind, concurrent| Statement {
            ddl: Ddl::Reindex {
                kind,
                table: Some(Target {
                    oid: Some(42),
                    written: "items".into(),
                }),
                name: "items".into(),
                concurrent,
            },
            tag: "REINDEX".into(),
            lock: None,
            text: sql.into(),
        };
        let found = run(
            &stmt("REINDEX TABLE items", ReindexKind::Table, false),
            Some(&f),
            0,
        )
        .unwrap();
        assert!(
            found.hint.contains("REINDEX TABLE CONCURRENTLY items;"),
            "{}",
            found.hint
        );
        let found = run(
            &stmt("reindex index items_pkey", ReindexKind::Index, false),
            Some(&f),
            0,
        )
        .unwrap();
        assert!(
            found
                .hint
                .contains("reindex index CONCURRENTLY items_pkey;"),
            "{}",
            found.hint
        );
        assert_eq!(
            run(
                &stmt("REINDEX TABLE CONCURRENTLY items", ReindexKind::Table, true),
                Some(&f),
                0
            ),
            None
        );
        let found = run(
            &stmt("REINDEX SCHEMA app", ReindexKind::Schema, false),
            None,
            0,
        )
        .unwrap();
        assert!(
            found.hint.contains("REINDEX SCHEMA CONCURRENTLY app;")
                && found.hint.contains("RESET safe_ddl.allow")
        );
    }
}
