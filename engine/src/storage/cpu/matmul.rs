//! Batched matmul through the `gemm` crate (near-BLAS speed), which takes row and column strides
//! directly, so transposed views are never copied.

use gemm::{gemm, Parallelism};
use half::{bf16, f16};

use super::{dtype_err, s_dtype_pub as s_dtype, CpuStorage};
use crate::error::{Error, Result};
use crate::shape::{Layout, Shape};

/// (batch offsets of lhs, batch offsets of rhs, m, k, n) for layouts (B.., M, K) and (B.., K, N).
fn batch_offsets(l: &Layout, r: &Layout) -> (Vec<usize>, Vec<usize>, usize, usize, usize) {
    let rank = l.dims().len();
    let (m, k, n) = (l.dims()[rank - 2], l.dims()[rank - 1], r.dims()[rank - 1]);
    let batch = |x: &Layout| {
        Layout {
            shape: Shape(x.dims()[..rank - 2].to_vec()),
            strides: x.strides[..rank - 2].to_vec(),
            offset: x.offset,
        }
        .offsets()
    };
    (batch(l), batch(r), m, k, n)
}

fn parallelism(m: usize, n: usize, k: usize) -> Parallelism {
    let threads = crate::state::num_threads();
    if threads > 1 && m * n * k >= 96 * 96 * 96 {
        Parallelism::Rayon(threads)
    } else {
        Parallelism::None
    }
}

/// out (B, M, N) = lhs (B, M, K) @ rhs (B, K, N) for float types gemm supports.
fn gemm_batched<T: 'static + Copy + Default>(
    a: &[T],
    l: &Layout,
    b: &[T],
    r: &Layout,
    zero: T,
    one: T,
) -> Vec<T> {
    let rank = l.dims().len();
    let (lo, ro, m, k, n) = batch_offsets(l, r);
    let mut out = super::cache::zeroed(lo.len() * m * n, zero);
    if k == 0 || m == 0 || n == 0 {
        return out;
    }
    let (lrs, lcs) = (l.strides[rank - 2] as isize, l.strides[rank - 1] as isize);
    let (rrs, rcs) = (r.strides[rank - 2] as isize, r.strides[rank - 1] as isize);
    let par = parallelism(m, n, k);
    for (bi, (&la, &ra)) in lo.iter().zip(&ro).enumerate() {
        let dst = &mut out[bi * m * n..(bi + 1) * m * n];
        // SAFETY: every offset below is inside `a`, `b` and `dst`: the layouts were validated
        // against their storage by the tensor layer, and dst is exactly m*n elements.
        unsafe {
            gemm(
                m,
                n,
                k,
                dst.as_mut_ptr(),
                1,
                n as isize,
                false,
                a.as_ptr().add(la),
                lcs,
                lrs,
                b.as_ptr().add(ra),
                rcs,
                rrs,
                zero,
                one,
                false,
                false,
                false,
                par,
            );
        }
    }
    out
}

fn matmul_i64(a: &[i64], l: &Layout, b: &[i64], r: &Layout) -> Vec<i64> {
    let rank = l.dims().len();
    let (lo, ro, m, k, n) = batch_offsets(l, r);
    let (lrs, lcs) = (l.strides[rank - 2], l.strides[rank - 1]);
    let (rrs, rcs) = (r.strides[rank - 2], r.strides[rank - 1]);
    let mut out = super::cache::zeroed(lo.len() * m * n, 0i64);
    for (bi, (&la, &ra)) in lo.iter().zip(&ro).enumerate() {
        for i in 0..m {
            for j in 0..n {
                let mut acc = 0i64;
                for p in 0..k {
                    acc = acc.wrapping_add(
                        a[la + i * lrs + p * lcs].wrapping_mul(b[ra + p * rrs + j * rcs]),
                    );
                }
                out[bi * m * n + i * n + j] = acc;
            }
        }
    }
    out
}

pub(super) fn matmul(a: &CpuStorage, l: &Layout, b: &CpuStorage, r: &Layout) -> Result<CpuStorage> {
    Ok(match (a, b) {
        (CpuStorage::F32(x), CpuStorage::F32(y)) => {
            CpuStorage::F32(gemm_batched(x, l, y, r, 0.0, 1.0))
        }
        (CpuStorage::F16(x), CpuStorage::F16(y)) => {
            CpuStorage::F16(gemm_batched(x, l, y, r, f16::ZERO, f16::ONE))
        }
        (CpuStorage::BF16(_), CpuStorage::BF16(_)) => {
            // bf16 inputs, f32 accumulation, rounded back once
            let (x, y) = (a.to_f32_vec(l), b.to_f32_vec(r));
            let (cl, cr) = (
                Layout::contiguous(l.shape.clone()),
                Layout::contiguous(r.shape.clone()),
            );
            let out = gemm_batched(&x, &cl, &y, &cr, 0.0, 1.0);
            CpuStorage::BF16(out.into_iter().map(bf16::from_f32).collect())
        }
        (CpuStorage::I64(x), CpuStorage::I64(y)) => CpuStorage::I64(matmul_i64(x, l, y, r)),
        (CpuStorage::Bool(_), _) => {
            return Err(dtype_err("matmul", "a numeric tensor", s_dtype(a)))
        }
        _ => {
            return Err(Error::DTypeMismatch {
                op: "matmul",
                expected: format!("both operands of dtype {}", s_dtype(a)),
                got: s_dtype(b),
            })
        }
    })
}
