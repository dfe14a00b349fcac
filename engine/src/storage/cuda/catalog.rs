//! Every kernel source the CUDA backend can generate, as a pure function of the backend: no
//! driver, no GPU, no NVRTC. The CI compile check (`engine/tests/cuda_kernels_compile.rs`)
//! compiles each of them with NVIDIA's NVRTC, so a kernel that would fail to build on a GPU
//! fails on a plain CPU machine first.
//!
//! Each op file keeps its own `*_name` / `*_code` pair, which its launch site also uses (the
//! cache is keyed by name, so one name always means one source). A new generator (fusion, say)
//! adds one function to [`GENERATORS`] that pushes the sources it can produce.

use super::{elementwise as ew, index, matmul, optim, random, reduce};
use crate::dtype::DType;
use crate::storage::{BinaryOp, CmpOp, ReduceOp, UnaryOp, UpdateRule};

/// One complete kernel program (prelude included) and the `extern "C"` function it defines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelSource {
    pub name: String,
    pub code: String,
}

/// Every dtype a tensor can have.
const DTYPES: [DType; 5] = [DType::F32, DType::F16, DType::BF16, DType::I64, DType::Bool];
const FLOATS: [DType; 3] = [DType::F32, DType::F16, DType::BF16];

/// The generators, one per family of kernels. Later generators (fusion) add theirs here.
pub const GENERATORS: &[fn(&mut Vec<KernelSource>)] = &[
    elementwise,
    reductions,
    indexing,
    updates,
    fixed,
    super::fused::catalog,
];

/// Every kernel source the backend can generate, in a fixed order, each name once.
pub fn all_sources() -> Vec<KernelSource> {
    let mut out = Vec::new();
    for g in GENERATORS {
        g(&mut out);
    }
    out
}

fn push(out: &mut Vec<KernelSource>, name: String, code: String) {
    out.push(KernelSource { name, code });
}

/// The unary ops a fused group may hold (the erf family and logical ops run alone).
pub(super) fn fusable_unary_ops() -> Vec<UnaryOp> {
    UnaryOp::ALL
        .into_iter()
        .filter(|u| {
            !matches!(
                u,
                UnaryOp::Gelu | UnaryOp::GeluGrad | UnaryOp::Erf | UnaryOp::LogicalNot
            )
        })
        .collect()
}

fn elementwise(out: &mut Vec<KernelSource>) {
    use BinaryOp as B;
    use CmpOp as C;
    for d in DTYPES {
        for op in UnaryOp::ALL {
            if let Ok((tag, e, _, _)) = ew::unary_expr(op, d) {
                let name = ew::unary_name(&tag, d);
                let code = ew::unary_code(&name, d, &e);
                push(out, name, code);
            }
        }
        let binary = [
            B::Add,
            B::Sub,
            B::Mul,
            B::Div,
            B::Maximum,
            B::Minimum,
            B::Pow,
            B::LogicalAnd,
            B::LogicalOr,
        ];
        for op in binary {
            if let Some((name, body)) = ew::binary_kernel(op, d) {
                let code = ew::zip_code(&name, d, &body, d);
                push(out, name, code);
            }
        }
        for op in [C::Eq, C::Ne, C::Lt, C::Le, C::Gt, C::Ge] {
            let (name, body) = ew::cmp_kernel(op, d);
            let code = ew::zip_code(&name, d, &body, DType::Bool);
            push(out, name, code);
        }
        let name = ew::where_name(d);
        let code = ew::where_code(&name, d);
        push(out, name, code);
        for to in DTYPES {
            let name = ew::cast_name(d, to);
            let code = ew::cast_code(&name, d, to);
            push(out, name, code);
        }
        let name = ew::copy_into_name(d);
        let code = ew::copy_into_code(&name, d);
        push(out, name, code);
    }
}

fn reductions(out: &mut Vec<KernelSource>) {
    use ReduceOp as R;
    for d in DTYPES {
        for op in [R::Sum, R::Max, R::Min, R::ArgMax, R::ArgMin] {
            let name = reduce::reduce_name(op, d);
            if let Ok(code) = reduce::reduce_code(&name, op, d) {
                push(out, name, code);
            }
        }
    }
}

