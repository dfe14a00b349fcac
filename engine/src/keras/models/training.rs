//! `compile`, `fit`, `evaluate` and `predict`, shared by every kind of model through the
//! [`KerasModel`] trait, with Keras 3's customisation points:
//!
//! - `train_step(&batch)` is exactly the TF2 custom loop: tape -> forward -> `compute_loss`
//!   (compiled losses + regularisers) -> gradient -> `optimizer.apply_gradients` -> metrics.
//!   `test_step` is the same without the tape and the update; `predict_step` is the forward
//!   pass. A subclassed model overrides them (to add a penalty, scale the loss, ...) and keeps
//!   `fit`, `evaluate`, callbacks and the progress bar.
//! - `fit` turns its input into a `Dataset` of [`Batch`]es (arrays: a shuffled gather per batch;
//!   a dataset: its own batches), and sends each batch through `train_step`. `evaluate` streams
//!   batches through `test_step`, `predict` through `predict_step`.
//! - The compiled metrics and the loss tracker live in the model's [`TrainingState`]: `fit` and
//!   `evaluate` reset them, the steps update them, and a step returns their results as `Logs`.

use std::sync::Mutex;

use super::data_adapter::{array_batches, dataset_batches, rows};
use super::{Batch, History, Logs, Summary};
use crate::autodiff::{GradientTape, Variable};
use crate::data::Dataset;
use crate::dtype::DType;
use crate::keras::callbacks::{Callback, CallbackContext};
use crate::keras::layers::{layer_call, Layer};
use crate::keras::losses::{IntoLoss, Loss};
use crate::keras::metrics::{self, Metric};
use crate::keras::mixed_precision::LossScaleOptimizer;
use crate::keras::optimizers::Optimizer;
use crate::tensor::{concat, Tensor};

/// What `compile` stores in a model, and the metrics' state while `fit` or `evaluate` runs.
#[derive(Default)]
pub struct TrainingState {
    pub(crate) optimizer: Option<Box<dyn Optimizer>>,
    pub(crate) losses: Vec<Box<dyn Loss>>,
    pub(crate) metric_names: Vec<String>,
    /// The compiled metrics (a `Mutex` only so that models stay `Sync`; reached with `get_mut`).
    metrics: Mutex<MetricsState>,
    /// The strategy whose scope was open at `compile` (`fit` then runs mirrored steps).
    pub(crate) strategy: Option<crate::distribute::MirroredStrategy>,
    /// `compile(..).jit_compile(true)`: `fit` runs a traced, fused train step.
    pub(crate) jit: bool,
    /// The traced train steps, one per batch signature (see `jit_step.rs`).
    pub(crate) jit_steps: Vec<super::jit_step::TracedStep>,
}

/// The compiled metrics of one output, with their names in the logs.
type NamedMetrics = Vec<(String, Box<dyn Metric>)>;

/// The loss tracker (a mean weighted by batch size) and the compiled metrics, per output.
#[derive(Default)]
struct MetricsState {
    loss_sum: f64,
    loss_count: f64,
    /// Built on the first update, for that many outputs: (log name, metric).
    per_output: Option<Vec<NamedMetrics>>,
}

