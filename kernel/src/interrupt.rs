//! Interrupts (DESIGN.md, "Interrupts").
//!
//! `interrupt_request` sends SIGINT to the evcxr child. The child's handler (see `child.rs`) sets
//! the engine's cancel flag, and engine loops stop with a `KeyboardInterrupt` panic: state kept.
//! A cell that ignores the flag (a plain `loop {}`) is still running after [`GRACE`]; then the
//! child is killed, evcxr restarts it, and the cell's error says that variables were lost.

use jupyter_protocol::ErrorOutput;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How long a cell may keep running after SIGINT before the child is killed.
pub const GRACE: Duration = Duration::from_millis(2000);

/// Shared between the evaluation thread and the control channel.
#[derive(Default)]
pub struct Control {
    /// Serial number of the running cell; 0 when idle.
    running: AtomicU64,
    next: AtomicU64,
    pid: AtomicU32,
    killed: AtomicBool,
}

impl Control {
    /// Marks a cell as running in child `pid`, and clears a stale cancel flag there (SIGUSR1).
    pub fn begin(&self, pid: u32) -> u64 {
        let cell = self.next.fetch_add(1, Ordering::SeqCst) + 1;
        self.pid.store(pid, Ordering::SeqCst);
        self.killed.store(false, Ordering::SeqCst);
        signal(pid, libc::SIGUSR1);
        self.running.store(cell, Ordering::SeqCst);
        cell
    }

    /// Marks the cell as done; true when it was killed after an interrupt.
    pub fn end(&self, cell: u64) -> bool {
        let _ = self
            .running
            .compare_exchange(cell, 0, Ordering::SeqCst, Ordering::SeqCst);
        self.killed.load(Ordering::SeqCst)
    }

    /// Remembers the child's pid before any cell runs (for shutdown).
    pub fn set_pid(&self, pid: u32) {
        self.pid.store(pid, Ordering::SeqCst);
    }

    /// Kills the child process (at shutdown: a cell may be stuck in a loop).
    pub fn kill_child(&self) {
        signal(self.pid.load(Ordering::SeqCst), libc::SIGKILL);
    }

    /// Asks the running cell to stop; kills the child if it has not stopped after [`GRACE`].
    pub fn interrupt(self: &Arc<Self>) {
        let cell = self.running.load(Ordering::SeqCst);
        if cell == 0 {
            return;
        }
        let pid = self.pid.load(Ordering::SeqCst);
        signal(pid, libc::SIGINT);
        let me = self.clone();
        std::thread::spawn(move || {
            let step = Duration::from_millis(50);
            let mut waited = Duration::ZERO;
            while waited < GRACE {
                std::thread::sleep(step);
                waited += step;
                if me.running.load(Ordering::SeqCst) != cell {
                    return;
                }
            }
            me.killed.store(true, Ordering::SeqCst);
            signal(pid, libc::SIGKILL);
        });
    }
}

fn signal(pid: u32, sig: libc::c_int) {
    if pid > 0 {
        // SAFETY: kill(2) on the pid of our own child process.
        unsafe {
            libc::kill(pid as libc::pid_t, sig);
        }
    }
}

/// The error for a cell whose child process died: killed after an interrupt, or crashed.
pub fn terminated_error(killed: bool, message: &str) -> ErrorOutput {
    let (ename, text) = if killed {
        (
            "KeyboardInterrupt",
            format!(
                "the cell did not stop within {} s of the interrupt, so the kernel restarted \
                 the Rust process.\nAll variables were lost; the ferrolab prelude is loaded again.",
                GRACE.as_secs()
            ),
        )
    } else {
        let reason = message
            .lines()
            .find(|l| l.contains("fault") || l.contains("signal") || l.contains("Illegal"))
            .unwrap_or_else(|| message.lines().last().unwrap_or("it exited"));
        (
            "KernelCrash",
            format!(
                "the Rust process crashed ({}); the kernel restarted it.\nAll variables were \
                 lost; the ferrolab prelude is loaded again.",
                reason.trim()
            ),
        )
    };
    crate::evaluation::error_output(ename, &text)
}
