//! The mirrored training step: `train_step` of a model compiled under a strategy's scope.
//!
//! Per replica (on its thread): forward on its shard under its own tape, the compiled losses
//! scaled by the global batch (`loss_r * n_r / n`, plus the regularisation penalties divided by
//! the replicas that ran), gradients. Then, on the calling thread: the gradients' sum (the
//! in-process all-reduce), one `apply_gradients`, and the metrics on the whole batch's
//! predictions, as a single-device step would see them.
//!
//! The step uses the compiled losses (`compile`'s) and the layers' `losses()`; an override of
//! `compute_loss` is not called here (override `train_step` for a custom distributed step, or
//! write the loop with `strategy.run`).

use super::mirrored::MirroredStrategy;
use super::reduce::Reduce;
use crate::autodiff::{GradientTape, Variable};
use crate::keras::losses::Loss;
use crate::keras::models::{compiled_loss, unscale_gradients, Batch, KerasModel, Logs};
use crate::tensor::{concat, Tensor};

/// What one replica hands back from a step.
struct ReplicaOut {
    /// Its predictions (detached), one per output.
    y_pred: Vec<Tensor>,
    /// Its scaled loss: the replicas' values add up to the global batch's loss.
    loss: f32,
    grads: Vec<Option<Tensor>>,
}

/// One mirrored step of `model` on the global `batch` (see the module docs); returns the logs.
pub fn mirrored_train_step<M: KerasModel + ?Sized>(
    model: &mut M,
    strategy: &MirroredStrategy,
    batch: &Batch,
) -> Logs {
    let n = batch.len();
    let shards = strategy.split_batch(batch);
    assert!(!shards.is_empty(), "fit: an empty batch");
    if model.weights().is_empty() {
        // build the layers once, here, so that replicas never race to create weights
        let first: Vec<Tensor> = batch.x.iter().map(|t| t.narrow(0, 0, 1)).collect();
        let _ = model.invoke_multi(&first, false);
    }
    let scale = model
        .training_state()
        .optimizer()
        .expect("You must call compile() before fit()")
        .loss_scale();
    let losses = std::mem::take(&mut model.training_state().losses);
    let vars = model.trainable_weights();
    let active = shards.len();
    let outs = {
        let m: &M = model;
        strategy.on_replicas(active, |i| {
            replica_step(m, &losses, &shards[i], n, active, scale, &vars)
        })
    };
    model.training_state().losses = losses;
    let outs = outs.unwrap_or_else(|msg| panic!("{msg}"));

    // the in-process all-reduce: the sum of the replicas' gradients
    let per_replica: Vec<Vec<Option<Tensor>>> = outs.iter().map(|o| o.grads.clone()).collect();
    let grads = unscale_gradients(<Vec<Option<Tensor>> as Reduce>::sum(&per_replica), scale);
    let st = model.training_state();
    let opt = st.optimizer().expect("compiled");
    opt.apply_gradients(&grads, &vars.iter().collect::<Vec<_>>());
    st.update_loss(outs.iter().map(|o| o.loss).sum(), n);
    let n_out = outs[0].y_pred.len();
    let y_pred: Vec<Tensor> = (0..n_out)
        .map(|k| {
            let parts: Vec<Tensor> = outs.iter().map(|o| o.y_pred[k].clone()).collect();
            concat(&parts.iter().collect::<Vec<_>>(), 0)
        })
        .collect();
    model.compute_metrics(batch, &y_pred)
}

/// Forward and backward of one replica on its shard of an `n`-row global batch.
fn replica_step<M: KerasModel + ?Sized>(
    model: &M,
    losses: &[Box<dyn Loss>],
    shard: &Batch,
    n: usize,
    active: usize,
    scale: Option<f32>,
    vars: &[Variable],
) -> ReplicaOut {
    let dev = crate::runtime::default_device();
    let to_dev = |ts: &[Tensor]| ts.iter().map(|t| t.to(dev)).collect::<Vec<_>>();
    let (x, y) = (to_dev(&shard.x), to_dev(&shard.y));
    let tape = GradientTape::new();
    let y_pred = model.invoke_multi(&x, true);
    assert!(
        y_pred.len() == y.len(),
        "the model has {} outputs but {} targets were given",
        y_pred.len(),
        y.len()
    );
    // loss_r * n_r / n sums over replicas to the global batch's mean; the penalties once
    let mut loss = compiled_loss(losses, &y, &y_pred) * (shard.len() as f64 / n as f64);
    for r in model.losses() {
        loss = loss + r / active as f64;
    }
    let target = match scale {
        Some(s) => loss.clone() * s as f64,
        None => loss.clone(),
    };
    let sources: Vec<&Tensor> = vars.iter().map(|v| v.as_tensor()).collect();
    let grads = tape.gradient_vec(&target, &sources);
    drop(tape);
    ReplicaOut {
        y_pred: y_pred.into_iter().map(|t| t.stop_gradient()).collect(),
        loss: loss.item(),
        grads,
    }
}
