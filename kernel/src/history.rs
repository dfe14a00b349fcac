//! Execution history, kept across kernel restarts in one JSON-lines file
//! (`$FERROLAB_HISTORY_FILE`, else `$XDG_DATA_HOME/ferrolab/history.jsonl`).
//!
//! Each kernel process is a new session numbered after the last one in the file. Requests:
//! `tail` (the last n entries), `range` (lines start..stop of a session; 0 or negative sessions
//! count back from this one, as in IPython) and `search` (glob `*` and `?`, optional `unique`
//! and `n`).

use jupyter_protocol::HistoryEntry;
use serde_json::{json, Value};
use std::io::Write;
use std::path::PathBuf;

/// Entries kept in memory (and read back at start).
const KEEP: usize = 10_000;

struct Entry {
    session: usize,
    line: usize,
    input: String,
    output: String,
}

pub struct History {
    file: Option<PathBuf>,
    entries: Vec<Entry>,
    pub session: usize,
}

impl History {
    pub fn load() -> History {
        let file = history_file();
        let mut entries = Vec::new();
        if let Some(text) = file.as_ref().and_then(|f| std::fs::read_to_string(f).ok()) {
            for line in text.lines() {
                if let Ok(Value::Array(a)) = serde_json::from_str::<Value>(line) {
                    entries.push(Entry {
                        session: a.first().and_then(Value::as_u64).unwrap_or(0) as usize,
                        line: a.get(1).and_then(Value::as_u64).unwrap_or(0) as usize,
                        input: a.get(2).and_then(Value::as_str).unwrap_or("").to_string(),
                        output: a.get(3).and_then(Value::as_str).unwrap_or("").to_string(),
                    });
                }
            }
        }
        let skip = entries.len().saturating_sub(KEEP);
        entries.drain(..skip);
        let session = entries.iter().map(|e| e.session).max().unwrap_or(0) + 1;
        History {
            file,
            entries,
            session,
        }
    }

    /// Records cell `line` of this session, with the text of its result.
    pub fn add(&mut self, line: usize, input: &str, output: &str) {
        let record = json!([self.session, line, input, output]);
        if let Some(file) = &self.file {
            let written = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(file)
                .and_then(|mut f| writeln!(f, "{record}"));
            if let Err(e) = written {
                eprintln!(
                    "ferrolab-kernel: cannot write history {}: {e}",
                    file.display()
                );
            }
        }
        self.entries.push(Entry {
            session: self.session,
            line,
            input: input.to_string(),
            output: output.to_string(),
        });
    }

    /// Answers a `history_request` given as raw JSON (clients omit optional fields).
    pub fn query(&self, request: &Value) -> Vec<HistoryEntry> {
        let int = |k: &str| request.get(k).and_then(Value::as_i64);
        let output = request
            .get("output")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let picked: Vec<&Entry> = match request.get("hist_access_type").and_then(Value::as_str) {
            Some("tail") => {
                let n = int("n").unwrap_or(10).max(0) as usize;
                self.entries[self.entries.len().saturating_sub(n)..]
                    .iter()
                    .collect()
            }
            Some("range") => {
                let session = match int("session").unwrap_or(0) {
                    s if s <= 0 => self.session as i64 + s,
                    s => s,
                } as usize;
                let start = int("start").unwrap_or(0).max(0) as usize;
                let stop = int("stop")
                    .filter(|&s| s > 0)
                    .map_or(usize::MAX, |s| s as usize);
                let in_range =
                    |e: &&Entry| e.session == session && e.line >= start && e.line < stop;
                self.entries.iter().filter(in_range).collect()
            }
            Some("search") => {
                let pattern = request
                    .get("pattern")
                    .and_then(Value::as_str)
                    .unwrap_or("*");
                let unique = request
                    .get("unique")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                let mut hits: Vec<&Entry> = self
                    .entries
                    .iter()
                    .filter(|e| glob(pattern, &e.input))
                    .collect();
                if unique {
                    let mut seen = std::collections::HashSet::new();
                    hits.reverse();
                    hits.retain(|e| seen.insert(e.input.as_str()));
                    hits.reverse();
                }
                match int("n") {
                    Some(n) if n > 0 => hits.split_off(hits.len().saturating_sub(n as usize)),
                    _ => hits,
                }
            }
            _ => Vec::new(),
        };
        picked
            .into_iter()
            .map(|e| match output {
                true => HistoryEntry::InputOutput(
                    e.session,
                    e.line,
                    (e.input.clone(), e.output.clone()),
                ),
                false => HistoryEntry::Input(e.session, e.line, e.input.clone()),
            })
            .collect()
    }
}

fn history_file() -> Option<PathBuf> {
    if let Some(f) = std::env::var_os("FERROLAB_HISTORY_FILE") {
        return Some(PathBuf::from(f));
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))?;
    let dir = data.join("ferrolab");
    std::fs::create_dir_all(&dir).ok()?;
    Some(dir.join("history.jsonl"))
}

/// Glob match with `*` (any run) and `?` (one char), as IPython's history search.
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        // `*` is always the wildcard (SQLite's GLOB, which IPython's search uses), even where
        // the text has a literal `*` too: "6 *" finds "6 * 7".
        if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    #[test]
    fn glob_matches_like_fnmatch() {
        assert!(super::glob("1 +*", "1 + 1"));
        assert!(super::glob("*x?", "let xy"));
        assert!(!super::glob("a*b", "acd"));
        // A `*` in the pattern is a wildcard even against a literal `*` in the text.
        assert!(super::glob("6 *", "6 * 7"));
        assert!(super::glob("* * 7", "6 * 7"));
        assert!(!super::glob("6 *8", "6 * 7"));
    }
}
