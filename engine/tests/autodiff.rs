//! Gradients: every differentiable op against central finite differences (see
//! `common::check_grad`), second derivatives through nested tapes, and TF2 `GradientTape`
//! semantics (what is recorded, watched and returned), ending with a small training loop.
//!
//! Each check differentiates sum(w * op(x)) for a fixed random w, so ops whose plain sum is
//! constant (softmax rows sum to 1) still get a real test.

#[macro_use]
mod common;

use std::sync::Mutex;

use common::{assert_close, check_grad, distinct, panic_message, rnd, rnd_away, rnd_pos};
use ferrolab::prelude::*;

const TOL: f64 = 1e-2;

/// Tapes live in process-wide state and auto-watch any trainable variable read while they
/// record, so the tests that read trainable variables or count watched ones take turns.
static TAPES: Mutex<()> = Mutex::new(());

/// y * w for a fixed random w of y's shape (on y's device): the checks differentiate sum(w * y).
fn wsum(y: &Tensor, seed: u64) -> Tensor {
    y * &rnd(y.dims(), 1000 + seed).to(y.device())
}

/// dy/dx of sum(f(x)) as a function of x, through an inner tape (an outer tape records it).
fn grad_of(f: impl Fn(&Tensor) -> Tensor) -> impl Fn(&Tensor) -> Tensor {
    move |x| {
        let tape = GradientTape::new();
        tape.watch(x);
        let y = f(x).sum();
        let [g] = tape.gradient(&y, [x]);
        g.expect("connected")
    }
}

// ---- unary ops ------------------------------------------------------------------------------

test_device!(unary_gradients_match_finite_differences, |dev| {
    let x = rnd(&[3, 4], 1).to(dev); // around [-2, 2]
    let xa = rnd_away(&[3, 4], 2, 0.1).to(dev); // no entry within 0.1 of 0 (kinks of abs and relu)
    let p = rnd_pos(&[3, 4], 3, 0.5).to(dev); // [0.5, 1.5) for log, sqrt, rsqrt, 1/x, x^2.5
                                              // d/dx -x = -1 ; |x| = sign(x) ; e^x = e^x ; ln x = 1/x ; sqrt x = 1/(2 sqrt x)
    check_grad(|x| wsum(&x.neg(), 1), &x, TOL);
    check_grad(|x| wsum(&x.abs(), 2), &xa, TOL);
    check_grad(|x| wsum(&x.exp(), 3), &x, TOL);
    check_grad(|x| wsum(&x.log(), 4), &p, TOL);
    check_grad(|x| wsum(&x.sqrt(), 5), &p, TOL);
    // rsqrt = -x^(-3/2)/2 ; sin = cos ; cos = -sin ; tanh = 1 - tanh^2 ; sigmoid = s(1-s)
    check_grad(|x| wsum(&x.rsqrt(), 6), &p, TOL);
    check_grad(|x| wsum(&x.sin(), 7), &x, TOL);
    check_grad(|x| wsum(&x.cos(), 8), &x, TOL);
    check_grad(|x| wsum(&x.tanh(), 9), &x, TOL);
    check_grad(|x| wsum(&x.sigmoid(), 10), &x, TOL);
    // relu = [x > 0] ; gelu = Phi(x) + x phi(x) ; softplus = sigmoid ; x^2 = 2x ; 1/x = -1/x^2
    check_grad(|x| wsum(&x.relu(), 11), &xa, TOL);
    check_grad(|x| wsum(&x.gelu(), 12), &x, TOL);
    check_grad(|x| wsum(&x.softplus(), 13), &x, TOL);
    check_grad(|x| wsum(&x.square(), 14), &x, TOL);
    check_grad(|x| wsum(&x.reciprocal(), 15), &p, TOL);
    // erf = 2/sqrt(pi) e^(-x^2) ; x^p = p x^(p-1) ; affine(a, b) = a
    check_grad(|x| wsum(&x.erf(), 16), &x, TOL);
    check_grad(|x| wsum(&x.pow(2.5), 17), &p, TOL);
    check_grad(|x| wsum(&x.pow(3), 18), &x, TOL);
    check_grad(|x| wsum(&x.powf(-1.5), 19), &p, TOL);
    check_grad(|x| wsum(&x.affine(-3.0, 2.0), 20), &x, TOL);
    // clamp = 1 inside [lo, hi], 0 outside (no entry of `distinct` is within 0.05 of a bound)
    check_grad(
        |x| wsum(&x.clamp(-0.55, 0.45), 21),
        &distinct(&[3, 4], 4).to(dev),
        TOL,
    );
    // exact values: d/dx sum(x^2) at [1, -2, 3] = [2, -4, 6]
    let v = tensor([1.0, -2.0, 3.0]).to(dev);
    assert_eq!(
        grad_of(|x| x.square())(&v).to_vec::<f32>(),
        vec![2.0, -4.0, 6.0]
    );
    // y = x^2 + 5x  =>  dy/dx = 2x + 5 = [7, 1, 11]
    assert_eq!(
        grad_of(|x| x.square() + x * 5.0)(&v).to_vec::<f32>(),
        vec![7.0, 1.0, 11.0]
    );
});

