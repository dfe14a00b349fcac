//! Initialisers and regularisers against Keras' formulas.
//!
//! Keras (VarianceScaling): fan_in / fan_out of a kernel (..., in, out) multiply by the
//! receptive field; glorot uses (fan_in + fan_out) / 2, he and lecun fan_in. Uniform variants
//! draw from U(-l, l) with l = sqrt(3 scale / n); normal variants from a normal truncated at 2
//! std, rescaled by 1 / 0.8796 so the final std is sqrt(scale / n). Statistics below are over
//! 200,000+ draws, so they are within 1-2% of the formulas.

use crate::common;
use crate::common::keras as keras_common;

use common::{assert_close, assert_contains};
use ferrolab::keras::initializers::{fans, Initializer};
use ferrolab::keras::regularizers::Regularizer;
use ferrolab::prelude::*;
use keras_common::seeded;

/// (mean, std, max |x|) of a tensor's values, in f64.
fn stats(t: &Tensor) -> (f64, f64, f64) {
    let v = t.to_vec::<f32>();
    let n = v.len() as f64;
    let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
    let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
    let max = v.iter().fold(0f64, |m, &x| m.max((x as f64).abs()));
    (mean, var.sqrt(), max)
}

#[test]
fn fans_follow_keras() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
    assert_eq!(fans(&[5, 10]), (5.0, 10.0));
    // Conv2D kernel (3, 3, 8, 16): receptive field 9
    assert_eq!(fans(&[3, 3, 8, 16]), (72.0, 144.0));
    // Conv1D kernel (5, 4, 2): receptive field 5
    assert_eq!(fans(&[5, 4, 2]), (20.0, 10.0));
    assert_eq!(fans(&[7]), (7.0, 7.0));
}

#[test]
fn variance_scaling_initializers_match_their_formulas() {
    let _g = seeded(0);
    // a conv kernel (3, 3, 64, 128): fan_in 576, fan_out 1152, 73,728 values; and (400, 600)
    for shape in [&[3usize, 3, 64, 128][..], &[400, 600][..]] {
        let (fi, fo) = fans(shape);
        let (fi, fo) = (fi as f64, fo as f64);
        let cases: [(&str, bool, f64); 6] = [
            ("glorot_uniform", true, 2.0 / (fi + fo)),
            ("glorot_normal", false, 2.0 / (fi + fo)),
            ("he_uniform", true, 2.0 / fi),
            ("he_normal", false, 2.0 / fi),
            ("lecun_uniform", true, 1.0 / fi),
            ("lecun_normal", false, 1.0 / fi),
        ];
        for (name, is_uniform, variance) in cases {
            let t = Initializer::from(name).init(shape);
            assert_eq!(t.dims(), shape);
            let (mean, std, max) = stats(&t);
            let want = variance.sqrt();
            println!(
                "{name} {shape:?}: mean {mean:.2e} std {std:.5} (want {want:.5}) max {max:.4}"
            );
            assert!(mean.abs() < 0.02 * want, "{name}: mean {mean}");
            assert!(
                (std / want - 1.0).abs() < 0.015,
                "{name}: std {std} vs {want}"
            );
            if is_uniform {
                // U(-l, l), l = sqrt(3) std, and the draws reach close to l
                let l = want * 3f64.sqrt();
                assert!(
                    max <= l + 1e-7 && max > 0.99 * l,
                    "{name}: max {max} vs {l}"
                );
            } else {
                // truncated at 2 pre-truncation stds
                let cut = 2.0 * want / 0.879_625_7;
                assert!(
                    max <= cut + 1e-6 && max > 0.95 * cut,
                    "{name}: max {max} vs {cut}"
                );
            }
        }
    }
}

