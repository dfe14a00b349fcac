//! The CUDA context on threads the backend did not create: frees, `empty_cache`,
//! `memory_stats`, `synchronize`, and tensors dropped on a data-pipeline-like worker thread.
//! A driver call without the context bound fails (or leaks) and leaves a stored error that
//! surfaces in a later, unrelated op; each test therefore ends with an op on the main thread
//! whose numbers must be right. Without a usable GPU each test prints why it skipped (and fails
//! when `nvidia-smi` lists a GPU that the backend cannot start: see `common::cuda_or_skip`).

use ferrolab::device::Device;
use ferrolab::dtype::DType;
use ferrolab::runtime;
use ferrolab::shape::Layout;
use ferrolab::storage::{BackendStorage, BinaryOp, CpuStorage, CudaStorage};

fn upload(v: &[f32], d: Device) -> CudaStorage {
    CudaStorage::from_cpu(&CpuStorage::F32(v.to_vec()), d).expect("upload")
}

/// `a + b` on the GPU, read back: proves no stored error is pending on the context.
fn add_on_gpu(d: Device) -> Vec<f32> {
    let a = upload(&[1.0, 2.0, 3.0], d);
    let b = upload(&[10.0, 20.0, 30.0], d);
    let l = Layout::contiguous([3]);
    let s = a.binary(&l, &b, &l, BinaryOp::Add).expect("add on the GPU");
    match s.to_cpu().expect("read back") {
        CpuStorage::F32(v) => v,
        other => panic!("float32 expected, got {:?}", other.dtype()),
    }
}

/// Runs `f` on a fresh thread (no current CUDA context there) and returns its result.
fn on_fresh_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(f)
        .join()
        .expect("the fresh thread panicked")
}

#[test]
fn frees_and_empty_cache_from_a_fresh_thread() {
    let Some(d) = crate::common::cuda_or_skip() else {
        return;
    };
    // 1 MiB blocks, made on this thread, dropped (returned to the pool) on another one
    let blocks: Vec<CudaStorage> = (0..4)
        .map(|i| upload(&vec![i as f32; 1 << 18], d))
        .collect();
    on_fresh_thread(move || drop(blocks));
    let cached = runtime::memory_stats(d).expect("GPU stats").cached;
    assert!(
        cached >= 4 << 20,
        "the dropped blocks are cached: {cached} bytes"
    );
    // the real frees happen on a thread that never touched the GPU
    on_fresh_thread(move || runtime::empty_cache(d));
    let after = on_fresh_thread(move || runtime::memory_stats(d).expect("GPU stats"));
    // 0 when this test runs alone (tests/gpu_check.sh runs them one at a time); other tests of
    // this binary may drop blocks meanwhile when they run in parallel
    assert!(
        after.cached < cached,
        "empty_cache gave the cached blocks back: {cached} -> {} bytes",
        after.cached
    );
    assert_eq!(
        add_on_gpu(d),
        vec![11.0, 22.0, 33.0],
        "no stored error surfaced"
    );
}

#[test]
fn synchronize_and_stats_from_a_fresh_thread() {
    let Some(d) = crate::common::cuda_or_skip() else {
        return;
    };
    let x = upload(&[0.5; 1024], d);
    let y = x
        .cast(&Layout::contiguous([1024]), DType::F16)
        .expect("cast queued");
    on_fresh_thread(move || runtime::synchronize(d)).expect("synchronize from a fresh thread");
    let s = on_fresh_thread(move || runtime::memory_stats(d)).expect("GPU stats");
    assert!(s.allocated >= 2 * 1024 + 4 * 1024, "{s:?}");
    let back = y
        .to_cpu()
        .expect("read back")
        .to_f32_vec(&Layout::contiguous([1024]));
    assert_eq!(back, vec![0.5; 1024]);
    assert_eq!(add_on_gpu(d), vec![11.0, 22.0, 33.0]);
}

#[test]
fn a_worker_thread_computes_and_drops_gpu_tensors() {
    let Some(d) = crate::common::cuda_or_skip() else {
        return;
    };
    // as a prefetch worker: uploads, computes, hands one result over and drops the rest
    let handed = on_fresh_thread(move || {
        let mut kept = None;
        for step in 0..8 {
            let a = upload(&[step as f32; 4096], d);
            let l = Layout::contiguous([4096]);
            let b = a
                .binary(&l, &a, &l, BinaryOp::Mul)
                .expect("square on the worker");
            if step == 7 {
                kept = Some(b);
            }
        }
        kept.expect("step 7 ran")
    });
    let back = handed.to_cpu().expect("read back");
    assert_eq!(
        back.to_f32_vec(&Layout::contiguous([4096])),
        vec![49.0; 4096]
    );
    on_fresh_thread(move || runtime::empty_cache(d));
    assert_eq!(add_on_gpu(d), vec![11.0, 22.0, 33.0]);
}
