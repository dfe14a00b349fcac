//! Reductions: sum, mean, max, min, argmax, argmin, var, std, logsumexp, softmax and
//! log_softmax, over all axes, one axis, several axes, with keepdims and negative axes.
//!
//! References: a naive f64 reducer that walks every index (below), and hand-computed values for
//! the stability cases (softmax of [1000, 1001] = [1/(1+e), e/(1+e)]).

use crate::common;

use common::{assert_close, assert_contains, assert_tensor, distinct, rnd, tol_on};
use ferrolab::prelude::*;

/// Reduces `axes` of row-major `data` (shape `dims`) with `f` over each group, in f64.
/// Returns the values in row-major order of the kept axes.
fn reduce_ref(data: &[f32], dims: &[usize], axes: &[usize], f: impl Fn(&[f64]) -> f64) -> Vec<f32> {
    let rank = dims.len();
    let kept: Vec<usize> = (0..rank).filter(|a| !axes.contains(a)).collect();
    let out_n: usize = kept.iter().map(|&a| dims[a]).product();
    let mut groups = vec![Vec::new(); out_n];
    for (flat, &v) in data.iter().enumerate() {
        // unravel flat -> index, then ravel the kept axes
        let mut rem = flat;
        let mut idx = vec![0; rank];
        for a in (0..rank).rev() {
            idx[a] = rem % dims[a];
            rem /= dims[a];
        }
        let o = kept.iter().fold(0, |acc, &a| acc * dims[a] + idx[a]);
        groups[o].push(v as f64);
    }
    groups.iter().map(|g| f(g) as f32).collect()
}

fn sum64(g: &[f64]) -> f64 {
    g.iter().sum()
}
fn mean64(g: &[f64]) -> f64 {
    sum64(g) / g.len() as f64
}
fn max64(g: &[f64]) -> f64 {
    g.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
}
fn min64(g: &[f64]) -> f64 {
    g.iter().cloned().fold(f64::INFINITY, f64::min)
}
fn var64(g: &[f64]) -> f64 {
    let m = mean64(g);
    g.iter().map(|x| (x - m).powi(2)).sum::<f64>() / g.len() as f64
}
fn lse64(g: &[f64]) -> f64 {
    let m = max64(g);
    m + g.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
}

// ---- sum, mean, max, min, var, std over any axes --------------------------------------------

/// (axes as given, resolved sorted axes, shape without keepdims, shape with keepdims)
type Case = (
    &'static [isize],
    &'static [usize],
    &'static [usize],
    &'static [usize],
);

test_device!(
    reductions_over_all_one_and_several_axes_match_the_naive_reference,
    |dev| {
        let dims = [2, 3, 4];
        let x = rnd(&dims, 31).to(dev);
        let xv = x.to_vec::<f32>();
        let cases: [Case; 7] = [
            (&[0], &[0], &[3, 4], &[1, 3, 4]),
            (&[1], &[1], &[2, 4], &[2, 1, 4]),
            (&[-1], &[2], &[2, 3], &[2, 3, 1]),
            (&[0, 2], &[0, 2], &[3], &[1, 3, 1]),
            (&[-1, 0], &[0, 2], &[3], &[1, 3, 1]),
            (&[1, 2], &[1, 2], &[2], &[2, 1, 1]),
            (&[0, 1, 2], &[0, 1, 2], &[], &[1, 1, 1]),
        ];
        type Op = (
            &'static str,
            fn(&Tensor, &[isize], bool) -> Tensor,
            fn(&[f64]) -> f64,
        );
        let ops: [Op; 5] = [
            ("sum", |t, a, k| t.sum_axes(a, k), sum64),
            ("mean", |t, a, k| t.mean_axes(a, k), mean64),
            ("max", |t, a, k| t.max_axes(a, k), max64),
            ("min", |t, a, k| t.min_axes(a, k), min64),
            ("var", |t, a, k| t.var_axes(a, k), var64),
        ];
        for (name, op, reference) in ops {
            for (axes, resolved, shape, kept_shape) in cases {
                println!("{name} over {axes:?}");
                let want = reduce_ref(&xv, &dims, resolved, reference);
                assert_tensor(&op(&x, axes, false), shape, &want, tol_on(dev, 2e-6, 1e-5));
                assert_tensor(
                    &op(&x, axes, true),
                    kept_shape,
                    &want,
                    tol_on(dev, 2e-6, 1e-5),
                );
            }
            // an empty axis list means every axis
            assert_tensor(
                &op(&x, &[], false),
                &[],
                &reduce_ref(&xv, &dims, &[0, 1, 2], reference),
                2e-6,
            );
        }
    }
);

