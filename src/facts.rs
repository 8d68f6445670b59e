//! Live catalog facts about a table, as plain values. `catalog.rs` gathers them.

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableFacts {
    pub oid: u32,
    /// Schema-qualified, quoted as needed: `public.items`, `"My Schema"."T"`.
    pub qualified_name: String,
    /// The schema alone, quoted as needed (indexes live in their table's schema).
    pub schema: String,
    /// pg_class.relkind: 'r' table, 'p' partitioned table, 'm' materialized view, ...
    pub relkind: u8,
    /// A temporary table: no other session can see it, so it cannot block anyone.
    pub temporary: bool,
    /// Created earlier in the current transaction: nobody else can see it yet.
    pub created_in_transaction: bool,
    /// Size of the table's data in bytes (main fork; its TOAST table's when the main fork has
    /// no pages; for a partitioned table, its partitions).
    pub size_bytes: i64,
    /// false when the size comes from pg_class.relpages (the table was locked by someone else,
    /// so it was not measured) rather than from the file itself; for a partitioned table, true
    /// only when every leaf partition was measured.
    pub size_exact: bool,
    /// A plain table with inheritance children (not partitions), which ALTER TABLE recurses into.
    pub inheritance_children: bool,
    /// Recorded reads and writes of the table and its columns (None: tracking not running).
    pub usage: Option<crate::usage::verdict::RelationUsage>,
    /// The strongest lock that blocks reads or writes (SHARE or stronger) this transaction
    /// already holds on the table, from the backend's own lock table: a statement that is safe
    /// under its own weak lock (VALIDATE CONSTRAINT) scans under this one instead.
    pub held_lock: Option<crate::ddl::LockMode>,
    /// The unfinished column changes whose dual-write trigger is on the table, from the catalog
    /// (every role's: safe_ddl.column_changes shows each role its own). Gathered only for
    /// statements that drop, rename or retype a column (`Statement::changes_columns`).
    pub column_changes: Vec<ColumnChange>,
}

/// A live column change on a table: trigger `zz_safe_ddl_column_change_<id>` calling
/// `_safe_ddl_cc<id>_dual_write()`, which keeps `old_column` and `new_column` in step (the
/// columns are the argument names of `_safe_ddl_cc<id>_forward` and `_backward`, as the helpers
/// find them: `_cc_objects` in sql/expand_contract.sql).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnChange {
    pub id: i64,
    pub old_column: String,
    pub new_column: String,
    /// Part of a type change that keeps the column's name (begin_type_change marks its trigger
    /// functions): it is ended by cancel_type_change / finish_type_change.
    pub type_change: bool,
}

impl TableFacts {
    pub fn is_partitioned(&self) -> bool {
        self.relkind == b'p'
    }

    /// The table holds no data: its main fork was measured (not estimated) at 0 blocks, or, for
    /// a partitioned table, every leaf partition's was. A table that never held a row has no
    /// pages; one with pages but no live rows (after DELETE, or an aborted INSERT) holds data
    /// until TRUNCATE. Statistics (reltuples, relpages) are never proof. A table with inheritance
    /// children does not count: ALTER TABLE would scan or rewrite them too.
    pub fn holds_no_data(&self) -> bool {
        self.size_exact
            && self.size_bytes == 0
            && matches!(self.relkind, b'r' | b'p' | b'm')
            && !self.inheritance_children
    }

    /// Why this table is exempt from the scan, rewrite and build hazards, if it is.
    pub fn exemption(&self, min_table_size: i64) -> Option<String> {
        self.exemption_with(min_table_size, true)
    }

    /// Like `exemption`; holding no data exempts only when `empty_counts` (the guard can look at
    /// the table again under the statement's own lock: `RuleInput::empty_exempts`).
    pub fn exemption_with(&self, min_table_size: i64, empty_counts: bool) -> Option<String> {
        if self.created_in_transaction {
            Some("it was created in this transaction".into())
        } else if self.temporary {
            Some("it is a temporary table".into())
        } else if empty_counts && self.holds_no_data() {
            Some(if self.is_partitioned() {
                "it holds no data (0 pages in every partition)".into()
            } else {
                "it holds no data (0 pages)".into()
            })
        } else if min_table_size > 0 && self.size_bytes < min_table_size {
            Some(format!(
                "it is smaller than safe_ddl.min_table_size ({})",
                pretty_size(min_table_size)
            ))
        } else {
            None
        }
    }

