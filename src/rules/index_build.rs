//! `index_build`: CREATE INDEX or REINDEX without CONCURRENTLY on an existing table, and ALTER
//! TABLE ... ADD PRIMARY KEY / UNIQUE / EXCLUDE (or an inline PRIMARY KEY / UNIQUE in ADD COLUMN)
//! without USING INDEX, which build their index under ACCESS EXCLUSIVE.
//!
//! CREATE INDEX holds a SHARE lock on the table for the whole build (writes wait); REINDEX
//! holds SHARE on the table and ACCESS EXCLUSIVE on each index it rebuilds, which also blocks
//! every query that plans on the table. Both last as long as a full scan and sort.

use crate::classify::{Finding, RuleInput};
use crate::ddl::{AlterCmd, ConstraintKind, Ddl, LockMode, NewConstraint, ReindexKind};
use crate::facts::TableFacts;
use crate::hazard::Hazard;
use crate::rules::{holds, made_name, override_text, Draft};
use crate::sqltext;

const H: Hazard = Hazard::IndexBuild;

pub fn check(input: &RuleInput) -> Vec<Finding> {
    match &input.stmt.ddl {
        Ddl::CreateIndex {
            concurrent: false,
            index_name,
            only,
            ..
        } => create_index(input, index_name.as_deref(), *only)
            .into_iter()
            .collect(),
        Ddl::Reindex {
            concurrent: false,
            kind,
            name,
            ..
        } => reindex(input, *kind, name).into_iter().collect(),
        Ddl::AlterTable { table, cmds } => {
            let Some(t) = input.guarded(table) else {
                return vec![];
            };
            let mut out = Vec::new();
            for cmd in cmds {
                // ADD COLUMN that rewrites the table: table_rewrite's recipe adds its inline
                // constraints too (the build happens under the rewrite's own lock).
                if matches!(
                    cmd,
                    AlterCmd::AddColumn {
                        rewrite: Some(_),
                        ..
                    }
                ) {
                    continue;
                }
                let (constraints, new_column) = cmd.added_constraints();
                let new_column = new_column.map(|(column, ty)| (column, ty.as_str()));
                for c in constraints {
                    if let Some(f) = constraint_index(t, c, new_column) {
                        out.push(f);
                    }
                }
            }
            out
        }
        _ => vec![],
    }
}

/// ADD PRIMARY KEY / UNIQUE / EXCLUDE without USING INDEX.
fn constraint_index(
    t: &TableFacts,
    c: &NewConstraint,
    new_column: Option<(&String, &str)>,
) -> Option<Finding> {
    let what = match c.kind {
        ConstraintKind::PrimaryKey => "PRIMARY KEY",
        ConstraintKind::Unique => "UNIQUE",
        ConstraintKind::Exclusion => "EXCLUDE",
        _ => return None,
    };
    if c.using_index {
        return None;
    }
    let name = &t.qualified_name;
    let columns: Vec<String> = match new_column {
        Some((col, _)) if c.columns.is_empty() => vec![col.clone()],
        _ => c.columns.clone(),
    };
    let cols = columns.join(", ");
    let col_refs: Vec<&str> = columns.iter().map(|s| s.as_str()).collect();
    let pkey = c.kind == ConstraintKind::PrimaryKey;
    let constraint = c.name.clone().unwrap_or_else(|| {
        if pkey {
            made_name(name, &[], "pkey")
        } else {
            made_name(name, &col_refs, "key")
        }
    });
    let index = made_name(constraint.trim_matches('"'), &[], "idx");
    let hint = if c.without_overlaps {
        format!(
            "A {what} ... WITHOUT OVERLAPS key is backed by a GiST index, and USING INDEX takes only btree \
             indexes: there is no online form. Declare it when the table is created (or empty), or run it in a \
             maintenance window.\n{}",
            override_text(H, true)
        )
    } else if c.kind == ConstraintKind::Exclusion {
        format!(
            "An exclusion constraint cannot be attached to an index built beforehand (USING INDEX takes only \
             PRIMARY KEY and UNIQUE): there is no online form. Run it in a maintenance window.\n{}",
            override_text(H, true)
        )
    } else {
        let new_col = match new_column {
            Some((col, ty)) => format!(
                "ALTER TABLE {name} ADD COLUMN {col} {ty};  -- first, without the constraint\n  "
            ),
            None => String::new(),
        };
        // PRIMARY KEY makes its columns NOT NULL, a scan under the lock unless proven first.
        let not_null: String = if pkey {
            columns
                .iter()
                .map(|col| {
                    format!(
                        "CALL safe_ddl.set_not_null({}, {});  -- outside a transaction block, no long lock\n  ",
                        crate::rules::literal(name),
                        crate::rules::literal(&crate::rules::unquoted(col))
                    )
                })
                .collect()
        } else {
            String::new()
        };
        format!(
            "Build the unique index concurrently (outside a transaction block), then attach it, which is instant:\n  \
             {new_col}CREATE UNIQUE INDEX CONCURRENTLY {index} ON {name} ({cols});\n  \
             {not_null}ALTER TABLE {name} ADD CONSTRAINT {constraint} {what} USING INDEX {index};\n{}",
            override_text(H, true)
        )
    };
    Some(
        Draft {
            lock: LockMode::AccessExclusive,
            rewrites: false,
            scans: true,
        }
        .finding(
            H,
            t,
            format!(
                "ADD {what} on table {name} builds an index while holding an ACCESS EXCLUSIVE lock"
            ),
            format!(
                "Building the index for the constraint {} for the whole build; the table is {}.",
                holds(LockMode::AccessExclusive, name),
                t.size_text()
            ),
            hint,
        ),
    )
}

