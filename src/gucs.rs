//! Every `safe_ddl.*` setting, defined in one place. The rest of the code reads them through
//! the typed accessors at the bottom and never touches a `GucSetting` directly.

use std::ffi::{c_char, c_void, CStr, CString};

use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting};
use pgrx::{pg_guard, pg_sys, PostgresGucEnum};

use crate::hazard::{AllowList, Hazard};

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
/// silent no-op. Only the session or transaction that runs the statement may set it: a value
/// from ALTER DATABASE/ROLE ... SET or the configuration file would apply to every session of
/// the database or role, superusers' included, so it is ignored (check_allow) and refused at
/// ALTER time (check_alter_setting).
static ALLOW: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);

/// `safe_ddl.allow_ceiling`, default `all`: the most `safe_ddl.allow` may name in this session.
/// SUSET: a superuser sets it per role or database (ALTER ROLE/DATABASE ... SET), so a platform
/// team decides which hazards each application role may override at all. Checked when allow is
/// SET and again when a hazard is let through (the ceiling may arrive after allow: client
/// startup options are applied before role settings, and a superuser may lower it later).
static ALLOW_CEILING: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"all"));

/// `safe_ddl.docs_url`: where messages point for the docs pages (`See <docs_url>/hazards/x.md`).
/// Default: the docs installed with the extension (`<sharedir>/doc/safe_ddl`, found from the
/// server's own executable, so it holds for a source build and a package alike); a DBA sets a
/// URL (a wiki, the published docs) and it is used as given. SUSET: the pages every session's
/// messages send developers to are the DBA's choice, not any role's.
static DOCS_URL: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);

/// `safe_ddl.lock_timeout`, default 200 ms. While a DDL statement waits for its lock, every
/// later query on the table queues behind it, so this is the longest stall the application
/// sees from a blocked migration. 200 ms is below the request timeouts of typical web stacks
/// and above the time an uncontended lock takes, so a migration on a healthy system is not
/// cut off by it. 0 disables.
static LOCK_TIMEOUT_MS: GucSetting<i32> = GucSetting::<i32>::new(200);

/// `safe_ddl.min_table_size`, default 0 (no table is exempt by its size). Tables smaller than
/// this many bytes are exempt from the scan/rewrite/build hazards, because locking a small
/// table for the few milliseconds a rebuild takes harms nobody. They still get the lock_timeout.
/// Tables that hold no data are exempt whatever its value (`TableFacts::holds_no_data`).
static MIN_TABLE_SIZE_KB: GucSetting<i32> = GucSetting::<i32>::new(0);

/// `safe_ddl.exempt_empty_tables`, default on: a table that holds no data (0 pages, measured) is
/// exempt from the scan, rewrite and build hazards. Off judges every table as if it held data:
/// for a cluster that has only the schema (`safe-ddl check --ephemeral`, a CI database), where
/// every table is empty but production's are not. Superuser: it protects other sessions' tables.
static EXEMPT_EMPTY_TABLES: GucSetting<bool> = GucSetting::<bool>::new(true);

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

/// `safe_ddl.lock_wait_max`, default 1 min: how long a guarded DDL may wait in all outside the
/// lock queue (stall-free, costing the application nothing) while conflicting transactions come
/// and go. Waits that end because the awaited transaction ended use no attempt of
/// safe_ddl.lock_retries, so a stream of short transactions is bounded by this time, not by the
/// attempts a long blocker gets. 0: every wait counts as an attempt (the behaviour before it).
static LOCK_WAIT_MAX_MS: GucSetting<i32> = GucSetting::<i32>::new(60_000);

/// `safe_ddl.cancel_blockers_after`, default 0 (never): after a guarded DDL has waited this long
/// outside the lock queue, cancel the statements of the sessions blocking it and terminate those
/// idle in transaction (only those the caller may signal, as pg_cancel_backend allows). Superuser
/// only: it ends other sessions' work.
static CANCEL_BLOCKERS_AFTER_MS: GucSetting<i32> = GucSetting::<i32>::new(0);

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
/// `in_use` in safe_ddl.allow as well as the hazard. One created while tracking ran and used by
/// nobody since needs no allow at all. 0 turns both off.
static USAGE_WINDOW_S: GucSetting<i32> = GucSetting::<i32>::new(86_400);

/// `safe_ddl.usage_max_entries`, default 65536 (server start only): slots of the shared usage
/// table, one per (database, relation, column) used or created; 40 bytes each. 0 disables tracking.
static USAGE_MAX_ENTRIES: GucSetting<i32> = GucSetting::<i32>::new(65_536);

/// `safe_ddl.usage_standbys` (reload, superusers only, hidden from others: it may hold
/// passwords): connection strings of the hot standbys whose uses count on this primary,
/// separated by `;` (usage/standbys.rs).
static USAGE_STANDBYS: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);

/// `safe_ddl.usage_save_interval`, default 5 min (reload): how often the usage saver writes the
/// usage table to disk, besides the postmaster's complete save at every shutdown (usage/persist.rs).
static USAGE_SAVE_INTERVAL_S: GucSetting<i32> = GucSetting::<i32>::new(300);

