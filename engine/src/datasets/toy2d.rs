//! Two-dimensional toy classification sets: moons and spirals (seeded).
//!
//! Both are the classic pictures for "a linear model fails, a small MLP succeeds": the classes
//! interleave, so the decision boundary has to bend.

use super::{labelled, Data};
use crate::random::Rng;

/// Two interleaving half circles (`sklearn.datasets.make_moons`): `n` points, `x` float32 (n, 2),
/// `y` int64 (0: upper moon, 1: lower moon), Gaussian noise of std `noise`, shuffled.
pub fn moons(n: usize, noise: f32, seed: u64) -> Data {
    let mut rng = Rng::seed_from_u64(seed);
    let n_out = n / 2;
    let n_in = n - n_out;
    let mut pts: Vec<([f32; 2], i64)> = Vec::with_capacity(n);
    let at = |i: usize, m: usize| {
        if m > 1 {
            std::f32::consts::PI * i as f32 / (m - 1) as f32
        } else {
            0.0
        }
    };
    for i in 0..n_out {
        let t = at(i, n_out);
        pts.push(([t.cos(), t.sin()], 0));
    }
    for i in 0..n_in {
        let t = at(i, n_in);
        pts.push(([1.0 - t.cos(), 0.5 - t.sin()], 1));
    }
    rng.shuffle(&mut pts);
    let mut e = vec![0f32; 2 * n];
    rng.fill_normal(&mut e, 0.0, noise);
    let x: Vec<f32> = pts
        .iter()
        .flat_map(|(p, _)| *p)
        .zip(e)
        .map(|(v, e)| v + e)
        .collect();
    let y = pts.iter().map(|(_, c)| *c).collect();
    let mut d = labelled("moons", x, vec![n, 2], y);
    d.class_names = vec!["upper".into(), "lower".into()];
    d.feature_names = vec!["x0".into(), "x1".into()];
    d
}

/// `classes` interleaved spiral arms of `n_per_class` points each (the CS231n picture):
/// radius grows from 0 to 1 along an arm and the angle gets Gaussian noise of std `noise`
/// (0.2 is typical). `x` float32 (n, 2), `y` int64 arm index; shuffled.
pub fn spirals(n_per_class: usize, classes: usize, noise: f32, seed: u64) -> Data {
    let mut rng = Rng::seed_from_u64(seed);
    let mut pts: Vec<([f32; 2], i64)> = Vec::with_capacity(n_per_class * classes);
    let mut e = [0f32; 1];
    for c in 0..classes {
        for i in 0..n_per_class {
            let r = if n_per_class > 1 {
                i as f32 / (n_per_class - 1) as f32
            } else {
                1.0
            };
            rng.fill_normal(&mut e, 0.0, noise);
            let t = c as f32 * 4.0 + 4.0 * r + e[0];
            pts.push(([r * t.sin(), r * t.cos()], c as i64));
        }
    }
    rng.shuffle(&mut pts);
    let n = pts.len();
    let x = pts.iter().flat_map(|(p, _)| *p).collect();
    let y = pts.iter().map(|(_, c)| *c).collect();
    let mut d = labelled("spirals", x, vec![n, 2], y);
    d.class_names = (0..classes).map(|c| format!("arm {c}")).collect();
    d.feature_names = vec!["x0".into(), "x1".into()];
    d
}
