//! Tab completion: evcxr's (rust-analyzer's) completions as a Jupyter `complete_reply`.
//!
//! Jupyter front ends insert each match verbatim, so a match is the bare name
//! (`with_capacity`, `println!`), never a snippet with its arguments. The signature
//! (`with_capacity(capacity)`) and the kind go to the `_jupyter_types_experimental` metadata,
//! which JupyterLab shows next to each match.

use serde_json::{json, Map, Value};

/// What a `complete_request` answers, offsets in characters.
#[derive(Debug, Default)]
pub struct Found {
    pub matches: Vec<String>,
    pub cursor_start: usize,
    pub cursor_end: usize,
    /// One `{start, end, text, type, signature}` per match.
    pub types: Vec<Value>,
}

impl Found {
    /// The reply's `metadata` (empty when there is nothing to describe).
    pub fn metadata(&self) -> Map<String, Value> {
        let mut m = Map::new();
        if !self.types.is_empty() {
            m.insert(
                "_jupyter_types_experimental".into(),
                Value::Array(self.types.clone()),
            );
        }
        m
    }
}

/// The name a completion inserts: its snippet up to the argument list or generics.
pub fn bare_name(code: &str) -> &str {
    let end = code.find(['(', '<', '{', ' ']).unwrap_or(code.len());
    code[..end].trim_end()
}

/// Builds the answer from evcxr's completions (`code`, `kind`, `label`) replacing
/// `start..end` (characters); duplicate names are kept once, first one wins.
pub fn found(items: Vec<(String, &str, String)>, start: usize, end: usize) -> Found {
    let mut out = Found {
        cursor_start: start,
        cursor_end: end,
        ..Found::default()
    };
    for (code, kind, label) in items {
        let name = bare_name(&code);
        if name.is_empty() || out.matches.iter().any(|m| m == name) {
            continue;
        }
        let signature = if code.len() > name.len() {
            code.clone()
        } else {
            label
        };
        out.types.push(json!({
            "start": start,
            "end": end,
            "text": name,
            "type": kind,
            "signature": signature,
        }));
        out.matches.push(name.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_are_names_and_signatures_go_to_metadata() {
        let f = found(
            vec![
                (
                    "with_capacity(capacity)".into(),
                    "function",
                    "with_capacity(…)".into(),
                ),
                ("println!(\"\")".into(), "function", "println!(…)".into()),
                ("Vec".into(), "class", "Vec<…>".into()),
                (
                    "with_capacity(capacity)".into(),
                    "function",
                    "with_capacity(…)".into(),
                ),
            ],
            4,
            9,
        );
        assert_eq!(f.matches, vec!["with_capacity", "println!", "Vec"]);
        assert_eq!(f.types[0]["signature"], "with_capacity(capacity)");
        assert_eq!(f.types[2]["signature"], "Vec<…>");
        assert_eq!(f.types[1]["start"], 4);
        assert!(f.metadata().contains_key("_jupyter_types_experimental"));
    }
}
