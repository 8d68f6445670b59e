//! SQL side of the counters: the rows behind `safe_ddl.metrics`, the reset behind
//! `safe_ddl.metrics_reset()`, and the entry backfill batches are counted through. The view and
//! the wrappers are in sql/metrics.sql.

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;

use super::shmem;
use crate::encoding;

/// One row per metric and labels (docs/metrics.md); none without shared_preload_libraries.
/// Backs the view safe_ddl.metrics. Counts are not secret: PUBLIC may read them.
#[allow(clippy::type_complexity)]
#[pg_extern(volatile, parallel_safe)]
fn _metrics() -> TableIterator<
    'static,
    (
        name!(metric, &'static str),
        name!(hazard, Option<&'static str>),
        name!(action, Option<&'static str>),
        name!(value, f64),
        name!(kind, &'static str),
        name!(description, &'static str),
    ),
> {
    let rows = shmem::snapshot()
        .map(|s| super::rows(&s))
        .unwrap_or_default();
    TableIterator::new(rows)
}

/// Zero every counter and restart stats_reset_seconds now. Superusers only (also revoked from
/// PUBLIC in SQL: a reset erases what monitoring relies on). False, with a NOTICE, when there are
/// no counters (not preloaded). Wrapped by metrics_reset().
#[pg_extern(volatile)]
fn _metrics_reset() -> bool {
    // SAFETY: a catalog lookup inside the calling transaction.
    if !unsafe { pg_sys::superuser() } {
        encoding::report(
            ErrorReport::new(
                PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
                "permission denied to reset safe_ddl's metrics",
                "safe_ddl",
            )
            .set_detail("Only a superuser may reset safe_ddl.metrics: monitoring relies on them.")
            .set_hint("Ask a superuser to run SELECT safe_ddl.metrics_reset();"),
            PgLogLevel::ERROR,
        );
        return false;
    }
    if !shmem::available() {
        encoding::report(
            ErrorReport::new(
                PgSqlErrorCode::ERRCODE_SUCCESSFUL_COMPLETION,
                "safe_ddl: no metrics to reset: safe_ddl is not in shared_preload_libraries",
                "safe_ddl",
            ),
            PgLogLevel::NOTICE,
        );
        return false;
    }
    // SAFETY: plain clock read.
    shmem::reset(unsafe { pg_sys::GetCurrentTimestamp() })
}

/// Add one backfill report: rows updated by a batch, the batch (0 or 1) and the seconds waited
/// before it on standbys or vacuum. Called only by the backfill job writes (_bf_w_progress,
/// _bf_w_stop), which run as the extension's owner through safe_ddl._state(): not executable by
/// PUBLIC (sql/metrics.sql). Values out of bounds are an error, never a counter gone absurd.
#[pg_extern(volatile, parallel_unsafe)]
fn _metrics_backfill(rows: i64, batches: i32, throttle_seconds: f64) {
    match super::check_backfill(rows, batches, throttle_seconds) {
        Ok((rows, batches, throttle)) => super::backfill(rows, batches, throttle),
        Err(why) => encoding::report(
            ErrorReport::new(
                PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
                format!("safe_ddl._metrics_backfill: {why}"),
                "safe_ddl",
            ),
            PgLogLevel::ERROR,
        ),
    }
}
