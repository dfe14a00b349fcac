//! `keras.utils.timeseries_dataset_from_array`: sliding windows over a time series, batched.
//!
//! Window `i` starts at row `start_index + i * sequence_stride` of `data` and takes
//! `sequence_length` rows, `sampling_rate` apart; its target is `targets[start]` (the row of
//! `targets` at the window's first index), exactly as in Keras. Windows are cut with one
//! `gather`, so the dataset holds (windows, features...) in memory: fine for the series of a
//! notebook, not for a corpus.
//!
//! ```
//! use ferrolab::prelude::*;
//! // data 0..10; windows of 3 with targets data[i + 3]: the Keras docstring's example
//! let data = arange(0.0, 10.0, 1.0);
//! let targets = data.slice(s![3..]);
//! let ds = timeseries_dataset_from_array(&data, Some(&targets), 3).batch_size(2).build();
//! let (x, y) = ds.iter().next().unwrap();
//! assert_eq!(x.to_vec::<f32>(), vec![0.0, 1.0, 2.0, 1.0, 2.0, 3.0]);
//! assert_eq!(y.to_vec::<f32>(), vec![3.0, 4.0]);
//! ```

use super::Dataset;
use crate::tensor::create::from_vec;
use crate::tensor::Tensor;

/// The options of [`timeseries_dataset_from_array`], as builder methods; finish with
/// [`build`](Self::build) (windows and targets) or [`inputs`](Self::inputs) (windows only).
#[derive(Clone)]
pub struct Timeseries {
    data: Tensor,
    targets: Option<Tensor>,
    sequence_length: usize,
    sequence_stride: usize,
    sampling_rate: usize,
    batch_size: Option<usize>,
    shuffle: Option<u64>,
    start_index: usize,
    end_index: Option<usize>,
}

/// `keras.utils.timeseries_dataset_from_array(data, targets, sequence_length, ...)`: windows of
/// `sequence_length` rows of `data` (time on the first axis), with Keras' defaults
/// (`sequence_stride=1`, `sampling_rate=1`, `batch_size=128`, no shuffle). Pass `None` for
/// `targets` and finish with `.inputs()` for windows alone.
pub fn timeseries_dataset_from_array(
    data: &Tensor,
    targets: Option<&Tensor>,
    sequence_length: usize,
) -> Timeseries {
    Timeseries {
        data: data.clone(),
        targets: targets.cloned(),
        sequence_length,
        sequence_stride: 1,
        sampling_rate: 1,
        batch_size: Some(128),
        shuffle: None,
        start_index: 0,
        end_index: None,
    }
}

impl Timeseries {
    /// Rows between the starts of consecutive windows (`sequence_stride`, default 1).
    pub fn sequence_stride(mut self, n: usize) -> Self {
        self.sequence_stride = n;
        self
    }
    /// Rows between consecutive steps inside a window (`sampling_rate`, default 1).
    pub fn sampling_rate(mut self, n: usize) -> Self {
        self.sampling_rate = n;
        self
    }
    /// Windows per batch (`batch_size`, default 128).
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = Some(n);
        self
    }
    /// One window per element, unbatched (`batch_size=None`).
    pub fn unbatched(mut self) -> Self {
        self.batch_size = None;
        self
    }
    /// Shuffles the windows, reproducibly from `seed` (`shuffle=True, seed=seed`).
    pub fn shuffle(mut self, seed: u64) -> Self {
        self.shuffle = Some(seed);
        self
    }
    /// The first row a window may use (`start_index`, default 0).
    pub fn start_index(mut self, i: usize) -> Self {
        self.start_index = i;
        self
    }
    /// Rows from this one on are not used (`end_index`, default the end of the data).
    pub fn end_index(mut self, i: usize) -> Self {
        self.end_index = Some(i);
        self
    }

    /// The window start rows, in order.
    #[track_caller]
    fn starts(&self) -> Vec<usize> {
        let n = self.data.dims().first().copied().unwrap_or(0);
        assert!(
            self.sequence_length > 0 && self.sequence_stride > 0 && self.sampling_rate > 0,
            "timeseries_dataset_from_array: sequence_length, sequence_stride and sampling_rate \
             must be positive"
        );
        let mut end = self.end_index.unwrap_or(n).min(n);
        if let Some(t) = &self.targets {
            end = end.min(t.dims().first().copied().unwrap_or(0));
        }
        let span = (self.sequence_length - 1) * self.sampling_rate;
        // Keras: num_seqs = end_index - start_index - (sequence_length - 1) * sampling_rate
        let last = end.saturating_sub(span); // starts are < last
        (self.start_index..last)
            .step_by(self.sequence_stride)
            .collect()
    }

    /// (windows, row indices) for the start rows: windows of shape (W, sequence_length, ...).
    fn windows(&self, starts: &[usize]) -> Tensor {
        let idx: Vec<i64> = starts
            .iter()
            .flat_map(|&s| {
                (0..self.sequence_length).map(move |k| (s + k * self.sampling_rate) as i64)
            })
            .collect();
        let idx = from_vec(idx, [starts.len(), self.sequence_length]).expect("window indices");
        self.data.gather(&idx, 0)
    }

    fn finish<T: super::Element>(&self, ds: Dataset<T>) -> Dataset<T> {
        let ds = match self.shuffle {
            Some(seed) => ds.shuffle(self.starts().len().max(1), seed),
            None => ds,
        };
        match self.batch_size {
            Some(b) => ds.batch(b),
            None => ds,
        }
    }

    /// The dataset of `(windows, targets)` batches. Panics without targets: use
    /// [`inputs`](Self::inputs).
    #[track_caller]
    pub fn build(&self) -> Dataset<(Tensor, Tensor)> {
        let Some(targets) = &self.targets else {
            panic!(
                "timeseries_dataset_from_array: no targets were given (None), so there are only \
                 windows; finish with .inputs() instead of .build()"
            )
        };
        let starts = self.starts();
        let x = self.windows(&starts);
        let rows = from_vec(
            starts.iter().map(|&s| s as i64).collect::<Vec<_>>(),
            [starts.len()],
        )
        .expect("target rows");
        let y = targets.gather(&rows, 0);
        self.finish(Dataset::from_tensor_slices((&x, &y)))
    }

    /// The dataset of window batches alone (Keras with `targets=None`).
    #[track_caller]
    pub fn inputs(&self) -> Dataset<Tensor> {
        let x = self.windows(&self.starts());
        self.finish(Dataset::from_tensor_slices(&x))
    }
}