impl TrainingState {
    /// How many train steps `fit` has traced under `jit_compile(true)` since `compile` (one per
    /// batch signature: a smaller last batch traces once more, as in TF).
    pub fn jit_trace_count(&self) -> usize {
        self.jit_steps.len()
    }
    /// The compiled optimizer, for custom loops, custom `train_step`s and callbacks.
    pub fn optimizer(&mut self) -> Option<&mut (dyn Optimizer + 'static)> {
        self.optimizer.as_deref_mut()
    }
    fn metrics_mut(&mut self) -> &mut MetricsState {
        self.metrics.get_mut().unwrap_or_else(|e| e.into_inner())
    }
    /// Keras' `reset_metrics()`: clears the loss tracker and every compiled metric (`fit` does
    /// it at the start of each epoch, `evaluate` at its start).
    pub fn reset_metrics(&mut self) {
        let m = self.metrics_mut();
        (m.loss_sum, m.loss_count) = (0.0, 0.0);
        for ms in m.per_output.iter_mut().flatten() {
            for (_, metric) in ms.iter_mut() {
                metric.reset_state();
            }
        }
    }
    /// Adds a batch's loss to the loss tracker, weighted by its `batch_size` samples.
    pub fn update_loss(&mut self, loss: f32, batch_size: usize) {
        let m = self.metrics_mut();
        m.loss_sum += loss as f64 * batch_size as f64;
        m.loss_count += batch_size as f64;
    }
    /// Updates the compiled metrics of every output; `output_names` name them in the logs when
    /// there are several (`digit_accuracy`), as Keras does.
    pub fn update_metrics(&mut self, output_names: &[String], y: &[Tensor], y_pred: &[Tensor]) {
        if self.metrics_mut().per_output.as_ref().map(|p| p.len()) != Some(y_pred.len()) {
            assert!(
                !self.losses.is_empty(),
                "You must call compile() before training or evaluating the model"
            );
            let built = (0..y_pred.len())
                .map(|o| self.metrics_for(o, output_names))
                .collect();
            self.metrics_mut().per_output = Some(built);
        }
        let per_output = self.metrics_mut().per_output.as_mut().expect("built");
        for ((ms, y), p) in per_output.iter_mut().zip(y).zip(y_pred) {
            for (_, m) in ms.iter_mut() {
                m.update_state(y, p);
            }
        }
    }
    /// Keras' `get_metrics_result()`: `loss` (the tracker's mean), then every compiled metric.
    pub fn metrics_result(&mut self) -> Logs {
        let m = self.metrics_mut();
        let mut logs = Logs::default();
        logs.set("loss", (m.loss_sum / m.loss_count.max(1.0)) as f32);
        for ms in m.per_output.iter().flatten() {
            for (name, metric) in ms {
                logs.set(name, metric.result());
            }
        }
        logs
    }
    /// Fresh metrics for output `output`; with several outputs they are named after the output
    /// (`{output_name}_accuracy`), as Keras does.
    fn metrics_for(&self, output: usize, names: &[String]) -> NamedMetrics {
        let n_outputs = names.len();
        let loss = &self.losses[output.min(self.losses.len() - 1)];
        self.metric_names
            .iter()
            .map(|m| {
                let metric = crate::error::or_panic(metrics::get(
                    m,
                    loss.accuracy_kind(),
                    loss.from_logits(),
                ));
                let name = if n_outputs > 1 {
                    format!("{}_{}", names[output], metric.name())
                } else {
                    metric.name().to_string()
                };
                (name, metric)
            })
            .collect()
    }
}

/// The update part of the default `train_step` (what `jit_compile` traces): forward under a
/// tape, `compute_loss`, gradients of the trainable weights, `optimizer.apply_gradients`.
/// Returns the loss and the predictions.
pub(crate) fn update_on_batch<M: KerasModel + ?Sized>(
    model: &mut M,
    batch: &Batch,
) -> (Tensor, Vec<Tensor>) {
    let tape = GradientTape::new();
    let y_pred = model.invoke_multi(&batch.x, true);
    let loss = model.compute_loss(batch, &y_pred);
    // loss scaling (a LossScaleOptimizer; `compile` adds one under mixed_float16):
    // differentiate loss * scale, divide the gradients by the scale
    let scale = model
        .training_state()
        .optimizer()
        .and_then(|o| o.loss_scale());
    let target = match scale {
        Some(s) => loss.clone() * s as f64,
        None => loss.clone(),
    };
    let vars = model.trainable_weights();
    let sources: Vec<&Tensor> = vars.iter().map(|v| v.as_tensor()).collect();
    let grads = unscale_gradients(tape.gradient_vec(&target, &sources), scale);
    drop(tape);
    let st = model.training_state();
    let opt = st
        .optimizer()
        .expect("You must call compile() before fit()");
    opt.apply_gradients(&grads, &vars.iter().collect::<Vec<_>>());
    (loss, y_pred)
}

/// Loss scaling's second half: gradients of `loss * scale` back in f32 and divided by the scale
/// (unchanged without a scale).
pub(crate) fn unscale_gradients(
    grads: Vec<Option<Tensor>>,
    scale: Option<f32>,
) -> Vec<Option<Tensor>> {
    match scale {
        Some(s) => {
            let inv = 1.0 / s as f64;
            grads
                .into_iter()
                .map(|g| g.map(|g| g.cast(DType::F32) * inv))
                .collect()
        }
        None => grads,
    }
}

/// The options of `compile` that Rust cannot take as keyword arguments, as builder calls.
pub struct CompileOptions<'a>(&'a mut TrainingState);

