// Export the engine's process anchor from the kernel binary, so that every copy of the engine
// compiled into a notebook cell finds the same process-wide state with dlsym (DESIGN.md,
// "Statics are not shared across cells").
fn main() {
    println!("cargo:rustc-link-arg-bins=-Wl,--export-dynamic-symbol=ferrolab_process_anchor");
}
