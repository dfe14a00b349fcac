//! `is_complete`: is this cell ready to run, or is the learner still typing?
//!
//! A small lexer that knows Rust's brackets, strings (with escapes), raw strings, char literals
//! versus lifetimes, and nested block comments:
//! - unclosed brackets, strings or comments: "incomplete", with an indent of 4 spaces per level;
//! - a closing bracket that does not match (`(]`) or has no opener (`)`), or an unterminated
//!   char literal (a lone `'`): "invalid";
//! - anything else, magics (`:dep ...`) and shell lines (`!ls`) included: "complete".

#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Complete,
    Incomplete(String),
    Invalid,
}

pub fn check(code: &str) -> Verdict {
    let c: Vec<char> = code.chars().collect();
    let mut stack: Vec<char> = Vec::new();
    let mut i = 0;
    while i < c.len() {
        match c[i] {
            '/' if c.get(i + 1) == Some(&'/') => {
                while i < c.len() && c[i] != '\n' {
                    i += 1;
                }
            }
            '/' if c.get(i + 1) == Some(&'*') => {
                let mut depth = 1;
                i += 2;
                while depth > 0 {
                    match (c.get(i), c.get(i + 1)) {
                        (None, _) => return Verdict::Incomplete(String::new()),
                        (Some('/'), Some('*')) => (depth += 1, i += 1).1,
                        (Some('*'), Some('/')) => (depth -= 1, i += 1).1,
                        _ => {}
                    }
                    i += 1;
                }
                continue;
            }
            '"' => match skip_string(&c, i + 1) {
                Some(end) => i = end,
                None => return Verdict::Incomplete(String::new()),
            },
            'r' | 'b' if !prev_is_ident(&c, i) && raw_string_start(&c, i).is_some() => {
                let (hashes, open) = raw_string_start(&c, i).unwrap_or((0, i));
                match skip_raw_string(&c, open + 1, hashes) {
                    Some(end) => i = end,
                    None => return Verdict::Incomplete(String::new()),
                }
            }
            '\'' => match skip_char_or_lifetime(&c, i) {
                Some(end) => i = end,
                None => return Verdict::Invalid,
            },
            open @ ('(' | '[' | '{') => stack.push(open),
            close @ (')' | ']' | '}') => {
                let expected = match close {
                    ')' => '(',
                    ']' => '[',
                    _ => '{',
                };
                if stack.pop() != Some(expected) {
                    return Verdict::Invalid;
                }
            }
            _ => {}
        }
        i += 1;
    }
    if stack.is_empty() {
        Verdict::Complete
    } else {
        Verdict::Incomplete("    ".repeat(stack.len()))
    }
}

fn prev_is_ident(c: &[char], i: usize) -> bool {
    i > 0 && (c[i - 1].is_alphanumeric() || c[i - 1] == '_')
}

/// Index of the closing quote of a string whose body starts at `i`.
fn skip_string(c: &[char], mut i: usize) -> Option<usize> {
    while i < c.len() {
        match c[i] {
            '\\' => i += 2,
            '"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// For `r"`, `r#"`, `br"`...: the number of `#` and the index of the opening quote.
fn raw_string_start(c: &[char], i: usize) -> Option<(usize, usize)> {
    let mut j = i;
    if c[j] == 'b' {
        j += 1;
    }
    if c.get(j) != Some(&'r') {
        return None;
    }
    j += 1;
    let mut hashes = 0;
    while c.get(j) == Some(&'#') {
        hashes += 1;
        j += 1;
    }
    (c.get(j) == Some(&'"')).then_some((hashes, j))
}

fn skip_raw_string(c: &[char], mut i: usize, hashes: usize) -> Option<usize> {
    while i < c.len() {
        if c[i] == '"' && (1..=hashes).all(|k| c.get(i + k) == Some(&'#')) {
            return Some(i + hashes);
        }
        i += 1;
    }
    None
}

/// `'a'`, `'\n'`, `'\u{1F600}'` are chars; `'a` and `'static` are lifetimes or labels. Anything
/// else (a lone `'`, `''`, `'\n` with no closing quote) is an unterminated char literal, which
/// rustc rejects and no further line can fix (a char literal cannot span lines): `None`.
fn skip_char_or_lifetime(c: &[char], i: usize) -> Option<usize> {
    if c.get(i + 1) == Some(&'\\') {
        // Skip the escaped character itself (`'\''` closes at the second quote).
        let mut j = i + 3;
        while j < c.len() && c[j] != '\'' && c[j] != '\n' {
            j += 1;
        }
        return (c.get(j) == Some(&'\'')).then_some(j);
    }
    if c.get(i + 2) == Some(&'\'') && c.get(i + 1).is_some_and(|&ch| ch != '\'' && ch != '\n') {
        return Some(i + 2);
    }
    match c.get(i + 1) {
        Some(&ch) if ch.is_alphabetic() || ch == '_' => Some(i),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        for code in [
            "let x = 1;",
            "fn f() { vec![1, 2] }",
            "let s = \"}\";",
            "let c = '{';",
            "let q = '\\'';",
            "let e = '\\u{1F600}';",
            "fn f<'a>(x: &'a str) {}",
            "let r = r#\"a \" {\"#;",
            ":dep rand",
            "// {",
            "/* { */",
        ] {
            assert_eq!(check(code), Verdict::Complete, "{code}");
        }
        for code in [
            "fn f() {",
            "let v = vec![1,",
            "let s = \"abc",
            "/* open",
            "(1 + [2",
        ] {
            assert!(matches!(check(code), Verdict::Incomplete(_)), "{code}");
        }
        assert_eq!(
            check("fn f() {\n    if x {"),
            Verdict::Incomplete("        ".into())
        );
        for code in [
            "let x = 1);",
            "(]",
            "}",
            "'",
            "let c = '",
            "''",
            "let c = '\\n",
        ] {
            assert_eq!(check(code), Verdict::Invalid, "{code}");
        }
    }
}
