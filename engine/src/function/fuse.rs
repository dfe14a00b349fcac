//! CPU fusion for `jit_compile(true)`: maximal runs of float32 elementwise ops in a traced
//! graph, with reductions over the last axis among them, run as one pass over the data instead
//! of one pass (and one allocation) per op.
//!
//! A fused group is a small program over registers. Two ways to walk the data:
//! - flat: every op has the group's shape; the data is cut into chunks of [`CHUNK`] elements
//!   (4 KiB, so a group's registers stay in L1);
//! - by rows: the group reduces over the last axis (`sum`, `max`, `min` with a trailing axis,
//!   as in layer normalisation's mean and variance or softmax's max and sum). A row of the
//!   group's shape `(.., C)` is one chunk; values of shape `(.., 1)` (a row's mean) are
//!   registers of width 1, broadcast over the row where a full-width op reads them. Layer
//!   normalisation then reads each row once and writes it once.
//!
//! The group's external inputs are loaded per chunk (a contiguous slice read in place, a
//! broadcast scalar filled once, any other broadcast walked block by block), an interpreter loop
//! runs each instruction over the whole chunk (a tight loop that the compiler vectorises) and
//! the outputs the rest of the graph needs are written out. The op list is the code generator's
//! input; nothing is compiled at run time on the CPU. The CUDA backend turns the same groups
//! into one NVRTC kernel each (`storage/cuda/fused.rs`).
//!
//! What this file is not: a general compiler. Only float32 `Unary` and `Binary` ops and
//! last-axis `sum`/`max`/`min` fuse; matmul, views, casts, comparisons, other dtypes and the
//! erf family run through `dispatch::apply` as in a plain replay. A group runs only when no
//! recorder (a `GradientTape`) is active; otherwise the plain replay runs.

use std::sync::RwLockReadGuard;

use super::graph::{Graph, GraphOp, Source};
use crate::dtype::DType;
use crate::shape::Shape;
use crate::storage::cuda::fused::{FInstr, FReg, FusedProgram};
use crate::storage::{BinaryOp, CpuStorage, ReduceOp, Storage, UnaryOp};
use crate::tensor::{Op, Tensor};

/// Elements per chunk: 1024 f32 = 4 KiB per register.
pub const CHUNK: usize = 1024;

/// Where an instruction reads from: an external input of the group, or an earlier instruction.
#[derive(Clone, Copy, Debug)]
pub enum Reg {
    Ext(usize),
    Tmp(usize),
}

#[derive(Clone, Debug)]
pub enum Instr {
    Unary(UnaryOp, Reg),
    Binary(BinaryOp, Reg, Reg),
    /// A reduction of a full-width register over the row (last axis): width 1.
    Reduce(ReduceOp, Reg),
}

/// One fused group: graph ops `first..=last`, as a program over registers.
#[derive(Clone, Debug)]
pub struct Group {
    pub first: usize,
    pub last: usize,
    /// The full shape the group walks (the reductions' input shape when walked by rows).
    pub shape: Shape,
    /// Walked by rows of the last axis (the group reduces); flat chunks otherwise.
    pub rowwise: bool,
    /// The group's inputs, as sources of the graph.
    ext: Vec<SourceRef>,
    pub code: Vec<Instr>,
    /// Per instruction: full width (a whole row or chunk) or width 1 (one value per row).
    pub full: Vec<bool>,
    /// (instruction, graph op) pairs whose values are needed after the group.
    outputs: Vec<(usize, usize)>,
    /// The shapes of those values.
    out_shapes: Vec<Shape>,
}

/// A source without its tensor (the graph keeps it): `Input(i)`, `Node(i)`, or the index of a
/// captured tensor in the group's op's input list.
#[derive(Clone, Debug)]
enum SourceRef {
    Input(usize),
    Node(usize),
    Captured { op: usize, arg: usize },
}

/// A step of a fused replay: one graph op through `apply`, or a fused group.
#[derive(Clone, Debug)]
pub enum Step {
    Op(usize),
    Group(Group),
}

