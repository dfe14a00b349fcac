//! Trains Conv2D(16,3) -> MaxPooling2D -> Conv2D(32,3) -> Flatten -> Dense(10) ("same" padding,
//! relu) on the UCI 8x8
//! digits as images (issue 5). Same split (1,500 / 297, seed 42), Adam(1e-3), batch 32, 20 epochs.
//! Prints steps/second and test accuracy, and fails below 0.97 accuracy.
//!
//!     cargo run --release --example digits_cnn

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
    let (xtr, xte) = (train.images(), test.images());
    let mut model = Sequential::new()
        .add(Conv2D::new(16, 3).padding("same").activation("relu"))
        .add(MaxPooling2D::new(2))
        .add(Conv2D::new(32, 3).padding("same").activation("relu"))
        .add(Flatten::new())
        .add(Dense::new(10))
        .input_shape([8, 8, 1]);
    println!("{}", model.summary());
    model.compile(
        Adam::new(1e-3),
        SparseCategoricalCrossentropy::from_logits(),
        &["accuracy"],
    );
    let epochs = 20;
    let t = Instant::now();
    let history = model
        .fit(&xtr, &train.y)
        .epochs(epochs)
        .batch_size(32)
        .verbose(0)
        .run();
    let secs = t.elapsed().as_secs_f64();
    let steps = epochs * 1500usize.div_ceil(32);
    let acc = model.evaluate(&xte, &test.y).get("accuracy").unwrap();
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
