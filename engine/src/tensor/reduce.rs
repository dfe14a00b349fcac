//! Reductions with TF semantics: over all elements (`x.sum()`), one axis (`x.sum_axis(1, true)`)
//! or several (`x.sum_axes(&[0, 1], false)`), with keepdims. Also argmax/argmin, var, std,
//! logsumexp, softmax and log_softmax (shifted by a stop-gradient max for stability; f16/bf16
//! inputs compute them in f32 and round once).

use crate::autodiff::stop_gradient;
use crate::dtype::DType;
use crate::error::{invalid, or_panic, Result};
use crate::shape::{resolve_axis, Shape};
use crate::storage::ReduceOp;
use crate::tensor::{apply, Op, Tensor};

impl Tensor {
    fn resolve_axes(&self, axes: &[isize], op: &'static str) -> Result<Vec<usize>> {
        let mut v = axes
            .iter()
            .map(|&a| resolve_axis(a, self.rank(), op))
            .collect::<Result<Vec<_>>>()?;
        v.sort_unstable();
        if v.windows(2).any(|w| w[0] == w[1]) {
            return Err(invalid(op, format!("axis listed twice in {axes:?}")));
        }
        Ok(v)
    }

    /// The softmax family needs a float tensor and a valid axis; say so in the op's own name.
    fn check_float_axis(&self, axis: isize, op: &'static str) -> Result<()> {
        resolve_axis(axis, self.rank(), op)?;
        if !self.dtype().is_float() {
            return Err(crate::Error::DTypeMismatch {
                op,
                expected: "a float tensor".into(),
                got: self.dtype(),
            });
        }
        Ok(())
    }

    /// f16/bf16: the softmax family computes in f32 (exp overflows f16 past 11, and sums of
    /// many terms lose bits) and rounds once (mixed precision keeps them in f32).
    fn half_dtype(&self) -> Option<DType> {
        matches!(self.dtype(), DType::F16 | DType::BF16).then_some(self.dtype())
    }

    /// The shape after reducing `axes`, with or without the kept size-1 axes.
    pub(crate) fn reduced_shape(&self, axes: &[usize], keepdims: bool) -> Shape {
        crate::tensor::op::reduced_dims(self.dims(), axes, keepdims)
    }

    /// A reduction primitive. `axes` empty means every axis.
    fn reduce_op(
        &self,
        axes: &[isize],
        keepdims: bool,
        op: ReduceOp,
        name: &'static str,
    ) -> Result<Tensor> {
        let axes = if axes.is_empty() {
            (0..self.rank()).collect()
        } else {
            self.resolve_axes(axes, name)?
        };
        if self.dtype() == DType::Bool {
            return Err(crate::Error::DTypeMismatch {
                op: name,
                expected: "a numeric tensor".into(),
                got: DType::Bool,
            });
        }
        // max/min of nothing is undefined; an empty output (e.g. an empty batch) is fine
        let reduced: usize = axes.iter().map(|&a| self.dims()[a]).product();
        if reduced == 0
            && self.reduced_shape(&axes, false).elem_count() > 0
            && matches!(
                op,
                ReduceOp::Max | ReduceOp::Min | ReduceOp::ArgMax | ReduceOp::ArgMin
            )
        {
            return Err(invalid(
                name,
                format!("cannot reduce an empty tensor of shape {}", self.shape()),
            ));
        }
        apply(Op::Reduce { op, axes, keepdims }, &[self])
    }

    /// Brings a reduced gradient back to `self`'s shape.
    pub(crate) fn unreduce(&self, g: &Tensor, axes: &[usize]) -> Tensor {
        g.reshape(self.reduced_shape(axes, true))
            .broadcast_to(self.shape().clone())
    }

    // ---- sum ------------------------------------------------------------------------------
    /// Sum of all elements (`tf.reduce_sum(x)`), a scalar tensor.
    #[track_caller]
    pub fn sum(&self) -> Tensor {
        self.sum_axes(&[], false)
    }
    /// `tf.reduce_sum(x, axis, keepdims)`.
    #[track_caller]
    pub fn sum_axis(&self, axis: isize, keepdims: bool) -> Tensor {
        self.sum_axes(&[axis], keepdims)
    }
    #[track_caller]
    pub fn sum_axes(&self, axes: &[isize], keepdims: bool) -> Tensor {
        or_panic(self.try_sum_axes(axes, keepdims))
    }
    pub fn try_sum_axes(&self, axes: &[isize], keepdims: bool) -> Result<Tensor> {
        self.reduce_op(axes, keepdims, ReduceOp::Sum, "sum")
    }

