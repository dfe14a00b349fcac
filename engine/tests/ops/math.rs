//! Elementwise math: every unary op against an f64 reference, binary ops and operators with
//! NumPy broadcasting corner cases, comparisons, `where_`, logical ops, casts between all dtypes
//! and int64 arithmetic.
//!
//! References: the same formula evaluated in f64 (std's libm, and a Taylor-series erf), or
//! hand-computed literals (rounding, casts, floor division).

use crate::common;

use common::{assert_close, assert_tensor, rnd, rnd_pos};
use ferrolab::prelude::*;

/// erf(x) = 2/sqrt(pi) sum_n (-1)^n x^(2n+1) / (n! (2n+1)); accurate to ~1e-12 for |x| <= 4.
fn erf64(x: f64) -> f64 {
    let (mut term, mut sum) = (x, x);
    for n in 1..200 {
        term *= -x * x / n as f64;
        sum += term / (2 * n + 1) as f64;
    }
    sum * std::f64::consts::FRAC_2_SQRT_PI
}

/// Checks `op` on `x` against `reference` applied to each element in f64.
#[track_caller]
fn unary_vs_f64(
    x: &Tensor,
    op: impl Fn(&Tensor) -> Tensor,
    reference: impl Fn(f64) -> f64,
    tol: f32,
) {
    let y = op(x);
    assert_eq!(y.dims(), x.dims());
    assert_eq!(y.dtype(), x.dtype());
    let want: Vec<f32> = x
        .to_f32_vec()
        .iter()
        .map(|&v| reference(v as f64) as f32)
        .collect();
    assert_close(&y.to_f32_vec(), &want, tol);
}

// ---- unary ----------------------------------------------------------------------------------

test_device!(unary_ops_match_f64_references, |dev| {
    let x = rnd(&[3, 7], 11).to(dev).affine(1.5, 0.0); // roughly [-4, 4]
    let pos = rnd_pos(&[3, 7], 12, 0.1).to(dev); // [0.1, 1.1)
    let tol = 2e-6;
    unary_vs_f64(&x, |t| t.neg(), |v| -v, 0.0);
    unary_vs_f64(&x, |t| -t, |v| -v, 0.0);
    unary_vs_f64(&x, |t| t.abs(), f64::abs, 0.0);
    unary_vs_f64(&x, |t| t.exp(), f64::exp, tol);
    unary_vs_f64(&pos, |t| t.log(), f64::ln, tol);
    unary_vs_f64(&pos, |t| t.sqrt(), f64::sqrt, tol);
    unary_vs_f64(&pos, |t| t.rsqrt(), |v| 1.0 / v.sqrt(), tol);
    unary_vs_f64(&x, |t| t.sin(), f64::sin, tol);
    unary_vs_f64(&x, |t| t.cos(), f64::cos, tol);
    unary_vs_f64(&x, |t| t.tanh(), f64::tanh, tol);
    unary_vs_f64(&x, |t| t.sigmoid(), |v| 1.0 / (1.0 + (-v).exp()), tol);
    unary_vs_f64(&x, |t| t.relu(), |v| v.max(0.0), 0.0);
    // exact GELU (Keras' default): x Phi(x) = x/2 (1 + erf(x/sqrt 2))
    unary_vs_f64(
        &x,
        |t| t.gelu(),
        |v| 0.5 * v * (1.0 + erf64(v / 2f64.sqrt())),
        1e-6,
    );
    unary_vs_f64(&x, |t| t.softplus(), |v| (1.0 + v.exp()).ln(), tol);
    unary_vs_f64(&x, |t| t.square(), |v| v * v, tol);
    unary_vs_f64(&pos, |t| t.reciprocal(), |v| 1.0 / v, tol);
    unary_vs_f64(&x, |t| t.erf(), erf64, 1e-6);
    unary_vs_f64(&pos, |t| t.pow(2.5), |v| v.powf(2.5), tol);
    unary_vs_f64(&x, |t| t.pow(2.0), |v| v * v, tol);
    unary_vs_f64(&x, |t| t.pow(3), |v| v * v * v, tol);
    unary_vs_f64(&pos, |t| t.powf(0.5), f64::sqrt, tol);
    unary_vs_f64(&pos, |t| t.pow(-1.0), |v| 1.0 / v, tol);
    unary_vs_f64(&x, |t| t.clamp(-1.0, 0.5), |v| v.clamp(-1.0, 0.5), 0.0);
    unary_vs_f64(&x, |t| t.affine(2.0, -1.0), |v| 2.0 * v - 1.0, tol);
    unary_vs_f64(&x, |t| t.sign(), |v| v.signum(), 0.0);
    unary_vs_f64(&x, |t| t.floor(), f64::floor, 0.0);
    unary_vs_f64(&x, |t| t.ceil(), f64::ceil, 0.0);
});

