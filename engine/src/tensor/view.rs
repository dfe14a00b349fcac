//! Views and movement: reshape, permute/transpose, expand_dims/squeeze, slicing with steps,
//! broadcast_to, narrow, contiguous copies and `to(device)`.
//!
//! Views share storage with their source (check with `shares_storage_with`). They are ops like
//! any other (`Op::Reshape`, `Op::Slice`, ...), so gradients flow through them.

use crate::device::Device;
use crate::error::{invalid, or_panic, Result};
use crate::shape::{resolve_axis, Shape};
use crate::tensor::op::AxisSlice;
use crate::tensor::{apply, Op, Tensor};

/// Target dims for `reshape`; one entry may be -1 (inferred), as in `tf.reshape`.
pub trait ReshapeDims {
    fn reshape_dims(self) -> Vec<isize>;
}
macro_rules! reshape_dims {
    ($($t:ty),*) => {$(
        impl<const N: usize> ReshapeDims for [$t; N] {
            fn reshape_dims(self) -> Vec<isize> { self.iter().map(|&d| d as isize).collect() }
        }
        impl ReshapeDims for Vec<$t> {
            fn reshape_dims(self) -> Vec<isize> { self.iter().map(|&d| d as isize).collect() }
        }
        impl ReshapeDims for &[$t] {
            fn reshape_dims(self) -> Vec<isize> { self.iter().map(|&d| d as isize).collect() }
        }
        impl<const N: usize> ReshapeDims for &[$t; N] {
            fn reshape_dims(self) -> Vec<isize> { self.iter().map(|&d| d as isize).collect() }
        }
        impl ReshapeDims for &Vec<$t> {
            fn reshape_dims(self) -> Vec<isize> { self.iter().map(|&d| d as isize).collect() }
        }
    )*};
}
reshape_dims!(i32, i64, isize, usize);
impl ReshapeDims for &Shape {
    fn reshape_dims(self) -> Vec<isize> {
        self.dims().iter().map(|&d| d as isize).collect()
    }
}
impl ReshapeDims for Shape {
    fn reshape_dims(self) -> Vec<isize> {
        (&self).reshape_dims()
    }
}
impl ReshapeDims for usize {
    fn reshape_dims(self) -> Vec<isize> {
        vec![self as isize]
    }
}

/// One axis of a slice: a range with an optional step, or a single index (which drops the axis).
/// Built by the [`s!`](crate::s) macro; negative positions count from the end, as in Python.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SliceArg {
    start: Option<isize>,
    end: Option<isize>,
    step: usize,
    index: bool,
}

impl SliceArg {
    pub fn step(mut self, step: usize) -> SliceArg {
        self.step = step;
        self
    }
    fn range(start: Option<isize>, end: Option<isize>) -> SliceArg {
        SliceArg {
            start,
            end,
            step: 1,
            index: false,
        }
    }
}

macro_rules! slice_from {
    ($($t:ty),*) => {$(
        impl From<$t> for SliceArg {
            fn from(i: $t) -> SliceArg { SliceArg { start: Some(i as isize), end: None, step: 1, index: true } }
        }
        impl From<std::ops::Range<$t>> for SliceArg {
            fn from(r: std::ops::Range<$t>) -> SliceArg { SliceArg::range(Some(r.start as isize), Some(r.end as isize)) }
        }
        impl From<std::ops::RangeFrom<$t>> for SliceArg {
            fn from(r: std::ops::RangeFrom<$t>) -> SliceArg { SliceArg::range(Some(r.start as isize), None) }
        }
        impl From<std::ops::RangeTo<$t>> for SliceArg {
            fn from(r: std::ops::RangeTo<$t>) -> SliceArg { SliceArg::range(None, Some(r.end as isize)) }
        }
        impl From<std::ops::RangeInclusive<$t>> for SliceArg {
            fn from(r: std::ops::RangeInclusive<$t>) -> SliceArg {
                let end = *r.end() as isize;
                SliceArg::range(Some(*r.start() as isize), if end == -1 { None } else { Some(end + 1) })
            }
        }
        impl From<std::ops::RangeToInclusive<$t>> for SliceArg {
            fn from(r: std::ops::RangeToInclusive<$t>) -> SliceArg {
                let end = r.end as isize;
                SliceArg::range(None, if end == -1 { None } else { Some(end + 1) })
            }
        }
    )*};
}
slice_from!(i32, i64, isize, usize);
impl From<std::ops::RangeFull> for SliceArg {
    fn from(_: std::ops::RangeFull) -> SliceArg {
        SliceArg::range(None, None)
    }
}

