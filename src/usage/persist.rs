//! The usage table survives restarts: saved to `$PGDATA/safe_ddl/usage.state` (format and start
//! policy: `saved`), loaded when the postmaster creates shared memory.
//!
//! Who writes it:
//! - the postmaster, from an `on_shmem_exit` callback, when it exits (any shutdown mode) and when
//!   it re-initialises shared memory after a backend crash: every other process has ended then,
//!   so the save is complete (`Kind::Complete`) and the next start goes on without a gap. A
//!   backend crash that scribbled on the table can at worst leave implausible records, which
//!   the load skips (`saved::plausible`);
//! - the usage saver (`saver`, a background worker), every `safe_ddl.usage_save_interval`, and
//!   this module right after a load (`Kind::Periodic`): what is left if the machine or the
//!   postmaster dies.
//!
//! A save is written to a temporary file, fsynced and renamed over the old one (then the
//! directory is fsynced): a reader sees the old file or the new one, never a torn one.
//! Everything here runs outside transactions and never raises an ERROR: a failure is a LOG line,
//! and tracking goes on in memory.

use std::ffi::c_int;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};

use pgrx::{pg_guard, pg_sys};

use super::{saved, store};

const DIR: &str = "safe_ddl";
/// Relative to the data directory, every server process's working directory.
pub const FILE: &str = "safe_ddl/usage.state";

fn log(message: &str) {
    // LOG never raises; the text is ours (no format directives reach elog).
    pgrx::log!("safe_ddl: {message}");
}

/// The server's system identifier (the same on a primary and its physical standbys).
fn system_id() -> u64 {
    // SAFETY: the control file is in shared memory from postmaster start on.
    unsafe { pg_sys::GetSystemIdentifier() }
}

fn now() -> i64 {
    // SAFETY: a plain clock read.
    unsafe { pg_sys::GetCurrentTimestamp() }
}

/// Write the table to the file; Ok(records) or why not.
pub fn save(kind: saved::Kind) -> Result<usize, String> {
    let at = now();
    let (header, records) =
        store::snapshot(system_id(), kind, at).ok_or("usage tracking is not running")?;
    let bytes = saved::encode(&header, &records);
    write_atomically(&bytes).map_err(|e| format!("could not write {FILE}: {e}"))?;
    store::saved_at(at);
    Ok(records.len())
}

fn write_atomically(bytes: &[u8]) -> std::io::Result<()> {
    match fs::DirBuilder::new().mode(0o700).create(DIR) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(e),
        _ => {}
    }
    // SAFETY: a plain global of the process.
    let tmp = format!("{FILE}.tmp.{}", unsafe { pg_sys::MyProcPid });
    let result = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, FILE)?;
        fs::File::open(DIR)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// The saved file, if there is one that can be used (a damaged one is logged and ignored).
fn read() -> Option<(saved::Header, Vec<saved::Record>)> {
    let bytes = match fs::read(FILE) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            log(&format!(
                "could not read {FILE}: {e}; column usage tracking starts afresh"
            ));
            return None;
        }
    };
    match saved::decode(&bytes) {
        Ok(f) => Some(f),
        Err(why) => {
            log(&format!(
                "ignoring {FILE}: {why}; column usage tracking starts afresh"
            ));
            None
        }
    }
}

/// From the shared-memory startup hook, in the postmaster, once the table is initialised: load
/// what was saved, save it again at once as a periodic save (so that a stop without a complete
/// save is told apart at the next start), and register the save at exit.
pub fn at_server_start() {
    let file = read();
    // A standby is a server started with standby.signal in its data directory (12 and later).
    let standby = std::path::Path::new("standby.signal").exists();
    let at = now();
    let plan = saved::plan(file.as_ref().map(|f| &f.0), system_id(), standby, at);
    let (loaded, skipped) = store::restore(&plan, file.as_ref(), standby, at);
    if file.is_some() {
        let why = plan
            .restart
            .describe(timestamp_text)
            .map(|w| format!("; tracking restarts now: {w}"))
            .unwrap_or_default();
        log(&format!(
            "loaded {loaded} column usage records from {FILE} ({skipped} skipped){why}"
        ));
    }
    if let Err(e) = save(saved::Kind::Periodic) {
        log(&e);
    }
    // SAFETY: the postmaster (or a single-user backend) registering its own exit callback;
    // children forget it at fork (on_exit_reset).
    unsafe { pg_sys::on_shmem_exit(Some(at_postmaster_exit), pg_sys::Datum::from(0)) };
}

/// on_shmem_exit of the postmaster: every other process has ended (a shutdown, or the
/// re-initialisation after a crash), so this save is complete.
#[pg_guard]
unsafe extern "C-unwind" fn at_postmaster_exit(_code: c_int, _arg: pg_sys::Datum) {
    match save(saved::Kind::Complete) {
        Ok(n) => log(&format!("saved {n} column usage records to {FILE}")),
        Err(e) => log(&e),
    }
}

/// A TimestampTz as text, without the server's help (the postmaster at start has no
/// timezone-aware formatting to rely on): UTC, to the second, from the audit trail's ISO 8601
/// formatting (`2026-12-06T11:45:30.000999Z` -> `2026-12-06 11:45:30+00`).
pub fn timestamp_text(at: i64) -> String {
    let iso = crate::audit::line::iso_utc(at);
    match (iso.get(..10), iso.get(11..19)) {
        (Some(date), Some(time)) => format!("{date} {time}+00"),
        _ => iso,
    }
}

#[cfg(test)]
mod tests {
    use super::timestamp_text;

    #[test]
    fn timestamps_in_utc() {
        assert_eq!(timestamp_text(0), "2000-01-01 00:00:00+00");
        // 2026-12-06 11:45:30 UTC = Unix 1796557530
        assert_eq!(
            timestamp_text((1_796_557_530 - 946_684_800) * 1_000_000 + 999),
            "2026-12-06 11:45:30+00"
        );
        assert_eq!(timestamp_text(-1_000_000), "1999-12-31 23:59:59+00");
    }
}
