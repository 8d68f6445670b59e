//! The audit files: `$PGDATA/safe_ddl/audit.log` (newest records) and `audit.log.1` (the file
//! before it), one JSON record per line (`line`).
//!
//! Why a file and not a table: a refusal is an ERROR, so the statement's transaction always
//! rolls back, and a row inserted in it would go with it; an autonomous transaction (a
//! background worker, dblink) would cost a process or a connection per record. An append to a
//! file outlives the transaction, a backend crash and `pg_ctl stop -m immediate` (the data is in
//! the kernel's page cache once write() returns); only an OS crash or power loss can lose the
//! records written since the kernel last flushed the file (no fsync per record: a refusal would
//! otherwise cost a disk flush, and a DBA who needs more ships the file, see docs/audit.md).
//!
//! Each record is written with one `write()` to a file opened with O_APPEND, under an exclusive
//! lock that also covers rotation: when the file would grow past `safe_ddl.audit_max_size`, it
//! is renamed to `audit.log.1` (replacing the previous one) and a new file is started, so the
//! two files hold between max_size and twice max_size of the newest records. A short write
//! (disk full) is cut off again (ftruncate to the size before it), so no torn line stays in the
//! middle of the file. Readers take the lock shared only to open both files and note their
//! sizes; they read outside it (a rename keeps an open file readable), up to those sizes.
//!
//! The lock: with shared_preload_libraries, an LWLock of our own tranche (shared memory is
//! requested at server start, as usage/store.rs does). Without it there is no shared memory to
//! put one in, so the same exclusion comes from flock(2) on `$PGDATA/safe_ddl/audit.lock`:
//! slower (two more system calls) but equally correct, and records are rare events.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::ptr;

use pgrx::pg_sys;

/// Relative to the data directory, which is every backend's working directory.
pub const DIR: &str = "safe_ddl";
pub const CURRENT: &str = "safe_ddl/audit.log";
pub const PREVIOUS: &str = "safe_ddl/audit.log.1";
const LOCK_FILE: &str = "safe_ddl/audit.lock";

const TRANCHE: &std::ffi::CStr = c"safe_ddl audit";

static mut LOCK: *mut pg_sys::LWLock = ptr::null_mut();

/// From _PG_init while shared_preload_libraries loads us: ask for the LWLock.
pub fn request() {
    crate::shmem::register(crate::shmem::Segment {
        name: TRANCHE,
        size: 0,
        locks: 1,
        attach,
    });
}

/// The tranche's LWLock (also after a crash restart, when shared memory is new).
unsafe fn attach(_: *mut std::ffi::c_void, _: bool, lock: *mut pg_sys::LWLock) {
    // SAFETY: from the startup hook, before any backend forks.
    unsafe { LOCK = lock };
}

/// The exclusion between writers (and rotation) and readers.
enum Held {
    Lw(*mut pg_sys::LWLock),
    Flock(File),
}

impl Held {
    fn take(exclusive: bool) -> io::Result<Held> {
        // SAFETY: set in the postmaster before any backend forked, or never.
        let lw = unsafe { LOCK };
        if !lw.is_null() {
            let mode = if exclusive {
                pg_sys::LWLockMode::LW_EXCLUSIVE
            } else {
                pg_sys::LWLockMode::LW_SHARED
            };
            // SAFETY: an LWLock in shared memory. Nothing between here and the release raises
            // an ERROR (only Rust I/O), and an abort would release it anyway.
            unsafe { pg_sys::LWLockAcquire(lw, mode) };
            return Ok(Held::Lw(lw));
        }
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            // Only its lock is used: never its contents.
            .truncate(false)
            .mode(0o600)
            .open(LOCK_FILE)?;
        let op = if exclusive {
            libc::LOCK_EX
        } else {
            libc::LOCK_SH
        };
        loop {
            // SAFETY: flock on a descriptor we own.
            if unsafe { libc::flock(f.as_raw_fd(), op) } == 0 {
                return Ok(Held::Flock(f));
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        match self {
            // SAFETY: we hold it (Held::take).
            Held::Lw(lw) => unsafe { pg_sys::LWLockRelease(*lw) },
            // Closing the descriptor (dropped next) would release it too.
            // SAFETY: flock on a descriptor we own.
            Held::Flock(f) => unsafe {
                libc::flock(f.as_raw_fd(), libc::LOCK_UN);
            },
        }
    }
}

fn make_dir() -> io::Result<()> {
    match DirBuilder::new().mode(0o700).create(DIR) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => Err(e),
        _ => Ok(()),
    }
}

fn open_append() -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(0o600)
        .open(CURRENT)
}

/// Append `line` (one record, `\n` included) with one write(), rotating first when the file
/// would grow past `max_size` bytes (a file always takes at least one record).
pub fn append(line: &[u8], max_size: u64) -> io::Result<()> {
    make_dir()?;
    let _held = Held::take(true)?;
    let mut f = open_append()?;
    let mut size = f.metadata()?.len();
    if size > 0 && size + line.len() as u64 > max_size {
        std::fs::rename(CURRENT, PREVIOUS)?;
        f = open_append()?;
        size = f.metadata()?.len();
    }
    // A file that does not end with a newline ends with a torn line (an OS crash cut the last
    // write short): start on a line of our own, so this record is not glued to it.
    let mut last = [0u8; 1];
    let line: std::borrow::Cow<[u8]> = if size > 0
        && std::os::unix::fs::FileExt::read_at(&f, &mut last, size - 1)? == 1
        && last[0] != b'\n'
    {
        let mut v = Vec::with_capacity(line.len() + 1);
        v.push(b'\n');
        v.extend_from_slice(line);
        v.into()
    } else {
        line.into()
    };
    match f.write(&line) {
        Ok(n) if n == line.len() => Ok(()),
        result => {
            // A partial record would glue itself to the next one: take it back.
            let _ = f.set_len(size);
            match result {
                Err(e) => Err(e),
                Ok(n) => Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    format!("short write ({n} of {} bytes)", line.len()),
                )),
            }
        }
    }
}

/// The complete lines of `audit.log.1` then `audit.log` (oldest first), as they were when
/// called. A last line without its `\n` (a write in progress elsewhere without the lock cannot
/// happen, but a file edited by hand or cut by a crash of the OS can end so) is left out.
pub fn read_lines(mut each: impl FnMut(&[u8])) -> io::Result<()> {
    let files = {
        let _held = match Held::take(false) {
            Ok(h) => h,
            // No directory yet: nothing was ever recorded.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let open = |path: &str| -> io::Result<Option<(File, u64)>> {
            match File::open(path) {
                Ok(f) => {
                    let len = f.metadata()?.len();
                    Ok(Some((f, len)))
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            }
        };
        [open(PREVIOUS)?, open(CURRENT)?]
    };
    let mut buf = Vec::new();
    for (f, len) in files.into_iter().flatten() {
        let mut r = BufReader::new(f.take(len));
        loop {
            buf.clear();
            if r.read_until(b'\n', &mut buf)? == 0 {
                break;
            }
            if buf.last() == Some(&b'\n') {
                buf.pop();
                each(&buf);
            }
        }
    }
    Ok(())
}
