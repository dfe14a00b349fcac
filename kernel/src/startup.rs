//! Creating an evcxr context with the engine loaded, fast.
//!
//! evcxr compiles path dependencies in its own build directory (`EVCXR_TMPDIR`) and never
//! caches them elsewhere, so a cold context would rebuild the engine for minutes. `prebuild`
//! (run by install.sh) builds the engine once in a *template* directory. Each kernel copies the
//! template into a directory of its own, so several kernels never share a mutable build dir.
//!
//! The context starts through a patched evcxr (kernel/vendor/evcxr, see FERROLAB_PATCH.md there):
//! its very first compile already has the engine dependency, the prelude and the panic hook (plain
//! evcxr compiles `42`, then the `:dep` in a second build, and rust-analyzer loads everything
//! twice). The template's `Cargo.lock` is put in place first, so cargo resolves nothing and
//! rebuilds nothing. rust-analyzer, which evcxr runs on every cell to learn variable types, is
//! shown a lean copy of the engine's package (see [`write_analysis_package`]).

use anyhow::{bail, Context, Result};
use evcxr::{CommandContext, EvalContext, EvalContextOutputs};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// With `FERROLAB_TRACE=1`, start-up steps print their times to the kernel's stderr.
pub fn trace(step: &str, since: Instant) {
    if std::env::var_os("FERROLAB_TRACE").is_some() {
        // SAFETY: getrusage fills the struct it is given.
        let cpu = unsafe {
            let mut u: libc::rusage = std::mem::zeroed();
            libc::getrusage(libc::RUSAGE_THREAD, &mut u);
            u.ru_utime.tv_sec as f64
                + u.ru_utime.tv_usec as f64 * 1e-6
                + u.ru_stime.tv_sec as f64
                + u.ru_stime.tv_usec as f64 * 1e-6
        };
        eprintln!(
            "ferrolab-kernel: {step}: {:.2} s (this thread's CPU so far {cpu:.2} s)",
            since.elapsed().as_secs_f64()
        );
    }
}

/// Run in every child process (after each restart too): the engine's panic hook, which reports
/// a cell's panic on stdout (evcxr would report the cell as a success); see
/// `ferrolab::display::child`.
pub const CHILD_SETUP: &str = "ferrolab::display::child::install_panic_hook();";

/// The engine dependency every context starts with: `(name, cargo config)`.
pub fn engine_dep() -> (&'static str, String) {
    (
        "ferrolab",
        format!(
            "{{ path = {:?} }}",
            crate::template::engine_dir().display().to_string()
        ),
    )
}

/// What rust-analyzer is shown of the engine's dependencies that appear in its public API:
/// `half` (`f16`, `bf16`, re-exported by the prelude) and `serde_json` (`Layer::get_config()`,
/// re-exported as `ferrolab::serde_json`). Stand-ins with the same names, types and signatures,
/// never compiled: they only give type inference the names of learners' variable types.
const STAND_INS: &[(&str, &str)] = &[
    ("half", include_str!("../analysis/half.rs")),
    ("serde_json", include_str!("../analysis/serde_json.rs")),
];

/// Writes the packages rust-analyzer sees in place of the engine, under `dir`:
/// `ferrolab-analysis` (the engine's sources, through a symlink) and one `ferrolab-analysis-NAME`
/// per [`STAND_INS`] entry.
///
/// evcxr runs rust-analyzer's type inference on every cell, and the first one loads the whole
/// dependency graph it is shown. The engine's other dependencies (gemm, cudarc, plotters, png,
/// libc, and what half and serde_json pull in) appear in no public signature; hiding them takes
/// seconds off the first cell. The build itself uses the real engine.
pub fn write_analysis_package(dir: &Path) -> Result<std::path::PathBuf> {
    let engine = crate::template::engine_dir();
    let mut deps = String::new();
    for (name, source) in STAND_INS {
        let pkg = dir.join(format!("ferrolab-analysis-{name}"));
        std::fs::create_dir_all(pkg.join("src"))?;
        std::fs::write(
            pkg.join("Cargo.toml"),
            format!("[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2021\"\n"),
        )?;
        std::fs::write(pkg.join("src/lib.rs"), source)?;
        deps += &format!("{name} = {{ path = {:?} }}\n", pkg.display().to_string());
    }
    let pkg = dir.join("ferrolab-analysis");
    std::fs::create_dir_all(&pkg)?;
    std::fs::write(
        pkg.join("Cargo.toml"),
        format!(
            "[package]\nname = \"ferrolab\"\nversion = \"{}\"\nedition = \"2021\"\n\n\
             [dependencies]\n{deps}",
            env!("CARGO_PKG_VERSION"),
        ),
    )?;
    let src = pkg.join("src");
    if std::fs::symlink_metadata(&src).is_ok() {
        std::fs::remove_file(&src).or_else(|_| std::fs::remove_dir_all(&src))?;
    }
    std::os::unix::fs::symlink(engine.join("src"), &src)?;
    Ok(pkg)
}

