//! Input pipelines with tf.data's names and semantics: `Dataset`.
//!
//! ```
//! use ferrolab::prelude::*;
//! let x = normal([100, 3], 0.0, 1.0, Some(1));
//! let y = arange_i64(0, 100);
//! let ds = Dataset::from_tensor_slices((&x, &y))
//!     .shuffle(32, 7)
//!     .map(|(x, y)| (x.affine(2.0, 0.0), y))
//!     .num_parallel_calls(2)
//!     .batch(16)
//!     .prefetch(AUTOTUNE);
//! let sizes: Vec<usize> = ds.iter().map(|(x, _)| x.dims()[0]).collect();
//! assert_eq!(sizes, vec![16, 16, 16, 16, 16, 16, 4]);
//! ```
//!
//! How it works, and what it deliberately is not:
//! - A `Dataset<T>` is a cheap, clonable *recipe*. Each `iter()` starts a fresh, lazy stream
//!   (like each `for x in ds:` in TF), so elements are produced one at a time and a dataset of
//!   on-disk shards streams with memory bounded by the buffer sizes you choose.
//! - Elements are any `Clone + Send + Sync` value ([`Item`]); transformations that stack,
//!   split, pad, cache to a file or move tensors need tensor structures ([`Element`]): a
//!   `Tensor`, tuples of elements such as `(x, y)`, or `Vec<Tensor>`.
//! - Parallel stages (`map` with `num_parallel_calls`, parallel `interleave`, `prefetch`) run on
//!   plain std threads joined by bounded channels; nothing is shared but the elements.
//! - Options that TF passes as keyword arguments are builder methods on the stage just added:
//!   `.map(f).num_parallel_calls(4).deterministic(false)`, `.batch(32).drop_remainder(true)`,
//!   `.shuffle(1000, 7).reshuffle_each_iteration(false)`.
//! - `iter()` panics with the error's message on bad input (like TF raising), and with
//!   `KeyboardInterrupt` when the kernel interrupts the cell; `try_iter()` yields `Result`s
//!   instead and never panics on file contents.
//! - Not a graph compiler: stages are Rust closures run eagerly, there is no static
//!   `element_spec` (shapes are known by looking at an element), and `AUTOTUNE` is a simple rule
//!   (one map worker per core, at least 4; a prefetch buffer that grows while the consumer
//!   waits), not TF's cost model.
//! - A panic inside a parallel `map` function comes back as an error element; the kernel's
//!   panic hook still prints the original panic when it happens.
//!
//! Files: [`element`] (tensor structures), [`sources`], [`transform`] (filter, batch, repeat, ...),
//! [`shuffle`], [`parallel`] (map, interleave), [`prefetch`], [`cache`], [`csv`], [`npy`],
//! [`iter`], [`timeseries`] (`timeseries_dataset_from_array`), and [`timeline`] (who ran when,
//! for performance work).

pub mod cache;
pub mod csv;
pub mod element;
pub mod iter;
pub mod npy;
pub mod parallel;
pub mod prefetch;
pub mod shuffle;
pub mod sources;
pub mod timeline;
pub mod timeseries;
pub mod transform;

use std::sync::Arc;

pub use csv::{read_csv, CsvOptions, CsvTable};
pub use element::{Element, Item, TensorSlices};
pub use iter::{DatasetIter, TryDatasetIter};
pub use npy::{read_npy, write_npy};
pub use sources::RangeArgs;
pub use timeline::{timeline_chart, Timeline};
pub use timeseries::{timeseries_dataset_from_array, Timeseries};

use crate::error::Result;

/// Let the engine choose a parallelism or buffer size (`tf.data.AUTOTUNE`).
pub const AUTOTUNE: usize = usize::MAX;
/// `cardinality()` of a dataset that never ends (`tf.data.INFINITE_CARDINALITY`).
pub const INFINITE_CARDINALITY: i64 = -1;
/// `cardinality()` when the size is not known without iterating (`tf.data.UNKNOWN_CARDINALITY`).
pub const UNKNOWN_CARDINALITY: i64 = -2;

/// A lazy stream of elements, or errors, produced by one iteration.
pub type Stream<T> = Box<dyn Iterator<Item = Result<T>> + Send>;

