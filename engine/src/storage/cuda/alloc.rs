//! A caching allocator: freed device blocks go to a free list per (rounded) size and are reused,
//! as PyTorch's allocator does, so a training loop stops calling cuMemAlloc after its first step.
//!
//! Dropping a tensor only returns its block to the pool (no driver call), so it is safe on any
//! thread. Freeing blocks for real ([`empty_cache`]) binds the context to the calling thread
//! first: a data-pipeline worker or a fresh thread has no current context, and a free without
//! one fails and leaves a stored error that would surface in some later, unrelated op.

use std::collections::HashMap;
use std::sync::Arc;

use cudarc::driver::{sys::CUresult, CudaSlice, DevicePtr};

use super::errors;

use super::backend::CudaBackend;
use crate::error::Result;

/// Memory statistics of one GPU, as `memory_stats()` reports them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemoryStats {
    /// Bytes held by live tensors.
    pub allocated: u64,
    /// Most bytes ever held by live tensors.
    pub peak_allocated: u64,
    /// Bytes kept in the free lists for reuse.
    pub cached: u64,
    /// Calls to the driver's allocator (cache misses).
    pub device_allocs: u64,
    /// Page-locked host bytes held to stage large host-to-device copies.
    pub pinned_staging: u64,
}

#[derive(Default)]
pub(super) struct Pool {
    free: HashMap<usize, Vec<CudaSlice<u8>>>,
    pub(super) stats: MemoryStats,
}

/// Block sizes: multiples of 512 bytes below 1 MiB, of 2 MiB above.
fn bucket(bytes: usize) -> usize {
    let bytes = bytes.max(1);
    if bytes < 1 << 20 {
        bytes.div_ceil(512) * 512
    } else {
        bytes.div_ceil(2 << 20) * (2 << 20)
    }
}

/// A device block, returned to its pool on drop.
pub struct DevBuf {
    slice: Option<CudaSlice<u8>>,
    pub(super) backend: Arc<CudaBackend>,
}

impl DevBuf {
    /// An uninitialised block of at least `bytes` bytes.
    pub fn alloc(b: &Arc<CudaBackend>, bytes: usize) -> Result<DevBuf> {
        let size = bucket(bytes);
        {
            let mut pool = b.pool.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(s) = pool.free.get_mut(&size).and_then(|v| v.pop()) {
                pool.stats.cached -= size as u64;
                pool.stats.allocated += size as u64;
                pool.stats.peak_allocated = pool.stats.peak_allocated.max(pool.stats.allocated);
                return Ok(DevBuf {
                    slice: Some(s),
                    backend: b.clone(),
                });
            }
        }
        // SAFETY: the block is written by a kernel or copy before it is read.
        let mut r = unsafe { b.stream.alloc::<u8>(size) };
        if matches!(&r, Err(e) if e.0 == CUresult::CUDA_ERROR_OUT_OF_MEMORY) {
            // Out of memory: give the cached blocks back to the driver and try once more.
            empty_cache(b);
            // SAFETY: as above.
            r = unsafe { b.stream.alloc::<u8>(size) };
        }
        // Only CUDA_ERROR_OUT_OF_MEMORY is out of memory; a fault keeps its name.
        let s = r.map_err(|e| {
            let free = b.ctx.mem_get_info().map(|(f, _)| f as u64).unwrap_or(0);
            errors::alloc_error(
                b.device(),
                bytes as u64,
                free,
                e.0,
                errors::text(&e).as_deref(),
            )
        })?;
        let mut pool = b.pool.lock().unwrap_or_else(|e| e.into_inner());
        pool.stats.device_allocs += 1;
        pool.stats.allocated += size as u64;
        pool.stats.peak_allocated = pool.stats.peak_allocated.max(pool.stats.allocated);
        Ok(DevBuf {
            slice: Some(s),
            backend: b.clone(),
        })
    }

    pub fn slice(&self) -> &CudaSlice<u8> {
        self.slice.as_ref().expect("live block")
    }
    /// The raw device address (the engine uses one stream, so no event is needed).
    pub fn ptr(&self) -> u64 {
        let (p, _sync) = self.slice().device_ptr(&self.backend.stream);
        p
    }
}

impl Drop for DevBuf {
    fn drop(&mut self) {
        if let Some(s) = self.slice.take() {
            let size = s.len();
            let mut pool = self.backend.pool.lock().unwrap_or_else(|e| e.into_inner());
            pool.stats.allocated = pool.stats.allocated.saturating_sub(size as u64);
            pool.stats.cached += size as u64;
            pool.free.entry(size).or_default().push(s);
        }
    }
}

/// Returns every cached block to the driver (like `torch.cuda.empty_cache()`), from any thread:
/// the context is bound first, and the frees are complete when this returns.
pub fn empty_cache(b: &CudaBackend) {
    let blocks: Vec<CudaSlice<u8>> = {
        let mut pool = b.pool.lock().unwrap_or_else(|e| e.into_inner());
        pool.stats.cached = 0;
        pool.free.drain().flat_map(|(_, v)| v).collect()
    };
    if blocks.is_empty() {
        return;
    }
    b.bind_keeping_errors();
    drop(blocks);
    // free_async queues the frees on the stream; wait, so the memory is back now (and a failed
    // free is reported by the next op rather than lost)
    b.ctx.record_err(b.stream.synchronize());
}

/// Memory statistics of `cuda:ordinal`, or None when it is not usable.
pub fn memory_stats(ordinal: usize) -> Option<MemoryStats> {
    let b = super::backend::backend(ordinal).ok()?;
    let mut s = b.pool.lock().unwrap_or_else(|e| e.into_inner()).stats;
    s.pinned_staging = super::upload::staging_bytes(&b);
    Some(s)
}

#[cfg(test)]
mod tests {
    #[test]
    fn buckets_round_up() {
        assert_eq!(super::bucket(1), 512);
        assert_eq!(super::bucket(513), 1024);
        assert_eq!(super::bucket(3 << 20), 4 << 20);
    }
}
