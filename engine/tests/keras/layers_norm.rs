//! BatchNormalization (training vs inference, moving averages with momentum 0.99),
//! LayerNormalization, Embedding and the merging layers Add and Concatenate: forward values
//! computed by hand, gradients against finite differences.
//!
//! BatchNormalization (Keras 3): training normalises with the batch mean and the biased batch
//! variance and updates moving = moving * momentum + batch * (1 - momentum); inference uses the
//! moving statistics. y = gamma (x - mean) / sqrt(var + eps) + beta, eps = 1e-3.

use crate::common;
use crate::common::keras as keras_common;

use common::{assert_close, assert_contains, assert_tensor, check_grad, panic_message, rnd};
use ferrolab::prelude::*;
use keras_common::{check_var_grad, set_weights};

/// Column mean and biased variance of a (rows, cols) slice, in f64.
fn col_stats(x: &[f32], cols: usize) -> (Vec<f64>, Vec<f64>) {
    let rows = x.len() / cols;
    let mean: Vec<f64> = (0..cols)
        .map(|c| (0..rows).map(|r| x[r * cols + c] as f64).sum::<f64>() / rows as f64)
        .collect();
    let var = (0..cols)
        .map(|c| {
            (0..rows)
                .map(|r| (x[r * cols + c] as f64 - mean[c]).powi(2))
                .sum::<f64>()
                / rows as f64
        })
        .collect();
    (mean, var)
}

#[test]
fn batchnorm_training_uses_batch_statistics_and_updates_moving_averages() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
    let bn = BatchNormalization::new();
    // column 0: [1, 2, 3, 6] -> mean 3, var (4 + 1 + 0 + 9) / 4 = 3.5
    // column 1: [0, 0, 4, 4] -> mean 2, var 4
    let x = tensor([[1.0, 0.0], [2.0, 0.0], [3.0, 4.0], [6.0, 4.0]]);
    let y = bn.call(&x, true);
    let w = bn.weights();
    let names: Vec<&str> = w.iter().map(|v| v.name()).collect();
    let p = bn.name();
    assert!(p.starts_with("batch_normalization"), "{p}");
    let want_names =
        ["gamma", "beta", "moving_mean", "moving_variance"].map(|n| format!("{p}/{n}"));
    assert_eq!(names, want_names);
    assert_eq!(bn.trainable_weights().len(), 2);
    assert_eq!(bn.non_trainable_weights().len(), 2);
    // gamma = 1, beta = 0: (x - mean) / sqrt(var + 0.001)
    let (s0, s1) = ((3.5f32 + 1e-3).sqrt(), (4.0f32 + 1e-3).sqrt());
    let want = [
        -2.0 / s0,
        -2.0 / s1,
        -1.0 / s0,
        -2.0 / s1,
        0.0,
        2.0 / s1,
        3.0 / s0,
        2.0 / s1,
    ];
    assert_tensor(&y, &[4, 2], &want, 1e-5);
    // moving_mean = 0.99 * 0 + 0.01 * [3, 2]; moving_variance = 0.99 * 1 + 0.01 * [3.5, 4]
    assert_close(&w[2].to_vec::<f32>(), &[0.03, 0.02], 1e-6);
    assert_close(&w[3].to_vec::<f32>(), &[1.025, 1.03], 1e-6);
    // a second training step compounds: 0.99 * 0.03 + 0.01 * 3 = 0.0597, 0.99 * 1.025 + 0.035
    bn.call(&x, true);
    assert_close(&w[2].to_vec::<f32>(), &[0.0597, 0.0398], 1e-6);
    assert_close(&w[3].to_vec::<f32>(), &[1.04975, 1.0597], 1e-6);
    // inference does not touch the moving statistics
    bn.call(&x, false);
    assert_close(&w[2].to_vec::<f32>(), &[0.0597, 0.0398], 1e-6);
}

