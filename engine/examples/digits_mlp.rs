//! Trains a 64-128-64-10 MLP on the UCI 8x8 digits (issue 5's speed and quality check).
//!
//! Data: 1,500 training and 297 test images, split with seed 42. Model: relu MLP, Adam(1e-3),
//! batch 32, 20 epochs. Prints steps/second and test accuracy, and fails below 0.97 accuracy.
//!
//!     cargo run --release --example digits_mlp
//!
//! `tests/bench_keras.py` runs the same workload in PyTorch eager in the same run for the ratio.

use std::time::Instant;

use ferrolab::prelude::*;

fn main() {
    ferrolab::state::set_num_threads(1);
    // Weight-init seed (the data split is fixed at 42); SEED=n overrides it.
    set_seed(
        std::env::var("SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0),
    );
    let (train, test) = datasets::digits().split(1500, 42);
    let mut model = Sequential::new()
        .add(Dense::new(128).activation("relu"))
        .add(Dense::new(64).activation("relu"))
        .add(Dense::new(10))
        .input_shape([64]);
    model.compile(
        Adam::new(1e-3),
        SparseCategoricalCrossentropy::from_logits(),
        &["accuracy"],
    );
    let epochs = 20;
    let t = Instant::now();
    let history = model
        .fit(&train.x, &train.y)
        .epochs(epochs)
        .batch_size(32)
        .verbose(0)
        .run();
    let secs = t.elapsed().as_secs_f64();
    let steps = epochs * 1500usize.div_ceil(32);
    let logs = model.evaluate(&test.x, &test.y);
    let acc = logs.get("accuracy").unwrap();
    println!(
        "final train loss {:.4}, train accuracy {:.4}",
        history.last("loss").unwrap(),
        history.last("accuracy").unwrap()
    );
    println!("steps_per_second {:.0}", steps as f64 / secs);
    println!("train_seconds {:.3}", secs);
    println!("test_accuracy {:.4}", acc);
    assert!(acc >= 0.97, "test accuracy {acc} is below the 0.97 target");
}