// ---- binary ops with broadcasting ------------------------------------------------------------

test_device!(binary_gradients_with_broadcasting, |dev| {
    // a: (3,1,4), b: (2,4) -> (3,2,4); each gradient is summed back to its operand's shape
    let a = rnd(&[3, 1, 4], 30).to(dev);
    let b = rnd(&[2, 4], 31).to(dev);
    let bp = rnd_pos(&[2, 4], 32, 0.5).to(dev);
    let ap = rnd_pos(&[3, 1, 4], 33, 0.5).to(dev);
    // d(a+b) = (1, 1) ; d(a-b) = (1, -1) ; d(ab) = (b, a) ; d(a/b) = (1/b, -a/b^2)
    check_grad(|a| wsum(&(a + &b), 1), &a, TOL);
    check_grad(|b| wsum(&(&a + b), 2), &b, TOL);
    check_grad(|a| wsum(&(a - &b), 3), &a, TOL);
    check_grad(|b| wsum(&(&a - b), 4), &b, TOL);
    check_grad(|a| wsum(&(a * &b), 5), &a, TOL);
    check_grad(|b| wsum(&(&a * b), 6), &b, TOL);
    check_grad(|a| wsum(&(a / &bp), 7), &a, TOL);
    check_grad(|b| wsum(&(&a / b), 8), &bp, TOL);
    // d(a^b) = (b a^(b-1), a^b ln a)
    check_grad(|a| wsum(&a.pow(&b), 9), &ap, TOL);
    check_grad(|b| wsum(&ap.pow(b), 10), &b, TOL);
    // d/db a^b = a^b ln a is 0 where a = 0 (TF's convention), not NaN: for a = [0, 2], b = 3,
    // d/db = [0, 8 ln 2]
    let g = grad_of(|b| tensor([0.0, 2.0]).to(dev).pow(b))(&tensor([3.0, 3.0]).to(dev));
    assert_close(&g.to_vec::<f32>(), &[0.0, 8.0 * 2f32.ln()], 1e-6);
    // max/min route the gradient to the larger/smaller side (no near-ties: entries of m are
    // multiples of 0.1 and those of n are 0.05 off them)
    let m = distinct(&[3, 1, 4], 5).to(dev);
    let n = tensor([[-0.25, 0.05, 0.35, -0.05], [0.15, -0.15, 0.25, 0.45]]).to(dev);
    check_grad(|m| wsum(&m.maximum(&n), 11), &m, TOL);
    check_grad(|n| wsum(&m.maximum(n), 12), &n, TOL);
    check_grad(|m| wsum(&m.minimum(&n), 13), &m, TOL);
    check_grad(|n| wsum(&m.minimum(n), 14), &n, TOL);
    // scalars on either side, and the same tensor on both sides: d(x*x) = 2x, d(x/x) = 0
    check_grad(|a| wsum(&(2.0 * a - 1.0), 15), &a, TOL);
    check_grad(|b| wsum(&(1.0 / b + 3.0 * b), 16), &bp, TOL);
    check_grad(|a| wsum(&(a * a), 17), &a, TOL);
    let [g] = {
        let tape = GradientTape::new();
        tape.watch(&bp);
        #[allow(clippy::eq_op)] // x / x on purpose
        let y = (&bp / &bp).sum();
        tape.gradient(&y, [&bp])
    };
    assert_close(&g.unwrap().to_vec::<f32>(), &[0.0; 8], 1e-6);
    // rank-0 against a matrix: the scalar's gradient sums every entry's
    check_grad(|s| wsum(&(s * &b), 18), &tensor(1.5).to(dev), TOL);
});

// ---- reductions, softmax family ----------------------------------------------------------

