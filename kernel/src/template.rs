//! The pre-built engine template: where it lives, the engine it is built from, the stamp that
//! says which sources it was built from, and copying it into a kernel's build dir. `prebuild`
//! writes templates, each kernel copies one (see DESIGN.md, "Fast first cell").

use anyhow::{bail, Context, Result};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Name of the stamp file `prebuild` writes last into a finished template.
pub const TEMPLATE_STAMP: &str = ".ferrolab-template";

/// The engine crate the kernel preloads: `FERROLAB_ENGINE_DIR`, else `engine/` of this repo.
pub fn engine_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("FERROLAB_ENGINE_DIR") {
        return PathBuf::from(dir);
    }
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../engine"));
    dir.canonicalize().unwrap_or(dir)
}

/// Where `prebuild` leaves the engine built for evcxr: `FERROLAB_TEMPLATE_DIR`, else next to
/// the kernel binary (`target/release/ferrolab-evcxr-template`).
pub fn template_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("FERROLAB_TEMPLATE_DIR") {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    exe.parent()
        .map(|p| p.join("ferrolab-evcxr-template"))
        .unwrap_or_else(|| PathBuf::from("ferrolab-evcxr-template"))
}

/// A fingerprint of the engine's sources and manifest (paths, sizes, modification times), of
/// this kernel's version and of `cells` (the cells the template was built with).
pub fn sources_stamp(engine: &Path, cells: &[&str]) -> String {
    let mut files = Vec::new();
    collect(engine, &mut files);
    files.push(engine.join("../Cargo.lock"));
    files.sort();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    env!("CARGO_PKG_VERSION").hash(&mut h);
    cells.hash(&mut h);
    for f in files {
        let meta = std::fs::metadata(&f).ok();
        f.hash(&mut h);
        meta.as_ref().map(|m| m.len()).hash(&mut h);
        meta.and_then(|m| m.modified().ok()).hash(&mut h);
    }
    format!("{:016x} {}\n", h.finish(), engine.display())
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == "target" || name.to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            collect(&path, out);
        } else {
            out.push(path);
        }
    }
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