/// Slice arguments, NumPy style: `x.slice(s![.., 1..3, 0..;2, -1])`. A `;step` after a range
/// sets its step; a single index drops that axis; axes not named are kept whole.
#[macro_export]
macro_rules! s {
    ($($e:expr $(; $step:expr)?),* $(,)?) => {
        vec![$( $crate::tensor::SliceArg::from($e) $(.step($step))? ),*]
    };
}

impl Tensor {
    /// `tf.reshape`: same elements, new shape; `-1` infers one dimension. A view when possible.
    #[track_caller]
    pub fn reshape(&self, dims: impl ReshapeDims) -> Tensor {
        or_panic(self.try_reshape(dims))
    }
    pub fn try_reshape(&self, dims: impl ReshapeDims) -> Result<Tensor> {
        let want = dims.reshape_dims();
        let n = self.elem_count();
        let known: usize = want
            .iter()
            .filter(|&&d| d >= 0)
            .map(|&d| d as usize)
            .product();
        let infer = want.iter().filter(|&&d| d < 0).count();
        let bad = |why: &str| {
            invalid(
                "reshape",
                format!(
                    "cannot reshape {} ({n} elements) to {:?}: {why}",
                    self.shape(),
                    want
                ),
            )
        };
        if infer > 1 || want.iter().any(|&d| d < -1) {
            return Err(bad("only one dimension can be -1"));
        }
        let dims: Vec<usize> = if infer == 1 {
            if known == 0 || !n.is_multiple_of(known) {
                return Err(bad("the other dimensions do not divide the element count"));
            }
            want.iter()
                .map(|&d| if d < 0 { n / known } else { d as usize })
                .collect()
        } else {
            want.iter().map(|&d| d as usize).collect()
        };
        let shape = Shape(dims);
        if shape.elem_count() != n {
            return Err(bad(&format!(
                "that shape holds {} elements",
                shape.elem_count()
            )));
        }
        let src = if self.is_contiguous() {
            self.clone()
        } else {
            self.contiguous_copy()
        };
        apply(Op::Reshape(shape), &[&src])
    }

    /// Reorders axes (`tf.transpose(x, perm)`): a view.
    #[track_caller]
    pub fn permute(&self, perm: &[usize]) -> Tensor {
        or_panic(self.try_permute(perm))
    }
    pub fn try_permute(&self, perm: &[usize]) -> Result<Tensor> {
        let r = self.rank();
        let mut seen = vec![false; r];
        if perm.len() != r
            || perm
                .iter()
                .any(|&p| p >= r || std::mem::replace(&mut seen[p], true))
        {
            return Err(invalid(
                "permute",
                format!(
                    "{perm:?} is not a permutation of the {r} axes of a tensor of shape {}",
                    self.shape()
                ),
            ));
        }
        apply(Op::Permute(perm.to_vec()), &[self])
    }

    /// Swaps two axes (negative axes count from the end).
    #[track_caller]
    pub fn transpose(&self, a: isize, b: isize) -> Tensor {
        or_panic(self.try_transpose(a, b))
    }
    pub fn try_transpose(&self, a: isize, b: isize) -> Result<Tensor> {
        let (a, b) = (
            resolve_axis(a, self.rank(), "transpose")?,
            resolve_axis(b, self.rank(), "transpose")?,
        );
        let mut perm: Vec<usize> = (0..self.rank()).collect();
        perm.swap(a, b);
        self.try_permute(&perm)
    }

