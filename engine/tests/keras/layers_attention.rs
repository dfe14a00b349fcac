//! MultiHeadAttention: one case by hand, then cross-attention with a mask and causal
//! self-attention against a plain f64 implementation of Keras' layer, parameter counts, and
//! gradients against finite differences.
//!
//! query (B,Tq,dq), value (B,Tv,dv), key (B,Tv,dk) (defaults to value). Kernels: query/key
//! (d, heads, key_dim), value (dv, heads, value_dim), output (heads, value_dim, dq).
//! scores = softmax(q k^T / sqrt(key_dim)) with masked positions at -1e9; out = (scores v) Wo + bo.

use crate::common;
use crate::common::keras as keras_common;

use common::{assert_close, assert_contains, assert_tensor, check_grad, panic_message, rnd};
use ferrolab::prelude::*;
use keras_common::{check_var_grad, set_weights};

/// Projects rows (t, d) with a (d, h, e) kernel and (h, e) bias: out[a][t][e].
fn project(
    x: &[f32],
    t: usize,
    d: usize,
    k: &[f32],
    b: &[f32],
    h: usize,
    e: usize,
) -> Vec<Vec<Vec<f64>>> {
    (0..h)
        .map(|a| {
            (0..t)
                .map(|i| {
                    (0..e)
                        .map(|j| {
                            let s: f64 = (0..d)
                                .map(|c| x[i * d + c] as f64 * k[(c * h + a) * e + j] as f64)
                                .sum();
                            s + b[a * e + j] as f64
                        })
                        .collect()
                })
                .collect()
        })
        .collect()
}

struct Dims {
    heads: usize,
    key_dim: usize,
    value_dim: usize,
}

/// Keras' MultiHeadAttention for one batch element in f64: (output (tq, dq), scores (h, tq, tv)).
#[allow(clippy::too_many_arguments)]
fn mha_ref(
    q: &[f32],
    v: &[f32],
    k: &[f32],
    (tq, tv): (usize, usize),
    (dq, dv, dk): (usize, usize, usize),
    dims: &Dims,
    w: &[Vec<f32>],
    mask: Option<&[bool]>,
) -> (Vec<f64>, Vec<f64>) {
    let (h, kd, vd) = (dims.heads, dims.key_dim, dims.value_dim);
    let qp = project(q, tq, dq, &w[0], &w[1], h, kd);
    let kp = project(k, tv, dk, &w[2], &w[3], h, kd);
    let vp = project(v, tv, dv, &w[4], &w[5], h, vd);
    let mut out = vec![0f64; tq * dq];
    let mut att_all = Vec::new();
    for a in 0..h {
        for i in 0..tq {
            let mut s: Vec<f64> = (0..tv)
                .map(|j| {
                    (0..kd).map(|e| qp[a][i][e] * kp[a][j][e]).sum::<f64>() / (kd as f64).sqrt()
                })
                .collect();
            if let Some(m) = mask {
                for (j, sj) in s.iter_mut().enumerate() {
                    if !m[i * tv + j] {
                        *sj = -1e9;
                    }
                }
            }
            let mx = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let ex: Vec<f64> = s.iter().map(|x| (x - mx).exp()).collect();
            let z: f64 = ex.iter().sum();
            let att: Vec<f64> = ex.iter().map(|x| x / z).collect();
            for f in 0..vd {
                let ctx: f64 = (0..tv).map(|j| att[j] * vp[a][j][f]).sum();
                for o in 0..dq {
                    out[i * dq + o] += ctx * w[6][(a * vd + f) * dq + o] as f64;
                }
            }
            att_all.extend(att);
        }
    }
    for i in 0..tq {
        for o in 0..dq {
            out[i * dq + o] += w[7][o] as f64;
        }
    }
    (out, att_all)
}

fn random_weights(l: &MultiHeadAttention, seed: u64) -> Vec<Tensor> {
    l.weights()
        .iter()
        .enumerate()
        .map(|(i, w)| rnd(w.dims(), seed + i as u64).affine(0.5, 0.0))
        .collect()
}

