//! What a dataset element can be.
//!
//! - [`Item`]: anything `Clone + Send + Sync + 'static` (tensors, tuples, file paths, windows).
//!   Sources, `map`, `filter`, `shuffle`, `take`, `zip`, `cache` in memory... work on any item.
//! - [`Element`]: a structure of tensors that can be taken apart and put back together: a
//!   `Tensor`, tuples `(A, B)`, `(A, B, C)`, `(A, B, C, D)` of elements, or `Vec<Tensor>` (a
//!   `Vec` takes all remaining tensors, so inside a tuple it must come last). `batch`,
//!   `padded_batch`, `unbatch`, `cache` to a file and `prefetch_to_device` need it, as in TF's
//!   nested structures.
//! - [`TensorSlices`]: what `from_tensor_slices` accepts: a tensor or tuples of tensors (by value
//!   or by reference), sliced along their first axis.

use crate::error::{invalid, Error, Result};
use crate::tensor::{stack, Tensor};

/// Anything a dataset can carry.
pub trait Item: Clone + Send + Sync + 'static {}
impl<T: Clone + Send + Sync + 'static> Item for T {}

/// A structure of tensors (TF's "nested structure"), flattened in order to a list of parts.
pub trait Element: Item {
    /// Appends this element's tensors, in order.
    fn push_parts(&self, out: &mut Vec<Tensor>);
    /// Rebuilds an element from tensors in the order `push_parts` wrote them.
    fn take_parts(parts: &mut std::vec::IntoIter<Tensor>) -> Result<Self>;

    /// The tensors of this element, in order.
    fn parts(&self) -> Vec<Tensor> {
        let mut v = Vec::new();
        self.push_parts(&mut v);
        v
    }
    /// Rebuilds an element from exactly its tensors.
    fn from_parts(parts: Vec<Tensor>) -> Result<Self> {
        let n = parts.len();
        let mut it = parts.into_iter();
        let v = Self::take_parts(&mut it)?;
        if it.next().is_some() {
            return Err(invalid(
                "dataset element",
                format!("{n} tensors are more than this element type holds"),
            ));
        }
        Ok(v)
    }
}

impl Element for Tensor {
    fn push_parts(&self, out: &mut Vec<Tensor>) {
        out.push(self.clone());
    }
    fn take_parts(parts: &mut std::vec::IntoIter<Tensor>) -> Result<Self> {
        parts
            .next()
            .ok_or_else(|| invalid("dataset element", "too few tensors to rebuild the element"))
    }
}

impl Element for Vec<Tensor> {
    fn push_parts(&self, out: &mut Vec<Tensor>) {
        out.extend(self.iter().cloned());
    }
    fn take_parts(parts: &mut std::vec::IntoIter<Tensor>) -> Result<Self> {
        Ok(parts.collect())
    }
}

macro_rules! tuple_element {
    ($($name:ident),+) => {
        impl<$($name: Element),+> Element for ($($name,)+) {
            #[allow(non_snake_case)]
            fn push_parts(&self, out: &mut Vec<Tensor>) {
                let ($($name,)+) = self;
                $($name.push_parts(out);)+
            }
            fn take_parts(parts: &mut std::vec::IntoIter<Tensor>) -> Result<Self> {
                Ok(($($name::take_parts(parts)?,)+))
            }
        }
    };
}
tuple_element!(A);
tuple_element!(A, B);
tuple_element!(A, B, C);
tuple_element!(A, B, C, D);

/// Tensors that `from_tensor_slices` slices along their first axis.
pub trait TensorSlices {
    /// The element type: one slice of each component.
    type Elem: Element;
    /// The components, in order.
    fn components(&self) -> Vec<Tensor>;
}

impl TensorSlices for Tensor {
    type Elem = Tensor;
    fn components(&self) -> Vec<Tensor> {
        vec![self.clone()]
    }
}
impl TensorSlices for &Tensor {
    type Elem = Tensor;
    fn components(&self) -> Vec<Tensor> {
        vec![(*self).clone()]
    }
}
macro_rules! tuple_slices {
    ($($name:ident),+) => {
        impl<$($name: TensorSlices),+> TensorSlices for ($($name,)+) {
            type Elem = ($($name::Elem,)+);
            #[allow(non_snake_case)]
            fn components(&self) -> Vec<Tensor> {
                let ($($name,)+) = self;
                let mut v = Vec::new();
                $(v.extend($name.components());)+
                v
            }
        }
    };
}
tuple_slices!(A);
tuple_slices!(A, B);
tuple_slices!(A, B, C);
tuple_slices!(A, B, C, D);

