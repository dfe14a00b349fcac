//! Datasets that ship with the engine: real ones vendored offline, and seeded synthetic ones.
//!
//! Every function returns a [`Data`]: features `x`, targets `y` and names, like the `Bunch` of
//! scikit-learn or `keras.datasets.*.load_data()`. Nothing is downloaded; the real data is
//! compiled into the crate from `engine/data/` (see its README for sources and licences). Every
//! synthetic generator takes a seed and returns the same values for the same seed.
//!
//! ```
//! use ferrolab::prelude::*;
//! let (train, test) = datasets::digits().split(1500, 42);      // or .split(0.8, 42)
//! assert_eq!((train.x.dims(), test.y.dims()), (&[1500, 64][..], &[297][..]));
//! assert_eq!(train.images().dims(), &[1500, 8, 8, 1]);
//! ```
//!
//! - [`uci`]: UCI 8x8 digits and iris (real);
//! - [`airline`]: monthly airline passengers 1949-1960 (real, a cited constant);
//! - [`toy2d`]: moons and spirals;
//! - [`series`]: many sine series with trend and noise, and ECG-like beats with anomalies;
//! - [`glyphs`]: 28x28 images of digits and shapes with shifts and noise;
//! - [`sequences`]: reverse, copy and sort tasks for Transformers;
//! - [`text`]: Shakespeare's sonnets, a small public-domain corpus for language models (real).

pub mod airline;
pub mod glyphs;
pub mod sequences;
pub mod series;
pub mod text;
pub mod toy2d;
pub mod uci;

pub use airline::airline_passengers;
pub use glyphs::{glyph_digits, glyph_shapes};
pub use sequences::{sequence_task, SequenceTask};
pub use series::{ecg_beats, sine_series};
pub use text::{shakespeare_sonnets, text_corpus};
pub use toy2d::{moons, spirals};
pub use uci::{digits, iris};

use crate::data::Dataset;
use crate::random::Rng;
use crate::tensor::create::from_vec;
use crate::tensor::Tensor;

/// Examples with targets: `x` (N, ...) and `y` (N, ...), plus what they mean.
#[derive(Clone, Debug)]
pub struct Data {
    /// Short name, e.g. `"digits"`.
    pub name: String,
    /// Features, one example per row of the first axis.
    pub x: Tensor,
    /// Targets: int64 class labels, or float values for regression and sequences.
    pub y: Tensor,
    /// One name per feature column (empty when the features are images or sequences).
    pub feature_names: Vec<String>,
    /// One name per class (empty for regression).
    pub class_names: Vec<String>,
    /// (height, width, channels) when each row of `x` is an image.
    pub image_shape: Option<[usize; 3]>,
}

impl std::fmt::Display for Data {
    /// A short summary: size, shapes, dtypes and classes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{}: {} examples", self.name, self.len())?;
        write!(f, "  x: {} {}", self.x.dtype().as_str(), self.x.shape())?;
        if let Some([h, w, c]) = self.image_shape {
            write!(f, ", images ({h}, {w}, {c}) with .images()")?;
        }
        writeln!(f)?;
        write!(f, "  y: {} {}", self.y.dtype().as_str(), self.y.shape())?;
        if !self.class_names.is_empty() {
            let names = if self.class_names.len() > 12 {
                format!("{}, ...", self.class_names[..12].join(", "))
            } else {
                self.class_names.join(", ")
            };
            write!(f, ", {} classes: {names}", self.class_names.len())?;
        }
        Ok(())
    }
}

impl Data {
    /// What a notebook shows for a `Data` as a cell's last expression.
    pub fn evcxr_display(&self) {
        crate::display::evcxr_emit(&vec![("text/plain".into(), self.to_string())]);
    }
}

