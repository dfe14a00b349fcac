//! CUDA C building blocks shared by every kernel: the layout struct, dtype names and the
//! conversions to and from f32. No CUDA header is included (NVRTC finds none on a bare
//! machine): f16 and bf16 travel as `unsigned short` and convert with PTX / bit tricks.

use cudarc::driver::{CudaFunction, DeviceRepr, LaunchConfig, PushKernelArg};

use super::backend::{derr, CudaBackend};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::Layout;

pub use super::catalog::{all_sources, KernelSource};

/// Highest rank a kernel layout takes (after dropping axes of size 1).
pub const MAX_RANK: usize = 8;

/// A layout as kernels receive it (by value). `contig` skips the index arithmetic.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct KLayout {
    pub rank: i32,
    pub contig: i32,
    pub dims: [i64; MAX_RANK],
    pub strides: [i64; MAX_RANK],
    pub offset: i64,
}

// SAFETY: plain `repr(C)` data with the same layout as the CUDA struct `L` below.
unsafe impl DeviceRepr for KLayout {}

impl KLayout {
    pub fn new(l: &Layout) -> Result<KLayout> {
        let mut k = KLayout {
            rank: 0,
            contig: l.is_contiguous() as i32,
            dims: [1; MAX_RANK],
            strides: [0; MAX_RANK],
            offset: l.offset as i64,
        };
        let kept: Vec<usize> = (0..l.dims().len()).filter(|&i| l.dims()[i] != 1).collect();
        if kept.len() > MAX_RANK {
            return Err(Error::Msg(format!(
                "CUDA kernels take tensors of rank <= {MAX_RANK} (got shape {:?}); reshape first",
                l.dims()
            )));
        }
        for (j, &i) in kept.iter().enumerate() {
            k.dims[j] = l.dims()[i] as i64;
            k.strides[j] = l.strides[i] as i64;
        }
        k.rank = kept.len() as i32;
        Ok(k)
    }
}

/// Common prelude of every kernel source.
pub const PRELUDE: &str = r#"
struct L { int rank; int contig; long long dims[8]; long long strides[8]; long long offset; };
__device__ __forceinline__ long long off(const L& l, long long i) {
  if (l.contig) return l.offset + i;
  long long o = l.offset;
  for (int d = l.rank - 1; d >= 0; --d) { long long n = l.dims[d]; o += (i % n) * l.strides[d]; i /= n; }
  return o;
}
__device__ __forceinline__ float h2f(unsigned short h) { float f; asm("{cvt.f32.f16 %0, %1;}" : "=f"(f) : "h"(h)); return f; }
__device__ __forceinline__ unsigned short f2h(float f) { unsigned short h; asm("{cvt.rn.f16.f32 %0, %1;}" : "=h"(h) : "f"(f)); return h; }
__device__ __forceinline__ float bf2f(unsigned short h) { return __uint_as_float(((unsigned int)h) << 16); }
__device__ __forceinline__ unsigned short f2bf(float f) {
  unsigned int u = __float_as_uint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (unsigned short)((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return (unsigned short)(u >> 16);
}
// float -> int64 as Rust's `as`: truncates, saturates, NaN -> 0.
__device__ __forceinline__ long long f2i(float v) {
  if (v != v) return 0ll;
  if (v >= 9.2233720368547758e18f) return 9223372036854775807ll;
  if (v <= -9.2233720368547758e18f) return -9223372036854775807ll - 1;
  return (long long)v;
}
#define GRID_LOOP(i, n) for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < (n); i += (long long)blockDim.x * gridDim.x)
"#;

/// A complete kernel program: the prelude, then `body`.
pub fn program(body: &str) -> String {
    format!("{PRELUDE}\n{body}")
}

/// The C type a dtype is stored as.
pub fn ctype(d: DType) -> &'static str {
    match d {
        DType::F32 => "float",
        DType::F16 | DType::BF16 => "unsigned short",
        DType::I64 => "long long",
        DType::Bool => "unsigned char",
    }
}

/// The C type a dtype computes in (f16/bf16 compute in f32, like the CPU backend).
pub fn compute_type(d: DType) -> &'static str {
    match d {
        DType::F32 | DType::F16 | DType::BF16 => "float",
        DType::I64 => "long long",
        DType::Bool => "unsigned char",
    }
}

/// Expression converting stored `x` of dtype `d` to its compute type.
pub fn load(d: DType, x: &str) -> String {
    match d {
        DType::F16 => format!("h2f({x})"),
        DType::BF16 => format!("bf2f({x})"),
        _ => x.to_string(),
    }
}

/// Expression converting compute-type `v` to storage dtype `d`.
pub fn store(d: DType, v: &str) -> String {
    match d {
        DType::F16 => format!("f2h({v})"),
        DType::BF16 => format!("f2bf({v})"),
        DType::Bool => format!("(unsigned char)(({v}) != 0)"),
        _ => v.to_string(),
    }
}

/// Grid for a grid-stride loop over `n` elements.
pub fn grid(n: usize) -> LaunchConfig {
    let threads = 256u32;
    let blocks = n.div_ceil(threads as usize).clamp(1, 65535 * 8) as u32;
    LaunchConfig {
        grid_dim: (blocks, 1, 1),
        block_dim: (threads, 1, 1),
        shared_mem_bytes: 0,
    }
}

/// One kernel argument. Device pointers travel as u64 addresses.
pub enum Arg {
    I64(i64),
    F32(f32),
    Ptr(u64),
    L(KLayout),
}

/// Launches `f` with `args` in order.
pub fn launch(b: &CudaBackend, f: &CudaFunction, cfg: LaunchConfig, args: &[Arg]) -> Result<()> {
    let mut lb = b.stream.launch_builder(f);
    for a in args {
        match a {
            Arg::I64(v) => lb.arg(v),
            Arg::F32(v) => lb.arg(v),
            Arg::Ptr(v) => lb.arg(v),
            Arg::L(v) => lb.arg(v),
        };
    }
    // SAFETY: every kernel's parameter list matches the `args` its caller builds, and every
    // pointer is a live device block of at least the size the layouts address.
    unsafe { lb.launch(cfg) }.map_err(|e| derr("kernel launch", e))?;
    Ok(())
}

/// Compiles (once) and launches a grid-stride kernel over `n` elements.
/// `src` builds the kernel's complete source (see [`program`]) only on a cache miss (formatting
/// it costs microseconds).
pub fn run(
    b: &CudaBackend,
    name: &str,
    src: impl FnOnce() -> String,
    n: usize,
    args: &[Arg],
) -> Result<()> {
    if n == 0 {
        return Ok(());
    }
    let f = b.function(name, src)?;
    launch(b, &f, grid(n), args)
}
