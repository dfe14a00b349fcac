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


def test_host_buffer_cache_is_one_per_process(kernel):
    # Large buffers freed in one cell stay in the process-wide cache, and an allocation of the
    # same size in the next cell (another copy of the engine) reuses one.
    assert run(kernel, "ferrolab::runtime::empty_cache(Device::Cpu);").status == "ok"
    # exp's output misses the cache (so 8 MB buffers are now wanted); the zeros input and then
    # the output are freed into it.
    assert run(kernel, "{ let a = zeros([2_000_000]).exp(); }").status == "ok"
    assert value(kernel, "ferrolab::runtime::host_cache_stats().cached") == "16000000"
    hits = int(value(kernel, "ferrolab::runtime::host_cache_stats().hits"))
    assert run(kernel, "let again = zeros([2_000_000]).exp();").status == "ok"
    assert int(value(kernel, "ferrolab::runtime::host_cache_stats().hits")) == hits + 1
    assert value(kernel, "again.sum().to_vec::<f32>()[0]") == "2000000.0"
    assert run(kernel, "ferrolab::runtime::empty_cache(Device::Cpu);").status == "ok"
    assert value(kernel, "ferrolab::runtime::host_cache_stats().cached") == "0"


def test_variable_types_are_inferred_for_engine_and_half_types(kernel):
    # rust-analyzer sees a lean copy of the engine (kernel/src/startup.rs); variables of engine
    # types and of the re-exported f16/bf16 still get their types without annotations.
    assert run(kernel, "let h = f16::from_f32(1.5);\nlet b = bf16::from_f32(2.0);").status == "ok"
    assert value(kernel, "h.to_f32() + b.to_f32()") == "3.5"
    code = ("let ds = Dataset::from_tensor_slices(tensor([1.0f32, 2.0, 3.0])).batch(2);\n"
            "let model = Sequential::new();\nlet w = tensor([1i64, 2]).cast(DType::F16);")
    assert run(kernel, code).status == "ok"
    assert value(kernel, "w.dtype() == DType::F16") == "true"
    # JSON values (Layer::get_config, re-exported serde_json) are inferred too.
    code = 'let d = Dense::new(3);\nlet cfg = d.get_config();\nlet j = ferrolab::serde_json::json!({"a": 1});'
    assert run(kernel, code).status == "ok"
    assert value(kernel, 'cfg["units"].as_u64()') == "Some(3)"
    assert value(kernel, 'j["a"].as_i64()') == "Some(1)"
