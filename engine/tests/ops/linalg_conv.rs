//! matmul (2-D, batched, broadcasting batch axes, 1-D operands, strided operands, f16/bf16/i64)
//! against a naive triple loop, and conv2d / max_pool2d / avg_pool2d (NHWC, stride, "same" and
//! "valid" padding, dilation) against naive loops over the output.
//!
//! References: the loops below, in f64, and a few hand-computed outputs.
//! Shapes: x (N,H,W,C), filters (KH,KW,C,F), out (N,OH,OW,F).

use crate::common;

use common::{assert_close, assert_tensor, panic_message, rnd, tol_on};
use ferrolab::prelude::*;

// ---- matmul ---------------------------------------------------------------------------------

/// (M,K) @ (K,N) in f64, row-major.
fn naive_mm(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
    let mut out = vec![0f32; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut acc = 0f64;
            for p in 0..k {
                acc += a[i * k + p] as f64 * b[p * n + j] as f64;
            }
            out[i * n + j] = acc as f32;
        }
    }
    out
}

test_device!(matmul_2d_and_hand_computed, |dev| {
    // [[1,2],[3,4]] @ [[5,6],[7,8]] = [[19,22],[43,50]]
    let a = tensor([[1.0, 2.0], [3.0, 4.0]]).to(dev);
    let b = tensor([[5.0, 6.0], [7.0, 8.0]]).to(dev);
    assert_tensor(&a.matmul(&b), &[2, 2], &[19.0, 22.0, 43.0, 50.0], 0.0);
    for (m, k, n, seed) in [
        (3, 4, 5, 1),
        (1, 7, 1, 2),
        (70, 130, 90, 3),
        (100, 100, 100, 4),
    ] {
        let a = rnd(&[m, k], seed).to(dev);
        let b = rnd(&[k, n], seed + 100).to(dev);
        let want = naive_mm(&a.to_vec::<f32>(), &b.to_vec::<f32>(), m, k, n);
        assert_tensor(&a.matmul(&b), &[m, n], &want, 1e-5);
    }
});

test_device!(matmul_batched_and_broadcast_batch_axes, |dev| {
    // (2,3,4) @ (2,4,5): one product per batch entry
    let a = rnd(&[2, 3, 4], 5).to(dev);
    let b = rnd(&[2, 4, 5], 6).to(dev);
    let (av, bv) = (a.to_vec::<f32>(), b.to_vec::<f32>());
    let mut want = naive_mm(&av[..12], &bv[..20], 3, 4, 5);
    want.extend(naive_mm(&av[12..], &bv[20..], 3, 4, 5));
    assert_tensor(&a.matmul(&b), &[2, 3, 5], &want, 1e-5);
    // (2,1,3,4) @ (5,4,2) -> (2,5,3,2): out[i,j] = a[i,0] @ b[j]
    let a = rnd(&[2, 1, 3, 4], 7).to(dev);
    let b = rnd(&[5, 4, 2], 8).to(dev);
    let (av, bv) = (a.to_vec::<f32>(), b.to_vec::<f32>());
    let mut want = Vec::new();
    for i in 0..2 {
        for j in 0..5 {
            want.extend(naive_mm(
                &av[i * 12..(i + 1) * 12],
                &bv[j * 8..(j + 1) * 8],
                3,
                4,
                2,
            ));
        }
    }
    assert_tensor(&a.matmul(&b), &[2, 5, 3, 2], &want, 1e-5);
    // a 2-D operand broadcasts against a batch: (3,4) @ (2,4,5) and (2,3,4) @ (4,5)
    let m = rnd(&[3, 4], 9).to(dev);
    let bb = rnd(&[2, 4, 5], 10).to(dev);
    let (mv, bv) = (m.to_vec::<f32>(), bb.to_vec::<f32>());
    let mut want = naive_mm(&mv, &bv[..20], 3, 4, 5);
    want.extend(naive_mm(&mv, &bv[20..], 3, 4, 5));
    assert_tensor(&m.matmul(&bb), &[2, 3, 5], &want, 1e-5);
    let w = rnd(&[4, 5], 11).to(dev);
    let x = rnd(&[2, 3, 4], 12).to(dev);
    let (xv, wv) = (x.to_vec::<f32>(), w.to_vec::<f32>());
    let mut want = naive_mm(&xv[..12], &wv, 3, 4, 5);
    want.extend(naive_mm(&xv[12..], &wv, 3, 4, 5));
    assert_tensor(&x.matmul(&w), &[2, 3, 5], &want, 1e-5);
});

