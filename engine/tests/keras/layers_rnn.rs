//! Recurrent layers (SimpleRNN, LSTM, GRU): forward passes against a plain f64 transcription of
//! Keras' cell formulas (and one step worked by hand), final states, parameter counts, gradients
//! against finite differences, and a short fit.
//!
//! x: (B, T, F); kernel (F, g u), recurrent_kernel (u, g u), bias (g u), or (2, 3u) for GRU
//! (reset_after=True). Gate order: LSTM i, f, c, o; GRU z, r, h.

use crate::common;
use crate::common::keras as keras_common;

use common::{assert_close, assert_contains, assert_tensor, check_grad, panic_message, rnd};
use ferrolab::keras::layers::Recurrent;
use ferrolab::prelude::*;
use keras_common::{check_var_grad, seeded, set_weights};

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Simple,
    Lstm,
    Gru,
}

fn sigmoid(v: f64) -> f64 {
    1.0 / (1.0 + (-v).exp())
}

/// `a (rows x cols) row-vector product`: out[j] = sum_i v[i] m[i][j] for a row-major m.
fn vecmat(v: &[f64], m: &[f32], cols: usize) -> Vec<f64> {
    (0..cols)
        .map(|j| {
            v.iter()
                .enumerate()
                .map(|(i, x)| x * m[i * cols + j] as f64)
                .sum()
        })
        .collect()
}

/// Keras' cells in f64, one sequence at a time: every step's h, and the final (h, c).
fn reference(
    kind: Kind,
    x: &[f32],
    steps: usize,
    feats: usize,
    u: usize,
    w: &[Vec<f32>],
) -> Vec<Vec<f64>> {
    let (k, r, b) = (&w[0], &w[1], &w[2]);
    let g = match kind {
        Kind::Simple => 1,
        Kind::Lstm => 4,
        Kind::Gru => 3,
    };
    let (mut h, mut c) = (vec![0f64; u], vec![0f64; u]);
    let mut hs = Vec::new();
    for t in 0..steps {
        let xt: Vec<f64> = x[t * feats..(t + 1) * feats]
            .iter()
            .map(|&v| v as f64)
            .collect();
        let mut xp = vecmat(&xt, k, g * u);
        let mut hp = vecmat(&h, r, g * u);
        for j in 0..g * u {
            xp[j] += b[j] as f64; // GRU: row 0 of the (2, 3u) bias is the input bias
            if kind == Kind::Gru {
                hp[j] += b[g * u + j] as f64;
            }
        }
        match kind {
            Kind::Simple => h = (0..u).map(|j| (xp[j] + hp[j]).tanh()).collect(),
            Kind::Lstm => {
                for j in 0..u {
                    let z = |q: usize| xp[q * u + j] + hp[q * u + j];
                    let (i, f, cand, o) =
                        (sigmoid(z(0)), sigmoid(z(1)), z(2).tanh(), sigmoid(z(3)));
                    c[j] = f * c[j] + i * cand;
                    h[j] = o * c[j].tanh();
                }
            }
            Kind::Gru => {
                h = (0..u)
                    .map(|j| {
                        let z = sigmoid(xp[j] + hp[j]);
                        let rr = sigmoid(xp[u + j] + hp[u + j]);
                        let hh = (xp[2 * u + j] + rr * hp[2 * u + j]).tanh();
                        z * h[j] + (1.0 - z) * hh
                    })
                    .collect()
            }
        }
        hs.push(h.clone());
    }
    hs.push(c);
    hs
}

fn layer(kind: Kind, units: usize) -> Recurrent {
    match kind {
        Kind::Simple => SimpleRNN::new(units),
        Kind::Lstm => LSTM::new(units),
        Kind::Gru => GRU::new(units),
    }
}

/// Random weights of the right shapes, scaled to keep the gates away from saturation.
fn random_weights(l: &Recurrent, seed: u64) -> Vec<Tensor> {
    l.weights()
        .iter()
        .enumerate()
        .map(|(i, w)| rnd(w.dims(), seed + i as u64).affine(0.5, 0.0))
        .collect()
}

