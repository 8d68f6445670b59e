//! Live catalog facts for the classifier, gathered without ever waiting for a lock: the guard
//! runs before the statement takes its own lock, so blocking here would defeat lock_timeout.

use pgrx::{pg_sys, Spi};

use crate::facts::TableFacts;

const ACCESS_SHARE: pg_sys::LOCKMODE = pg_sys::AccessShareLock as pg_sys::LOCKMODE;

/// Facts about an existing relation, or None if it vanished meanwhile.
pub fn table_facts(oid: pg_sys::Oid) -> Option<TableFacts> {
    // SAFETY: lsyscache lookups are safe inside a transaction (the hook checks
    // IsTransactionState) and return 0/NULL for a missing relation.
    let (relkind, persistence, nsp, rel) = unsafe {
        let relkind = pg_sys::get_rel_relkind(oid) as u8;
        if relkind == 0 {
            return None;
        }
        let rel = pg_sys::get_rel_name(oid);
        let nsp = pg_sys::get_namespace_name_or_temp(pg_sys::get_rel_namespace(oid));
        if rel.is_null() || nsp.is_null() {
            return None;
        }
        (relkind, pg_sys::get_rel_persistence(oid) as u8, nsp, rel)
    };
    // SAFETY: both are valid NUL-terminated strings; the result is palloc'd or one of them.
    let (qualified_name, schema) = unsafe {
        (
            crate::encoding::cstr_to_rust(pg_sys::quote_qualified_identifier(nsp, rel)),
            crate::encoding::cstr_to_rust(pg_sys::quote_identifier(nsp)),
        )
    };
    let (created_in_transaction, measured) = match measure(oid, relkind) {
        Some(m) => (m.created_in_transaction, m.size),
        None => (false, None),
    };
    let (size_bytes, size_exact) = match measured {
        // safe_ddl.exempt_empty_tables off: a measured 0 is no proof of holding no data.
        Some(size) if size.bytes == 0 && !crate::gucs::exempt_empty_tables() => (0, false),
        Some(size) => (size.bytes, size.exact),
        None => (estimated_size(oid), false),
    };
    Some(TableFacts {
        oid: oid.to_u32(),
        qualified_name,
        schema,
        relkind,
        temporary: persistence == b't',
        created_in_transaction,
        size_bytes,
        size_exact,
        inheritance_children: relkind == b'r' && has_inheritance_children(oid),
        usage: None,
        held_lock: held_lock(oid),
        column_changes: vec![],
    })
}

/// The strongest lock blocking reads or writes (SHARE or stronger) that this transaction holds
/// on `oid`, from the backend-local lock table (no shared memory access, never waits).
pub fn held_lock(oid: pg_sys::Oid) -> Option<crate::ddl::LockMode> {
    use crate::ddl::LockMode;
    // SAFETY: reads of a backend global; SET_LOCKTAG_RELATION spelled out (lock.h).
    let tag = unsafe {
        pg_sys::LOCKTAG {
            locktag_field1: pg_sys::MyDatabaseId.to_u32(),
            locktag_field2: oid.to_u32(),
            locktag_field3: 0,
            locktag_field4: 0,
            locktag_type: pg_sys::LockTagType::LOCKTAG_RELATION as u8,
            locktag_lockmethodid: pg_sys::DEFAULT_LOCKMETHOD as u8,
        }
    };
    [
        LockMode::AccessExclusive,
        LockMode::Exclusive,
        LockMode::ShareRowExclusive,
        LockMode::Share,
    ]
    .into_iter()
    // SAFETY: LockHeldByMe only reads the backend's local lock hash.
    .find(|m| unsafe { crate::pg_version::lock_held_by_me(&tag, m.to_pg() as pg_sys::LOCKMODE) })
}

