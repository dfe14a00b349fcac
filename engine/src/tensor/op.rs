//! Ops as data: every primitive the engine runs, with its attributes.
//!
//! One record of an op serves every reader: [`dispatch::apply`](super::dispatch::apply) runs it,
//! the `GradientTape` differentiates it (`autodiff/backward.rs`, one `match` over [`Op`]), and
//! later a tracer, fusion, export and autocast read the same record. Each op also knows its
//! output shape and dtype from its inputs' shapes and dtypes alone ([`Op::infer`]), so layers can
//! be built on shape-only ("symbolic") tensors without running a kernel.
//!
//! What this file is not: the public tensor API. `x.exp()`, `a.matmul(&b)`, `x.slice(s![..])`
//! live in the op-family files; they check their arguments, build an `Op` and call `apply`.

use std::fmt;

use crate::device::Device;
use crate::dtype::DType;
use crate::error::{invalid, Error, Result};
use crate::shape::{broadcast_shapes, Layout, Shape};
use crate::storage::{BinaryOp, CmpOp, PatchParams, ReduceOp, UnaryOp};

/// One axis of a normalised slice: `len` entries from `start`, every `step`-th. `keep: false`
/// is a single index (len 1) whose axis is dropped from the result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AxisSlice {
    pub start: usize,
    pub len: usize,
    pub step: usize,
    pub keep: bool,
}

/// Applies per-axis slices to a layout: the view's layout over the same storage.
pub(crate) fn slice_layout(l: &Layout, axes: &[AxisSlice]) -> Layout {
    let (mut shape, mut strides, mut offset) = (Vec::new(), Vec::new(), l.offset);
    for (ax, (&d, &st)) in l.dims().iter().zip(&l.strides).enumerate() {
        let Some(a) = axes.get(ax) else {
            shape.push(d);
            strides.push(st);
            continue;
        };
        if !a.keep {
            offset += a.start * st;
            continue;
        }
        if a.len > 0 {
            offset += a.start * st;
        }
        shape.push(a.len);
        strides.push(st.saturating_mul(a.step)); // a huge step leaves len <= 1
    }
    // an empty view reads nothing; offset 0 keeps it inside (possibly empty) storage
    let offset = if shape.contains(&0) { 0 } else { offset };
    Layout {
        shape: Shape(shape),
        strides,
        offset,
    }
}

/// A primitive op and its attributes. Inputs are given separately, in this order:
/// unary, cast, views, copy, to_device, reduce, im2col/col2im: `[x]`; binary, compare, matmul:
/// `[a, b]`; where: `[cond, x, y]`; index_select: `[params, ids]`; index_add: `[src, ids]`;
/// concat: the parts; embed: `[g]`.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    Unary(UnaryOp),
    /// Elementwise with NumPy broadcasting.
    Binary(BinaryOp),
    /// Elementwise comparison with broadcasting; the result is bool.
    Compare(CmpOp),
    /// `axes` sorted and unique.
    Reduce {
        op: ReduceOp,
        axes: Vec<usize>,
        keepdims: bool,
    },
    /// (..., M, K) x (..., K, N) with broadcast batch axes; both inputs have rank >= 2.
    Matmul,
    /// `cond ? x : y` with broadcasting.
    Where,
    Cast(DType),
    /// A view with a new shape (the input is contiguous).
    Reshape(Shape),
    /// A view with reordered axes.
    Permute(Vec<usize>),
    /// A view of a region, with steps; one entry per input axis.
    Slice(Vec<AxisSlice>),
    /// A view with stride 0 on broadcast axes.
    BroadcastTo(Shape),
    /// The same view, cut off from gradients (`stop_gradient`).
    StopGradient,
    /// A fresh contiguous copy.
    Copy,
    ToDevice(Device),
    /// Entries of `params` along `axis` at 1-D int64 `ids`.
    IndexSelect {
        axis: usize,
    },
    /// Zeros of `shape`, with `src` added at `ids` along `axis` (the adjoint of index_select).
    IndexAdd {
        axis: usize,
        shape: Shape,
    },
    Concat {
        axis: usize,
    },
    /// Patches (N,OH,OW,KH,KW,C) of an NHWC input.
    Im2Col(Box<PatchParams>),
    /// Sums patches back into (N,H,W,C) (the adjoint of im2col).
    Col2Im(Box<PatchParams>),
    /// Zeros of `full` with the input written into the region `slice` (the adjoint of slice).
    Embed {
        full: Shape,
        slice: Vec<AxisSlice>,
    },
}