test_device!(reduction_gradients, |dev| {
    let x = rnd(&[2, 3, 4], 40).to(dev);
    let d = distinct(&[2, 3, 4], 41).to(dev);
    // sum: 1 ; mean: 1/n ; var: 2(x - m)/n ; std: (x - m)/(n std)
    check_grad(|x| wsum(&x.sum_axes(&[0, 2], false), 1), &x, TOL);
    check_grad(|x| wsum(&x.sum_axis(-1, true), 2), &x, TOL);
    check_grad(|x| x.sum(), &x, TOL);
    check_grad(|x| wsum(&x.mean_axes(&[1], false), 3), &x, TOL);
    check_grad(|x| x.mean(), &x, TOL);
    check_grad(|x| wsum(&x.var_axes(&[0, 1], true), 4), &x, TOL);
    check_grad(|x| wsum(&x.std_axis(2, false), 5), &x, TOL);
    check_grad(|x| x.std(), &x, TOL);
    // max / min: 1 at the extreme entry of each group
    check_grad(|x| wsum(&x.max_axis(1, false), 6), &d, TOL);
    check_grad(|x| wsum(&x.min_axes(&[0, 2], true), 7), &d, TOL);
    check_grad(|x| x.max(), &d, TOL);
    // maximum/minimum ties send the gradient to the left operand: d/dx max(x, x) = 1
    let v = tensor([1.0, -2.0]).to(dev);
    assert_eq!(
        grad_of(|x| x.maximum(x))(&v).to_vec::<f32>(),
        vec![1.0, 1.0]
    );
    assert_eq!(
        grad_of(|x| x.minimum(x))(&v).to_vec::<f32>(),
        vec![1.0, 1.0]
    );
    // ties share the gradient equally, as in TF: d max([1, 3, 3]) = [0, 1/2, 1/2]
    let t = tensor([1.0, 3.0, 3.0]).to(dev);
    assert_eq!(
        grad_of(|x| x.max())(&t).to_vec::<f32>(),
        vec![0.0, 0.5, 0.5]
    );
    // logsumexp: softmax ; softmax: s (g - sum(g s)) ; log_softmax: g - softmax sum(g)
    check_grad(|x| wsum(&x.logsumexp(1, false), 8), &x, TOL);
    check_grad(|x| wsum(&x.logsumexp(-1, true), 9), &x, TOL);
    check_grad(|x| wsum(&x.softmax(-1), 10), &x, TOL);
    check_grad(|x| wsum(&x.softmax(0), 11), &x, TOL);
    check_grad(|x| wsum(&x.log_softmax(1), 12), &x, TOL);
    // a -inf (masked) entry gets probability 0 and gradient 0, and the rest stay finite:
    // d softmax(x)_0 / dx = [s0 (1 - s0), -s0 s1, 0] with s = [1, e] / (1 + e)
    let masked = tensor([1.0, 2.0, f32::NEG_INFINITY]).to(dev);
    let g = grad_of(|x| x.softmax(0).slice(s![0]))(&masked).to_vec::<f32>();
    let (s0, s1) = (1.0 / (1.0 + 1f32.exp()), 1f32.exp() / (1.0 + 1f32.exp()));
    assert_close(&g, &[s0 * (1.0 - s0), -s0 * s1, 0.0], 1e-6);
    let g = grad_of(|x| x.log_softmax(0).slice(s![1]))(&masked).to_vec::<f32>();
    assert_close(&g, &[-s0, 1.0 - s1, 0.0], 1e-6); // d log s1 = e_1 - s
                                                   // stable at large inputs: d/dx sum(w * softmax([1000, 1001]))
    check_grad(
        |x| wsum(&x.softmax(0), 13),
        &tensor([1000.0, 1001.0]).to(dev),
        TOL,
    );
});

// ---- matmul, conv, pooling ----------------------------------------------------------------

