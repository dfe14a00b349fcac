//! Stateful metrics with Keras names: `update_state`, `result`, `reset_state`.
//! They read predictions to the host and count in plain Rust (cheap next to a training step).

mod stateful;
pub use stateful::{
    BinaryAccuracy, CategoricalAccuracy, Mean, MeanAbsoluteError, MeanSquaredError,
    SparseCategoricalAccuracy, Sum,
};

use crate::error::{invalid, Result};
use crate::keras::losses::AccuracyKind;
use crate::tensor::Tensor;

pub trait Metric: Send {
    fn name(&self) -> &str;
    fn update_state(&mut self, y_true: &Tensor, y_pred: &Tensor);
    fn result(&self) -> f32;
    fn reset_state(&mut self);
}

/// Row-wise argmax of a (N, C) prediction held as f32.
fn argmax_rows(p: &[f32], c: usize) -> Vec<usize> {
    p.chunks(c.max(1))
        .map(|r| {
            r.iter()
                .enumerate()
                .fold(
                    (0, f32::NEG_INFINITY),
                    |b, (i, &v)| if v > b.1 { (i, v) } else { b },
                )
                .0
        })
        .collect()
}

/// Fraction of correct predictions; the variant (sparse, categorical, binary, exact) follows
/// Keras' names: `accuracy`, `sparse_categorical_accuracy`, `categorical_accuracy`, `binary_accuracy`.
pub struct Accuracy {
    kind: AccuracyKind,
    threshold: f32,
    name: String,
    correct: f64,
    total: f64,
}

impl Accuracy {
    pub fn new(kind: AccuracyKind, name: &str) -> Accuracy {
        Accuracy {
            kind,
            threshold: 0.5,
            name: name.to_string(),
            correct: 0.0,
            total: 0.0,
        }
    }
    /// Threshold for binary accuracy (0.5 for probabilities, 0.0 for logits).
    pub fn threshold(mut self, t: f32) -> Accuracy {
        self.threshold = t;
        self
    }
}

impl Metric for Accuracy {
    fn name(&self) -> &str {
        &self.name
    }
    fn update_state(&mut self, y_true: &Tensor, y_pred: &Tensor) {
        let p = y_pred.to_f32_vec();
        let t = y_true.to_f32_vec();
        let c = *y_pred.dims().last().unwrap_or(&1);
        let (ok, n) = match self.kind {
            AccuracyKind::Sparse => {
                let am = argmax_rows(&p, c);
                (
                    am.iter().zip(&t).filter(|(a, b)| **a as f32 == **b).count(),
                    am.len(),
                )
            }
            AccuracyKind::Categorical => {
                let (a, b) = (argmax_rows(&p, c), argmax_rows(&t, c));
                (a.iter().zip(&b).filter(|(x, y)| x == y).count(), a.len())
            }
            AccuracyKind::Binary => {
                let th = self.threshold;
                (
                    p.iter()
                        .zip(&t)
                        .filter(|(p, t)| ((**p > th) as u8 as f32) == **t)
                        .count(),
                    p.len(),
                )
            }
            AccuracyKind::Exact => (p.iter().zip(&t).filter(|(p, t)| p == t).count(), p.len()),
        };
        self.correct += ok as f64;
        self.total += n as f64;
    }
    fn result(&self) -> f32 {
        if self.total == 0.0 {
            0.0
        } else {
            (self.correct / self.total) as f32
        }
    }
    fn reset_state(&mut self) {
        self.correct = 0.0;
        self.total = 0.0;
    }
}

/// Binary precision or recall at threshold 0.5 (`keras.metrics.Precision` / `Recall`).
pub struct PrecisionRecall {
    recall: bool,
    threshold: f32,
    tp: f64,
    fp: f64,
    fn_: f64,
}

impl PrecisionRecall {
    pub fn precision() -> Self {
        PrecisionRecall {
            recall: false,
            threshold: 0.5,
            tp: 0.0,
            fp: 0.0,
            fn_: 0.0,
        }
    }
    pub fn recall() -> Self {
        PrecisionRecall {
            recall: true,
            threshold: 0.5,
            tp: 0.0,
            fp: 0.0,
            fn_: 0.0,
        }
    }
    pub fn threshold(mut self, t: f32) -> Self {
        self.threshold = t;
        self
    }
}