fn indexing(out: &mut Vec<KernelSource>) {
    for d in DTYPES {
        let name = format!("index_select_{}", d.as_str());
        let code = index::index_select_code(&name, d);
        push(out, name, code);
        if let Some((acc_t, add)) = index::atomic_add(d) {
            let name = format!("index_add_{}", d.as_str());
            let code = index::index_add_code(&name, d, acc_t, add);
            push(out, name, code);
        }
        let name = format!("im2col_{}", d.as_str());
        let code = index::im2col_code(&name, d);
        push(out, name, code);
        let name = format!("col2im_{}", d.as_str());
        let code = index::col2im_code(&name, d);
        push(out, name, code);
    }
}

/// One rule per optimizer kernel (the numbers are kernel arguments, not part of the source).
fn updates(out: &mut Vec<KernelSource>) {
    let rules = [
        (
            UpdateRule::Sgd {
                lr: 0.1,
                momentum: 0.0,
                nesterov: false,
            },
            0,
        ),
        (
            UpdateRule::Sgd {
                lr: 0.1,
                momentum: 0.9,
                nesterov: true,
            },
            1,
        ),
        (
            UpdateRule::Adam {
                lr: 1e-3,
                beta1: 0.9,
                beta2: 0.999,
                epsilon: 1e-7,
                t: 1,
                weight_decay: 0.0,
            },
            2,
        ),
        (
            UpdateRule::RmsProp {
                lr: 1e-3,
                rho: 0.9,
                epsilon: 1e-7,
                momentum: 0.0,
            },
            1,
        ),
        (
            UpdateRule::RmsProp {
                lr: 1e-3,
                rho: 0.9,
                epsilon: 1e-7,
                momentum: 0.9,
            },
            2,
        ),
    ];
    for (rule, slots) in rules {
        let (tag, body, _, _) = optim::rule_kernel(rule, slots);
        for p in FLOATS {
            for g in FLOATS {
                let name = optim::update_name(tag, p, g);
                let code = optim::update_code(&name, body, p, g);
                push(out, name, code);
            }
        }
    }
}

/// Kernels with one fixed source: the int64 matmul, cuRAND's uniform mapping, the probe.
fn fixed(out: &mut Vec<KernelSource>) {
    push(out, matmul::MATMUL_I64.into(), matmul::matmul_i64_code());
    push(out, random::UNIFORM_KERNEL.into(), random::uniform_code());
    push(
        out,
        super::backend::PROBE.into(),
        super::backend::probe_code(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_source_defines_its_kernel_once_under_a_unique_name() {
        let all = all_sources();
        let mut names: Vec<&str> = all.iter().map(|k| k.name.as_str()).collect();
        names.sort_unstable();
        let n = names.len();
        names.dedup();
        assert_eq!(
            names.len(),
            n,
            "two kernels share a name (the cache is keyed by name)"
        );
        for k in &all {
            let sig = format!("__global__ void {}(", k.name);
            assert_eq!(k.code.matches(&sig).count(), 1, "{}: {}", k.name, k.code);
            assert!(
                k.code.contains("struct L {"),
                "{} lacks the prelude",
                k.name
            );
        }
        // 5 dtypes x (unary, binary, cmp, where, cast, copy) + reductions + indexing + 45
        // updates + 3 fixed kernels; the exact count changes when a generator grows.
        assert!(n > 250, "only {n} kernel sources");
    }

    #[test]
    fn sources_match_the_launch_sites() {
        // The source the launch site of f16 `exp` would compile is the catalog's.
        let (tag, e, _, _) = ew::unary_expr(UnaryOp::Exp, DType::F16).unwrap();
        let name = ew::unary_name(&tag, DType::F16);
        assert_eq!(name, "unary_exp_float16");
        let k = all_sources().into_iter().find(|k| k.name == name).unwrap();
        assert_eq!(k.code, ew::unary_code(&name, DType::F16, &e));
        assert!(k.code.contains("h2f(a[off(la, i)])") && k.code.contains("f2h("));
    }
}
