//! Gradients as a table: one `match` over [`Op`], one arm per op, each with its math.
//!
//! `backward(node, y, g)` maps the gradient `g` of an op's output `y` to the gradients of its
//! inputs (in the node's input order; `None`: no gradient). Every rule is written with public
//! tensor ops, so an outer tape records the inner tape's backward pass: that is how second
//! derivatives work. Broadcasting ops sum the gradient back to each input's shape.

use crate::storage::{BinaryOp, ReduceOp, UnaryOp};
use crate::tensor::op::{Op, OpNode};
use crate::tensor::{where_, Tensor};

pub(crate) fn backward(node: &OpNode, y: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
    let ins = &node.inputs;
    let x = &ins[0];
    let one = |t: Tensor| vec![Some(t)];
    match &node.op {
        Op::Unary(u) => one(unary(*u, x, y, g)),
        Op::Binary(b) => {
            let (a, bb) = (x, &ins[1]);
            let (ga, gb) = binary(*b, a, bb, y, g);
            vec![
                Some(ga.sum_to_shape(a.shape())),
                Some(gb.sum_to_shape(bb.shape())),
            ]
        }
        // y = sum(x, axes)  =>  dy/dx = 1, broadcast back over the reduced axes
        Op::Reduce {
            op: ReduceOp::Sum,
            axes,
            ..
        } => one(x.unreduce(g, axes)),
        // y = max(x, axes)  =>  the gradient goes to the maximal entries, shared equally among
        // ties (as in TF); min likewise
        Op::Reduce {
            op: ReduceOp::Max | ReduceOp::Min,
            axes,
            ..
        } => {
            let yk = y.reshape(x.reduced_shape(axes, true));
            let mask = x.equal(&yk).cast(g.dtype());
            let iaxes: Vec<isize> = axes.iter().map(|&a| a as isize).collect();
            let count = mask.sum_axes(&iaxes, true);
            one(x.unreduce(g, axes) * mask / count)
        }
        // y = a b  =>  dL/da = g b^T, dL/db = a^T g (summed over broadcast batch axes)
        Op::Matmul => {
            let b = &ins[1];
            vec![
                Some(g.matmul(&b.t()).sum_to_shape(x.shape())),
                Some(x.t().matmul(g).sum_to_shape(b.shape())),
            ]
        }
        // y = cond ? a : b  =>  dy/da = [cond], dy/db = [not cond]
        Op::Where => {
            let (c, a, b) = (x, &ins[1], &ins[2]);
            let z = g.zeros_like();
            vec![
                None,
                Some(where_(c, g, &z).sum_to_shape(a.shape())),
                Some(where_(c, &z, g).sum_to_shape(b.shape())),
            ]
        }
        // y = cast(x)  =>  the gradient is cast back
        Op::Cast(_) => one(g.cast(x.dtype())),
        // views: the adjoint view of the gradient
        Op::Reshape(_) => one(g.reshape(x.shape())),
        Op::Permute(p) => {
            let mut inv = vec![0; p.len()];
            for (i, &j) in p.iter().enumerate() {
                inv[j] = i;
            }
            one(g.permute(&inv))
        }
        Op::Slice(axes) => one(crate::tensor::view::embed(g, x.shape(), axes)),
        Op::Embed { slice, .. } => one(g.slice_axes(slice)),
        Op::BroadcastTo(_) => one(g.sum_to_shape(x.shape())),
        // y = x  =>  dy/dx = 1
        Op::Copy => one(g.clone()),
        Op::ToDevice(_) => one(g.to(x.device())),
        // gather's adjoint adds the rows back where they came from, and vice versa
        Op::IndexSelect { axis } => vec![
            Some(crate::tensor::index::scatter_add(
                g,
                &ins[1],
                *axis,
                x.shape(),
            )),
            None,
        ],
        Op::IndexAdd { axis, .. } => vec![Some(g.gather(&ins[1], *axis as isize)), None],
        Op::Concat { axis } => {
            let sizes: Vec<usize> = ins.iter().map(|t| t.dims()[*axis]).collect();
            g.split_sizes(&sizes, *axis as isize)
                .into_iter()
                .map(Some)
                .collect()
        }
        // patches are linear in x: im2col's adjoint sums patches back (col2im), and col2im's
        // adjoint cuts them out again (padding reads 0 in a gradient)
        Op::Im2Col(p) => one(crate::tensor::conv::col2im(g, **p)),
        Op::Col2Im(p) => one(crate::tensor::conv::im2col_zero_pad(g, **p)),
        // no gradient: comparisons, argmax/argmin, stop_gradient
        Op::Compare(_)
        | Op::StopGradient
        | Op::Reduce {
            op: ReduceOp::ArgMax | ReduceOp::ArgMin,
            ..
        } => vec![None; ins.len()],
    }
}

