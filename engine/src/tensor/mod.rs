//! The `Tensor` handle: a cheap clone (an `Arc`) over storage, a layout, a dtype and a device.
//!
//! Views share storage. Every op returns a new tensor; ops record themselves on active
//! [`GradientTape`](crate::autodiff::GradientTape)s. Op families live in their own files:
//! - [`create`]: `tensor`, `zeros`, `arange`, `randn`, ...;
//! - `view`: reshape, permute, slicing, broadcast_to, `to(device)`;
//! - `elementwise`: unary and binary math, operators, comparisons, `where_`, `cast`;
//! - `reduce`: sum, mean, max, argmax, var, logsumexp, softmax, ...;
//! - `linalg`: matmul; `conv`: conv2d and pooling; `conv_transpose`: conv2d_transpose; `index`: gather, concat, stack, split;
//! - [`math`]: TF's free functions (`reduce_mean`, `reduce_sum_axis`, `clip_by_value`, ...);
//! - `fmt`: TF-style printing; `html`: the HTML table shown in notebooks.

pub mod autocast;
pub(crate) mod conv;
mod conv_transpose;
pub mod create;
pub mod dispatch;
mod elementwise;
mod fmt;
mod html;
pub(crate) mod index;
mod linalg;
pub mod math;
pub mod op;
mod reduce;
pub(crate) mod view;

pub use conv::Padding;
pub use dispatch::{apply, Effect, RandomDist, RecordedOp, Recorder, RuleSource};
pub use elementwise::{try_where, where_, Operand};
pub use index::{concat, one_hot, stack, try_concat, try_stack};
pub use op::{Op, OpNode};
pub use view::{ReshapeDims, SliceArg};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::device::Device;
use crate::dtype::{DType, Element};
use crate::error::{or_panic, Error, Result};
use crate::shape::{Layout, Shape};
use crate::storage::Storage;

/// Marks a tensor as the value of a `Variable`.
pub(crate) struct VarInfo {
    pub trainable: AtomicBool,
    pub name: String,
}

pub(crate) struct TensorInner {
    pub(crate) id: u64,
    pub(crate) storage: Arc<RwLock<Storage>>,
    pub(crate) layout: Layout,
    pub(crate) dtype: DType,
    pub(crate) device: Device,
    pub(crate) var: Option<VarInfo>,
    /// Shape only, no values (`Storage::Meta`).
    pub(crate) symbolic: bool,
}

impl Drop for TensorInner {
    /// The last tensor over a large host buffer hands it to the host cache for reuse.
    fn drop(&mut self) {
        if let Some(lock) = Arc::get_mut(&mut self.storage) {
            if let Ok(Storage::Cpu(s)) = lock.get_mut() {
                crate::storage::cpu::cache::recycle(s);
            }
        }
    }
}

/// An n-dimensional array on a device, like `tf.Tensor`. Cloning is cheap (shares the data).
#[derive(Clone)]
pub struct Tensor(pub(crate) Arc<TensorInner>);

impl AsRef<Tensor> for Tensor {
    fn as_ref(&self) -> &Tensor {
        self
    }
}

impl Tensor {
    /// Wraps fresh contiguous storage.
    pub(crate) fn from_storage(storage: Storage, shape: impl Into<Shape>) -> Tensor {
        let layout = Layout::contiguous(shape);
        Self::from_parts(Arc::new(RwLock::new(storage)), layout, None)
    }

    pub(crate) fn from_parts(
        storage: Arc<RwLock<Storage>>,
        layout: Layout,
        var: Option<VarInfo>,
    ) -> Tensor {
        let (dtype, device, symbolic) = {
            let s = storage.read().unwrap_or_else(|e| e.into_inner());
            (s.dtype(), s.device(), matches!(*s, Storage::Meta(_)))
        };
        Tensor(Arc::new(TensorInner {
            id: crate::state::next_id(),
            storage,
            layout,
            dtype,
            device,
            var,
            symbolic,
        }))
    }

    /// A new tensor over the same storage with another layout (not recorded: views are made
    /// by `dispatch::apply`, which records them).
    pub(crate) fn with_layout(&self, layout: Layout) -> Tensor {
        Tensor(Arc::new(TensorInner {
            id: crate::state::next_id(),
            storage: self.0.storage.clone(),
            layout,
            dtype: self.0.dtype,
            device: self.0.device,
            var: None,
            symbolic: self.0.symbolic,
        }))
    }

    /// A symbolic tensor: a shape, a dtype and a device, but no values (Keras' `KerasTensor`).
    /// Ops on it compute only the output's shape and dtype, so a layer called on it builds its
    /// weights and reports its output shape without running a kernel. Reading its values is an
    /// error.
    pub fn symbolic(shape: impl Into<Shape>, dtype: DType, device: Device) -> Tensor {
        let meta = crate::storage::MetaStorage { dtype, device };
        Tensor::from_storage(Storage::Meta(meta), shape)
    }
    /// True for a shape-only tensor (see [`Tensor::symbolic`]).
    pub fn is_symbolic(&self) -> bool {
        self.0.symbolic
    }

