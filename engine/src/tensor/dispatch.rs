//! `apply`: the one door every op goes through.
//!
//! `apply(op, inputs)`:
//! 0. under an autocast scope (mixed precision), reads float variables in the compute dtype;
//! 1. checks devices and infers the output's shape and dtype ([`Op::infer`], which also checks
//!    dtypes, so errors name the op);
//! 2. runs the op on the inputs' storage, or, when an input is symbolic (shape only), makes a
//!    symbolic output without running anything;
//! 3. wraps the result (a fresh tensor, or a view over the input's storage);
//! 4. hands an [`OpNode`] to every active [`Recorder`] (the `GradientTape` is one).
//!
//! With no recorder active, step 4 is one atomic load.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::op::{slice_layout, Op, OpNode};
use super::Tensor;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::{Layout, Shape};
use crate::storage::{MetaStorage, Storage, UpdateRule};

/// Something that watches ops as they run: the `GradientTape`, and later a tracer.
///
/// `record` is called on the thread that ran the op, while the registry's lock is held: it must
/// not run tensor ops itself. It looks at the op cheaply and takes the [`OpNode`] only when it
/// keeps it (the node is built once, for the first recorder that asks).
pub trait Recorder: Send + Sync {
    fn record(&self, op: &RecordedOp<'_>);
    /// Whether ops run on the current thread may be kept (tapes and tracers keep only their
    /// own thread's ops); [`recording`] asks it.
    fn watches_current_thread(&self) -> bool {
        true
    }
    /// A stateful event that is not an [`Op`]: a random draw, a variable update, a step count.
    /// The tracer records them so a replay repeats them; the tape ignores them (the default).
    fn effect(&self, _effect: &Effect<'_>) {}
}

/// The attributes of a random draw (`uniform`, `normal`): a replay draws again with them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RandomDist {
    Uniform { lo: f32, hi: f32 },
    Normal { mean: f32, std: f32 },
}

/// An optimizer update's rule, read when the update runs: a replayed train step reads the
/// learning rate and step number of the replay, not those of the trace.
pub type RuleSource = Arc<dyn Fn() -> UpdateRule + Send + Sync>;

/// Stateful events recorders may keep (see [`Recorder::effect`]), reported by the code that
/// runs them, after they ran.
pub enum Effect<'a> {
    /// `output` was drawn from `dist` (`seed: None`: the op seed came from the global generator).
    Random {
        dist: RandomDist,
        seed: Option<u64>,
        output: &'a Tensor,
    },
    /// `var.assign(value)`.
    Assign { var: &'a Tensor, value: &'a Tensor },
    /// `var.fused_update(grad, slots, rule())`: one fused optimizer update.
    Update {
        var: &'a Tensor,
        grad: &'a Tensor,
        slots: &'a [&'a Tensor],
        rule: &'a RuleSource,
    },
    /// A step counter (an optimizer's `iterations`) was bumped by one.
    Count(&'a Arc<AtomicU64>),
}

/// Hands `e` to every active recorder (one atomic load when there is none).
pub fn record_effect(e: &Effect<'_>) {
    let reg = recorders();
    if reg.active.load(Ordering::Acquire) == 0 {
        return;
    }
    let list = reg.list.lock().unwrap_or_else(|e| e.into_inner());
    for (_, r) in list.iter() {
        r.effect(e);
    }
}

/// An op that just ran, as recorders see it.
pub struct RecordedOp<'a> {
    op: &'a Op,
    inputs: &'a [&'a Tensor],
    output: &'a Tensor,
    node: OnceCell<Arc<OpNode>>,
}

impl RecordedOp<'_> {
    pub fn op(&self) -> &Op {
        self.op
    }
    pub fn inputs(&self) -> &[&Tensor] {
        self.inputs
    }
    pub fn output(&self) -> &Tensor {
        self.output
    }
    /// The op as data (built on the first call, then shared).
    pub fn node(&self) -> Arc<OpNode> {
        self.node
            .get_or_init(|| {
                Arc::new(OpNode {
                    op: self.op.clone(),
                    inputs: self.inputs.iter().map(|t| (*t).clone()).collect(),
                    output: self.output.id(),
                    shape: self.output.shape().clone(),
                    dtype: self.output.dtype(),
                })
            })
            .clone()
    }
}

/// The live recorders of the process (in the process-wide state, so a tape made in one
/// notebook cell sees the ops of the next).
#[derive(Default)]
pub struct Recorders {
    active: AtomicUsize,
    next: AtomicU64,
    list: Mutex<Vec<(u64, Arc<dyn Recorder>)>>,
}

