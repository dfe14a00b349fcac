//! Subclassing and custom training loops, as in the TF2 guides.
//!
//! - An `Autoencoder { encoder, decoder }` that implements `Layer` (its `call` composes the two)
//!   and `KerasModel` (a `TrainingState` for `compile`), trained with `fit`; its parts are
//!   callable on their own and share its weights.
//! - "Writing a training loop from scratch": `GradientTape` + `optimizer.apply_gradients`,
//!   checked against one step computed by hand and against `fit`, which must do exactly the same.

use crate::common;
use crate::common::keras as keras_common;

use common::assert_close;
use ferrolab::prelude::*;
use keras_common::{assert_bits_eq, seeded, set_weights};

// ------------------------------------------------------------------------------------------------
// Subclassed model

struct Autoencoder {
    encoder: Sequential,
    decoder: Sequential,
    state: TrainingState,
}

impl Autoencoder {
    fn new(latent: usize) -> Autoencoder {
        Autoencoder {
            encoder: Sequential::new()
                .add(Dense::new(32).activation("relu"))
                .add(Dense::new(latent).activation("relu")),
            decoder: Sequential::new()
                .add(Dense::new(32).activation("relu"))
                .add(Dense::new(64).activation("sigmoid")),
            state: TrainingState::default(),
        }
    }
}

impl Layer for Autoencoder {
    fn name(&self) -> String {
        "autoencoder".into()
    }
    fn class_name(&self) -> &'static str {
        "Autoencoder"
    }
    fn call(&self, x: &Tensor, training: bool) -> Tensor {
        let encoded = self.encoder.call(x, training);
        self.decoder.call(&encoded, training)
    }
    fn weights(&self) -> Vec<Variable> {
        let mut w = self.encoder.weights();
        w.extend(self.decoder.weights());
        w
    }
}

impl KerasModel for Autoencoder {
    fn training_state(&mut self) -> &mut TrainingState {
        &mut self.state
    }
}

#[test]
fn a_subclassed_autoencoder_trains_with_fit_and_its_parts_work_alone() {
    let _g = seeded(0);
    let (train, test) = datasets::digits().split(1500, 42);
    let mut ae = Autoencoder::new(8);
    assert!(ae.weights().is_empty(), "built lazily");
    ae.call(&zeros([1, 64]), false);
    // 64*32+32 + 32*8+8 + 8*32+32 + 32*64+64
    assert_eq!(ae.count_params(), 2080 + 264 + 288 + 2112);
    assert_eq!(ae.trainable_weights().len(), 8);
    ae.compile(Adam::new(0.01), "mse", &["mae"]);
    let before = ae.evaluate(&test.x, &test.x).get("loss").unwrap();
    let k0 = ae.encoder.weights()[0].read_value();
    let h = ae
        .fit(&train.x, &train.x)
        .epochs(15)
        .batch_size(64)
        .verbose(0)
        .run();
    let after = ae.evaluate(&test.x, &test.x).get("loss").unwrap();
    println!("reconstruction mse {before} -> {after}\n{h}");
    assert!(after < 0.5 * before, "mse {before} -> {after}");
    assert!(after < 0.05, "test reconstruction mse {after}");
    // fit trained the encoder's own variables (the model holds no copies)
    let k1 = ae.encoder.weights()[0].to_vec::<f32>();
    assert_ne!(k0.to_vec::<f32>(), k1);
    // the encoder and the decoder are models of their own: encode, then decode, is the model
    let codes = ae.encoder.predict(&test.x);
    assert_eq!(codes.dims(), &[297, 8]);
    let decoded = ae.decoder.predict(&codes);
    assert_close(
        &decoded.to_vec::<f32>(),
        &ae.predict(&test.x).to_vec::<f32>(),
        1e-6,
    );
    // summaries count every weight, the parts' and the whole model's
    assert_eq!(ae.decoder.summary().total_params, 288 + 2112);
    let s = ae.summary();
    assert_eq!(
        (s.model_name.as_str(), s.total_params),
        ("autoencoder", 4744)
    );
    assert_eq!(s.trainable_params, 4744);
}

// ------------------------------------------------------------------------------------------------
// Custom training loop

/// y = 3x + 2 at 256 seeded points of [-1, 1].
fn line_data() -> (Tensor, Tensor) {
    let x = uniform([256, 1], -1.0, 1.0, Some(1));
    let y = &x * 3.0 + 2.0;
    (x, y)
}

