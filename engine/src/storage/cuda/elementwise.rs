//! Elementwise kernels: unary, binary, comparisons, where, cast, strided copies. Each is CUDA C
//! generated per (op, dtypes), compiled by NVRTC once and cached by name.

use super::kernels::{compute_type, ctype, load, program, run, store, Arg, KLayout};
use super::CudaStorage;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::Layout;
use crate::storage::{BinaryOp, CmpOp, UnaryOp};

fn dt(d: DType) -> &'static str {
    d.as_str()
}

fn unsupported(op: &str, d: DType) -> Error {
    Error::DTypeMismatch {
        op: "unary op",
        expected: format!("a dtype that supports {op}"),
        got: d,
    }
}

/// (kernel tag, C expression of `x`, parameters p0/p1) for a unary op on `d`.
pub(super) fn unary_expr(op: UnaryOp, d: DType) -> Result<(String, String, f32, f32)> {
    use UnaryOp as U;
    let (p0, p1) = match op {
        U::Powf(p) => (p, 0.0),
        U::Clamp(a, b) | U::Affine(a, b) => (a, b),
        _ => (0.0, 0.0),
    };
    let tag = format!("{op:?}")
        .split('(')
        .next()
        .unwrap_or("op")
        .to_lowercase();
    let e = match d {
        DType::F32 | DType::F16 | DType::BF16 => match op {
            U::Neg => "-x",
            U::Abs => "fabsf(x)",
            U::Exp => "expf(x)",
            U::Log => "logf(x)",
            U::Sqrt => "sqrtf(x)",
            U::Rsqrt => "1.0f / sqrtf(x)",
            U::Sin => "sinf(x)",
            U::Cos => "cosf(x)",
            U::Tanh => "tanhf(x)",
            U::Sigmoid => "(x >= 0.f ? 1.f / (1.f + expf(-x)) : expf(x) / (1.f + expf(x)))",
            U::Relu => "fmaxf(x, 0.f)",
            U::Gelu => "(float)(0.5 * (double)x * (1.0 + erf((double)x * 0.70710678118654752)))",
            U::GeluGrad => "(float)(0.5 * (1.0 + erf((double)x * 0.70710678118654752)) + (double)x * exp(-0.5 * (double)x * (double)x) * 0.39894228040143268)",
            U::Softplus => "fmaxf(x, 0.f) + log1pf(expf(-fabsf(x)))",
            U::Square => "x * x",
            U::Recip => "1.0f / x",
            U::Sign => "(x > 0.f ? 1.f : (x < 0.f ? -1.f : 0.f))",
            U::Floor => "floorf(x)",
            U::Ceil => "ceilf(x)",
            U::Round => "rintf(x)",
            U::Erf => "(float)erf((double)x)",
            U::Step => "(x > 0.f ? 1.f : 0.f)",
            U::LogicalNot => "(x == 0.f ? 1.f : 0.f)",
            U::Powf(2.0) => "x * x",
            U::Powf(0.5) => "sqrtf(x)",
            U::Powf(_) => "powf(x, p0)",
            U::Clamp(..) => "fminf(fmaxf(x, p0), p1)",
            U::Affine(..) => "__fadd_rn(__fmul_rn(x, p0), p1)",
        },
        DType::I64 => match op {
            U::Neg => "(long long)(0ull - (unsigned long long)x)",
            U::Abs => "(x < 0 ? (long long)(0ull - (unsigned long long)x) : x)",
            U::Square => "(long long)((unsigned long long)x * (unsigned long long)x)",
            U::Sign => "(long long)((x > 0) - (x < 0))",
            U::Relu => "(x > 0 ? x : 0ll)",
            U::Floor | U::Ceil | U::Round => "x",
            U::Clamp(..) => "(long long)fminf(fmaxf((float)x, p0), p1)",
            U::Affine(m, a) if m.fract() == 0.0 && a.fract() == 0.0 => {
                "(long long)((unsigned long long)x * (unsigned long long)(long long)p0 + (unsigned long long)(long long)p1)"
            }
            _ => return Err(unsupported("this op (a float op)", d)),
        },
        DType::Bool => match op {
            U::LogicalNot => "(unsigned char)(x == 0)",
            _ => return Err(unsupported("this op", d)),
        },
    };
    let variant = match op {
        U::Powf(2.0) => "_sq",
        U::Powf(0.5) => "_sqrt",
        _ => "",
    };
    Ok((format!("{tag}{variant}"), e.to_string(), p0, p1))
}

