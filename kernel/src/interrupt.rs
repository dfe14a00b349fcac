//! Interrupts (DESIGN.md, "Interrupts").
//!
//! `interrupt_request` sends SIGINT to the evcxr child. The child's handler (see `child.rs`) sets
//! the engine's cancel flag; every engine op and every loop of the cell (`instrument.rs`) checks
//! it and stops with a `KeyboardInterrupt` panic: state kept. A cell blocked outside its own
//! source (a long `sleep`, a foreign crate's loop) is still running after [`GRACE`]; then the
//! child is killed, evcxr restarts it, and the cell's error says that variables were lost.
//! A cell that is still compiling is stopped by killing the compiler (cargo, or the rustc that
//! evcxr runs directly) instead: nothing ran, nothing is lost.

use jupyter_protocol::ErrorOutput;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How long a cell may keep running after SIGINT before the child is killed.
pub const GRACE: Duration = Duration::from_millis(2000);

/// How an interrupt stopped a cell.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Stopped {
    No = 0,
    WhileCompiling = 1,
    ChildKilled = 2,
}

/// Shared between the evaluation thread and the control channel.
#[derive(Default)]
pub struct Control {
    /// Serial number of the running cell; 0 when idle.
    running: AtomicU64,
    next: AtomicU64,
    pid: AtomicU32,
    stopped: AtomicU8,
}

impl Control {
    /// Marks a cell as running in child `pid`, and clears a stale cancel flag there (SIGUSR1).
    pub fn begin(&self, pid: u32) -> u64 {
        let cell = self.next.fetch_add(1, Ordering::SeqCst) + 1;
        self.pid.store(pid, Ordering::SeqCst);
        self.stopped.store(Stopped::No as u8, Ordering::SeqCst);
        signal(pid, libc::SIGUSR1);
        self.running.store(cell, Ordering::SeqCst);
        cell
    }

    /// Marks the cell as done, and says whether (and how) an interrupt stopped it.
    pub fn end(&self, cell: u64) -> Stopped {
        let _ = self
            .running
            .compare_exchange(cell, 0, Ordering::SeqCst, Ordering::SeqCst);
        match self.stopped.load(Ordering::SeqCst) {
            1 => Stopped::WhileCompiling,
            2 => Stopped::ChildKilled,
            _ => Stopped::No,
        }
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
        let compilers = compiler_processes();
        if !compilers.is_empty() {
            self.stopped
                .store(Stopped::WhileCompiling as u8, Ordering::SeqCst);
            for pid in compilers {
                signal(pid, libc::SIGKILL);
            }
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
            me.stopped
                .store(Stopped::ChildKilled as u8, Ordering::SeqCst);
            signal(pid, libc::SIGKILL);
        });
    }
}

/// The compiler processes this kernel started (a cell being compiled: cargo, or rustc itself
/// when evcxr runs a cell's recorded rustc command directly), and everything under them, children
/// first.
fn compiler_processes() -> Vec<u32> {
    let mut parent_of = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // "pid (comm) state ppid ...": comm may contain spaces, so split at the last ')'.
            let Some((head, tail)) = stat.rsplit_once(')') else {
                continue;
            };
            let comm = head.split_once('(').map_or("", |(_, c)| c);
            let ppid = tail.split_whitespace().nth(1).and_then(|p| p.parse().ok());
            parent_of.push((pid, ppid.unwrap_or(0), matches!(comm, "cargo" | "rustc")));
        }
    }
    let me = std::process::id();
    let mut found: Vec<u32> = parent_of
        .iter()
        .filter(|(_, ppid, is_compiler)| *ppid == me && *is_compiler)
        .map(|(pid, _, _)| *pid)
        .collect();
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            parent_of
                .iter()
                .filter(|(_, p, _)| *p == parent)
                .map(|(pid, _, _)| *pid),
        );
        i += 1;
    }
    found.reverse();
    found
}

fn signal(pid: u32, sig: libc::c_int) {
    if pid > 0 {
        // SAFETY: kill(2) on the pid of our own child process.
        unsafe {
            libc::kill(pid as libc::pid_t, sig);
        }
    }
}

/// The error for a cell stopped while cargo compiled it.
pub fn compile_interrupted_error() -> ErrorOutput {
    crate::errors::error_output(
        "KeyboardInterrupt",
        "interrupted while the cell was compiling; nothing ran and variables are kept",
    )
}

/// The error for a cell whose child process died: killed after an interrupt, or crashed.
pub fn terminated_error(killed: bool, message: &str) -> ErrorOutput {
    let (ename, text) = if killed {
        (
            "KeyboardInterrupt",
            format!(
                "the cell did not stop within {} s of the interrupt (it was blocked outside \
                 the cell's own code, e.g. in a sleep or another crate), so the kernel \
                 restarted the Rust process.\nAll variables were lost; the ferrolab prelude is \
                 loaded again.",
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
    crate::errors::error_output(ename, &text)
}
