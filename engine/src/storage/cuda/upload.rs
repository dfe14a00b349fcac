//! Host-to-device copies. Large ones go through reusable page-locked (pinned) staging buffers,
//! so the DMA runs asynchronously on the backend's one stream and the calling thread (a
//! `prefetch_to_device` worker, or `.to(Device::Cuda(_))`) returns as soon as the data is staged.
//!
//! - Small copies (< [`STAGING_MIN_BYTES`]) use a plain `cuMemcpyHtoDAsync` from pageable memory:
//!   the driver stages those itself before the call returns.
//! - Larger ones are cut into chunks of at most [`STAGING_CHUNK_BYTES`]. Each chunk is copied
//!   into one of [`STAGING_BUFFERS`] pinned buffers (used in turn, so filling one overlaps the
//!   DMA out of the other), its DMA is queued, and an event is recorded after it.
//! - A buffer is refilled only after its event completed, i.e. after the DMA that read it
//!   finished. The events are ours: cudarc records a `PinnedHostSlice`'s own event only when the
//!   context tracks events, and the engine turns that tracking off (one stream).
//! - Kernels that read the destination are queued after the copy on the same stream, so they see
//!   the data; the host blocks only when it reads device data (`to_cpu`).
//! - If page-locked memory cannot be allocated (a memlock limit, say), copies fall back to the
//!   pageable path for good, and say why once.

use cudarc::driver::{sys::CUevent_flags, CudaEvent, PinnedHostSlice};

use super::backend::{derr, CudaBackend};
use crate::error::Result;

/// Copies smaller than this skip the staging buffers.
pub const STAGING_MIN_BYTES: usize = 64 << 10;
/// Size of one pinned staging buffer (the largest chunk one DMA moves).
pub const STAGING_CHUNK_BYTES: usize = 8 << 20;
/// Number of staging buffers per device, used round-robin.
pub const STAGING_BUFFERS: usize = 2;

/// A pinned buffer and the event recorded after the last copy that reads it.
struct StagingBuf {
    host: PinnedHostSlice<u8>,
    done: CudaEvent,
}

impl Drop for StagingBuf {
    fn drop(&mut self) {
        // The DMA out of `host` must finish before the memory is freed.
        let _ = self.done.synchronize();
    }
}

/// The staging buffers of one device (created on the first large copy).
#[derive(Default)]
pub(crate) struct Staging {
    bufs: Vec<StagingBuf>,
    next: usize,
    /// Why pinned memory is not used, once allocating it failed.
    disabled: Option<String>,
}

impl Staging {
    /// Page-locked bytes held.
    pub(super) fn bytes(&self) -> u64 {
        self.bufs.iter().map(|b| b.host.len() as u64).sum()
    }

    /// The next buffer to fill, allocated if there are fewer than STAGING_BUFFERS.
    fn next_buf(&mut self, b: &CudaBackend) -> std::result::Result<&mut StagingBuf, String> {
        let i = self.next % STAGING_BUFFERS;
        self.next = (i + 1) % STAGING_BUFFERS;
        if i >= self.bufs.len() {
            // SAFETY: the buffer is written before any copy reads it.
            let host = unsafe { b.ctx.alloc_pinned::<u8>(STAGING_CHUNK_BYTES) }
                .map_err(|e| format!("cuMemHostAlloc of {STAGING_CHUNK_BYTES} bytes: {e:?}"))?;
            let done = b
                .ctx
                .new_event(Some(CUevent_flags::CU_EVENT_BLOCKING_SYNC))
                .map_err(|e| format!("cuEventCreate: {e:?}"))?;
            self.bufs.push(StagingBuf { host, done });
            return Ok(self.bufs.last_mut().expect("just pushed"));
        }
        Ok(&mut self.bufs[i])
    }
}

/// Queues a pageable host-to-device copy; `src` may be dropped when it returns.
fn pageable(b: &CudaBackend, dst: u64, src: &[u8]) -> Result<()> {
    // SAFETY: the caller guarantees `dst` holds at least src.len() bytes; the driver stages
    // pageable memory before the call returns.
    unsafe { cudarc::driver::result::memcpy_htod_async(dst, src, b.stream.cu_stream()) }
        .map_err(|e| derr("host-to-device copy", e))
}

/// Queues the copy of `src` to device address `dst` (which holds at least `src.len()` bytes) on
/// the backend's stream. `src` may be dropped or changed as soon as this returns.
pub(super) fn htod(b: &CudaBackend, dst: u64, src: &[u8]) -> Result<()> {
    if src.is_empty() {
        return Ok(());
    }
    b.ctx.bind_to_thread().map_err(|e| derr("bind", e))?;
    if src.len() < STAGING_MIN_BYTES {
        return pageable(b, dst, src);
    }
    let mut st = b.staging.lock().unwrap_or_else(|e| e.into_inner());
    if st.disabled.is_some() {
        return pageable(b, dst, src);
    }
    for (k, chunk) in src.chunks(STAGING_CHUNK_BYTES).enumerate() {
        let at = dst + (k * STAGING_CHUNK_BYTES) as u64;
        let buf = match st.next_buf(b) {
            Ok(buf) => buf,
            Err(reason) => {
                eprintln!(
                    "ferrolab: no page-locked staging memory on {} ({reason}); host-to-device \
                     copies stay synchronous",
                    b.device()
                );
                st.disabled = Some(reason);
                return pageable(b, at, &src[k * STAGING_CHUNK_BYTES..]);
            }
        };
        // Wait until the DMA that last read this buffer is done (returns at once if none).
        buf.done
            .synchronize()
            .map_err(|e| derr("staging event synchronize", e))?;
        let host = buf
            .host
            .as_mut_slice()
            .map_err(|e| derr("staging buffer", e))?;
        host[..chunk.len()].copy_from_slice(chunk);
        // SAFETY: `at` has room for the chunk (the caller's block holds src.len() bytes); the
        // pinned buffer lives in the backend and is not written again before `done` (recorded
        // right after this copy on the same stream) has completed.
        unsafe {
            cudarc::driver::result::memcpy_htod_async(
                at,
                &host[..chunk.len()],
                b.stream.cu_stream(),
            )
        }
        .map_err(|e| derr("host-to-device copy", e))?;
        buf.done
            .record(&b.stream)
            .map_err(|e| derr("staging event record", e))?;
    }
    Ok(())
}

/// Page-locked staging bytes held for `b`.
pub(super) fn staging_bytes(b: &CudaBackend) -> u64 {
    b.staging.lock().unwrap_or_else(|e| e.into_inner()).bytes()
}
