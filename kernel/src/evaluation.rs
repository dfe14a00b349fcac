//! Evaluation: one thread owns the evcxr context and runs jobs in order.
//!
//! The context starts (and warms up) in the background as soon as the kernel starts, so the
//! kernel answers `kernel_info` at once while the engine loads. Jobs that arrive meanwhile wait.
//! A cell's outcome is `Ok(optional execute_result)` or one `ErrorOutput`.

use crate::interrupt::{Control, Stopped};
use crate::pump::{Pump, Sink};
use evcxr::{CommandContext, Error as EvcxrError};
use jupyter_protocol::{ErrorOutput, ExpressionResult, Media};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::Arc;
use tokio::sync::oneshot;

pub struct ExecJob {
    pub code: String,
    pub sink: Sink,
    pub user_expressions: HashMap<String, String>,
    pub done: oneshot::Sender<ExecOutcome>,
}

pub struct ExecOutcome {
    pub result: Result<Option<Media>, ErrorOutput>,
    pub user_expressions: HashMap<String, ExpressionResult>,
    /// Pager payloads (`?item`).
    pub payload: Vec<jupyter_protocol::Payload>,
}

/// What `Evaluator::start`'s preparation yields: the template used, and a notice for the learner.
pub type Prepared = (Option<PathBuf>, Option<String>);

/// Completion matches and the (char) range they replace.
pub type CompleteOut = Option<crate::completion::Found>;

enum Job {
    Execute(Box<ExecJob>),
    Complete(String, usize, oneshot::Sender<CompleteOut>),
    Inspect(String, usize, oneshot::Sender<Option<(String, String)>>),
}

/// Handle to the evaluation thread.
pub struct Evaluator {
    jobs: mpsc::Sender<Job>,
    pub control: Arc<Control>,
    /// Set once the build dir is prepared, with a notice for the first cell: why that cell
    /// will be slow (see `kernel.rs`).
    prepared: tokio::sync::watch::Receiver<Option<Option<String>>>,
}

impl Evaluator {
    /// Starts the evaluation thread; `prepare` runs first on it (copying the template) and
    /// returns the template used and a notice to show with the first cell.
    pub fn start(prepare: impl FnOnce() -> Prepared + Send + 'static) -> Self {
        let (jobs, rx) = mpsc::channel();
        let control = Arc::new(Control::default());
        let ctl = control.clone();
        let (prepared_tx, prepared) = tokio::sync::watch::channel(None);
        std::thread::Builder::new()
            .name("evaluator".into())
            .spawn(move || {
                let t = std::time::Instant::now();
                let (template, notice) = prepare();
                if let Some(notice) = &notice {
                    eprintln!("{notice}");
                }
                crate::startup::trace("build dir from template", t);
                let _ = prepared_tx.send(Some(notice));
                thread_main(rx, ctl, template)
            })
            .expect("spawn evaluator");
        Evaluator {
            jobs,
            control,
            prepared,
        }
    }

    /// The start-up notice, if any (waits briefly for the build dir to be prepared).
    pub async fn startup_notice(&self) -> Option<String> {
        let mut rx = self.prepared.clone();
        let wait = std::time::Duration::from_secs(10);
        let _ = tokio::time::timeout(wait, rx.wait_for(Option::is_some)).await;
        let notice = rx.borrow().clone();
        notice.flatten()
    }

    /// Queues a cell; its outcome arrives on `job.done`.
    pub fn submit(&self, job: ExecJob) {
        let _ = self.jobs.send(Job::Execute(Box::new(job)));
    }

    pub async fn complete(&self, code: String, cursor: usize) -> CompleteOut {
        let (tx, rx) = oneshot::channel();
        self.jobs.send(Job::Complete(code, cursor, tx)).ok()?;
        rx.await.ok().flatten()
    }

    pub async fn inspect(&self, code: String, cursor: usize) -> Option<(String, String)> {
        let (tx, rx) = oneshot::channel();
        self.jobs.send(Job::Inspect(code, cursor, tx)).ok()?;
        rx.await.ok().flatten()
    }
}

/// Everything the evaluation thread owns.
pub struct Session {
    pub ctx: CommandContext,
    pub pump: Pump,
    pub control: Arc<Control>,
    /// The child restarted: the panic hook must be installed again.
    needs_setup: bool,
}

fn thread_main(rx: mpsc::Receiver<Job>, control: Arc<Control>, template: Option<PathBuf>) {
    let lock = template.map(|t| t.join("Cargo.lock"));
    let started = crate::startup::start_context(lock.as_deref());
    let mut session = match started {
        Ok((ctx, outputs)) => {
            let pump = Pump::start(outputs.stdout, outputs.stderr);
            control.set_pid(ctx.process_handle().lock().map(|c| c.id()).unwrap_or(0));
            let mut s = Session {
                ctx,
                pump,
                control,
                needs_setup: false,
            };
            s.warm_up();
            s
        }
        Err(error) => return serve_startup_error(rx, format!("{error:#}")),
    };
    for job in rx {
        match job {
            Job::Execute(job) => session.execute(*job),
            Job::Complete(code, cursor, done) => {
                let _ = done.send(session.complete(&code, cursor));
            }
            Job::Inspect(code, cursor, done) => {
                let _ = done.send(session.inspect(&code, cursor));
            }
        }
    }
}

/// When evcxr could not start, every cell says why (and completions are empty).
fn serve_startup_error(rx: mpsc::Receiver<Job>, message: String) {
    eprintln!("ferrolab-kernel: {message}");
    for job in rx {
        if let Job::Execute(job) = job {
            let _ = job.done.send(ExecOutcome {
                result: Err(crate::errors::error_output("KernelStartupError", &message)),
                user_expressions: HashMap::new(),
                payload: Vec::new(),
            });
        }
    }
}

