//! The control channel and the kernel's ends: `kernel_info`, interrupts, shutdown (on control,
//! on the deprecated shell route, on SIGTERM, or when the parent process is gone).

use crate::connection;
use crate::evaluation::Evaluator;
use anyhow::Result;
use jupyter_protocol::*;
use jupyter_zmq_client as zmq_client;
use std::sync::OnceLock;

/// The control channel: kernel_info, interrupt and shutdown, answered even while a cell runs.
pub async fn control_task(
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
pub async fn exit_with_parent_or_sigterm(interrupts: std::sync::Arc<crate::interrupt::Control>) {
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
