"""What a TF2 learner meets in a first session (issue 15), through the real kernel and a real
Jupyter client: closures, how values display, "In Ferrolab" hints for TF/Keras/NumPy names (and
the cheat sheet they come from), literal types, and the history search, completion and
is_complete details that IPython users expect."""

import json
import os
import re
import subprocess
import sys

import pytest
from kernel_helpers import run, start_kernel

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def kernel_binary():
    spec = os.path.join(sys.prefix, "share", "jupyter", "kernels", "ferrolab", "kernel.json")
    with open(spec) as f:
        return json.load(f)["argv"][0]


def error_text(cell):
    err = cell.error()
    assert err is not None, cell.outputs
    return ANSI.sub("", "\n".join(err["traceback"]))


def result_bundle(cell):
    results = cell.of_type("execute_result")
    assert len(results) == 1, cell.outputs
    return results[0]["content"]["data"]


# --- closures --------------------------------------------------------------------------------


def test_a_closure_gets_evcxrs_advice_not_an_alias_clash(kernel):
    cell = run(kernel, "let sq = |a: i32| a + 1;")
    text = error_text(cell)
    assert "cannot be persisted" in text and "Box<dyn Fn()>" in text, text
    assert "generic argument" not in text, text
    # The advice works: in braces (or boxed) the closure runs.
    assert run(kernel, "{ let sq = |a: i32| a + 1; sq(2) }").result() == "3"
    cell = run(kernel, "let sq: Box<dyn Fn(i32) -> i32> = Box::new(|a| a + 1);")
    assert cell.status == "ok", cell.outputs
    assert run(kernel, "sq(41)").result() == "42"


# --- display -----------------------------------------------------------------------------------


def test_a_figure_built_with_push_then_subplots_renders(kernel):
    cell = run(
        kernel,
        "let mut figs = Vec::new();\n"
        "figs.push(plot::line(&[1.0f32, 2.0, 4.0]));\n"
        "figs.push(plot::line(&[3.0f32, 2.0]));",
    )
    assert cell.status == "ok", cell.outputs
    # `figs` is moved into the last expression: still an SVG, not a Debug dump.
    bundle = result_bundle(run(kernel, "plot::subplots(1, figs)"))
    assert "<svg" in bundle["image/svg+xml"]
    assert bundle["text/plain"].startswith("<Figure") and "2 panels" in bundle["text/plain"]
    # The same in one cell, the figures pushed in a loop.
    bundle = result_bundle(
        run(
            kernel,
            "let mut fs = Vec::new();\n"
            "for k in 0..3 { fs.push(plot::line(&[1.0f32, k as f32])); }\n"
            "plot::subplots(3, fs)",
        )
    )
    assert "<svg" in bundle["image/svg+xml"] and "3 panels" in bundle["text/plain"]


def test_a_cell_ending_in_a_for_loop_shows_nothing(kernel):
    cell = run(kernel, 'for i in 0..3 { println!("{}", i * i); }')
    assert cell.status == "ok", cell.outputs
    assert cell.of_type("execute_result") == []
    assert cell.stdout() == "0\n1\n4\n"
    # A unit-valued call as the last expression shows nothing either.
    assert run(kernel, 'std::mem::drop(vec![1])').of_type("execute_result") == []


def test_evaluate_shows_a_small_table_and_a_dict(kernel):
    code = (
        "let xe = tensor([[0.0f32, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]]);\n"
        "let ye = tensor([1.0f32, 1.0, 0.0, 0.0]);\n"
        "let mut me = Sequential::new().add(Dense::new(2)).input_shape([2]);\n"
        'me.compile(SGD::new(0.1), SparseCategoricalCrossentropy::from_logits(), &["accuracy"]);\n'
        "me.evaluate(&xe, &ye)"
    )
    bundle = result_bundle(run(kernel, code, timeout=120))
    plain = bundle["text/plain"]
    m = re.fullmatch(r"\{loss: (\d+\.\d{4}), accuracy: (\d\.\d{4})\}", plain)
    assert m, plain
    assert float(m.group(1)) > 0 and float(m.group(2)) in (0.0, 0.25, 0.5, 0.75, 1.0)
    html = bundle["text/html"]
    assert "<table" in html and ">loss</th>" in html and ">accuracy</th>" in html
    assert m.group(1) in html and m.group(2) in html


# --- literals ----------------------------------------------------------------------------------


def test_unsuffixed_literals_default_to_i32_and_f64(kernel):
    assert run(kernel, "let li = 7;\nli").result() == "7"
    assert run(kernel, "let lf = 0.5;\nlf").result() == "0.5"
    # rustc's defaults: i32 and f64.
    assert run(kernel, "std::any::type_name_of_val(&li)").result() == '"i32"'
    assert run(kernel, "std::any::type_name_of_val(&lf)").result() == '"f64"'


