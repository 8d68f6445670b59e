//! Ephemeral mode's throwaway cluster: the installed PostgreSQL with safe_ddl preloaded, in a
//! temporary directory with a private Unix socket (no TCP), stopped and removed at the end (a
//! Drop guard, also on errors).

use std::ffi::{CStr, CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use crate::libpq::Conn;
use crate::Fail;

/// The server's port: the socket is private (its own directory), so the number never clashes.
const PORT: u16 = 5432;
const USER: &str = "safe_ddl";

pub struct Cluster {
    dir: PathBuf,
    pg_config: PathBuf,
    bindir: PathBuf,
    /// initdb refuses root: as root, the server runs as this (uid, gid).
    run_as: Option<(u32, u32)>,
}

impl Cluster {
    pub fn start(pg_config: Option<&str>) -> Result<Cluster, Fail> {
        let (pg_config, bindir) = find_postgres(pg_config)?;
        let run_as = server_user()?;
        let dir = mkdtemp()?;
        // From here on, Drop removes the directory (and stops the server if it runs); so does
        // a signal (cleanup_on_signals).
        let cluster = Cluster {
            dir,
            pg_config,
            bindir,
            run_as,
        };
        register(&cluster);
        if let Some((uid, gid)) = run_as {
            chown(&cluster.dir, uid, gid)?;
        }
        let data = cluster.data();
        let mut initdb = cluster.server_command("initdb");
        initdb.args([
            OsStr::new("-D"),
            data.as_os_str(),
            OsStr::new("-U"),
            OsStr::new(USER),
            OsStr::new("--auth=trust"),
            OsStr::new("--no-sync"),
            OsStr::new("-E"),
            OsStr::new("UTF8"),
            OsStr::new("--locale=C"),
        ]);
        run(&mut initdb, "initdb").map_err(|Fail(m)| match run_as {
            Some((uid, _)) => Fail(format!(
                "{m}\n(running as root: initdb and the server run as uid {uid}, which must be able \
                 to reach {}; set TMPDIR to a directory it can, e.g. /tmp)",
                cluster.dir.display()
            )),
            None => Fail(m),
        })?;
        // Judged as production would be, not as this empty, just-created database is: empty
        // tables count like any other, and with usage tracking off every object counts as
        // possibly in use (here all were created while tracking ran and nobody used them,
        // which would make every drop and rename look harmless).
        let conf = format!(
            "\n# safe-ddl check --ephemeral\n\
             listen_addresses = ''\n\
             unix_socket_directories = '{}'\n\
             port = {PORT}\n\
             shared_preload_libraries = 'safe_ddl'\n\
             fsync = off\n\
             synchronous_commit = off\n\
             full_page_writes = off\n\
             safe_ddl.exempt_empty_tables = off\n\
             safe_ddl.usage_window = 0\n",
            conf_quote(&cluster.dir.to_string_lossy())
        );
        append(&data.join("postgresql.conf"), &conf)?;
        let log = cluster.dir.join("server.log");
        let mut start = cluster.server_command("pg_ctl");
        start.args([
            OsStr::new("-D"),
            data.as_os_str(),
            OsStr::new("-l"),
            log.as_os_str(),
            OsStr::new("-w"),
            OsStr::new("-t"),
            OsStr::new("120"),
            OsStr::new("start"),
        ]);
        if let Err(Fail(m)) = run(&mut start, "pg_ctl start") {
            let tail = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(Fail(format!(
                "{m}\nserver log:\n{}",
                tail.lines()
                    .rev()
                    .take(20)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<Vec<_>>()
                    .join("\n")
            )));
        }
        let conn = cluster.connect()?;
        // The server's user is named safe_ddl, like the extension's schema: its "$user" entry
        // of search_path would put the schema's and the migrations' tables there.
        conn.exec("ALTER ROLE safe_ddl SET search_path = public")
            .map_err(|e| Fail::new(format!("ephemeral cluster: {}", e.message)))?;
        Ok(cluster)
    }

    /// After the schema files (a pg_dump of a database with safe_ddl creates it itself, and
    /// would fail on an existing one): CREATE EXTENSION IF NOT EXISTS safe_ddl.
    pub fn create_extension(&self, conn: &Conn) -> Result<(), Fail> {
        conn.exec("CREATE EXTENSION IF NOT EXISTS safe_ddl")
            .map(drop)
            .map_err(|e| {
                Fail::new(format!(
                    "CREATE EXTENSION safe_ddl failed in the ephemeral cluster ({}): {}",
                    self.pg_config.display(),
                    e.message
                ))
            })
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// The cluster's socket as its superuser, with exactly these server options: the caller's
    /// environment (PGOPTIONS='-c safe_ddl.allow=all', PGTZ...) must not change the verdicts.
    fn conninfo(&self, options: &str) -> String {
        format!(
            "host={} port={PORT} user={USER} dbname=postgres application_name=safe-ddl \
             options={} sslmode=disable",
            conninfo_quote(&self.dir.to_string_lossy()),
            conninfo_quote(options)
        )
    }

    pub fn connect(&self) -> Result<Conn, Fail> {
        Conn::connect(&self.conninfo(""))
            .map_err(|e| Fail::new(format!("could not connect to the ephemeral cluster: {e}")))
    }

    /// A server program (initdb, pg_ctl) of bindir, as the server's user, from `/`.
    fn server_command(&self, program: &str) -> Command {
        let mut c = Command::new(self.bindir.join(program));
        unblocked(&mut c)
            .current_dir("/")
            .env_remove("RUST_BACKTRACE")
            .env_remove("PGDATA")
            .env("LC_ALL", "C")
            .stdin(Stdio::null());
        if let Some((uid, gid)) = self.run_as {
            c.uid(uid).gid(gid);
        }
        c
    }

    /// A schema file, with psql (pg_dump's output holds psql meta-commands), safe_ddl off.
    pub fn load_schema(&self, file: &str) -> Result<(), Fail> {
        let mut psql = Command::new(self.bindir.join("psql"));
        unblocked(&mut psql)
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(self.conninfo("-c safe_ddl.mode=off"))
            .arg("-f")
            .arg(file)
            .env_remove("PGSERVICE")
            .stdout(Stdio::null());
        if file != "-" {
            psql.stdin(Stdio::null());
        }
        let out = psql.output().map_err(|e| {
            Fail::new(format!(
                "cannot run {}: {e}",
                self.bindir.join("psql").display()
            ))
        })?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let advice = if stderr.contains("role \"") && stderr.contains("\" does not exist") {
                "\nThe ephemeral cluster has no roles but its superuser safe_ddl: dump the schema \
                 with pg_dump --schema-only --no-owner --no-privileges, or create the roles in an \
                 earlier --schema file (e.g. pg_dumpall --roles-only)."
            } else {
                ""
            };
            return Err(Fail::new(format!(
                "loading the schema {file} failed:\n{}{advice}",
                stderr.trim_end()
            )));
        }
        Ok(())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        clean_up(Some(&self.dir));
    }
}

/// What to stop and remove if the run ends early: by Drop, or by a signal (cleanup_on_signals).
#[derive(Clone)]
struct Registered {
    dir: PathBuf,
    bindir: PathBuf,
    run_as: Option<(u32, u32)>,
}

static ACTIVE: Mutex<Vec<Registered>> = Mutex::new(Vec::new());
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Whether a signal is ending the run (its clean-up is under way): errors that follow from it
/// (the server gone) are not worth reporting.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

fn register(c: &Cluster) {
    let mut active = ACTIVE.lock().unwrap_or_else(|e| e.into_inner());
    active.push(Registered {
        dir: c.dir.clone(),
        bindir: c.bindir.clone(),
        run_as: c.run_as,
    });
}

/// Stop the server (pg_ctl stop -m immediate) and remove the directory: of `dir`, or (None) of
/// every cluster still there. The lock is held throughout, so a signal arriving meanwhile waits
/// for the clean-up to end before the process exits.
fn clean_up(dir: Option<&Path>) {
    let mut active = ACTIVE.lock().unwrap_or_else(|e| e.into_inner());
    active.retain(|r| {
        if dir.is_some_and(|d| d != r.dir) {
            return true;
        }
        let data = r.dir.join("data");
        if data.join("postmaster.pid").exists() {
            let mut stop = Command::new(r.bindir.join("pg_ctl"));
            stop.current_dir("/")
                .args([OsStr::new("-D"), data.as_os_str()])
                .args(["-m", "immediate", "-w", "stop"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            if let Some((uid, gid)) = r.run_as {
                stop.uid(uid).gid(gid);
            }
            let _ = stop.status();
        }
        let _ = std::fs::remove_dir_all(&r.dir);
        false
    });
}

const CLEANUP_SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// Ctrl-C, a CI job's cancel (SIGTERM) or a closed terminal stop the throwaway server and remove
/// its directory before the process ends (status 128 + the signal). Call first thing in main:
/// the signals are blocked in every thread and taken by one that waits for them; programs run
/// as children get them unblocked again (`unblocked`).
pub fn cleanup_on_signals() {
    // SAFETY: a local signal set, filled and installed as this thread's mask before any other
    // thread exists; the waiting thread inherits it, as sigwait requires.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in CLEANUP_SIGNALS {
            libc::sigaddset(&mut set, s);
        }
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return;
        }
        std::thread::spawn(move || {
            let mut sig: libc::c_int = 0;
            // SAFETY: set outlives the call (moved into this thread).
            if libc::sigwait(&set, &mut sig) == 0 {
                INTERRUPTED.store(true, Ordering::SeqCst);
                clean_up(None);
                eprintln!("safe-ddl: interrupted (signal {sig})");
                std::process::exit(128 + sig);
            }
        });
    }
}

