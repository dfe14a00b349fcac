//! Process-wide engine state: one home that every copy of the engine finds.
//!
//! In a notebook, evcxr links every cell into its own cdylib, and each cdylib carries its own
//! copy of every `static` in this crate (evcxr issue #331). State that must outlive a cell (the
//! global seed and RNG, the default device, the cancel flag, tensor ids, active tapes) therefore
//! cannot live in plain statics. It lives in one [`GlobalState`] per process, reached through a
//! [`ProcessAnchor`]:
//!
//! - The host binary (the Jupyter kernel, whose child process runs the cells) defines the anchor
//!   with [`export_process_anchor!`](crate::export_process_anchor) and exports its symbol with
//!   `-Wl,--export-dynamic-symbol=ferrolab_process_anchor`.
//! - Every copy of the engine looks the symbol up once with `dlsym(RTLD_DEFAULT, ..)`. The first
//!   copy that needs state allocates the `GlobalState` and publishes it in the anchor with a
//!   compare-and-swap; the others use the published one.
//! - Outside the kernel (tests, plain binaries) the symbol is absent and the engine uses an anchor
//!   of its own.
//!
//! The anchor is `repr(C)` and holds only atomics, so the kernel can set the cancel flag from a
//! SIGINT handler without knowing anything else about the engine.

use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use crate::device::Device;
use crate::random::Rng;

/// Name of the exported symbol: an `extern "C" fn() -> *const ProcessAnchor`.
pub const ANCHOR_SYMBOL: &str = "ferrolab_process_anchor";
const ANCHOR_MAGIC: u64 = 0x4645_5252_4f4c_4142; // "FERROLAB"

/// The `repr(C)` root of the process-wide state. Only atomics, so it can be shared by code that
/// was compiled separately (the kernel and each notebook cell) and touched from a signal handler.
#[repr(C)]
pub struct ProcessAnchor {
    magic: u64,
    /// Set by the kernel's SIGINT handler; checked by long-running engine loops.
    pub cancel: AtomicBool,
    /// `size_of::<GlobalState>()` of the copy that created `state`, checked by every reader.
    state_size: AtomicUsize,
    state: AtomicPtr<c_void>,
    /// Above 0 while the engine catches a panic it expects (see [`catch_quietly`]); the kernel's panic
    /// hook does not report those.
    pub quiet_panics: AtomicUsize,
}

impl ProcessAnchor {
    pub const fn new() -> Self {
        ProcessAnchor {
            magic: ANCHOR_MAGIC,
            cancel: AtomicBool::new(false),
            state_size: AtomicUsize::new(0),
            state: AtomicPtr::new(std::ptr::null_mut()),
            quiet_panics: AtomicUsize::new(0),
        }
    }
}

impl Default for ProcessAnchor {
    fn default() -> Self {
        Self::new()
    }
}

/// Defines the process anchor in a host binary. Call it once at the top level of the binary crate
/// and link with `-C link-args=-Wl,--export-dynamic-symbol=ferrolab_process_anchor`.
#[macro_export]
macro_rules! export_process_anchor {
    () => {
        #[no_mangle]
        pub extern "C" fn ferrolab_process_anchor() -> *const $crate::state::ProcessAnchor {
            static ANCHOR: $crate::state::ProcessAnchor = $crate::state::ProcessAnchor::new();
            &ANCHOR
        }
    };
}

/// Everything the engine keeps per process. Created once, never freed.
pub struct GlobalState {
    pub(crate) next_id: AtomicU64,
    pub(crate) rng: Mutex<Rng>,
    /// Seed of the last `set_seed`, if any (op-level seeds are derived from it, as in TF).
    pub(crate) global_seed: Mutex<Option<u64>>,
    pub(crate) default_device: Mutex<Option<Device>>,
    pub(crate) tapes: crate::autodiff::TapeRegistry,
    pub(crate) num_threads: AtomicUsize,
    pub(crate) display_counter: AtomicU64,
    /// Per-class counters for Keras' automatic layer names (dense, dense_1, ...).
    pub(crate) layer_names: Mutex<std::collections::HashMap<String, usize>>,
    /// Per thread, the names of the layers being called, outermost first (Keras' name scope;
    /// see `keras::layers::current_name_scope`).
    pub(crate) name_scopes: Mutex<std::collections::HashMap<std::thread::ThreadId, Vec<String>>>,
    /// Threads currently inside [`catch_quietly`] (a panic hook runs on the panicking thread).
    pub(crate) quiet_threads: Mutex<Vec<std::thread::ThreadId>>,
    /// CUDA: the probe result, one context/stream/kernel cache/memory pool per device.
    pub(crate) cuda: crate::storage::cuda::CudaRegistry,
    /// Freed large host buffers kept for reuse (see `storage/cpu/cache.rs`).
    pub(crate) host_cache: Mutex<crate::storage::cpu::cache::HostCache>,
}

impl GlobalState {
    fn new() -> Self {
        GlobalState {
            next_id: AtomicU64::new(1),
            rng: Mutex::new(Rng::from_entropy()),
            global_seed: Mutex::new(None),
            default_device: Mutex::new(None),
            tapes: Default::default(),
            num_threads: AtomicUsize::new(0),
            display_counter: AtomicU64::new(0),
            layer_names: Mutex::new(Default::default()),
            name_scopes: Mutex::new(Default::default()),
            quiet_threads: Mutex::new(Vec::new()),
            cuda: Default::default(),
            host_cache: Default::default(),
        }
    }
}

static LOCAL_ANCHOR: ProcessAnchor = ProcessAnchor::new();