test_device!(matmul_with_1d_operands_drops_their_axis, |dev| {
    let v = tensor([1.0, 2.0, 3.0]).to(dev);
    let m = tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]).to(dev);
    // v @ m = [1+3, 2+3] ; m^T @ v = same ; v @ v = 14
    assert_tensor(&v.matmul(&m), &[2], &[4.0, 5.0], 0.0);
    assert_tensor(&m.t().matmul(&v), &[2], &[4.0, 5.0], 0.0);
    assert_tensor(&v.matmul(&v), &[], &[14.0], 0.0);
    // a vector against a batch: (3,) @ (2,3,2) -> (2,2)
    let b = stack(&[&m, &(&m * 2.0)], 0);
    assert_tensor(&v.matmul(&b), &[2, 2], &[4.0, 5.0, 8.0, 10.0], 0.0);
    assert_tensor(&b.t().matmul(&v), &[2, 2], &[4.0, 5.0, 8.0, 10.0], 0.0);
});

test_device!(matmul_of_transposed_and_sliced_operands, |dev| {
    let a_store = rnd(&[6, 4], 13).to(dev); // used as a.t(): (4, 6)
    let b_store = rnd(&[5, 6], 14).to(dev); // used as b.t(): (6, 5)
    let (at, bt) = (a_store.t(), b_store.t());
    assert!(!at.is_contiguous() && !bt.is_contiguous());
    let want = naive_mm(&at.to_vec::<f32>(), &bt.to_vec::<f32>(), 4, 6, 5);
    assert_tensor(&at.matmul(&bt), &[4, 5], &want, 1e-5);
    assert_tensor(&at.contiguous().matmul(&bt), &[4, 5], &want, 1e-5);
    assert_tensor(&at.matmul(&bt.contiguous()), &[4, 5], &want, 1e-5);
    // stepped slices and offsets: every other row of a, columns 1.. of b
    let big = rnd(&[8, 6], 15).to(dev);
    let a = big.slice(s![..;2]); // (4, 6), row stride 12
    let b = rnd(&[6, 7], 16).to(dev).slice(s![.., 1..]); // (6, 6), offset 1
    let want = naive_mm(&a.to_vec::<f32>(), &b.to_vec::<f32>(), 4, 6, 6);
    assert_tensor(&a.matmul(&b), &[4, 6], &want, 1e-5);
    // x @ x^T shares one storage on both sides
    let x = rnd(&[3, 4], 17).to(dev);
    let xv = x.to_vec::<f32>();
    let want = naive_mm(&xv, &x.t().to_vec::<f32>(), 3, 4, 3);
    assert_tensor(&x.matmul(&x.t()), &[3, 3], &want, 1e-5);
    // a broadcast (stride 0) batch operand
    let w = rnd(&[4, 2], 18).to(dev).broadcast_to([3, 4, 2]);
    let xb = rnd(&[3, 3, 4], 19).to(dev);
    assert_close(
        &xb.matmul(&w).to_vec::<f32>(),
        &xb.matmul(&w.contiguous()).to_vec::<f32>(),
        1e-6,
    );
});

test_device!(matmul_of_empty_operands, |dev| {
    assert_eq!(
        zeros([0, 3]).to(dev).matmul(&zeros([3, 4]).to(dev)).dims(),
        &[0, 4]
    );
    // an empty inner dimension sums nothing: zeros
    assert_tensor(
        &zeros([2, 0]).to(dev).matmul(&zeros([0, 3]).to(dev)),
        &[2, 3],
        &[0.0; 6],
        0.0,
    );
});

