//! `CudaDevice`: one GPU as a [`BackendDevice`] (allocation, cuRAND draws, sync, memory stats),
//! and [`GpuInfo`], what `runtime::gpu_info()` reports about it.

use std::fmt;
use std::sync::Arc;

use super::backend::{backend_for, CudaBackend};
use super::{alloc, random, CudaStorage, MemoryStats};
use crate::device::Device;
use crate::dtype::DType;
use crate::error::Result;
use crate::storage::cpu::CpuStorage;
use crate::storage::device::{BackendDevice, CpuDevice};

/// A usable GPU (its backend is initialised).
#[derive(Clone, Debug)]
pub struct CudaDevice(Arc<CudaBackend>);

impl CudaDevice {
    /// The backend of `device`, or `Error::NoCudaDevice` with why it is not usable.
    pub fn new(device: Device) -> Result<CudaDevice> {
        backend_for(device).map(CudaDevice)
    }
    pub fn backend(&self) -> &Arc<CudaBackend> {
        &self.0
    }
}

impl BackendDevice for CudaDevice {
    type Storage = CudaStorage;
    fn device(&self) -> Device {
        self.0.device()
    }
    /// A memset on the device's stream (no host buffer, no copy).
    fn zeros(&self, n: usize, dtype: DType) -> Result<CudaStorage> {
        CudaStorage::zeros(&self.0, n, dtype)
    }
    fn storage_from_host(&self, data: CpuStorage) -> Result<CudaStorage> {
        CudaStorage::upload(&self.0, &data)
    }
    /// Drawn by cuRAND on the GPU; where libcurand cannot be loaded, drawn on the host like the
    /// CPU's and copied (with one warning).
    fn uniform(&self, n: usize, lo: f32, hi: f32, seed: u64) -> Result<CudaStorage> {
        match random::uniform_on(&self.0, n, lo, hi, seed)? {
            Some(s) => Ok(s),
            None => {
                self.storage_from_host(CpuStorage::F32(CpuDevice::uniform_vec(n, lo, hi, seed)))
            }
        }
    }
    /// As [`uniform`](Self::uniform): cuRAND, or the host's numbers copied.
    fn normal(&self, n: usize, mean: f32, std: f32, seed: u64) -> Result<CudaStorage> {
        match random::normal_on(&self.0, n, mean, std, seed)? {
            Some(s) => Ok(s),
            None => {
                self.storage_from_host(CpuStorage::F32(CpuDevice::normal_vec(n, mean, std, seed)))
            }
        }
    }
    fn synchronize(&self) -> Result<()> {
        self.0.synchronize()
    }
    fn memory_stats(&self) -> Option<MemoryStats> {
        alloc::memory_stats(self.0.ordinal)
    }
    /// Returns the allocator's cached blocks to the driver.
    fn empty_cache(&self) {
        alloc::empty_cache(&self.0)
    }
}

/// What the kernel's `:gpu` magic shows.
#[derive(Clone, Debug, PartialEq)]
pub struct GpuInfo {
    pub index: usize,
    pub name: String,
    pub total_memory: u64,
    pub free_memory: u64,
    /// The CUDA version the driver supports (`cuDriverGetVersion`), e.g. `13.0`.
    pub driver_version: String,
    pub compute_capability: (u32, u32),
    /// NVRTC's version, e.g. `13.5` (kernels are compiled by it at run time).
    pub nvrtc_version: String,
    /// cuBLAS's version, e.g. `13.1.0`, or why it is not usable (matmul needs it).
    pub cublas_version: String,
}

impl fmt::Display for GpuInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
        write!(
            f,
            "cuda:{} {} (compute {}.{}), memory {:.1} GiB free of {:.1} GiB, driver for \
             CUDA {}, NVRTC {}, cuBLAS {}",
            self.index,
            self.name,
            self.compute_capability.0,
            self.compute_capability.1,
            gib(self.free_memory),
            gib(self.total_memory),
            self.driver_version,
            self.nvrtc_version,
            self.cublas_version
        )
    }
}