impl Group {
    /// (instruction, graph op) pairs whose values the rest of the graph reads.
    pub fn outputs(&self) -> &[(usize, usize)] {
        &self.outputs
    }
    /// How many graph ops the group runs in one pass.
    pub fn len(&self) -> usize {
        self.code.len()
    }
    pub fn is_empty(&self) -> bool {
        self.code.is_empty()
    }
}

fn fusable_unary(u: UnaryOp) -> bool {
    !matches!(
        u,
        UnaryOp::Gelu | UnaryOp::GeluGrad | UnaryOp::Erf | UnaryOp::LogicalNot
    )
}

/// The longest row a group walks by rows (registers of this many floats each).
pub const MAX_ROW: usize = 1 << 16;

/// `shape` with its last axis 1: the shape of a keepdims reduction over it.
fn keep_shape(shape: &Shape) -> Shape {
    let mut d = shape.dims().to_vec();
    if let Some(last) = d.last_mut() {
        *last = 1;
    }
    Shape(d)
}

/// How a graph op joins a group that walks `shape`: as a full-width op, a width-1 op (a
/// per-row value), or not at all. A reduction over the last axis gives width 1.
fn fit(g: &GraphOp, shape: &Shape) -> Option<bool> {
    if g.dtype != DType::F32 || shape.elem_count() == 0 {
        return None;
    }
    let elementwise = match g.op.op()? {
        Op::Unary(u) => fusable_unary(*u),
        Op::Binary(b) => !matches!(b, BinaryOp::LogicalAnd | BinaryOp::LogicalOr),
        Op::Reduce { op, axes, keepdims } => {
            let rank = shape.rank();
            let row = rank >= 1 && *axes == [rank - 1] && shape.dims()[rank - 1] <= MAX_ROW;
            let sum_like = matches!(op, ReduceOp::Sum | ReduceOp::Max | ReduceOp::Min);
            let out = if *keepdims {
                keep_shape(shape)
            } else {
                Shape(shape.dims()[..rank.saturating_sub(1)].to_vec())
            };
            // a reduction without keepdims ends a group (see `run_from`)
            return (row && sum_like && g.shape == out).then_some(false);
        }
        _ => false,
    };
    if !elementwise {
        None
    } else if &g.shape == shape {
        Some(true)
    } else if g.shape == keep_shape(shape) && shape.dims().last() <= Some(&MAX_ROW) {
        Some(false)
    } else {
        None
    }
}

/// The shape a group starting at op `g` walks: its output's, or a reduction's input's.
fn walk_shape(graph: &Graph, inputs: &[Shape], g: &GraphOp) -> Option<Shape> {
    match g.op.op()? {
        Op::Reduce { .. } => match &g.inputs[0] {
            Source::Node(j) => Some(graph.ops[*j].shape.clone()),
            Source::Input(k) => inputs.get(*k).cloned(),
            Source::Constant(t) | Source::Variable(t) => Some(t.shape().clone()),
        },
        _ => Some(g.shape.clone()),
    }
}

/// Splits a graph into steps: maximal runs of fusable ops become groups (a run of one op stays
/// a plain op: nothing to fuse). `inputs` are the shapes of the trace's arguments.
pub fn plan(graph: &Graph, inputs: &[Shape]) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut i = 0;
    while i < graph.ops.len() {
        let run = walk_shape(graph, inputs, &graph.ops[i])
            .map(|shape| run_from(graph, inputs, i, &shape));
        match run {
            Some((j, shape)) if j - i >= 2 => {
                if let Some(g) = group(graph, i, j - 1, shape) {
                    steps.push(Step::Group(g));
                    i = j;
                    continue;
                }
                steps.push(Step::Op(i));
                i += 1;
            }
            _ => {
                steps.push(Step::Op(i));
                i += 1;
            }
        }
    }
    steps
}

