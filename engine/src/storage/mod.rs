//! The backend boundary: `enum Storage { Cpu, Cuda }` over a small set of primitives.
//!
//! Every op of the engine is built from the primitives of [`BackendStorage`]. The CPU backend is
//! the readable reference; the CUDA backend implements the same trait and is tested against it.
//! Primitives take a [`Layout`] per operand (shape, strides, offset) and return new contiguous
//! storage, so views never need copying before an op. Nothing outside a backend touches its
//! memory.

pub mod cpu;
pub mod cuda;
pub mod device;

pub use cpu::CpuStorage;
pub use cuda::CudaStorage;

use crate::device::Device;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::{Layout, Shape};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum UnaryOp {
    Neg,
    Abs,
    Exp,
    Log,
    Sqrt,
    Rsqrt,
    Sin,
    Cos,
    Tanh,
    Sigmoid,
    Relu,
    Gelu,
    /// d gelu(x) / dx, for the gradient.
    GeluGrad,
    Softplus,
    Square,
    Recip,
    Sign,
    Floor,
    Ceil,
    Round,
    Erf,
    /// 1 where x > 0, else 0 (relu's gradient).
    Step,
    LogicalNot,
    Powf(f32),
    Clamp(f32, f32),
    /// x * mul + add
    Affine(f32, f32),
}

impl UnaryOp {
    /// Every unary op, the parameterised ones with sample parameters: `Powf(2.0)` and
    /// `Powf(0.5)` (square and sqrt, which have kernels of their own) and `Powf(3.0)` (the
    /// general power). The CUDA kernel catalog compiles these and the CUDA tests check each
    /// against the CPU, so a new op listed here is covered by both.
    pub const ALL: [UnaryOp; 28] = {
        use UnaryOp as U;
        [
            U::Neg,
            U::Abs,
            U::Exp,
            U::Log,
            U::Sqrt,
            U::Rsqrt,
            U::Sin,
            U::Cos,
            U::Tanh,
            U::Sigmoid,
            U::Relu,
            U::Gelu,
            U::GeluGrad,
            U::Softplus,
            U::Square,
            U::Recip,
            U::Sign,
            U::Floor,
            U::Ceil,
            U::Round,
            U::Erf,
            U::Step,
            U::LogicalNot,
            U::Powf(2.0),
            U::Powf(0.5),
            U::Powf(3.0),
            U::Clamp(0.0, 1.0),
            U::Affine(2.0, 1.0),
        ]
    };
}

/// Fails to compile when a variant is added to [`UnaryOp`]: list it in [`UnaryOp::ALL`] too.
const _: fn(UnaryOp) = |op| {
    use UnaryOp as U;
    match op {
        U::Neg | U::Abs | U::Exp | U::Log | U::Sqrt | U::Rsqrt | U::Sin | U::Cos | U::Tanh => {}
        U::Sigmoid | U::Relu | U::Gelu | U::GeluGrad | U::Softplus | U::Square | U::Recip => {}
        U::Sign | U::Floor | U::Ceil | U::Round | U::Erf | U::Step | U::LogicalNot => {}
        U::Powf(_) | U::Clamp(..) | U::Affine(..) => {}
    }
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Maximum,
    Minimum,
    Pow,
    LogicalAnd,
    LogicalOr,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReduceOp {
    Sum,
    Max,
    Min,
    ArgMax,
    ArgMin,
}

/// Patch extraction for conv2d and pooling, NHWC. `im2col` maps an input (N,H,W,C) to
/// (N,OH,OW,KH,KW,C); `col2im` is its adjoint (sums overlapping patches back).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PatchParams {
    pub n: usize,
    pub h: usize,
    pub w: usize,
    pub c: usize,
    pub kh: usize,
    pub kw: usize,
    pub oh: usize,
    pub ow: usize,
    pub stride: (usize, usize),
    pub dilation: (usize, usize),
    pub pad: (usize, usize),
    /// Value read outside the input (0 for conv, -inf for max pooling).
    pub pad_value: f32,
}

/// A fused, in-place optimizer update: one pass over a parameter, its gradient and its slots.
/// Formulas follow Keras 3 (see `keras/optimizers.rs`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum UpdateRule {
    /// slots: `[velocity]` when momentum > 0, else none.
    Sgd {
        lr: f32,
        momentum: f32,
        nesterov: bool,
    },
    /// Adam, and AdamW when `weight_decay` > 0; slots `[m, v]`; `t` is the 1-based step.
    Adam {
        lr: f32,
        beta1: f32,
        beta2: f32,
        epsilon: f32,
        t: u64,
        weight_decay: f32,
    },
    /// slots `[velocity]`, plus `[momentum]` when momentum > 0.
    RmsProp {
        lr: f32,
        rho: f32,
        epsilon: f32,
        momentum: f32,
    },
}

