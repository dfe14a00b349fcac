//! Op tests, one binary: creation, elementwise math, reductions, views, linear algebra and
//! convolution, error messages and panics, and every CUDA primitive against the CPU.
//!
//! The op tests are written with `test_device!` (see `common`): each runs as `<test>::cpu` and
//! `<test>::cuda`, the CUDA one on `cuda:0` when a GPU is usable. Tests run on parallel threads of
//! this one process; the ones that set the seed or draw unseeded hold `common::global_rng()`.

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod conv_transpose;
mod creation;
mod cuda_ops;
mod cuda_threads;
mod errors;
mod function;
mod function_fusion;
mod function_state;
mod half_accumulation;
mod linalg_conv;
mod math;
mod ops_as_data;
mod panics;
mod reduce;
mod smoke;
mod tf_math;
mod views;