test_device!(matmul_gradients, |dev| {
    // y = a b  =>  dL/da = g b^T, dL/db = a^T g, summed over broadcast batch axes
    let (a, b) = (rnd(&[3, 4], 50).to(dev), rnd(&[4, 2], 51).to(dev));
    check_grad(|a| wsum(&a.matmul(&b), 1), &a, TOL);
    check_grad(|b| wsum(&a.matmul(b), 2), &b, TOL);
    let (a3, b3) = (rnd(&[2, 3, 4], 52).to(dev), rnd(&[2, 4, 5], 53).to(dev));
    check_grad(|a| wsum(&a.matmul(&b3), 3), &a3, TOL);
    check_grad(|b| wsum(&a3.matmul(b), 4), &b3, TOL);
    let w = rnd(&[4, 5], 54).to(dev);
    check_grad(|w| wsum(&a3.matmul(w), 5), &w, TOL);
    let (a4, b4) = (rnd(&[2, 1, 3, 4], 55).to(dev), rnd(&[3, 4, 2], 56).to(dev));
    check_grad(|a| wsum(&a.matmul(&b4), 6), &a4, TOL);
    check_grad(|b| wsum(&a4.matmul(b), 7), &b4, TOL);
    // 1-D operands
    let v = rnd(&[4], 57).to(dev);
    check_grad(|v| wsum(&v.matmul(&b), 8), &v, TOL);
    check_grad(|v| wsum(&a.matmul(v), 9), &v, TOL);
    check_grad(|v| v.matmul(v), &v, TOL);
    // transposed operands and x x^T
    check_grad(
        |a| wsum(&a.t().matmul(&rnd(&[3, 2], 58).to(dev)), 10),
        &a,
        TOL,
    );
    check_grad(|a| wsum(&a.matmul(&a.t()), 11), &a, TOL);
});

test_device!(conv_and_pool_gradients, |dev| {
    let x = rnd(&[1, 5, 5, 2], 60).to(dev);
    let w = rnd(&[3, 3, 2, 3], 61).to(dev);
    // (strides, padding, dilation)
    for (i, (s, pad, d)) in [
        ((1, 1), "valid", (1, 1)),
        ((2, 2), "same", (1, 1)),
        ((1, 2), "same", (2, 1)),
        ((1, 1), "valid", (2, 2)),
    ]
    .into_iter()
    .enumerate()
    {
        println!("conv2d strides {s:?} {pad} dilation {d:?}");
        check_grad(|x| wsum(&x.conv2d(&w, s, pad, d), i as u64), &x, TOL);
        check_grad(|w| wsum(&x.conv2d(w, s, pad, d), 10 + i as u64), &w, TOL);
    }
    // pooling: max sends the gradient to the window's max (distinct values, no near-ties);
    // avg spreads it over the real cells of each window
    let dx = distinct(&[1, 5, 5, 2], 62).to(dev);
    check_grad(
        |x| wsum(&x.max_pool2d((2, 2), (2, 2), "valid"), 20),
        &dx,
        TOL,
    );
    check_grad(
        |x| wsum(&x.max_pool2d((3, 3), (2, 2), "same"), 21),
        &dx,
        TOL,
    );
    check_grad(
        |x| wsum(&x.avg_pool2d((2, 2), (1, 1), "valid"), 22),
        &x,
        TOL,
    );
    check_grad(|x| wsum(&x.avg_pool2d((3, 3), (2, 2), "same"), 23), &x, TOL);
});

// ---- indexing, joining and views ----------------------------------------------------------

test_device!(gather_concat_stack_split_and_where_gradients, |dev| {
    let x = rnd(&[4, 3], 70).to(dev);
    // gather's adjoint is a scatter-add: repeated indices add up
    check_grad(
        |x| wsum(&x.gather(&tensor([[0, 2], [2, 3]]).to(dev), 0), 1),
        &x,
        TOL,
    );
    check_grad(
        |x| wsum(&x.gather(&tensor([2, 0, 2, 2]).to(dev), 1), 2),
        &x,
        TOL,
    );
    check_grad(
        |x| wsum(&x.index_select(&tensor([3, 1]).to(dev), -2), 3),
        &x,
        TOL,
    );
    // d/dx sum(x[[1, 1, 1]]) = 3 in row 1
    let g = grad_of(|x| x.gather(&tensor([1, 1, 1]).to(dev), 0))(&x);
    assert_eq!(
        g.to_vec::<f32>(),
        vec![0., 0., 0., 3., 3., 3., 0., 0., 0., 0., 0., 0.]
    );
    let c = rnd(&[4, 2], 71).to(dev);
    check_grad(|x| wsum(&concat(&[x, &c, x], 1), 4), &x, TOL);
    check_grad(|x| wsum(&concat(&[x, &x.square()], 0), 5), &x, TOL);
    check_grad(|x| wsum(&stack(&[x, &(x * 2.0)], 1), 6), &x, TOL);
    check_grad(|x| wsum(&stack(&[x, &x.exp()], -1), 7), &x, TOL);
    check_grad(
        |x| {
            let p = x.split_sizes(&[1, 2], 1);
            wsum(&p[0], 8).sum() + wsum(&p[1].square(), 9).sum()
        },
        &x,
        TOL,
    );
    // where: x^2 where x > 0 else 3x  =>  2x or 3
    let xa = rnd_away(&[4, 3], 72, 0.1).to(dev);
    check_grad(
        |x| wsum(&where_(&x.greater(0.0), &x.square(), &(x * 3.0)), 10),
        &xa,
        TOL,
    );
    check_grad(
        |y| wsum(&where_(&xa.greater(0.0), &xa, y), 11),
        &rnd(&[3], 73).to(dev),
        TOL,
    );
});