test_device!(matmul_in_half_precision_and_int64, |dev| {
    // small integers are exact in every dtype: [[1,2],[3,4]] @ [[5,6],[7,8]]
    let a = tensor([[1.0, 2.0], [3.0, 4.0]]).to(dev);
    let b = tensor([[5.0, 6.0], [7.0, 8.0]]).to(dev);
    for dt in [DType::F16, DType::BF16] {
        let y = a.cast(dt).matmul(&b.cast(dt));
        assert_eq!(y.dtype(), dt);
        assert_tensor(&y, &[2, 2], &[19.0, 22.0, 43.0, 50.0], 0.0);
    }
    let ai = tensor([[1, 2], [3, 4]]).to(dev);
    let bi = tensor([[5, 6], [7, 8]]).to(dev);
    assert_eq!(ai.matmul(&bi).to_vec::<i64>(), vec![19, 22, 43, 50]);
    assert_eq!(ai.t().matmul(&bi).to_vec::<i64>(), vec![26, 30, 38, 44]);
    assert_eq!(
        tensor([1, 2]).to(dev).matmul(&bi).to_vec::<i64>(),
        vec![19, 22]
    );
    // products accumulate in f32: an f16 running sum of 4096 ones would stall at 2048
    for dt in [DType::F16, DType::BF16] {
        let y = ones([1, 4096])
            .to(dev)
            .cast(dt)
            .matmul(&ones([4096, 1]).to(dev).cast(dt));
        assert_eq!(y.to_f32_vec(), vec![4096.0], "{dt}");
    }
    // random f16/bf16 inputs match the f32 product of the rounded inputs to their precision
    let x = rnd(&[8, 16], 20).to(dev);
    let w = rnd(&[16, 4], 21).to(dev);
    for (dt, tol) in [(DType::F16, 4e-3), (DType::BF16, 2e-2)] {
        let (xh, wh) = (x.cast(dt), w.cast(dt));
        let want = naive_mm(&xh.to_f32_vec(), &wh.to_f32_vec(), 8, 16, 4);
        assert_tensor(&xh.matmul(&wh), &[8, 4], &want, tol);
    }
});

test_device!(matmul_shape_error_suggests_the_transpose, |dev| {
    let a = zeros([32, 64]).to(dev);
    let b = zeros([10, 64]).to(dev);
    let want = "matmul: shapes (32, 64) and (10, 64) do not match: inner dims 64 != 10; did you mean b.t()?";
    assert_eq!(a.try_matmul(&b).unwrap_err().to_string(), want);
    assert_eq!(panic_message(|| a.matmul(&b)), want);
    assert_eq!(a.matmul(&b.t()).dims(), &[32, 10]);
});

// ---- conv2d ---------------------------------------------------------------------------------

/// Output size and leading padding along one axis, TF's rules, written out independently.
fn tf_out(size: usize, k: usize, stride: usize, dil: usize, same: bool) -> (usize, usize) {
    let eff = (k - 1) * dil + 1;
    if same {
        let o = size.div_ceil(stride);
        let total = ((o - 1) * stride + eff).saturating_sub(size);
        (o, total / 2)
    } else {
        ((size - eff) / stride + 1, 0)
    }
}

/// out[n,oy,ox,f] = sum_{ky,kx,c} x[n, oy*sh + ky*dh - pt, ox*sw + kx*dw - pl, c] w[ky,kx,c,f]
fn naive_conv(
    x: &Tensor,
    w: &Tensor,
    s: (usize, usize),
    same: bool,
    d: (usize, usize),
) -> (Vec<usize>, Vec<f32>) {
    let (xd, wd) = (x.dims().to_vec(), w.dims().to_vec());
    let (n, h, wi, c) = (xd[0], xd[1], xd[2], xd[3]);
    let (kh, kw, f) = (wd[0], wd[1], wd[3]);
    let (oh, pt) = tf_out(h, kh, s.0, d.0, same);
    let (ow, pl) = tf_out(wi, kw, s.1, d.1, same);
    let (xv, wv) = (x.to_f32_vec(), w.to_f32_vec());
    let mut out = Vec::new();
    for b in 0..n {
        for oy in 0..oh {
            for ox in 0..ow {
                for fo in 0..f {
                    let mut acc = 0f64;
                    for ky in 0..kh {
                        for kx in 0..kw {
                            let iy = (oy * s.0 + ky * d.0) as isize - pt as isize;
                            let ix = (ox * s.1 + kx * d.1) as isize - pl as isize;
                            if iy < 0 || ix < 0 || iy >= h as isize || ix >= wi as isize {
                                continue;
                            }
                            for ci in 0..c {
                                let xi = ((b * h + iy as usize) * wi + ix as usize) * c + ci;
                                let wj = ((ky * kw + kx) * c + ci) * f + fo;
                                acc += xv[xi] as f64 * wv[wj] as f64;
                            }
                        }
                    }
                    out.push(acc as f32);
                }
            }
        }
    }
    (vec![n, oh, ow, f], out)
}

