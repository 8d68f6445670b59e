//! Positions in a checked file: Postgres counts 1-based characters (not bytes); people and
//! editors want line:column (both 1-based, the column in characters).

/// A file's text, indexed for position look-ups.
pub struct Source {
    pub name: String,
    pub text: String,
    /// Character offset (0-based) of each line's first character.
    line_starts: Vec<usize>,
    /// Byte offset of each character, plus the text's length at the end.
    byte_of_char: Vec<usize>,
}

impl Source {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Source {
        let text = text.into();
        let mut line_starts = vec![0];
        let mut byte_of_char = Vec::with_capacity(text.len() + 1);
        for (i, (b, c)) in text.char_indices().enumerate() {
            byte_of_char.push(b);
            if c == '\n' {
                line_starts.push(i + 1);
            }
        }
        byte_of_char.push(text.len());
        Source {
            name: name.into(),
            text,
            line_starts,
            byte_of_char,
        }
    }

    pub fn chars(&self) -> usize {
        self.byte_of_char.len() - 1
    }

    /// (line, column) of a 1-based character position; positions past the end map to the end.
    pub fn line_col(&self, position: usize) -> (usize, usize) {
        let at = position.saturating_sub(1).min(self.chars());
        let line = self.line_starts.partition_point(|s| *s <= at);
        (line, at - self.line_starts[line - 1] + 1)
    }

    /// The text from a 1-based character position on.
    pub fn text_at(&self, position: usize) -> &str {
        let at = position.saturating_sub(1).min(self.chars());
        &self.text[self.byte_of_char[at]..]
    }

    /// The 1-based character position where `stmt` (a trimmed piece of this text that holds
    /// the character at `location`, or starts at or before it) starts: the last occurrence
    /// starting at or before `location`. None if it is not found there.
    pub fn start_of(&self, stmt: &str, location: usize) -> Option<usize> {
        let at = location.saturating_sub(1).min(self.chars());
        (0..=at)
            .rev()
            .find(|&i| self.text[self.byte_of_char[i]..].starts_with(stmt))
            .map(|i| i + 1)
    }

    /// The first occurrence of `stmt` starting at or after the 1-based `from`: its position.
    pub fn find_from(&self, stmt: &str, from: usize) -> Option<usize> {
        let at = from.saturating_sub(1).min(self.chars());
        let byte = self.byte_of_char[at];
        let found = self.text[byte..].find(stmt)? + byte;
        Some(self.byte_of_char.partition_point(|b| *b < found) + 1)
    }
}

/// The character count of `s` before its first token: whitespace, `--` line comments and
/// (nested) `/* */` block comments, as Postgres' scanner skips them.
pub fn leading_trivia(s: &str) -> usize {
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    loop {
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        if chars[i..].starts_with(&['-', '-']) {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if chars[i..].starts_with(&['/', '*']) {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i..].starts_with(&['/', '*']) {
                    depth += 1;
                    i += 2;
                } else if chars[i..].starts_with(&['*', '/']) {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else {
            return i;
        }
    }
}

/// "... at character 12 of the checked SQL": the message without that ending, and 12.
pub fn split_located(message: &str) -> (&str, Option<usize>) {
    const END: &str = " of the checked SQL";
    const AT: &str = " at character ";
    if let Some(head) = message.strip_suffix(END) {
        if let Some(i) = head.rfind(AT) {
            if let Ok(n) = head[i + AT.len()..].parse() {
                return (&head[..i], Some(n));
            }
        }
    }
    (message, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters() {
        let s = Source::new("f", "ab\nçé x\n\nz");
        assert_eq!(s.line_col(1), (1, 1));
        assert_eq!(s.line_col(3), (1, 3)); // the newline itself
        assert_eq!(s.line_col(4), (2, 1));
        assert_eq!(s.line_col(7), (2, 4)); // x after two 2-byte characters and a space
        assert_eq!(s.line_col(9), (3, 1));
        assert_eq!(s.line_col(10), (4, 1));
        assert_eq!(s.line_col(99), (4, 2)); // past the end: the end
        assert_eq!(s.line_col(0), (1, 1));
        assert_eq!(s.text_at(7), "x\n\nz");
    }

    #[test]
    fn crlf_lines() {
        let s = Source::new("f", "a;\r\nb;");
        assert_eq!(s.line_col(5), (2, 1));
    }

    #[test]
    fn statement_start() {
        let s = Source::new("f", "select 1;\n-- c\nselect 1;");
        assert_eq!(s.start_of("-- c\nselect 1", 16), Some(11));
        assert_eq!(s.start_of("select 1", 16), Some(16));
        assert_eq!(s.start_of("select 1", 15), Some(1));
        assert_eq!(s.start_of("nope", 16), None);
        assert_eq!(s.find_from("select 1", 2), Some(16));
        let u = Source::new("f", "é;é;");
        assert_eq!(u.find_from("é", 2), Some(3));
    }

    #[test]
    fn trivia() {
        assert_eq!(leading_trivia("  select"), 2);
        assert_eq!(leading_trivia("-- a\n /* b /* c */ d */\tx"), 24);
        assert_eq!(leading_trivia("-- only"), 7);
        assert_eq!(leading_trivia("/* open"), 7);
        assert_eq!(leading_trivia(""), 0);
        assert_eq!(leading_trivia("-x"), 0);
    }

    #[test]
    fn located_messages() {
        assert_eq!(
            split_located("syntax error at or near \"x\" at character 12 of the checked SQL"),
            ("syntax error at or near \"x\"", Some(12))
        );
        assert_eq!(split_located("plain"), ("plain", None));
        assert_eq!(
            split_located("at character x of the checked SQL"),
            ("at character x of the checked SQL", None)
        );
    }
}
