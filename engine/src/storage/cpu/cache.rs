//! A cache of large host buffers, so that a loop which makes same-sized temporaries (every
//! training step, every `a + b` on big tensors) stops paying the kernel to map and zero fresh
//! pages each time.
//!
//! glibc hands allocations above 32 MiB straight to `mmap` and gives them back with `munmap` on
//! free; the next allocation of that size then takes a page fault per 2 MiB (or per 4 KiB) and
//! the kernel zeroes every page again. For a 16M-element add that is about a third of the time.
//! Like TensorFlow's BFC allocator and PyTorch's CUDA caching allocator, the engine keeps freed
//! large buffers (at least [`MIN_BYTES`]) and hands them out again for an allocation of exactly
//! the same size and alignment. The cache is process-wide (one per kernel, whatever cell freed
//! the buffer), holds at most [`limit_bytes`] (oldest buffers go first), and
//! `empty_cache(Device::Cpu)` gives everything back.

use std::alloc::Layout;
use std::collections::VecDeque;
use std::sync::Mutex;

use super::CpuStorage;

/// Buffers below this size are left to malloc (which already reuses them cheaply).
pub(crate) const MIN_BYTES: usize = 4 << 20;
/// Default cap on cached bytes; `FERROLAB_CPU_CACHE_MB` overrides it (0 turns the cache off).
const DEFAULT_LIMIT: usize = 1 << 30;

struct Block {
    ptr: usize,
    layout: Layout,
}

/// How many recently missed layouts are remembered.
const WANTED: usize = 64;

/// The free list (process-wide, in a state slot).
#[derive(Default)]
pub(crate) struct HostCache {
    /// Oldest first.
    blocks: VecDeque<Block>,
    bytes: usize,
    /// Layouts that [`take`] recently missed, newest last. Only buffers of these layouts are
    /// kept: a buffer of a size nobody allocates through the cache (say a `vec![0.0; n]`) is
    /// freed as usual, so malloc can reuse it.
    wanted: VecDeque<Layout>,
    hits: u64,
    misses: u64,
}

/// Figures of the host buffer cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostCacheStats {
    /// Bytes of freed buffers kept for reuse.
    pub cached: u64,
    /// Large allocations served from the cache.
    pub hits: u64,
    /// Large allocations that went to the system allocator.
    pub misses: u64,
}

/// The most bytes the cache keeps.
pub(crate) fn limit_bytes() -> usize {
    static LIMIT: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *LIMIT.get_or_init(|| {
        std::env::var("FERROLAB_CPU_CACHE_MB")
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok())
            .map(|mb| mb << 20)
            .unwrap_or(DEFAULT_LIMIT)
    })
}

/// The process-wide cache (the slot `storage.cpu.host_cache`; every cell's engine shares it).
fn with_cache<R>(f: impl FnOnce(&mut HostCache) -> R) -> R {
    let cache = crate::state::slot!("storage.cpu.host_cache", Mutex<HostCache>, Default::default);
    let mut c = cache.lock().unwrap_or_else(|e| e.into_inner());
    f(&mut c)
}

/// An empty Vec with capacity exactly `n`, from the cache when a freed buffer of that layout is
/// there. `None` for small requests or a miss.
pub(crate) fn take<T>(n: usize) -> Option<Vec<T>> {
    let layout = Layout::array::<T>(n).ok()?;
    if layout.size() < MIN_BYTES {
        return None;
    }
    with_cache(|c| {
        match c.blocks.iter().rposition(|b| b.layout == layout) {
            Some(i) => {
                let b = c.blocks.remove(i)?;
                c.bytes -= layout.size();
                c.hits += 1;
                // SAFETY: `b.ptr` was allocated by the global allocator with exactly `layout`
                // (size n * size_of::<T>() and align_of::<T>(), checked above), it is owned by
                // the cache alone, and a length of 0 has no initialised elements to uphold.
                Some(unsafe { Vec::from_raw_parts(b.ptr as *mut T, 0, n) })
            }
            None => {
                c.misses += 1;
                if !c.wanted.contains(&layout) {
                    if c.wanted.len() == WANTED {
                        c.wanted.pop_front();
                    }
                    c.wanted.push_back(layout);
                }
                None
            }
        }
    })
}

/// Keeps `v`'s buffer for reuse when it is large enough (and frees the oldest buffers beyond the
/// cap); small ones are simply freed.
pub(crate) fn give<T>(v: Vec<T>) {
    let Ok(layout) = Layout::array::<T>(v.capacity()) else {
        return;
    };
    let limit = limit_bytes();
    if layout.size() < MIN_BYTES || layout.size() > limit {
        return;
    }
    let mut v = std::mem::ManuallyDrop::new(v);
    let ptr = v.as_mut_ptr() as usize;
    let evicted = with_cache(|c| {
        if !c.wanted.contains(&layout) {
            return None;
        }
        c.blocks.push_back(Block { ptr, layout });
        c.bytes += layout.size();
        let mut evicted = Vec::new();
        while c.bytes > limit {
            match c.blocks.pop_front() {
                Some(b) => {
                    c.bytes -= b.layout.size();
                    evicted.push(b);
                }
                None => break,
            }
        }
        Some(evicted)
    });
    match evicted {
        Some(blocks) => free(blocks),
        // Not a wanted size: free it as the Vec would have.
        None => drop(std::mem::ManuallyDrop::into_inner(v)),
    }
}