test_device!(view_gradients, |dev| {
    let x = rnd(&[2, 3, 4], 80).to(dev);
    check_grad(|x| wsum(&x.reshape([4, -1]), 1), &x, TOL);
    check_grad(|x| wsum(&x.permute(&[2, 0, 1]), 2), &x, TOL);
    check_grad(|x| wsum(&x.transpose(0, -1), 3), &x, TOL);
    check_grad(|x| wsum(&x.t(), 4), &x, TOL);
    check_grad(|x| wsum(&x.t().reshape([-1]), 5), &x, TOL); // strided reshape copies
    check_grad(|x| wsum(&x.expand_dims(1).squeeze(&[1]), 6), &x, TOL);
    check_grad(|x| wsum(&x.slice(s![.., 1.., ..;2]), 7), &x, TOL);
    check_grad(|x| wsum(&x.slice(s![-1, ..;2, 3]), 8), &x, TOL);
    check_grad(|x| wsum(&x.narrow(2, 1, 2), 9), &x, TOL);
    check_grad(|x| wsum(&x.get(1), 10), &x, TOL);
    check_grad(
        |x| wsum(&x.slice(s![.., 0..1]).broadcast_to([3, 2, 5, 4]), 11),
        &x,
        TOL,
    );
    check_grad(|x| wsum(&x.flatten_batch(), 12), &x, TOL);
    check_grad(|x| wsum(&x.split(2, 2)[1], 13), &x, TOL);
    check_grad(|x| wsum(&x.contiguous_copy(), 14), &x, TOL);
    check_grad(|x| wsum(&x.to(Device::Cpu), 15), &x, TOL);
    // cast: the gradient comes back in the source dtype. y = 3 cast(x)  =>  dy/dx = 3
    let g = grad_of(|x| (x.cast(DType::F16) * 3.0).cast(DType::F32))(&x);
    assert_eq!(g.dtype(), DType::F32);
    assert_eq!(g.to_vec::<f32>(), vec![3.0; 24]);
    // half-precision inputs get half-precision gradients: y = x^2  =>  2x
    let h = tensor([0.5, -1.5]).to(dev).cast(DType::F16);
    let gh = grad_of(|x| x.square())(&h);
    assert_eq!((gh.dtype(), gh.to_f32_vec()), (DType::F16, vec![1.0, -3.0]));
    let g =
        grad_of(|x| x.cast(DType::BF16).square().cast(DType::F32))(&tensor([0.5, -2.0]).to(dev));
    assert_eq!(g.to_vec::<f32>(), vec![1.0, -4.0]);
});

// ---- second derivatives ---------------------------------------------------------------------

