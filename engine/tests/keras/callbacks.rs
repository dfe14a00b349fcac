//! Callbacks: EarlyStopping (with restore_best_weights), ModelCheckpoint (save_best_only and
//! per-epoch files), LearningRateScheduler, ReduceLROnPlateau, and a callback of our own.
//!
//! The set-up makes the validation loss worsen on purpose: the model learns y = x while the
//! validation targets are y = -x. Starting from a zero kernel, every epoch moves w towards 1 and
//! val_loss = mean(((w + 1) x + b)^2) up, so the best epoch is the first one. Batches are not
//! shuffled, so nothing here draws from the global generator.

use crate::common::keras as keras_common;

use std::sync::{Arc, Mutex};

use ferrolab::keras::callbacks::CallbackContext;
use ferrolab::keras::models::Logs;
use ferrolab::prelude::*;
use keras_common::assert_bits_eq;

/// What our own callback saw at the end of each epoch: the learning rate and every weight.
#[derive(Default)]
struct Seen {
    lrs: Vec<f32>,
    weights: Vec<Vec<Tensor>>,
    batches: usize,
}

struct Recorder(Arc<Mutex<Seen>>);

impl Callback for Recorder {
    fn on_train_batch_end(&mut self, _batch: usize, _logs: &Logs, _ctx: &mut CallbackContext) {
        self.0.lock().unwrap().batches += 1;
    }
    fn on_epoch_end(&mut self, _epoch: usize, _logs: &Logs, ctx: &mut CallbackContext) {
        let mut s = self.0.lock().unwrap();
        s.lrs.push(ctx.optimizer.learning_rate());
        s.weights
            .push(ctx.weights.iter().map(|w| w.read_value()).collect());
    }
}

fn recorder() -> (Recorder, Arc<Mutex<Seen>>) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    (Recorder(seen.clone()), seen)
}

/// Dense(1) from zero weights, compiled with SGD(lr) and MSE; x in [-1, 1] (64 rows).
fn model_and_data(lr: f32) -> (Sequential, Tensor) {
    let mut m = Sequential::new()
        .add(Dense::new(1).kernel_initializer("zeros"))
        .input_shape([1]);
    m.compile(SGD::new(lr), "mse", &[]);
    (m, linspace(-1.0, 1.0, 64).reshape([64, 1]))
}

fn weights_of(m: &Sequential) -> Vec<Tensor> {
    m.weights().iter().map(|w| w.read_value()).collect()
}

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("ferrolab-cb-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn early_stopping_stops_after_patience_and_restores_the_best_weights() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
    let (mut m, x) = model_and_data(0.1);
    let (rec, seen) = recorder();
    let h = m
        .fit(&x, &x)
        .epochs(20)
        .batch_size(16)
        .shuffle(false)
        .validation_data(&x, &(-&x))
        .callback(rec)
        .callback(
            EarlyStopping::new("val_loss")
                .patience(2)
                .restore_best_weights(true),
        )
        .verbose(0)
        .run();
    let val = h.get("val_loss").unwrap();
    println!("val_loss per epoch {val:?}");
    assert!(
        val.windows(2).all(|w| w[1] > w[0]),
        "val_loss must rise here"
    );
    // best at epoch 0; epochs 1, 2, 3 do not improve; wait = 3 > patience 2 stops after epoch 3
    assert_eq!(h.len(), 4);
    let s = seen.lock().unwrap();
    assert_eq!(s.batches, 4 * 4, "4 epochs of 64 / 16 batches");
    for (now, best) in weights_of(&m).iter().zip(&s.weights[0]) {
        assert_bits_eq(now, best);
    }
    assert_ne!(
        s.weights[3][0].to_vec::<f32>(),
        s.weights[0][0].to_vec::<f32>()
    );
    let now = m.evaluate(&x, &(-&x)).get("loss").unwrap();
    assert!(
        (now - val[0]).abs() <= 1e-6 * (1.0 + val[0]),
        "{now} vs {}",
        val[0]
    );
}

