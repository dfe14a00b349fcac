//! Optimizers with Keras names, defaults and update rules: SGD (momentum, nesterov), Adam, AdamW,
//! RMSprop. Learning-rate schedules: ExponentialDecay, CosineDecay (with warmup),
//! TransformerSchedule (the warmup of "Attention Is All You Need"). Clipping:
//! clipnorm (per variable) and clipvalue.
//!
//! The shape is Keras 3's:
//! - `optimizer.apply_gradients(&grads, &vars)` is TF's `apply_gradients(zip(grads, vars))`. Its
//!   default (one for every optimizer) checks the shapes, clips, reads the learning rate (or
//!   schedule) at the current step, calls `build` once, calls [`Optimizer::update_step`] for each
//!   variable that has a gradient, then counts the step in `iterations`.
//! - `update_step(grad, var, lr)` is the per-variable customisation point. A new optimizer, or a
//!   wrapper (loss scaling, a distributed optimizer), implements only that, with ordinary tensor
//!   ops, [`Variable::assign`] and slots from [`OptimizerCore::add_variable_from_reference`].
//! - The built-in optimizers have two paths with the same formulas: by default one fused backend
//!   pass per variable ([`Variable::fused_update`]), and with `.fused(false)` plain tensor ops
//!   (as PyTorch's `fused=False`). The tensor-op path is the readable reference; tests check that
//!   both agree.
//!
//! This module works on variables and tensors only: the storage behind them is the fused
//! update's business.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::autodiff::Variable;
use crate::dtype::DType;
use crate::error::or_panic;
use crate::storage::UpdateRule;
use crate::tensor::dispatch::{record_effect, Effect, RuleSource};
use crate::tensor::Tensor;

/// A learning rate that depends on the step (`keras.optimizers.schedules`).
pub trait LearningRateSchedule: Send + Sync {
    fn lr(&self, step: u64) -> f32;
}

/// `ExponentialDecay(initial, decay_steps, decay_rate, staircase)`: lr * rate^(step / steps).
pub struct ExponentialDecay {
    pub initial_learning_rate: f32,
    pub decay_steps: u64,
    pub decay_rate: f32,
    pub staircase: bool,
}
impl ExponentialDecay {
    pub fn new(initial_learning_rate: f32, decay_steps: u64, decay_rate: f32) -> Self {
        ExponentialDecay {
            initial_learning_rate,
            decay_steps,
            decay_rate,
            staircase: false,
        }
    }
    pub fn staircase(mut self, on: bool) -> Self {
        self.staircase = on;
        self
    }
}
impl LearningRateSchedule for ExponentialDecay {
    fn lr(&self, step: u64) -> f32 {
        let mut p = step as f32 / self.decay_steps.max(1) as f32;
        if self.staircase {
            p = p.floor();
        }
        self.initial_learning_rate * self.decay_rate.powf(p)
    }
}

/// `CosineDecay(initial, decay_steps, alpha, warmup_target, warmup_steps)` as in Keras 3:
/// linear warmup from `initial` to `warmup_target`, then cosine decay to `alpha` times the peak.
pub struct CosineDecay {
    pub initial_learning_rate: f32,
    pub decay_steps: u64,
    pub alpha: f32,
    pub warmup_target: Option<f32>,
    pub warmup_steps: u64,
}
impl CosineDecay {
    pub fn new(initial_learning_rate: f32, decay_steps: u64) -> Self {
        CosineDecay {
            initial_learning_rate,
            decay_steps,
            alpha: 0.0,
            warmup_target: None,
            warmup_steps: 0,
        }
    }
    pub fn alpha(mut self, a: f32) -> Self {
        self.alpha = a;
        self
    }
    pub fn warmup(mut self, target: f32, steps: u64) -> Self {
        self.warmup_target = Some(target);
        self.warmup_steps = steps;
        self
    }
}
impl LearningRateSchedule for CosineDecay {
    fn lr(&self, step: u64) -> f32 {
        let peak = self.warmup_target.unwrap_or(self.initial_learning_rate);
        if step < self.warmup_steps {
            let f = step as f32 / self.warmup_steps as f32;
            return self.initial_learning_rate + (peak - self.initial_learning_rate) * f;
        }
        let s = ((step - self.warmup_steps) as f32).min(self.decay_steps as f32);
        let cos = 0.5 * (1.0 + (std::f32::consts::PI * s / self.decay_steps.max(1) as f32).cos());
        peak * ((1.0 - self.alpha) * cos + self.alpha)
    }
}