test_device!(nested_tapes_give_second_derivatives, |dev| {
    // y = x^3  =>  dy/dx = 3x^2 = 12, d2y/dx2 = 6x = 12 at x = 2
    let x = tensor(2.0).to(dev);
    let outer = GradientTape::new();
    outer.watch(&x);
    let inner = GradientTape::new();
    inner.watch(&x);
    let y = &x * &x * &x;
    let [dy] = inner.gradient(&y, [&x]);
    let dy = dy.unwrap();
    assert_eq!(dy.item(), 12.0);
    let [d2y] = outer.gradient(&dy, [&x]);
    assert_eq!(d2y.unwrap().item(), 12.0);
    // the same through pow: x^3 at x = [1, -1.5]  =>  6x = [6, -9]
    let v = tensor([1.0, -1.5]).to(dev);
    assert_eq!(
        grad_of(grad_of(|x| x.pow(3.0)))(&v).to_vec::<f32>(),
        vec![6.0, -9.0]
    );
    // third derivatives nest too: d3/dx3 x^4 = 24x = 48 at x = 2, through pow and through mul
    let three = grad_of(grad_of(grad_of(|x| x.pow(4.0))))(&tensor(2.0).to(dev));
    assert_eq!(three.item(), 48.0);
    let three = grad_of(grad_of(grad_of(|x| x * x * x * x)))(&tensor(2.0).to(dev));
    assert_eq!(three.item(), 48.0);
    // d2/dx2 sin = -sin
    let s = grad_of(grad_of(|x| x.sin()))(&v).to_vec::<f32>();
    assert_close(&s, &[-(1f32.sin()), 1.5f32.sin()], 1e-6);
    // second derivatives of every smooth op against finite differences of the first
    let x = rnd(&[2, 3], 90).to(dev);
    let p = rnd_pos(&[2, 3], 91, 0.5).to(dev);
    let b = rnd(&[3, 2], 92).to(dev);
    check_grad(grad_of(|x| wsum(&x.exp(), 1)), &x, TOL);
    check_grad(grad_of(|x| wsum(&x.tanh(), 2)), &x, TOL);
    check_grad(grad_of(|x| wsum(&x.sigmoid(), 3)), &x, TOL);
    check_grad(grad_of(|x| wsum(&x.softplus(), 4)), &x, TOL);
    check_grad(grad_of(|x| wsum(&x.gelu(), 5)), &x, TOL);
    check_grad(grad_of(|x| wsum(&x.erf(), 6)), &x, TOL);
    check_grad(grad_of(|x| wsum(&x.cos(), 7)), &x, TOL);
    check_grad(grad_of(|x| wsum(&x.log(), 8)), &p, TOL);
    check_grad(grad_of(|x| wsum(&x.sqrt(), 9)), &p, TOL);
    check_grad(grad_of(|x| wsum(&x.rsqrt(), 10)), &p, TOL);
    check_grad(grad_of(|x| wsum(&x.reciprocal(), 11)), &p, TOL);
    check_grad(grad_of(|x| wsum(&x.pow(2.5), 12)), &p, TOL);
    check_grad(grad_of(|q| wsum(&(&x / q), 13)), &p, TOL); // d2/dq2 x/q = 2x/q^3
    check_grad(grad_of(|x| wsum(&p.pow(x), 14)), &x, TOL);
    check_grad(grad_of(|x| wsum(&x.softmax(-1), 15)), &x, TOL);
    check_grad(grad_of(|x| wsum(&x.log_softmax(0), 16)), &x, TOL);
    check_grad(grad_of(|x| wsum(&x.matmul(&b).square(), 17)), &x, TOL);
    check_grad(grad_of(|x| wsum(&x.matmul(&x.t()), 18)), &x, TOL);
    check_grad(grad_of(|x| x.var() * x.mean()), &x, TOL);
});

// ---- tape semantics -------------------------------------------------------------------------

#[test]
fn a_tape_records_only_while_it_exists_and_only_what_it_tracks() {
    let x = tensor([1.0, 2.0]);
    let before = &x * &x; // computed before any tape
    let tape = GradientTape::persistent();
    tape.watch(&x);
    let during = &x * &x;
    let [g_before, g_during] = [tape.gradient(&before, [&x]), tape.gradient(&during, [&x])];
    assert!(
        g_before[0].is_none(),
        "ops before the tape are not recorded"
    );
    assert_eq!(
        g_during[0].as_ref().unwrap().to_vec::<f32>(),
        vec![2.0, 4.0]
    );
    // a constant that is not watched gets no gradient; watching it later only sees later ops
    let c = tensor([3.0, 4.0]);
    let y1 = &x * &c;
    assert!(tape.gradient(&y1, [&c])[0].is_none());
    tape.watch(&c);
    let y2 = &x * &c;
    assert_eq!(
        tape.gradient(&y2, [&c])[0]
            .as_ref()
            .unwrap()
            .to_vec::<f32>(),
        vec![1.0, 2.0]
    );
    // ops in a stop_recording block are not recorded; recording resumes after it
    let paused = {
        let _p = tape.stop_recording();
        &x * 5.0
    };
    let resumed = &x * 5.0;
    assert!(tape.gradient(&paused, [&x])[0].is_none());
    assert_eq!(
        tape.gradient(&resumed, [&x])[0]
            .as_ref()
            .unwrap()
            .to_vec::<f32>(),
        vec![5.0, 5.0]
    );
    // reset forgets everything
    tape.reset();
    assert!(tape.gradient(&resumed, [&x])[0].is_none());
    drop(tape);
    // after the tape is gone, a new tape does not see the old ops
    let t2 = GradientTape::new();
    t2.watch(&x);
    assert!(t2.gradient(&during, [&x])[0].is_none());
}

