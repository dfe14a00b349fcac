//! Keras tests, one binary: layers, initializers, losses and metrics, optimizers, the Functional
//! API and subclassing, `fit` with callbacks and datasets, saving and loading.
//!
//! Tests run on parallel threads of this one process. Weight initialisers, `fit`'s shuffling and
//! unseeded Dropout draw from the one global generator, so a test that draws holds its lock: a
//! test that needs reproducible draws through `common::keras::seeded(seed)`, the others through
//! `common::global_rng()` (one unlocked draw on another thread between `set_seed` and a seeded
//! test's draws would change its numbers). Nearly every test here builds layers, so they take
//! turns; the losses and optimizer tests, which draw nothing, run alongside.
//! The interrupt test is in `serial/` (the cancel flag is process-wide).

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod callbacks;
mod fit_dataset;
mod functional;
mod initializers;
mod jit_compile;
mod layers_attention;
mod layers_conv;
mod layers_core;
mod layers_norm;
mod layers_rnn;
mod loss_scale;
mod losses;
mod mixed_precision;
mod optimizers;
mod optimizers_unfused;
mod params;
mod save_model;
mod saving;
mod subclass;
mod text_vectorization;
mod tf_names;
mod train;
mod train_step;
mod transformer;