/// The primitives each backend implements.
pub trait BackendStorage: Sized {
    fn dtype(&self) -> DType;
    fn device(&self) -> Device;
    fn to_cpu(&self) -> Result<CpuStorage>;
    fn unary(&self, l: &Layout, op: UnaryOp) -> Result<Self>;
    /// Both layouts already broadcast to the same shape.
    fn binary(&self, l: &Layout, rhs: &Self, rl: &Layout, op: BinaryOp) -> Result<Self>;
    /// Returns bool storage.
    fn cmp(&self, l: &Layout, rhs: &Self, rl: &Layout, op: CmpOp) -> Result<Self>;
    /// Reduces `axes` (sorted, unique); the result is contiguous with those axes of size 1.
    fn reduce(&self, l: &Layout, axes: &[usize], op: ReduceOp) -> Result<Self>;
    /// `self` is the bool condition; the three layouts share one shape.
    fn where_cond(&self, l: &Layout, t: &Self, tl: &Layout, f: &Self, fl: &Layout) -> Result<Self>;
    fn cast(&self, l: &Layout, dtype: DType) -> Result<Self>;
    fn copy_strided(&self, l: &Layout) -> Result<Self>;
    /// Writes `src` (viewed through `sl`) into the region of `self` described by `dl`.
    fn copy_into(&mut self, dl: &Layout, src: &Self, sl: &Layout) -> Result<()>;
    /// Batched matmul: `l` is (B, M, K), `rl` is (B, K, N) after broadcasting the batch.
    fn matmul(&self, l: &Layout, rhs: &Self, rl: &Layout) -> Result<Self>;
    /// Picks `ids` (int64) along `axis`: out.shape[axis] = ids.len().
    fn index_select(&self, l: &Layout, ids: &Self, il: &Layout, axis: usize) -> Result<Self>;
    /// Adds `src` into contiguous `self` (shape `dst_shape`) at `ids` along `axis`.
    fn index_add(
        &mut self,
        dst_shape: &Shape,
        ids: &Self,
        il: &Layout,
        src: &Self,
        sl: &Layout,
        axis: usize,
    ) -> Result<()>;
    fn im2col(&self, l: &Layout, p: &PatchParams) -> Result<Self>;
    fn col2im(&self, l: &Layout, p: &PatchParams) -> Result<Self>;
    /// Updates contiguous `self` (a parameter) in place from `grad` and the optimizer's slots.
    fn apply_update(
        &mut self,
        grad: &Self,
        gl: &Layout,
        slots: &mut [&mut Self],
        rule: UpdateRule,
    ) -> Result<()>;
}

/// A tensor's memory, on one device.
#[derive(Debug)]
pub enum Storage {
    Cpu(CpuStorage),
    Cuda(CudaStorage),
    /// No memory at all: the storage of a symbolic (shape-only) tensor, which layers are built
    /// on. Ops on it only infer shapes (see `tensor/dispatch.rs`); reading it is an error.
    Meta(MetaStorage),
}

/// What a symbolic tensor knows besides its shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetaStorage {
    pub dtype: DType,
    pub device: Device,
}

/// The error for reading the values of a symbolic tensor.
pub(crate) fn symbolic_error() -> Error {
    crate::error::invalid(
        "symbolic tensor",
        "this tensor has a shape but no values (the Functional API builds layers on such \
         tensors); call the model on real data, e.g. model.predict(&x)",
    )
}

macro_rules! dispatch {
    ($self:expr, $s:ident => $e:expr) => {
        match $self {
            Storage::Cpu($s) => Storage::Cpu($e?),
            Storage::Cuda($s) => Storage::Cuda($e?),
            Storage::Meta(_) => return Err(symbolic_error()),
        }
    };
}

fn same_device<'a>(
    op: &'static str,
    a: &'a Storage,
    b: &'a Storage,
) -> Result<(&'a Storage, &'a Storage)> {
    if a.device() != b.device() {
        return Err(Error::DeviceMismatch {
            op,
            lhs: a.device(),
            rhs: b.device(),
        });
    }
    Ok((a, b))
}

