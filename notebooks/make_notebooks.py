"""Writes the teaching notebooks 01-09 from the cells below (run from anywhere):

    .venv/bin/python notebooks/make_notebooks.py

The notebooks are generated so that their structure stays uniform (one H1, Overview, Setup, short
sections, Exercise check, Next steps; see ../../shared/STYLE.md point 11) and so that they are
committed without outputs. Edit the cells here, run this script, then run
`pytest tests/test_notebooks.py`. Each notebook is defined in its own module under
`notebooks/src/`, one function per notebook returning its cells.
"""

import pathlib
import sys

import nbformat

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "src"))

import nb01_kernel_tour  # noqa: E402
import nb02_eager_and_gradient_tape  # noqa: E402
import nb03_keras_sequential_fit  # noqa: E402
import nb04_functional_api  # noqa: E402
import nb05_resnet  # noqa: E402
import nb06_subclassing_autoencoder  # noqa: E402
import nb07_data_pipelines  # noqa: E402
import nb08_gpu_basics  # noqa: E402
import nb09_many_time_series  # noqa: E402
import nb10_mixed_precision  # noqa: E402
import nb11_tf_function_and_xla  # noqa: E402
import nb12_transformers  # noqa: E402
import nb13_distributed_training  # noqa: E402

NOTEBOOKS = {
    "01_kernel_tour": nb01_kernel_tour,
    "02_eager_and_gradient_tape": nb02_eager_and_gradient_tape,
    "03_keras_sequential_fit": nb03_keras_sequential_fit,
    "04_functional_api": nb04_functional_api,
    "05_resnet": nb05_resnet,
    "06_subclassing_autoencoder": nb06_subclassing_autoencoder,
    "07_data_pipelines": nb07_data_pipelines,
    "08_gpu_basics": nb08_gpu_basics,
    "09_many_time_series": nb09_many_time_series,
    "10_mixed_precision": nb10_mixed_precision,
    "11_tf_function_and_xla": nb11_tf_function_and_xla,
    "12_transformers": nb12_transformers,
    "13_distributed_training": nb13_distributed_training,
}

KERNELSPEC = {"name": "ferrolab", "display_name": "Rust (Ferrolab)", "language": "rust"}
LANGUAGE_INFO = {
    "name": "Rust",
    "file_extension": ".rs",
    "mimetype": "text/rust",
    "codemirror_mode": "rust",
    "pygments_lexer": "rust",
}


def build(cells):
    """A notebook from ("md" | "code", source) pairs, without outputs."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = KERNELSPEC
    nb.metadata["language_info"] = LANGUAGE_INFO
    for i, (kind, source) in enumerate(cells):
        source = source.strip("\n")
        cell = (nbformat.v4.new_markdown_cell if kind == "md" else nbformat.v4.new_code_cell)(source)
        cell["id"] = f"cell-{i:02d}"  # stable ids: regenerating gives the same file
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def main():
    only = set(sys.argv[1:])
    for name, module in NOTEBOOKS.items():
        if only and not any(name.startswith(o) for o in only):
            continue
        path = HERE / f"{name}.ipynb"
        nbformat.write(build(module.cells()), str(path))
        print(f"wrote {path.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
