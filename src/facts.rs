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
    /// Size of the table's data in bytes (main fork; for a partitioned table, its partitions).
    pub size_bytes: i64,
    /// false when the size comes from pg_class.relpages (the table was locked by someone else,
    /// so it was not measured) rather than from the file itself.
    pub size_exact: bool,
    /// Recorded reads and writes of the table and its columns (None: tracking not running).
    pub usage: Option<crate::usage::verdict::RelationUsage>,
}

impl TableFacts {
    pub fn is_partitioned(&self) -> bool {
        self.relkind == b'p'
    }

    /// Why this table is exempt from the scan, rewrite and build hazards, if it is.
    pub fn exemption(&self, min_table_size: i64) -> Option<String> {
        if self.created_in_transaction {
            Some("it was created in this transaction".into())
        } else if self.temporary {
            Some("it is a temporary table".into())
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
            usage: None,
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
}
