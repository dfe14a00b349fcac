//! Batched matmul through cuBLAS (`cublasGemmStridedBatchedEx`). cuBLAS is column-major, so the
//! row-major product C = A·B is computed as Cᵀ = Bᵀ·Aᵀ by swapping the operands. Transposed
//! views are passed as transposed operands (no copy); other strided operands are made
//! contiguous first. f16 and bf16 accumulate in f32. `FERROLAB_TF32=1` lets f32 use TF32.
//! int64 (which cuBLAS lacks) is a tiled NVRTC kernel with wrapping arithmetic, like the CPU.

use std::ffi::c_void;

use cudarc::cublas::sys::{
    cublasComputeType_t as Compute, cublasGemmAlgo_t, cublasOperation_t as Op, cudaDataType,
};

use cudarc::driver::LaunchConfig;

use super::backend::derr;
use super::kernels::{launch, Arg, KLayout, PRELUDE};
use super::CudaStorage;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::{Layout, Shape};

/// One gemm operand: base address, batch stride (elements), transposed or not, leading dim.
struct Operand {
    ptr: u64,
    batch_stride: i64,
    trans: bool,
    ld: i32,
    /// A contiguous copy, when the view could not be passed as is.
    _copy: Option<CudaStorage>,
}

fn batch_offsets(l: &Layout) -> Vec<usize> {
    batch_layout(l).offsets()
}

/// The operand for a (B.., rows, cols) view: row-major, transposed, or a contiguous copy.
fn operand(s: &CudaStorage, l: &Layout) -> Result<Operand> {
    let rank = l.dims().len();
    let (rows, cols) = (l.dims()[rank - 2], l.dims()[rank - 1]);
    let (rs, cs) = (l.strides[rank - 2], l.strides[rank - 1]);
    let offs = batch_offsets(l);
    let es = s.dtype.size_in_bytes() as u64;
    let step = if offs.len() > 1 {
        offs[1] as i64 - offs[0] as i64
    } else {
        0
    };
    let even = step >= 0
        && offs
            .iter()
            .enumerate()
            .all(|(i, &o)| o as i64 == offs[0] as i64 + i as i64 * step);
    if even {
        let ld_rm = if rows == 1 { cols.max(1) } else { rs };
        if (cs == 1 || cols == 1) && ld_rm >= cols.max(1) {
            return Ok(Operand {
                ptr: s.ptr() + offs[0] as u64 * es,
                batch_stride: step,
                trans: false,
                ld: ld_rm as i32,
                _copy: None,
            });
        }
        let ld_t = if cols == 1 { rows.max(1) } else { cs };
        if (rs == 1 || rows == 1) && ld_t >= rows.max(1) {
            return Ok(Operand {
                ptr: s.ptr() + offs[0] as u64 * es,
                batch_stride: step,
                trans: true,
                ld: ld_t as i32,
                _copy: None,
            });
        }
    }
    let c = super::elementwise::copy_strided(s, l)?;
    Ok(Operand {
        ptr: c.ptr(),
        batch_stride: (rows * cols) as i64,
        trans: false,
        ld: cols.max(1) as i32,
        _copy: Some(c),
    })
}

pub fn matmul(a: &CudaStorage, l: &Layout, b: &CudaStorage, r: &Layout) -> Result<CudaStorage> {
    if a.dtype != b.dtype {
        return Err(Error::DTypeMismatch {
            op: "matmul",
            expected: format!("both operands of the same dtype ({})", a.dtype),
            got: b.dtype,
        });
    }
    let (dt, compute) = match a.dtype {
        DType::F32 => {
            let tf32 = std::env::var("FERROLAB_TF32").is_ok_and(|v| v == "1");
            let c = if tf32 {
                Compute::CUBLAS_COMPUTE_32F_FAST_TF32
            } else {
                Compute::CUBLAS_COMPUTE_32F
            };
            (cudaDataType::CUDA_R_32F, c)
        }
        DType::F16 => (cudaDataType::CUDA_R_16F, Compute::CUBLAS_COMPUTE_32F),
        DType::BF16 => (cudaDataType::CUDA_R_16BF, Compute::CUBLAS_COMPUTE_32F),
        DType::I64 => return matmul_i64(a, l, b, r),
        d => {
            return Err(Error::DTypeMismatch {
                op: "matmul",
                expected: "a numeric tensor".into(),
                got: d,
            })
        }
    };
    let rank = l.dims().len();
    let (m, k, n) = (l.dims()[rank - 2], l.dims()[rank - 1], r.dims()[rank - 1]);
    let batch: usize = l.dims()[..rank - 2].iter().product();
    let be = a.backend().clone();
    if k == 0 {
        return CudaStorage::zeros(&be, batch * m * n, a.dtype);
    }
    let out = CudaStorage::alloc(&be, batch * m * n, a.dtype)?;
    if batch * m * n == 0 {
        return Ok(out);
    }
    let too_big = |x: usize| x > i32::MAX as usize;
    if too_big(m) || too_big(n) || too_big(k) || too_big(batch) {
        return Err(Error::Msg(
            "matmul on CUDA: a dimension exceeds 2^31".into(),
        ));
    }
    let (x, y) = (operand(a, l)?, operand(b, r)?);
    let op = |t: bool| if t { Op::CUBLAS_OP_T } else { Op::CUBLAS_OP_N };
    let (alpha, beta) = (1f32, 0f32);
    be.ctx.bind_to_thread().map_err(|e| derr("bind", e))?;
    let blas = be.blas()?;
    // SAFETY: pointers are live device blocks; the leading dims and batch strides describe
    // views the tensor layer validated against those blocks; alpha/beta are host f32 (the
    // handle's default pointer mode) as the f32 compute type requires.
    unsafe {
        cudarc::cublas::result::gemm_strided_batched_ex(
            *blas.handle(),
            op(y.trans),
            op(x.trans),
            n as i32,
            m as i32,
            k as i32,
            &alpha as *const f32 as *const c_void,
            y.ptr as *const c_void,
            dt,
            y.ld,
            y.batch_stride,
            x.ptr as *const c_void,
            dt,
            x.ld,
            x.batch_stride,
            &beta as *const f32 as *const c_void,
            out.ptr() as *mut c_void,
            dt,
            n as i32,
            (m * n) as i64,
            batch as i32,
            compute,
            cublasGemmAlgo_t::CUBLAS_GEMM_DFALT,
        )
    }
    .map_err(|e| {
        Error::Msg(format!(
            "cuBLAS gemm ({m}x{k} @ {k}x{n}, batch {batch}): {e:?}"
        ))
    })?;
    Ok(out)
}

