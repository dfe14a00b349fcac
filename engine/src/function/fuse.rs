//! CPU fusion for `jit_compile(true)`: maximal runs of float32 elementwise ops of one shape in a
//! traced graph run as one pass over the data, instead of one pass (and one allocation) per op.
//!
//! A fused group is a small program: registers hold one chunk of [`CHUNK`] elements each (a
//! few KiB, so a group's registers stay in L1), the group's external inputs are loaded per chunk
//! (a contiguous slice read in place, a broadcast scalar filled once, any other broadcast walked
//! block by block), then an interpreter loop runs each instruction over the whole chunk (a
//! tight loop that the compiler vectorises) and the outputs the rest of the graph needs are
//! written out. The op list is the code generator's input; nothing is compiled at run time.
//!
//! What this file is not: a general compiler. Only float32 `Unary` and `Binary` ops whose output
//! has the group's shape fuse; reductions, matmul, views, casts, comparisons, other dtypes and
//! the erf family run through `dispatch::apply` as in a plain replay. A group runs only on the
//! CPU and only when no recorder (a `GradientTape`) is active; otherwise the plain replay runs.

use std::sync::RwLockReadGuard;

use super::graph::{Graph, GraphOp, Source};
use crate::dtype::DType;
use crate::shape::Shape;
use crate::storage::{BinaryOp, CpuStorage, Storage, UnaryOp};
use crate::tensor::{Op, Tensor};

/// Elements per chunk: 1024 f32 = 4 KiB per register.
pub const CHUNK: usize = 1024;

/// Where an instruction reads from: an external input of the group, or an earlier instruction.
#[derive(Clone, Copy, Debug)]
enum Reg {
    Ext(usize),
    Tmp(usize),
}

#[derive(Clone, Debug)]
enum Instr {
    Unary(UnaryOp, Reg),
    Binary(BinaryOp, Reg, Reg),
}

/// One fused group: graph ops `first..=last`, as a program over registers.
#[derive(Clone, Debug)]
pub struct Group {
    pub first: usize,
    pub last: usize,
    shape: Shape,
    /// The group's inputs, as sources of the graph.
    ext: Vec<SourceRef>,
    code: Vec<Instr>,
    /// (instruction, graph op) pairs whose values are needed after the group.
    outputs: Vec<(usize, usize)>,
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

fn fusable(g: &GraphOp, shape: &Shape) -> bool {
    let kind = match &g.op {
        Op::Unary(u) => fusable_unary(*u),
        Op::Binary(b) => !matches!(b, BinaryOp::LogicalAnd | BinaryOp::LogicalOr),
        _ => false,
    };
    kind && g.dtype == DType::F32 && &g.shape == shape && g.shape.elem_count() > 0
}

/// Splits a graph into steps: maximal runs of fusable ops of one shape become groups (a run of
/// one op stays a plain op: nothing to fuse).
pub fn plan(graph: &Graph) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut i = 0;
    while i < graph.ops.len() {
        let shape = graph.ops[i].shape.clone();
        let mut j = i;
        while j < graph.ops.len() && fusable(&graph.ops[j], &shape) {
            j += 1;
        }
        if j - i >= 2 {
            steps.push(Step::Group(group(graph, i, j - 1)));
            i = j;
        } else {
            steps.push(Step::Op(i));
            i += 1;
        }
    }
    steps
}

fn group(graph: &Graph, first: usize, last: usize) -> Group {
    let mut ext: Vec<SourceRef> = Vec::new();
    let mut code = Vec::new();
    let reg = |s: &Source, op: usize, arg: usize, ext: &mut Vec<SourceRef>| match s {
        Source::Node(j) if (first..=last).contains(j) => Reg::Tmp(j - first),
        Source::Node(j) => push_ext(ext, SourceRef::Node(*j)),
        Source::Input(k) => push_ext(ext, SourceRef::Input(*k)),
        Source::Constant(_) | Source::Variable(_) => {
            ext.push(SourceRef::Captured { op, arg });
            Reg::Ext(ext.len() - 1)
        }
    };
    for i in first..=last {
        let g = &graph.ops[i];
        let instr = match &g.op {
            Op::Unary(u) => Instr::Unary(*u, reg(&g.inputs[0], i, 0, &mut ext)),
            Op::Binary(b) => {
                let a = reg(&g.inputs[0], i, 0, &mut ext);
                Instr::Binary(*b, a, reg(&g.inputs[1], i, 1, &mut ext))
            }
            _ => unreachable!("only fusable ops are grouped"),
        };
        code.push(instr);
    }
    let outputs = (first..=last)
        .filter(|&i| {
            let lu = graph.last_use[i];
            (lu != usize::MAX && lu > last) || graph_output_is(graph, i)
        })
        .map(|i| (i - first, i))
        .collect();
    Group {
        first,
        last,
        shape: graph.ops[first].shape.clone(),
        ext,
        code,
        outputs,
    }
}

