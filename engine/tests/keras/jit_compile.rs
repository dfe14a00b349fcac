//! `model.compile(..).jit_compile(true)`: `fit` traces the train step once per batch signature
//! and replays it fused. Checked against the same model trained eagerly from the same seed.

use crate::common::keras::seeded;
use ferrolab::prelude::*;

/// Per-epoch losses and accuracies of the digits MLP (with dropout, so random draws replay
/// too), 3 epochs, seed 5; and how many train steps were traced.
fn digits_mlp(jit: bool) -> (Vec<f32>, Vec<f32>, usize) {
    let _g = seeded(5);
    let (train, _) = datasets::digits().split(0.8, 42);
    let x = &train.x / 16.0;
    let mut model = Sequential::new()
        .add(Dense::new(64).activation("relu"))
        .add(Dropout::new(0.1))
        .add(Dense::new(10))
        .input_shape([64]);
    model
        .compile(
            Adam::new(1e-3),
            SparseCategoricalCrossentropy::from_logits(),
            &["accuracy"],
        )
        .jit_compile(jit);
    let h = model
        .fit(&x, &train.y)
        .epochs(3)
        .batch_size(32)
        .verbose(0)
        .run();
    let traces = model.training_state().jit_trace_count();
    (
        h.get("loss").unwrap().to_vec(),
        h.get("accuracy").unwrap().to_vec(),
        traces,
    )
}

#[test]
fn jit_compiled_fit_matches_eager_per_epoch() {
    let (eager, eager_acc, eager_traces) = digits_mlp(false);
    let (jit, jit_acc, traces) = digits_mlp(true);
    assert_eq!(eager_traces, 0);
    // 1437 rows in batches of 32: 44 full batches and one of 29, so two signatures
    assert_eq!(traces, 2);
    for (e, j) in eager.iter().zip(&jit) {
        assert!(
            (e - j).abs() <= 1e-5 * e.abs(),
            "eager {eager:?} vs jit {jit:?}"
        );
    }
    for (e, j) in eager_acc.iter().zip(&jit_acc) {
        assert!(
            (e - j).abs() <= 1e-5,
            "eager {eager_acc:?} vs jit {jit_acc:?}"
        );
    }
    assert!(
        eager[2] < eager[0],
        "training must make progress: {eager:?}"
    );
}