impl Op {
    /// The name learners see in errors and tape printouts (`exp`, `add`, `matmul`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Op::Unary(u) => unary_name(*u),
            Op::Binary(b) => match b {
                BinaryOp::Add => "add",
                BinaryOp::Sub => "sub",
                BinaryOp::Mul => "mul",
                BinaryOp::Div => "div",
                BinaryOp::Maximum => "maximum",
                BinaryOp::Minimum => "minimum",
                BinaryOp::Pow => "pow",
                BinaryOp::LogicalAnd => "logical_and",
                BinaryOp::LogicalOr => "logical_or",
            },
            Op::Compare(c) => match c {
                CmpOp::Eq => "equal",
                CmpOp::Ne => "not_equal",
                CmpOp::Lt => "less",
                CmpOp::Le => "less_equal",
                CmpOp::Gt => "greater",
                CmpOp::Ge => "greater_equal",
            },
            Op::Reduce { op, .. } => match op {
                ReduceOp::Sum => "sum",
                ReduceOp::Max => "max",
                ReduceOp::Min => "min",
                ReduceOp::ArgMax => "argmax",
                ReduceOp::ArgMin => "argmin",
            },
            Op::Matmul => "matmul",
            Op::Where => "where",
            Op::Cast(_) => "cast",
            Op::Reshape(_) => "reshape",
            Op::Permute(_) => "permute",
            Op::Slice(_) => "slice",
            Op::BroadcastTo(_) => "broadcast_to",
            Op::StopGradient => "stop_gradient",
            Op::Copy => "copy",
            Op::ToDevice(_) => "to_device",
            Op::IndexSelect { .. } => "gather",
            Op::IndexAdd { .. } => "scatter_add",
            Op::Concat { .. } => "concat",
            Op::Im2Col(_) => "im2col",
            Op::Col2Im(_) => "col2im",
            Op::Embed { .. } => "embed",
        }
    }

    /// Whether a gradient flows through this op from a float output to float inputs (TF
    /// registers no gradient for comparisons, argmax, rounding, logical ops, stop_gradient).
    pub fn is_differentiable(&self) -> bool {
        !matches!(
            self,
            Op::Compare(_)
                | Op::StopGradient
                | Op::Reduce {
                    op: ReduceOp::ArgMax | ReduceOp::ArgMin,
                    ..
                }
                | Op::Unary(
                    UnaryOp::Sign
                        | UnaryOp::Floor
                        | UnaryOp::Ceil
                        | UnaryOp::Round
                        | UnaryOp::Step
                        | UnaryOp::LogicalNot
                )
                | Op::Binary(BinaryOp::LogicalAnd | BinaryOp::LogicalOr)
        )
    }

    /// The output's shape and dtype from the inputs' shapes and dtypes: no data, no kernels.
    /// Argument errors that the public ops report with more context are still caught here, so
    /// an `Op` built by hand cannot reach a backend with inconsistent shapes.
    pub fn infer(&self, ins: &[(&[usize], DType)]) -> Result<(Shape, DType)> {
        let name = self.name();
        let arity = match self {
            Op::Binary(_) | Op::Compare(_) | Op::Matmul => Some(2),
            Op::Where => Some(3),
            Op::IndexSelect { .. } | Op::IndexAdd { .. } => Some(2),
            Op::Concat { .. } => None,
            _ => Some(1),
        };
        if arity.is_some_and(|n| n != ins.len()) || ins.is_empty() {
            return Err(invalid(
                name,
                format!("expected {} inputs, got {}", arity.unwrap_or(1), ins.len()),
            ));
        }
        let (d0, t0) = ins[0];
        let same = |s: Shape| Ok((s, t0));
        match self {
            Op::Unary(u) => {
                check_unary_dtype(name, *u, t0)?;
                same(Shape(d0.to_vec()))
            }
            Op::Binary(b) => {
                check_same_dtype(name, t0, ins[1].1)?;
                check_binary_dtype(name, *b, t0)?;
                same(broadcast_shapes(name, d0, ins[1].0)?)
            }
            Op::Compare(_) => {
                check_same_dtype(name, t0, ins[1].1)?;
                Ok((broadcast_shapes(name, d0, ins[1].0)?, DType::Bool))
            }
            Op::Reduce { op, axes, keepdims } => {
                if axes.iter().any(|&a| a >= d0.len()) || axes.windows(2).any(|w| w[0] >= w[1]) {
                    return Err(invalid(
                        name,
                        format!("bad axes {axes:?} for rank {}", d0.len()),
                    ));
                }
                let shape = reduced_dims(d0, axes, *keepdims);
                let dtype = match op {
                    ReduceOp::ArgMax | ReduceOp::ArgMin => DType::I64,
                    _ => t0,
                };
                Ok((shape, dtype))
            }
            Op::Matmul => {
                let (d1, t1) = ins[1];
                check_same_dtype(name, t0, t1)?;
                let (ar, br) = (d0.len(), d1.len());
                if ar < 2 || br < 2 || d0[ar - 1] != d1[br - 2] {
                    return Err(Error::ShapeMismatch {
                        op: name,
                        lhs: d0.to_vec(),
                        rhs: d1.to_vec(),
                        hint: "expected (..., M, K) and (..., K, N)".into(),
                    });
                }
                let mut d = broadcast_shapes(name, &d0[..ar - 2], &d1[..br - 2])?.0;
                d.extend([d0[ar - 2], d1[br - 1]]);
                same(Shape(d))
            }
            Op::Where => {
                if t0 != DType::Bool {
                    return Err(Error::DTypeMismatch {
                        op: name,
                        expected: "a bool condition, e.g. x.greater(0.0)".into(),
                        got: t0,
                    });
                }
                let ((dx, tx), (dy, ty)) = (ins[1], ins[2]);
                check_same_dtype(name, tx, ty)?;
                let s = broadcast_shapes(name, dx, dy)?;
                Ok((broadcast_shapes(name, d0, s.dims())?, tx))
            }
            Op::Cast(d) => Ok((Shape(d0.to_vec()), *d)),
            Op::Reshape(s) => {
                if s.elem_count() != d0.iter().product::<usize>() {
                    return Err(invalid(name, format!("cannot view {d0:?} as {s}")));
                }
                same(s.clone())
            }
            Op::Permute(p) => {
                let mut seen = vec![false; d0.len()];
                if p.len() != d0.len()
                    || p.iter()
                        .any(|&i| i >= d0.len() || std::mem::replace(&mut seen[i], true))
                {
                    return Err(invalid(
                        name,
                        format!("{p:?} is not a permutation of {d0:?}"),
                    ));
                }
                same(Shape(p.iter().map(|&i| d0[i]).collect()))
            }
            Op::Slice(axes) => {
                check_slice(name, d0, axes)?;
                same(sliced_shape(d0, axes))
            }
            Op::BroadcastTo(s) => {
                Layout::contiguous(Shape(d0.to_vec())).broadcast_as(s)?;
                same(s.clone())
            }
            Op::StopGradient | Op::Copy | Op::ToDevice(_) => same(Shape(d0.to_vec())),
            Op::IndexSelect { axis } => {
                let (di, ti) = ins[1];
                if ti != DType::I64 || di.len() != 1 || *axis >= d0.len() {
                    return Err(invalid(
                        name,
                        format!("needs 1-D int64 ids and an axis below rank {}", d0.len()),
                    ));
                }
                let mut d = d0.to_vec();
                d[*axis] = di[0];
                same(Shape(d))
            }
            Op::IndexAdd { axis, shape } => {
                let (di, ti) = ins[1];
                let mut want = shape.0.clone();
                if ti != DType::I64 || di.len() != 1 || *axis >= want.len() {
                    return Err(invalid(name, "needs 1-D int64 ids and a valid axis"));
                }
                want[*axis] = di[0];
                if want != d0 {
                    return Err(Error::ShapeMismatch {
                        op: name,
                        lhs: d0.to_vec(),
                        rhs: want,
                        hint: "the source must have the ids' length along the axis".into(),
                    });
                }
                same(shape.clone())
            }
            Op::Concat { axis } => {
                let a = *axis;
                if a >= d0.len() {
                    return Err(invalid(name, format!("axis {a} for rank {}", d0.len())));
                }
                let mut d = d0.to_vec();
                for &(di, ti) in &ins[1..] {
                    check_same_dtype(name, t0, ti)?;
                    if di.len() != d0.len() || (0..di.len()).any(|i| i != a && di[i] != d0[i]) {
                        return Err(Error::ShapeMismatch {
                            op: name,
                            lhs: d0.to_vec(),
                            rhs: di.to_vec(),
                            hint: format!("all axes except the concat axis ({a}) must match"),
                        });
                    }
                    d[a] += di[a];
                }
                same(Shape(d))
            }
            Op::Im2Col(p) => {
                if d0 != [p.n, p.h, p.w, p.c] {
                    return Err(invalid(name, format!("input {d0:?} does not match {p:?}")));
                }
                same(Shape(vec![p.n, p.oh, p.ow, p.kh, p.kw, p.c]))
            }
            Op::Col2Im(p) => {
                if d0 != [p.n, p.oh, p.ow, p.kh, p.kw, p.c] {
                    return Err(invalid(name, format!("input {d0:?} does not match {p:?}")));
                }
                same(Shape(vec![p.n, p.h, p.w, p.c]))
            }
            Op::Embed { full, slice } => {
                check_slice(name, full.dims(), slice)?;
                if sliced_shape(full.dims(), slice).dims() != d0 {
                    return Err(invalid(
                        name,
                        format!("region of {full} does not fit {d0:?}"),
                    ));
                }
                same(full.clone())
            }
        }
    }
}

