//! Uses made on hot standbys count on the primary (issue 19). Each server records its own
//! clients' uses (a standby with safe_ddl preloaded records the reads its clients make there).
//! When the primary judges a drop or rename, it asks every standby listed in
//! `safe_ddl.usage_standbys` for its uses of that relation, over an ordinary libpq connection the
//! DBA configures (`libpq`), with one query of `safe_ddl._usage_export()` on the standby. A use
//! there counts as a use here; a standby that cannot be asked (down, refused, not preloaded, its
//! usage table overflowed, or tracking there restarted within the window) leaves the object not
//! proven unused, and the refusal says which standby and why.
//!
//! The setting lists connection strings (key=value or URIs) separated by `;`. The database is
//! always the current one (it overrides any dbname given); `connect_timeout` (5 s),
//! `application_name` and a 5 s `statement_timeout` are set unless the string sets them. The
//! connection runs as the role the string names, with the postgres OS user's ~/.pgpass or
//! service file: that role needs `pg_read_all_stats` (or superuser) on the standby.

use super::libpq;

/// What one standby says about one relation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub label: String,
    /// Since when its uses of the relation are on record (TimestampTz).
    pub since: i64,
    /// Why its tracking (re)started then, if it says.
    pub reason: Option<String>,
    /// When a use was last dropped there for lack of space (0: never).
    pub last_overflow: i64,
    /// (attnum, last read, last write) as TimestampTz, 0 for none.
    pub uses: Vec<(i16, i64, i64)>,
}

/// The connection strings of `safe_ddl.usage_standbys`.
pub fn configured(setting: &str) -> Vec<String> {
    setting
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// How messages name the standby of connection string `conninfo` (the `n`th, from 1): its host,
/// port or service, never its password.
pub fn label(conninfo: &str, n: usize) -> String {
    let mut parts = vec![];
    if let Some(rest) = conninfo
        .strip_prefix("postgresql://")
        .or_else(|| conninfo.strip_prefix("postgres://"))
    {
        let authority = rest.split(['/', '?']).next().unwrap_or("");
        let host = authority.rsplit('@').next().unwrap_or("");
        if !host.is_empty() {
            parts.push(host.to_string());
        }
    } else {
        for word in conninfo.split_whitespace() {
            if let Some((k, v)) = word.split_once('=') {
                if matches!(k.trim(), "host" | "hostaddr" | "port" | "service") && !v.is_empty() {
                    parts.push(format!("{}={}", k.trim(), v.trim_matches('\'')));
                }
            }
        }
    }
    if parts.is_empty() {
        format!("standby {n}")
    } else {
        format!("standby {n} ({})", parts.join(" "))
    }
}

/// Ask every standby of `setting` for its uses of relation `relid` in database `dbname`, where
/// the extension's schema is `schema` (quoted). One result per standby: its answer, or its label
/// and why it could not be asked.
pub fn ask_all(setting: &str, dbname: &str, schema: &str, relid: u32) -> Answers {
    let query = format!(
        "SELECT attnum, last_read_us, last_write_us, since_us, since_reason, last_overflow_us \
           FROM {schema}._usage_export($1::pg_catalog.oid)"
    );
    configured(setting)
        .iter()
        .enumerate()
        .map(|(i, conninfo)| {
            let label = label(conninfo, i + 1);
            let params = [
                ("connect_timeout", "5"),
                ("application_name", "safe_ddl usage check"),
                ("options", "-c statement_timeout=5000"),
                ("dbname", conninfo.as_str()),
                ("dbname", dbname),
            ];
            libpq::query(&params, &query, &[&relid.to_string()])
                .and_then(|rows| parse(&label, &rows))
                .map_err(|why| (label.clone(), why))
        })
        .collect()
}

/// Each standby's answer, or its label and why it could not be asked.
pub type Answers = Vec<Result<Answer, (String, String)>>;

/// What the last answers were to: (statement start, setting, relation).
type Question = (i64, String, u32);

thread_local! {
    /// The last answers, with their question.
    static LAST: std::cell::RefCell<Option<(Question, Answers)>> =
        const { std::cell::RefCell::new(None) };
}

/// `ask_all`, asked once per statement and relation: the second look the hook takes under the
/// statement's lock (recheck.rs) reuses the first look's answers instead of holding the lock
/// for the standbys' round trips. (A standby's reads are not held back by a lock on the primary
/// anyway, until its replay reaches it.)
pub fn ask_all_once(setting: &str, dbname: &str, schema: &str, relid: u32) -> Answers {
    // SAFETY: a plain backend call.
    let key = (
        unsafe { pgrx::pg_sys::GetCurrentStatementStartTimestamp() },
        setting.to_string(),
        relid,
    );
    if let Some(hit) = LAST.with(|l| {
        l.borrow()
            .as_ref()
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| v.clone())
    }) {
        return hit;
    }
    let answers = ask_all(setting, dbname, schema, relid);
    LAST.with(|l| *l.borrow_mut() = Some((key, answers.clone())));
    answers
}

