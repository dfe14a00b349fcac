//! Magics. evcxr's own (`:dep`, `:vars`, `:timing`, `:opt`, `:help`, ...) pass through to it;
//! the Colab-like ones are handled here:
//! - `:gpu` shows the device the engine uses, its memory and driver, or says it runs on the CPU;
//! - `!cmd` lines run in a shell, with output streamed line by line while they run;
//! - `?item` shows the docs of `item` (a type, function or method path) in the pager.

use crate::errors::error_output;
use crate::evaluation::ExecOutcome;
use crate::pump::Sink;
use jupyter_protocol::ErrorOutput;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

pub const HELP: &str = "\
Ferrolab magics (besides evcxr's, listed below):
:gpu              Show the GPU the engine uses (memory, driver), or that it runs on the CPU
!cmd              Run a shell command; its output is streamed while it runs
?item             Show the docs of item (e.g. ?Vec, ?Tensor::matmul) in the pager
Interrupt (I, I)  Engine loops stop and keep state; other code is stopped by restarting the
                  Rust process after 2 s, and variables are lost";

/// What a magic cell asks the evaluation thread to do; the session carries it out.
#[derive(Debug, PartialEq, Eq)]
pub enum Action<'a> {
    /// Print `preamble` (if any), then run `code` in the child instead of the cell.
    Run {
        preamble: Option<&'static str>,
        code: &'static str,
    },
    /// Run the cell's `!command` lines (see [`run_shell_lines`]).
    Shell(&'a str),
    /// Page the docs of an item (see [`docs_page`], given what inspection found).
    Docs(&'a str),
}

/// `:gpu` runs this in the child.
const GPU_CELL: &str = "println!(\"{}\", ferrolab::runtime::gpu_summary());";

/// The Ferrolab magic in `code`; `None` means the cell is ordinary code (or an evcxr command).
pub fn parse(code: &str) -> Option<Action<'_>> {
    let code = code.trim();
    if code == ":gpu" {
        Some(Action::Run {
            preamble: None,
            code: GPU_CELL,
        })
    } else if code == ":help" {
        Some(Action::Run {
            preamble: Some(HELP),
            code: ":help",
        })
    } else if is_shell_cell(code) {
        Some(Action::Shell(code))
    } else {
        doc_request(code).map(Action::Docs)
    }
}

/// The outcome of a magic that has only a result (no payload, no user expressions).
pub fn outcome(result: Result<Option<jupyter_protocol::Media>, ErrorOutput>) -> ExecOutcome {
    ExecOutcome {
        result,
        user_expressions: HashMap::new(),
        payload: Vec::new(),
    }
}

/// `?path::to::item` (IPython's `?obj`); `?` cannot start Rust code, so this is unambiguous.
fn doc_request(code: &str) -> Option<&str> {
    let item = code.strip_prefix('?')?.trim();
    let ok = !item.is_empty()
        && item
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == ':');
    ok.then_some(item)
}

/// `?item`'s outcome: the pager with the docs `found` (text/plain, text/html), or "not found".
pub fn docs_page(item: &str, found: Option<(String, String)>) -> ExecOutcome {
    let (result, payload) = match found {
        Some((plain, html)) => {
            let bundle = HashMap::from([
                ("text/plain".to_string(), plain),
                ("text/html".to_string(), html),
            ]);
            let data = crate::display::media(&bundle).unwrap_or_default();
            (
                Ok(None),
                vec![jupyter_protocol::Payload::Page { data, start: 0 }],
            )
        }
        None => (
            Err(error_output(
                "NotFound",
                &format!("no docs found for `{item}`"),
            )),
            vec![],
        ),
    };
    ExecOutcome {
        result,
        user_expressions: HashMap::new(),
        payload,
    }
}

/// A cell made only of `!command` lines.
fn is_shell_cell(code: &str) -> bool {
    let mut lines = code
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .peekable();
    lines.peek().is_some() && lines.all(|l| l.starts_with('!'))
}

/// Runs each `!command` line in a shell, its output streamed to `sink`; stops at a failure.
pub fn run_shell_lines(
    code: &str,
    sink: &Sink,
) -> Result<Option<jupyter_protocol::Media>, ErrorOutput> {
    for line in code.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let command = &line[1..];
        let status = run_shell(command, sink)
            .map_err(|e| error_output("ShellError", &format!("`{command}`: {e}")))?;
        if !status.success() {
            let code = status
                .code()
                .map_or("a signal".to_string(), |c| c.to_string());
            return Err(error_output(
                "ShellError",
                &format!("`{command}` failed with exit code {code}"),
            ));
        }
    }
    Ok(None)
}

fn run_shell(command: &str, sink: &Sink) -> std::io::Result<std::process::ExitStatus> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let stderr = child.stderr.take().expect("piped stderr");
    let err_sink = sink.clone();
    let err_thread = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            err_sink.stderr(&format!("{line}\n"));
        }
    });
    let stdout = child.stdout.take().expect("piped stdout");
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        sink.stdout(&format!("{line}\n"));
    }
    let _ = err_thread.join();
    child.wait()
}

#[cfg(test)]
mod tests {
    use super::{parse, Action};

    #[test]
    fn magics_parse_to_actions() {
        assert_eq!(parse("!ls\n!pwd"), Some(Action::Shell("!ls\n!pwd")));
        assert_eq!(parse(" ?Vec::new "), Some(Action::Docs("Vec::new")));
        assert!(matches!(
            parse(":gpu"),
            Some(Action::Run { preamble: None, .. })
        ));
        assert!(matches!(
            parse(":help"),
            Some(Action::Run {
                preamble: Some(_),
                code: ":help"
            })
        ));
        assert_eq!(parse("let x = 1;"), None);
        assert_eq!(parse(":dep rand"), None);
    }

    #[test]
    fn shell_cells_are_only_bang_lines() {
        assert!(super::is_shell_cell("!echo hi\n\n!ls"));
        assert!(!super::is_shell_cell("!echo hi\nlet x = 1;"));
        assert!(!super::is_shell_cell("   "));
    }
}
