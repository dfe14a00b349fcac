//! `Variable`: a tensor whose value can change in place, like `tf.Variable`.

use std::ops::Deref;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::error::{or_panic, Error, Result};
use crate::shape::Layout;
use crate::storage::{Storage, UpdateRule};
use crate::tensor::dispatch::{record_effect, Effect, RuleSource};
use crate::tensor::{Tensor, VarInfo};

/// Mutable state for models: weights, biases, counters. Reads are ordinary tensor ops (it derefs
/// to [`Tensor`]); `assign`, `assign_add` and `assign_sub` update it in place, outside the
/// tape (a traced `function` records them and replays them). Cloning a `Variable` gives another handle to the same variable.
#[derive(Clone)]
pub struct Variable(Tensor);

impl Variable {
    /// A trainable variable holding a copy of `initial_value`.
    pub fn new(initial_value: impl AsRef<Tensor>) -> Variable {
        Self::with_options(initial_value.as_ref(), "Variable", true)
    }
    /// A variable with a name and trainability (`tf.Variable(x, name=.., trainable=..)`).
    pub fn with_options(initial_value: &Tensor, name: &str, trainable: bool) -> Variable {
        let v = initial_value.contiguous_copy();
        let storage = v.0.storage.clone();
        Variable(Tensor::from_parts(
            storage,
            Layout::contiguous(v.shape().clone()),
            Some(VarInfo {
                trainable: AtomicBool::new(trainable),
                name: name.to_string(),
            }),
        ))
    }
    /// Builder: a non-trainable variable (like BatchNormalization's moving mean).
    pub fn non_trainable(initial_value: impl AsRef<Tensor>) -> Variable {
        Self::with_options(initial_value.as_ref(), "Variable", false)
    }
    /// Builder: the variable's name (`tf.Variable(x, name="w")` is `Variable::new(x).named("w")`).
    /// The named variable shares the memory of `self`; use it in place of `self`.
    pub fn named(self, name: &str) -> Variable {
        let t = &self.0;
        Variable(Tensor::from_parts(
            t.0.storage.clone(),
            t.layout().clone(),
            Some(VarInfo {
                trainable: AtomicBool::new(self.trainable()),
                name: name.to_string(),
            }),
        ))
    }
    /// Builder: whether the variable is trainable (`tf.Variable(x, trainable=False)`).
    pub fn with_trainable(self, trainable: bool) -> Variable {
        self.set_trainable(trainable);
        self
    }
    /// The variable behind a tensor handle, when the handle is one (a watched variable).
    pub(crate) fn from_handle(t: &Tensor) -> Option<Variable> {
        t.0.var.as_ref().map(|_| Variable(t.clone()))
    }
    pub fn name(&self) -> &str {
        self.info().name.as_str()
    }
    pub fn trainable(&self) -> bool {
        self.info().trainable.load(Ordering::Relaxed)
    }
    pub fn set_trainable(&self, on: bool) {
        self.info().trainable.store(on, Ordering::Relaxed)
    }
    fn info(&self) -> &VarInfo {
        self.0
             .0
            .var
            .as_ref()
            .expect("a Variable always has VarInfo")
    }
    /// The current value as a new tensor (a snapshot that later assigns do not change).
    pub fn read_value(&self) -> Tensor {
        self.0.contiguous_copy()
    }
    /// The variable's tensor handle (shares memory with the variable).
    pub fn as_tensor(&self) -> &Tensor {
        &self.0
    }

