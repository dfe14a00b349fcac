//! What a device does beyond ops: allocation, random draws, synchronisation and memory stats.
//!
//! [`BackendStorage`](super::BackendStorage) is what a backend does with memory it already has;
//! [`BackendDevice`] is the device itself (as candle's trait of the same name). Each backend
//! implements it once: [`CpuDevice`] here (the reference), `CudaDevice` in `cuda/device.rs`.
//! [`LiveDevice`] is the one dispatch from a [`Device`] (a plain value: where) to its live
//! backend (what can allocate there): `LiveDevice::new(device)?.zeros(n, dtype)`.
//!
//! Random draws take the op's 64-bit seed, already derived by `random::seed_for` (TF's rules, the
//! same on every device), and draw `n` float32 values from it.

use super::cuda::{CudaDevice, MemoryStats};
use super::{CpuStorage, Storage};
use crate::device::Device;
use crate::dtype::DType;
use crate::error::Result;
use crate::random::Rng;

/// A device's own services (everything that is not an op on existing storage).
pub trait BackendDevice {
    type Storage;
    /// Which device this is.
    fn device(&self) -> Device;
    /// `n` zeros of `dtype`, written on the device.
    fn zeros(&self, n: usize, dtype: DType) -> Result<Self::Storage>;
    /// Host data moved (or copied) to the device.
    fn storage_from_host(&self, data: CpuStorage) -> Result<Self::Storage>;
    /// `n` float32 values uniform in `[lo, hi)` from `seed`.
    fn uniform(&self, n: usize, lo: f32, hi: f32, seed: u64) -> Result<Self::Storage>;
    /// `n` float32 values from N(mean, std²) from `seed`.
    fn normal(&self, n: usize, mean: f32, std: f32, seed: u64) -> Result<Self::Storage>;
    /// Waits until the device has finished all queued work.
    fn synchronize(&self) -> Result<()>;
    /// The device allocator's figures, where it has one.
    fn memory_stats(&self) -> Option<MemoryStats>;
    /// Gives cached free memory back to the system (or the driver).
    fn empty_cache(&self);
}

// ------------------------------------------------------------------------------------------------
// CPU: the reference

/// The host. Random draws use the engine's xoshiro256++ generator seeded with the op's seed.
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuDevice;

impl CpuDevice {
    /// The host values of [`BackendDevice::uniform`] (the CUDA backend falls back to them).
    pub(crate) fn uniform_vec(n: usize, lo: f32, hi: f32, seed: u64) -> Vec<f32> {
        let mut rng = Rng::seed_from_u64(seed);
        let mut v = super::cpu::try_with_capacity(n);
        v.extend((0..n).map(|_| lo + (hi - lo) * rng.next_f32()));
        v
    }

    /// The host values of [`BackendDevice::normal`].
    pub(crate) fn normal_vec(n: usize, mean: f32, std: f32, seed: u64) -> Vec<f32> {
        let mut rng = Rng::seed_from_u64(seed);
        let mut v = super::cpu::filled_vec(n, 0f32);
        rng.fill_normal(&mut v, mean, std);
        v
    }
}

impl BackendDevice for CpuDevice {
    type Storage = CpuStorage;
    fn device(&self) -> Device {
        Device::Cpu
    }
    fn zeros(&self, n: usize, dtype: DType) -> Result<CpuStorage> {
        Ok(CpuStorage::zeros(n, dtype))
    }
    fn storage_from_host(&self, data: CpuStorage) -> Result<CpuStorage> {
        Ok(data)
    }
    fn uniform(&self, n: usize, lo: f32, hi: f32, seed: u64) -> Result<CpuStorage> {
        Ok(CpuStorage::F32(Self::uniform_vec(n, lo, hi, seed)))
    }
    fn normal(&self, n: usize, mean: f32, std: f32, seed: u64) -> Result<CpuStorage> {
        Ok(CpuStorage::F32(Self::normal_vec(n, mean, std, seed)))
    }
    fn synchronize(&self) -> Result<()> {
        Ok(())
    }
    fn memory_stats(&self) -> Option<MemoryStats> {
        None
    }
    /// Frees the host buffer cache (`storage/cpu/cache.rs`).
    fn empty_cache(&self) {
        super::cpu::cache::clear()
    }
}

