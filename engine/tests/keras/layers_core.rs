//! Core layers (Dense, Activation, Dropout, Flatten, Reshape): forward passes against
//! hand-computed values with fixed weights, gradients against finite differences.
//!
//! Shapes: x (batch, features); Dense kernel (in, units), bias (units), as in Keras.

use crate::common;
use crate::common::keras as keras_common;

use common::{
    assert_close, assert_contains, assert_tensor, check_grad, panic_message, rnd, rnd_away,
};
use ferrolab::prelude::*;
use keras_common::{check_var_grad, seeded, set_weights};

// ------------------------------------------------------------------------------------------------
// Dense

/// A built Dense(2) on 3 features with kernel [[0.1, 0.2], [0.3, -0.4], [0.5, 0.6]], bias
/// [0.01, -0.02].
fn dense_2x3(activation: &str) -> Dense {
    let d = Dense::new(2).activation(activation);
    d.call(&zeros([1, 3]), false);
    set_weights(
        &d,
        &[
            tensor([[0.1, 0.2], [0.3, -0.4], [0.5, 0.6]]),
            tensor([0.01, -0.02]),
        ],
    );
    d
}

#[test]
fn dense_forward_matches_hand_computed_values() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
    let d = dense_2x3("linear");
    let x = tensor([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]]);
    // row 0: [0.1 + 0.6 + 1.5 + 0.01, 0.2 - 0.8 + 1.8 - 0.02] = [2.21, 1.18]
    // row 1: [-0.1 + 0.15 + 1.0 + 0.01, -0.2 - 0.2 + 1.2 - 0.02] = [1.06, 0.78]
    assert_tensor(&d.call(&x, false), &[2, 2], &[2.21, 1.18, 1.06, 0.78], 1e-6);

    // relu zeroes the negative pre-activations: x = [[-1, -2, -3]] gives [-2.19, -1.22] -> 0
    let r = dense_2x3("relu");
    let x2 = tensor([[-1.0, -2.0, -3.0], [1.0, 2.0, 3.0]]);
    assert_tensor(&r.call(&x2, false), &[2, 2], &[0.0, 0.0, 2.21, 1.18], 1e-6);

    // Dense acts on the last axis of a rank-3 input: (2, 1, 3) -> (2, 1, 2)
    let y3 = d.call(&x.reshape([2, 1, 3]), false);
    assert_tensor(&y3, &[2, 1, 2], &[2.21, 1.18, 1.06, 0.78], 1e-6);
}

#[test]
fn dense_weights_have_keras_names_shapes_and_init() {
    let _g = seeded(11);
    let d = Dense::new(5).named("dense_ref");
    assert!(d.weights().is_empty(), "weights are built lazily");
    d.call(&zeros([2, 7]), false);
    let w = d.weights();
    assert_eq!(w.len(), 2);
    assert_eq!(
        (w[0].name(), w[0].dims()),
        ("dense_ref/kernel", &[7, 5][..])
    );
    assert_eq!((w[1].name(), w[1].dims()), ("dense_ref/bias", &[5][..]));
    assert!(w[0].trainable() && w[1].trainable());
    assert_eq!(d.count_params(), 7 * 5 + 5);
    // glorot_uniform: U(-l, l), l = sqrt(6 / (fan_in + fan_out)) = sqrt(6 / 12) = 0.7071
    let k = w[0].to_vec::<f32>();
    let l = (6.0f32 / 12.0).sqrt();
    assert!(
        k.iter().all(|v| v.abs() <= l),
        "kernel outside +-{l}: {k:?}"
    );
    let spread = k.iter().fold(0f32, |m, v| m.max(v.abs()));
    assert!(
        spread > 0.5 * l,
        "kernel looks degenerate: max |w| = {spread}"
    );
    assert_eq!(w[1].to_vec::<f32>(), vec![0.0; 5], "bias starts at zeros");
    // he_normal: truncated normal with std sqrt(2 / fan_in); over 400 x 300 draws the sample
    // std is within 2% of it, and nothing lies beyond 2 std
    let h = Dense::new(300).kernel_initializer("he_normal");
    h.call(&zeros([1, 400]), false);
    let v = h.weights()[0].to_vec::<f32>();
    let std = (v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>() / v.len() as f64).sqrt();
    let want = (2.0f64 / 400.0).sqrt();
    assert!(
        (std / want - 1.0).abs() < 0.02,
        "he_normal std {std}, want {want}"
    );
    let trunc = 2.0 * want / 0.879_625_7;
    assert!(v.iter().all(|x| (*x as f64).abs() <= trunc + 1e-6));
}

#[test]
fn dense_seeded_init_is_reproducible_and_use_bias_false_drops_the_bias() {
    let a = {
        let _g = seeded(5);
        let d = Dense::new(3);
        d.call(&zeros([1, 4]), false);
        d.weights()[0].to_vec::<f32>()
    };
    let b = {
        let _g = seeded(5);
        let d = Dense::new(3).use_bias(false);
        d.call(&zeros([1, 4]), false);
        assert_eq!(d.weights().len(), 1);
        assert_eq!(d.count_params(), 12);
        d.weights()[0].to_vec::<f32>()
    };
    assert_eq!(a, b, "same seed, same kernel");
}