/// `safe_ddl.audit`, default on: record every refusal, every hazard let through by an allow and
/// every warn-mode WARNING in the audit trail (`safe_ddl.audit_log`, docs/audit.md). SIGHUP
/// (postgresql.conf or ALTER SYSTEM, then a reload): no role, superusers included, can turn off
/// the auditing of its own statements from its session.
static AUDIT: GucSetting<bool> = GucSetting::<bool>::new(true);

/// `safe_ddl.audit_max_size`, default 10 MB: when the audit file would grow past it, it becomes
/// `audit.log.1` (replacing the previous one) and a new file starts, so the trail keeps between
/// this and twice this of the newest records. SIGHUP, like `safe_ddl.audit`. 10 MB holds 10,000
/// to 25,000 records (400 bytes to 1 kB each): months of refusals and overrides on a busy cluster.
static AUDIT_MAX_SIZE_KB: GucSetting<i32> = GucSetting::<i32>::new(10 * 1024);

pub fn init() {
    GucRegistry::define_bool_guc(
        c"safe_ddl.audit",
        c"Record refusals, allowed hazards and warn-mode warnings in the audit trail (safe_ddl.audit_log).",
        c"The records go to $PGDATA/safe_ddl/audit.log. Set in postgresql.conf or with ALTER SYSTEM and a reload.",
        &AUDIT,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"safe_ddl.audit_max_size",
        c"Size at which the audit file is rotated to audit.log.1 (the trail keeps up to twice this).",
        c"Set in postgresql.conf or with ALTER SYSTEM and a reload.",
        &AUDIT_MAX_SIZE_KB,
        8,
        1024 * 1024,
        GucContext::Sighup,
        GucFlags::UNIT_KB,
    );
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
        c"safe_ddl.lock_wait_max",
        c"Longest total wait of a guarded DDL outside the lock queue for conflicting transactions to end.",
        c"Waits that end because the awaited transaction ended use no attempt of safe_ddl.lock_retries; this bounds them in time. 0 = every wait is an attempt.",
        &LOCK_WAIT_MAX_MS,
        0,
        i32::MAX,
        GucContext::Userset,
        GucFlags::UNIT_MS,
    );
    GucRegistry::define_int_guc(
        c"safe_ddl.cancel_blockers_after",
        c"After a guarded DDL waited this long, cancel blocking statements and terminate blocking sessions idle in transaction (0 = never).",
        c"Only sessions the caller may signal (the rules of pg_cancel_backend); each one is reported in a NOTICE and the server log.",
        &CANCEL_BLOCKERS_AFTER_MS,
        0,
        i32::MAX,
        GucContext::Suset,
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
        c"enforce refuses hazards and bounds lock waits; warn reports hazards as WARNINGs and still bounds lock waits; off does nothing.",
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
    // SAFETY: the check hook is a #[pg_guard] function with the signature Postgres expects.
    unsafe {
        GucRegistry::define_string_guc_with_hooks(
            c"safe_ddl.allow_ceiling",
            c"The most safe_ddl.allow may name (comma-separated hazard names, in_use, or all).",
            c"Set by a superuser per role or database (ALTER ROLE/DATABASE ... SET). safe_ddl.allow naming more is an error.",
            &ALLOW_CEILING,
            GucContext::Suset,
            GucFlags::default(),
            Some(check_allow_ceiling),
            None,
            None,
        );
    }
    // SAFETY: the check hook is a #[pg_guard] function with the signature Postgres expects.
    unsafe {
        GucRegistry::define_int_guc_with_hooks(
            c"safe_ddl.lock_timeout",
            c"lock_timeout applied to DDL that needs a lock conflicting with reads or writes.",
            c"Applied when the session's own lock_timeout is 0 or larger. 0 disables. Only a superuser may raise or disable it.",
            &LOCK_TIMEOUT_MS,
            0,
            i32::MAX,
            GucContext::Userset,
            GucFlags::UNIT_MS,
            Some(check_lock_timeout),
            None,
            None,
        );
    }
    GucRegistry::define_int_guc(
        c"safe_ddl.min_table_size",
        c"Existing tables smaller than this are exempt from scan, rewrite and build hazards.",
        c"They still get safe_ddl.lock_timeout. 0 exempts no table by size; tables that hold no data (0 pages, measured) are exempt whatever its value.",
        &MIN_TABLE_SIZE_KB,
        0,
        i32::MAX,
        GucContext::Suset,
        GucFlags::UNIT_KB,
    );
    GucRegistry::define_bool_guc(
        c"safe_ddl.exempt_empty_tables",
        c"Exempt tables that hold no data from the scan, rewrite and build hazards.",
        c"Off judges empty tables like any other: for a schema-only database (CI, safe-ddl check --ephemeral).",
        &EXEMPT_EMPTY_TABLES,
        GucContext::Suset,
        GucFlags::default(),
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
        c"Also in use: anything while tracking has run for less than the window (after a restart), unless it was created since and nobody used it: then dropping or renaming it needs no allow. 0 turns usage off for drops and renames.",
        &USAGE_WINDOW_S,
        0,
        i32::MAX,
        GucContext::Suset,
        GucFlags::UNIT_S,
    );
    define_docs_url();
    // A server-start setting can only be defined while shared_preload_libraries loads us
    // (Postgres refuses PGC_POSTMASTER variables later); without preloading there is no
    // tracking anyway, and usage_max_entries() reads the default.
    // SAFETY: a plain global of the postmaster.
    if unsafe { pg_sys::process_shared_preload_libraries_in_progress } {
        define_usage_max_entries();
        define_usage_save_interval();
        GucRegistry::define_string_guc(
            c"safe_ddl.usage_standbys",
            c"Connection strings (separated by ;) of the hot standbys whose uses count when this primary judges a drop or rename.",
            c"Each standby needs safe_ddl preloaded; the role needs pg_read_all_stats there. A standby that cannot be asked leaves objects not proven unused.",
            &USAGE_STANDBYS,
            GucContext::Sighup,
            GucFlags::SUPERUSER_ONLY,
        );
    }
    // SAFETY: called from _PG_init with a static, NUL-terminated name.
    unsafe { pg_sys::MarkGUCPrefixReserved(c"safe_ddl".as_ptr()) };
}