#[test]
fn early_stopping_without_restore_keeps_the_last_weights_and_does_not_stop_on_improvement() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
    let (mut m, x) = model_and_data(0.1);
    let (rec, seen) = recorder();
    let h = m
        .fit(&x, &x)
        .epochs(20)
        .batch_size(16)
        .shuffle(false)
        .validation_data(&x, &(-&x))
        .callback(EarlyStopping::new("val_loss").patience(1))
        .callback(rec)
        .verbose(0)
        .run();
    assert_eq!(h.len(), 3);
    let s = seen.lock().unwrap();
    for (now, last) in weights_of(&m).iter().zip(&s.weights[2]) {
        assert_bits_eq(now, last);
    }
    // monitoring the training loss, which keeps falling: all 8 epochs run
    let (mut m2, x2) = model_and_data(0.1);
    let h2 = m2
        .fit(&x2, &x2)
        .epochs(8)
        .batch_size(16)
        .shuffle(false)
        .callback(EarlyStopping::new("loss").patience(0))
        .verbose(0)
        .run();
    assert_eq!(h2.len(), 8);
}

#[test]
fn model_checkpoint_save_best_only_writes_the_best_epoch() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
    let dir = temp_dir("best");
    let path = dir.join("best.safetensors");
    let (mut m, x) = model_and_data(0.1);
    let (rec, seen) = recorder();
    m.fit(&x, &x)
        .epochs(5)
        .batch_size(16)
        .shuffle(false)
        .validation_data(&x, &(-&x))
        .callback(rec)
        .callback(ModelCheckpoint::new(path.to_str().unwrap()).save_best_only(true))
        .verbose(0)
        .run();
    // only epoch 0 improved val_loss: the file holds epoch 0's weights, not the final ones
    let (fresh, _) = model_and_data(0.1);
    fresh.load_weights(path.to_str().unwrap()).unwrap();
    let s = seen.lock().unwrap();
    for (loaded, best) in weights_of(&fresh).iter().zip(&s.weights[0]) {
        assert_bits_eq(loaded, best);
    }
    assert_ne!(
        weights_of(&m)[0].to_vec::<f32>(),
        s.weights[0][0].to_vec::<f32>()
    );
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        ["best.safetensors"],
        "no temporary files left behind"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn model_checkpoint_writes_one_file_per_epoch_with_the_epoch_template() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
    let dir = temp_dir("every");
    let pattern = dir.join("ckpt-{epoch}.safetensors");
    let (mut m, x) = model_and_data(0.1);
    let (rec, seen) = recorder();
    m.fit(&x, &x)
        .epochs(3)
        .batch_size(32)
        .shuffle(false)
        .callback(rec)
        .callback(ModelCheckpoint::new(pattern.to_str().unwrap()))
        .verbose(0)
        .run();
    let s = seen.lock().unwrap();
    for epoch in 0..3 {
        let p = dir.join(format!("ckpt-{:02}.safetensors", epoch + 1));
        let (fresh, _) = model_and_data(0.1);
        fresh.load_weights(p.to_str().unwrap()).unwrap();
        for (loaded, want) in weights_of(&fresh).iter().zip(&s.weights[epoch]) {
            assert_bits_eq(loaded, want);
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn learning_rate_scheduler_sets_the_rate_used_by_each_epoch() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
                                            // schedule(epoch, lr): keep lr for two epochs, then halve it every epoch
    let schedule = |epoch: usize, lr: f32| if epoch < 2 { lr } else { lr * 0.5 };
    let (mut m, x) = model_and_data(0.1);
    let y = &x * 3.0 + 1.0;
    let (rec, seen) = recorder();
    m.fit(&x, &y)
        .epochs(5)
        .batch_size(64)
        .shuffle(false)
        .callback(LearningRateScheduler::new(schedule))
        .callback(rec)
        .verbose(0)
        .run();
    let s = seen.lock().unwrap();
    assert_eq!(s.lrs, vec![0.1, 0.1, 0.05, 0.025, 0.0125]);
    // the same five full-batch steps by hand with those rates give the same weights exactly
    let (manual, _) = model_and_data(0.1);
    let mut opt = SGD::new(0.1);
    for lr in &s.lrs {
        opt.set_learning_rate(*lr);
        let tape = GradientTape::new();
        let loss = MeanSquaredError.call(&y, &manual.call(&x, true));
        let ws = manual.trainable_weights();
        let grads = tape.gradient_vec(&loss, &ws.iter().map(|w| w.as_tensor()).collect::<Vec<_>>());
        opt.apply_gradients(&grads, &ws.iter().collect::<Vec<_>>());
    }
    for (a, b) in weights_of(&manual).iter().zip(weights_of(&m)) {
        assert_bits_eq(a, &b);
    }
}

/// The learning rate after each epoch of a fit whose validation loss never improves after the
/// first epoch (targets -x while training on x), under `plateau`.
fn rates_on_a_plateau(plateau: ReduceLROnPlateau, epochs: usize) -> Vec<f32> {
    let (mut m, x) = model_and_data(0.1);
    let (rec, seen) = recorder();
    m.fit(&x, &x)
        .epochs(epochs)
        .batch_size(16)
        .shuffle(false)
        .validation_data(&x, &(-&x))
        .callback(plateau)
        .callback(rec)
        .verbose(0)
        .run();
    let lrs = seen.lock().unwrap().lrs.clone();
    lrs
}

fn assert_rates(got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() < 1e-7, "{got:?} vs {want:?}");
    }
}