#[test]
fn dense_gradients_match_finite_differences() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
                                            // y = tanh(x K + b)  =>  dy/dx = (1 - y^2) K^T, dy/dK = x^T (1 - y^2), dy/db = sum_rows(1 - y^2)
    let d = dense_2x3("tanh");
    let x = rnd(&[4, 3], 1);
    check_grad(|x| d.call(x, true), &x, 1e-2);
    let w = d.weights();
    check_var_grad(|| d.call(&x, true), &w[0], 1e-2);
    check_var_grad(|| d.call(&x, true), &w[1], 1e-2);
}

#[test]
fn dense_l2_regularizer_adds_factor_times_sum_of_squares() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
    let d = Dense::new(2).kernel_regularizer(l2(0.01));
    assert!(
        d.losses().is_empty(),
        "no penalty before the layer is built"
    );
    d.call(&zeros([1, 3]), false);
    set_weights(
        &d,
        &[
            tensor([[0.1, 0.2], [0.3, -0.4], [0.5, 0.6]]),
            tensor([1.0, 1.0]),
        ],
    );
    // 0.01 * (0.01 + 0.04 + 0.09 + 0.16 + 0.25 + 0.36) = 0.0091 (the bias is not penalised)
    let l = d.losses();
    assert_eq!(l.len(), 1);
    assert_close(&[l[0].item()], &[0.0091], 1e-6);
    // d/dK of 0.01 sum(K^2) = 0.02 K
    let k = d.weights()[0].clone();
    check_var_grad(|| d.losses()[0].clone(), &k, 1e-2);
}

#[test]
fn dense_called_with_another_width_names_the_layer() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
    let d = Dense::new(2).named("head");
    d.call(&zeros([1, 3]), false);
    let msg = panic_message(|| d.call(&zeros([1, 4]), false));
    assert_contains(&msg, &["Dense 'head'", "3 features", "(1, 4)"]);
}

// ------------------------------------------------------------------------------------------------
// Activation

#[test]
fn activation_layers_match_keras_values() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
    let x = tensor([[-1.0, 0.0, 1.0]]);
    // reference values (Keras defaults: gelu exact, leaky_relu slope 0.2, elu alpha 1)
    let cases: [(&str, [f32; 3]); 9] = [
        ("linear", [-1.0, 0.0, 1.0]),
        ("relu", [0.0, 0.0, 1.0]),
        ("sigmoid", [0.268_941_43, 0.5, 0.731_058_6]),
        ("tanh", [-0.761_594_2, 0.0, 0.761_594_2]),
        (
            "softplus",
            [0.313_261_7, std::f32::consts::LN_2, 1.313_261_7],
        ),
        ("silu", [-0.268_941_43, 0.0, 0.731_058_6]),
        ("elu", [-0.632_120_56, 0.0, 1.0]),
        ("leaky_relu", [-0.2, 0.0, 1.0]),
        ("gelu", [-0.158_655_25, 0.0, 0.841_344_7]),
    ];
    for (name, want) in cases {
        println!("{name}");
        let y = Activation::new(name).call(&x, false);
        assert_tensor(&y, &[1, 3], &want, 1e-5);
    }
    // softmax over the last axis: e^[1,2,3] / sum
    let s = Activation::new("softmax").call(&tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]), false);
    let third = 1.0 / 3.0;
    assert_tensor(
        &s,
        &[2, 3],
        &[
            0.090_030_57,
            0.244_728_48,
            0.665_240_94,
            third,
            third,
            third,
        ],
        1e-6,
    );
    let msg = panic_message(|| Activation::new("relux"));
    assert_contains(&msg, &["relux", "relu", "sigmoid"]);
}

#[test]
fn activation_gradients_match_finite_differences() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
                                            // relu' = 1[x > 0], sigmoid' = s(1 - s), tanh' = 1 - t^2, softplus' = sigmoid,
                                            // silu' = s + x s (1 - s), elu' = 1 or e^x, leaky' = 1 or 0.2, gelu' = Phi + x phi,
                                            // softmax' = diag(s) - s s^T (summed against random weights so it is not trivially 0)
    let x = rnd_away(&[3, 4], 2, 0.05);
    for name in [
        "relu",
        "sigmoid",
        "tanh",
        "softplus",
        "silu",
        "elu",
        "leaky_relu",
        "gelu",
    ] {
        println!("{name}");
        let a = Activation::new(name);
        check_grad(|x| a.call(x, true), &x, 1e-2);
    }
    let w = rnd(&[3, 4], 3);
    let sm = Activation::new("softmax");
    check_grad(|x| sm.call(x, true) * &w, &x, 1e-2);
}

