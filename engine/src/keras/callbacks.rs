//! Callbacks for `fit`: EarlyStopping, ModelCheckpoint, LearningRateScheduler, ReduceLROnPlateau,
//! and the [`Callback`] trait for your own.

use crate::autodiff::Variable;
use crate::keras::models::Logs;
use crate::keras::optimizers::Optimizer;
use crate::tensor::Tensor;

/// What a callback may look at and change during `fit`.
pub struct CallbackContext<'a> {
    pub weights: &'a [Variable],
    pub optimizer: &'a mut dyn Optimizer,
    /// Set to true to stop after this epoch (`model.stop_training = True`).
    pub stop_training: bool,
}

pub trait Callback: Send {
    fn on_train_begin(&mut self, _ctx: &mut CallbackContext) {}
    fn on_epoch_begin(&mut self, _epoch: usize, _ctx: &mut CallbackContext) {}
    fn on_train_batch_end(&mut self, _batch: usize, _logs: &Logs, _ctx: &mut CallbackContext) {}
    fn on_epoch_end(&mut self, _epoch: usize, _logs: &Logs, _ctx: &mut CallbackContext) {}
    fn on_train_end(&mut self, _ctx: &mut CallbackContext) {}
}

/// Whether a smaller value of `monitor` is better (Keras' mode="auto").
fn lower_is_better(monitor: &str) -> bool {
    !(monitor.contains("acc")
        || monitor.contains("precision")
        || monitor.contains("recall")
        || monitor.contains("auc"))
}

fn improved(monitor: &str, value: f32, best: f32, min_delta: f32) -> bool {
    if lower_is_better(monitor) {
        value < best - min_delta
    } else {
        value > best + min_delta
    }
}

fn initial_best(monitor: &str) -> f32 {
    if lower_is_better(monitor) {
        f32::INFINITY
    } else {
        f32::NEG_INFINITY
    }
}

/// `keras.callbacks.EarlyStopping(monitor="val_loss", patience=0, restore_best_weights=False)`.
pub struct EarlyStopping {
    monitor: String,
    patience: usize,
    min_delta: f32,
    restore_best_weights: bool,
    best: f32,
    wait: usize,
    best_weights: Option<Vec<Tensor>>,
    /// The epoch at which training stopped, if it did.
    pub stopped_epoch: Option<usize>,
}

impl EarlyStopping {
    pub fn new(monitor: &str) -> Self {
        EarlyStopping {
            monitor: monitor.to_string(),
            patience: 0,
            min_delta: 0.0,
            restore_best_weights: false,
            best: initial_best(monitor),
            wait: 0,
            best_weights: None,
            stopped_epoch: None,
        }
    }
    pub fn patience(mut self, p: usize) -> Self {
        self.patience = p;
        self
    }
    pub fn min_delta(mut self, d: f32) -> Self {
        self.min_delta = d;
        self
    }
    pub fn restore_best_weights(mut self, on: bool) -> Self {
        self.restore_best_weights = on;
        self
    }
}

impl Callback for EarlyStopping {
    fn on_train_begin(&mut self, _ctx: &mut CallbackContext) {
        self.best = initial_best(&self.monitor);
        self.wait = 0;
        self.best_weights = None;
        self.stopped_epoch = None;
    }
    fn on_epoch_end(&mut self, epoch: usize, logs: &Logs, ctx: &mut CallbackContext) {
        let Some(v) = logs.get(&self.monitor) else {
            eprintln!(
                "EarlyStopping: metric \"{}\" is not in the logs ({}); skipping",
                self.monitor,
                logs.names().join(", ")
            );
            return;
        };
        if improved(&self.monitor, v, self.best, self.min_delta) {
            self.best = v;
            self.wait = 0;
            if self.restore_best_weights {
                self.best_weights = Some(ctx.weights.iter().map(|w| w.read_value()).collect());
            }
        } else {
            self.wait += 1;
            if self.wait > self.patience {
                ctx.stop_training = true;
                self.stopped_epoch = Some(epoch);
                if let Some(best) = &self.best_weights {
                    for (w, b) in ctx.weights.iter().zip(best) {
                        w.assign(b);
                    }
                    println!(
                        "Restoring model weights from the end of the best epoch ({} = {:.4}).",
                        self.monitor, self.best
                    );
                }
                println!("Epoch {}: early stopping", epoch + 1);
            }
        }
    }
}

/// `keras.callbacks.ModelCheckpoint(filepath, monitor="val_loss", save_best_only=False)`:
/// saves the weights (safetensors, atomically) after each epoch, or only when `monitor` improves.
pub struct ModelCheckpoint {
    filepath: String,
    monitor: String,
    save_best_only: bool,
    best: f32,
    /// How many times a checkpoint was written.
    pub saves: usize,
}