test_device!(unary_special_values, |dev| {
    // round is half-to-even, like tf.round
    let h = tensor([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 2.6, -0.4]).to(dev);
    assert_eq!(
        h.round().to_vec::<f32>(),
        vec![-2.0, -2.0, -0.0, 0.0, 2.0, 2.0, 3.0, -0.0]
    );
    assert_eq!(
        tensor([-3.0, 0.0, 2.0]).to(dev).sign().to_vec::<f32>(),
        vec![-1.0, 0.0, 1.0]
    );
    // sigmoid and softplus are stable far out; exp/log at the edges follow IEEE
    assert_close(
        &tensor([-100.0, 100.0]).to(dev).sigmoid().to_vec::<f32>(),
        &[3.72e-44, 1.0],
        1e-6,
    );
    assert_close(
        &tensor([-100.0, 100.0]).to(dev).softplus().to_vec::<f32>(),
        &[3.72e-44, 100.0],
        1e-6,
    );
    assert_eq!(
        tensor([0.0]).to(dev).log().to_vec::<f32>(),
        vec![f32::NEG_INFINITY]
    );
    assert!(tensor([-1.0]).to(dev).sqrt().to_vec::<f32>()[0].is_nan());
    assert_eq!(
        tensor([0.0]).to(dev).reciprocal().to_vec::<f32>(),
        vec![f32::INFINITY]
    );
    assert_eq!(
        tensor([1000.0]).to(dev).exp().to_vec::<f32>(),
        vec![f32::INFINITY]
    );
    // gelu: gelu(0) = 0, gelu(1) = 0.8413447, gelu(-1) = -0.1586553
    assert_close(
        &tensor([0.0, 1.0, -1.0]).to(dev).gelu().to_vec::<f32>(),
        &[0.0, 0.841_344_7, -0.158_655_3],
        1e-6,
    );
    // f16 and bf16 compute in f32 and round once
    let h = tensor([0.5, 1.0, 2.0]).to(dev).cast(DType::F16).exp();
    assert_eq!(h.dtype(), DType::F16);
    let want: Vec<f32> = [0.5f32, 1.0, 2.0]
        .iter()
        .map(|v| f16::from_f32(v.exp()).to_f32())
        .collect();
    assert_eq!(h.to_f32_vec(), want);
    let b = tensor([0.3, 3.0]).to(dev).cast(DType::BF16).sqrt();
    let want: Vec<f32> = [0.3f32, 3.0]
        .iter()
        .map(|&v| bf16::from_f32(bf16::from_f32(v).to_f32().sqrt()).to_f32())
        .collect();
    assert_eq!(b.to_f32_vec(), want);
});

test_device!(int64_unary_ops, |dev| {
    let i = tensor([-3, 0, 2, 7]).to(dev);
    assert_eq!(i.neg().to_vec::<i64>(), vec![3, 0, -2, -7]);
    assert_eq!(i.abs().to_vec::<i64>(), vec![3, 0, 2, 7]);
    assert_eq!(i.square().to_vec::<i64>(), vec![9, 0, 4, 49]);
    assert_eq!(i.sign().to_vec::<i64>(), vec![-1, 0, 1, 1]);
    assert_eq!(i.relu().to_vec::<i64>(), vec![0, 0, 2, 7]);
    assert_eq!(i.clamp(-1.0, 5.0).to_vec::<i64>(), vec![-1, 0, 2, 5]);
    assert_eq!(i.floor().to_vec::<i64>(), vec![-3, 0, 2, 7]);
    assert_eq!(i.affine(2.0, 1.0).to_vec::<i64>(), vec![-5, 1, 5, 15]);
    assert_eq!(i.pow(2).to_vec::<i64>(), vec![9, 0, 4, 49]);
    assert_eq!(i.mean().item(), 1.5);
    assert_eq!(i.mean().dtype(), DType::F32);
});

// ---- binary with broadcasting ---------------------------------------------------------------