/// The process anchor: the kernel's exported one when present, else this copy's own.
pub fn anchor() -> &'static ProcessAnchor {
    static CACHED: OnceLock<&'static ProcessAnchor> = OnceLock::new();
    CACHED.get_or_init(|| {
        let sym = b"ferrolab_process_anchor\0";
        // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name only reads the symbol table.
        let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, sym.as_ptr() as *const libc::c_char) };
        if p.is_null() {
            return &LOCAL_ANCHOR;
        }
        // SAFETY: the symbol is defined by `export_process_anchor!` with exactly this signature.
        let f: extern "C" fn() -> *const ProcessAnchor = unsafe { std::mem::transmute(p) };
        let a = f();
        // SAFETY: the function returns a pointer to a `static` that lives for the process.
        match unsafe { a.as_ref() } {
            Some(a) if a.magic == ANCHOR_MAGIC => a,
            _ => &LOCAL_ANCHOR,
        }
    })
}

/// The process-wide engine state, created on first use.
pub fn global() -> &'static GlobalState {
    static CACHED: OnceLock<&'static GlobalState> = OnceLock::new();
    CACHED.get_or_init(|| {
        let a = anchor();
        let mut p = a.state.load(Ordering::Acquire);
        if p.is_null() {
            let fresh = Box::into_raw(Box::new(GlobalState::new())) as *mut c_void;
            match a.state.compare_exchange(
                std::ptr::null_mut(),
                fresh,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    a.state_size
                        .store(std::mem::size_of::<GlobalState>(), Ordering::Release);
                    p = fresh;
                }
                Err(existing) => {
                    // Another copy won the race; ours was never shared, so free it.
                    // SAFETY: `fresh` came from Box::into_raw just above.
                    drop(unsafe { Box::from_raw(fresh as *mut GlobalState) });
                    p = existing;
                }
            }
        }
        let size = a.state_size.load(Ordering::Acquire);
        assert!(
            size == 0 || size == std::mem::size_of::<GlobalState>(),
            "ferrolab: this cell was built against a different engine version than the one \
             already loaded in this kernel; restart the kernel"
        );
        // SAFETY: `p` points to a leaked GlobalState with this layout (checked above).
        unsafe { &*(p as *const GlobalState) }
    })
}

/// A fresh process-unique id (tensor ids, tape ids, display ids).
pub(crate) fn next_id() -> u64 {
    global().next_id.fetch_add(1, Ordering::Relaxed)
}

/// Number of threads the CPU backend may use for large ops (0 means all cores).
pub fn set_num_threads(n: usize) {
    global().num_threads.store(n, Ordering::Relaxed);
}

/// Number of threads the CPU backend uses for large ops.
pub fn num_threads() -> usize {
    match global().num_threads.load(Ordering::Relaxed) {
        0 => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        n => n,
    }
}

// ------------------------------------------------------------------------------------------------
// Expected panics

/// Runs `f`, turning a panic into `Err(message)`. While it runs, [`in_quiet_catch`] is true so
/// the kernel's panic hook does not report a panic the engine handles itself (for example the
/// Functional API trying a layer on a symbolic input to report a shape error at build time).
pub fn catch_quietly<R>(f: impl FnOnce() -> R) -> std::result::Result<R, String> {
    let a = anchor();
    let me = std::thread::current().id();
    let quiet = &global().quiet_threads;
    quiet.lock().unwrap_or_else(|e| e.into_inner()).push(me);
    a.quiet_panics.fetch_add(1, Ordering::SeqCst);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    a.quiet_panics.fetch_sub(1, Ordering::SeqCst);
    {
        let mut q = quiet.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = q.iter().position(|t| *t == me) {
            q.swap_remove(i);
        }
    }
    r.map_err(|e| {
        e.downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "panic".to_string())
    })
}

/// True on a thread that is inside [`catch_quietly`]: its panic hook should stay silent.
pub fn in_quiet_catch() -> bool {
    if anchor().quiet_panics.load(Ordering::SeqCst) == 0 {
        return false;
    }
    let me = std::thread::current().id();
    global()
        .quiet_threads
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .contains(&me)
}

// ------------------------------------------------------------------------------------------------
// Cancel flag (DESIGN.md, "Interrupts")

/// True when the kernel has asked the running cell to stop (SIGINT).
#[inline]
pub fn is_cancelled() -> bool {
    anchor().cancel.load(Ordering::Relaxed)
}

/// Sets the cancel flag, as the kernel's SIGINT handler does.
pub fn request_cancel() {
    anchor().cancel.store(true, Ordering::Relaxed);
}

/// Clears the cancel flag (the kernel does this before each cell).
pub fn reset_cancel() {
    anchor().cancel.store(false, Ordering::Relaxed);
}

/// Called by long-running engine loops: when an interrupt is pending, clears it and panics with
/// `KeyboardInterrupt`, which the kernel reports like Python does. State built so far is kept.
#[track_caller]
pub fn check_cancel() {
    if anchor().cancel.swap(false, Ordering::Relaxed) {
        panic!("KeyboardInterrupt: interrupted by the user; variables are kept");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_state_is_shared_and_ids_increase() {
        let a = next_id();
        let b = next_id();
        assert!(b > a);
        assert!(std::ptr::eq(global(), global()));
    }

    #[test]
    fn cancel_flag_panics_once_then_clears() {
        // Uses the local anchor in tests; only this test touches the flag.
        request_cancel();
        assert!(is_cancelled());
        let r = std::panic::catch_unwind(check_cancel);
        let msg = r.unwrap_err();
        let msg = msg
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| msg.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        assert!(msg.starts_with("KeyboardInterrupt"), "{msg}");
        assert!(!is_cancelled());
        check_cancel(); // no longer pending: does not panic
    }
}