type Maker<T> = Arc<dyn Fn(&StageOptions) -> Stream<T> + Send + Sync>;

/// Which kind of stage a dataset ends with (builder options apply to that stage).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stage {
    Source,
    Map,
    Interleave,
    Shuffle,
    Batch,
    PaddedBatch,
    Window,
    Other,
}

/// The keyword options of the last stage, set by builder methods.
#[derive(Clone, Debug)]
pub struct StageOptions {
    /// Worker threads for `map` / `interleave` (1: sequential).
    pub num_parallel_calls: usize,
    /// Keep the input order in parallel stages.
    pub deterministic: bool,
    /// Reshuffle on every iteration (`shuffle`).
    pub reshuffle_each_iteration: bool,
    /// Drop a last, smaller batch or window.
    pub drop_remainder: bool,
    /// Value used by `padded_batch`.
    pub padding_value: f64,
    /// Step between the elements of one window.
    pub stride: usize,
}

impl Default for StageOptions {
    fn default() -> Self {
        StageOptions {
            num_parallel_calls: 1,
            deterministic: true,
            reshuffle_each_iteration: true,
            drop_remainder: false,
            padding_value: 0.0,
            stride: 1,
        }
    }
}

/// Number of elements, when known (see [`Dataset::cardinality`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Card {
    Finite(usize),
    Infinite,
    Unknown,
}

impl Card {
    pub(crate) fn map(self, f: impl FnOnce(usize) -> usize) -> Card {
        match self {
            Card::Finite(n) => Card::Finite(f(n)),
            c => c,
        }
    }
}

/// A tf.data-style input pipeline producing elements of type `T`.
pub struct Dataset<T: Item> {
    make: Maker<T>,
    opts: StageOptions,
    stage: Stage,
    card: Card,
    /// For batch stages: (upstream cardinality, batch size), to recount on `drop_remainder`.
    batch_of: Option<(Card, usize)>,
}

impl<T: Item> Clone for Dataset<T> {
    fn clone(&self) -> Self {
        Dataset {
            make: self.make.clone(),
            opts: self.opts.clone(),
            stage: self.stage,
            card: self.card,
            batch_of: self.batch_of,
        }
    }
}

impl<T: Item> std::fmt::Display for Dataset<T> {
    /// `<Dataset element=(Tensor, Tensor) cardinality=150>`, like TF's repr.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let element = std::any::type_name::<T>()
            .replace("ferrolab::tensor::", "")
            .replace("alloc::vec::", "")
            .replace("std::path::", "")
            .replace("ferrolab::data::", "");
        let card = match self.card {
            Card::Finite(n) => n.to_string(),
            Card::Infinite => "infinite".into(),
            Card::Unknown => "unknown".into(),
        };
        write!(f, "<Dataset element={element} cardinality={card}>")
    }
}

impl<T: Item> std::fmt::Debug for Dataset<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl<T: Item> Dataset<T> {
    /// What a notebook shows for a dataset as a cell's last expression.
    pub fn evcxr_display(&self) {
        crate::display::evcxr_emit(&vec![("text/plain".into(), self.to_string())]);
    }
}

impl<T: Item> Dataset<T> {
    /// A dataset from a function that starts a stream (the building block of every stage).
    pub(crate) fn from_maker(
        stage: Stage,
        card: Card,
        make: impl Fn(&StageOptions) -> Stream<T> + Send + Sync + 'static,
    ) -> Dataset<T> {
        Dataset {
            make: Arc::new(make),
            opts: StageOptions::default(),
            stage,
            card,
            batch_of: None,
        }
    }

    /// A dataset that is `self` followed by a new stage built from `self`'s stream.
    pub(crate) fn then<U: Item>(
        &self,
        stage: Stage,
        card: Card,
        build: impl Fn(Stream<T>, &StageOptions) -> Stream<U> + Send + Sync + 'static,
    ) -> Dataset<U> {
        let up = self.clone();
        Dataset::from_maker(stage, card, move |o| build(up.stream(), o))
    }

    /// Starts one lazy pass over the elements (errors included).
    pub fn stream(&self) -> Stream<T> {
        (self.make)(&self.opts)
    }

