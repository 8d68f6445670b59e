//! `safe_ddl.rehearse(sql text)`: run statements for real inside a subtransaction that is always
//! rolled back, and report per statement the relations it locked and in which mode (from this
//! backend's own pg_locks), whether each was rewritten (relfilenode before/after), the rows it
//! read (pg_stat_xact_all_tables) and how long it ran, i.e. how long the lock would be held.
//! Run it on a production-sized copy to time the locks of a migration.

use std::collections::HashMap;
use std::ffi::CStr;
use std::time::Instant;

use pgrx::pg_sys::panic::{CaughtError, ErrorReport};
use pgrx::pg_sys::{self, NodeTag};
use pgrx::prelude::*;
use pgrx::{is_a, PgList, Spi};

use crate::encoding::{self, Sql, Text};
use crate::pg_error;

type Row = (
    i32,
    Text,
    Option<Text>,
    Option<Text>,
    Option<bool>,
    Option<i64>,
    f64,
);

#[pg_extern(volatile)]
#[allow(clippy::type_complexity)]
fn rehearse(
    sql: Sql,
) -> TableIterator<
    'static,
    (
        name!(n, i32),
        name!(statement, Text),
        name!(relation, Option<Text>),
        name!(lock_mode, Option<Text>),
        name!(rewritten, Option<bool>),
        name!(rows_scanned, Option<i64>),
        name!(elapsed_ms, f64),
    ),
> {
    let sql = &sql;
    let stmts = super::parse::parse(sql);
    // Refuse what cannot be rehearsed before running anything.
    for (node, location, len) in &stmts {
        // SAFETY: nodes from raw_parser in this call.
        if let Some(why) = unsafe { unrehearsable(*node) } {
            let text = sql.statement(*location, *len);
            encoding::report(
                ErrorReport::new(
                    PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
                    format!("safe_ddl.rehearse cannot run {why}"),
                    "safe_ddl",
                )
                .set_detail(format!("Statement: {text}"))
                .set_hint(
                    "rehearse runs the statements in a subtransaction it rolls back: CONCURRENTLY forms, VACUUM and \
                     transaction control cannot run there. Rehearse the plain form to time its locks.",
                ),
                PgLogLevel::ERROR,
            );
        }
    }
    let rows = in_rolled_back_subtransaction(|| run_all(sql, &stmts));
    TableIterator::new(rows)
}

/// Why a statement cannot be rehearsed, if it cannot.
unsafe fn unrehearsable(node: *mut pg_sys::Node) -> Option<&'static str> {
    // SAFETY: casts follow tag checks.
    unsafe {
        if is_a(node, NodeTag::T_TransactionStmt) {
            return Some("transaction control (BEGIN, COMMIT, ROLLBACK, SAVEPOINT, ...)");
        }
        if is_a(node, NodeTag::T_VacuumStmt) {
            return Some(
                "VACUUM or ANALYZE as a separate command (VACUUM cannot run inside a transaction)",
            );
        }
        if is_a(node, NodeTag::T_IndexStmt) && (*node.cast::<pg_sys::IndexStmt>()).concurrent {
            return Some("CREATE INDEX CONCURRENTLY");
        }
        // COPY from/to the client: there is no client stream inside the rehearsal (SPI).
        if is_a(node, NodeTag::T_CopyStmt) && (*node.cast::<pg_sys::CopyStmt>()).filename.is_null()
        {
            return Some("COPY FROM STDIN / TO STDOUT (no client stream inside a rehearsal)");
        }
        if is_a(node, NodeTag::T_DropStmt) && (*node.cast::<pg_sys::DropStmt>()).concurrent {
            return Some("DROP INDEX CONCURRENTLY");
        }
        if is_a(node, NodeTag::T_RefreshMatViewStmt)
            && (*node.cast::<pg_sys::RefreshMatViewStmt>()).concurrent
        {
            return Some("REFRESH MATERIALIZED VIEW CONCURRENTLY");
        }
        if is_a(node, NodeTag::T_ReindexStmt) {
            let s = node.cast::<pg_sys::ReindexStmt>();
            let concurrent = PgList::<pg_sys::DefElem>::from_pg((*s).params)
                .iter_ptr()
                .any(|o| {
                    CStr::from_ptr((*o).defname).to_bytes() == b"concurrently"
                        && pg_sys::defGetBoolean(o)
                });
            if concurrent {
                return Some("REINDEX CONCURRENTLY");
            }
        }
        if is_a(node, NodeTag::T_AlterTableStmt) {
            let s = node.cast::<pg_sys::AlterTableStmt>();
            for cmd in PgList::<pg_sys::AlterTableCmd>::from_pg((*s).cmds).iter_ptr() {
                let def = (*cmd).def;
                if (*cmd).subtype == pg_sys::AlterTableType::AT_DetachPartition
                    && is_a(def, NodeTag::T_PartitionCmd)
                    && (*def.cast::<pg_sys::PartitionCmd>()).concurrent
                {
                    return Some("DETACH PARTITION CONCURRENTLY");
                }
            }
        }
        None
    }
}