/// The kernel `unary_{tag}_{dtype}` and its source (tag and `e` from [`unary_expr`]).
pub(super) fn unary_name(tag: &str, d: DType) -> String {
    format!("unary_{tag}_{}", dt(d))
}

pub(super) fn unary_code(name: &str, d: DType, e: &str) -> String {
    let (t, c) = (ctype(d), compute_type(d));
    program(&format!(
        "extern \"C\" __global__ void {name}(long long n, L la, const {t}* a, {t}* out, float p0, float p1) {{
  GRID_LOOP(i, n) {{ {c} x = {lx}; out[i] = {st}; }}
}}",
        lx = load(d, "a[off(la, i)]"),
        st = store(d, &format!("({c})({e})")),
    ))
}

pub fn unary(s: &CudaStorage, l: &Layout, op: UnaryOp) -> Result<CudaStorage> {
    let d = s.dtype;
    let (tag, e, p0, p1) = unary_expr(op, d)?;
    let name = unary_name(&tag, d);
    let src = || unary_code(&name, d, &e);
    let n = l.elem_count();
    let out = CudaStorage::alloc(&s.buf.backend, n, d)?;
    let args = [
        Arg::I64(n as i64),
        Arg::L(KLayout::new(l)?),
        Arg::Ptr(s.ptr()),
        Arg::Ptr(out.ptr()),
        Arg::F32(p0),
        Arg::F32(p1),
    ];
    run(&s.buf.backend, &name, src, n, &args)?;
    Ok(out)
}

pub(super) fn binary_expr(op: BinaryOp, d: DType) -> Option<&'static str> {
    use BinaryOp as B;
    Some(match d {
        DType::F32 | DType::F16 | DType::BF16 => match op {
            B::Add => "x + y",
            B::Sub => "x - y",
            B::Mul => "x * y",
            B::Div => "x / y",
            B::Maximum => "fmaxf(x, y)",
            B::Minimum => "fminf(x, y)",
            B::Pow => "powf(x, y)",
            B::LogicalAnd | B::LogicalOr => return None,
        },
        DType::I64 => match op {
            B::Add => "(long long)((unsigned long long)x + (unsigned long long)y)",
            B::Sub => "(long long)((unsigned long long)x - (unsigned long long)y)",
            B::Mul => "(long long)((unsigned long long)x * (unsigned long long)y)",
            B::Div => "(y == 0 ? 0ll : ((x % y != 0) && ((x < 0) != (y < 0)) ? x / y - 1 : x / y))",
            B::Maximum => "(x > y ? x : y)",
            B::Minimum => "(x < y ? x : y)",
            B::Pow => "ipow(x, y)",
            B::LogicalAnd | B::LogicalOr => return None,
        },
        DType::Bool => match op {
            B::LogicalAnd | B::Mul | B::Minimum => "(unsigned char)(x && y)",
            B::LogicalOr | B::Add | B::Maximum => "(unsigned char)(x || y)",
            _ => return None,
        },
    })
}

const IPOW: &str = "__device__ long long ipow(long long x, long long y) {
  if (y < 0) return 0; unsigned long long r = 1, b = (unsigned long long)x;
  while (y) { if (y & 1) r *= b; b *= b; y >>= 1; } return (long long)r; }";

fn same_dtype(op: &'static str, a: &CudaStorage, b: &CudaStorage) -> Result<()> {
    if a.dtype != b.dtype {
        return Err(Error::DTypeMismatch {
            op,
            expected: format!("both operands of the same dtype ({})", a.dtype),
            got: b.dtype,
        });
    }
    Ok(())
}

/// Source of a two-input kernel: `out[i] = body(x, y)` with x, y loaded in the compute type.
pub(super) fn zip_code(name: &str, d: DType, body: &str, out_dtype: DType) -> String {
    let (t, c, to) = (ctype(d), compute_type(d), ctype(out_dtype));
    program(&format!(
        "{IPOW}\nextern \"C\" __global__ void {name}(long long n, L la, const {t}* a, L lb, const {t}* b, {to}* out) {{
  GRID_LOOP(i, n) {{ {c} x = {lx}; {c} y = {ly}; out[i] = {body}; }}
}}",
        lx = load(d, "a[off(la, i)]"),
        ly = load(d, "b[off(lb, i)]"),
    ))
}