/// Tile edge of the int64 kernel (TILE x TILE threads per block).
const TILE: usize = 16;

/// The batch dims of a (B.., rows, cols) layout as a layout of their own: `off(lb, z)` in a
/// kernel is then the offset of matrix `z`.
fn batch_layout(l: &Layout) -> Layout {
    let rank = l.dims().len();
    Layout {
        shape: Shape::new(l.dims()[..rank - 2].to_vec()),
        strides: l.strides[..rank - 2].to_vec(),
        offset: l.offset,
    }
}

/// The int64 matmul kernel's name.
pub(super) const MATMUL_I64: &str = "matmul_i64";

/// Source of the int64 matmul kernel (tiles of TS x TS in shared memory).
pub(super) fn matmul_i64_code() -> String {
    let name = MATMUL_I64;
    format!(
            "{PRELUDE}
#define TS {TILE}
extern \"C\" __global__ void {name}(long long M, long long N, long long K, long long batch,
    L la, long long ars, long long acs, const long long* a,
    L lb, long long brs, long long bcs, const long long* b, long long* out) {{
  __shared__ unsigned long long As[TS][TS + 1];
  __shared__ unsigned long long Bs[TS][TS + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const long long rowTiles = (M + TS - 1) / TS, colTiles = (N + TS - 1) / TS;
  for (long long z = blockIdx.z; z < batch; z += gridDim.z) {{
    const long long ao = off(la, z), bo = off(lb, z);
    for (long long by = blockIdx.y; by < rowTiles; by += gridDim.y) {{
      for (long long bx = blockIdx.x; bx < colTiles; bx += gridDim.x) {{
        const long long row = by * TS + ty, col = bx * TS + tx;
        unsigned long long acc = 0ull;
        for (long long k0 = 0; k0 < K; k0 += TS) {{
          const long long ka = k0 + tx, kb = k0 + ty;
          As[ty][tx] = (row < M && ka < K) ? (unsigned long long)a[ao + row * ars + ka * acs] : 0ull;
          Bs[ty][tx] = (kb < K && col < N) ? (unsigned long long)b[bo + kb * brs + col * bcs] : 0ull;
          __syncthreads();
          #pragma unroll
          for (int t = 0; t < TS; ++t) acc += As[ty][t] * Bs[t][tx];
          __syncthreads();
        }}
        if (row < M && col < N) out[(z * M + row) * N + col] = (long long)acc;
      }}
    }}
  }}
}}"
    )
}

/// int64 batched matmul with wrapping multiply-adds (exact, so the order of the sum does not
/// matter and the result equals the CPU's). Any strides, including broadcast batches.
fn matmul_i64(a: &CudaStorage, l: &Layout, b: &CudaStorage, r: &Layout) -> Result<CudaStorage> {
    let rank = l.dims().len();
    let (m, k, n) = (l.dims()[rank - 2], l.dims()[rank - 1], r.dims()[rank - 1]);
    let batch: usize = l.dims()[..rank - 2].iter().product();
    let be = a.backend().clone();
    if k == 0 {
        return CudaStorage::zeros(&be, batch * m * n, DType::I64);
    }
    let out = CudaStorage::alloc(&be, batch * m * n, DType::I64)?;
    if batch * m * n == 0 {
        return Ok(out);
    }
    let name = MATMUL_I64;
    let src = matmul_i64_code;
    let f = be.function(name, src)?;
    let tiles = |x: usize| x.div_ceil(TILE).min(65535) as u32;
    let cfg = LaunchConfig {
        grid_dim: (
            n.div_ceil(TILE).min(1 << 30) as u32,
            tiles(m),
            batch.min(65535) as u32,
        ),
        block_dim: (TILE as u32, TILE as u32, 1),
        shared_mem_bytes: 0,
    };
    let args = [
        Arg::I64(m as i64),
        Arg::I64(n as i64),
        Arg::I64(k as i64),
        Arg::I64(batch as i64),
        Arg::L(KLayout::new(&batch_layout(l))?),
        Arg::I64(l.strides[rank - 2] as i64),
        Arg::I64(l.strides[rank - 1] as i64),
        Arg::Ptr(a.ptr()),
        Arg::L(KLayout::new(&batch_layout(r))?),
        Arg::I64(r.strides[rank - 2] as i64),
        Arg::I64(r.strides[rank - 1] as i64),
        Arg::Ptr(b.ptr()),
        Arg::Ptr(out.ptr()),
    ];
    launch(&be, &f, cfg, &args)?;
    Ok(out)
}