test_device!(broadcasting_3_1_5_with_4_1, |dev| {
    // a: (3,1,5), b: (4,1)  =>  (3,4,5), out[i,j,k] = a[i,0,k] + b[j,0]
    let a = rnd(&[3, 1, 5], 21).to(dev);
    let b = rnd(&[4, 1], 22).to(dev);
    let (av, bv) = (a.to_vec::<f32>(), b.to_vec::<f32>());
    let mut want = Vec::new();
    for i in 0..3 {
        for &bj in &bv {
            for k in 0..5 {
                want.push(av[i * 5 + k] + bj);
            }
        }
    }
    assert_tensor(&(&a + &b), &[3, 4, 5], &want, 0.0);
    // the other way round too, and through sub, mul, div, maximum, minimum, pow
    assert_tensor(&(&b + &a), &[3, 4, 5], &want, 0.0);
    let m = |f: fn(f32, f32) -> f32| -> Vec<f32> {
        let mut v = Vec::new();
        for i in 0..3 {
            for &bj in &bv {
                for k in 0..5 {
                    v.push(f(av[i * 5 + k], bj));
                }
            }
        }
        v
    };
    assert_tensor(&(&a - &b), &[3, 4, 5], &m(|x, y| x - y), 0.0);
    assert_tensor(&(&a * &b), &[3, 4, 5], &m(|x, y| x * y), 0.0);
    assert_tensor(&(&a / &b), &[3, 4, 5], &m(|x, y| x / y), 0.0);
    assert_tensor(&a.maximum(&b), &[3, 4, 5], &m(f32::max), 0.0);
    assert_tensor(&a.minimum(&b), &[3, 4, 5], &m(f32::min), 0.0);
    let ap = a.abs() + 0.5;
    let apv = ap.to_vec::<f32>();
    let mut want_pow = Vec::new();
    for i in 0..3 {
        for &bj in &bv {
            for k in 0..5 {
                want_pow.push((apv[i * 5 + k] as f64).powf(bj as f64) as f32);
            }
        }
    }
    assert_tensor(&ap.pow(&b), &[3, 4, 5], &want_pow, 2e-6);
});

test_device!(scalar_operands_on_both_sides, |dev| {
    let x = tensor([1.0, 2.0, 4.0]).to(dev);
    assert_eq!((2.0 * &x).to_vec::<f32>(), vec![2.0, 4.0, 8.0]);
    assert_eq!((&x * 2.0).to_vec::<f32>(), vec![2.0, 4.0, 8.0]);
    assert_eq!((1.0 - &x).to_vec::<f32>(), vec![0.0, -1.0, -3.0]);
    assert_eq!((&x - 1.0).to_vec::<f32>(), vec![0.0, 1.0, 3.0]);
    assert_eq!((8.0 / &x).to_vec::<f32>(), vec![8.0, 4.0, 2.0]);
    assert_eq!((&x / 4.0).to_vec::<f32>(), vec![0.25, 0.5, 1.0]);
    assert_eq!((3 + &x).to_vec::<f32>(), vec![4.0, 5.0, 7.0]);
    assert_eq!((x.clone() + 0.5f32).to_vec::<f32>(), vec![1.5, 2.5, 4.5]);
    assert_eq!((10.0 - x.clone()).to_vec::<f32>(), vec![9.0, 8.0, 6.0]);
    assert_eq!(x.maximum(2.0).to_vec::<f32>(), vec![2.0, 2.0, 4.0]);
    assert_eq!(x.minimum(2.0).to_vec::<f32>(), vec![1.0, 2.0, 2.0]);
    // a scalar takes the tensor's dtype (a whole float is fine for ints; 2.5 is an error)
    let i = tensor([1, 2, 3]).to(dev);
    assert_eq!((&i * 2.0).to_vec::<i64>(), vec![2, 4, 6]);
    assert!(i.try_add(2.5).is_err());
    assert_eq!((2 * &i).to_vec::<i64>(), vec![2, 4, 6]);
    assert_eq!((&i + 1).dtype(), DType::I64);
    let h = x.cast(DType::F16);
    assert_eq!((&h * 0.5).dtype(), DType::F16);
    assert_eq!((&h * 0.5).to_f32_vec(), vec![0.5, 1.0, 2.0]);
    // variables on either side
    let v = Variable::new(tensor([1.0, -1.0]).to(dev));
    assert_eq!(
        (&v + &tensor([1.0, 1.0]).to(dev)).to_vec::<f32>(),
        vec![2.0, 0.0]
    );
    assert_eq!((2.0 * &v).to_vec::<f32>(), vec![2.0, -2.0]);
    assert_eq!((-&v).to_vec::<f32>(), vec![-1.0, 1.0]);
    assert_eq!((&v * &v).to_vec::<f32>(), vec![1.0, 1.0]);
});

