//! The display line protocol: how engine values reach the notebook as rich output.
//!
//! The engine knows only this textual convention, never the kernel's internals (DESIGN.md, "How a
//! cell flows"). A display line is one line on stdout:
//!
//! ```text
//! <DISPLAY_MARKER>{"msg_type":"display_data","data":{"text/plain":"..."},"metadata":{},"transient":{"display_id":"fl-3"}}
//! ```
//!
//! `msg_type` is `display_data`, `update_display_data` or `clear_output` (with `"wait": bool`).
//! The kernel turns each line into the iopub message at once, mid-cell. Outside a notebook
//! (`FERROLAB_DISPLAY` unset, e.g. a plain binary) the text/plain part goes to stdout instead.

use std::fmt::Write as _;
use std::io::Write as _;

/// Prefix of a display line on stdout. Control characters keep it from clashing with user text.
pub const DISPLAY_MARKER: &str = "\u{1}FERROLAB_DISPLAY\u{1}";

/// Set to `1` by the kernel in its child process: display lines are understood there.
pub const DISPLAY_ENV: &str = "FERROLAB_DISPLAY";

/// True when running under the Ferrolab kernel (display lines become rich output).
pub fn in_notebook() -> bool {
    std::env::var_os(DISPLAY_ENV).is_some_and(|v| v == "1")
}

/// Escapes `s` as a JSON string literal, quotes included.
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A mime bundle: (mime type, payload) pairs, text/plain first by convention.
pub type MimeBundle = Vec<(String, String)>;

fn bundle_json(bundle: &MimeBundle) -> String {
    let mut s = String::from("{");
    for (i, (mime, payload)) in bundle.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&json_string(mime));
        s.push(':');
        s.push_str(&json_string(payload));
    }
    s.push('}');
    s
}

fn emit(line: &str) {
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    let _ = writeln!(lock, "{DISPLAY_MARKER}{line}");
    let _ = lock.flush();
}

/// A fresh process-unique display id.
pub fn new_display_id() -> String {
    let n = crate::state::global()
        .display_counter
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("ferrolab-{}-{n}", std::process::id())
}

/// Sends `display_data` (or, with `update`, `update_display_data`) for a mime bundle.
pub fn send_display(bundle: &MimeBundle, display_id: Option<&str>, update: bool) {
    if !in_notebook() {
        if let Some((_, text)) = bundle.iter().find(|(m, _)| m == "text/plain") {
            println!("{text}");
        }
        return;
    }
    let msg_type = if update {
        "update_display_data"
    } else {
        "display_data"
    };
    let mut line = format!(
        "{{\"msg_type\":\"{msg_type}\",\"data\":{},\"metadata\":{{}}",
        bundle_json(bundle)
    );
    if let Some(id) = display_id {
        let _ = write!(
            line,
            ",\"transient\":{{\"display_id\":{}}}",
            json_string(id)
        );
    }
    line.push('}');
    emit(&line);
}

/// Clears the cell's output, like IPython's `clear_output(wait)`.
pub fn clear_output(wait: bool) {
    if in_notebook() {
        emit(&format!(
            "{{\"msg_type\":\"clear_output\",\"wait\":{wait}}}"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn json_escaping() {
        assert_eq!(json_string("a\"b\\c\nd\u{1}"), "\"a\\\"b\\\\c\\nd\\u0001\"");
        let b = vec![("text/plain".to_string(), "x\ny".to_string())];
        assert_eq!(bundle_json(&b), "{\"text/plain\":\"x\\ny\"}");
    }
}
