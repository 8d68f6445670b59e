//! Small, comment- and quote-aware edits of a statement's source text, used to write the exact
//! safe statement into a HINT (e.g. insert CONCURRENTLY after the right keyword).

/// A word outside comments, quotes and parentheses: its byte range and lowercase text.
struct Word {
    start: usize,
    end: usize,
    lower: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lexeme {
    /// `-- ...` to the end of the line, or `/* ... */` (nested, as Postgres' lexer allows).
    Comment,
    /// A string literal (E'' with backslash escapes), a quoted identifier or a dollar quote.
    Quoted,
}

/// The comment or quoted text that starts at byte `i` of `sql`, and the byte after its end (the
/// end of `sql` when it is not closed); None when none starts there.
fn lexeme(sql: &str, i: usize) -> Option<(usize, Lexeme)> {
    lexeme_bytes(sql.as_bytes(), i)
}

/// `lexeme` on bytes: any server encoding works, since Postgres' server encodings never use an
/// ASCII byte inside a multibyte character.
pub(crate) fn lexeme_bytes(b: &[u8], i: usize) -> Option<(usize, Lexeme)> {
    let c = b[i];
    if c == b'-' && b.get(i + 1) == Some(&b'-') {
        let end = b[i..]
            .iter()
            .position(|&x| x == b'\n')
            .map_or(b.len(), |p| i + p);
        return Some((end, Lexeme::Comment));
    }
    if c == b'/' && b.get(i + 1) == Some(&b'*') {
        let (mut j, mut nest) = (i, 0usize);
        while j < b.len() {
            if b[j] == b'/' && b.get(j + 1) == Some(&b'*') {
                nest += 1;
                j += 2;
            } else if b[j] == b'*' && b.get(j + 1) == Some(&b'/') {
                nest -= 1;
                j += 2;
                if nest == 0 {
                    break;
                }
            } else {
                j += 1;
            }
        }
        return Some((j.min(b.len()), Lexeme::Comment));
    }
    if c == b'\'' || c == b'"' {
        // E'...' strings take backslash escapes; standard strings and identifiers do not.
        let escapes = c == b'\'' && i > 0 && (b[i - 1] == b'E' || b[i - 1] == b'e');
        let mut j = i + 1;
        while j < b.len() {
            if escapes && b[j] == b'\\' {
                j += 2;
                continue;
            }
            if b[j] == c {
                if b.get(j + 1) == Some(&c) {
                    j += 2;
                    continue;
                }
                break;
            }
            j += 1;
        }
        return Some(((j + 1).min(b.len()), Lexeme::Quoted));
    }
    if c == b'$' {
        // Dollar quote: $tag$ ... $tag$ (a $ that starts none is no lexeme: $1 parameters).
        let e = b[i + 1..]
            .iter()
            .position(|&x| x == b'$')
            .map(|p| i + 1 + p)?;
        if !b[i + 1..e]
            .iter()
            .all(|x| x.is_ascii_alphanumeric() || *x == b'_')
        {
            return None;
        }
        let tag = &b[i..=e];
        let end = b[e + 1..]
            .windows(tag.len())
            .position(|w| w == tag)
            .map_or(b.len(), |p| e + 1 + p + tag.len());
        return Some((end, Lexeme::Quoted));
    }
    None
}

/// The first byte at or after `from` that is neither blank nor in a comment.
pub fn first_token(query: &[u8], from: usize) -> usize {
    let mut i = from;
    while i < query.len() {
        if query[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        match lexeme_bytes(query, i) {
            Some((end, Lexeme::Comment)) => i = end,
            _ => break,
        }
    }
    i.min(query.len())
}

/// The bare words of `sql` at parenthesis depth 0, skipping comments, string literals
/// (including E'' and dollar quoting) and quoted identifiers.
fn top_level_words(sql: &str) -> Vec<Word> {
    let b = sql.as_bytes();
    let mut words = Vec::new();
    let mut i = 0;
    let mut depth = 0usize;
    while i < b.len() {
        let c = b[i];
        if let Some((end, _)) = lexeme(sql, i) {
            i = end;
        } else if c == b'(' {
            depth += 1;
            i += 1;
        } else if c == b')' {
            depth = depth.saturating_sub(1);
            i += 1;
        } else if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 {
            let start = i;
            while i < b.len()
                && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'$' || b[i] >= 0x80)
            {
                i += 1;
            }
            if depth == 0 {
                words.push(Word {
                    start,
                    end: i,
                    lower: sql[start..i].to_ascii_lowercase(),
                });
            }
        } else {
            i += 1;
        }
    }
    words
}

/// The statement on one line for a HINT: comments dropped, each run of blanks and newlines
/// outside quotes made one space, without the trailing semicolon. String literals, quoted
/// identifiers and dollar quotes are kept byte for byte (a newline inside one stays: changing it
/// would change the statement).
pub fn one_line(sql: &str) -> String {
    let b = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let mut i = 0;
    let mut blank = false;
    let push_blank = |out: &mut String, blank: &mut bool| {
        if *blank && !out.is_empty() {
            out.push(' ');
        }
        *blank = false;
    };
    while i < b.len() {
        let c = b[i];
        let start = i;
        if let Some((end, kind)) = lexeme(sql, i) {
            i = end;
            if kind == Lexeme::Comment {
                blank = true;
                continue;
            }
        } else if c.is_ascii_whitespace() {
            blank = true;
            i += 1;
            continue;
        } else {
            // Up to the next byte that starts something else; stays on a char boundary since
            // every byte tested is ASCII.
            i += 1;
            while i < b.len()
                && !b[i].is_ascii_whitespace()
                && !matches!(b[i], b'\'' | b'"' | b'$' | b'-' | b'/')
            {
                i += 1;
            }
        }
        push_blank(&mut out, &mut blank);
        out.push_str(&sql[start..i]);
    }
    trimmed(&out).to_string()
}

/// The statement without surrounding blanks and trailing semicolons.
pub fn trimmed(sql: &str) -> &str {
    sql.trim().trim_end_matches(';').trim_end()
}

/// Insert `insert` (e.g. "CONCURRENTLY") after the first top-level word `after` that follows
/// the word `first`. Returns None when the words are not found, or when `insert` is already
/// there.
pub fn insert_after(sql: &str, first: &str, after: &str, insert: &str) -> Option<String> {
    let sql = trimmed(sql);
    let words = top_level_words(sql);
    let first_at = words.iter().position(|w| w.lower == first)?;
    let at = words[first_at..].iter().position(|w| w.lower == after)? + first_at;
    if words.get(at + 1).map(|w| w.lower.as_str()) == Some(&insert.to_ascii_lowercase()) {
        return None;
    }
    let end = words[at].end;
    Some(format!("{} {}{}", &sql[..end], insert, &sql[end..]))
}

/// Byte offsets of the top-level (outside parentheses, quotes, comments) occurrences of `word`.
pub fn top_level_word_starts(sql: &str, word: &str) -> Vec<usize> {
    top_level_words(sql)
        .into_iter()
        .filter(|w| w.lower == word)
        .map(|w| w.start)
        .collect()
}

/// CREATE INDEX: the text after the table name (`USING ... (columns) ... WHERE ...`), without
/// the trailing semicolon.
pub fn after_index_table(sql: &str) -> Option<String> {
    let sql = trimmed(sql);
    let words = top_level_words(sql);
    let idx = words.iter().position(|w| w.lower == "index")?;
    let on = words[idx..].iter().position(|w| w.lower == "on")? + idx;
    let mut at = words[on].end;
    if words.get(on + 1).is_some_and(|w| w.lower == "only") {
        at = words[on + 1].end;
    }
    let b = sql.as_bytes();
    while at < b.len() && b[at].is_ascii_whitespace() {
        at += 1;
    }
    // The table name: identifiers, quoted identifiers and dots.
    while at < b.len() {
        if b[at] == b'"' {
            at += 1;
            while at < b.len() {
                if b[at] == b'"' {
                    if b.get(at + 1) == Some(&b'"') {
                        at += 2;
                        continue;
                    }
                    break;
                }
                at += 1;
            }
            at += 1;
        } else if b[at].is_ascii_alphanumeric()
            || b[at] == b'_'
            || b[at] == b'$'
            || b[at] == b'.'
            || b[at] >= 0x80
        {
            at += 1;
        } else {
            break;
        }
    }
    let rest = sql.get(at..)?.trim();
    (!rest.is_empty()).then(|| rest.to_string())
}

/// The text of the first top-level word after keyword `after`, e.g. the index name after INDEX.
pub fn word_after(sql: &str, after: &str) -> Option<String> {
    let words = top_level_words(sql);
    let at = words.iter().position(|w| w.lower == after)?;
    words.get(at + 1).map(|w| sql[w.start..w.end].to_string())
}

/// The type at the start of a column definition: `numeric(10, 2)`, `timestamp with time zone`,
/// `text[]`, up to DEFAULT, NOT NULL, a constraint, a comma or the end.
pub fn type_at(rest: &str) -> String {
    const STOP: &[&str] = &[
        "default",
        "not",
        "null",
        "constraint",
        "check",
        "references",
        "primary",
        "unique",
        "generated",
        "collate",
        "compression",
        "storage",
        "deferrable",
        "initially",
    ];
    let b = rest.as_bytes();
    let (mut i, mut depth, mut end) = (0, 0usize, 0);
    while i < b.len() {
        if let Some((j, _)) = lexeme(rest, i) {
            i = j;
            end = i;
            continue;
        }
        match b[i] {
            b'(' | b'[' => depth += 1,
            b')' | b']' if depth == 0 => break,
            b')' | b']' => depth -= 1,
            b',' | b';' if depth == 0 => break,
            c if depth == 0 && (c.is_ascii_alphabetic() || c == b'_') => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                if STOP.contains(&rest[start..i].to_ascii_lowercase().as_str()) {
                    break;
                }
                end = i;
                continue;
            }
            _ => {}
        }
        i += 1;
        if !rest.as_bytes()[i - 1].is_ascii_whitespace() {
            end = i;
        }
    }
    rest[..end].trim().to_string()
}

