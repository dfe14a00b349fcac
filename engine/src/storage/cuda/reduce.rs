//! Reductions over any set of axes: the reduced axes are moved last (a view), and one block
//! reduces each output's run through shared memory. Float sums accumulate in f64, like the CPU.

use cudarc::driver::LaunchConfig;

use super::kernels::{compute_type, ctype, launch, load, store, Arg, KLayout, PRELUDE};
use super::CudaStorage;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::Layout;
use crate::storage::ReduceOp;

/// (accumulator type, init, per-element update, combine of `sh[t]` with `sh[t + s]`).
fn parts(op: ReduceOp, d: DType) -> Result<(&'static str, &'static str, &'static str)> {
    let float = d.is_float();
    Ok(match (op, float, d) {
        (_, _, DType::Bool) => {
            return Err(Error::DTypeMismatch {
                op: "reduce",
                expected: "a numeric tensor (cast bools to int64 first)".into(),
                got: d,
            })
        }
        (ReduceOp::Sum, true, _) => ("double", "0.0", "acc += (double)x;"),
        (ReduceOp::Sum, false, _) => (
            "long long",
            "0ll",
            "acc = (long long)((unsigned long long)acc + (unsigned long long)x);",
        ),
        (ReduceOp::Max, true, _) => (
            "float",
            "__int_as_float(0xff800000)",
            "acc = (x != x || acc != acc) ? __int_as_float(0x7fc00000) : fmaxf(acc, x);",
        ),
        (ReduceOp::Min, true, _) => (
            "float",
            "__int_as_float(0x7f800000)",
            "acc = (x != x || acc != acc) ? __int_as_float(0x7fc00000) : fminf(acc, x);",
        ),
        (ReduceOp::Max, false, _) => (
            "long long",
            "(-9223372036854775807ll - 1)",
            "acc = x > acc ? x : acc;",
        ),
        (ReduceOp::Min, false, _) => (
            "long long",
            "9223372036854775807ll",
            "acc = x < acc ? x : acc;",
        ),
        (ReduceOp::ArgMax, true, _) => (
            "float",
            "__int_as_float(0xff800000)",
            "if (x > acc || (x == acc && j < ai)) { acc = x; ai = j; }",
        ),
        (ReduceOp::ArgMin, true, _) => (
            "float",
            "__int_as_float(0x7f800000)",
            "if (x < acc || (x == acc && j < ai)) { acc = x; ai = j; }",
        ),
        (ReduceOp::ArgMax, false, _) => (
            "long long",
            "(-9223372036854775807ll - 1)",
            "if (x > acc || (x == acc && j < ai)) { acc = x; ai = j; }",
        ),
        (ReduceOp::ArgMin, false, _) => (
            "long long",
            "9223372036854775807ll",
            "if (x < acc || (x == acc && j < ai)) { acc = x; ai = j; }",
        ),
    })
}

pub(super) fn reduce_name(op: ReduceOp, d: DType) -> String {
    format!("reduce_{op:?}_{}", d.as_str()).to_lowercase()
}

/// Source of the reduction kernel `name` (one block per output), or why `op` does not apply.
pub(super) fn reduce_code(name: &str, op: ReduceOp, d: DType) -> Result<String> {
    let (acc_t, init, update) = parts(op, d)?;
    let arg = matches!(op, ReduceOp::ArgMax | ReduceOp::ArgMin);
    let out_dtype = if arg { DType::I64 } else { d };
    let c = compute_type(d);
    // The tree step reuses `update` with x = the other thread's value and j = its index.
    let result = if arg {
        "(ai == 9223372036854775807ll ? 0ll : ai)".to_string()
    } else if d.is_float() {
        store(d, "(float)acc")
    } else {
        "acc".to_string()
    };
    Ok(format!(
        "{PRELUDE}
extern \"C\" __global__ void {name}(long long outer, long long red, L l, const {t}* a, {to}* out) {{
  __shared__ {acc_t} sv[256];
  __shared__ long long si[256];
  const int tid = threadIdx.x;
  for (long long o = blockIdx.x; o < outer; o += gridDim.x) {{
    {acc_t} acc = {init};
    long long ai = 9223372036854775807ll;
    for (long long j = tid; j < red; j += blockDim.x) {{ {c} x = {lx}; {update} }}
    sv[tid] = acc; si[tid] = ai;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {{
      if (tid < s) {{
        acc = sv[tid]; ai = si[tid];
        {{ {acc_t} x = sv[tid + s]; long long j = si[tid + s]; {tree} }}
        sv[tid] = acc; si[tid] = ai;
      }}
      __syncthreads();
    }}
    if (tid == 0) {{ acc = sv[0]; ai = si[0]; out[o] = {result}; }}
    __syncthreads();
  }}
}}",
        t = ctype(d),
        to = ctype(out_dtype),
        lx = load(d, "a[off(l, o * red + j)]"),
        // sums add partial sums; the others combine like single elements
        tree = if op == ReduceOp::Sum {
            "acc += x;"
        } else {
            update
        },
    ))
}

pub fn reduce(s: &CudaStorage, l: &Layout, axes: &[usize], op: ReduceOp) -> Result<CudaStorage> {
    let d = s.dtype;
    let arg = matches!(op, ReduceOp::ArgMax | ReduceOp::ArgMin);
    let out_dtype = if arg { DType::I64 } else { d };
    let (pl, outer, red) = l.split_reduced(axes);
    let name = reduce_name(op, d);
    parts(op, d)?;
    let src = || reduce_code(&name, op, d).expect("checked by parts above");
    let b = s.backend().clone();
    let out = CudaStorage::alloc(&b, outer, out_dtype)?;
    if outer == 0 {
        return Ok(out);
    }
    let threads = red.clamp(32, 256).next_power_of_two() as u32;
    let cfg = LaunchConfig {
        grid_dim: (outer.min(1 << 20) as u32, 1, 1),
        block_dim: (threads, 1, 1),
        shared_mem_bytes: 0,
    };
    let f = b.function(&name, src)?;
    let args = [
        Arg::I64(outer as i64),
        Arg::I64(red as i64),
        Arg::L(KLayout::new(&pl)?),
        Arg::Ptr(s.ptr()),
        Arg::Ptr(out.ptr()),
    ];
    launch(&b, &f, cfg, &args)?;
    Ok(out)
}