/// The docs installed by `setup.sh install` and the packages: `<sharedir>/doc/safe_ddl`, with
/// sharedir found the way pg_config finds it (relative to the running postgres executable).
fn installed_docs_path() -> CString {
    let mut buf = [0 as c_char; pg_sys::MAXPGPATH as usize];
    // SAFETY: my_exec_path is the server's NUL-terminated path of its executable, set before any
    // library loads; get_share_path writes at most MAXPGPATH bytes, NUL-terminated, into buf.
    let share = unsafe {
        pg_sys::get_share_path(
            std::ptr::addr_of!(pg_sys::my_exec_path).cast::<c_char>(),
            buf.as_mut_ptr(),
        );
        CStr::from_ptr(buf.as_ptr())
    };
    let mut path = share.to_bytes().to_vec();
    path.extend_from_slice(b"/doc/safe_ddl");
    // Bytes of a C string plus a constant: no NUL inside.
    CString::new(path).unwrap_or_default()
}

fn define_docs_url() {
    // The boot value is the installed path, known only now: Postgres keeps the pointer it is
    // given as the boot value, so it lives as long as the backend (once per process).
    // SAFETY: _PG_init runs once per process on the main thread, before the setting exists.
    unsafe { DOCS_URL.as_ptr().write(installed_docs_path().into_raw()) };
    GucRegistry::define_string_guc(
        c"safe_ddl.docs_url",
        c"Where messages point for safe_ddl's docs: See <docs_url>/hazards/<hazard>.md.",
        c"Default: the docs installed with the extension (<sharedir>/doc/safe_ddl). A URL (e.g. an internal wiki) is used as given.",
        &DOCS_URL,
        GucContext::Suset,
        GucFlags::default(),
    );
}

fn define_usage_save_interval() {
    GucRegistry::define_int_guc(
        c"safe_ddl.usage_save_interval",
        c"How often the column usage table is saved to disk, besides at every shutdown; 0: only at shutdown.",
        c"After a crash of the machine or the postmaster, the uses since the last save are lost and tracking restarts (safe_ddl.usage_tracking()).",
        &USAGE_SAVE_INTERVAL_S,
        0,
        86_400,
        GucContext::Sighup,
        GucFlags::UNIT_S,
    );
}

fn define_usage_max_entries() {
    GucRegistry::define_int_guc(
        c"safe_ddl.usage_max_entries",
        c"Slots of the shared column usage table (40 bytes each); 0 disables usage tracking.",
        c"One slot per database, relation and column used. Server start only.",
        &USAGE_MAX_ENTRIES,
        0,
        1 << 24,
        GucContext::Postmaster,
        GucFlags::default(),
    );
}

/// Where a setting's value came from: a source that applies to sessions other than the one
/// that set it (per database, per role, configuration file, server command line).
fn persistent_source(source: pg_sys::GucSource::Type) -> bool {
    use pg_sys::GucSource::*;
    matches!(
        source,
        PGC_S_DYNAMIC_DEFAULT
            | PGC_S_ENV_VAR
            | PGC_S_FILE
            | PGC_S_ARGV
            | PGC_S_GLOBAL
            | PGC_S_DATABASE
            | PGC_S_USER
            | PGC_S_DATABASE_USER
    )
}

/// A value the session itself sets: SET, SET LOCAL, set_config, a function's SET clause at run
/// time, client startup options.
fn session_source(source: pg_sys::GucSource::Type) -> bool {
    use pg_sys::GucSource::*;
    matches!(
        source,
        PGC_S_CLIENT | PGC_S_OVERRIDE | PGC_S_INTERACTIVE | PGC_S_SESSION
    )
}

