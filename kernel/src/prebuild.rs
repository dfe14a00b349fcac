//! `ferrolab-kernel prebuild`: builds the engine once, the way evcxr will use it, into a
//! template directory that each new kernel copies (see `startup.rs`). install.sh runs it.
//!
//! The template is built in `<template>.building` and renamed into place when done, so a kernel
//! starting meanwhile never copies half a build. A stamp records the engine's sources; when they
//! have not changed, prebuild does nothing (install.sh stays fast and idempotent).

use crate::template::{self, TEMPLATE_STAMP};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The first engine cell of the speed target, run once so everything it needs is built.
const SAMPLE_CELL: &str = "let t = tensor([[1.0f32, 2.0], [3.0, 4.0]]); t.matmul(&t)";

/// A learner's typo: the first one in a fresh kernel must not wait for a build of dependencies.
/// When rust-analyzer cannot type a `let` (here: an unknown name), evcxr asks cargo for rustc's
/// errors. Plain evcxr runs `cargo check`, which needs check metadata of every dependency: a
/// fresh kernel's first typo built all of it (26-88 s on a 2-core machine). Our evcxr runs
/// `cargo build` there (kernel/vendor/evcxr/FERROLAB_PATCH.md), so the template stays as lean
/// as before. Running this cell here builds whatever that path needs once, in the template, and
/// makes prebuild fail if the path is broken.
const TYPO_CELL: &str = "let prebuild_typo = prebuild_unknown_name + 1;";

pub fn run() -> Result<()> {
    let template = template::template_dir();
    let stamp = stamp();
    let stamp_file = template.join(TEMPLATE_STAMP);
    if std::fs::read_to_string(&stamp_file).ok().as_deref() == Some(stamp.as_str()) {
        println!(
            "The engine is already pre-built for evcxr in {}",
            template.display()
        );
        return Ok(());
    }
    let work = PathBuf::from(format!("{}.building", template.display()));
    if !work.exists() && template.exists() {
        // Start from the old template: only what changed (usually the engine crate) rebuilds.
        template::copy_template(&template, &work)?;
        // A template without a stamp (say, a hand-made copy) is reused all the same.
        let _ = std::fs::remove_file(work.join(TEMPLATE_STAMP));
        // The engine changed, so it is rebuilt anyway: drop its old artifacts, which would
        // otherwise pile up in the template that every kernel copies.
        prune(&work, true);
    }
    std::fs::create_dir_all(&work)?;
    // Single-threaded here, so setting the environment is sound.
    std::env::set_var("EVCXR_TMPDIR", &work);
    std::env::set_var("EVCXR_CONFIG_DIR", work.join("no-evcxr-config"));
    std::env::set_var(ferrolab::display::DISPLAY_ENV, "1");

    println!(
        "Pre-building the ferrolab engine for evcxr in {} ...",
        work.display()
    );
    let start = Instant::now();
    let lock = template::engine_dir().join("../Cargo.lock");
    let (mut ctx, _outputs) = crate::startup::start_context(Some(&lock))?;
    let out = ctx
        .execute(SAMPLE_CELL)
        .map_err(|e| anyhow::anyhow!("the sample cell failed: {e}"))?;
    match ctx.execute(TYPO_CELL) {
        Err(evcxr::Error::CompilationErrors(_)) => {}
        Err(e) => anyhow::bail!("the typo cell failed in an unexpected way: {e}"),
        Ok(_) => anyhow::bail!("the typo cell compiled, but it should not have"),
    }
    drop(ctx);
    prune(&work, false);
    let _ = std::fs::remove_dir_all(work.join("no-evcxr-config"));
    std::fs::write(work.join(TEMPLATE_STAMP), &stamp)?;
    if template.exists() {
        std::fs::remove_dir_all(&template).context("removing the old template")?;
    }
    std::fs::rename(&work, &template).context("moving the template into place")?;
    let result = out
        .content_by_mime_type
        .get("text/plain")
        .cloned()
        .unwrap_or_default();
    println!(
        "Pre-built in {:.0} s (sample cell result: {})",
        start.elapsed().as_secs_f64(),
        result.lines().next().unwrap_or("")
    );
    Ok(())
}

/// Removes from a build dir what kernels never need: rustc's incremental caches (a third of a
/// fresh template; cargo does not track them, so nothing rebuilds without them) and, with
/// `old_engine`, the engine crate's own artifacts and fingerprints (it is about to be rebuilt).
/// Each kernel copies the template at start, so its size is start-up time.
fn prune(dir: &Path, old_engine: bool) {
    let Ok(targets) = std::fs::read_dir(dir.join("target")) else {
        return;
    };
    let mut profiles: Vec<PathBuf> = targets
        .flatten()
        .map(|t| t.path().join("debug"))
        .filter(|p| p.is_dir())
        .collect();
    profiles.push(dir.join("target/debug"));
    for profile in profiles {
        let _ = std::fs::remove_dir_all(profile.join("incremental"));
        if !old_engine {
            continue;
        }
        for sub in ["deps", ".fingerprint"] {
            let Ok(entries) = std::fs::read_dir(profile.join(sub)) else {
                continue;
            };
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with("libferrolab-") || name.starts_with("ferrolab-") {
                    let p = e.path();
                    let _ = if p.is_dir() {
                        std::fs::remove_dir_all(&p)
                    } else {
                        std::fs::remove_file(&p)
                    };
                }
            }
        }
    }
}

/// The stamp of a template that `prebuild` would build now: the engine's sources and the cells
/// it runs (a template built by other cells may lack artifacts that these need).
pub fn stamp() -> String {
    template::sources_stamp(&template::engine_dir(), &[SAMPLE_CELL, TYPO_CELL])
}