#[test]
fn one_head_by_hand() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
                                            // heads 1, key_dim 1, d 1, every kernel 1 and bias 0: q = k = v = x = [1, 2]
                                            // row 0: softmax([1, 2]) = [0.2689414, 0.7310586] -> 0.2689414 + 2 * 0.7310586 = 1.7310586
                                            // row 1: softmax([2, 4]) = [0.1192029, 0.8807971] -> 1.8807971
    let l = MultiHeadAttention::new(1, 1);
    let x = tensor([1.0, 2.0]).reshape([1, 2, 1]);
    l.call(&x, false);
    let ones: Vec<Tensor> = l.weights().iter().map(|w| w.ones_like()).collect();
    set_weights(&l, &ones);
    for w in [1, 3, 5, 7] {
        l.weights()[w].assign(l.weights()[w].zeros_like());
    }
    assert_tensor(
        &l.call(&x, false),
        &[1, 2, 1],
        &[1.731_058_6, 1.880_797_1],
        1e-6,
    );
    let (_, att) = l.call_full(&x, &x, None, None);
    assert_tensor(
        &att,
        &[1, 1, 2, 2],
        &[0.268_941_43, 0.731_058_6, 0.119_202_92, 0.880_797_1],
        1e-6,
    );
    // causal: row 0 sees only itself (out 1), row 1 is unchanged
    let c = MultiHeadAttention::new(1, 1).use_causal_mask(true);
    c.call(&x, false);
    set_weights(
        &c,
        &l.weights()
            .iter()
            .map(|w| w.read_value())
            .collect::<Vec<_>>(),
    );
    assert_tensor(&c.call(&x, false), &[1, 2, 1], &[1.0, 1.880_797_1], 1e-6);
}

#[test]
fn cross_attention_with_a_mask_matches_the_reference() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
    let dims = Dims {
        heads: 2,
        key_dim: 3,
        value_dim: 4,
    };
    let (b, tq, tv, dq, dv, dk) = (2, 3, 4, 5, 6, 7);
    let (q, v, k) = (
        rnd(&[b, tq, dq], 1),
        rnd(&[b, tv, dv], 2),
        rnd(&[b, tv, dk], 3),
    );
    // keep position j for query i unless (i + j + n) % 3 == 0, with j = 0 always kept
    let mask_v: Vec<bool> = (0..b * tq * tv)
        .map(|p| {
            let (n, i, j) = (p / (tq * tv), (p / tv) % tq, p % tv);
            j == 0 || (i + j + n) % 3 != 0
        })
        .collect();
    let mask = from_vec(mask_v.clone(), [b, tq, tv]).unwrap();
    let l = MultiHeadAttention::new(2, 3).value_dim(4);
    l.call_full(&q, &v, Some(&k), None);
    let w = random_weights(&l, 10);
    set_weights(&l, &w);
    let wv: Vec<Vec<f32>> = w.iter().map(|t| t.to_vec()).collect();
    let (out, att) = l.call_full(&q, &v, Some(&k), Some(&mask));
    assert_eq!(
        (out.dims(), att.dims()),
        (&[b, tq, dq][..], &[b, 2, tq, tv][..])
    );
    let (qv, vv, kv) = (q.to_vec::<f32>(), v.to_vec::<f32>(), k.to_vec::<f32>());
    let (mut want_out, mut want_att) = (Vec::new(), Vec::new());
    for n in 0..b {
        let (o, a) = mha_ref(
            &qv[n * tq * dq..(n + 1) * tq * dq],
            &vv[n * tv * dv..(n + 1) * tv * dv],
            &kv[n * tv * dk..(n + 1) * tv * dk],
            (tq, tv),
            (dq, dv, dk),
            &dims,
            &wv,
            Some(&mask_v[n * tq * tv..(n + 1) * tq * tv]),
        );
        want_out.extend(o.iter().map(|&x| x as f32));
        want_att.extend(a.iter().map(|&x| x as f32));
    }
    assert_close(&out.to_vec::<f32>(), &want_out, 1e-5);
    assert_close(&att.to_vec::<f32>(), &want_att, 1e-5);
    // masked positions get no attention; every row sums to 1
    for (p, a) in att.to_vec::<f32>().iter().enumerate() {
        let (n, i, j) = (p / (2 * tq * tv), (p / tv) % tq, p % tv);
        if !mask_v[(n * tq + i) * tv + j] {
            assert_eq!(*a, 0.0);
        }
    }
    // an f32 0/1 mask means the same, and call_many takes [query, value, key, mask]
    let via_many = l.call_many(
        &[q.clone(), v.clone(), k.clone(), mask.cast(DType::F32)],
        false,
    );
    assert_close(&via_many.to_vec::<f32>(), &want_out, 1e-5);
}

