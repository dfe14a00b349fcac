#!/usr/bin/env bash
# Ferrolab one-shot setup. Idempotent: run it again at any time; finished steps are quick.
#
#   1. checks the tools it needs (rustup toolchain >= 1.95, a C linker, python3 with venv);
#   2. rustup component add rust-src   (evcxr infers variable types with it);
#   3. OpenMPI and libclang (apt-get, only when missing) for the ferrolab-hvd crate (mpirun);
#      cargo build --release           (the engine, the ferrolab-kernel binary, hvd_digits);
#   4. .venv with the pinned Python packages of requirements.txt (JupyterLab, test clients);
#   5. the "Rust (Ferrolab)" kernelspec, installed into .venv;
#   6. the engine pre-built for evcxr, so a new kernel's first engine cell is fast;
#   7. for the browser test: Debian's chromium (apt-get) and playwright-core (npm, tests/browser/).
#
# When a step fails, it says which step and what is missing.
set -euo pipefail
cd "$(dirname "$0")"
ROOT="$(pwd)"

say()  { printf '\033[1;34m==>\033[0m %s\n' "$*"; }
fail() { printf '\033[1;31minstall.sh: %s\033[0m\n' "$*" >&2; exit 1; }

# Runs one step; on failure names the step and what to do about it.
step() {
    local name="$1" hint="$2"
    shift 2
    say "$name"
    local start=$SECONDS
    "$@" || fail "step '$name' failed. $hint"
    echo "    ($((SECONDS - start)) s)"
}

# --- 1. prerequisites -------------------------------------------------------------------------
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
command -v rustup >/dev/null || fail "rustup is missing: install Rust from https://rustup.rs"
command -v cargo  >/dev/null || fail "cargo is missing: run 'rustup default stable'"
rustc_minor="$(rustc --version | sed -E 's/^rustc 1\.([0-9]+).*/\1/')"
[ "${rustc_minor:-0}" -ge 95 ] || fail "rustc >= 1.95 is needed (evcxr 0.22); run 'rustup update stable'"
command -v cc >/dev/null || fail "a C compiler/linker (cc) is missing: apt-get install build-essential"
command -v python3 >/dev/null || fail "python3 is missing: apt-get install python3 python3-venv"
python3 -c 'import sys; sys.exit(sys.version_info < (3, 9))' \
    || fail "python >= 3.9 is needed, found $(python3 --version)"
python3 -c 'import venv, ensurepip' 2>/dev/null \
    || fail "python3's venv module is missing: apt-get install python3-venv"

# --- 2. rust-src ------------------------------------------------------------------------------
step "rustup component add rust-src" "rustup could not add rust-src (network to static.rust-lang.org?)" \
    rustup component add rust-src

# --- 3. OpenMPI, then the release build -------------------------------------------------------
# ferrolab-hvd (Horovod-style training over MPI) builds on rsmpi: it needs mpicc/libmpi (Debian's
# OpenMPI) and libclang (mpi-sys generates its bindings with bindgen). Skipped when present.
mpi_setup() {
    local missing=()
    command -v mpirun >/dev/null && command -v mpicc >/dev/null || missing+=(openmpi-bin libopenmpi-dev)
    compgen -G "/usr/lib/llvm-*/lib/libclang.so*" >/dev/null \
        || compgen -G "/usr/lib/x86_64-linux-gnu/libclang*.so*" >/dev/null \
        || missing+=(libclang-dev)
    [ ${#missing[@]} -eq 0 ] && { echo "    OpenMPI and libclang already installed"; return 0; }
    command -v apt-get >/dev/null || { echo "    no apt-get: install ${missing[*]} by hand"; return 1; }
    local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get install -y --no-install-recommends "${missing[@]}" \
        || { $sudo apt-get update && $sudo apt-get install -y --no-install-recommends "${missing[@]}"; }
}
step "OpenMPI + libclang for ferrolab-hvd (apt-get, only when missing)" \
    "could not install openmpi-bin libopenmpi-dev libclang-dev (apt-get; network to deb.debian.org?)" \
    mpi_setup

step "cargo build --release (engine + kernel + hvd)" "see cargo's error above; the lock file is committed (--locked)" \
    cargo build --release --locked --workspace
KERNEL="$ROOT/target/release/ferrolab-kernel"

# --- 4. Python virtual environment ------------------------------------------------------------
make_venv() {
    [ -x .venv/bin/python ] || python3 -m venv .venv
    local want have
    want="$(sha256sum requirements.txt | cut -d' ' -f1)"
    have="$(cat .venv/.ferrolab-requirements 2>/dev/null || true)"
    if [ "$want" != "$have" ]; then
        .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
        echo "$want" > .venv/.ferrolab-requirements
    else
        echo "    requirements.txt already installed"
    fi
}
step ".venv with requirements.txt" "pip could not install requirements.txt (network to pypi.org?)" make_venv

# --- 5. kernelspec ----------------------------------------------------------------------------
step "kernelspec 'ferrolab' into .venv" "could not write .venv/share/jupyter/kernels/ferrolab" \
    env VIRTUAL_ENV="$ROOT/.venv" "$KERNEL" install --sys-prefix

# --- 6. engine pre-built for evcxr ------------------------------------------------------------
step "engine pre-built for evcxr (first time: a few minutes)" \
    "the kernel could not build the engine through evcxr; its message is above" \
    "$KERNEL" prebuild

# --- 7. browser test (tests/test_browser.py) -------------------------------------------------
# Headless Debian chromium, driven by playwright-core from npm (pinned in tests/browser/
# package-lock.json; playwright-core never downloads a browser). Added for the notebooks issue;
# skipped quickly when both are already there.
browser_test_setup() {
    if [ ! -x /usr/bin/chromium ]; then
        command -v apt-get >/dev/null || { echo "    no apt-get: install Debian's chromium by hand"; return 1; }
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get install -y chromium || { $sudo apt-get update && $sudo apt-get install -y chromium; }
    else
        echo "    chromium already installed"
    fi
    command -v npm >/dev/null || { echo "    npm is missing: apt-get install nodejs npm"; return 1; }
    if [ ! -f tests/browser/node_modules/playwright-core/package.json ] \
        || [ tests/browser/package-lock.json -nt tests/browser/node_modules/.package-lock.json ]; then
        (cd tests/browser && npm ci --no-audit --no-fund)
    else
        echo "    playwright-core already installed"
    fi
}
step "browser test: chromium + playwright-core" \
    "could not install chromium (apt-get) or playwright-core (npm ci in tests/browser)" \
    browser_test_setup

mkdir -p notebooks
say "Ready. JupyterLab:  .venv/bin/jupyter lab notebooks/"
