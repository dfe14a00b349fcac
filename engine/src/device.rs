//! Devices: where a tensor's storage lives, as a plain value.
//!
//! `Device::Cpu` always works. `Device::Cuda(n)` names the n-th NVIDIA GPU; on a machine where
//! it is not usable (no driver, no libnvrtc, a driver too old for the code NVRTC emits), moving
//! a tensor there returns [`Error::NoCudaDevice`](crate::Error) with the reason.
//!
//! This file is the bottom layer: `Device` says where, nothing more. What a device can do
//! (allocate, draw, synchronise) is `storage::device::BackendDevice`; which device new tensors
//! go to, and what the GPUs are, is [`runtime`](crate::runtime).

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

// ------------------------------------------------------------------------------------------------
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