test_device!(broadcasting_corner_cases, |dev| {
    // rank 0 with anything
    let s = tensor(2.0).to(dev);
    let m = tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]).to(dev);
    assert_tensor(&(&s * &m), &[2, 3], &[2.0, 4.0, 6.0, 8.0, 10.0, 12.0], 0.0);
    assert_tensor(&(&m - &s), &[2, 3], &[-1.0, 0.0, 1.0, 2.0, 3.0, 4.0], 0.0);
    assert_tensor(&(&s + &s), &[], &[4.0], 0.0);
    // a row and a column make a table
    let col = tensor([[10.0], [20.0]]).to(dev);
    let row = tensor([1.0, 2.0, 3.0]).to(dev);
    assert_tensor(
        &(&col + &row),
        &[2, 3],
        &[11.0, 12.0, 13.0, 21.0, 22.0, 23.0],
        0.0,
    );
    // size-1 axes on both sides in different places: (2,1,3) * (1,4,1) = (2,4,3)
    let a = arange(0.0, 6.0, 1.0).to(dev).reshape([2, 1, 3]);
    let b = arange(1.0, 5.0, 1.0).to(dev).reshape([1, 4, 1]);
    let y = &a * &b;
    assert_eq!(y.dims(), &[2, 4, 3]);
    let yv = y.to_vec::<f32>();
    assert_eq!(yv[(4 + 2) * 3 + 1], 4.0 * 3.0); // a[1,0,1] = 4, b[0,2,0] = 3
                                                // empty shapes: (0,3) with (3,), (1,3) and (0,1) stay empty
    let e = zeros([0, 3]).to(dev);
    assert_eq!((&e + &row).dims(), &[0, 3]);
    assert_eq!((&e * &tensor([[1.0, 2.0, 3.0]]).to(dev)).dims(), &[0, 3]);
    assert_eq!((&e - &zeros([0, 1]).to(dev)).dims(), &[0, 3]);
    assert_eq!((&e + 1.0).to_vec::<f32>(), Vec::<f32>::new());
    assert_eq!(
        (&zeros([2, 0]).to(dev) + &zeros([1, 0]).to(dev)).dims(),
        &[2, 0]
    );
    // (0,3) + (2,3) cannot broadcast
    assert!(e.try_add(zeros([2, 3]).to(dev)).is_err());
});

// ---- comparisons, where, logical --------------------------------------------------------------

test_device!(comparisons_return_bool_tensors, |dev| {
    let a = tensor([1.0, 2.0, 3.0]).to(dev);
    let b = tensor([[2.0], [3.0]]).to(dev);
    let lt = a.less(&b);
    assert_eq!((lt.dims(), lt.dtype()), (&[2usize, 3][..], DType::Bool));
    assert_eq!(
        lt.to_vec::<bool>(),
        vec![true, false, false, true, true, false]
    );
    assert_eq!(
        a.less_equal(&b).to_vec::<bool>(),
        vec![true, true, false, true, true, true]
    );
    assert_eq!(
        a.greater(&b).to_vec::<bool>(),
        vec![false, false, true, false, false, false]
    );
    assert_eq!(
        a.greater_equal(&b).to_vec::<bool>(),
        vec![false, true, true, false, false, true]
    );
    assert_eq!(
        a.equal(&b).to_vec::<bool>(),
        vec![false, true, false, false, false, true]
    );
    assert_eq!(
        a.not_equal(&b).to_vec::<bool>(),
        vec![true, false, true, true, true, false]
    );
    assert_eq!(a.greater(1.5).to_vec::<bool>(), vec![false, true, true]);
    assert_eq!(a.equal(2).to_vec::<bool>(), vec![false, true, false]);
    assert_eq!(
        tensor([f32::NAN]).to(dev).equal(f32::NAN).to_vec::<bool>(),
        vec![false]
    );
    assert_eq!(
        tensor([1, 5]).to(dev).less(3).to_vec::<bool>(),
        vec![true, false]
    );
    assert_eq!(
        tensor([true, false])
            .to(dev)
            .equal(tensor([true, true]).to(dev))
            .to_vec::<bool>(),
        vec![true, false]
    );
    let h = a.cast(DType::BF16);
    assert_eq!(
        h.greater_equal(2.0).to_vec::<bool>(),
        vec![false, true, true]
    );
});