/// A parallel worker restoring its leader's settings: they were checked in the leader.
fn restoring_in_worker() -> bool {
    // SAFETY: plain reads of backend globals.
    unsafe { pg_sys::InitializingParallelWorker || pg_sys::ParallelWorkerNumber >= 0 }
}

/// Set the message parts of a failing check hook (read by the GUC machinery right after the
/// hook returns false; palloc'd in the current context, as it expects).
fn check_fail(
    code: pgrx::PgSqlErrorCode,
    message: Option<&str>,
    detail: &str,
    hint: Option<&str>,
) -> bool {
    let dup = |t: &str| {
        let c = CString::new(crate::encoding::to_server(t).into_owned()).unwrap_or_default();
        // SAFETY: pstrdup copies the NUL-terminated string into the current memory context.
        unsafe { pg_sys::pstrdup(c.as_ptr()) }
    };
    // SAFETY: the GUC_check_* globals are plain pointers the GUC machinery reads and resets.
    unsafe {
        pg_sys::GUC_check_errcode(code as i32);
        if let Some(m) = message {
            pg_sys::GUC_check_errmsg_string = dup(m);
        }
        pg_sys::GUC_check_errdetail_string = dup(detail);
        if let Some(h) = hint {
            pg_sys::GUC_check_errhint_string = dup(h);
        }
    }
    false
}

/// GUC check hook of safe_ddl.allow: reject unknown hazard names at SET time; ignore (WARNING at
/// session start) any non-empty value from a source that applies to other sessions; refuse a
/// value above safe_ddl.allow_ceiling when the session sets it.
#[pg_guard]
unsafe extern "C-unwind" fn check_allow(
    newval: *mut *mut c_char,
    _extra: *mut *mut c_void,
    source: pg_sys::GucSource::Type,
) -> bool {
    // SAFETY: Postgres passes a valid pointer to a (possibly NULL) C string.
    let raw = unsafe { *newval };
    if raw.is_null() {
        return true;
    }
    // SAFETY: non-NULL GUC string values are NUL-terminated.
    let text = unsafe { crate::encoding::cstr_to_rust(raw) };
    let list = match AllowList::parse(&text) {
        Ok(l) => l,
        Err(msg) => {
            return check_fail(
                pgrx::PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
                None,
                &msg,
                None,
            )
        }
    };
    if persistent_source(source) && !text.trim().is_empty() {
        let (how, reset) = match source {
            pg_sys::GucSource::PGC_S_DATABASE => (
                "ALTER DATABASE ... SET",
                format!("ALTER DATABASE {} RESET safe_ddl.allow;", quoted_database()),
            ),
            pg_sys::GucSource::PGC_S_USER => (
                "ALTER ROLE ... SET",
                format!("ALTER ROLE {} RESET safe_ddl.allow;", quoted_session_user()),
            ),
            pg_sys::GucSource::PGC_S_DATABASE_USER => (
                "ALTER ROLE ... IN DATABASE ... SET",
                format!(
                    "ALTER ROLE {} IN DATABASE {} RESET safe_ddl.allow;",
                    quoted_session_user(),
                    quoted_database()
                ),
            ),
            pg_sys::GucSource::PGC_S_GLOBAL => (
                "ALTER ROLE ALL SET",
                "ALTER ROLE ALL RESET safe_ddl.allow;".to_string(),
            ),
            _ => (
                "the server configuration",
                "ALTER SYSTEM RESET safe_ddl.allow; (or remove it from postgresql.conf) and SELECT pg_reload_conf();"
                    .to_string(),
            ),
        };
        let value = text.replace('\'', "''");
        return check_fail(
            pgrx::PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            Some(&format!(
                "safe_ddl.allow = '{text}' from {how} is ignored: only the session or transaction that runs a statement may set it"
            )),
            "A value set per database, per role or in the server configuration would let hazards run in every session it \
             applies to, superusers' included. safe_ddl.allow counts only when SET (or SET LOCAL, set_config, a client \
             startup option, a function's SET clause) by the session that runs the hazardous statement.",
            Some(&format!(
                "Remove it: {reset} Set it in the migration's transaction instead: after BEGIN, SET LOCAL \
                 safe_ddl.allow = '{value}'; then the statement, then COMMIT. To limit what a role may allow, a \
                 superuser sets safe_ddl.allow_ceiling (ALTER ROLE {} SET safe_ddl.allow_ceiling = '{value}';).",
                quoted_session_user()
            )),
        );
    }
    if session_source(source) && !restoring_in_worker() {
        let ceiling = ceiling_list();
        let excess = list.excess(&ceiling);
        if !excess.is_empty() {
            let (message, detail, hint) = ceiling_error_text(&excess.join(", "), &text, None);
            return check_fail(
                pgrx::PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
                Some(&message),
                &detail,
                Some(&hint),
            );
        }
    }
    true
}

/// GUC check hook of safe_ddl.allow_ceiling: same syntax as safe_ddl.allow.
#[pg_guard]
unsafe extern "C-unwind" fn check_allow_ceiling(
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
        Err(msg) => check_fail(
            pgrx::PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            None,
            &msg,
            None,
        ),
    }
}

