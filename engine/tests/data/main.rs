//! Data tests, one binary: tf.data-style pipelines (transforms, shuffling, parallel map and
//! prefetch), file formats (CSV, NPY) and the shipped datasets.
//!
//! The cancel test and the streaming-memory test are in `serial/`: they own process-wide state.

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod datasets;
mod files;
mod parallel;
mod shuffle;
mod timeseries;
mod transforms;
