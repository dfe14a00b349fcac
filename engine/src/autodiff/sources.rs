//! What `tape.gradient` and `apply_gradients` accept as their lists, so that the spellings a TF2
//! learner types all work and return owned values (evcxr cannot keep a value holding references
//! from one cell to the next):
//!
//! - `tape.gradient(&loss, [&w, &b])` gives `[Option<Tensor>; 2]` (destructure with `let [dw, db]`);
//! - `tape.gradient(&loss, &vars)` with `vars: Vec<Variable>` (e.g. `model.trainable_weights()`),
//!   a slice or a `Vec<&Variable>` gives `Vec<Option<Tensor>>`, one entry per variable;
//! - `tape.gradient(&y, &x)` with one tensor or variable gives one `Option<Tensor>` (`tape.gradient(y, x)`).
//!
//! `None` marks a source the target does not depend on, unless the gradient is asked with
//! [`UnconnectedGradients::Zero`] (TF's `unconnected_gradients=tf.UnconnectedGradients.ZERO`).

use std::borrow::Borrow;

use super::Variable;
use crate::tensor::Tensor;

/// What a source that the target does not depend on gets: `None` (TF's default) or zeros of
/// its shape.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UnconnectedGradients {
    #[default]
    None,
    Zero,
}

/// The sources of a gradient: one tensor or variable, an array of them, or a list of them.
/// The gradients come back in the same form (`Grads`).
pub trait GradientSources {
    /// What `tape.gradient` returns for these sources.
    type Grads;
    /// The sources, in order.
    fn source_tensors(&self) -> Vec<&Tensor>;
    /// The gradients (one per source, in order) in the caller's form.
    fn wrap(grads: Vec<Option<Tensor>>) -> Self::Grads;
}

impl<S: AsRef<Tensor>, const N: usize> GradientSources for [S; N] {
    type Grads = [Option<Tensor>; N];
    fn source_tensors(&self) -> Vec<&Tensor> {
        self.iter().map(|s| s.as_ref()).collect()
    }
    fn wrap(grads: Vec<Option<Tensor>>) -> Self::Grads {
        let mut it = grads.into_iter();
        std::array::from_fn(|_| it.next().flatten())
    }
}

impl<S: AsRef<Tensor>, const N: usize> GradientSources for &[S; N] {
    type Grads = [Option<Tensor>; N];
    fn source_tensors(&self) -> Vec<&Tensor> {
        self.iter().map(|s| s.as_ref()).collect()
    }
    fn wrap(grads: Vec<Option<Tensor>>) -> Self::Grads {
        <[S; N]>::wrap(grads)
    }
}

macro_rules! list_sources {
    ($($t:ty),*) => {$(
        impl<S: AsRef<Tensor>> GradientSources for $t {
            type Grads = Vec<Option<Tensor>>;
            fn source_tensors(&self) -> Vec<&Tensor> {
                self.iter().map(|s| s.as_ref()).collect()
            }
            fn wrap(grads: Vec<Option<Tensor>>) -> Self::Grads {
                grads
            }
        }
    )*};
}
list_sources!(&[S], Vec<S>, &Vec<S>);

macro_rules! one_source {
    ($($t:ty),*) => {$(
        impl GradientSources for $t {
            type Grads = Option<Tensor>;
            fn source_tensors(&self) -> Vec<&Tensor> {
                vec![self.as_ref()]
            }
            fn wrap(grads: Vec<Option<Tensor>>) -> Self::Grads {
                grads.into_iter().next().flatten()
            }
        }
    )*};
}
one_source!(&Tensor, &Variable);

/// The gradients that `apply_gradients` takes: `&grads` for a `Vec<Option<Tensor>>` from
/// `tape.gradient`, an array `[Option<Tensor>; N]`, a slice, or a list of plain tensors.
pub trait GradientList {
    fn gradient_options(&self) -> Vec<Option<&Tensor>>;
}

impl<T: AsRef<[Option<Tensor>]> + ?Sized> GradientList for T {
    fn gradient_options(&self) -> Vec<Option<&Tensor>> {
        self.as_ref().iter().map(|g| g.as_ref()).collect()
    }
}

/// The variables that `apply_gradients` updates: `&vars` for a `Vec<Variable>` (such as
/// `model.trainable_weights()`), a `Vec<&Variable>`, a slice, or an array `[&w, &b]`.
pub trait VariableList {
    fn variables(&self) -> Vec<&Variable>;
}

macro_rules! variable_list {
    ($($t:ty),*) => {$(
        impl<const N: usize> VariableList for [$t; N] {
            fn variables(&self) -> Vec<&Variable> {
                self.iter().map(|v| v.borrow()).collect()
            }
        }
        impl VariableList for [$t] {
            fn variables(&self) -> Vec<&Variable> {
                self.iter().map(|v| v.borrow()).collect()
            }
        }
        impl VariableList for Vec<$t> {
            fn variables(&self) -> Vec<&Variable> {
                self.iter().map(|v| v.borrow()).collect()
            }
        }
    )*};
}
variable_list!(Variable, &Variable);
