//! Synthetic time series (seeded): many sine series with trend and noise, and ECG-like
//! heartbeats with anomalies.
//!
//! `sine_series` is the workload of "training many time series on one GPU": thousands of short
//! series that differ in level, trend, amplitude, period and phase, so one batched model fits
//! them all. `ecg_beats` imitates the ECG5000 set of TF's autoencoder tutorial: 140-sample
//! beats, most normal, some abnormal, for anomaly detection by reconstruction error.

use std::f32::consts::PI;

use super::{labelled, Data};
use crate::random::Rng;
use crate::tensor::create::from_vec;

fn uniform(rng: &mut Rng, lo: f32, hi: f32) -> f32 {
    lo + (hi - lo) * rng.next_f32()
}

/// `num_series` series of `length` steps: `level + trend * t + amplitude * sin(2 pi t / period +
/// phase) + noise`, with level in [-1, 1], trend in [-0.02, 0.02] per step, amplitude in
/// [0.5, 2], period in [6, 30] steps, phase in [0, 2 pi) and Gaussian noise of std `noise`.
///
/// `x`: float32 (num_series, length), the values. `y`: float32 (num_series, 5), the true
/// (level, trend, amplitude, period, phase) of each series.
pub fn sine_series(num_series: usize, length: usize, noise: f32, seed: u64) -> Data {
    let mut rng = Rng::seed_from_u64(seed);
    let mut x = Vec::with_capacity(num_series * length);
    let mut y = Vec::with_capacity(num_series * 5);
    let mut e = vec![0f32; length];
    for _ in 0..num_series {
        let level = uniform(&mut rng, -1.0, 1.0);
        let trend = uniform(&mut rng, -0.02, 0.02);
        let amp = uniform(&mut rng, 0.5, 2.0);
        let period = uniform(&mut rng, 6.0, 30.0);
        let phase = uniform(&mut rng, 0.0, 2.0 * PI);
        rng.fill_normal(&mut e, 0.0, noise);
        x.extend((0..length).map(|t| {
            let t_ = t as f32;
            level + trend * t_ + amp * (2.0 * PI * t_ / period + phase).sin() + e[t]
        }));
        y.extend([level, trend, amp, period, phase]);
    }
    let mut d = Data::new(
        "sine_series",
        from_vec(x, [num_series, length]).expect("series fit their shape"),
        from_vec(y, [num_series, 5]).expect("parameters"),
    );
    d.feature_names = ["level", "trend", "amplitude", "period", "phase"]
        .map(String::from)
        .to_vec();
    d
}

/// Length of one beat in [`ecg_beats`], as in ECG5000.
pub const ECG_LENGTH: usize = 140;

/// A Gaussian bump of height `a`, centre `c` and width `w` at position `t`.
fn bump(t: f32, a: f32, c: f32, w: f32) -> f32 {
    a * (-((t - c) / w).powi(2) / 2.0).exp()
}

/// `n` heartbeats of 140 samples; a fraction `anomaly_fraction` of them (rounded) are
/// abnormal. A normal beat has a P wave, a sharp QRS complex and a T wave, with small random
/// changes in timing and height, baseline wander and noise. An abnormal beat has one of: no P
/// wave and a wide QRS (ventricular beat), ST elevation, or an inverted T wave.
///
/// `x`: float32 (n, 140). `y`: int64 (n,), 0 normal, 1 abnormal. Shuffled.
pub fn ecg_beats(n: usize, anomaly_fraction: f32, seed: u64) -> Data {
    let mut rng = Rng::seed_from_u64(seed);
    let n_bad = ((n as f32) * anomaly_fraction.clamp(0.0, 1.0)).round() as usize;
    let mut labels: Vec<i64> = (0..n).map(|i| (i < n_bad) as i64).collect();
    rng.shuffle(&mut labels);
    let mut x = Vec::with_capacity(n * ECG_LENGTH);
    let mut e = vec![0f32; ECG_LENGTH];
    for &label in &labels {
        let j = |rng: &mut Rng, s: f32| uniform(rng, -s, s);
        let shift = j(&mut rng, 4.0);
        let (mut p, mut r, mut t_amp) = (
            0.25 + j(&mut rng, 0.05),
            2.0 + j(&mut rng, 0.3),
            0.5 + j(&mut rng, 0.1),
        );
        let (mut qrs_w, mut st) = (2.5 + j(&mut rng, 0.3), 0.0);
        if label == 1 {
            match rng.below(3) {
                0 => {
                    p = 0.0;
                    qrs_w *= 3.0;
                    r *= 0.8;
                }
                1 => st = 0.5 + j(&mut rng, 0.15),
                _ => t_amp = -t_amp,
            }
        }
        let wander_a = j(&mut rng, 0.15);
        let wander_f = uniform(&mut rng, 0.5, 1.5);
        rng.fill_normal(&mut e, 0.0, 0.05);
        let c = 40.0 + shift; // the R peak
        x.extend((0..ECG_LENGTH).map(|i| {
            let t = i as f32;
            let st_seg = if t > c + 4.0 && t < c + 30.0 { st } else { 0.0 };
            bump(t, p, c - 22.0, 4.0)
                + bump(t, -0.3, c - 5.0, 1.5)
                + bump(t, r, c, qrs_w)
                + bump(t, -0.5, c + 5.0, 1.5)
                + bump(t, t_amp, c + 40.0, 8.0)
                + st_seg
                + wander_a * (2.0 * PI * wander_f * t / ECG_LENGTH as f32).sin()
                + e[i]
        }));
    }
    let mut d = labelled("ecg_beats", x, vec![n, ECG_LENGTH], labels);
    d.class_names = vec!["normal".into(), "abnormal".into()];
    d
}
