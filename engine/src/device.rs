//! Devices: where a tensor's storage lives.
//!
//! `Device::Cpu` always works. `Device::Cuda(n)` names the n-th NVIDIA GPU; on a machine where
//! it is not usable (no driver, no libnvrtc, a driver too old for the code NVRTC emits), moving
//! a tensor there returns [`Error::NoCudaDevice`](crate::Error) with the reason.

use std::fmt;

/// Where a tensor lives, like TF's `/CPU:0` and `/GPU:0`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Device {
    Cpu,
    Cuda(usize),
}

impl Device {
    pub fn is_cpu(&self) -> bool {
        matches!(self, Device::Cpu)
    }
    pub fn is_cuda(&self) -> bool {
        matches!(self, Device::Cuda(_))
    }

    /// Parses `cpu`, `cuda`, `cuda:N`, `gpu` or `gpu:N` (as in `FERROLAB_DEVICE`).
    pub fn parse(s: &str) -> Option<Device> {
        let s = s.trim().to_ascii_lowercase();
        match s.as_str() {
            "cpu" => Some(Device::Cpu),
            "cuda" | "gpu" => Some(Device::Cuda(0)),
            _ => {
                let rest = s.strip_prefix("cuda:").or_else(|| s.strip_prefix("gpu:"))?;
                rest.parse().ok().map(Device::Cuda)
            }
        }
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Cpu => write!(f, "cpu"),
            Device::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

/// What the kernel's `:gpu` magic shows.
#[derive(Clone, Debug, PartialEq)]
pub struct GpuInfo {
    pub index: usize,
    pub name: String,
    pub total_memory: u64,
    pub free_memory: u64,
    pub driver_version: String,
    pub compute_capability: (u32, u32),
}

impl fmt::Display for GpuInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
        write!(
            f,
            "cuda:{} {} (compute {}.{}), memory {:.1} GiB free of {:.1} GiB, driver {}",
            self.index,
            self.name,
            self.compute_capability.0,
            self.compute_capability.1,
            gib(self.free_memory),
            gib(self.total_memory),
            self.driver_version
        )
    }
}

/// The usable GPUs (empty on machines without one). Memory figures are read now.
pub fn gpu_info() -> Vec<GpuInfo> {
    let Ok(n) = crate::storage::cuda::device_count() else {
        return Vec::new();
    };
    (0..n)
        .filter_map(|i| match crate::storage::cuda::backend(i) {
            Ok(b) => {
                let mut info = b.info.clone();
                if let Ok((free, total)) = b.ctx.mem_get_info() {
                    info.free_memory = free as u64;
                    info.total_memory = total as u64;
                }
                Some(info)
            }
            Err(reason) => {
                crate::storage::cuda::warn_unusable_once(&reason);
                None
            }
        })
        .collect()
}

/// Why no GPU is usable, or None when `cuda:0` is.
pub fn gpu_unavailable_reason() -> Option<String> {
    crate::storage::cuda::backend(0).err()
}

/// One line for the kernel's `:gpu` magic and for notebooks.
pub fn gpu_summary() -> String {
    let gpus = gpu_info();
    if gpus.is_empty() {
        match gpu_unavailable_reason() {
            Some(r) => format!("no GPU usable ({r}); running on CPU"),
            None => "no GPU found; running on CPU".to_string(),
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
    match crate::storage::cuda::backend(0) {
        Ok(_) => true,
        Err(reason) => {
            crate::storage::cuda::warn_unusable_once(&reason);
            false
        }
    }
}

/// The device new tensors are created on: `FERROLAB_DEVICE` when set, else `cuda:0` when a GPU
/// is usable, else the CPU. Process-wide, so it holds across notebook cells.
pub fn default_device() -> Device {
    let g = crate::state::global();
    let mut d = g.default_device.lock().unwrap_or_else(|e| e.into_inner());
    *d.get_or_insert_with(|| {
        if let Ok(s) = std::env::var("FERROLAB_DEVICE") {
            match Device::parse(&s) {
                Some(Device::Cpu) => return Device::Cpu,
                Some(dev @ Device::Cuda(i)) if crate::storage::cuda::backend(i).is_ok() => {
                    return dev
                }
                Some(dev) => eprintln!(
                    "ferrolab: FERROLAB_DEVICE={s} asks for {dev}, but it is not usable ({}); using the CPU",
                    crate::storage::cuda::backend(match dev { Device::Cuda(i) => i, Device::Cpu => 0 })
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
    })
}

pub use crate::storage::cuda::MemoryStats;

/// The GPU allocator's statistics (bytes in use, peak, cached), like
/// `torch.cuda.memory_stats()`; None for the CPU or an unusable GPU.
pub fn memory_stats(device: Device) -> Option<MemoryStats> {
    match device {
        Device::Cuda(i) => crate::storage::cuda::memory_stats(i),
        Device::Cpu => None,
    }
}

/// Gives cached free blocks back: the GPU allocator's to the driver, or for `Device::Cpu` the
/// host buffer cache's to the system (see [`host_cache_stats`]).
pub fn empty_cache(device: Device) {
    match device {
        Device::Cuda(i) => {
            if let Ok(b) = crate::storage::cuda::backend(i) {
                crate::storage::cuda::empty_cache(&b);
            }
        }
        Device::Cpu => crate::storage::cpu::cache::clear(),
    }
}

pub use crate::storage::cpu::HostCacheStats;

/// The host buffer cache: freed buffers of 4 MiB or more are kept (up to 1 GiB, or
/// `FERROLAB_CPU_CACHE_MB`) and reused for the next allocation of the same size, so loops over
/// big tensors do not map and zero fresh memory every step.
pub fn host_cache_stats() -> HostCacheStats {
    crate::storage::cpu::cache::stats()
}

/// Waits until every queued GPU operation on `device` has finished (for timing).
pub fn synchronize(device: Device) -> crate::Result<()> {
    match device {
        Device::Cuda(_) => crate::storage::cuda::backend_for(device)?.synchronize(),
        Device::Cpu => Ok(()),
    }
}

/// Sets the process-wide default device (like `with tf.device(...)`, but until changed).
pub fn set_default_device(device: Device) {
    let g = crate::state::global();
    *g.default_device.lock().unwrap_or_else(|e| e.into_inner()) = Some(device);
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn parse_devices() {
        assert_eq!(Device::parse("cpu"), Some(Device::Cpu));
        assert_eq!(Device::parse("CUDA:1"), Some(Device::Cuda(1)));
        assert_eq!(Device::parse("gpu"), Some(Device::Cuda(0)));
        assert_eq!(Device::parse("tpu"), None);
        assert_eq!(Device::Cuda(2).to_string(), "cuda:2");
    }
}