// ------------------------------------------------------------------------------------------------
// Batching helpers shared by batch, padded_batch, unbatch and window.

/// The parts of each element, transposed to one list per component.
fn components_of<T: Element>(items: &[T], op: &'static str) -> Result<Vec<Vec<Tensor>>> {
    let mut cols: Vec<Vec<Tensor>> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let parts = item.parts();
        if i == 0 {
            cols = parts.into_iter().map(|p| vec![p]).collect();
        } else if parts.len() != cols.len() {
            return Err(invalid(
                op,
                format!(
                    "element {i} has {} tensors but element 0 has {}",
                    parts.len(),
                    cols.len()
                ),
            ));
        } else {
            for (c, p) in cols.iter_mut().zip(parts) {
                c.push(p);
            }
        }
    }
    Ok(cols)
}

/// Stacks elements along a new first axis, component by component (what `batch` does).
pub fn stack_elements<T: Element>(items: &[T]) -> Result<T> {
    let cols = components_of(items, "batch")?;
    let mut out = Vec::with_capacity(cols.len());
    for (c, col) in cols.iter().enumerate() {
        if let Some(j) = col.iter().position(|t| t.dims() != col[0].dims()) {
            return Err(Error::ShapeMismatch {
                op: "batch",
                lhs: col[0].dims().to_vec(),
                rhs: col[j].dims().to_vec(),
                hint: format!(
                    "component {c} of element 0 and of element {j} differ; elements of one batch need the same shape: use padded_batch, or resize in map"
                ),
            });
        }
        out.push(stack(&col.iter().collect::<Vec<_>>(), 0));
    }
    T::from_parts(out)
}

/// Pads every component to the largest shape in the batch with `value`, then stacks.
pub fn pad_stack_elements<T: Element>(items: &[T], value: f64) -> Result<T> {
    let cols = components_of(items, "padded_batch")?;
    let mut out = Vec::with_capacity(cols.len());
    for (c, col) in cols.iter().enumerate() {
        let rank = col[0].rank();
        if let Some(j) = col.iter().position(|t| t.rank() != rank) {
            return Err(Error::ShapeMismatch {
                op: "padded_batch",
                lhs: col[0].dims().to_vec(),
                rhs: col[j].dims().to_vec(),
                hint: format!("component {c}: padding needs tensors of the same rank"),
            });
        }
        let mut target = vec![0; rank];
        for t in col {
            for (m, &d) in target.iter_mut().zip(t.dims()) {
                *m = (*m).max(d);
            }
        }
        let padded = col
            .iter()
            .map(|t| pad_to(t, &target, value))
            .collect::<Result<Vec<_>>>()?;
        out.push(stack(&padded.iter().collect::<Vec<_>>(), 0));
    }
    T::from_parts(out)
}

/// `t` padded at the end of each axis with `value` up to `target`.
fn pad_to(t: &Tensor, target: &[usize], value: f64) -> Result<Tensor> {
    let mut t = t.clone();
    for (a, &want) in target.iter().enumerate() {
        let have = t.dims()[a];
        if have < want {
            let mut d = t.dims().to_vec();
            d[a] = want - have;
            let pad = crate::tensor::create::full_on(d, value, t.dtype(), t.device())?;
            t = crate::tensor::try_concat(&[&t, &pad], a as isize)?;
        }
    }
    Ok(t)
}

/// Splits a batched element into its rows (what `unbatch` does).
pub fn unstack_element<T: Element>(batch: &T) -> Result<Vec<T>> {
    let parts = batch.parts();
    let Some(first) = parts.first() else {
        return Ok(Vec::new());
    };
    let n = first.dims().first().copied().ok_or_else(|| {
        invalid(
            "unbatch",
            "a scalar has no batch axis to split; unbatch needs tensors of rank >= 1",
        )
    })?;
    for p in &parts {
        if p.dims().first() != Some(&n) {
            return Err(Error::ShapeMismatch {
                op: "unbatch",
                lhs: first.dims().to_vec(),
                rhs: p.dims().to_vec(),
                hint: "every component needs the same first (batch) dimension".into(),
            });
        }
    }
    (0..n)
        .map(|i| T::from_parts(parts.iter().map(|p| p.get(i)).collect()))
        .collect()
}
