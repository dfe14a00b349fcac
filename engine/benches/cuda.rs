//! CUDA backend figures (issue 7). Prints one `name value unit` line per figure, or a skip line
//! when no GPU is usable. `tests/gpu_check.sh` runs it on the device machine and compares with
//! PyTorch when torch is importable there.
//!
//! - bf16 and f16 matmul 8192x8192x8192 (TFLOP/s);
//! - f32 add of 256M elements (GB/s, 2 reads + 1 write) vs a device-to-device copy (GB/s);
//! - eager op overhead: `a + b` on 1-element GPU tensors, queued (median us per op);
//! - cuRAND: 64M normal and uniform float32 draws (Gsamples/s);
//! - host-to-device copies of 256 MB through the pinned staging buffers (GB/s), and how long
//!   the calling thread is held per copy (the rest overlaps);
//! - the digits MLP (64-128-64-10, batch 32, Adam) and a 784-1024-1024-10 MLP at batch 256 on
//!   synthetic data, trained with `fit` on the GPU (steps/s).

use std::time::Instant;

use ferrolab::device::Device;
use ferrolab::prelude::*;
use ferrolab::runtime::synchronize;
use ferrolab::shape::Layout;
use ferrolab::storage::{BackendStorage, BinaryOp, CpuStorage, CudaStorage};

/// Seconds per call of `f` over `reps` runs after one warm-up, with the GPU drained around it.
fn time_gpu(d: Device, reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    synchronize(d).expect("sync");
    let t = Instant::now();
    for _ in 0..reps {
        f();
    }
    synchronize(d).expect("sync");
    t.elapsed().as_secs_f64() / reps as f64
}

/// Runs one section; a failure prints its message and the bench goes on with the next one.
fn section(name: &str, f: impl FnOnce()) {
    if let Err(e) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        let msg = e
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        println!("FAILED {name}: {msg}");
    }
}

fn matmul_half(d: Device, dtype: DType) {
    let n = 8192usize;
    let a = CpuStorage::from_f32(vec![0.5; n * n], dtype);
    let (ga, gb) = (
        CudaStorage::from_cpu(&a, d).unwrap(),
        CudaStorage::from_cpu(&a, d).unwrap(),
    );
    let l = Layout::contiguous([1, n, n]);
    let s = time_gpu(d, 10, || {
        ga.matmul(&l, &gb, &l).unwrap();
    });
    let tag = if dtype == DType::BF16 { "bf16" } else { "f16" };
    println!(
        "matmul_{tag}_8192_tflops {:.1} TFLOP/s",
        2.0 * (n as f64).powi(3) / s / 1e12
    );
}

fn bandwidth(d: Device) {
    let n = 256usize << 20;
    let z = CpuStorage::zeros(n, DType::F32);
    let (a, b) = (
        CudaStorage::from_cpu(&z, d).unwrap(),
        CudaStorage::from_cpu(&z, d).unwrap(),
    );
    drop(z);
    let l = Layout::contiguous([n]);
    let bytes = (n * 4) as f64;
    let s_add = time_gpu(d, 10, || {
        a.binary(&l, &b, &l, BinaryOp::Add).unwrap();
    });
    let s_copy = time_gpu(d, 10, || {
        a.copy_strided(&l).unwrap();
    });
    let (add, copy) = (3.0 * bytes / s_add / 1e9, 2.0 * bytes / s_copy / 1e9);
    println!("add_f32_256M_gbps {add:.0} GB/s");
    println!("copy_d2d_256M_gbps {copy:.0} GB/s");
    println!("add_vs_copy_ratio {:.2}", add / copy);
}

fn overhead(d: Device) {
    let a = from_vec(vec![1f32], [1]).unwrap().to(d);
    let b = from_vec(vec![2f32], [1]).unwrap().to(d);
    let reps = 20000;
    let s = time_gpu(d, reps, || {
        std::hint::black_box(&a + &b);
    });
    println!("eager_op_overhead_us {:.2} us", s * 1e6);
}