/// A child program gets the signals cleanup_on_signals blocks back (its mask is inherited).
pub fn unblocked(c: &mut Command) -> &mut Command {
    // SAFETY: only async-signal-safe calls (sigemptyset, sigaddset, sigprocmask) between fork
    // and exec.
    unsafe {
        c.pre_exec(|| {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for s in CLEANUP_SIGNALS {
                libc::sigaddset(&mut set, s);
            }
            libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            Ok(())
        })
    }
}

/// --pg-config, else $PG_CONFIG, else pg_config on PATH (if its PostgreSQL has safe_ddl), else
/// the newest /usr/lib/postgresql/*/bin/pg_config whose pkglibdir has safe_ddl.so.
/// Returns the pg_config and its bindir.
fn find_postgres(given: Option<&str>) -> Result<(PathBuf, PathBuf), Fail> {
    let explicit = given.map(PathBuf::from).or_else(|| {
        std::env::var_os("PG_CONFIG")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    });
    if let Some(p) = explicit {
        return with_safe_ddl(&p).map(|bindir| (p, bindir));
    }
    let mut tried = Vec::new();
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join("pg_config"))
            .find(|p| p.is_file())
    });
    let mut debian: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let p = e.path().join("bin/pg_config");
            p.is_file().then_some((v, p))
        })
        .collect();
    debian.sort();
    for p in on_path
        .into_iter()
        .chain(debian.into_iter().rev().map(|(_, p)| p))
    {
        match with_safe_ddl(&p) {
            Ok(bindir) => return Ok((p, bindir)),
            Err(Fail(m)) => tried.push(m.trim_start_matches("safe-ddl: error: ").to_string()),
        }
    }
    if tried.is_empty() {
        return Err(Fail::new(
            "no PostgreSQL found for --ephemeral: no pg_config on PATH nor in \
             /usr/lib/postgresql/*/bin; give --pg-config PATH (or set PG_CONFIG)",
        ));
    }
    Err(Fail::new(format!(
        "no PostgreSQL with safe_ddl installed found for --ephemeral:\n  {}\nInstall safe_ddl \
         into it (bash setup.sh install) or give --pg-config PATH",
        tried.join("\n  ")
    )))
}

