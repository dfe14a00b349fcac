//! The tracer: the second [`Recorder`] after the `GradientTape`. While a `function` traces, it
//! sees every op of the tracing thread and writes it down as a [`GraphOp`], naming each input by
//! its source: an argument of the call, an earlier op, a captured variable (by handle) or a
//! captured constant (by value).
//!
//! It records only; the closure runs eagerly as usual, so the first call's result is the eager
//! result. `record` runs under the recorder registry's lock, so it clones handles and nothing
//! more (no tensor ops).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;

use super::graph::{GraphOp, Node, Source};
use crate::tensor::dispatch::{add_recorder, remove_recorder, Effect, RecordedOp, Recorder};
use crate::tensor::Tensor;

#[derive(Default)]
struct TraceData {
    ops: Vec<GraphOp>,
    /// Tensor id -> the op that made it.
    made_by: HashMap<u64, usize>,
}

pub(crate) struct Tracer {
    thread: ThreadId,
    /// Tensor id -> argument index (the first, when one tensor is passed twice).
    inputs: HashMap<u64, usize>,
    data: Mutex<TraceData>,
}

impl Tracer {
    /// Where a tensor's value comes from, as far as this trace knows.
    fn source(&self, d: &TraceData, t: &Tensor) -> Source {
        if let Some(&i) = self.inputs.get(&t.id()) {
            Source::Input(i)
        } else if let Some(&i) = d.made_by.get(&t.id()) {
            Source::Node(i)
        } else if t.0.var.is_some() {
            Source::Variable(t.clone())
        } else {
            Source::Constant(t.clone())
        }
    }
}

impl Tracer {
    /// Appends a node; `out` is the tensor it made, if any.
    fn push(&self, op: Node, inputs: &[&Tensor], like: &Tensor, out: Option<&Tensor>) {
        let mut d = self.data.lock().unwrap_or_else(|e| e.into_inner());
        let inputs = inputs.iter().map(|t| self.source(&d, t)).collect();
        let index = d.ops.len();
        d.ops.push(GraphOp {
            op,
            inputs,
            shape: like.shape().clone(),
            dtype: like.dtype(),
        });
        if let Some(out) = out {
            d.made_by.insert(out.id(), index);
        }
    }
}

impl Recorder for Tracer {
    fn record(&self, seen: &RecordedOp<'_>) {
        if std::thread::current().id() != self.thread {
            return;
        }
        let out = seen.output();
        self.push(Node::Op(seen.op().clone()), seen.inputs(), out, Some(out));
    }
    fn effect(&self, e: &Effect<'_>) {
        if std::thread::current().id() != self.thread {
            return;
        }
        match e {
            Effect::Random { dist, seed, output } => {
                let node = Node::Random {
                    dist: *dist,
                    seed: *seed,
                    device: output.device(),
                };
                self.push(node, &[], output, Some(output));
            }
            Effect::Assign { var, value } => self.push(Node::Assign, &[var, value], var, None),
            Effect::Update {
                var,
                grad,
                slots,
                rule,
            } => {
                let mut ins = vec![*var, *grad];
                ins.extend(slots.iter().copied());
                self.push(Node::Update((*rule).clone()), &ins, var, None);
            }
            Effect::Count(c) => {
                let mut d = self.data.lock().unwrap_or_else(|e| e.into_inner());
                d.ops.push(GraphOp {
                    op: Node::Count((*c).clone()),
                    inputs: Vec::new(),
                    shape: crate::shape::Shape(vec![]),
                    dtype: crate::dtype::DType::I64,
                });
            }
        }
    }
    fn watches_current_thread(&self) -> bool {
        std::thread::current().id() == self.thread
    }
}

/// An active trace: records until [`finish`](Self::finish) or drop (also while unwinding from
/// a panic in the closure, so a failed trace leaves no recorder behind).
pub struct Trace {
    tracer: Arc<Tracer>,
    id: Option<u64>,
}

impl Trace {
    /// Starts recording the current thread's ops, with `args` as the graph's inputs.
    pub(crate) fn start(args: &[Tensor]) -> Trace {
        let mut inputs = HashMap::new();
        for (i, a) in args.iter().enumerate() {
            inputs.entry(a.id()).or_insert(i);
        }
        let tracer = Arc::new(Tracer {
            thread: std::thread::current().id(),
            inputs,
            data: Mutex::new(TraceData::default()),
        });
        let id = Some(add_recorder(tracer.clone()));
        Trace { tracer, id }
    }

    /// Stops recording; the recorded ops and the source of `output`.
    pub(crate) fn finish(mut self, outputs: &[Tensor]) -> (Vec<GraphOp>, Vec<Source>) {
        if let Some(id) = self.id.take() {
            remove_recorder(id);
        }
        let mut d = self.tracer.data.lock().unwrap_or_else(|e| e.into_inner());
        let out = outputs.iter().map(|o| self.tracer.source(&d, o)).collect();
        (std::mem::take(&mut d.ops), out)
    }
}

impl Drop for Trace {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            remove_recorder(id);
        }
    }
}
