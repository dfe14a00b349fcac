//! `keras.layers.Embedding(input_dim, output_dim, mask_zero)`: integer ids -> dense vectors.
//! With `mask_zero(true)`, id 0 is padding: [`Embedding::compute_mask`] gives the (B,T) bool mask
//! (`ids != 0`) that the masking layers take (see `masking.rs`).

use std::sync::OnceLock;

use super::{add_weight, Layer, LayerBase};
use crate::autodiff::Variable;
use crate::dtype::DType;
use crate::keras::initializers::Initializer;
use crate::tensor::Tensor;

pub struct Embedding {
    input_dim: usize,
    output_dim: usize,
    mask_zero: bool,
    pub(super) base: LayerBase,
    weights: OnceLock<Variable>,
}

impl Embedding {
    pub fn new(input_dim: usize, output_dim: usize) -> Embedding {
        Embedding {
            input_dim,
            output_dim,
            mask_zero: false,
            base: LayerBase::new("embedding"),
            weights: OnceLock::new(),
        }
    }
    /// Keras' `mask_zero`: id 0 is padding, and [`compute_mask`](Self::compute_mask) says where.
    pub fn mask_zero(mut self, on: bool) -> Embedding {
        self.mask_zero = on;
        self
    }
    /// Keras' `compute_mask(ids)`: `ids != 0` (bool, shaped like `ids`) with `mask_zero`, else None.
    pub fn compute_mask(&self, ids: &Tensor) -> Option<Tensor> {
        self.mask_zero.then(|| ids.not_equal(0.0))
    }
    fn table(&self) -> &Variable {
        self.weights.get_or_init(|| {
            let init = Initializer::RandomUniform {
                minval: -0.05,
                maxval: 0.05,
            };
            add_weight(
                &self.base.name,
                "embeddings",
                init,
                &[self.input_dim, self.output_dim],
                true,
            )
        })
    }
}

impl Layer for Embedding {
    fn base(&self) -> Option<&LayerBase> {
        Some(&self.base)
    }
    fn class_name(&self) -> &'static str {
        "Embedding"
    }
    fn get_config(&self) -> serde_json::Value {
        self.base.config(serde_json::json!({"input_dim": self.input_dim, "output_dim": self.output_dim, "mask_zero": self.mask_zero}))
    }
    #[track_caller]
    fn call(&self, x: &Tensor, _training: bool) -> Tensor {
        let ids = if x.dtype() == DType::I64 {
            x.clone()
        } else {
            x.cast(DType::I64)
        };
        match self.table().try_gather(&ids, 0) {
            Ok(y) => y,
            Err(e) => panic!(
                "Embedding '{}' (input_dim={}): {e}",
                self.base.name, self.input_dim
            ),
        }
    }
    /// With `mask_zero`, the mask of the ids (`ids != 0`); else none (an Embedding starts a
    /// sequence, so no mask comes in).
    fn compute_mask(&self, xs: &[Tensor], _mask: Option<&Tensor>) -> Option<Tensor> {
        xs.first()
            .and_then(|ids| Embedding::compute_mask(self, ids))
    }
    fn weights(&self) -> Vec<Variable> {
        self.weights
            .get()
            .map(|w| vec![w.clone()])
            .unwrap_or_default()
    }
}