// ------------------------------------------------------------------------------------------------
// Dispatch

/// A usable device: the one dispatch from a [`Device`] value to its backend.
pub enum LiveDevice {
    Cpu(CpuDevice),
    Cuda(CudaDevice),
}

impl LiveDevice {
    /// The backend of `device`; for a GPU that is not usable, `Error::NoCudaDevice` with why.
    pub fn new(device: Device) -> Result<LiveDevice> {
        Ok(match device {
            Device::Cpu => LiveDevice::Cpu(CpuDevice),
            Device::Cuda(_) => LiveDevice::Cuda(CudaDevice::new(device)?),
        })
    }
}

macro_rules! on_device {
    ($self:expr, $d:ident => $e:expr) => {
        match $self {
            LiveDevice::Cpu($d) => Storage::Cpu($e?),
            LiveDevice::Cuda($d) => Storage::Cuda($e?),
        }
    };
}

impl BackendDevice for LiveDevice {
    type Storage = Storage;
    fn device(&self) -> Device {
        match self {
            LiveDevice::Cpu(d) => d.device(),
            LiveDevice::Cuda(d) => d.device(),
        }
    }
    fn zeros(&self, n: usize, dtype: DType) -> Result<Storage> {
        Ok(on_device!(self, d => d.zeros(n, dtype)))
    }
    fn storage_from_host(&self, data: CpuStorage) -> Result<Storage> {
        Ok(on_device!(self, d => d.storage_from_host(data)))
    }
    fn uniform(&self, n: usize, lo: f32, hi: f32, seed: u64) -> Result<Storage> {
        Ok(on_device!(self, d => d.uniform(n, lo, hi, seed)))
    }
    fn normal(&self, n: usize, mean: f32, std: f32, seed: u64) -> Result<Storage> {
        Ok(on_device!(self, d => d.normal(n, mean, std, seed)))
    }
    fn synchronize(&self) -> Result<()> {
        match self {
            LiveDevice::Cpu(d) => d.synchronize(),
            LiveDevice::Cuda(d) => d.synchronize(),
        }
    }
    fn memory_stats(&self) -> Option<MemoryStats> {
        match self {
            LiveDevice::Cpu(d) => d.memory_stats(),
            LiveDevice::Cuda(d) => d.memory_stats(),
        }
    }
    fn empty_cache(&self) {
        match self {
            LiveDevice::Cpu(d) => d.empty_cache(),
            LiveDevice::Cuda(d) => d.empty_cache(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_device_draws_the_engines_numbers() {
        let d = LiveDevice::new(Device::Cpu).unwrap();
        assert_eq!(d.device(), Device::Cpu);
        let Storage::Cpu(CpuStorage::F32(u)) = d.uniform(1000, -2.0, 3.0, 7).unwrap() else {
            panic!("f32 on the host expected");
        };
        // The same stream as Rng::seed_from_u64(7), mapped to [lo, hi).
        let mut r = Rng::seed_from_u64(7);
        assert_eq!(u[0], -2.0 + 5.0 * r.next_f32());
        assert!(u.iter().all(|&x| (-2.0..3.0).contains(&x)));
        let Storage::Cpu(CpuStorage::F32(z)) = d.zeros(3, DType::F32).unwrap() else {
            panic!("f32 on the host expected");
        };
        assert_eq!(z, vec![0.0; 3]);
        assert!(d.memory_stats().is_none());
        d.synchronize().unwrap();
    }

    #[test]
    fn an_unusable_gpu_is_the_no_cuda_device_error() {
        if crate::storage::cuda::backend(0).is_ok() {
            return; // a usable GPU: nothing to check here
        }
        let e = LiveDevice::new(Device::Cuda(0)).err().expect("no GPU here");
        assert!(matches!(e, crate::Error::NoCudaDevice { .. }), "{e}");
    }
}