fn random(d: Device) {
    use ferrolab::tensor::create::{normal_on, uniform_on};
    let n = 64usize << 20;
    let s = time_gpu(d, 10, || {
        normal_on([n], 0.0, 1.0, Some(1), d).unwrap();
    });
    println!("randn_f32_64M_gsamples_per_s {:.1} G/s", n as f64 / s / 1e9);
    let s = time_gpu(d, 10, || {
        uniform_on([n], 0.0, 1.0, Some(1), d).unwrap();
    });
    println!("rand_f32_64M_gsamples_per_s {:.1} G/s", n as f64 / s / 1e9);
    match ferrolab::storage::cuda::random::status(d) {
        Ok(()) => println!("random_on_gpu curand"),
        Err(e) => println!("random_on_gpu host fallback ({e})"),
    }
}

fn upload(d: Device) {
    let n = 64usize << 20;
    let c = CpuStorage::F32(vec![1.0; n]);
    let bytes = (n * 4) as f64;
    let reps = 5;
    let mut held = 0.0;
    let s = time_gpu(d, reps, || {
        let t = Instant::now();
        std::hint::black_box(CudaStorage::from_cpu(&c, d).unwrap());
        held += t.elapsed().as_secs_f64();
    });
    println!("h2d_upload_256MB_gbps {:.1} GB/s", bytes / s / 1e9);
    println!(
        "h2d_upload_256MB_host_ms {:.1} ms per copy on the calling thread",
        held / (reps + 1) as f64 * 1e3
    );
}

fn digits_mlp(d: Device) {
    set_default_device(d);
    set_seed(0);
    let (train, _test) = datasets::digits().split(1500, 42);
    let mut model = Sequential::new()
        .add(Dense::new(128).activation("relu"))
        .add(Dense::new(64).activation("relu"))
        .add(Dense::new(10))
        .input_shape([64]);
    model.compile(
        Adam::new(1e-3),
        SparseCategoricalCrossentropy::from_logits(),
        &["accuracy"],
    );
    model
        .fit(&train.x, &train.y)
        .epochs(1)
        .batch_size(32)
        .verbose(0)
        .run();
    let epochs = 5;
    let t = Instant::now();
    model
        .fit(&train.x, &train.y)
        .epochs(epochs)
        .batch_size(32)
        .verbose(0)
        .run();
    synchronize(d).unwrap();
    let steps = epochs * 1500usize.div_ceil(32);
    println!(
        "digits_mlp_gpu_steps_per_s {:.0} steps/s",
        steps as f64 / t.elapsed().as_secs_f64()
    );
}

fn big_mlp(d: Device) {
    set_default_device(d);
    set_seed(0);
    let n = 256 * 40;
    let x = randn([n, 784]);
    let y = from_vec((0..n as i64).map(|i| i % 10).collect::<Vec<_>>(), [n]).unwrap();
    let mut model = Sequential::new()
        .add(Dense::new(1024).activation("relu"))
        .add(Dense::new(1024).activation("relu"))
        .add(Dense::new(10))
        .input_shape([784]);
    model.compile(
        Adam::new(1e-3),
        SparseCategoricalCrossentropy::from_logits(),
        &["accuracy"],
    );
    model.fit(&x, &y).epochs(1).batch_size(256).verbose(0).run();
    let epochs = 3;
    let t = Instant::now();
    model
        .fit(&x, &y)
        .epochs(epochs)
        .batch_size(256)
        .verbose(0)
        .run();
    synchronize(d).unwrap();
    let steps = epochs * n / 256;
    println!(
        "mlp_784_1024_1024_10_b256_steps_per_s {:.0} steps/s",
        steps as f64 / t.elapsed().as_secs_f64()
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let d = match ferrolab::storage::cuda::backend(0) {
        Ok(b) => {
            println!("gpu {}", b.info);
            Device::Cuda(0)
        }
        Err(reason) => {
            println!("skipped: no CUDA device ({reason})");
            return;
        }
    };
    section("matmul_bf16", || matmul_half(d, DType::BF16));
    section("matmul_f16", || matmul_half(d, DType::F16));
    section("bandwidth", || bandwidth(d));
    section("overhead", || overhead(d));
    section("random", || random(d));
    section("upload", || upload(d));
    section("digits_mlp", || digits_mlp(d));
    section("big_mlp", || big_mlp(d));
    if let Some(s) = ferrolab::runtime::memory_stats(d) {
        println!(
            "memory_peak_gib {:.2} GiB",
            s.peak_allocated as f64 / (1u64 << 30) as f64
        );
        println!("device_allocs {}", s.device_allocs);
        println!("pinned_staging_mib {}", s.pinned_staging >> 20);
    }
}