/// The bindir of that pg_config's PostgreSQL, if safe_ddl is installed there.
fn with_safe_ddl(pg_config: &Path) -> Result<PathBuf, Fail> {
    let ask = |what: &str| -> Result<PathBuf, Fail> {
        let out = unblocked(&mut Command::new(pg_config))
            .arg(what)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| Fail::new(format!("cannot run {}: {e}", pg_config.display())))?;
        if !out.status.success() {
            return Err(Fail::new(format!(
                "{} {what} failed: {}",
                pg_config.display(),
                String::from_utf8_lossy(&out.stderr).trim_end()
            )));
        }
        Ok(PathBuf::from(OsStr::from_bytes(
            out.stdout.trim_ascii_end(),
        )))
    };
    let pkglibdir = ask("--pkglibdir")?;
    if !pkglibdir.join("safe_ddl.so").is_file() {
        return Err(Fail::new(format!(
            "safe_ddl is not installed in the PostgreSQL of {} (no {})",
            pg_config.display(),
            pkglibdir.join("safe_ddl.so").display()
        )));
    }
    ask("--bindir")
}

/// As root: the postgres user if it exists, else nobody. Otherwise: None (run as oneself).
fn server_user() -> Result<Option<(u32, u32)>, Fail> {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    for name in [c"postgres", c"nobody"] {
        // SAFETY: a NUL-terminated name; the entry is read at once (single-threaded).
        let pw = unsafe { libc::getpwnam(name.as_ptr()) };
        if !pw.is_null() {
            // SAFETY: a valid passwd entry.
            return Ok(Some(unsafe { ((*pw).pw_uid, (*pw).pw_gid) }));
        }
    }
    Err(Fail::new(
        "running as root, and neither a postgres nor a nobody user exists to run the ephemeral \
         server as (initdb refuses root)",
    ))
}

