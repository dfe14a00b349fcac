"""Weights saved by the engine are plain safetensors: numpy alone reads them back identically.

`engine/examples/save_weights_demo.rs` saves a small seeded model (Dense -> BatchNormalization ->
Dense) and prints, as its last line of JSON, the names, shapes and float32 values it saved. This
test parses the file by hand, as the safetensors format defines it: an 8-byte little-endian
header length, a JSON header {name: {dtype, shape, data_offsets}}, then the raw little-endian
bytes, and compares every tensor exactly.
"""

import json
import os
import pathlib
import subprocess

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]


def run_demo(path):
    """Runs the example (building it if needed) and returns its JSON description."""
    out = subprocess.run(
        ["cargo", "run", "--release", "-q", "-p", "ferrolab", "--example", "save_weights_demo", "--", str(path)],
        cwd=ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def read_safetensors(path):
    """(header without __metadata__, metadata, data bytes) of a safetensors file, by hand."""
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    return header, meta, raw[8 + n :]


def test_numpy_reads_identical_values_with_sensible_names(tmp_path):
    path = tmp_path / "demo.safetensors"
    expected = run_demo(path)
    header, meta, data = read_safetensors(path)

    # Keras-style names: layer/weight
    assert set(header) == set(expected["tensors"])
    for name in ["dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias"]:
        assert name in header, sorted(header)
    bn = [n for n in header if n.startswith("batch_normalization")]
    assert sorted(n.split("/")[1] for n in bn) == ["beta", "gamma", "moving_mean", "moving_variance"]
    assert header["dense/kernel"]["shape"] == [4, 3]
    assert header["dense_1/kernel"]["shape"] == [3, 2]

    # the saved order (Keras' weight order) is kept in the metadata
    assert meta["ferrolab.order"].split(",") == expected["order"]

    # byte ranges tile the data section exactly, with no gaps or overlaps
    spans = sorted(tuple(info["data_offsets"]) for info in header.values())
    assert spans[0][0] == 0 and spans[-1][1] == len(data)
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))

    for name, info in header.items():
        assert info["dtype"] == "F32"
        start, end = info["data_offsets"]
        got = np.frombuffer(data[start:end], dtype="<f4").reshape(info["shape"])
        want_info = expected["tensors"][name]
        want = np.array(want_info["values"], dtype=np.float32).reshape(want_info["shape"])
        assert got.shape == tuple(want_info["shape"])
        # identical bits, not just close values
        np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32), err_msg=name)

    # the batch-norm statistics moved away from their initial zeros and ones
    mm = next(n for n in bn if n.endswith("moving_mean"))
    assert np.abs(np.frombuffer(data[slice(*header[mm]["data_offsets"])], dtype="<f4")).max() > 0
