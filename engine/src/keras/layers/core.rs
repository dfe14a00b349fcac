//! Core layers: Dense, Activation, Dropout, Flatten, Reshape.

use std::sync::OnceLock;

use super::{add_weight, last_dim, Layer, LayerBase};
use crate::autodiff::Variable;
use crate::keras::activations::Activation as Act;
use crate::keras::initializers::Initializer;
use crate::keras::regularizers::Regularizer;
use crate::tensor::{ReshapeDims, Tensor};

// ------------------------------------------------------------------------------------------------
/// `keras.layers.Dense(units)`: y = activation(x @ kernel + bias), kernel (in, units).
pub struct Dense {
    units: usize,
    activation: Act,
    use_bias: bool,
    kernel_initializer: Initializer,
    bias_initializer: Initializer,
    kernel_regularizer: Option<Regularizer>,
    pub(super) base: LayerBase,
    weights: OnceLock<(Variable, Option<Variable>)>,
}

impl Dense {
    pub fn new(units: usize) -> Dense {
        Dense {
            units,
            activation: Act::Linear,
            use_bias: true,
            kernel_initializer: Initializer::GlorotUniform,
            bias_initializer: Initializer::Zeros,
            kernel_regularizer: None,
            base: LayerBase::new("dense"),
            weights: OnceLock::new(),
        }
    }
    /// `activation="relu"`, ... (see [`Act::parse`]).
    #[track_caller]
    pub fn activation(mut self, a: &str) -> Dense {
        self.activation = Act::from(a);
        self
    }
    pub fn use_bias(mut self, on: bool) -> Dense {
        self.use_bias = on;
        self
    }
    #[track_caller]
    pub fn kernel_initializer(mut self, i: impl Into<Initializer>) -> Dense {
        self.kernel_initializer = i.into();
        self
    }
    #[track_caller]
    pub fn bias_initializer(mut self, i: impl Into<Initializer>) -> Dense {
        self.bias_initializer = i.into();
        self
    }
    pub fn kernel_regularizer(mut self, r: Regularizer) -> Dense {
        self.kernel_regularizer = Some(r);
        self
    }
    pub fn units(&self) -> usize {
        self.units
    }
    /// The kernel variable (after the layer is built).
    pub fn kernel(&self) -> Option<Variable> {
        self.weights.get().map(|w| w.0.clone())
    }
    pub fn bias(&self) -> Option<Variable> {
        self.weights.get().and_then(|w| w.1.clone())
    }
    fn build(&self, in_dim: usize) -> &(Variable, Option<Variable>) {
        self.weights.get_or_init(|| {
            let k = add_weight(
                &self.base.name,
                "kernel",
                self.kernel_initializer,
                &[in_dim, self.units],
                true,
            );
            let b = self.use_bias.then(|| {
                add_weight(
                    &self.base.name,
                    "bias",
                    self.bias_initializer,
                    &[self.units],
                    true,
                )
            });
            (k, b)
        })
    }
}

impl Layer for Dense {
    fn base(&self) -> Option<&LayerBase> {
        Some(&self.base)
    }
    fn class_name(&self) -> &'static str {
        "Dense"
    }
    fn get_config(&self) -> serde_json::Value {
        self.base.config(serde_json::json!({"units": self.units, "activation": self.activation.name(), "use_bias": self.use_bias}))
    }
    #[track_caller]
    fn call(&self, x: &Tensor, _training: bool) -> Tensor {
        let in_dim = last_dim(&self.base.name, x);
        let (k, b) = self.build(in_dim);
        if k.dims()[0] != in_dim {
            panic!(
                "Dense '{}': built for inputs with {} features, got shape {} (last axis {in_dim})",
                self.base.name,
                k.dims()[0],
                x.shape()
            );
        }
        let mut y = x.matmul(k);
        if let Some(b) = b {
            y = y + b;
        }
        self.activation.apply(&y)
    }
    fn weights(&self) -> Vec<Variable> {
        match self.weights.get() {
            Some((k, Some(b))) => vec![k.clone(), b.clone()],
            Some((k, None)) => vec![k.clone()],
            None => vec![],
        }
    }
    fn losses(&self) -> Vec<Tensor> {
        match (self.kernel_regularizer, self.weights.get()) {
            (Some(r), Some((k, _))) => vec![r.penalty(k)],
            _ => vec![],
        }
    }
}

// ------------------------------------------------------------------------------------------------
/// `keras.layers.Activation("relu")`.
pub struct Activation {
    activation: Act,
    pub(super) base: LayerBase,
}