/// The warmup schedule of "Attention Is All You Need" (Vaswani et al. 2017, eq. 3; TF's
/// transformer tutorial calls it `CustomSchedule`):
/// `lr = d_model^-0.5 * min(step^-0.5, step * warmup_steps^-1.5)`, a linear rise for
/// `warmup_steps` steps, then decay as 1/sqrt(step). Steps count from 1 as in the paper: the
/// optimizer's `iterations` (0 before the first update) is `step - 1`, so no update gets lr 0.
pub struct TransformerSchedule {
    pub d_model: usize,
    pub warmup_steps: u64,
}
impl TransformerSchedule {
    pub fn new(d_model: usize, warmup_steps: u64) -> Self {
        TransformerSchedule {
            d_model,
            warmup_steps,
        }
    }
}
impl LearningRateSchedule for TransformerSchedule {
    fn lr(&self, iterations: u64) -> f32 {
        let step = (iterations + 1) as f64;
        let warmup = self.warmup_steps.max(1) as f64;
        let v = (self.d_model as f64).powf(-0.5) * step.powf(-0.5).min(step * warmup.powf(-1.5));
        v as f32
    }
}

#[derive(Clone)]
enum LearningRate {
    Constant(f32),
    Schedule(Arc<dyn LearningRateSchedule>),
}

impl LearningRate {
    fn at(&self, iterations: u64) -> f32 {
        match self {
            LearningRate::Constant(v) => *v,
            LearningRate::Schedule(s) => s.lr(iterations),
        }
    }
}

/// The learning rate and the step counter, shared like TF's `learning_rate` and `iterations`
/// variables: a traced train step reads them again on each replay, and bumps `iterations`.
struct Hyper {
    lr: RwLock<LearningRate>,
    iterations: Arc<AtomicU64>,
}

