//! Keras layers. Each builds its weights lazily on its first call, from the input's shape.
//!
//! A layer is anything that implements [`Layer`]: `call(&self, x, training)` plus its weights.
//! Weights are [`Variable`]s, so a layer called under a `GradientTape` is differentiated without
//! any registration step.

mod attention;
mod conv;
mod core;
mod embedding;
mod merge;
mod normalization;
mod pooling;
mod recurrent;

pub use self::conv::{Conv1D, Conv2D};
pub use self::core::{Activation, Dense, Dropout, Flatten, Reshape};
pub use attention::MultiHeadAttention;
pub use embedding::Embedding;
pub use merge::{Add, Concatenate};
pub use normalization::{BatchNormalization, LayerNormalization};
pub use pooling::{AveragePooling2D, GlobalAveragePooling2D, MaxPooling2D};
pub use recurrent::{Recurrent, SimpleRNN, GRU, LSTM};

use std::sync::Arc;

use crate::autodiff::Variable;
use crate::tensor::Tensor;

/// A Keras layer: a function of its inputs and its weights.
pub trait Layer: Send + Sync {
    /// The instance name (`dense`, `dense_1`, ...).
    fn name(&self) -> String;
    /// The Keras class name (`Dense`).
    fn class_name(&self) -> &'static str;
    /// The forward pass; `training` switches Dropout and BatchNormalization behaviour.
    fn call(&self, x: &Tensor, training: bool) -> Tensor;
    /// The forward pass of layers that take several inputs (Add, Concatenate, attention).
    fn call_many(&self, xs: &[Tensor], training: bool) -> Tensor {
        if xs.len() != 1 {
            panic!(
                "{} '{}' takes one input, got {}",
                self.class_name(),
                self.name(),
                xs.len()
            );
        }
        self.call(&xs[0], training)
    }
    /// All weights, trainable first (empty until built).
    fn weights(&self) -> Vec<Variable> {
        Vec::new()
    }
    fn trainable_weights(&self) -> Vec<Variable> {
        self.weights()
            .into_iter()
            .filter(|w| w.trainable())
            .collect()
    }
    fn non_trainable_weights(&self) -> Vec<Variable> {
        self.weights()
            .into_iter()
            .filter(|w| !w.trainable())
            .collect()
    }
    /// Regularisation penalties on the current weights (added to the loss by `fit`).
    fn losses(&self) -> Vec<Tensor> {
        Vec::new()
    }
    /// Number of weight elements, as in Keras' summary.
    fn count_params(&self) -> usize {
        self.weights().iter().map(|w| w.elem_count()).sum()
    }
    /// Sub-layers, for summaries of nested models.
    fn layers(&self) -> Vec<Arc<dyn Layer>> {
        Vec::new()
    }
}

impl<L: Layer + ?Sized> Layer for Arc<L> {
    fn name(&self) -> String {
        (**self).name()
    }
    fn class_name(&self) -> &'static str {
        (**self).class_name()
    }
    fn call(&self, x: &Tensor, training: bool) -> Tensor {
        (**self).call(x, training)
    }
    fn call_many(&self, xs: &[Tensor], training: bool) -> Tensor {
        (**self).call_many(xs, training)
    }
    fn weights(&self) -> Vec<Variable> {
        (**self).weights()
    }
    fn losses(&self) -> Vec<Tensor> {
        (**self).losses()
    }
    fn layers(&self) -> Vec<Arc<dyn Layer>> {
        (**self).layers()
    }
}

impl<L: Layer + ?Sized> Layer for Box<L> {
    fn name(&self) -> String {
        (**self).name()
    }
    fn class_name(&self) -> &'static str {
        (**self).class_name()
    }
    fn call(&self, x: &Tensor, training: bool) -> Tensor {
        (**self).call(x, training)
    }
    fn call_many(&self, xs: &[Tensor], training: bool) -> Tensor {
        (**self).call_many(xs, training)
    }
    fn weights(&self) -> Vec<Variable> {
        (**self).weights()
    }
    fn losses(&self) -> Vec<Tensor> {
        (**self).losses()
    }
    fn layers(&self) -> Vec<Arc<dyn Layer>> {
        (**self).layers()
    }
}

/// Keras' automatic names: the first Dense is `dense`, then `dense_1`, `dense_2`, ...
pub fn unique_name(base: &str) -> String {
    let mut names = crate::state::global()
        .layer_names
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let n = names.entry(base.to_string()).or_insert(0);
    let name = if *n == 0 {
        base.to_string()
    } else {
        format!("{base}_{n}")
    };
    *n += 1;
    name
}

/// A named weight variable: `layer_name/kernel`.
pub(crate) fn add_weight(
    layer: &str,
    name: &str,
    init: crate::keras::initializers::Initializer,
    shape: &[usize],
    trainable: bool,
) -> Variable {
    Variable::with_options(&init.init(shape), &format!("{layer}/{name}"), trainable)
}

/// The last axis of an input, with a clear error for scalars.
#[track_caller]
pub(crate) fn last_dim(layer: &str, x: &Tensor) -> usize {
    match x.dims().last() {
        Some(&d) => d,
        None => panic!("{layer}: expected an input with at least one axis, got a scalar"),
    }
}