impl CompileOptions<'_> {
    /// Keras' `compile(jit_compile=True)`: `fit` traces the train step once per batch shape
    /// (forward, loss, gradients and optimizer update as one graph, see [`crate::function`])
    /// and replays it with elementwise chains fused. Per-epoch losses equal eager ones to float
    /// rounding. It traces the default step's update (a model that overrides `train_step`
    /// should leave it off), and runs eager steps under loss scaling.
    pub fn jit_compile(self, on: bool) -> Self {
        self.0.jit = on;
        self
    }
}

impl std::fmt::Debug for CompileOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CompileOptions {{ jit_compile: {} }}", self.0.jit)
    }
}

impl CompileOptions<'_> {
    /// A notebook cell ending in `model.compile(..)` shows nothing, as in Keras.
    pub fn evcxr_display(&self) {}
}

/// compile / fit / evaluate / predict for any model. Implement `training_state` (and `forward`
/// for several inputs or outputs) to make your own subclassed model trainable; override
/// `train_step`, `test_step` or `predict_step` to change what one step does.
pub trait KerasModel: Layer {
    /// Where `compile` keeps the optimizer, losses and metrics.
    fn training_state(&mut self) -> &mut TrainingState;

    /// The forward pass over all inputs to all outputs (one of each by default): the model's
    /// `call`. The steps run it through [`invoke_multi`](Self::invoke_multi).
    fn forward(&self, xs: &[Tensor], training: bool) -> Vec<Tensor> {
        vec![self.call_many(xs, training)]
    }

    /// `model(xs, training=...)` for any number of outputs: `forward` inside the hooks of
    /// every layer call (name scope, autocast), as [`Layer::invoke`] does for one output.
    fn invoke_multi(&self, xs: &[Tensor], training: bool) -> Vec<Tensor> {
        layer_call(&self.name(), xs, |xs| self.forward(xs, training))
    }

    /// Names of the outputs (for metric names like `probs_accuracy`); `output_0`, ... by default.
    fn output_names(&self) -> Vec<String> {
        Vec::new()
    }

    /// Keras' `compute_loss`: the compiled loss of each output (summed over outputs) plus the
    /// regularisation penalties of the layers (`self.losses()`).
    fn compute_loss(&mut self, batch: &Batch, y_pred: &[Tensor]) -> Tensor {
        let reg = self.losses();
        let st = self.training_state();
        assert!(
            !st.losses.is_empty(),
            "You must call compile() before training or evaluating the model"
        );
        if y_pred.len() != batch.y.len() {
            panic!(
                "the model has {} outputs but {} targets were given",
                y_pred.len(),
                batch.y.len()
            );
        }
        let mut total = compiled_loss(&st.losses, &batch.y, y_pred);
        for r in reg {
            total = total + r;
        }
        total
    }

    /// Bytes of the activations a `GradientTape` holds for backward after one training-mode
    /// forward pass on `x` ([`GradientTape::saved_bytes`]): what mixed precision halves.
    fn activation_bytes(&self, x: &Tensor) -> usize {
        let tape = GradientTape::new();
        let _y = self.invoke_multi(std::slice::from_ref(x), true);
        tape.saved_bytes()
    }

    /// Keras' `compute_metrics`: updates the compiled metrics with this batch and returns every
    /// result so far (`loss` first; the loss tracker is updated by the step itself, with
    /// `training_state().update_loss`).
    fn compute_metrics(&mut self, batch: &Batch, y_pred: &[Tensor]) -> Logs {
        let names = resolved_output_names(&*self, y_pred.len());
        let st = self.training_state();
        st.update_metrics(&names, &batch.y, y_pred);
        st.metrics_result()
    }

    /// One training step on one batch (Keras' `train_step(data)`), called by `fit`: forward
    /// under a tape, `compute_loss`, gradients of the trainable weights,
    /// `optimizer.apply_gradients`, then the metrics. Returns the metric results so far.
    fn train_step(&mut self, batch: &Batch) -> Logs {
        if let Some(strategy) = self.training_state().strategy.clone() {
            return crate::distribute::mirrored_train_step(self, &strategy, batch);
        }
        let (loss, y_pred) = update_on_batch(self, batch);
        self.training_state().update_loss(loss.item(), batch.len());
        self.compute_metrics(batch, &y_pred)
    }