fn create_index(input: &RuleInput, index_name: Option<&str>, only: bool) -> Option<Finding> {
    let Ddl::CreateIndex { table, .. } = &input.stmt.ddl else {
        return None;
    };
    let t = input.guarded(table)?;
    // ON ONLY a partitioned table creates an invalid parent index without building anything.
    if only && t.is_partitioned() {
        return None;
    }
    let sql = &input.stmt.text;
    let invalid = match index_name {
        Some(n) => format!("DROP INDEX CONCURRENTLY {}.{n};", t.schema),
        None => "DROP INDEX CONCURRENTLY and the name Postgres gave it (SELECT indexrelid::regclass FROM pg_index WHERE NOT indisvalid)".into(),
    };
    let hint = if t.is_partitioned() {
        // PostgreSQL cannot build an index CONCURRENTLY on a partitioned table: an index ON ONLY
        // the parent (instant, invalid), one built concurrently per partition, each attached.
        let Ddl::CreateIndex { partitions, .. } = &input.stmt.ddl else {
            return None;
        };
        let parent_index = index_name
            .map(String::from)
            .unwrap_or_else(|| made_name(&t.qualified_name, &[], "idx"));
        let named = match index_name {
            Some(_) => sql.to_string(),
            None => sqltext::insert_after(sql, "create", "index", &parent_index)
                .unwrap_or_else(|| sql.to_string()),
        };
        let only = sqltext::insert_after(&named, "index", "on", "ONLY")
            .unwrap_or_else(|| sqltext::trimmed(&named).to_string());
        let unique = if sqltext::top_level_word_starts(sql, "unique").is_empty() {
            ""
        } else {
            "UNIQUE "
        };
        let tail = sqltext::after_index_table(sql).unwrap_or_default();
        let mut steps = String::new();
        for p in partitions {
            let pidx = made_name(p, &[&parent_index], "idx");
            let pschema = p.rsplit_once('.').map(|(s, _)| s).unwrap_or("public");
            steps += &format!(
                "  CREATE {unique}INDEX CONCURRENTLY {pidx} ON {p} {tail};  -- outside a transaction block\n  \
                 ALTER INDEX {}.{parent_index} ATTACH PARTITION {pschema}.{pidx};\n",
                t.schema
            );
        }
        format!(
            "CREATE INDEX CONCURRENTLY is not supported on a partitioned table; build it partition by partition: \
             the index on the parent alone (instant, not valid yet), then each partition's concurrently, attached \
             to it; the parent index becomes valid when every partition's is attached:\n  \
             {only};  -- instant\n{steps}{}",
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
    Some(
        Draft {
            lock: LockMode::Share,
            rewrites: false,
            scans: true,
        }
        .finding(
            H,
            t,
            format!(
                "CREATE INDEX on table {} blocks writes for the whole build",
                t.qualified_name
            ),
            format!(
            "CREATE INDEX holds a SHARE lock on {} until the build finishes, which blocks writes \
             (INSERT, UPDATE, DELETE); the table is {}.",
            t.qualified_name,
            t.size_text()
        ),
            hint,
        ),
    )
}

fn reindex(input: &RuleInput, kind: ReindexKind, name: &str) -> Option<Finding> {
    let sql = &input.stmt.text;
    let safe = sqltext::insert_after(
        sql,
        "reindex",
        &kind.keyword().to_ascii_lowercase(),
        "CONCURRENTLY",
    )
    .unwrap_or_else(|| format!("REINDEX {} CONCURRENTLY {name}", kind.keyword()));
    match kind {
        ReindexKind::Index | ReindexKind::Table => {
            let Ddl::Reindex { table: Some(table), .. } = &input.stmt.ddl else { return None };
            let t = input.guarded(table)?;
            let what = if kind == ReindexKind::Index { format!("index {name}") } else { "each of its indexes".into() };
            Some(Draft { lock: LockMode::Share, rewrites: false, scans: true }.finding(
                H,
                t,
                format!(
                    "REINDEX {} on table {} blocks writes, and reads that plan on the table, until it finishes",
                    kind.keyword(),
                    t.qualified_name
                ),
                format!(
                    "REINDEX holds a SHARE lock on {} (blocks INSERT, UPDATE, DELETE) and an ACCESS EXCLUSIVE lock \
                     on {what} (blocks every query that plans on the table) for the whole rebuild; the table is {}.",
                    t.qualified_name,
                    t.size_text()
                ),
                format!(
                    "Rebuild without blocking, outside a transaction block:\n  {safe};\n\
                     If it fails it leaves an INVALID index named after the index with _ccnew at the end: drop it with \
                     DROP INDEX CONCURRENTLY, then run it again.\n{}",
                    override_text(H, !t.is_partitioned())
                ),
            ))
        }
        ReindexKind::Schema | ReindexKind::Database => Some(Finding {
            hazard: H,
            subject: name.to_string(),
            message: format!("index_build: REINDEX {} {name} blocks writes on every table it reindexes", kind.keyword()),
            detail: "REINDEX without CONCURRENTLY holds a SHARE lock on each table and an ACCESS EXCLUSIVE lock on \
                     each index while it rebuilds them: writes, and queries that plan on the table, wait."
                .into(),
            hint: format!(
                "Rebuild without blocking (system catalogs are skipped; they cannot be reindexed concurrently):\n  \
                 {safe};\n{}",
                override_text(H, false)
            ),
            lock: Some(LockMode::Share),
            rewrites: false,
            scans: true,
            size_bytes: None,
            in_use: None,
        }),
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
            lock: Some(LockMode::AccessExclusive),
            rewrites: false,
            scans: true,
            size_bytes: None,
            in_use: None,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ddl::{Statement, Target};
    use crate::rules::test_support::*;

    fn create_index(sql: &str, concurrent: bool) -> Statement {
        statement(
            Ddl::CreateIndex {
                table: target(42, "items"),
                index_name: sqltext::word_after(sql, "index")
                    .filter(|w| !w.eq_ignore_ascii_case("on")),
                concurrent,
                only: sql.to_ascii_lowercase().contains(" on only "),
                partitions: vec!["public.measurements_1".into()],
            },
            sql,
        )
    }

    fn run(stmt: &Statement, f: Option<TableFacts>, min: i64) -> Vec<Finding> {
        let tables: Vec<TableFacts> = f.into_iter().collect();
        check(&RuleInput {
            stmt,
            tables: &tables,
            min_table_size: min,
        })
    }

    #[test]
    fn ok_empty_table_err_one_page() {
        let stmt = Statement {
            lock: Some(LockMode::Share),
            ..create_index("CREATE INDEX items_v ON items (v);", false)
        };
        assert!(run(&stmt, Some(empty(42, "items")), 0).is_empty());
        assert_eq!(run(&stmt, Some(one_page(42, "items")), 0).len(), 1);
        // A partitioned table: every leaf measured at 0 pages, or not exempt.
        let partitioned = |exact| TableFacts {
            relkind: b'p',
            size_exact: exact,
            ..empty(42, "items")
        };
        assert!(run(&stmt, Some(partitioned(true)), 0).is_empty());
        assert_eq!(run(&stmt, Some(partitioned(false)), 0).len(), 1);
        // REINDEX and ADD PRIMARY KEY likewise.
        let reindex = locking(
            Ddl::Reindex {
                kind: ReindexKind::Table,
                table: Some(target(42, "items")),
                name: "items".into(),
                concurrent: false,
            },
            "REINDEX TABLE items",
            LockMode::Share,
        );
        assert!(run(&reindex, Some(empty(42, "items")), 0).is_empty());
        assert_eq!(run(&reindex, Some(one_page(42, "items")), 0).len(), 1);
        let pkey = locking(
            Ddl::AlterTable {
                table: target(42, "items"),
                cmds: vec![crate::ddl::AlterCmd::AddConstraint(NewConstraint {
                    kind: ConstraintKind::PrimaryKey,
                    name: None,
                    not_valid: false,
                    using_index: false,
                    columns: vec!["id".into()],
                    referenced: None,
                    ref_columns: vec![],
                    expr_text: None,
                    without_overlaps: false,
                })],
            },
            "ALTER TABLE items ADD PRIMARY KEY (id)",
            LockMode::AccessExclusive,
        );
        assert!(run(&pkey, Some(empty(42, "items")), 0).is_empty());
        assert_eq!(run(&pkey, Some(one_page(42, "items")), 0).len(), 1);
    }

    #[test]
    fn err_plain_create_index_on_existing_table() {
        let found = run(
            &create_index("CREATE INDEX items_v ON items (v);", false),
            Some(facts(42, "items")),
            0,
        );
        let found = &found[0];
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
        assert_eq!(found.lock, Some(LockMode::Share));
    }

    #[test]
    fn err_partitioned_table_gets_the_partition_recipe() {
        let f = TableFacts {
            relkind: b'p',
            ..facts(42, "measurements")
        };
        let found = run(
            &create_index("CREATE INDEX m_idx ON measurements (ts)", false),
            Some(f.clone()),
            0,
        );
        assert!(
            found[0]
                .hint
                .contains("CREATE INDEX m_idx ON ONLY measurements (ts);"),
            "{}",
            found[0].hint
        );
        assert!(
            found[0].hint.contains(
                "  CREATE INDEX CONCURRENTLY measurements_1_m_idx_idx ON public.measurements_1 (ts);"
            ),
            "{}",
            found[0].hint
        );
        assert!(found[0].hint.contains(
            "  ALTER INDEX public.m_idx ATTACH PARTITION public.measurements_1_m_idx_idx;"
        ));
        // ON ONLY builds nothing on a partitioned table; on a plain table it still builds.
        assert!(run(
            &create_index("CREATE INDEX m_idx ON ONLY measurements (ts)", false),
            Some(f),
            0
        )
        .is_empty());
        assert!(!run(
            &create_index("CREATE INDEX m_idx ON ONLY items (ts)", false),
            Some(facts(42, "items")),
            0
        )
        .is_empty());
    }

    #[test]
    fn ok_concurrently_new_temporary_small_or_missing() {
        let stmt = create_index("CREATE INDEX i ON items (v)", false);
        assert!(run(
            &create_index("CREATE INDEX CONCURRENTLY i ON items (v)", true),
            Some(facts(42, "items")),
            0
        )
        .is_empty());
        let new = TableFacts {
            created_in_transaction: true,
            ..facts(42, "items")
        };
        assert!(run(&stmt, Some(new), 0).is_empty());
        let temp = TableFacts {
            temporary: true,
            ..facts(42, "items")
        };
        assert!(run(&stmt, Some(temp), 0).is_empty());
        assert!(run(&stmt, Some(facts(42, "items")), 100 << 20).is_empty());
        assert!(run(&stmt, None, 0).is_empty());
    }

    #[test]
    fn err_reindex_table_and_index_ok_concurrently() {
        let stmt = |sql: &str, kind, concurrent| {
            statement(
                Ddl::Reindex {
                    kind,
                    table: Some(Target {
                        oid: Some(42),
                        written: "items".into(),
                    }),
                    name: "items".into(),
                    concurrent,
                },
                sql,
            )
        };
        let found = run(
            &stmt("REINDEX TABLE items", ReindexKind::Table, false),
            Some(facts(42, "items")),
            0,
        );
        assert!(
            found[0].hint.contains("REINDEX TABLE CONCURRENTLY items;"),
            "{}",
            found[0].hint
        );
        let found = run(
            &stmt("reindex index items_pkey", ReindexKind::Index, false),
            Some(facts(42, "items")),
            0,
        );
        assert!(
            found[0]
                .hint
                .contains("reindex index CONCURRENTLY items_pkey;"),
            "{}",
            found[0].hint
        );
        assert!(run(
            &stmt("REINDEX TABLE CONCURRENTLY items", ReindexKind::Table, true),
            Some(facts(42, "items")),
            0
        )
        .is_empty());
        let found = run(
            &stmt("REINDEX SCHEMA app", ReindexKind::Schema, false),
            None,
            0,
        );
        assert!(
            found[0].hint.contains("REINDEX SCHEMA CONCURRENTLY app;")
                && found[0].hint.contains("RESET safe_ddl.allow")
        );
    }

    #[test]
    fn without_overlaps_keys_get_no_using_index_recipe() {
        let stmt = statement(
            Ddl::AlterTable {
                table: target(42, "items"),
                cmds: vec![AlterCmd::AddConstraint(NewConstraint {
                    kind: ConstraintKind::PrimaryKey,
                    name: None,
                    not_valid: false,
                    using_index: false,
                    columns: vec!["id".into(), "during".into()],
                    referenced: None,
                    ref_columns: vec![],
                    expr_text: None,
                    without_overlaps: true,
                })],
            },
            "ALTER TABLE items ADD PRIMARY KEY (id, during WITHOUT OVERLAPS)",
        );
        let found = run(&stmt, Some(facts(42, "items")), 0);
        assert_eq!(found.len(), 1);
        assert!(
            !found[0].hint.contains("USING INDEX items"),
            "{}",
            found[0].hint
        );
        assert!(
            found[0].hint.contains("no online form"),
            "{}",
            found[0].hint
        );
    }

    #[test]
    fn err_add_primary_key_and_unique_ok_using_index() {
        let constraint = |kind, using_index| NewConstraint {
            kind,
            name: None,
            not_valid: false,
            using_index,
            columns: vec!["id".into()],
            referenced: None,
            ref_columns: vec![],
            expr_text: None,
            without_overlaps: false,
        };
        let alter = |c| {
            statement(
                Ddl::AlterTable {
                    table: target(42, "items"),
                    cmds: vec![AlterCmd::AddConstraint(c)],
                },
                "ALTER TABLE items ADD ...",
            )
        };
        let found = run(
            &alter(constraint(ConstraintKind::PrimaryKey, false)),
            Some(facts(42, "items")),
            0,
        );
        assert!(
            found[0]
                .hint
                .contains("CREATE UNIQUE INDEX CONCURRENTLY items_pkey_idx ON public.items (id);"),
            "{}",
            found[0].hint
        );
        assert!(
            found[0]
                .hint
                .contains("ADD CONSTRAINT items_pkey PRIMARY KEY USING INDEX items_pkey_idx;"),
            "{}",
            found[0].hint
        );
        let found = run(
            &alter(constraint(ConstraintKind::Unique, false)),
            Some(facts(42, "items")),
            0,
        );
        assert!(
            found[0]
                .hint
                .contains("ADD CONSTRAINT items_id_key UNIQUE USING INDEX items_id_key_idx;"),
            "{}",
            found[0].hint
        );
        assert!(run(
            &alter(constraint(ConstraintKind::Unique, true)),
            Some(facts(42, "items")),
            0
        )
        .is_empty());
        assert!(run(
            &alter(constraint(ConstraintKind::Check, false)),
            Some(facts(42, "items")),
            0
        )
        .is_empty());
    }
}