test_device!(conv2d_hand_computed, |dev| {
    // x = 1..16 as (1,4,4,1), 2x2 ones, valid: window sums [[14,18,22],[30,34,38],[46,50,54]]
    let x = arange(1.0, 17.0, 1.0).to(dev).reshape([1, 4, 4, 1]);
    let w = ones([2, 2, 1, 1]).to(dev);
    let y = x.conv2d(&w, (1, 1), "valid", (1, 1));
    assert_tensor(
        &y,
        &[1, 3, 3, 1],
        &[14.0, 18.0, 22.0, 30.0, 34.0, 38.0, 46.0, 50.0, 54.0],
        0.0,
    );
    // "same" with stride 2 and a 3x3 window on 4x4: out 2x2, pad 0 before and 1 after;
    // out[0,0] = sum of rows 0-2, cols 0-2 = 1+2+3+5+6+7+9+10+11 = 54; out[1,1] = rows 2-3,
    // cols 2-3 = 11+12+15+16 = 54; out[0,1] = rows 0-2, cols 2-3 = 3+4+7+8+11+12 = 45; out[1,0] = 9+10+11+13+14+15 = 72
    let y = x.conv2d(&ones([3, 3, 1, 1]).to(dev), (2, 2), "same", (1, 1));
    assert_tensor(&y, &[1, 2, 2, 1], &[54.0, 45.0, 72.0, 54.0], 0.0);
    // padding names are case-insensitive, like Keras
    assert_eq!(x.conv2d(&w, (1, 1), "VALID", (1, 1)).dims(), &[1, 3, 3, 1]);
});

/// (filters, strides, "same" padding?, dilation)
type ConvCase = ([usize; 4], (usize, usize), bool, (usize, usize));

test_device!(conv2d_matches_the_naive_loop, |dev| {
    let x = rnd(&[2, 7, 6, 3], 30).to(dev);
    let cases: [ConvCase; 8] = [
        ([3, 3, 3, 4], (1, 1), false, (1, 1)),
        ([3, 3, 3, 4], (1, 1), true, (1, 1)),
        ([3, 3, 3, 2], (2, 2), true, (1, 1)),
        ([3, 3, 3, 2], (2, 3), false, (1, 1)),
        ([2, 3, 3, 2], (1, 1), true, (1, 1)), // even kernel: more padding after
        ([3, 3, 3, 2], (1, 1), false, (2, 2)),
        ([3, 2, 3, 2], (2, 1), true, (2, 3)),
        ([1, 1, 3, 5], (1, 1), false, (1, 1)),
    ];
    for (i, (fd, s, same, d)) in cases.into_iter().enumerate() {
        let w = rnd(&fd, 40 + i as u64).to(dev);
        let pad = if same { "same" } else { "valid" };
        println!("conv2d case {i}: filters {fd:?} strides {s:?} {pad} dilation {d:?}");
        let (shape, want) = naive_conv(&x, &w, s, same, d);
        assert_tensor(&x.conv2d(&w, s, pad, d), &shape, &want, 1e-5);
    }
    // f16 conv with small integers is exact
    let xi = arange(0.0, 16.0, 1.0).to(dev).reshape([1, 4, 4, 1]);
    let wi = tensor([[[[1.0]], [[2.0]]], [[[0.0]], [[-1.0]]]]).to(dev); // (2,2,1,1)
    let (shape, want) = naive_conv(&xi, &wi, (1, 1), true, (1, 1));
    let yh = xi
        .cast(DType::F16)
        .conv2d(&wi.cast(DType::F16), (1, 1), "same", (1, 1));
    assert_eq!(yh.dtype(), DType::F16);
    assert_tensor(&yh, &shape, &want, 0.0);
});

// ---- pooling --------------------------------------------------------------------------------