#[test]
fn one_step_by_hand() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
                                            // SimpleRNN(1): W = 0.5, U = -1, b = 0.1, x = [1, 2]:
                                            // h1 = tanh(0.5 + 0.1) = 0.5370496, h2 = tanh(1.0 - 0.5370496 + 0.1) = 0.5101633
    let s = SimpleRNN::new(1).return_sequences(true);
    s.call(&zeros([1, 2, 1]), false);
    set_weights(&s, &[tensor([[0.5]]), tensor([[-1.0]]), tensor([0.1])]);
    let x = tensor([1.0, 2.0]).reshape([1, 2, 1]);
    assert_tensor(
        &s.call(&x, false),
        &[1, 2, 1],
        &[0.537_049_6, 0.510_163_25],
        1e-6,
    );
    // LSTM(1) with all weights 0 except the default forget bias 1: every gate is sigmoid(0) or
    // sigmoid(1), the candidate tanh(0) = 0, so c and h stay 0
    let l = LSTM::new(1);
    l.call(&zeros([1, 2, 1]), false);
    assert_eq!(
        l.weights()[2].to_vec::<f32>(),
        vec![0.0, 1.0, 0.0, 0.0],
        "unit_forget_bias"
    );
    for w in &l.weights()[..2] {
        w.assign(w.zeros_like());
    }
    assert_tensor(&l.call(&x, false), &[1, 1], &[0.0], 0.0);
    // with kernel [1, 1, 1, 1] and x1 = 1: i = o = sigmoid(1) = 0.7310586 (f = sigmoid(2) meets
    // c0 = 0), c1 = i tanh(1) = 0.5567699, h1 = o tanh(c1) = 0.3696064
    l.weights()[0].assign(tensor([[1.0, 1.0, 1.0, 1.0]]));
    let (_, st) = l.call_with_state(&tensor([1.0]).reshape([1, 1, 1]), None);
    let i = 1.0 / (1.0 + (-1.0f64).exp());
    let c1 = i * 1.0f64.tanh();
    assert_close(&st[1].to_vec::<f32>(), &[c1 as f32], 1e-6);
    assert_close(&st[0].to_vec::<f32>(), &[(i * c1.tanh()) as f32], 1e-6);
}

#[test]
fn cells_match_the_keras_formulas() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
    let (b, t, f, u) = (2, 4, 3, 5);
    let x = rnd(&[b, t, f], 1);
    for (kind, name) in [
        (Kind::Simple, "SimpleRNN"),
        (Kind::Lstm, "LSTM"),
        (Kind::Gru, "GRU"),
    ] {
        println!("{name}");
        let l = layer(kind, u).return_sequences(true);
        l.call(&x, false);
        assert_eq!(l.class_name(), name);
        let w = random_weights(&l, 10);
        set_weights(&l, &w);
        let wv: Vec<Vec<f32>> = w.iter().map(|t| t.to_vec()).collect();
        let (seq, states) = l.call_with_state(&x, None);
        assert_eq!(seq.dims(), &[b, t, u]);
        let xv = x.to_vec::<f32>();
        let (mut want_seq, mut want_h, mut want_c) = (Vec::new(), Vec::new(), Vec::new());
        for n in 0..b {
            let hs = reference(kind, &xv[n * t * f..(n + 1) * t * f], t, f, u, &wv);
            want_seq.extend(hs[..t].iter().flatten().map(|&v| v as f32));
            want_h.extend(hs[t - 1].iter().map(|&v| v as f32));
            want_c.extend(hs[t].iter().map(|&v| v as f32));
        }
        assert_close(&seq.to_vec::<f32>(), &want_seq, 1e-5);
        assert_close(&states[0].to_vec::<f32>(), &want_h, 1e-5);
        if kind == Kind::Lstm {
            assert_eq!(states.len(), 2);
            assert_close(&states[1].to_vec::<f32>(), &want_c, 1e-5);
        } else {
            assert_eq!(states.len(), 1);
        }
        // without return_sequences the layer gives the last h
        let last = layer(kind, u);
        last.call(&x, false);
        set_weights(&last, &w);
        assert_close(&last.call(&x, false).to_vec::<f32>(), &want_h, 1e-5);
    }
}