/// How many examples go to the training part of a split: a fraction (`0.8`) or a count (`1500`).
pub trait SplitSize {
    /// The number of training examples out of `n`.
    fn train_count(&self, n: usize) -> usize;
}
impl SplitSize for f64 {
    fn train_count(&self, n: usize) -> usize {
        assert!(
            (0.0..=1.0).contains(self),
            "split: the training fraction must be in [0, 1], got {self}; pass a count such as 1500 for a number of examples"
        );
        ((n as f64) * self).round() as usize
    }
}
impl SplitSize for f32 {
    fn train_count(&self, n: usize) -> usize {
        (*self as f64).train_count(n)
    }
}
macro_rules! split_count {
    ($($t:ty),*) => {$(
        impl SplitSize for $t {
            fn train_count(&self, n: usize) -> usize {
                let c = *self as i128;
                assert!(
                    (0..=n as i128).contains(&c),
                    "split: asked for {c} training examples out of {n}"
                );
                c as usize
            }
        }
    )*};
}
split_count!(i32, i64, usize, u64);

impl Data {
    /// Builds a `Data` with no names (for generators and user data).
    pub fn new(name: &str, x: Tensor, y: Tensor) -> Data {
        assert_eq!(
            x.dims().first(),
            y.dims().first(),
            "Data::new: x has shape {} and y has shape {}; they need the same first dimension",
            x.shape(),
            y.shape()
        );
        Data {
            name: name.to_string(),
            x,
            y,
            feature_names: Vec::new(),
            class_names: Vec::new(),
            image_shape: None,
        }
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.x.dims().first().copied().unwrap_or(0)
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Number of classes (0 for regression data).
    pub fn num_classes(&self) -> usize {
        self.class_names.len()
    }

    /// The examples at `rows`, in that order.
    pub fn select(&self, rows: &[usize]) -> Data {
        let idx = from_vec(
            rows.iter().map(|&i| i as i64).collect::<Vec<i64>>(),
            [rows.len()],
        )
        .expect("select: index tensor");
        let idx = idx.to(self.x.device());
        Data {
            x: self.x.gather(&idx, 0),
            y: self.y.gather(&idx.to(self.y.device()), 0),
            ..self.clone()
        }
    }

    /// A seeded random split into (train, test), like scikit-learn's `train_test_split`.
    /// `train` is a fraction (`0.8`, rounded to the nearest count) or a count (`1500`). The same
    /// seed always gives the same split; both parts are in shuffled order.
    #[track_caller]
    pub fn split(&self, train: impl SplitSize, seed: u64) -> (Data, Data) {
        let n = self.len();
        let n_train = train.train_count(n);
        let mut order: Vec<usize> = (0..n).collect();
        Rng::seed_from_u64(seed).shuffle(&mut order);
        (
            self.select(&order[..n_train]),
            self.select(&order[n_train..]),
        )
    }

    /// `x` viewed as images (N, height, width, channels), for convolutional models.
    #[track_caller]
    pub fn images(&self) -> Tensor {
        let Some([h, w, c]) = self.image_shape else {
            panic!(
                "images: the {} dataset is not made of images (x has shape {})",
                self.name,
                self.x.shape()
            )
        };
        self.x.reshape([self.len(), h, w, c])
    }

    /// The examples as a [`Dataset`] of `(x, y)` pairs, ready for `shuffle`, `batch` and `fit`.
    pub fn to_dataset(&self) -> Dataset<(Tensor, Tensor)> {
        Dataset::from_tensor_slices((&self.x, &self.y))
    }

    /// How many examples each class has (for int64 labels), in class order.
    pub fn class_counts(&self) -> Vec<usize> {
        let labels = self.y.to_vec::<i64>();
        let k = labels.iter().copied().max().map_or(0, |m| m as usize + 1);
        let mut counts = vec![0; k.max(self.num_classes())];
        for l in labels {
            counts[l as usize] += 1;
        }
        counts
    }
}

/// Wraps generated rows into tensors: `x` with `x_shape`, int64 labels `y`.
pub(crate) fn labelled(name: &str, x: Vec<f32>, x_shape: Vec<usize>, y: Vec<i64>) -> Data {
    let n = y.len();
    let x = from_vec(x, x_shape).expect("generated features fit their shape");
    let y = from_vec(y, [n]).expect("generated labels");
    Data::new(name, x, y)
}
