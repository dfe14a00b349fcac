//! Display tests, one binary: the display line protocol, tables, the progress bar and plots.

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod display;
mod plot;
