//! safe_ddl: zero-downtime schema changes by default, for every client of the cluster.
//!
//! Layout: `hook` (FFI only) -> `describe` (parse tree -> `ddl::Statement`) -> `catalog`
//! (live facts) -> `classify` + `rules/*` (pure) -> `report` (messages) / `timeout`
//! (bounded lock waits). Settings live in `gucs`, SQL functions in `api/`.
#![forbid(unsafe_op_in_unsafe_fn)]

use pgrx::prelude::*;

mod acquire;
mod api;
mod audit;
mod auto_concurrently;
mod backstop;
mod blockers;
mod catalog;
pub mod classify;
pub mod coverage;
mod created;
pub mod ddl;
mod describe;
mod dml_guard;
mod encoding;
mod executor_hook;
pub mod facts;
mod forecast;
mod guard;
mod gucs;
pub mod hazard;
mod hold;
mod hook;
mod inline_allow;
mod load;
mod metrics;
mod pg_error;
mod pg_struct;
mod pg_version;
mod recheck;
mod report;
pub mod rules;
mod shmem;
mod slice;
mod spi_ro;
pub mod sqltext;
mod timeout;
mod usage;
mod xact;

pgrx::pg_module_magic!();

extension_sql_file!("../sql/lock_report.sql", name = "lock_report");
extension_sql_file!("../sql/backfill.sql", name = "backfill");
extension_sql_file!("../sql/health.sql", name = "health");
extension_sql_file!(
    "../sql/usage.sql",
    name = "usage",
    requires = [
        usage::api::_usage_entries,
        usage::api::_reset_usage,
        usage::api::_usage_export
    ]
);
extension_sql_file!("../sql/expand_contract.sql", name = "expand_contract");
extension_sql_file!(
    "../sql/type_change.sql",
    name = "type_change",
    requires = ["expand_contract"]
);
extension_sql_file!(
    "../sql/metrics.sql",
    name = "metrics",
    requires = [
        "backfill",
        metrics::api::_metrics,
        metrics::api::_metrics_reset,
        metrics::api::_metrics_backfill
    ]
);
extension_sql_file!(
    "../sql/audit.sql",
    name = "audit",
    requires = [audit::api::_audit_entries]
);
extension_sql_file!("../sql/finalize.sql", name = "finalize", finalize);

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    load::record();
    gucs::init();
    hook::install();
    hold::install();
    executor_hook::install();
    usage::install();
    metrics::install();
    audit::install();
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    /// The guard is installed by shared_preload_libraries in the test cluster.
    #[pg_test]
    fn status_reports_active_guard_and_preload() {
        let active = Spi::get_one::<String>(
            "SELECT value FROM safe_ddl.status() WHERE setting = 'guard_active'",
        );
        assert_eq!(active.unwrap().as_deref(), Some("true"));
        let via = Spi::get_one::<String>(
            "SELECT value FROM safe_ddl.status() WHERE setting = 'loaded_via'",
        );
        assert_eq!(via.unwrap().as_deref(), Some("shared_preload_libraries"));
        let mode =
            Spi::get_one::<String>("SELECT value FROM safe_ddl.status() WHERE setting = 'mode'");
        assert_eq!(mode.unwrap().as_deref(), Some("enforce"));
    }

    /// A table created in this transaction is invisible to others: indexing it is not a hazard.
    #[pg_test]
    fn create_index_on_table_created_in_same_transaction_is_allowed() {
        Spi::run("CREATE TABLE fresh AS SELECT g AS id FROM generate_series(1, 1000) g").unwrap();
        Spi::run("CREATE INDEX fresh_id ON fresh (id)").unwrap();
        Spi::run("REINDEX TABLE fresh").unwrap();
        let n = Spi::get_one::<i64>("SELECT count(*) FROM pg_indexes WHERE indexname = 'fresh_id'");
        assert_eq!(n.unwrap(), Some(1));
    }

    /// Unknown hazard names are rejected when set, not silently ignored.
    #[pg_test(error = "invalid value for parameter \"safe_ddl.allow\": \"index_bild\"")]
    fn unknown_allow_name_is_an_error() {
        Spi::run("SET LOCAL safe_ddl.allow = 'index_bild'").unwrap();
    }

    /// Misspelt safe_ddl.* settings are rejected (the prefix is reserved).
    #[pg_test(error = "invalid configuration parameter name \"safe_ddl.alow\"")]
    fn reserved_prefix_rejects_misspelt_settings() {
        Spi::run("SET safe_ddl.alow = 'index_build'").unwrap();
    }

    /// An ERROR inside analysis's subtransaction comes back as Err with its message; the locks
    /// taken in it are released, what was allocated survives, and the transaction goes on.
    #[pg_test]
    fn in_subtransaction_catches_an_error_and_releases_its_locks() {
        // A table this transaction holds no lock on yet (a table created here would be locked
        // by its creation already).
        let err = crate::xact::in_subtransaction(|| {
            Spi::run("LOCK TABLE pg_catalog.pg_seclabel IN EXCLUSIVE MODE").unwrap();
            Spi::get_one::<i32>("SELECT 1 / 0").unwrap()
        });
        assert!(
            err.as_ref().is_err_and(|m| m.contains("division by zero")),
            "{err:?}"
        );
        let held = Spi::get_one::<i64>(
            "SELECT count(*) FROM pg_locks WHERE relation = 'pg_catalog.pg_seclabel'::regclass \
             AND mode = 'ExclusiveLock' AND pid = pg_backend_pid()",
        );
        assert_eq!(held.unwrap(), Some(0));
        let ok = crate::xact::in_subtransaction(|| String::from("kept"));
        assert_eq!(ok.as_deref(), Ok("kept"));
        assert_eq!(Spi::get_one::<i32>("SELECT 2").unwrap(), Some(2));
    }

    /// ALTER TABLE runs with the guard's lock_timeout, and the session's value is back after.
    #[pg_test]
    fn lock_timeout_is_restored_after_a_guarded_statement() {
        Spi::run("CREATE TABLE lt (id int)").unwrap();
        Spi::run("SET LOCAL lock_timeout = 0").unwrap();
        Spi::run("ALTER TABLE lt ADD COLUMN x int").unwrap();
        let lt = Spi::get_one::<String>("SHOW lock_timeout");
        assert_eq!(lt.unwrap().as_deref(), Some("0"));
    }
}

/// Used by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![
            "shared_preload_libraries = 'safe_ddl'",
            "safe_ddl.docs_url = 'docs'",
        ]
    }
}
