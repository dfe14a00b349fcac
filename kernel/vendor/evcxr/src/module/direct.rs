// Ferrolab patch (see FERROLAB_PATCH.md): building the cell crate with rustc directly.
//
// Each cell is one `cargo build` of the `ctx` crate. Cargo then checks the fingerprints of every
// unit in the dependency graph (about 85 with the Ferrolab engine) and starts rustc through the
// evcxr wrapper; on a busy 2-core machine that is 0.1-0.6 s of each cell's build. When a cargo
// build of `ctx` succeeds, the wrapper records rustc's command line and environment. Later
// cells run that rustc command directly, as long as nothing cargo would act on has changed:
// the manifest, the cargo command (flags, toolchain, environment) and the sources of path
// dependencies. Otherwise cargo runs, and records again.

use super::execution_so_source;
use anyhow::Result;
use std::path::Path;
use std::path::PathBuf;
use std::process::Command;
use std::time::SystemTime;

/// `EVCXR_DIRECT_RUSTC=0` turns direct builds off (every cell runs cargo), to compare.
const SWITCH_ENV: &str = "EVCXR_DIRECT_RUSTC";

/// Set on `cargo build`: where the wrapper records the rustc command of the cell crate.
pub(crate) const RECORD_ENV: &str = "EVCXR_RECORD_RUSTC";
const RECORD_FILE: &str = ".evcxr-rustc-command.json";

#[derive(serde::Serialize, serde::Deserialize)]
struct Recorded {
    dir: PathBuf,
    program: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

/// A rustc command for the cell crate, and what it was recorded for.
pub(crate) struct DirectRustc {
    recorded: Recorded,
    /// The manifest, `.cargo/config.toml` and cargo command it was recorded with.
    key: String,
    recorded_at: SystemTime,
    path_deps: Vec<PathBuf>,
    pub(crate) so_path: PathBuf,
}

/// Where `cargo build` in `crate_dir` has the wrapper record the rustc command.
pub(crate) fn record_file(crate_dir: &Path) -> PathBuf {
    crate_dir.join(RECORD_FILE)
}

/// In the rustc wrapper: records `command` when it builds the cell crate and cargo asked for it.
pub(crate) fn record(command: &Command) -> Result<()> {
    let Some(file) = std::env::var_os(RECORD_ENV) else {
        return Ok(());
    };
    if execution_so_source(command).is_none() {
        return Ok(());
    }
    let text = |s: &std::ffi::OsStr| s.to_str().map(str::to_owned);
    let args: Option<Vec<String>> = command.get_args().map(text).collect();
    let env: Option<Vec<(String, String)>> = std::env::vars_os()
        // Not the recording request, nor cargo's jobserver (gone once cargo exits).
        .filter(|(k, _)| {
            ![RECORD_ENV, "CARGO_MAKEFLAGS", "MAKEFLAGS", "MFLAGS"]
                .iter()
                .any(|n| k == n)
        })
        .map(|(k, v)| Some((text(&k)?, text(&v)?)))
        .collect();
    // A command that is not valid UTF-8 is not recorded: cargo keeps building every cell.
    if let (Some(program), Some(args), Some(env)) = (text(command.get_program()), args, env) {
        let dir = std::env::current_dir()?;
        let recorded = Recorded {
            dir,
            program,
            args,
            env,
        };
        std::fs::write(file, serde_json::to_vec(&recorded)?)?;
    }
    Ok(())
}

/// What decides whether a recorded command still applies: the manifest and cargo config that
/// cargo read, and the cargo command itself (its flags and environment).
pub(crate) fn key(crate_dir: &Path, cargo_command: &Command) -> String {
    let read = |p: &str| std::fs::read_to_string(crate_dir.join(p)).unwrap_or_default();
    format!(
        "{}\n{}\n{cargo_command:?}",
        read("Cargo.toml"),
        read(".cargo/config.toml")
    )
}

impl DirectRustc {
    /// The command the wrapper recorded during a cargo build (started at `started`) that
    /// succeeded, if any.
    pub(crate) fn load(crate_dir: &Path, key: String, started: SystemTime) -> Option<Self> {
        let file = record_file(crate_dir);
        let recorded: Recorded = serde_json::from_slice(&std::fs::read(&file).ok()?).ok()?;
        let _ = std::fs::remove_file(&file);
        let mut command = Command::new(&recorded.program);
        command.args(&recorded.args);
        let so_path = execution_so_source(&command)?;
        let path_deps =
            path_dependencies(&std::fs::read_to_string(crate_dir.join("Cargo.toml")).ok()?);
        Some(DirectRustc {
            recorded,
            key,
            recorded_at: started,
            path_deps,
            so_path,
        })
    }

    /// The rustc command, if cargo would do nothing else for this build: same key, and no
    /// source file of a path dependency modified since the recording cargo build started.
    pub(crate) fn command(&self, key: &str) -> Option<Command> {
        if key != self.key
            || std::env::var_os(SWITCH_ENV).is_some_and(|v| v == "0")
            || self
                .path_deps
                .iter()
                .any(|dir| modified_since(dir, self.recorded_at))
        {
            return None;
        }
        let mut command = Command::new(&self.recorded.program);
        command
            .args(&self.recorded.args)
            .current_dir(&self.recorded.dir)
            .env_clear()
            .envs(self.recorded.env.iter().map(|(k, v)| (k, v)));
        Some(command)
    }
}

/// The directories of `path = "..."` dependencies in a cell crate's manifest.
fn path_dependencies(manifest: &str) -> Vec<PathBuf> {
    let Ok(table) = manifest.parse::<toml::Table>() else {
        return vec![PathBuf::from("/")];
    };
    let deps = table.get("dependencies").and_then(|d| d.as_table());
    deps.into_iter()
        .flat_map(|d| d.values())
        .filter_map(|d| d.get("path")?.as_str().map(PathBuf::from))
        .collect()
}

/// Whether a file under `dir` (not under `target` or a dot-directory) changed after `since`.
fn modified_since(dir: &Path, since: SystemTime) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return true;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name == "target" || name.starts_with('.') {
            continue;
        }
        let Ok(meta) = entry.metadata() else {
            return true;
        };
        if meta.is_dir() {
            if modified_since(&entry.path(), since) {
                return true;
            }
        } else if meta.modified().map_or(true, |m| m >= since) {
            return true;
        }
    }
    false
}
