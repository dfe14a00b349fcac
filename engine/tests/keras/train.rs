//! End-to-end `compile` / `fit` / `evaluate` / `predict` on two small problems with targets:
//! an Iris classifier (test accuracy >= 0.9) and a sine regression (MSE <= 0.01 on a grid).
//! Both are seeded and take well under a second in release.

use crate::common;
use crate::common::keras as keras_common;

use std::f32::consts::PI;

use common::{assert_close, panic_message};
use ferrolab::keras::models::predicted_classes;
use ferrolab::prelude::*;
use keras_common::seeded;

/// Standardises columns with the training set's mean and standard deviation.
fn standardise(train: &Tensor, other: &Tensor) -> (Tensor, Tensor) {
    let mean = train.mean_axis(0, true);
    let std = (train - &mean).square().mean_axis(0, true).sqrt();
    ((train - &mean) / &std, (other - &mean) / &std)
}

#[test]
fn iris_classifier_reaches_its_target_accuracy() {
    let _g = seeded(0);
    let (train, test) = datasets::iris().split(0.8, 42);
    assert_eq!((train.len(), test.len()), (120, 30));
    let (xtr, xte) = standardise(&train.x, &test.x);
    let mut model = Sequential::new()
        .add(Dense::new(16).activation("relu"))
        .add(Dense::new(3))
        .input_shape([4]);
    model.compile(
        Adam::new(0.01),
        SparseCategoricalCrossentropy::from_logits(),
        &["accuracy"],
    );
    let history = model
        .fit(&xtr, &train.y)
        .epochs(60)
        .batch_size(16)
        .validation_split(0.2)
        .verbose(0)
        .run();
    let losses = history.get("loss").unwrap();
    println!("{history}");
    assert_eq!(history.len(), 60);
    assert!(
        losses[59] < 0.25 * losses[0],
        "loss {} -> {}",
        losses[0],
        losses[59]
    );
    // validation_split holds out the last 20% (24 rows) before shuffling, as Keras does
    let (xv, yv) = (xtr.narrow(0, 96, 24), train.y.narrow(0, 96, 24));
    let val = model.evaluate(&xv, &yv);
    assert_close(
        &[
            history.last("val_loss").unwrap(),
            history.last("val_accuracy").unwrap(),
        ],
        &[val.get("loss").unwrap(), val.get("accuracy").unwrap()],
        1e-5,
    );
    let logs = model.evaluate(&xte, &test.y);
    let acc = logs.get("accuracy").unwrap();
    println!("iris test {logs}");
    assert!(acc >= 0.9, "iris test accuracy {acc} < 0.9");
    // evaluate's accuracy is the fraction of argmax(predict) equal to the labels
    let classes = predicted_classes(&model.predict(&xte)).to_vec::<i64>();
    let hits = classes
        .iter()
        .zip(test.y.to_vec::<i64>())
        .filter(|(p, y)| **p == *y)
        .count();
    assert_close(&[acc], &[hits as f32 / 30.0], 1e-7);
    // and its loss is the loss of predict's logits
    let want = SparseCategoricalCrossentropy::from_logits()
        .call(&test.y, &model.predict(&xte))
        .item();
    assert_close(&[logs.get("loss").unwrap()], &[want], 1e-5);
    // predict on no rows gives no rows, like Keras' predict on an empty array
    assert_eq!(model.predict(&xte.narrow(0, 0, 0)).dims(), &[0, 3]);
}