/// The expression after `DEFAULT`, from text that starts at the DEFAULT keyword: up to a
/// constraint keyword (NOT NULL, NULL, CONSTRAINT, CHECK, ...), a comma, `;` or the end, at
/// parenthesis depth 0.
pub fn default_expression(rest: &str) -> Option<String> {
    const STOP: &[&str] = &[
        "null",
        "constraint",
        "check",
        "references",
        "primary",
        "unique",
        "generated",
        "collate",
        "deferrable",
        "initially",
        "compression",
        "storage",
    ];
    let b = rest.as_bytes();
    // `CONSTRAINT name DEFAULT ...` starts at CONSTRAINT.
    let word = top_level_words(rest)
        .into_iter()
        .take(3)
        .find(|w| w.lower == "default")?;
    let start = word.end;
    let (mut i, mut depth, mut end) = (start, 0usize, start);
    let mut prev_not: Option<usize> = None;
    while i < b.len() {
        if let Some((j, _)) = lexeme(rest, i) {
            i = j;
            end = i;
            prev_not = None;
            continue;
        }
        match b[i] {
            b'(' | b'[' => depth += 1,
            b')' | b']' if depth == 0 => break,
            b')' | b']' => depth -= 1,
            b',' | b';' if depth == 0 => break,
            c if depth == 0 && (c.is_ascii_alphabetic() || c == b'_') => {
                let w0 = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'$')
                {
                    i += 1;
                }
                let w = rest[w0..i].to_ascii_lowercase();
                if w == "null" && prev_not.is_some() {
                    end = prev_not.unwrap_or(end);
                    break;
                }
                if STOP.contains(&w.as_str()) && end > start {
                    break;
                }
                prev_not = (w == "not").then_some(end);
                end = i;
                continue;
            }
            _ => {}
        }
        i += 1;
        if !b[i - 1].is_ascii_whitespace() {
            end = i;
            prev_not = None;
        }
    }
    let e = rest[start..end].trim();
    (!e.is_empty()).then(|| e.to_string())
}