/// The end (exclusive) of the run of ops from `i` that fit a group walking `shape`.
fn run_from(graph: &Graph, inputs: &[Shape], i: usize, shape: &Shape) -> (usize, Shape) {
    let mut j = i;
    while j < graph.ops.len() {
        let g = &graph.ops[j];
        if fit(g, shape).is_none() {
            break;
        }
        // a reduction's input must be a full-width value of the walked shape
        if let Some(Op::Reduce { keepdims, .. }) = g.op.op() {
            let input_full = match &g.inputs[0] {
                Source::Node(k) => &graph.ops[*k].shape == shape,
                Source::Input(k) => inputs.get(*k) == Some(shape),
                Source::Constant(t) | Source::Variable(t) => t.shape() == shape,
            };
            if !input_full {
                break;
            }
            if !keepdims {
                j += 1; // its output (.., ) has no broadcast partner: the group ends here
                break;
            }
        }
        j += 1;
    }
    (j, shape.clone())
}

fn group(graph: &Graph, first: usize, last: usize, shape: Shape) -> Option<Group> {
    let mut ext: Vec<SourceRef> = Vec::new();
    let mut code = Vec::new();
    let mut full = Vec::new();
    let reg = |s: &Source, op: usize, arg: usize, ext: &mut Vec<SourceRef>| match s {
        Source::Node(j) if (first..=last).contains(j) => Reg::Tmp(j - first),
        Source::Node(j) => push_ext(ext, SourceRef::Node(*j)),
        Source::Input(k) => push_ext(ext, SourceRef::Input(*k)),
        Source::Constant(_) | Source::Variable(_) => {
            ext.push(SourceRef::Captured { op, arg });
            Reg::Ext(ext.len() - 1)
        }
    };
    let mut rowwise = false;
    for i in first..=last {
        let g = &graph.ops[i];
        let instr = match g.op.op()? {
            Op::Unary(u) => Instr::Unary(*u, reg(&g.inputs[0], i, 0, &mut ext)),
            Op::Binary(b) => {
                let a = reg(&g.inputs[0], i, 0, &mut ext);
                Instr::Binary(*b, a, reg(&g.inputs[1], i, 1, &mut ext))
            }
            Op::Reduce { op, .. } => {
                rowwise = true;
                Instr::Reduce(*op, reg(&g.inputs[0], i, 0, &mut ext))
            }
            _ => return None,
        };
        let f = fit(g, &shape)?;
        rowwise |= !f;
        code.push(instr);
        full.push(f);
    }
    let outputs: Vec<(usize, usize)> = (first..=last)
        .filter(|&i| {
            let lu = graph.last_use[i];
            (lu != usize::MAX && lu > last) || graph_output_is(graph, i)
        })
        .map(|i| (i - first, i))
        .collect();
    let out_shapes = outputs
        .iter()
        .map(|&(_, op)| graph.ops[op].shape.clone())
        .collect();
    Some(Group {
        out_shapes,
        first,
        last,
        shape,
        rowwise,
        ext,
        code,
        full,
        outputs,
    })
}

fn graph_output_is(graph: &Graph, i: usize) -> bool {
    graph
        .outputs
        .iter()
        .any(|o| matches!(o, Source::Node(k) if *k == i))
}

fn push_ext(ext: &mut Vec<SourceRef>, s: SourceRef) -> Reg {
    let same = |a: &SourceRef| match (a, &s) {
        (SourceRef::Input(x), SourceRef::Input(y)) | (SourceRef::Node(x), SourceRef::Node(y)) => {
            x == y
        }
        _ => false,
    };
    if let Some(k) = ext.iter().position(same) {
        return Reg::Ext(k);
    }
    ext.push(s);
    Reg::Ext(ext.len() - 1)
}

/// How one external input is read, chunk by chunk.
enum Load {
    /// A contiguous run of the storage starting at this offset.
    Slice(usize),
    /// One value everywhere.
    Scalar(f32),
    /// Runs `(start, len, stride)` in row-major order (a broadcast or a strided view).
    Blocks(Vec<(usize, usize, usize)>),
}

