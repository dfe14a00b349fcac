//! `ferrolab-kernel`: a Jupyter kernel for Rust cells with the Ferrolab engine preloaded.
//! See `HOW_IT_WORKS.md` next to this crate's `Cargo.toml`.

mod child;
mod cli;
mod completion;
mod connection;
mod control;
mod display;
mod errors;
mod evaluation;
mod hints;
mod history;
mod install;
mod instrument;
mod interrupt;
mod is_complete;
mod kernel;
mod magics;
mod prebuild;
mod pump;
mod shell;
mod startup;
mod template;

// The one process-wide home of engine state; the evcxr child is this same binary.
ferrolab::export_process_anchor!();

fn main() {
    // In the evcxr child process this never returns: it runs the cells.
    child::enter_if_child();
    std::process::exit(cli::main());
}
