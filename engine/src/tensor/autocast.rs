//! Autocast scopes: the reader of the op record that mixed precision needs.
//!
//! While a layer with a mixed policy runs, its thread has an autocast scope naming the compute
//! dtype (`f16` or `bf16`). [`dispatch::apply`](super::dispatch::apply) then casts every float
//! **variable** among an op's inputs to that dtype before running the op, like Keras'
//! `AutoCastVariable`: variables stay float32 (the optimizer updates them in f32), reads inside
//! the layer are 16-bit, and the recorded `Cast` sends the gradient back to the f32 variable.
//! Other tensors are never cast here: ops that must stay in f32 (softmax, losses, normalisation
//! statistics) cast explicitly and keep working under a scope.
//!
//! A scope caches each variable's cast, so a weight read by many ops (an RNN's kernel at every
//! step) is cast once per layer call. With no scope active anywhere, the check in `apply` is one
//! atomic load. The scopes live in the process-wide state, keyed by thread, because each
//! notebook cell has its own copy of the engine's statics.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread::ThreadId;

use super::Tensor;
use crate::dtype::DType;

/// One scope: its compute dtype and the casts of variables made under it (by variable id).
struct Scope {
    dtype: DType,
    casts: HashMap<u64, Tensor>,
}

#[derive(Default)]
struct Scopes {
    active: AtomicUsize,
    stacks: Mutex<HashMap<ThreadId, Vec<Scope>>>,
}

fn scopes() -> &'static Scopes {
    crate::state::slot!("tensor.autocast", Scopes, Scopes::default)
}

/// The compute dtype of this thread's innermost autocast scope, if any.
pub fn current() -> Option<DType> {
    let s = scopes();
    if s.active.load(Ordering::Acquire) == 0 {
        return None;
    }
    let stacks = s.stacks.lock().unwrap_or_else(|e| e.into_inner());
    stacks
        .get(&std::thread::current().id())
        .and_then(|v| v.last())
        .map(|sc| sc.dtype)
}

/// Casts float variables to this thread's autocast dtype; `None` when nothing needs a cast.
pub(crate) fn cast_variables(inputs: &[&Tensor]) -> Option<Vec<Tensor>> {
    let dtype = current()?;
    let needs = |t: &Tensor| t.0.var.is_some() && t.dtype().is_float() && t.dtype() != dtype;
    if !inputs.iter().any(|t| needs(t)) {
        return None;
    }
    let me = std::thread::current().id();
    let cached = |id: u64| -> Option<Tensor> {
        let stacks = scopes().stacks.lock().unwrap_or_else(|e| e.into_inner());
        stacks.get(&me)?.last()?.casts.get(&id).cloned()
    };
    let out = inputs
        .iter()
        .map(|&t| {
            if !needs(t) {
                return t.clone();
            }
            if let Some(c) = cached(t.id()) {
                return c;
            }
            // the cast runs with no lock held (it goes through `apply` and the recorders)
            let c = t.cast(dtype);
            let mut stacks = scopes().stacks.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(sc) = stacks.get_mut(&me).and_then(|v| v.last_mut()) {
                sc.casts.insert(t.id(), c.clone());
            }
            c
        })
        .collect();
    Some(out)
}

/// An open autocast scope; closed on drop (also while unwinding).
pub struct AutocastScope(());

/// Opens an autocast scope with compute dtype `dtype` on this thread (`F32` turns autocast off
/// inside an outer 16-bit scope: a float32 layer nested in a mixed one).
pub fn enter(dtype: DType) -> AutocastScope {
    let s = scopes();
    let mut stacks = s.stacks.lock().unwrap_or_else(|e| e.into_inner());
    stacks
        .entry(std::thread::current().id())
        .or_default()
        .push(Scope {
            dtype,
            casts: HashMap::new(),
        });
    s.active.fetch_add(1, Ordering::AcqRel);
    AutocastScope(())
}

impl Drop for AutocastScope {
    fn drop(&mut self) {
        let s = scopes();
        let popped = {
            let mut stacks = s.stacks.lock().unwrap_or_else(|e| e.into_inner());
            let me = std::thread::current().id();
            let popped = stacks.get_mut(&me).and_then(|v| v.pop());
            if stacks.get(&me).is_some_and(|v| v.is_empty()) {
                stacks.remove(&me);
            }
            popped
        };
        s.active.fetch_sub(1, Ordering::AcqRel);
        drop(popped); // tensors are dropped with no lock held
    }
}