/// d/dx of each unary function, times `g`.
fn unary(u: UnaryOp, x: &Tensor, y: &Tensor, g: &Tensor) -> Tensor {
    use UnaryOp as U;
    match u {
        // -x  =>  -1
        U::Neg => -g,
        // |x|  =>  sign(x)
        U::Abs => g * x.sign(),
        // e^x  =>  e^x = y
        U::Exp => g * y,
        // ln x  =>  1/x
        U::Log => g / x,
        // sqrt(x)  =>  1 / (2 sqrt(x)) = 0.5 / y
        U::Sqrt => g / y * 0.5,
        // x^(-1/2)  =>  -1/2 x^(-3/2) = -y^3 / 2
        U::Rsqrt => g * y.powf(3.0) * -0.5,
        // sin x  =>  cos x
        U::Sin => g * x.cos(),
        // cos x  =>  -sin x
        U::Cos => -(g * x.sin()),
        // tanh x  =>  1 - tanh^2 x = 1 - y^2
        U::Tanh => g * (1.0 - y.square()),
        // sigmoid x  =>  y (1 - y)
        U::Sigmoid => g * y * (1.0 - y),
        // max(x, 0)  =>  1 where x > 0 (a step, whose own derivative is 0)
        U::Relu => g * x.step(),
        // gelu(x) = x Phi(x)  =>  Phi(x) + x phi(x), an op of its own (next arm)
        U::Gelu => g * x.gelu_grad(),
        // gelu'(x) = Phi(x) + x phi(x)  =>  gelu''(x) = phi(x) (2 - x^2)
        U::GeluGrad => {
            let pdf = (x.square() * -0.5).exp() * (1.0 / (2.0 * std::f64::consts::PI).sqrt());
            g * pdf * (2.0 - x.square())
        }
        // ln(1 + e^x)  =>  sigmoid(x)
        U::Softplus => g * x.sigmoid(),
        // x^2  =>  2x
        U::Square => g * x * 2.0,
        // 1/x  =>  -1/x^2 = -y^2
        U::Recip => -(g * y.square()),
        // erf x  =>  2/sqrt(pi) e^(-x^2)
        U::Erf => g * (-x.square()).exp() * std::f64::consts::FRAC_2_SQRT_PI,
        // x^p  =>  p x^(p-1)
        U::Powf(p) => g * x.powf(p - 1.0) * p,
        // clip(x, lo, hi)  =>  1 inside [lo, hi], 0 outside
        U::Clamp(lo, hi) => {
            let inside = x
                .greater_equal(lo as f64)
                .logical_and(&x.less_equal(hi as f64));
            g * inside.cast(g.dtype())
        }
        // x * m + a  =>  m
        U::Affine(m, _) => g * m as f64,
        // piecewise constant or not differentiable: no gradient (the tape does not record these)
        U::Sign | U::Floor | U::Ceil | U::Round | U::Step | U::LogicalNot => g.zeros_like(),
    }
}

/// (d/da, d/db) of each binary op, times `g`, before summing over broadcast axes.
fn binary(op: BinaryOp, a: &Tensor, b: &Tensor, y: &Tensor, g: &Tensor) -> (Tensor, Tensor) {
    use BinaryOp as B;
    match op {
        // a + b  =>  1, 1
        B::Add => (g.clone(), g.clone()),
        // a - b  =>  1, -1
        B::Sub => (g.clone(), -g),
        // a b  =>  b, a
        B::Mul => (g * b, g * a),
        // a / b  =>  1/b, -a/b^2 = -y/b
        B::Div => (g / b, -(g * y) / b),
        // max(a, b)  =>  1 where a >= b (ties go to a), 1 where b > a
        B::Maximum => {
            let m = a.greater_equal(b).cast(g.dtype());
            (g * &m, g * (1.0 - &m))
        }
        // min(a, b)  =>  1 where a <= b (ties go to a), 1 where b < a
        B::Minimum => {
            let m = a.less_equal(b).cast(g.dtype());
            (g * &m, g * (1.0 - &m))
        }
        // a^b  =>  b a^(b-1), y ln a (taken as 0 where a <= 0, as TF does: 0^b is 0 for every
        // b > 0, and ln a is undefined below 0)
        B::Pow => {
            let ln_a = where_(&a.greater(0.0), &a.log(), &a.zeros_like());
            (g * b * a.pow(b - 1.0), g * y * ln_a)
        }
        // logical ops have no gradient (the tape does not record them)
        B::LogicalAnd | B::LogicalOr => (g.zeros_like(), g.zeros_like()),
    }
}

/// Whether the tape records this op: a differentiable op, a float output, and (for cast) a
/// float input, so the gradient flows between float tensors only.
pub(crate) fn records(op: &Op, inputs: &[&Tensor], output: &Tensor) -> bool {
    op.is_differentiable()
        && output.dtype().is_float()
        && (!matches!(op, Op::Cast(_)) || inputs[0].dtype().is_float())
}
