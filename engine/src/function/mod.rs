//! Traced functions, like TF2's `tf.function`.
//!
//! ```
//! use ferrolab::prelude::*;
//! let f = function(|x: &Tensor| (x * 2.0).exp().sum());
//! let a = f.call(&tensor([0.0, 1.0]));        // traces: runs the closure, records its ops
//! let b = f.call(&tensor([1.0, 2.0]));        // same signature: replays the graph
//! assert_eq!(f.concrete_functions().len(), 1);
//! assert!((b.item() - (2f32.exp() + 4f32.exp())).abs() < 1e-3);
//! # let _ = a;
//! ```
//!
//! How it works, and what it means for the closure (the same story as TF's Python code):
//! - The first call with a new input signature (shapes, dtypes and devices, TF's
//!   `input_signature`) runs the closure eagerly while a tracer ([`tracer`]) records every op
//!   into a [`Graph`]. Later calls with that signature replay the graph ([`replay`]) and do not
//!   run the closure's Rust code. A new signature traces again; new values do not.
//! - Rust side effects run only while tracing: a `println!` in the closure prints on the first
//!   call of each signature, not on replays.
//! - Rust control flow is frozen at trace time. A branch or loop bound that reads a tensor's
//!   value (`x.item() > 0.0`, `to_vec`) takes the path of the traced values on every replay,
//!   as Python `if` does in TF; the ops behind such a read are pruned from the graph.
//! - Tensors the closure uses but does not get as arguments are captured: a `Variable` by
//!   handle (a replay reads its current value, so `assign` between calls is seen), any other
//!   tensor (a scalar like `0.5`, a tensor made outside) by value, frozen into the graph.
//! - A `GradientTape` works around and inside: replays go through `dispatch::apply` like
//!   eager ops. A nested `function` works: its ops land in the outer graph.
//!
//! - State changes are recorded too, so a trace replays them: a random op (`randn`, `uniform`,
//!   `Dropout`) draws fresh numbers on each replay, as in TF (the same numbers eager code would
//!   draw from the global generator, in the same order); `Variable::assign`, `assign_add`,
//!   `assign_sub` and the built-in optimizers' updates change their variables on each replay;
//!   an optimizer's `iterations` counts, and its learning rate (or schedule) and Adam's step
//!   number are read at replay time. So a whole train step traces, as TF's
//!   `@tf.function def train_step`: model forward, `GradientTape`, gradients and
//!   `apply_gradients` replay as one graph. Plain Rust numbers inside the closure are still
//!   frozen (the unfused optimizers' `lr * g` reads `lr` once, like a Python float in TF).
//!
//! Fusion ([`Function::jit_compile`]) covers float32 elementwise chains on the CPU, with a
//! reduction over the last axis at the end of a chain (see [`fuse`]).

pub mod fuse;
pub mod graph;
pub(crate) mod replay;
pub(crate) mod tracer;

pub use graph::{ConcreteFunction, Graph, GraphOp, Signature, Source, TensorSpec};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::error::{invalid, or_panic, Result};
use crate::tensor::Tensor;

/// After this many traces of one function, TF's retracing warning is printed (once).
pub const RETRACE_WARNING_AFTER: usize = 5;

type Body = Box<dyn Fn(&[Tensor]) -> Tensor>;

/// A traced function made by [`function`], [`function2`] or [`function3`]; call it with
/// [`call`](Self::call).
pub struct Function {
    name: String,
    arity: usize,
    body: Body,
    traces: Mutex<Vec<ConcreteFunction>>,
    warned: AtomicBool,
    jit: bool,
}

/// The arguments of a [`Function`] call: `&x`, `(&a, &b)`, `(&a, &b, &c)` or `&[&a, &b]`.
pub trait FunctionArgs {
    fn tensors(&self) -> Vec<Tensor>;
}

impl FunctionArgs for &Tensor {
    fn tensors(&self) -> Vec<Tensor> {
        vec![(*self).clone()]
    }
}
impl FunctionArgs for (&Tensor, &Tensor) {
    fn tensors(&self) -> Vec<Tensor> {
        vec![self.0.clone(), self.1.clone()]
    }
}
impl FunctionArgs for (&Tensor, &Tensor, &Tensor) {
    fn tensors(&self) -> Vec<Tensor> {
        vec![self.0.clone(), self.1.clone(), self.2.clone()]
    }
}
impl FunctionArgs for &[&Tensor] {
    fn tensors(&self) -> Vec<Tensor> {
        self.iter().map(|t| (*t).clone()).collect()
    }
}
impl<const N: usize> FunctionArgs for [&Tensor; N] {
    fn tensors(&self) -> Vec<Tensor> {
        self.iter().map(|t| (*t).clone()).collect()
    }
}

/// `tf.function` for a closure of one tensor: `let f = function(|x: &Tensor| ...); f.call(&x)`.
pub fn function(f: impl Fn(&Tensor) -> Tensor + 'static) -> Function {
    Function::new(1, Box::new(move |a: &[Tensor]| f(&a[0])))
}

