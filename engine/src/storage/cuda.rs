//! CUDA storage. Until the CUDA backend lands (issue 7), no value of this type can exist: asking
//! for a CUDA device returns [`Error::NoCudaDevice`], and every primitive is unreachable.

use super::{
    BackendStorage, BinaryOp, CmpOp, CpuStorage, PatchParams, ReduceOp, UnaryOp, UpdateRule,
};
use crate::device::Device;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::{Layout, Shape};

/// GPU memory. Uninhabited for now: the type system proves no op runs on it.
#[derive(Debug)]
pub enum CudaStorage {}

impl CudaStorage {
    pub fn from_cpu(_cpu: &CpuStorage, device: Device) -> Result<CudaStorage> {
        Err(Error::NoCudaDevice {
            requested: device,
            reason: "this build of ferrolab has no CUDA backend yet".into(),
        })
    }
}

impl BackendStorage for CudaStorage {
    fn dtype(&self) -> DType {
        match *self {}
    }
    fn device(&self) -> Device {
        match *self {}
    }
    fn to_cpu(&self) -> Result<CpuStorage> {
        match *self {}
    }
    fn unary(&self, _: &Layout, _: UnaryOp) -> Result<Self> {
        match *self {}
    }
    fn binary(&self, _: &Layout, _: &Self, _: &Layout, _: BinaryOp) -> Result<Self> {
        match *self {}
    }
    fn cmp(&self, _: &Layout, _: &Self, _: &Layout, _: CmpOp) -> Result<Self> {
        match *self {}
    }
    fn reduce(&self, _: &Layout, _: &[usize], _: ReduceOp) -> Result<Self> {
        match *self {}
    }
    fn where_cond(&self, _: &Layout, _: &Self, _: &Layout, _: &Self, _: &Layout) -> Result<Self> {
        match *self {}
    }
    fn cast(&self, _: &Layout, _: DType) -> Result<Self> {
        match *self {}
    }
    fn copy_strided(&self, _: &Layout) -> Result<Self> {
        match *self {}
    }
    fn copy_into(&mut self, _: &Layout, _: &Self, _: &Layout) -> Result<()> {
        match *self {}
    }
    fn matmul(&self, _: &Layout, _: &Self, _: &Layout) -> Result<Self> {
        match *self {}
    }
    fn index_select(&self, _: &Layout, _: &Self, _: &Layout, _: usize) -> Result<Self> {
        match *self {}
    }
    fn index_add(
        &mut self,
        _: &Shape,
        _: &Self,
        _: &Layout,
        _: &Self,
        _: &Layout,
        _: usize,
    ) -> Result<()> {
        match *self {}
    }
    fn im2col(&self, _: &Layout, _: &PatchParams) -> Result<Self> {
        match *self {}
    }
    fn col2im(&self, _: &Layout, _: &PatchParams) -> Result<Self> {
        match *self {}
    }
    fn apply_update(
        &mut self,
        _: &Self,
        _: &Layout,
        _: &mut [&mut Self],
        _: UpdateRule,
    ) -> Result<()> {
        match *self {}
    }
}
