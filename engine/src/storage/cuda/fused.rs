//! CUDA fusion: one NVRTC kernel per fused group of a traced graph (`jit_compile(true)`),
//! generated from the group's op list and cached by its structure (the kernel's name is a hash
//! of its source, so two groups with the same ops, dtype and widths share one kernel).
//!
//! Two kernel shapes, as on the CPU (`function/fuse.rs`):
//! - flat: a grid-stride loop over the elements; each thread loads its inputs (any layout,
//!   broadcasts included, through `off`), runs the program in registers and stores the outputs;
//! - by rows (the group reduces over the last axis): one block per row. Each reduction is a
//!   loop over the row that recomputes the full-width values it needs and accumulates, then a
//!   warp-shuffle block reduction; per-row values live in registers of every thread; a last
//!   loop stores the full-width outputs. Nothing between the ops touches global memory.
//!
//! Float dtypes compute in f32 (f16 / bf16 load and store through the prelude's conversions).
//! What this file is not: the planner (which ops form a group is `function/fuse.rs`'s call).

use std::fmt::Write as _;
use std::hash::{Hash, Hasher};

use cudarc::driver::LaunchConfig;

use super::catalog::KernelSource;
use super::elementwise::{binary_expr, unary_expr};
use super::kernels::{compute_type, ctype, grid, launch, load, program, store, Arg, KLayout};
use super::CudaStorage;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::Layout;
use crate::storage::{BinaryOp, ReduceOp, UnaryOp};

/// Where an instruction reads: input `k` of the group, or an earlier instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FReg {
    In(usize),
    Tmp(usize),
}

/// One instruction of a fused program.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FInstr {
    Unary(UnaryOp, FReg),
    Binary(BinaryOp, FReg, FReg),
    /// Over the row (last axis) of a full-width value: width 1.
    Reduce(ReduceOp, FReg),
}

/// A fused group as the CUDA code generator sees it. Inputs are passed with their layouts
/// broadcast to the group's full shape; `full[i]` says whether instruction `i` has one value per
/// element or one per row; `outputs` are the instructions whose values are stored.
#[derive(Clone, Debug)]
pub struct FusedProgram {
    pub dtype: DType,
    pub inputs: usize,
    pub code: Vec<FInstr>,
    pub full: Vec<bool>,
    pub outputs: Vec<usize>,
    pub rowwise: bool,
}

fn reduce_parts(op: ReduceOp) -> Result<(&'static str, &'static str, &'static str)> {
    Ok(match op {
        ReduceOp::Sum => ("sum", "0.f", "(a + b)"),
        ReduceOp::Max => ("max", "-INFINITY", "fmaxf(a, b)"),
        ReduceOp::Min => ("min", "INFINITY", "fminf(a, b)"),
        _ => {
            return Err(Error::Msg(format!(
                "fused kernels reduce with sum, max or min, not {op:?}"
            )))
        }
    })
}

/// Block-wide reductions: a warp shuffle, then one warp over the warps' partials.
fn block_reducers() -> String {
    let mut s = String::from("#define INFINITY __int_as_float(0x7f800000)\n");
    for op in [ReduceOp::Sum, ReduceOp::Max, ReduceOp::Min] {
        let (tag, init, comb) = reduce_parts(op).expect("sum, max, min");
        let _ = write!(
            s,
            "__device__ __forceinline__ float comb_{tag}(float a, float b) {{ return {comb}; }}
__device__ float block_{tag}(float v, float* sh) {{
  for (int o = 16; o > 0; o >>= 1) v = comb_{tag}(v, __shfl_xor_sync(0xffffffffu, v, o));
  int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
  __syncthreads();
  if (lane == 0) sh[w] = v;
  __syncthreads();
  if (w == 0) {{
    v = lane < nw ? sh[lane] : {init};
    for (int o = 16; o > 0; o >>= 1) v = comb_{tag}(v, __shfl_xor_sync(0xffffffffu, v, o));
    if (lane == 0) sh[0] = v;
  }}
  __syncthreads();
  return sh[0];
}}
"
        );
    }
    s
}