fn run_all(sql: &Sql, stmts: &[(*mut pg_sys::Node, i32, i32)]) -> Vec<Row> {
    // The guard would refuse the hazards being rehearsed: allow them inside the rehearsal only
    // (SET LOCAL, undone with the subtransaction), as far as safe_ddl.allow_ceiling permits: a
    // rehearsal runs the statements for real, so it may not do more than the caller could.
    Spi::get_one_with_args::<String>(
        "SELECT pg_catalog.set_config('safe_ddl.allow', $1, true)",
        &[crate::gucs::all_within_ceiling().into()],
    )
    .expect("set_config");
    let mut rows = Vec::new();
    for (i, (node, location, len)) in stmts.iter().enumerate() {
        let n = i32::try_from(i + 1).unwrap_or(i32::MAX);
        let text = sql.statement(*location, *len);
        // The relations the statement names, resolved now (after the earlier statements ran).
        // SAFETY: node is a raw parse tree from this call; we are in a transaction.
        let targets = unsafe { crate::describe::describe_node(*node, sql, *location, *len) }
            .map(|s| s.targets)
            .unwrap_or_default();
        let files = relfilenodes();
        let locks_before = my_locks();
        let reads_before = reads();
        let start = Instant::now();
        if let Err(e) = run(&text, sql.statement_server(*location, *len)) {
            ErrorReport::new(
                PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
                format!("safe_ddl.rehearse: statement {n} failed: {e}"),
                "safe_ddl",
            )
            .report(PgLogLevel::ERROR);
        }
        let elapsed = (start.elapsed().as_secs_f64() * 1_000_000.0).round() / 1000.0;
        let locks_after = my_locks();
        let reads_after = reads();
        let files_after = relfilenodes();
        // The relations this statement touched: newly locked, read or rewritten. For each, the
        // strongest lock the rehearsal's transaction holds after it: in one migration transaction,
        // that is what stays held while the statement runs and until COMMIT.
        let mut touched: Vec<u32> = locks_after
            .iter()
            .filter(|l| !locks_before.contains(l))
            .map(|l| l.0)
            .collect();
        touched.extend(
            reads_after
                .iter()
                .filter(|(r, v)| **v > reads_before.get(*r).copied().unwrap_or(0))
                .map(|(r, _)| *r),
        );
        touched.extend(
            files
                .iter()
                .filter(|(r, f)| files_after.get(*r).is_some_and(|g| g != *f))
                .map(|(r, _)| *r),
        );
        touched.extend(targets);
        touched.sort_unstable();
        touched.dedup();
        let mut any = false;
        for relid in touched {
            let held = locks_after
                .iter()
                .filter(|l| l.0 == relid)
                .filter_map(|l| crate::ddl::LockMode::from_name(&l.2).map(|m| (m, l)))
                .max_by_key(|(m, _)| *m);
            // Relations gone again (the transient heap of a rewrite) and TOAST tables are noise.
            let Some((mode, (_, name, _))) = held else {
                continue;
            };
            if !files_after.contains_key(&relid) || name.starts_with("pg_toast.") {
                continue;
            }
            let rewritten = match (files.get(&relid), files_after.get(&relid)) {
                (Some(a), Some(b)) => Some(a != b),
                _ => None,
            };
            let scanned = reads_after
                .get(&relid)
                .map(|r| r - reads_before.get(&relid).copied().unwrap_or(0))
                .filter(|d| *d > 0);
            rows.push((
                n,
                Text(text.clone()),
                Some(Text(name.clone())),
                Some(Text::from(mode.name())),
                rewritten,
                scanned,
                elapsed,
            ));
            any = true;
        }
        if !any {
            rows.push((n, Text(text.clone()), None, None, None, None, elapsed));
        }
    }
    rows
}