/// The prelude import and panic hook every context starts with.
pub fn engine_setup_code() -> String {
    format!("use ferrolab::prelude::*;\n{CHILD_SETUP}")
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

/// Starts evcxr in `EVCXR_TMPDIR` (set by the caller before any thread starts), with the engine
/// loaded and the prelude imported. `lock`, when given, is put in place before `:dep`, so cargo
/// picks the same versions as that lock file (the template's, or the workspace's).
pub fn start_context(lock: Option<&Path>) -> Result<(CommandContext, EvalContextOutputs)> {
    let t = Instant::now();
    check_toolchain()?;
    if let (Some(lock), Ok(dir)) = (lock, std::env::var("EVCXR_TMPDIR")) {
        let _ = std::fs::copy(lock, Path::new(&dir).join("Cargo.lock"));
    }
    // One compile: the engine dependency, the prelude and the panic hook are in the context's
    // very first build (a patched evcxr; see kernel/vendor/evcxr/FERROLAB_PATCH.md).
    let (name, config) = engine_dep();
    // Without the lean package rust-analyzer sees the real engine: slower, still correct.
    let analysis = std::env::var("EVCXR_TMPDIR")
        .context("EVCXR_TMPDIR is not set")
        .and_then(|dir| write_analysis_package(Path::new(&dir)))
        .map(|p| p.display().to_string())
        .inspect_err(|e| eprintln!("ferrolab-kernel: rust-analyzer sees the whole engine: {e:#}"))
        .ok();
    let overrides: Vec<(&str, &str)> = analysis.iter().map(|a| (name, a.as_str())).collect();
    let (eval, outputs) =
        EvalContext::new_with_init(&[(name, &config)], &engine_setup_code(), &overrides).map_err(
            |e| {
                anyhow::anyhow!(
                    "starting evcxr with the ferrolab engine from {} failed:\n{e}",
                    crate::template::engine_dir().display()
                )
            },
        )?;
    trace("evcxr context with the engine, prelude and panic hook", t);
    Ok((CommandContext::with_eval_context(eval), outputs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stand_ins_are_valid_rust() {
        // rust-analyzer would read a broken one silently; rustc says what is wrong.
        let out = std::env::temp_dir().join(format!("ferrolab-stand-ins-{}", std::process::id()));
        for (name, source) in STAND_INS {
            let file = out.join(format!("{name}.rs"));
            std::fs::create_dir_all(&out).unwrap();
            std::fs::write(&file, source).unwrap();
            let r = Command::new("rustc")
                .args([
                    "--edition",
                    "2021",
                    "--crate-type",
                    "lib",
                    "--emit",
                    "metadata",
                ])
                .arg("--crate-name")
                .arg(name)
                .arg("--out-dir")
                .arg(&out)
                .arg(&file)
                .output()
                .unwrap();
            assert!(
                r.status.success(),
                "{name}: {}",
                String::from_utf8_lossy(&r.stderr)
            );
        }
        std::fs::remove_dir_all(&out).unwrap();
    }

    #[test]
    fn the_analysis_package_has_the_engine_sources_and_only_the_stand_ins() {
        let dir =
            std::env::temp_dir().join(format!("ferrolab-analysis-test-{}", std::process::id()));
        let pkg = write_analysis_package(&dir).unwrap();
        // Twice: an existing package (and its symlink) is replaced.
        let pkg2 = write_analysis_package(&dir).unwrap();
        assert_eq!(pkg, pkg2);
        let manifest: toml::Table =
            toml::from_str(&std::fs::read_to_string(pkg.join("Cargo.toml")).unwrap()).unwrap();
        assert_eq!(manifest["package"]["name"].as_str(), Some("ferrolab"));
        let deps = manifest["dependencies"].as_table().unwrap();
        assert_eq!(deps.keys().collect::<Vec<_>>(), ["half", "serde_json"]);
        let stand_in = |name: &str| {
            let dir = std::path::PathBuf::from(deps[name]["path"].as_str().unwrap());
            std::fs::read_to_string(dir.join("src/lib.rs")).unwrap()
        };
        assert!(stand_in("half").contains("half_type!(f16 bf16);"));
        assert!(stand_in("serde_json").contains("pub enum Value {"));
        let src = std::fs::read_link(pkg.join("src")).unwrap();
        assert_eq!(src, crate::template::engine_dir().join("src"));
        assert!(pkg.join("src/lib.rs").is_file());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