test_device!(where_and_logical_ops, |dev| {
    let c = tensor([[true], [false]]).to(dev);
    let x = tensor([1.0, 2.0, 3.0]).to(dev);
    let y = tensor(-1.0).to(dev);
    let w = where_(&c, &x, &y);
    assert_tensor(&w, &[2, 3], &[1.0, 2.0, 3.0, -1.0, -1.0, -1.0], 0.0);
    let m = x.greater(1.5);
    assert_eq!(
        where_(&m, &x, &x.neg()).to_vec::<f32>(),
        vec![-1.0, 2.0, 3.0]
    );
    assert_eq!(where_(&m, &x, &x).to_vec::<f32>(), vec![1.0, 2.0, 3.0]);
    let xi = tensor([1, 2, 3]).to(dev);
    assert_eq!(
        where_(&m, &xi, &tensor(0).to(dev)).to_vec::<i64>(),
        vec![0, 2, 3]
    );
    let p = tensor([true, true, false, false]).to(dev);
    let q = tensor([true, false, true, false]).to(dev);
    assert_eq!(
        p.logical_and(&q).to_vec::<bool>(),
        vec![true, false, false, false]
    );
    assert_eq!(
        p.logical_or(&q).to_vec::<bool>(),
        vec![true, true, true, false]
    );
    assert_eq!(
        p.logical_not().to_vec::<bool>(),
        vec![false, false, true, true]
    );
    assert_eq!(
        p.logical_and(&tensor(true).to(dev)).to_vec::<bool>(),
        vec![true, true, false, false]
    );
    // masks combine with casts, as in accuracy = mean(pred == label)
    let acc = tensor([1, 2, 3, 4])
        .to(dev)
        .equal(tensor([1, 0, 3, 0]).to(dev))
        .cast(DType::F32)
        .mean();
    assert_eq!(acc.item(), 0.5);
});

// ---- casts ----------------------------------------------------------------------------------

test_device!(casts_between_all_dtypes, |dev| {
    let x = tensor([-2.7, -0.5, 0.0, 0.5, 2.7]).to(dev);
    // float -> int truncates toward zero; NaN becomes 0
    assert_eq!(x.cast(DType::I64).to_vec::<i64>(), vec![-2, 0, 0, 0, 2]);
    assert_eq!(
        tensor([f32::NAN]).to(dev).cast(DType::I64).to_vec::<i64>(),
        vec![0]
    );
    // numbers -> bool is "non-zero"; bool -> numbers is 0/1
    assert_eq!(
        x.cast(DType::Bool).to_vec::<bool>(),
        vec![true, true, false, true, true]
    );
    assert_eq!(
        tensor([0, 3, -1])
            .to(dev)
            .cast(DType::Bool)
            .to_vec::<bool>(),
        vec![false, true, true]
    );
    let b = tensor([true, false]).to(dev);
    assert_eq!(b.cast(DType::F32).to_vec::<f32>(), vec![1.0, 0.0]);
    assert_eq!(b.cast(DType::I64).to_vec::<i64>(), vec![1, 0]);
    assert_eq!(
        b.cast(DType::F16).to_vec::<f16>(),
        vec![f16::ONE, f16::ZERO]
    );
    assert_eq!(
        b.cast(DType::BF16).to_vec::<bf16>(),
        vec![bf16::ONE, bf16::ZERO]
    );
    assert_eq!(
        tensor([3, -4]).to(dev).cast(DType::F32).to_vec::<f32>(),
        vec![3.0, -4.0]
    );
    // f16: 11 significant bits. 0.1 -> 0.0999755859375; 2049 -> 2048 (tie to even);
    // 65520 overflows to inf (max 65504); 1e-8 underflows to 0 (smallest subnormal 5.96e-8)
    let h = tensor([0.1, 2049.0, 65520.0, 1e-8, -1.5])
        .to(dev)
        .cast(DType::F16);
    assert_eq!(h.dtype(), DType::F16);
    assert_eq!(
        h.to_f32_vec(),
        vec![0.099_975_586, 2048.0, f32::INFINITY, 0.0, -1.5]
    );
    assert_eq!(
        tensor([2049, 2051]).to(dev).cast(DType::F16).to_f32_vec(),
        vec![2048.0, 2052.0]
    );
    // bf16: 8 significant bits. 1 + 2^-8 ties to 1; 1 + 3 * 2^-8 ties to 1 + 2^-6; 257 -> 256
    let bf = tensor([1.003_906_25, 1.011_718_75])
        .to(dev)
        .cast(DType::BF16);
    assert_eq!(bf.to_f32_vec(), vec![1.0, 1.015_625]);
    assert_eq!(
        tensor([257, -259]).to(dev).cast(DType::BF16).to_f32_vec(),
        vec![256.0, -260.0]
    );
    // half types to the others
    assert_eq!(
        h.cast(DType::I64).to_vec::<i64>(),
        vec![0, 2048, i64::MAX, 0, -1]
    );
    assert_eq!(
        h.cast(DType::Bool).to_vec::<bool>(),
        vec![true, true, true, false, true]
    );
    assert_eq!(
        tensor([1.5, 1000.0])
            .to(dev)
            .cast(DType::F16)
            .cast(DType::BF16)
            .to_f32_vec(),
        vec![1.5, 1000.0]
    );
    assert_eq!(
        tensor([0.1])
            .to(dev)
            .cast(DType::BF16)
            .cast(DType::F16)
            .to_f32_vec(),
        vec![0.100_097_656]
    );
    // and back to f32 exactly
    assert_eq!(h.cast(DType::F32).dtype(), DType::F32);
    assert_eq!(
        tensor([0.25])
            .to(dev)
            .cast(DType::F16)
            .cast(DType::F32)
            .to_vec::<f32>(),
        vec![0.25]
    );
    // a cast to the same dtype is the same tensor
    let same = x.cast(DType::F32);
    assert!(same.shares_storage_with(&x));
});