/// A Vec of `n` copies of `zero`, from the cache when it can (for outputs that are accumulated
/// into, like matmul's).
pub(crate) fn zeroed<T: Copy>(n: usize, zero: T) -> Vec<T> {
    let mut v = super::elementwise::alloc(n);
    v.resize(n, zero);
    v
}

fn free(blocks: Vec<Block>) {
    for b in blocks {
        // SAFETY: every block came from a Vec allocated by the global allocator with `b.layout`,
        // and was removed from the cache, so nothing else refers to it.
        unsafe { std::alloc::dealloc(b.ptr as *mut u8, b.layout) };
    }
}

/// Takes the buffer out of storage that is being dropped, for the cache.
pub(crate) fn recycle(s: &mut CpuStorage) {
    match s {
        CpuStorage::F32(v) => give(std::mem::take(v)),
        CpuStorage::F16(v) => give(std::mem::take(v)),
        CpuStorage::BF16(v) => give(std::mem::take(v)),
        CpuStorage::I64(v) => give(std::mem::take(v)),
        CpuStorage::Bool(v) => give(std::mem::take(v)),
    }
}

/// Panics with the engine's out-of-memory message for the host (like the GPU's): how much was
/// asked and how much the system has available. A panic, unlike the abort of a failed `Vec`
/// allocation, leaves the notebook's other variables alive.
#[cold]
pub(crate) fn host_out_of_memory(bytes: usize) -> ! {
    // Freed buffers may be what is missing: give them back for the next attempt.
    clear();
    let free = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemAvailable:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map(|kib| kib * 1024)
        .unwrap_or(0);
    panic!(
        "{}",
        crate::error::Error::OutOfMemory {
            device: crate::device::Device::Cpu,
            requested: bytes as u64,
            free,
        }
    )
}

/// An empty Vec with room for exactly `n` elements, or the out-of-memory panic.
pub(crate) fn try_with_capacity<T>(n: usize) -> Vec<T> {
    let mut v = Vec::new();
    if v.try_reserve_exact(n).is_err() {
        host_out_of_memory(n.saturating_mul(std::mem::size_of::<T>()));
    }
    v
}

/// `n` copies of `value`, or the out-of-memory panic.
pub(crate) fn filled_vec<T: Clone>(n: usize, value: T) -> Vec<T> {
    let mut v = try_with_capacity(n);
    v.resize(n, value);
    v
}

/// A Vec of `n` zero values straight from the allocator's zeroed memory (lazily zeroed by the
/// kernel for large sizes, like `vec![0; n]`), or the out-of-memory panic.
///
/// # Safety
/// The all-zero bit pattern must be a valid `T` (true of f32, f16, bf16, i64 and bool).
pub(crate) unsafe fn zeroed_bits<T>(n: usize) -> Vec<T> {
    let bytes = n.saturating_mul(std::mem::size_of::<T>());
    if n == 0 || std::mem::size_of::<T>() == 0 {
        return Vec::new();
    }
    let Ok(layout) = Layout::array::<T>(n) else {
        host_out_of_memory(bytes)
    };
    // SAFETY: the layout has a non-zero size (checked above).
    let p = unsafe { std::alloc::alloc_zeroed(layout) } as *mut T;
    if p.is_null() {
        host_out_of_memory(bytes);
    }
    // SAFETY: `p` was allocated by the global allocator with the layout of `n` elements of `T`,
    // all of them zero bits, which the caller guarantees are valid values.
    unsafe { Vec::from_raw_parts(p, n, n) }
}

/// Gives every cached buffer back to the system.
pub(crate) fn clear() {
    let blocks = with_cache(|c| {
        c.bytes = 0;
        c.blocks.drain(..).collect::<Vec<_>>()
    });
    free(blocks);
}

pub(crate) fn stats() -> HostCacheStats {
    with_cache(|c| HostCacheStats {
        cached: c.bytes as u64,
        hits: c.hits,
        misses: c.misses,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_freed_large_buffer_is_reused_for_the_same_layout_only() {
        // An unusual size, so no other test running in parallel asks for this layout.
        let n = MIN_BYTES / 4 + 12_346;
        let v: Vec<f32> = crate::storage::cpu::elementwise::alloc(n); // a miss: now wanted
        let p = v.as_ptr() as usize;
        give(v);
        // Another layout (same bytes, other alignment) must not get it.
        let other: Option<Vec<i64>> = take(n / 2);
        if let Some(o) = other {
            assert_ne!(o.as_ptr() as usize, p);
        }
        let again: Vec<f32> = take(n).expect("the freed buffer is cached");
        assert_eq!(again.as_ptr() as usize, p);
        assert_eq!(again.len(), 0);
        assert_eq!(again.capacity(), n);
    }

    #[test]
    fn buffers_of_sizes_nobody_asked_for_are_freed() {
        let n = MIN_BYTES / 4 + 54_321;
        let before = stats().cached;
        give(vec![1f32; n]);
        assert!(stats().cached <= before, "an unrequested size was kept");
        // Once an allocation of that size missed, freed buffers of that size are kept.
        assert!(take::<f32>(n).is_none());
        give(vec![1f32; n]);
        let again: Vec<f32> = take(n).expect("now cached");
        assert_eq!(again.capacity(), n);
    }

    #[test]
    fn small_buffers_are_not_cached() {
        let before = stats();
        give(vec![0f32; 16]);
        assert!(take::<f32>(16).is_none());
        assert_eq!(stats().hits, before.hits);
    }
}