// ------------------------------------------------------------------------------------------------
// Dropout

#[test]
fn dropout_is_the_identity_at_inference() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
    let d = Dropout::new(0.5).seed(1);
    let x = rnd(&[8, 8], 4);
    assert_eq!(d.call(&x, false).to_vec::<f32>(), x.to_vec::<f32>());
    // in a model: predict (inference) is deterministic, the training forward pass is not
    let m = Sequential::new()
        .add(Dense::new(16))
        .add(Dropout::new(0.5).seed(2))
        .input_shape([8]);
    assert_eq!(m.predict(&x).to_vec::<f32>(), m.predict(&x).to_vec::<f32>());
    assert_eq!(
        m.predict(&x).to_vec::<f32>(),
        m.layer(0).call(&x, false).to_vec::<f32>()
    );
    let (t1, t2) = (m.call(&x, true), m.call(&x, true));
    assert_ne!(t1.to_vec::<f32>(), t2.to_vec::<f32>());
}

#[test]
fn dropout_scales_kept_units_by_one_over_one_minus_rate() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
    let rate = 0.25f32;
    let d = Dropout::new(rate).seed(3);
    let x = rnd_away(&[100, 100], 5, 0.01);
    let y = d.call(&x, true);
    let (xv, yv) = (x.to_vec::<f32>(), y.to_vec::<f32>());
    let mut dropped = 0;
    for (a, b) in xv.iter().zip(&yv) {
        if *b == 0.0 {
            dropped += 1;
        } else {
            // kept: x / (1 - rate) = x * 4/3
            assert!(
                (b - a / (1.0 - rate)).abs() <= 1e-6 * (1.0 + a.abs()),
                "{b} vs {a}"
            );
        }
    }
    let frac = dropped as f64 / xv.len() as f64;
    println!("dropped fraction {frac}");
    assert!(
        (frac - 0.25).abs() < 0.02,
        "dropped {frac}, expected about 0.25"
    );
    // the gradient is the same mask, scaled: dy/dx = 1[kept] / (1 - rate)
    let tape = GradientTape::new();
    tape.watch(&x);
    let y2 = d.call(&x, true);
    let [g] = tape.gradient(&y2.sum(), [&x]);
    let want: Vec<f32> = y2
        .to_vec::<f32>()
        .iter()
        .map(|v| if *v == 0.0 { 0.0 } else { 1.0 / (1.0 - rate) })
        .collect();
    assert_close(&g.unwrap().to_vec::<f32>(), &want, 1e-6);
}

#[test]
fn seeded_dropout_repeats_its_sequence_of_masks_and_varies_between_calls() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
    let x = ones([64, 32]);
    let (a, b) = (Dropout::new(0.5).seed(7), Dropout::new(0.5).seed(7));
    let a1 = a.call(&x, true).to_vec::<f32>();
    let a2 = a.call(&x, true).to_vec::<f32>();
    let b1 = b.call(&x, true).to_vec::<f32>();
    let b2 = b.call(&x, true).to_vec::<f32>();
    assert_eq!(a1, b1, "same seed, same first mask");
    assert_eq!(a2, b2, "same seed, same second mask");
    // like Keras' seeded Dropout, each training call draws a fresh mask
    let same = a1.iter().zip(&a2).filter(|(p, q)| p == q).count();
    assert!(
        same < a1.len() * 3 / 4,
        "two calls share {same} of {} mask entries: the mask never changes",
        a1.len()
    );
    assert!(a1.iter().all(|v| *v == 0.0 || *v == 2.0));
    let msg = panic_message(|| Dropout::new(1.0));
    assert_contains(&msg, &["rate", "[0, 1)"]);
}

// ------------------------------------------------------------------------------------------------
// Flatten, Reshape

#[test]
fn flatten_and_reshape_keep_values_in_row_major_order() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
    let x = arange(0.0, 24.0, 1.0).reshape([2, 3, 4]);
    let f = Flatten::new().call(&x, false);
    let want: Vec<f32> = (0..24).map(|v| v as f32).collect();
    assert_tensor(&f, &[2, 12], &want, 0.0);
    let r = Reshape::new([4, 3]).call(&f, false);
    assert_tensor(&r, &[2, 4, 3], &want, 0.0);
    let r2 = Reshape::new([-1, 2]).call(&f, false);
    assert_tensor(&r2, &[2, 6, 2], &want, 0.0);
    // gradients pass through unchanged: d sum(w * reshape(x)) / dx = reshape^-1(w)
    let w = rnd(&[2, 12], 6);
    check_grad(|x| Flatten::new().call(x, true) * &w, &x, 1e-2);
    let w2 = rnd(&[2, 4, 3], 7);
    check_grad(|x| Reshape::new([4, 3]).call(x, true) * &w2, &f, 1e-2);
    let msg = panic_message(|| Reshape::new([5, 5]).call(&f, false));
    assert_contains(&msg, &["Reshape", "[5, 5]"]);
}
