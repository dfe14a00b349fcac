//! One CUDA device: its context, stream, cuBLAS handle, cuRAND generator, kernel cache, memory
//! pool and pinned staging buffers.
//!
//! Created lazily and kept in a process-wide [state slot](crate::state::claim), never in plain
//! statics (each notebook cell has its own copy of those). Probing never panics: a machine
//! without libcuda, or with a GPU the driver cannot use, reports why and the engine stays on
//! the CPU.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use cudarc::cublas::CudaBlas;
use cudarc::driver::{CudaContext, CudaFunction, CudaStream, DriverError};
use cudarc::nvrtc::Ptx;

use super::alloc::Pool;
use super::compile::{self, Compat, Target};
use super::device::GpuInfo;
use super::random::DeviceRng;
use super::upload::Staging;
use crate::device::Device;
use crate::error::{Error, Result};

/// Everything the engine holds for one GPU.
pub struct CudaBackend {
    pub ordinal: usize,
    pub ctx: Arc<CudaContext>,
    pub stream: Arc<CudaStream>,
    /// `sm_XY`, from the device's compute capability: kernels are CUBINs for it.
    pub sm: &'static str,
    /// `compute_XY`: the PTX fallback, where NVRTC cannot make a CUBIN for `sm`.
    pub arch: &'static str,
    pub info: GpuInfo,
    pub(super) blas: OnceLock<std::result::Result<Mutex<CudaBlas>, String>>,
    pub(super) kernels: Mutex<HashMap<String, CudaFunction>>,
    pub(super) pool: Mutex<Pool>,
    /// The cuRAND generator (created on the first random draw), or why there is none.
    pub(super) rng: OnceLock<std::result::Result<Mutex<DeviceRng>, String>>,
    /// Page-locked buffers that large host-to-device copies go through (see `upload.rs`).
    pub(super) staging: Mutex<Staging>,
    /// Set once the "cuRAND is not usable" warning was printed.
    pub(super) rng_warned: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for CudaBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CudaBackend({})", self.info)
    }
}

/// Process-wide CUDA state (a state slot).
#[derive(Default)]
pub struct CudaRegistry {
    /// Number of devices, or why CUDA is unusable.
    probe: OnceLock<std::result::Result<usize, String>>,
    devices: Mutex<HashMap<usize, std::result::Result<Arc<CudaBackend>, String>>>,
    warned: std::sync::atomic::AtomicBool,
}

/// The process-wide registry (the slot `storage.cuda`).
fn registry() -> &'static CudaRegistry {
    crate::state::slot!("storage.cuda", CudaRegistry, Default::default)
}

/// A driver error as an engine error (see `errors.rs`: out of memory only when it is, a lost
/// context said plainly).
pub(crate) fn derr(what: &str, e: DriverError) -> Error {
    super::errors::driver_error(what, e)
}

/// Calls into cudarc with a panic guard: a missing symbol panics inside cudarc.
pub(super) fn guarded<T>(
    f: impl FnOnce() -> std::result::Result<T, String>,
) -> std::result::Result<T, String> {
    crate::state::catch_quietly(f).unwrap_or_else(|p| Err(format!("CUDA library panicked: {p}")))
}

/// Number of CUDA devices, or why there are none. Checks that libcuda exists before any call.
pub fn device_count() -> std::result::Result<usize, String> {
    registry()
        .probe
        .get_or_init(|| {
            // SAFETY: only tries to dlopen libcuda.
            if !unsafe { cudarc::driver::sys::is_culib_present() } {
                return Err("libcuda not found (no NVIDIA driver on this machine)".into());
            }
            // NVRTC, cuBLAS and cuRAND from pip's wheels in .venv, before anything opens them
            super::libs::preload();
            guarded(|| {
                let n =
                    CudaContext::device_count().map_err(|e| format!("cuDeviceGetCount: {e:?}"))?;
                if n <= 0 {
                    Err("the NVIDIA driver reports no CUDA device".into())
                } else {
                    Ok(n as usize)
                }
            })
        })
        .clone()
}

/// The backend of `cuda:ordinal`, created on first use.
pub fn backend(ordinal: usize) -> std::result::Result<Arc<CudaBackend>, String> {
    let n = device_count()?;
    if ordinal >= n {
        return Err(format!(
            "cuda:{ordinal} does not exist ({n} device(s) found)"
        ));
    }
    let mut devs = registry().devices.lock().unwrap_or_else(|e| e.into_inner());
    devs.entry(ordinal)
        .or_insert_with(|| guarded(|| create(ordinal)).map(Arc::new))
        .clone()
}

