//! `index_build` and `constraint_validation` for ATTACH PARTITION: besides the bound scans
//! (partition_scan), Postgres builds on the partition each index of the parent it has no match
//! for, and validates each validated foreign key of the parent it has no validated match for,
//! all under the ACCESS EXCLUSIVE lock ATTACH holds on the partition.

use crate::classify::{Finding, RuleInput};
use crate::ddl::{AlterCmd, Ddl, LockMode};
use crate::hazard::Hazard;
use crate::rules::{holds, made_name, override_text, Draft};

pub fn check(input: &RuleInput) -> Vec<Finding> {
    let Ddl::AlterTable { table, cmds } = &input.stmt.ddl else {
        return vec![];
    };
    let parent = input
        .facts(table)
        .map(|f| f.qualified_name.clone())
        .unwrap_or_else(|| table.written.clone());
    let mut out = Vec::new();
    for cmd in cmds {
        let AlterCmd::AttachWork {
            partition,
            indexes,
            foreign_keys,
        } = cmd
        else {
            continue;
        };
        let Some(p) = input.guarded(partition) else {
            continue;
        };
        let name = &p.qualified_name;
        for ix in indexes {
            let bare = ix
                .parent_index
                .rsplit('.')
                .next()
                .unwrap_or(&ix.parent_index);
            let idx = made_name(name, &[bare], "idx");
            let mut recipe = format!(
                "  CREATE {}INDEX CONCURRENTLY {idx} ON {name} {};",
                if ix.unique { "UNIQUE " } else { "" },
                ix.using
            );
            if let Some(kind) = ix.constraint {
                let (words, suffix) = if kind == 'p' {
                    ("PRIMARY KEY", "pkey")
                } else {
                    ("UNIQUE", "key")
                };
                recipe.push_str(&format!(
                    "\n  ALTER TABLE {name} ADD CONSTRAINT {} {words} USING INDEX {idx};",
                    made_name(name, &[], suffix)
                ));
            }
            out.push(
                Draft { lock: LockMode::AccessExclusive, rewrites: false, scans: true }.finding(
                    Hazard::IndexBuild,
                    p,
                    format!("ATTACH PARTITION {name} builds an index on it (for {} of {parent})", ix.parent_index),
                    format!(
                        "The partition has no index matching {}: ATTACH PARTITION builds one while it {} (the \
                         statement's lock on the partition); the partition is {}.",
                        ix.parent_index,
                        holds(LockMode::AccessExclusive, name),
                        p.size_text()
                    ),
                    format!(
                        "Build the partition's match concurrently first, outside a transaction block; ATTACH \
                         PARTITION then adopts it and builds nothing:\n{recipe}\n{}",
                        override_text(Hazard::IndexBuild, true)
                    ),
                ),
            );
        }
        for fk in foreign_keys {
            let con = made_name(
                name,
                &fk.columns.iter().map(String::as_str).collect::<Vec<_>>(),
                "fkey",
            );
            out.push(
                Draft { lock: LockMode::AccessExclusive, rewrites: false, scans: true }.finding(
                    Hazard::ConstraintValidation,
                    p,
                    format!("ATTACH PARTITION {name} validates foreign key {} of {parent} on it", fk.name),
                    format!(
                        "The partition has no validated foreign key matching {}: ATTACH PARTITION adds one and reads \
                         every row of the partition to validate it while it {}; the partition is {}.",
                        fk.name,
                        holds(LockMode::AccessExclusive, name),
                        p.size_text()
                    ),
                    format!(
                        "Add and validate the foreign key on the partition first, each step in its own transaction \
                         (VALIDATE blocks no reads or writes); ATTACH PARTITION then adopts it and validates nothing:\n  \
                         ALTER TABLE {name} ADD CONSTRAINT {con} {} NOT VALID;\n  \
                         ALTER TABLE {name} VALIDATE CONSTRAINT {con};\n{}",
                        fk.definition,
                        override_text(Hazard::ConstraintValidation, true)
                    ),
                ),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ddl::{MissingForeignKey, MissingIndex};
    use crate::rules::test_support::*;

    #[test]
    fn err_missing_index_and_foreign_key_with_recipes() {
        let stmt = locking(
            Ddl::AlterTable {
                table: target(1, "events"),
                cmds: vec![AlterCmd::AttachWork {
                    partition: target(2, "events_2024"),
                    indexes: vec![MissingIndex {
                        parent_index: "public.events_pkey".into(),
                        using: "USING btree (id, at)".into(),
                        unique: true,
                        constraint: Some('p'),
                    }],
                    foreign_keys: vec![MissingForeignKey {
                        name: "events_user_fkey".into(),
                        definition: "FOREIGN KEY (user_id) REFERENCES users(id)".into(),
                        columns: vec!["user_id".into()],
                    }],
                }],
            },
            "ALTER TABLE events ATTACH PARTITION events_2024 FOR VALUES FROM (1) TO (2)",
            LockMode::AccessExclusive,
        );
        let tables = [facts(1, "events"), facts(2, "events_2024")];
        let f = check(&RuleInput {
            stmt: &stmt,
            tables: &tables,
            min_table_size: 0,
        });
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].hazard, Hazard::IndexBuild);
        assert!(f[0].hint.contains(
            "CREATE UNIQUE INDEX CONCURRENTLY events_2024_events_pkey_idx ON public.events_2024 USING btree (id, at);\n  \
             ALTER TABLE public.events_2024 ADD CONSTRAINT events_2024_pkey PRIMARY KEY USING INDEX events_2024_events_pkey_idx;"
        ), "{}", f[0].hint);
        assert_eq!(f[1].hazard, Hazard::ConstraintValidation);
        assert!(f[1].hint.contains(
            "ALTER TABLE public.events_2024 ADD CONSTRAINT events_2024_user_id_fkey FOREIGN KEY (user_id) REFERENCES users(id) NOT VALID;"
        ));
        // A small or new partition: nothing.
        let tables = [facts(1, "events"), one_page(2, "events_2024")];
        assert!(check(&RuleInput {
            stmt: &stmt,
            tables: &tables,
            min_table_size: 1 << 20
        })
        .is_empty());
    }
}
