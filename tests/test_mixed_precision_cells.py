"""The mixed-precision policy lives in the engine's process-wide state (DESIGN.md, "Statics are
not shared across cells"): a policy set in one cell governs the layers built in the next, and a
layer keeps the policy it was built with after the global one changes."""

from kernel_helpers import run


def value(kernel, code):
    cell = run(kernel, code)
    assert cell.status == "ok", cell.outputs
    return cell.result()


def test_policy_set_in_one_cell_governs_the_next(kernel):
    assert run(kernel, 'mixed_precision::set_global_policy("mixed_float16");').status == "ok"
    assert value(kernel, "mixed_precision::global_policy().name().to_string()") == '"mixed_float16"'
    assert run(kernel, "let d = Dense::new(4);\nlet y = d.invoke(&[ones([2, 3])], false);").status == "ok"
    assert value(kernel, 'format!("{} {}", y.dtype(), d.kernel().unwrap().dtype())') == '"float16 float32"'
    assert run(kernel, 'mixed_precision::set_global_policy("float32");').status == "ok"
    # the layer keeps the policy it was built with; a new layer takes float32
    assert value(kernel, "d.compute_dtype() == DType::F16") == "true"
    assert value(kernel, "Dense::new(4).compute_dtype() == DType::F32") == "true"


def test_a_layers_own_policy_survives_renaming_and_shows_in_its_config(kernel):
    # the policy lives in the layer (its LayerBase), so `.named` after `.dtype` keeps it, in
    # later cells too, whatever the global policy is then
    assert run(kernel, 'mixed_precision::set_global_policy("mixed_float16");').status == "ok"
    cell = run(
        kernel,
        'let probs = Activation::new("softmax").dtype("float32").named("probs");\n'
        "let hidden = Dense::new(4).named(\"hidden\");",
    )
    assert cell.status == "ok", cell.outputs
    assert run(kernel, 'mixed_precision::set_global_policy("float32");').status == "ok"
    assert value(kernel, 'format!("{} {}", probs.name(), probs.dtype_policy().name())') == '"probs float32"'
    assert value(kernel, "hidden.dtype_policy().name().to_string()") == '"mixed_float16"'
    cfg = 'hidden.get_config()["dtype"]["config"]["name"].as_str().unwrap().to_string()'
    assert value(kernel, cfg) == '"mixed_float16"'
    y = 'let y = probs.invoke(&[hidden.invoke(&[ones([2, 3])], false)], false);'
    assert run(kernel, y).status == "ok"
    assert value(kernel, "y.dtype() == DType::F32") == "true"
