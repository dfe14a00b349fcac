"""`with_device` through the real kernel: a model built in one cell runs inside a device scope
opened in another (DESIGN.md, "Statics are not shared across cells").

Every cell is its own library with its own copy of the engine's statics and thread-locals. The
model's layers were made in the first cell, so their code (and the `default_device()` it calls
when it makes its weights on the first call) is that cell's copy of the engine. The scope is
opened by a later cell's copy. It only reaches the layers because it lives in the process-wide
state, keyed by thread.

The process default is set to `cuda:7`, which no test machine has: a layer that did not see the
scope would fail to make its weights there."""

from kernel_helpers import run


def value(kernel, code):
    cell = run(kernel, code)
    assert cell.status == "ok", cell.outputs
    return cell.result()


def test_a_model_from_one_cell_runs_inside_a_scope_from_another(kernel):
    code = 'let model = Sequential::new().add(Dense::new(4).activation("relu")).add(Dense::new(2));'
    assert run(kernel, code).status == "ok"
    assert run(kernel, "let before = default_device();").status == "ok"
    assert run(kernel, "set_default_device(Device::Cuda(7));").status == "ok"
    try:
        inside = value(
            kernel,
            "with_device(Device::Cpu, || {\n"
            "    let y = model.predict(&ones([3, 5]));\n"
            '    format!("{} {} {:?}", default_device(), y.device(), y.dims())\n'
            "})",
        )
        assert inside == '"cpu cpu [3, 2]"'
        # After the scope, in the next cell: the process default again.
        assert value(kernel, "default_device().to_string()") == '"cuda:7"'
        # Outside a scope, new tensors go to the process default (unusable here), and say so.
        cell = run(kernel, "let z = zeros([2]);")
        assert cell.status == "error"
        assert "no CUDA device for cuda:7" in cell.error()["evalue"]
    finally:
        assert run(kernel, "set_default_device(before);").status == "ok"


def test_a_panic_inside_the_scope_restores_the_default(kernel):
    assert run(kernel, "let before = default_device();").status == "ok"
    assert run(kernel, "set_default_device(Device::Cuda(7));").status == "ok"
    try:
        cell = run(kernel, 'with_device(Device::Cpu, || -> () { panic!("boom inside the scope") });')
        assert cell.status == "error"
        assert "boom inside the scope" in cell.error()["evalue"]
        assert value(kernel, "default_device().to_string()") == '"cuda:7"'
        # A new scope in a later cell works as before.
        assert value(kernel, "with_device(Device::Cpu, || default_device()).to_string()") == '"cpu"'
    finally:
        assert run(kernel, "set_default_device(before);").status == "ok"


def test_asking_for_an_unusable_device_says_why(kernel):
    cell = run(kernel, "with_device(Device::Cuda(7), || 1);")
    assert cell.status == "error"
    assert "no CUDA device for cuda:7" in cell.error()["evalue"]
