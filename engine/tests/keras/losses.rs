//! Losses against hand-computed values (the same inputs as the examples in Keras' docs, whose
//! printed results are quoted), their gradients against finite differences, and the metrics
//! (accuracy variants, precision, recall, MAE/MSE, confusion_matrix) against counts by hand.
//!
//! Every loss is the mean over the batch ("sum_over_batch_size"); probabilities are clipped to
//! [1e-7, 1 - 1e-7] as in Keras.

use crate::common;

use common::{assert_close, assert_contains, check_grad, panic_message, rnd};
use ferrolab::keras::losses::{self, AccuracyKind};
use ferrolab::keras::metrics::{self, Metric};
use ferrolab::prelude::*;

fn value(loss: &dyn Loss, y_true: &Tensor, y_pred: &Tensor) -> f32 {
    loss.call(y_true, y_pred).item()
}

/// Keras docs' y_true = [[0, 1], [0, 0]] with y_pred = [[0.6, 0.4], [0.4, 0.6]].
fn docs_pair() -> (Tensor, Tensor) {
    (
        tensor([[0.0, 1.0], [0.0, 0.0]]),
        tensor([[0.6, 0.4], [0.4, 0.6]]),
    )
}

#[test]
fn regression_losses_match_hand_computed_values() {
    // MSE / MAE: y_pred = [[1, 1], [1, 0]] -> errors [1, 0, 1, 0]: both 0.5 (Keras docs: 0.5)
    let (t, _) = docs_pair();
    let p = tensor([[1.0, 1.0], [1.0, 0.0]]);
    assert_close(&[value(&MeanSquaredError, &t, &p)], &[0.5], 1e-7);
    assert_close(&[value(&MeanAbsoluteError, &t, &p)], &[0.5], 1e-7);
    // errors [0.5, -1, 2] -> MSE (0.25 + 1 + 4) / 3 = 1.75, MAE 3.5 / 3
    let (a, b) = (tensor([1.0, 2.0, 3.0]), tensor([0.5, 3.0, 1.0]));
    assert_close(&[value(&MeanSquaredError, &a, &b)], &[1.75], 1e-6);
    assert_close(&[value(&MeanAbsoluteError, &a, &b)], &[3.5 / 3.0], 1e-6);
    // Huber(delta=1): |e| = [0.6, 0.6, 0.4, 0.6] all quadratic: 0.5 e^2 -> mean 0.155 (docs: 0.155)
    let (t, p) = docs_pair();
    assert_close(&[value(&Huber::new(1.0), &t, &p)], &[0.155], 1e-6);
    // delta = 0.5: 0.6 is linear, 0.5 (0.6 - 0.25) = 0.175; 0.4 stays 0.08 -> 0.605 / 4
    assert_close(&[value(&Huber::new(0.5), &t, &p)], &[0.151_25], 1e-6);
    // (N,) targets line up with (N, 1) predictions
    let col = b.reshape([3, 1]);
    assert_close(&[value(&MeanSquaredError, &a, &col)], &[1.75], 1e-6);
    let msg = panic_message(|| MeanSquaredError.call(&tensor([1.0, 2.0]), &b));
    assert_contains(&msg, &["MeanSquaredError", "(2,)", "(3,)"]);
}

