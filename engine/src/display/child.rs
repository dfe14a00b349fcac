//! The evcxr child's side of the kernel's stdout protocol, next to the display lines
//! ([`super::DISPLAY_MARKER`]): the engine owns both markers, writes the lines and parses them
//! back, so the kernel never spells the format itself.
//!
//! A panic line is `PANIC_MARKER message \u{1} location`, the message with `\` and newlines
//! escaped so that it stays one line. evcxr catches a cell's panic and reports success, so the
//! kernel learns of the panic from this line, in order with the cell's other output.
//! [`install_panic_hook`] is what the kernel runs in every child process (after each restart
//! too); all cells share one libstd, hence one hook.

/// Prefix of a panic line on the child's stdout.
pub const PANIC_MARKER: &str = "\u{1}FERROLAB_PANIC\u{1}";

/// The panic line for `message` at `location` (`file:line`, or empty).
pub fn panic_line(message: &str, location: &str) -> String {
    let escaped = message.replace('\\', "\\\\").replace('\n', "\\n");
    format!("{PANIC_MARKER}{escaped}\u{1}{location}")
}

/// `(message, location)` of a panic line, `None` for any other line.
pub fn parse_panic_line(line: &str) -> Option<(String, String)> {
    let rest = line.strip_prefix(PANIC_MARKER)?;
    let (message, location) = rest.split_once('\u{1}').unwrap_or((rest, ""));
    Some((unescape(message), location.to_string()))
}

/// Reports every panic as a panic line on stdout, except those the engine catches itself
/// (`crate::state::catch_quietly`).
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        if crate::state::in_quiet_catch() {
            return;
        }
        let payload = info.payload();
        let message = if let Some(s) = payload.downcast_ref::<&str>() {
            s.to_string()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "Box<dyn Any>".to_string()
        };
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        println!("{}", panic_line(&message, &location));
    }));
}

/// Reverses [`panic_line`]'s escaping (`\\` and `\n`).
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_lines_round_trip() {
        let line = panic_line("boom\nsecond \\ line", "src/lib.rs:3");
        assert!(!line.contains('\n'));
        assert_eq!(
            parse_panic_line(&line),
            Some((
                "boom\nsecond \\ line".to_string(),
                "src/lib.rs:3".to_string()
            ))
        );
        assert_eq!(parse_panic_line("plain text"), None);
    }
}
