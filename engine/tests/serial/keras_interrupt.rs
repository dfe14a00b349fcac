//! An interrupt (the kernel's SIGINT sets the process-wide cancel flag) stops `fit` cleanly:
//! a `KeyboardInterrupt` panic that says where training stopped, the weights reached so far are
//! kept, the flag is cleared, and the model trains again afterwards.
//!
//! The cancel flag is process-wide, so the test holds `exclusive()` (see `main.rs`): no other
//! test runs in the process meanwhile.

use crate::common;
use crate::common::keras as keras_common;

use std::sync::{Arc, Mutex};

use common::{assert_contains, panic_message};
use ferrolab::keras::callbacks::CallbackContext;
use ferrolab::keras::models::Logs;
use ferrolab::prelude::*;
use keras_common::assert_bits_eq;

/// Presses Ctrl-C after the given batch of the first epoch, and records the weights then.
struct InterruptAfter {
    batch: usize,
    seen: Arc<Mutex<Vec<Tensor>>>,
}

impl Callback for InterruptAfter {
    fn on_train_batch_end(&mut self, batch: usize, _logs: &Logs, ctx: &mut CallbackContext) {
        if batch == self.batch {
            *self.seen.lock().unwrap() = ctx.weights.iter().map(|w| w.read_value()).collect();
            ferrolab::state::request_cancel();
        }
    }
}

#[test]
fn an_interrupt_stops_fit_and_keeps_the_weights() {
    let _alone = crate::exclusive();
    let x = linspace(-1.0, 1.0, 64).reshape([64, 1]);
    let y = &x * 2.0;
    let mut model = Sequential::new()
        .add(Dense::new(1).kernel_initializer("zeros"))
        .input_shape([1]);
    model.compile(SGD::new(0.1), "mse", &[]);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let cb = InterruptAfter {
        batch: 2,
        seen: seen.clone(),
    };
    let msg = panic_message(|| {
        model
            .fit(&x, &y)
            .epochs(5)
            .batch_size(8)
            .shuffle(false)
            .callback(cb)
            .verbose(0)
            .run()
    });
    // batches 0, 1, 2 ran; the interrupt is seen before batch 3 of 8
    assert_contains(
        &msg,
        &[
            "KeyboardInterrupt",
            "epoch 1/5 at step 3/8",
            "keeps the weights",
        ],
    );
    assert!(!ferrolab::state::is_cancelled(), "the flag is cleared");
    let at_interrupt = seen.lock().unwrap().clone();
    assert_eq!(at_interrupt.len(), 2);
    for (w, saved) in model.weights().iter().zip(&at_interrupt) {
        assert_bits_eq(w, saved);
    }
    assert_ne!(
        at_interrupt[0].to_vec::<f32>(),
        vec![0.0],
        "three steps were taken"
    );
    // the model is usable: training resumes from the kept weights
    let h = model.fit(&x, &y).epochs(20).batch_size(8).verbose(0).run();
    assert!(h.last("loss").unwrap() < 1e-3, "{h}");
}
