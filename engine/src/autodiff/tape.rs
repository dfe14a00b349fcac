//! The tape: the recorded ops (each an [`OpNode`] with its output), plus the set of tracked
//! tensor ids. A tape is a [`Recorder`]: `dispatch::apply` hands it every op of the process, and
//! it keeps the differentiable ones of its own thread that touch a tracked tensor.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use super::backward::{backward, records};
use super::{GradientSources, UnconnectedGradients, Variable};
use crate::tensor::dispatch::{add_recorder, remove_recorder, RecordedOp, Recorder};
use crate::tensor::op::OpNode;
use crate::tensor::Tensor;

struct Node {
    node: Arc<OpNode>,
    /// The op's output (backward rules of exp, sqrt, max, ... use it).
    output: Tensor,
}

struct TapeData {
    recording: bool,
    persistent: bool,
    watch_accessed_variables: bool,
    used: bool,
    nodes: Vec<Node>,
    tracked: HashSet<u64>,
    watched_variables: Vec<Tensor>,
}

struct TapeInner {
    /// The thread that made the tape: like TF's, a tape records only its own thread's ops (a
    /// data pipeline's worker threads computing on variables never land on a training tape).
    thread: std::thread::ThreadId,
    data: Mutex<TapeData>,
}

impl TapeInner {
    fn lock(&self) -> MutexGuard<'_, TapeData> {
        self.data.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Recorder for TapeInner {
    /// Keeps the op when it is differentiable and one of its float inputs is tracked (watched,
    /// a trainable variable read while `watch_accessed_variables` is on, or a recorded output).
    fn record(&self, seen: &RecordedOp<'_>) {
        if !records(seen.op(), seen.inputs(), seen.output())
            || std::thread::current().id() != self.thread
        {
            return;
        }
        let mut d = self.lock();
        if !d.recording {
            return;
        }
        let mut hit = false;
        for x in seen.inputs().iter().filter(|x| x.dtype().is_float()) {
            if d.tracked.contains(&x.id()) {
                hit = true;
            } else if d.watch_accessed_variables && x.is_trainable_variable() {
                d.tracked.insert(x.id());
                d.watched_variables.push((*x).clone());
                hit = true;
            }
        }
        if hit {
            d.nodes.push(Node {
                node: seen.node(),
                output: seen.output().clone(),
            });
            d.tracked.insert(seen.output().id());
        }
    }
    fn watches_current_thread(&self) -> bool {
        std::thread::current().id() == self.thread
    }
}

/// Records operations for automatic differentiation, like `tf.GradientTape`: the ops of the
/// thread that created it, while it exists.
///
/// ```
/// use ferrolab::prelude::*;
/// let x = tensor(3.0);
/// let tape = GradientTape::new();
/// tape.watch(&x);
/// let y = &x * &x;                    // y = x^2  =>  dy/dx = 2x = 6
/// let [dy] = tape.gradient(&y, [&x]);
/// assert_eq!(dy.unwrap().item(), 6.0);
/// ```
pub struct GradientTape {
    inner: Arc<TapeInner>,
    /// Our id in the process's recorder list.
    recorder: u64,
}

impl GradientTape {
    /// A tape that records until dropped and can compute one gradient.
    pub fn new() -> GradientTape {
        Self::build(false)
    }
    /// A tape whose `gradient` can be called many times (`persistent=True`).
    pub fn persistent() -> GradientTape {
        Self::build(true)
    }
    fn build(persistent: bool) -> GradientTape {
        let inner = Arc::new(TapeInner {
            thread: std::thread::current().id(),
            data: Mutex::new(TapeData {
                recording: true,
                persistent,
                watch_accessed_variables: true,
                used: false,
                nodes: Vec::new(),
                tracked: HashSet::new(),
                watched_variables: Vec::new(),
            }),
        });
        let recorder = add_recorder(inner.clone());
        GradientTape { inner, recorder }
    }

    /// Builder: whether trainable variables read under this tape are watched automatically.
    pub fn watch_accessed_variables(self, on: bool) -> GradientTape {
        self.inner.lock().watch_accessed_variables = on;
        self
    }

    /// Starts tracking a tensor (a constant or a non-trainable variable).
    pub fn watch(&self, x: impl AsRef<Tensor>) {
        let x = x.as_ref();
        let mut d = self.inner.lock();
        if d.tracked.insert(x.id()) && x.0.var.is_some() {
            d.watched_variables.push(x.clone());
        }
    }

    /// The variables this tape has watched, in the order it saw them (`tape.watched_variables()`),
    /// each with its name: `tape.watched_variables()[0].name()`.
    pub fn watched_variables(&self) -> Vec<Variable> {
        self.inner
            .lock()
            .watched_variables
            .iter()
            .filter_map(Variable::from_handle)
            .collect()
    }

    /// Pauses recording until the guard is dropped (`with tape.stop_recording():`).
    pub fn stop_recording(&self) -> RecordingPaused<'_> {
        let was = std::mem::replace(&mut self.inner.lock().recording, false);
        RecordingPaused { tape: self, was }
    }

    /// Bytes of the activations this tape holds for the backward pass (for memory comparisons,
    /// e.g. float32 against mixed precision): every distinct storage that a recorded op keeps as
    /// an input or output, counted once, variables excluded (they exist without the tape).
    pub fn saved_bytes(&self) -> usize {
        let d = self.inner.lock();
        let mut seen = HashSet::new();
        let mut total = 0;
        let all = d
            .nodes
            .iter()
            .flat_map(|n| n.node.inputs.iter().chain(std::iter::once(&n.output)));
        for t in all {
            if t.0.var.is_some() || !seen.insert(Arc::as_ptr(&t.0.storage) as usize) {
                continue;
            }
            total += t.storage().elem_count() * t.dtype().size_in_bytes();
        }
        total
    }

