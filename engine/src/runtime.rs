//! The runtime: which device new tensors go to, what the GPUs are, and their memory.
//!
//! - The default device is thread-scoped over a process default, as in TF 2:
//!   [`with_device`]`(d, || ..)` (TF's `with tf.device(..)`) sets it for the calling thread
//!   while the closure runs; [`set_default_device`] sets the process default underneath.
//!   Both live in the process-wide state (the slot `runtime.device`), keyed by thread, never in
//!   a `thread_local!`: every notebook cell is its own library with its own thread-locals, so a
//!   scope opened by one cell's engine would be invisible to the engine copy of a layer built
//!   in an earlier cell.
//! - GPU facts and memory: [`gpu_info`] (device, driver, NVRTC and cuBLAS versions),
//!   [`gpu_summary`], [`gpu_present_but_unusable`], [`memory_stats`], [`empty_cache`],
//!   [`host_cache_stats`], [`synchronize`], through the backends' `BackendDevice`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread::ThreadId;

use crate::device::Device;
use crate::error::{or_panic, Result};
use crate::storage::cuda;
use crate::storage::device::{BackendDevice, LiveDevice};

pub use crate::storage::cpu::HostCacheStats;
pub use crate::storage::cuda::{GpuInfo, MemoryStats};

// ------------------------------------------------------------------------------------------------
// GPUs

/// The usable GPUs (empty on machines without one). Memory figures are read now.
pub fn gpu_info() -> Vec<GpuInfo> {
    let Ok(n) = cuda::device_count() else {
        return Vec::new();
    };
    (0..n)
        .filter_map(|i| match cuda::backend(i) {
            Ok(b) => {
                let mut info = b.info.clone();
                if let Ok((free, total)) = b.ctx.mem_get_info() {
                    info.free_memory = free as u64;
                    info.total_memory = total as u64;
                }
                Some(info)
            }
            Err(reason) => {
                cuda::warn_unusable_once(&reason);
                None
            }
        })
        .collect()
}

/// Why no GPU is usable, or None when `cuda:0` is.
pub fn gpu_unavailable_reason() -> Option<String> {
    cuda::backend(0).err()
}

/// Why a GPU that the machine lists (`nvidia-smi -L`) is not usable by the engine, or None
/// (usable, or no GPU at all). GPU tests fail with this instead of skipping: a GPU that is there
/// but unused must not pass as "no GPU".
pub fn gpu_present_but_unusable() -> Option<String> {
    let reason = cuda::backend(0).err()?;
    let listed = cuda::listed_gpu()?;
    Some(format!(
        "{listed}, but the CUDA backend cannot start: {reason}"
    ))
}

