"""Shared set-up for the end-to-end tests: every test talks to the real `ferrolab-kernel`
through the kernelspec that install.sh put into .venv, with real Jupyter clients."""

import os
import tempfile

import pytest

# Each test run gets its own history file, so history tests see only their own cells.
_HISTORY_DIR = tempfile.mkdtemp(prefix="ferrolab-test-history-")
os.environ["FERROLAB_HISTORY_FILE"] = os.path.join(_HISTORY_DIR, "history.jsonl")


@pytest.fixture(scope="module")
def kernel():
    """One kernel per test module, warmed up (the engine loaded) before the first test."""
    from kernel_helpers import start_kernel

    km, kc = start_kernel()
    yield kc
    kc.stop_channels()
    km.shutdown_kernel(now=True)
