//! Losses with Keras names and semantics: each returns the mean over the batch
//! ("sum_over_batch_size"). Probability inputs are clipped to [1e-7, 1 - 1e-7] as Keras does;
//! `from_logits()` variants use the stable log-softmax / softplus forms. Every loss computes in
//! float32, whatever the dtype of the predictions (f16/bf16 outputs of a mixed-precision model).

use crate::dtype::DType;
use crate::error::{invalid, Result};
use crate::tensor::{one_hot, where_, Tensor};

const EPS: f64 = 1e-7;

/// What `metrics=["accuracy"]` means next to this loss (Keras picks it the same way).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccuracyKind {
    Sparse,
    Categorical,
    Binary,
    Exact,
}

pub trait Loss: Send + Sync {
    fn name(&self) -> &str;
    /// Mean loss over the batch (a scalar tensor).
    fn call(&self, y_true: &Tensor, y_pred: &Tensor) -> Tensor;
    fn accuracy_kind(&self) -> AccuracyKind {
        AccuracyKind::Exact
    }
    /// Whether predictions are logits (used by accuracy metrics for binary thresholds).
    #[allow(clippy::wrong_self_convention)] // Keras' name for the option
    fn from_logits(&self) -> bool {
        false
    }
}

/// Anything `compile` accepts as a loss: a loss object or a Keras name ("mse", ...).
pub trait IntoLoss {
    fn into_loss(self) -> Box<dyn Loss>;
}
impl<L: Loss + 'static> IntoLoss for L {
    fn into_loss(self) -> Box<dyn Loss> {
        Box::new(self)
    }
}
impl IntoLoss for &str {
    #[track_caller]
    fn into_loss(self) -> Box<dyn Loss> {
        crate::error::or_panic(get(self))
    }
}
impl IntoLoss for Box<dyn Loss> {
    fn into_loss(self) -> Box<dyn Loss> {
        self
    }
}

/// A loss by its Keras name.
pub fn get(name: &str) -> Result<Box<dyn Loss>> {
    Ok(match name {
        "mse" | "mean_squared_error" | "MeanSquaredError" => Box::new(MeanSquaredError),
        "mae" | "mean_absolute_error" | "MeanAbsoluteError" => Box::new(MeanAbsoluteError),
        "huber" | "Huber" => Box::new(Huber::new(1.0)),
        "binary_crossentropy" | "BinaryCrossentropy" => Box::new(BinaryCrossentropy::new()),
        "categorical_crossentropy" | "CategoricalCrossentropy" => Box::new(CategoricalCrossentropy::new()),
        "sparse_categorical_crossentropy" | "SparseCategoricalCrossentropy" => {
            Box::new(SparseCategoricalCrossentropy::new())
        }
        "kl_divergence" | "kld" | "KLDivergence" => Box::new(KLDivergence),
        _ => {
            return Err(invalid(
                "loss",
                format!("unknown loss \"{name}\"; use mse, mae, huber, binary_crossentropy, categorical_crossentropy, sparse_categorical_crossentropy or kl_divergence"),
            ))
        }
    })
}

/// Losses compute in float32 whatever the dtype of the predictions (mixed precision: an f16
/// model's outputs are cast before the loss, as Keras does).
fn f32_pred(y_pred: &Tensor) -> Tensor {
    if y_pred.dtype().is_float() {
        y_pred.cast(DType::F32)
    } else {
        y_pred.clone()
    }
}

#[track_caller]
fn same_shape(loss: &str, y_true: &Tensor, y_pred: &Tensor) -> Tensor {
    let yt = if y_true.dtype() == y_pred.dtype() {
        y_true.clone()
    } else {
        y_true.cast(y_pred.dtype())
    };
    if yt.dims() != y_pred.dims() {
        // (N,) targets next to (N, 1) predictions are common: line them up as Keras does.
        if yt.elem_count() == y_pred.elem_count() {
            return yt.reshape(y_pred.shape());
        }
        panic!(
            "{loss}: y_true has shape {} but y_pred has shape {}; they must match",
            y_true.shape(),
            y_pred.shape()
        );
    }
    yt
}

/// `keras.losses.MeanSquaredError()`: mean((y_true - y_pred)^2).
pub struct MeanSquaredError;
impl Loss for MeanSquaredError {
    fn name(&self) -> &str {
        "mean_squared_error"
    }
    fn call(&self, y_true: &Tensor, y_pred: &Tensor) -> Tensor {
        let y_pred = &f32_pred(y_pred);
        (same_shape("MeanSquaredError", y_true, y_pred) - y_pred)
            .square()
            .mean()
    }
}