impl ModelCheckpoint {
    pub fn new(filepath: &str) -> Self {
        ModelCheckpoint {
            filepath: filepath.to_string(),
            monitor: "val_loss".into(),
            save_best_only: false,
            best: f32::INFINITY,
            saves: 0,
        }
    }
    pub fn monitor(mut self, m: &str) -> Self {
        self.monitor = m.to_string();
        self.best = initial_best(m);
        self
    }
    pub fn save_best_only(mut self, on: bool) -> Self {
        self.save_best_only = on;
        self
    }
}

impl Callback for ModelCheckpoint {
    fn on_epoch_end(&mut self, epoch: usize, logs: &Logs, ctx: &mut CallbackContext) {
        if self.save_best_only {
            match logs.get(&self.monitor) {
                Some(v) if improved(&self.monitor, v, self.best, 0.0) => self.best = v,
                _ => return,
            }
        }
        let path = self
            .filepath
            .replace("{epoch}", &format!("{:02}", epoch + 1));
        match crate::keras::saving::save_variables(&path, ctx.weights) {
            Ok(()) => self.saves += 1,
            Err(e) => eprintln!("ModelCheckpoint: could not save {path}: {e}"),
        }
    }
}

/// `keras.callbacks.LearningRateScheduler(schedule)`: `schedule(epoch, lr) -> new lr`.
pub struct LearningRateScheduler {
    schedule: Box<dyn Fn(usize, f32) -> f32 + Send>,
}
impl LearningRateScheduler {
    pub fn new(schedule: impl Fn(usize, f32) -> f32 + Send + 'static) -> Self {
        LearningRateScheduler {
            schedule: Box::new(schedule),
        }
    }
}
impl Callback for LearningRateScheduler {
    fn on_epoch_begin(&mut self, epoch: usize, ctx: &mut CallbackContext) {
        let lr = (self.schedule)(epoch, ctx.optimizer.learning_rate());
        ctx.optimizer.set_learning_rate(lr);
    }
}

/// `keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.1, patience=10,
/// min_delta=1e-4, cooldown=0, min_lr=0, verbose=0)`, with Keras' rules: an epoch improves when
/// it beats the best by more than `min_delta`; after `patience` epochs without improvement the
/// rate is multiplied by `factor` (not below `min_lr`), then `cooldown` epochs pass before
/// waiting starts again.
pub struct ReduceLROnPlateau {
    monitor: String,
    factor: f32,
    patience: usize,
    min_delta: f32,
    cooldown: usize,
    min_lr: f32,
    verbose: u8,
    best: f32,
    wait: usize,
    cooldown_counter: usize,
}
impl ReduceLROnPlateau {
    pub fn new(monitor: &str) -> Self {
        ReduceLROnPlateau {
            monitor: monitor.to_string(),
            factor: 0.1,
            patience: 10,
            min_delta: 1e-4,
            cooldown: 0,
            min_lr: 0.0,
            verbose: 0,
            best: initial_best(monitor),
            wait: 0,
            cooldown_counter: 0,
        }
    }
    pub fn factor(mut self, f: f32) -> Self {
        self.factor = f;
        self
    }
    pub fn patience(mut self, p: usize) -> Self {
        self.patience = p;
        self
    }
    /// The least change that counts as an improvement (default 1e-4).
    pub fn min_delta(mut self, d: f32) -> Self {
        self.min_delta = d;
        self
    }
    /// Epochs to wait after a reduction before counting epochs without improvement again.
    pub fn cooldown(mut self, c: usize) -> Self {
        self.cooldown = c;
        self
    }
    pub fn min_lr(mut self, m: f32) -> Self {
        self.min_lr = m;
        self
    }
    /// 1 prints a line at each reduction (Keras' default, 0, is silent).
    pub fn verbose(mut self, v: u8) -> Self {
        self.verbose = v;
        self
    }
}
impl Callback for ReduceLROnPlateau {
    fn on_epoch_end(&mut self, epoch: usize, logs: &Logs, ctx: &mut CallbackContext) {
        let Some(v) = logs.get(&self.monitor) else {
            return;
        };
        // The order of Keras' checks: leave cooldown first, then judge this epoch.
        if self.cooldown_counter > 0 {
            self.cooldown_counter -= 1;
            self.wait = 0;
        }
        if improved(&self.monitor, v, self.best, self.min_delta) {
            self.best = v;
            self.wait = 0;
        } else if self.cooldown_counter == 0 {
            self.wait += 1;
            if self.wait >= self.patience {
                let old = ctx.optimizer.learning_rate();
                if old > self.min_lr {
                    let new = (old * self.factor).max(self.min_lr);
                    ctx.optimizer.set_learning_rate(new);
                    if self.verbose > 0 {
                        println!(
                            "Epoch {}: ReduceLROnPlateau reducing learning rate to {new:e}.",
                            epoch + 1
                        );
                    }
                    self.cooldown_counter = self.cooldown;
                    self.wait = 0;
                }
            }
        }
    }
}
