"""Interrupts through the real kernel: the learner's own loops stop within 1 s and keep every
variable, because the kernel inserts a cancel check at the top of each loop body of the cell
(kernel/src/instrument.rs) and every engine op checks the flag. Only code that blocks outside
the cell (a long sleep) still costs a restart of the Rust process."""

import time

from kernel_helpers import collect, run, wait_for_stdout

# How long each cell runs before the interrupt.
RUN_FOR = 3.0


def interrupt_after_start(kernel, code, timeout=60):
    """Runs `code` (which prints "started"), interrupts it RUN_FOR s later; returns the cell and
    how long after the interrupt its reply came."""
    msg_id = kernel.execute(code)
    wait_for_stdout(kernel, msg_id, "started", timeout=timeout)
    time.sleep(RUN_FOR)
    t0 = time.time()
    kernel.parent.interrupt_kernel()
    cell = collect(kernel, msg_id, timeout=30)
    return cell, cell.reply_time - t0


def assert_stopped_and_kept(kernel, cell, stopped_in, line):
    assert cell.status == "error"
    errors = cell.of_type("error")
    assert len(errors) == 1, cell.outputs
    error = errors[0]["content"]
    assert error["ename"] == "KeyboardInterrupt", error
    text = error["evalue"] + "\n".join(error["traceback"])
    assert "variables were lost" not in text, text
    assert text.count("KeyboardInterrupt") == 1, error["traceback"]
    assert "engine/src" not in text and ".rs:" not in text, text
    if line is not None:
        assert f"cell line {line}" in error["evalue"], error
    print(f"stopped {stopped_in:.2f} s after the interrupt: {error['evalue']}")
    assert stopped_in < 1.0, f"stopped {stopped_in:.2f} s after the interrupt"
    # The kernel answers the next cell within 2 s, with the earlier variables intact.
    t0 = time.time()
    after = run(kernel, "kept_n + kept_v.len() as u64")
    print(f"next cell answered in {time.time() - t0:.2f} s")
    assert after.result() == "45", after.outputs
    assert time.time() - t0 < 2.0


def test_setup_earlier_variables(kernel):
    cell = run(kernel, "let kept_n: u64 = 42;\nlet kept_v = vec![1.0f32, 2.0, 3.0];\n"
                       "let kept_x = tensor([1.0f32, 2.0, 3.0]);")
    assert cell.status == "ok", cell.outputs


def test_a_pure_rust_loop_over_an_earlier_variable(kernel):
    code = ('println!("started");\nlet mut total = 0u64;\nloop {\n'
            "    total = total.wrapping_add(kept_n);\n}")
    cell, t = interrupt_after_start(kernel, code)
    assert_stopped_and_kept(kernel, cell, t, line=3)


def test_an_engine_loop(kernel):
    code = ('println!("started");\nlet mut total = 0.0f32;\n'
            "loop { total += kept_x.sum().item(); }")
    cell, t = interrupt_after_start(kernel, code)
    # The op or the loop's check may take the interrupt: either way the loop's line is named.
    assert_stopped_and_kept(kernel, cell, t, line=3)


def test_a_nested_loop(kernel):
    code = ('println!("started");\nlet mut n = 0u64;\n'
            "'outer: for i in 0.. {\n    for j in 0..1_000_000_000u64 {\n"
            "        n = n.wrapping_add(i ^ j);\n        if n == 7 { break 'outer; }\n    }\n}")
    cell, t = interrupt_after_start(kernel, code)
    assert_stopped_and_kept(kernel, cell, t, line=4)


def test_a_while_whose_condition_never_turns_false(kernel):
    code = ('println!("started");\nlet mut i = 0u64;\nwhile kept_v.len() < 10 {\n'
            "    i = i.wrapping_add(1);\n}")
    cell, t = interrupt_after_start(kernel, code)
    assert_stopped_and_kept(kernel, cell, t, line=3)


def test_fit(kernel):
    code = (
        "let fx = linspace(-1.0, 1.0, 4096).reshape([4096, 1]);\n"
        "let fy = &fx * 2.0;\n"
        "let mut model = Sequential::new().add(Dense::new(64)).add(Dense::new(1)).input_shape([1]);\n"
        'model.compile(SGD::new(0.01), "mse", &[]);\n'
        'println!("started");\n'
        "model.fit(&fx, &fy).epochs(100000).batch_size(8).verbose(0).run();"
    )
    cell, t = interrupt_after_start(kernel, code, timeout=120)
    assert "training stopped in epoch" in cell.error()["evalue"], cell.error()
    assert_stopped_and_kept(kernel, cell, t, line=None)


def test_a_compile_error_inside_an_instrumented_loop_points_at_the_cell(kernel):
    cell = run(kernel, 'let a = 1;\nloop { loop { let b: i32 = "two"; } }')
    assert cell.status == "error"
    error = cell.error()
    assert error["ename"] == "CompileError"
    text = "\n".join(error["traceback"])
    # `"two"` starts at column 28 of line 2 of the cell as written.
    assert "cell line 2, column 28" in text, text
    assert "check_cancel" not in text, text
    assert 'loop { loop { let b: i32 = "two"; } }' in text


def test_an_hour_long_sleep_still_recovers_by_restarting(kernel):
    assert run(kernel, "let lost = 1;").status == "ok"
    code = 'println!("started");\nstd::thread::sleep(std::time::Duration::from_secs(3600));'
    msg_id = kernel.execute(code)
    wait_for_stdout(kernel, msg_id, "started")
    t0 = time.time()
    kernel.parent.interrupt_kernel()
    cell = collect(kernel, msg_id, timeout=30)
    print(f"restarted {cell.reply_time - t0:.2f} s after the interrupt")
    assert cell.reply_time - t0 <= 5.0
    error = cell.error()
    assert error["ename"] == "KeyboardInterrupt"
    assert "variables were lost" in error["evalue"]
    assert run(kernel, "tensor([1.0f32, 2.0]).to_vec::<f32>()").result() == "[1.0, 2.0]"
    assert run(kernel, "lost").status == "error"