/// A two-input kernel: `out[i] = body(x, y)` (see [`zip_code`]).
fn zip_kernel(
    a: &CudaStorage,
    la: &Layout,
    b: &CudaStorage,
    lb: &Layout,
    name: &str,
    body: &str,
    out_dtype: DType,
) -> Result<CudaStorage> {
    let src = || zip_code(name, a.dtype, body, out_dtype);
    let n = la.elem_count();
    let out = CudaStorage::alloc(&a.buf.backend, n, out_dtype)?;
    let args = [
        Arg::I64(n as i64),
        Arg::L(KLayout::new(la)?),
        Arg::Ptr(a.ptr()),
        Arg::L(KLayout::new(lb)?),
        Arg::Ptr(b.ptr()),
        Arg::Ptr(out.ptr()),
    ];
    run(&a.buf.backend, name, src, n, &args)?;
    Ok(out)
}

pub fn binary(
    a: &CudaStorage,
    la: &Layout,
    b: &CudaStorage,
    lb: &Layout,
    op: BinaryOp,
) -> Result<CudaStorage> {
    same_dtype("binary op", a, b)?;
    let d = a.dtype;
    let (name, body) = binary_kernel(op, d).ok_or_else(|| Error::DTypeMismatch {
        op: "binary op",
        expected: "a numeric tensor".into(),
        got: d,
    })?;
    zip_kernel(a, la, b, lb, &name, &body, d)
}

/// (kernel name, body for [`zip_code`]) of a binary op on `d`, or None where it does not apply.
pub(super) fn binary_kernel(op: BinaryOp, d: DType) -> Option<(String, String)> {
    let e = binary_expr(op, d)?;
    let c = compute_type(d);
    let name = format!("binary_{op:?}_{}", dt(d)).to_lowercase();
    Some((name, store(d, &format!("({c})({e})"))))
}

/// (kernel name, body for [`zip_code`]) of a comparison on `d` (the output is bool).
pub(super) fn cmp_kernel(op: CmpOp, d: DType) -> (String, String) {
    let e = match op {
        CmpOp::Eq => "x == y",
        CmpOp::Ne => "x != y",
        CmpOp::Lt => "x < y",
        CmpOp::Le => "x <= y",
        CmpOp::Gt => "x > y",
        CmpOp::Ge => "x >= y",
    };
    let name = format!("cmp_{op:?}_{}", dt(d)).to_lowercase();
    (name, format!("(unsigned char)({e})"))
}

pub fn cmp(
    a: &CudaStorage,
    la: &Layout,
    b: &CudaStorage,
    lb: &Layout,
    op: CmpOp,
) -> Result<CudaStorage> {
    same_dtype("comparison", a, b)?;
    let (name, body) = cmp_kernel(op, a.dtype);
    zip_kernel(a, la, b, lb, &name, &body, DType::Bool)
}

#[allow(clippy::too_many_arguments)]
pub fn where_cond(
    c: &CudaStorage,
    l: &Layout,
    t: &CudaStorage,
    tl: &Layout,
    f: &CudaStorage,
    fl: &Layout,
) -> Result<CudaStorage> {
    if c.dtype != DType::Bool {
        return Err(Error::DTypeMismatch {
            op: "where",
            expected: "a bool condition".into(),
            got: c.dtype,
        });
    }
    same_dtype("where", t, f)?;
    let name = where_name(t.dtype);
    let src = || where_code(&name, t.dtype);
    let n = l.elem_count();
    let out = CudaStorage::alloc(&c.buf.backend, n, t.dtype)?;
    let args = [
        Arg::I64(n as i64),
        Arg::L(KLayout::new(l)?),
        Arg::Ptr(c.ptr()),
        Arg::L(KLayout::new(tl)?),
        Arg::Ptr(t.ptr()),
        Arg::L(KLayout::new(fl)?),
        Arg::Ptr(f.ptr()),
        Arg::Ptr(out.ptr()),
    ];
    run(&c.buf.backend, &name, src, n, &args)?;
    Ok(out)
}

