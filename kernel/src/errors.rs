//! How errors reach the learner, each as one Jupyter `error`: compile errors (rustc's message,
//! pointing at the line in the cell, with an "In Ferrolab" hint for TF names), panics (the
//! message first, then where), and the kernel's own errors ([`error_output`]).

use evcxr::CompilationError;
use jupyter_protocol::ErrorOutput;

const RED: &str = "\u{1b}[1;31m";
const BLUE: &str = "\u{1b}[1;34m";
const RESET: &str = "\u{1b}[0m";

/// Maps a `(line, column)` of the compiled code to the cell's column (see `instrument.rs`).
pub type ColumnMap<'a> = &'a dyn Fn(usize, usize) -> usize;

/// Renders evcxr's errors like rustc does, with lines and columns of the cell (`code`, as the
/// learner wrote it; `column` maps columns of the compiled, instrumented text back to it).
pub fn render(code: &str, errors: &[CompilationError], column: ColumnMap) -> ErrorOutput {
    let lines: Vec<&str> = code.lines().collect();
    let mut traceback = Vec::new();
    for error in errors {
        traceback.extend(render_one(error, &lines, column));
    }
    let first = errors.first();
    ErrorOutput {
        ename: "CompileError".to_string(),
        evalue: first.map(headline).unwrap_or_default(),
        traceback,
    }
}

fn headline(error: &CompilationError) -> String {
    match error.code() {
        Some(code) => format!("error[{code}]: {}", error.message()),
        None => format!("{}: {}", error.level(), error.message()),
    }
}

fn render_one(error: &CompilationError, lines: &[&str], column: ColumnMap) -> Vec<String> {
    let mut out = vec![format!("{RED}{}{RESET}", headline(error))];
    let mut shown = false;
    let mut last_line = 0;
    for spanned in error.spanned_messages() {
        let Some(mut span) = spanned.span else {
            continue;
        };
        span.start_column = column(span.start_line, span.start_column);
        span.end_column = column(span.end_line, span.end_column);
        let Some(text) = lines.get(span.start_line.wrapping_sub(1)) else {
            continue;
        };
        if !shown {
            out.push(format!(
                "{BLUE} -->{RESET} cell line {}, column {}",
                span.start_line, span.start_column
            ));
            shown = true;
        }
        let gutter = span.start_line.to_string();
        let pad = " ".repeat(gutter.len());
        let width = if span.end_line == span.start_line {
            span.end_column.saturating_sub(span.start_column).max(1)
        } else {
            text.chars()
                .count()
                .saturating_sub(span.start_column - 1)
                .max(1)
        };
        let marker = if spanned.is_primary { "^" } else { "-" };
        if span.start_line != last_line {
            out.push(format!("{BLUE}{pad} |{RESET}"));
            out.push(format!("{BLUE}{gutter} |{RESET} {text}"));
            last_line = span.start_line;
        }
        out.push(format!(
            "{BLUE}{pad} |{RESET} {}{RED}{}{RESET} {}",
            " ".repeat(span.start_column.saturating_sub(1)),
            marker.repeat(width),
            spanned.label
        ));
    }
    if !shown {
        // No span in the cell (e.g. an error in generated code): show rustc's own text.
        let rendered = crate::instrument::hide_checks(&error.rendered());
        out.extend(rendered.lines().skip(1).map(str::to_string));
    }
    for help in error.help() {
        out.push(format!("{BLUE}  = help:{RESET} {help}"));
    }
    if let Some(hint) = error.evcxr_extra_hint() {
        out.push(format!("{BLUE}  = note:{RESET} {hint}"));
    }
    // A TF/Keras/NumPy name with another Ferrolab spelling (kernel/src/hints/table.rs).
    if let Some(hint) = crate::hints::hint(&error.message()) {
        out.extend(hint.lines().map(|l| format!("{BLUE}  = help:{RESET} {l}")));
    }
    out
}

/// One `error` message: ename, evalue and a short traceback with the text in red.
pub fn error_output(ename: &str, evalue: &str) -> ErrorOutput {
    let mut traceback = vec![format!(
        "\u{1b}[0;31m{ename}\u{1b}[0m: {}",
        first_line(evalue)
    )];
    traceback.extend(evalue.lines().skip(1).map(str::to_string));
    ErrorOutput {
        ename: ename.to_string(),
        evalue: evalue.to_string(),
        traceback,
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// A panic in a cell (`KeyboardInterrupt` when it is the engine's interrupt check).
pub fn panic_error(message: &str, location: &str) -> ErrorOutput {
    // An interrupt's message starts with "KeyboardInterrupt: " (the engine's check): say the
    // word once, as the ename.
    let (ename, message) = match message.strip_prefix("KeyboardInterrupt") {
        Some(rest) => ("KeyboardInterrupt", rest.trim_start_matches([':', ' '])),
        None => ("panic", message),
    };
    let mut e = error_output(ename, message);
    // Cell code compiles to src/lib.rs; only other locations (a crate) help the learner. An
    // interrupt's location is the engine's check (or the cell's generated file): never shown.
    if !location.is_empty() && !location.starts_with("src/lib.rs") && ename == "panic" {
        e.traceback.push(format!("  at {location}"));
    }
    if ename == "panic" {
        e.traceback
            .push("Variables from earlier cells are kept.".into());
    }
    e
}
