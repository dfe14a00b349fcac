//! Distribution tests, one binary: logical devices and `MirroredStrategy` (mirrored against
//! single-device equivalence, the global-batch loss scaling, uneven last batches, a panicking
//! replica, an interrupt during a mirrored fit).
//!
//! The logical-device configuration, the global generator and the cancel flag are process-wide,
//! so every test here holds `common::global_rng()` for its whole body: they take turns.

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod logical_devices;
mod mirrored;
mod pipeline;
