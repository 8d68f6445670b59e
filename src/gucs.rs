//! Every `safe_ddl.*` setting, defined in one place. The rest of the code reads them through
//! the typed accessors at the bottom and never touches a `GucSetting` directly.

use std::ffi::{c_char, c_void, CString};

use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting};
use pgrx::{pg_guard, pg_sys, PostgresGucEnum};

use crate::hazard::AllowList;

/// What the guard does with a hazard.
#[derive(PostgresGucEnum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    /// Refuse hazards, enforce `safe_ddl.lock_timeout`.
    #[name = c"enforce"]
    Enforce,
    /// Report each hazard as a WARNING and change nothing (no refusal, no lock_timeout).
    #[name = c"warn"]
    Warn,
    /// Do nothing at all.
    #[name = c"off"]
    Off,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Warn => "warn",
            Mode::Off => "off",
        }
    }
}

/// `safe_ddl.mode`, default `enforce`: a guard that must be switched on is a guard nobody has.
/// SUSET, so an application role cannot switch its own guard off; a superuser can still set it
/// per role or database with ALTER ROLE/DATABASE ... SET.
static MODE: GucSetting<Mode> = GucSetting::<Mode>::new(Mode::Enforce);

/// `safe_ddl.allow`, default empty: hazards the session (or, with SET LOCAL, the transaction)
/// may run anyway. Checked at SET time, so a misspelt hazard name is an error rather than a
/// silent no-op.
static ALLOW: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);

/// `safe_ddl.lock_timeout`, default 200 ms. While a DDL statement waits for its lock, every
/// later query on the table queues behind it, so this is the longest stall the application
/// sees from a blocked migration. 200 ms is below the request timeouts of typical web stacks
/// and above the time an uncontended lock takes, so a migration on a healthy system is not
/// cut off by it. 0 disables.
static LOCK_TIMEOUT_MS: GucSetting<i32> = GucSetting::<i32>::new(200);

/// `safe_ddl.min_table_size`, default 0 (every existing table is guarded). Tables smaller than
/// this many bytes are exempt from the scan/rewrite/build hazards, because locking a small
/// table for the few milliseconds a rebuild takes harms nobody. They still get the lock_timeout.
static MIN_TABLE_SIZE_KB: GucSetting<i32> = GucSetting::<i32>::new(0);

/// `safe_ddl.auto_concurrently`, default off: run a plain CREATE INDEX / DROP INDEX / REINDEX
/// issued at top level outside a transaction block as its CONCURRENTLY form instead of refusing
/// it. Off by default because it changes what a statement does (and how long it takes).
static AUTO_CONCURRENTLY: GucSetting<bool> = GucSetting::<bool>::new(false);

/// `safe_ddl.lock_retries`, default 10, and `safe_ddl.lock_retry_delay`, default 500 ms: a DDL
/// that cannot get its lock looks again up to 10 times, waiting 0.5, 1, 2, 4 and then 5 s
/// (doubling, capped at 10 x the base, +-25% jitter): about 37 s in all, enough to ride out a
/// half-minute blocker, while each single wait in the lock queue stays within lock_timeout.
static LOCK_RETRIES: GucSetting<i32> = GucSetting::<i32>::new(10);
static LOCK_RETRY_DELAY_MS: GucSetting<i32> = GucSetting::<i32>::new(500);

/// `safe_ddl.max_lock_hold`, default 1 s: a transaction that held a lock blocking reads or writes
/// on an existing table for longer than this gets a WARNING at commit (0 disables). Migrations
/// that wrap DDL in long transactions hold the lock until COMMIT.
static MAX_LOCK_HOLD_MS: GucSetting<i32> = GucSetting::<i32>::new(1000);

/// `safe_ddl.max_dml_rows`, default 0 (off): an UPDATE or DELETE on an existing table whose plan
/// estimates more rows than this is refused as `large_dml`. Opt-in, because many systems run
/// legitimate large maintenance statements.
static MAX_DML_ROWS: GucSetting<i32> = GucSetting::<i32>::new(0);

/// `safe_ddl.track_usage`, default on: record this session's reads and writes of tables and
/// columns in the shared usage table (`safe_ddl.column_usage`). safe_ddl's own helpers turn it
/// off for their queries, so a backfill does not make a column look used by the application.
static TRACK_USAGE: GucSetting<bool> = GucSetting::<bool>::new(true);