    // ---- mean, var, std --------------------------------------------------------------------
    /// Mean of all elements (`tf.reduce_mean(x)`).
    #[track_caller]
    pub fn mean(&self) -> Tensor {
        self.mean_axes(&[], false)
    }
    #[track_caller]
    pub fn mean_axis(&self, axis: isize, keepdims: bool) -> Tensor {
        self.mean_axes(&[axis], keepdims)
    }
    #[track_caller]
    pub fn mean_axes(&self, axes: &[isize], keepdims: bool) -> Tensor {
        or_panic(self.try_mean_axes(axes, keepdims))
    }
    pub fn try_mean_axes(&self, axes: &[isize], keepdims: bool) -> Result<Tensor> {
        if !self.dtype().is_float() {
            return self.try_cast(DType::F32)?.try_mean_axes(axes, keepdims);
        }
        if self.dtype() != DType::F32 {
            // f16/bf16: the sum can overflow and n may not be representable (f16(1e5) = inf),
            // so average in f32 and round once
            let m = self.try_cast(DType::F32)?.try_mean_axes(axes, keepdims)?;
            return m.try_cast(self.dtype());
        }
        let n: usize = if axes.is_empty() {
            self.elem_count()
        } else {
            self.resolve_axes(axes, "mean")?
                .iter()
                .map(|&a| self.dims()[a])
                .product()
        };
        self.try_sum_axes(axes, keepdims)?.try_div(n.max(1) as f64)
    }
    /// Population variance (`tf.math.reduce_variance`) of all elements.
    #[track_caller]
    pub fn var(&self) -> Tensor {
        self.var_axes(&[], false)
    }
    #[track_caller]
    pub fn var_axis(&self, axis: isize, keepdims: bool) -> Tensor {
        self.var_axes(&[axis], keepdims)
    }
    #[track_caller]
    pub fn var_axes(&self, axes: &[isize], keepdims: bool) -> Tensor {
        if !self.dtype().is_float() {
            return self.cast(DType::F32).var_axes(axes, keepdims);
        }
        let m = self.mean_axes(axes, true);
        (self - &m).square().mean_axes(axes, keepdims)
    }
    /// Population standard deviation (`tf.math.reduce_std`).
    #[track_caller]
    pub fn std(&self) -> Tensor {
        self.var().sqrt()
    }
    #[track_caller]
    pub fn std_axis(&self, axis: isize, keepdims: bool) -> Tensor {
        self.var_axes(&[axis], keepdims).sqrt()
    }

    // ---- max, min ---------------------------------------------------------------------------
    fn extremum(
        &self,
        axes: &[isize],
        keepdims: bool,
        op: ReduceOp,
        name: &'static str,
    ) -> Result<Tensor> {
        self.reduce_op(axes, keepdims, op, name)
    }
    /// Largest element (`tf.reduce_max(x)`).
    #[track_caller]
    pub fn max(&self) -> Tensor {
        self.max_axes(&[], false)
    }
    #[track_caller]
    pub fn max_axis(&self, axis: isize, keepdims: bool) -> Tensor {
        self.max_axes(&[axis], keepdims)
    }
    #[track_caller]
    pub fn max_axes(&self, axes: &[isize], keepdims: bool) -> Tensor {
        or_panic(self.extremum(axes, keepdims, ReduceOp::Max, "max"))
    }
    /// Smallest element (`tf.reduce_min(x)`).
    #[track_caller]
    pub fn min(&self) -> Tensor {
        self.min_axes(&[], false)
    }
    #[track_caller]
    pub fn min_axis(&self, axis: isize, keepdims: bool) -> Tensor {
        self.min_axes(&[axis], keepdims)
    }
    #[track_caller]
    pub fn min_axes(&self, axes: &[isize], keepdims: bool) -> Tensor {
        or_panic(self.extremum(axes, keepdims, ReduceOp::Min, "min"))
    }
    /// Index of the largest entry along `axis`, as int64 (`tf.argmax`); the axis is removed.
    #[track_caller]
    pub fn argmax(&self, axis: isize) -> Tensor {
        or_panic(self.reduce_op(&[axis], false, ReduceOp::ArgMax, "argmax"))
    }
    /// Index of the smallest entry along `axis`, as int64 (`tf.argmin`).
    #[track_caller]
    pub fn argmin(&self, axis: isize) -> Tensor {
        or_panic(self.reduce_op(&[axis], false, ReduceOp::ArgMin, "argmin"))
    }

    // ---- logsumexp, softmax -----------------------------------------------------------------
    /// log(sum(exp(x))) along `axis`, computed stably (`tf.reduce_logsumexp`).
    #[track_caller]
    pub fn logsumexp(&self, axis: isize, keepdims: bool) -> Tensor {
        or_panic(self.check_float_axis(axis, "logsumexp"));
        if let Some(d) = self.half_dtype() {
            return self.cast(DType::F32).logsumexp(axis, keepdims).cast(d);
        }
        let m = stop_gradient(&self.max_axis(axis, true));
        let lse = (self - &m).exp().sum_axis(axis, true).log() + &m;
        if keepdims {
            lse
        } else {
            lse.squeeze(&[axis])
        }
    }
    /// exp(x) / sum(exp(x)) along `axis` (`tf.nn.softmax`).
    #[track_caller]
    pub fn softmax(&self, axis: isize) -> Tensor {
        or_panic(self.check_float_axis(axis, "softmax"));
        if let Some(d) = self.half_dtype() {
            return self.cast(DType::F32).softmax(axis).cast(d);
        }
        let m = stop_gradient(&self.max_axis(axis, true));
        let e = (self - &m).exp();
        let s = e.sum_axis(axis, true);
        e / s
    }
    /// x - logsumexp(x) along `axis` (`tf.nn.log_softmax`).
    #[track_caller]
    pub fn log_softmax(&self, axis: isize) -> Tensor {
        or_panic(self.check_float_axis(axis, "log_softmax"));
        if let Some(d) = self.half_dtype() {
            return self.cast(DType::F32).log_softmax(axis).cast(d);
        }
        let m = stop_gradient(&self.max_axis(axis, true));
        let shifted = self - &m;
        let lse = shifted.exp().sum_axis(axis, true).log();
        shifted - lse
    }
}
