//! The stateful metric objects of `tf.keras.metrics` that custom training loops use, under their
//! Keras names: `Mean`, `Sum`, `SparseCategoricalAccuracy`, `CategoricalAccuracy`,
//! `BinaryAccuracy`, `MeanSquaredError`, `MeanAbsoluteError`.
//!
//! Each has `update_state`, `result` and `reset_state` (`reset_states` too, the TF 2.x name).
//! TF calls a metric (`train_loss(loss)`); here that is `train_loss.update_state(&loss)`.
//! `result()` is an `f32`, so `format!("{:.2}", acc.result() * 100.0)` prints a percentage.
//!
//! ```
//! use ferrolab::prelude::*;
//! let mut train_loss = metrics::Mean::new("train_loss");
//! train_loss.update_state(tensor(1.0));
//! train_loss.update_state(tensor([2.0, 3.0]));
//! assert_eq!(train_loss.result(), 2.0);
//! let mut acc = metrics::SparseCategoricalAccuracy::new("train_accuracy");
//! acc.update_state(tensor([1.0, 0.0]), tensor([[0.1, 0.9], [0.3, 0.7]]));
//! assert_eq!(acc.result(), 0.5);
//! ```

use super::{Accuracy, MeanError, Metric};
use crate::keras::losses::AccuracyKind;
use crate::tensor::Tensor;

/// `tf.keras.metrics.Mean(name)`: the running (weighted) mean of every value it was given.
pub struct Mean {
    name: String,
    total: f64,
    count: f64,
}

impl Mean {
    pub fn new(name: &str) -> Mean {
        Mean {
            name: name.to_string(),
            total: 0.0,
            count: 0.0,
        }
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Adds every element of `values` (a scalar loss, or a batch of values).
    pub fn update_state(&mut self, values: impl AsRef<Tensor>) {
        for v in values.as_ref().to_f32_vec() {
            self.total += v as f64;
            self.count += 1.0;
        }
    }
    /// Adds `values` with per-element weights (`sample_weight`) of the same length.
    #[track_caller]
    pub fn update_state_weighted(&mut self, values: impl AsRef<Tensor>, sample_weight: &Tensor) {
        let (v, w) = (values.as_ref().to_f32_vec(), sample_weight.to_f32_vec());
        assert_eq!(
            v.len(),
            w.len(),
            "Mean.update_state: {} values but {} sample weights",
            v.len(),
            w.len()
        );
        for (v, w) in v.iter().zip(&w) {
            self.total += (*v as f64) * (*w as f64);
            self.count += *w as f64;
        }
    }
    /// The mean so far (0 before any update).
    pub fn result(&self) -> f32 {
        if self.count == 0.0 {
            0.0
        } else {
            (self.total / self.count) as f32
        }
    }
    pub fn reset_state(&mut self) {
        self.total = 0.0;
        self.count = 0.0;
    }
    /// TF 2.x's spelling of [`reset_state`](Self::reset_state).
    pub fn reset_states(&mut self) {
        self.reset_state()
    }
}

/// `tf.keras.metrics.Sum(name)`: the running sum of every value it was given.
pub struct Sum {
    name: String,
    total: f64,
}

impl Sum {
    pub fn new(name: &str) -> Sum {
        Sum {
            name: name.to_string(),
            total: 0.0,
        }
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn update_state(&mut self, values: impl AsRef<Tensor>) {
        self.total += values
            .as_ref()
            .to_f32_vec()
            .iter()
            .map(|&v| v as f64)
            .sum::<f64>();
    }
    pub fn result(&self) -> f32 {
        self.total as f32
    }
    pub fn reset_state(&mut self) {
        self.total = 0.0;
    }
    pub fn reset_states(&mut self) {
        self.reset_state()
    }
}

/// A metric of `(y_true, y_pred)` pairs under its Keras class name, wrapping the one that
/// `compile(.., &["..."])` uses, so both count the same way.
macro_rules! pair_metric {
    ($(#[$doc:meta])* $t:ident, $inner:ty, $make:expr) => {
        $(#[$doc])*
        pub struct $t($inner);
        impl $t {
            pub fn new(name: &str) -> $t {
                let make: fn(&str) -> $inner = $make;
                $t(make(name))
            }
            pub fn name(&self) -> &str {
                Metric::name(&self.0)
            }
            /// Adds one batch: labels `y_true` and predictions `y_pred`.
            #[track_caller]
            pub fn update_state(&mut self, y_true: impl AsRef<Tensor>, y_pred: impl AsRef<Tensor>) {
                self.0.update_state(y_true.as_ref(), y_pred.as_ref())
            }
            /// The value so far, in [0, 1] for accuracies.
            pub fn result(&self) -> f32 {
                self.0.result()
            }
            pub fn reset_state(&mut self) {
                self.0.reset_state()
            }
            /// TF 2.x's spelling of [`reset_state`](Self::reset_state).
            pub fn reset_states(&mut self) {
                self.0.reset_state()
            }
        }
        impl Metric for $t {
            fn name(&self) -> &str {
                Metric::name(&self.0)
            }
            fn update_state(&mut self, y_true: &Tensor, y_pred: &Tensor) {
                self.0.update_state(y_true, y_pred)
            }
            fn result(&self) -> f32 {
                self.0.result()
            }
            fn reset_state(&mut self) {
                self.0.reset_state()
            }
        }
    };
}

pair_metric!(
    /// `tf.keras.metrics.SparseCategoricalAccuracy(name)`: integer labels against the argmax
    /// of each row of predictions (probabilities or logits).
    SparseCategoricalAccuracy,
    Accuracy,
    |n| Accuracy::new(AccuracyKind::Sparse, n)
);
pair_metric!(
    /// `tf.keras.metrics.CategoricalAccuracy(name)`: one-hot labels against predictions, by argmax.
    CategoricalAccuracy,
    Accuracy,
    |n| Accuracy::new(AccuracyKind::Categorical, n)
);
pair_metric!(
    /// `tf.keras.metrics.BinaryAccuracy(name)`: 0/1 labels against probabilities > 0.5.
    BinaryAccuracy,
    Accuracy,
    |n| Accuracy::new(AccuracyKind::Binary, n)
);
pair_metric!(
    /// `tf.keras.metrics.MeanSquaredError(name)`: the running mean of (y_true - y_pred)^2.
    MeanSquaredError,
    MeanError,
    |_| MeanError::mse()
);
pair_metric!(
    /// `tf.keras.metrics.MeanAbsoluteError(name)`: the running mean of |y_true - y_pred|.
    MeanAbsoluteError,
    MeanError,
    |_| MeanError::mae()
);

impl BinaryAccuracy {
    /// Builder: the decision threshold (0.5 for probabilities; 0.0 for logits).
    pub fn threshold(self, t: f32) -> BinaryAccuracy {
        BinaryAccuracy(self.0.threshold(t))
    }
}
