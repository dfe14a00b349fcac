//! Gathering and joining: gather/index_select, concat, stack, split and one_hot.

use crate::dtype::DType;
use crate::error::{invalid, or_panic, Error, Result};
use crate::shape::{resolve_axis, Shape};
use crate::tensor::{apply, Op, Tensor};

impl Tensor {
    /// `tf.gather(params, indices, axis)`: picks entries along `axis` by int64 `indices` of any
    /// shape; the result's shape is params[:axis] + indices.shape + params[axis+1:].
    #[track_caller]
    pub fn gather(&self, indices: &Tensor, axis: isize) -> Tensor {
        or_panic(self.try_gather(indices, axis))
    }
    pub fn try_gather(&self, indices: &Tensor, axis: isize) -> Result<Tensor> {
        let a = resolve_axis(axis, self.rank(), "gather")?;
        if indices.dtype() != DType::I64 {
            return Err(Error::DTypeMismatch {
                op: "gather",
                expected: "int64 indices, e.g. tensor([0, 2]) or x.argmax(1)".into(),
                got: indices.dtype(),
            });
        }
        let flat = indices.try_reshape([indices.elem_count()])?;
        let picked = apply(Op::IndexSelect { axis: a }, &[self, &flat])?;
        let mut out = self.dims()[..a].to_vec();
        out.extend_from_slice(indices.dims());
        out.extend_from_slice(&self.dims()[a + 1..]);
        picked.try_reshape(out)
    }
    /// Rows (or entries along `axis`) by a 1-D int64 index tensor.
    #[track_caller]
    pub fn index_select(&self, indices: &Tensor, axis: isize) -> Tensor {
        self.gather(indices, axis)
    }

    /// Splits into `n` equal parts along `axis` (`tf.split(x, n, axis)`); views.
    #[track_caller]
    pub fn split(&self, n: usize, axis: isize) -> Vec<Tensor> {
        or_panic(self.try_split(n, axis))
    }
    pub fn try_split(&self, n: usize, axis: isize) -> Result<Vec<Tensor>> {
        let a = resolve_axis(axis, self.rank(), "split")?;
        let d = self.dims()[a];
        if n == 0 || !d.is_multiple_of(n) {
            return Err(invalid(
                "split",
                format!(
                    "axis {a} of size {d} cannot be split into {n} equal parts; use split_sizes"
                ),
            ));
        }
        self.try_split_sizes(&vec![d / n; n], axis)
    }
    /// Splits into parts of the given sizes along `axis` (`tf.split(x, [2, 3], axis)`).
    #[track_caller]
    pub fn split_sizes(&self, sizes: &[usize], axis: isize) -> Vec<Tensor> {
        or_panic(self.try_split_sizes(sizes, axis))
    }
    pub fn try_split_sizes(&self, sizes: &[usize], axis: isize) -> Result<Vec<Tensor>> {
        let a = resolve_axis(axis, self.rank(), "split")?;
        let total = sizes
            .iter()
            .try_fold(0usize, |acc, &s| acc.checked_add(s))
            .unwrap_or(usize::MAX);
        if total != self.dims()[a] {
            return Err(invalid(
                "split",
                format!(
                    "sizes {sizes:?} add up to {total}, but axis {a} has size {}",
                    self.dims()[a]
                ),
            ));
        }
        let mut start = 0;
        sizes
            .iter()
            .map(|&s| {
                let t = self.try_narrow(a as isize, start, s);
                start += s;
                t
            })
            .collect()
    }
}

/// Adds `g` (shape[..axis] + [ids.len()] + shape[axis+1..]) into zeros of `shape` at `ids`:
/// the adjoint of gather. Its own adjoint is gather.
pub(crate) fn scatter_add(g: &Tensor, ids: &Tensor, axis: usize, shape: &Shape) -> Tensor {
    let op = Op::IndexAdd {
        axis,
        shape: shape.clone(),
    };
    or_panic(apply(op, &[g, ids]))
}

/// `tf.concat(tensors, axis)`: joins along an existing axis.
#[track_caller]
pub fn concat(tensors: &[&Tensor], axis: isize) -> Tensor {
    or_panic(try_concat(tensors, axis))
}

pub fn try_concat(tensors: &[&Tensor], axis: isize) -> Result<Tensor> {
    let first = *tensors
        .first()
        .ok_or_else(|| invalid("concat", "needs at least one tensor"))?;
    let a = resolve_axis(axis, first.rank(), "concat")?;
    for t in &tensors[1..] {
        let same_rest = t.rank() == first.rank()
            && (0..t.rank()).all(|i| i == a || t.dims()[i] == first.dims()[i]);
        if !same_rest {
            return Err(Error::ShapeMismatch {
                op: "concat",
                lhs: first.dims().to_vec(),
                rhs: t.dims().to_vec(),
                hint: format!("all axes except the concat axis ({a}) must match"),
            });
        }
        crate::tensor::elementwise::check_dtypes("concat", first, t)?;
    }
    apply(Op::Concat { axis: a }, tensors)
}

/// `tf.stack(tensors, axis)`: joins along a new axis.
#[track_caller]
pub fn stack(tensors: &[&Tensor], axis: isize) -> Tensor {
    or_panic(try_stack(tensors, axis))
}
pub fn try_stack(tensors: &[&Tensor], axis: isize) -> Result<Tensor> {
    let first = *tensors
        .first()
        .ok_or_else(|| invalid("stack", "needs at least one tensor"))?;
    for t in tensors {
        if t.dims() != first.dims() {
            return Err(Error::ShapeMismatch {
                op: "stack",
                lhs: first.dims().to_vec(),
                rhs: t.dims().to_vec(),
                hint: "stack needs tensors of the same shape".into(),
            });
        }
    }
    let a = resolve_axis(axis, first.rank() + 1, "stack")? as isize;
    let expanded = tensors
        .iter()
        .map(|t| t.try_expand_dims(a))
        .collect::<Result<Vec<_>>>()?;
    try_concat(&expanded.iter().collect::<Vec<_>>(), a)
}

/// `tf.one_hot(indices, depth)`: float32 vectors with a 1 at each index.
#[track_caller]
pub fn one_hot(indices: &Tensor, depth: usize) -> Tensor {
    if indices.dtype() != DType::I64 {
        panic!(
            "one_hot: expected int64 indices, got {}; cast with .cast(DType::I64)",
            indices.dtype()
        );
    }
    let classes = crate::tensor::create::arange_i64(0, depth as i64).to(indices.device());
    indices.expand_dims(-1).equal(&classes).cast(DType::F32)
}