/// GUC check hook of safe_ddl.lock_timeout: a session may tighten the bound, but only a
/// superuser (or a role granted SET on it) may raise it above, or disable it from, the value the
/// superuser-controlled settings give the session (its reset value: configuration file,
/// ALTER DATABASE/ROLE ... SET). The bound protects the other sessions that queue behind a
/// waiting DDL.
#[pg_guard]
unsafe extern "C-unwind" fn check_lock_timeout(
    newval: *mut i32,
    _extra: *mut *mut c_void,
    source: pg_sys::GucSource::Type,
) -> bool {
    if !session_source(source) || restoring_in_worker() || may_set("safe_ddl.lock_timeout") {
        return true;
    }
    // SAFETY: Postgres passes a valid pointer to the new value.
    let new = unsafe { *newval };
    // Client startup options (PGOPTIONS) are checked before the role and database settings are
    // applied, and then win over them: there the reference is what those settings will say.
    let configured = if source == pg_sys::GucSource::PGC_S_CLIENT {
        db_role_setting("safe_ddl.lock_timeout")
    } else {
        None
    };
    // SAFETY: the name is a defined setting; the result is a palloc'd string or NULL.
    let reference = match configured {
        Some(text) => parse_ms(&text),
        None => unsafe {
            let p = pg_sys::GetConfigOptionResetString(c"safe_ddl.lock_timeout".as_ptr());
            if p.is_null() {
                return true;
            }
            crate::encoding::cstr_to_rust(p)
                .trim()
                .parse::<i32>()
                .unwrap_or(0)
        },
    };
    if reference == 0 || (new > 0 && new <= reference) {
        return true;
    }
    let what = if new == 0 {
        "disable safe_ddl.lock_timeout".to_string()
    } else {
        format!("raise safe_ddl.lock_timeout to {new} ms")
    };
    check_fail(
        pgrx::PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
        Some(&format!(
            "permission denied to {what}: a role that is not a superuser may only lower it (at most {reference} ms here)"
        )),
        &format!(
            "safe_ddl.lock_timeout bounds how long a DDL statement waits for its lock while every later query on the table \
             queues behind it; this session's bound is {reference} ms (set by a superuser or the default)."
        ),
        Some(&format!(
            "Retry the migration (safe_ddl.lock_retries does so already), or ask a superuser to raise it for the role: \
             ALTER ROLE {role} SET safe_ddl.lock_timeout = '{new}'; or to delegate it: GRANT SET ON PARAMETER \
             safe_ddl.lock_timeout TO {role};",
            role = quoted_session_user()
        )),
    )
}

/// The value of setting `name` that ALTER ROLE/DATABASE ... SET give this session (role in
/// database, role, database, ALTER ROLE ALL: Postgres' precedence), if any.
fn db_role_setting(name: &str) -> Option<String> {
    // SAFETY: plain reads of backend globals, set before startup options are processed.
    let (db, role) = unsafe { (pg_sys::MyDatabaseId, pg_sys::GetSessionUserId()) };
    // A physical replication connection has no database (and gets no role settings).
    // SAFETY: a plain backend call.
    if db == pg_sys::InvalidOid || !unsafe { pg_sys::IsTransactionState() } {
        return None;
    }
    // At session start (startup options) a transaction is open but no snapshot is active yet.
    // SAFETY: inside a transaction; the snapshot pushed here is popped below.
    let pushed = unsafe {
        let push = !pg_sys::ActiveSnapshotSet();
        if push {
            pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot());
        }
        push
    };
    let value = crate::spi_ro::get_one_with_args::<String>(
        "SELECT pg_catalog.substr(c.item, pg_catalog.length($3) OPERATOR(pg_catalog.+) 2) \
           FROM (VALUES (1, $1, $2), (2, 0::pg_catalog.oid, $2), (3, $1, 0::pg_catalog.oid), \
                        (4, 0::pg_catalog.oid, 0::pg_catalog.oid)) AS k(rank, db, role) \
           JOIN pg_catalog.pg_db_role_setting s ON s.setdatabase OPERATOR(pg_catalog.=) k.db \
                AND s.setrole OPERATOR(pg_catalog.=) k.role \
          CROSS JOIN LATERAL pg_catalog.unnest(s.setconfig) AS c(item) \
          WHERE pg_catalog.split_part(c.item, '=', 1) OPERATOR(pg_catalog.=) $3 \
          ORDER BY k.rank LIMIT 1",
        &[db.into(), role.into(), name.into()],
    )
    .ok()
    .flatten();
    if pushed {
        // SAFETY: the snapshot pushed above is still the active one (SPI restored its own).
        unsafe { pg_sys::PopActiveSnapshot() };
    }
    value
}