#[test]
fn simple_initializers_and_names() {
    let _g = seeded(1);
    assert_eq!(
        Initializer::from("zeros").init(&[2, 3]).to_vec::<f32>(),
        vec![0.0; 6]
    );
    assert_eq!(
        Initializer::from("ones").init(&[4]).to_vec::<f32>(),
        vec![1.0; 4]
    );
    assert_eq!(
        Initializer::Constant(0.3).init(&[2]).to_vec::<f32>(),
        vec![0.3; 2]
    );
    // random_normal: N(0, 0.05); random_uniform: U(-0.05, 0.05)
    let (m, s, _) = stats(&Initializer::from("random_normal").init(&[500, 500]));
    assert!(m.abs() < 1e-3 && (s / 0.05 - 1.0).abs() < 0.01, "{m} {s}");
    let (m, s, mx) = stats(&Initializer::from("random_uniform").init(&[500, 500]));
    assert!(m.abs() < 1e-3 && (s / (0.05 / 3f64.sqrt()) - 1.0).abs() < 0.01 && mx <= 0.05);
    let err = Initializer::parse("xavier").unwrap_err().to_string();
    assert_contains(&err, &["xavier", "glorot_uniform", "he_normal"]);
    // the same seed gives the same draws
    let a = {
        set_seed(9);
        Initializer::GlorotUniform.init(&[3, 3])
    };
    set_seed(9);
    assert_eq!(
        a.to_vec::<f32>(),
        Initializer::GlorotUniform.init(&[3, 3]).to_vec::<f32>()
    );
}

#[test]
fn orthogonal_gives_orthonormal_rows_or_columns() {
    let _g = seeded(2);
    for (r, c) in [(6, 4), (4, 6), (5, 5)] {
        let q = Initializer::Orthogonal.init(&[r, c]);
        // the smaller side is orthonormal: Q^T Q = I (tall) or Q Q^T = I (wide)
        let (g, k) = if r >= c {
            (q.t().matmul(&q), c)
        } else {
            (q.matmul(&q.t()), r)
        };
        let eye: Vec<f32> = (0..k * k)
            .map(|i| if i % (k + 1) == 0 { 1.0 } else { 0.0 })
            .collect();
        assert_close(&g.to_vec::<f32>(), &eye, 1e-5);
    }
}

#[test]
fn layers_use_their_initializers_with_kernel_fans() {
    let _g = seeded(3);
    // Conv2D(64, 3) on 32 channels with he_uniform: l = sqrt(6 / (3 * 3 * 32)) = 0.1443
    let c = Conv2D::new(64, 3).kernel_initializer("he_uniform");
    c.call(&zeros([1, 5, 5, 32]), false);
    let (_, std, max) = stats(c.weights()[0].as_tensor());
    let l = (6.0f64 / 288.0).sqrt();
    assert!(max <= l && max > 0.99 * l, "max {max} vs {l}");
    assert!((std / (l / 3f64.sqrt()) - 1.0).abs() < 0.02, "std {std}");
    // Dense bias_initializer
    let d = Dense::new(3).bias_initializer("ones");
    d.call(&zeros([1, 2]), false);
    assert_eq!(d.weights()[1].to_vec::<f32>(), vec![1.0; 3]);
}

#[test]
fn regularizers_match_keras() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
    let w = tensor([[1.0, -2.0], [0.5, 0.0]]);
    // l1: 0.1 * (1 + 2 + 0.5) = 0.35; l2: 0.01 * (1 + 4 + 0.25) = 0.0525
    assert_close(&[l1(0.1).penalty(&w).item()], &[0.35], 1e-6);
    assert_close(&[l2(0.01).penalty(&w).item()], &[0.0525], 1e-6);
    let both = Regularizer::L1L2 { l1: 0.1, l2: 0.01 };
    assert_close(&[both.penalty(&w).item()], &[0.4025], 1e-6);
    // a Conv2D's kernel_regularizer is reported by losses()
    let c = Conv2D::new(1, 1)
        .use_bias(false)
        .kernel_regularizer(l1(0.5));
    c.call(&zeros([1, 2, 2, 2]), false);
    c.weights()[0].assign(tensor([1.0, -3.0]).reshape([1, 1, 2, 1]));
    assert_close(&[c.losses()[0].item()], &[2.0], 1e-6);
}