/// A plain table with inheritance children (not partitions): ALTER TABLE recurses into them, so
/// its own size does not tell what the statement scans or rewrites. relhassubclass can be stale
/// (it stays set after the last child is dropped), so pg_inherits has the last word.
fn has_inheritance_children(oid: pg_sys::Oid) -> bool {
    // SAFETY: syscache and catalog scans inside a transaction; NoLock takes no lock on the
    // children. Through the FFI boundary: an ERROR becomes a Rust panic, not a longjmp.
    unsafe {
        pg_sys::ffi::pg_guard_ffi_boundary(|| {
            raw::has_subclass(oid)
                && !raw::find_inheritance_children(oid, pg_sys::NoLock as pg_sys::LOCKMODE)
                    .is_null()
        })
    }
}

/// catalog/pg_inherits.h, not in pgrx's bindings. Call only through pg_guard_ffi_boundary.
pub mod raw {
    use pgrx::pg_sys;
    #[allow(clashing_extern_declarations)]
    unsafe extern "C-unwind" {
        pub fn has_subclass(relationId: pg_sys::Oid) -> bool;
        pub fn find_inheritance_children(
            parentrelId: pg_sys::Oid,
            lockmode: pg_sys::LOCKMODE,
        ) -> *mut pg_sys::List;
        pub fn find_all_inheritors(
            parentrelId: pg_sys::Oid,
            lockmode: pg_sys::LOCKMODE,
            numparents: *mut *mut pg_sys::List,
        ) -> *mut pg_sys::List;
    }
}

struct Measured {
    created_in_transaction: bool,
    /// None for relations without storage other than partitioned tables (foreign tables, views).
    size: Option<Size>,
}

/// A size in bytes, and whether all of it was measured (a partitioned table's leaves may be
/// partly estimated).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Size {
    bytes: i64,
    exact: bool,
}

/// Open the relation only if an ACCESS SHARE lock is granted at once. If someone holds or waits
/// for a conflicting lock, the table certainly was not created by this transaction, and the
/// caller falls back to the pg_class estimate.
fn measure(oid: pg_sys::Oid, relkind: u8) -> Option<Measured> {
    // SAFETY: the conditional lock never waits; the relation is opened with the lock held and
    // closed before it is released, and relation_open errors (not crashes) if it vanished.
    unsafe {
        if !pg_sys::ConditionalLockRelationOid(oid, ACCESS_SHARE) {
            return None;
        }
        let rel = pg_sys::relation_open(oid, pg_sys::NoLock as pg_sys::LOCKMODE);
        // rd_createSubid is set only for a relation created in the current transaction.
        let created = (*rel).rd_createSubid != 0 /* InvalidSubTransactionId */;
        let has_storage = matches!(relkind, b'r' | b'm' | b't' | b'i' | b'S');
        let size = if has_storage {
            let blocks =
                pg_sys::RelationGetNumberOfBlocksInFork(rel, pg_sys::ForkNumber::MAIN_FORKNUM);
            let bytes = i64::from(blocks) * i64::from(pg_sys::BLCKSZ);
            // A main fork of 0 pages is no proof while the TOAST table still has pages: VACUUM
            // truncates the main fork to 0 after a mass DELETE, and the TOAST table is vacuumed
            // on its own (autovacuum, PROCESS_TOAST false), so it can hold gigabytes that SET
            // TABLESPACE copies and REINDEX TABLE reads. Then the TOAST table's size counts.
            let toast = (*(*rel).rd_rel).reltoastrelid;
            Some(if bytes == 0 && toast != pg_sys::InvalidOid {
                measure(toast, b't').and_then(|m| m.size).unwrap_or(Size {
                    bytes: estimated_size(toast),
                    exact: false,
                })
            } else {
                Size { bytes, exact: true }
            })
        } else {
            None
        };
        pg_sys::relation_close(rel, pg_sys::NoLock as pg_sys::LOCKMODE);
        pg_sys::UnlockRelationOid(oid, ACCESS_SHARE);
        let size = match (size, relkind) {
            (None, b'p') => Some(partitions_size(oid)),
            (size, _) => size,
        };
        Some(Measured {
            created_in_transaction: created,
            size,
        })
    }
}