#[test]
fn initial_state_continues_a_sequence() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
                                            // running T = 6 steps at once equals 2 steps, then 4 more from the returned states
    let x = rnd(&[3, 6, 2], 2);
    for kind in [Kind::Simple, Kind::Lstm, Kind::Gru] {
        let l = layer(kind, 4);
        let (whole, _) = l.call_with_state(&x, None);
        let (_, s1) = l.call_with_state(&x.narrow(1, 0, 2), None);
        let (rest, _) = l.call_with_state(&x.narrow(1, 2, 4), Some(&s1));
        assert_close(&rest.to_vec::<f32>(), &whole.to_vec::<f32>(), 1e-6);
    }
}

#[test]
fn weights_shapes_init_and_parameter_counts_match_keras() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
                                            // Keras: SimpleRNN(32) on 10 features: 10*32 + 32*32 + 32 = 1,376
                                            //        LSTM(64) on 32: 4 (32*64 + 64*64 + 64) = 24,832; GRU(32) on 10: 3 (320 + 1024 + 64)
    let cases: [(Recurrent, usize, usize, &[usize]); 3] = [
        (SimpleRNN::new(32), 10, 1_376, &[32]),
        (LSTM::new(64), 32, 24_832, &[256]),
        (GRU::new(32), 10, 4_224, &[2, 96]),
    ];
    for (l, feats, count, bias_shape) in cases {
        let m = Sequential::new().add(l).input_shape([7, feats]);
        assert_eq!(m.count_params(), count);
        assert_eq!(m.summary().rows[0].params, count);
        let w = m.weights();
        let names: Vec<&str> = w
            .iter()
            .map(|v| v.name().rsplit('/').next().unwrap())
            .collect();
        assert_eq!(names, ["kernel", "recurrent_kernel", "bias"]);
        assert_eq!(w[2].dims(), bias_shape);
        // recurrent_kernel (u, g u) is orthogonal: its rows are orthonormal, U U^T = I
        let r = w[1].as_tensor();
        let gram = r.matmul(&r.t()).to_vec::<f32>();
        let u = r.dims()[0];
        let eye: Vec<f32> = (0..u * u)
            .map(|i| if i % (u + 1) == 0 { 1.0 } else { 0.0 })
            .collect();
        assert_close(&gram, &eye, 1e-5);
    }
    let seq = Sequential::new()
        .add(GRU::new(8).return_sequences(true))
        .input_shape([5, 3]);
    assert_eq!(seq.summary().rows[0].output_shape, "(None, 5, 8)");
    let msg = panic_message(|| LSTM::new(2).named("enc").call(&zeros([4, 3]), false));
    assert_contains(
        &msg,
        &["LSTM 'enc'", "(batch, timesteps, features)", "(4, 3)"],
    );
}

#[test]
fn recurrent_gradients_match_finite_differences() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
                                            // backpropagation through time: dL/dx_t collects every later step's contribution
    let x = rnd(&[2, 3, 2], 3);
    let g = rnd(&[2, 3, 3], 4);
    for kind in [Kind::Simple, Kind::Lstm, Kind::Gru] {
        let l = layer(kind, 3).return_sequences(true);
        l.call(&x, false);
        set_weights(&l, &random_weights(&l, 20));
        check_grad(|x| l.call(x, true) * &g, &x, 2e-2);
        for w in l.weights() {
            check_var_grad(|| l.call(&x, true) * &g, &w, 2e-2);
        }
    }
}

#[test]
fn a_gru_learns_the_sign_of_a_sequence_sum() {
    let _g = seeded(4);
    // 256 sequences of 6 steps; label 1 when their sum is positive
    let x = normal([256, 6, 1], 0.0, 1.0, Some(5));
    let y = x
        .sum_axes(&[1, 2], false)
        .greater(0.0)
        .cast(DType::F32)
        .reshape([256, 1]);
    let mut m = Sequential::new()
        .add(GRU::new(8))
        .add(Dense::new(1))
        .input_shape([6, 1]);
    m.compile(
        Adam::new(0.02),
        BinaryCrossentropy::from_logits(),
        &["accuracy"],
    );
    let h = m.fit(&x, &y).epochs(25).batch_size(32).verbose(0).run();
    let acc = h.last("accuracy").unwrap();
    println!("{h}");
    assert!(acc >= 0.9, "GRU train accuracy {acc}");
}
