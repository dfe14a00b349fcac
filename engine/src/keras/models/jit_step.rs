//! `compile(..).jit_compile(true)`: `fit`'s train step as a traced graph (Keras traces
//! `train_step` with `tf.function(jit_compile=True)`).
//!
//! The first batch of each signature (the shapes and dtypes of its inputs and targets) runs the
//! default step's update part (`update_on_batch`: forward, loss, tape, gradients,
//! `apply_gradients`) eagerly under a tracer. Later batches of that signature replay the graph
//! with the CPU fusion plan: the same ops, minus the Rust around them, with elementwise chains
//! fused. Variable updates, the optimizer's step counter and dropout's random draws are
//! recorded, so replays train as eager steps do. The metrics run eagerly on the replay's loss
//! and predictions, as Keras runs them.
//!
//! What this file is not: a way to trace an overridden `train_step` (the hook returns `Logs`,
//! which are host values): with `jit_compile(true)`, `fit` runs the default step's update.

use std::sync::Arc;

use super::training::update_on_batch;
use super::{Batch, KerasModel, Logs};
use crate::function::fuse::{self, Step};
use crate::function::{replay, tracer, Graph, Signature, TensorSpec};
use crate::tensor::Tensor;

/// One traced train step: its batch signature, its graph and its fusion plan.
pub(crate) struct TracedStep {
    signature: Signature,
    graph: Arc<Graph>,
    plan: Arc<Vec<Step>>,
}

/// `train_step` for a model compiled with `jit_compile(true)`.
pub(crate) fn train_step<M: KerasModel + ?Sized>(model: &mut M, batch: &Batch) -> Logs {
    let st = model.training_state();
    let scaled = st.optimizer().and_then(|o| o.loss_scale()).is_some();
    if scaled {
        // the loss-scale update reads the gradients' finiteness on the host: not traceable
        return model.train_step(batch);
    }
    let args: Vec<Tensor> = batch.x.iter().chain(&batch.y).cloned().collect();
    let signature = Signature(args.iter().map(TensorSpec::of).collect());
    let found = st
        .jit_steps
        .iter()
        .find(|t| t.signature == signature)
        .map(|t| (t.graph.clone(), t.plan.clone()));
    let (loss, y_pred) = match found {
        Some((graph, plan)) => {
            let mut outs = crate::error::or_panic(replay::run(&graph, &plan, true, &args));
            let loss = outs.remove(0);
            (loss, outs)
        }
        None => {
            let trace = tracer::Trace::start(&args);
            let (loss, y_pred) = update_on_batch(model, batch);
            let outs: Vec<Tensor> = std::iter::once(loss.clone())
                .chain(y_pred.iter().cloned())
                .collect();
            let (ops, outputs) = trace.finish(&outs);
            let graph = Graph::pruned(ops, outputs);
            let shapes: Vec<_> = signature.0.iter().map(|s| s.shape.clone()).collect();
            let plan = Arc::new(fuse::plan(&graph, &shapes));
            model.training_state().jit_steps.push(TracedStep {
                signature,
                graph: Arc::new(graph),
                plan,
            });
            (loss, y_pred)
        }
    };
    model.training_state().update_loss(loss.item(), batch.len());
    model.compute_metrics(batch, &y_pred)
}
