//! Parallel stages: map on worker threads, parallel interleave and prefetch give the same
//! elements as their sequential versions, and errors in workers come back as errors.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ferrolab::prelude::*;

fn ints(ds: &Dataset<Tensor>) -> Vec<i64> {
    ds.iter().map(|t| t.to_vec::<i64>()[0]).collect()
}

/// A map function whose run time varies by element, so parallel results finish out of order.
fn uneven(t: Tensor) -> Tensor {
    let i = t.to_scalar::<i64>();
    std::thread::sleep(Duration::from_micros(((i * 7919) % 5) as u64 * 400));
    &(&t * &t) + 1i64
}

#[test]
fn parallel_map_equals_sequential_map() {
    let ds = Dataset::range(0..200);
    let seq = ints(&ds.map(uneven));
    assert_eq!(seq[..4], [1, 2, 5, 10]);
    for workers in [2, 4, AUTOTUNE] {
        let par = ints(&ds.map(uneven).num_parallel_calls(workers));
        assert_eq!(par, seq, "{workers} workers keep the input order");
    }
    // deterministic(false): the same elements, in whatever order they finish.
    let mut any = ints(&ds.map(uneven).num_parallel_calls(4).deterministic(false));
    any.sort();
    let mut want = seq.clone();
    want.sort();
    assert_eq!(any, want);
    // Tuples and later stages work the same way.
    let x = arange(0.0, 40.0, 1.0).reshape([20, 2]);
    let y = arange_i64(0, 20);
    let pairs = Dataset::from_tensor_slices((&x, &y));
    let f = |(x, y): (Tensor, Tensor)| (x.affine(2.0, 1.0), y);
    let a: Vec<Vec<f32>> = pairs
        .map(f)
        .batch(8)
        .iter()
        .map(|(x, _)| x.to_vec::<f32>())
        .collect();
    let b: Vec<Vec<f32>> = pairs
        .map(f)
        .num_parallel_calls(3)
        .batch(8)
        .iter()
        .map(|(x, _)| x.to_vec::<f32>())
        .collect();
    assert_eq!(a, b);
    assert_eq!(a[0][..4], [1.0, 3.0, 5.0, 7.0]);
}

#[test]
fn map_workers_really_run_at_the_same_time() {
    let (running, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (r, p) = (running.clone(), peak.clone());
    let ds = Dataset::range(0..24)
        .map(move |t| {
            let now = r.fetch_add(1, Ordering::SeqCst) + 1;
            p.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(5));
            r.fetch_sub(1, Ordering::SeqCst);
            t
        })
        .num_parallel_calls(4);
    assert_eq!(ints(&ds), (0..24).collect::<Vec<_>>());
    let peak = peak.load(Ordering::SeqCst);
    println!("peak concurrent map calls with 4 workers: {peak}");
    assert!((2..=4).contains(&peak), "{peak}");
}

#[test]
fn a_panic_in_a_worker_becomes_an_error() {
    let ds = Dataset::range(0..10)
        .map(|t| {
            assert!(t.to_scalar::<i64>() != 6, "bad element 6");
            t
        })
        .num_parallel_calls(3);
    let got: Vec<_> = ds.try_iter().collect();
    assert_eq!(got.len(), 10);
    assert!(got[..6].iter().all(|r| r.is_ok()));
    let err = got[6].as_ref().unwrap_err().to_string();
    assert!(
        err.contains("map function panicked") && err.contains("bad element 6"),
        "{err}"
    );
    assert!(got[7..].iter().all(|r| r.is_ok()));
    // iter() raises it, like TF.
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| ds.iter().count()));
    let msg = r
        .unwrap_err()
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(msg.contains("bad element 6"), "{msg}");
}

#[test]
fn parallel_interleave_keeps_the_sequential_order() {
    let sub = |t: Tensor| {
        let i = t.to_scalar::<i64>();
        // Sub-datasets of different lengths: i gives 10i .. 10i + i.
        Dataset::range(10 * i..11 * i).map(uneven)
    };
    let ds = Dataset::range(1..9);
    for (cycle, block) in [(1, 1), (2, 1), (3, 2), (4, 3)] {
        let seq = ints(&ds.interleave(sub, cycle, block));
        let par = ints(&ds.interleave(sub, cycle, block).num_parallel_calls(4));
        assert_eq!(par, seq, "cycle {cycle}, block {block}");
        assert_eq!(seq.len(), (1..9).sum::<i64>() as usize);
    }
    let two = ints(
        &Dataset::range(1..3)
            .interleave(sub, 2, 1)
            .num_parallel_calls(2),
    );
    // 1 gives [10], 2 gives [20, 21]; mapped by x*x + 1.
    assert_eq!(two, vec![101, 401, 442]);
}

#[test]
fn prefetch_keeps_order_and_moves_to_the_device() {
    let ds = Dataset::range(0..50).map(uneven);
    let want = ints(&ds);
    assert_eq!(ints(&ds.prefetch(1)), want);
    assert_eq!(ints(&ds.prefetch(8)), want);
    assert_eq!(ints(&ds.prefetch(AUTOTUNE)), want);
    assert_eq!(ds.prefetch(2).cardinality(), 50);
    let on_cpu = ds.batch(10).prefetch_to_device(Device::Cpu, 2);
    let batches: Vec<Tensor> = on_cpu.iter().collect();
    assert_eq!(batches.len(), 5);
    assert!(batches.iter().all(|b| b.device() == Device::Cpu));
    assert_eq!(batches[4].to_vec::<i64>(), want[40..].to_vec());
    // With a GPU the batches arrive on it; without one (or before the CUDA backend) moving
    // there is an error element, not a panic.
    let gpu: Vec<_> = ds
        .batch(25)
        .prefetch_to_device(Device::Cuda(0), 2)
        .try_iter()
        .collect();
    assert_eq!(gpu.len(), 2);
    if ferrolab::runtime::is_gpu_available() {
        let b = gpu[1].as_ref().unwrap();
        assert_eq!(b.device(), Device::Cuda(0));
        assert_eq!(b.to_vec::<i64>(), want[25..].to_vec());
    } else {
        let e = gpu[0].as_ref().unwrap_err().to_string();
        assert!(e.contains("no CUDA device for cuda:0"), "{e}");
    }
    // Stopping early is fine: the background thread ends when the iterator is dropped.
    assert_eq!(ds.prefetch(4).iter().take(3).count(), 3);
}
