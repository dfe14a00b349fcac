//! Per-replica values and their reduction (TF's `PerReplica`, `strategy.reduce(SUM | MEAN, ..)`)
//! and the loss scaling of the global batch (`tf.nn.compute_average_loss`).

use crate::tensor::Tensor;

/// How [`MirroredStrategy::reduce`](super::MirroredStrategy::reduce) combines the replicas'
/// values (TF's `tf.distribute.ReduceOp`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReduceOp {
    Sum,
    Mean,
}

/// One value per replica, in replica order (TF's `PerReplica`; `.values` as in TF).
#[derive(Clone, Debug)]
pub struct PerReplica<T> {
    pub values: Vec<T>,
}

impl<T> PerReplica<T> {
    /// The number of replicas that hold a value.
    pub fn len(&self) -> usize {
        self.values.len()
    }
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// Values the strategy can all-reduce: tensors (moved to the first replica's device), numbers,
/// and lists of gradients (`None` counts as zero).
pub trait Reduce: Sized {
    /// The sum of `values` (at least one).
    fn sum(values: &[Self]) -> Self;
    /// `self / n` for MEAN.
    fn divide(self, n: usize) -> Self;
}

impl Reduce for Tensor {
    fn sum(values: &[Tensor]) -> Tensor {
        let dev = values[0].device();
        let mut acc = values[0].clone();
        for v in &values[1..] {
            acc = acc + v.to(dev);
        }
        acc
    }
    fn divide(self, n: usize) -> Tensor {
        self / n as f64
    }
}

impl Reduce for f32 {
    fn sum(values: &[f32]) -> f32 {
        values.iter().sum()
    }
    fn divide(self, n: usize) -> f32 {
        self / n as f32
    }
}

impl Reduce for Option<Tensor> {
    fn sum(values: &[Option<Tensor>]) -> Option<Tensor> {
        let some: Vec<Tensor> = values.iter().flatten().cloned().collect();
        (!some.is_empty()).then(|| <Tensor as Reduce>::sum(&some))
    }
    fn divide(self, n: usize) -> Option<Tensor> {
        self.map(|t| t.divide(n))
    }
}

impl<T: Reduce + Clone> Reduce for Vec<T> {
    /// Element by element: the all-reduce of a list of gradients.
    fn sum(values: &[Vec<T>]) -> Vec<T> {
        let n = values[0].len();
        for v in values {
            assert_eq!(
                v.len(),
                n,
                "reduce: replicas returned lists of different lengths ({} and {n})",
                v.len()
            );
        }
        (0..n)
            .map(|i| {
                let col: Vec<T> = values.iter().map(|v| v[i].clone()).collect();
                T::sum(&col)
            })
            .collect()
    }
    fn divide(self, n: usize) -> Vec<T> {
        self.into_iter().map(|v| v.divide(n)).collect()
    }
}

/// Reduces the replicas' values: SUM adds them, MEAN divides the sum by the number of replicas.
pub(crate) fn reduce<T: Reduce + Clone>(op: ReduceOp, v: &PerReplica<T>) -> T {
    assert!(
        !v.values.is_empty(),
        "reduce: no replica holds a value (an empty batch?)"
    );
    let s = T::sum(&v.values);
    match op {
        ReduceOp::Sum => s,
        ReduceOp::Mean => s.divide(v.values.len()),
    }
}

/// TF's `tf.nn.compute_average_loss`: the sum of a replica's per-example losses divided by the
/// **global** batch size, so that summing the replicas' losses (and gradients) gives the mean over
/// the global batch, whatever the split.
///
/// ```
/// use ferrolab::prelude::*;
/// let per_example = tensor([1.0f32, 2.0, 3.0]);
/// // a replica holding 3 of the global batch's 4 examples
/// let l = ferrolab::distribute::compute_average_loss(&per_example, 4);
/// assert_eq!(l.item(), 1.5);
/// ```
pub fn compute_average_loss(per_example_loss: &Tensor, global_batch_size: usize) -> Tensor {
    assert!(
        global_batch_size > 0,
        "compute_average_loss: global_batch_size must be positive"
    );
    per_example_loss.sum() / global_batch_size as f64
}