#[test]
fn causal_self_attention_matches_the_reference() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
    let dims = Dims {
        heads: 3,
        key_dim: 2,
        value_dim: 2,
    };
    let (t, d) = (5, 4);
    let x = rnd(&[1, t, d], 4);
    let l = MultiHeadAttention::new(3, 2).use_causal_mask(true);
    l.call(&x, false);
    let w = random_weights(&l, 30);
    set_weights(&l, &w);
    let wv: Vec<Vec<f32>> = w.iter().map(|t| t.to_vec()).collect();
    let causal: Vec<bool> = (0..t * t).map(|p| p % t <= p / t).collect();
    let xv = x.to_vec::<f32>();
    let (want, want_att) = mha_ref(&xv, &xv, &xv, (t, t), (d, d, d), &dims, &wv, Some(&causal));
    let (out, att) = l.call_full(&x, &x, None, None);
    assert_close(
        &out.to_vec::<f32>(),
        &want.iter().map(|&v| v as f32).collect::<Vec<_>>(),
        1e-5,
    );
    assert_close(
        &att.to_vec::<f32>(),
        &want_att.iter().map(|&v| v as f32).collect::<Vec<_>>(),
        1e-5,
    );
    // the first position's output does not depend on later inputs
    let mut later = xv.clone();
    later[d..].iter_mut().for_each(|v| *v += 1.0);
    let out2 = l.call(&from_vec(later, [1, t, d]).unwrap(), false);
    assert_eq!(
        out2.narrow(1, 0, 1).to_vec::<f32>(),
        out.narrow(1, 0, 1).to_vec::<f32>()
    );
}

#[test]
fn parameter_count_and_weight_shapes_match_keras() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
                                            // MultiHeadAttention(num_heads=2, key_dim=16) on (None, 6, 32): 4 x (32*32 + 32) = 4,224
    let x = Input::new([6, 32]);
    let mha = MultiHeadAttention::new(2, 16);
    let y = mha.apply(&x);
    assert_eq!(y.shape(), vec![None, Some(6), Some(32)]);
    let m = Model::new(&[&x], &[&y]);
    assert_eq!(m.count_params(), 4_224);
    let shapes: Vec<(String, Vec<usize>)> = m
        .weights()
        .iter()
        .map(|w| {
            (
                w.name().split_once('/').unwrap().1.to_string(),
                w.dims().to_vec(),
            )
        })
        .collect();
    let want = [
        ("query/kernel", vec![32, 2, 16]),
        ("query/bias", vec![2, 16]),
        ("key/kernel", vec![32, 2, 16]),
        ("key/bias", vec![2, 16]),
        ("value/kernel", vec![32, 2, 16]),
        ("value/bias", vec![2, 16]),
        ("attention_output/kernel", vec![2, 16, 32]),
        ("attention_output/bias", vec![32]),
    ];
    for ((n, s), (wn, ws)) in shapes.iter().zip(want) {
        assert_eq!((n.as_str(), s), (wn, &ws));
    }
    let bad = MultiHeadAttention::new(1, 2);
    let msg = panic_message(|| bad.call(&zeros([2, 3]), false));
    assert_contains(
        &msg,
        &[
            "MultiHeadAttention",
            "query must be (batch, seq, features)",
            "(2, 3)",
        ],
    );
}

#[test]
fn attention_gradients_match_finite_differences() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
                                            // d out / d query flows through the softmax; d out / d value is linear given the scores
    let l = MultiHeadAttention::new(2, 2).value_dim(3);
    let (q, v) = (rnd(&[1, 3, 4], 5), rnd(&[1, 4, 2], 6));
    let mask = from_vec(
        (0..12).map(|p| p % 4 != 3 || p < 4).collect::<Vec<bool>>(),
        [1, 3, 4],
    )
    .unwrap();
    l.call_full(&q, &v, None, Some(&mask));
    set_weights(&l, &random_weights(&l, 40));
    let g = rnd(&[1, 3, 4], 7);
    check_grad(|q| l.call_full(q, &v, None, Some(&mask)).0 * &g, &q, 2e-2);
    check_grad(|v| l.call_full(&q, v, None, Some(&mask)).0 * &g, &v, 2e-2);
    for w in l.weights() {
        check_var_grad(|| l.call_full(&q, &v, None, Some(&mask)).0 * &g, &w, 2e-2);
    }
}
