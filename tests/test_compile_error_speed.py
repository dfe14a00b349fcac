"""A learner's first typo in a fresh kernel gets its error at once (issue 13).

evcxr answers a cell that rust-analyzer rejects by asking cargo for rustc's errors. Plain evcxr
runs `cargo check`, which builds check metadata for every dependency of the engine the first
time: 26-88 s on a 2-core machine, long enough to look like a hang. Our evcxr runs `cargo build`
there, whose artifacts the pre-built template has (kernel/vendor/evcxr/FERROLAB_PATCH.md).
The target is 2 s; the test prints the time and fails only above 30 s (CI machines are noisy).
"""

import time

from kernel_helpers import WARM_TIMEOUT, run, start_kernel

FIRST_CELL = "let t = tensor([[1.0f32, 2.0], [3.0, 4.0]]); t.matmul(&t)"
TYPO_CELL = "let a = 1;\nlet y = undefined_name + 1;"
LIMIT_S = 30


def test_the_first_compile_error_in_a_fresh_kernel_is_fast():
    km, kc = start_kernel(warm=False)
    try:
        first = run(kc, FIRST_CELL, timeout=WARM_TIMEOUT)
        assert first.status == "ok", first.outputs
        t0 = time.time()
        cell = run(kc, TYPO_CELL, timeout=300)
        took = cell.reply_time - t0
        print(f"first compile error in a fresh kernel: {took:.2f} s (target 2 s)")
        assert cell.status == "error"
        error = cell.error()
        assert error["ename"] == "CompileError"
        assert "E0425" in error["evalue"] and "`undefined_name`" in error["evalue"]
        text = "\n".join(error["traceback"])
        assert "cell line 2, column 9" in text, text
        assert took < LIMIT_S, f"the first compile error took {took:.1f} s"
        # The kernel is still usable, with the first cell's variables.
        assert run(kc, "t.sum().to_vec::<f32>()[0]").result() == "10.0"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
