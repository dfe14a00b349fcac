//! CI compile check of the CUDA backend: every kernel source the engine can generate
//! (`storage::cuda::all_sources()`, a pure function: no driver, no GPU) is compiled with NVIDIA's
//! NVRTC from PyPI (`nvidia-cuda-nvrtc`, pinned in requirements.txt, installed into .venv by
//! install.sh and found there by the engine itself):
//!
//! - to PTX for compute_80 (A100) and compute_90 (H100/H200);
//! - to SASS (a CUBIN) for sm_90, with ptxas' `-v` report: any register spill fails the test.
//!
//! This is a real compiler check, not a GPU result: nothing runs on a device here. It proves
//! that every kernel builds and fits its registers, not that it computes the right numbers (the
//! `cuda_ops` / `test_device!` tests do that on a GPU).

use std::sync::Mutex;
use std::time::Instant;

use ferrolab::storage::cuda::compile::{self, Target};
use ferrolab::storage::cuda::{all_sources, libs, KernelSource};

/// One compilation to do: a source and a target.
#[derive(Clone, Copy)]
enum Job {
    Ptx(&'static str),
    Sass(&'static str),
}

const JOBS: [Job; 3] = [
    Job::Ptx("compute_80"),
    Job::Ptx("compute_90"),
    Job::Sass("sm_90"),
];

/// Compiles `k` for `job`; the failure (compile error or spill) as a message.
fn check(k: &KernelSource, job: Job) -> Result<(), String> {
    match job {
        Job::Ptx(arch) => {
            let c = compile::compile(&k.name, &k.code, Target::Ptx(arch))
                .map_err(|log| format!("{} for {arch}: {log}", k.name))?;
            let ptx = String::from_utf8_lossy(&c.image);
            if !ptx.contains(&format!(".entry {}(", k.name)) {
                return Err(format!(
                    "{} for {arch}: no `.entry {}` in the PTX",
                    k.name, k.name
                ));
            }
            Ok(())
        }
        Job::Sass(arch) => {
            let c = compile::compile(
                &k.name,
                &k.code,
                Target::Cubin {
                    arch,
                    verbose: true,
                },
            )
            .map_err(|log| format!("{} for {arch}: {log}", k.name))?;
            // a CUBIN is an ELF file
            if !c.image.starts_with(b"\x7fELF") {
                return Err(format!(
                    "{} for {arch}: the CUBIN is not an ELF image",
                    k.name
                ));
            }
            let report = compile::spills(&c.log);
            if !report.iter().any(|s| s.function == k.name) {
                return Err(format!(
                    "{} for {arch}: no ptxas report for it:\n{}",
                    k.name, c.log
                ));
            }
            for s in report {
                if s.spill_stores > 0 || s.spill_loads > 0 {
                    return Err(format!(
                        "{} for {arch}: register spill in `{}` ({} bytes stored, {} loaded)",
                        k.name, s.function, s.spill_stores, s.spill_loads
                    ));
                }
            }
            Ok(())
        }
    }
}

#[test]
fn every_kernel_source_compiles_for_compute_80_compute_90_and_sm_90_without_spills() {
    let t0 = Instant::now();
    let opened = libs::preload();
    let (major, minor) = compile::nvrtc_version().unwrap_or_else(|why| {
        panic!(
            "NVRTC is needed for the CUDA kernel compile check and was not found ({why}). \
             Run ./install.sh (it installs requirements.txt's nvidia-cuda-nvrtc into .venv)"
        )
    });
    let sources = all_sources();
    assert!(!sources.is_empty());
    // the fused groups of `jit_compile` (every fusable op, f32/f16/bf16, broadcasts, rows)
    let fused = sources
        .iter()
        .filter(|k| k.name.starts_with("fused_"))
        .count();
    assert_eq!(fused, 12, "4 fused programs x 3 float dtypes");
    let work: Vec<(usize, Job)> = (0..sources.len())
        .flat_map(|i| JOBS.iter().map(move |&j| (i, j)))
        .collect();
    let next = Mutex::new(0usize);
    let failures = Mutex::new(Vec::<String>::new());
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 8);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = {
                    let mut n = next.lock().unwrap();
                    *n += 1;
                    *n - 1
                };
                let Some(&(k, job)) = work.get(i) else { break };
                if let Err(e) = check(&sources[k], job) {
                    failures.lock().unwrap().push(e);
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "CUDA kernel compile check (a real NVRTC {major}.{minor} compile on the CPU, not a GPU \
         result): {} kernel sources x {{compute_80 PTX, compute_90 PTX, sm_90 SASS}} = {} \
         compilations, {} failed, no register spills allowed; {threads} threads, {secs:.1} s \
         (NVRTC from {})",
        sources.len(),
        work.len(),
        failures.len(),
        opened
            .iter()
            .find(|p| p.to_string_lossy().contains("nvrtc"))
            .map_or("the loader's path".into(), |p| p.display().to_string()),
    );
    assert!(
        failures.is_empty(),
        "{} of {} kernel compilations failed:\n{}",
        failures.len(),
        work.len(),
        failures.join("\n\n")
    );
}

/// The check bites: a compile error and a kernel that must spill (64 live accumulators in the
/// 32 registers `__launch_bounds__(1024, 2)` leaves) both fail it.
#[test]
fn the_check_rejects_a_compile_error_and_a_register_spill() {
    libs::preload();
    if let Err(why) = compile::nvrtc_version() {
        panic!("NVRTC not found ({why}); run ./install.sh");
    }
    let broken = KernelSource {
        name: "broken".into(),
        code: "extern \"C\" __global__ void broken(float* p) { p[0] = undeclared; }".into(),
    };
    // the archs this NVRTC knows, as the backend reads them to pick its target
    let archs = compile::supported_archs().expect("nvrtcGetSupportedArchs");
    assert!(archs.contains(&80) && archs.contains(&90), "{archs:?}");
    assert_eq!(compile::arch_for(90, &archs), Some(90));
    let e = check(&broken, Job::Ptx("compute_80")).unwrap_err();
    assert!(e.contains("undeclared"), "NVRTC's log names the error: {e}");
    let spill = KernelSource {
        name: "spill".into(),
        code: "extern \"C\" __global__ void __launch_bounds__(1024, 2) spill(const float* a, float* out, int n) {
  float acc[64];
  #pragma unroll
  for (int j = 0; j < 64; ++j) acc[j] = a[j * n + threadIdx.x];
  for (int i = 0; i < n; ++i) {
    #pragma unroll
    for (int j = 0; j < 64; ++j) acc[j] = acc[j] * acc[(j + 1) & 63] + a[i * 64 + j];
  }
  float s = 0.f;
  #pragma unroll
  for (int j = 0; j < 64; ++j) s += acc[j] * (j + 1);
  out[threadIdx.x] = s;
}"
        .into(),
    };
    check(&spill, Job::Ptx("compute_90")).expect("the PTX itself is fine");
    let e = check(&spill, Job::Sass("sm_90")).unwrap_err();
    assert!(e.contains("register spill in `spill`"), "{e}");
}

