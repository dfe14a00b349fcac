//! Traced functions and CPU fusion (issue 18). Prints one `name value unit` line per figure,
//! after the CPU model; one thread throughout. Figures are printed, never asserted.
//!
//! - the GELU tanh chain `0.5 * x * (1 + tanh(0.7978845608 * (x + 0.044715 * x * x * x)))`
//!   written as 9 separate ops on 16M f32: eager, traced (`function`), traced + `jit_compile`;
//! - layer normalisation written out (mean, centre, variance, rsqrt, scale, shift) on
//!   (4096, 1024) f32, the same three ways;
//! - the overhead of a traced 21-op function on an 8-element tensor against the 21 ops eagerly.

mod common;

use common::{cpu_model, time};
use ferrolab::prelude::*;

fn gelu(x: &Tensor) -> Tensor {
    0.5 * x * (1.0 + (0.7978845608 * (x + 0.044715 * x * x * x)).tanh())
}

fn layer_norm(x: &Tensor, gamma: &Tensor, beta: &Tensor) -> Tensor {
    let mean = x.mean_axis(-1, true);
    let d = x - &mean;
    let var = (&d * &d).mean_axis(-1, true);
    d * (var + 1e-5).rsqrt() * gamma + beta
}

/// 21 small ops in a chain.
fn chain21(x: &Tensor) -> Tensor {
    let mut y = x.clone();
    for _ in 0..7 {
        y = ((&y * 0.9) + 0.1).tanh();
    }
    y
}

/// Prints the eager / traced / fused times of `f` on `args` and the fused result's max error.
fn three_ways(name: &str, reps: usize, f: fn(&[Tensor]) -> Tensor, args: &[Tensor]) {
    let traced = Function::from_slice(args.len(), f);
    let fused = Function::from_slice(args.len(), f).jit_compile(true);
    let refs: Vec<&Tensor> = args.iter().collect();
    let eager_s = time(reps, || drop(f(args)));
    let traced_s = time(reps, || drop(traced.call(refs.as_slice())));
    let fused_s = time(reps, || drop(fused.call(refs.as_slice())));
    let want = f(args).to_vec::<f32>();
    let got = fused.call(refs.as_slice()).to_vec::<f32>();
    let err = want
        .iter()
        .zip(&got)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    let groups = fused.concrete_functions()[0].fused_groups();
    println!("{name}_eager {:.1} ms", eager_s * 1e3);
    println!("{name}_traced {:.1} ms", traced_s * 1e3);
    println!("{name}_fused {:.1} ms", fused_s * 1e3);
    println!("{name}_fused_speedup {:.2} x_eager", eager_s / fused_s);
    println!("{name}_fused_groups {groups:?} ops_per_group");
    println!("{name}_fused_max_abs_err {err:e} abs");
}

fn main() {
    ferrolab::state::set_num_threads(1);
    set_seed(0);
    println!("cpu {}", cpu_model());

    let x = randn([16 * 1024 * 1024]);
    // what one op of the chain costs alone: tanh (libm, per element) and a multiply
    println!("tanh_16M_eager {:.1} ms", time(5, || drop(x.tanh())) * 1e3);
    println!("mul_16M_eager {:.1} ms", time(5, || drop(&x * &x)) * 1e3);
    three_ways("gelu_16M", 5, |a| gelu(&a[0]), &[x]);

    let (x, g, b) = (randn([4096, 1024]), randn([1024]), randn([1024]));
    three_ways(
        "layernorm_4096x1024",
        5,
        |a| layer_norm(&a[0], &a[1], &a[2]),
        &[x, g, b],
    );

    let x = randn([8]);
    let f = function(chain21);
    let ops = {
        f.call(&x);
        f.concrete_functions()[0].op_count()
    };
    let reps = 201;
    let per = |s: f64| s / 200.0 * 1e9;
    let eager = time(reps, || {
        for _ in 0..200 {
            drop(chain21(&x));
        }
    });
    let traced = time(reps, || {
        for _ in 0..200 {
            drop(f.call(&x));
        }
    });
    println!("small_chain_ops {ops} ops");
    println!("small_chain_eager {:.0} ns_per_call", per(eager));
    println!("small_chain_traced {:.0} ns_per_call", per(traced));
}
