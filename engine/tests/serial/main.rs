//! Tests that own the whole process, one at a time: each holds [`exclusive`] for its body.
//!
//! - `cancel_threads`, `data_cancel`, `keras_interrupt`: the cancel flag is process-wide. While it is set, every
//!   engine loop of every thread (fit, dataset iteration, large ops) stops with
//!   `KeyboardInterrupt`, so these cannot share a process with other running tests.
//! - `runtime`: `with_device` tests set the process default device to one no machine has.
//! - `data_streaming`: this binary installs a counting global allocator, and the test bounds the
//!   whole process's peak heap while it streams shards, so nothing else may allocate meanwhile.
//!
//! They used to be three binaries of one test each; here they share one and take turns.

use std::sync::{Mutex, MutexGuard};

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod cancel_threads;
mod data_cancel;
mod data_streaming;
mod keras_interrupt;
mod runtime;

static PROCESS: Mutex<()> = Mutex::new(());

/// Runs the caller alone among this binary's tests, with the cancel flag cleared (a failed test
/// cannot leave an interrupt pending for the next).
pub fn exclusive() -> MutexGuard<'static, ()> {
    let guard = PROCESS.lock().unwrap_or_else(|e| e.into_inner());
    ferrolab::state::reset_cancel();
    guard
}