    /// Overwrites the value (same shape; the dtype is cast to the variable's).
    #[track_caller]
    pub fn assign(&self, value: impl AsRef<Tensor>) {
        or_panic(self.try_assign(value.as_ref()))
    }
    pub fn try_assign(&self, value: &Tensor) -> Result<()> {
        if value.dims() != self.0.dims() {
            return Err(Error::ShapeMismatch {
                op: "Variable.assign",
                lhs: self.0.dims().to_vec(),
                rhs: value.dims().to_vec(),
                hint: "a variable keeps its shape; create a new Variable to change it".into(),
            });
        }
        let given = value;
        let mut value = value.clone();
        if value.dtype() != self.0.dtype() {
            value = value.try_cast(self.0.dtype())?;
        }
        if value.shares_storage_with(&self.0) {
            value = value.contiguous_copy();
        }
        {
            let src = value.storage();
            let mut dst = self.0.storage_mut();
            dst.copy_into(self.0.layout(), &src, value.layout())?;
        }
        // a traced `function` replays the assign
        record_effect(&Effect::Assign {
            var: &self.0,
            value: given,
        });
        Ok(())
    }
    /// `self += delta`, in place.
    #[track_caller]
    pub fn assign_add(&self, delta: impl AsRef<Tensor>) {
        let v = or_panic(self.0.try_add(delta.as_ref()));
        self.assign(&v)
    }
    /// `self -= delta`, in place.
    #[track_caller]
    pub fn assign_sub(&self, delta: impl AsRef<Tensor>) {
        let v = or_panic(self.0.try_sub(delta.as_ref()));
        self.assign(&v)
    }

    /// One fused optimizer update in place: the variable, its gradient and its optimizer slots
    /// (float32 variables of the same shape, in the order `rule` documents) in one backend
    /// pass, unrecorded. The built-in optimizers use it; an optimizer written with tensor ops
    /// and [`assign`](Self::assign) needs nothing of it.
    pub fn fused_update(&self, grad: &Tensor, slots: &[&Variable], rule: UpdateRule) -> Result<()> {
        self.fused_update_at(grad, slots, rule, &(Arc::new(move || rule) as RuleSource))
    }

    /// [`fused_update`](Self::fused_update) with `rule` now and `source` for replays: a traced
    /// train step keeps `source` and reads it again on each replay (the learning rate and step
    /// number of that replay, as TF reads an optimizer's `iterations` variable).
    pub fn fused_update_at(
        &self,
        grad: &Tensor,
        slots: &[&Variable],
        rule: UpdateRule,
        source: &RuleSource,
    ) -> Result<()> {
        self.fused_update_now(grad, slots, rule)?;
        let slot_handles: Vec<&Tensor> = slots.iter().map(|s| &s.0).collect();
        record_effect(&Effect::Update {
            var: &self.0,
            grad,
            slots: &slot_handles,
            rule: source,
        });
        Ok(())
    }

    fn fused_update_now(&self, grad: &Tensor, slots: &[&Variable], rule: UpdateRule) -> Result<()> {
        if grad.dims() != self.0.dims() {
            return Err(Error::ShapeMismatch {
                op: "apply_gradients",
                lhs: self.0.dims().to_vec(),
                rhs: grad.dims().to_vec(),
                hint: format!("the gradient of variable '{}' needs its shape", self.name()),
            });
        }
        // Lock order: slots, then the variable, then the gradient (read). A gradient that
        // shares the variable's memory would deadlock on its lock: copy it first.
        let grad = if grad.shares_storage_with(&self.0) {
            grad.contiguous_copy()
        } else {
            grad.clone()
        };
        let mut guards: Vec<_> = slots.iter().map(|s| s.0.storage_mut()).collect();
        let mut refs: Vec<&mut Storage> = guards.iter_mut().map(|g| &mut **g).collect();
        let gs = grad.storage();
        self.0
            .storage_mut()
            .apply_update(&gs, grad.layout(), &mut refs, rule)
    }
}

impl Deref for Variable {
    type Target = Tensor;
    fn deref(&self) -> &Tensor {
        &self.0
    }
}

impl AsRef<Tensor> for Variable {
    fn as_ref(&self) -> &Tensor {
        &self.0
    }
}

impl std::fmt::Debug for Variable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "<tf.Variable '{}' shape={} dtype={}, numpy=\n{}>",
            self.name(),
            self.shape(),
            self.dtype(),
            self.0.format_values()
        )
    }
}

impl std::fmt::Display for Variable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

impl Variable {
    /// What evcxr shows for a variable as a cell's last expression.
    pub fn evcxr_display(&self) {
        println!("EVCXR_BEGIN_CONTENT text/plain\n{self:?}\nEVCXR_END_CONTENT");
    }
}
