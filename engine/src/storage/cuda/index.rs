//! Gather/scatter along an axis (index_select, index_add) and the patch ops of conv2d and
//! pooling (im2col, col2im), NHWC, following `cpu/index.rs` and `cpu/patches.rs`.
//!
//! Indices are checked on the host (a small copy), so a bad index is the same error as on the
//! CPU. Scatter-adds use atomicAdd (f32, int64); f16/bf16 scatter via f32 and a cast.

use super::kernels::{ctype, load, run, store, Arg, KLayout};
use super::{not_yet, CudaStorage};
use crate::dtype::DType;
use crate::error::{invalid, Error, Result};
use crate::shape::{Layout, Shape};
use crate::storage::{BackendStorage, PatchParams};

fn check_ids(
    op: &'static str,
    ids: &CudaStorage,
    il: &Layout,
    size: usize,
    axis: usize,
) -> Result<()> {
    if ids.dtype != DType::I64 {
        return Err(Error::DTypeMismatch {
            op,
            expected: "int64 indices".into(),
            got: ids.dtype,
        });
    }
    let host = ids.copy_strided_(il)?.to_cpu()?;
    if let crate::storage::CpuStorage::I64(v) = host {
        if let Some(&i) = v.iter().find(|&&i| i < 0 || i as usize >= size) {
            return Err(invalid(
                op,
                format!(
                    "index {i} is out of range for axis {axis} of size {size} (valid: 0..{size})"
                ),
            ));
        }
    }
    Ok(())
}

impl CudaStorage {
    fn copy_strided_(&self, l: &Layout) -> Result<CudaStorage> {
        super::elementwise::copy_strided(self, l)
    }
}

fn split(dims: &[usize], axis: usize) -> (usize, usize, usize) {
    let pre: usize = dims[..axis].iter().product();
    let post: usize = dims[axis + 1..].iter().product();
    (pre, dims[axis], post)
}

pub fn index_select(
    s: &CudaStorage,
    l: &Layout,
    ids: &CudaStorage,
    il: &Layout,
    axis: usize,
) -> Result<CudaStorage> {
    let (_, size, post) = split(l.dims(), axis);
    check_ids("gather", ids, il, size, axis)?;
    let nids = il.elem_count();
    let mut od = l.dims().to_vec();
    od[axis] = nids;
    let n: usize = od.iter().product();
    let t = ctype(s.dtype);
    let name = format!("index_select_{}", s.dtype.as_str());
    let src = || {
        format!(
        "extern \"C\" __global__ void {name}(long long n, long long nids, long long size, long long post, L la, const {t}* a, L li, const long long* ids, {t}* out) {{
  GRID_LOOP(i, n) {{
    long long p = i / (nids * post), r = i % (nids * post), j = r / post, q = r % post;
    long long id = ids[off(li, j)];
    out[i] = a[off(la, (p * size + id) * post + q)];
  }}
}}"
    )
    };
    let out = CudaStorage::alloc(s.backend(), n, s.dtype)?;
    let args = [
        Arg::I64(n as i64),
        Arg::I64(nids as i64),
        Arg::I64(size as i64),
        Arg::I64(post as i64),
        Arg::L(KLayout::new(l)?),
        Arg::Ptr(s.ptr()),
        Arg::L(KLayout::new(il)?),
        Arg::Ptr(ids.ptr()),
        Arg::Ptr(out.ptr()),
    ];
    run(s.backend(), &name, src, n, &args)?;
    Ok(out)
}

/// The C statement adding `v` at `d[k]` atomically, for dtypes with a native atomicAdd.
fn atomic_add(d: DType) -> Option<&'static str> {
    match d {
        DType::F32 => Some("atomicAdd(&d[k], v);"),
        DType::I64 => Some("atomicAdd((unsigned long long*)&d[k], (unsigned long long)v);"),
        _ => None,
    }
}

pub fn index_add(
    d: &mut CudaStorage,
    dst_shape: &Shape,
    ids: &CudaStorage,
    il: &Layout,
    src: &CudaStorage,
    sl: &Layout,
    axis: usize,
) -> Result<()> {
    if d.dtype != src.dtype {
        return Err(Error::DTypeMismatch {
            op: "index_add",
            expected: format!("a source of dtype {}", d.dtype),
            got: src.dtype,
        });
    }
    let (_, size, post) = split(dst_shape.dims(), axis);
    check_ids("index_add", ids, il, size, axis)?;
    let Some(add) = atomic_add(d.dtype) else {
        return Err(not_yet(&format!("index_add of {}", d.dtype)));
    };
    let nids = il.elem_count();
    let n = sl.elem_count();
    let t = ctype(d.dtype);
    let name = format!("index_add_{}", d.dtype.as_str());
    let src_code = || {
        format!(
        "extern \"C\" __global__ void {name}(long long n, long long nids, long long size, long long post, {t}* d, L li, const long long* ids, L ls, const {t}* s) {{
  GRID_LOOP(i, n) {{
    long long p = i / (nids * post), r = i % (nids * post), j = r / post, q = r % post;
    long long k = (p * size + ids[off(li, j)]) * post + q;
    {t} v = s[off(ls, i)];
    {add}
  }}
}}"
    )
    };
    let args = [
        Arg::I64(n as i64),
        Arg::I64(nids as i64),
        Arg::I64(size as i64),
        Arg::I64(post as i64),
        Arg::Ptr(d.ptr()),
        Arg::L(KLayout::new(il)?),
        Arg::Ptr(ids.ptr()),
        Arg::L(KLayout::new(sl)?),
        Arg::Ptr(src.ptr()),
    ];
    run(src.backend(), &name, src_code, n, &args)
}