fn recorders() -> &'static Recorders {
    crate::state::slot!("tensor.recorders", Recorders, Recorders::default)
}

/// Starts handing ops to `r`; returns the id to stop with [`remove_recorder`].
pub fn add_recorder(r: Arc<dyn Recorder>) -> u64 {
    let reg = recorders();
    let id = reg.next.fetch_add(1, Ordering::Relaxed);
    reg.list
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((id, r));
    reg.active.fetch_add(1, Ordering::AcqRel);
    id
}

/// Stops handing ops to the recorder `id`.
pub fn remove_recorder(id: u64) {
    let reg = recorders();
    let mut list = reg.list.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(i) = list.iter().position(|(k, _)| *k == id) {
        list.remove(i);
        reg.active.fetch_sub(1, Ordering::AcqRel);
    }
}

/// True while some recorder (a tape, a tracer) would keep this thread's ops: a replay that
/// bypasses `apply` (fusion) must not run then.
pub fn recording() -> bool {
    let reg = recorders();
    if reg.active.load(Ordering::Acquire) == 0 {
        return false;
    }
    let list = reg.list.lock().unwrap_or_else(|e| e.into_inner());
    list.iter().any(|(_, r)| r.watches_current_thread())
}

/// What running an op produced: fresh storage, or a view of the first input.
enum Out {
    Fresh(Storage),
    View(Layout),
}

/// Runs `op` on `inputs` (see the module docs). Panicking ops wrap this in `or_panic`.
pub fn apply(op: Op, inputs: &[&Tensor]) -> Result<Tensor> {
    let first = inputs
        .first()
        .ok_or_else(|| crate::error::invalid(op.name(), "needs at least one input"))?;
    let device = first.device();
    if !matches!(op, Op::ToDevice(_)) {
        if let Some(t) = inputs.iter().find(|t| t.device() != device) {
            return Err(Error::DeviceMismatch {
                op: op.name(),
                lhs: device,
                rhs: t.device(),
            });
        }
    }
    // Autocast (mixed precision): inside a layer with a 16-bit policy, float variables are read
    // in the compute dtype (see `autocast.rs`).
    if !matches!(op, Op::Cast(_) | Op::ToDevice(_)) {
        if let Some(cast) = super::autocast::cast_variables(inputs) {
            return apply(op, &cast.iter().collect::<Vec<_>>());
        }
    }
    let (shape, dtype) = infer(&op, inputs)?;
    // Every op is an interrupt point (one atomic load; see `state::check_cancel`).
    crate::state::check_cancel();
    let out_device = match op {
        Op::ToDevice(d) => d,
        _ => device,
    };
    let out = if inputs.iter().any(|t| t.is_symbolic()) {
        Tensor::from_storage(
            Storage::Meta(MetaStorage {
                dtype,
                device: out_device,
            }),
            shape,
        )
    } else {
        match execute(&op, inputs, &shape, dtype)? {
            Out::Fresh(s) => Tensor::from_storage(s, shape),
            Out::View(l) => first.with_layout(l),
        }
    };
    let reg = recorders();
    if reg.active.load(Ordering::Acquire) != 0 {
        let seen = RecordedOp {
            op: &op,
            inputs,
            output: &out,
            node: OnceCell::new(),
        };
        let list = reg.list.lock().unwrap_or_else(|e| e.into_inner());
        for (_, r) in list.iter() {
            r.record(&seen);
        }
    }
    Ok(out)
}

/// [`Op::infer`] on tensors, without allocating for the usual one to three inputs.
fn infer(op: &Op, inputs: &[&Tensor]) -> Result<(Shape, DType)> {
    if inputs.len() <= 3 {
        let mut buf: [(&[usize], DType); 3] = [(&[], DType::F32); 3];
        for (b, t) in buf.iter_mut().zip(inputs) {
            *b = (t.dims(), t.dtype());
        }
        op.infer(&buf[..inputs.len()])
    } else {
        let v: Vec<(&[usize], DType)> = inputs.iter().map(|t| (t.dims(), t.dtype())).collect();
        op.infer(&v)
    }
}

/// `t`'s layout broadcast to `shape`: borrowed as it is when the shapes already agree (the
/// common case: no allocation).
fn bcast<'a>(t: &'a Tensor, shape: &Shape) -> Result<Cow<'a, Layout>> {
    if t.dims() == shape.dims() {
        Ok(Cow::Borrowed(t.layout()))
    } else {
        Ok(Cow::Owned(t.layout().broadcast_as(shape)?))
    }
}