def test_a_cell_of_2000_lets_runs_and_keeps_them():
    # Its own kernel: 2000 stored variables slow every later cell of a kernel down.
    km, kc = start_kernel()
    try:
        code = "\n".join(f"let v{n} = {n};" for n in range(2000)) + "\nv1999"
        cell = run(kc, code, timeout=300)
        assert cell.result() == "1999", cell.outputs
        assert run(kc, "v1999 + v1", timeout=120).result() == "2000"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


# --- hints and the cheat sheet -----------------------------------------------------------------


def test_cannot_find_a_tf_name_says_the_ferrolab_spelling(kernel):
    text = error_text(run(kernel, "let t = tensor([1.0f32, 2.0]);\nsum(&t)"))
    assert "cannot find function `sum`" in text, text
    assert "In Ferrolab: `tf.reduce_sum(x)`" in text and "`x.sum()`" in text, text
    text = error_text(run(kernel, "tensor([1.0f32]).numpy()"))
    assert "no method named `numpy`" in text and "In Ferrolab: `x.numpy()`" in text, text
    # A name with no mapping gets rustc's error alone.
    text = error_text(run(kernel, "no_such_thing_here(1)"))
    assert "In Ferrolab" not in text, text


def test_a_variable_shadowing_a_new_fn_keeps_rustcs_explanation(kernel):
    assert run(kernel, "let double = 3;").status == "ok"
    text = error_text(run(kernel, "fn double(x: i32) -> i32 { 2 * x }\ndouble(4)"))
    assert "expected function" in text and "double" in text, text
    assert "In Ferrolab" not in text, text


def test_every_cheat_sheet_spelling_compiles_and_runs(kernel):
    table = json.loads(
        subprocess.run(
            [kernel_binary(), "cheatsheet", "--json"], check=True, capture_output=True, text=True
        ).stdout
    )
    assert len(table["rows"]) >= 40
    # One cell: the setup, then each row's check in its own block, so a failure names its line.
    blocks = [f"{{ {row['check']} }}" for row in table["rows"]]
    cell = run(kernel, table["setup"] + "\n".join(blocks) + '\nprintln!("all rows ran");', timeout=300)
    assert cell.status == "ok", ANSI.sub("", "\n".join((cell.error() or {}).get("traceback", [])))
    assert "all rows ran" in cell.stdout()


def test_readme_cheat_sheet_is_generated_from_the_table():
    out = subprocess.run(
        [kernel_binary(), "cheatsheet"], check=True, capture_output=True, text=True
    ).stdout
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    assert out.strip() in readme
    assert "| `tf.reduce_sum(x)`, `tf.reduce_sum(x, axis=1)`, `np.sum(x)` | `reduce_sum(&x)`" in out


# --- protocol details (IPython's behaviour) ----------------------------------------------------


def test_history_search_treats_star_as_a_wildcard(kernel):
    for _ in range(2):
        assert run(kernel, "7 * 6").result() == "42"
    assert run(kernel, "7 * 5").result() == "35"

    def search(**kw):
        reply = kernel.history(hist_access_type="search", raw=True, output=False, reply=True, timeout=30, **kw)
        return [entry[2] for entry in reply["content"]["history"]]

    # IPython (sqlite GLOB): "7 *" matches "7 * 6" and "7 * 5" (its `*` is a wildcard even
    # where the text has a `*`); `unique` keeps each input once (its latest run), `n` the last n.
    assert search(pattern="7 *") == ["7 * 6", "7 * 6", "7 * 5"]
    assert search(pattern="7 *", unique=True) == ["7 * 6", "7 * 5"]
    assert search(pattern="7 *", n=1) == ["7 * 5"]
    assert search(pattern="7 * ?", unique=True, n=2) == ["7 * 6", "7 * 5"]


def test_completion_returns_bare_names_with_signatures_in_metadata(kernel):
    code = "let mut cv: Vec<i32> = Vec::with_capa"
    msg_id = kernel.complete(code, len(code))
    reply = kernel.get_shell_msg(timeout=60)
    assert reply["parent_header"]["msg_id"] == msg_id
    content = reply["content"]
    assert "with_capacity" in content["matches"], content
    assert all("(" not in m for m in content["matches"]), content["matches"]
    types = content["metadata"]["_jupyter_types_experimental"]
    entry = next(t for t in types if t["text"] == "with_capacity")
    assert entry["signature"].startswith("with_capacity(") and entry["type"] == "function"
    assert (entry["start"], entry["end"]) == (content["cursor_start"], content["cursor_end"])
    assert code[content["cursor_start"] : content["cursor_end"]] == "with_capa"


@pytest.mark.parametrize("code", ["'", "let c = '", "let c = '\\n"])
def test_is_complete_rejects_a_lone_quote(kernel, code):
    msg_id = kernel.is_complete(code)
    reply = kernel.get_shell_msg(timeout=30)
    assert reply["parent_header"]["msg_id"] == msg_id
    assert reply["content"]["status"] in ("invalid", "incomplete"), reply["content"]
