//! Weight initialisers with Keras names and formulas (fan_in/fan_out as Keras computes them).

use crate::error::{invalid, Result};
use crate::tensor::create::{normal, truncated_normal, uniform, zeros};
use crate::tensor::Tensor;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Initializer {
    Zeros,
    Ones,
    Constant(f32),
    GlorotUniform,
    GlorotNormal,
    HeNormal,
    HeUniform,
    LecunNormal,
    LecunUniform,
    RandomNormal { mean: f32, stddev: f32 },
    RandomUniform { minval: f32, maxval: f32 },
    Orthogonal,
}

/// Keras' (fan_in, fan_out): kernels (..., in, out) multiply by the receptive field size.
pub fn fans(shape: &[usize]) -> (f32, f32) {
    match shape.len() {
        0 => (1.0, 1.0),
        1 => (shape[0] as f32, shape[0] as f32),
        2 => (shape[0] as f32, shape[1] as f32),
        r => {
            let rf: usize = shape[..r - 2].iter().product();
            ((shape[r - 2] * rf) as f32, (shape[r - 1] * rf) as f32)
        }
    }
}

// Keras divides by the std of a standard normal truncated to [-2, 2].
const TRUNC_STD: f32 = 0.879_625_7;

impl Initializer {
    pub fn parse(name: &str) -> Result<Initializer> {
        Ok(match name.to_ascii_lowercase().as_str() {
            "zeros" => Initializer::Zeros,
            "ones" => Initializer::Ones,
            "glorot_uniform" => Initializer::GlorotUniform,
            "glorot_normal" => Initializer::GlorotNormal,
            "he_normal" => Initializer::HeNormal,
            "he_uniform" => Initializer::HeUniform,
            "lecun_normal" => Initializer::LecunNormal,
            "lecun_uniform" => Initializer::LecunUniform,
            "random_normal" => Initializer::RandomNormal { mean: 0.0, stddev: 0.05 },
            "random_uniform" => Initializer::RandomUniform { minval: -0.05, maxval: 0.05 },
            "orthogonal" => Initializer::Orthogonal,
            _ => {
                return Err(invalid(
                    "initializer",
                    format!("unknown initializer \"{name}\"; use zeros, ones, glorot_uniform, glorot_normal, he_normal, he_uniform, lecun_normal, lecun_uniform, random_normal, random_uniform or orthogonal"),
                ))
            }
        })
    }

    /// A new float32 tensor of `shape`, drawn from the global generator (see `set_seed`).
    pub fn init(&self, shape: &[usize]) -> Tensor {
        let (fi, fo) = fans(shape);
        let sh = shape.to_vec();
        match *self {
            Initializer::Zeros => zeros(sh),
            Initializer::Ones => crate::tensor::create::ones(sh),
            Initializer::Constant(v) => crate::tensor::create::full(sh, v),
            Initializer::GlorotUniform => {
                let l = (6.0 / (fi + fo)).sqrt();
                uniform(sh, -l, l, None)
            }
            Initializer::GlorotNormal => {
                truncated_normal(sh, 0.0, (2.0 / (fi + fo)).sqrt() / TRUNC_STD, None)
            }
            Initializer::HeNormal => truncated_normal(sh, 0.0, (2.0 / fi).sqrt() / TRUNC_STD, None),
            Initializer::HeUniform => {
                let l = (6.0 / fi).sqrt();
                uniform(sh, -l, l, None)
            }
            Initializer::LecunNormal => {
                truncated_normal(sh, 0.0, (1.0 / fi).sqrt() / TRUNC_STD, None)
            }
            Initializer::LecunUniform => {
                let l = (3.0 / fi).sqrt();
                uniform(sh, -l, l, None)
            }
            Initializer::RandomNormal { mean, stddev } => normal(sh, mean, stddev, None),
            Initializer::RandomUniform { minval, maxval } => uniform(sh, minval, maxval, None),
            Initializer::Orthogonal => orthogonal(shape),
        }
    }
}

/// A (rows, cols) matrix with orthonormal rows or columns (Gram-Schmidt on normal draws).
fn orthogonal(shape: &[usize]) -> Tensor {
    let cols = *shape.last().unwrap_or(&1);
    let rows = shape.iter().product::<usize>() / cols.max(1);
    let (n, m) = if rows < cols {
        (cols, rows)
    } else {
        (rows, cols)
    }; // orthonormalise m vectors of length n
    let g = normal([m, n], 0.0, 1.0, None).to_vec::<f32>();
    let mut q: Vec<Vec<f64>> = Vec::with_capacity(m);
    for i in 0..m {
        let mut v: Vec<f64> = g[i * n..(i + 1) * n].iter().map(|&x| x as f64).collect();
        for u in &q {
            let d: f64 = v.iter().zip(u).map(|(a, b)| a * b).sum();
            v.iter_mut().zip(u).for_each(|(a, b)| *a -= d * b);
        }
        let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt().max(1e-12);
        v.iter_mut().for_each(|a| *a /= norm);
        q.push(v);
    }
    // q is (m, n) with orthonormal rows; lay it out as (rows, cols)
    let mut out = vec![0f32; rows * cols];
    for r in 0..rows {
        for c in 0..cols {
            out[r * cols + c] = if rows < cols { q[r][c] } else { q[c][r] } as f32;
        }
    }
    crate::tensor::create::from_vec(out, shape.to_vec()).expect("orthogonal shape")
}

impl From<&str> for Initializer {
    #[track_caller]
    fn from(s: &str) -> Initializer {
        crate::error::or_panic(Initializer::parse(s))
    }
}
