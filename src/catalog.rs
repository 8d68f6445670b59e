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
    let (created_in_transaction, own_size) = match measure(oid, relkind) {
        Some(m) => (m.created_in_transaction, m.size_bytes),
        None => (false, None),
    };
    let (size_bytes, size_exact) = match own_size {
        Some(bytes) => (bytes, true),
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
        usage: None,
    })
}

struct Measured {
    created_in_transaction: bool,
    /// None for relations without storage (partitioned tables).
    size_bytes: Option<i64>,
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
            Some(i64::from(blocks) * i64::from(pg_sys::BLCKSZ))
        } else {
            None
        };
        pg_sys::relation_close(rel, pg_sys::NoLock as pg_sys::LOCKMODE);
        pg_sys::UnlockRelationOid(oid, ACCESS_SHARE);
        let size = match (size, relkind) {
            (None, b'p') => Some(partitions_size(oid)),
            (s, _) => s,
        };
        Some(Measured {
            created_in_transaction: created,
            size_bytes: size,
        })
    }
}

/// Sum of the leaf partitions, each measured if it can be locked at once, else estimated.
fn partitions_size(oid: pg_sys::Oid) -> i64 {
    let leaves: Vec<pg_sys::Oid> = Spi::connect(|client| {
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
        Ok::<_, pgrx::spi::Error>(out)
    })
    .unwrap_or_default();
    leaves
        .into_iter()
        .map(|leaf| {
            // SAFETY: see table_facts.
            let kind = unsafe { pg_sys::get_rel_relkind(leaf) } as u8;
            match measure(leaf, kind).and_then(|m| m.size_bytes) {
                Some(s) if kind != b'p' => s,
                _ if kind == b'p' => 0, // sub-partitioned: its leaves are in the list too
                _ => estimated_size(leaf),
            }
        })
        .sum()
}

/// relpages * block size: up to date as of the last VACUUM, ANALYZE or CREATE INDEX.
fn estimated_size(oid: pg_sys::Oid) -> i64 {
    Spi::get_one_with_args::<i64>(
        "SELECT GREATEST(relpages, 0)::pg_catalog.int8 \
                OPERATOR(pg_catalog.*) pg_catalog.current_setting('block_size')::pg_catalog.int8 \
         FROM pg_catalog.pg_class WHERE oid OPERATOR(pg_catalog.=) $1",
        &[oid.into()],
    )
    .ok()
    .flatten()
    .unwrap_or(0)
}