/// Max or mean over each window; "same" windows only see real cells (TF's avg_pool excludes
/// padding from the count).
fn naive_pool(
    x: &Tensor,
    k: (usize, usize),
    s: (usize, usize),
    same: bool,
    max: bool,
) -> (Vec<usize>, Vec<f32>) {
    let d = x.dims().to_vec();
    let (n, h, w, c) = (d[0], d[1], d[2], d[3]);
    let (oh, pt) = tf_out(h, k.0, s.0, 1, same);
    let (ow, pl) = tf_out(w, k.1, s.1, 1, same);
    let xv = x.to_f32_vec();
    let mut out = Vec::new();
    for b in 0..n {
        for oy in 0..oh {
            for ox in 0..ow {
                for ci in 0..c {
                    let mut vals = Vec::new();
                    for ky in 0..k.0 {
                        for kx in 0..k.1 {
                            let iy = (oy * s.0 + ky) as isize - pt as isize;
                            let ix = (ox * s.1 + kx) as isize - pl as isize;
                            if iy >= 0 && ix >= 0 && iy < h as isize && ix < w as isize {
                                vals.push(
                                    xv[((b * h + iy as usize) * w + ix as usize) * c + ci] as f64,
                                );
                            }
                        }
                    }
                    let v = if max {
                        vals.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
                    } else {
                        vals.iter().sum::<f64>() / vals.len() as f64
                    };
                    out.push(v as f32);
                }
            }
        }
    }
    (vec![n, oh, ow, c], out)
}

test_device!(pooling_hand_computed, |dev| {
    // 1..16 as 4x4: 2x2 max pool, stride 2 -> [[6,8],[14,16]]; avg -> [[3.5,5.5],[11.5,13.5]]
    let x = arange(1.0, 17.0, 1.0).to(dev).reshape([1, 4, 4, 1]);
    assert_tensor(
        &x.max_pool2d((2, 2), (2, 2), "valid"),
        &[1, 2, 2, 1],
        &[6.0, 8.0, 14.0, 16.0],
        0.0,
    );
    assert_tensor(
        &x.avg_pool2d((2, 2), (2, 2), "valid"),
        &[1, 2, 2, 1],
        &[3.5, 5.5, 11.5, 13.5],
        0.0,
    );
    // 1..9 as 3x3, 2x2 avg pool, stride 1, "same": pad 1 after; padded cells are not counted:
    // [[(1+2+4+5)/4, (2+3+5+6)/4, (3+6)/2], [.., .., (6+9)/2], [(7+8)/2, (8+9)/2, 9]]
    let y = arange(1.0, 10.0, 1.0).to(dev).reshape([1, 3, 3, 1]);
    assert_tensor(
        &y.avg_pool2d((2, 2), (1, 1), "same"),
        &[1, 3, 3, 1],
        &[3.0, 4.0, 4.5, 6.0, 7.0, 7.5, 7.5, 8.5, 9.0],
        0.0,
    );
    // max pool "same" pads with -inf, so negative inputs are not clipped to 0
    let neg = (&y * -1.0).max_pool2d((2, 2), (1, 1), "same");
    assert_tensor(
        &neg,
        &[1, 3, 3, 1],
        &[-1.0, -2.0, -3.0, -4.0, -5.0, -6.0, -7.0, -8.0, -9.0],
        0.0,
    );
});

test_device!(pooling_matches_the_naive_loop, |dev| {
    let x = rnd(&[2, 7, 5, 3], 50).to(dev);
    let cases = [
        ((2, 2), (2, 2), false),
        ((3, 3), (2, 2), true),
        ((3, 2), (1, 2), true),
        ((2, 3), (3, 1), false),
        ((1, 1), (2, 2), true),
    ];
    for (k, s, same) in cases {
        let pad = if same { "same" } else { "valid" };
        println!("pool {k:?} strides {s:?} {pad}");
        let (shape, want) = naive_pool(&x, k, s, same, true);
        assert_tensor(&x.max_pool2d(k, s, pad), &shape, &want, 0.0);
        let (shape, want) = naive_pool(&x, k, s, same, false);
        assert_tensor(
            &x.avg_pool2d(k, s, pad),
            &shape,
            &want,
            tol_on(dev, 1e-6, 1e-5),
        );
    }
});