#[test]
fn batchnorm_inference_uses_the_moving_statistics_and_gamma_beta() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
    let bn = BatchNormalization::new().momentum(0.9).epsilon(0.01);
    bn.call(&zeros([1, 2]), false);
    set_weights(
        &bn,
        &[
            tensor([2.0, 0.5]),   // gamma
            tensor([1.0, -1.0]),  // beta
            tensor([10.0, 0.0]),  // moving_mean
            tensor([3.99, 0.24]), // moving_variance: + eps = 4 and 0.25
        ],
    );
    // y = gamma (x - mm) / sqrt(mv + eps) + beta: [2 (12 - 10) / 2 + 1, 0.5 (1 - 0) / 0.5 - 1]
    let x = tensor([[12.0, 1.0], [8.0, -1.0]]);
    assert_tensor(&bn.call(&x, false), &[2, 2], &[3.0, 0.0, -1.0, -2.0], 1e-6);
    // training ignores the moving statistics, and momentum 0.9 moves them 10% of the way:
    // batch mean [10, 0], biased var [4, 1] -> mm = [10, 0], mv = 0.9 [3.99, 0.24] + 0.1 [4, 1]
    let yt = bn.call(&x, true);
    let (r0, r1) = ((4.0f32 + 0.01).sqrt(), (1.0f32 + 0.01).sqrt());
    assert_tensor(
        &yt,
        &[2, 2],
        &[
            2.0 * 2.0 / r0 + 1.0,
            0.5 / r1 - 1.0,
            -2.0 * 2.0 / r0 + 1.0,
            -0.5 / r1 - 1.0,
        ],
        1e-5,
    );
    let w = bn.weights();
    assert_close(&w[2].to_vec::<f32>(), &[10.0, 0.0], 1e-6);
    assert_close(&w[3].to_vec::<f32>(), &[3.991, 0.316], 1e-6);
}

#[test]
fn batchnorm_on_images_normalises_over_batch_height_and_width() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
    let bn = BatchNormalization::new();
    let x = rnd(&[3, 4, 5, 2], 1).affine(3.0, 1.0);
    let y = bn.call(&x, true);
    // per channel, y has mean 0 and variance var / (var + eps)
    let (ym, yv) = col_stats(&y.to_vec::<f32>(), 2);
    let (_, xv) = col_stats(&x.to_vec::<f32>(), 2);
    for c in 0..2 {
        assert!(ym[c].abs() < 1e-5, "channel {c} mean {}", ym[c]);
        let want = xv[c] / (xv[c] + 1e-3);
        assert!(
            (yv[c] - want).abs() < 1e-4,
            "channel {c} var {} vs {want}",
            yv[c]
        );
    }
    let (xm, _) = col_stats(&x.to_vec::<f32>(), 2);
    let mm = bn.weights()[2].to_vec::<f32>();
    assert_close(&mm, &[(0.01 * xm[0]) as f32, (0.01 * xm[1]) as f32], 1e-5);
}

#[test]
fn batchnorm_gradients_match_finite_differences() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
                                            // training: the gradient flows through the batch mean and variance as well
                                            //   dy/dx = gamma / sigma (I - 1/N - xhat xhat^T / N); weighted by random w so it is not 0
    let bn = BatchNormalization::new();
    let x = rnd(&[6, 3], 2);
    bn.call(&x, false);
    set_weights(
        &bn,
        &[
            tensor([1.5, -0.5, 2.0]),
            tensor([0.1, 0.2, 0.3]),
            tensor([0.5, -0.5, 0.0]),
            tensor([2.0, 0.5, 1.0]),
        ],
    );
    let w = rnd(&[6, 3], 3);
    check_grad(|x| bn.call(x, true) * &w, &x, 2e-2);
    check_grad(|x| bn.call(x, false) * &w, &x, 1e-2);
    let (gamma, beta) = (bn.weights()[0].clone(), bn.weights()[1].clone());
    check_var_grad(|| bn.call(&x, true) * &w, &gamma, 1e-2);
    check_var_grad(|| bn.call(&x, true) * &w, &beta, 1e-2);
    // the moving statistics are not trainable: no gradient is asked of them by fit
    let tape = GradientTape::new();
    let loss = (bn.call(&x, true) * &w).sum();
    let mm = bn.weights()[2].clone();
    let [g] = tape.gradient(&loss, [&mm]);
    assert!(g.is_none(), "moving_mean got a gradient");
}

