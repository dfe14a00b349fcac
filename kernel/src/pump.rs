//! The output pump: one thread that turns the evcxr child's stdout and stderr lines into iopub
//! messages while a cell runs, so output appears at once and not at the end of the cell.
//!
//! The evaluator calls [`Pump::begin`] before a cell and [`Pump::finish`] after it. evcxr has
//! already waited until its stdout channel is empty when a cell returns, and the pump handles
//! lines in order, so by the time `finish` is answered every stdout line of the cell is out.

use crate::connection::Iopub;
use crate::display::{classify, Line};
use crossbeam_channel::{select, Receiver, RecvTimeoutError, Sender};
use jupyter_protocol::{JupyterMessage, JupyterMessageContent, StreamContent};
use std::time::Duration;

/// Where the current cell's output goes.
#[derive(Clone)]
pub struct Sink {
    pub parent: JupyterMessage,
    pub iopub: Iopub,
    /// `silent` execute requests publish nothing.
    pub silent: bool,
}

impl Sink {
    pub fn publish(&self, content: impl Into<JupyterMessageContent>) {
        if !self.silent {
            let _ = self
                .iopub
                .send(JupyterMessage::new(content.into(), Some(&self.parent)));
        }
    }

    pub fn stdout(&self, text: &str) {
        self.publish(StreamContent::stdout(text));
    }

    pub fn stderr(&self, text: &str) {
        self.publish(StreamContent::stderr(text));
    }
}

/// What the pump saw during one cell.
#[derive(Default)]
pub struct CellReport {
    /// `(message, location)` of a panic in the cell, if any.
    pub panic: Option<(String, String)>,
}

enum Cmd {
    Begin(Box<Sink>),
    Finish(Sender<CellReport>),
}

pub struct Pump {
    cmd: Sender<Cmd>,
}

impl Pump {
    pub fn start(stdout: Receiver<String>, stderr: Receiver<String>) -> Pump {
        let (cmd, cmd_rx) = crossbeam_channel::unbounded();
        std::thread::Builder::new()
            .name("output-pump".into())
            .spawn(move || run(stdout, stderr, cmd_rx))
            .expect("spawn output pump");
        Pump { cmd }
    }

    pub fn begin(&self, sink: Sink) {
        let _ = self.cmd.send(Cmd::Begin(Box::new(sink)));
    }

    pub fn finish(&self) -> CellReport {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let _ = self.cmd.send(Cmd::Finish(tx));
        rx.recv().unwrap_or_default()
    }
}

struct State {
    sink: Option<Sink>,
    report: CellReport,
}

fn run(stdout: Receiver<String>, stderr: Receiver<String>, cmd: Receiver<Cmd>) {
    let mut st = State {
        sink: None,
        report: CellReport::default(),
    };
    loop {
        select! {
            recv(stdout) -> line => match line {
                Ok(line) => on_stdout(&mut st, line, &stdout),
                Err(_) => return,
            },
            recv(stderr) -> line => match line {
                Ok(line) => on_stderr(&mut st, line, &stderr),
                Err(_) => return,
            },
            recv(cmd) -> c => match c {
                Ok(Cmd::Begin(sink)) => st.sink = Some(*sink),
                Ok(Cmd::Finish(reply)) => {
                    while let Ok(line) = stdout.try_recv() {
                        on_stdout(&mut st, line, &stdout);
                    }
                    // stderr has its own reader thread in evcxr: give stragglers a moment.
                    loop {
                        match stderr.recv_timeout(Duration::from_millis(15)) {
                            Ok(line) => on_stderr(&mut st, line, &stderr),
                            Err(RecvTimeoutError::Timeout) => break,
                            Err(RecvTimeoutError::Disconnected) => return,
                        }
                    }
                    st.sink = None;
                    let _ = reply.send(std::mem::take(&mut st.report));
                }
                Err(_) => return,
            },
        }
    }
}

/// Plain lines are batched with any that are already waiting, up to a limit.
fn on_stdout(st: &mut State, line: String, more: &Receiver<String>) {
    let mut text = String::new();
    let mut next = Some(line);
    while let Some(line) = next.take() {
        match classify(line) {
            Line::Text(t) => {
                text.push_str(&t);
                text.push('\n');
                if text.len() < 64 * 1024 {
                    next = more.try_recv().ok();
                }
            }
            other => {
                flush_text(st, &mut text);
                match other {
                    Line::Display(content) => {
                        if let Some(sink) = &st.sink {
                            sink.publish(content);
                        }
                    }
                    Line::Panic { message, location } => {
                        st.report.panic.get_or_insert((message, location));
                    }
                    Line::Text(_) => unreachable!(),
                }
                next = more.try_recv().ok();
            }
        }
    }
    flush_text(st, &mut text);
}

fn flush_text(st: &State, text: &mut String) {
    if !text.is_empty() {
        if let Some(sink) = &st.sink {
            sink.stdout(text);
        }
        text.clear();
    }
}

fn on_stderr(st: &mut State, line: String, more: &Receiver<String>) {
    let mut text = line + "\n";
    while text.len() < 64 * 1024 {
        match more.try_recv() {
            Ok(line) => {
                text.push_str(&line);
                text.push('\n');
            }
            Err(_) => break,
        }
    }
    if let Some(sink) = &st.sink {
        sink.stderr(&text);
    }
}
