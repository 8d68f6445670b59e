//! One audit record as one line of JSON (pure: no Postgres calls, unit-tested).
//!
//! Writing escapes everything a hostile statement text could use to forge or break a record:
//! `"` and `\`, every control character (newlines included) and U+2028/U+2029, so a record is
//! always exactly one line and every value stays inside its own string. Reading parses only the
//! flat objects written here (strings, integers, null); anything else is not a record (a torn or
//! hand-edited line) and is skipped by the caller.

use std::fmt::Write;

/// The format version, the first key of every line. Readers skip lines of another version.
pub const VERSION: i64 = 1;
/// The statement text kept in a record, in bytes of its UTF-8 text; the rest is cut (`cut`).
pub const STATEMENT_MAX: usize = 4096;
/// Any other free text (message, allow value, names) is cut at this many bytes.
pub const TEXT_MAX: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Refused,
    Allowed,
    Warned,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Refused => "refused",
            Action::Allowed => "allowed",
            Action::Warned => "warned",
        }
    }

    fn parse(s: &str) -> Option<Action> {
        [Action::Refused, Action::Allowed, Action::Warned]
            .into_iter()
            .find(|a| a.name() == s)
    }
}

/// One finding's record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// When it happened: a Postgres TimestampTz (microseconds since 2000-01-01 00:00 UTC).
    pub time: i64,
    pub action: Action,
    pub hazard: String,
    pub subject: String,
    pub session_user: Option<String>,
    pub current_user: Option<String>,
    pub database: Option<String>,
    pub application_name: Option<String>,
    /// NULL for a Unix socket (and for processes without a client).
    pub client_addr: Option<String>,
    pub pid: i32,
    /// The `safe_ddl.allow` value that let it through (NULL when empty or not allowed).
    pub allow: Option<String>,
    /// The statement's inline allow (`-- safe_ddl: allow ...`): the hazard list it names.
    pub inline_allow: Option<String>,
    /// At most STATEMENT_MAX bytes, then the cut marker.
    pub statement: String,
    /// SQLSTATE and message of the ERROR (refused) or WARNING (warned); NULL when allowed.
    pub sqlstate: Option<String>,
    pub message: Option<String>,
}

/// `s` cut to at most `max` bytes at a character boundary, followed by
/// `...[cut: N bytes in all]` when something was cut.
pub fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...[cut: {} bytes in all]", &s[..end], s.len())
}

impl Record {
    /// The record as one line, `\n` included.
    pub fn to_line(&self) -> String {
        let mut out = String::with_capacity(256 + self.statement.len());
        let _ = write!(out, "{{\"v\":{VERSION},\"time\":");
        push_str(&mut out, &iso_utc(self.time));
        let text = |out: &mut String, key: &str, v: Option<&str>, max: usize| {
            let _ = write!(out, ",\"{key}\":");
            match v {
                Some(v) => push_str(out, &cut(v, max)),
                None => out.push_str("null"),
            }
        };
        text(&mut out, "action", Some(self.action.name()), TEXT_MAX);
        text(&mut out, "hazard", Some(&self.hazard), TEXT_MAX);
        text(&mut out, "subject", Some(&self.subject), TEXT_MAX);
        text(
            &mut out,
            "session_user",
            self.session_user.as_deref(),
            TEXT_MAX,
        );
        text(
            &mut out,
            "current_user",
            self.current_user.as_deref(),
            TEXT_MAX,
        );
        text(&mut out, "database", self.database.as_deref(), TEXT_MAX);
        text(
            &mut out,
            "application_name",
            self.application_name.as_deref(),
            TEXT_MAX,
        );
        text(
            &mut out,
            "client_addr",
            self.client_addr.as_deref(),
            TEXT_MAX,
        );
        let _ = write!(out, ",\"pid\":{}", self.pid);
        text(&mut out, "allow", self.allow.as_deref(), TEXT_MAX);
        text(
            &mut out,
            "inline_allow",
            self.inline_allow.as_deref(),
            TEXT_MAX,
        );
        text(&mut out, "statement", Some(&self.statement), STATEMENT_MAX);
        text(&mut out, "sqlstate", self.sqlstate.as_deref(), TEXT_MAX);
        text(&mut out, "message", self.message.as_deref(), TEXT_MAX);
        out.push_str("}\n");
        out
    }