pub(super) fn where_name(d: DType) -> String {
    format!("where_{}", dt(d))
}

pub(super) fn where_code(name: &str, d: DType) -> String {
    let ty = ctype(d);
    program(&format!(
        "extern \"C\" __global__ void {name}(long long n, L lc, const unsigned char* c, L lt, const {ty}* t, L lf, const {ty}* f, {ty}* out) {{
  GRID_LOOP(i, n) {{ out[i] = c[off(lc, i)] ? t[off(lt, i)] : f[off(lf, i)]; }}
}}"
    ))
}

/// C expression converting stored `x` of dtype `from` to stored dtype `to`, as the CPU does.
fn cast_expr(from: DType, to: DType) -> String {
    use DType::*;
    if from == to {
        return "x".into();
    }
    match (from, to) {
        (F32 | F16 | BF16, I64) => format!("f2i({})", load(from, "x")),
        (I64, F32) => "(float)x".into(),
        (I64, F16) => "f2h((float)(double)x)".into(),
        (I64, BF16) => "f2bf((float)(double)x)".into(),
        (I64, Bool) => "(unsigned char)(x != 0)".into(),
        (Bool, I64) => "(long long)x".into(),
        (Bool, _) => store(to, "(float)x"),
        (_, _) => store(to, &load(from, "x")),
    }
}

pub(super) fn cast_name(from: DType, to: DType) -> String {
    format!("cast_{}_{}", dt(from), dt(to))
}

pub(super) fn cast_code(name: &str, from: DType, to: DType) -> String {
    program(&format!(
        "extern \"C\" __global__ void {name}(long long n, L la, const {ti}* a, {to_}* out) {{
  GRID_LOOP(i, n) {{ {ti} x = a[off(la, i)]; out[i] = {e}; }}
}}",
        ti = ctype(from),
        to_ = ctype(to),
        e = cast_expr(from, to),
    ))
}

pub fn cast(s: &CudaStorage, l: &Layout, to: DType) -> Result<CudaStorage> {
    let from = s.dtype;
    let name = cast_name(from, to);
    let src = || cast_code(&name, from, to);
    let n = l.elem_count();
    let out = CudaStorage::alloc(&s.buf.backend, n, to)?;
    let args = [
        Arg::I64(n as i64),
        Arg::L(KLayout::new(l)?),
        Arg::Ptr(s.ptr()),
        Arg::Ptr(out.ptr()),
    ];
    run(&s.buf.backend, &name, src, n, &args)?;
    Ok(out)
}

pub fn copy_strided(s: &CudaStorage, l: &Layout) -> Result<CudaStorage> {
    let n = l.elem_count();
    if let Some((start, end)) = l.contiguous_range() {
        let out = CudaStorage::alloc(&s.buf.backend, n, s.dtype)?;
        let es = s.dtype.size_in_bytes();
        s.copy_bytes_to(start * es, &out, 0, (end - start) * es)?;
        return Ok(out);
    }
    cast(s, l, s.dtype)
}

pub fn copy_into(d: &mut CudaStorage, dl: &Layout, s: &CudaStorage, sl: &Layout) -> Result<()> {
    same_dtype("copy", d, s)?;
    let name = copy_into_name(s.dtype);
    let src = || copy_into_code(&name, s.dtype);
    let n = sl.elem_count();
    let args = [
        Arg::I64(n as i64),
        Arg::L(KLayout::new(dl)?),
        Arg::Ptr(d.ptr()),
        Arg::L(KLayout::new(sl)?),
        Arg::Ptr(s.ptr()),
    ];
    run(&s.buf.backend, &name, src, n, &args)
}

pub(super) fn copy_into_name(d: DType) -> String {
    format!("copy_into_{}", dt(d))
}

pub(super) fn copy_into_code(name: &str, d: DType) -> String {
    let t = ctype(d);
    program(&format!(
        "extern \"C\" __global__ void {name}(long long n, L ld, {t}* d, L ls, const {t}* s) {{
  GRID_LOOP(i, n) {{ d[off(ld, i)] = s[off(ls, i)]; }}
}}"
    ))
}