    /// Process-unique id (what tapes track).
    pub fn id(&self) -> u64 {
        self.0.id
    }
    pub fn shape(&self) -> &Shape {
        &self.0.layout.shape
    }
    pub fn dims(&self) -> &[usize] {
        self.0.layout.dims()
    }
    /// Number of axes (`tf.rank`).
    pub fn rank(&self) -> usize {
        self.dims().len()
    }
    /// Number of elements (`tf.size`).
    pub fn elem_count(&self) -> usize {
        self.0.layout.elem_count()
    }
    pub fn dtype(&self) -> DType {
        self.0.dtype
    }
    pub fn device(&self) -> Device {
        self.0.device
    }
    pub(crate) fn layout(&self) -> &Layout {
        &self.0.layout
    }
    pub(crate) fn storage(&self) -> RwLockReadGuard<'_, Storage> {
        self.0.storage.read().unwrap_or_else(|e| e.into_inner())
    }
    pub(crate) fn storage_mut(&self) -> RwLockWriteGuard<'_, Storage> {
        self.0.storage.write().unwrap_or_else(|e| e.into_inner())
    }
    /// True when both tensors view the same memory.
    pub fn shares_storage_with(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.0.storage, &other.0.storage)
    }
    pub fn is_contiguous(&self) -> bool {
        self.0.layout.is_contiguous()
    }
    pub(crate) fn is_trainable_variable(&self) -> bool {
        self.0
            .var
            .as_ref()
            .is_some_and(|v| v.trainable.load(Ordering::Relaxed))
    }

    /// The elements in row-major order, like `.numpy().ravel()`. `T` must match the dtype.
    #[track_caller]
    pub fn to_vec<T: Element>(&self) -> Vec<T> {
        or_panic(self.try_to_vec())
    }
    pub fn try_to_vec<T: Element>(&self) -> Result<Vec<T>> {
        if T::DTYPE != self.dtype() {
            let rust = |d: DType| d.rust_name();
            return Err(crate::error::invalid(
                "to_vec",
                format!(
                    "asked for {} values of a {} tensor; read it with to_vec::<{}>(), or cast it first, e.g. x.cast(DType::{:?}).to_vec::<{}>()",
                    rust(T::DTYPE),
                    self.dtype(),
                    rust(self.dtype()),
                    T::DTYPE,
                    rust(T::DTYPE)
                ),
            ));
        }
        let cpu = self.storage().to_cpu()?;
        // to_cpu returns the whole buffer on every device, so the layout applies as it is
        cpu.to_vec::<T>(self.layout())
            .ok_or_else(|| Error::Msg("to_vec: storage dtype mismatch".into()))
    }
    /// The elements as f32, whatever the dtype (bools become 0/1).
    pub fn to_f32_vec(&self) -> Vec<f32> {
        or_panic(self.try_to_f32_vec())
    }
    pub fn try_to_f32_vec(&self) -> Result<Vec<f32>> {
        let cpu = self.storage().to_cpu()?;
        Ok(cpu.to_f32_vec(self.layout()))
    }
    /// A rank-2 tensor as rows.
    #[track_caller]
    pub fn to_vec2<T: Element>(&self) -> Vec<Vec<T>> {
        if self.rank() != 2 {
            panic!(
                "to_vec2: expected a rank-2 tensor, got shape {}; reshape first",
                self.shape()
            );
        }
        let cols = self.dims()[1].max(1);
        self.to_vec::<T>()
            .chunks(cols)
            .map(|c| c.to_vec())
            .collect()
    }
    /// The value of a one-element tensor, like `.numpy()` on a scalar (`T` must match the dtype).
    #[track_caller]
    pub fn to_scalar<T: Element>(&self) -> T {
        or_panic(self.try_to_scalar())
    }
    pub fn try_to_scalar<T: Element>(&self) -> Result<T> {
        if self.elem_count() != 1 {
            return Err(crate::error::invalid(
                "to_scalar",
                format!(
                    "expected a tensor with one element, got shape {}; reduce it first, e.g. .sum() or .mean()",
                    self.shape()
                ),
            ));
        }
        Ok(self.try_to_vec::<T>()?[0])
    }
    /// The value of a one-element tensor as f32, whatever the dtype (like `float(t)`).
    #[track_caller]
    pub fn item(&self) -> f32 {
        if self.elem_count() != 1 {
            panic!(
                "item: expected a tensor with one element, got shape {}; reduce it first, e.g. .mean()",
                self.shape()
            );
        }
        self.to_f32_vec()[0]
    }
}
