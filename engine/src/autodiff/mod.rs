//! Reverse-mode autodiff with TF2's `GradientTape` semantics.
//!
//! - A tape records only while it exists (from `GradientTape::new()` until it is dropped, or
//!   until a non-persistent tape has computed its gradient).
//! - An op is recorded when one of its inputs is *tracked*: watched with `tape.watch(&x)`, a
//!   trainable [`Variable`] read while `watch_accessed_variables` is on (the default), or the
//!   output of a recorded op.
//! - `tape.gradient(&target, [&a, &b])` walks the recorded ops in reverse. Backward rules
//!   (`backward.rs`, one `match` over `Op`) are written with ordinary tensor ops, so an outer tape records them: nested tapes give second
//!   derivatives. A source the target does not depend on gets `None`, as in TF.
//! - Tapes live in the process-wide state (see [`crate::state`]), so a tape made in one notebook
//!   cell records ops run in the next.

mod backward;
mod sources;
mod tape;
mod variable;

pub use sources::{GradientList, GradientSources, UnconnectedGradients, VariableList};
pub use tape::GradientTape;
pub use variable::Variable;

use crate::tensor::Tensor;

/// Blocks gradients: the result has `x`'s value, but no tape sees through it (`tf.stop_gradient`).
pub fn stop_gradient(x: &Tensor) -> Tensor {
    crate::error::or_panic(crate::tensor::apply(crate::tensor::Op::StopGradient, &[x]))
}

impl Tensor {
    /// Same as [`stop_gradient`].
    pub fn stop_gradient(&self) -> Tensor {
        stop_gradient(self)
    }
}
