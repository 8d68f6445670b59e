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
    /// DROP, RENAME or ALTER TYPE of a column that the live dual-write trigger of an unfinished
    /// column change (begin_column_change, begin_type_change) names.
    ActiveColumnChange,
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
        Hazard::ActiveColumnChange,
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
            Hazard::ActiveColumnChange => "active_column_change",
        }
    }

    pub fn from_name(name: &str) -> Option<Hazard> {
        Hazard::ALL.iter().copied().find(|h| h.name() == name)
    }

    /// The docs page every HINT points to: `<safe_ddl.docs_url>/hazards/<name>.md`.
    pub fn doc_page(self) -> String {
        docs_page(&format!("hazards/{}.md", self.name()))
    }
}

/// A page of safe_ddl's docs (`page` relative to the docs directory, e.g. `expand-contract.md`) as
/// messages name it: under `safe_ddl.docs_url` (the installed docs by default, a URL if the DBA
/// set one).
pub fn docs_page(page: &str) -> String {
    format!("{}/{page}", crate::gucs::docs_url())
}

impl fmt::Display for Hazard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What `AllowList::allows` calls for a hazard the list names but its ceiling does not permit.
pub type Exceeded = fn(&str);

/// A parsed `safe_ddl.allow` (or `safe_ddl.allow_ceiling`) value.
#[derive(Clone, Debug, Default)]
pub struct AllowList {
    all: bool,
    /// `in_use`: drops and renames of objects usage tracking saw in use (not covered by all in
    /// an allow list; covered by all in a ceiling).
    in_use: bool,
    hazards: Vec<Hazard>,
    /// The ceiling this allow list is used under, and what to do when it names more.
    ceiling: Option<(Box<AllowList>, Exceeded)>,
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

    /// Attach the ceiling (`safe_ddl.allow_ceiling`) this list is used under: from then on,
    /// `allows` and `in_use` call `exceeded` (which raises an ERROR in the extension) for a
    /// hazard the list names but the ceiling does not permit, instead of answering true.
    pub fn under(mut self, ceiling: AllowList, exceeded: Exceeded) -> AllowList {
        self.ceiling = Some((Box::new(ceiling), exceeded));
        self
    }

    pub fn in_use(&self) -> bool {
        if self.in_use {
            if let Some((c, exceeded)) = &self.ceiling {
                if !c.permits_in_use() {
                    exceeded("in_use");
                    return false;
                }
            }
        }
        self.in_use
    }

    pub fn allows(&self, h: Hazard) -> bool {
        let named = self.all || self.hazards.contains(&h);
        if named {
            if let Some((c, exceeded)) = &self.ceiling {
                if !c.permits(h) {
                    exceeded(h.name());
                    return false;
                }
            }
        }
        named
    }

    /// As a ceiling: may a list under it name `h`? (`all` permits everything, in_use included.)
    pub fn permits(&self, h: Hazard) -> bool {
        self.all || self.hazards.contains(&h)
    }

    pub fn permits_in_use(&self) -> bool {
        self.all || self.in_use
    }

    /// The names in this list that `ceiling` does not permit (empty: within the ceiling).
    pub fn excess(&self, ceiling: &AllowList) -> Vec<&'static str> {
        let mut out = Vec::new();
        if ceiling.all {
            return out;
        }
        if self.all {
            out.push("all");
        }
        out.extend(
            self.hazards
                .iter()
                .filter(|h| !ceiling.permits(**h))
                .map(|h| h.name()),
        );
        if self.in_use && !ceiling.permits_in_use() {
            out.push("in_use");
        }
        out
    }

    /// The part of `all` a ceiling permits, as a safe_ddl.allow value (in_use not included).
    pub fn all_within(ceiling: &AllowList) -> String {
        if ceiling.all {
            return "all".into();
        }
        ceiling
            .hazards
            .iter()
            .map(|h| h.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_all_and_blanks() {
        let empty = AllowList::parse("").unwrap();
        assert!(Hazard::ALL.iter().all(|h| !empty.allows(*h)) && !empty.in_use());
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
    fn excess_over_a_ceiling() {
        let p = |t: &str| AllowList::parse(t).unwrap();
        assert!(p("all").excess(&p("all")).is_empty());
        assert!(p("all, in_use").excess(&p("all")).is_empty());
        assert_eq!(p("all").excess(&p("index_build")), vec!["all"]);
        assert_eq!(
            p("index_build, drop_column, in_use").excess(&p("index_build")),
            vec!["drop_column", "in_use"]
        );
        assert!(p("drop_column, in_use")
            .excess(&p("drop_column, in_use"))
            .is_empty());
        assert!(p("").excess(&p("")).is_empty());
        assert_eq!(AllowList::all_within(&p("all")), "all");
        assert_eq!(
            AllowList::all_within(&p("index_build, in_use, drop_table")),
            "index_build, drop_table"
        );
    }

    fn refuse(_: &str) {
        panic!("ceiling exceeded");
    }

    #[test]
    fn under_a_ceiling_allows_what_both_permit() {
        let p = |t: &str| AllowList::parse(t).unwrap();
        let l = p("index_build, in_use").under(p("index_build, drop_column, in_use"), refuse);
        assert!(l.allows(Hazard::IndexBuild));
        assert!(!l.allows(Hazard::DropColumn));
        assert!(l.in_use());
    }

    #[test]
    #[should_panic(expected = "ceiling exceeded")]
    fn under_a_ceiling_naming_more_calls_exceeded() {
        let p = |t: &str| AllowList::parse(t).unwrap();
        p("all")
            .under(p("index_build"), refuse)
            .allows(Hazard::DropTable);
    }

    #[test]
    fn rejects_unknown_names() {
        let err = AllowList::parse("index_build, idx_build").unwrap_err();
        assert!(err.contains("idx_build"), "{err}");
        assert!(err.contains("index_build"), "{err}");
    }
}