test_device!(whole_tensor_and_single_axis_shorthands, |dev| {
    let x = tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 9.0]]).to(dev);
    assert_eq!(x.sum().item(), 24.0);
    assert_eq!(x.sum().dims(), &[] as &[usize]);
    assert_eq!(x.mean().item(), 4.0);
    assert_eq!(x.max().item(), 9.0);
    assert_eq!(x.min().item(), 1.0);
    // var = mean((x - 4)^2) = (9+4+1+0+1+25)/6 = 40/6
    assert_close(&[x.var().item()], &[40.0 / 6.0], tol_on(dev, 1e-6, 1e-5));
    assert_close(
        &[x.std().item()],
        &[(40.0f32 / 6.0).sqrt()],
        tol_on(dev, 1e-6, 1e-5),
    );
    assert_tensor(&x.sum_axis(0, false), &[3], &[5.0, 7.0, 12.0], 0.0);
    assert_tensor(&x.sum_axis(1, true), &[2, 1], &[6.0, 18.0], 0.0);
    assert_tensor(&x.mean_axis(-1, false), &[2], &[2.0, 6.0], 0.0);
    assert_tensor(&x.max_axis(0, true), &[1, 3], &[4.0, 5.0, 9.0], 0.0);
    assert_tensor(&x.min_axis(1, false), &[2], &[1.0, 4.0], 0.0);
    // row 0: var of [1,2,3] = 2/3; row 1: var of [4,5,9] = (4+1+9)/3 = 14/3
    assert_tensor(
        &x.var_axis(1, false),
        &[2],
        &[2.0 / 3.0, 14.0 / 3.0],
        tol_on(dev, 1e-6, 1e-5),
    );
    assert_tensor(
        &x.std_axis(1, true),
        &[2, 1],
        &[(2.0f32 / 3.0).sqrt(), (14.0f32 / 3.0).sqrt()],
        1e-6,
    );
    // a scalar reduces to itself
    assert_eq!(tensor(3.0).to(dev).sum().item(), 3.0);
    assert_eq!(tensor(3.0).to(dev).max().item(), 3.0);
});

test_device!(integer_half_and_empty_reductions, |dev| {
    let i = tensor([[1, -2, 3], [4, 5, -6]]).to(dev);
    assert_eq!(i.sum().to_scalar::<i64>(), 5);
    assert_eq!(i.sum_axis(0, false).to_vec::<i64>(), vec![5, 3, -3]);
    assert_eq!(i.max_axis(1, false).to_vec::<i64>(), vec![3, 5]);
    assert_eq!(i.min().to_scalar::<i64>(), -6);
    assert_eq!(i.mean_axis(1, false).to_vec::<f32>(), vec![2.0 / 3.0, 1.0]);
    // f16 sums accumulate in wide precision and round once: 1000 * f16(0.1) = 1000 * 0.0999756
    // = 99.9756, and the nearest f16 (spacing 1/16 in [64, 128)) is 100.0
    let h = full([1000], 0.1).to(dev).cast(DType::F16);
    assert_eq!(h.sum().dtype(), DType::F16);
    assert_eq!(h.sum().item(), 100.0);
    let b = full([4], 0.5).to(dev).cast(DType::BF16);
    assert_eq!(b.mean().item(), 0.5);
    // a half-precision mean of many elements: the f16 sum 1e5 * 0.5 = 50000 is inexact and
    // f16(1e5) is inf, so the mean is taken in f32 and rounded once: 0.5, in f16
    let big = full([100_000], 0.5).to(dev).cast(DType::F16);
    assert_eq!((big.mean().dtype(), big.mean().item()), (DType::F16, 0.5));
    assert_eq!(big.mean_axis(0, true).item(), 0.5);
    assert_eq!(
        full([100_000], 3.0).to(dev).cast(DType::BF16).mean().item(),
        3.0
    );
    assert_eq!(
        full([70_000], 1.0).to(dev).cast(DType::F16).var().item(),
        0.0
    );
    // summing an empty axis gives zeros of the right shape
    let e = zeros([0, 3]).to(dev);
    assert_tensor(&e.sum_axis(0, false), &[3], &[0.0, 0.0, 0.0], 0.0);
    assert_tensor(&e.sum_axis(1, true), &[0, 1], &[], 0.0);
    assert_eq!(e.sum().item(), 0.0);
    assert_eq!(
        tensor(Vec::<i64>::new()).to(dev).sum().to_scalar::<i64>(),
        0
    );
    // a long sum of 0.1s in f32 stays accurate (f64 accumulation): 1e6 * 0.1 = 100000
    assert_close(
        &[full([1_000_000], 0.1).to(dev).sum().item()],
        &[100_000.0],
        tol_on(dev, 1e-6, 1e-5),
    );
    // and so does the row-accumulating path for leading axes (bias gradients): 5e5 * 0.1
    let rows = full([500_000, 2], 0.1)
        .to(dev)
        .sum_axis(0, false)
        .to_vec::<f32>();
    assert_close(&rows, &[50_000.0, 50_000.0], tol_on(dev, 1e-6, 1e-5));
});