/// The backend for `device`, as an engine error.
pub fn backend_for(device: Device) -> Result<Arc<CudaBackend>> {
    let Device::Cuda(i) = device else {
        return Err(Error::Msg(format!("{device} is not a CUDA device")));
    };
    backend(i).map_err(|reason| Error::NoCudaDevice {
        requested: device,
        reason,
    })
}

/// The first GPU that the machine lists (`nvidia-smi -L`, else the kernel driver's
/// `/proc/driver/nvidia/gpus`), whether or not the backend can use it; None without one.
pub fn listed_gpu() -> Option<String> {
    if let Ok(out) = std::process::Command::new("nvidia-smi").arg("-L").output() {
        let text = String::from_utf8_lossy(&out.stdout);
        if let Some(line) = text.lines().find(|l| l.starts_with("GPU ")) {
            return Some(format!("nvidia-smi lists {}", line.trim()));
        }
    }
    let gpus = std::fs::read_dir("/proc/driver/nvidia/gpus").ok()?;
    let first = gpus.flatten().next()?;
    Some(format!(
        "the NVIDIA kernel driver lists GPU {}",
        first.file_name().to_string_lossy()
    ))
}

/// Prints one warning when a GPU exists but cannot be used.
pub fn warn_unusable_once(reason: &str) {
    use std::sync::atomic::Ordering;
    if device_count().is_ok() && !registry().warned.swap(true, Ordering::Relaxed) {
        eprintln!("ferrolab: a GPU is present but unusable ({reason}); running on the CPU");
    }
}

/// The kernel that proves, at start-up, that compiled code loads.
pub(super) const PROBE: &str = "ferrolab_probe";

pub(super) fn probe_code() -> String {
    super::kernels::program(
        "extern \"C\" __global__ void ferrolab_probe(float* p) { if (p) *p = 1.0f; }",
    )
}

/// cuBLAS's version (`13.1.0`), or why it cannot be loaded.
fn cublas_version() -> String {
    use cudarc::cublas::sys::{self as cb, libraryPropertyType as P};
    // SAFETY: only tries to dlopen libcublas.
    if !unsafe { cb::is_culib_present() } {
        return "not found".into();
    }
    guarded(|| {
        let mut v = [0i32; 3];
        for (i, p) in [P::MAJOR_VERSION, P::MINOR_VERSION, P::PATCH_LEVEL]
            .into_iter()
            .enumerate()
        {
            // SAFETY: writes one int.
            unsafe { cb::cublasGetProperty(p, &mut v[i]) }
                .result()
                .map_err(|e| format!("{e:?}"))?;
        }
        Ok(format!("{}.{}.{}", v[0], v[1], v[2]))
    })
    .unwrap_or_else(|e| format!("unusable ({e})"))
}

fn create(ordinal: usize) -> std::result::Result<CudaBackend, String> {
    let ctx = CudaContext::new(ordinal).map_err(|e| format!("cannot create a context: {e:?}"))?;
    // One stream, used by every op: no cross-stream events needed.
    // SAFETY: called before the first allocation on this context.
    unsafe { ctx.disable_event_tracking() };
    let stream = ctx.default_stream();
    let name = ctx.name().map_err(|e| format!("{e:?}"))?;
    let (maj, min) = ctx
        .compute_capability()
        .map_err(|e| format!("compute capability: {e:?}"))?;
    let (free, total) = ctx.mem_get_info().map_err(|e| format!("{e:?}"))?;
    let mut drv = 0i32;
    // SAFETY: writes one int.
    unsafe { cudarc::driver::sys::cuDriverGetVersion(&mut drv) };
    let nvrtc = compile::nvrtc_version()?;
    let compat = compile::compat(nvrtc, drv);
    if let Compat::Incompatible(why) = &compat {
        return Err(why.clone());
    }
    let info = GpuInfo {
        index: ordinal,
        name,
        total_memory: total as u64,
        free_memory: free as u64,
        driver_version: compile::version_string(drv),
        compute_capability: (maj as u32, min as u32),
        nvrtc_version: format!("{}.{}", nvrtc.0, nvrtc.1),
        cublas_version: cublas_version(),
    };
    let cc = maj * 10 + min;
    let Some(target) = compile::arch_for(cc, &compile::supported_archs().unwrap_or_default())
    else {
        return Err(format!(
            "NVRTC {}.{} cannot compile for this GPU's compute capability {maj}.{min} (too old \
             for CUDA {}); use a GPU of compute capability 7.5 or newer",
            nvrtc.0, nvrtc.1, nvrtc.0
        ));
    };
    // a CUBIN for the device itself; for a GPU newer than NVRTC, PTX that the driver compiles
    let sm: &'static str = Box::leak(format!("sm_{cc}").into_boxed_str());
    let arch: &'static str = Box::leak(format!("compute_{target}").into_boxed_str());
    let b = CudaBackend {
        ordinal,
        ctx,
        stream,
        sm,
        arch,
        info,
        blas: OnceLock::new(),
        kernels: Mutex::new(HashMap::new()),
        pool: Mutex::new(Pool::default()),
        rng: OnceLock::new(),
        staging: Mutex::new(Staging::default()),
        rng_warned: Default::default(),
    };
    // A tiny kernel proves that NVRTC's code loads with this driver.
    b.function(PROBE, probe_code).map_err(|e| {
        format!(
            "the NVIDIA driver (CUDA {}) cannot load code from NVRTC {}.{} ({e}); update the \
             NVIDIA driver, or use an NVRTC no newer than the driver",
            compile::version_string(drv),
            nvrtc.0,
            nvrtc.1
        )
    })?;
    // Compat::CubinOnly needs nothing: `function` loads CUBINs first.
    Ok(b)
}

