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
//!
//! On top of the protocol sits the learner's API, named after IPython's:
//! - [`Display`]: anything with a mime bundle (text/plain always, plus text/html, image/svg+xml,
//!   image/png, ...). Tensors, figures, tables and progress bars implement it.
//! - [`display`] shows a value mid-cell and returns a [`DisplayHandle`];
//!   [`update_display`] (or [`DisplayHandle::update`]) redraws it in place; [`clear_output`]
//!   clears the cell's output.
//! - [`evcxr_emit`] prints a bundle as evcxr's `EVCXR_BEGIN_CONTENT` blocks: what a type's
//!   `evcxr_display` does when it is a cell's last expression.
//!
//! Submodules: [`table`] (HTML tables), [`progress`] (Keras-style progress bar), [`child`] (the
//! panic lines and hook of the kernel's child process), `logs` (how Keras `Logs` show) and
//! `base64` (for image/png payloads).

pub mod base64;
pub mod child;
mod logs;
pub mod progress;
pub mod table;

pub use progress::{Clock, ProgressBar, SystemClock, Throttle};
pub use table::{Cell, Table};

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
    use std::sync::atomic::{AtomicU64, Ordering};
    let counter = crate::state::slot!("display.counter", AtomicU64, || AtomicU64::new(0));
    let n = counter.fetch_add(1, Ordering::Relaxed);
    format!("ferrolab-{}-{n}", std::process::id())
}

/// The JSON object of a display line (without the marker): `display_data`, or with `update`
/// `update_display_data`, for `bundle` under `display_id`.
pub fn display_json(bundle: &MimeBundle, display_id: Option<&str>, update: bool) -> String {
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
    line
}

/// The JSON object of a `clear_output` display line.
pub fn clear_json(wait: bool) -> String {
    format!("{{\"msg_type\":\"clear_output\",\"wait\":{wait}}}")
}

/// Sends `display_data` (or, with `update`, `update_display_data`) for a mime bundle.
pub fn send_display(bundle: &MimeBundle, display_id: Option<&str>, update: bool) {
    if !in_notebook() {
        if let Some((_, text)) = bundle.iter().find(|(m, _)| m == "text/plain") {
            println!("{text}");
        }
        return;
    }
    emit(&display_json(bundle, display_id, update));
}

/// Clears the cell's output, like IPython's `clear_output(wait)`: with `wait`, the clearing
/// happens when the next output arrives (no flicker). Does nothing outside a notebook.
pub fn clear_output(wait: bool) {
    if in_notebook() {
        emit(&clear_json(wait));
    }
}

// ------------------------------------------------------------------------------------------------
// The learner's API: a trait for rich values, display / update_display, and evcxr's blocks.

/// A value that can show itself in the notebook, like IPython's `_repr_mimebundle_`.
///
/// `mime_bundle` returns (mime type, payload) pairs. text/plain is required (it is what
/// `jupyter console`, nbconvert to text and a terminal show); put it first. Binary payloads such as
/// image/png are base64 text, as in Jupyter's own messages.
///
/// ```
/// use ferrolab::display::{Display, MimeBundle};
/// struct Money(f64);
/// impl Display for Money {
///     fn mime_bundle(&self) -> MimeBundle {
///         vec![
///             ("text/plain".into(), format!("${:.2}", self.0)),
///             ("text/html".into(), format!("<b>${:.2}</b>", self.0)),
///         ]
///     }
/// }
/// ferrolab::display::display(&Money(3.5)); // prints "$3.50" outside a notebook
/// ```
///
/// In a notebook the trait is in scope (the prelude), so a type that implements it also shows
/// itself richly as a cell's last expression: evcxr calls `value.evcxr_display()`, which this
/// trait provides (a type's own inherent `evcxr_display` takes precedence).
pub trait Display {
    /// The representations of `self`, text/plain first.
    fn mime_bundle(&self) -> MimeBundle;

    /// Prints the bundle as evcxr's content blocks (see [`evcxr_emit`]).
    fn evcxr_display(&self) {
        evcxr_emit(&self.mime_bundle());
    }
}

/// A ready-made bundle (what the live outputs send on each redraw).
#[derive(Clone, Debug)]
pub struct Bundle(pub MimeBundle);