test_device!(half_precision_arithmetic_rounds_each_result, |dev| {
    // 2048 + 1 = 2049 is not an f16: it rounds (to even) back to 2048
    let a = tensor([2048.0]).to(dev).cast(DType::F16);
    let one = tensor([1.0]).to(dev).cast(DType::F16);
    assert_eq!((&a + &one).to_f32_vec(), vec![2048.0]);
    assert_eq!((&a + &one + &one + &one).to_f32_vec(), vec![2048.0]);
    // bf16: 256 + 1 = 256
    let b = tensor([256.0]).to(dev).cast(DType::BF16);
    assert_eq!((&b + 1.0).to_f32_vec(), vec![256.0]);
    assert_eq!((&b * 2.0).to_f32_vec(), vec![512.0]);
});

// ---- int64 arithmetic -----------------------------------------------------------------------

test_device!(
    int64_arithmetic_floor_divides_and_never_panics_on_zero,
    |dev| {
        let a = tensor([7, -7, 7, -7, 6, 0]).to(dev);
        let b = tensor([2, 2, -2, -2, 3, 5]).to(dev);
        assert_eq!((&a + &b).to_vec::<i64>(), vec![9, -5, 5, -9, 9, 5]);
        assert_eq!((&a - &b).to_vec::<i64>(), vec![5, -9, 9, -5, 3, -5]);
        assert_eq!((&a * &b).to_vec::<i64>(), vec![14, -14, -14, 14, 18, 0]);
        // floor division, like tf.math.floordiv / Python's //
        assert_eq!((&a / &b).to_vec::<i64>(), vec![3, -4, -4, 3, 2, 0]);
        // division by zero gives 0 instead of crashing the notebook
        assert_eq!((&a / 0).to_vec::<i64>(), vec![0; 6]);
        assert_eq!(
            (tensor([i64::MIN]).to(dev) / -1).to_vec::<i64>(),
            vec![i64::MIN]
        );
        assert_eq!(a.maximum(&b).to_vec::<i64>(), vec![7, 2, 7, -2, 6, 5]);
        assert_eq!(a.minimum(0).to_vec::<i64>(), vec![0, -7, 0, -7, 0, 0]);
        assert_eq!(
            tensor([2, 3, 2])
                .to(dev)
                .pow(tensor([10, 2, -1]).to(dev))
                .to_vec::<i64>(),
            vec![1024, 9, 0]
        );
        // wrapping instead of overflow panics
        assert_eq!(
            (tensor([i64::MAX]).to(dev) + 1).to_vec::<i64>(),
            vec![i64::MIN]
        );
        assert_eq!(
            (100 / &tensor([7, -7]).to(dev)).to_vec::<i64>(),
            vec![14, -15]
        );
    }
);
