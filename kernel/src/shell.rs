//! The shell channel: one request at a time, each wrapped in `busy` ... `idle` on IOPub.

use crate::connection::{self, Incoming, Iopub};
use crate::evaluation::{Evaluator, ExecJob};
use crate::history::History;
use crate::is_complete::{check, Verdict};
use crate::pump::Sink;
use jupyter_protocol::*;
use jupyter_zmq_client::{RouterRecvConnection, RouterSendConnection};
use std::collections::{HashMap, VecDeque};
use std::time::Duration;

pub struct Shell {
    pub iopub: Iopub,
    pub evaluator: Evaluator,
    pub history: History,
    pub writer: RouterSendConnection,
    pub execution_count: usize,
    /// Requests read while aborting the queue after an error, to handle afterwards.
    pending: VecDeque<Incoming>,
    /// Execute requests that were queued behind a failed cell, to answer with `aborted`.
    to_abort: Vec<Incoming>,
    /// The start-up notice goes with the first cell only.
    notice_shown: bool,
}

impl Shell {
    pub fn new(iopub: Iopub, evaluator: Evaluator, writer: RouterSendConnection) -> Shell {
        Shell {
            iopub,
            evaluator,
            history: History::load(),
            writer,
            execution_count: 0,
            pending: VecDeque::new(),
            to_abort: Vec::new(),
            notice_shown: false,
        }
    }

    pub async fn run(mut self, mut reader: RouterRecvConnection) -> anyhow::Result<()> {
        loop {
            let incoming = match self.pending.pop_front() {
                Some(incoming) => incoming,
                None => connection::recv(&mut reader, "shell").await?,
            };
            self.handle(&incoming, &mut reader).await;
        }
    }

    fn publish(&self, content: impl Into<JupyterMessageContent>, parent: &JupyterMessage) {
        let _ = self
            .iopub
            .send(JupyterMessage::new(content.into(), Some(parent)));
    }

    async fn reply(&mut self, content: impl Into<JupyterMessageContent>, parent: &JupyterMessage) {
        connection::send(
            &mut self.writer,
            JupyterMessage::new(content.into(), Some(parent)),
        )
        .await;
    }

    /// Handles one request.
    async fn handle(&mut self, incoming: &Incoming, reader: &mut RouterRecvConnection) {
        let msg = &incoming.msg;
        self.publish(Status::busy(), msg);
        match &msg.content {
            JupyterMessageContent::KernelInfoRequest(_) => {
                self.reply(crate::control::kernel_info(), msg).await
            }
            JupyterMessageContent::ExecuteRequest(req) => self.execute(msg, req, reader).await,
            JupyterMessageContent::CompleteRequest(req) => {
                let cursor = req.cursor_pos;
                let found = self.evaluator.complete(req.code.clone(), cursor).await;
                let found = found.unwrap_or(crate::completion::Found {
                    cursor_start: cursor,
                    cursor_end: cursor,
                    ..Default::default()
                });
                let reply = CompleteReply {
                    metadata: found.metadata(),
                    matches: found.matches,
                    cursor_start: found.cursor_start,
                    cursor_end: found.cursor_end,
                    ..Default::default()
                };
                self.reply(reply, msg).await
            }
            JupyterMessageContent::InspectRequest(req) => {
                let found = self
                    .evaluator
                    .inspect(req.code.clone(), req.cursor_pos)
                    .await;
                let mut reply = InspectReply::default();
                if let Some((plain, html)) = found {
                    reply.found = true;
                    let bundle = HashMap::from([
                        ("text/plain".to_string(), plain),
                        ("text/html".to_string(), html),
                    ]);
                    reply.data = crate::display::media(&bundle).unwrap_or_default();
                }
                self.reply(reply, msg).await
            }
            JupyterMessageContent::IsCompleteRequest(req) => {
                let reply = match check(&req.code) {
                    Verdict::Complete => IsCompleteReply::complete(),
                    Verdict::Incomplete(indent) => IsCompleteReply::incomplete(indent),
                    Verdict::Invalid => IsCompleteReply::invalid(),
                };
                self.reply(reply, msg).await
            }
            // Clients often leave out optional history fields that jupyter-protocol requires,
            // so history requests are read from the raw JSON.
            JupyterMessageContent::HistoryRequest(_) => {
                let history = self.history.query(&incoming.raw);
                self.reply(HistoryReply::new(history), msg).await
            }
            JupyterMessageContent::UnknownMessage(m) if m.msg_type == "history_request" => {
                let history = self.history.query(&incoming.raw);
                self.reply(HistoryReply::new(history), msg).await
            }
            JupyterMessageContent::CommInfoRequest(_) => {
                self.reply(CommInfoReply::default(), msg).await
            }
            JupyterMessageContent::ShutdownRequest(req) => {
                let reply = ShutdownReply {
                    restart: req.restart,
                    ..Default::default()
                };
                self.reply(reply, msg).await;
                crate::control::shut_down(&self.evaluator).await;
            }
            other => eprintln!(
                "ferrolab-kernel: ignored a {} message on shell",
                other.message_type()
            ),
        }
        self.publish(Status::idle(), msg);
        for queued in std::mem::take(&mut self.to_abort) {
            self.abort(&queued.msg).await;
        }
    }