/// Sum of the leaf partitions, each measured if it can be locked at once, else estimated; exact
/// only when every leaf was measured.
fn partitions_size(oid: pg_sys::Oid) -> Size {
    let leaves = Spi::connect(|client| {
        let rows = client.select(
            "WITH RECURSIVE tree(relid) AS ( \
                SELECT inhrelid FROM pg_catalog.pg_inherits WHERE inhparent OPERATOR(pg_catalog.=) $1 \
              UNION ALL \
                SELECT i.inhrelid FROM pg_catalog.pg_inherits i JOIN tree t ON i.inhparent OPERATOR(pg_catalog.=) t.relid) \
             SELECT relid FROM tree",
            None,
            &[oid.into()],
        )?;
        let mut out = Vec::new();
        for row in rows {
            if let Some(o) = row.get::<pg_sys::Oid>(1)? {
                out.push(o);
            }
        }
        Ok::<Vec<pg_sys::Oid>, pgrx::spi::Error>(out)
    });
    let Ok(leaves) = leaves else {
        // Partitions unknown: nothing measured, nothing proven.
        return Size {
            bytes: 0,
            exact: false,
        };
    };
    sum_leaves(leaves.into_iter().filter_map(|leaf| {
        // SAFETY: see table_facts.
        let kind = unsafe { pg_sys::get_rel_relkind(leaf) } as u8;
        if kind == b'p' {
            return None; // sub-partitioned: its leaves are in the list too
        }
        Some(match measure(leaf, kind).and_then(|m| m.size) {
            Some(size) => size,
            None => Size {
                bytes: estimated_size(leaf),
                exact: false,
            },
        })
    }))
}

/// The leaves' total; exact only if every leaf was measured (no partitions: exactly 0).
fn sum_leaves(leaves: impl Iterator<Item = Size>) -> Size {
    leaves.fold(
        Size {
            bytes: 0,
            exact: true,
        },
        |total, leaf| Size {
            bytes: total.bytes + leaf.bytes,
            exact: total.exact && leaf.exact,
        },
    )
}

/// relpages * block size: up to date as of the last VACUUM, ANALYZE or CREATE INDEX.
fn estimated_size(oid: pg_sys::Oid) -> i64 {
    crate::spi_ro::get_one_with_args::<i64>(
        "SELECT GREATEST(relpages, 0)::pg_catalog.int8 \
                OPERATOR(pg_catalog.*) pg_catalog.current_setting('block_size')::pg_catalog.int8 \
         FROM pg_catalog.pg_class WHERE oid OPERATOR(pg_catalog.=) $1",
        &[oid.into()],
    )
    .ok()
    .flatten()
    .unwrap_or(0)
}

/// The marker `safe_ddl.begin_type_change()` writes into its dual-write trigger functions' source.
pub const TYPE_CHANGE_MARKER: &str = "safe_ddl.begin_type_change()";

