//! Logical devices, as TF's `tf.config`: split the CPU into n logical devices to test
//! distribution strategies on one machine, the way TensorFlow tests its own.
//!
//! ```
//! use ferrolab::config;
//! use ferrolab::prelude::*;
//! config::set_logical_device_configuration(Device::Cpu, 2).unwrap();
//! let cpus = config::list_logical_devices();
//! assert_eq!(cpus[0].name, "/device:CPU:0");
//! assert_eq!(cpus[1].name, "/device:CPU:1");
//! config::set_logical_device_configuration(Device::Cpu, 1).unwrap();
//! ```
//!
//! - A logical CPU device is a share of the cores, not a separate memory: its tensors are
//!   ordinary CPU tensors (`Device::Cpu`, which keeps meaning the first logical CPU). What it
//!   owns is an intra-op thread budget of cores/n, applied while code runs in its
//!   [`LogicalDevice::scope`] (a replica of `MirroredStrategy`, a stage of a split model), so that
//!   replicas running side by side do not fight over cores.
//! - The configuration is process-wide (it holds across notebook cells). Unlike TF, it may be
//!   changed at any time; models built before keep working.
//! - GPUs are listed as they are (one logical device per usable GPU); splitting a GPU is not
//!   supported.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::device::Device;
use crate::error::{Error, Result};

/// One logical device, like TF's `LogicalDevice(name='/device:CPU:1', device_type='CPU')`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogicalDevice {
    /// `/device:CPU:1`, `/device:GPU:0`.
    pub name: String,
    /// `CPU` or `GPU`.
    pub device_type: &'static str,
    /// Where its tensors live.
    pub device: Device,
    /// Its index among the logical devices of its type.
    pub index: usize,
    /// Intra-op threads its large ops may use (cores / n for logical CPUs).
    pub threads: usize,
}

impl LogicalDevice {
    /// Runs `f` on this device: new tensors go to its physical device (`with_device`), and large
    /// CPU ops use at most its share of the cores.
    pub fn scope<R>(&self, f: impl FnOnce() -> R) -> R {
        crate::runtime::with_device(self.device, || {
            crate::state::with_intra_op_threads(self.threads, f)
        })
    }
}

impl std::fmt::Display for LogicalDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.name)
    }
}

/// The number of logical CPUs (0 = not configured: one).
fn logical_cpus() -> &'static AtomicUsize {
    crate::state::slot!("config.logical_cpus", AtomicUsize, || AtomicUsize::new(0))
}

/// The cores of this machine (at least 1).
pub fn cpu_cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Splits `device` into `n` logical devices (TF's
/// `tf.config.set_logical_device_configuration(cpu, [LogicalDeviceConfiguration()] * n)`).
/// Only the CPU can be split; each logical CPU gets max(1, cores / n) intra-op threads.
pub fn set_logical_device_configuration(device: Device, n: usize) -> Result<()> {
    match device {
        Device::Cpu if n >= 1 => {
            logical_cpus().store(n, Ordering::Relaxed);
            Ok(())
        }
        Device::Cpu => Err(Error::Msg(
            "set_logical_device_configuration: n must be at least 1 (1 = the whole CPU)".into(),
        )),
        Device::Cuda(i) => Err(Error::Msg(format!(
            "set_logical_device_configuration: splitting a GPU (cuda:{i}) into logical devices is not supported; split the CPU with Device::Cpu"
        ))),
    }
}

/// The logical CPUs, `/device:CPU:0` first.
pub fn logical_cpu_devices() -> Vec<LogicalDevice> {
    let n = logical_cpus().load(Ordering::Relaxed).max(1);
    let threads = (cpu_cores() / n).max(1);
    (0..n)
        .map(|i| LogicalDevice {
            name: format!("/device:CPU:{i}"),
            device_type: "CPU",
            device: Device::Cpu,
            index: i,
            threads,
        })
        .collect()
}

/// The usable GPUs as logical devices (`/device:GPU:0`, ...); empty without a GPU.
pub fn logical_gpu_devices() -> Vec<LogicalDevice> {
    let cores = cpu_cores();
    crate::runtime::gpu_info()
        .iter()
        .enumerate()
        .map(|(i, _)| LogicalDevice {
            name: format!("/device:GPU:{i}"),
            device_type: "GPU",
            device: Device::Cuda(i),
            index: i,
            threads: cores,
        })
        .collect()
}

/// Every logical device, CPUs then GPUs (TF's `tf.config.list_logical_devices()`).
pub fn list_logical_devices() -> Vec<LogicalDevice> {
    let mut all = logical_cpu_devices();
    all.extend(logical_gpu_devices());
    all
}

/// A logical device by name (`/device:CPU:1`, `CPU:1`, `/gpu:0`, ...), as in `tf.device("..")`.
pub fn logical_device(name: &str) -> Result<LogicalDevice> {
    let want = name.trim().to_ascii_uppercase();
    let want = want.trim_start_matches("/DEVICE:").trim_start_matches('/');
    list_logical_devices()
        .into_iter()
        .find(|d| d.name.trim_start_matches("/device:") == want)
        .ok_or_else(|| {
            let names: Vec<String> = list_logical_devices().into_iter().map(|d| d.name).collect();
            Error::Msg(format!(
                "no logical device {name:?}; the devices are {names:?} (split the CPU with config::set_logical_device_configuration(Device::Cpu, n))"
            ))
        })
}
