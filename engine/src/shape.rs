//! Shapes, strided layouts and NumPy broadcasting.
//!
//! A [`Layout`] is (shape, strides, offset) in elements. Views (reshape of contiguous data,
//! transpose, slicing with steps, broadcast_to) only make a new layout over the same storage.
//! Strides are non-negative; a broadcast dimension has stride 0.

use std::fmt;

use crate::error::{fmt_shape, invalid, Error, Result};

#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Shape(pub(crate) Vec<usize>);

impl Shape {
    pub fn new(dims: Vec<usize>) -> Shape {
        Shape(dims)
    }
    pub fn scalar() -> Shape {
        Shape(Vec::new())
    }
    pub fn dims(&self) -> &[usize] {
        &self.0
    }
    pub fn rank(&self) -> usize {
        self.0.len()
    }
    pub fn elem_count(&self) -> usize {
        match self.0.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)) {
            Some(n) => n,
            None => panic!(
                "the shape {:?} has more elements than fit in memory (the product overflows); \
                 check the dimensions",
                self.0
            ),
        }
    }
    /// Row-major strides of a contiguous tensor of this shape.
    pub fn contiguous_strides(&self) -> Vec<usize> {
        let mut s = vec![0; self.0.len()];
        let mut acc = 1;
        for i in (0..self.0.len()).rev() {
            s[i] = acc;
            acc *= self.0[i];
        }
        s
    }
    /// Resolves a possibly negative axis (`-1` is the last) against this rank.
    pub fn axis(&self, axis: isize, op: &'static str) -> Result<usize> {
        resolve_axis(axis, self.rank(), op)
    }
}

pub(crate) fn resolve_axis(axis: isize, rank: usize, op: &'static str) -> Result<usize> {
    let r = rank as isize;
    let a = if axis < 0 { axis + r } else { axis };
    if a < 0 || a >= r {
        return Err(invalid(
            op,
            format!("axis {axis} is out of range for a tensor of rank {rank} (valid: -{r}..{r})"),
        ));
    }
    Ok(a as usize)
}

impl fmt::Debug for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&fmt_shape(&self.0))
    }
}
impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&fmt_shape(&self.0))
    }
}

impl<const N: usize> From<[usize; N]> for Shape {
    fn from(d: [usize; N]) -> Shape {
        Shape(d.to_vec())
    }
}
impl From<&[usize]> for Shape {
    fn from(d: &[usize]) -> Shape {
        Shape(d.to_vec())
    }
}
impl<const N: usize> From<&[usize; N]> for Shape {
    fn from(d: &[usize; N]) -> Shape {
        Shape(d.to_vec())
    }
}
impl From<Vec<usize>> for Shape {
    fn from(d: Vec<usize>) -> Shape {
        Shape(d)
    }
}
impl From<&Vec<usize>> for Shape {
    fn from(d: &Vec<usize>) -> Shape {
        Shape(d.clone())
    }
}
impl From<&Shape> for Shape {
    fn from(s: &Shape) -> Shape {
        s.clone()
    }
}
impl From<usize> for Shape {
    fn from(d: usize) -> Shape {
        Shape(vec![d])
    }
}
impl From<()> for Shape {
    fn from(_: ()) -> Shape {
        Shape(vec![])
    }
}
impl From<(usize, usize)> for Shape {
    fn from(d: (usize, usize)) -> Shape {
        Shape(vec![d.0, d.1])
    }
}
impl From<(usize, usize, usize)> for Shape {
    fn from(d: (usize, usize, usize)) -> Shape {
        Shape(vec![d.0, d.1, d.2])
    }
}

/// The broadcast shape of two shapes, NumPy rules: align on the right; sizes must be equal or 1.
pub fn broadcast_shapes(op: &'static str, a: &[usize], b: &[usize]) -> Result<Shape> {
    if a == b {
        return Ok(Shape(a.to_vec())); // the common case
    }
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let da = if i < n - a.len() {
            1
        } else {
            a[i - (n - a.len())]
        };
        let db = if i < n - b.len() {
            1
        } else {
            b[i - (n - b.len())]
        };
        out[i] = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            return Err(Error::ShapeMismatch {
                op,
                lhs: a.to_vec(),
                rhs: b.to_vec(),
                hint: format!(
                    "cannot broadcast: axis {} has {} vs {} (sizes must be equal or 1, aligned from the right)",
                    i as isize - n as isize,
                    da,
                    db
                ),
            });
        };
    }
    Ok(Shape(out))
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub shape: Shape,
    pub strides: Vec<usize>,
    pub offset: usize,
}

impl Layout {
    pub fn contiguous(shape: impl Into<Shape>) -> Layout {
        let shape = shape.into();
        let strides = shape.contiguous_strides();
        Layout {
            shape,
            strides,
            offset: 0,
        }
    }
    pub fn dims(&self) -> &[usize] {
        self.shape.dims()
    }
    pub fn elem_count(&self) -> usize {
        self.shape.elem_count()
    }
    /// Row-major contiguous (offset may be non-zero).
    pub fn is_contiguous(&self) -> bool {
        let mut acc = 1;
        for (&d, &s) in self.shape.0.iter().zip(&self.strides).rev() {
            if d != 1 && s != acc {
                return false;
            }
            acc *= d;
        }
        true
    }
    /// `Some((start, end))` when the elements are one contiguous run of storage.
    pub fn contiguous_range(&self) -> Option<(usize, usize)> {
        self.is_contiguous()
            .then(|| (self.offset, self.offset + self.elem_count()))
    }