fn patch_args(p: &PatchParams) -> Vec<Arg> {
    [
        p.n,
        p.h,
        p.w,
        p.c,
        p.kh,
        p.kw,
        p.oh,
        p.ow,
        p.stride.0,
        p.stride.1,
        p.dilation.0,
        p.dilation.1,
        p.pad.0,
        p.pad.1,
    ]
    .iter()
    .map(|&v| Arg::I64(v as i64))
    .collect()
}

const PATCH_PARAMS: &str = "long long N, long long H, long long W, long long C, long long KH, long long KW, long long OH, long long OW, long long SH, long long SW, long long DH, long long DW, long long PH, long long PW";

/// Decomposes column index `i` into (nn, iy, ix, c) and `inside`.
const PATCH_INDEX: &str = "long long t = i, c = t % C; t /= C; long long kx = t % KW; t /= KW;
    long long ky = t % KH; t /= KH; long long ox = t % OW; t /= OW; long long oy = t % OH; long long nn = t / OH;
    long long iy = oy * SH + ky * DH - PH, ix = ox * SW + kx * DW - PW;
    bool inside = iy >= 0 && iy < H && ix >= 0 && ix < W;";

pub fn im2col(s: &CudaStorage, l: &Layout, p: &PatchParams) -> Result<CudaStorage> {
    let d = s.dtype;
    if !d.is_float() {
        return Err(not_yet(&format!("conv/pooling of {d}")));
    }
    let t = ctype(d);
    let name = format!("im2col_{}", d.as_str());
    let src = || {
        format!(
        "extern \"C\" __global__ void {name}(long long n, {PATCH_PARAMS}, float pad, L la, const {t}* a, {t}* out) {{
  GRID_LOOP(i, n) {{
    {PATCH_INDEX}
    out[i] = inside ? a[off(la, ((nn * H + iy) * W + ix) * C + c)] : {padv};
  }}
}}",
        padv = store(d, "pad"),
    )
    };
    let n = p.n * p.oh * p.ow * p.kh * p.kw * p.c;
    let out = CudaStorage::alloc(s.backend(), n, d)?;
    let mut args = vec![Arg::I64(n as i64)];
    args.extend(patch_args(p));
    args.extend([
        Arg::F32(p.pad_value),
        Arg::L(KLayout::new(l)?),
        Arg::Ptr(s.ptr()),
        Arg::Ptr(out.ptr()),
    ]);
    run(s.backend(), &name, src, n, &args)?;
    Ok(out)
}

/// Sums patches back into (N,H,W,C): f32 atomics, then a cast for f16/bf16.
pub fn col2im(s: &CudaStorage, l: &Layout, p: &PatchParams) -> Result<CudaStorage> {
    let d = s.dtype;
    if !d.is_float() {
        return Err(not_yet(&format!("conv/pooling gradient of {d}")));
    }
    let name = format!("col2im_{}", d.as_str());
    let src = || {
        format!(
        "extern \"C\" __global__ void {name}(long long n, {PATCH_PARAMS}, L la, const {t}* a, float* out) {{
  GRID_LOOP(i, n) {{
    {PATCH_INDEX}
    if (inside) atomicAdd(&out[((nn * H + iy) * W + ix) * C + c], {v});
  }}
}}",
        t = ctype(d),
        v = load(d, "a[off(la, i)]"),
    )
    };
    let n = l.elem_count();
    let total = p.n * p.h * p.w * p.c;
    let acc = CudaStorage::zeros(s.backend(), total, DType::F32)?;
    let mut args = vec![Arg::I64(n as i64)];
    args.extend(patch_args(p));
    args.extend([
        Arg::L(KLayout::new(l)?),
        Arg::Ptr(s.ptr()),
        Arg::Ptr(acc.ptr()),
    ]);
    run(s.backend(), &name, src, n, &args)?;
    if d == DType::F32 {
        Ok(acc)
    } else {
        acc.cast(&Layout::contiguous([total]), d)
    }
}