    /// One evaluation step (Keras' `test_step(data)`), called by `evaluate` and for
    /// validation: forward in inference mode, `compute_loss`, metrics.
    fn test_step(&mut self, batch: &Batch) -> Logs {
        let y_pred = self.invoke_multi(&batch.x, false);
        let loss = self.compute_loss(batch, &y_pred);
        self.training_state().update_loss(loss.item(), batch.len());
        self.compute_metrics(batch, &y_pred)
    }

    /// One prediction step (Keras' `predict_step(data)`), called by `predict`: the outputs of
    /// one batch of inputs, in inference mode.
    fn predict_step(&self, x: &[Tensor]) -> Vec<Tensor> {
        self.invoke_multi(x, false)
            .into_iter()
            .map(|t| t.stop_gradient())
            .collect()
    }

    /// `model.compile(optimizer, loss, metrics)`; `loss` is a loss object or a name like "mse".
    /// Options follow as builder calls: `model.compile(..).jit_compile(true)`.
    fn compile(
        &mut self,
        optimizer: impl Optimizer + 'static,
        loss: impl IntoLoss,
        metrics: &[&str],
    ) -> CompileOptions<'_>
    where
        Self: Sized,
    {
        self.compile_multi(Box::new(optimizer), vec![loss.into_loss()], metrics);
        CompileOptions(self.training_state())
    }

    /// Compile with one loss per output (a single loss applies to every output).
    fn compile_multi(
        &mut self,
        optimizer: Box<dyn Optimizer>,
        losses: Vec<Box<dyn Loss>>,
        metrics: &[&str],
    ) {
        assert!(!losses.is_empty(), "compile: at least one loss is needed");
        for m in metrics {
            crate::error::or_panic(metrics::get(m, losses[0].accuracy_kind(), false));
        }
        // Keras: under mixed_float16, compile wraps the optimizer in a LossScaleOptimizer
        // (bf16 has f32's exponent range and needs no scaling)
        let policy = crate::keras::mixed_precision::global_policy();
        let optimizer: Box<dyn Optimizer> =
            if policy.compute_dtype() == DType::F16 && optimizer.loss_scale().is_none() {
                Box::new(LossScaleOptimizer::from_boxed(optimizer))
            } else {
                optimizer
            };
        let st = self.training_state();
        st.optimizer = Some(optimizer);
        st.losses = losses;
        st.metric_names = metrics.iter().map(|m| m.to_string()).collect();
        *st.metrics_mut() = MetricsState::default();
        // compiled inside `strategy.scope(..)`: fit distributes each batch over its replicas
        st.strategy = crate::distribute::current_strategy();
        st.jit = false;
        st.jit_steps.clear();
    }

