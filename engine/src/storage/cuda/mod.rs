//! The CUDA backend: GPU memory and the primitives of [`BackendStorage`] as NVRTC-compiled
//! kernels and cuBLAS calls, tested against the CPU reference (`engine/tests/cuda_ops.rs`).
//!
//! - `backend.rs`: probing (never panics without a GPU), one context + stream per device,
//!   the kernel cache and the cuBLAS handle, all kept in the process-wide state.
//! - `device.rs`: `CudaDevice`, the `BackendDevice` (allocation, random draws, sync, stats).
//! - `alloc.rs`: the caching allocator and memory stats; out of memory is an error.
//! - `kernels.rs`: the CUDA C prelude (layouts up to rank 8, f16/bf16 conversions) and launches.
//! - `catalog.rs`: every kernel source the backend can generate ([`all_sources`]), with no
//!   driver: the CI compile check builds each with NVRTC.
//! - `compile.rs`: NVRTC to a CUBIN for the device's arch (PTX as the fallback), versions and
//!   their compatibility with the driver, ptxas' spill report.
//! - `libs.rs`: finds NVRTC, cuBLAS and cuRAND in pip's wheels (.venv) before the first probe.
//! - `errors.rs`: driver errors keep their name and text; only OOM is out of memory.
//! - `elementwise.rs`, `reduce.rs`, `matmul.rs`, `index.rs`, `optim.rs`: the primitives.
//! - `random.rs`: uniform and normal draws with cuRAND (one Philox generator per device).
//! - `upload.rs`: host-to-device copies, staged through reusable pinned buffers when large.
//!
//! Every buffer is raw bytes plus a dtype; bool is stored as one byte (0/1), f16/bf16 as their
//! 16-bit patterns. All work is queued on one stream; the host waits only when it reads data.

mod alloc;
mod backend;
pub mod catalog;
pub mod compile;
mod device;
mod elementwise;
pub mod errors;
pub mod fused;
mod index;
pub mod kernels;
pub mod libs;
mod matmul;
mod optim;
pub mod random;
mod reduce;
mod upload;

use std::sync::Arc;

use half::{bf16, f16};

pub use alloc::{empty_cache, memory_stats, MemoryStats};
pub use backend::{
    backend, backend_for, device_count, listed_gpu, warn_unusable_once, CudaBackend,
};
pub use catalog::{all_sources, KernelSource};
pub use device::{CudaDevice, GpuInfo};
pub use upload::{STAGING_BUFFERS, STAGING_CHUNK_BYTES, STAGING_MIN_BYTES};

use super::{
    BackendStorage, BinaryOp, CmpOp, CpuStorage, PatchParams, ReduceOp, UnaryOp, UpdateRule,
};
use crate::device::Device;
use crate::dtype::DType;
use crate::error::Result;
use crate::shape::{Layout, Shape};
use alloc::DevBuf;
use backend::derr;

/// GPU memory: `len` elements of `dtype` in one device block.
pub struct CudaStorage {
    buf: DevBuf,
    len: usize,
    dtype: DType,
}

impl std::fmt::Debug for CudaStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "CudaStorage({} x {} on {})",
            self.len,
            self.dtype,
            self.device()
        )
    }
}

fn as_bytes<T>(v: &[T]) -> &[u8] {
    // SAFETY: plain-old-data element types (f32, f16, bf16, i64, bool), read as bytes.
    unsafe { std::slice::from_raw_parts(v.as_ptr() as *const u8, std::mem::size_of_val(v)) }
}

fn from_bytes<T: Copy + Default>(b: &[u8]) -> Vec<T> {
    let n = b.len() / std::mem::size_of::<T>();
    let mut v = vec![T::default(); n];
    // SAFETY: copies n * size_of::<T>() bytes into a Vec of exactly that size; every bit
    // pattern the device wrote is valid for these types (bools are checked by the caller).
    unsafe { std::ptr::copy_nonoverlapping(b.as_ptr(), v.as_mut_ptr() as *mut u8, b.len()) };
    v
}

impl CudaStorage {
    /// Uninitialised storage for `n` elements (every kernel writes all of them).
    pub(crate) fn alloc(b: &Arc<CudaBackend>, n: usize, dtype: DType) -> Result<CudaStorage> {
        Ok(CudaStorage {
            buf: DevBuf::alloc(b, n * dtype.size_in_bytes())?,
            len: n,
            dtype,
        })
    }

