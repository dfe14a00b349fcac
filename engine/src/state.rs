//! Process-wide engine state: one home that every copy of the engine finds.
//!
//! In a notebook, evcxr links every cell into its own cdylib, and each cdylib carries its own
//! copy of every `static` in this crate (evcxr issue #331). State that must outlive a cell (the
//! global seed and RNG, the default device, the cancel flag, tensor ids, active recorders) therefore
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
//!
//! This is the bottom layer: it imports nothing from the rest of the engine. State that belongs
//! to a module above (the RNG, the default device, the host cache, the CUDA registry, layer-name
//! counters, ...) is a typed slot that its owner claims by name with [`claim`] (or the cached
//! [`slot!`](crate::state::slot)). Slot names are `module.thing`, e.g. `random.rng`.

use std::any::TypeId;
use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

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
    /// The cell line of the loop check that ran last in this cell (0: none yet). The kernel's
    /// SIGUSR1 handler clears it before each cell; an interrupt taken by an engine op names it.
    pub cell_line: AtomicU32,
}

impl ProcessAnchor {
    pub const fn new() -> Self {
        ProcessAnchor {
            magic: ANCHOR_MAGIC,
            cancel: AtomicBool::new(false),
            state_size: AtomicUsize::new(0),
            state: AtomicPtr::new(std::ptr::null_mut()),
            quiet_panics: AtomicUsize::new(0),
            cell_line: AtomicU32::new(0),
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

/// Everything the anchor itself keeps per process: the id counter and the table of slots.
/// Created once, never freed.
///
/// Other engine state is not named here: each owner (the RNG in `random.rs`, the default device
/// in `runtime.rs`, the host cache, the CUDA registry, ...) claims a typed slot with [`claim`],
/// so adding a piece of state changes neither this struct nor the anchor.
pub struct GlobalState {
    pub(crate) next_id: AtomicU64,
    /// name -> the leaked value of that slot (see [`claim`]).
    slots: Mutex<HashMap<String, Slot>>,
}

impl GlobalState {
    fn new() -> Self {
        GlobalState {
            next_id: AtomicU64::new(1),
            slots: Mutex::new(HashMap::new()),
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
            "{}",
            version_mismatch("")
        );
        // SAFETY: `p` points to a leaked GlobalState with this layout (checked above).
        unsafe { &*(p as *const GlobalState) }
    })
}

/// The message for a cell whose engine does not match the one the kernel already loaded.
fn version_mismatch(detail: &str) -> String {
    format!(
        "ferrolab: this cell was built against a different engine version than the one \
         already loaded in this kernel{detail}; restart the kernel"
    )
}

// ------------------------------------------------------------------------------------------------
// Typed slots

/// One entry of the slot table: a leaked `OnceLock<T>` and what `T` was.
struct Slot {
    type_id: TypeId,
    size: usize,
    align: usize,
    type_name: &'static str,
    /// `*const OnceLock<T>`, leaked: it lives for the process.
    cell: usize,
}

/// The process-wide value of the slot `name`, created with `init` the first time any copy of
/// the engine asks for it. The value is leaked: it lives for the process.
///
/// This is how engine state outlives a notebook cell (each cell is its own cdylib, with its own
/// statics): the owner of a piece of state claims a slot here, and `state.rs` never names it.
/// `init` runs once per process, outside the table's lock (so it may claim other slots). A name
/// already claimed with another type means the cell was built against another engine: that
/// panics with "restart the kernel".
///
/// Each claim takes a lock and a map lookup; on a hot path cache the reference in the caller's
/// own static, once per copy of the engine, with [`slot!`](crate::state::slot).
pub fn claim<T: Send + Sync + 'static>(name: &'static str, init: fn() -> T) -> &'static T {
    let cell = {
        let mut slots = global().slots.lock().unwrap_or_else(|e| e.into_inner());
        let slot = slots.entry(name.to_string()).or_insert_with(|| Slot {
            type_id: TypeId::of::<T>(),
            size: std::mem::size_of::<T>(),
            align: std::mem::align_of::<T>(),
            type_name: std::any::type_name::<T>(),
            cell: Box::into_raw(Box::new(OnceLock::<T>::new())) as usize,
        });
        let same = slot.type_id == TypeId::of::<T>()
            && slot.size == std::mem::size_of::<T>()
            && slot.align == std::mem::align_of::<T>();
        if same {
            Ok(slot.cell)
        } else {
            Err(slot.type_name)
        }
    };
    match cell {
        // SAFETY: the slot was created above as a leaked `OnceLock<T>` of this very type (same
        // TypeId, size and alignment), by this or another copy of the same engine.
        Ok(cell) => unsafe { &*(cell as *const OnceLock<T>) }.get_or_init(init),
        Err(other) => panic!(
            "{}",
            version_mismatch(&format!(
                " (state slot `{name}` holds a {other}, this cell expects a {})",
                std::any::type_name::<T>()
            ))
        ),
    }
}