test_device!(
    max_propagates_nan_and_argmax_picks_the_first_of_ties,
    |dev| {
        let x = tensor([1.0, f32::NAN, 3.0]).to(dev);
        assert!(x.max().item().is_nan());
        assert!(x.min().item().is_nan());
        let t = tensor([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0]]).to(dev);
        assert_eq!(t.argmax(1).to_vec::<i64>(), vec![1, 0]);
        assert_eq!(t.argmin(1).to_vec::<i64>(), vec![0, 1]);
        assert_eq!(t.argmax(0).to_vec::<i64>(), vec![1, 0, 0]);
        assert_eq!(t.argmin(-2).to_vec::<i64>(), vec![0, 1, 1]);
        assert_eq!(t.argmax(1).dtype(), DType::I64);
    }
);

test_device!(argmax_and_argmin_match_the_naive_reference, |dev| {
    let dims = [3, 4, 5];
    let x = distinct(&dims, 32).to(dev);
    let xv = x.to_vec::<f32>();
    for axis in 0..3 {
        let arg = |g: &[f64], max: bool| {
            let mut best = 0;
            for i in 0..g.len() {
                if (max && g[i] > g[best]) || (!max && g[i] < g[best]) {
                    best = i;
                }
            }
            best as f64
        };
        let am = reduce_ref(&xv, &dims, &[axis], |g| arg(g, true));
        let an = reduce_ref(&xv, &dims, &[axis], |g| arg(g, false));
        let mut shape = dims.to_vec();
        shape.remove(axis);
        assert_tensor(&x.argmax(axis as isize), &shape, &am, 0.0);
        assert_tensor(&x.argmin(axis as isize - 3), &shape, &an, 0.0);
        // on int64 and f16 too
        let xi = (&x * 10.0).round().cast(DType::I64);
        assert_tensor(&xi.argmax(axis as isize), &shape, &am, 0.0);
        assert_tensor(&x.cast(DType::F16).argmin(axis as isize), &shape, &an, 0.0);
    }
});

// ---- logsumexp, softmax, log_softmax --------------------------------------------------------

