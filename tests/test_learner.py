"""The TF2 learner's notebook (tests/learner/tf2_quickstarts.ipynb): the beginner and expert
quickstarts ported cell for cell, run top to bottom through the real kernel with nbclient. Every
cell must run on the first try, with no error output, and its Exercise check must pass.

The run's wall time goes to tests/artifacts/notebook_times.json under "learner_tf2_quickstarts"
(the issue asks for at most 2 minutes in CI; reported, not asserted, as everywhere in this repo).
"""

import pathlib
import sys
import time

import nbformat
from nbclient import NotebookClient

ROOT = pathlib.Path(__file__).resolve().parent.parent
LEARNER = ROOT / "tests" / "learner"
NOTEBOOK = LEARNER / "tf2_quickstarts.ipynb"
CELL_TIMEOUT = 300
PASSED = "All checks passed"

sys.path.insert(0, str(ROOT / "tests"))
from test_notebooks import error_outputs, record_time  # noqa: E402


def test_learner_notebook_matches_its_generator_and_has_no_outputs():
    sys.path.insert(0, str(LEARNER))
    import make_learner

    want = nbformat.writes(make_learner.build(make_learner.cells()))
    assert NOTEBOOK.read_text().strip() == want.strip(), "run tests/learner/make_learner.py"
    nb = nbformat.read(str(NOTEBOOK), as_version=4)
    assert nb.metadata.kernelspec["name"] == "ferrolab"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


def test_tf2_quickstarts_run_on_the_first_try(tmp_path):
    nb = nbformat.read(str(NOTEBOOK), as_version=4)
    client = NotebookClient(
        nb,
        kernel_name="ferrolab",
        timeout=CELL_TIMEOUT,
        allow_errors=True,  # collected below, so the failure lists every error
        resources={"metadata": {"path": str(tmp_path)}},
    )
    started = time.time()
    client.execute()
    seconds = time.time() - started
    record_time("learner_tf2_quickstarts", seconds)
    print(f"learner tf2_quickstarts: {seconds:.1f} s")

    errors = error_outputs(nb)
    assert not errors, "\n".join(f"cell {i}: {name}: {value}" for i, name, value in errors)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code), "every cell ran"
    printed = "".join(
        out.get("text", "") for c in code for out in c.outputs if out.output_type == "stream"
    )
    assert "Ferrolab version: " in printed
    # five epoch lines from the expert loop, then the Exercise check
    assert printed.count("Test Accuracy: ") == 5, printed
    assert PASSED in printed, printed
