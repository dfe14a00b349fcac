//! Creating an evcxr context with the engine loaded, fast.
//!
//! evcxr compiles path dependencies in its own build directory (`EVCXR_TMPDIR`) and never
//! caches them elsewhere, so a cold context would rebuild the engine for minutes. `prebuild`
//! (run by install.sh) builds the engine once in a *template* directory. Each kernel copies the
//! template into a directory of its own, so several kernels never share a mutable build dir.
//!
//! One trap: evcxr's context init compiles `42` with no dependencies, and cargo then prunes the
//! engine's entries from `Cargo.lock`. We put the template's lock back before `:dep`, so cargo
//! resolves nothing and rebuilds nothing.

use anyhow::{bail, Context, Result};
use evcxr::{CommandContext, EvalContextOutputs};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// With `FERROLAB_TRACE=1`, start-up steps print their times to the kernel's stderr.
pub fn trace(step: &str, since: Instant) {
    if std::env::var_os("FERROLAB_TRACE").is_some() {
        eprintln!(
            "ferrolab-kernel: {step}: {:.2} s",
            since.elapsed().as_secs_f64()
        );
    }
}

/// Installed in every child process (after each restart too). Panics are caught by evcxr,
/// which would report the cell as a success; this hook tells the kernel on stdout instead, in
/// order with the cell's other output. All cells share one libstd, hence one hook. Panics the
/// engine catches itself (`ferrolab::state::catch_quietly`) are not reported.
pub const CHILD_SETUP: &str = r#"std::panic::set_hook(Box::new(|info| {
    if ferrolab::state::in_quiet_catch() { return; }
    let p = info.payload();
    let m = if let Some(s) = p.downcast_ref::<&str>() { s.to_string() }
        else if let Some(s) = p.downcast_ref::<String>() { s.clone() }
        else { "Box<dyn Any>".to_string() };
    let l = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
    println!("\u{1}FERROLAB_PANIC\u{1}{}\u{1}{}", m.replace('\\', "\\\\").replace('\n', "\\n"), l);
}));"#;

/// The `:dep` line and prelude import every context starts with.
pub fn engine_setup_code() -> String {
    format!(
        ":dep ferrolab = {{ path = {:?} }}\nuse ferrolab::prelude::*;\n{CHILD_SETUP}",
        crate::cli::engine_dir().display().to_string()
    )
}

/// Says plainly when the toolchain lacks what evcxr needs.
pub fn check_toolchain() -> Result<()> {
    let out = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .context("`rustc` was not found on PATH; install Rust with rustup (https://rustup.rs)")?;
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let src = Path::new(&sysroot).join("lib/rustlib/src/rust/library");
    if !src.is_dir() {
        bail!(
            "the `rust-src` component is missing (evcxr needs it to infer variable types); \
             run `rustup component add rust-src` or ./install.sh"
        );
    }
    Ok(())
}

/// Copies the pre-built template into `dir` (a fresh directory for this kernel).
pub fn copy_template(template: &Path, dir: &Path) -> Result<()> {
    let status = Command::new("cp")
        .arg("-a")
        .arg(template.join("."))
        .arg(dir)
        .status()
        .context("running cp")?;
    if !status.success() {
        bail!("copying {} failed", template.display());
    }
    Ok(())
}

/// Starts evcxr in `EVCXR_TMPDIR` (set by the caller before any thread starts), with the engine
/// loaded and the prelude imported. `lock`, when given, is put in place before `:dep`, so cargo
/// picks the same versions as that lock file (the template's, or the workspace's).
pub fn start_context(lock: Option<&Path>) -> Result<(CommandContext, EvalContextOutputs)> {
    let t = Instant::now();
    check_toolchain()?;
    let (mut ctx, outputs) =
        CommandContext::new().map_err(|e| anyhow::anyhow!("starting evcxr: {e}"))?;
    trace("evcxr context (compiles `42`)", t);
    let t = Instant::now();
    if let (Some(lock), Ok(dir)) = (lock, std::env::var("EVCXR_TMPDIR")) {
        let _ = std::fs::copy(lock, Path::new(&dir).join("Cargo.lock"));
    }
    ctx.execute(&engine_setup_code()).map_err(|e| {
        anyhow::anyhow!(
            "loading the ferrolab engine from {} failed:\n{e}",
            crate::cli::engine_dir().display()
        )
    })?;
    trace(":dep ferrolab + prelude + panic hook", t);
    Ok((ctx, outputs))
}