/// The C statement computing instruction `i` into `t{i}`; `reg` names a register.
fn instr_stmt(p: &FusedProgram, i: usize, reg: &dyn Fn(FReg) -> String) -> Result<String> {
    Ok(match p.code[i] {
        FInstr::Unary(op, a) => {
            let (_, e, p0, p1) = unary_expr(op, DType::F32)?;
            format!(
                "float t{i}; {{ float x = {}; const float p0 = {p0:e}f, p1 = {p1:e}f; (void)p0; (void)p1; t{i} = (float)({e}); }}",
                reg(a)
            )
        }
        FInstr::Binary(op, a, b) => {
            let e = binary_expr(op, DType::F32)
                .ok_or_else(|| Error::Msg(format!("{op:?} does not fuse")))?;
            format!(
                "float t{i}; {{ float x = {}, y = {}; t{i} = (float)({e}); }}",
                reg(a),
                reg(b)
            )
        }
        FInstr::Reduce(..) => unreachable!("reductions are emitted by the row loops"),
    })
}

/// The kernel's body (after the prelude), its parameters in the order `run` passes them:
/// `(long long n_or_rows, long long cols, L l0, const T* a0, .., T* o0, ..)`.
fn body(p: &FusedProgram, name: &str) -> Result<String> {
    let (t, c) = (ctype(p.dtype), compute_type(p.dtype));
    if c != "float" {
        return Err(Error::Msg(format!(
            "fused kernels compute in float; {} does not fuse",
            p.dtype
        )));
    }
    let mut params = String::from("long long n, long long cols");
    for k in 0..p.inputs {
        let _ = write!(params, ", L l{k}, const {t}* a{k}");
    }
    for k in 0..p.outputs.len() {
        let _ = write!(params, ", {t}* o{k}");
    }
    // inputs read at element index `i` (full width) or at the row's first element `r0`
    let input_at = |k: usize, idx: &str| load(p.dtype, &format!("a{k}[off(l{k}, {idx})]"));
    let mut s = String::new();
    if !p.rowwise {
        let _ = writeln!(
            s,
            "extern \"C\" __global__ void {name}({params}) {{\n  GRID_LOOP(i, n) {{"
        );
        let reg = |r: FReg| match r {
            FReg::In(k) => input_at(k, "i"),
            FReg::Tmp(j) => format!("t{j}"),
        };
        for i in 0..p.code.len() {
            let _ = writeln!(s, "    {}", instr_stmt(p, i, &reg)?);
        }
        for (k, &o) in p.outputs.iter().enumerate() {
            let _ = writeln!(s, "    o{k}[i] = {};", store(p.dtype, &format!("t{o}")));
        }
        s.push_str("  }\n}\n");
        return Ok(format!("{}{s}", block_reducers()));
    }
    // by rows: n rows of `cols` elements, one block per row (grid-stride over rows)
    let _ = writeln!(
        s,
        "extern \"C\" __global__ void {name}({params}) {{
  __shared__ float sh[32];
  for (long long r = blockIdx.x; r < n; r += gridDim.x) {{
    long long r0 = r * cols;"
    );
    let full_reg = |r: FReg| match r {
        FReg::In(k) => input_at(k, "i"),
        FReg::Tmp(j) => format!("t{j}"),
    };
    let row_reg = |r: FReg| match r {
        FReg::In(k) => input_at(k, "r0"),
        FReg::Tmp(j) => format!("t{j}"),
    };
    let mut done = vec![false; p.code.len()]; // width-1 values computed so far
    let reduces: Vec<usize> = (0..p.code.len())
        .filter(|&i| matches!(p.code[i], FInstr::Reduce(..)))
        .collect();
    for &ri in &reduces {
        emit_row_values(p, ri, &mut done, &row_reg, &mut s)?;
        let FInstr::Reduce(op, a) = p.code[ri] else {
            unreachable!()
        };
        let (tag, init, _) = reduce_parts(op)?;
        let _ = writeln!(
            s,
            "    float acc{ri} = {init};\n    for (long long j = threadIdx.x; j < cols; j += blockDim.x) {{\n      long long i = r0 + j;"
        );
        for i in 0..ri {
            if p.full[i] && !matches!(p.code[i], FInstr::Reduce(..)) {
                let _ = writeln!(s, "      {}", instr_stmt(p, i, &full_reg)?);
            }
        }
        let _ = writeln!(
            s,
            "      acc{ri} = comb_{tag}(acc{ri}, {});\n    }}\n    float t{ri} = block_{tag}(acc{ri}, sh);",
            full_reg(a)
        );
        done[ri] = true;
    }
    emit_row_values(p, p.code.len(), &mut done, &row_reg, &mut s)?;
    let full_outs: Vec<(usize, usize)> = p
        .outputs
        .iter()
        .enumerate()
        .filter(|(_, &o)| p.full[o])
        .map(|(k, &o)| (k, o))
        .collect();
    if !full_outs.is_empty() {
        let _ = writeln!(
            s,
            "    for (long long j = threadIdx.x; j < cols; j += blockDim.x) {{\n      long long i = r0 + j;"
        );
        for i in 0..p.code.len() {
            if p.full[i] && !matches!(p.code[i], FInstr::Reduce(..)) {
                let _ = writeln!(s, "      {}", instr_stmt(p, i, &full_reg)?);
            }
        }
        for (k, o) in full_outs {
            let _ = writeln!(s, "      o{k}[i] = {};", store(p.dtype, &format!("t{o}")));
        }
        s.push_str("    }\n");
    }
    for (k, &o) in p.outputs.iter().enumerate() {
        if !p.full[o] {
            let _ = writeln!(
                s,
                "    if (threadIdx.x == 0) o{k}[r] = {};",
                store(p.dtype, &format!("t{o}"))
            );
        }
    }
    s.push_str("    __syncthreads();\n  }\n}\n");
    Ok(format!("{}{s}", block_reducers()))
}

/// Emits the width-1 instructions before `until` that are not computed yet.
fn emit_row_values(
    p: &FusedProgram,
    until: usize,
    done: &mut [bool],
    row_reg: &dyn Fn(FReg) -> String,
    s: &mut String,
) -> Result<()> {
    for (i, d) in done.iter_mut().enumerate().take(until) {
        if !p.full[i] && !*d && !matches!(p.code[i], FInstr::Reduce(..)) {
            let _ = writeln!(s, "    {}", instr_stmt(p, i, row_reg)?);
            *d = true;
        }
    }
    Ok(())
}

/// The kernel source of a fused program, named `fused_{hash of the source}`: the cache key is
/// the group's structure (ops, dtype, widths, outputs), not its shapes or values.
pub fn source(p: &FusedProgram) -> Result<KernelSource> {
    let b = body(p, "KERNEL_NAME")?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    b.hash(&mut h);
    let name = format!("fused_{:016x}", h.finish());
    Ok(KernelSource {
        code: program(&b.replace("KERNEL_NAME", &name)),
        name,
    })
}

/// A representative set of fused groups for the NVRTC compile check: every fusable unary and
/// binary op, each float dtype, broadcast inputs, and trailing reductions (layer norm, softmax).
pub(super) fn catalog(out: &mut Vec<KernelSource>) {
    use FInstr as I;
    use FReg::{In, Tmp};
    let unary = super::catalog::fusable_unary_ops();
    let binary = [
        BinaryOp::Add,
        BinaryOp::Sub,
        BinaryOp::Mul,
        BinaryOp::Div,
        BinaryOp::Maximum,
        BinaryOp::Minimum,
        BinaryOp::Pow,
    ];
    let mut progs = Vec::new();
    for dtype in [DType::F32, DType::F16, DType::BF16] {
        // every unary op after a binary op of two inputs, then every binary op: one program
        let mut code = vec![I::Binary(BinaryOp::Add, In(0), In(1))];
        for u in &unary {
            code.push(I::Unary(*u, Tmp(code.len() - 1)));
        }
        for b in binary {
            code.push(I::Binary(b, Tmp(code.len() - 1), In(2)));
        }
        let n = code.len();
        progs.push(FusedProgram {
            dtype,
            inputs: 3,
            full: vec![true; n],
            outputs: vec![n - 1, 0],
            code,
            rowwise: false,
        });
        // the GELU chain of issue 18 (x and broadcast scalars)
        let gelu = vec![
            I::Binary(BinaryOp::Mul, In(0), In(0)),
            I::Binary(BinaryOp::Mul, Tmp(0), In(0)),
            I::Binary(BinaryOp::Mul, Tmp(1), In(1)),
            I::Binary(BinaryOp::Add, In(0), Tmp(2)),
            I::Binary(BinaryOp::Mul, Tmp(3), In(2)),
            I::Unary(UnaryOp::Tanh, Tmp(4)),
            I::Unary(UnaryOp::Affine(1.0, 1.0), Tmp(5)),
            I::Binary(BinaryOp::Mul, In(0), Tmp(6)),
            I::Unary(UnaryOp::Affine(0.5, 0.0), Tmp(7)),
        ];
        progs.push(FusedProgram {
            dtype,
            inputs: 3,
            full: vec![true; 9],
            outputs: vec![8],
            code: gelu,
            rowwise: false,
        });
        // layer norm by rows: mean, centre, variance, rsqrt, scale by gamma (a row broadcast)
        let ln = vec![
            I::Reduce(ReduceOp::Sum, In(0)),
            I::Binary(BinaryOp::Mul, Tmp(0), In(1)),
            I::Binary(BinaryOp::Sub, In(0), Tmp(1)),
            I::Binary(BinaryOp::Mul, Tmp(2), Tmp(2)),
            I::Reduce(ReduceOp::Sum, Tmp(3)),
            I::Binary(BinaryOp::Mul, Tmp(4), In(1)),
            I::Unary(UnaryOp::Affine(1.0, 1e-5), Tmp(5)),
            I::Unary(UnaryOp::Rsqrt, Tmp(6)),
            I::Binary(BinaryOp::Mul, Tmp(2), Tmp(7)),
            I::Binary(BinaryOp::Mul, Tmp(8), In(2)),
        ];
        progs.push(FusedProgram {
            dtype,
            inputs: 3,
            full: vec![
                false, false, true, true, false, false, false, false, true, true,
            ],
            outputs: vec![9, 1],
            code: ln,
            rowwise: true,
        });
        // softmax by rows: max, sub, exp, sum, div; and a row min as the only output
        let softmax = vec![
            I::Reduce(ReduceOp::Max, In(0)),
            I::Binary(BinaryOp::Sub, In(0), Tmp(0)),
            I::Unary(UnaryOp::Exp, Tmp(1)),
            I::Reduce(ReduceOp::Sum, Tmp(2)),
            I::Binary(BinaryOp::Div, Tmp(2), Tmp(3)),
            I::Reduce(ReduceOp::Min, Tmp(4)),
        ];
        progs.push(FusedProgram {
            dtype,
            inputs: 1,
            full: vec![false, true, true, false, true, false],
            outputs: vec![4, 5],
            code: softmax,
            rowwise: true,
        });
    }
    for p in progs {
        out.push(source(&p).expect("the catalog's programs are valid"));
    }
}

/// Runs a fused program on CUDA inputs (each with its layout broadcast to the group's full
/// shape of `n` elements, rows of `cols`); the outputs, in `p.outputs`' order (full-width ones
/// of `n` elements, per-row ones of `n / cols`). The kernel is compiled once per structure.
pub fn run(
    p: &FusedProgram,
    inputs: &[(&CudaStorage, &Layout)],
    n: usize,
    cols: usize,
) -> Result<Vec<CudaStorage>> {
    let Some((first, _)) = inputs.first() else {
        return Err(Error::Msg("a fused group needs an input".into()));
    };
    let b = first.backend().clone();
    let k = source(p)?;
    let rows = if p.rowwise { n / cols.max(1) } else { n };
    let outs = p
        .outputs
        .iter()
        .map(|&o| CudaStorage::alloc(&b, if p.full[o] { n } else { rows }, p.dtype))
        .collect::<Result<Vec<_>>>()?;
    let mut args = vec![Arg::I64(rows as i64), Arg::I64(cols as i64)];
    for (s, l) in inputs {
        args.push(Arg::L(KLayout::new(l)?));
        args.push(Arg::Ptr(s.ptr()));
    }
    args.extend(outs.iter().map(|o| Arg::Ptr(o.ptr())));
    let f = b.function(&k.name, || k.code.clone())?;
    let cfg = if p.rowwise {
        // one block of 256 threads per row
        LaunchConfig {
            grid_dim: (rows.clamp(1, 65535 * 8) as u32, 1, 1),
            block_dim: (256, 1, 1),
            shared_mem_bytes: 0,
        }
    } else {
        grid(n)
    };
    if n > 0 {
        launch(&b, &f, cfg, &args)?;
    }
    Ok(outs)
}
