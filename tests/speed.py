#!/usr/bin/env python3
"""Prints the kernel's speed figures (issue 3, "Speed"), measured through jupyter_client:

  - kernel_info: reply time after the kernel process starts          (target <= 1 s)
  - first engine cell: `let t = tensor(...); t.matmul(&t)`, result
    time after the kernel process starts                             (target <= 6 s)
  - first compile error: `let y = undefined_name + 1;` right after the
    first engine cell, execute_request to reply                      (target <= 2 s)
  - simple cell round trip: median of `let x = 1 + 1;` and `x * 2`   (target <= 0.4 s)
  - kernel memory growth over 300 executed cells                     (target <= 50 MB)

Then issue 13's table, in the same run: the first engine cell and the simple-cell median for
Ferrolab, for Ferrolab with the issue 13 lever off (`--levers-off`: every cell through cargo) and for evcxr_jupyter 0.22 + candle-core, with
the ratios against the targets (<= 0.4x and <= 0.6x evcxr; goals <= 5 s and <= 0.35 s).

Usage: .venv/bin/python tests/speed.py [--cells 300] [--rounds 20] [--levers-off]
           [--evcxr-jupyter PATH_TO_evcxr_jupyter]   (compare on the same cells, optional)

For the comparison: `cargo install evcxr_jupyter --version 0.22.0 --locked --root /work/evcxr-peer`
(a long build; `--locked`, or salsa 0.28.5 breaks it), then `--evcxr-jupyter
/work/evcxr-peer/bin/evcxr_jupyter` or `FERROLAB_EVCXR_JUPYTER=/work/evcxr-peer/bin/evcxr_jupyter`.
Without either, that column is skipped with a message. Its first cell builds candle-core from
crates.io; a first evcxr kernel builds it into an EVCXR_TMPDIR that the measured one reuses (as
Ferrolab reuses its pre-built template), so its first engine cell, from process start, counts
the `:dep` cell and the first candle cell, not the candle build.

Not part of the test suite: timings depend on the machine and on what else runs on it.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

import psutil
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

sys.path.insert(0, os.path.dirname(__file__))
from kernel_helpers import run  # noqa: E402

FIRST_CELL = "let t = tensor([[1.0f32, 2.0], [3.0, 4.0]]); t.matmul(&t)"
TYPO_CELL = "let y = undefined_name + 1;"


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown CPU"


def start(kernel_name, ksm=None, env=None):
    km = KernelManager(kernel_name=kernel_name)
    if ksm is not None:
        km.kernel_spec_manager = ksm
    t0 = time.time()
    km.start_kernel(env={**os.environ, **(env or {})})
    kc = km.client()
    kc.start_channels()
    return km, kc, t0


def measure(kernel_name, first_cell, setup=None, ksm=None, rounds=20, cells=300, typo=True, env=None):
    km, kc, t0 = start(kernel_name, ksm, env)
    figures = {}
    kc.kernel_info(reply=True, timeout=30)
    figures["kernel_info_s"] = time.time() - t0
    if setup:
        cell = run(kc, setup, timeout=900)
        assert cell.status == "ok", cell.outputs
        figures["setup_s"] = cell.reply_time - t0
    cell = run(kc, first_cell, timeout=900)
    assert cell.status == "ok", cell.outputs
    figures["first_cell_s"] = cell.reply_time - t0
    if typo:
        cell = run(kc, TYPO_CELL, timeout=900)
        assert cell.status == "error", cell.outputs
        figures["first_error_s"] = cell.reply_time - cell.started
    times = []
    for _ in range(rounds):
        for code in ("let x = 1 + 1;", "x * 2"):
            c = run(kc, code)
            assert c.status == "ok", c.outputs
            times.append(c.reply_time - c.started)
    figures["simple_cell_median_s"] = statistics.median(times)
    proc = psutil.Process(km.provisioner.process.pid)
    rss0 = proc.memory_info().rss
    for i in range(cells):
        run(kc, "let x = 1 + 1;" if i % 2 == 0 else "x * 2")
    figures["kernel_rss_growth_mb"] = (proc.memory_info().rss - rss0) / 2**20
    children = proc.children(recursive=True)
    figures["child_rss_mb"] = sum(c.memory_info().rss for c in children) / 2**20
    kc.stop_channels()
    km.shutdown_kernel(now=True)
    return figures


def evcxr_spec_manager(binary):
    """A kernelspec for evcxr_jupyter in a temporary directory."""
    root = tempfile.mkdtemp(prefix="evcxr-spec-")
    spec_dir = os.path.join(root, "kernels", "evcxr_speed")
    os.makedirs(spec_dir)
    with open(os.path.join(spec_dir, "kernel.json"), "w") as f:
        json.dump({"argv": [binary, "--control_file", "{connection_file}"],
                   "display_name": "evcxr", "language": "rust"}, f)
    return KernelSpecManager(kernel_dirs=[os.path.join(root, "kernels")])


LEVERS_OFF = {"EVCXR_DIRECT_RUSTC": "0"}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cells", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--levers-off", action="store_true",
                        help="also measure Ferrolab with the issue 13 levers turned off")
    parser.add_argument("--evcxr-jupyter", default=os.environ.get("FERROLAB_EVCXR_JUPYTER"),
                        help="path of an evcxr_jupyter 0.22 binary to compare "
                             "(default: $FERROLAB_EVCXR_JUPYTER)")
    args = parser.parse_args()

    ours = measure("ferrolab", FIRST_CELL, rounds=args.rounds, cells=args.cells)
    rows = [
        ("kernel_info after process start", ours["kernel_info_s"], "s", "<= 1 s"),
        ("first engine cell result after process start", ours["first_cell_s"], "s", "<= 5 s"),
        ("first compile error (unknown name)", ours["first_error_s"], "s", "<= 2 s"),
        ("simple cell round trip, median", ours["simple_cell_median_s"], "s", "<= 0.35 s"),
        (f"kernel RSS growth over {args.cells} cells", ours["kernel_rss_growth_mb"], "MB", "<= 50 MB"),
        ("evcxr child RSS at the end", ours["child_rss_mb"], "MB", ""),
    ]
    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    print(f"{'ferrolab-kernel':48} {'value':>10}   target")
    for name, v, unit, target in rows:
        print(f"{name:48} {v:8.2f} {unit:2}   {target}")

    columns = [("Ferrolab", ours)]
    if args.levers_off:
        off = measure("ferrolab", FIRST_CELL, rounds=args.rounds, cells=args.cells,
                      env=LEVERS_OFF)
        columns.append(("Ferrolab, levers off", off))
    theirs = None
    if args.evcxr_jupyter and os.path.exists(args.evcxr_jupyter):
        # Like Ferrolab's pre-built template: a first kernel builds candle-core in a build dir
        # that the measured kernel reuses (EVCXR_TMPDIR; not under a dot-directory, see DESIGN.md).
        tmpdir = tempfile.mkdtemp(prefix="ferrolab-speed-evcxr-", dir="/tmp")
        candle = dict(
            first_cell="let t = candle_core::Tensor::new(&[[1.0f32, 2.0], [3.0, 4.0]], "
            "&candle_core::Device::Cpu).unwrap(); t.matmul(&t).unwrap()",
            setup=':dep candle-core = "0.9"',
            ksm=evcxr_spec_manager(args.evcxr_jupyter),
            env={"EVCXR_TMPDIR": tmpdir},
        )
        measure("evcxr_speed", rounds=1, cells=0, typo=False, **candle)
        theirs = measure("evcxr_speed", rounds=args.rounds, cells=args.cells, **candle)
        columns.append(("evcxr_jupyter + candle", theirs))
    else:
        print("\nevcxr_jupyter column skipped: no binary (give --evcxr-jupyter PATH or "
              "FERROLAB_EVCXR_JUPYTER; install it with `cargo install evcxr_jupyter "
              "--version 0.22.0 --locked --root DIR`)")

    print(f"\nIssue 13 table (same run; CPU: {cpu_model()}, {os.cpu_count()} cores)")
    header = "| |" + "|".join(f" {name} " for name, _ in columns) + "|"
    if theirs:
        header += " Ferrolab / evcxr | target |"
    print(header)
    print("|---" * (len(columns) + 1 + (2 if theirs else 0)) + "|")
    for key, name, target, goal in [
        ("first_cell_s", "first engine cell, from process start", 0.4, "5 s"),
        ("simple_cell_median_s", "simple cell (`let x = 1 + 1;`, `x * 2`), median", 0.6, "0.35 s"),
        ("first_error_s", "first compile error (unknown name)", None, "2 s"),
    ]:
        line = f"| {name} |" + "|".join(f" {fig[key]:.2f} s " for _, fig in columns) + "|"
        if theirs:
            ratio = ours[key] / theirs[key]
            verdict = f"<= {target}x: {'met' if ratio <= target else 'NOT met'}" if target else ""
            line += f" {ratio:.2f}x | {verdict} (goal <= {goal}) |"
        print(line)
    if theirs:
        print(f"(evcxr_jupyter's first engine cell counts its `:dep candle-core` cell, done "
              f"{theirs['setup_s']:.2f} s after process start, with candle-core already built "
              f"in its EVCXR_TMPDIR by an earlier kernel, as Ferrolab's engine is in its template)")


if __name__ == "__main__":
    main()