    /// A line written by `to_line` (without its `\n`); None for anything else.
    pub fn parse(line: &str) -> Option<Record> {
        let fields = parse_object(line)?;
        let get = |k: &str| fields.iter().find(|(key, _)| key == k).map(|(_, v)| v);
        let text = |k: &str| match get(k) {
            Some(Value::Str(s)) => Some(Some(s.clone())),
            Some(Value::Null) | None => Some(None),
            Some(Value::Int(_)) => None,
        };
        let required = |k: &str| text(k).flatten();
        if get("v") != Some(&Value::Int(VERSION)) {
            return None;
        }
        let pid = match get("pid") {
            Some(Value::Int(p)) => i32::try_from(*p).ok()?,
            _ => return None,
        };
        Some(Record {
            time: parse_iso_utc(&required("time")?)?,
            action: Action::parse(&required("action")?)?,
            hazard: required("hazard")?,
            subject: required("subject")?,
            session_user: text("session_user")?,
            current_user: text("current_user")?,
            database: text("database")?,
            application_name: text("application_name")?,
            client_addr: text("client_addr")?,
            pid,
            allow: text("allow")?,
            inline_allow: text("inline_allow")?,
            statement: required("statement")?,
            sqlstate: text("sqlstate")?,
            message: text("message")?,
        })
    }
}

/// A JSON string literal of `s`.
fn push_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' || c == '\u{2028}' || c == '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Value {
    Str(String),
    Int(i64),
    Null,
}

/// A flat JSON object of strings, integers and nulls: `{"k":v,...}` with optional blanks.
fn parse_object(s: &str) -> Option<Vec<(String, Value)>> {
    let mut p = Parser {
        b: s.as_bytes(),
        i: 0,
    };
    p.blank();
    p.eat(b'{')?;
    let mut fields = Vec::new();
    p.blank();
    if p.peek() == Some(b'}') {
        p.i += 1;
    } else {
        loop {
            p.blank();
            let key = p.string()?;
            p.blank();
            p.eat(b':')?;
            p.blank();
            let value = match p.peek()? {
                b'"' => Value::Str(p.string()?),
                b'n' => {
                    p.word(b"null")?;
                    Value::Null
                }
                _ => Value::Int(p.int()?),
            };
            fields.push((key, value));
            p.blank();
            match p.peek()? {
                b',' => p.i += 1,
                b'}' => {
                    p.i += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    p.blank();
    (p.i == p.b.len()).then_some(fields)
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    fn blank(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.i += 1;
        }
    }

    fn word(&mut self, w: &[u8]) -> Option<()> {
        let end = self.i.checked_add(w.len())?;
        (self.b.get(self.i..end)? == w).then(|| self.i = end)
    }

    fn int(&mut self) -> Option<i64> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        std::str::from_utf8(&self.b[start..self.i])
            .ok()?
            .parse()
            .ok()
    }

    fn hex4(&mut self) -> Option<u32> {
        let end = self.i.checked_add(4)?;
        let h = std::str::from_utf8(self.b.get(self.i..end)?).ok()?;
        let v = u32::from_str_radix(h, 16).ok()?;
        self.i = end;
        Some(v)
    }

    fn string(&mut self) -> Option<String> {
        self.eat(b'"')?;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let c = self.peek()?;
            self.i += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let e = self.peek()?;
                    self.i += 1;
                    let ch = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'u' => {
                            let hi = self.hex4()?;
                            let code = if (0xd800..0xdc00).contains(&hi) {
                                self.word(b"\\u")?;
                                let lo = self.hex4()?;
                                if !(0xdc00..0xe000).contains(&lo) {
                                    return None;
                                }
                                0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00)
                            } else {
                                hi
                            };
                            char::from_u32(code).filter(|c| *c != '\0')?
                        }
                        _ => return None,
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                // A raw control character is not JSON (and never written).
                c if c < 0x20 => return None,
                c => out.push(c),
            }
        }
        String::from_utf8(out).ok()
    }
}

const USECS_PER_DAY: i64 = 86_400_000_000;
/// Days from 0000-03-01 to 2000-01-01 in the proleptic Gregorian calendar.
const DAYS_TO_2000: i64 = 730_425;