/// `safe_ddl.usage_window`, default 1 day: a table or column read or written within this window
/// (or not tracked for a whole window yet) is "in use": dropping or renaming it needs
/// `in_use` in safe_ddl.allow as well as the hazard.
static USAGE_WINDOW_S: GucSetting<i32> = GucSetting::<i32>::new(86_400);

/// `safe_ddl.usage_max_entries`, default 65536 (server start only): slots of the shared usage
/// table, one per (database, relation, column) used; 32 bytes each. 0 disables tracking.
static USAGE_MAX_ENTRIES: GucSetting<i32> = GucSetting::<i32>::new(65_536);

pub fn init() {
    GucRegistry::define_int_guc(
        c"safe_ddl.max_dml_rows",
        c"Refuse UPDATE/DELETE on an existing table estimated to touch more rows than this (0 = off).",
        c"Hazard large_dml; use CALL safe_ddl.backfill(...) for batched updates.",
        &MAX_DML_ROWS,
        0,
        i32::MAX,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"safe_ddl.lock_retries",
        c"How many more times a guarded DDL looks for its lock after the first attempt (0 = no retries).",
        c"Between attempts it sleeps safe_ddl.lock_retry_delay, doubling up to 10 times that, with jitter.",
        &LOCK_RETRIES,
        0,
        1000,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"safe_ddl.lock_retry_delay",
        c"Base delay between lock attempts of a guarded DDL.",
        c"Doubles after each attempt, capped at 10 times this value, with +-25% jitter.",
        &LOCK_RETRY_DELAY_MS,
        1,
        3_600_000,
        GucContext::Userset,
        GucFlags::UNIT_MS,
    );
    GucRegistry::define_int_guc(
        c"safe_ddl.max_lock_hold",
        c"Warn at commit when a transaction held a lock blocking reads or writes longer than this.",
        c"0 disables.",
        &MAX_LOCK_HOLD_MS,
        0,
        i32::MAX,
        GucContext::Userset,
        GucFlags::UNIT_MS,
    );
    GucRegistry::define_bool_guc(
        c"safe_ddl.auto_concurrently",
        c"Run plain CREATE INDEX, DROP INDEX and REINDEX as their CONCURRENTLY form when possible.",
        c"Only at top level outside a transaction block; inside one they are refused as usual.",
        &AUTO_CONCURRENTLY,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_enum_guc(
        c"safe_ddl.mode",
        c"What safe_ddl does with a hazardous DDL statement: enforce, warn or off.",
        c"enforce refuses hazards and bounds lock waits; warn reports hazards as WARNINGs and changes nothing; off does nothing.",
        &MODE,
        GucContext::Suset,
        GucFlags::default(),
    );
    // SAFETY: the check hook is a #[pg_guard] function with the signature Postgres expects.
    unsafe {
        GucRegistry::define_string_guc_with_hooks(
            c"safe_ddl.allow",
            c"Comma-separated hazard names (or all) that this session or transaction may run.",
            c"Meant for SET LOCAL inside the transaction that runs the hazardous statement. Every statement that runs only because of it is logged.",
            &ALLOW,
            GucContext::Userset,
            GucFlags::default(),
            Some(check_allow),
            None,
            None,
        );
    }
    GucRegistry::define_int_guc(
        c"safe_ddl.lock_timeout",
        c"lock_timeout applied to DDL that needs a lock conflicting with reads or writes.",
        c"Applied when the session's own lock_timeout is 0 or larger. 0 disables.",
        &LOCK_TIMEOUT_MS,
        0,
        i32::MAX,
        GucContext::Userset,
        GucFlags::UNIT_MS,
    );
    GucRegistry::define_int_guc(
        c"safe_ddl.min_table_size",
        c"Existing tables smaller than this are exempt from scan, rewrite and build hazards.",
        c"They still get safe_ddl.lock_timeout. 0 guards every table.",
        &MIN_TABLE_SIZE_KB,
        0,
        i32::MAX,
        GucContext::Suset,
        GucFlags::UNIT_KB,
    );
    GucRegistry::define_bool_guc(
        c"safe_ddl.track_usage",
        c"Record this session's reads and writes of tables and columns (safe_ddl.column_usage).",
        c"Needs shared_preload_libraries. safe_ddl's own helpers turn it off for their queries.",
        &TRACK_USAGE,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"safe_ddl.usage_window",
        c"Tables and columns used within this window count as in use: dropping or renaming them needs allow in_use.",
        c"Also in use: anything while tracking has run for less than the window (after a restart).",
        &USAGE_WINDOW_S,
        0,
        i32::MAX,
        GucContext::Userset,
        GucFlags::UNIT_S,
    );
    // A server-start setting can only be defined while shared_preload_libraries loads us
    // (Postgres refuses PGC_POSTMASTER variables later); without preloading there is no
    // tracking anyway, and usage_max_entries() reads the default.
    // SAFETY: a plain global of the postmaster.
    if unsafe { pg_sys::process_shared_preload_libraries_in_progress } {
        define_usage_max_entries();
    }
    // SAFETY: called from _PG_init with a static, NUL-terminated name.
    unsafe { pg_sys::MarkGUCPrefixReserved(c"safe_ddl".as_ptr()) };
}

fn define_usage_max_entries() {
    GucRegistry::define_int_guc(
        c"safe_ddl.usage_max_entries",
        c"Slots of the shared column usage table (32 bytes each); 0 disables usage tracking.",
        c"One slot per database, relation and column used. Server start only.",
        &USAGE_MAX_ENTRIES,
        0,
        1 << 24,
        GucContext::Postmaster,
        GucFlags::default(),
    );
}

/// GUC check hook: reject unknown hazard names at SET time.
#[pg_guard]
unsafe extern "C-unwind" fn check_allow(
    newval: *mut *mut c_char,
    _extra: *mut *mut c_void,
    _source: pg_sys::GucSource::Type,
) -> bool {
    // SAFETY: Postgres passes a valid pointer to a (possibly NULL) C string.
    let raw = unsafe { *newval };
    if raw.is_null() {
        return true;
    }
    // SAFETY: non-NULL GUC string values are NUL-terminated.
    let text = unsafe { crate::encoding::cstr_to_rust(raw) };
    match AllowList::parse(&text) {
        Ok(_) => true,
        Err(msg) => {
            // SAFETY: GUC_check_errdetail_string is read by the GUC machinery right after we
            // return false; the string is palloc'd in the current context as it expects.
            unsafe {
                let c =
                    CString::new(crate::encoding::to_server(&msg).into_owned()).unwrap_or_default();
                pg_sys::GUC_check_errdetail_string = pg_sys::pstrdup(c.as_ptr());
            }
            false
        }
    }
}

pub fn mode() -> Mode {
    MODE.get()
}

pub fn allow() -> AllowList {
    let text = ALLOW
        .get()
        .map(|c| c.to_string_lossy().into_owned())
        .unwrap_or_default();
    // The check hook validated the value, so a parse error cannot happen; be lenient anyway.
    AllowList::parse(&text).unwrap_or_default()
}

pub fn allow_text() -> String {
    ALLOW
        .get()
        .map(|c| c.to_string_lossy().into_owned())
        .unwrap_or_default()
}

pub fn auto_concurrently() -> bool {
    AUTO_CONCURRENTLY.get()
}

pub fn max_dml_rows() -> f64 {
    f64::from(MAX_DML_ROWS.get())
}

pub fn lock_retries() -> i32 {
    LOCK_RETRIES.get()
}

pub fn lock_retry_delay_ms() -> i32 {
    LOCK_RETRY_DELAY_MS.get()
}

pub fn max_lock_hold_ms() -> i32 {
    MAX_LOCK_HOLD_MS.get()
}

pub fn lock_timeout_ms() -> i32 {
    LOCK_TIMEOUT_MS.get()
}

pub fn min_table_size_bytes() -> i64 {
    i64::from(MIN_TABLE_SIZE_KB.get()) * 1024
}

pub fn track_usage() -> bool {
    TRACK_USAGE.get()
}

/// `safe_ddl.usage_window` in microseconds.
pub fn usage_window_us() -> i64 {
    i64::from(USAGE_WINDOW_S.get()) * 1_000_000
}

pub fn usage_max_entries() -> usize {
    usize::try_from(USAGE_MAX_ENTRIES.get()).unwrap_or(0)
}