#[test]
fn unconnected_sources_get_none_and_stop_gradient_blocks() {
    let (a, b) = (tensor([1.0, 2.0]), tensor([3.0]));
    let tape = GradientTape::new();
    tape.watch(&a);
    tape.watch(&b);
    // y = a * stop_gradient(a)  =>  dy/da = stop_gradient(a) = a (not 2a); b is unconnected
    let y = (&a * &stop_gradient(&a)).sum();
    let [ga, gb] = tape.gradient(&y, [&a, &b]);
    assert_eq!(ga.unwrap().to_vec::<f32>(), vec![1.0, 2.0]);
    assert!(gb.is_none());
    // gradient_vec for a list of sources; a non-scalar target is summed; the target itself is 1
    let tape = GradientTape::new();
    tape.watch(&a);
    let y = &a.stop_gradient() * &a * 3.0;
    let g = tape.gradient_vec(&y, &[&a, &y, &b]);
    assert_eq!(g[0].as_ref().unwrap().to_vec::<f32>(), vec![3.0, 6.0]);
    assert_eq!(g[1].as_ref().unwrap().to_vec::<f32>(), vec![1.0, 1.0]);
    assert!(g[2].is_none());
}

#[test]
fn persistent_tapes_allow_several_gradients_and_others_only_one() {
    let x = tensor(3.0);
    let tape = GradientTape::persistent();
    tape.watch(&x);
    let y = &x * &x; // 2x = 6
    let z = y.exp(); // e^(x^2) 2x
    assert_eq!(tape.gradient(&y, [&x])[0].as_ref().unwrap().item(), 6.0);
    assert_eq!(tape.gradient(&y, [&x])[0].as_ref().unwrap().item(), 6.0);
    assert_close(
        &[tape.gradient(&z, [&x])[0].as_ref().unwrap().item()],
        &[6.0 * 9f32.exp()],
        1e-6,
    );
    let once = GradientTape::new();
    once.watch(&x);
    let y = &x * 2.0;
    assert_eq!(once.gradient(&y, [&x])[0].as_ref().unwrap().item(), 2.0);
    let msg = panic_message(|| once.gradient(&y, [&x]));
    assert_eq!(
        msg,
        "GradientTape.gradient can only be called once on a non-persistent tape; use GradientTape::persistent() to call it several times"
    );
}

#[test]
fn variables_are_watched_automatically_unless_told_otherwise() {
    let _g = TAPES.lock().unwrap_or_else(|e| e.into_inner());
    let v = Variable::new(tensor([1.0, 2.0]));
    let frozen = Variable::non_trainable(tensor([5.0]));
    assert!(v.trainable() && !frozen.trainable());
    let tape = GradientTape::new();
    let y = (&v * &v).sum() + (&v * &frozen).sum(); // dy/dv = 2v + frozen, dy/dfrozen = sum(v)
    assert_eq!(tape.watched_variables().len(), 1);
    assert_eq!(tape.watched_variables()[0].id(), v.id());
    let [gv, gf] = tape.gradient(&y, [&v, &frozen]);
    assert_eq!(gv.unwrap().to_vec::<f32>(), vec![7.0, 9.0]);
    assert!(
        gf.is_none(),
        "non-trainable variables are not watched automatically"
    );
    // ... but can be watched by hand
    let tape = GradientTape::new();
    tape.watch(&frozen);
    let y = (&v * &frozen).sum();
    let [gv, gf] = tape.gradient(&y, [&v, &frozen]);
    assert_eq!(
        (gv.unwrap().to_vec::<f32>(), gf.unwrap().to_vec::<f32>()),
        (vec![5.0, 5.0], vec![3.0])
    );
    // watch_accessed_variables(false): only what is watched by hand
    let tape = GradientTape::new().watch_accessed_variables(false);
    let y = (&v * 2.0).sum();
    assert!(tape.gradient(&y, [&v])[0].is_none());
    assert!(tape.watched_variables().is_empty());
    let tape = GradientTape::new().watch_accessed_variables(false);
    tape.watch(&v);
    let y = (&v * 2.0).sum();
    assert_eq!(
        tape.gradient(&y, [&v])[0].as_ref().unwrap().to_vec::<f32>(),
        vec![2.0, 2.0]
    );
    // set_trainable(false) turns the automatic watch off
    v.set_trainable(false);
    let tape = GradientTape::new();
    let y = (&v * 2.0).sum();
    assert!(tape.gradient(&y, [&v])[0].is_none());
}