/// Runs a group; its output tensors, in the order of `Group::outputs`. `None` when an input is
/// not float32 CPU data or does not broadcast as the plan expects (the caller then runs the ops
/// one by one).
pub fn run_group(g: &Group, ext: &[Tensor]) -> Option<Vec<Tensor>> {
    let n = g.shape.elem_count();
    // a chunk: a row of the last axis (by rows) or CHUNK elements (flat)
    let row = if g.rowwise {
        *g.shape.dims().last()?
    } else {
        CHUNK
    };
    let keep = keep_shape(&g.shape);
    let guards: Vec<RwLockReadGuard<'_, Storage>> = ext.iter().map(|t| t.storage()).collect();
    let mut data: Vec<&[f32]> = Vec::with_capacity(ext.len());
    let mut loads = Vec::with_capacity(ext.len());
    // per input: full width, or one value per row (it broadcasts along the last axis)
    let mut ext_full = Vec::with_capacity(ext.len());
    if guards.iter().all(|s| matches!(&**s, Storage::Cuda(_))) {
        return run_group_cuda(g, ext, &guards);
    }
    for (t, s) in ext.iter().zip(&guards) {
        let Storage::Cpu(CpuStorage::F32(v)) = &**s else {
            return None;
        };
        let per_row = g.rowwise && row > 1 && t.layout().broadcast_as(&keep).is_ok();
        let target = if per_row { &keep } else { &g.shape };
        let l = if t.dims() == target.dims() {
            t.layout().clone()
        } else {
            t.layout().broadcast_as(target).ok()?
        };
        let load = if let Some((start, _)) = l.contiguous_range() {
            Load::Slice(start)
        } else if l.strides.iter().all(|&s| s == 0) {
            Load::Scalar(v[l.offset])
        } else {
            let mut blocks = Vec::new();
            l.for_each_block(|start, len, stride| blocks.push((start, len, stride)));
            Load::Blocks(blocks)
        };
        data.push(v.as_slice());
        loads.push(load);
        ext_full.push(!per_row);
    }
    // a reduction reads a full-width value (the plan checks it for graph values; an input
    // is checked here)
    for ins in &g.code {
        if let Instr::Reduce(_, Reg::Ext(k)) = ins {
            if !ext_full[*k] || ext[*k].dims() != g.shape.dims() {
                return None;
            }
        }
    }
    let width = |full: bool| if full { row } else { 1 };
    let mut outs: Vec<Vec<f32>> = g
        .outputs
        .iter()
        .map(|&(i, _)| alloc(if g.full[i] { n } else { n / row.max(1) }))
        .collect();
    let mut ext_regs: Vec<Vec<f32>> = ext_full.iter().map(|&f| vec![0f32; width(f)]).collect();
    let mut tmp: Vec<Vec<f32>> = g.full.iter().map(|&f| vec![0f32; width(f)]).collect();
    // block cursors of the `Blocks` loads: (block index, position inside it)
    let mut cursors = vec![(0usize, 0usize); ext.len()];
    for (k, load) in loads.iter().enumerate() {
        if let Load::Scalar(v) = load {
            ext_regs[k].fill(*v);
        }
    }
    let mut start = 0; // in elements of the full shape
    while start < n {
        let len = row.min(n - start);
        let r = start / row.max(1); // the row (by rows)
        for (k, load) in loads.iter().enumerate() {
            let w = if ext_full[k] { len } else { 1 };
            if let Load::Blocks(b) = load {
                fill_blocks(&mut ext_regs[k][..w], data[k], b, &mut cursors[k]);
            }
        }
        for (i, ins) in g.code.iter().enumerate() {
            let (done, rest) = tmp.split_at_mut(i);
            let dst = &mut rest[0][..if g.full[i] { len } else { 1 }];
            let read = |reg: Reg| -> &[f32] {
                match reg {
                    // a contiguous input is read in place, without a copy
                    Reg::Ext(k) => {
                        let (at, w) = if ext_full[k] { (start, len) } else { (r, 1) };
                        match loads[k] {
                            Load::Slice(off) => &data[k][off + at..off + at + w],
                            _ => &ext_regs[k][..w],
                        }
                    }
                    Reg::Tmp(t) => &done[t][..if g.full[t] { len } else { 1 }],
                }
            };
            match *ins {
                Instr::Unary(u, a) => unary(u, read(a), dst),
                Instr::Binary(b, a, c) => binary(b, read(a), read(c), dst),
                Instr::Reduce(op, a) => dst[0] = reduce_row(op, read(a)),
            }
        }
        for (o, &(ins, _)) in outs.iter_mut().zip(&g.outputs) {
            let w = if g.full[ins] { len } else { 1 };
            o.extend_from_slice(&tmp[ins][..w]);
        }
        start += len;
        if start % (CHUNK * 256) < len {
            crate::state::check_cancel();
        }
    }
    drop(guards);
    Some(
        outs.into_iter()
            .zip(g.out_shapes.iter().cloned())
            .map(|(v, s)| Tensor::from_storage(Storage::Cpu(CpuStorage::F32(v)), s))
            .collect(),
    )
}