#[test]
fn crossentropies_match_hand_computed_values() {
    // BCE on probabilities: -[ln 0.4, ln 0.4, ln 0.6, ln 0.4] / 4 = 0.8149245 (docs: 0.815)
    let (t, p) = docs_pair();
    assert_close(
        &[value(&BinaryCrossentropy::new(), &t, &p)],
        &[0.814_924_5],
        1e-6,
    );
    // BCE from logits, docs: y_true [0, 1, 0, 0], logits [-18.6, 0.51, 2.94, -12.8] -> 0.865
    // softplus(x) - x z: [8.4e-9, ln(1 + e^-0.51), 2.94 + ln(1 + e^-2.94), 2.8e-6] / 4
    let (z, x) = (
        tensor([0.0, 1.0, 0.0, 0.0]),
        tensor([-18.6, 0.51, 2.94, -12.8]),
    );
    assert_close(
        &[value(&BinaryCrossentropy::from_logits(), &z, &x)],
        &[0.865_458],
        1e-5,
    );
    // a certain, wrong prediction is clipped, not infinite: -ln(1e-7) = 16.118
    let l = value(&BinaryCrossentropy::new(), &tensor([1.0]), &tensor([0.0]));
    assert_close(&[l], &[16.118_096], 1e-5);
    // CCE, docs: [[0, 1, 0], [0, 0, 1]] vs [[0.05, 0.95, 0], [0.1, 0.8, 0.1]]:
    // -(ln 0.95 + ln 0.1) / 2 = 1.1769392 (docs: 1.177)
    let oh = tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]);
    let probs = tensor([[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]]);
    assert_close(
        &[value(&CategoricalCrossentropy::new(), &oh, &probs)],
        &[1.176_939_2],
        1e-6,
    );
    // SCCE with labels [1, 2] is the same number
    let labels = tensor([1i64, 2]);
    let scce = value(&SparseCategoricalCrossentropy::new(), &labels, &probs);
    assert_close(&[scce], &[1.176_939_2], 1e-6);
    // float labels are accepted too, as in Keras
    let scce_f = value(
        &SparseCategoricalCrossentropy::new(),
        &tensor([1.0, 2.0]),
        &probs,
    );
    assert_close(&[scce_f], &[1.176_939_2], 1e-6);
    // from logits: -log_softmax([2, 1, 0])[0] = ln(e^2 + e + 1) - 2 = 0.4076059
    let logits = tensor([[2.0, 1.0, 0.0]]);
    let cce = value(
        &CategoricalCrossentropy::from_logits(),
        &tensor([[1.0, 0.0, 0.0]]),
        &logits,
    );
    assert_close(&[cce], &[0.407_605_97], 1e-6);
    let s = value(
        &SparseCategoricalCrossentropy::from_logits(),
        &tensor([0i64]),
        &logits,
    );
    assert_close(&[s], &[0.407_605_97], 1e-6);
    // unnormalised probabilities are renormalised first, as Keras does: [2, 1, 1] -> [0.5, ...]
    let r = value(
        &CategoricalCrossentropy::new(),
        &tensor([[1.0, 0.0, 0.0]]),
        &tensor([[2.0, 1.0, 1.0]]),
    );
    assert_close(&[r], &[std::f32::consts::LN_2], 1e-6);
}

#[test]
fn kl_divergence_matches_hand_computed_values() {
    // sum_j t log(t / p), t clipped to [1e-7, 1]: row 0 = ln(1 / 0.4) + 1e-7 ln(1e-7 / 0.6),
    // row 1 ~ 0 -> mean 0.458144 (docs: 0.458)
    let (t, p) = docs_pair();
    assert_close(&[value(&KLDivergence, &t, &p)], &[0.458_144], 1e-5);
    // identical distributions: 0
    let q = tensor([[0.2, 0.3, 0.5]]);
    assert_close(&[value(&KLDivergence, &q, &q)], &[0.0], 1e-7);
    // [0.5, 0.5] vs [0.25, 0.75]: 0.5 ln 2 + 0.5 ln(2/3) = 0.1438410
    let kl = value(
        &KLDivergence,
        &tensor([[0.5, 0.5]]),
        &tensor([[0.25, 0.75]]),
    );
    assert_close(&[kl], &[0.143_841_04], 1e-6);
}

