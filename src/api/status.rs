//! `safe_ddl.status()`: is the guard active in this backend, how was it loaded, and what are the
//! effective settings.

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;

use crate::{gucs, hook, load};

/// One row per fact: guard_active, loaded_via, mode, allow, lock_timeout, min_table_size, version.
#[pg_extern(volatile, parallel_safe)]
fn status() -> TableIterator<
    'static,
    (
        name!(setting, String),
        name!(value, String),
        name!(description, String),
    ),
> {
    let mode = gucs::mode();
    let active = hook::installed() && mode != gucs::Mode::Off;
    let min = gucs::min_table_size_bytes();
    let rows = vec![
        (
            "guard_active",
            active.to_string(),
            "the ProcessUtility hook is installed in this backend and safe_ddl.mode is not off",
        ),
        ("loaded_via", load::how().to_string(), load::how().explain()),
        (
            "mode",
            mode.name().to_string(),
            "enforce refuses hazards, warn only reports them, off does nothing",
        ),
        (
            "allow",
            gucs::allow_text(),
            "hazards this session or transaction may run (SET LOCAL safe_ddl.allow)",
        ),
        (
            "allow_ceiling",
            gucs::allow_ceiling_text(),
            "the most safe_ddl.allow may name in this session (set by a superuser per role or database)",
        ),
        (
            "lock_timeout",
            format!("{}ms", gucs::lock_timeout_ms()),
            "lock_timeout for DDL that blocks reads or writes (0 = not enforced)",
        ),
        (
            "min_table_size",
            crate::facts::pretty_size(min),
            "existing tables smaller than this are exempt from scan/rewrite/build hazards",
        ),
        (
            "version",
            env!("CARGO_PKG_VERSION").to_string(),
            "safe_ddl library version",
        ),
    ];
    TableIterator::new(
        rows.into_iter()
            .map(|(k, v, d)| (k.to_string(), v, d.to_string())),
    )
}

/// Called by the extension script: tell whoever runs CREATE EXTENSION when the guard will not
/// be active in other sessions. A WARNING, not a NOTICE: Postgres runs extension scripts with
/// client_min_messages raised to WARNING, so a NOTICE would never reach the user.
#[pg_extern(volatile)]
fn _preload_notice() {
    if !load::how().covers_all_sessions() {
        ErrorReport::new(
            PgSqlErrorCode::ERRCODE_SUCCESSFUL_COMPLETION,
            "safe_ddl: the guard is not active for all sessions: the library is not preloaded",
            "safe_ddl",
        )
        .set_detail("Only backends that load the library (this one, now) are guarded.")
        .set_hint(
            "Add safe_ddl to shared_preload_libraries in postgresql.conf and restart, \
             or ALTER SYSTEM SET session_preload_libraries = 'safe_ddl' (new sessions only). \
             Check with SELECT * FROM safe_ddl.status();",
        )
        .report(PgLogLevel::WARNING);
    }
}