    /// `model.fit(x, y)`: set options on the builder, then `.run()` returns the `History`.
    fn fit<'a>(&'a mut self, x: &Tensor, y: &Tensor) -> FitBuilder<'a, Self>
    where
        Self: Sized,
    {
        FitBuilder::new(self, vec![x.clone()], vec![y.clone()])
    }

    /// `model.fit(dataset)`: trains on a `Dataset` of `(x, y)` batches (already batched, as in
    /// tf.data); batch_size and shuffle are the dataset's business.
    fn fit_dataset<'a>(&'a mut self, ds: &Dataset<(Tensor, Tensor)>) -> FitBuilder<'a, Self>
    where
        Self: Sized,
    {
        let empty = crate::tensor::create::zeros([0]);
        let mut b = FitBuilder::new(self, vec![empty.clone()], vec![empty]);
        b.dataset = Some(dataset_batches(ds));
        b
    }

    /// `model.evaluate(dataset)` on a `Dataset` of `(x, y)` batches, streamed batch by batch.
    fn evaluate_dataset(&mut self, ds: &Dataset<(Tensor, Tensor)>) -> Logs {
        evaluate_batches(self, &dataset_batches(ds))
    }

    /// `fit` for models with several inputs and/or outputs.
    fn fit_multi<'a>(&'a mut self, xs: &[&Tensor], ys: &[&Tensor]) -> FitBuilder<'a, Self>
    where
        Self: Sized,
    {
        FitBuilder::new(
            self,
            xs.iter().map(|t| (*t).clone()).collect(),
            ys.iter().map(|t| (*t).clone()).collect(),
        )
    }

    /// Loss and metrics on data (`model.evaluate(x, y)`), batches of 32.
    fn evaluate(&mut self, x: &Tensor, y: &Tensor) -> Logs {
        self.evaluate_multi(&[x], &[y])
    }
    fn evaluate_multi(&mut self, xs: &[&Tensor], ys: &[&Tensor]) -> Logs {
        let xs: Vec<Tensor> = xs.iter().map(|t| (*t).clone()).collect();
        let ys: Vec<Tensor> = ys.iter().map(|t| (*t).clone()).collect();
        evaluate_batches(self, &array_batches(xs, ys, 32, false))
    }

    /// Predictions in inference mode (`model.predict(x)`), batches of 32.
    fn predict(&self, x: &Tensor) -> Tensor {
        self.predict_multi(&[x]).swap_remove(0)
    }
    /// Predictions of every output for several inputs.
    fn predict_multi(&self, xs: &[&Tensor]) -> Vec<Tensor> {
        let xs: Vec<Tensor> = xs.iter().map(|t| (*t).clone()).collect();
        if xs[0].dims()[0] == 0 {
            // one pass, so that no rows give empty outputs of the right shape
            return self.predict_step(&rows(&xs, 0, 0));
        }
        let mut parts: Vec<Vec<Tensor>> = Vec::new();
        for batch in array_batches(xs, Vec::new(), 32, false).iter() {
            let out = self.predict_step(&batch.x);
            if parts.is_empty() {
                parts = vec![Vec::new(); out.len()];
            }
            for (p, o) in parts.iter_mut().zip(out) {
                p.push(o);
            }
        }
        parts
            .iter()
            .map(|p| concat(&p.iter().collect::<Vec<_>>(), 0))
            .collect()
    }

    /// The model's layers, output shapes and parameter counts.
    fn summary(&self) -> Summary {
        // the totals come from the model's own weights: a subclassed model need not list its
        // sub-layers to be counted
        let rows = Summary::of_layers(&self.name(), &self.layers(), None).rows;
        Summary::finish(&self.name(), rows, &self.weights())
    }

    /// Saves all weights to a safetensors file (atomically).
    fn save_weights(&self, path: &str) -> crate::Result<()> {
        crate::keras::saving::save_variables(path, &self.weights())
    }
    /// Loads weights saved by `save_weights`; a mismatch names the tensor and both shapes.
    fn load_weights(&self, path: &str) -> crate::Result<()> {
        crate::keras::saving::load_variables(path, &self.weights())
    }
}

/// The compiled losses of every output, summed (no regularisation): `compute_loss`'s first
/// part, also used by a mirrored step on each replica's shard.
pub(crate) fn compiled_loss(losses: &[Box<dyn Loss>], y: &[Tensor], y_pred: &[Tensor]) -> Tensor {
    // losses compute in f32 whatever the policy (mixed precision)
    let f32 = |t: &Tensor| {
        if t.dtype().is_float() {
            t.cast(DType::F32)
        } else {
            t.clone()
        }
    };
    let mut total: Option<Tensor> = None;
    for (i, (p, y)) in y_pred.iter().zip(y).enumerate() {
        let l = losses[i.min(losses.len() - 1)].call(&f32(y), &f32(p));
        total = Some(match total {
            None => l,
            Some(t) => t + l,
        });
    }
    total.expect("at least one output")
}

/// Output names for metric names: the model's, or `output_0`, `output_1`, ...
fn resolved_output_names<M: KerasModel + ?Sized>(model: &M, n_out: usize) -> Vec<String> {
    let names = model.output_names();
    if names.len() == n_out {
        names
    } else {
        (0..n_out).map(|i| format!("output_{i}")).collect()
    }
}

/// `evaluate`: resets the metrics, streams every batch through `test_step`, returns the last
/// logs (the results over all batches).
fn evaluate_batches<M: KerasModel + ?Sized>(model: &mut M, batches: &Dataset<Batch>) -> Logs {
    model.training_state().reset_metrics();
    let mut logs = None;
    for batch in batches.iter() {
        crate::state::check_cancel();
        logs = Some(model.test_step(&batch));
    }
    logs.unwrap_or_else(|| model.training_state().metrics_result())
}

/// Where validation batches come from.
enum Validation {
    Arrays(Vec<Tensor>, Vec<Tensor>),
    Batches(Dataset<Batch>),
}

/// Options of `model.fit(x, y)`, set as builder methods, Keras' defaults otherwise.
pub struct FitBuilder<'a, M: KerasModel + ?Sized> {
    model: &'a mut M,
    xs: Vec<Tensor>,
    ys: Vec<Tensor>,
    epochs: usize,
    batch_size: usize,
    validation_split: f32,
    validation: Option<Validation>,
    shuffle: bool,
    verbose: u8,
    callbacks: Vec<Box<dyn Callback>>,
    dataset: Option<Dataset<Batch>>,
}

