//! `opt.apply_gradients(&grads, &vars)` as a TF2 learner writes it, for the built-in optimizers:
//! the gradients as `tape.gradient` returned them (a `Vec<Option<Tensor>>` or an array), the
//! variables as a `Vec<Variable>` (such as `model.trainable_weights()`), a `Vec<&Variable>`, a
//! slice or an array `[&w, &b]`.
//!
//! These inherent methods forward to [`Optimizer::apply_gradients`], which stays the one
//! customisation point (with slices, so that `dyn Optimizer` and custom optimizers keep working).
//!
//! ```
//! use ferrolab::prelude::*;
//! let vars = vec![Variable::new(tensor([1.0, 2.0])), Variable::new(tensor(3.0))];
//! let tape = GradientTape::new();
//! let loss = vars[0].square().sum() + &*vars[1] * 2.0;   // d/dw0 = 2 w0, d/dw1 = 2
//! let grads = tape.gradient(&loss, &vars);
//! let mut opt = SGD::new(0.5);
//! opt.apply_gradients(&grads, &vars);
//! assert_eq!(vars[0].to_vec::<f32>(), vec![0.0, 0.0]);
//! assert_eq!(vars[1].item(), 2.0);
//! ```

use super::mixed_precision::LossScaleOptimizer;
use super::optimizers::{Adam, Optimizer, RMSprop, SGD};
use crate::autodiff::{GradientList, VariableList};
use crate::tensor::Tensor;

macro_rules! list_apply_gradients {
    ($($t:ty),*) => {$(
        impl $t {
            /// TF's `optimizer.apply_gradients(zip(grads, vars))`: `None` gradients are skipped.
            /// Takes `&grads` from `tape.gradient` and `&vars` as a `Vec<Variable>`, a slice or
            /// an array of `&Variable`.
            #[track_caller]
            pub fn apply_gradients<G, V>(&mut self, grads: &G, vars: &V)
            where
                G: GradientList + ?Sized,
                V: VariableList + ?Sized,
            {
                let grads: Vec<Option<Tensor>> =
                    grads.gradient_options().into_iter().map(|g| g.cloned()).collect();
                Optimizer::apply_gradients(self, &grads, &vars.variables())
            }
        }
    )*};
}
list_apply_gradients!(SGD, Adam, RMSprop, LossScaleOptimizer);
