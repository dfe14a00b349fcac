"""A real browser: JupyterLab from .venv on localhost, headless Debian chromium driven by
playwright-core (tests/browser/, installed by install.sh; no browser download). It opens
03_keras_sequential_fit, runs all cells through JupyterLab's Run menu, and checks what a learner
would see: SVG plots and the live progress bar in the DOM, the Exercise check passed, and no
error output. The screenshot is kept in tests/artifacts/browser_03_keras_sequential_fit.png.

The notebook is copied to a temporary folder first, so JupyterLab's autosave never writes outputs
into notebooks/.
"""

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
BROWSER_DIR = ROOT / "tests" / "browser"
ARTIFACTS = ROOT / "tests" / "artifacts"
NOTEBOOK = "03_keras_sequential_fit.ipynb"
CHROMIUM = os.environ.get("FERROLAB_CHROMIUM", "/usr/bin/chromium")
RUN_TIMEOUT = 420  # seconds for all cells, kernel start-up included


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_server(base, token, proc, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"JupyterLab did not answer at {base} within {timeout} s")


def lab_settings(folder):
    """User settings for a fresh JupyterLab: every cell attached to the DOM (not only those in
    view), and no news pop-up or update check (no network)."""
    for name, settings in [
        ("notebook-extension/tracker", {"windowingMode": "none"}),
        ("apputils-extension/notification", {"fetchNews": "false", "checkForUpdates": False}),
    ]:
        path = folder / "@jupyterlab" / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings))
    return folder


@pytest.fixture
def lab(tmp_path):
    """JupyterLab on a free localhost port, serving a copy of the notebook."""
    missing = [
        what
        for what, ok in [
            (CHROMIUM, Path(CHROMIUM).exists()),
            ("node", shutil.which("node")),
            ("tests/browser/node_modules/playwright-core", (BROWSER_DIR / "node_modules" / "playwright-core").is_dir()),
        ]
        if not ok
    ]
    assert not missing, f"missing {', '.join(missing)}: run ./install.sh (its last step sets up the browser test)"
    root = tmp_path / "lab"
    root.mkdir()
    shutil.copy(ROOT / "notebooks" / NOTEBOOK, root / NOTEBOOK)
    port, token = free_port(), secrets.token_hex(16)
    jupyter = Path(sys.executable).parent / "jupyter"
    log = open(tmp_path / "jupyterlab.log", "w")
    proc = subprocess.Popen(
        [
            str(jupyter), "lab", "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
            f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
            "--LabApp.expose_app_in_browser=True",  # the driver runs commands via window.jupyterapp
        ],
        stdout=log, stderr=subprocess.STDOUT, cwd=root,
        env={
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"),
            "JUPYTERLAB_SETTINGS_DIR": str(lab_settings(tmp_path / "lab-settings")),
            "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "lab-workspaces"),
        },
    )
    base = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_for_server(base, token, proc)
        except Exception as e:
            log.flush()
            raise AssertionError(f"{e}\n{(tmp_path / 'jupyterlab.log').read_text()[-3000:]}") from e
        yield base, token, root
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copy(tmp_path / "jupyterlab.log", ARTIFACTS / "browser_jupyterlab.log")


def test_notebook_03_runs_in_a_real_browser(lab, tmp_path):
    base, token, root = lab
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "browser_03_keras_sequential_fit.png"
    url = f"{base}/lab/tree/{NOTEBOOK}?token={token}"
    started = time.time()
    run = subprocess.run(
        ["node", str(BROWSER_DIR / "run_notebook.mjs"), url, str(shot), str(tmp_path / "chromium-profile"), str(RUN_TIMEOUT)],
        cwd=BROWSER_DIR, capture_output=True, text=True, timeout=RUN_TIMEOUT + 180,
    )
    print(run.stderr)
    print(f"browser run: {time.time() - started:.0f} s")
    assert run.returncode == 0, f"the browser run failed:\n{run.stderr}\n{run.stdout}"
    report = json.loads(run.stdout.strip().splitlines()[-1])
    print(report)

    assert shot.exists() and shot.stat().st_size > 10_000, "a screenshot was taken"
    assert not report["model_errors"], f"error outputs: {report['model_errors']}"
    assert not report["stderr"], f"error or stderr output in the page: {report['stderr']}"
    assert all(n is not None for n in report["execution_counts"]), report["execution_counts"]
    assert report["svg"] >= 3 and report["svg_img"] >= 3, f"SVG plots in the DOM: {report}"
    assert report["progress"] >= 1, "fit's live progress bar is in the DOM"
    assert report["passed"], "the Exercise check printed 'All checks passed'"
