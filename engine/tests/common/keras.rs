//! Helpers shared by the Keras tests (on top of `common`): the seeded global generator, a
//! finite-difference check for gradients with respect to a layer's weights, and a way to give a
//! layer known weights.
//!
//! Tests in one binary run on several threads, and weight initialisation, `fit`'s shuffling and
//! unseeded Dropout all draw from the one global generator. A test that needs reproducible
//! draws holds [`seeded`] for its whole body.
#![allow(dead_code)]

use std::sync::MutexGuard;

use ferrolab::prelude::*;

/// Takes the global-generator lock ([`super::global_rng`]) and seeds the generator
/// (`tf.random.set_seed`).
pub fn seeded(seed: u64) -> MutexGuard<'static, ()> {
    let guard = super::global_rng();
    set_seed(seed);
    guard
}

/// Compares the tape gradient of `f().sum()` with respect to `v` with central differences,
/// perturbing `v` in place (the same scheme as `common::check_grad`: f32 steps of 1e-2, outputs
/// differenced elementwise in f64, pass when |tape - fd| <= tol/10 + tol |fd|).
#[track_caller]
pub fn check_var_grad(f: impl Fn() -> Tensor, v: &Variable, tol: f64) {
    let analytic = {
        let tape = GradientTape::new();
        tape.watch(v);
        let y = f().sum();
        let [g] = tape.gradient(&y, [v]);
        let g = g.expect("check_var_grad: no gradient reached the variable");
        assert_eq!(g.dims(), v.dims(), "gradient shape");
        g.to_f32_vec()
    };
    let base = v.read_value();
    let base_vals = base.to_vec::<f32>();
    let shape = v.dims().to_vec();
    let eval = |vals: &[f32]| -> Vec<f64> {
        v.assign(from_vec(vals.to_vec(), shape.clone()).unwrap());
        f().to_f32_vec().into_iter().map(|y| y as f64).collect()
    };
    let eps = 1e-2f32;
    let mut maxdiff = 0f64;
    for i in 0..base_vals.len() {
        let (mut plus, mut minus) = (base_vals.clone(), base_vals.clone());
        plus[i] += eps;
        minus[i] -= eps;
        let h = plus[i] as f64 - minus[i] as f64;
        let (fp, fm) = (eval(&plus), eval(&minus));
        let numeric: f64 = fp.iter().zip(&fm).map(|(p, m)| p - m).sum::<f64>() / h;
        let a = analytic[i] as f64;
        let d = (a - numeric).abs();
        assert!(
            d <= tol / 10.0 + tol * numeric.abs(),
            "d/d{}[{i}]: tape {a}, finite differences {numeric} (diff {d:e})",
            v.name()
        );
        maxdiff = maxdiff.max(d);
    }
    v.assign(&base);
    println!("gradient w.r.t. {} OK, maxdiff = {maxdiff:e}", v.name());
}

/// Assigns known values to a built layer's weights, in `weights()` order.
#[track_caller]
pub fn set_weights(layer: &dyn Layer, values: &[Tensor]) {
    let ws = layer.weights();
    assert_eq!(
        ws.len(),
        values.len(),
        "{} has {} weights",
        layer.name(),
        ws.len()
    );
    for (w, v) in ws.iter().zip(values) {
        w.assign(v);
    }
}

/// Bitwise equality of two tensors' values (for exact round trips).
#[track_caller]
pub fn assert_bits_eq(a: &Tensor, b: &Tensor) {
    assert_eq!(a.dims(), b.dims(), "shape");
    let (x, y) = (a.to_f32_vec(), b.to_f32_vec());
    for (i, (p, q)) in x.iter().zip(&y).enumerate() {
        assert_eq!(p.to_bits(), q.to_bits(), "element {i}: {p} vs {q}");
    }
    println!("EXACT, {} values", x.len());
}