    /// Forgets everything recorded so far (`tape.reset()`).
    pub fn reset(&self) {
        let mut d = self.inner.lock();
        d.nodes.clear();
        d.tracked.clear();
        d.watched_variables.clear();
        d.used = false;
        d.recording = true;
    }

    /// d(target)/d(source) for each source; `None` where the target does not depend on it.
    /// For a non-scalar target, this is the gradient of its sum, as in TF.
    ///
    /// The sources come in any form a TF2 learner writes, and the gradients come back in the
    /// same form, owned (see [`GradientSources`]): `[&w, &b]` gives `[Option<Tensor>; 2]`,
    /// `&vars` (a `Vec<Variable>` such as `model.trainable_weights()`, or a slice) gives a
    /// `Vec<Option<Tensor>>`, and one `&x` gives one `Option<Tensor>`.
    #[track_caller]
    pub fn gradient<S: GradientSources>(&self, target: &Tensor, sources: S) -> S::Grads {
        self.gradient_with(target, sources, UnconnectedGradients::None)
    }

    /// [`gradient`](Self::gradient) with TF's `unconnected_gradients` option:
    /// `UnconnectedGradients::Zero` gives zeros (of the source's shape) instead of `None` for a
    /// source the target does not depend on.
    #[track_caller]
    pub fn gradient_with<S: GradientSources>(
        &self,
        target: &Tensor,
        sources: S,
        unconnected: UnconnectedGradients,
    ) -> S::Grads {
        let refs = sources.source_tensors();
        let mut grads = self.gradient_vec(target, &refs);
        if unconnected == UnconnectedGradients::Zero {
            for (g, s) in grads.iter_mut().zip(&refs) {
                if g.is_none() {
                    *g = Some(s.stop_gradient().zeros_like());
                }
            }
        }
        S::wrap(grads)
    }

    /// [`gradient`](Self::gradient) for a slice of sources (e.g. a model's weights).
    #[track_caller]
    pub fn gradient_vec(&self, target: &Tensor, sources: &[&Tensor]) -> Vec<Option<Tensor>> {
        // Only tracked tensors (watched, or outputs of recorded ops) get a gradient, as in TF:
        // an unwatched constant that fed a recorded op still gets None.
        let tracked_sources: Vec<bool>;
        let nodes: Vec<(Arc<OpNode>, Tensor)> = {
            let mut d = self.inner.lock();
            if d.used && !d.persistent {
                panic!(
                    "GradientTape.gradient can only be called once on a non-persistent tape; \
                     use GradientTape::persistent() to call it several times"
                );
            }
            d.used = true;
            tracked_sources = sources
                .iter()
                .map(|s| d.tracked.contains(&s.id()))
                .collect();
            d.nodes
                .iter()
                .map(|n| (n.node.clone(), n.output.clone()))
                .collect()
        };
        // This tape must not record its own backward pass; outer tapes do (second derivatives).
        let was_recording = std::mem::replace(&mut self.inner.lock().recording, false);
        let mut grads: HashMap<u64, Tensor> = HashMap::new();
        if target.dtype().is_float() {
            grads.insert(target.id(), target.ones_like());
        }
        for (node, output) in nodes.iter().rev() {
            let Some(g) = grads.get(&node.output).cloned() else {
                continue;
            };
            for (x, gi) in node.inputs.iter().zip(backward(node, output, &g)) {
                let Some(gi) = gi else { continue };
                let acc = match grads.remove(&x.id()) {
                    Some(prev) => &prev + &gi,
                    None => gi,
                };
                grads.insert(x.id(), acc);
            }
        }
        let out = sources
            .iter()
            .zip(&tracked_sources)
            .map(|(s, &tracked)| {
                if tracked {
                    grads.get(&s.id()).cloned()
                } else {
                    None
                }
            })
            .collect();
        let mut d = self.inner.lock();
        if d.persistent {
            d.recording = was_recording;
        } else {
            // A used non-persistent tape is done: free what it holds.
            d.nodes.clear();
            d.tracked.clear();
        }
        out
    }
}

impl Default for GradientTape {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for GradientTape {
    fn drop(&mut self) {
        remove_recorder(self.recorder);
    }
}

impl GradientTape {
    /// The ops this tape has recorded, in order (what `gradient` walks backwards).
    pub fn recorded_ops(&self) -> Vec<Arc<OpNode>> {
        self.inner
            .lock()
            .nodes
            .iter()
            .map(|n| n.node.clone())
            .collect()
    }
}

/// The recorded ops, e.g. `matmul (2,3)x(3,4) f32 -> add (2,4)+(4,) -> relu`: each op with its
/// input shapes, and the dtype after the first op and wherever it changes.
impl fmt::Display for GradientTape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut dtype = None;
        for (i, n) in self.recorded_ops().iter().enumerate() {
            if i > 0 {
                f.write_str(" -> ")?;
            }
            write!(f, "{n}")?;
            if dtype != Some(n.dtype) && !matches!(n.op, crate::tensor::Op::Cast(_)) {
                write!(f, " {}", n.dtype.rust_name())?;
            }
            dtype = Some(n.dtype);
        }
        Ok(())
    }
}

impl fmt::Debug for GradientTape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<GradientTape: {self}>")
    }
}

/// Guard returned by [`GradientTape::stop_recording`].
pub struct RecordingPaused<'a> {
    tape: &'a GradientTape,
    was: bool,
}

impl Drop for RecordingPaused<'_> {
    fn drop(&mut self) {
        self.tape.inner.lock().recording = self.was;
    }
}