#[test]
fn logits_and_probability_forms_agree() {
    // BCE(from_logits)(z, x) == BCE(z, sigmoid(x)); CCE(from_logits)(t, x) == CCE(t, softmax(x));
    // SCCE(labels) == CCE(one_hot(labels))
    let x = rnd(&[6, 4], 1);
    let z = uniform([6, 4], 0.0, 1.0, Some(2))
        .greater(0.5)
        .cast(DType::F32);
    let a = value(&BinaryCrossentropy::from_logits(), &z, &x);
    let b = value(&BinaryCrossentropy::new(), &z, &x.sigmoid());
    assert_close(&[a], &[b], 1e-5);
    let labels = tensor([0i64, 3, 1, 1, 2, 3]);
    let oh = one_hot(&labels, 4).cast(DType::F32);
    let c = value(&CategoricalCrossentropy::from_logits(), &oh, &x);
    let d = value(&CategoricalCrossentropy::new(), &oh, &x.softmax(-1));
    let e = value(&SparseCategoricalCrossentropy::from_logits(), &labels, &x);
    assert_close(&[c, e], &[d, d], 1e-5);
}

#[test]
fn loss_gradients_match_finite_differences() {
    // d/dp mean((t - p)^2) = 2 (p - t) / n;  d/dx BCE_logits = (sigmoid(x) - z) / n;
    // d/dx CCE_logits = (softmax(x) - t) / rows;  Huber: e / n inside delta, delta sign(e) / n out
    let t = rnd(&[4, 3], 3);
    let p = rnd(&[4, 3], 4).affine(1.0, 0.05);
    check_grad(|p| MeanSquaredError.call(&t, p), &p, 1e-2);
    check_grad(|p| MeanAbsoluteError.call(&t, p), &p, 1e-2);
    check_grad(|p| Huber::new(0.5).call(&t, p), &p, 1e-2);
    let z = uniform([4, 3], 0.0, 1.0, Some(5))
        .greater(0.5)
        .cast(DType::F32);
    let x = rnd(&[4, 3], 6);
    check_grad(|x| BinaryCrossentropy::from_logits().call(&z, x), &x, 1e-2);
    let probs = uniform([4, 3], 0.2, 0.8, Some(7));
    check_grad(|p| BinaryCrossentropy::new().call(&z, p), &probs, 1e-2);
    let labels = tensor([2i64, 0, 1, 1]);
    let oh = one_hot(&labels, 3).cast(DType::F32);
    check_grad(
        |x| CategoricalCrossentropy::from_logits().call(&oh, x),
        &x,
        1e-2,
    );
    check_grad(
        |x| SparseCategoricalCrossentropy::from_logits().call(&labels, x),
        &x,
        1e-2,
    );
    check_grad(
        |p| SparseCategoricalCrossentropy::new().call(&labels, p),
        &probs,
        1e-2,
    );
    let q = uniform([4, 3], 0.2, 0.8, Some(8));
    check_grad(|p| KLDivergence.call(&q, p), &probs, 1e-2);
}

#[test]
fn losses_by_name_and_errors() {
    let (t, p) = docs_pair();
    for (name, want) in [
        // |e| = [0.6, 0.6, 0.4, 0.6]: MSE 1.24 / 4, MAE 2.2 / 4
        ("mse", 0.31f32),
        ("mae", 0.55),
        ("huber", 0.155),
        ("binary_crossentropy", 0.814_924_5),
        ("kl_divergence", 0.458_144),
    ] {
        let l = losses::get(name).unwrap();
        println!("{name} = {}", l.name());
        assert_close(&[value(l.as_ref(), &t, &p)], &[want], 1e-5);
    }
    let err = losses::get("hinge")
        .err()
        .expect("unknown loss")
        .to_string();
    assert_contains(&err, &["hinge", "mse", "sparse_categorical_crossentropy"]);
    let scce = SparseCategoricalCrossentropy::new();
    let probs = tensor([[0.5, 0.5], [0.5, 0.5]]);
    let msg = panic_message(|| scce.call(&tensor([0i64, 2]), &probs));
    assert_contains(&msg, &["labels must be in 0..2", "2"]);
    let msg = panic_message(|| scce.call(&tensor([[1.0, 0.0], [0.0, 1.0]]), &probs));
    assert_contains(&msg, &["CategoricalCrossentropy for one-hot"]);
    assert_eq!(scce.accuracy_kind(), AccuracyKind::Sparse);
    assert_eq!(
        CategoricalCrossentropy::new().accuracy_kind(),
        AccuracyKind::Categorical
    );
    assert_eq!(
        BinaryCrossentropy::new().accuracy_kind(),
        AccuracyKind::Binary
    );
}

