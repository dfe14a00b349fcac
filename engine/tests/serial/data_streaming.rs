//! Streaming: ten on-disk shards go through a pipeline with memory bounded by its buffers.
//!
//! What is measured: this test binary (`serial`) installs a counting global allocator, so `PEAK` is the
//! most heap memory live at once in the whole process (every thread: readers, interleave and
//! prefetch threads, batching). The test records the live bytes before iterating and asserts
//! that, while reading ten 2 MiB shards (20 MiB in all), the heap never grew by two shards'
//! size (4 MiB). It does not count the OS page cache or thread stacks. The test holds
//! `exclusive()` (see `main.rs`), so no other test allocates at the same time.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use ferrolab::data::write_npy;
use ferrolab::prelude::*;

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = System.alloc(l);
        if !p.is_null() {
            let now = LIVE.fetch_add(l.size(), Ordering::SeqCst) + l.size();
            PEAK.fetch_max(now, Ordering::SeqCst);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l);
        LIVE.fetch_sub(l.size(), Ordering::SeqCst);
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let q = System.realloc(p, l, new);
        if !q.is_null() {
            if new > l.size() {
                let now = LIVE.fetch_add(new - l.size(), Ordering::SeqCst) + new - l.size();
                PEAK.fetch_max(now, Ordering::SeqCst);
            } else {
                LIVE.fetch_sub(l.size() - new, Ordering::SeqCst);
            }
        }
        q
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const SHARDS: usize = 10;
const ROWS: usize = 512;
const COLS: usize = 1024; // one row: 4 KiB; one shard: 2 MiB

#[test]
fn ten_shards_stream_with_memory_below_two_shards() {
    let _alone = crate::exclusive();
    let dir = std::env::temp_dir().join(format!("ferrolab-stream-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for s in 0..SHARDS {
        // Every value of row r of shard s is 1000 s + r.
        let v: Vec<f32> = (0..ROWS)
            .flat_map(|r| std::iter::repeat_n((1000 * s + r) as f32, COLS))
            .collect();
        let t = from_vec(v, [ROWS, COLS]).unwrap();
        write_npy(dir.join(format!("shard-{s:02}.npy")), &t).unwrap();
    }
    let shard_bytes = ROWS * COLS * 4;

    let ds = Dataset::list_files(dir.join("shard-*.npy"))
        .unwrap()
        .interleave(Dataset::from_npy, 2, 4)
        .num_parallel_calls(2)
        .map(|row| row.affine(1.0, 0.0))
        .num_parallel_calls(2)
        .batch(32)
        .prefetch(2);

    let before = LIVE.load(Ordering::SeqCst);
    PEAK.store(before, Ordering::SeqCst);
    let (mut rows, mut sum) = (0usize, 0f64);
    for batch in &ds {
        assert_eq!(batch.dims()[1], COLS);
        rows += batch.dims()[0];
        sum += batch.sum().item() as f64;
    }
    let growth = PEAK.load(Ordering::SeqCst) - before;
    let _ = std::fs::remove_dir_all(&dir);

    // sum over s, r of COLS * (1000 s + r)
    let want: f64 = (0..SHARDS)
        .flat_map(|s| (0..ROWS).map(move |r| (COLS * (1000 * s + r)) as f64))
        .sum();
    assert_eq!(rows, SHARDS * ROWS);
    assert!((sum - want).abs() <= 1e-6 * want, "{sum} vs {want}");
    println!(
        "read {} MiB in {SHARDS} shards; peak heap growth {:.2} MiB (limit: two shards = {:.0} MiB)",
        (SHARDS * shard_bytes) >> 20,
        growth as f64 / (1 << 20) as f64,
        (2 * shard_bytes) as f64 / (1 << 20) as f64
    );
    assert!(growth < 2 * shard_bytes, "peak growth {growth} bytes");
}