    async fn execute(
        &mut self,
        msg: &JupyterMessage,
        req: &ExecuteRequest,
        reader: &mut RouterRecvConnection,
    ) {
        let store = req.store_history && !req.silent;
        if store {
            self.execution_count += 1;
        }
        let count = ExecutionCount::new(self.execution_count);
        if !req.silent {
            let input = ExecuteInput {
                code: req.code.clone(),
                execution_count: count,
            };
            self.publish(input, msg);
            if !self.notice_shown {
                self.notice_shown = true;
                if let Some(notice) = self.evaluator.startup_notice().await {
                    self.publish(StreamContent::stderr(&format!("{notice}\n")), msg);
                }
            }
        }
        let (done, outcome) = tokio::sync::oneshot::channel();
        self.evaluator.submit(ExecJob {
            code: req.code.clone(),
            sink: Sink {
                parent: msg.clone(),
                iopub: self.iopub.clone(),
                silent: req.silent,
            },
            user_expressions: req.user_expressions.clone().unwrap_or_default(),
            done,
        });
        let Ok(outcome) = outcome.await else { return };
        let mut reply = ExecuteReply {
            execution_count: count,
            user_expressions: Some(outcome.user_expressions),
            payload: outcome.payload,
            ..Default::default()
        };
        let mut result_text = String::new();
        let abort = match outcome.result {
            Ok(data) => {
                if let Some(data) = data {
                    result_text = plain_text(&data);
                    if !req.silent {
                        let mut result = ExecuteResult::new(count, data);
                        result.transient = Some(Transient::default());
                        self.publish(result, msg);
                    }
                }
                false
            }
            Err(error) => {
                if !req.silent {
                    self.publish(error.clone(), msg);
                }
                reply.status = ReplyStatus::Error;
                reply.error = Some(Box::new(ReplyError {
                    ename: error.ename,
                    evalue: error.evalue,
                    traceback: error.traceback,
                }));
                req.stop_on_error
            }
        };
        if store {
            self.history
                .add(self.execution_count, &req.code, &result_text);
        }
        if abort {
            self.take_queued(reader).await;
        }
        self.reply(reply, msg).await;
    }

    /// After a failed cell with `stop_on_error`, and before its reply leaves (so a client that
    /// waits for the reply is never affected), takes the execute requests already queued; they
    /// are answered with `aborted` after this cell, as ipykernel does. Other requests wait.
    async fn take_queued(&mut self, reader: &mut RouterRecvConnection) {
        let window = Duration::from_millis(5);
        let mut queued: VecDeque<Incoming> = std::mem::take(&mut self.pending);
        while let Ok(Ok(incoming)) =
            tokio::time::timeout(window, connection::recv(reader, "shell")).await
        {
            queued.push_back(incoming);
        }
        for incoming in queued {
            match incoming.msg.content {
                JupyterMessageContent::ExecuteRequest(_) => self.to_abort.push(incoming),
                _ => self.pending.push_back(incoming),
            }
        }
    }

    async fn abort(&mut self, msg: &JupyterMessage) {
        self.publish(Status::busy(), msg);
        let reply = ExecuteReply {
            status: ReplyStatus::Aborted,
            execution_count: ExecutionCount::new(self.execution_count),
            user_expressions: Some(HashMap::new()),
            ..Default::default()
        };
        self.reply(reply, msg).await;
        self.publish(Status::idle(), msg);
    }
}

fn plain_text(data: &Media) -> String {
    data.content
        .iter()
        .find_map(|m| match m {
            MediaType::Plain(text) => Some(text.clone()),
            _ => None,
        })
        .unwrap_or_default()
}
