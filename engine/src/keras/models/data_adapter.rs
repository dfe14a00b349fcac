//! What `fit`, `evaluate` and `predict` iterate over: a `Dataset` of [`Batch`]es, whatever the
//! learner passed (Keras 3's data adapters).
//!
//! - Arrays become [`array_batches`] (Keras' `ArrayDataAdapter`): the meaning of
//!   `from_tensor_slices((x, y)).shuffle(n).batch(batch_size)`, done as one gather per batch
//!   instead of slicing every row and stacking them again.
//! - A `Dataset<(Tensor, Tensor)>` of batches is mapped to `Batch`es ([`dataset_batches`]).
//!
//! The training loop then has one batch path: it pulls `Batch`es and hands each to `train_step`.

use crate::data::{Card, Dataset, Stage};
use crate::error::or_panic;
use crate::tensor::create::from_vec;
use crate::tensor::Tensor;

/// One batch for `train_step` / `test_step`: the inputs and the targets (Keras' `data`, an
/// `(x, y)` pair), one tensor per model input and per model output.
#[derive(Clone, Debug)]
pub struct Batch {
    pub x: Vec<Tensor>,
    pub y: Vec<Tensor>,
}

impl Batch {
    pub fn new(x: Vec<Tensor>, y: Vec<Tensor>) -> Batch {
        Batch { x, y }
    }
    /// Number of samples: the first axis of the first input (or target).
    pub fn len(&self) -> usize {
        self.x
            .first()
            .or(self.y.first())
            .and_then(|t| t.dims().first().copied())
            .unwrap_or(0)
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl From<(Tensor, Tensor)> for Batch {
    fn from((x, y): (Tensor, Tensor)) -> Batch {
        Batch::new(vec![x], vec![y])
    }
}

/// Rows `[start, start + len)` of every tensor (views, no copy).
pub(crate) fn rows(ts: &[Tensor], start: usize, len: usize) -> Vec<Tensor> {
    ts.iter().map(|t| t.narrow(0, start, len)).collect()
}

/// Batches of `batch_size` rows of `xs` and `ys` (the last one smaller), in order, or in a
/// fresh permutation on every iteration when `shuffle`. The permutation is drawn from the global
/// generator when the iteration starts (`ds.iter()`), so `set_seed` makes `fit` reproducible.
pub(crate) fn array_batches(
    xs: Vec<Tensor>,
    ys: Vec<Tensor>,
    batch_size: usize,
    shuffle: bool,
) -> Dataset<Batch> {
    let n = xs
        .first()
        .or(ys.first())
        .and_then(|t| t.dims().first().copied())
        .unwrap_or(0);
    let bs = batch_size.max(1);
    let steps = n.div_ceil(bs);
    Dataset::from_maker(Stage::Source, Card::Finite(steps), move |_| {
        let (xs, ys) = (xs.clone(), ys.clone());
        let order: Option<Vec<i64>> = shuffle.then(|| {
            let mut order: Vec<i64> = (0..n as i64).collect();
            crate::random::with_global_rng(|r| r.shuffle(&mut order));
            order
        });
        Box::new((0..steps).map(move |step| {
            let (s, len) = (step * bs, bs.min(n - step * bs));
            Ok(match &order {
                Some(order) => {
                    let idx = or_panic(from_vec(order[s..s + len].to_vec(), [len]));
                    let take = |ts: &[Tensor]| ts.iter().map(|t| t.gather(&idx, 0)).collect();
                    Batch::new(take(&xs[..]), take(&ys[..]))
                }
                None => Batch::new(rows(&xs, s, len), rows(&ys, s, len)),
            })
        }))
    })
}

/// A dataset of `(x, y)` batches as `Batch`es.
pub(crate) fn dataset_batches(ds: &Dataset<(Tensor, Tensor)>) -> Dataset<Batch> {
    ds.map(Batch::from)
}