impl<'a, M: KerasModel + ?Sized> FitBuilder<'a, M> {
    fn new(model: &'a mut M, xs: Vec<Tensor>, ys: Vec<Tensor>) -> Self {
        FitBuilder {
            model,
            xs,
            ys,
            epochs: 1,
            batch_size: 32,
            validation_split: 0.0,
            validation: None,
            shuffle: true,
            verbose: 1,
            callbacks: Vec::new(),
            dataset: None,
        }
    }
    pub fn epochs(mut self, n: usize) -> Self {
        self.epochs = n;
        self
    }
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = n.max(1);
        self
    }
    /// Holds out the last `fraction` of the samples (before shuffling), as Keras does.
    pub fn validation_split(mut self, fraction: f32) -> Self {
        self.validation_split = fraction;
        self
    }
    pub fn validation_data(mut self, x: &Tensor, y: &Tensor) -> Self {
        self.validation = Some(Validation::Arrays(vec![x.clone()], vec![y.clone()]));
        self
    }
    pub fn shuffle(mut self, on: bool) -> Self {
        self.shuffle = on;
        self
    }
    /// 0 = silent, 1 = a line per epoch.
    pub fn verbose(mut self, v: u8) -> Self {
        self.verbose = v;
        self
    }
    pub fn callback(mut self, cb: impl Callback + 'static) -> Self {
        self.callbacks.push(Box::new(cb));
        self
    }
    /// Validation on a dataset of `(x, y)` batches, streamed batch by batch after each epoch.
    pub fn validation_dataset(mut self, ds: &Dataset<(Tensor, Tensor)>) -> Self {
        self.validation = Some(Validation::Batches(dataset_batches(ds)));
        self
    }
    pub fn callbacks(mut self, cbs: Vec<Box<dyn Callback>>) -> Self {
        self.callbacks.extend(cbs);
        self
    }

    /// Trains and returns the per-epoch `History`.
    #[track_caller]
    pub fn run(mut self) -> History {
        let dataset = self.dataset.take();
        if dataset.is_some() && self.validation_split > 0.0 {
            panic!("fit: validation_split is not supported with a Dataset; pass validation_data instead (as in Keras)");
        }
        let n_all = self.xs[0].dims().first().copied().unwrap_or(0);
        for t in self.xs.iter().chain(&self.ys) {
            if t.dims().first().copied().unwrap_or(0) != n_all {
                panic!(
                    "fit: every input and target needs the same number of samples; got {} and {}",
                    n_all,
                    t.dims().first().copied().unwrap_or(0)
                );
            }
        }
        if self.model.training_state().optimizer.is_none() {
            panic!("You must call compile() before fit()");
        }
        // The one batch path: arrays or a dataset become a Dataset of Batches.
        let (train, val) = match dataset {
            Some(ds) => (ds, self.validation.take()),
            None => {
                let (xs, ys, val) = match self.validation.take() {
                    Some(v) => (self.xs.clone(), self.ys.clone(), Some(v)),
                    None if self.validation_split > 0.0 => {
                        // the last fraction, before shuffling
                        let n_train = (n_all as f32 * (1.0 - self.validation_split)) as usize;
                        let split = |ts: &[Tensor]| {
                            (rows(ts, 0, n_train), rows(ts, n_train, n_all - n_train))
                        };
                        let ((xt, xv), (yt, yv)) = (split(&self.xs), split(&self.ys));
                        (xt, yt, Some(Validation::Arrays(xv, yv)))
                    }
                    None => (self.xs.clone(), self.ys.clone(), None),
                };
                (array_batches(xs, ys, self.batch_size, self.shuffle), val)
            }
        };
        let val = val.and_then(|v| match v {
            Validation::Arrays(xv, yv) if xv[0].dims()[0] > 0 => {
                Some(array_batches(xv, yv, self.batch_size, false))
            }
            Validation::Arrays(..) => None,
            Validation::Batches(ds) => Some(ds),
        });
        let steps = train.cardinality().max(0) as usize;
        let mut history = History::default();
        // the weights callbacks see; read again after the first step has built the layers
        let mut all_weights: Vec<Variable> = self.model.weights();
        let mut built = false;
        self.with_ctx(&all_weights.clone(), |cb, ctx| cb.on_train_begin(ctx));
        for epoch in 0..self.epochs {
            self.with_ctx(&all_weights.clone(), |cb, ctx| {
                cb.on_epoch_begin(epoch, ctx)
            });
            self.model.training_state().reset_metrics();
            let mut bar = (self.verbose > 0)
                .then(|| crate::display::ProgressBar::new(epoch + 1, self.epochs, steps));
            // draws this epoch's shuffle from the global generator
            let mut batches = train.try_iter();
            let mut logs = None;
            let mut step = 0;
            loop {
                let batch = match batches.next() {
                    None => break,
                    Some(Ok(b)) => b,
                    Some(Err(crate::Error::Cancelled)) => self.interrupted(epoch, step, steps),
                    Some(Err(e)) => panic!("{e}"),
                };
                if crate::state::is_cancelled() {
                    crate::state::reset_cancel();
                    self.interrupted(epoch, step, steps);
                }
                // The step runs whole: the interrupt is taken at the check above.
                // a mirrored model runs its replicas' steps eagerly (jit is per device)
                let jit = {
                    let st = self.model.training_state();
                    st.jit && st.strategy.is_none()
                };
                let blogs = crate::state::without_interrupts(|| {
                    if jit {
                        super::jit_step::train_step(self.model, &batch)
                    } else {
                        self.model.train_step(&batch)
                    }
                });
                if !built {
                    all_weights = self.model.weights();
                    built = true;
                }
                if let (0, 0, Some(lv)) = (epoch, step, blogs.get("loss")) {
                    if !lv.is_finite() {
                        eprintln!("warning: the loss is {lv} on the first batch; check the data and the learning rate");
                    }
                }
                if let Some(bar) = bar.as_mut() {
                    let pairs: Vec<(&str, f32)> =
                        blogs.0.iter().map(|(n, v)| (n.as_str(), *v)).collect();
                    bar.update(step + 1, &pairs);
                }
                self.with_ctx(&all_weights, |cb, ctx| {
                    cb.on_train_batch_end(step, &blogs, ctx)
                });
                logs = Some(blogs);
                step += 1;
            }
            let mut logs = logs.unwrap_or_else(|| self.model.training_state().metrics_result());
            if let Some(val) = &val {
                let vl = evaluate_batches(self.model, val);
                logs.0
                    .extend(vl.0.into_iter().map(|(n, v)| (format!("val_{n}"), v)));
            }
            if let Some(bar) = bar.as_mut() {
                let pairs: Vec<(&str, f32)> =
                    logs.0.iter().map(|(n, v)| (n.as_str(), *v)).collect();
                bar.finish(&pairs);
            }
            history.push(epoch, &logs);
            let stop = self.with_ctx(&all_weights, |cb, ctx| cb.on_epoch_end(epoch, &logs, ctx));
            if stop {
                break;
            }
        }
        self.with_ctx(&all_weights, |cb, ctx| cb.on_train_end(ctx));
        history
    }

    /// The interrupt (the kernel's SIGINT) stops training here, keeping the weights.
    fn interrupted(&self, epoch: usize, step: usize, steps: usize) -> ! {
        panic!(
            "KeyboardInterrupt: training stopped in epoch {}/{} at step {}/{}; the model keeps the weights it reached",
            epoch + 1,
            self.epochs,
            step,
            steps
        )
    }

    /// Runs `f` on every callback; returns whether one asked to stop training.
    fn with_ctx(
        &mut self,
        weights: &[Variable],
        mut f: impl FnMut(&mut Box<dyn Callback>, &mut CallbackContext),
    ) -> bool {
        if self.callbacks.is_empty() {
            return false;
        }
        let opt = self
            .model
            .training_state()
            .optimizer
            .as_deref_mut()
            .expect("compiled");
        let mut ctx = CallbackContext {
            weights,
            optimizer: opt,
            stop_training: false,
        };
        for cb in self.callbacks.iter_mut() {
            f(cb, &mut ctx);
        }
        ctx.stop_training
    }
}

/// Class labels from a model's outputs: argmax for several classes, threshold 0.5 for one.
pub fn predicted_classes(pred: &Tensor) -> Tensor {
    if pred.dims().last() == Some(&1) {
        pred.greater(0.5).cast(DType::I64).reshape([-1])
    } else {
        pred.argmax(-1)
    }
}