/// Run one statement: `text` in Rust, `server` as the parser saw it (the same bytes in a UTF-8
/// database).
fn run(text: &str, server: &[u8]) -> Result<(), pgrx::spi::Error> {
    if server == text.as_bytes() {
        return Spi::run(text);
    }
    let Ok(query) = std::ffi::CString::new(server) else {
        return Spi::run(text);
    };
    let query = query.as_ptr();
    Spi::connect_mut(|_client| {
        // SAFETY: connected to SPI; query is a NUL-terminated statement in the server encoding.
        // Caught whole, so that its message is converted from the server encoding.
        match unsafe { pg_error::catch(|| raw::SPI_execute(query, false, 0)) } {
            Ok(rc) if rc < 0 => Err(pgrx::spi::SpiErrorCodes::try_from(rc)
                .unwrap_or(pgrx::spi::SpiErrorCodes::OpUnknown)
                .into()),
            Ok(_) => Ok(()),
            Err(e) => {
                let edata = e.into_raw();
                // SAFETY: a valid ErrorData from CopyErrorData, freed once read.
                let r = unsafe {
                    let text = |p: *const std::ffi::c_char| {
                        (!p.is_null()).then(|| encoding::cstr_to_rust(p))
                    };
                    let mut r = ErrorReport::new(
                        PgSqlErrorCode::from((*edata).sqlerrcode),
                        text((*edata).message).unwrap_or_default(),
                        "safe_ddl",
                    );
                    if let Some(d) = text((*edata).detail) {
                        r = r.set_detail(d);
                    }
                    if let Some(h) = text((*edata).hint) {
                        r = r.set_hint(h);
                    }
                    pg_sys::FreeErrorData(edata);
                    r
                };
                encoding::report(r, PgLogLevel::ERROR);
                unreachable!("ERROR does not return")
            }
        }
    })
}

mod raw {
    use std::ffi::{c_char, c_int};
    // Unguarded: an ERROR in it must reach pg_error::catch whole.
    #[allow(clashing_extern_declarations)]
    unsafe extern "C-unwind" {
        pub fn SPI_execute(src: *const c_char, read_only: bool, tcount: std::ffi::c_long) -> c_int;
    }
}