#[test]
fn layernorm_normalises_each_row_over_the_last_axis() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
    let ln = LayerNormalization::new();
    // row [1, 2, 3, 6]: mean 3, var 3.5; row [2, 2, 2, 2]: var 0 -> all zeros
    let x = tensor([[1.0, 2.0, 3.0, 6.0], [2.0, 2.0, 2.0, 2.0]]);
    let s = (3.5f32 + 1e-3).sqrt();
    let y = ln.call(&x, false);
    assert_tensor(
        &y,
        &[2, 4],
        &[-2.0 / s, -1.0 / s, 0.0, 3.0 / s, 0.0, 0.0, 0.0, 0.0],
        1e-5,
    );
    let w = ln.weights();
    let p = ln.name();
    assert_eq!(
        (w[0].name().to_string(), w[1].name().to_string()),
        (format!("{p}/gamma"), format!("{p}/beta"))
    );
    assert_eq!(ln.count_params(), 8);
    set_weights(
        &ln,
        &[tensor([1.0, 2.0, 3.0, 4.0]), tensor([0.5, 0.5, 0.5, 0.5])],
    );
    let y2 = ln.call(&x, true);
    assert_tensor(
        &y2,
        &[2, 4],
        &[
            0.5 - 2.0 / s,
            0.5 - 2.0 / s,
            0.5,
            0.5 + 12.0 / s,
            0.5,
            0.5,
            0.5,
            0.5,
        ],
        1e-5,
    );
    // rank 3: (batch, time, features), statistics per (batch, time)
    let x3 = rnd(&[2, 3, 4], 4);
    let y3 = LayerNormalization::new().call(&x3, false);
    let (m, _) = col_stats(&y3.to_vec::<f32>(), 1);
    assert!(m[0].abs() < 1e-5);
    let wr = rnd(&[2, 3, 4], 5);
    check_grad(
        |x| ln.call(&x.reshape([6, 4]), true) * &wr.reshape([6, 4]),
        &x3,
        1e-2,
    );
    let xg = rnd(&[3, 4], 6);
    let wg = rnd(&[3, 4], 7);
    check_var_grad(|| ln.call(&xg, true) * &wg, &ln.weights()[0], 1e-2);
    check_var_grad(|| ln.call(&xg, true) * &wg, &ln.weights()[1], 1e-2);
}

#[test]
fn embedding_looks_up_rows_and_accumulates_gradients_for_repeated_ids() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
    let e = Embedding::new(4, 3);
    let ids = tensor([[1i64, 3], [1, 0]]);
    let y = e.call(&ids, false);
    assert_eq!(y.dims(), &[2, 2, 3]);
    let w = e.weights();
    assert_eq!(w[0].name(), format!("{}/embeddings", e.name()));
    assert_eq!(w[0].dims(), &[4, 3]);
    // Keras' default init: uniform(-0.05, 0.05)
    assert!(w[0].to_vec::<f32>().iter().all(|v| v.abs() <= 0.05));
    let table = arange(0.0, 12.0, 1.0).reshape([4, 3]);
    set_weights(&e, &[table]);
    let want = [3.0, 4.0, 5.0, 9.0, 10.0, 11.0, 3.0, 4.0, 5.0, 0.0, 1.0, 2.0];
    assert_tensor(&e.call(&ids, false), &[2, 2, 3], &want, 0.0);
    // float ids are accepted (cast), as Keras does
    assert_tensor(
        &e.call(&tensor([[1.0, 3.0], [1.0, 0.0]]), false),
        &[2, 2, 3],
        &want,
        0.0,
    );
    // d sum(y * g) / d table: row 1 gets g[0,0] + g[1,0], row 3 g[0,1], row 0 g[1,1], row 2 none
    let g = rnd(&[2, 2, 3], 8);
    check_var_grad(|| e.call(&ids, true) * &g, &w[0], 1e-2);
    let tape = GradientTape::new();
    let [dt] = tape.gradient(&e.call(&ids, true).sum(), [&w[0]]);
    assert_eq!(
        dt.unwrap().to_vec::<f32>(),
        vec![1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0]
    );
    let msg = panic_message(|| e.call(&tensor([[4i64]]), false));
    assert_contains(&msg, &[&format!("Embedding '{}'", e.name()), "input_dim=4"]);
}