    pub fn size_text(&self) -> String {
        if self.size_exact {
            pretty_size(self.size_bytes)
        } else if self.size_bytes == 0 {
            "of unknown size".into()
        } else {
            format!(
                "about {} (estimate from pg_class.relpages)",
                pretty_size(self.size_bytes)
            )
        }
    }
}

/// Like pg_size_pretty(): bytes, kB, MB, GB, TB with rounding to the nearest unit.
pub fn pretty_size(bytes: i64) -> String {
    let units = ["bytes", "kB", "MB", "GB", "TB", "PB"];
    let mut size = bytes;
    let mut unit = 0;
    // pg_size_pretty switches unit when the value reaches 10 * 1024 of the smaller unit.
    while size.abs() >= 10 * 1024 && unit + 1 < units.len() {
        size = (size + 512) / 1024;
        unit += 1;
    }
    format!("{size} {}", units[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> TableFacts {
        TableFacts {
            oid: 1,
            qualified_name: "public.t".into(),
            schema: "public".into(),
            relkind: b'r',
            temporary: false,
            created_in_transaction: false,
            size_bytes: 50 << 20,
            size_exact: true,
            inheritance_children: false,
            usage: None,
            held_lock: None,
            column_changes: vec![],
        }
    }

    #[test]
    fn sizes_read_like_pg_size_pretty() {
        assert_eq!(pretty_size(0), "0 bytes");
        assert_eq!(pretty_size(8192), "8192 bytes");
        assert_eq!(pretty_size(10 * 1024), "10 kB");
        assert_eq!(pretty_size(50 << 20), "50 MB");
    }

    #[test]
    fn exemptions() {
        assert_eq!(facts().exemption(0), None);
        assert!(facts()
            .exemption(100 << 20)
            .unwrap()
            .contains("min_table_size"));
        let f = TableFacts {
            created_in_transaction: true,
            ..facts()
        };
        assert!(f.exemption(0).unwrap().contains("this transaction"));
        let f = TableFacts {
            temporary: true,
            ..facts()
        };
        assert!(f.exemption(0).unwrap().contains("temporary"));
    }

    #[test]
    fn holding_no_data_is_measured_never_estimated() {
        let empty = TableFacts {
            size_bytes: 0,
            ..facts()
        };
        assert_eq!(
            empty.exemption(0).as_deref(),
            Some("it holds no data (0 pages)")
        );
        // Whatever min_table_size says, the reason is the more exact one.
        assert!(empty.exemption(100 << 20).unwrap().contains("no data"));
        // Only where the guard can look again under the statement's lock.
        assert_eq!(empty.exemption_with(0, false), None);
        // relpages says 0 (never vacuumed, or the table was locked so it was not measured): no proof.
        let estimated = TableFacts {
            size_exact: false,
            ..empty.clone()
        };
        assert!(!estimated.holds_no_data());
        assert_eq!(estimated.exemption(0), None);
        // One page, even with no live row in it (after DELETE): it holds data.
        let one_page = TableFacts {
            size_bytes: 8192,
            ..facts()
        };
        assert_eq!(one_page.exemption(0), None);
        // Inheritance children are scanned and rewritten with their parent.
        let parent = TableFacts {
            inheritance_children: true,
            ..empty.clone()
        };
        assert_eq!(parent.exemption(0), None);
        // Relations without storage of their own other than partitioned tables (foreign tables).
        let foreign = TableFacts {
            relkind: b'f',
            ..empty.clone()
        };
        assert_eq!(foreign.exemption(0), None);
    }

    #[test]
    fn partitioned_tables_hold_no_data_only_when_every_leaf_was_measured_empty() {
        let partitioned = |bytes, exact| TableFacts {
            relkind: b'p',
            size_bytes: bytes,
            size_exact: exact,
            ..facts()
        };
        assert_eq!(
            partitioned(0, true).exemption(0).as_deref(),
            Some("it holds no data (0 pages in every partition)")
        );
        // A leaf estimated from relpages (locked by someone else) makes the total inexact.
        assert_eq!(partitioned(0, false).exemption(0), None);
        assert_eq!(partitioned(8192, true).exemption(0), None);
    }
}