/// The live column changes on table `oid`, from the catalog (every role's): each trigger
/// `zz_safe_ddl_column_change_<id>` on it that calls `_safe_ddl_cc<id>_dual_write()` of the
/// table's schema, with the columns `_safe_ddl_cc<id>_forward` and `_backward` (same schema, same
/// owner as the trigger function) take, as `_cc_objects` finds them. Empty when none, or when
/// the look-up fails.
pub fn column_changes(oid: pg_sys::Oid) -> Vec<crate::facts::ColumnChange> {
    // One text[] of (id, old column, new column, 't'/'f' type change) groups.
    let query = format!(
        "SELECT COALESCE(pg_catalog.array_agg(v.e ORDER BY x.n, v.k), '{{}}'::pg_catalog.text[]) FROM ( \
           SELECT pg_catalog.row_number() OVER () AS n, pg_catalog.substr(t.tgname, 27) AS id, fw.proargnames[1]::pg_catalog.text AS old, \
                  bw.proargnames[1]::pg_catalog.text AS new, \
                  (pg_catalog.strpos(tf.prosrc, {marker}) OPERATOR(pg_catalog.>) 0)::pg_catalog.text AS tc \
             FROM pg_catalog.pg_trigger AS t \
             JOIN pg_catalog.pg_class AS c ON c.oid OPERATOR(pg_catalog.=) t.tgrelid \
             JOIN pg_catalog.pg_proc AS tf ON tf.oid OPERATOR(pg_catalog.=) t.tgfoid \
             JOIN pg_catalog.pg_proc AS fw ON fw.pronamespace OPERATOR(pg_catalog.=) c.relnamespace \
                  AND fw.proname OPERATOR(pg_catalog.=) pg_catalog.concat('_safe_ddl_cc', pg_catalog.substr(t.tgname, 27), '_forward') \
                  AND fw.pronargs OPERATOR(pg_catalog.=) 1 AND fw.proowner OPERATOR(pg_catalog.=) tf.proowner \
             JOIN pg_catalog.pg_proc AS bw ON bw.pronamespace OPERATOR(pg_catalog.=) c.relnamespace \
                  AND bw.proname OPERATOR(pg_catalog.=) pg_catalog.concat('_safe_ddl_cc', pg_catalog.substr(t.tgname, 27), '_backward') \
                  AND bw.pronargs OPERATOR(pg_catalog.=) 1 AND bw.proowner OPERATOR(pg_catalog.=) tf.proowner \
            WHERE t.tgrelid OPERATOR(pg_catalog.=) $1 \
              AND t.tgname OPERATOR(pg_catalog.~) '^zz_safe_ddl_column_change_[0-9]{{1,18}}$' \
              AND tf.pronamespace OPERATOR(pg_catalog.=) c.relnamespace \
              AND tf.proname OPERATOR(pg_catalog.=) pg_catalog.concat('_safe_ddl_cc', pg_catalog.substr(t.tgname, 27), '_dual_write') \
              AND fw.proargnames[1] IS NOT NULL AND bw.proargnames[1] IS NOT NULL \
         ) AS x CROSS JOIN LATERAL (VALUES (1, x.id), (2, x.old), (3, x.new), (4, x.tc)) AS v(k, e)",
        marker = crate::rules::literal(TYPE_CHANGE_MARKER),
    );
    let Ok(Some(flat)) =
        crate::spi_ro::get_one_with_args::<Vec<Option<String>>>(&query, &[oid.into()])
    else {
        return vec![];
    };
    let mut out: Vec<crate::facts::ColumnChange> = flat
        .chunks(4)
        .filter_map(|g| match g {
            [Some(id), Some(old), Some(new), Some(tc)] => Some(crate::facts::ColumnChange {
                id: id.parse().ok()?,
                old_column: old.clone(),
                new_column: new.clone(),
                type_change: tc == "true",
            }),
            _ => None,
        })
        .collect();
    out.sort_by_key(|c| c.id);
    out
}

#[cfg(test)]
mod tests {
    use super::{sum_leaves, Size};

    fn size(bytes: i64, exact: bool) -> Size {
        Size { bytes, exact }
    }

    #[test]
    fn partitions_are_exact_only_when_every_leaf_was_measured() {
        assert_eq!(sum_leaves(std::iter::empty()), size(0, true));
        assert_eq!(
            sum_leaves([size(0, true), size(0, true)].into_iter()),
            size(0, true)
        );
        // One leaf was locked by someone else and estimated from relpages (0 after a bulk load
        // that no VACUUM or ANALYZE has seen yet): the total is not proof of anything.
        assert_eq!(
            sum_leaves([size(0, true), size(0, false)].into_iter()),
            size(0, false)
        );
        assert_eq!(
            sum_leaves([size(8192, true), size(16384, false)].into_iter()),
            size(24576, false)
        );
    }
}
