//! Kernel start-up: the per-kernel build dir, the evaluation thread, the sockets and the tasks.
//!
//! Order matters for speed: the evaluation thread starts first, so evcxr warms up (and the
//! engine template is copied) while the sockets bind and `kernel_info` is answered.

use crate::connection::{heartbeat_task, iopub_task, read_connection_file};
use crate::evaluation::Evaluator;
use crate::shell::Shell;
use crate::template::{self, TEMPLATE_STAMP};
use anyhow::Result;
use jupyter_protocol::*;
use jupyter_zmq_client as zmq_client;
use std::path::{Path, PathBuf};

const DIR_PREFIX: &str = "ferrolab-kernel-";

pub fn run(connection_file: &Path) -> Result<()> {
    let info = read_connection_file(connection_file)?;
    let dir = std::env::temp_dir().join(format!("{DIR_PREFIX}{}", std::process::id()));
    // Set before any thread starts: the evcxr child inherits them.
    std::env::set_var("EVCXR_TMPDIR", &dir);
    std::env::set_var("EVCXR_CONFIG_DIR", dir.join("no-evcxr-config"));
    std::env::set_var(ferrolab::display::DISPLAY_ENV, "1");
    // SAFETY: ignoring SIGINT in the kernel itself; Ctrl-C in a terminal must not kill it.
    unsafe { libc::signal(libc::SIGINT, libc::SIG_IGN) };

    let build_dir = dir.clone();
    let evaluator = Evaluator::start(move || prepare_build_dir(&build_dir));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(serve(info, evaluator))
}

/// Fills this kernel's build dir from the pre-built template. Returns the template if used,
/// and a notice for the learner when the engine will be built (or rebuilt) by this kernel.
fn prepare_build_dir(dir: &Path) -> (Option<PathBuf>, Option<String>) {
    std::thread::spawn(remove_stale_build_dirs);
    let _ = std::fs::remove_dir_all(dir);
    if let Err(e) = std::fs::create_dir_all(dir) {
        return (None, Some(format!("cannot create {}: {e}", dir.display())));
    }
    let template = template::template_dir();
    let Ok(stamp) = std::fs::read_to_string(template.join(TEMPLATE_STAMP)) else {
        let notice = format!(
            "ferrolab: the engine is not pre-built ({} is missing), so this kernel builds it \
             first: that takes minutes. Run ./install.sh to pre-build it once for all kernels.",
            template.display()
        );
        return (None, Some(notice));
    };
    let notice = (stamp != crate::prebuild::stamp()).then(|| {
        "ferrolab: the engine changed since it was pre-built, so this kernel rebuilds what \
         changed first. Run ./install.sh to refresh the pre-built engine for all kernels."
            .to_string()
    });
    match template::copy_template(&template, dir) {
        Ok(()) => (Some(template), notice),
        Err(e) => (None, Some(format!("ferrolab: {e:#}"))),
    }
}

/// Build dirs of kernels that are gone (killed before they could clean up).
fn remove_stale_build_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if let Some(pid) = name.strip_prefix(DIR_PREFIX) {
            if !Path::new("/proc").join(pid).exists() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
}

async fn serve(info: ConnectionInfo, evaluator: Evaluator) -> Result<()> {
    let session = uuid::Uuid::new_v4().to_string();
    let iopub = zmq_client::create_kernel_iopub_xpub_connection(&info, &session).await?;
    let shell = zmq_client::create_kernel_shell_connection(&info, &session).await?;
    let control = zmq_client::create_kernel_control_connection(&info, &session).await?;
    let _stdin = zmq_client::create_kernel_stdin_connection(&info, &session).await?;
    let heartbeat = zmq_client::create_kernel_heartbeat_connection(&info).await?;

    let (iopub_tx, iopub_rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(iopub_task(iopub, iopub_rx));
    tokio::spawn(heartbeat_task(heartbeat));
    let interrupts = evaluator.control.clone();
    tokio::spawn(crate::control::control_task(control, interrupts));
    tokio::spawn(crate::control::exit_with_parent_or_sigterm(
        evaluator.control.clone(),
    ));

    let (writer, reader) = shell.split();
    Shell::new(iopub_tx, evaluator, writer).run(reader).await
}
