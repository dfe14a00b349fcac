"""Cells built by rustc directly stay correct (issue 13, kernel/vendor/evcxr/FERROLAB_PATCH.md).

After a cargo build of the cell crate, the patched evcxr runs the recorded rustc command for
later cells and skips cargo, as long as nothing cargo would act on changed. These tests check
what a learner would see go wrong if that rule were wrong: a result from a stale build, a
dependency whose edited source is ignored, or a compile error without its cell location.
"""

import os
import time

from kernel_helpers import run, start_kernel


def test_direct_builds_give_fresh_results_and_errors_with_locations():
    km, kc = start_kernel()
    try:
        assert run(kc, "let a = 40;").status == "ok"
        for add in (2, 3, 4):
            # Each cell is a new build: a stale library would repeat the previous result.
            assert run(kc, f"a + {add}").result() == str(40 + add)
        cell = run(kc, 'let z: i32 = "forty";')
        assert cell.status == "error"
        error = cell.error()
        assert "E0308" in error["evalue"], error
        assert "cell line 1, column" in "\n".join(error["traceback"])
        # The failed cell kept `a`, and the next build works.
        assert run(kc, "a * 2").result() == "80"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_an_edited_path_dependency_is_rebuilt(tmp_path):
    crate = tmp_path / "mylib"
    (crate / "src").mkdir(parents=True)
    (crate / "Cargo.toml").write_text(
        '[package]\nname = "mylib"\nversion = "0.1.0"\nedition = "2021"\n'
    )
    lib = crate / "src" / "lib.rs"
    lib.write_text("pub fn value() -> i32 { 1 }\n")
    km, kc = start_kernel()
    try:
        cell = run(kc, f':dep mylib = {{ path = "{crate}" }}', timeout=1200)
        assert cell.status == "ok", cell.outputs
        assert run(kc, "mylib::value()", timeout=1200).result() == "1"
        assert run(kc, "mylib::value() + 10").result() == "11"
        # The learner edits the crate: the next cell must see it (cargo rebuilds it).
        lib.write_text("pub fn value() -> i32 { 2 }\n")
        later = time.time() + 2
        os.utime(lib, (later, later))
        assert run(kc, "mylib::value()", timeout=1200).result() == "2"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
