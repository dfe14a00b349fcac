//! Positional information for sequence models, as in keras-hub:
//!
//! - `PositionEmbedding(sequence_length)`: a learned table (sequence_length, features), glorot
//!   uniform. Called on x (B,T,C) it returns the first T rows broadcast to (B,T,C); add it to x
//!   yourself, as in keras-hub.
//! - `SinePositionEncoding(max_wavelength = 10000)`: the fixed encoding of "Attention Is All You
//!   Need": feature 2i holds sin(p / w^(2i/C)), feature 2i+1 holds cos(p / w^(2i/C)). No weights.
//!
//! Both take a `start_index` through [`PositionEmbedding::call_at`] /
//! [`SinePositionEncoding::call_at`], for decoding one position at a time.

use std::sync::OnceLock;

use super::{add_weight, last_dim, Layer, LayerBase};
use crate::autodiff::Variable;
use crate::keras::initializers::Initializer;
use crate::tensor::{create::from_vec, Tensor};

#[track_caller]
fn seq_dims(layer: &str, name: &str, x: &Tensor) -> (usize, usize) {
    if x.rank() < 2 {
        panic!(
            "{layer} '{name}': expected (batch, sequence, features), got shape {}",
            x.shape()
        );
    }
    let d = x.dims();
    (d[d.len() - 2], last_dim(name, x))
}

/// keras-hub's `PositionEmbedding(sequence_length)`: learned position vectors.
pub struct PositionEmbedding {
    sequence_length: usize,
    pub(super) base: LayerBase,
    weights: OnceLock<Variable>,
}

impl PositionEmbedding {
    pub fn new(sequence_length: usize) -> Self {
        PositionEmbedding {
            sequence_length,
            base: LayerBase::new("position_embedding"),
            weights: OnceLock::new(),
        }
    }
    /// The embeddings of positions `start_index .. start_index + T`, shaped like `x`.
    #[track_caller]
    pub fn call_at(&self, x: &Tensor, start_index: usize) -> Tensor {
        let (t, c) = seq_dims("PositionEmbedding", &self.base.name, x);
        if start_index + t > self.sequence_length {
            panic!(
                "PositionEmbedding '{}': positions {start_index}..{} exceed sequence_length {}; \
                 build it with a larger sequence_length",
                self.base.name,
                start_index + t,
                self.sequence_length
            );
        }
        let table = self.weights.get_or_init(|| {
            let shape = [self.sequence_length, c];
            add_weight(
                &self.base.name,
                "embeddings",
                Initializer::GlorotUniform,
                &shape,
                true,
            )
        });
        let rows = table.as_tensor().narrow(0, start_index, t);
        rows.cast(x.dtype()).broadcast_to(x.shape())
    }
}

impl Layer for PositionEmbedding {
    fn base(&self) -> Option<&LayerBase> {
        Some(&self.base)
    }
    fn class_name(&self) -> &'static str {
        "PositionEmbedding"
    }
    fn get_config(&self) -> serde_json::Value {
        self.base
            .config(serde_json::json!({"sequence_length": self.sequence_length}))
    }
    #[track_caller]
    fn call(&self, x: &Tensor, _training: bool) -> Tensor {
        self.call_at(x, 0)
    }
    fn weights(&self) -> Vec<Variable> {
        self.weights
            .get()
            .map(|w| vec![w.clone()])
            .unwrap_or_default()
    }
}

/// keras-hub's `SinePositionEncoding(max_wavelength=10000)`: fixed sinusoids.
pub struct SinePositionEncoding {
    max_wavelength: f64,
    pub(super) base: LayerBase,
}

impl SinePositionEncoding {
    pub fn new() -> Self {
        SinePositionEncoding {
            max_wavelength: 10000.0,
            base: LayerBase::new("sine_position_encoding"),
        }
    }
    pub fn max_wavelength(mut self, w: f64) -> Self {
        self.max_wavelength = w;
        self
    }
    /// The (T, C) table for positions `start .. start + t` (computed in f64 on the host).
    pub fn table(&self, start: usize, t: usize, c: usize) -> Vec<f32> {
        let mut out = Vec::with_capacity(t * c);
        for p in start..start + t {
            for i in 0..c {
                let timescale = (1.0 / self.max_wavelength).powf((2 * (i / 2)) as f64 / c as f64);
                let angle = p as f64 * timescale;
                out.push(if i % 2 == 0 { angle.sin() } else { angle.cos() } as f32);
            }
        }
        out
    }
    /// The encoding of positions `start_index .. start_index + T`, shaped like `x`.
    #[track_caller]
    pub fn call_at(&self, x: &Tensor, start_index: usize) -> Tensor {
        let (t, c) = seq_dims("SinePositionEncoding", &self.base.name, x);
        let table = from_vec(self.table(start_index, t, c), [t, c]).expect("(t, c) table");
        table.to(x.device()).cast(x.dtype()).broadcast_to(x.shape())
    }
}

impl Default for SinePositionEncoding {
    fn default() -> Self {
        Self::new()
    }
}

impl Layer for SinePositionEncoding {
    fn base(&self) -> Option<&LayerBase> {
        Some(&self.base)
    }
    fn class_name(&self) -> &'static str {
        "SinePositionEncoding"
    }
    fn get_config(&self) -> serde_json::Value {
        self.base
            .config(serde_json::json!({"max_wavelength": self.max_wavelength}))
    }
    #[track_caller]
    fn call(&self, x: &Tensor, _training: bool) -> Tensor {
        self.call_at(x, 0)
    }
}