/// A safe_ddl.lock_timeout value as stored by ALTER ROLE/DATABASE ... SET ('50ms', '1s', '200'),
/// in milliseconds; 0 (no bound to keep) if it does not parse.
fn parse_ms(text: &str) -> i32 {
    let Ok(c) = CString::new(text) else {
        return 0;
    };
    let mut ms = 0;
    // SAFETY: a NUL-terminated string; parse_int writes only the result (and a static hint).
    let ok = unsafe {
        pg_sys::parse_int(
            c.as_ptr(),
            &mut ms,
            pg_sys::GUC_UNIT_MS as i32,
            std::ptr::null_mut(),
        )
    };
    if ok {
        ms
    } else {
        0
    }
}

/// Is the current user a superuser, or granted SET on the parameter (GRANT SET ON PARAMETER)?
fn may_set(name: &str) -> bool {
    let Ok(c) = CString::new(name) else {
        return false;
    };
    // SAFETY: catalog lookups inside a transaction (check hooks and utility hooks run in one).
    unsafe {
        pg_sys::superuser()
            || pg_sys::pg_parameter_aclcheck(
                c.as_ptr(),
                pg_sys::GetUserId(),
                pg_sys::ACL_SET as pg_sys::AclMode,
            ) == pg_sys::AclResult::ACLCHECK_OK
    }
}

/// Refuse ALTER ROLE/DATABASE ... SET of a safe_ddl setting that would weaken the guard in other
/// sessions: safe_ddl.allow always (it only counts per session; see check_allow), every other
/// safe_ddl.* setting unless a superuser (or a role granted SET on it) runs it. Postgres itself
/// lets a database owner, a role itself or a CREATEROLE role set any USERSET setting that way.
///
/// # Safety
/// `utility` is the utility statement of a PlannedStmt being executed.
pub unsafe fn check_alter_setting(utility: *mut pg_sys::Node) {
    if utility.is_null() {
        return;
    }
    // SAFETY: node tags tell the struct; the fields are parser output.
    let (setstmt, target) = unsafe {
        match (*utility).type_ {
            pg_sys::NodeTag::T_AlterRoleSetStmt => {
                let s = utility.cast::<pg_sys::AlterRoleSetStmt>();
                let target = if (*s).database.is_null() {
                    "ALTER ROLE ... SET"
                } else {
                    "ALTER ROLE ... IN DATABASE ... SET"
                };
                ((*s).setstmt, target)
            }
            pg_sys::NodeTag::T_AlterDatabaseSetStmt => {
                let s = utility.cast::<pg_sys::AlterDatabaseSetStmt>();
                ((*s).setstmt, "ALTER DATABASE ... SET")
            }
            _ => return,
        }
    };
    // SAFETY: as above.
    let (kind, name) = unsafe {
        if setstmt.is_null() || (*setstmt).name.is_null() {
            return;
        }
        (
            (*setstmt).kind,
            crate::encoding::cstr_to_rust((*setstmt).name).to_ascii_lowercase(),
        )
    };
    let sets = matches!(
        kind,
        pg_sys::VariableSetKind::VAR_SET_VALUE | pg_sys::VariableSetKind::VAR_SET_CURRENT
    );
    if !sets || !name.starts_with("safe_ddl.") {
        return;
    }
    if name == "safe_ddl.allow" {
        crate::encoding::report(
            pgrx::pg_sys::panic::ErrorReport::new(
                pgrx::PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
                format!("safe_ddl.allow cannot be set by {target}"),
                "safe_ddl",
            )
            .set_detail(
                "safe_ddl.allow counts only when set by the session or transaction that runs the hazardous statement; \
                 a value set per database or per role would apply to every session of it, superusers' included, \
                 and is ignored at session start.",
            )
            .set_hint(
                "Set it in the migration's transaction: after BEGIN, SET LOCAL safe_ddl.allow to the hazards it names, \
                 then the statement, then COMMIT. To limit what a role may allow, a superuser sets \
                 safe_ddl.allow_ceiling per role (ALTER ROLE ... SET safe_ddl.allow_ceiling).",
            ),
            pgrx::PgLogLevel::ERROR,
        );
        return;
    }
    if !may_set(&name) {
        crate::encoding::report(
            pgrx::pg_sys::panic::ErrorReport::new(
                pgrx::PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
                format!("permission denied to set {name} by {target}"),
                "safe_ddl",
            )
            .set_detail(
                "A safe_ddl setting set per database or per role applies to every session of it (superusers' included \
                 for a database) and could weaken the guard there: only a superuser, or a role granted SET on the \
                 setting, may set it that way.",
            )
            .set_hint(format!(
                "Ask a superuser to run the statement, or to delegate it: GRANT SET ON PARAMETER {name} TO {}; \
                 A session may still SET the settings that are not superuser-only for itself.",
                quoted_session_user()
            )),
            pgrx::PgLogLevel::ERROR,
        );
    }
}

pub fn mode() -> Mode {
    MODE.get()
}

fn ceiling_text() -> String {
    ALLOW_CEILING
        .get()
        .map(|c| c.to_string_lossy().into_owned())
        .unwrap_or_else(|| "all".into())
}

fn ceiling_list() -> AllowList {
    AllowList::parse(&ceiling_text()).unwrap_or_default()
}

