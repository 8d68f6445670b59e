//! Small, comment- and quote-aware edits of a statement's source text, used to write the exact
//! safe statement into a HINT (e.g. insert CONCURRENTLY after the right keyword).

/// A word outside comments, quotes and parentheses: its byte range and lowercase text.
struct Word {
    start: usize,
    end: usize,
    lower: String,
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
        if c == b'-' && b.get(i + 1) == Some(&b'-') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            let mut nest = 0usize;
            while i < b.len() {
                if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                    nest += 1;
                    i += 2;
                } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                    nest -= 1;
                    i += 2;
                    if nest == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == b'\'' || c == b'"' {
            // E'...' strings take backslash escapes; standard strings and identifiers do not.
            let escapes = c == b'\'' && i > 0 && (b[i - 1] == b'E' || b[i - 1] == b'e');
            i += 1;
            while i < b.len() {
                if escapes && b[i] == b'\\' {
                    i += 2;
                    continue;
                }
                if b[i] == c {
                    if b.get(i + 1) == Some(&c) {
                        i += 2;
                        continue;
                    }
                    break;
                }
                i += 1;
            }
            i += 1;
        } else if c == b'$' {
            // Dollar quote: $tag$ ... $tag$
            let tag_end = b[i + 1..]
                .iter()
                .position(|&x| x == b'$')
                .map(|p| i + 1 + p);
            match tag_end {
                Some(e)
                    if b[i + 1..e]
                        .iter()
                        .all(|x| x.is_ascii_alphanumeric() || *x == b'_') =>
                {
                    let tag = &sql[i..=e];
                    match sql[e + 1..].find(tag) {
                        Some(p) => i = e + 1 + p + tag.len(),
                        None => i = b.len(),
                    }
                }
                _ => i += 1,
            }
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

/// The text of the first top-level word after keyword `after`, e.g. the index name after INDEX.
pub fn word_after(sql: &str, after: &str) -> Option<String> {
    let words = top_level_words(sql);
    let at = words.iter().position(|w| w.lower == after)?;
    words.get(at + 1).map(|w| sql[w.start..w.end].to_string())
}

/// Skip a comment, quoted string or identifier starting at `i`; returns the index after it, or
/// None when `i` starts none of them.
fn skip_quoted(b: &[u8], i: usize) -> Option<usize> {
    let c = b[i];
    if c == b'-' && b.get(i + 1) == Some(&b'-') {
        let mut j = i;
        while j < b.len() && b[j] != b'\n' {
            j += 1;
        }
        return Some(j);
    }
    if c == b'/' && b.get(i + 1) == Some(&b'*') {
        let mut j = i + 2;
        while j + 1 < b.len() && !(b[j] == b'*' && b[j + 1] == b'/') {
            j += 1;
        }
        return Some((j + 2).min(b.len()));
    }
    if c == b'\'' || c == b'"' {
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
                return Some(j + 1);
            }
            j += 1;
        }
        return Some(b.len());
    }
    None
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
        if let Some(j) = skip_quoted(b, i) {
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

/// The expression inside `CHECK ( ... )`, from text that starts at the constraint.
pub fn check_expression(rest: &str) -> Option<String> {
    let b = rest.as_bytes();
    let word = top_level_words(rest)
        .into_iter()
        .find(|w| w.lower == "check")?;
    let mut i = word.end;
    while i < b.len() && b[i] != b'(' {
        i += 1;
    }
    let open = i;
    let mut depth = 0usize;
    while i < b.len() {
        if let Some(j) = skip_quoted(b, i) {
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