impl Metric for PrecisionRecall {
    fn name(&self) -> &str {
        if self.recall {
            "recall"
        } else {
            "precision"
        }
    }
    fn update_state(&mut self, y_true: &Tensor, y_pred: &Tensor) {
        for (p, t) in y_pred.to_f32_vec().iter().zip(y_true.to_f32_vec()) {
            let (pp, tt) = (*p > self.threshold, t > 0.5);
            match (pp, tt) {
                (true, true) => self.tp += 1.0,
                (true, false) => self.fp += 1.0,
                (false, true) => self.fn_ += 1.0,
                _ => {}
            }
        }
    }
    fn result(&self) -> f32 {
        let d = if self.recall {
            self.tp + self.fn_
        } else {
            self.tp + self.fp
        };
        if d == 0.0 {
            0.0
        } else {
            (self.tp / d) as f32
        }
    }
    fn reset_state(&mut self) {
        (self.tp, self.fp, self.fn_) = (0.0, 0.0, 0.0);
    }
}

/// Mean absolute or squared error as a running metric (`mae`, `mse`).
pub struct MeanError {
    squared: bool,
    sum: f64,
    count: f64,
}
impl MeanError {
    pub fn mae() -> Self {
        MeanError {
            squared: false,
            sum: 0.0,
            count: 0.0,
        }
    }
    pub fn mse() -> Self {
        MeanError {
            squared: true,
            sum: 0.0,
            count: 0.0,
        }
    }
}
impl Metric for MeanError {
    fn name(&self) -> &str {
        if self.squared {
            "mse"
        } else {
            "mae"
        }
    }
    fn update_state(&mut self, y_true: &Tensor, y_pred: &Tensor) {
        for (p, t) in y_pred.to_f32_vec().iter().zip(y_true.to_f32_vec()) {
            let e = (*p - t) as f64;
            self.sum += if self.squared { e * e } else { e.abs() };
            self.count += 1.0;
        }
    }
    fn result(&self) -> f32 {
        if self.count == 0.0 {
            0.0
        } else {
            (self.sum / self.count) as f32
        }
    }
    fn reset_state(&mut self) {
        self.sum = 0.0;
        self.count = 0.0;
    }
}

/// A metric by Keras name; "accuracy"/"acc" picks the variant that fits the loss.
pub fn get(name: &str, loss_kind: AccuracyKind, from_logits: bool) -> Result<Box<dyn Metric>> {
    let th = if from_logits { 0.0 } else { 0.5 };
    Ok(match name {
        "accuracy" | "acc" => Box::new(Accuracy::new(loss_kind, "accuracy").threshold(th)),
        "sparse_categorical_accuracy" => Box::new(Accuracy::new(AccuracyKind::Sparse, name)),
        "categorical_accuracy" => Box::new(Accuracy::new(AccuracyKind::Categorical, name)),
        "binary_accuracy" => Box::new(Accuracy::new(AccuracyKind::Binary, name).threshold(th)),
        "precision" => Box::new(PrecisionRecall::precision().threshold(th)),
        "recall" => Box::new(PrecisionRecall::recall().threshold(th)),
        "mae" | "mean_absolute_error" => Box::new(MeanError::mae()),
        "mse" | "mean_squared_error" => Box::new(MeanError::mse()),
        _ => {
            return Err(invalid(
                "metrics",
                format!("unknown metric \"{name}\"; use accuracy, sparse_categorical_accuracy, categorical_accuracy, binary_accuracy, precision, recall, mae or mse"),
            ))
        }
    })
}

/// `tf.math.confusion_matrix(labels, predictions, num_classes)`: rows are true classes,
/// columns predicted ones (int64).
#[track_caller]
pub fn confusion_matrix(labels: &Tensor, predictions: &Tensor, num_classes: usize) -> Tensor {
    let (l, p) = (labels.to_f32_vec(), predictions.to_f32_vec());
    if l.len() != p.len() {
        panic!(
            "confusion_matrix: {} labels but {} predictions",
            l.len(),
            p.len()
        );
    }
    let mut m = vec![0i64; num_classes * num_classes];
    for (t, q) in l.iter().zip(&p) {
        let (t, q) = (*t as usize, *q as usize);
        if t >= num_classes || q >= num_classes {
            panic!(
                "confusion_matrix: class {} is outside 0..{num_classes}",
                t.max(q)
            );
        }
        m[t * num_classes + q] += 1;
    }
    crate::error::or_panic(crate::tensor::create::from_vec(
        m,
        [num_classes, num_classes],
    ))
}