#[test]
fn add_and_concatenate_merge_values_and_split_gradients() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
    let (a, b, c) = (rnd(&[2, 3], 9), rnd(&[2, 3], 10), rnd(&[2, 2], 11));
    let add = Add::new();
    let s = add.call_many(&[a.clone(), b.clone(), a.clone()], false);
    let want: Vec<f32> = a
        .to_vec::<f32>()
        .iter()
        .zip(b.to_vec::<f32>())
        .map(|(x, y)| 2.0 * x + y)
        .collect();
    assert_tensor(&s, &[2, 3], &want, 1e-6);
    let cat = Concatenate::default().call_many(&[a.clone(), c.clone()], false);
    let (av, cv) = (a.to_vec::<f32>(), c.to_vec::<f32>());
    let wantc = [
        av[0], av[1], av[2], cv[0], cv[1], av[3], av[4], av[5], cv[2], cv[3],
    ];
    assert_tensor(&cat, &[2, 5], &wantc, 0.0);
    let cat0 = Concatenate::new(0).call_many(&[a.clone(), b.clone()], false);
    assert_eq!(cat0.dims(), &[4, 3]);
    // d(sum(w * (x + b)))/dx = w; d(sum(w * concat(x, c)))/dx = w[:, :3]
    let w = rnd(&[2, 3], 12);
    check_grad(
        |x| add.call_many(&[x.clone(), b.clone()], true) * &w,
        &a,
        1e-2,
    );
    let w5 = rnd(&[2, 5], 13);
    let cc = Concatenate::default();
    check_grad(
        |x| cc.call_many(&[x.clone(), c.clone()], true) * &w5,
        &a,
        1e-2,
    );
    let msg = panic_message(|| Add::new().call_many(&[a.clone(), c.clone()], false));
    assert_contains(&msg, &["Add '", "(2, 3)", "(2, 2)"]);
    let msg = panic_message(|| Concatenate::new(0).call_many(&[a.clone(), c.clone()], false));
    assert_contains(&msg, &["Concatenate '"]);
    let msg = panic_message(|| Add::new().call(&a, false));
    assert_contains(&msg, &["call_many"]);
}

#[test]
fn fit_updates_batchnorm_moving_statistics_once_per_step() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
                                            // 64 rows of one feature, 8 batches of 8 in order (no shuffle), SGD with lr 0 so only the
                                            // moving statistics change: moving_mean = sum_k 0.01 * 0.99^(7 - k) * mean(batch_k), and
                                            // evaluate / predict do not move them
    let x = arange(0.0, 64.0, 1.0).reshape([64, 1]);
    let mut m = Sequential::new()
        .add(BatchNormalization::new())
        .input_shape([1]);
    m.compile(SGD::new(0.0), "mse", &[]);
    m.fit(&x, &x)
        .epochs(1)
        .batch_size(8)
        .shuffle(false)
        .verbose(0)
        .run();
    let (mut mean, mut var) = (0f64, 1f64);
    for k in 0..8 {
        let rows: Vec<f64> = (8 * k..8 * k + 8).map(|v| v as f64).collect();
        let (bm, _) = col_stats(&rows.iter().map(|&v| v as f32).collect::<Vec<_>>(), 1);
        let bv = rows.iter().map(|v| (v - bm[0]).powi(2)).sum::<f64>() / 8.0; // 5.25
        mean = 0.99 * mean + 0.01 * bm[0];
        var = 0.99 * var + 0.01 * bv;
    }
    let w = m.weights();
    assert_close(&w[2].to_vec::<f32>(), &[mean as f32], 1e-6);
    assert_close(&w[3].to_vec::<f32>(), &[var as f32], 1e-6);
    m.evaluate(&x, &x);
    m.predict(&x);
    assert_close(&w[2].to_vec::<f32>(), &[mean as f32], 1e-6);
}