/// The expression inside `CHECK ( ... )`, from text that starts at the constraint.
pub fn check_expression(rest: &str) -> Option<String> {
    parenthesized_after(rest, "check")
}

/// The text inside the parentheses that follow the first top-level word `word`, e.g. the
/// expression of `GENERATED ALWAYS AS ( ... ) STORED` after `as`.
pub fn parenthesized_after(rest: &str, word: &str) -> Option<String> {
    let b = rest.as_bytes();
    let word = top_level_words(rest)
        .into_iter()
        .find(|w| w.lower == word)?;
    let mut i = word.end;
    while i < b.len() && b[i] != b'(' {
        i += 1;
    }
    let open = i;
    let mut depth = 0usize;
    while i < b.len() {
        if let Some((j, _)) = lexeme(rest, i) {
            i = j;
            continue;
        }
        match b[i] {
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(rest[open + 1..i].trim().to_string());
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_types_and_check_expressions() {
        assert_eq!(
            type_at("numeric(10, 2) NOT NULL DEFAULT 0, ADD y int"),
            "numeric(10, 2)"
        );
        assert_eq!(
            type_at("timestamp with time zone DEFAULT now()"),
            "timestamp with time zone"
        );
        assert_eq!(type_at("text[];"), "text[]");
        assert_eq!(type_at("\"My Type\" COLLATE \"C\""), "\"My Type\"");
        assert_eq!(
            check_expression("CONSTRAINT c CHECK (amount > 0 AND note <> ')') NOT VALID").unwrap(),
            "amount > 0 AND note <> ')'"
        );
        assert_eq!(check_expression("CHECK ((a))").unwrap(), "(a)");
    }

    use super::*;

    #[test]
    fn inserts_concurrently_after_index() {
        assert_eq!(
            insert_after(
                "CREATE INDEX items_v_idx ON items (v);",
                "create",
                "index",
                "CONCURRENTLY"
            )
            .unwrap(),
            "CREATE INDEX CONCURRENTLY items_v_idx ON items (v)"
        );
        assert_eq!(
            insert_after(
                "create unique index if not exists i on t(a)",
                "create",
                "index",
                "CONCURRENTLY"
            )
            .unwrap(),
            "create unique index CONCURRENTLY if not exists i on t(a)"
        );
    }

    #[test]
    fn skips_comments_quotes_and_parentheses() {
        let sql = "/* index */ CREATE -- index\n INDEX \"index\" ON \"index\" USING btree ((lower('index')))";
        assert_eq!(
            insert_after(sql, "create", "index", "CONCURRENTLY").unwrap(),
            "/* index */ CREATE -- index\n INDEX CONCURRENTLY \"index\" ON \"index\" USING btree ((lower('index')))"
        );
        let sql = "REINDEX (VERBOSE, TABLESPACE table) TABLE t";
        assert_eq!(
            insert_after(sql, "reindex", "table", "CONCURRENTLY").unwrap(),
            "REINDEX (VERBOSE, TABLESPACE table) TABLE CONCURRENTLY t"
        );
    }

    #[test]
    fn does_not_insert_twice_or_when_missing() {
        assert_eq!(
            insert_after(
                "CREATE INDEX CONCURRENTLY i ON t (a)",
                "create",
                "index",
                "CONCURRENTLY"
            ),
            None
        );
        assert_eq!(
            insert_after("SELECT 1", "create", "index", "CONCURRENTLY"),
            None
        );
        assert_eq!(
            insert_after(
                "CREATE INDEX i ON t (a) WHERE b = E'index\\' index'",
                "create",
                "index",
                "X"
            )
            .unwrap(),
            "CREATE INDEX X i ON t (a) WHERE b = E'index\\' index'"
        );
        assert_eq!(
            insert_after("CREATE INDEX $$x$$", "create", "index", "ONLY").unwrap(),
            "CREATE INDEX ONLY $$x$$"
        );
    }

    #[test]
    fn word_after_finds_names() {
        assert_eq!(
            word_after("CREATE INDEX i ON t (a)", "on").as_deref(),
            Some("t")
        );
    }
}

#[cfg(test)]
mod one_line_tests {
    use super::one_line;

    #[test]
    fn one_line_keeps_quotes_drops_comments() {
        assert_eq!(
            one_line("  ALTER TABLE t -- why\n\tADD COLUMN c int /* x */ DEFAULT 1 ;\n"),
            "ALTER TABLE t ADD COLUMN c int DEFAULT 1"
        );
        assert_eq!(
            one_line("UPDATE t SET a = 'x  --\n y', \"b  c\" = $q$ -- $q$;"),
            "UPDATE t SET a = 'x  --\n y', \"b  c\" = $q$ -- $q$"
        );
        assert_eq!(one_line("SELECT 1-1, E'\\'  x'"), "SELECT 1-1, E'\\'  x'");
    }

    #[test]
    fn reads_the_index_definition_after_the_table() {
        use super::after_index_table as a;
        assert_eq!(
            a("CREATE INDEX i ON ONLY s.\"T x\" USING btree (v) WHERE v > 0;").as_deref(),
            Some("USING btree (v) WHERE v > 0")
        );
        assert_eq!(a("create unique index on t(v)").as_deref(), Some("(v)"));
    }

    #[test]
    fn reads_default_expressions() {
        use super::default_expression as d;
        assert_eq!(
            d("DEFAULT gen_random_uuid() NOT NULL").as_deref(),
            Some("gen_random_uuid()")
        );
        assert_eq!(
            d("default (random() * 10)::int, ADD x int").as_deref(),
            Some("(random() * 10)::int")
        );
        assert_eq!(
            d("DEFAULT clock_timestamp() + interval '1 day' CHECK (x > 0)").as_deref(),
            Some("clock_timestamp() + interval '1 day'")
        );
        assert_eq!(
            d("DEFAULT a IS NOT DISTINCT FROM b").as_deref(),
            Some("a IS NOT DISTINCT FROM b")
        );
        assert_eq!(d("DEFAULT nextval('s');").as_deref(), Some("nextval('s')"));
        assert_eq!(d("NOT NULL"), None);
    }
}
