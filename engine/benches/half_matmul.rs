//! 16-bit matmul on the CPU (issue 17): f16 and bf16 against f32 at 1024^3, one thread, in the
//! same run. Prints the CPU model and one `name value unit` line per figure.
//!
//! - `tensor_*`: `Tensor::matmul` as the engine runs it for each dtype;
//! - `gemm_f16_kernel`: the `gemm` crate's own f16 kernel (f16 in, f16 out);
//! - `convert_f16_to_f32`: the f16 operands widened to f32, the f32 kernel, the result rounded
//!   back to f16 (the conversions are timed too).
//!
//!     cargo bench -p ferrolab --bench half_matmul

mod common;

use common::{cpu_model, time};
use ferrolab::prelude::*;
use gemm::{gemm, Parallelism};

/// c (n x n, row-major) = a @ b with the gemm crate, one thread.
fn gemm_square<T: 'static + Copy>(n: usize, a: &[T], b: &[T], c: &mut [T], zero: T, one: T) {
    // SAFETY: a, b and c hold n*n elements each, row-major (row stride n, column stride 1).
    unsafe {
        gemm(
            n,
            n,
            n,
            c.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr(),
            1,
            n as isize,
            b.as_ptr(),
            1,
            n as isize,
            zero,
            one,
            false,
            false,
            false,
            Parallelism::None,
        )
    }
}

fn main() {
    ferrolab::state::set_num_threads(1);
    set_seed(0);
    let n = 1024usize;
    let gflops = |s: f64| 2.0 * (n as f64).powi(3) / s / 1e9;
    println!("cpu {}", cpu_model());

    let a = randn([n, n]);
    let b = randn([n, n]);
    let mut f32_gf = 0.0;
    for dtype in [DType::F32, DType::F16, DType::BF16] {
        let (x, y) = (a.cast(dtype), b.cast(dtype));
        let s = time(7, || {
            std::hint::black_box(x.matmul(&y));
        });
        if dtype == DType::F32 {
            f32_gf = gflops(s);
        }
        println!(
            "tensor_{dtype}_matmul_{n} {:.1} GFLOP/s ({:.2}x f32)",
            gflops(s),
            gflops(s) / f32_gf
        );
    }

    let a16: Vec<f16> = a.cast(DType::F16).to_vec();
    let b16: Vec<f16> = b.cast(DType::F16).to_vec();
    let mut c16 = vec![f16::ZERO; n * n];
    let s = time(7, || {
        gemm_square(n, &a16, &b16, &mut c16, f16::ZERO, f16::ONE)
    });
    println!(
        "gemm_f16_kernel_{n} {:.1} GFLOP/s ({:.2}x f32)",
        gflops(s),
        gflops(s) / f32_gf
    );
    let mut c32 = vec![0f32; n * n];
    let s = time(7, || {
        let a32: Vec<f32> = a16.iter().map(|v| v.to_f32()).collect();
        let b32: Vec<f32> = b16.iter().map(|v| v.to_f32()).collect();
        gemm_square(n, &a32, &b32, &mut c32, 0.0, 1.0);
        c16.iter_mut()
            .zip(&c32)
            .for_each(|(o, &v)| *o = f16::from_f32(v));
    });
    println!(
        "convert_f16_to_f32_{n} {:.1} GFLOP/s ({:.2}x f32)",
        gflops(s),
        gflops(s) / f32_gf
    );
}
