//! Hazard names and the `safe_ddl.allow` list. The names are stable: they appear in
//! `safe_ddl.allow`, in every message and in `docs/hazards/<name>.md`.

use std::fmt;

#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum Hazard {
    /// ALTER TABLE forms, VACUUM FULL and CLUSTER that rewrite the table.
    TableRewrite,
    /// CREATE INDEX / REINDEX without CONCURRENTLY, ADD PRIMARY KEY / UNIQUE / EXCLUDE.
    IndexBuild,
    /// DROP INDEX without CONCURRENTLY.
    IndexDrop,
    /// SET NOT NULL without a validated CHECK constraint proving it.
    NotNullScan,
    /// ADD CHECK / FOREIGN KEY without NOT VALID.
    ConstraintValidation,
    /// RENAME of a table or column in use.
    Rename,
    /// DROP COLUMN of an existing column.
    DropColumn,
    /// DROP TABLE of an existing table.
    DropTable,
    /// ATTACH PARTITION that scans the partition.
    PartitionScan,
    /// DETACH PARTITION without CONCURRENTLY.
    PartitionDetach,
    /// UPDATE/DELETE estimated above safe_ddl.max_dml_rows.
    LargeDml,
}

impl Hazard {
    pub const ALL: &'static [Hazard] = &[
        Hazard::TableRewrite,
        Hazard::IndexBuild,
        Hazard::IndexDrop,
        Hazard::NotNullScan,
        Hazard::ConstraintValidation,
        Hazard::Rename,
        Hazard::DropColumn,
        Hazard::DropTable,
        Hazard::PartitionScan,
        Hazard::PartitionDetach,
        Hazard::LargeDml,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Hazard::TableRewrite => "table_rewrite",
            Hazard::IndexBuild => "index_build",
            Hazard::IndexDrop => "index_drop",
            Hazard::NotNullScan => "not_null_scan",
            Hazard::ConstraintValidation => "constraint_validation",
            Hazard::Rename => "rename",
            Hazard::DropColumn => "drop_column",
            Hazard::DropTable => "drop_table",
            Hazard::PartitionScan => "partition_scan",
            Hazard::PartitionDetach => "partition_detach",
            Hazard::LargeDml => "large_dml",
        }
    }

    pub fn from_name(name: &str) -> Option<Hazard> {
        Hazard::ALL.iter().copied().find(|h| h.name() == name)
    }

    /// The docs page every HINT points to.
    pub fn doc_page(self) -> String {
        format!("docs/hazards/{}.md", self.name())
    }
}

impl fmt::Display for Hazard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A parsed `safe_ddl.allow` value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowList {
    all: bool,
    /// `in_use`: drops and renames of objects usage tracking saw in use (not covered by all).
    in_use: bool,
    hazards: Vec<Hazard>,
}

impl AllowList {
    /// Parse a comma-separated list of hazard names or `all`. Case and blanks around names are
    /// ignored; an empty list allows nothing.
    pub fn parse(text: &str) -> Result<AllowList, String> {
        let mut list = AllowList::default();
        for item in text.split(',') {
            let item = item.trim().to_ascii_lowercase();
            if item.is_empty() {
                continue;
            }
            if item == "all" {
                list.all = true;
            } else if item == "in_use" {
                list.in_use = true;
            } else if let Some(h) = Hazard::from_name(&item) {
                if !list.hazards.contains(&h) {
                    list.hazards.push(h);
                }
            } else {
                let known: Vec<&str> = Hazard::ALL.iter().map(|h| h.name()).collect();
                return Err(format!(
                    "Unknown hazard \"{item}\". Known hazards: {}, or all; plus in_use (drops and renames of objects in use).",
                    known.join(", ")
                ));
            }
        }
        Ok(list)
    }

    pub fn in_use(&self) -> bool {
        self.in_use
    }

    pub fn allows(&self, h: Hazard) -> bool {
        self.all || self.hazards.contains(&h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_all_and_blanks() {
        assert!(AllowList::parse("").unwrap() == AllowList::default());
        assert!(AllowList::parse(" index_build ")
            .unwrap()
            .allows(Hazard::IndexBuild));
        assert!(AllowList::parse("INDEX_BUILD,")
            .unwrap()
            .allows(Hazard::IndexBuild));
        assert!(AllowList::parse("all").unwrap().allows(Hazard::IndexBuild));
        assert!(!AllowList::parse("").unwrap().allows(Hazard::IndexBuild));
    }

    #[test]
    fn rejects_unknown_names() {
        let err = AllowList::parse("index_build, idx_build").unwrap_err();
        assert!(err.contains("idx_build"), "{err}");
        assert!(err.contains("index_build"), "{err}");
    }
}
