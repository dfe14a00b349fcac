//! Engine core benchmarks (issue 2). Prints one `name value unit` line per figure; run
//! `tests/bench_engine.py` to compare with NumPy (OpenBLAS, one thread) in the same run.
//!
//! - f32 matmul at 512, 1024, 2048 square on one thread (GFLOP/s);
//! - elementwise add of two 16M f32 tensors (GB/s moved, counting 2 reads + 1 write);
//! - dispatch overhead of an op on a 1-element tensor, allocation included (median ns);
//! - forward + backward of a 64-128-64-10 MLP on a batch of 32 with GradientTape (median us).

mod common;

use std::time::Instant;

use common::{median, time};
use ferrolab::prelude::*;

fn main() {
    ferrolab::state::set_num_threads(1);
    set_seed(0);

    for n in [512usize, 1024, 2048] {
        let a = randn([n, n]);
        let b = randn([n, n]);
        let reps = if n >= 2048 { 3 } else { 7 };
        let s = time(reps, || {
            std::hint::black_box(a.matmul(&b));
        });
        println!(
            "matmul_{n}_gflops {:.1} GFLOP/s",
            2.0 * (n as f64).powi(3) / s / 1e9
        );
    }

    let n = 16 * 1024 * 1024;
    let a = randn([n]);
    let b = randn([n]);
    let s = time(15, || {
        std::hint::black_box(&a + &b);
    });
    println!("add_16m_ms {:.2} ms", s * 1e3);
    println!("add_16m_gbs {:.1} GB/s", 3.0 * 4.0 * n as f64 / s / 1e9);

    let x = tensor([1.0f32]);
    let y = tensor([2.0f32]);
    let per_op: Vec<f64> = (0..200)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..1000 {
                std::hint::black_box(&x + &y);
            }
            t.elapsed().as_secs_f64() / 1000.0
        })
        .collect();
    println!("dispatch_add_1elem_ns {:.0} ns", median(per_op) * 1e9);

    // 64-128-64-10 MLP, batch 32, softmax cross-entropy, gradients of all 6 parameters.
    let (b_, d_in) = (32, 64);
    let w1 = Variable::new(normal([64, 128], 0.0, 0.1, Some(1)));
    let b1 = Variable::new(zeros([128]));
    let w2 = Variable::new(normal([128, 64], 0.0, 0.1, Some(2)));
    let b2 = Variable::new(zeros([64]));
    let w3 = Variable::new(normal([64, 10], 0.0, 0.1, Some(3)));
    let b3 = Variable::new(zeros([10]));
    let xb = normal([b_, d_in], 0.0, 1.0, Some(4));
    let labels = tensor((0..b_ as i64).map(|i| i % 10).collect::<Vec<_>>());
    let targets = one_hot(&labels, 10);
    let step = || {
        let tape = GradientTape::new();
        let h1 = (xb.matmul(&w1) + &b1).relu();
        let h2 = (h1.matmul(&w2) + &b2).relu();
        let logits = h2.matmul(&w3) + &b3;
        let loss = -(logits.log_softmax(-1) * &targets)
            .sum_axis(-1, false)
            .mean();
        let grads = tape.gradient(&loss, [&w1, &b1, &w2, &b2, &w3, &b3]);
        std::hint::black_box(grads);
    };
    for _ in 0..50 {
        step();
    }
    let s = time(500, step);
    println!("mlp_64_128_64_10_b32_fwd_bwd_us {:.1} us", s * 1e6);
}
