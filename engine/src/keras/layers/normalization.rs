//! BatchNormalization (batch statistics in training, moving averages at inference) and
//! LayerNormalization, over the last axis as in Keras' defaults.

use std::sync::OnceLock;

use super::{add_weight, last_dim, Autocast, Layer, LayerBase};
use crate::autodiff::Variable;
use crate::keras::initializers::Initializer;
use crate::tensor::Tensor;

/// `keras.layers.BatchNormalization(momentum=0.99, epsilon=1e-3)`.
/// Weights: gamma, beta (trainable), moving_mean, moving_variance (non-trainable).
pub struct BatchNormalization {
    momentum: f32,
    epsilon: f32,
    pub(super) base: LayerBase,
    weights: OnceLock<[Variable; 4]>,
}

impl BatchNormalization {
    pub fn new() -> Self {
        BatchNormalization {
            momentum: 0.99,
            epsilon: 1e-3,
            base: LayerBase::new("batch_normalization"),
            weights: OnceLock::new(),
        }
    }
    pub fn momentum(mut self, m: f32) -> Self {
        self.momentum = m;
        self
    }
    pub fn epsilon(mut self, e: f32) -> Self {
        self.epsilon = e;
        self
    }
}
impl Default for BatchNormalization {
    fn default() -> Self {
        Self::new()
    }
}

impl Layer for BatchNormalization {
    fn base(&self) -> Option<&LayerBase> {
        Some(&self.base)
    }
    fn class_name(&self) -> &'static str {
        "BatchNormalization"
    }
    /// Statistics, scale and offset in float32; the output in the compute dtype.
    fn autocast(&self) -> Autocast {
        Autocast::Float32Inside
    }
    fn get_config(&self) -> serde_json::Value {
        self.base
            .config(serde_json::json!({"momentum": self.momentum, "epsilon": self.epsilon}))
    }
    fn call(&self, x: &Tensor, training: bool) -> Tensor {
        let c = last_dim(&self.base.name, x);
        let [gamma, beta, mm, mv] = self.weights.get_or_init(|| {
            [
                add_weight(&self.base.name, "gamma", Initializer::Ones, &[c], true),
                add_weight(&self.base.name, "beta", Initializer::Zeros, &[c], true),
                add_weight(
                    &self.base.name,
                    "moving_mean",
                    Initializer::Zeros,
                    &[c],
                    false,
                ),
                add_weight(
                    &self.base.name,
                    "moving_variance",
                    Initializer::Ones,
                    &[c],
                    false,
                ),
            ]
        });
        let axes: Vec<isize> = (0..x.rank() as isize - 1).collect();
        let (mean, var) = if training {
            let mean = x.mean_axes(&axes, false);
            let var = (x - &mean).square().mean_axes(&axes, false);
            // moving = moving * momentum + batch * (1 - momentum), outside any tape
            let m = self.momentum as f64;
            mm.assign(mm.read_value() * m + mean.stop_gradient() * (1.0 - m));
            mv.assign(mv.read_value() * m + var.stop_gradient() * (1.0 - m));
            (mean, var)
        } else {
            (mm.read_value(), mv.read_value())
        };
        (x - &mean) * (var + self.epsilon as f64).rsqrt() * &**gamma + &**beta
    }
    fn weights(&self) -> Vec<Variable> {
        self.weights.get().map(|w| w.to_vec()).unwrap_or_default()
    }
}

/// `keras.layers.LayerNormalization(epsilon=1e-3)` over the last axis, with gamma and beta.
pub struct LayerNormalization {
    epsilon: f32,
    pub(super) base: LayerBase,
    weights: OnceLock<[Variable; 2]>,
}

impl LayerNormalization {
    pub fn new() -> Self {
        LayerNormalization {
            epsilon: 1e-3,
            base: LayerBase::new("layer_normalization"),
            weights: OnceLock::new(),
        }
    }
    pub fn epsilon(mut self, e: f32) -> Self {
        self.epsilon = e;
        self
    }
}
impl Default for LayerNormalization {
    fn default() -> Self {
        Self::new()
    }
}

impl Layer for LayerNormalization {
    fn base(&self) -> Option<&LayerBase> {
        Some(&self.base)
    }
    fn class_name(&self) -> &'static str {
        "LayerNormalization"
    }
    /// Statistics, scale and offset in float32; the output in the compute dtype.
    fn autocast(&self) -> Autocast {
        Autocast::Float32Inside
    }
    fn get_config(&self) -> serde_json::Value {
        self.base
            .config(serde_json::json!({"epsilon": self.epsilon}))
    }
    fn call(&self, x: &Tensor, _training: bool) -> Tensor {
        let c = last_dim(&self.base.name, x);
        let [gamma, beta] = self.weights.get_or_init(|| {
            [
                add_weight(&self.base.name, "gamma", Initializer::Ones, &[c], true),
                add_weight(&self.base.name, "beta", Initializer::Zeros, &[c], true),
            ]
        });
        let mean = x.mean_axis(-1, true);
        let var = (x - &mean).square().mean_axis(-1, true);
        (x - &mean) * (var + self.epsilon as f64).rsqrt() * &**gamma + &**beta
    }
    fn weights(&self) -> Vec<Variable> {
        self.weights.get().map(|w| w.to_vec()).unwrap_or_default()
    }
}