    /// Broadcasts this layout to `shape` (stride 0 on new or size-1 axes).
    pub fn broadcast_as(&self, shape: &Shape) -> Result<Layout> {
        let (src, dst) = (self.dims(), shape.dims());
        if dst.len() < src.len() {
            return Err(Error::ShapeMismatch {
                op: "broadcast_to",
                lhs: src.to_vec(),
                rhs: dst.to_vec(),
                hint: "the target has fewer axes than the tensor".into(),
            });
        }
        let pad = dst.len() - src.len();
        let mut strides = vec![0; dst.len()];
        for i in 0..dst.len() {
            if i < pad {
                continue;
            }
            let (ds, st) = (src[i - pad], self.strides[i - pad]);
            if ds == dst[i] {
                strides[i] = st;
            } else if ds == 1 {
                strides[i] = 0;
            } else {
                return Err(Error::ShapeMismatch {
                    op: "broadcast_to",
                    lhs: src.to_vec(),
                    rhs: dst.to_vec(),
                    hint: format!("axis {i} has size {ds}, which is neither 1 nor {}", dst[i]),
                });
            }
        }
        Ok(Layout {
            shape: shape.clone(),
            strides,
            offset: self.offset,
        })
    }

    /// This layout with the `axes` to reduce moved last (a view), plus (outer count, reduced
    /// count): each output element then reduces one run. Used by every backend's reduce.
    pub fn split_reduced(&self, axes: &[usize]) -> (Layout, usize, usize) {
        let rank = self.dims().len();
        let mut order: Vec<usize> = (0..rank).filter(|a| !axes.contains(a)).collect();
        order.extend_from_slice(axes);
        let red: usize = axes.iter().map(|&a| self.dims()[a]).product();
        // not elem_count / red: reducing an empty axis still gives one output per outer position
        let outer: usize = order[..rank - axes.len()]
            .iter()
            .map(|&a| self.dims()[a])
            .product();
        let layout = Layout {
            shape: Shape(order.iter().map(|&a| self.dims()[a]).collect()),
            strides: order.iter().map(|&a| self.strides[a]).collect(),
            offset: self.offset,
        };
        (layout, outer, red)
    }

    /// Storage offsets of all elements in row-major order.
    pub fn offsets(&self) -> Vec<usize> {
        let mut v = Vec::with_capacity(self.elem_count());
        self.for_each_block(|start, len, stride| {
            let mut o = start;
            for _ in 0..len {
                v.push(o);
                o += stride;
            }
        });
        v
    }

    /// Calls `f(start, len, stride)` for each run along the innermost axis, in row-major order.
    /// Merges the innermost axes when they are contiguous, so most loops are long.
    pub fn for_each_block(&self, mut f: impl FnMut(usize, usize, usize)) {
        let n = self.elem_count();
        if n == 0 {
            return;
        }
        if let Some((s, _)) = self.contiguous_range() {
            return f(s, n, 1);
        }
        // Drop size-1 axes, then merge trailing axes that are contiguous with each other.
        let mut dims: Vec<usize> = Vec::new();
        let mut strides: Vec<usize> = Vec::new();
        for (&d, &s) in self.shape.0.iter().zip(&self.strides) {
            if d != 1 {
                dims.push(d);
                strides.push(s);
            }
        }
        while dims.len() >= 2 {
            let k = dims.len();
            if strides[k - 2] == strides[k - 1] * dims[k - 1] {
                dims[k - 2] *= dims[k - 1];
                strides[k - 2] = strides[k - 1];
                dims.pop();
                strides.pop();
            } else {
                break;
            }
        }
        let k = dims.len();
        let (inner, inner_stride) = (dims[k - 1], strides[k - 1]);
        let outer = &dims[..k - 1];
        let mut idx = vec![0usize; outer.len()];
        let mut off = self.offset;
        loop {
            f(off, inner, inner_stride);
            // odometer over the outer axes
            let mut ax = outer.len();
            loop {
                if ax == 0 {
                    return;
                }
                ax -= 1;
                idx[ax] += 1;
                off += strides[ax];
                if idx[ax] < outer[ax] {
                    break;
                }
                off -= strides[ax] * outer[ax];
                idx[ax] = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting_rules() {
        let s = broadcast_shapes("add", &[3, 1, 5], &[4, 1]).unwrap();
        assert_eq!(s.dims(), &[3, 4, 5]);
        assert_eq!(broadcast_shapes("add", &[], &[2]).unwrap().dims(), &[2]);
        let e = broadcast_shapes("add", &[2, 3], &[4])
            .unwrap_err()
            .to_string();
        assert!(e.contains("add: shapes (2, 3) and (4,)"), "{e}");
        assert!(e.contains("axis -1 has 3 vs 4"), "{e}");
    }

    #[test]
    fn strided_offsets() {
        // a (2,3) transposed to (3,2): offsets 0,3,1,4,2,5
        let l = Layout {
            shape: Shape(vec![3, 2]),
            strides: vec![1, 3],
            offset: 0,
        };
        assert_eq!(l.offsets(), vec![0, 3, 1, 4, 2, 5]);
        let b = Layout::contiguous([3])
            .broadcast_as(&Shape(vec![2, 3]))
            .unwrap();
        assert_eq!(b.offsets(), vec![0, 1, 2, 0, 1, 2]);
        assert!(Layout::contiguous([2, 1, 3]).is_contiguous());
        assert_eq!(resolve_axis(-1, 3, "x").unwrap(), 2);
        assert!(resolve_axis(3, 3, "sum")
            .unwrap_err()
            .to_string()
            .contains("axis 3 is out of range"));
    }
}
