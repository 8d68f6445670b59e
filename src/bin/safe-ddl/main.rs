//! `safe-ddl`: checks PostgreSQL migration files with the safe_ddl extension, for CI and
//! pre-commit hooks (issue 17). See `safe-ddl --help` and docs/ci.md.
//!
//! Plain Rust and libpq (FFI, libpq.rs): it does not link the extension's library, which needs a
//! server. Two modes:
//! - dsn: each file goes to `safe_ddl.check()` on a database that has the extension, in a
//!   read-only transaction (a hot standby works); nothing is executed.
//! - ephemeral: a throwaway cluster (ephemeral.rs) where the files are really applied in order,
//!   each statement checked first in the state the earlier ones left (apply.rs).

mod apply;
mod args;
mod ephemeral;
mod format;
mod libpq;
mod position;
mod rows;

use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;

use args::{Command, Target};
use format::{Finding, Output};
use libpq::PgError;
use position::Source;

/// Why the check could not run (exit status 2): the full message for stderr.
#[derive(Debug)]
pub struct Fail(pub String);

impl Fail {
    pub fn new(message: impl Into<String>) -> Fail {
        Fail(format!("safe-ddl: error: {}", message.into()))
    }

    /// An error of Postgres about a file: `FILE:LINE:COL: error: MESSAGE`, with DETAIL and HINT.
    /// The position is the error's own when it has one: " at character N of the checked SQL"
    /// in the message, or (`statement_position`) the error's position field; both count from
    /// `base`, the 1-based position in the file of the text that was sent. Else `fallback`.
    pub fn at(
        src: &Source,
        err: &PgError,
        base: usize,
        statement_position: bool,
        fallback: Option<usize>,
    ) -> Fail {
        let (message, located) = position::split_located(&err.message);
        let pos = located
            .or(err.position.filter(|_| statement_position))
            .map(|n| (base + n).saturating_sub(1))
            .or(fallback);
        let mut out = match pos {
            Some(p) => {
                let (l, c) = src.line_col(p);
                format!("{}:{l}:{c}: error: {message}", src.name)
            }
            None => format!("{}: error: {message}", src.name),
        };
        for (label, text) in [("DETAIL", &err.detail), ("HINT", &err.hint)] {
            if let Some(t) = text {
                out += &format!("\n    {label}: {}", t.replace('\n', "\n    "));
            }
        }
        Fail(out)
    }
}

