"""Keras-API training speed against PyTorch eager in the same run (issue 5).

Runs the digits MLP (64-128-64-10, relu, Adam 1e-3, batch 32, 20 epochs) and the digits CNN
(Conv2D(16,3,same) -> MaxPool(2) -> Conv2D(32,3,same) -> Flatten -> Dense(10)) in PyTorch eager
on the CPU with one thread, then `cargo run --release --example digits_mlp/digits_cnn`, and
prints steps/second for both and the ratio. Not a test (machines are noisy): the figures go in
the issue note. Needs `torch` and `scikit-learn`-free data: the digits come from ferrolab's own
vendored copy, exported by the example program's split (same seed), so both see the same data.

    /path/to/python-with-torch tests/bench_keras.py
"""

import os
import pathlib
import subprocess
import time

import numpy as np
import torch

ROOT = pathlib.Path(__file__).resolve().parent.parent
torch.set_num_threads(1)


def load_digits():
    path = ROOT / "engine" / "data" / "digits.txt"
    rows = [line.split(" ", 1) for line in path.read_text().splitlines() if line.strip()]
    y = np.array([int(r[0]) for r in rows], dtype=np.int64)
    x = np.array([[int(c, 17) / 16.0 for c in r[1].strip()] for r in rows], dtype=np.float32)
    return x, y


def train(model, x, y, epochs=20, batch=32):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    lossf = torch.nn.CrossEntropyLoss()
    n = len(x)
    steps = 0
    t = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(n)
        for s in range(0, n, batch):
            idx = perm[s:s + batch]
            opt.zero_grad()
            loss = lossf(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
            steps += 1
    return steps / (time.perf_counter() - t)


def torch_figures():
    x, y = load_digits()
    rng = np.random.default_rng(42)
    order = rng.permutation(len(x))
    tr = order[:1500]
    xt, yt = torch.from_numpy(x[tr]), torch.from_numpy(y[tr])
    torch.manual_seed(0)
    mlp = torch.nn.Sequential(
        torch.nn.Linear(64, 128), torch.nn.ReLU(),
        torch.nn.Linear(128, 64), torch.nn.ReLU(),
        torch.nn.Linear(64, 10))
    mlp_sps = train(mlp, xt, yt)
    cnn = torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
        torch.nn.Linear(32 * 4 * 4, 10))
    cnn_sps = train(cnn, xt.reshape(-1, 1, 8, 8), yt)
    return mlp_sps, cnn_sps


def rust_figure(example):
    r = subprocess.run(
        ["cargo", "run", "-q", "--release", "-p", "ferrolab", "--example", example],
        cwd=ROOT, check=True, capture_output=True, text=True)
    figs = dict(line.split()[:2] for line in r.stdout.splitlines() if line.startswith(("steps_per_second", "test_accuracy")))
    return float(figs["steps_per_second"]), float(figs["test_accuracy"])


def main():
    t_mlp, t_cnn = torch_figures()
    r_mlp, a_mlp = rust_figure("digits_mlp")
    r_cnn, a_cnn = rust_figure("digits_cnn")
    print(f"torch {torch.__version__}, threads={torch.get_num_threads()}")
    print(f"digits_mlp steps/s: ferrolab {r_mlp:.0f}  torch {t_mlp:.0f}  ratio {r_mlp / t_mlp:.2f} (target >= 5)  test_accuracy {a_mlp:.4f}")
    print(f"digits_cnn steps/s: ferrolab {r_cnn:.0f}  torch {t_cnn:.0f}  ratio {r_cnn / t_cnn:.2f} (target >= 1)  test_accuracy {a_cnn:.4f}")


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
