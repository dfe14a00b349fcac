//! TF's top-level math names as free functions, for learners who type `tf.reduce_mean(x)`:
//!
//! | TF | Ferrolab |
//! |---|---|
//! | `tf.reduce_mean(x)` | `reduce_mean(&x)` |
//! | `tf.reduce_mean(x, axis=1, keepdims=True)` | `reduce_mean_axis(&x, 1, true)` |
//! | `tf.reduce_sum(x, axis=[0, 1])` | `reduce_sum_axis(&x, [0, 1], false)` |
//! | `tf.clip_by_value(x, 0., 1.)` | `clip_by_value(&x, 0.0, 1.0)` |
//!
//! Rust has no keyword arguments, so `axis`/`keepdims` move to the `_axis` twin. Each function
//! is the tensor method of the same meaning (`x.mean()`, `x.mean_axes(..)`, `x.clamp(..)`), so
//! gradients flow through them.

use crate::tensor::Tensor;

/// The `axis` of a reduction: one axis (`1`, `-1`) or several (`[0, 1]`); negative counts from
/// the end.
pub trait Axes {
    fn axes(self) -> Vec<isize>;
}
macro_rules! axes {
    ($($t:ty),*) => {$(
        impl Axes for $t {
            fn axes(self) -> Vec<isize> { vec![self as isize] }
        }
        impl<const N: usize> Axes for [$t; N] {
            fn axes(self) -> Vec<isize> { self.iter().map(|&a| a as isize).collect() }
        }
        impl Axes for &[$t] {
            fn axes(self) -> Vec<isize> { self.iter().map(|&a| a as isize).collect() }
        }
        impl Axes for Vec<$t> {
            fn axes(self) -> Vec<isize> { self.iter().map(|&a| a as isize).collect() }
        }
    )*};
}
axes!(i32, i64, isize, usize);

macro_rules! reduce_fns {
    ($($all:ident, $axis:ident, $method:ident, $tf:literal;)*) => {$(
        #[doc = concat!("`", $tf, "(x)` over all elements: a scalar tensor.")]
        #[track_caller]
        pub fn $all(x: impl AsRef<Tensor>) -> Tensor {
            x.as_ref().$method(&[], false)
        }
        #[doc = concat!("`", $tf, "(x, axis, keepdims)`: `axis` is one axis or an array of them.")]
        #[track_caller]
        pub fn $axis(x: impl AsRef<Tensor>, axis: impl Axes, keepdims: bool) -> Tensor {
            x.as_ref().$method(&axis.axes(), keepdims)
        }
    )*};
}
reduce_fns! {
    reduce_sum, reduce_sum_axis, sum_axes, "tf.reduce_sum";
    reduce_mean, reduce_mean_axis, mean_axes, "tf.reduce_mean";
    reduce_max, reduce_max_axis, max_axes, "tf.reduce_max";
    reduce_min, reduce_min_axis, min_axes, "tf.reduce_min";
    reduce_variance, reduce_variance_axis, var_axes, "tf.math.reduce_variance";
}

/// `tf.math.reduce_std(x)` over all elements (population standard deviation).
#[track_caller]
pub fn reduce_std(x: impl AsRef<Tensor>) -> Tensor {
    reduce_variance(x).sqrt()
}
/// `tf.math.reduce_std(x, axis, keepdims)`.
#[track_caller]
pub fn reduce_std_axis(x: impl AsRef<Tensor>, axis: impl Axes, keepdims: bool) -> Tensor {
    reduce_variance_axis(x, axis, keepdims).sqrt()
}
/// `tf.reduce_logsumexp(x)` over all elements, computed stably.
#[track_caller]
pub fn reduce_logsumexp(x: impl AsRef<Tensor>) -> Tensor {
    let x = x.as_ref();
    x.reshape([x.elem_count()]).logsumexp(0, false)
}
/// `tf.reduce_logsumexp(x, axis, keepdims)` along one axis.
#[track_caller]
pub fn reduce_logsumexp_axis(x: impl AsRef<Tensor>, axis: isize, keepdims: bool) -> Tensor {
    x.as_ref().logsumexp(axis, keepdims)
}

/// `tf.clip_by_value(x, clip_value_min, clip_value_max)`: every element limited to
/// `[min, max]`. The gradient is 1 inside the range and 0 where the value was clipped.
#[track_caller]
pub fn clip_by_value(x: impl AsRef<Tensor>, clip_value_min: f32, clip_value_max: f32) -> Tensor {
    assert!(
        clip_value_min <= clip_value_max,
        "clip_by_value: clip_value_min {clip_value_min} > clip_value_max {clip_value_max}; \
         pass the smaller bound first"
    );
    x.as_ref().clamp(clip_value_min, clip_value_max)
}
