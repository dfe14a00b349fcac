//! Shared helpers for the engine's integration tests: closeness checks that print their maxdiff
//! (like llm.c's "TENSOR OK, maxdiff = ..."), a finite-difference gradient checker, seeded inputs,
//! a way to read a panic's message, the lock for the global generator, and `test_device!`, which
//! runs an op test on the CPU and on CUDA. `keras` adds the Keras tests' helpers.
//!
//! Every test binary includes this module first (`#[macro_use]`, for `test_device!`); not every
//! binary uses every helper.
#![allow(dead_code, unused_macros)]

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Mutex, MutexGuard};

use ferrolab::device::Device;
use ferrolab::prelude::*;
use ferrolab::random::Rng;

pub mod keras;

/// Asserts `|a - b| <= tol * (1 + |b|)` elementwise (NaN matches NaN) and prints the maxdiff.
#[track_caller]
pub fn assert_close(a: &[f32], b: &[f32], tol: f32) {
    assert_eq!(a.len(), b.len(), "lengths differ: {a:?} vs {b:?}");
    let mut maxdiff = 0f32;
    for (i, (&x, &y)) in a.iter().zip(b).enumerate() {
        if x.is_nan() && y.is_nan() {
            continue;
        }
        if x == y {
            continue; // also covers equal infinities
        }
        let d = (x - y).abs();
        assert!(
            d <= tol * (1.0 + y.abs()),
            "element {i}: got {x}, expected {y} (diff {d}, tol {tol})\n got: {a:?}\nwant: {b:?}"
        );
        maxdiff = maxdiff.max(d);
    }
    println!("OK, maxdiff = {maxdiff:e}");
}

/// [`assert_close`] on a tensor's values (any dtype, read as f32) and its shape.
#[track_caller]
pub fn assert_tensor(t: &Tensor, dims: &[usize], want: &[f32], tol: f32) {
    assert_eq!(t.dims(), dims, "shape");
    assert_close(&t.to_f32_vec(), want, tol);
}

/// Standard-normal f32 input of `shape` from a fixed seed.
pub fn rnd(shape: &[usize], seed: u64) -> Tensor {
    normal(shape.to_vec(), 0.0, 1.0, Some(seed))
}

/// Seeded normal values pushed at least `margin` away from 0 (for kinks at 0: relu, abs, sign).
pub fn rnd_away(shape: &[usize], seed: u64, margin: f32) -> Tensor {
    let v: Vec<f32> = rnd(shape, seed)
        .to_vec::<f32>()
        .into_iter()
        .map(|x| if x >= 0.0 { x + margin } else { x - margin })
        .collect();
    from_vec(v, shape.to_vec()).unwrap()
}

/// Seeded positive values in [lo, lo + 1) (for log, sqrt, rsqrt, reciprocal, pow).
pub fn rnd_pos(shape: &[usize], seed: u64, lo: f32) -> Tensor {
    uniform(shape.to_vec(), lo, lo + 1.0, Some(seed))
}

/// Distinct values 0.1 apart in a seeded random order, centred on 0: no ties and no near-ties,
/// so max, min and max-pooling are differentiable at these points with room for finite
/// differences.
pub fn distinct(shape: &[usize], seed: u64) -> Tensor {
    let n: usize = shape.iter().product();
    let mut v: Vec<f32> = (0..n).map(|i| (i as f32 - n as f32 / 2.0) * 0.1).collect();
    Rng::seed_from_u64(seed).shuffle(&mut v);
    from_vec(v, shape.to_vec()).unwrap()
}

/// Compares the tape gradient of `f(x).sum()` with central differences and prints the maxdiff.
///
/// Finite differences: for each element i, with x± = x ± eps e_i rounded to f32,
/// d/dx_i sum_j f(x)_j ~= sum_j (f(x+)_j - f(x-)_j) / (x+_i - x-_i). The outputs are differenced
/// elementwise in f64 before summing, so large sums do not cancel away the signal, and the
/// actual f32 step is used rather than 2 eps. eps = 1e-2 on well-conditioned inputs keeps both
/// the truncation error (~eps^2 f''') and the f32 rounding error (~1e-7 / eps) well under the
/// tolerance. Passes when |tape - fd| <= atol + tol |fd| with atol = tol / 10.
#[track_caller]
pub fn check_grad(f: impl Fn(&Tensor) -> Tensor, x: &Tensor, tol: f64) {
    assert_eq!(x.dtype(), DType::F32, "check_grad works on float32 inputs");
    let analytic = {
        let tape = GradientTape::new();
        tape.watch(x);
        let y = f(x).sum();
        let [g] = tape.gradient(&y, [x]);
        let g = g.expect("check_grad: the tape gave no gradient (source not connected)");
        assert_eq!(g.dims(), x.dims(), "gradient shape");
        g.to_f32_vec()
    };
    let base = x.to_vec::<f32>();
    let (shape, dev) = (x.dims().to_vec(), x.device());
    let eval = |v: Vec<f32>| -> Vec<f64> {
        let t = from_vec(v, shape.clone()).unwrap().to(dev); // on x's device
        f(&t).to_f32_vec().into_iter().map(|y| y as f64).collect()
    };
    let eps = 1e-2f32;
    let atol = tol / 10.0;
    let mut maxdiff = 0f64;
    for i in 0..base.len() {
        let (mut plus, mut minus) = (base.clone(), base.clone());
        plus[i] += eps;
        minus[i] -= eps;
        let h = plus[i] as f64 - minus[i] as f64;
        let (fp, fm) = (eval(plus), eval(minus));
        let numeric: f64 = fp.iter().zip(&fm).map(|(p, m)| p - m).sum::<f64>() / h;
        let a = analytic[i] as f64;
        let d = (a - numeric).abs();
        assert!(
            d <= atol + tol * numeric.abs(),
            "d/dx[{i}]: tape {a}, finite differences {numeric} (diff {d:e}) at x = {base:?}"
        );
        maxdiff = maxdiff.max(d);
    }
    println!("gradient OK, maxdiff = {maxdiff:e}");
}