// ------------------------------------------------------------------------------------------------
// Metrics

fn metric(name: &str, kind: AccuracyKind, from_logits: bool) -> Box<dyn Metric> {
    metrics::get(name, kind, from_logits).unwrap()
}

#[test]
fn accuracy_variants_count_correct_predictions() {
    // sparse: argmax [1, 2, 1] vs labels [1, 2, 0] -> 2/3
    let probs = tensor([[0.1, 0.8, 0.1], [0.3, 0.3, 0.4], [0.2, 0.5, 0.3]]);
    let labels = tensor([1i64, 2, 0]);
    let mut acc = metric("accuracy", AccuracyKind::Sparse, false);
    acc.update_state(&labels, &probs);
    assert_close(&[acc.result()], &[2.0 / 3.0], 1e-7);
    // a second batch accumulates: + 1/1 correct -> 3/4; reset_state starts over
    acc.update_state(&tensor([0i64]), &tensor([[0.9, 0.05, 0.05]]));
    assert_close(&[acc.result()], &[0.75], 1e-7);
    acc.reset_state();
    assert_eq!(acc.result(), 0.0);
    let mut sca = metric("sparse_categorical_accuracy", AccuracyKind::Exact, false);
    sca.update_state(&labels.reshape([3, 1]), &probs);
    assert_close(&[sca.result()], &[2.0 / 3.0], 1e-7);
    // categorical: one-hot targets
    let mut ca = metric("categorical_accuracy", AccuracyKind::Exact, false);
    ca.update_state(&one_hot(&labels, 3).cast(DType::F32), &probs);
    assert_close(&[ca.result()], &[2.0 / 3.0], 1e-7);
    // binary: p > 0.5 -> [1, 1, 0, 0] vs [1, 0, 1, 0] -> 2/4; logits use threshold 0:
    // [2, 1, 0.5, -3] > 0 -> [1, 1, 1, 0] -> 3/4 (a 0.5 threshold would give 2/4)
    let (y, p) = (tensor([1.0, 0.0, 1.0, 0.0]), tensor([0.7, 0.6, 0.4, 0.1]));
    let mut ba = metric("binary_accuracy", AccuracyKind::Exact, false);
    ba.update_state(&y, &p);
    assert_close(&[ba.result()], &[0.5], 1e-7);
    let mut bl = metric("accuracy", AccuracyKind::Binary, true);
    bl.update_state(&y, &tensor([2.0, 1.0, 0.5, -3.0]));
    assert_close(&[bl.result()], &[0.75], 1e-7);
    // "accuracy" next to a regression loss is exact equality
    let mut ex = metric("accuracy", AccuracyKind::Exact, false);
    ex.update_state(&tensor([1.0, 2.0, 3.0]), &tensor([1.0, 2.5, 3.0]));
    assert_close(&[ex.result()], &[2.0 / 3.0], 1e-7);
}