    /// Transpose of the last two axes (a matrix transpose); a 1-D tensor is returned as is.
    pub fn t(&self) -> Tensor {
        if self.rank() < 2 {
            return self.clone();
        }
        self.transpose(-2, -1)
    }

    /// Inserts an axis of size 1 (`tf.expand_dims`); `axis` may be -1 for the end.
    #[track_caller]
    pub fn expand_dims(&self, axis: isize) -> Tensor {
        or_panic(self.try_expand_dims(axis))
    }
    pub fn try_expand_dims(&self, axis: isize) -> Result<Tensor> {
        let a = resolve_axis(axis, self.rank() + 1, "expand_dims")?;
        let mut d = self.dims().to_vec();
        d.insert(a, 1);
        self.try_reshape(d)
    }

    /// Removes axes of size 1 (`tf.squeeze`); an empty list removes all of them.
    #[track_caller]
    pub fn squeeze(&self, axes: &[isize]) -> Tensor {
        or_panic(self.try_squeeze(axes))
    }
    pub fn try_squeeze(&self, axes: &[isize]) -> Result<Tensor> {
        let mut drop = vec![false; self.rank()];
        if axes.is_empty() {
            for (i, &d) in self.dims().iter().enumerate() {
                drop[i] = d == 1;
            }
        }
        for &a in axes {
            let a = resolve_axis(a, self.rank(), "squeeze")?;
            if self.dims()[a] != 1 {
                return Err(invalid(
                    "squeeze",
                    format!(
                        "axis {a} has size {}, not 1, in shape {}",
                        self.dims()[a],
                        self.shape()
                    ),
                ));
            }
            drop[a] = true;
        }
        let d: Vec<usize> = self
            .dims()
            .iter()
            .zip(&drop)
            .filter(|(_, &x)| !x)
            .map(|(&d, _)| d)
            .collect();
        self.try_reshape(d)
    }

    /// Flattens all axes after the first: (N, ...) -> (N, rest).
    pub fn flatten_batch(&self) -> Tensor {
        let n = self.dims().first().copied().unwrap_or(1);
        self.reshape([n as isize, -1])
    }

    /// NumPy-style slicing with `s!`: ranges, steps and single indices; a view.
    #[track_caller]
    pub fn slice(&self, args: Vec<SliceArg>) -> Tensor {
        or_panic(self.try_slice(args))
    }
    pub fn try_slice(&self, args: Vec<SliceArg>) -> Result<Tensor> {
        if args.len() > self.rank() {
            return Err(invalid(
                "slice",
                format!(
                    "{} slice arguments for a tensor of rank {} (shape {})",
                    args.len(),
                    self.rank(),
                    self.shape()
                ),
            ));
        }
        let mut axes = Vec::with_capacity(args.len());
        for (ax, (a, &d)) in args.iter().zip(self.dims()).enumerate() {
            let norm = |i: isize| if i < 0 { i + d as isize } else { i };
            if a.index {
                let i = norm(a.start.unwrap_or(0));
                if i < 0 || i >= d as isize {
                    return Err(invalid(
                        "slice",
                        format!(
                            "index {} is out of range for axis {ax} of size {d}",
                            a.start.unwrap_or(0)
                        ),
                    ));
                }
                axes.push(AxisSlice {
                    start: i as usize,
                    len: 1,
                    step: 1,
                    keep: false,
                });
                continue;
            }
            if a.step == 0 {
                return Err(invalid(
                    "slice",
                    format!("step 0 on axis {ax}; steps must be at least 1"),
                ));
            }
            let s = norm(a.start.unwrap_or(0)).clamp(0, d as isize) as usize;
            let e = norm(a.end.unwrap_or(d as isize)).clamp(0, d as isize) as usize;
            let len = if e > s { (e - s).div_ceil(a.step) } else { 0 };
            axes.push(AxisSlice {
                start: s,
                len,
                step: a.step,
                keep: true,
            });
        }
        apply(Op::Slice(axes), &[self])
    }

