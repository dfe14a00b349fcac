//! The tape: a list of recorded ops, each with the ids of its inputs and output and a backward
//! rule, plus the set of tracked tensor ids.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::tensor::Tensor;

/// Maps the gradient of an op's output to the gradients of its inputs (None: no gradient).
pub(crate) type BackwardFn = Arc<dyn Fn(&Tensor) -> Vec<Option<Tensor>> + Send + Sync>;

struct Node {
    op: &'static str,
    inputs: Vec<u64>,
    output: u64,
    backward: BackwardFn,
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

/// All live tapes of the process. `active` is the fast path: no tape, no recording cost.
#[derive(Default)]
pub(crate) struct TapeRegistry {
    active: AtomicUsize,
    tapes: Mutex<Vec<Arc<TapeInner>>>,
}

fn registry() -> &'static TapeRegistry {
    &crate::state::global().tapes
}

/// Records `out = op(inputs)` on every recording tape that tracks one of the inputs.
/// `backward` is only built when some tape needs it.
pub(crate) fn record(
    op: &'static str,
    inputs: &[&Tensor],
    out: &Tensor,
    backward: impl FnOnce() -> BackwardFn,
) {
    let reg = registry();
    if reg.active.load(Ordering::Acquire) == 0 || !out.dtype().is_float() {
        return;
    }
    let me = std::thread::current().id();
    let tapes = reg.tapes.lock().unwrap_or_else(|e| e.into_inner());
    let mut rule: Option<BackwardFn> = None;
    let mut backward = Some(backward);
    for tape in tapes.iter() {
        if tape.thread != me {
            continue;
        }
        let mut d = tape.lock();
        if !d.recording {
            continue;
        }
        let mut hit = false;
        for x in inputs {
            if d.tracked.contains(&x.id()) {
                hit = true;
            } else if d.watch_accessed_variables && x.is_trainable_variable() {
                d.tracked.insert(x.id());
                d.watched_variables.push((*x).clone());
                hit = true;
            }
        }
        if !hit {
            continue;
        }
        let f = rule.get_or_insert_with(|| (backward.take().expect("built once"))());
        d.nodes.push(Node {
            op,
            inputs: inputs.iter().map(|x| x.id()).collect(),
            output: out.id(),
            backward: f.clone(),
        });
        d.tracked.insert(out.id());
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
        let reg = registry();
        reg.tapes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(inner.clone());
        reg.active.fetch_add(1, Ordering::AcqRel);
        GradientTape { inner }
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

    /// The variables this tape has watched, in the order it saw them.
    pub fn watched_variables(&self) -> Vec<Tensor> {
        self.inner.lock().watched_variables.clone()
    }

    /// Pauses recording until the guard is dropped (`with tape.stop_recording():`).
    pub fn stop_recording(&self) -> RecordingPaused<'_> {
        let was = std::mem::replace(&mut self.inner.lock().recording, false);
        RecordingPaused { tape: self, was }
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
    #[track_caller]
    pub fn gradient<S: AsRef<Tensor>, const N: usize>(
        &self,
        target: &Tensor,
        sources: [S; N],
    ) -> [Option<Tensor>; N] {
        let refs: Vec<&Tensor> = sources.iter().map(|s| s.as_ref()).collect();
        let mut v = self.gradient_vec(target, &refs).into_iter();
        std::array::from_fn(|_| v.next().flatten())
    }

    /// [`gradient`](Self::gradient) for a slice of sources (e.g. a model's weights).
    #[track_caller]
    pub fn gradient_vec(&self, target: &Tensor, sources: &[&Tensor]) -> Vec<Option<Tensor>> {
        // Only tracked tensors (watched, or outputs of recorded ops) get a gradient, as in TF:
        // an unwatched constant that fed a recorded op still gets None.
        let tracked_sources: Vec<bool>;
        let nodes: Vec<(Vec<u64>, u64, BackwardFn, &'static str)> = {
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
                .map(|n| (n.inputs.clone(), n.output, n.backward.clone(), n.op))
                .collect()
        };
        // This tape must not record its own backward pass; outer tapes do (second derivatives).
        let was_recording = std::mem::replace(&mut self.inner.lock().recording, false);
        let mut grads: HashMap<u64, Tensor> = HashMap::new();
        if target.dtype().is_float() {
            grads.insert(target.id(), target.ones_like());
        }
        for (inputs, output, backward, _op) in nodes.iter().rev() {
            let Some(g) = grads.get(output).cloned() else {
                continue;
            };
            for (id, gi) in inputs.iter().zip(backward(&g)) {
                let Some(gi) = gi else { continue };
                let acc = match grads.remove(id) {
                    Some(prev) => &prev + &gi,
                    None => gi,
                };
                grads.insert(*id, acc);
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
        let reg = registry();
        let mut tapes = reg.tapes.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = tapes.iter().position(|t| Arc::ptr_eq(t, &self.inner)) {
            tapes.swap_remove(i);
            reg.active.fetch_sub(1, Ordering::AcqRel);
        }
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