/// Where the current value of safe_ddl.allow_ceiling comes from, in words a DBA acts on.
fn ceiling_source() -> &'static str {
    use pg_sys::GucSource::*;
    // SAFETY: the GUC array and its entries live for the backend's lifetime; read-only walk.
    let source = unsafe {
        crate::pg_version::guc_variables()
            .iter()
            .copied()
            .find(|g| {
                !g.is_null()
                    && std::ffi::CStr::from_ptr((**g).name).to_bytes() == b"safe_ddl.allow_ceiling"
            })
            .map(|g| (*g).source)
    };
    match source {
        Some(PGC_S_DATABASE) => "set by a superuser for this database (ALTER DATABASE ... SET safe_ddl.allow_ceiling)",
        Some(PGC_S_USER) => "set by a superuser for this role (ALTER ROLE ... SET safe_ddl.allow_ceiling)",
        Some(PGC_S_DATABASE_USER) => {
            "set by a superuser for this role in this database (ALTER ROLE ... IN DATABASE ... SET safe_ddl.allow_ceiling)"
        }
        Some(PGC_S_GLOBAL) => "set by a superuser for all roles (ALTER ROLE ALL SET safe_ddl.allow_ceiling)",
        Some(PGC_S_FILE | PGC_S_ARGV | PGC_S_ENV_VAR) => {
            "set by a superuser in the server configuration (postgresql.conf or ALTER SYSTEM)"
        }
        Some(PGC_S_DEFAULT | PGC_S_DYNAMIC_DEFAULT) | None => "the default",
        Some(_) => "set in this session by a superuser or a role granted SET on it",
    }
}

/// The current database's name, quoted, for SQL in a HINT.
fn quoted_database() -> String {
    // SAFETY: catalog lookup in a transaction; NULL when there is none (yet).
    unsafe {
        if pg_sys::MyDatabaseId == pg_sys::InvalidOid || !pg_sys::IsTransactionState() {
            return "CURRENT_DATABASE".into();
        }
        let p = pg_sys::get_database_name(pg_sys::MyDatabaseId);
        if p.is_null() {
            return "CURRENT_DATABASE".into();
        }
        crate::encoding::cstr_to_rust(pg_sys::quote_identifier(p))
    }
}

fn quoted_session_user() -> String {
    // SAFETY: catalog lookup in a transaction (noerr); quote_identifier returns its argument or a
    // palloc'd copy.
    unsafe {
        if !pg_sys::IsTransactionState() {
            return "CURRENT_USER".into();
        }
        let p = pg_sys::GetUserNameFromId(pg_sys::GetSessionUserId(), true);
        if p.is_null() {
            return "CURRENT_USER".into();
        }
        crate::encoding::cstr_to_rust(pg_sys::quote_identifier(p))
    }
}

/// Message, detail and hint of "safe_ddl.allow names more than the ceiling"; `inline`: the
/// statement's inline allow, added to `allow`.
fn ceiling_error_text(excess: &str, allow: &str, inline: Option<&str>) -> (String, String, String) {
    let ceiling = ceiling_text();
    let role = quoted_session_user();
    let raised = if ceiling.trim().is_empty() {
        excess.to_string()
    } else {
        format!("{}, {excess}", ceiling.trim())
    };
    (
        format!(
            "safe_ddl.allow may not name {excess}: above safe_ddl.allow_ceiling = '{ceiling}' ({})",
            ceiling_source()
        ),
        format!(
            "safe_ddl.allow = '{allow}'{}. safe_ddl.allow_ceiling is the most safe_ddl.allow may name in this session \
             (session user {role}); only a superuser, or a role granted SET on it, can change it.",
            inline.map_or(String::new(), |i| format!(" plus the statement's inline allow '{i}'"))
        ),
        if may_set("safe_ddl.allow_ceiling") {
            format!(
                "You may raise it for this session: SET safe_ddl.allow_ceiling = '{raised}'; or for the role: \
                 ALTER ROLE {role} SET safe_ddl.allow_ceiling = '{raised}';"
            )
        } else {
            let page = Hazard::from_name(excess)
                .map(|h| h.doc_page())
                .unwrap_or_else(|| "docs/hazards/".into());
            format!(
                "Run the statement the safe way (see {page}), have the break-glass role run it, or ask a superuser \
                 to raise the ceiling for new sessions of this role: ALTER ROLE {role} SET safe_ddl.allow_ceiling = \
                 '{raised}';"
            )
        },
    )
}

/// Use time: safe_ddl.allow names `name`, which the ceiling does not permit. Does not return.
fn ceiling_exceeded(name: &str) {
    let inline = crate::inline_allow::current();
    let (message, detail, hint) = ceiling_error_text(name, &allow_text(), inline.as_deref());
    crate::encoding::report(
        pgrx::pg_sys::panic::ErrorReport::new(
            pgrx::PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!("safe_ddl: {message}"),
            "safe_ddl",
        )
        .set_detail(detail)
        .set_hint(hint),
        pgrx::PgLogLevel::ERROR,
    );
}