    /// A view of normalised per-axis slices (what `slice` builds from `s!` arguments).
    pub(crate) fn slice_axes(&self, axes: &[AxisSlice]) -> Tensor {
        or_panic(apply(Op::Slice(axes.to_vec()), &[self]))
    }

    /// `length` entries of `axis` starting at `start` (a view).
    #[track_caller]
    pub fn narrow(&self, axis: isize, start: usize, length: usize) -> Tensor {
        or_panic(self.try_narrow(axis, start, length))
    }
    pub fn try_narrow(&self, axis: isize, start: usize, length: usize) -> Result<Tensor> {
        let a = resolve_axis(axis, self.rank(), "narrow")?;
        let d = self.dims()[a];
        if start.checked_add(length).is_none_or(|end| end > d) {
            return Err(invalid(
                "narrow",
                format!(
                    "range {start}..{} is out of bounds for axis {a} of size {d}",
                    start as u128 + length as u128
                ),
            ));
        }
        let mut args: Vec<SliceArg> = vec![SliceArg::from(..); a];
        args.push(SliceArg::from(start..start + length));
        self.try_slice(args)
    }

    /// The `i`-th entry along the first axis (`x[i]`), dropping that axis.
    #[track_caller]
    pub fn get(&self, i: usize) -> Tensor {
        self.slice(vec![SliceArg::from(i)])
    }

    /// `tf.broadcast_to`: a view with stride 0 on broadcast axes.
    #[track_caller]
    pub fn broadcast_to(&self, shape: impl Into<Shape>) -> Tensor {
        or_panic(self.try_broadcast_to(shape))
    }
    pub fn try_broadcast_to(&self, shape: impl Into<Shape>) -> Result<Tensor> {
        apply(Op::BroadcastTo(shape.into()), &[self])
    }

    /// A contiguous tensor with the same values: `self` when already contiguous.
    pub fn contiguous(&self) -> Tensor {
        if self.is_contiguous() {
            return self.clone();
        }
        self.contiguous_copy()
    }

    /// A fresh contiguous copy with its own storage (gradients flow through).
    pub fn contiguous_copy(&self) -> Tensor {
        or_panic(apply(Op::Copy, &[self]))
    }

    /// Copies the tensor to `device` (`with tf.device(..)` / `.cuda()`); gradients flow back.
    #[track_caller]
    pub fn to(&self, device: Device) -> Tensor {
        or_panic(self.try_to(device))
    }
    pub fn try_to(&self, device: Device) -> Result<Tensor> {
        if device == self.device() {
            return Ok(self.clone());
        }
        apply(Op::ToDevice(device), &[self])
    }

    /// Sums broadcast axes away so the result has `shape` (the adjoint of broadcasting).
    pub(crate) fn sum_to_shape(&self, shape: &Shape) -> Tensor {
        if self.shape() == shape {
            return self.clone();
        }
        let (r, tr) = (self.rank(), shape.rank());
        let mut axes: Vec<isize> = (0..r - tr).map(|a| a as isize).collect();
        for i in 0..tr {
            if shape.dims()[i] == 1 && self.dims()[r - tr + i] != 1 {
                axes.push((r - tr + i) as isize);
            }
        }
        let s = if axes.is_empty() {
            self.clone()
        } else {
            self.sum_axes(&axes, true)
        };
        s.reshape(shape)
    }
}

/// Zeros of `full`, with `g` written into the region `slice` of it: the adjoint of slicing.
/// Its own adjoint is slicing again.
pub(crate) fn embed(g: &Tensor, full: &Shape, slice: &[AxisSlice]) -> Tensor {
    let op = Op::Embed {
        full: full.clone(),
        slice: slice.to_vec(),
    };
    or_panic(apply(op, &[g]))
}