impl Activation {
    #[track_caller]
    pub fn new(name: &str) -> Activation {
        Activation {
            activation: Act::from(name),
            base: LayerBase::new("activation"),
        }
    }
}

impl Layer for Activation {
    fn base(&self) -> Option<&LayerBase> {
        Some(&self.base)
    }
    fn class_name(&self) -> &'static str {
        "Activation"
    }
    fn get_config(&self) -> serde_json::Value {
        self.base
            .config(serde_json::json!({"activation": self.activation.name()}))
    }
    fn call(&self, x: &Tensor, _training: bool) -> Tensor {
        self.activation.apply(x)
    }
}

// ------------------------------------------------------------------------------------------------
/// `keras.layers.Dropout(rate)`: in training, zeroes a fraction `rate` of the inputs and scales
/// the rest by 1/(1-rate); at inference it is the identity.
pub struct Dropout {
    rate: f32,
    seed: Option<u64>,
    /// Training calls so far: a seeded Dropout draws a new mask each call, reproducibly.
    calls: std::sync::atomic::AtomicU64,
    pub(super) base: LayerBase,
}

impl Dropout {
    #[track_caller]
    pub fn new(rate: f32) -> Dropout {
        if !(0.0..1.0).contains(&rate) {
            panic!("Dropout: rate must be in [0, 1), got {rate}");
        }
        Dropout {
            rate,
            seed: None,
            calls: Default::default(),
            base: LayerBase::new("dropout"),
        }
    }
    pub fn seed(mut self, seed: u64) -> Dropout {
        self.seed = Some(seed);
        self
    }
}

impl Layer for Dropout {
    fn base(&self) -> Option<&LayerBase> {
        Some(&self.base)
    }
    fn class_name(&self) -> &'static str {
        "Dropout"
    }
    fn get_config(&self) -> serde_json::Value {
        self.base
            .config(serde_json::json!({"rate": self.rate, "seed": self.seed}))
    }
    fn call(&self, x: &Tensor, training: bool) -> Tensor {
        if !training || self.rate == 0.0 {
            return x.clone();
        }
        let n = self
            .calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let seed = self
            .seed
            .map(|s| s.wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15)));
        let keep = crate::tensor::create::uniform(x.dims().to_vec(), 0.0, 1.0, seed)
            .to(x.device())
            .greater_equal(self.rate as f64)
            .cast(x.dtype());
        x * keep * (1.0 / (1.0 - self.rate as f64))
    }
}

// ------------------------------------------------------------------------------------------------
/// `keras.layers.Flatten()`: (batch, ...) -> (batch, prod(...)).
pub struct Flatten {
    pub(super) base: LayerBase,
}

impl Flatten {
    pub fn new() -> Flatten {
        Flatten {
            base: LayerBase::new("flatten"),
        }
    }
}
impl Default for Flatten {
    fn default() -> Self {
        Self::new()
    }
}

impl Layer for Flatten {
    fn base(&self) -> Option<&LayerBase> {
        Some(&self.base)
    }
    fn class_name(&self) -> &'static str {
        "Flatten"
    }
    fn call(&self, x: &Tensor, _training: bool) -> Tensor {
        let n = x.dims().first().copied().unwrap_or(1);
        x.reshape([n as isize, -1])
    }
}

// ------------------------------------------------------------------------------------------------
/// `keras.layers.Reshape(target_shape)`: the shape excludes the batch axis; one entry may be -1.
pub struct Reshape {
    target: Vec<isize>,
    pub(super) base: LayerBase,
}

impl Reshape {
    /// `Reshape((8, 8))`: the target shape without the batch axis, as an array or list of
    /// `usize` or `i64` (one entry may be -1, inferred): `Reshape::new([8, 8])`.
    pub fn new(target_shape: impl ReshapeDims) -> Reshape {
        Reshape {
            target: target_shape.reshape_dims(),
            base: LayerBase::new("reshape"),
        }
    }
}

impl Layer for Reshape {
    fn base(&self) -> Option<&LayerBase> {
        Some(&self.base)
    }
    fn class_name(&self) -> &'static str {
        "Reshape"
    }
    fn get_config(&self) -> serde_json::Value {
        self.base
            .config(serde_json::json!({"target_shape": self.target}))
    }
    #[track_caller]
    fn call(&self, x: &Tensor, _training: bool) -> Tensor {
        let mut d = vec![x.dims().first().copied().unwrap_or(1) as isize];
        d.extend_from_slice(&self.target);
        match x.try_reshape(d) {
            Ok(y) => y,
            Err(e) => panic!(
                "Reshape '{}' to {:?} (plus the batch axis): {e}",
                self.base.name, self.target
            ),
        }
    }
}