/// safe_ddl.allow as the guard uses it: under safe_ddl.allow_ceiling (a hazard it names but the
/// ceiling does not permit is an ERROR when that hazard comes up).
/// The inline allow of the statement being judged (`inline_allow::current`) adds to it, under the
/// same ceiling.
pub fn allow() -> AllowList {
    let mut text = ALLOW
        .get()
        .map(|c| c.to_string_lossy().into_owned())
        .unwrap_or_default();
    if let Some(inline) = crate::inline_allow::current() {
        text = format!("{text}, {inline}");
    }
    // The check hook validated the value, so a parse error cannot happen; be lenient anyway.
    AllowList::parse(&text)
        .unwrap_or_default()
        .under(ceiling_list(), ceiling_exceeded)
}

pub fn allow_text() -> String {
    ALLOW
        .get()
        .map(|c| c.to_string_lossy().into_owned())
        .unwrap_or_default()
}

pub fn allow_ceiling_text() -> String {
    ceiling_text()
}

/// What `safe_ddl.allow = 'all'` becomes under this session's ceiling (for rehearse()).
pub fn all_within_ceiling() -> String {
    AllowList::all_within(&ceiling_list())
}

pub fn auto_concurrently() -> bool {
    AUTO_CONCURRENTLY.get()
}

/// Read in place rather than through GucSetting::get (a thread check through a thread-local per
/// call), as `track_usage`: asked by the ExecutorStart hook for every statement.
pub fn max_dml_rows() -> f64 {
    // SAFETY: the setting's value, which Postgres changes only between statements of this
    // (single-threaded) backend.
    f64::from(unsafe { *MAX_DML_ROWS.as_ptr() })
}

pub fn lock_retries() -> i32 {
    LOCK_RETRIES.get()
}

pub fn lock_retry_delay_ms() -> i32 {
    LOCK_RETRY_DELAY_MS.get()
}

pub fn lock_wait_max_ms() -> i32 {
    LOCK_WAIT_MAX_MS.get()
}

pub fn cancel_blockers_after_ms() -> i32 {
    CANCEL_BLOCKERS_AFTER_MS.get()
}

pub fn max_lock_hold_ms() -> i32 {
    MAX_LOCK_HOLD_MS.get()
}

pub fn lock_timeout_ms() -> i32 {
    LOCK_TIMEOUT_MS.get()
}

pub fn exempt_empty_tables() -> bool {
    EXEMPT_EMPTY_TABLES.get()
}

pub fn min_table_size_bytes() -> i64 {
    i64::from(MIN_TABLE_SIZE_KB.get()) * 1024
}

pub fn audit() -> bool {
    AUDIT.get()
}

pub fn audit_max_size_bytes() -> u64 {
    u64::try_from(AUDIT_MAX_SIZE_KB.get()).unwrap_or(0) * 1024
}

/// Read in place, as `max_dml_rows`: asked for every statement.
pub fn track_usage() -> bool {
    // SAFETY: as in max_dml_rows.
    unsafe { *TRACK_USAGE.as_ptr() }
}

/// `safe_ddl.usage_window` in microseconds.
pub fn usage_window_us() -> i64 {
    i64::from(USAGE_WINDOW_S.get()) * 1_000_000
}

/// `safe_ddl.usage_save_interval` (zero: save only at shutdown).
pub fn usage_save_interval() -> std::time::Duration {
    std::time::Duration::from_secs(u64::try_from(USAGE_SAVE_INTERVAL_S.get()).unwrap_or(0))
}

/// `safe_ddl.usage_standbys`, empty when unset.
pub fn usage_standbys() -> String {
    USAGE_STANDBYS
        .get()
        .map(|c| c.to_string_lossy().into_owned())
        .unwrap_or_default()
}

pub fn usage_max_entries() -> usize {
    usize::try_from(USAGE_MAX_ENTRIES.get()).unwrap_or(0)
}

/// `safe_ddl.docs_url` without trailing slashes, or `docs` (this repository's docs directory)
/// where the setting does not exist (unit tests outside a server) or is empty.
pub fn docs_url() -> String {
    // Read through the pointer rather than GucSetting::get: the pure rules that build hints call
    // this in unit tests too, on several threads and without a server (the pointer is then null).
    // SAFETY: the pointer is null or the setting's NUL-terminated value, which Postgres replaces
    // only between statements of this (single-threaded) backend.
    let raw = unsafe { *DOCS_URL.as_ptr() };
    // Not encoding::cstr_to_rust: that calls into the server, which the unit tests' binary cannot
    // link. A path or URL is ASCII in practice; other bytes become U+FFFD.
    let value = if raw.is_null() {
        String::new()
    } else {
        // SAFETY: non-null: the setting's current NUL-terminated value.
        unsafe { CStr::from_ptr(raw) }
            .to_string_lossy()
            .into_owned()
    };
    match value.trim_end_matches('/') {
        "" => "docs".into(),
        base => base.into(),
    }
}