/// A new private directory under $TMPDIR (or /tmp).
fn mkdtemp() -> Result<PathBuf, Fail> {
    let base = std::env::var_os("TMPDIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    let template = base.join("safe-ddl.XXXXXX");
    let c = CString::new(template.as_os_str().as_bytes())
        .map_err(|_| Fail::new("TMPDIR holds a NUL byte"))?;
    let mut buf = c.into_bytes_with_nul();
    // SAFETY: a writable NUL-terminated template ending in XXXXXX.
    let p = unsafe { libc::mkdtemp(buf.as_mut_ptr().cast()) };
    if p.is_null() {
        return Err(Fail::new(format!(
            "cannot create a temporary directory in {}: {}",
            base.display(),
            std::io::Error::last_os_error()
        )));
    }
    let path = CStr::from_bytes_with_nul(&buf).map_err(|_| Fail::new("mkdtemp"))?;
    Ok(PathBuf::from(OsStr::from_bytes(path.to_bytes())))
}

fn chown(path: &Path, uid: u32, gid: u32) -> Result<(), Fail> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(|e| {
        Fail::new(format!(
            "cannot chown {} to the server's user: {e}",
            path.display()
        ))
    })
}

fn append(path: &Path, text: &str) -> Result<(), Fail> {
    use std::io::Write;
    // Written as whoever we are: root may write the postgres-owned file; an ordinary user owns it.
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| Fail::new(format!("cannot write {}: {e}", path.display())))
}

fn run(c: &mut Command, what: &str) -> Result<Output, Fail> {
    let out = c
        .output()
        .map_err(|e| Fail::new(format!("cannot run {what}: {e}")))?;
    if !out.status.success() {
        // The errors; the progress chatter on stdout only when there are none.
        let stderr = String::from_utf8_lossy(&out.stderr);
        let said = if stderr.trim().is_empty() {
            String::from_utf8_lossy(&out.stdout)
        } else {
            stderr
        };
        return Err(Fail::new(format!(
            "{what} failed for the ephemeral cluster:\n{}",
            said.trim_end()
        )));
    }
    Ok(out)
}

/// A value in postgresql.conf: single quotes doubled.
fn conf_quote(s: &str) -> String {
    s.replace('\'', "''")
}

/// A conninfo value: quoted, backslash and single quote escaped.
fn conninfo_quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(conninfo_quote("/tmp/a b'c\\d"), "'/tmp/a b\\'c\\\\d'");
        assert_eq!(conf_quote("/tmp/it's"), "/tmp/it''s");
    }
}
