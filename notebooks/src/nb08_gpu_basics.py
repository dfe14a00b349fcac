"""08_gpu_basics: automatic placement, CPU (and GPU) matmul time over sizes on a log-log plot,
keeping the device fed. Explains and still runs on a machine without a GPU."""


def cells():
    return [
        ("md", r"""
# GPU basics: placement, speed, and keeping the device busy
"""),
        ("md", r"""
## Overview

TensorFlow 2 puts tensors on the GPU automatically when there is one; you rarely write
`with tf.device(...)`. Ferrolab does the same: `default_device()` is `cuda:0` when an NVIDIA GPU is
usable and the CPU otherwise, and `FERROLAB_DEVICE=cpu` (or `cuda:1`) overrides it.

**No GPU? Nothing to change.** On a machine without a usable NVIDIA GPU (or a Ferrolab build
without its CUDA backend) every tensor lives on the CPU and `:gpu` says "no GPU found; running on
CPU". This notebook runs either way: the GPU measurements are skipped when there is no GPU, and
everything else, including the lesson about keeping a device busy, is measured on the CPU.

You will:

* see where tensors are placed, and what asking for a missing GPU does;
* time matrix multiplication over sizes on a log-log plot, and read the throughput off it;
* measure why a device needs big batched operations rather than many tiny ones.
"""),
        ("md", r"""
## Setup
"""),
        ("code", r"""
:gpu
"""),
        ("code", r"""
use std::time::Instant;
set_seed(0);
let gpus = gpu_info();
let has_gpu = !gpus.is_empty();
println!("default device: {}; GPUs: {}", default_device(), gpus.len());
"""),
        ("md", r"""
## Automatic placement

New tensors go to the default device. Moving a tensor is `x.to(device)`; its `try_` twin returns
an error instead of panicking, which is how to ask for a GPU that may not be there:
"""),
        ("code", r"""
let x = randn([2, 3]);
println!("x lives on {}", x.device());
match x.try_to(Device::Cuda(0)) {
    Ok(on_gpu) => println!("copied to {}", on_gpu.device()),
    Err(e) => println!("no GPU here: {e}"),
}
"""),
        ("md", r"""
## Matrix multiplication over sizes

An n×n matmul costs 2n³ floating-point operations. For small n the fixed cost of launching
the operation dominates; for large n the time grows as n³ and the machine runs at its peak
throughput. On a log-log plot the large-n part is a straight line of slope 3. A GPU starts
slower (launch and copy overheads) and overtakes the CPU as n grows.
"""),
        ("code", r"""
/// The best of `reps` timings of an n x n matmul on `device`, in seconds.
fn matmul_seconds(n: usize, device: Device, reps: usize) -> f64 {
    let a = randn([n, n]).to(device);
    let b = randn([n, n]).to(device);
    let _ = a.matmul(&b).sum().item(); // warm-up (and wait for the result)
    (0..reps).map(|_| {
        let t = Instant::now();
        let _ = a.matmul(&b).sum().item();
        t.elapsed().as_secs_f64()
    }).fold(f64::INFINITY, f64::min)
}

let sizes = [16usize, 32, 64, 128, 256, 512, 1024];
let cpu_times: Vec<f64> = sizes.iter().map(|&n| matmul_seconds(n, Device::Cpu, if n >= 512 { 3 } else { 10 })).collect();
let gpu_times: Option<Vec<f64>> = has_gpu.then(|| sizes.iter().map(|&n| matmul_seconds(n, Device::Cuda(0), 10)).collect());
fn gflops(n: usize, seconds: f64) -> f64 {
    2.0 * (n as f64).powi(3) / seconds / 1e9
}
let mut table = Table::new(["n", "CPU ms", "CPU GFLOP/s", "GPU ms", "GPU GFLOP/s"]);
for (i, &n) in sizes.iter().enumerate() {
    let (g_ms, g_gf) = match &gpu_times {
        Some(g) => (format!("{:.3}", g[i] * 1e3), format!("{:.1}", gflops(n, g[i]))),
        None => ("-".to_string(), "-".to_string()),
    };
    table.push_row((n, format!("{:.3}", cpu_times[i] * 1e3), format!("{:.1}", gflops(n, cpu_times[i])), g_ms, g_gf));
}
table
"""),
        ("code", r"""
let ns: Vec<f64> = sizes.iter().map(|&n| n as f64).collect();
// n^3 through the largest CPU point: the slope the times should approach
let cubic: Vec<f64> = ns.iter().map(|n| cpu_times[sizes.len() - 1] * (n / 1024.0).powi(3)).collect();
// the GPU series only when there is a GPU
gpu_times.iter().fold(plot::plot(&ns, &cpu_times).label("CPU").marker("o"), |fig, g| fig.plot(&ns, g).label("GPU").marker("o"))
    .plot(&ns, &cubic).label("~ n^3").dashed()
    .xscale("log").yscale("log")
    .title("n x n matmul time")
    .xlabel("n").ylabel("seconds")
"""),
        ("md", r"""
## Keeping the device fed

Every operation has a fixed cost besides its arithmetic: dispatch, allocation, and on a GPU a
kernel launch of several microseconds. Twenty thousand operations on one number each pay it twenty
thousand times; one operation on twenty thousand numbers pays it once. This is why training uses
batches, why `tf.data` prefetches the next batch while the device computes, and why Ferrolab's
optimizers update every weight with one fused pass.
"""),
        ("code", r"""
const N: usize = 20_000;
let singles: Vec<Tensor> = (0..N).map(|i| tensor(i as f32)).collect();
let batched = arange(0.0, N as f32, 1.0);

// Best of a few runs each, so a busy machine does not decide the result.
let (mut one_at_a_time, mut small_sum) = (f64::INFINITY, 0.0f64);
for _ in 0..3 {
    let t = Instant::now();
    small_sum = 0.0;
    for s in &singles {
        small_sum += (s * 2.0 + 1.0).item() as f64;
    }
    one_at_a_time = one_at_a_time.min(t.elapsed().as_secs_f64());
}
let (mut all_at_once, mut big_sum) = (f64::INFINITY, 0.0f64);
for _ in 0..20 {
    let t = Instant::now();
    big_sum = (&batched * 2.0 + 1.0).sum().item() as f64;
    all_at_once = all_at_once.min(t.elapsed().as_secs_f64());
}

let batching_speedup = one_at_a_time / all_at_once;
println!("{N} tiny ops: {:.2} ms; one batched op: {:.3} ms; {batching_speedup:.0}x faster", one_at_a_time * 1e3, all_at_once * 1e3);
plot::bar(["one element at a time", "one batched op"], [one_at_a_time * 1e3, all_at_once * 1e3])
    .yscale("log")
    .title("The same arithmetic, two ways")
    .ylabel("ms (log)")
"""),
        ("md", r"""
On a GPU the last step of an input pipeline copies each batch to the device ahead of time:
`prefetch_to_device(default_device(), 2)`. On the CPU it is a plain prefetch, so the same code
runs on both:
"""),
        ("code", r"""
let feed = Dataset::from_tensor_slices(randn([1024, 32])).batch(128).prefetch_to_device(default_device(), 2);
let devices: Vec<String> = feed.iter().map(|b| b.device().to_string()).collect();
println!("{} batches on {:?}", devices.len(), devices[0]);
"""),
        ("md", r"""
## Exercise check

Time grows with n roughly as n³ at large sizes (a log-log slope near 3, well above 1.5 even on a
busy machine), and batching the same arithmetic is more than ten times faster than doing it one
element at a time. With a GPU, the default device must be it.
"""),
        ("code", r"""
let slope = (cpu_times[6] / cpu_times[4]).ln() / (1024.0f64 / 256.0).ln();
println!("log-log slope between n = 256 and 1024: {slope:.2}");
assert!(slope > 1.5, "matmul time should grow like n^3 at large n; slope {slope}");
assert!(gflops(1024, cpu_times[6]) > 1.0, "CPU matmul reached only {:.2} GFLOP/s", gflops(1024, cpu_times[6]));
assert_eq!(small_sum, big_sum, "both ways compute the same numbers");
assert!(batching_speedup > 10.0, "batching is only {batching_speedup:.1}x faster");
assert_eq!(default_device().is_cuda(), has_gpu, "the default device follows the hardware");
assert_eq!(devices.len(), 8);
println!("All checks passed.");
"""),
        ("md", r"""
## Next steps

* Run with `FERROLAB_DEVICE=cpu` on a GPU machine to compare both in one notebook.
* `ferrolab::state::set_num_threads(1)` before the timing cell shows what one core does.
* `09_many_time_series` uses batching to train on many series at once.
"""),
    ]
