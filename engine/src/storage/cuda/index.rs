//! Gather/scatter along an axis (index_select, index_add) and the patch ops of conv2d and
//! pooling (im2col, col2im), NHWC, following `cpu/index.rs` and `cpu/patches.rs`.
//!
//! Indices are checked on the host (a small copy), so a bad index is the same error as on the
//! CPU. Scatter-adds use atomicAdd (f32, int64); f16/bf16 add into a float32 copy of the
//! destination and round back once, like the CPU. Patches of int64/bool go through float32 as
//! on the CPU.

use super::kernels::{ctype, load, program, run, store, Arg, KLayout};
use super::CudaStorage;
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

pub(super) fn index_select_code(name: &str, d: DType) -> String {
    let t = ctype(d);
    program(&format!(
        "extern \"C\" __global__ void {name}(long long n, long long nids, long long size, long long post, L la, const {t}* a, L li, const long long* ids, {t}* out) {{
  GRID_LOOP(i, n) {{
    long long p = i / (nids * post), r = i % (nids * post), j = r / post, q = r % post;
    long long id = ids[off(li, j)];
    out[i] = a[off(la, (p * size + id) * post + q)];
  }}
}}"
    ))
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
    let name = format!("index_select_{}", s.dtype.as_str());
    let src = || index_select_code(&name, s.dtype);
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

/// (C type of the accumulator `d`, C statement adding `v` at `d[k]` atomically). f16 and bf16
/// accumulate in a float32 copy of the destination, rounded back once, like the CPU.
pub(super) fn atomic_add(d: DType) -> Option<(&'static str, &'static str)> {
    match d {
        DType::F32 | DType::F16 | DType::BF16 => Some(("float", "atomicAdd(&d[k], v);")),
        DType::I64 => Some((
            "long long",
            "atomicAdd((unsigned long long*)&d[k], (unsigned long long)v);",
        )),
        DType::Bool => None,
    }
}

pub(super) fn index_add_code(name: &str, dt: DType, acc_t: &str, add: &str) -> String {
    let t = ctype(dt);
    program(&format!(
        "extern \"C\" __global__ void {name}(long long n, long long nids, long long size, long long post, {acc_t}* d, L li, const long long* ids, L ls, const {t}* s) {{
  GRID_LOOP(i, n) {{
    long long p = i / (nids * post), r = i % (nids * post), j = r / post, q = r % post;
    long long k = (p * size + ids[off(li, j)]) * post + q;
    {acc_t} v = {lv};
    {add}
  }}
}}",
        lv = load(dt, "s[off(ls, i)]"),
    ))
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
    let dt = d.dtype;
    let Some((acc_t, add)) = atomic_add(dt) else {
        return Err(Error::DTypeMismatch {
            op: "index_add",
            expected: "a numeric tensor".into(),
            got: dt,
        });
    };
    let nids = il.elem_count();
    let n = sl.elem_count();
    let total = dst_shape.elem_count();
    let half = matches!(dt, DType::F16 | DType::BF16);
    // f16/bf16: a float32 copy of the destination takes the sums
    let acc = if half {
        Some(d.cast(&Layout::contiguous([total]), DType::F32)?)
    } else {
        None
    };
    let name = format!("index_add_{}", dt.as_str());
    let src_code = || index_add_code(&name, dt, acc_t, add);
    let args = [
        Arg::I64(n as i64),
        Arg::I64(nids as i64),
        Arg::I64(size as i64),
        Arg::I64(post as i64),
        Arg::Ptr(acc.as_ref().unwrap_or(&*d).ptr()),
        Arg::L(KLayout::new(il)?),
        Arg::Ptr(ids.ptr()),
        Arg::L(KLayout::new(sl)?),
        Arg::Ptr(src.ptr()),
    ];
    run(src.backend(), &name, src_code, n, &args)?;
    if let Some(acc) = acc {
        *d = acc.cast(&Layout::contiguous([total]), dt)?;
    }
    Ok(())
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

pub(super) fn im2col_code(name: &str, d: DType) -> String {
    // int64 goes through float32 as on the CPU (`x as f32 as i64`); bool patches are copies
    let (val, padv) = match d {
        DType::I64 => ("f2i((float)x)".to_string(), "f2i(pad)".to_string()),
        DType::Bool => ("x".to_string(), "(unsigned char)(pad != 0.f)".to_string()),
        _ => ("x".to_string(), store(d, "pad")),
    };
    let t = ctype(d);
    program(&format!(
        "extern \"C\" __global__ void {name}(long long n, {PATCH_PARAMS}, float pad, L la, const {t}* a, {t}* out) {{
  GRID_LOOP(i, n) {{
    {PATCH_INDEX}
    if (inside) {{ {t} x = a[off(la, ((nn * H + iy) * W + ix) * C + c)]; out[i] = {val}; }}
    else out[i] = {padv};
  }}
}}"
    ))
}

pub fn im2col(s: &CudaStorage, l: &Layout, p: &PatchParams) -> Result<CudaStorage> {
    let d = s.dtype;
    let name = format!("im2col_{}", d.as_str());
    let src = || im2col_code(&name, d);
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

pub(super) fn col2im_code(name: &str, d: DType) -> String {
    let v = match d {
        DType::I64 | DType::Bool => "(float)a[off(la, i)]".to_string(),
        _ => load(d, "a[off(la, i)]"),
    };
    program(&format!(
        "extern \"C\" __global__ void {name}(long long n, {PATCH_PARAMS}, L la, const {t}* a, float* out) {{
  GRID_LOOP(i, n) {{
    {PATCH_INDEX}
    if (inside) atomicAdd(&out[((nn * H + iy) * W + ix) * C + c], {v});
  }}
}}",
        t = ctype(d),
    ))
}

/// Sums patches back into (N,H,W,C): f32 atomics, then a cast for the other dtypes (int64 and
/// bool sum as float32, like the CPU).
pub fn col2im(s: &CudaStorage, l: &Layout, p: &PatchParams) -> Result<CudaStorage> {
    let d = s.dtype;
    let name = format!("col2im_{}", d.as_str());
    let src = || col2im_code(&name, d);
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