impl CudaBackend {
    pub fn device(&self) -> Device {
        Device::Cuda(self.ordinal)
    }

    /// The kernel `name` compiled from `src()` (NVRTC, a CUBIN for this device's arch), cached
    /// by name: `src` runs only on a cache miss.
    pub fn function(&self, name: &str, src: impl FnOnce() -> String) -> Result<CudaFunction> {
        if let Some(f) = self
            .kernels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
        {
            return Ok(f.clone());
        }
        let code = src();
        let module = self.load(name, &code)?;
        let f = module
            .load_function(name)
            .map_err(|e| derr(&format!("load_function `{name}`"), e))?;
        self.kernels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_string(), f.clone());
        Ok(f)
    }

    /// Compiles `code` to a CUBIN for this device and loads it; where NVRTC cannot make one
    /// for this arch (a GPU newer than NVRTC) or the driver refuses it, PTX for `compute_XY`.
    fn load(&self, name: &str, code: &str) -> Result<Arc<cudarc::driver::CudaModule>> {
        let cubin = compile::compile(
            name,
            code,
            Target::Cubin {
                arch: self.sm,
                verbose: false,
            },
        );
        let cubin_err = match cubin {
            Ok(c) => match self.ctx.load_module(Ptx::from_binary(c.image)) {
                Ok(m) => return Ok(m),
                Err(e) => derr(&format!("loading the CUBIN of `{name}` ({})", self.sm), e),
            },
            Err(log) => Error::Msg(format!(
                "NVRTC could not compile `{name}` for {}: {log}",
                self.sm
            )),
        };
        let ptx = match compile::compile(name, code, Target::Ptx(self.arch)) {
            Ok(p) => p,
            // the same source fails for PTX too: a compile error, report the CUBIN's
            Err(_) => return Err(cubin_err),
        };
        let text = String::from_utf8_lossy(&ptx.image).into_owned();
        self.ctx.load_module(Ptx::from_src(text)).map_err(|e| {
            Error::Msg(format!(
                "{cubin_err}; and the PTX fallback: {}",
                derr(&format!("loading the PTX of `{name}` ({})", self.arch), e)
            ))
        })
    }

    /// The cuBLAS handle, bound to this backend's stream.
    pub fn blas(&self) -> Result<std::sync::MutexGuard<'_, CudaBlas>> {
        match self.blas.get_or_init(|| {
            // SAFETY: only tries to dlopen libcublas.
            if !unsafe { cudarc::cublas::sys::is_culib_present() } {
                return Err(super::libs::missing_hint("cublas"));
            }
            guarded(|| {
                CudaBlas::new(self.stream.clone())
                    .map(Mutex::new)
                    .map_err(|e| format!("{e:?}"))
            })
        }) {
            Ok(m) => Ok(m.lock().unwrap_or_else(|e| e.into_inner())),
            Err(e) => Err(Error::Msg(format!("matmul on CUDA: {e}"))),
        }
    }

    /// Makes this context current on the calling thread (a worker thread, a fresh one). An error
    /// stored by an earlier call is put back, for the next op to report, and the context is
    /// bound anyway (cudarc's `bind_to_thread` returns a stored error before binding).
    pub(super) fn bind_keeping_errors(&self) {
        if let Err(stored) = self.ctx.bind_to_thread() {
            let _ = self.ctx.bind_to_thread();
            self.ctx.record_err::<()>(Err(stored));
        }
    }

    pub fn synchronize(&self) -> Result<()> {
        self.stream
            .synchronize()
            .map_err(|e| derr("synchronize", e))
    }
}
