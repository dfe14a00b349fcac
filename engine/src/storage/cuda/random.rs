//! Random numbers drawn on the GPU with cuRAND, for `rand`, `randn`, `uniform` and `normal` on
//! a CUDA device (`BackendDevice::uniform`/`normal` of `CudaDevice`, see `device.rs`).
//!
//! - One generator per device, in the backend (so in the process-wide state, never a `static`),
//!   created on the first draw after checking that libcurand can be loaded.
//! - It is a Philox4x32-10 generator: every op re-seeds it with the op's 64-bit seed (derived
//!   from `set_seed` / the op seed exactly as on the CPU, see `random::seed_for`) and resets its
//!   offset to 0, so a seed always gives the same numbers on the same GPU and setup. Re-seeding a
//!   Philox generator costs nothing, unlike cuRAND's default XORWOW generator (the one
//!   `cudarc::curand::CudaRng::new` always creates), whose state setup runs again after every
//!   re-seed; that is why this file uses `cudarc::curand::result` with its own RAII wrapper.
//! - The numbers differ from the CPU generator's for the same seed (different algorithms).
//! - Uniform floats are made from 32 random bits like the CPU's: the top 24 bits times 2^-24, in
//!   [0, 1) (cuRAND's own uniform is in (0, 1]), then `lo + (hi - lo) * u`.
//! - Normal: cuRAND's Box-Muller, which needs an even count, so an odd `n` draws one extra value
//!   into the (larger) block and ignores it.

use std::sync::{Arc, Mutex};

use cudarc::curand::result as cr;
use cudarc::curand::sys as cs;

use super::alloc::DevBuf;
use super::backend::{backend_for, derr, guarded, CudaBackend};
use super::kernels::{run, Arg};
use super::CudaStorage;
use crate::device::Device;
use crate::dtype::DType;
use crate::error::{Error, Result};

/// A cuRAND generator bound to a backend's stream; destroyed on drop.
pub(crate) struct DeviceRng {
    gen: cs::curandGenerator_t,
}

// SAFETY: the generator handle is only used under the backend's Mutex (one thread at a time);
// cuRAND generators are not tied to the thread that created them.
unsafe impl Send for DeviceRng {}

impl Drop for DeviceRng {
    fn drop(&mut self) {
        // SAFETY: created by `create_generator_kind`, destroyed exactly once here.
        let _ = unsafe { cr::destroy_generator(self.gen) };
    }
}

fn create(b: &CudaBackend) -> std::result::Result<DeviceRng, String> {
    // SAFETY: only tries to dlopen libcurand.
    if !unsafe { cs::is_culib_present() } {
        return Err(super::libs::missing_hint("curand"));
    }
    guarded(|| {
        b.ctx.bind_to_thread().map_err(|e| format!("{e:?}"))?;
        let gen = cr::create_generator_kind(cs::curandRngType_t::CURAND_RNG_PSEUDO_PHILOX4_32_10)
            .map_err(|e| format!("curandCreateGenerator: {e:?}"))?;
        let rng = DeviceRng { gen };
        // SAFETY: the generator is live; the stream lives as long as the backend, which owns
        // the generator.
        unsafe { cr::set_stream(gen, b.stream.cu_stream() as cs::cudaStream_t) }
            .map_err(|e| format!("curandSetStream: {e:?}"))?;
        Ok(rng)
    })
}

impl CudaBackend {
    /// The device's generator, or why cuRAND cannot be used (created on first use).
    fn rng(&self) -> std::result::Result<std::sync::MutexGuard<'_, DeviceRng>, String> {
        match self.rng.get_or_init(|| create(self).map(Mutex::new)) {
            Ok(m) => Ok(m.lock().unwrap_or_else(|e| e.into_inner())),
            Err(e) => Err(e.clone()),
        }
    }
}

/// What to draw.
#[derive(Clone, Copy)]
enum Draw {
    Uniform { lo: f32, hi: f32 },
    Normal { mean: f32, std: f32 },
}