/// `d` with `axes` reduced: kept as size 1, or dropped.
pub(crate) fn reduced_dims(d: &[usize], axes: &[usize], keepdims: bool) -> Shape {
    Shape(
        (0..d.len())
            .filter_map(|i| match (axes.contains(&i), keepdims) {
                (false, _) => Some(d[i]),
                (true, true) => Some(1),
                (true, false) => None,
            })
            .collect(),
    )
}

fn sliced_shape(d: &[usize], axes: &[AxisSlice]) -> Shape {
    let mut out = Vec::with_capacity(d.len());
    for (i, &n) in d.iter().enumerate() {
        match axes.get(i) {
            None => out.push(n),
            Some(a) if a.keep => out.push(a.len),
            Some(_) => {}
        }
    }
    Shape(out)
}

fn check_slice(name: &'static str, d: &[usize], axes: &[AxisSlice]) -> Result<()> {
    let ok = axes.len() <= d.len()
        && axes.iter().zip(d).all(|(a, &n)| {
            a.step >= 1
                && (a.len == 0
                    || a.start.saturating_add((a.len - 1).saturating_mul(a.step)) < n
                    || (a.len == 1 && a.start < n))
        });
    if ok {
        Ok(())
    } else {
        Err(invalid(
            name,
            format!("slice {axes:?} is out of range for {d:?}"),
        ))
    }
}

