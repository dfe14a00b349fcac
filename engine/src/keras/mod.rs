//! A Keras that a TF2 learner recognises name for name.
//!
//! - [`layers`]: `Dense`, `Conv2D`, `BatchNormalization`, ... built lazily on their first call;
//! - [`models`]: `Sequential`, the Functional API (`Input` -> layer calls -> `Model::new`) and
//!   subclassing (implement [`Layer`](layers::Layer) and [`KerasModel`](models::KerasModel), and
//!   override `train_step`, `test_step` or `predict_step` to change what one step of `fit`,
//!   `evaluate` or `predict` does);
//! - [`losses`], [`metrics`], [`optimizers`], [`callbacks`]: what `compile` and `fit` take;
//! - [`mixed_precision`]: dtype policies (`mixed_float16`, `mixed_bfloat16`) and loss scaling;
//! - [`initializers`], [`regularizers`], [`activations`]: the options layers take by name.
//!
//! Rust has no keyword arguments, so Keras options are builder methods:
//! `Dense(64, activation="relu", use_bias=False)` is `Dense::new(64).activation("relu").use_bias(false)`.

pub mod activations;
mod apply_gradients;
pub mod callbacks;
pub mod initializers;
pub mod layers;
pub mod losses;
pub mod metrics;
pub mod mixed_precision;
pub mod models;
pub mod optimizers;
pub mod regularizers;
pub mod saving;