fn graph_output_is(graph: &Graph, i: usize) -> bool {
    matches!(graph.output, Source::Node(o) if o == i)
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
/// not float32 CPU data (the caller then runs the ops one by one).
pub fn run_group(g: &Group, ext: &[Tensor]) -> Option<Vec<Tensor>> {
    let n = g.shape.elem_count();
    let guards: Vec<RwLockReadGuard<'_, Storage>> = ext.iter().map(|t| t.storage()).collect();
    let mut data: Vec<&[f32]> = Vec::with_capacity(ext.len());
    let mut loads = Vec::with_capacity(ext.len());
    for (t, s) in ext.iter().zip(&guards) {
        let Storage::Cpu(CpuStorage::F32(v)) = &**s else {
            return None;
        };
        let l = if t.dims() == g.shape.dims() {
            t.layout().clone()
        } else {
            t.layout().broadcast_as(&g.shape).ok()?
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
    }
    let mut outs: Vec<Vec<f32>> = g.outputs.iter().map(|_| alloc(n)).collect();
    let mut ext_regs = vec![[0f32; CHUNK]; ext.len()];
    let mut tmp = vec![[0f32; CHUNK]; g.code.len()];
    // block cursors of the `Blocks` loads: (block index, position inside it)
    let mut cursors = vec![(0usize, 0usize); ext.len()];
    for (k, load) in loads.iter().enumerate() {
        if let Load::Scalar(v) = load {
            ext_regs[k] = [*v; CHUNK];
        }
    }
    let mut start = 0;
    while start < n {
        let len = CHUNK.min(n - start);
        for (k, load) in loads.iter().enumerate() {
            match load {
                Load::Slice(_) | Load::Scalar(_) => {}
                Load::Blocks(b) => {
                    fill_blocks(&mut ext_regs[k][..len], data[k], b, &mut cursors[k])
                }
            }
        }
        for (i, ins) in g.code.iter().enumerate() {
            let (done, rest) = tmp.split_at_mut(i);
            let dst = &mut rest[0][..len];
            let read = |r: Reg| -> &[f32] {
                match r {
                    // a contiguous input is read in place, without a copy
                    Reg::Ext(k) => match loads[k] {
                        Load::Slice(off) => &data[k][off + start..off + start + len],
                        _ => &ext_regs[k][..len],
                    },
                    Reg::Tmp(t) => &done[t][..len],
                }
            };
            match *ins {
                Instr::Unary(u, a) => unary(u, read(a), dst),
                Instr::Binary(b, a, c) => binary(b, read(a), read(c), dst),
            }
        }
        for (o, &(ins, _)) in outs.iter_mut().zip(&g.outputs) {
            o.extend_from_slice(&tmp[ins][..len]);
        }
        start += len;
        if start % (CHUNK * 256) == 0 {
            crate::state::check_cancel();
        }
    }
    drop(guards);
    Some(
        outs.into_iter()
            .map(|v| Tensor::from_storage(Storage::Cpu(CpuStorage::F32(v)), g.shape.clone()))
            .collect(),
    )
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

fn binary(op: BinaryOp, a: &[f32], b: &[f32], d: &mut [f32]) {
    fn zip(a: &[f32], b: &[f32], d: &mut [f32], f: impl Fn(f32, f32) -> f32) {
        for ((o, &x), &y) in d.iter_mut().zip(a).zip(b) {
            *o = f(x, y);
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