impl Group {
    /// The group as the CUDA code generator's program (inputs in `ext` order).
    pub fn cuda_program(&self, dtype: DType) -> FusedProgram {
        let r = |reg: Reg| match reg {
            Reg::Ext(k) => FReg::In(k),
            Reg::Tmp(t) => FReg::Tmp(t),
        };
        let code = self
            .code
            .iter()
            .map(|ins| match *ins {
                Instr::Unary(u, a) => FInstr::Unary(u, r(a)),
                Instr::Binary(b, a, c) => FInstr::Binary(b, r(a), r(c)),
                Instr::Reduce(op, a) => FInstr::Reduce(op, r(a)),
            })
            .collect();
        FusedProgram {
            dtype,
            inputs: self.ext.len(),
            code,
            full: self.full.clone(),
            outputs: self.outputs.iter().map(|&(i, _)| i).collect(),
            rowwise: self.rowwise,
        }
    }
}

/// A group on CUDA tensors: one generated NVRTC kernel (`storage/cuda/fused.rs`). `None` (the
/// ops one by one) when an input does not broadcast to the group's shape.
fn run_group_cuda(
    g: &Group,
    ext: &[Tensor],
    guards: &[RwLockReadGuard<'_, Storage>],
) -> Option<Vec<Tensor>> {
    let dtype = ext.first()?.dtype();
    for ins in &g.code {
        if let Instr::Reduce(_, Reg::Ext(k)) = ins {
            if ext[*k].dims() != g.shape.dims() {
                return None;
            }
        }
    }
    let mut layouts = Vec::with_capacity(ext.len());
    for t in ext {
        if t.dtype() != dtype {
            return None;
        }
        layouts.push(t.layout().broadcast_as(&g.shape).ok()?);
    }
    let inputs: Vec<(&crate::storage::cuda::CudaStorage, &crate::shape::Layout)> = guards
        .iter()
        .zip(&layouts)
        .map(|(s, l)| match &**s {
            Storage::Cuda(c) => Some((c, l)),
            _ => None,
        })
        .collect::<Option<_>>()?;
    let cols = if g.rowwise {
        *g.shape.dims().last()?
    } else {
        1
    };
    let prog = g.cuda_program(dtype);
    let outs = crate::storage::cuda::fused::run(&prog, &inputs, g.shape.elem_count(), cols).ok()?;
    Some(
        outs.into_iter()
            .zip(g.out_shapes.iter().cloned())
            .map(|(s, shape)| Tensor::from_storage(Storage::Cuda(s), shape))
            .collect(),
    )
}

/// A row's sum (in f64, as the eager reduction, with four partial sums so it pipelines), max
/// or min.
fn reduce_row(op: ReduceOp, a: &[f32]) -> f32 {
    match op {
        ReduceOp::Sum => {
            let mut acc = [0f64; 4];
            let mut chunks = a.chunks_exact(4);
            for c in &mut chunks {
                for (s, &x) in acc.iter_mut().zip(c) {
                    *s += x as f64;
                }
            }
            let tail: f64 = chunks.remainder().iter().map(|&x| x as f64).sum();
            ((acc[0] + acc[1]) + (acc[2] + acc[3]) + tail) as f32
        }
        ReduceOp::Max => a.iter().copied().fold(f32::NEG_INFINITY, f32::max),
        ReduceOp::Min => a.iter().copied().fold(f32::INFINITY, f32::min),
        ReduceOp::ArgMax | ReduceOp::ArgMin => unreachable!("not fusable"),
    }
}

fn alloc(n: usize) -> Vec<f32> {
    crate::storage::cpu::cache::take(n)
        .unwrap_or_else(|| crate::storage::cpu::cache::try_with_capacity(n))
}

/// Fills `dst` from row-major runs, continuing at `cursor`.
fn fill_blocks(
    dst: &mut [f32],
    src: &[f32],
    blocks: &[(usize, usize, usize)],
    cursor: &mut (usize, usize),
) {
    let mut w = 0;
    while w < dst.len() {
        let (b, pos) = *cursor;
        let (start, len, stride) = blocks[b];
        let take = (len - pos).min(dst.len() - w);
        if stride == 0 {
            dst[w..w + take].fill(src[start]);
        } else if stride == 1 {
            dst[w..w + take].copy_from_slice(&src[start + pos..start + pos + take]);
        } else {
            for (i, d) in dst[w..w + take].iter_mut().enumerate() {
                *d = src[start + (pos + i) * stride];
            }
        }
        w += take;
        *cursor = if pos + take == len {
            (b + 1, 0)
        } else {
            (b, pos + take)
        };
    }
}

/// The same formulas as the CPU backend's eager ops, one chunk at a time.
fn unary(op: UnaryOp, a: &[f32], d: &mut [f32]) {
    fn map(a: &[f32], d: &mut [f32], f: impl Fn(f32) -> f32) {
        for (o, &x) in d.iter_mut().zip(a) {
            *o = f(x);
        }
    }
    match op {
        UnaryOp::Neg => map(a, d, |x| -x),
        UnaryOp::Abs => map(a, d, f32::abs),
        UnaryOp::Exp => map(a, d, f32::exp),
        UnaryOp::Log => map(a, d, f32::ln),
        UnaryOp::Sqrt => map(a, d, f32::sqrt),
        UnaryOp::Rsqrt => map(a, d, |x| 1.0 / x.sqrt()),
        UnaryOp::Sin => map(a, d, f32::sin),
        UnaryOp::Cos => map(a, d, f32::cos),
        UnaryOp::Tanh => map(a, d, tanh_rational),
        UnaryOp::Sigmoid => map(a, d, |x| {
            if x >= 0.0 {
                1.0 / (1.0 + (-x).exp())
            } else {
                let e = x.exp();
                e / (1.0 + e)
            }
        }),
        UnaryOp::Relu => map(a, d, |x| x.max(0.0)),
        UnaryOp::Softplus => map(a, d, |x| x.max(0.0) + (-x.abs()).exp().ln_1p()),
        UnaryOp::Square => map(a, d, |x| x * x),
        UnaryOp::Recip => map(a, d, |x| 1.0 / x),
        UnaryOp::Sign => map(a, d, |x| {
            if x > 0.0 {
                1.0
            } else if x < 0.0 {
                -1.0
            } else {
                0.0
            }
        }),
        UnaryOp::Floor => map(a, d, f32::floor),
        UnaryOp::Ceil => map(a, d, f32::ceil),
        UnaryOp::Round => map(a, d, f32::round_ties_even),
        UnaryOp::Step => map(a, d, |x| if x > 0.0 { 1.0 } else { 0.0 }),
        UnaryOp::Powf(p) => match p {
            2.0 => map(a, d, |x| x * x),
            0.5 => map(a, d, f32::sqrt),
            _ => map(a, d, |x| x.powf(p)),
        },
        UnaryOp::Clamp(lo, hi) => map(a, d, |x| x.max(lo).min(hi)),
        UnaryOp::Affine(m, c) => map(a, d, |x| x * m + c),
        UnaryOp::Gelu | UnaryOp::GeluGrad | UnaryOp::Erf | UnaryOp::LogicalNot => {
            unreachable!("not fusable")
        }
    }
}

/// tanh as a branch-free rational function (Eigen's and XLA's float tanh: odd degree-13
/// numerator, even degree-6 denominator, input clamped to +-7.9): the loop vectorises, where
/// a libm `tanhf` call per element costs about as much as the rest of a GELU chain. Its
/// distance from `f32::tanh` is a few float32 ulps (the fusion tests check 1e-6).
#[inline]
fn tanh_rational(x: f32) -> f32 {
    const CLAMP: f32 = 7.905_311;
    const A: [f32; 7] = [
        4.893_524_6e-3,
        6.372_619_3e-4,
        1.485_722_4e-5,
        5.122_297e-8,
        -8.604_672e-11,
        2.000_188e-13,
        -2.760_768_5e-16,
    ];
    const B: [f32; 4] = [4.893_525e-3, 2.268_434_6e-3, 1.185_347_1e-4, 1.198_258_4e-6];
    let tiny = x.abs() < 4e-4;
    let x = x.clamp(-CLAMP, CLAMP);
    let x2 = x * x;
    let mut p = A[6];
    for c in A[..6].iter().rev() {
        p = p * x2 + c;
    }
    let q = ((B[3] * x2 + B[2]) * x2 + B[1]) * x2 + B[0];
    let r = x * p / q;
    if tiny {
        x
    } else {
        r
    }
}

/// `d = a op b`; an operand of length 1 (a per-row value) is broadcast over the row.
fn binary(op: BinaryOp, a: &[f32], b: &[f32], d: &mut [f32]) {
    fn zip(a: &[f32], b: &[f32], d: &mut [f32], f: impl Fn(f32, f32) -> f32) {
        if a.len() == d.len() && b.len() == d.len() {
            for ((o, &x), &y) in d.iter_mut().zip(a).zip(b) {
                *o = f(x, y);
            }
        } else if a.len() == d.len() {
            let y = b[0];
            for (o, &x) in d.iter_mut().zip(a) {
                *o = f(x, y);
            }
        } else if b.len() == d.len() {
            let x = a[0];
            for (o, &y) in d.iter_mut().zip(b) {
                *o = f(x, y);
            }
        } else {
            d[0] = f(a[0], b[0]);
        }
    }
    match op {
        BinaryOp::Add => zip(a, b, d, |x, y| x + y),
        BinaryOp::Sub => zip(a, b, d, |x, y| x - y),
        BinaryOp::Mul => zip(a, b, d, |x, y| x * y),
        BinaryOp::Div => zip(a, b, d, |x, y| x / y),
        BinaryOp::Maximum => zip(a, b, d, f32::max),
        BinaryOp::Minimum => zip(a, b, d, f32::min),
        BinaryOp::Pow => zip(a, b, d, f32::powf),
        BinaryOp::LogicalAnd | BinaryOp::LogicalOr => unreachable!("not fusable"),
    }
}

/// The external input tensors of a group for this replay.
pub(crate) fn ext_tensors(
    g: &Group,
    graph: &Graph,
    args: &[Tensor],
    values: &[Option<Tensor>],
) -> Vec<Tensor> {
    g.ext
        .iter()
        .map(|s| match s {
            SourceRef::Input(i) => args[*i].clone(),
            SourceRef::Node(i) => values[*i].clone().expect("live until its last reader"),
            SourceRef::Captured { op, arg } => match &graph.ops[*op].inputs[*arg] {
                Source::Constant(t) | Source::Variable(t) => t.clone(),
                _ => unreachable!("captured sources are constants or variables"),
            },
        })
        .collect()
}