test_device!(logsumexp_softmax_and_log_softmax_match_f64, |dev| {
    let dims = [2, 3, 4];
    let x = rnd(&dims, 33).to(dev).affine(3.0, 0.0);
    let xv = x.to_vec::<f32>();
    for axis in [0isize, 1, 2, -1] {
        let a = axis.rem_euclid(3) as usize;
        let lse = reduce_ref(&xv, &dims, &[a], lse64);
        let mut shape = dims.to_vec();
        shape.remove(a);
        assert_tensor(
            &x.logsumexp(axis, false),
            &shape,
            &lse,
            tol_on(dev, 2e-6, 1e-5),
        );
        let mut kshape = dims.to_vec();
        kshape[a] = 1;
        assert_tensor(
            &x.logsumexp(axis, true),
            &kshape,
            &lse,
            tol_on(dev, 2e-6, 1e-5),
        );
        // softmax = exp(x - lse) along the axis; log_softmax = x - lse
        let lse_k = from_vec(lse.clone(), kshape.clone()).unwrap().to(dev);
        let want_log: Vec<f32> = (&x - &lse_k).to_vec::<f32>();
        let want_sm: Vec<f32> = want_log.iter().map(|&v| (v as f64).exp() as f32).collect();
        assert_tensor(&x.softmax(axis), &dims, &want_sm, tol_on(dev, 2e-6, 1e-5));
        assert_tensor(
            &x.log_softmax(axis),
            &dims,
            &want_log,
            tol_on(dev, 2e-6, 1e-5),
        );
        // softmax rows sum to 1
        let ones_want = vec![1.0; shape.iter().product()];
        assert_close(
            &x.softmax(axis).sum_axis(axis, false).to_vec::<f32>(),
            &ones_want,
            2e-6,
        );
    }
});

test_device!(softmax_family_is_stable_for_large_inputs, |dev| {
    // softmax([1000, 1001]) = [1/(1+e), e/(1+e)] = [0.26894142, 0.73105858]
    let big = tensor([1000.0, 1001.0]).to(dev);
    assert_close(
        &big.softmax(0).to_vec::<f32>(),
        &[0.268_941_42, 0.731_058_6],
        1e-6,
    );
    // log_softmax = -ln(1 + e^-1) - [1, 0] = [-1.31326169, -0.31326169]
    assert_close(
        &big.log_softmax(-1).to_vec::<f32>(),
        &[-1.313_261_7, -0.313_261_7],
        1e-6,
    );
    // logsumexp = 1001 + ln(1 + e^-1) = 1001.31326
    assert_close(
        &[big.logsumexp(0, false).item()],
        &[1_001.313_26],
        tol_on(dev, 1e-7, 1e-5),
    );
    let small = tensor([-1000.0, -1001.0]).to(dev);
    assert_close(
        &small.softmax(0).to_vec::<f32>(),
        &[0.731_058_6, 0.268_941_42],
        1e-6,
    );
    assert_close(
        &[small.logsumexp(0, false).item()],
        &[-999.686_74],
        tol_on(dev, 1e-7, 1e-5),
    );
    // a -inf entry gets probability 0
    let m = tensor([0.0, f32::NEG_INFINITY]).to(dev);
    assert_eq!(m.softmax(0).to_vec::<f32>(), vec![1.0, 0.0]);
    // f16 softmax stays in range: exp(11) overflows f16 unless shifted
    let h = tensor([10.0, 11.0]).to(dev).cast(DType::F16).softmax(0);
    assert_close(&h.to_f32_vec(), &[0.268_941_42, 0.731_058_6], 2e-3);
});

// ---- errors ---------------------------------------------------------------------------------

test_device!(reduction_errors_name_the_op_and_axis, |dev| {
    let x = zeros([2, 3]).to(dev);
    assert_eq!(
        x.try_sum_axes(&[2], false).unwrap_err().to_string(),
        "sum: axis 2 is out of range for a tensor of rank 2 (valid: -2..2)"
    );
    assert_contains(
        &x.try_sum_axes(&[1, -1], false).unwrap_err().to_string(),
        &["sum: axis listed twice in [1, -1]"],
    );
    assert_contains(
        &x.try_mean_axes(&[-3], true).unwrap_err().to_string(),
        &["mean: axis -3 is out of range"],
    );
    assert_contains(
        &common::panic_message(|| x.max_axis(5, false)),
        &["max: axis 5 is out of range"],
    );
    assert_contains(
        &common::panic_message(|| x.argmin(2)),
        &["argmin: axis 2 is out of range"],
    );
    assert_contains(
        &common::panic_message(|| zeros([0]).to(dev).max()),
        &["max: cannot reduce an empty tensor of shape (0,)"],
    );
    assert_contains(
        &common::panic_message(|| zeros([2, 0]).to(dev).argmax(1)),
        &["argmax: cannot reduce an empty tensor of shape (2, 0)"],
    );
});