/// One step of the TF2 loop: tape, forward in training mode, loss, gradients, apply.
fn train_step(model: &Sequential, opt: &mut dyn Optimizer, x: &Tensor, y: &Tensor) -> f32 {
    let tape = GradientTape::new();
    let pred = model.call(x, true);
    let loss = MeanSquaredError.call(y, &pred);
    let weights = model.trainable_weights();
    let sources: Vec<&Tensor> = weights.iter().map(|w| w.as_tensor()).collect();
    let grads = tape.gradient_vec(&loss, &sources);
    opt.apply_gradients(&grads, &weights.iter().collect::<Vec<_>>());
    loss.item()
}

#[test]
fn custom_loop_step_matches_the_hand_computed_gradient() {
    // Building a Dense layer draws its initial weights from the global generator: hold the
    // seed lock so this test never shifts the seeded draws of the tests running beside it.
    let _g = seeded(2);
    // L = mean((w x + b - y)^2)  =>  dL/dw = 2 mean((wx + b - y) x), dL/db = 2 mean(wx + b - y)
    let model = Sequential::new().add(Dense::new(1)).input_shape([1]);
    set_weights(&model, &[tensor([[0.5]]), tensor([0.0])]);
    let x = tensor([[1.0], [2.0], [-1.0]]);
    let y = tensor([[5.0], [8.0], [-1.0]]);
    // residuals r = 0.5 x - y = [-4.5, -7, 0.5]: dw = 2 (-4.5 - 14 - 0.5) / 3 = -38/3,
    // db = 2 (-11) / 3 = -22/3; SGD(0.01): w = 0.5 + 0.38/3, b = 0.22/3
    let mut opt = SGD::new(0.01);
    let loss = train_step(&model, &mut opt, &x, &y);
    assert_close(&[loss], &[(20.25 + 49.0 + 0.25) / 3.0], 1e-6);
    let w = model.weights();
    assert_close(&w[0].to_vec::<f32>(), &[0.5 + 0.38 / 3.0], 1e-6);
    assert_close(&w[1].to_vec::<f32>(), &[0.22 / 3.0], 1e-6);
}

#[test]
fn custom_loop_over_a_dataset_learns_a_line() {
    let _g = seeded(1);
    let (x, y) = line_data();
    let model = Sequential::new().add(Dense::new(1)).input_shape([1]);
    let mut opt = Adam::new(0.05);
    let ds = Dataset::from_tensor_slices((&x, &y))
        .shuffle(256, 3)
        .batch(32);
    let mut last = f32::INFINITY;
    for _epoch in 0..40 {
        for (xb, yb) in &ds {
            last = train_step(&model, &mut opt, &xb, &yb);
        }
    }
    println!("final batch loss {last}");
    let w = model.weights();
    assert_close(&w[0].to_vec::<f32>(), &[3.0], 1e-3);
    assert_close(&w[1].to_vec::<f32>(), &[2.0], 1e-3);
    assert_eq!(opt.iterations(), 40 * 8);
}

#[test]
fn fit_is_exactly_the_custom_loop() {
    let _g = seeded(3);
    // the same start, full-batch steps in the same order: fit and the loop agree bit for bit
    let (x, y) = line_data();
    let make = || {
        let m = Sequential::new()
            .add(Dense::new(4).activation("tanh"))
            .add(Dense::new(1))
            .input_shape([1]);
        let w0 = [
            tensor([[0.1, -0.2, 0.3, 0.4]]),
            tensor([0.0, 0.1, -0.1, 0.2]),
            tensor([[0.5], [-0.5], [0.25], [1.0]]),
            tensor([0.3]),
        ];
        set_weights(&m, &w0);
        m
    };
    let looped = make();
    let mut opt = Adam::new(0.01);
    for _ in 0..5 {
        train_step(&looped, &mut opt, &x, &y);
    }
    let mut fitted = make();
    fitted.compile(Adam::new(0.01), MeanSquaredError, &[]);
    fitted
        .fit(&x, &y)
        .epochs(5)
        .batch_size(256)
        .shuffle(false)
        .verbose(0)
        .run();
    for (a, b) in looped.weights().iter().zip(fitted.weights()) {
        assert_bits_eq(a, &b);
    }
}
