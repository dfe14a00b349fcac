//! Optimizers with Keras names, defaults and update rules: SGD (momentum, nesterov), Adam, AdamW,
//! RMSprop. Learning-rate schedules: ExponentialDecay, CosineDecay (with warmup). Clipping:
//! clipnorm (per variable) and clipvalue.
//!
//! `optimizer.apply_gradients(&grads, &vars)` is TF's `apply_gradients(zip(grads, vars))`. Each
//! variable is updated by one fused backend pass (`UpdateRule`), not a dozen tensor ops.

use std::collections::HashMap;

use crate::autodiff::Variable;
use crate::storage::{Storage, UpdateRule};
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

enum LearningRate {
    Constant(f32),
    Schedule(Box<dyn LearningRateSchedule>),
}

/// What every optimizer shares: the learning rate, the step counter, clipping and slots.
pub struct OptimizerCore {
    lr: LearningRate,
    iterations: u64,
    clipnorm: Option<f32>,
    clipvalue: Option<f32>,
    slots: HashMap<u64, Vec<Tensor>>,
}

impl OptimizerCore {
    fn new(lr: f32) -> Self {
        OptimizerCore {
            lr: LearningRate::Constant(lr),
            iterations: 0,
            clipnorm: None,
            clipvalue: None,
            slots: HashMap::new(),
        }
    }
    fn current_lr(&self) -> f32 {
        match &self.lr {
            LearningRate::Constant(v) => *v,
            LearningRate::Schedule(s) => s.lr(self.iterations),
        }
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
    /// Runs `rule(lr, step)` for every (gradient, variable) pair, with `n_slots` slots each.
    fn apply(
        &mut self,
        grads: &[Option<Tensor>],
        vars: &[&Variable],
        n_slots: usize,
        rule: impl Fn(f32, u64) -> UpdateRule,
    ) {
        crate::state::check_cancel();
        assert_eq!(
            grads.len(),
            vars.len(),
            "apply_gradients: {} gradients for {} variables",
            grads.len(),
            vars.len()
        );
        let lr = self.current_lr();
        self.iterations += 1;
        let r = rule(lr, self.iterations);
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
            let g = if self.clipnorm.is_some() || self.clipvalue.is_some() {
                self.clip(g)
            } else {
                g.clone()
            };
            let slots = self.slots.entry(v.id()).or_insert_with(|| {
                (0..n_slots)
                    .map(|_| v.zeros_like().cast(crate::dtype::DType::F32))
                    .collect()
            });
            let mut guards: Vec<_> = slots.iter().map(|s| s.storage_mut()).collect();
            let mut refs: Vec<&mut Storage> = guards.iter_mut().map(|g| &mut **g).collect();
            let gs = g.storage();
            let res = v.storage_mut().apply_update(&gs, g.layout(), &mut refs, r);
            crate::error::or_panic(res);
        }
    }
}

/// The optimizer interface `compile` and custom training loops use.
pub trait Optimizer: Send + Sync {
    fn name(&self) -> &str;
    /// TF's `optimizer.apply_gradients(zip(grads, vars))`; `None` gradients are skipped.
    fn apply_gradients(&mut self, grads: &[Option<Tensor>], vars: &[&Variable]);
    fn core(&self) -> &OptimizerCore;
    fn core_mut(&mut self) -> &mut OptimizerCore;
    fn learning_rate(&self) -> f32 {
        self.core().current_lr()
    }
    /// Replaces the learning rate (or schedule) with a constant.
    fn set_learning_rate(&mut self, lr: f32) {
        self.core_mut().lr = LearningRate::Constant(lr);
    }
    /// Steps taken so far.
    fn iterations(&self) -> u64 {
        self.core().iterations
    }
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
            pub fn learning_rate_schedule(
                mut self,
                s: impl LearningRateSchedule + 'static,
            ) -> Self {
                self.core.lr = LearningRate::Schedule(Box::new(s));
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
    fn apply_gradients(&mut self, grads: &[Option<Tensor>], vars: &[&Variable]) {
        let (momentum, nesterov) = (self.momentum, self.nesterov);
        let n = if momentum > 0.0 { 1 } else { 0 };
        self.core.apply(grads, vars, n, |lr, _| UpdateRule::Sgd {
            lr,
            momentum,
            nesterov,
        });
    }
    fn core(&self) -> &OptimizerCore {
        &self.core
    }
    fn core_mut(&mut self) -> &mut OptimizerCore {
        &mut self.core
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
    fn apply_gradients(&mut self, grads: &[Option<Tensor>], vars: &[&Variable]) {
        let (beta1, beta2, epsilon, weight_decay) =
            (self.beta_1, self.beta_2, self.epsilon, self.weight_decay);
        self.core.apply(grads, vars, 2, |lr, t| UpdateRule::Adam {
            lr,
            beta1,
            beta2,
            epsilon,
            t,
            weight_decay,
        });
    }
    fn core(&self) -> &OptimizerCore {
        &self.core
    }
    fn core_mut(&mut self) -> &mut OptimizerCore {
        &mut self.core
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
    fn apply_gradients(&mut self, grads: &[Option<Tensor>], vars: &[&Variable]) {
        let (rho, epsilon, momentum) = (self.rho, self.epsilon, self.momentum);
        let n = if momentum > 0.0 { 2 } else { 1 };
        self.core
            .apply(grads, vars, n, |lr, _| UpdateRule::RmsProp {
                lr,
                rho,
                epsilon,
                momentum,
            });
    }
    fn core(&self) -> &OptimizerCore {
        &self.core
    }
    fn core_mut(&mut self) -> &mut OptimizerCore {
        &mut self.core
    }
}