/// A TimestampTz as ISO 8601 in UTC, microseconds always shown: `2026-12-06T11:00:00.123456Z`.
pub fn iso_utc(ts: i64) -> String {
    let days = ts.div_euclid(USECS_PER_DAY);
    let us = ts.rem_euclid(USECS_PER_DAY);
    let (y, m, d) = civil(days + DAYS_TO_2000);
    let secs = us / 1_000_000;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:06}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        us % 1_000_000
    )
}

/// The inverse of `iso_utc` (exactly its format).
pub fn parse_iso_utc(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 27
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'.'
        || b[26] != b'Z'
    {
        return None;
    }
    let n = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (y, m, d) = (n(0..4)?, n(5..7)?, n(8..10)?);
    let (hh, mm, ss, us) = (n(11..13)?, n(14..16)?, n(17..19)?, n(20..26)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 59 {
        return None;
    }
    let days = days_from_civil(y, m, d) - DAYS_TO_2000;
    Some(days * USECS_PER_DAY + ((hh * 60 + mm) * 60 + ss) * 1_000_000 + us)
}

/// (year, month, day) of a day count from 0000-03-01 (H. Hinnant's civil_from_days).
fn civil(z: i64) -> (i64, i64, i64) {
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Day count from 0000-03-01 of a date (the inverse of `civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(statement: &str) -> Record {
        Record {
            time: 818_254_800_123_456,
            action: Action::Refused,
            hazard: "index_build".into(),
            subject: "public.t".into(),
            session_user: Some("app".into()),
            current_user: Some("app".into()),
            database: Some("db".into()),
            application_name: Some("psql".into()),
            client_addr: None,
            pid: 42,
            allow: None,
            inline_allow: None,
            statement: statement.into(),
            sqlstate: Some("55000".into()),
            message: Some("safe_ddl: index_build: x".into()),
        }
    }

    #[test]
    fn time_round_trips_and_reads_as_utc() {
        // 2000-01-01 is 0.
        assert_eq!(iso_utc(0), "2000-01-01T00:00:00.000000Z");
        assert_eq!(iso_utc(-1), "1999-12-31T23:59:59.999999Z");
        assert_eq!(iso_utc(818_254_800_123_456), "2025-12-05T13:00:00.123456Z");
        for ts in [
            0,
            -1,
            1,
            818_254_800_123_456,
            951_782_400_000_000,
            -946_684_800_000_000,
        ] {
            assert_eq!(parse_iso_utc(&iso_utc(ts)), Some(ts), "{ts}");
        }
        assert_eq!(parse_iso_utc("2025-13-06T13:00:00.123456Z"), None);
        assert_eq!(parse_iso_utc("2025-12-06 13:00:00.123456Z"), None);
    }

    #[test]
    fn hostile_text_stays_one_line_and_round_trips() {
        let hostile = "CREATE INDEX ON t (a); -- \"}\n{\"v\":1,\"action\":\"allowed\"}\r\n\\\"\u{1}\u{7f}\u{2028}é€𝄞\t";
        let r = record(hostile);
        let line = r.to_line();
        assert_eq!(line.matches('\n').count(), 1, "{line}");
        assert!(line.ends_with("}\n"));
        assert_eq!(Record::parse(line.trim_end_matches('\n')), Some(r));
    }

    #[test]
    fn long_statements_are_cut_at_a_character_boundary() {
        let long = "é".repeat(3000); // 6000 bytes
        let c = cut(&long, STATEMENT_MAX);
        assert!(c.ends_with("...[cut: 6000 bytes in all]"), "{c}");
        assert_eq!(c.len(), STATEMENT_MAX + "...[cut: 6000 bytes in all]".len());
        assert_eq!(cut("short", 10), "short");
        let r = record(&long);
        let back = Record::parse(r.to_line().trim_end()).unwrap();
        assert_eq!(back.statement, c);
    }

    #[test]
    fn torn_and_foreign_lines_are_not_records() {
        let line = record("x").to_line();
        let line = line.trim_end();
        for n in 0..line.len() {
            if line.is_char_boundary(n) {
                assert_eq!(Record::parse(&line[..n]), None, "{}", &line[..n]);
            }
        }
        assert_eq!(Record::parse("{}"), None);
        assert_eq!(Record::parse(&line.replace("\"v\":1", "\"v\":2")), None);
        assert_eq!(Record::parse(&format!("{line}{line}")), None);
        assert_eq!(Record::parse("{\"v\":1,\"a\":[1]}"), None);
        assert_eq!(Record::parse("{\"s\":\"\\ud800\"}"), None);
    }
}
