"""`ferrolab-kernel install` writes a standard kernelspec that Jupyter finds."""

import json
import os
import subprocess
import tempfile

from jupyter_client.kernelspec import KernelSpecManager

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KERNEL = os.path.join(ROOT, "target", "release", "ferrolab-kernel")


def check_spec_dir(spec_dir):
    with open(os.path.join(spec_dir, "kernel.json")) as f:
        spec = json.load(f)
    assert spec["display_name"] == "Rust (Ferrolab)"
    assert spec["language"] == "rust"
    assert spec["interrupt_mode"] == "message"  # the kernel signals its evcxr child itself
    assert os.access(spec["argv"][0], os.X_OK)
    assert "{connection_file}" in spec["argv"]
    for logo in ("logo-32x32.png", "logo-64x64.png"):
        with open(os.path.join(spec_dir, logo), "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert os.path.exists(os.path.join(spec_dir, "logo-svg.svg"))


def test_install_prefix_and_user():
    prefix = tempfile.mkdtemp()
    subprocess.run([KERNEL, "install", "--prefix", prefix], check=True, capture_output=True)
    check_spec_dir(os.path.join(prefix, "share", "jupyter", "kernels", "ferrolab"))

    data = tempfile.mkdtemp()
    env = dict(os.environ, JUPYTER_DATA_DIR=data)
    subprocess.run([KERNEL, "install", "--user"], check=True, capture_output=True, env=env)
    check_spec_dir(os.path.join(data, "kernels", "ferrolab"))
    # Jupyter itself finds it there.
    ksm = KernelSpecManager(kernel_dirs=[os.path.join(data, "kernels")])
    assert ksm.get_kernel_spec("ferrolab").display_name == "Rust (Ferrolab)"


def test_install_sh_put_the_spec_into_the_venv():
    spec = KernelSpecManager().get_kernel_spec("ferrolab")
    assert spec.resource_dir.startswith(os.path.join(ROOT, ".venv"))
    check_spec_dir(spec.resource_dir)


def test_bad_arguments_say_how_to_call_it():
    out = subprocess.run([KERNEL, "install", "--nope"], capture_output=True, text=True)
    assert out.returncode != 0
    assert "usage: ferrolab-kernel install" in out.stderr
