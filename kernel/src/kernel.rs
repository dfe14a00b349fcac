//! Kernel start-up: the per-kernel build dir, the evaluation thread, the sockets and the tasks.
//!
//! Order matters for speed: the evaluation thread starts first, so evcxr warms up (and the
//! engine template is copied) while the sockets bind and `kernel_info` is answered.

use crate::connection::{self, heartbeat_task, iopub_task, read_connection_file};
use crate::evaluation::Evaluator;
use crate::shell::Shell;
use anyhow::Result;
use jupyter_protocol::*;
use jupyter_zmq_client as zmq_client;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Name of the stamp file `prebuild` writes last into a finished template.
pub const TEMPLATE_STAMP: &str = ".ferrolab-template";
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
    let template = crate::cli::template_dir();
    let Ok(stamp) = std::fs::read_to_string(template.join(TEMPLATE_STAMP)) else {
        let notice = format!(
            "ferrolab: the engine is not pre-built ({} is missing), so this kernel builds it \
             first: that takes minutes. Run ./install.sh to pre-build it once for all kernels.",
            template.display()
        );
        return (None, Some(notice));
    };
    let notice = (stamp != crate::prebuild::sources_stamp(&crate::cli::engine_dir())).then(|| {
        "ferrolab: the engine changed since it was pre-built, so this kernel rebuilds what \
         changed first. Run ./install.sh to refresh the pre-built engine for all kernels."
            .to_string()
    });
    match crate::startup::copy_template(&template, dir) {
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
    tokio::spawn(control_task(control, interrupts));
    tokio::spawn(exit_with_parent_or_sigterm(evaluator.control.clone()));

    let (writer, reader) = shell.split();
    Shell::new(iopub_tx, evaluator, writer).run(reader).await
}

/// The control channel: kernel_info, interrupt and shutdown, answered even while a cell runs.
async fn control_task(
    mut conn: zmq_client::KernelControlConnection,
    interrupts: std::sync::Arc<crate::interrupt::Control>,
) -> Result<()> {
    loop {
        let incoming = connection::recv(&mut conn, "control").await?;
        let msg = &incoming.msg;
        let reply: JupyterMessageContent = match &msg.content {
            JupyterMessageContent::KernelInfoRequest(_) => kernel_info().into(),
            JupyterMessageContent::InterruptRequest(_) => {
                interrupts.interrupt();
                InterruptReply::new().into()
            }
            JupyterMessageContent::ShutdownRequest(req) => {
                let reply = ShutdownReply {
                    restart: req.restart,
                    ..Default::default()
                };
                connection::send(&mut conn, JupyterMessage::new(reply, Some(msg))).await;
                interrupts.kill_child();
                finish();
            }
            other => {
                eprintln!(
                    "ferrolab-kernel: ignored a {} message on control",
                    other.message_type()
                );
                continue;
            }
        };
        connection::send(&mut conn, JupyterMessage::new(reply, Some(msg))).await;
    }
}

/// Exits cleanly on SIGTERM, and when the process that started the kernel is gone (an orphaned
/// kernel would otherwise keep its child and build dir forever), as ipykernel does.
async fn exit_with_parent_or_sigterm(interrupts: std::sync::Arc<crate::interrupt::Control>) {
    use tokio::signal::unix::{signal, SignalKind};
    // SAFETY: getppid has no preconditions.
    let parent = unsafe { libc::getppid() };
    let mut term = signal(SignalKind::terminate()).ok();
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = async { term.as_mut()?.recv().await }, if term.is_some() => break,
            _ = tick.tick() => {
                // SAFETY: as above.
                if unsafe { libc::getppid() } != parent {
                    break;
                }
            }
        }
    }
    interrupts.kill_child();
    finish();
}

/// Shutdown through the (deprecated) shell channel.
pub async fn shut_down(evaluator: &Evaluator) {
    evaluator.control.kill_child();
    finish();
}

/// Lets the last reply leave, removes this kernel's build dir and exits.
fn finish() -> ! {
    std::thread::sleep(std::time::Duration::from_millis(100));
    if let Some(dir) = std::env::var_os("EVCXR_TMPDIR") {
        let _ = std::fs::remove_dir_all(dir);
    }
    std::process::exit(0)
}

pub fn kernel_info() -> KernelInfoReply {
    static RUSTC: OnceLock<String> = OnceLock::new();
    let version = RUSTC.get_or_init(|| {
        let out = std::process::Command::new("rustc")
            .arg("--version")
            .output();
        let text = out
            .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
            .unwrap_or_default();
        text.split_whitespace()
            .nth(1)
            .unwrap_or("unknown")
            .to_string()
    });
    let link = |text: &str, url: &str| HelpLink {
        text: text.into(),
        url: url.into(),
    };
    KernelInfoReply {
        status: ReplyStatus::Ok,
        protocol_version: "5.3".into(),
        implementation: "ferrolab".into(),
        implementation_version: env!("CARGO_PKG_VERSION").into(),
        language_info: LanguageInfo {
            name: "rust".into(),
            version: version.clone(),
            mimetype: Some("text/rust".into()),
            file_extension: Some(".rs".into()),
            pygments_lexer: Some("rust".into()),
            codemirror_mode: Some(CodeMirrorMode::Simple("rust".into())),
            nbconvert_exporter: Some("rust".into()),
        },
        banner: format!(
            "Rust {version} (Ferrolab {}): evcxr with the ferrolab engine preloaded.\n\
             `use ferrolab::prelude::*;` is already done. Magics: :help, :gpu, :dep, !cmd",
            env!("CARGO_PKG_VERSION")
        ),
        help_links: vec![
            link("Rust standard library", "https://doc.rust-lang.org/std/"),
            link("The Rust book", "https://doc.rust-lang.org/book/"),
            link("evcxr", "https://github.com/evcxr/evcxr"),
        ],
        debugger: false,
        error: None,
    }
}
