//! `LossScaleOptimizer`: dynamic loss scaling for float16 training, as
//! `tf.keras.mixed_precision.LossScaleOptimizer`.
//!
//! f16 gradients below 2^-24 (6e-8) round to zero. Multiplying the loss by a large scale S
//! multiplies every gradient by S (the chain rule is linear), lifting small gradients into f16's
//! range; dividing the f32 gradients by S afterwards gives the true gradients back. Too large an
//! S overflows to inf, so the scale adapts (TF's `DynamicLossScale`):
//! - it starts at 2^15;
//! - a step whose gradients hold an inf or NaN is skipped (no variable changes, the inner
//!   optimizer's `iterations` does not advance) and the scale is halved (never below 1);
//! - after 2000 finite steps in a row the scale doubles.
//!
//! In `fit`, `train_step` scales and unscales by itself (`compile` wraps the optimizer under
//! `mixed_float16`). In a custom loop, as in TF2:
//! ```
//! use ferrolab::prelude::*;
//! use ferrolab::keras::mixed_precision::LossScaleOptimizer;
//! let w = Variable::new(tensor([1.0f32, 2.0]));
//! let mut opt = LossScaleOptimizer::new(SGD::new(0.1));
//! let tape = GradientTape::new();
//! let loss = w.square().sum();                      // dloss/dw = 2w = [2, 4]
//! let scaled = opt.get_scaled_loss(&loss);          // loss * 2^15
//! let grads = tape.gradient_vec(&scaled, &[w.as_tensor()]);
//! let grads = opt.get_unscaled_gradients(&grads);   // back to [2, 4]
//! opt.apply_gradients(&grads, &[&w]);
//! assert_eq!(w.to_vec::<f32>(), vec![0.8, 1.6]);
//! ```

use crate::autodiff::Variable;
use crate::dtype::DType;
use crate::keras::optimizers::{Optimizer, OptimizerCore};
use crate::tensor::Tensor;

/// Wraps an optimizer with dynamic loss scaling (see the module docs).
pub struct LossScaleOptimizer {
    inner: Box<dyn Optimizer>,
    scale: f32,
    /// Finite steps since the scale last changed.
    good_steps: u64,
    growth_steps: u64,
    dynamic: bool,
}

impl LossScaleOptimizer {
    /// `LossScaleOptimizer(opt)`: dynamic, initial scale 2^15, doubling every 2000 good steps.
    pub fn new(inner: impl Optimizer + 'static) -> LossScaleOptimizer {
        Self::from_boxed(Box::new(inner))
    }
    /// Wraps an already boxed optimizer (what `compile` does under `mixed_float16`).
    pub fn from_boxed(inner: Box<dyn Optimizer>) -> LossScaleOptimizer {
        LossScaleOptimizer {
            inner,
            scale: 32768.0,
            good_steps: 0,
            growth_steps: 2000,
            dynamic: true,
        }
    }
    /// `initial_scale=`: the first scale (a fixed scale when `dynamic(false)`).
    pub fn initial_scale(mut self, s: f32) -> Self {
        assert!(
            s.is_finite() && s > 0.0,
            "LossScaleOptimizer: initial_scale must be a positive finite number, got {s}"
        );
        self.scale = s;
        self
    }
    /// `dynamic=`: false keeps the scale fixed (steps with inf/NaN gradients are still skipped).
    pub fn dynamic(mut self, on: bool) -> Self {
        self.dynamic = on;
        self
    }
    /// `dynamic_growth_steps=`: finite steps in a row before the scale doubles (2000).
    pub fn dynamic_growth_steps(mut self, n: u64) -> Self {
        self.growth_steps = n.max(1);
        self
    }
    /// The current scale (`optimizer.loss_scale` in TF2, `dynamic_scale` in Keras 3).
    pub fn scale(&self) -> f32 {
        self.scale
    }
    /// Finite steps since the scale last changed (`dynamic_counter`).
    pub fn dynamic_counter(&self) -> u64 {
        self.good_steps
    }
    /// The wrapped optimizer.
    pub fn inner_optimizer(&self) -> &dyn Optimizer {
        &*self.inner
    }
    /// `loss * scale`, in f32: differentiate this instead of the loss.
    pub fn get_scaled_loss(&self, loss: &Tensor) -> Tensor {
        loss.cast(DType::F32) * self.scale as f64
    }
    /// Gradients of the scaled loss divided by the scale, in f32.
    pub fn get_unscaled_gradients(&self, grads: &[Option<Tensor>]) -> Vec<Option<Tensor>> {
        let inv = 1.0 / self.scale as f64;
        grads
            .iter()
            .map(|g| g.as_ref().map(|g| g.cast(DType::F32) * inv))
            .collect()
    }
}

/// Whether every element of every gradient is finite (one reduction per gradient).
fn all_finite(grads: &[Option<Tensor>]) -> bool {
    grads
        .iter()
        .flatten()
        .all(|g| g.elem_count() == 0 || g.cast(DType::F32).abs().max().item().is_finite())
}

impl Optimizer for LossScaleOptimizer {
    fn name(&self) -> &str {
        "LossScaleOptimizer"
    }
    fn core(&self) -> &OptimizerCore {
        self.inner.core()
    }
    fn core_mut(&mut self) -> &mut OptimizerCore {
        self.inner.core_mut()
    }
    fn loss_scale(&self) -> Option<f32> {
        Some(self.scale)
    }
    /// Applies unscaled gradients when they are all finite, and updates the scale (see the
    /// module docs); otherwise skips the step and halves the scale.
    fn apply_gradients(&mut self, grads: &[Option<Tensor>], vars: &[&Variable]) {
        if !all_finite(grads) {
            if self.dynamic {
                self.scale = (self.scale / 2.0).max(1.0);
            }
            self.good_steps = 0;
            return;
        }
        self.inner.apply_gradients(grads, vars);
        if self.dynamic {
            self.good_steps += 1;
            if self.good_steps >= self.growth_steps {
                let doubled = self.scale * 2.0;
                if doubled.is_finite() {
                    self.scale = doubled;
                }
                self.good_steps = 0;
            }
        }
    }
}
