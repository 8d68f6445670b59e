//! Findings and their output: text (for people), JSON Lines, GitHub workflow commands.

use crate::args::Format;

/// One finding: a check() row with a hazard (refused, warned, allowed) or verdict unanalysed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Finding {
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// The statement from its first token (its leading comments left out).
    pub statement: String,
    pub hazard: Option<String>,
    pub verdict: String,
    pub lock: Option<String>,
    pub relation: Option<String>,
    /// Bytes; None in ephemeral mode (sizes mean nothing there) or for no table.
    pub table_size: Option<i64>,
    pub rewrites: bool,
    pub scans: bool,
    /// The safe recipe (or, for unanalysed, why).
    pub hint: Option<String>,
}

impl Finding {
    /// Whether it fails the check: a hazard the file does not allow, whatever the server's mode.
    pub fn fails(&self) -> bool {
        matches!(self.verdict.as_str(), "refused" | "warned")
    }

    /// "index_build on public.orders (SHARE lock, 12 MB, rewrites the table)"
    fn summary(&self) -> String {
        let mut s = self.hazard.clone().unwrap_or_else(|| "statement".into());
        if let Some(r) = &self.relation {
            s += " on ";
            s += r;
        }
        let mut parts = Vec::new();
        if let Some(l) = &self.lock {
            parts.push(format!("{} lock", lock_name(l)));
        }
        if let Some(size) = self.table_size {
            parts.push(pretty_size(size));
        }
        if self.rewrites {
            parts.push("rewrites the table".into());
        } else if self.scans {
            parts.push("scans the table".into());
        }
        if !parts.is_empty() {
            s += &format!(" ({})", parts.join(", "));
        }
        s
    }

    fn first_line(&self) -> &str {
        self.statement.lines().next().unwrap_or("").trim_end()
    }
}

/// "ShareUpdateExclusiveLock" (check()'s lock_mode, as in pg_locks) -> "SHARE UPDATE EXCLUSIVE"
/// (as LOCK TABLE and the docs name it).
pub fn lock_name(mode: &str) -> String {
    let base = mode.strip_suffix("Lock").unwrap_or(mode);
    let mut out = String::new();
    for (i, c) in base.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push(' ');
        }
        out.extend(c.to_uppercase());
    }
    out
}

/// Like Postgres' pg_size_pretty (bytes below 10 kB, then kB, MB, GB, TB, half-up rounding).
pub fn pretty_size(size: i64) -> String {
    let mut s = size;
    if s.abs() < 10 * 1024 {
        return format!("{s} bytes");
    }
    for unit in ["kB", "MB", "GB"] {
        // half-units, rounded: as pg_size_pretty
        let half = s >> 9;
        if half.abs() < 20 * 1024 - 1 {
            return format!("{} {unit}", (half + 1) / 2);
        }
        s >>= 10;
    }
    format!("{} TB", ((s >> 9) + 1) / 2)
}

pub struct Output {
    pub format: Format,
    pub colour: bool,
}

impl Output {
    pub fn render(&self, f: &Finding) -> String {
        match self.format {
            Format::Text => self.text(f),
            Format::Json => json(f),
            Format::Github => github(f),
        }
    }

    fn text(&self, f: &Finding) -> String {
        let paint = |code: &str, s: &str| {
            if self.colour {
                format!("\x1b[{code}m{s}\x1b[0m")
            } else {
                s.to_string()
            }
        };
        let verdict_colour = match f.verdict.as_str() {
            "refused" => "1;31",
            "warned" | "unanalysed" => "1;33",
            _ => "1;32",
        };
        let mut out = format!(
            "{}: {}: {}\n",
            paint("1", &format!("{}:{}:{}", f.file, f.line, f.column)),
            paint(verdict_colour, &f.verdict),
            f.summary()
        );
        out += &format!("    {}\n", f.first_line());
        if let Some(h) = &f.hint {
            let mut lines = h.lines();
            if let Some(first) = lines.next() {
                out += &format!("    {} {first}\n", paint("36", "hint:"));
            }
            for l in lines {
                out += &format!("          {l}\n");
            }
        }
        out
    }
}

pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out += "\\\"",
            '\\' => out += "\\\\",
            '\n' => out += "\\n",
            '\r' => out += "\\r",
            '\t' => out += "\\t",
            c if (c as u32) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => {
                out += &format!("\\u{:04x}", c as u32)
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_opt(s: &Option<String>) -> String {
    s.as_deref().map_or("null".into(), json_string)
}

fn json(f: &Finding) -> String {
    format!(
        "{{\"file\":{},\"line\":{},\"column\":{},\"hazard\":{},\"verdict\":{},\"lock\":{},\
         \"relation\":{},\"table_size\":{},\"rewrites\":{},\"scans\":{},\"statement\":{},\
         \"hint\":{}}}\n",
        json_string(&f.file),
        f.line,
        f.column,
        json_opt(&f.hazard),
        json_string(&f.verdict),
        json_opt(&f.lock),
        json_opt(&f.relation),
        f.table_size.map_or("null".into(), |s| s.to_string()),
        f.rewrites,
        f.scans,
        json_string(&f.statement),
        json_opt(&f.hint),
    )
}

/// GitHub's toolkit (@actions/core escapeData): % CR LF.
pub fn github_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// GitHub's toolkit (escapeProperty): also : and ,.
pub fn github_property(s: &str) -> String {
    github_data(s).replace(':', "%3A").replace(',', "%2C")
}

fn github(f: &Finding) -> String {
    let command = match f.verdict.as_str() {
        "refused" => "error",
        "allowed" => "notice",
        _ => "warning",
    };
    let title = format!(
        "safe_ddl {}",
        f.hazard.as_deref().unwrap_or(f.verdict.as_str())
    );
    let mut message = format!("{}: {}\n{}", f.verdict, f.summary(), f.first_line());
    if let Some(h) = &f.hint {
        message += "\n";
        message += h;
    }
    format!(
        "::{command} file={},line={},col={},title={}::{}\n",
        github_property(&f.file),
        f.line,
        f.column,
        github_property(&title),
        github_data(&message)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding() -> Finding {
        Finding {
            file: "m/0002, a:b.sql".into(),
            line: 3,
            column: 1,
            statement: "CREATE INDEX i ON orders (x)\n  WHERE y;".into(),
            hazard: Some("index_build".into()),
            verdict: "refused".into(),
            lock: Some("ShareLock".into()),
            relation: Some("public.orders".into()),
            table_size: Some(12 * 1024 * 1024),
            rewrites: false,
            scans: true,
            hint: Some("CREATE INDEX CONCURRENTLY i ON orders (x);\n100% \"safe\"".into()),
        }
    }

    #[test]
    fn lock_names() {
        assert_eq!(
            lock_name("ShareUpdateExclusiveLock"),
            "SHARE UPDATE EXCLUSIVE"
        );
        assert_eq!(lock_name("AccessExclusiveLock"), "ACCESS EXCLUSIVE");
        assert_eq!(lock_name("ShareLock"), "SHARE");
        assert_eq!(lock_name("odd"), "ODD");
    }

    #[test]
    fn sizes() {
        assert_eq!(pretty_size(0), "0 bytes");
        assert_eq!(pretty_size(10239), "10239 bytes");
        assert_eq!(pretty_size(10240), "10 kB");
        assert_eq!(pretty_size(8192 * 1000), "8000 kB");
        assert_eq!(pretty_size(12 * 1024 * 1024), "12 MB");
        assert_eq!(pretty_size(30 * 1024 * 1024 * 1024), "30 GB");
        assert_eq!(pretty_size(50 * 1024 * 1024 * 1024 * 1024), "50 TB");
    }

    #[test]
    fn text_plain_and_coloured() {
        let o = Output {
            format: Format::Text,
            colour: false,
        };
        assert_eq!(
            o.render(&finding()),
            "m/0002, a:b.sql:3:1: refused: index_build on public.orders (SHARE lock, 12 MB, scans the table)\n\
             \x20   CREATE INDEX i ON orders (x)\n\
             \x20   hint: CREATE INDEX CONCURRENTLY i ON orders (x);\n\
             \x20         100% \"safe\"\n"
        );
        let c = Output {
            format: Format::Text,
            colour: true,
        };
        assert!(c.render(&finding()).contains("\x1b[1;31mrefused\x1b[0m"));
    }

    #[test]
    fn json_escaping() {
        assert_eq!(
            json_string("a\"b\\c\nd\te\u{1}f\u{2028}é"),
            "\"a\\\"b\\\\c\\nd\\te\\u0001f\\u2028é\""
        );
        let o = Output {
            format: Format::Json,
            colour: true,
        };
        let mut f = finding();
        f.table_size = None;
        f.hint = None;
        assert_eq!(
            o.render(&f),
            "{\"file\":\"m/0002, a:b.sql\",\"line\":3,\"column\":1,\"hazard\":\"index_build\",\
             \"verdict\":\"refused\",\"lock\":\"ShareLock\",\"relation\":\"public.orders\",\
             \"table_size\":null,\"rewrites\":false,\"scans\":true,\
             \"statement\":\"CREATE INDEX i ON orders (x)\\n  WHERE y;\",\"hint\":null}\n"
        );
    }

    #[test]
    fn github_escaping() {
        assert_eq!(github_data("a%b\r\nc:d,e"), "a%25b%0D%0Ac:d,e");
        assert_eq!(github_property("a%b\r\nc:d,e"), "a%25b%0D%0Ac%3Ad%2Ce");
        let o = Output {
            format: Format::Github,
            colour: false,
        };
        assert_eq!(
            o.render(&finding()),
            "::error file=m/0002%2C a%3Ab.sql,line=3,col=1,title=safe_ddl index_build::\
             refused: index_build on public.orders (SHARE lock, 12 MB, scans the table)%0A\
             CREATE INDEX i ON orders (x)%0ACREATE INDEX CONCURRENTLY i ON orders (x);%0A100%25 \"safe\"\n"
        );
        let mut f = finding();
        f.verdict = "allowed".into();
        assert!(o.render(&f).starts_with("::notice "));
        f.verdict = "unanalysed".into();
        f.hazard = None;
        assert!(o.render(&f).starts_with(
            "::warning file=m/0002%2C a%3Ab.sql,line=3,col=1,title=safe_ddl unanalysed::"
        ));
    }
}
