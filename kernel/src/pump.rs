//! The output pump: one thread that turns the evcxr child's stdout and stderr lines into iopub
//! messages while a cell runs, so output appears at once and not at the end of the cell.
//!
//! The evaluator calls [`Pump::begin`] before a cell and [`Pump::finish`] after it. evcxr has
//! already waited until its stdout channel is empty when a cell returns, and the pump handles
//! lines in order, so by the time `finish` is answered every stdout line of the cell is out.
//!
//! `update_display_data` is throttled per display id to one message per [`UPDATE_INTERVAL`]
//! (a cell calling `update_display` in a tight loop would otherwise flood the browser): a newer
//! update replaces a waiting one, and the last one always goes out, on time or when the cell
//! ends. Other display messages first send the waiting updates, so the order holds.

use crate::connection::Iopub;
use crate::display::{classify, Line};
use crossbeam_channel::{select, Receiver, RecvTimeoutError, Sender};
use jupyter_protocol::{JupyterMessage, JupyterMessageContent, StreamContent};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The least time between two `update_display_data` messages for one display id (20 per second).
pub const UPDATE_INTERVAL: Duration = Duration::from_millis(50);

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
    /// When the last update of each display id went out.
    last_update: HashMap<String, Instant>,
    /// Updates held back by the throttle: the newest per display id, in arrival order.
    waiting: Vec<(String, JupyterMessageContent)>,
}

impl State {
    fn publish(&self, content: JupyterMessageContent) {
        if let Some(sink) = &self.sink {
            sink.publish(content);
        }
    }

    /// Sends a display message through the per-id update throttle.
    fn display(&mut self, content: JupyterMessageContent) {
        let id = match &content {
            JupyterMessageContent::UpdateDisplayData(u) => u.transient.display_id.clone(),
            _ => None,
        };
        let Some(id) = id else {
            self.flush_waiting();
            return self.publish(content);
        };
        let now = Instant::now();
        let due = self
            .last_update
            .get(&id)
            .is_none_or(|t| now.duration_since(*t) >= UPDATE_INTERVAL);
        self.waiting.retain(|(w, _)| *w != id);
        if due {
            self.last_update.insert(id, now);
            self.publish(content);
        } else {
            self.waiting.push((id, content));
        }
    }

    /// When the first waiting update is due.
    fn next_due(&self) -> Option<Instant> {
        self.waiting
            .iter()
            .filter_map(|(id, _)| self.last_update.get(id).map(|t| *t + UPDATE_INTERVAL))
            .min()
    }

    /// Sends the waiting updates whose time has come.
    fn send_due(&mut self) {
        let now = Instant::now();
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.waiting)
            .into_iter()
            .partition(|(id, _)| {
                self.last_update
                    .get(id)
                    .is_none_or(|t| now.duration_since(*t) >= UPDATE_INTERVAL)
            });
        self.waiting = later;
        for (id, content) in due {
            self.last_update.insert(id, now);
            self.publish(content);
        }
    }

    /// Sends every waiting update now.
    fn flush_waiting(&mut self) {
        let now = Instant::now();
        for (id, content) in std::mem::take(&mut self.waiting) {
            self.last_update.insert(id, now);
            self.publish(content);
        }
    }
}

fn run(stdout: Receiver<String>, stderr: Receiver<String>, cmd: Receiver<Cmd>) {
    let mut st = State {
        sink: None,
        report: CellReport::default(),
        last_update: HashMap::new(),
        waiting: Vec::new(),
    };
    loop {
        let wait = st
            .next_due()
            .map(|t| t.saturating_duration_since(Instant::now()))
            .unwrap_or(Duration::from_secs(3600));
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
                    st.flush_waiting();
                    st.last_update.clear();
                    st.sink = None;
                    let _ = reply.send(std::mem::take(&mut st.report));
                }
                Err(_) => return,
            },
            default(wait) => st.send_due(),
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
                    Line::Display(content) => st.display(content),
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