/// `tf.function` for a closure of two tensors: `f.call((&a, &b))`.
pub fn function2(f: impl Fn(&Tensor, &Tensor) -> Tensor + 'static) -> Function {
    Function::new(2, Box::new(move |a: &[Tensor]| f(&a[0], &a[1])))
}

/// `tf.function` for a closure of three tensors: `f.call((&a, &b, &c))`.
pub fn function3(f: impl Fn(&Tensor, &Tensor, &Tensor) -> Tensor + 'static) -> Function {
    Function::new(3, Box::new(move |a: &[Tensor]| f(&a[0], &a[1], &a[2])))
}

impl Function {
    /// `tf.function` for a closure of any number of tensors, given as a slice:
    /// `Function::from_slice(4, |a| ...)`, called with `f.call(&[&w, &x, &y, &z])`.
    pub fn from_slice(arity: usize, f: impl Fn(&[Tensor]) -> Tensor + 'static) -> Function {
        Function::new(arity, Box::new(f))
    }

    fn new(arity: usize, body: Body) -> Function {
        Function {
            name: "function".into(),
            arity,
            body,
            traces: Mutex::new(Vec::new()),
            warned: AtomicBool::new(false),
            jit: false,
        }
    }

    /// Builder: fuse chains of elementwise ops into one pass over the data on replays
    /// (`tf.function(jit_compile=True)`; CPU, float32; see [`fuse`]). Results equal the plain
    /// replay's to float rounding. While a `GradientTape` (or another recorder) is active the
    /// plain replay runs, so gradients work as without fusion.
    pub fn jit_compile(mut self, on: bool) -> Function {
        self.jit = on;
        self
    }

    /// Builder: the name shown in graph printouts, warnings and errors (TF uses the Python
    /// function's name).
    pub fn named(mut self, name: &str) -> Function {
        self.name = name.to_string();
        self
    }

    /// Calls the function: traces on a new input signature, replays otherwise. Panics with
    /// the error of [`try_call`](Self::try_call).
    #[track_caller]
    pub fn call(&self, args: impl FunctionArgs) -> Tensor {
        or_panic(self.try_call(args))
    }

    /// [`call`](Self::call), returning an error instead of panicking. An error while tracing
    /// names the op that failed and the traced input signature.
    pub fn try_call(&self, args: impl FunctionArgs) -> Result<Tensor> {
        let args = args.tensors();
        if args.len() != self.arity {
            return Err(invalid(
                "function",
                format!(
                    "`{}` takes {} tensor argument(s), got {}",
                    self.name,
                    self.arity,
                    args.len()
                ),
            ));
        }
        let sig = Signature(args.iter().map(TensorSpec::of).collect());
        let found = self
            .lock()
            .iter()
            .find(|c| c.signature == sig)
            .map(|c| (c.graph.clone(), c.plan.clone()));
        match found {
            Some((g, plan)) => Ok(replay::run(&g, &plan, self.jit, &args)?.remove(0)),
            None => self.trace(sig, &args),
        }
    }

    /// Runs the closure eagerly under a tracer and keeps the graph for this signature.
    fn trace(&self, sig: Signature, args: &[Tensor]) -> Result<Tensor> {
        let trace = tracer::Trace::start(args);
        let out = crate::state::catch_quietly(|| (self.body)(args)).map_err(|msg| {
            invalid(
                "function",
                format!(
                    "while tracing `{}` with input signature {sig}: {msg}",
                    self.name
                ),
            )
        })?;
        let (ops, outputs) = trace.finish(std::slice::from_ref(&out));
        let graph = Graph::pruned(ops, outputs);
        let shapes: Vec<_> = sig.0.iter().map(|s| s.shape.clone()).collect();
        let plan = Arc::new(fuse::plan(&graph, &shapes));
        let graph = Arc::new(graph);
        let n = {
            let mut traces = self.lock();
            traces.push(ConcreteFunction {
                name: self.name.clone(),
                signature: sig,
                graph,
                plan,
            });
            traces.len()
        };
        if n > RETRACE_WARNING_AFTER && !self.warned.swap(true, Ordering::Relaxed) {
            eprintln!("{}", self.retrace_warning(n));
        }
        Ok(out)
    }

    /// TF's retracing warning, for `n` traces.
    fn retrace_warning(&self, n: usize) -> String {
        format!(
            "WARNING: {n} calls to `{}` triggered tf.function retracing. Tracing is expensive \
             and the excessive number of tracings could be due to (1) calling the function with \
             tensors of many different shapes or dtypes, (2) creating a new `function` in a loop \
             (make it once, outside the loop). Each new input signature traces again.",
            self.name
        )
    }

    /// The traces so far, one per input signature, in the order they were made.
    pub fn concrete_functions(&self) -> Vec<ConcreteFunction> {
        self.lock().clone()
    }

    /// How many times the closure has been traced.
    pub fn trace_count(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<ConcreteFunction>> {
        self.traces.lock().unwrap_or_else(|e| e.into_inner())
    }
}
