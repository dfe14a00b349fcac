//! `compile`, `fit`, `evaluate` and `predict`, shared by every kind of model through the
//! [`KerasModel`] trait. The training step is exactly the TF2 custom loop:
//! tape -> forward -> loss (+ regularisers) -> gradient -> `optimizer.apply_gradients`.

use super::{History, Logs, Summary};
use crate::autodiff::{GradientTape, Variable};
use crate::dtype::DType;
use crate::keras::callbacks::{Callback, CallbackContext};
use crate::keras::layers::Layer;
use crate::keras::losses::{IntoLoss, Loss};
use crate::keras::metrics::{self, Metric};
use crate::keras::optimizers::Optimizer;
use crate::tensor::{concat, create::from_vec, Tensor};

/// What `compile` stores in a model.
#[derive(Default)]
pub struct TrainingState {
    pub(crate) optimizer: Option<Box<dyn Optimizer>>,
    pub(crate) losses: Vec<Box<dyn Loss>>,
    pub(crate) metric_names: Vec<String>,
}

impl TrainingState {
    /// The compiled optimizer, for custom loops and callbacks.
    pub fn optimizer(&mut self) -> Option<&mut (dyn Optimizer + 'static)> {
        self.optimizer.as_deref_mut()
    }
    /// Fresh metrics for output `output`; with several outputs they are named after the output
    /// (`{prefix}{output_name}_accuracy`), as Keras does.
    fn metrics_for(
        &self,
        output: usize,
        names: &[String],
        prefix: &str,
    ) -> Vec<(String, Box<dyn Metric>)> {
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
                    format!("{prefix}{}_{}", names[output], metric.name())
                } else {
                    format!("{prefix}{}", metric.name())
                };
                (name, metric)
            })
            .collect()
    }
}

/// Rows `idx` of every tensor.
fn take_rows(ts: &[Tensor], idx: &Tensor) -> Vec<Tensor> {
    ts.iter().map(|t| t.gather(idx, 0)).collect()
}

fn rows(ts: &[Tensor], start: usize, len: usize) -> Vec<Tensor> {
    ts.iter().map(|t| t.narrow(0, start, len)).collect()
}

/// compile / fit / evaluate / predict for any model. Implement `training_state` (and `forward`
/// for several inputs or outputs) to make your own subclassed model trainable.
pub trait KerasModel: Layer {
    /// Where `compile` keeps the optimizer, losses and metrics.
    fn training_state(&mut self) -> &mut TrainingState;

    /// The forward pass over all inputs to all outputs (one of each by default).
    fn forward(&self, xs: &[Tensor], training: bool) -> Vec<Tensor> {
        vec![self.call_many(xs, training)]
    }

    /// Names of the outputs (for metric names like `probs_accuracy`); `output_0`, ... by default.
    fn output_names(&self) -> Vec<String> {
        Vec::new()
    }

    /// `model.compile(optimizer, loss, metrics)`; `loss` is a loss object or a name like "mse".
    fn compile(
        &mut self,
        optimizer: impl Optimizer + 'static,
        loss: impl IntoLoss,
        metrics: &[&str],
    ) where
        Self: Sized,
    {
        self.compile_multi(Box::new(optimizer), vec![loss.into_loss()], metrics);
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
        let st = self.training_state();
        st.optimizer = Some(optimizer);
        st.losses = losses;
        st.metric_names = metrics.iter().map(|m| m.to_string()).collect();
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
    fn fit_dataset<'a>(
        &'a mut self,
        ds: &crate::data::Dataset<(Tensor, Tensor)>,
    ) -> FitBuilder<'a, Self>
    where
        Self: Sized,
    {
        let empty = crate::tensor::create::zeros([0]);
        let mut b = FitBuilder::new(self, vec![empty.clone()], vec![empty]);
        b.dataset = Some(ds.clone());
        b
    }

    /// `model.evaluate(dataset)` on a `Dataset` of `(x, y)` batches.
    fn evaluate_dataset(&mut self, ds: &crate::data::Dataset<(Tensor, Tensor)>) -> Logs {
        let (xs, ys): (Vec<Tensor>, Vec<Tensor>) = ds.iter().unzip();
        let (x, y) = (
            concat(&xs.iter().collect::<Vec<_>>(), 0),
            concat(&ys.iter().collect::<Vec<_>>(), 0),
        );
        let bs = xs.first().map(|t| t.dims()[0]).unwrap_or(32).max(1);
        evaluate_impl(self, &[x], &[y], bs, "")
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
        evaluate_impl(
            self,
            std::slice::from_ref(x),
            std::slice::from_ref(y),
            32,
            "",
        )
    }
    fn evaluate_multi(&mut self, xs: &[&Tensor], ys: &[&Tensor]) -> Logs {
        let xs: Vec<Tensor> = xs.iter().map(|t| (*t).clone()).collect();
        let ys: Vec<Tensor> = ys.iter().map(|t| (*t).clone()).collect();
        evaluate_impl(self, &xs, &ys, 32, "")
    }