/// Relation locks this backend holds on user relations: (oid, schema-qualified name, mode).
///
/// The queries here run with the caller's search_path: every operator is pg_catalog's and every
/// constant has the operand's type (`oid >= int` would pick an `>=(oid, int)` that another role
/// defined in a schema on that path), see docs/security.md.
fn my_locks() -> Vec<(u32, String, String)> {
    Spi::connect(|client| {
        let rows = client.select(
            "SELECT l.relation, \
                    coalesce(pg_catalog.quote_ident(CASE WHEN n.oid OPERATOR(pg_catalog.=) pg_catalog.pg_my_temp_schema() \
                                                         THEN 'pg_temp' ELSE n.nspname END) \
                             OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(c.relname), \
                             l.relation::pg_catalog.regclass::pg_catalog.text) AS name, \
                    l.mode \
               FROM pg_catalog.pg_locks l \
               LEFT JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) l.relation \
               LEFT JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace \
             WHERE l.pid OPERATOR(pg_catalog.=) pg_catalog.pg_backend_pid() \
               AND l.locktype OPERATOR(pg_catalog.=) 'relation' AND l.granted \
               AND l.relation OPERATOR(pg_catalog.>=) 16384::pg_catalog.oid \
               AND l.database OPERATOR(pg_catalog.=) (SELECT d.oid FROM pg_catalog.pg_database d \
                                                      WHERE d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database()) \
             ORDER BY name, l.mode",
            None,
            &[],
        )?;
        let mut out = Vec::new();
        for row in rows {
            let oid = row.get::<pg_sys::Oid>(1)?.map(|o| o.to_u32()).unwrap_or(0);
            out.push((oid, row.get::<Text>(2)?.unwrap_or_default().0, row.get::<Text>(3)?.unwrap_or_default().0));
        }
        Ok::<_, pgrx::spi::Error>(out)
    })
    .unwrap_or_default()
}

fn relfilenodes() -> HashMap<u32, u32> {
    pairs(
        "SELECT oid, relfilenode::pg_catalog.int8 FROM pg_catalog.pg_class \
         WHERE oid OPERATOR(pg_catalog.>=) 16384::pg_catalog.oid",
    )
    .into_iter()
    .map(|(a, b)| (a, u32::try_from(b).unwrap_or(0)))
    .collect()
}

/// Rows read per relation in this transaction so far (sequential tuples read + index fetches).
fn reads() -> HashMap<u32, i64> {
    // SAFETY: plain function call; the per-transaction counters are read fresh.
    unsafe { pg_sys::pgstat_clear_snapshot() };
    pairs(
        "SELECT relid, COALESCE(seq_tup_read, 0::pg_catalog.int8) OPERATOR(pg_catalog.+) COALESCE(idx_tup_fetch, 0::pg_catalog.int8) \
         FROM pg_catalog.pg_stat_xact_all_tables WHERE relid OPERATOR(pg_catalog.>=) 16384::pg_catalog.oid",
    )
    .into_iter()
    .collect()
}

fn pairs(query: &str) -> Vec<(u32, i64)> {
    Spi::connect(|client| {
        let rows = client.select(query, None, &[])?;
        let mut out = Vec::new();
        for row in rows {
            let a = row.get::<pg_sys::Oid>(1)?.map(|o| o.to_u32()).unwrap_or(0);
            let b = row.get::<i64>(2)?.unwrap_or(0);
            out.push((a, b));
        }
        Ok::<_, pgrx::spi::Error>(out)
    })
    .unwrap_or_default()
}

/// Run `f` in a subtransaction that is rolled back whatever happens; errors propagate after the
/// rollback.
fn in_rolled_back_subtransaction<R>(f: impl FnOnce() -> R) -> R {
    // SAFETY: the subtransaction is begun and rolled back here on every path, restoring the
    // memory context and resource owner as PL/pgSQL's exception blocks do.
    unsafe {
        let context = pg_sys::CurrentMemoryContext;
        let owner = pg_sys::CurrentResourceOwner;
        pg_sys::BeginInternalSubTransaction(std::ptr::null());
        pg_sys::MemoryContextSwitchTo(context);
        let outcome: Result<R, Box<CaughtError>> =
            PgTryBuilder::new(std::panic::AssertUnwindSafe(|| Ok(f())))
                .catch_others(|e| Err(Box::new(e)))
                .execute();
        pg_sys::RollbackAndReleaseCurrentSubTransaction();
        pg_sys::MemoryContextSwitchTo(context);
        pg_sys::CurrentResourceOwner = owner;
        match outcome {
            Ok(r) => r,
            Err(e) => e.rethrow(),
        }
    }
}