/// Draws `n` float32 values on the backend's device: `Ok(None)` when cuRAND cannot be used there
/// (the caller then draws on the host), an error when a call fails.
fn draw_on(b: &Arc<CudaBackend>, n: usize, seed: u64, what: Draw) -> Result<Option<CudaStorage>> {
    let rng = match b.rng() {
        Ok(r) => r,
        Err(reason) => {
            warn_no_curand_once(b, &reason);
            return Ok(None);
        }
    };
    // An even count for Box-Muller; the storage reports `n` elements.
    let cap = match what {
        Draw::Normal { .. } => n + n % 2,
        Draw::Uniform { .. } => n,
    };
    let out = CudaStorage {
        buf: DevBuf::alloc(b, cap * 4)?,
        len: n,
        dtype: DType::F32,
    };
    if n == 0 {
        return Ok(Some(out));
    }
    let cerr = |what: &str, e: cr::CurandError| Error::Msg(format!("cuRAND {what}: {e:?}"));
    b.ctx.bind_to_thread().map_err(|e| derr("bind", e))?;
    // SAFETY: the generator is live and owned by `b`; `out` holds `cap` 4-byte elements.
    unsafe {
        cr::set_seed(rng.gen, seed).map_err(|e| cerr("set seed", e))?;
        cr::set_offset(rng.gen, 0).map_err(|e| cerr("set offset", e))?;
        match what {
            Draw::Uniform { .. } => cr::generate::uniform_u32(rng.gen, out.ptr() as *mut u32, cap)
                .map_err(|e| cerr("generate", e))?,
            Draw::Normal { mean, std } => {
                cr::generate::normal_f32(rng.gen, out.ptr() as *mut f32, cap, mean, std)
                    .map_err(|e| cerr("generate normal", e))?
            }
        }
    }
    drop(rng);
    if let Draw::Uniform { lo, hi } = what {
        // bits -> [0, 1) with 24 bits, like `Rng::next_f32`, then lo + (hi - lo) * u, in place
        let name = UNIFORM_KERNEL;
        let src = uniform_code;
        let args = [
            Arg::I64(n as i64),
            Arg::Ptr(out.ptr()),
            Arg::F32(lo),
            Arg::F32(hi - lo),
        ];
        run(b, name, src, n, &args)?;
    }
    Ok(Some(out))
}

/// The kernel that maps cuRAND's bits to uniform floats in place.
pub(super) const UNIFORM_KERNEL: &str = "rand_bits_to_uniform_f32";

/// Source of [`UNIFORM_KERNEL`]: bits -> [0, 1) with 24 bits, like `Rng::next_f32`, then
/// lo + (hi - lo) * u.
pub(super) fn uniform_code() -> String {
    let name = UNIFORM_KERNEL;
    super::kernels::program(&format!(
        "extern \"C\" __global__ void {name}(long long n, unsigned int* p, float lo, float span) {{
  GRID_LOOP(i, n) {{
    float u = (float)(p[i] >> 8) * 5.9604644775390625e-8f;
    p[i] = __float_as_uint(__fadd_rn(lo, __fmul_rn(span, u)));
  }}
}}"
    ))
}

fn warn_no_curand_once(b: &CudaBackend, reason: &str) {
    use std::sync::atomic::Ordering;
    if !b.rng_warned.swap(true, Ordering::Relaxed) {
        eprintln!(
            "ferrolab: cuRAND is not usable on {} ({reason}); random tensors for it are drawn \
             on the CPU and copied",
            b.device()
        );
    }
}

/// `n` float32 values uniform in `[lo, hi)` drawn by cuRAND from `seed` (for
/// `BackendDevice::uniform` of `CudaDevice`), or `Ok(None)` when cuRAND cannot be loaded there.
/// Same seed, same numbers on the same GPU.
pub(crate) fn uniform_on(
    b: &Arc<CudaBackend>,
    n: usize,
    lo: f32,
    hi: f32,
    seed: u64,
) -> Result<Option<CudaStorage>> {
    draw_on(b, n, seed, Draw::Uniform { lo, hi })
}

/// `n` float32 values from N(mean, std²), as [`uniform_on`].
pub(crate) fn normal_on(
    b: &Arc<CudaBackend>,
    n: usize,
    mean: f32,
    std: f32,
    seed: u64,
) -> Result<Option<CudaStorage>> {
    draw_on(b, n, seed, Draw::Normal { mean, std })
}

/// Whether cuRAND draws the random tensors of `device`: `Ok`, or why they are drawn on the host.
pub fn status(device: Device) -> std::result::Result<(), String> {
    let b = backend_for(device).map_err(|e| e.to_string())?;
    b.rng().map(|_| ())
}
