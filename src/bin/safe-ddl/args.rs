//! Command-line arguments, parsed by hand (no dependency for a handful of options).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Github,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Target {
    Dsn(String),
    Ephemeral {
        schemas: Vec<String>,
        pg_config: Option<String>,
        /// Files without their own BEGIN/COMMIT run statement by statement, not in one
        /// transaction.
        autocommit: bool,
    },
}

#[derive(Debug, PartialEq, Eq)]
pub struct Check {
    pub target: Target,
    pub format: Format,
    pub files: Vec<String>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Help,
    Version,
    Check(Check),
}

pub const USAGE: &str = "\
usage: safe-ddl check --dsn CONNINFO [--format text|json|github] FILE...
       safe-ddl check --ephemeral [--schema FILE]... [--pg-config PATH] [--autocommit]
                      [--format ...] FILE...
       safe-ddl --help | --version

Checks PostgreSQL migration files (plain SQL, several statements each; - reads stdin) with the
safe_ddl extension and reports each hazardous statement as FILE:LINE:COL with its hazard,
verdict, lock, table size and the safe recipe.

  --dsn CONNINFO    a database with CREATE EXTENSION safe_ddl (a hot standby of production
                    works best: real sizes and catalog). Any libpq connection string (URL or
                    key=value; PG* variables, .pgpass, service files apply). Each file is checked
                    by safe_ddl.check() in a read-only transaction: nothing is executed.
  --ephemeral       no server needed: a throwaway cluster of the installed PostgreSQL with
                    safe_ddl preloaded, in a temporary directory, removed afterwards; loads the
                    --schema files (e.g. pg_dump --schema-only output) with psql, then applies
                    the files in order as a migration tool would (one transaction per file
                    unless the file cannot run in one) and reports what the guard refuses.
  --schema FILE     (repeatable, in order) SQL/psql script loaded before the migrations.
  --autocommit      (--ephemeral) a file without its own BEGIN/COMMIT runs statement by
                    statement, not in one transaction: as psql -f runs it, and as Django runs
                    a non-atomic migration (its sqlmigrate output has BEGIN/COMMIT when atomic).
  --pg-config PATH  the PostgreSQL to use (default: $PG_CONFIG, pg_config on PATH, the newest
                    /usr/lib/postgresql/*/bin/pg_config with safe_ddl installed).
  --format FORMAT   text (default; colour on a terminal unless NO_COLOR is set), json (one
                    object per finding per line) or github (GitHub Actions workflow commands).

Exit status: 0 nothing refused; 1 at least one finding refused or warned (a hazard the file
does not allow, whatever the server's safe_ddl.mode); 2 the check could not run (bad arguments,
unreadable file, connection failure, safe_ddl missing, a syntax or other error in a file).
";

/// The arguments after the program's name.
pub fn parse(args: &[String]) -> Result<Command, String> {
    let mut it = args.iter().map(String::as_str).peekable();
    match it.next() {
        None => return Err("no command given".into()),
        Some("--help" | "-h" | "help") => return Ok(Command::Help),
        Some("--version" | "-V") => return Ok(Command::Version),
        Some("check") => {}
        Some(other) => {
            return Err(format!(
                "unknown command \"{other}\" (the command is check)"
            ))
        }
    }
    let mut dsn = None;
    let mut ephemeral = false;
    let mut schemas = Vec::new();
    let mut pg_config = None;
    let mut autocommit = false;
    let mut format = None;
    let mut files = Vec::new();
    let mut options_done = false;
    while let Some(arg) = it.next() {
        if options_done || arg == "-" || !arg.starts_with('-') {
            files.push(arg.to_string());
            continue;
        }
        // --opt=value or --opt value
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v)),
            _ => (arg, None),
        };
        let mut value = |what: &str| -> Result<String, String> {
            match inline {
                Some(v) => Ok(v.to_string()),
                None => it
                    .next()
                    .map(str::to_string)
                    .ok_or_else(|| format!("{name} needs {what}")),
            }
        };
        match name {
            "--" => options_done = true,
            "--help" | "-h" => return Ok(Command::Help),
            "--dsn" => set_once(&mut dsn, value("a connection string")?, name)?,
            "--ephemeral" if inline.is_none() => ephemeral = true,
            "--autocommit" if inline.is_none() => autocommit = true,
            "--schema" => schemas.push(value("a file")?),
            "--pg-config" => set_once(&mut pg_config, value("a path")?, name)?,
            "--format" => {
                let f = match value("text, json or github")?.as_str() {
                    "text" => Format::Text,
                    "json" => Format::Json,
                    "github" => Format::Github,
                    other => {
                        return Err(format!("unknown format \"{other}\" (text, json or github)"))
                    }
                };
                set_once(&mut format, f, name)?;
            }
            _ => return Err(format!("unknown option {arg}")),
        }
    }
    let target = match (dsn, ephemeral) {
        (Some(_), true) => return Err("--dsn and --ephemeral exclude each other".into()),
        (None, false) => return Err("check needs --dsn CONNINFO or --ephemeral".into()),
        (Some(dsn), false) => {
            if !schemas.is_empty() || pg_config.is_some() || autocommit {
                return Err(
                    "--schema, --pg-config and --autocommit go with --ephemeral, not --dsn".into(),
                );
            }
            Target::Dsn(dsn)
        }
        (None, true) => Target::Ephemeral {
            schemas,
            pg_config,
            autocommit,
        },
    };
    if files.is_empty() {
        return Err("no FILE given (- reads stdin)".into());
    }
    let schema_stdin =
        matches!(&target, Target::Ephemeral { schemas, .. } if schemas.iter().any(|s| s == "-"));
    if files.iter().filter(|f| *f == "-").count() + usize::from(schema_stdin) > 1 {
        return Err("- (stdin) given more than once".into());
    }
    Ok(Command::Check(Check {
        target,
        format: format.unwrap_or(Format::Text),
        files,
    }))
}

fn set_once<T>(slot: &mut Option<T>, value: T, name: &str) -> Result<(), String> {
    if slot.replace(value).is_some() {
        return Err(format!("{name} given more than once"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Command, String> {
        parse(&s.split_whitespace().map(String::from).collect::<Vec<_>>())
    }

    #[test]
    fn dsn_mode() {
        assert_eq!(
            p("check --dsn postgres://h/db a.sql - b.sql"),
            Ok(Command::Check(Check {
                target: Target::Dsn("postgres://h/db".into()),
                format: Format::Text,
                files: vec!["a.sql".into(), "-".into(), "b.sql".into()],
            }))
        );
        assert_eq!(
            p("check a.sql --format=github --dsn=host=x"),
            Ok(Command::Check(Check {
                target: Target::Dsn("host=x".into()),
                format: Format::Github,
                files: vec!["a.sql".into()],
            }))
        );
    }

    #[test]
    fn ephemeral_mode() {
        assert_eq!(
            p("check --ephemeral --schema s1.sql --schema=s2.sql --pg-config /x/pg_config --autocommit --format json -- -odd.sql"),
            Ok(Command::Check(Check {
                target: Target::Ephemeral {
                    schemas: vec!["s1.sql".into(), "s2.sql".into()],
                    pg_config: Some("/x/pg_config".into()),
                    autocommit: true,
                },
                format: Format::Json,
                files: vec!["-odd.sql".into()],
            }))
        );
    }

    #[test]
    fn help_and_version() {
        assert_eq!(p("--help"), Ok(Command::Help));
        assert_eq!(p("check --help"), Ok(Command::Help));
        assert_eq!(p("--version"), Ok(Command::Version));
    }

    #[test]
    fn errors() {
        for (args, err) in [
            ("", "no command given"),
            ("lint x", "unknown command \"lint\" (the command is check)"),
            ("check x.sql", "check needs --dsn CONNINFO or --ephemeral"),
            ("check --dsn", "--dsn needs a connection string"),
            (
                "check --dsn a --ephemeral x",
                "--dsn and --ephemeral exclude each other",
            ),
            ("check --dsn a --dsn b x", "--dsn given more than once"),
            ("check --ephemeral", "no FILE given (- reads stdin)"),
            (
                "check --ephemeral --format xml x",
                "unknown format \"xml\" (text, json or github)",
            ),
            (
                "check --ephemeral --frobnicate x",
                "unknown option --frobnicate",
            ),
            ("check --ephemeral=yes x", "unknown option --ephemeral=yes"),
            (
                "check --dsn a --schema s x",
                "--schema, --pg-config and --autocommit go with --ephemeral, not --dsn",
            ),
            ("check --ephemeral - -", "- (stdin) given more than once"),
            (
                "check --ephemeral --schema - -",
                "- (stdin) given more than once",
            ),
        ] {
            assert_eq!(p(args), Err(err.to_string()), "{args}");
        }
    }
}