/// `slot!(NAME, Type, init)`: the `&'static Type` of the slot `NAME` (see [`claim`]), looked up
/// once per copy of the engine and then read from a static of that copy.
macro_rules! slot {
    ($name:expr, $ty:ty, $init:expr) => {{
        static CACHE: std::sync::OnceLock<&'static $ty> = std::sync::OnceLock::new();
        *CACHE.get_or_init(|| $crate::state::claim::<$ty>($name, $init))
    }};
}
pub(crate) use slot;

/// A fresh process-unique id (tensor ids, tape ids, display ids).
pub(crate) fn next_id() -> u64 {
    global().next_id.fetch_add(1, Ordering::Relaxed)
}

/// Number of threads the CPU backend may use for large ops (0 means all cores).
pub fn set_num_threads(n: usize) {
    threads_slot().store(n, Ordering::Relaxed);
}

fn threads_slot() -> &'static AtomicUsize {
    slot!("state.num_threads", AtomicUsize, || AtomicUsize::new(0))
}

/// Per-thread intra-op thread budgets (a logical CPU device's share of the cores), keyed by
/// thread like the device scopes, since every notebook cell has its own thread-locals.
#[derive(Default)]
struct ThreadBudgets {
    /// Budgets open on any thread: while 0, `num_threads` skips the table.
    live: AtomicUsize,
    table: Mutex<Vec<(std::thread::ThreadId, usize)>>,
}

fn budgets() -> &'static ThreadBudgets {
    slot!(
        "state.thread_budgets",
        ThreadBudgets,
        ThreadBudgets::default
    )
}

/// Runs `f` with at most `n` intra-op threads for this thread's large ops (the budget of a
/// logical CPU device, so that replicas on threads do not fight over cores). Nests; the
/// innermost wins; restored when `f` returns or panics.
pub fn with_intra_op_threads<R>(n: usize, f: impl FnOnce() -> R) -> R {
    struct Close(std::thread::ThreadId);
    impl Drop for Close {
        fn drop(&mut self) {
            let b = budgets();
            let mut t = b.table.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(i) = t.iter().rposition(|(id, _)| *id == self.0) {
                t.remove(i);
            }
            b.live.fetch_sub(1, Ordering::AcqRel);
        }
    }
    let b = budgets();
    let me = std::thread::current().id();
    b.table
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((me, n.max(1)));
    b.live.fetch_add(1, Ordering::AcqRel);
    let _close = Close(me);
    f()
}

/// Number of threads the CPU backend uses for large ops: this thread's budget
/// ([`with_intra_op_threads`]) if one is open, else [`set_num_threads`], else all cores.
pub fn num_threads() -> usize {
    let b = budgets();
    if b.live.load(Ordering::Acquire) > 0 {
        let me = std::thread::current().id();
        let t = b.table.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, n)) = t.iter().rev().find(|(id, _)| *id == me) {
            return *n;
        }
    }
    match threads_slot().load(Ordering::Relaxed) {
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
    let mark = quiet_threads().enter();
    a.quiet_panics.fetch_add(1, Ordering::SeqCst);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    a.quiet_panics.fetch_sub(1, Ordering::SeqCst);
    drop(mark);
    r.map_err(|e| {
        e.downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "panic".to_string())
    })
}

/// The threads inside some scope (a thread appears once per nesting level), with a guard that
/// takes the calling thread out again, also while unwinding.
#[derive(Default)]
struct ThreadSet(Mutex<Vec<std::thread::ThreadId>>);

impl ThreadSet {
    fn list(&self) -> std::sync::MutexGuard<'_, Vec<std::thread::ThreadId>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
    fn enter(&'static self) -> ThreadMark {
        let me = std::thread::current().id();
        self.list().push(me);
        ThreadMark(self, me)
    }
    fn has_current(&self) -> bool {
        self.list().contains(&std::thread::current().id())
    }
}

struct ThreadMark(&'static ThreadSet, std::thread::ThreadId);

impl Drop for ThreadMark {
    fn drop(&mut self) {
        let mut list = self.0.list();
        if let Some(i) = list.iter().position(|t| *t == self.1) {
            list.swap_remove(i);
        }
    }
}

/// Threads currently inside [`catch_quietly`] (a panic hook runs on the panicking thread).
fn quiet_threads() -> &'static ThreadSet {
    slot!("state.quiet_threads", ThreadSet, ThreadSet::default)
}