/// Fused kernels are cached by structure: the same program gives the same name and source,
/// another dtype or another op another name; a row program reduces with block shuffles.
#[test]
fn fused_kernels_are_named_by_their_structure() {
    use ferrolab::dtype::DType;
    use ferrolab::storage::cuda::fused::{source, FInstr, FReg, FusedProgram};
    use ferrolab::storage::{BinaryOp, ReduceOp, UnaryOp};
    let prog = |dtype, u| FusedProgram {
        dtype,
        inputs: 2,
        code: vec![
            FInstr::Binary(BinaryOp::Mul, FReg::In(0), FReg::In(1)),
            FInstr::Unary(u, FReg::Tmp(0)),
            FInstr::Reduce(ReduceOp::Sum, FReg::Tmp(1)),
        ],
        full: vec![true, true, false],
        outputs: vec![2],
        rowwise: true,
    };
    let a = source(&prog(DType::F32, UnaryOp::Exp)).unwrap();
    let b = source(&prog(DType::F32, UnaryOp::Exp)).unwrap();
    assert_eq!((&a.name, &a.code), (&b.name, &b.code));
    assert_ne!(
        a.name,
        source(&prog(DType::F16, UnaryOp::Exp)).unwrap().name
    );
    assert_ne!(
        a.name,
        source(&prog(DType::F32, UnaryOp::Tanh)).unwrap().name
    );
    assert!(a.code.contains(&format!("void {}(", a.name)));
    assert!(a.code.contains("block_sum(acc2, sh)") && a.code.contains("expf(x)"));
    let half = source(&prog(DType::BF16, UnaryOp::Exp)).unwrap();
    assert!(half.code.contains("bf2f(a0[off(l0, i)])"), "{}", half.code);
}