impl Storage {
    pub fn dtype(&self) -> DType {
        match self {
            Storage::Cpu(s) => s.dtype(),
            Storage::Cuda(s) => s.dtype(),
            Storage::Meta(m) => m.dtype,
        }
    }
    /// Number of elements held (0 for shape-only storage).
    pub fn elem_count(&self) -> usize {
        match self {
            Storage::Cpu(s) => s.len(),
            Storage::Cuda(s) => s.len(),
            Storage::Meta(_) => 0,
        }
    }
    pub fn device(&self) -> Device {
        match self {
            Storage::Cpu(_) => Device::Cpu,
            Storage::Cuda(s) => s.device(),
            Storage::Meta(m) => m.device,
        }
    }
    pub fn to_cpu(&self) -> Result<CpuStorage> {
        match self {
            Storage::Cpu(s) => Ok(s.clone()),
            Storage::Cuda(s) => s.to_cpu(),
            Storage::Meta(_) => Err(symbolic_error()),
        }
    }
    /// Moves (copies) contiguous data to `device`.
    pub fn to_device(&self, l: &Layout, device: Device) -> Result<Storage> {
        match device {
            Device::Cpu => Ok(Storage::Cpu(self.copy_strided(l)?.to_cpu()?)),
            Device::Cuda(_) => {
                if let Storage::Cuda(s) = self {
                    if s.device() == device {
                        return Ok(Storage::Cuda(s.copy_strided(l)?));
                    }
                }
                let cpu = match self {
                    Storage::Cpu(s) => s.copy_strided(l)?,
                    Storage::Cuda(s) => s.copy_strided(l)?.to_cpu()?,
                    Storage::Meta(_) => return Err(symbolic_error()),
                };
                Ok(Storage::Cuda(CudaStorage::from_cpu(&cpu, device)?))
            }
        }
    }
    pub fn zeros(shape: &Shape, dtype: DType, device: Device) -> Result<Storage> {
        match device {
            Device::Cpu => Ok(Storage::Cpu(CpuStorage::zeros(shape.elem_count(), dtype))),
            Device::Cuda(_) => Ok(Storage::Cuda(CudaStorage::zeros_on(
                device,
                shape.elem_count(),
                dtype,
            )?)),
        }
    }
    pub fn unary(&self, l: &Layout, op: UnaryOp) -> Result<Storage> {
        Ok(dispatch!(self, s => s.unary(l, op)))
    }
    pub fn copy_strided(&self, l: &Layout) -> Result<Storage> {
        Ok(dispatch!(self, s => s.copy_strided(l)))
    }
    pub fn cast(&self, l: &Layout, dtype: DType) -> Result<Storage> {
        Ok(dispatch!(self, s => s.cast(l, dtype)))
    }
    pub fn reduce(&self, l: &Layout, axes: &[usize], op: ReduceOp) -> Result<Storage> {
        Ok(dispatch!(self, s => s.reduce(l, axes, op)))
    }
    pub fn im2col(&self, l: &Layout, p: &PatchParams) -> Result<Storage> {
        Ok(dispatch!(self, s => s.im2col(l, p)))
    }
    pub fn col2im(&self, l: &Layout, p: &PatchParams) -> Result<Storage> {
        Ok(dispatch!(self, s => s.col2im(l, p)))
    }
    pub fn binary(&self, l: &Layout, rhs: &Storage, rl: &Layout, op: BinaryOp) -> Result<Storage> {
        match same_device("binary op", self, rhs)? {
            (Storage::Cpu(a), Storage::Cpu(b)) => Ok(Storage::Cpu(a.binary(l, b, rl, op)?)),
            (Storage::Cuda(a), Storage::Cuda(b)) => Ok(Storage::Cuda(a.binary(l, b, rl, op)?)),
            _ => Err(symbolic_error()),
        }
    }
    pub fn cmp(&self, l: &Layout, rhs: &Storage, rl: &Layout, op: CmpOp) -> Result<Storage> {
        match same_device("comparison", self, rhs)? {
            (Storage::Cpu(a), Storage::Cpu(b)) => Ok(Storage::Cpu(a.cmp(l, b, rl, op)?)),
            (Storage::Cuda(a), Storage::Cuda(b)) => Ok(Storage::Cuda(a.cmp(l, b, rl, op)?)),
            _ => Err(symbolic_error()),
        }
    }
    pub fn matmul(&self, l: &Layout, rhs: &Storage, rl: &Layout) -> Result<Storage> {
        match same_device("matmul", self, rhs)? {
            (Storage::Cpu(a), Storage::Cpu(b)) => Ok(Storage::Cpu(a.matmul(l, b, rl)?)),
            (Storage::Cuda(a), Storage::Cuda(b)) => Ok(Storage::Cuda(a.matmul(l, b, rl)?)),
            _ => Err(symbolic_error()),
        }
    }
    pub fn index_select(
        &self,
        l: &Layout,
        ids: &Storage,
        il: &Layout,
        axis: usize,
    ) -> Result<Storage> {
        match same_device("gather", self, ids)? {
            (Storage::Cpu(a), Storage::Cpu(b)) => Ok(Storage::Cpu(a.index_select(l, b, il, axis)?)),
            (Storage::Cuda(a), Storage::Cuda(b)) => {
                Ok(Storage::Cuda(a.index_select(l, b, il, axis)?))
            }
            _ => Err(symbolic_error()),
        }
    }
    pub fn where_cond(
        &self,
        l: &Layout,
        t: &Storage,
        tl: &Layout,
        f: &Storage,
        fl: &Layout,
    ) -> Result<Storage> {
        same_device("where", self, t)?;
        same_device("where", t, f)?;
        match (self, t, f) {
            (Storage::Cpu(c), Storage::Cpu(t), Storage::Cpu(f)) => {
                Ok(Storage::Cpu(c.where_cond(l, t, tl, f, fl)?))
            }
            (Storage::Cuda(c), Storage::Cuda(t), Storage::Cuda(f)) => {
                Ok(Storage::Cuda(c.where_cond(l, t, tl, f, fl)?))
            }
            _ => Err(symbolic_error()),
        }
    }
    pub fn copy_into(&mut self, dl: &Layout, src: &Storage, sl: &Layout) -> Result<()> {
        if self.device() != src.device() {
            return Err(Error::DeviceMismatch {
                op: "copy",
                lhs: self.device(),
                rhs: src.device(),
            });
        }
        match (self, src) {
            (Storage::Cpu(d), Storage::Cpu(s)) => d.copy_into(dl, s, sl),
            (Storage::Cuda(d), Storage::Cuda(s)) => d.copy_into(dl, s, sl),
            _ => Err(symbolic_error()),
        }
    }
    pub fn apply_update(
        &mut self,
        grad: &Storage,
        gl: &Layout,
        slots: &mut [&mut Storage],
        rule: UpdateRule,
    ) -> Result<()> {
        match (self, grad) {
            (Storage::Cpu(p), Storage::Cpu(g)) => {
                let mut cs: Vec<&mut CpuStorage> = Vec::with_capacity(slots.len());
                for s in slots.iter_mut() {
                    match &mut **s {
                        Storage::Cpu(c) => cs.push(c),
                        _ => return Err(Error::Msg("optimizer slot on another device".into())),
                    }
                }
                p.apply_update(g, gl, &mut cs, rule)
            }
            (Storage::Cuda(p), Storage::Cuda(g)) => {
                let mut cs: Vec<&mut CudaStorage> = Vec::with_capacity(slots.len());
                for s in slots.iter_mut() {
                    match &mut **s {
                        Storage::Cuda(c) => cs.push(c),
                        _ => return Err(Error::Msg("optimizer slot on another device".into())),
                    }
                }
                p.apply_update(g, gl, &mut cs, rule)
            }
            (p, g) => Err(Error::DeviceMismatch {
                op: "apply_gradients",
                lhs: p.device(),
                rhs: g.device(),
            }),
        }
    }
    pub fn index_add(
        &mut self,
        dst_shape: &Shape,
        ids: &Storage,
        il: &Layout,
        src: &Storage,
        sl: &Layout,
        axis: usize,
    ) -> Result<()> {
        if self.device() != src.device() || self.device() != ids.device() {
            return Err(Error::DeviceMismatch {
                op: "index_add",
                lhs: self.device(),
                rhs: src.device(),
            });
        }
        match (self, ids, src) {
            (Storage::Cpu(d), Storage::Cpu(i), Storage::Cpu(s)) => {
                d.index_add(dst_shape, i, il, s, sl, axis)
            }
            (Storage::Cuda(d), Storage::Cuda(i), Storage::Cuda(s)) => {
                d.index_add(dst_shape, i, il, s, sl, axis)
            }
            _ => Err(symbolic_error()),
        }
    }
}