#[test]
fn precision_recall_and_errors_match_hand_counts() {
    // p > 0.5 -> [1, 0, 1, 1, 1] vs y [1, 1, 0, 0, 1]: TP 2, FP 2, FN 1
    let (y, p) = (
        tensor([1.0, 1.0, 0.0, 0.0, 1.0]),
        tensor([0.9, 0.2, 0.7, 0.6, 0.8]),
    );
    let mut pr = metric("precision", AccuracyKind::Binary, false);
    let mut re = metric("recall", AccuracyKind::Binary, false);
    pr.update_state(&y, &p);
    re.update_state(&y, &p);
    assert_close(&[pr.result(), re.result()], &[0.5, 2.0 / 3.0], 1e-7);
    assert_eq!((pr.name(), re.name()), ("precision", "recall"));
    // no positive predictions yet: 0, as Keras reports
    let mut empty = metric("precision", AccuracyKind::Binary, false);
    empty.update_state(&tensor([1.0]), &tensor([0.1]));
    assert_eq!(empty.result(), 0.0);
    // MAE / MSE over two batches: errors [1, -2] then [3] -> MAE 2, MSE 14 / 3
    let mut mae = metric("mae", AccuracyKind::Exact, false);
    let mut mse = metric("mse", AccuracyKind::Exact, false);
    for (t, q) in [
        (tensor([0.0, 0.0]), tensor([1.0, -2.0])),
        (tensor([1.0]), tensor([4.0])),
    ] {
        mae.update_state(&t, &q);
        mse.update_state(&t, &q);
    }
    assert_close(&[mae.result(), mse.result()], &[2.0, 14.0 / 3.0], 1e-6);
    let err = metrics::get("auc", AccuracyKind::Exact, false)
        .err()
        .unwrap()
        .to_string();
    assert_contains(&err, &["auc", "accuracy", "precision"]);
}

#[test]
fn confusion_matrix_matches_tf_docs() {
    // tf.math.confusion_matrix([1, 2, 4], [2, 2, 4], num_classes=5)
    let m = confusion_matrix(&tensor([1i64, 2, 4]), &tensor([2i64, 2, 4]), 5);
    assert_eq!(m.dims(), &[5, 5]);
    let mut want = vec![0i64; 25];
    for (row, col) in [(1, 2), (2, 2), (4, 4)] {
        want[row * 5 + col] = 1;
    }
    assert_eq!(m.to_vec::<i64>(), want);
    // rows are true classes: 3 x class 0 predicted [0, 1, 1], 1 x class 1 predicted 1
    let m = confusion_matrix(&tensor([0i64, 0, 0, 1]), &tensor([0i64, 1, 1, 1]), 2);
    assert_eq!(m.to_vec::<i64>(), vec![1, 2, 0, 1]);
    let msg = panic_message(|| confusion_matrix(&tensor([0i64, 3]), &tensor([0i64, 1]), 3));
    assert_contains(&msg, &["class 3", "0..3"]);
    let msg = panic_message(|| confusion_matrix(&tensor([0i64]), &tensor([0i64, 1]), 3));
    assert_contains(&msg, &["1 labels but 2 predictions"]);
}

#[test]
fn logit_losses_stay_finite_and_exact_for_extreme_logits() {
    // softplus(x) - x z: confident and right -> ~0, confident and wrong -> |x| (not inf / NaN)
    let bce = BinaryCrossentropy::from_logits();
    let x = tensor([100.0, -100.0]);
    assert_close(&[value(&bce, &tensor([1.0, 0.0]), &x)], &[0.0], 1e-6);
    assert_close(&[value(&bce, &tensor([0.0, 1.0]), &x)], &[100.0], 1e-6);
    // log_softmax([1000, 0, -1000]): right -> 0, wrong (class 1) -> 1000
    let logits = tensor([[1000.0, 0.0, -1000.0]]);
    let scce = SparseCategoricalCrossentropy::from_logits();
    assert_close(&[value(&scce, &tensor([0i64]), &logits)], &[0.0], 1e-6);
    assert_close(&[value(&scce, &tensor([1i64]), &logits)], &[1000.0], 1e-6);
    // and their gradients are the finite sigmoid(x) - z and softmax(x) - onehot
    let tape = GradientTape::new();
    tape.watch(&logits);
    let l = scce.call(&tensor([1i64]), &logits);
    let [g] = tape.gradient(&l, [&logits]);
    assert_close(&g.unwrap().to_vec::<f32>(), &[1.0, -1.0, 0.0], 1e-6);
}