#[test]
fn sine_regression_reaches_its_target_mse() {
    let _g = seeded(1);
    // y = sin(x) on [-pi, pi], 200 points; checked on 61 points of [-3, 3] in between
    let x = linspace(-PI, PI, 200).reshape([200, 1]);
    let y = x.sin();
    let mut model = Sequential::new()
        .add(Dense::new(32).activation("tanh"))
        .add(Dense::new(32).activation("tanh"))
        .add(Dense::new(1))
        .input_shape([1]);
    model.compile(Adam::new(0.01), "mse", &["mae"]);
    let history = model
        .fit(&x, &y)
        .epochs(150)
        .batch_size(20)
        .verbose(0)
        .run();
    let grid = linspace(-3.0, 3.0, 61).reshape([61, 1]);
    let logs = model.evaluate(&grid, &grid.sin());
    let mse = logs.get("loss").unwrap();
    println!(
        "sine grid {logs}; final train loss {}",
        history.last("loss").unwrap()
    );
    assert!(mse <= 0.01, "sine MSE {mse} > 0.01");
    // the "mae" metric is the mean |error| of predict
    let err = (model.predict(&grid) - grid.sin()).abs().mean().item();
    assert_close(&[logs.get("mae").unwrap()], &[err], 1e-5);
    let train_mae = history.last("mae").unwrap();
    assert!(train_mae < 0.1, "train mae {train_mae}");
}

#[test]
fn validation_data_shuffling_and_errors() {
    let _g = seeded(2);
    let x = line(64);
    let y = &x * 2.0 + 1.0;
    let mut model = Sequential::new().add(Dense::new(1)).input_shape([1]);
    model.compile(SGD::new(0.1), "mse", &[]);
    let h = model
        .fit(&x, &y)
        .epochs(30)
        .batch_size(8)
        .validation_data(&x, &y)
        .verbose(0)
        .run();
    // validation on the training data: val_loss after the last epoch = evaluate now
    let now = model.evaluate(&x, &y).get("loss").unwrap();
    assert_close(&[h.last("val_loss").unwrap()], &[now], 1e-6);
    assert!(now < 1e-4, "y = 2x + 1 not fitted: {now}");
    let w = model.weights();
    assert_close(&w[0].to_vec::<f32>(), &[2.0], 1e-2);
    assert_close(&w[1].to_vec::<f32>(), &[1.0], 1e-2);
    // fit before compile, and x / y with different sample counts, are clear errors
    let mut fresh = Sequential::new().add(Dense::new(1)).input_shape([1]);
    let msg = panic_message(|| fresh.fit(&x, &y).verbose(0).run());
    assert!(msg.contains("compile()"), "{msg}");
    let msg = panic_message(|| model.fit(&x, &y.narrow(0, 0, 10)).verbose(0).run());
    assert!(msg.contains("got 64 and 10"), "{msg}");
}

/// n evenly spaced values in [-1, 1] as (n, 1).
fn line(n: usize) -> Tensor {
    linspace(-1.0, 1.0, n).reshape([n, 1])
}

#[test]
fn regularisation_penalties_join_the_loss_and_frozen_weights_stay_put() {
    let _g = seeded(3);
    let x = line(32);
    let y = &x * 2.0 + 1.0;
    let mut model = Sequential::new()
        .add(
            Dense::new(4)
                .activation("tanh")
                .kernel_regularizer(l2(0.01)),
        )
        .add(Dense::new(1))
        .input_shape([1]);
    model.compile(SGD::new(0.05), "mse", &[]);
    // evaluate's loss = MSE(y, predict) + 0.01 * sum(kernel_0^2)
    let k0 = model.weights()[0].clone();
    let mse = MeanSquaredError.call(&y, &model.predict(&x)).item();
    let penalty = 0.01 * k0.square().sum().item();
    let logs = model.evaluate(&x, &y);
    assert_close(&[logs.get("loss").unwrap()], &[mse + penalty], 1e-5);
    // freezing the first layer (trainable = False): fit leaves it alone, trains the rest
    let frozen: Vec<Vec<f32>> = model.weights()[..2].iter().map(|w| w.to_vec()).collect();
    let head0 = model.weights()[2].to_vec::<f32>();
    for w in &model.weights()[..2] {
        w.set_trainable(false);
    }
    let s = model.summary();
    assert_eq!((s.trainable_params, s.non_trainable_params), (5, 8));
    model.fit(&x, &y).epochs(3).batch_size(8).verbose(0).run();
    let w = model.weights();
    let now: Vec<Vec<f32>> = w
        .iter()
        .filter(|v| !v.trainable())
        .map(|v| v.to_vec())
        .collect();
    assert_eq!(now, frozen);
    let head = w.iter().find(|v| v.trainable()).unwrap().to_vec::<f32>();
    assert_ne!(head, head0);
}
