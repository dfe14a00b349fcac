"""Engine core speed against NumPy in the same run (issue 2).

Runs NumPy (OpenBLAS pinned to one thread) on the same workloads as `engine/benches/core.rs`,
then the Rust benchmark, and prints both figures and the ratio. Not a test: machines are noisy,
so the figures go into the issue note, not into assertions.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python tests/bench_engine.py
"""

import os

for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import pathlib  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent


def median_time(reps, f):
    f()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return sorted(ts)[len(ts) // 2]


def numpy_figures():
    rng = np.random.default_rng(0)
    out = {}
    for n in (512, 1024, 2048):
        a = rng.standard_normal((n, n), dtype=np.float32)
        b = rng.standard_normal((n, n), dtype=np.float32)
        s = median_time(3 if n >= 2048 else 7, lambda: a @ b)
        out[f"matmul_{n}_gflops"] = 2 * n**3 / s / 1e9
    n = 16 * 1024 * 1024
    a = rng.standard_normal(n, dtype=np.float32)
    b = rng.standard_normal(n, dtype=np.float32)
    s = median_time(15, lambda: np.add(a, b))
    out["add_16m_ms"] = s * 1e3
    x = np.ones(1, dtype=np.float32)
    y = np.ones(1, dtype=np.float32)
    per = []
    for _ in range(200):
        t = time.perf_counter()
        for _ in range(1000):
            np.add(x, y)
        per.append((time.perf_counter() - t) / 1000)
    out["dispatch_add_1elem_ns"] = sorted(per)[len(per) // 2] * 1e9
    return out


def rust_figures():
    r = subprocess.run(
        ["cargo", "bench", "-q", "-p", "ferrolab", "--bench", "core"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    )
    out = {}
    for line in r.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            try:
                out[parts[0]] = float(parts[1])
            except ValueError:
                pass
    return out


def main():
    npf = numpy_figures()
    rs = rust_figures()
    print(f"{'figure':34} {'ferrolab':>10} {'numpy':>10} {'ratio':>7}  target")
    for n in (512, 1024, 2048):
        k = f"matmul_{n}_gflops"
        print(f"{k:34} {rs[k]:10.1f} {npf[k]:10.1f} {rs[k] / npf[k]:7.2f}  >= 0.9 (GFLOP/s, higher is better)")
    k = "add_16m_ms"
    print(f"{k:34} {rs[k]:10.2f} {npf[k]:10.2f} {npf[k] / rs[k]:7.2f}  >= 1.0 (speed ratio, ms lower is better)")
    k = "dispatch_add_1elem_ns"
    print(f"{k:34} {rs[k]:10.0f} {npf[k]:10.0f} {npf[k] / rs[k]:7.2f}  median <= 1000 ns")
    k = "mlp_64_128_64_10_b32_fwd_bwd_us"
    print(f"{k:34} {rs[k]:10.1f} {'-':>10} {'':>7}  <= 100 us")


if __name__ == "__main__":
    main()