impl Session {
    /// Pays rust-analyzer's one-off cost of loading the engine before the first real cell.
    fn warm_up(&mut self) {
        let t = std::time::Instant::now();
        let _ = self.ctx.completions("ferrolab::prelude::Tens", 23);
        crate::startup::trace("warm-up (rust-analyzer loads the engine)", t);
    }

    fn execute(&mut self, job: ExecJob) {
        if self.needs_setup {
            self.reinstall();
        }
        use crate::magics::{self, Action};
        let outcome = match magics::parse(&job.code) {
            Some(Action::Run { preamble, code }) => {
                if let Some(text) = preamble {
                    job.sink.stdout(&format!("{text}\n\n"));
                }
                magics::outcome(self.run_cell(code, &job.sink))
            }
            Some(Action::Shell(code)) => magics::outcome(magics::run_shell_lines(code, &job.sink)),
            Some(Action::Docs(item)) => {
                let found = self.inspect(item, item.chars().count());
                magics::docs_page(item, found)
            }
            None => {
                let result = self.run_cell(&job.code, &job.sink);
                let ok = result.is_ok();
                ExecOutcome {
                    result,
                    user_expressions: if ok {
                        self.user_expressions(&job.user_expressions)
                    } else {
                        HashMap::new()
                    },
                    payload: Vec::new(),
                }
            }
        };
        let _ = job.done.send(outcome);
        if self.needs_setup {
            self.reinstall();
        }
    }

    /// Runs code in the child with its output streamed to `sink`.
    pub fn run_cell(&mut self, code: &str, sink: &Sink) -> Result<Option<Media>, ErrorOutput> {
        self.pump.begin(sink.clone());
        let pid = self
            .ctx
            .process_handle()
            .lock()
            .map(|c| c.id())
            .unwrap_or(0);
        // The cell's loops check for interrupts (`instrument.rs`); errors are shown against
        // the cell as the learner wrote it.
        let instrumented = crate::instrument::instrument(code);
        let cell = self.control.begin(pid);
        let result = self.ctx.execute(&instrumented.code);
        let stopped = self.control.end(cell);
        let report = self.pump.finish();
        if stopped == Stopped::WhileCompiling && result.is_err() {
            return Err(crate::interrupt::compile_interrupted_error());
        }
        match result {
            Ok(outputs) => {
                if let Some(timing) = outputs.timing {
                    sink.stdout(&format!("Took {}ms\n", timing.as_millis()));
                }
                match report.panic {
                    Some((message, location)) => {
                        Err(crate::errors::panic_error(&message, &location))
                    }
                    None => Ok(crate::display::cell_result(&outputs.content_by_mime_type)),
                }
            }
            Err(EvcxrError::CompilationErrors(errors)) => {
                let column = |line, column| instrumented.original_column(line, column);
                Err(crate::errors::render(code, &errors, &column))
            }
            Err(EvcxrError::SubprocessTerminated(message)) => {
                self.needs_setup = true;
                let killed = stopped == Stopped::ChildKilled;
                Err(crate::interrupt::terminated_error(killed, &message))
            }
            Err(other) => Err(crate::errors::error_output("Error", &other.to_string())),
        }
    }

    /// Installs the panic hook in a restarted child.
    fn reinstall(&mut self) {
        self.needs_setup = false;
        if let Err(e) = self.ctx.execute(crate::startup::CHILD_SETUP) {
            eprintln!("ferrolab-kernel: re-installing the panic hook failed: {e}");
        }
    }

    fn user_expressions(
        &mut self,
        exprs: &HashMap<String, String>,
    ) -> HashMap<String, ExpressionResult> {
        let mut out = HashMap::new();
        for (name, expr) in exprs {
            let result = match self.ctx.execute(expr) {
                Ok(o) => ExpressionResult::Ok {
                    data: crate::display::media(&o.content_by_mime_type).unwrap_or_default(),
                    metadata: Default::default(),
                },
                Err(e) => ExpressionResult::Error {
                    ename: "Error".into(),
                    evalue: e.to_string(),
                    traceback: vec![e.to_string()],
                },
            };
            out.insert(name.clone(), result);
        }
        out
    }

    fn complete(&mut self, code: &str, cursor: usize) -> CompleteOut {
        let byte = char_to_byte(code, cursor);
        let c = self.ctx.completions(code, byte).ok()?;
        let items = c
            .completions
            .into_iter()
            .map(|c| (c.code, c.kind, c.label))
            .collect();
        Some(crate::completion::found(
            items,
            byte_to_char(code, c.start_offset),
            byte_to_char(code, c.end_offset),
        ))
    }

    pub fn inspect(&mut self, code: &str, cursor: usize) -> Option<(String, String)> {
        let byte = char_to_byte(code, cursor);
        // Hover looks at the token before the cursor: extend to the end of the word.
        let end = code[byte..]
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map_or(code.len(), |i| byte + i);
        let (plain, html) = self.ctx.hover_at(code, end).ok()?;
        (!plain.trim().is_empty()).then_some((plain, html))
    }
}

/// Jupyter counts cursor positions in Unicode code points; evcxr wants bytes.
pub fn char_to_byte(s: &str, chars: usize) -> usize {
    s.char_indices().nth(chars).map_or(s.len(), |(b, _)| b)
}

pub fn byte_to_char(s: &str, byte: usize) -> usize {
    s[..byte.min(s.len())].chars().count()
}
