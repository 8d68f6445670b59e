//! Column usage tracking: when each table and column was last read and last written by any
//! query, and when it was created if tracking saw that, kept in shared memory (`store`, with the
//! last uses as `stamp`s), fed by an ExecutorStart hook (`record`) and, for COPY and TRUNCATE, by the ProcessUtility
//! hook (`utility`), told of creations and drops
//! when their transactions commit (`lifecycle`), read by `safe_ddl.column_usage` (`api`) and by
//! the drop/rename rules through `verdict` (pure). What the current transaction itself did is
//! kept apart (`own`): its uses do not count against its own drops and renames. Temporary
//! relations are not tracked.
//!
//! Needs shared_preload_libraries (shared memory is sized at server start). Without it nothing
//! is tracked and the rules behave as if tracking did not exist.

pub mod api;
mod libpq;
mod lifecycle;
mod own;
mod persist;
pub mod record;
mod saved;
mod saver;
mod stamp;
mod standbys;
mod store;
pub mod utility;
pub mod verdict;

use pgrx::pg_sys;

use crate::gucs;

/// From _PG_init: request the shared table, when preloaded (recording starts with it; the
/// recorder is called by the ExecutorStart hook, executor_hook.rs).
pub fn install() {
    // SAFETY: a plain global of the postmaster, read in _PG_init.
    let preloading = unsafe { pg_sys::process_shared_preload_libraries_in_progress };
    let capacity = gucs::usage_max_entries();
    if preloading && capacity > 0 {
        store::request(capacity);
        lifecycle::install();
        saver::register();
    }
}

/// The usage of relation `relid` in this database, with column names, for the rules; None when
/// tracking is not running.
pub fn relation_usage(relid: pg_sys::Oid) -> Option<verdict::RelationUsage> {
    api::relation_usage(relid)
}