impl Hyper {
    fn lr(&self) -> LearningRate {
        self.lr.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// What every optimizer shares: the learning rate, the step counter, clipping and slots.
/// A custom optimizer holds one (`OptimizerCore::new(lr)`) and returns it from `core`.
pub struct OptimizerCore {
    hyper: Arc<Hyper>,
    clipnorm: Option<f32>,
    clipvalue: Option<f32>,
    /// Built-in optimizers: one fused backend pass per variable (default) or tensor ops.
    fused: bool,
    built: bool,
    /// Per variable id: its slots, by name, in creation order.
    slots: HashMap<u64, Vec<(String, Variable)>>,
}

impl OptimizerCore {
    /// A constant learning rate, no clipping, step 0, no slots.
    pub fn new(learning_rate: f32) -> Self {
        OptimizerCore {
            hyper: Arc::new(Hyper {
                lr: RwLock::new(LearningRate::Constant(learning_rate)),
                iterations: Arc::new(AtomicU64::new(0)),
            }),
            clipnorm: None,
            clipvalue: None,
            fused: true,
            built: false,
            slots: HashMap::new(),
        }
    }
    fn current_lr(&self) -> f32 {
        self.hyper.lr().at(self.iterations())
    }
    fn set_lr(&self, lr: LearningRate) {
        *self.hyper.lr.write().unwrap_or_else(|e| e.into_inner()) = lr;
    }
    /// Counts one step (`iterations += 1`), recorded so that a traced train step counts too.
    fn count_step(&self) {
        self.hyper.iterations.fetch_add(1, Ordering::Relaxed);
        record_effect(&Effect::Count(&self.hyper.iterations));
    }
    /// The rule of a built-in optimizer for a replayed step: `make(lr, t)` with the learning
    /// rate and the 1-based step number read when the replay runs.
    fn rule_source(
        &self,
        make: impl Fn(f32, u64) -> UpdateRule + Send + Sync + 'static,
    ) -> RuleSource {
        let h = self.hyper.clone();
        Arc::new(move || {
            let it = h.iterations.load(Ordering::Relaxed);
            make(h.lr().at(it), it + 1)
        })
    }
    fn clip(&self, g: &Tensor) -> Tensor {
        let mut g = g.clone();
        if let Some(v) = self.clipvalue {
            g = g.clamp(-v, v);
        }
        if let Some(n) = self.clipnorm {
            let norm = g.square().sum().sqrt().item();
            if norm > n {
                g = g * (n / norm) as f64;
            }
        }
        g
    }
    /// Steps taken so far (`optimizer.iterations`); during `update_step` the step being taken
    /// is `iterations() + 1`, as in Keras.
    pub fn iterations(&self) -> u64 {
        self.hyper.iterations.load(Ordering::Relaxed)
    }
    /// Whether the built-in update rules take their fused backend path.
    pub fn fused(&self) -> bool {
        self.fused
    }
    /// The optimizer slot `name` of `var` (Keras' `add_variable_from_reference`): a float32,
    /// non-trainable variable of `var`'s shape and device, zero at first. Created on the first
    /// call for this (variable, name); later calls return the same slot, so `update_step` may
    /// ask for it every step.
    pub fn add_variable_from_reference(&mut self, var: &Variable, name: &str) -> Variable {
        let slots = self.slots.entry(var.id()).or_default();
        if let Some((_, v)) = slots.iter().find(|(n, _)| n == name) {
            return v.clone();
        }
        let zeros = var.zeros_like().cast(DType::F32);
        let slot = Variable::with_options(&zeros, &format!("{}/{name}", var.name()), false);
        slots.push((name.to_string(), slot.clone()));
        slot
    }
    /// Several slots of `var` at once, in the order given.
    fn slots_of(&mut self, var: &Variable, names: &[&str]) -> Vec<Variable> {
        names
            .iter()
            .map(|n| self.add_variable_from_reference(var, n))
            .collect()
    }
}

/// The optimizer interface `compile` and custom training loops use.
///
/// Implement `name`, `core`, `core_mut` and [`update_step`](Optimizer::update_step); the
/// default [`apply_gradients`](Optimizer::apply_gradients) does the rest:
///
/// ```
/// use ferrolab::prelude::*;
/// use ferrolab::keras::optimizers::OptimizerCore;
///
/// /// Sign descent: w -= lr * sign(g).
/// struct SignSGD(OptimizerCore);
/// impl Optimizer for SignSGD {
///     fn name(&self) -> &str { "SignSGD" }
///     fn core(&self) -> &OptimizerCore { &self.0 }
///     fn core_mut(&mut self) -> &mut OptimizerCore { &mut self.0 }
///     fn update_step(&mut self, grad: &Tensor, var: &Variable, lr: f32) {
///         var.assign_sub(grad.sign() * lr as f64);
///     }
/// }
/// let w = Variable::new(tensor([1.0, -1.0]));
/// let mut opt = SignSGD(OptimizerCore::new(0.5));
/// opt.apply_gradients(&[Some(tensor([3.0, -0.1]))], &[&w]);
/// assert_eq!(w.to_vec::<f32>(), vec![0.5, -0.5]);
/// assert_eq!(opt.iterations(), 1);
/// ```
pub trait Optimizer: Send + Sync {
    fn name(&self) -> &str;
    fn core(&self) -> &OptimizerCore;
    fn core_mut(&mut self) -> &mut OptimizerCore;

    /// Keras 3's `build(variables)`: called once, by the first `apply_gradients`, with its
    /// variables, before any `update_step`. Create slots here with
    /// `self.core_mut().add_variable_from_reference(v, "momentum")`, or lazily in `update_step`.
    fn build(&mut self, _vars: &[&Variable]) {}

    /// Keras 3's `update_step(gradient, variable, learning_rate)`: updates one variable in place
    /// (with `var.assign(..)` or `assign_sub`) from its gradient, already clipped. `lr` is the
    /// learning rate of this step; the step number is `self.iterations() + 1`.
    fn update_step(&mut self, grad: &Tensor, var: &Variable, lr: f32) {
        let _ = (grad, var, lr);
        panic!(
            "optimizer {}: implement update_step (or apply_gradients)",
            self.name()
        )
    }

    /// TF's `optimizer.apply_gradients(zip(grads, vars))`; `None` gradients are skipped.
    fn apply_gradients(&mut self, grads: &[Option<Tensor>], vars: &[&Variable]) {
        crate::state::check_cancel();
        assert_eq!(
            grads.len(),
            vars.len(),
            "apply_gradients: {} gradients for {} variables",
            grads.len(),
            vars.len()
        );
        if !self.core().built {
            self.build(vars);
            self.core_mut().built = true;
        }
        let lr = self.core().current_lr();
        for (g, v) in grads.iter().zip(vars) {
            let Some(g) = g else { continue };
            if g.dims() != v.dims() {
                panic!(
                    "apply_gradients: gradient of shape {} for variable '{}' of shape {}",
                    g.shape(),
                    v.name(),
                    v.shape()
                );
            }
            let core = self.core();
            if core.clipnorm.is_some() || core.clipvalue.is_some() {
                let g = core.clip(g);
                self.update_step(&g, v, lr);
            } else {
                self.update_step(g, v, lr);
            }
        }
        self.core().count_step();
    }

    fn learning_rate(&self) -> f32 {
        self.core().current_lr()
    }
    /// Replaces the learning rate (or schedule) with a constant.
    fn set_learning_rate(&mut self, lr: f32) {
        self.core().set_lr(LearningRate::Constant(lr));
    }
    /// Steps taken so far.
    fn iterations(&self) -> u64 {
        self.core().iterations()
    }
    /// The loss scale when this optimizer scales losses (a
    /// [`LossScaleOptimizer`](crate::keras::mixed_precision::LossScaleOptimizer)): `train_step`
    /// then differentiates `loss * scale` and divides the gradients by it.
    fn loss_scale(&self) -> Option<f32> {
        None
    }
}

/// `var`'s value and `grad` in float32, the dtype of the slots and of the unfused formulas.
fn f32_pair(var: &Variable, grad: &Tensor) -> (Tensor, Tensor) {
    let w = var.as_tensor().stop_gradient();
    let w = if w.dtype() == DType::F32 {
        w
    } else {
        w.cast(DType::F32)
    };
    let g = if grad.dtype() == DType::F32 {
        grad.clone()
    } else {
        grad.cast(DType::F32)
    };
    (w, g)
}

/// Runs a fused rule on `var` with its slots `names` (in the rule's order): `make(lr, t)` with
/// this step's learning rate and 1-based step now, and again on each replay of a traced step.
fn fused_step(
    core: &mut OptimizerCore,
    grad: &Tensor,
    var: &Variable,
    names: &[&str],
    (lr, t): (f32, u64),
    make: impl Fn(f32, u64) -> UpdateRule + Send + Sync + 'static,
) {
    let slots = core.slots_of(var, names);
    let refs: Vec<&Variable> = slots.iter().collect();
    let rule = make(lr, t);
    let source = core.rule_source(make);
    or_panic(var.fused_update_at(grad, &refs, rule, &source));
}

macro_rules! common_builders {
    ($t:ident) => {
        impl $t {
            /// Clips each gradient to this L2 norm.
            pub fn clipnorm(mut self, n: f32) -> Self {
                self.core.clipnorm = Some(n);
                self
            }
            /// Clips each gradient element to [-v, v].
            pub fn clipvalue(mut self, v: f32) -> Self {
                self.core.clipvalue = Some(v);
                self
            }
            /// Uses a learning-rate schedule instead of a constant.
            pub fn learning_rate_schedule(self, s: impl LearningRateSchedule + 'static) -> Self {
                self.core.set_lr(LearningRate::Schedule(Arc::new(s)));
                self
            }
            /// `fused(false)` updates with plain tensor ops instead of one fused backend pass
            /// per variable (the same formulas; on by default, as PyTorch's `fused=`).
            pub fn fused(mut self, on: bool) -> Self {
                self.core.fused = on;
                self
            }
        }
    };
}

/// `keras.optimizers.SGD(learning_rate=0.01, momentum=0.0, nesterov=False)`.
pub struct SGD {
    core: OptimizerCore,
    momentum: f32,
    nesterov: bool,
}
impl SGD {
    pub fn new(learning_rate: f32) -> SGD {
        SGD {
            core: OptimizerCore::new(learning_rate),
            momentum: 0.0,
            nesterov: false,
        }
    }
    pub fn momentum(mut self, m: f32) -> SGD {
        self.momentum = m;
        self
    }
    pub fn nesterov(mut self, on: bool) -> SGD {
        self.nesterov = on;
        self
    }
}
common_builders!(SGD);
impl Optimizer for SGD {
    fn name(&self) -> &str {
        "SGD"
    }
    fn core(&self) -> &OptimizerCore {
        &self.core
    }
    fn core_mut(&mut self) -> &mut OptimizerCore {
        &mut self.core
    }
    // v = momentum v - lr g; w += v, or w += momentum v - lr g with nesterov;
    // without momentum w -= lr g
    fn update_step(&mut self, grad: &Tensor, var: &Variable, lr: f32) {
        let (momentum, nesterov) = (self.momentum, self.nesterov);
        let slots: &[&str] = if momentum > 0.0 { &["momentum"] } else { &[] };
        if self.core.fused {
            let t = self.core.iterations() + 1;
            let make = move |lr, _| UpdateRule::Sgd {
                lr,
                momentum,
                nesterov,
            };
            return fused_step(&mut self.core, grad, var, slots, (lr, t), make);
        }
        let (w, g) = f32_pair(var, grad);
        if momentum == 0.0 {
            var.assign(w - g * lr);
            return;
        }
        let v = self.core.add_variable_from_reference(var, "momentum");
        let v_new = &*v * momentum - &g * lr;
        v.assign(&v_new);
        if nesterov {
            var.assign(w + (v_new * momentum - g * lr));
        } else {
            var.assign(w + v_new);
        }
    }
}

/// `keras.optimizers.Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7)`.
pub struct Adam {
    core: OptimizerCore,
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
    weight_decay: f32,
    name: &'static str,
}
impl Adam {
    pub fn new(learning_rate: f32) -> Adam {
        Adam {
            core: OptimizerCore::new(learning_rate),
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-7,
            weight_decay: 0.0,
            name: "Adam",
        }
    }
    pub fn beta_1(mut self, b: f32) -> Adam {
        self.beta_1 = b;
        self
    }
    pub fn beta_2(mut self, b: f32) -> Adam {
        self.beta_2 = b;
        self
    }
    pub fn epsilon(mut self, e: f32) -> Adam {
        self.epsilon = e;
        self
    }
}
common_builders!(Adam);
impl Optimizer for Adam {
    fn name(&self) -> &str {
        self.name
    }
    fn core(&self) -> &OptimizerCore {
        &self.core
    }
    fn core_mut(&mut self) -> &mut OptimizerCore {
        &mut self.core
    }
    // AdamW first: w -= lr wd w. Then m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2);
    // alpha = lr sqrt(1 - b2^t) / (1 - b1^t); w -= alpha m / (sqrt(v) + eps)
    fn update_step(&mut self, grad: &Tensor, var: &Variable, lr: f32) {
        let (beta1, beta2, epsilon, weight_decay) =
            (self.beta_1, self.beta_2, self.epsilon, self.weight_decay);
        let t = self.core.iterations() + 1;
        if self.core.fused {
            let make = move |lr, t| UpdateRule::Adam {
                lr,
                beta1,
                beta2,
                epsilon,
                t,
                weight_decay,
            };
            let names = &["momentum", "velocity"];
            return fused_step(&mut self.core, grad, var, names, (lr, t), make);
        }
        let (mut w, g) = f32_pair(var, grad);
        let [m, v] = <[Variable; 2]>::try_from(self.core.slots_of(var, &["momentum", "velocity"]))
            .unwrap_or_else(|_| unreachable!("two slots"));
        let ti = t as i32;
        let alpha = lr * (1.0 - beta2.powi(ti)).sqrt() / (1.0 - beta1.powi(ti));
        if weight_decay != 0.0 {
            w = &w - &w * (lr * weight_decay);
        }
        let m_new = &*m + (&g - &*m) * (1.0 - beta1);
        let v_new = &*v + (g.square() - &*v) * (1.0 - beta2);
        m.assign(&m_new);
        v.assign(&v_new);
        var.assign(w - m_new * alpha / (v_new.sqrt() + epsilon));
    }
}

/// `keras.optimizers.AdamW(learning_rate=0.001, weight_decay=0.004)`: Adam with decoupled decay.
pub struct AdamW;
impl AdamW {
    #[allow(clippy::new_ret_no_self)]
    pub fn new(learning_rate: f32) -> Adam {
        Adam {
            weight_decay: 0.004,
            name: "AdamW",
            ..Adam::new(learning_rate)
        }
    }
}
impl Adam {
    /// Decoupled weight decay (AdamW).
    pub fn weight_decay(mut self, wd: f32) -> Adam {
        self.weight_decay = wd;
        self
    }
}

/// `keras.optimizers.RMSprop(learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7)`.
pub struct RMSprop {
    core: OptimizerCore,
    rho: f32,
    momentum: f32,
    epsilon: f32,
}
impl RMSprop {
    pub fn new(learning_rate: f32) -> RMSprop {
        RMSprop {
            core: OptimizerCore::new(learning_rate),
            rho: 0.9,
            momentum: 0.0,
            epsilon: 1e-7,
        }
    }
    pub fn rho(mut self, r: f32) -> RMSprop {
        self.rho = r;
        self
    }
    pub fn momentum(mut self, m: f32) -> RMSprop {
        self.momentum = m;
        self
    }
}
common_builders!(RMSprop);
impl Optimizer for RMSprop {
    fn name(&self) -> &str {
        "RMSprop"
    }
    fn core(&self) -> &OptimizerCore {
        &self.core
    }
    fn core_mut(&mut self) -> &mut OptimizerCore {
        &mut self.core
    }
    // v = rho v + (1 - rho) g^2; inc = lr g / sqrt(v + eps); w -= inc, or with momentum
    // mo = momentum mo + inc; w -= mo
    fn update_step(&mut self, grad: &Tensor, var: &Variable, lr: f32) {
        let (rho, epsilon, momentum) = (self.rho, self.epsilon, self.momentum);
        let slots: &[&str] = if momentum > 0.0 {
            &["velocity", "momentum"]
        } else {
            &["velocity"]
        };
        if self.core.fused {
            let t = self.core.iterations() + 1;
            let make = move |lr, _| UpdateRule::RmsProp {
                lr,
                rho,
                epsilon,
                momentum,
            };
            return fused_step(&mut self.core, grad, var, slots, (lr, t), make);
        }
        let (w, g) = f32_pair(var, grad);
        let v = self.core.add_variable_from_reference(var, "velocity");
        let v_new = &*v * rho + &g * (1.0 - rho) * &g;
        v.assign(&v_new);
        let inc = g * lr / (v_new + epsilon).sqrt();
        if momentum > 0.0 {
            let mo = self.core.add_variable_from_reference(var, "momentum");
            let mo_new = &*mo * momentum + inc;
            mo.assign(&mo_new);
            var.assign(w - mo_new);
        } else {
            var.assign(w - inc);
        }
    }
}