#[test]
fn reduce_lr_on_plateau_cuts_the_rate_down_to_min_lr() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
    let plateau = ReduceLROnPlateau::new("val_loss")
        .factor(0.5)
        .patience(1)
        .min_lr(0.03);
    // epoch 0 is the best; each later epoch waits 1 >= patience and cuts: 0.05, then 0.025
    // floored at 0.03, then stays
    assert_rates(
        &rates_on_a_plateau(plateau, 5),
        &[0.1, 0.05, 0.03, 0.03, 0.03],
    );
}

#[test]
fn reduce_lr_on_plateau_waits_out_its_cooldown_like_keras() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
    let plateau = ReduceLROnPlateau::new("val_loss")
        .factor(0.5)
        .patience(1)
        .cooldown(2);
    // Keras' order: epoch 1 cuts and starts a cooldown of 2; epoch 2 is in cooldown; epoch 3
    // leaves it (the counter reaches 0 before the check), waits 1 >= patience and cuts again;
    // epoch 4 is in cooldown, epoch 5 cuts.
    assert_rates(
        &rates_on_a_plateau(plateau, 6),
        &[0.1, 0.05, 0.05, 0.025, 0.025, 0.0125],
    );
}

/// A callback of our own that stops training after `n` epochs (`model.stop_training = True`).
struct StopAfter(usize);
impl Callback for StopAfter {
    fn on_epoch_end(&mut self, epoch: usize, _logs: &Logs, ctx: &mut CallbackContext) {
        if epoch + 1 == self.0 {
            ctx.stop_training = true;
        }
    }
}

#[test]
fn a_custom_callback_can_stop_training_and_see_every_batch() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
    let (mut m, x) = model_and_data(0.1);
    let (rec, seen) = recorder();
    let h = m
        .fit(&x, &x)
        .epochs(10)
        .batch_size(10)
        .shuffle(false)
        .callbacks(vec![Box::new(rec), Box::new(StopAfter(3))])
        .verbose(0)
        .run();
    assert_eq!(h.len(), 3);
    // ceil(64 / 10) = 7 batches per epoch
    assert_eq!(seen.lock().unwrap().batches, 21);
}