#[test]
fn assign_updates_in_place_and_is_not_recorded() {
    let _g = TAPES.lock().unwrap_or_else(|e| e.into_inner());
    let v = Variable::new(tensor([1.0, 2.0]));
    assert_eq!(v.name(), "Variable");
    let id = v.id();
    v.assign(tensor([3.0, 4.0]));
    v.assign_add(tensor([1.0, 1.0]));
    v.assign_sub(tensor([0.5, 0.5]));
    assert_eq!(v.to_vec::<f32>(), vec![3.5, 4.5]);
    assert_eq!(v.id(), id, "the same variable");
    v.assign(tensor([7, 8])); // values are cast to the variable's dtype
    assert_eq!((v.dtype(), v.to_vec::<f32>()), (DType::F32, vec![7.0, 8.0]));
    let named = Variable::with_options(&zeros([2]), "kernel", true);
    assert_eq!(named.name(), "kernel");
    // under a tape: the assigned value does not carry x's gradient, the variable's own does
    let x = tensor([1.0, 2.0]);
    let tape = GradientTape::new();
    tape.watch(&x);
    v.assign(&x * 2.0);
    let loss = (&v * &v).sum(); // d/dv = 2v = [4, 8]
    let [gx, gv] = tape.gradient(&loss, [&x, &v]);
    assert!(gx.is_none());
    assert_eq!(gv.unwrap().to_vec::<f32>(), vec![4.0, 8.0]);
}

#[test]
fn linear_regression_converges_to_the_true_weights() {
    let _g = TAPES.lock().unwrap_or_else(|e| e.into_inner());
    // y = X [2, -3, 0.5]^T + 1, no noise; 300 steps of gradient descent on the MSE
    let x = rnd(&[64, 3], 100);
    let w_true = tensor([[2.0], [-3.0], [0.5]]);
    let y = x.matmul(&w_true) + 1.0;
    let w = Variable::new(zeros([3, 1]));
    let b = Variable::new(zeros([1]));
    let lr = 0.1;
    let mut loss = f32::INFINITY;
    for _ in 0..300 {
        let tape = GradientTape::new();
        let pred = x.matmul(&w) + &b;
        let l = (pred - &y).square().mean();
        let [dw, db] = tape.gradient(&l, [&w, &b]);
        w.assign_sub(dw.unwrap() * lr);
        b.assign_sub(db.unwrap() * lr);
        loss = l.item();
    }
    assert!(loss < 1e-8, "loss {loss}");
    assert_close(&w.to_vec::<f32>(), &[2.0, -3.0, 0.5], 1e-4);
    assert_close(&b.to_vec::<f32>(), &[1.0], 1e-4);
}

#[test]
fn a_tape_records_only_the_ops_of_its_own_thread() {
    // Like TF: a data pipeline's worker threads computing with a watched tensor or a trainable
    // variable while a training step's tape is open must not land on that tape.
    let x = tensor([3.0f32]);
    let v = Variable::new(tensor([2.0f32]));
    let tape = GradientTape::persistent();
    tape.watch(&x);
    let (y_other, w_other) = std::thread::scope(|s| {
        s.spawn(|| ((&x * &x).sum(), (&v * 3.0).sum()))
            .join()
            .unwrap()
    });
    let y = (&x * &x).sum() + (&v * 5.0).sum();
    assert_eq!(
        tape.watched_variables().len(),
        1,
        "only this thread's read of v"
    );
    let [gx, gv] = tape.gradient(&y, [&x, &v]);
    assert_eq!(gx.unwrap().to_vec::<f32>(), vec![6.0]);
    assert_eq!(gv.unwrap().to_vec::<f32>(), vec![5.0]);
    // the other thread's results were never recorded: no gradient reaches x or v through them
    assert!(tape.gradient(&y_other, [&x])[0].is_none());
    assert!(tape.gradient(&w_other, [&v])[0].is_none());
    // and a tape opened on another thread records that thread's ops
    let g = std::thread::scope(|s| {
        s.spawn(|| {
            let t = GradientTape::new();
            t.watch(&x);
            let y = (&x * 4.0).sum();
            t.gradient(&y, [&x])[0].as_ref().map(|g| g.to_vec::<f32>())
        })
        .join()
        .unwrap()
    });
    assert_eq!(g, Some(vec![4.0]));
}
