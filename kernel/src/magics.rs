//! Magics. evcxr's own (`:dep`, `:vars`, `:timing`, `:opt`, `:help`, ...) pass through to it;
//! the Colab-like ones are handled here:
//! - `:gpu` shows the device the engine uses, its memory and driver, or says it runs on the CPU;
//! - `!cmd` lines run in a shell, with output streamed line by line while they run;
//! - `?item` shows the docs of `item` (a type, function or method path) in the pager.

use crate::evaluation::{error_output, ExecJob, ExecOutcome, Session};
use crate::pump::Sink;
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

/// Handles a Ferrolab magic; `None` means the cell is ordinary code (or an evcxr command).
pub fn handle(session: &mut Session, job: &ExecJob) -> Option<ExecOutcome> {
    let code = job.code.trim();
    let result = if code == ":gpu" {
        let cell = "println!(\"{}\", ferrolab::runtime::gpu_summary());";
        session.run_cell(cell, &job.sink)
    } else if code == ":help" {
        job.sink.stdout(&format!("{HELP}\n\n"));
        session.run_cell(":help", &job.sink)
    } else if is_shell_cell(code) {
        run_shell_lines(code, &job.sink)
    } else if let Some(item) = doc_request(code) {
        return Some(page_docs(session, item));
    } else {
        return None;
    };
    Some(ExecOutcome {
        result,
        user_expressions: HashMap::new(),
        payload: Vec::new(),
    })
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

fn page_docs(session: &mut Session, item: &str) -> ExecOutcome {
    let (result, payload) = match session.inspect(item, item.chars().count()) {
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

fn run_shell_lines(
    code: &str,
    sink: &Sink,
) -> Result<Option<jupyter_protocol::Media>, jupyter_protocol::ErrorOutput> {
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
    #[test]
    fn shell_cells_are_only_bang_lines() {
        assert!(super::is_shell_cell("!echo hi\n\n!ls"));
        assert!(!super::is_shell_cell("!echo hi\nlet x = 1;"));
        assert!(!super::is_shell_cell("   "));
    }
}
