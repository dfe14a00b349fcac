//! Command line: run the kernel, install its kernelspec, or pre-build the engine for evcxr.

use std::path::PathBuf;

const USAGE: &str = "\
ferrolab-kernel: the Jupyter kernel for Rust (Ferrolab)

USAGE:
    ferrolab-kernel --connection-file FILE     run the kernel (Jupyter starts it this way)
    ferrolab-kernel install [--user | --sys-prefix | --prefix P]
                                               write the `ferrolab` kernelspec
    ferrolab-kernel prebuild                   pre-build the engine so first cells are fast
    ferrolab-kernel cheatsheet [--write README.md | --json]
                                               the Keras-to-Ferrolab table (README, hints)
    ferrolab-kernel --version | --help";

/// Parses the arguments and runs the chosen command; returns the process exit code.
pub fn main() -> i32 {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("install") => crate::install::run(&args[1..]),
        Some("prebuild") => crate::prebuild::run(),
        Some("cheatsheet") => crate::hints::run(&args[1..]),
        Some("--version" | "-V") => {
            println!("ferrolab-kernel {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Some("--help" | "-h") | None => {
            println!("{USAGE}");
            Ok(())
        }
        Some(_) => match connection_file(&args) {
            Some(file) => crate::kernel::run(&file),
            None => Err(anyhow::anyhow!("unknown arguments {args:?}\n\n{USAGE}")),
        },
    };
    match result {
        Ok(()) => 0,
        Err(error) => {
            eprintln!("ferrolab-kernel: {error:#}");
            1
        }
    }
}

/// `--connection-file FILE`, `--connection-file=FILE`, `-f FILE` or a lone `FILE.json`.
fn connection_file(args: &[String]) -> Option<PathBuf> {
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if let Some(file) = arg.strip_prefix("--connection-file=") {
            return Some(file.into());
        }
        if arg == "--connection-file" || arg == "-f" {
            return iter.next().map(PathBuf::from);
        }
        if arg.ends_with(".json") && !arg.starts_with('-') {
            return Some(arg.into());
        }
    }
    None
}