/// `keras.losses.MeanAbsoluteError()`: mean(|y_true - y_pred|).
pub struct MeanAbsoluteError;
impl Loss for MeanAbsoluteError {
    fn name(&self) -> &str {
        "mean_absolute_error"
    }
    fn call(&self, y_true: &Tensor, y_pred: &Tensor) -> Tensor {
        let y_pred = &f32_pred(y_pred);
        (same_shape("MeanAbsoluteError", y_true, y_pred) - y_pred)
            .abs()
            .mean()
    }
}

/// `keras.losses.Huber(delta)`: 0.5 e^2 where |e| <= delta, else delta (|e| - 0.5 delta).
pub struct Huber {
    delta: f32,
}
impl Huber {
    pub fn new(delta: f32) -> Huber {
        Huber { delta }
    }
}
impl Loss for Huber {
    fn name(&self) -> &str {
        "huber"
    }
    fn call(&self, y_true: &Tensor, y_pred: &Tensor) -> Tensor {
        let y_pred = &f32_pred(y_pred);
        let e = (same_shape("Huber", y_true, y_pred) - y_pred).abs();
        let d = self.delta as f64;
        let quad = e.square() * 0.5;
        let lin = (&e - 0.5 * d) * d;
        where_(&e.less_equal(d), &quad, &lin).mean()
    }
}

/// `keras.losses.BinaryCrossentropy(from_logits=False, label_smoothing=0)`. Label smoothing
/// squeezes the targets towards 1/2, as Keras: `z' = z (1 - ls) + ls / 2`.
pub struct BinaryCrossentropy {
    from_logits: bool,
    label_smoothing: f32,
}
impl BinaryCrossentropy {
    pub fn new() -> Self {
        BinaryCrossentropy {
            from_logits: false,
            label_smoothing: 0.0,
        }
    }
    pub fn from_logits() -> Self {
        BinaryCrossentropy {
            from_logits: true,
            label_smoothing: 0.0,
        }
    }
    /// Keras' `label_smoothing` in [0, 1].
    pub fn label_smoothing(mut self, ls: f32) -> Self {
        self.label_smoothing = check_smoothing("BinaryCrossentropy", ls);
        self
    }
}
impl Default for BinaryCrossentropy {
    fn default() -> Self {
        Self::new()
    }
}
impl Loss for BinaryCrossentropy {
    fn name(&self) -> &str {
        "binary_crossentropy"
    }
    fn accuracy_kind(&self) -> AccuracyKind {
        AccuracyKind::Binary
    }
    fn from_logits(&self) -> bool {
        self.from_logits
    }
    fn call(&self, y_true: &Tensor, y_pred: &Tensor) -> Tensor {
        let y_pred = &f32_pred(y_pred);
        let mut z = same_shape("BinaryCrossentropy", y_true, y_pred);
        if self.label_smoothing > 0.0 {
            let ls = self.label_smoothing as f64;
            z = z * (1.0 - ls) + 0.5 * ls;
        }
        if self.from_logits {
            // -[z log s(x) + (1-z) log(1-s(x))] = softplus(x) - x z
            (y_pred.softplus() - y_pred * &z).mean()
        } else {
            let p = y_pred.clamp(EPS as f32, (1.0 - EPS) as f32);
            -(&z * p.log() + (1.0 - &z) * (1.0 - &p).log()).mean()
        }
    }
}

/// `keras.losses.CategoricalCrossentropy(from_logits=False, label_smoothing=0)` with one-hot
/// targets. Label smoothing, as Keras: `t' = t (1 - ls) + ls / num_classes`.
pub struct CategoricalCrossentropy {
    from_logits: bool,
    label_smoothing: f32,
}
impl CategoricalCrossentropy {
    pub fn new() -> Self {
        CategoricalCrossentropy {
            from_logits: false,
            label_smoothing: 0.0,
        }
    }
    pub fn from_logits() -> Self {
        CategoricalCrossentropy {
            from_logits: true,
            label_smoothing: 0.0,
        }
    }
    /// Keras' `label_smoothing` in [0, 1].
    pub fn label_smoothing(mut self, ls: f32) -> Self {
        self.label_smoothing = check_smoothing("CategoricalCrossentropy", ls);
        self
    }
}

#[track_caller]
fn check_smoothing(loss: &str, ls: f32) -> f32 {
    if !(0.0..=1.0).contains(&ls) {
        panic!("{loss}: label_smoothing must be in [0, 1], got {ls}");
    }
    ls
}