impl Display for Bundle {
    fn mime_bundle(&self) -> MimeBundle {
        self.0.clone()
    }
}

impl<T: Display + ?Sized> Display for &T {
    fn mime_bundle(&self) -> MimeBundle {
        (**self).mime_bundle()
    }
}

/// HTML to show as is, like IPython's `HTML(...)`. Its text/plain fallback is the text without
/// tags.
#[derive(Clone, Debug)]
pub struct Html(pub String);

impl Display for Html {
    fn mime_bundle(&self) -> MimeBundle {
        vec![
            ("text/plain".into(), strip_tags(&self.0)),
            ("text/html".into(), self.0.clone()),
        ]
    }
}

impl Html {
    /// What evcxr shows for it as a cell's last expression.
    pub fn evcxr_display(&self) {
        evcxr_emit(&self.mime_bundle());
    }
}

/// The text of an HTML fragment (tags dropped, the common entities decoded).
pub fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// Escapes text for HTML and SVG (`&`, `<`, `>`, quotes).
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A shown output that can be redrawn in place (IPython's `DisplayHandle`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisplayHandle {
    id: String,
}

impl DisplayHandle {
    /// A handle with a fresh id, not yet shown.
    pub fn new() -> Self {
        DisplayHandle {
            id: new_display_id(),
        }
    }
    /// The Jupyter `display_id` of this output.
    pub fn id(&self) -> &str {
        &self.id
    }
    /// Shows `value` as a new output carrying this handle's id.
    pub fn display(&self, value: &(impl Display + ?Sized)) {
        send_display(&value.mime_bundle(), Some(&self.id), false);
    }
    /// Replaces the output shown under this handle with `value`.
    pub fn update(&self, value: &(impl Display + ?Sized)) {
        send_display(&value.mime_bundle(), Some(&self.id), true);
    }
    /// A handle as a cell's last expression (`display(&fig)` without `;`) shows nothing more:
    /// the value is already on screen, as with IPython's `display`.
    pub fn evcxr_display(&self) {}
}

impl Default for DisplayHandle {
    fn default() -> Self {
        Self::new()
    }
}

/// Shows `value` in the cell's output now, mid-cell, like IPython's `display(x)`. Returns a
/// handle for [`update_display`]. Outside a notebook its text/plain goes to stdout.
pub fn display(value: &(impl Display + ?Sized)) -> DisplayHandle {
    let handle = DisplayHandle::new();
    handle.display(value);
    handle
}

/// Redraws the output shown under `handle` with `value` (an `update_display_data` message).
pub fn update_display(handle: &DisplayHandle, value: &(impl Display + ?Sized)) {
    handle.update(value);
}

/// Prints `bundle` as evcxr's content blocks, one `EVCXR_BEGIN_CONTENT <mime>` ...
/// `EVCXR_END_CONTENT` block per mime type. evcxr collects every block printed by a cell's
/// last-expression `evcxr_display` into one mime bundle (its `content_by_mime_type`), which the
/// kernel sends as the `execute_result`.
pub fn evcxr_emit(bundle: &MimeBundle) {
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    for (mime, payload) in bundle {
        let _ = writeln!(
            lock,
            "EVCXR_BEGIN_CONTENT {mime}\n{}\nEVCXR_END_CONTENT",
            payload.trim_end_matches('\n')
        );
    }
    let _ = lock.flush();
}

/// The text/plain part of a bundle ("" when there is none).
pub fn plain_text(bundle: &MimeBundle) -> &str {
    bundle
        .iter()
        .find(|(m, _)| m == "text/plain")
        .map(|(_, t)| t.as_str())
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn html_helpers() {
        assert_eq!(escape_html("a<b & 'c'"), "a&lt;b &amp; &#39;c&#39;");
        assert_eq!(strip_tags("<b>x &lt; y</b>"), "x < y");
    }
    #[test]
    fn json_escaping() {
        assert_eq!(json_string("a\"b\\c\nd\u{1}"), "\"a\\\"b\\\\c\\nd\\u0001\"");
        let b = vec![("text/plain".to_string(), "x\ny".to_string())];
        assert_eq!(bundle_json(&b), "{\"text/plain\":\"x\\ny\"}");
    }
}