fn main() -> ExitCode {
    ephemeral::cleanup_on_signals();
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let check = match args::parse(&argv) {
        Ok(Command::Help) => {
            print!("{}", args::USAGE);
            return ExitCode::SUCCESS;
        }
        Ok(Command::Version) => {
            println!("safe-ddl {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Ok(Command::Check(c)) => c,
        Err(e) => {
            eprintln!("safe-ddl: error: {e}\n\n{}", args::USAGE);
            return ExitCode::from(2);
        }
    };
    let out = Output {
        format: check.format,
        colour: std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    };
    let mut summary = Summary::default();
    let result = read_files(&check.files).and_then(|sources| {
        let mut emit = |findings: Vec<Finding>| {
            let mut stdout = std::io::stdout().lock();
            for f in &findings {
                summary.count(f);
                // A closed pipe (| head) is no reason to fail the check.
                let _ = stdout.write_all(out.render(f).as_bytes());
            }
            let _ = stdout.flush();
            summary.files += 1;
        };
        match &check.target {
            Target::Dsn(dsn) => dsn_mode(dsn, &sources, &mut emit),
            Target::Ephemeral {
                schemas,
                pg_config,
                autocommit,
            } => {
                let cluster = ephemeral::Cluster::start(pg_config.as_deref())?;
                for schema in schemas {
                    cluster.load_schema(schema)?;
                }
                let conn = cluster.connect()?;
                cluster.create_extension(&conn)?;
                for src in &sources {
                    emit(apply::apply_file(&conn, src, *autocommit)?);
                }
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => {
            eprintln!("{}", summary.line());
            if summary.failing > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(Fail(message)) => {
            while ephemeral::interrupted() {
                // The signal's thread cleans up and ends the process.
                std::thread::park();
            }
            eprintln!("{message}");
            ExitCode::from(2)
        }
    }
}

#[derive(Default)]
struct Summary {
    files: usize,
    refused: usize,
    warned: usize,
    allowed: usize,
    unanalysed: usize,
    failing: usize,
}

impl Summary {
    fn count(&mut self, f: &Finding) {
        match f.verdict.as_str() {
            "refused" => self.refused += 1,
            "warned" => self.warned += 1,
            "allowed" => self.allowed += 1,
            _ => self.unanalysed += 1,
        }
        if f.fails() {
            self.failing += 1;
        }
    }

    fn line(&self) -> String {
        format!(
            "safe-ddl: {} file{} checked: {} refused, {} warned, {} allowed, {} unanalysed",
            self.files,
            if self.files == 1 { "" } else { "s" },
            self.refused,
            self.warned,
            self.allowed,
            self.unanalysed
        )
    }
}

/// Every file read first: an unreadable one stops the check before anything runs.
fn read_files(files: &[String]) -> Result<Vec<Source>, Fail> {
    files
        .iter()
        .map(|f| {
            let (name, bytes) = if f == "-" {
                let mut b = Vec::new();
                std::io::stdin()
                    .read_to_end(&mut b)
                    .map_err(|e| Fail::new(format!("cannot read stdin: {e}")))?;
                ("<stdin>".to_string(), b)
            } else {
                let b = std::fs::read(f).map_err(|e| Fail::new(format!("cannot read {f}: {e}")))?;
                (f.clone(), b)
            };
            let text = String::from_utf8(bytes).map_err(|e| {
                Fail::new(format!(
                    "{name} is not valid UTF-8 (byte {}): migration files must be UTF-8",
                    e.utf8_error().valid_up_to()
                ))
            })?;
            if let Some(i) = text.find('\0') {
                return Err(Fail::new(format!("{name} holds a NUL byte (byte {i})")));
            }
            Ok(Source::new(name, text))
        })
        .collect()
}

/// dsn mode: each file to check() in a read-only transaction, rolled back.
fn dsn_mode(dsn: &str, sources: &[Source], emit: &mut dyn FnMut(Vec<Finding>)) -> Result<(), Fail> {
    let conn = libpq::Conn::connect(dsn)
        .map_err(|e| Fail::new(format!("could not connect to the database (--dsn): {e}")))?;
    let plain = |sql: &str| {
        conn.exec(sql)
            .map_err(|e| Fail::new(format!("{sql}: {}", e.message)))
    };
    for src in sources {
        plain("BEGIN TRANSACTION READ ONLY")?;
        let rows = match rows::check(&conn, &src.text) {
            Ok(rows) => rows,
            Err(e) if rows::missing_extension(&e) => {
                return Err(Fail::new(format!(
                    "safe_ddl.check() does not exist in that database ({}): the extension is not \
                     installed there. Run CREATE EXTENSION safe_ddl; in it (on the primary; a \
                     standby follows), or check with --ephemeral",
                    e.message
                )))
            }
            Err(e) => return Err(Fail::at(src, &e, 1, false, None)),
        };
        let mode = plain("SELECT pg_catalog.current_setting('safe_ddl.mode', true)")?.get(0, 0);
        plain("ROLLBACK")?;
        if mode.as_deref() == Some("off") {
            return Err(Fail::new(
                "safe_ddl.mode is off on that server: check() judges nothing there. Check \
                 against a server where it is enforce or warn, or with --ephemeral",
            ));
        }
        let located = rows::locate(src, &rows);
        let findings = rows
            .iter()
            .zip(&located)
            .filter(|(r, _)| r.is_finding())
            .map(|(r, l)| r.finding(src, l, true))
            .collect();
        emit(findings);
    }
    Ok(())
}
