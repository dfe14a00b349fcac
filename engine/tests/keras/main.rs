//! Keras tests, one binary: layers, initializers, losses and metrics, optimizers, the Functional
//! API and subclassing, `fit` with callbacks and datasets, saving and loading.
//!
//! Tests run on parallel threads of this one process. Weight initialisers, `fit`'s shuffling and
//! unseeded Dropout draw from the one global generator: a test that needs reproducible draws
//! holds `common::keras::seeded(seed)` (the same lock as `common::global_rng()`) for its body.
//! The interrupt test is in `serial/` (the cancel flag is process-wide).

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod callbacks;
mod fit_dataset;
mod functional;
mod initializers;
mod layers_attention;
mod layers_conv;
mod layers_core;
mod layers_norm;
mod layers_rnn;
mod losses;
mod optimizers;
mod params;
mod save_model;
mod saving;
mod subclass;
mod train;