/// Runs `f` on the storages of `a` and `b`, reading a shared storage only once.
fn with_two<R>(a: &Tensor, b: &Tensor, f: impl FnOnce(&Storage, &Storage) -> R) -> R {
    let sa = a.storage();
    if a.shares_storage_with(b) {
        return f(&sa, &sa);
    }
    let sb = b.storage();
    f(&sa, &sb)
}

fn execute(op: &Op, ins: &[&Tensor], shape: &Shape, dtype: DType) -> Result<Out> {
    let x = ins[0];
    let l0 = x.layout();
    let fresh = |s: Result<Storage>| s.map(Out::Fresh);
    match op {
        Op::Unary(u) => fresh(x.storage().unary(l0, *u)),
        Op::Binary(b) => {
            let (la, lb) = (bcast(x, shape)?, bcast(ins[1], shape)?);
            fresh(with_two(x, ins[1], |p, q| p.binary(&la, q, &lb, *b)))
        }
        Op::Compare(c) => {
            let (la, lb) = (bcast(x, shape)?, bcast(ins[1], shape)?);
            fresh(with_two(x, ins[1], |p, q| p.cmp(&la, q, &lb, *c)))
        }
        Op::Reduce { op, axes, .. } => fresh(x.storage().reduce(l0, axes, *op)),
        Op::Matmul => {
            let (a, b) = (x, ins[1]);
            let r = shape.rank();
            let batch = &shape.dims()[..r - 2];
            let with = |p: usize, q: usize| Shape([batch, &[p, q]].concat());
            let k = a.dims()[a.rank() - 1];
            let la = a.layout().broadcast_as(&with(shape.dims()[r - 2], k))?;
            let lb = b.layout().broadcast_as(&with(k, shape.dims()[r - 1]))?;
            fresh(with_two(a, b, |p, q| p.matmul(&la, q, &lb)))
        }
        Op::Where => {
            let (c, t, f) = (x, ins[1], ins[2]);
            let (lc, lt, lf) = (bcast(c, shape)?, bcast(t, shape)?, bcast(f, shape)?);
            let sc = c.storage();
            fresh(with_two(t, f, |st, sf| {
                sc.where_cond(&lc, st, &lt, sf, &lf)
            }))
        }
        Op::Cast(d) => fresh(x.storage().cast(l0, *d)),
        Op::Reshape(s) => {
            if !l0.is_contiguous() {
                return Err(crate::error::invalid(
                    "reshape",
                    "a view needs a contiguous input; copy it first",
                ));
            }
            Ok(Out::View(Layout {
                strides: s.contiguous_strides(),
                shape: s.clone(),
                offset: l0.offset,
            }))
        }
        Op::Permute(p) => Ok(Out::View(Layout {
            shape: Shape(p.iter().map(|&i| l0.dims()[i]).collect()),
            strides: p.iter().map(|&i| l0.strides[i]).collect(),
            offset: l0.offset,
        })),
        Op::Slice(axes) => Ok(Out::View(slice_layout(l0, axes))),
        Op::BroadcastTo(s) => Ok(Out::View(l0.broadcast_as(s)?)),
        Op::StopGradient => Ok(Out::View(l0.clone())),
        Op::Copy => fresh(x.storage().copy_strided(l0)),
        Op::ToDevice(d) => fresh(x.storage().to_device(l0, *d)),
        Op::IndexSelect { axis } => {
            let ids = ins[1];
            fresh(with_two(x, ids, |p, i| {
                p.index_select(l0, i, ids.layout(), *axis)
            }))
        }
        Op::IndexAdd { axis, shape } => {
            let ids = ins[1];
            let mut s = Storage::zeros(shape, dtype, x.device())?;
            with_two(x, ids, |src, i| {
                s.index_add(shape, i, ids.layout(), src, l0, *axis)
            })?;
            Ok(Out::Fresh(s))
        }
        Op::Concat { axis } => {
            let a = *axis;
            let mut s = Storage::zeros(shape, dtype, x.device())?;
            let full = Layout::contiguous(shape.clone());
            let mut start = 0;
            for t in ins {
                let mut region = full.clone();
                region.shape.0[a] = t.dims()[a];
                region.offset = start * full.strides[a];
                s.copy_into(&region, &t.storage(), t.layout())?;
                start += t.dims()[a];
            }
            Ok(Out::Fresh(s))
        }
        Op::Im2Col(p) => fresh(x.storage().im2col(l0, p)),
        Op::Col2Im(p) => fresh(x.storage().col2im(l0, p)),
        Op::Embed { full, slice } => {
            let mut s = Storage::zeros(full, dtype, x.device())?;
            let rel = slice_layout(&Layout::contiguous(full.clone()), slice);
            s.copy_into(&rel, &x.storage(), l0)?;
            Ok(Out::Fresh(s))
        }
    }
}
