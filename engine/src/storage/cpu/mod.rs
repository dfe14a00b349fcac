//! The CPU backend: the readable reference for every primitive.
//!
//! float16 and bfloat16 are computed in f32 and rounded back, like most CPU frameworks do.
//! Elementwise loops have fast paths for contiguous and scalar-broadcast operands so that the
//! compiler vectorises them; everything else walks the strided layout block by block.

pub(crate) mod cache;
mod elementwise;
mod index;
mod matmul;
mod optim;
mod patches;
mod reduce;

use half::{bf16, f16};

use super::{BackendStorage, BinaryOp, CmpOp, PatchParams, ReduceOp, UnaryOp, UpdateRule};
use crate::device::Device;
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::shape::{Layout, Shape};

pub use cache::HostCacheStats;
pub(crate) use cache::{filled_vec, try_with_capacity};
pub(crate) use elementwise::map_layout;
use elementwise::s_dtype as s_dtype_pub;

#[derive(Clone, Debug, PartialEq)]
pub enum CpuStorage {
    F32(Vec<f32>),
    F16(Vec<f16>),
    BF16(Vec<bf16>),
    I64(Vec<i64>),
    Bool(Vec<bool>),
}

impl CpuStorage {
    /// `n` zeros of `dtype`; a request the system cannot satisfy panics with the engine's
    /// out-of-memory message instead of aborting the process.
    pub fn zeros(n: usize, dtype: DType) -> CpuStorage {
        use cache::zeroed_bits;
        // SAFETY: all-zero bits are 0.0 for f32/f16/bf16, 0 for i64 and false for bool.
        unsafe {
            match dtype {
                DType::F32 => CpuStorage::F32(zeroed_bits(n)),
                DType::F16 => CpuStorage::F16(zeroed_bits(n)),
                DType::BF16 => CpuStorage::BF16(zeroed_bits(n)),
                DType::I64 => CpuStorage::I64(zeroed_bits(n)),
                DType::Bool => CpuStorage::Bool(zeroed_bits(n)),
            }
        }
    }
    pub fn len(&self) -> usize {
        match self {
            CpuStorage::F32(v) => v.len(),
            CpuStorage::F16(v) => v.len(),
            CpuStorage::BF16(v) => v.len(),
            CpuStorage::I64(v) => v.len(),
            CpuStorage::Bool(v) => v.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The elements under `l` as f32 (cast from any dtype), in row-major order.
    pub fn to_f32_vec(&self, l: &Layout) -> Vec<f32> {
        match self {
            CpuStorage::F32(v) => map_layout(v, l, |x| x),
            CpuStorage::F16(v) => map_layout(v, l, |x| x.to_f32()),
            CpuStorage::BF16(v) => map_layout(v, l, |x| x.to_f32()),
            CpuStorage::I64(v) => map_layout(v, l, |x| x as f32),
            CpuStorage::Bool(v) => map_layout(v, l, |x| x as u8 as f32),
        }
    }

    /// Builds storage of a float dtype from f32 values.
    pub fn from_f32(v: Vec<f32>, dtype: DType) -> CpuStorage {
        match dtype {
            DType::F32 => CpuStorage::F32(v),
            DType::F16 => CpuStorage::F16(v.into_iter().map(f16::from_f32).collect()),
            DType::BF16 => CpuStorage::BF16(v.into_iter().map(bf16::from_f32).collect()),
            DType::I64 => CpuStorage::I64(v.into_iter().map(|x| x as i64).collect()),
            DType::Bool => CpuStorage::Bool(v.into_iter().map(|x| x != 0.0).collect()),
        }
    }

    /// The elements under `l` as a Vec of `T` (which must be this storage's dtype).
    pub fn to_vec<T: Element>(&self, l: &Layout) -> Option<Vec<T>> {
        T::slice(self).map(|v| map_layout(v, l, |x| x))
    }
}

fn dtype_err(op: &'static str, expected: &str, got: DType) -> Error {
    Error::DTypeMismatch {
        op,
        expected: expected.into(),
        got,
    }
}

impl BackendStorage for CpuStorage {
    fn dtype(&self) -> DType {
        match self {
            CpuStorage::F32(_) => DType::F32,
            CpuStorage::F16(_) => DType::F16,
            CpuStorage::BF16(_) => DType::BF16,
            CpuStorage::I64(_) => DType::I64,
            CpuStorage::Bool(_) => DType::Bool,
        }
    }
    fn device(&self) -> Device {
        Device::Cpu
    }
    fn to_cpu(&self) -> Result<CpuStorage> {
        Ok(self.clone())
    }
    fn unary(&self, l: &Layout, op: UnaryOp) -> Result<Self> {
        elementwise::unary(self, l, op)
    }
    fn binary(&self, l: &Layout, rhs: &Self, rl: &Layout, op: BinaryOp) -> Result<Self> {
        elementwise::binary(self, l, rhs, rl, op)
    }
    fn cmp(&self, l: &Layout, rhs: &Self, rl: &Layout, op: CmpOp) -> Result<Self> {
        elementwise::cmp(self, l, rhs, rl, op)
    }
    fn reduce(&self, l: &Layout, axes: &[usize], op: ReduceOp) -> Result<Self> {
        reduce::reduce(self, l, axes, op)
    }
    fn where_cond(&self, l: &Layout, t: &Self, tl: &Layout, f: &Self, fl: &Layout) -> Result<Self> {
        elementwise::where_cond(self, l, t, tl, f, fl)
    }
    fn cast(&self, l: &Layout, dtype: DType) -> Result<Self> {
        Ok(elementwise::cast(self, l, dtype))
    }
    fn copy_strided(&self, l: &Layout) -> Result<Self> {
        Ok(match self {
            CpuStorage::F32(v) => CpuStorage::F32(map_layout(v, l, |x| x)),
            CpuStorage::F16(v) => CpuStorage::F16(map_layout(v, l, |x| x)),
            CpuStorage::BF16(v) => CpuStorage::BF16(map_layout(v, l, |x| x)),
            CpuStorage::I64(v) => CpuStorage::I64(map_layout(v, l, |x| x)),
            CpuStorage::Bool(v) => CpuStorage::Bool(map_layout(v, l, |x| x)),
        })
    }
    fn copy_into(&mut self, dl: &Layout, src: &Self, sl: &Layout) -> Result<()> {
        elementwise::copy_into(self, dl, src, sl)
    }
    fn matmul(&self, l: &Layout, rhs: &Self, rl: &Layout) -> Result<Self> {
        matmul::matmul(self, l, rhs, rl)
    }
    fn index_select(&self, l: &Layout, ids: &Self, il: &Layout, axis: usize) -> Result<Self> {
        index::index_select(self, l, ids, il, axis)
    }
    fn index_add(
        &mut self,
        dst_shape: &Shape,
        ids: &Self,
        il: &Layout,
        src: &Self,
        sl: &Layout,
        axis: usize,
    ) -> Result<()> {
        index::index_add(self, dst_shape, ids, il, src, sl, axis)
    }
    fn im2col(&self, l: &Layout, p: &PatchParams) -> Result<Self> {
        patches::im2col(self, l, p)
    }
    fn col2im(&self, l: &Layout, p: &PatchParams) -> Result<Self> {
        patches::col2im(self, l, p)
    }
    fn apply_update(
        &mut self,
        grad: &Self,
        gl: &Layout,
        slots: &mut [&mut Self],
        rule: UpdateRule,
    ) -> Result<()> {
        optim::apply_update(self, grad, gl, slots, rule)
    }
}