    /// Iterates over the elements. Panics with the error's message on bad input and with
    /// `KeyboardInterrupt` on an interrupt; see [`try_iter`](Self::try_iter).
    pub fn iter(&self) -> DatasetIter<T> {
        DatasetIter::new(self.stream())
    }

    /// Iterates over `Result`s: errors in files or in `map` functions come back as `Err` and
    /// an interrupt as `Err(Error::Cancelled)`, after which the iterator ends.
    pub fn try_iter(&self) -> TryDatasetIter<T> {
        TryDatasetIter::new(self.stream())
    }

    /// All elements in a Vec, or the first error.
    pub fn try_collect(&self) -> Result<Vec<T>> {
        self.try_iter().collect()
    }

    /// Number of elements when known without iterating, else [`INFINITE_CARDINALITY`] or
    /// [`UNKNOWN_CARDINALITY`] (`tf.data.Dataset.cardinality`).
    pub fn cardinality(&self) -> i64 {
        match self.card {
            Card::Finite(n) => n as i64,
            Card::Infinite => INFINITE_CARDINALITY,
            Card::Unknown => UNKNOWN_CARDINALITY,
        }
    }

    #[track_caller]
    fn option(
        mut self,
        allowed: &[Stage],
        what: &str,
        set: impl FnOnce(&mut StageOptions),
    ) -> Self {
        if !allowed.contains(&self.stage) {
            panic!(
                "{what} applies to the stage just added ({}); call it right after that stage, e.g. .map(f).num_parallel_calls(4)",
                allowed
                    .iter()
                    .map(|s| format!("{s:?}").to_lowercase())
                    .collect::<Vec<_>>()
                    .join(" or ")
            );
        }
        set(&mut self.opts);
        self
    }

    /// Worker threads for the `map` or `interleave` just added (`AUTOTUNE`: one per core, at
    /// least 4, since pipeline work often waits on files).
    #[track_caller]
    pub fn num_parallel_calls(self, n: usize) -> Self {
        let n = if n == AUTOTUNE {
            parallel::autotune_workers()
        } else {
            n.max(1)
        };
        self.option(
            &[Stage::Map, Stage::Interleave],
            "num_parallel_calls",
            |o| o.num_parallel_calls = n,
        )
    }
    /// `deterministic(false)` lets a parallel `map` or `interleave` return elements as they
    /// are ready instead of in input order.
    #[track_caller]
    pub fn deterministic(self, yes: bool) -> Self {
        self.option(&[Stage::Map, Stage::Interleave], "deterministic", |o| {
            o.deterministic = yes
        })
    }
    /// For the `shuffle` just added: `false` gives the same order on every iteration.
    #[track_caller]
    pub fn reshuffle_each_iteration(self, yes: bool) -> Self {
        self.option(&[Stage::Shuffle], "reshuffle_each_iteration", |o| {
            o.reshuffle_each_iteration = yes
        })
    }
    /// For the `batch`, `padded_batch` or `window` just added: drop a last, smaller one.
    #[track_caller]
    pub fn drop_remainder(mut self, yes: bool) -> Self {
        if yes {
            self.card = match (self.batch_of, self.card) {
                (Some((up, size)), _) => up.map(|n| n / size),
                (None, Card::Finite(_)) => Card::Unknown,
                (None, c) => c,
            };
        }
        self.option(
            &[Stage::Batch, Stage::PaddedBatch, Stage::Window],
            "drop_remainder",
            |o| o.drop_remainder = yes,
        )
    }
    /// For the `padded_batch` just added: the value that fills the padding (default 0).
    #[track_caller]
    pub fn padding_values(self, value: f64) -> Self {
        self.option(&[Stage::PaddedBatch], "padding_values", |o| {
            o.padding_value = value
        })
    }
    /// For the `window` just added: the step between elements inside one window (default 1).
    #[track_caller]
    pub fn stride(self, stride: usize) -> Self {
        self.option(&[Stage::Window], "stride", |o| o.stride = stride.max(1))
    }
}

impl<T: Item> IntoIterator for &Dataset<T> {
    type Item = T;
    type IntoIter = DatasetIter<T>;
    fn into_iter(self) -> DatasetIter<T> {
        self.iter()
    }
}