/// Runs `f`, expecting a panic, and returns the panic's message.
#[track_caller]
pub fn panic_message<R>(f: impl FnOnce() -> R) -> String {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(_) => panic!("expected a panic, but the call returned normally"),
        Err(e) => e
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "<non-string panic payload>".into()),
    }
}

/// Asserts that `msg` contains every one of `parts`.
#[track_caller]
pub fn assert_contains(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(msg.contains(p), "message {msg:?} does not contain {p:?}");
    }
}

// ---- process-wide state ---------------------------------------------------------------------

static GLOBAL_RNG: Mutex<()> = Mutex::new(());

/// The lock for the one global generator. `set_seed` and every draw without an op seed (randn,
/// weight initialisers, `fit`'s shuffling, unseeded Dropout) use it, and the tests of a binary
/// run on parallel threads of one process, so a test that sets the seed or draws unseeded holds
/// this for its whole body (one lock per binary: the files of a binary share it).
pub fn global_rng() -> MutexGuard<'static, ()> {
    GLOBAL_RNG.lock().unwrap_or_else(|e| e.into_inner())
}

// ---- every device ---------------------------------------------------------------------------

/// `cuda:0` when a GPU is usable; otherwise prints one line, `skipped: no CUDA device (why)`,
/// which `tests/gpu_check.sh` looks for, and returns None. A skip never counts as a GPU pass.
/// When the machine lists a GPU (`nvidia-smi -L`) that the backend cannot start, the test fails
/// with the reason instead.
pub fn cuda_or_skip() -> Option<Device> {
    if let Some(why) = ferrolab::runtime::gpu_present_but_unusable() {
        panic!("GPU test FAILED, not skipped: {why}");
    }
    match ferrolab::runtime::gpu_unavailable_reason() {
        None => Some(Device::Cuda(0)),
        Some(reason) => {
            println!("skipped: no CUDA device ({reason})");
            None
        }
    }
}

/// A tolerance for `dev`: `tol` on the CPU (the reference), at least `gpu_tol` on a GPU, where
/// fused multiply-adds, other summation orders and the fast math functions move the last bits.
pub fn tol_on(dev: Device, tol: f32, gpu_tol: f32) -> f32 {
    if dev.is_cuda() {
        tol.max(gpu_tol)
    } else {
        tol
    }
}

/// An op test that runs on every device, as candle's `test_device!`:
///
/// ```ignore
/// // relu keeps positives and zeroes negatives
/// test_device!(relu_clamps, |dev| {
///     let x = tensor([-1.0, 2.0]).to(dev);
///     assert_tensor(&x.relu(), &[2], &[0.0, 2.0], 0.0);
/// });
/// ```
///
/// defines a module `relu_clamps` with the body as `fn body(dev: Device)` and two tests:
/// `relu_clamps::cpu`, always, and `relu_clamps::cuda`, on `cuda:0` when a GPU is usable and
/// otherwise one skip line (see [`cuda_or_skip`]). The body builds its inputs on `dev` and keeps
/// the CPU reference numbers, so on a GPU it checks the GPU against them. `cargo test
/// relu_clamps` runs both, `cargo test ::cuda` every CUDA variant. The closure form keeps the body
/// visible to rustfmt. The body is not a `#[test]` function itself, so lints that clippy waives
/// in tests (such as `eq_op` on a deliberate `x / x`) need an `#[allow]` there.
macro_rules! test_device {
    ($name:ident, |$dev:ident| $body:block) => {
        mod $name {
            use super::*;

            fn body($dev: ::ferrolab::device::Device) $body

            #[test]
            fn cpu() {
                body(::ferrolab::device::Device::Cpu)
            }

            #[test]
            fn cuda() {
                if let Some(dev) = $crate::common::cuda_or_skip() {
                    body(dev)
                }
            }
        }
    };
}
