//! `model.fit` on a tf.data-style `Dataset`, and `evaluate_dataset`.

use ferrolab::prelude::*;

#[test]
fn fit_on_a_dataset_reaches_iris_accuracy() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
    set_seed(3);
    let (train, test) = datasets::iris().split(120, 7);
    let ds = Dataset::from_tensor_slices((&train.x, &train.y))
        .shuffle(120, 1)
        .batch(16);
    let val = Dataset::from_tensor_slices((&test.x, &test.y)).batch(16);
    let mut model = Sequential::new()
        .add(Dense::new(16).activation("relu"))
        .add(Dense::new(3))
        .input_shape([4]);
    model.compile(
        Adam::new(0.02),
        SparseCategoricalCrossentropy::from_logits(),
        &["accuracy"],
    );
    let h = model
        .fit_dataset(&ds)
        .epochs(40)
        .validation_dataset(&val)
        .verbose(0)
        .run();
    // 8 batches per epoch (120 / 16 rounded up), one History row per epoch
    assert_eq!(h.len(), 40);
    assert!(h.get("val_loss").is_some());
    let logs = model.evaluate_dataset(&val);
    let acc = logs.get("accuracy").unwrap();
    assert!(acc >= 0.9, "iris test accuracy {acc}");
    // the same figure as evaluating the arrays directly
    let direct = model.evaluate(&test.x, &test.y).get("accuracy").unwrap();
    assert!((acc - direct).abs() < 1e-6);
}

#[test]
#[should_panic(expected = "validation_split is not supported with a Dataset")]
fn validation_split_with_a_dataset_is_refused() {
    let _rng = crate::common::global_rng(); // draws unseeded: initial weights, fit
    let x = zeros([8, 2]);
    let y = zeros([8, 1]);
    let ds = Dataset::from_tensor_slices((&x, &y)).batch(4);
    let mut model = Sequential::new().add(Dense::new(1)).input_shape([2]);
    model.compile(SGD::new(0.1), "mse", &[]);
    model
        .fit_dataset(&ds)
        .validation_split(0.2)
        .verbose(0)
        .run();
}
