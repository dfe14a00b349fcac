//! Turns what the evcxr child prints into Jupyter content.
//!
//! - A stdout line starting with the engine's `DISPLAY_MARKER` carries one JSON object:
//!   `display_data`, `update_display_data` or `clear_output` (see `ferrolab::display`).
//! - A panic line (`ferrolab::display::child`) is written by the engine's panic hook, which the
//!   kernel installs in the child (`startup::CHILD_SETUP`); the engine parses it back.
//! - evcxr's `EVCXR_BEGIN_CONTENT mime` blocks are collected by evcxr itself and reach us as
//!   the cell's outputs, which become `execute_result` through [`media`].
//! - Anything else is plain text for a `stream` message.

use jupyter_protocol::UpdateDisplayData;
use jupyter_protocol::{ClearOutput, DisplayData, JupyterMessageContent, Media, Transient};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// What one stdout line of the child means.
pub enum Line {
    Text(String),
    Display(JupyterMessageContent),
    Panic { message: String, location: String },
}

pub fn classify(line: String) -> Line {
    if let Some(json) = line.strip_prefix(ferrolab::display::DISPLAY_MARKER) {
        match display_message(json) {
            Some(content) => Line::Display(content),
            None => Line::Text(format!("ferrolab: malformed display line: {json}")),
        }
    } else if let Some((message, location)) = ferrolab::display::child::parse_panic_line(&line) {
        Line::Panic { message, location }
    } else {
        Line::Text(line)
    }
}

/// Parses the JSON object of a display line into the iopub content it stands for.
pub fn display_message(json: &str) -> Option<JupyterMessageContent> {
    let value: Value = serde_json::from_str(json).ok()?;
    let metadata: Map<String, Value> = match value.get("metadata") {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    };
    let display_id = value
        .pointer("/transient/display_id")
        .and_then(Value::as_str)
        .map(str::to_string);
    let data = || -> Option<Media> { serde_json::from_value(value.get("data")?.clone()).ok() };
    Some(match value.get("msg_type")?.as_str()? {
        "display_data" => JupyterMessageContent::DisplayData(DisplayData {
            data: data()?,
            metadata,
            transient: Some(Transient { display_id }),
        }),
        "update_display_data" => JupyterMessageContent::UpdateDisplayData(UpdateDisplayData {
            data: data()?,
            metadata,
            transient: Transient {
                display_id: Some(display_id?),
            },
        }),
        "clear_output" => JupyterMessageContent::ClearOutput(ClearOutput {
            wait: value.get("wait").and_then(Value::as_bool).unwrap_or(false),
        }),
        _ => return None,
    })
}

/// A mime bundle from evcxr's outputs (`EVCXR_BEGIN_CONTENT` blocks) as jupyter-protocol Media.
pub fn media(content: &HashMap<String, String>) -> Option<Media> {
    if content.is_empty() {
        return None;
    }
    let map: Map<String, Value> = content
        .iter()
        .map(|(mime, payload)| (mime.clone(), Value::String(payload.clone())))
        .collect();
    serde_json::from_value(Value::Object(map)).ok()
}

/// A cell's `execute_result`, if it has one. A cell whose last expression is `()` (a `for`
/// loop, a call that returns nothing) shows nothing, as IPython shows nothing for `None`:
/// evcxr's fallback prints its Debug text, `()`, which is dropped here.
pub fn cell_result(content: &HashMap<String, String>) -> Option<Media> {
    let unit = content.len() == 1 && content.get("text/plain").is_some_and(|t| t.trim() == "()");
    if unit {
        return None;
    }
    media(content)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_lines_become_iopub_content() {
        let line = format!(
            "{}{{\"msg_type\":\"display_data\",\"data\":{{\"text/plain\":\"x\"}},\"metadata\":{{}},\"transient\":{{\"display_id\":\"d1\"}}}}",
            ferrolab::display::DISPLAY_MARKER
        );
        match classify(line) {
            Line::Display(JupyterMessageContent::DisplayData(d)) => {
                assert_eq!(d.transient.unwrap().display_id.as_deref(), Some("d1"));
            }
            _ => panic!("not a display_data"),
        }
        let clear = format!(
            "{}{{\"msg_type\":\"clear_output\",\"wait\":true}}",
            ferrolab::display::DISPLAY_MARKER
        );
        assert!(matches!(
            classify(clear),
            Line::Display(JupyterMessageContent::ClearOutput(ClearOutput {
                wait: true
            }))
        ));
    }

    #[test]
    fn unit_results_show_nothing() {
        let unit = HashMap::from([("text/plain".to_string(), "()".to_string())]);
        assert!(cell_result(&unit).is_none());
        let three = HashMap::from([("text/plain".to_string(), "3".to_string())]);
        assert!(cell_result(&three).is_some());
    }

    #[test]
    fn panic_lines_are_classified() {
        let line = ferrolab::display::child::panic_line("boom\nsecond", "src/lib.rs:3");
        match classify(line) {
            Line::Panic { message, location } => {
                assert_eq!(message, "boom\nsecond");
                assert_eq!(location, "src/lib.rs:3");
            }
            _ => panic!("not a panic"),
        }
    }
}
