"""Engine state lives across cells (DESIGN.md, "Statics are not shared across cells").

evcxr links every cell into its own library with its own copy of the engine's statics. These
tests prove, through the real kernel, that the engine's process-wide home (the anchor the kernel
binary exports) is shared: what one cell sets, the next cell sees."""

from kernel_helpers import run


def value(kernel, code):
    cell = run(kernel, code)
    assert cell.status == "ok", cell.outputs
    return cell.result()


def test_seed_set_in_one_cell_drives_the_next(kernel):
    # set_seed(1) in one cell and randn in the next ...
    assert run(kernel, "set_seed(1);").status == "ok"
    split = value(kernel, "randn([2, 3]).to_vec::<f32>()")
    # ... equals both in one cell.
    together = value(kernel, "set_seed(1);\nrandn([2, 3]).to_vec::<f32>()")
    assert split == together
    # And the generator moves on: a second draw differs.
    assert value(kernel, "randn([2, 3]).to_vec::<f32>()") != together


def test_one_engine_state_for_all_cells(kernel):
    first = value(kernel, 'format!("{:p}", ferrolab::state::global())')
    second = value(kernel, 'format!("{:p}", ferrolab::state::global())')
    assert first == second
    assert run(kernel, "ferrolab::state::set_num_threads(3);").status == "ok"
    assert value(kernel, "ferrolab::state::num_threads()") == "3"
    run(kernel, "ferrolab::state::set_num_threads(0);")


def test_default_device_across_cells(kernel):
    assert run(kernel, "set_default_device(Device::Cpu);").status == "ok"
    assert value(kernel, 'format!("{:?}", default_device())') == '"Cpu"'
    assert value(kernel, "tensor([1.0f32]).device().is_cpu()") == "true"


def test_cancel_flag_is_the_kernels(kernel):
    # A flag set in a cell is seen by the engine copy of the same cell ...
    assert value(kernel, "ferrolab::state::request_cancel();\nferrolab::state::is_cancelled()") == "true"
    # ... and the kernel clears a stale flag before the next cell, so it cannot stop it.
    assert value(kernel, "ferrolab::state::is_cancelled()") == "false"
    # The kernel's SIGINT handler sets the same flag every cell's engine reads: see
    # test_robustness.py::test_interrupt_stops_an_engine_loop_and_keeps_state.
