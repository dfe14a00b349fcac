//! The evcxr child process: the kernel binary re-entered through `evcxr::runtime_hook`.
//!
//! Before evcxr's run loop starts, install two signal handlers that only touch the engine's
//! `repr(C)` process anchor (an atomic store is async-signal-safe):
//! - SIGINT sets the cancel flag, so engine loops stop with a `KeyboardInterrupt` panic;
//! - SIGUSR1 clears it (and the last loop line, see `ProcessAnchor::cell_line`); the kernel
//!   sends it before each cell so a stale interrupt cannot leak.

use std::sync::atomic::Ordering;

/// Env var evcxr sets in its child process.
const EVCXR_IS_RUNTIME: &str = "EVCXR_IS_RUNTIME";

fn anchor() -> &'static ferrolab::state::ProcessAnchor {
    // SAFETY: `ferrolab_process_anchor` returns a pointer to a `static` of this binary.
    unsafe { &*crate::ferrolab_process_anchor() }
}

extern "C" fn on_sigint(_: libc::c_int) {
    anchor().cancel.store(true, Ordering::Relaxed);
}

extern "C" fn on_sigusr1(_: libc::c_int) {
    anchor().cancel.store(false, Ordering::Relaxed);
    anchor().cell_line.store(0, Ordering::Relaxed);
}

fn install(signal: libc::c_int, handler: extern "C" fn(libc::c_int)) {
    // SAFETY: a zeroed sigaction with a plain handler and SA_RESTART is valid; the handlers only
    // perform an atomic store.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = handler as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(signal, &action, std::ptr::null_mut());
    }
}

/// If this process is evcxr's child (or its rustc wrapper), run that role and never return.
pub fn enter_if_child() {
    if std::env::var_os(EVCXR_IS_RUNTIME).is_some() {
        // Die with the kernel, even while a cell spins in a loop.
        // SAFETY: prctl with PR_SET_PDEATHSIG and a signal number has no memory effects.
        unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
        install(libc::SIGINT, on_sigint);
        install(libc::SIGUSR1, on_sigusr1);
    }
    evcxr::runtime_hook();
}