/// Smooths one-hot targets over the last axis: `t (1 - ls) + ls / classes`.
fn smooth(t: Tensor, ls: f32) -> Tensor {
    if ls == 0.0 {
        return t;
    }
    let classes = *t.dims().last().unwrap_or(&1) as f64;
    t * (1.0 - ls as f64) + ls as f64 / classes
}
impl Default for CategoricalCrossentropy {
    fn default() -> Self {
        Self::new()
    }
}
fn log_probs(y_pred: &Tensor, from_logits: bool) -> Tensor {
    if from_logits {
        y_pred.log_softmax(-1)
    } else {
        // Keras renormalises probabilities, then clips
        (y_pred / y_pred.sum_axis(-1, true))
            .clamp(EPS as f32, (1.0 - EPS) as f32)
            .log()
    }
}
impl Loss for CategoricalCrossentropy {
    fn name(&self) -> &str {
        "categorical_crossentropy"
    }
    fn accuracy_kind(&self) -> AccuracyKind {
        AccuracyKind::Categorical
    }
    fn from_logits(&self) -> bool {
        self.from_logits
    }
    fn call(&self, y_true: &Tensor, y_pred: &Tensor) -> Tensor {
        let y_pred = &f32_pred(y_pred);
        let t = smooth(
            same_shape("CategoricalCrossentropy", y_true, y_pred),
            self.label_smoothing,
        );
        -(t * log_probs(y_pred, self.from_logits))
            .sum_axis(-1, false)
            .mean()
    }
}

/// `keras.losses.SparseCategoricalCrossentropy(from_logits=False)` with integer class targets.
///
/// `label_smoothing` here is a ferrolab extension (Keras' sparse loss has none): the labels are
/// one-hot encoded and smoothed exactly as in [`CategoricalCrossentropy`], so both losses agree.
pub struct SparseCategoricalCrossentropy {
    from_logits: bool,
    label_smoothing: f32,
}
impl SparseCategoricalCrossentropy {
    pub fn new() -> Self {
        SparseCategoricalCrossentropy {
            from_logits: false,
            label_smoothing: 0.0,
        }
    }
    pub fn from_logits() -> Self {
        SparseCategoricalCrossentropy {
            from_logits: true,
            label_smoothing: 0.0,
        }
    }
    /// Label smoothing in [0, 1] (an extension; see the type's docs).
    pub fn label_smoothing(mut self, ls: f32) -> Self {
        self.label_smoothing = check_smoothing("SparseCategoricalCrossentropy", ls);
        self
    }
}
impl Default for SparseCategoricalCrossentropy {
    fn default() -> Self {
        Self::new()
    }
}
impl Loss for SparseCategoricalCrossentropy {
    fn name(&self) -> &str {
        "sparse_categorical_crossentropy"
    }
    fn accuracy_kind(&self) -> AccuracyKind {
        AccuracyKind::Sparse
    }
    fn from_logits(&self) -> bool {
        self.from_logits
    }
    #[track_caller]
    fn call(&self, y_true: &Tensor, y_pred: &Tensor) -> Tensor {
        let y_pred = &f32_pred(y_pred);
        let classes = *y_pred.dims().last().unwrap_or(&1);
        let labels = if y_true.dtype() == DType::I64 {
            y_true.clone()
        } else {
            y_true.cast(DType::I64)
        };
        let batch = y_pred.elem_count() / classes.max(1);
        if labels.elem_count() != batch {
            panic!(
                "SparseCategoricalCrossentropy: y_true has shape {} but y_pred has shape {}; expected one integer label per row (did you mean CategoricalCrossentropy for one-hot targets?)",
                y_true.shape(),
                y_pred.shape()
            );
        }
        let labels = labels.reshape([batch]);
        let (lo, hi) = (
            labels.min().to_scalar::<i64>(),
            labels.max().to_scalar::<i64>(),
        );
        if lo < 0 || hi >= classes as i64 {
            panic!(
                "SparseCategoricalCrossentropy: labels must be in 0..{classes}, found {}",
                if lo < 0 { lo } else { hi }
            );
        }
        let t = one_hot(&labels, classes)
            .to(y_pred.device())
            .cast(y_pred.dtype())
            .reshape(y_pred.shape());
        let t = smooth(t, self.label_smoothing);
        -(t * log_probs(y_pred, self.from_logits))
            .sum_axis(-1, false)
            .mean()
    }
}

/// `keras.losses.KLDivergence()`: sum(y_true log(y_true / y_pred)) over the last axis.
pub struct KLDivergence;
impl Loss for KLDivergence {
    fn name(&self) -> &str {
        "kl_divergence"
    }
    fn call(&self, y_true: &Tensor, y_pred: &Tensor) -> Tensor {
        let y_pred = &f32_pred(y_pred);
        let t = same_shape("KLDivergence", y_true, y_pred).clamp(EPS as f32, 1.0);
        let p = y_pred.clamp(EPS as f32, 1.0);
        (&t * (&t / p).log()).sum_axis(-1, false).mean()
    }
}