    /// Predictions in inference mode (`model.predict(x)`), batches of 32.
    fn predict(&self, x: &Tensor) -> Tensor {
        self.predict_multi(&[x]).swap_remove(0)
    }
    /// Predictions of every output for several inputs.
    fn predict_multi(&self, xs: &[&Tensor]) -> Vec<Tensor> {
        let xs: Vec<Tensor> = xs.iter().map(|t| (*t).clone()).collect();
        let n = xs[0].dims()[0];
        let mut parts: Vec<Vec<Tensor>> = Vec::new();
        let mut s = 0;
        // at least one pass, so that no rows give empty outputs of the right shape
        loop {
            crate::state::check_cancel();
            let len = 32.min(n - s);
            let out = self.forward(&rows(&xs, s, len), false);
            if parts.is_empty() {
                parts = vec![Vec::new(); out.len()];
            }
            for (p, o) in parts.iter_mut().zip(out) {
                p.push(o.stop_gradient());
            }
            s += len;
            if s >= n {
                break;
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

/// Total loss of a batch (sum over outputs) plus regularisation penalties.
fn batch_loss<M: KerasModel + ?Sized>(
    model: &mut M,
    preds: &[Tensor],
    ys: &[Tensor],
    with_reg: bool,
) -> Tensor {
    let reg = if with_reg { model.losses() } else { Vec::new() };
    let st = model.training_state();
    assert!(
        !st.losses.is_empty(),
        "You must call compile() before training or evaluating the model"
    );
    if preds.len() != ys.len() {
        panic!(
            "the model has {} outputs but {} targets were given",
            preds.len(),
            ys.len()
        );
    }
    let mut total: Option<Tensor> = None;
    for (i, (p, y)) in preds.iter().zip(ys).enumerate() {
        let l = st.losses[i.min(st.losses.len() - 1)].call(y, p);
        total = Some(match total {
            None => l,
            Some(t) => t + l,
        });
    }
    let mut total = total.expect("at least one output");
    for r in reg {
        total = total + r;
    }
    total
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

fn evaluate_impl<M: KerasModel + ?Sized>(
    model: &mut M,
    xs: &[Tensor],
    ys: &[Tensor],
    batch: usize,
    prefix: &str,
) -> Logs {
    let n = xs[0].dims()[0];
    let n_out = ys.len();
    let names = resolved_output_names(model, n_out);
    let mut mets: Vec<Vec<(String, Box<dyn Metric>)>> = {
        let st = model.training_state();
        (0..n_out)
            .map(|o| st.metrics_for(o, &names, prefix))
            .collect()
    };
    let (mut loss_sum, mut s) = (0f64, 0);
    while s < n {
        crate::state::check_cancel();
        let len = batch.min(n - s);
        let (xb, yb) = (rows(xs, s, len), rows(ys, s, len));
        let preds = model.forward(&xb, false);
        loss_sum += batch_loss(model, &preds, &yb, true).item() as f64 * len as f64;
        for (o, ms) in mets.iter_mut().enumerate() {
            for (_, m) in ms.iter_mut() {
                m.update_state(&yb[o], &preds[o]);
            }
        }
        s += len;
    }
    let mut logs = Logs::default();
    logs.set(
        &format!("{prefix}loss"),
        (loss_sum / n.max(1) as f64) as f32,
    );
    for ms in &mets {
        for (name, m) in ms {
            logs.set(name, m.result());
        }
    }
    logs
}

/// Options of `model.fit(x, y)`, set as builder methods, Keras' defaults otherwise.
pub struct FitBuilder<'a, M: KerasModel + ?Sized> {
    model: &'a mut M,
    xs: Vec<Tensor>,
    ys: Vec<Tensor>,
    epochs: usize,
    batch_size: usize,
    validation_split: f32,
    validation_data: Option<(Vec<Tensor>, Vec<Tensor>)>,
    shuffle: bool,
    verbose: u8,
    callbacks: Vec<Box<dyn Callback>>,
    dataset: Option<crate::data::Dataset<(Tensor, Tensor)>>,
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
            validation_data: None,
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
        self.validation_data = Some((vec![x.clone()], vec![y.clone()]));
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
    /// Validation on a dataset of `(x, y)` batches.
    pub fn validation_dataset(mut self, ds: &crate::data::Dataset<(Tensor, Tensor)>) -> Self {
        let (xs, ys): (Vec<Tensor>, Vec<Tensor>) = ds.iter().unzip();
        let (x, y) = (
            concat(&xs.iter().collect::<Vec<_>>(), 0),
            concat(&ys.iter().collect::<Vec<_>>(), 0),
        );
        self.validation_data = Some((vec![x], vec![y]));
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
        let (xs, ys, val) = if let Some(v) = self.validation_data.take() {
            (self.xs.clone(), self.ys.clone(), Some(v))
        } else if self.validation_split > 0.0 {
            let n_train = (n_all as f32 * (1.0 - self.validation_split)) as usize;
            let split = |ts: &[Tensor]| (rows(ts, 0, n_train), rows(ts, n_train, n_all - n_train));
            let ((xt, xv), (yt, yv)) = (split(&self.xs), split(&self.ys));
            (xt, yt, Some((xv, yv)))
        } else {
            (self.xs.clone(), self.ys.clone(), None)
        };
        let n = xs[0].dims()[0];
        let steps = match &dataset {
            Some(ds) => ds.cardinality().max(0) as usize,
            None => n.div_ceil(self.batch_size),
        };
        let n_out = ys.len();
        let names = resolved_output_names(self.model, n_out);
        let mut history = History::default();
        let mut vars: Vec<Variable> = Vec::new();
        let mut all_weights: Vec<Variable> = self.model.weights();
        self.with_ctx(&all_weights.clone(), |cb, ctx| cb.on_train_begin(ctx));
        for epoch in 0..self.epochs {
            self.with_ctx(&all_weights.clone(), |cb, ctx| {
                cb.on_epoch_begin(epoch, ctx)
            });
            let mut mets: Vec<Vec<(String, Box<dyn Metric>)>> = {
                let st = self.model.training_state();
                (0..n_out).map(|o| st.metrics_for(o, &names, "")).collect()
            };
            let mut order: Vec<i64> = (0..n as i64).collect();
            if self.shuffle && dataset.is_none() {
                crate::random::with_global_rng(|r| r.shuffle(&mut order));
            }
            let (mut loss_sum, mut seen) = (0f64, 0usize);
            let mut bar = (self.verbose > 0)
                .then(|| crate::display::ProgressBar::new(epoch + 1, self.epochs, steps));
            // Batches come from the arrays (shuffled indices) or from the Dataset's iterator.
            let bs = self.batch_size;
            let batches: Box<dyn Iterator<Item = (Vec<Tensor>, Vec<Tensor>)> + '_> = match &dataset
            {
                Some(ds) => Box::new(ds.iter().map(|(x, y)| (vec![x], vec![y]))),
                None => Box::new((0..steps).map(|step| {
                    let s = step * bs;
                    let len = bs.min(n - s);
                    let idx = crate::error::or_panic(from_vec(order[s..s + len].to_vec(), [len]));
                    (take_rows(&xs, &idx), take_rows(&ys, &idx))
                })),
            };
            for (step, (xb, yb)) in batches.enumerate() {
                if crate::state::is_cancelled() {
                    crate::state::reset_cancel();
                    panic!(
                        "KeyboardInterrupt: training stopped in epoch {}/{} at step {}/{}; the model keeps the weights it reached",
                        epoch + 1,
                        self.epochs,
                        step,
                        steps
                    );
                }
                let len = xb[0].dims().first().copied().unwrap_or(1);
                let tape = GradientTape::new();
                let preds = self.model.forward(&xb, true);
                if vars.is_empty() {
                    vars = self.model.trainable_weights();
                    all_weights = self.model.weights();
                }
                let loss = batch_loss(self.model, &preds, &yb, true);
                let refs: Vec<&Variable> = vars.iter().collect();
                let grads = tape.gradient_vec(
                    &loss,
                    &refs.iter().map(|v| v.as_tensor()).collect::<Vec<_>>(),
                );
                drop(tape);
                let opt = self
                    .model
                    .training_state()
                    .optimizer
                    .as_mut()
                    .expect("compiled");
                opt.apply_gradients(&grads, &refs);
                let lv = loss.item();
                if !lv.is_finite() && step == 0 && epoch == 0 {
                    eprintln!("warning: the loss is {lv} on the first batch; check the data and the learning rate");
                }
                loss_sum += lv as f64 * len as f64;
                seen += len;
                for (o, ms) in mets.iter_mut().enumerate() {
                    for (_, m) in ms.iter_mut() {
                        m.update_state(&yb[o], &preds[o]);
                    }
                }
                let mut blogs = Logs::default();
                blogs.set("loss", (loss_sum / seen as f64) as f32);
                if let Some(bar) = bar.as_mut() {
                    for ms in &mets {
                        for (name, m) in ms {
                            blogs.set(name, m.result());
                        }
                    }
                    let pairs: Vec<(&str, f32)> =
                        blogs.0.iter().map(|(n, v)| (n.as_str(), *v)).collect();
                    bar.update(step + 1, &pairs);
                }
                self.with_ctx(&all_weights, |cb, ctx| {
                    cb.on_train_batch_end(step, &blogs, ctx)
                });
            }
            let mut logs = Logs::default();
            logs.set("loss", (loss_sum / seen.max(1) as f64) as f32);
            for ms in &mets {
                for (name, m) in ms {
                    logs.set(name, m.result());
                }
            }
            if let Some((xv, yv)) = &val {
                if xv[0].dims()[0] > 0 {
                    let vl = evaluate_impl(self.model, xv, yv, self.batch_size, "val_");
                    logs.0.extend(vl.0);
                }
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