/// One line for the kernel's `:gpu` magic and for notebooks.
pub fn gpu_summary() -> String {
    let gpus = gpu_info();
    if gpus.is_empty() {
        let nvrtc = match cuda::compile::nvrtc_version() {
            Ok((major, minor)) => format!("NVRTC {major}.{minor} found"),
            Err(_) => "no NVRTC".to_string(),
        };
        match gpu_unavailable_reason() {
            Some(r) => format!("no GPU usable ({r}); running on CPU ({nvrtc})"),
            None => format!("no GPU found; running on CPU ({nvrtc})"),
        }
    } else {
        gpus.iter()
            .map(|g| g.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// True when a CUDA device is usable (`cuda:0` initialises and runs a kernel).
pub fn is_gpu_available() -> bool {
    match cuda::backend(0) {
        Ok(_) => true,
        Err(reason) => {
            cuda::warn_unusable_once(&reason);
            false
        }
    }
}

// ------------------------------------------------------------------------------------------------
// The default device

/// The slot `runtime.device`: the process default and every thread's open scopes.
struct DeviceState {
    /// Set by `set_default_device`, or resolved on first use.
    process: Mutex<Option<Device>>,
    /// Scopes open on any thread: while 0, `default_device` skips the scope table.
    live_scopes: AtomicUsize,
    /// Each thread's open `with_device` scopes, innermost last.
    scopes: Mutex<HashMap<ThreadId, Vec<Device>>>,
}

fn device_state() -> &'static DeviceState {
    crate::state::slot!("runtime.device", DeviceState, || DeviceState {
        process: Mutex::new(None),
        live_scopes: AtomicUsize::new(0),
        scopes: Mutex::new(HashMap::new()),
    })
}

/// The device new tensors are created on: the innermost [`with_device`] scope of this thread,
/// else the process default: the last [`set_default_device`], else `FERROLAB_DEVICE` when set,
/// else `cuda:0` when a GPU is usable, else the CPU. Process-wide, so it holds across notebook
/// cells.
pub fn default_device() -> Device {
    let s = device_state();
    if s.live_scopes.load(Ordering::Acquire) > 0 {
        let me = std::thread::current().id();
        let scopes = s.scopes.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(&d) = scopes.get(&me).and_then(|v| v.last()) {
            return d;
        }
    }
    let mut d = s.process.lock().unwrap_or_else(|e| e.into_inner());
    *d.get_or_insert_with(resolve_process_default)
}

/// `FERROLAB_DEVICE`, else `cuda:0` when usable, else the CPU.
fn resolve_process_default() -> Device {
    if let Ok(s) = std::env::var("FERROLAB_DEVICE") {
        match Device::parse(&s) {
            Some(Device::Cpu) => return Device::Cpu,
            Some(dev @ Device::Cuda(i)) if cuda::backend(i).is_ok() => return dev,
            Some(dev) => eprintln!(
                "ferrolab: FERROLAB_DEVICE={s} asks for {dev}, but it is not usable ({}); using the CPU",
                cuda::backend(match dev { Device::Cuda(i) => i, Device::Cpu => 0 })
                    .err()
                    .unwrap_or_default()
            ),
            None => eprintln!(
                "ferrolab: FERROLAB_DEVICE={s} is not a device; use cpu or cuda:N. Using the CPU"
            ),
        }
        return Device::Cpu;
    }
    if is_gpu_available() {
        Device::Cuda(0)
    } else {
        Device::Cpu
    }
}

/// Sets the process-wide default device, until changed. A [`with_device`] scope still wins on
/// its own thread while it is open.
pub fn set_default_device(device: Device) {
    *device_state()
        .process
        .lock()
        .unwrap_or_else(|e| e.into_inner()) = Some(device);
}

/// Runs `f` with `device` as this thread's default device, like TF's `with tf.device(..):`.
///
/// ```
/// use ferrolab::prelude::*;
/// let y = with_device(Device::Cpu, || ones([2, 2]) * 3.0);
/// assert!(y.device().is_cpu());
/// ```
///
/// - Scopes nest; the innermost wins. When `f` returns or panics, the previous default is back.
/// - The scope belongs to the calling thread. A thread spawned inside it does not inherit it (as
///   in TF), and other threads (data-pipeline workers) keep the process default.
/// - It chooses where new tensors are created (`tensor`, `zeros`, `randn`, a layer's weights on
///   their first call, ...). Ops on existing tensors run where their inputs are.
/// - Unlike TF's soft placement, a device that is not usable here (`Device::Cuda` without a GPU)
///   panics at once with the reason (`Error::NoCudaDevice`); [`try_with_device`] returns it.
#[track_caller]
pub fn with_device<R>(device: Device, f: impl FnOnce() -> R) -> R {
    or_panic(try_with_device(device, f))
}

/// [`with_device`], or `Error::NoCudaDevice` (before `f` runs) when `device` is not usable.
pub fn try_with_device<R>(device: Device, f: impl FnOnce() -> R) -> Result<R> {
    LiveDevice::new(device)?;
    let _scope = Scope::open(device);
    Ok(f())
}

/// An open `with_device` scope of the current thread; closing it (also while unwinding) restores
/// the previous default.
struct Scope {
    thread: ThreadId,
}

impl Scope {
    fn open(device: Device) -> Scope {
        let s = device_state();
        let thread = std::thread::current().id();
        let mut scopes = s.scopes.lock().unwrap_or_else(|e| e.into_inner());
        scopes.entry(thread).or_default().push(device);
        s.live_scopes.fetch_add(1, Ordering::AcqRel);
        Scope { thread }
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        let s = device_state();
        let mut scopes = s.scopes.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(stack) = scopes.get_mut(&self.thread) {
            stack.pop();
            if stack.is_empty() {
                scopes.remove(&self.thread);
            }
        }
        s.live_scopes.fetch_sub(1, Ordering::AcqRel);
    }
}

// ------------------------------------------------------------------------------------------------
// Memory and synchronisation

/// The GPU allocator's statistics (bytes in use, peak, cached), like
/// `torch.cuda.memory_stats()`; None for the CPU or an unusable GPU.
pub fn memory_stats(device: Device) -> Option<MemoryStats> {
    LiveDevice::new(device).ok()?.memory_stats()
}

/// Gives cached free blocks back: the GPU allocator's to the driver, or for `Device::Cpu` the
/// host buffer cache's to the system (see [`host_cache_stats`]). Nothing for an unusable GPU.
pub fn empty_cache(device: Device) {
    if let Ok(d) = LiveDevice::new(device) {
        d.empty_cache();
    }
}

/// The host buffer cache: freed buffers of 4 MiB or more are kept (up to 1 GiB, or
/// `FERROLAB_CPU_CACHE_MB`) and reused for the next allocation of the same size, so loops over
/// big tensors do not map and zero fresh memory every step.
pub fn host_cache_stats() -> HostCacheStats {
    crate::storage::cpu::cache::stats()
}

/// Waits until every queued GPU operation on `device` has finished (for timing).
pub fn synchronize(device: Device) -> Result<()> {
    LiveDevice::new(device)?.synchronize()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_nest_and_close_in_order() {
        // Only this thread's scopes matter, so tests running in parallel do not interfere.
        let outer = default_device();
        with_device(Device::Cpu, || {
            assert_eq!(default_device(), Device::Cpu);
            with_device(Device::Cpu, || assert_eq!(default_device(), Device::Cpu));
            assert_eq!(default_device(), Device::Cpu);
        });
        assert_eq!(default_device(), outer);
        assert!(!device_state()
            .scopes
            .lock()
            .unwrap()
            .contains_key(&std::thread::current().id()));
    }
}