    /// Zero-filled storage.
    pub(crate) fn zeros(b: &Arc<CudaBackend>, n: usize, dtype: DType) -> Result<CudaStorage> {
        let s = Self::alloc(b, n, dtype)?;
        let bytes = n * dtype.size_in_bytes();
        if bytes > 0 {
            b.ctx.bind_to_thread().map_err(|e| derr("bind", e))?;
            // SAFETY: the block holds at least `bytes` bytes.
            unsafe {
                cudarc::driver::result::memset_d8_async(s.ptr(), 0, bytes, b.stream.cu_stream())
            }
            .map_err(|e| derr("memset", e))?;
        }
        Ok(s)
    }

    /// Zero-filled storage on `device`, written on the device (no host copy).
    pub fn zeros_on(device: Device, n: usize, dtype: DType) -> Result<CudaStorage> {
        Self::zeros(&backend_for(device)?, n, dtype)
    }

    pub(crate) fn ptr(&self) -> u64 {
        self.buf.ptr()
    }
    pub(crate) fn backend(&self) -> &Arc<CudaBackend> {
        &self.buf.backend
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Copies CPU data to `device`. The copy is queued on the device's stream and `cpu` may be
    /// dropped as soon as this returns; large buffers go through pinned staging memory, so the
    /// DMA runs asynchronously (see `upload.rs`).
    pub fn from_cpu(cpu: &CpuStorage, device: Device) -> Result<CudaStorage> {
        Self::upload(&backend_for(device)?, cpu)
    }

    /// [`from_cpu`](Self::from_cpu) on a backend already looked up.
    pub(crate) fn upload(b: &Arc<CudaBackend>, cpu: &CpuStorage) -> Result<CudaStorage> {
        let bools: Vec<u8>;
        let bytes: &[u8] = match cpu {
            CpuStorage::F32(v) => as_bytes(v),
            CpuStorage::F16(v) => as_bytes(v),
            CpuStorage::BF16(v) => as_bytes(v),
            CpuStorage::I64(v) => as_bytes(v),
            CpuStorage::Bool(v) => {
                bools = v.iter().map(|&x| x as u8).collect();
                &bools
            }
        };
        let s = Self::alloc(b, cpu.len(), cpu.dtype())?;
        // the block holds at least bytes.len() bytes
        upload::htod(b, s.ptr(), bytes)?;
        Ok(s)
    }

    /// Copies `n` bytes from this block at `src_off` into `dst` at `dst_off`, on the stream.
    pub(crate) fn copy_bytes_to(
        &self,
        src_off: usize,
        dst: &CudaStorage,
        dst_off: usize,
        n: usize,
    ) -> Result<()> {
        if n == 0 {
            return Ok(());
        }
        let b = self.backend();
        b.ctx.bind_to_thread().map_err(|e| derr("bind", e))?;
        // SAFETY: both ranges lie inside their blocks (the callers check the layouts).
        unsafe {
            cudarc::driver::result::memcpy_dtod_async(
                dst.ptr() + dst_off as u64,
                self.ptr() + src_off as u64,
                n,
                b.stream.cu_stream(),
            )
        }
        .map_err(|e| derr("device-to-device copy", e))
    }
}

impl BackendStorage for CudaStorage {
    fn dtype(&self) -> DType {
        self.dtype
    }
    fn device(&self) -> Device {
        Device::Cuda(self.buf.backend.ordinal)
    }
    fn to_cpu(&self) -> Result<CpuStorage> {
        let b = self.backend();
        let mut host = vec![0u8; self.len * self.dtype.size_in_bytes()];
        if !host.is_empty() {
            b.ctx.bind_to_thread().map_err(|e| derr("bind", e))?;
            // SAFETY: the block holds at least host.len() bytes.
            unsafe {
                cudarc::driver::result::memcpy_dtoh_async(
                    &mut host,
                    self.ptr(),
                    b.stream.cu_stream(),
                )
            }
            .map_err(|e| derr("device-to-host copy", e))?;
            b.synchronize()?;
        }
        Ok(match self.dtype {
            DType::F32 => CpuStorage::F32(from_bytes::<f32>(&host)),
            DType::F16 => CpuStorage::F16(from_bytes::<f16>(&host)),
            DType::BF16 => CpuStorage::BF16(from_bytes::<bf16>(&host)),
            DType::I64 => CpuStorage::I64(from_bytes::<i64>(&host)),
            DType::Bool => CpuStorage::Bool(host.iter().map(|&x| x != 0).collect()),
        })
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
        elementwise::cast(self, l, dtype)
    }
    fn copy_strided(&self, l: &Layout) -> Result<Self> {
        elementwise::copy_strided(self, l)
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
        index::im2col(self, l, p)
    }
    fn col2im(&self, l: &Layout, p: &PatchParams) -> Result<Self> {
        index::col2im(self, l, p)
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