fn parse(label: &str, rows: &[Vec<Option<String>>]) -> Result<Answer, String> {
    let int = |v: &Option<String>| -> Result<i64, String> {
        v.as_deref()
            .unwrap_or("0")
            .parse::<i64>()
            .map_err(|_| format!("unexpected answer {v:?}"))
    };
    let mut answer = Answer {
        label: label.to_string(),
        since: 0,
        reason: None,
        last_overflow: 0,
        uses: vec![],
    };
    let mut meta = false;
    for row in rows {
        if row.len() != 6 {
            return Err("unexpected answer (is the same safe_ddl version installed there?)".into());
        }
        match &row[0] {
            None => {
                meta = true;
                answer.since = int(&row[3])?;
                answer.reason = row[4].clone();
                answer.last_overflow = int(&row[5])?;
            }
            Some(a) => {
                let attnum = a
                    .parse::<i16>()
                    .map_err(|_| format!("unexpected attnum {a:?}"))?;
                answer.uses.push((attnum, int(&row[1])?, int(&row[2])?));
            }
        }
    }
    if !meta || answer.since <= 0 {
        return Err(
            "usage tracking is not running there (safe_ddl not in shared_preload_libraries)".into(),
        );
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_split_on_semicolons() {
        assert_eq!(
            configured(" host=a port=5433 ; ;postgresql://u@b:5432/x;"),
            vec!["host=a port=5433", "postgresql://u@b:5432/x"]
        );
        assert!(configured("").is_empty());
    }

    #[test]
    fn labels_name_the_host_never_the_password() {
        assert_eq!(
            label("host=10.0.0.5 port=5433 user=s password=secret", 1),
            "standby 1 (host=10.0.0.5 port=5433)"
        );
        assert_eq!(
            label(
                "postgresql://s:secret@replica.example:5432/app?sslmode=require",
                2
            ),
            "standby 2 (replica.example:5432)"
        );
        assert_eq!(label("service=replica1", 3), "standby 3 (service=replica1)");
        assert_eq!(label("user=x password=y", 4), "standby 4");
    }

    fn row(v: [Option<&str>; 6]) -> Vec<Option<String>> {
        v.iter().map(|x| x.map(String::from)).collect()
    }

    #[test]
    fn answers_are_parsed_and_checked() {
        let rows = vec![
            row([
                None,
                None,
                None,
                Some("100"),
                Some("server start"),
                Some("0"),
            ]),
            row([Some("2"), Some("500"), Some("0"), None, None, None]),
        ];
        let a = parse("s", &rows).unwrap();
        assert_eq!((a.since, a.last_overflow), (100, 0));
        assert_eq!(a.uses, vec![(2, 500, 0)]);
        assert!(parse("s", &[]).unwrap_err().contains("not running"));
        assert!(parse("s", &[row([Some("x"), None, None, None, None, None])]).is_err());
        assert!(parse("s", &[vec![None]]).is_err());
    }
}