/// Two operands of one dtype, or an error that suggests the cast (toward the float side: ints
/// to floats, as a learner usually means).
pub(crate) fn check_same_dtype(name: &'static str, a: DType, b: DType) -> Result<()> {
    if a != b {
        let (who, to) = if b.is_float() && !a.is_float() {
            ("x", b)
        } else {
            ("y", a)
        };
        return Err(invalid(
            name,
            format!(
                "dtypes {a} and {b} do not match; cast one first, e.g. {who}.cast(DType::{to:?})"
            ),
        ));
    }
    Ok(())
}

/// Which unary ops each dtype supports (the CPU backend's table; CUDA matches it).
fn check_unary_dtype(name: &'static str, u: UnaryOp, d: DType) -> Result<()> {
    use UnaryOp as U;
    let ok = match d {
        DType::F32 | DType::F16 | DType::BF16 => !matches!(u, U::LogicalNot),
        DType::I64 => match u {
            U::Neg | U::Abs | U::Square | U::Sign | U::Relu | U::Floor | U::Ceil | U::Round => true,
            U::Clamp(..) => true,
            U::Affine(m, a) => m.fract() == 0.0 && a.fract() == 0.0,
            _ => false,
        },
        DType::Bool => matches!(u, U::LogicalNot),
    };
    if ok {
        return Ok(());
    }
    Err(Error::DTypeMismatch {
        op: name,
        expected: match d {
            DType::Bool => "a numeric tensor".into(),
            _ if matches!(u, U::LogicalNot) => {
                "bool tensors (e.g. x.greater(0.0) or x.cast(DType::Bool))".into()
            }
            _ => "a float tensor".into(),
        },
        got: d,
    })
}