/// True on a thread that is inside [`catch_quietly`]: its panic hook should stay silent.
pub fn in_quiet_catch() -> bool {
    if anchor().quiet_panics.load(Ordering::SeqCst) == 0 {
        return false;
    }
    quiet_threads().has_current()
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

/// Clears the cancel flag and the last loop line (the kernel does this before each cell).
pub fn reset_cancel() {
    anchor().cancel.store(false, Ordering::Relaxed);
    anchor().cell_line.store(0, Ordering::Relaxed);
}

/// The check every engine op and every loop of a cell makes (the kernel inserts
/// [`check_cancel_at`] at the top of each loop body of a cell). When an interrupt is pending on
/// the thread that runs the cell, clears it and panics with `KeyboardInterrupt`, which the kernel
/// reports like Python does. State built so far is kept.
///
/// The common case is one relaxed atomic load. Only the cell's thread consumes the flag: on the
/// engine's data threads (`Dataset.map` workers, prefetch and interleave threads) and inside
/// [`catch_quietly`] or [`without_interrupts`] it is left set and the call returns, so a worker cannot swallow the
/// interrupt meant for the cell; those threads stop between elements instead (`data::iter`), and
/// the cell's thread raises the interrupt at its next check.
#[inline]
#[track_caller]
pub fn check_cancel() {
    if anchor().cancel.load(Ordering::Relaxed) {
        cancel_here(None);
    }
}

/// [`check_cancel`] with the cell's line, for the kernel's loop instrumentation: the panic
/// message then names the line of the interrupted loop.
#[inline]
#[track_caller]
pub fn check_cancel_at(cell_line: u32) {
    let a = anchor();
    a.cell_line.store(cell_line, Ordering::Relaxed);
    if a.cancel.load(Ordering::Relaxed) {
        cancel_here(Some(cell_line));
    }
}

/// The message of an interrupt's panic; the kernel recognises the `KeyboardInterrupt` prefix.
pub fn interrupt_message(cell_line: Option<u32>) -> String {
    match cell_line {
        Some(line) => format!(
            "KeyboardInterrupt: interrupted by the user at cell line {line}; variables are kept"
        ),
        None => "KeyboardInterrupt: interrupted by the user; variables are kept".to_string(),
    }
}

/// True on the engine's own background threads (named `ferrolab-data-*`).
pub fn on_data_thread() -> bool {
    std::thread::current()
        .name()
        .is_some_and(|n| n.starts_with("ferrolab-data"))
}

/// Runs `f` with interrupts held back on this thread: its ops do not stop, and the flag stays
/// set for the next check outside. `fit` runs each training step so, so that an interrupt never
/// leaves a step half-applied (some weights updated, others not) and `fit` reports where it
/// stopped.
pub fn without_interrupts<R>(f: impl FnOnce() -> R) -> R {
    let _held = held_threads().enter();
    f()
}

/// Threads inside [`without_interrupts`].
fn held_threads() -> &'static ThreadSet {
    slot!("state.interrupts_held", ThreadSet, ThreadSet::default)
}

fn interrupts_held() -> bool {
    held_threads().has_current()
}

#[cold]
#[inline(never)]
#[track_caller]
fn cancel_here(cell_line: Option<u32>) {
    // While unwinding (a `Drop` with a loop, say), a second panic would abort the process.
    if std::thread::panicking() || on_data_thread() || in_quiet_catch() || interrupts_held() {
        return;
    }
    let a = anchor();
    if a.cancel.swap(false, Ordering::Relaxed) {
        // an op inside a cell's loop names the line of that loop's last check
        let line = cell_line.or(match a.cell_line.load(Ordering::Relaxed) {
            0 => None,
            n => Some(n),
        });
        std::panic::panic_any(interrupt_message(line));
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

    #[test]
    fn a_slot_is_one_value_per_process_and_per_name() {
        use std::sync::atomic::AtomicU32;
        fn zero() -> AtomicU32 {
            AtomicU32::new(0)
        }
        let a = claim("test.claim.a", zero);
        let again = claim("test.claim.a", || AtomicU32::new(99)); // init does not run again
        assert!(std::ptr::eq(a, again));
        a.fetch_add(5, Ordering::Relaxed);
        assert_eq!(again.load(Ordering::Relaxed), 5);
        let b = claim("test.claim.b", zero);
        assert!(!std::ptr::eq(a, b));
        assert_eq!(b.load(Ordering::Relaxed), 0);
        // The cached form finds the same value.
        let cached: &'static AtomicU32 = slot!("test.claim.a", AtomicU32, zero);
        assert!(std::ptr::eq(cached, a));
    }

    #[test]
    fn a_slot_claimed_with_another_type_asks_for_a_restart() {
        claim("test.claim.typed", || 1u64);
        let r = std::panic::catch_unwind(|| claim("test.claim.typed", || 1u32));
        let e = r.unwrap_err();
        let msg = e.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(
            msg.contains("built against a different engine version"),
            "{msg}"
        );
        assert!(msg.contains("`test.claim.typed`"), "{msg}");
        assert!(msg.ends_with("restart the kernel"), "{msg}");
        // The slot keeps its first value.
        assert_eq!(*claim("test.claim.typed", || 2u64), 1);
    }

    #[test]
    fn init_may_claim_other_slots() {
        let outer = claim("test.claim.outer", || {
            *claim("test.claim.inner", || 7u8) + 1
        });
        assert_eq!(*outer, 8);
    }
}
