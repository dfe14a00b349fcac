//! `ferrolab-kernel install [--user | --sys-prefix | --prefix P]`: writes the `ferrolab`
//! kernelspec (kernel.json and logos) where Jupyter looks for kernels.
//!
//! `interrupt_mode` is `message`: Jupyter sends `interrupt_request` on the control channel and
//! the kernel signals its evcxr child itself (see `interrupt.rs`); the kernel process ignores
//! SIGINT.

use anyhow::{bail, Context, Result};
use serde_json::json;
use std::path::PathBuf;

const LOGOS: [(&str, &[u8]); 3] = [
    ("logo-32x32.png", include_bytes!("../assets/logo-32x32.png")),
    ("logo-64x64.png", include_bytes!("../assets/logo-64x64.png")),
    ("logo-svg.svg", include_bytes!("../assets/logo-svg.svg")),
];

pub fn run(args: &[String]) -> Result<()> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let data_dir = match args.as_slice() {
        [] | ["--user"] => user_data_dir()?,
        ["--sys-prefix"] => sys_prefix()?.join("share/jupyter"),
        ["--prefix", prefix] => PathBuf::from(prefix).join("share/jupyter"),
        _ => bail!("usage: ferrolab-kernel install [--user | --sys-prefix | --prefix P]"),
    };
    let dir = data_dir.join("kernels").join("ferrolab");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let exe = std::env::current_exe()?.canonicalize()?;
    let spec = json!({
        "argv": [exe, "--connection-file", "{connection_file}"],
        "display_name": "Rust (Ferrolab)",
        "language": "rust",
        "interrupt_mode": "message",
        "metadata": { "debugger": false },
    });
    std::fs::write(
        dir.join("kernel.json"),
        serde_json::to_string_pretty(&spec)? + "\n",
    )?;
    for (name, bytes) in LOGOS {
        std::fs::write(dir.join(name), bytes)?;
    }
    println!("Installed the ferrolab kernelspec in {}", dir.display());
    Ok(())
}

/// `$JUPYTER_DATA_DIR`, else `$XDG_DATA_HOME/jupyter`, else `~/.local/share/jupyter`.
fn user_data_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("JUPYTER_DATA_DIR") {
        return Ok(dir.into());
    }
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME") {
        return Ok(PathBuf::from(dir).join("jupyter"));
    }
    let home = std::env::var_os("HOME").context("HOME is not set")?;
    Ok(PathBuf::from(home).join(".local/share/jupyter"))
}

/// The active virtual environment, else the prefix of `python3`.
fn sys_prefix() -> Result<PathBuf> {
    if let Some(venv) = std::env::var_os("VIRTUAL_ENV") {
        return Ok(venv.into());
    }
    let out = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.prefix)"])
        .output()
        .context("--sys-prefix needs python3 on PATH (or VIRTUAL_ENV set)")?;
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}