/// Binary ops on bool tensors are the logical ones (and +, *, max, min as or/and); logical ops
/// need bools.
fn check_binary_dtype(name: &'static str, b: BinaryOp, d: DType) -> Result<()> {
    use BinaryOp as B;
    let logical = matches!(b, B::LogicalAnd | B::LogicalOr);
    let ok = match d {
        DType::Bool => !matches!(b, B::Sub | B::Div | B::Pow),
        _ => !logical,
    };
    if ok {
        return Ok(());
    }
    Err(Error::DTypeMismatch {
        op: name,
        expected: if logical {
            "bool tensors (e.g. x.greater(0.0) or x.cast(DType::Bool))".into()
        } else {
            "a numeric tensor".into()
        },
        got: d,
    })
}

pub(crate) fn unary_name(u: UnaryOp) -> &'static str {
    use UnaryOp as U;
    match u {
        U::Neg => "neg",
        U::Abs => "abs",
        U::Exp => "exp",
        U::Log => "log",
        U::Sqrt => "sqrt",
        U::Rsqrt => "rsqrt",
        U::Sin => "sin",
        U::Cos => "cos",
        U::Tanh => "tanh",
        U::Sigmoid => "sigmoid",
        U::Relu => "relu",
        U::Gelu => "gelu",
        U::GeluGrad => "gelu_grad",
        U::Softplus => "softplus",
        U::Square => "square",
        U::Recip => "reciprocal",
        U::Sign => "sign",
        U::Floor => "floor",
        U::Ceil => "ceil",
        U::Round => "round",
        U::Erf => "erf",
        U::Step => "step",
        U::LogicalNot => "logical_not",
        U::Powf(_) => "pow",
        U::Clamp(..) => "clamp",
        U::Affine(..) => "affine",
    }
}

/// One recorded op: what readers of the record (the tape, a tracer) see.
#[derive(Clone)]
pub struct OpNode {
    pub op: Op,
    pub inputs: Vec<super::Tensor>,
    pub output: u64,
    pub shape: Shape,
    pub dtype: DType,
}

/// `matmul (2,3)x(3,4)`, `add (2,4)+(4,)`, `relu`: the op with its input shapes, as a tape
/// printout shows it (the printout adds the dtype where it changes).
impl fmt::Display for OpNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shapes: Vec<String> = self.inputs.iter().map(|t| compact(t.dims())).collect();
        let name = self.op.name();
        match &self.op {
            Op::Unary(_) | Op::StopGradient | Op::Copy => write!(f, "{name}"),
            Op::Matmul => write!(f, "{name} {}", shapes.join("x")),
            Op::Binary(_) | Op::Compare(_) => write!(f, "{name} {}", shapes.join("+")),
            Op::Cast(d) => write!(f, "{name} {}", d.rust_name()),
            Op::Reshape(s) | Op::BroadcastTo(s) => {
                write!(f, "{name} {}->{}", shapes[0], compact(s.dims()))
            }
            Op::Reduce { axes, .. } => write!(f, "{name} {} axes {axes:?}", shapes[0]),
            _ => write!(f, "{name} {}", shapes.join(",")),
        }
    }
}

/// `(2,3)`, `(4,)`, `()`: a shape without spaces.
pub(crate) fn compact(d: &[usize]) -> String {
    match d {
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            d.iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(",")
        ),
    }
}

#[cfg(test)]
mod tests {
    /// Every op passes through `apply` by value: keep the enum small (big attributes are boxed).
    #[test]
    fn an_op_stays_small() {
        assert!(std::mem::size_of::<super::Op>() <= 64);
    }
}
