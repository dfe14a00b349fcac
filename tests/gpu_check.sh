#!/usr/bin/env bash
# GPU check for the CUDA backend (issues 7, 16). Two halves:
#
#   tests/gpu_check.sh build   # here, no GPU needed: builds the test and bench binaries
#                              # (cargo test --no-run, cargo bench --no-run) and copies the
#                              # ones the device needs into target-gpu/ (~20 MB, git-ignored)
#   tests/gpu_check.sh run     # on the device machine, from the repo root, with target-gpu/
#                              # carried: finds libnvrtc/libcublas/libcurand (CUDA 13: toolkit,
#                              # or pip wheels site-packages/nvidia/*/lib, e.g. torch's), runs the
#                              # CUDA tests (the `ops` binary's `cuda_ops::` and `cuda_threads::`
#                              # tests and the `::cuda` variant of every `test_device!` test in ops
#                              # and autodiff), the engine suites with cuda:0 as the default device,
#                              # the benches and (when torch imports) the same figures in PyTorch,
#                              # then one table of every figure next to torch's, with the device
#                              # name on each line. < 5 min.
#
# The kernels' compile check needs no GPU and runs in CI (engine/tests/cuda_kernels_compile.rs).
# Later GPU figures (mixed precision, fusion, NCCL) belong in this one script too: one build
# here, one run there.
#
# With no argument it builds, then runs when `nvidia-smi` works. Exit status: 0 only when the
# build (build half) or every CUDA test on a real GPU (run half) passed; 2 when no GPU was usable.
# The other suites are reported but informative: their plain tests were written for the CPU and
# run on cuda:0 there (the default device when a GPU is usable), and may need GPU tolerances.
# Engine test binaries: ops, autodiff, keras, data, display, serial (see engine/tests/*/main.rs).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=target-gpu
# the workspace's own target dir: the release build is usually there already
TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
SUITES="ops autodiff keras data display"
# the CUDA tests inside `ops` and `autodiff`: libtest runs a test whose name contains any of these
CUDA_FILTERS="cuda_ops:: cuda_threads:: ::cuda"

build() {
    echo "== build (CARGO_TARGET_DIR=$TARGET_DIR)"
    export CARGO_TARGET_DIR=$TARGET_DIR
    local tests=() s
    for s in $SUITES; do tests+=(--test "$s"); done
    if ! cargo test --release -p ferrolab --no-run; then
        echo "!! some test target does not build; building the ones the device runs: $SUITES"
        cargo test --release -p ferrolab --no-run "${tests[@]}" || return 1
    fi
    cargo bench -p ferrolab --no-run || return 1
    mkdir -p "$OUT"
    rm -f "$OUT"/*
    # executables from cargo's JSON messages: test suites by name, the cuda bench
    { cargo test --release -p ferrolab --no-run --message-format=json "${tests[@]}" 2>/dev/null
      cargo bench -p ferrolab --bench cuda --no-run --message-format=json 2>/dev/null; } |
    python3 -c '
import json, shutil, sys
want = set(sys.argv[1].split())
for line in sys.stdin:
    try: m = json.loads(line)
    except ValueError: continue
    if m.get("reason") != "compiler-artifact" or not m.get("executable"): continue
    t = m["target"]
    if t["kind"] == ["bench"] and t["name"] == "cuda": dst = "cuda_bench"
    elif t["kind"] == ["test"] and t["name"] in want: dst = t["name"]
    else: continue
    shutil.copy2(m["executable"], sys.argv[2] + "/" + dst)
    print("  ", dst)
' "$SUITES" "$OUT" || return 1
    du -sh "$OUT"
}

find_libs() {
    local dirs=() d
    for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/local/cuda-*/lib64 \
             /usr/lib/x86_64-linux-gnu /usr/lib64 ${CONDA_PREFIX:+$CONDA_PREFIX/lib} /opt/conda/lib; do
        [ -d "$d" ] && dirs+=("$d")
    done
    # pip wheels: site-packages/nvidia/*/lib (CUDA 13: nvidia-cuda-nvrtc, nvidia-cublas,
    # nvidia-curand in nvidia/cu13/lib; CUDA 12's *-cu12 and torch's deps in nvidia/<name>/lib).
    # The engine searches .venv by itself; this is for whatever the device machine has.
    for py in .venv/bin/python python3 /opt/conda/bin/python3 /usr/bin/python3; do
        command -v "$py" >/dev/null 2>&1 || continue
        while IFS= read -r d; do [ -n "$d" ] && dirs+=("$d"); done < <("$py" - 2>/dev/null <<'PY'
import glob, os, site, sys
roots = set(site.getsitepackages() + [site.getusersitepackages()] + sys.path)
for r in roots:
    for d in glob.glob(os.path.join(r, "nvidia", "*", "lib")):
        print(d)
PY
)
    done
    local found=""
    # the engine's bindings are CUDA 13's: a .so.13 (curand: .so.10) first, any version after
    for lib in libnvrtc.so:13 libcublas.so:13 libcurand.so:10; do
        local want=${lib#*:} hit="" pat
        lib=${lib%%:*}
        for pat in "$lib.$want" "$lib*"; do
            for d in "${dirs[@]}"; do
                # shellcheck disable=SC2086 # pat may be a glob
                if ls "$d"/$pat >/dev/null 2>&1; then hit=$d; found="$found:$d"; break 2; fi
            done
        done
        if [ -z "$hit" ]; then
            hit=$(find / -xdev -name "$lib*" -not -path '*/proc/*' 2>/dev/null | head -1)
            [ -n "$hit" ] && found="$found:$(dirname "$hit")"
        fi
        echo "   $lib: ${hit:-NOT FOUND}"
    done
    export LD_LIBRARY_PATH="${found#:}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    echo "   LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
}

# One table: each ferrolab figure, torch's, the ratio and the goal, with the GPU's name.
figures() {
    local gpu
    gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
    echo "== figures on ${gpu:-an unknown GPU} (ferrolab vs PyTorch, same run)"
    BENCH="$1" TORCH="$2" GPU="${gpu:-unknown GPU}" python3 - <<'PY'
import os
def parse(text):
    out = {}
    for line in text.splitlines():
        p = line.split()
        if len(p) >= 2:
            try: out[p[0]] = float(p[1])
            except ValueError: pass
    return out
f, t, gpu = parse(os.environ["BENCH"]), parse(os.environ["TORCH"]), os.environ["GPU"]
rows = [  # (ferrolab figure, reference figure, reference source, goal ratio, higher is better)
    ("matmul_bf16_8192_tflops", "torch_matmul_bf16_8192_tflops", t, 0.85, True),
    ("matmul_f16_8192_tflops", "torch_matmul_f16_8192_tflops", t, 0.85, True),
    ("add_f32_256M_gbps", "copy_d2d_256M_gbps", f, 0.70, True),
    ("add_f32_256M_gbps", "torch_add_f32_256M_gbps", t, None, True),
    ("eager_op_overhead_us", None, None, 10.0, False),
    ("digits_mlp_gpu_steps_per_s", "torch_digits_mlp_gpu_steps_per_s", t, 2.0, True),
    ("mlp_784_1024_1024_10_b256_steps_per_s", "torch_mlp_784_1024_1024_10_b256_steps_per_s", t, 1.0, True),
]
for name, ref, src, goal, up in rows:
    v = f.get(name)
    if v is None:
        print(f"  [{gpu}] {name}: NOT MEASURED (see the bench output above)"); continue
    if ref is None:
        ok = "met" if v <= goal else "MISSED"
        print(f"  [{gpu}] {name} = {v:g} (goal <= {goal:g}: {ok})"); continue
    r = src.get(ref)
    if r is None or r == 0:
        print(f"  [{gpu}] {name} = {v:g}; {ref}: not measured"); continue
    ratio = v / r
    goal_s = "" if goal is None else f", goal >= {goal:g}x: {'met' if ratio >= goal else 'MISSED'}"
    print(f"  [{gpu}] {name} = {v:g} vs {ref} = {r:g}: {ratio:.2f}x{goal_s}")
PY
}

run() {
    [ -x "$OUT/ops" ] || { echo "no $OUT/ops: run 'tests/gpu_check.sh build' and carry $OUT"; return 1; }
    echo "== device"
    nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader 2>&1 | head -4
    find_libs
    local status=0
    echo "== CUDA tests (ops' cuda_ops:: and cuda_threads::, every test_device! ::cuda variant in ops and autodiff, vs the CPU reference)"
    local log rc=0
    # shellcheck disable=SC2086 # CUDA_FILTERS is a list of filters
    log=$(timeout 240 "$OUT/ops" $CUDA_FILTERS --test-threads=1 --nocapture 2>&1) || rc=1
    # shellcheck disable=SC2086
    log+=$'\n'$(timeout 120 "$OUT/autodiff" $CUDA_FILTERS --test-threads=1 --nocapture 2>&1) || rc=1
    [ $rc = 0 ] || status=1
    echo "$log" | grep -E '^test |^test result|panicked|FAILED|failures:' | grep -v ' ok$' | head -80
    # shellcheck disable=SC2016 # awk's own $n
    echo "$log" | awk '/^test result:/ { p += $4; f += $6 } END { printf "   CUDA tests: %d passed, %d failed\n", p, f }'
    local skips
    skips=$(echo "$log" | grep -c 'skipped: no CUDA device')
    [ "$skips" = 0 ] || echo "   of the passed, $skips only printed 'skipped: no CUDA device'"
    if echo "$log" | grep -q 'skipped: no CUDA device'; then
        echo "GPU CHECK: NOT RUN: $(echo "$log" | grep -o -m1 'skipped: no CUDA device.*')"
        status=2
    fi
    echo "== engine suites with cuda:0 as the default device (informative)"
    for s in $SUITES; do
        [ -x "$OUT/$s" ] || continue
        local r skip=()
        # ops, autodiff: the rest (the cpu variants and the plain tests); their CUDA tests ran above
        case $s in ops | autodiff) for f in $CUDA_FILTERS; do skip+=(--skip "$f"); done ;; esac
        r=$(timeout 60 "$OUT/$s" "${skip[@]}" --test-threads=2 2>&1 | grep -E '^test result|panicked|^test .* FAILED' | head -6)
        echo "-- $s: ${r:-timed out or crashed}"
    done
    echo "== benches"
    local bench torch=""
    bench=$(timeout 120 "$OUT/cuda_bench" 2>&1)
    echo "$bench" | tail -30
    if python3 -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null; then
        echo "== PyTorch on the same GPU"
        torch=$(timeout 80 python3 - <<'PY'
import time, torch
d = "cuda"
def t(f, reps):
    f(); torch.cuda.synchronize(); s = time.perf_counter()
    for _ in range(reps): f()
    torch.cuda.synchronize(); return (time.perf_counter() - s) / reps
n = 8192
a = torch.full((n, n), 0.5, device=d, dtype=torch.bfloat16)
print(f"torch_matmul_bf16_8192_tflops {2 * n**3 / t(lambda: a @ a, 10) / 1e12:.1f} TFLOP/s")
a = a.to(torch.float16)
print(f"torch_matmul_f16_8192_tflops {2 * n**3 / t(lambda: a @ a, 10) / 1e12:.1f} TFLOP/s")
del a
x = torch.zeros(256 << 20, device=d); y = torch.zeros_like(x)
print(f"torch_add_f32_256M_gbps {3 * x.numel() * 4 / t(lambda: x + y, 10) / 1e9:.0f} GB/s")
print(f"torch_copy_d2d_256M_gbps {2 * x.numel() * 4 / t(lambda: x.clone(), 10) / 1e9:.0f} GB/s")
del x, y
p = torch.ones(1, device=d); q = torch.ones(1, device=d)
print(f"torch_eager_op_overhead_us {t(lambda: p + q, 20000) * 1e6:.2f} us")
def mlp(sizes, batch, n, steps):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2: layers.append(torch.nn.ReLU())
    m = torch.nn.Sequential(*layers).to(d); opt = torch.optim.Adam(m.parameters(), 1e-3)
    X = torch.randn(n, sizes[0], device=d); Y = torch.randint(0, 10, (n,), device=d)
    lossf = torch.nn.CrossEntropyLoss()
    def step(i):
        j = (i * batch) % (n - batch + 1)
        opt.zero_grad(); l = lossf(m(X[j:j + batch]), Y[j:j + batch]); l.backward(); opt.step()
    for i in range(20): step(i)
    torch.cuda.synchronize(); s = time.perf_counter()
    for i in range(steps): step(i)
    torch.cuda.synchronize(); return steps / (time.perf_counter() - s)
print(f"torch_digits_mlp_gpu_steps_per_s {mlp([64, 128, 64, 10], 32, 1500, 500):.0f} steps/s")
print(f"torch_mlp_784_1024_1024_10_b256_steps_per_s {mlp([784, 1024, 1024, 10], 256, 10240, 200):.0f} steps/s")
PY
)
        echo "$torch"
    else
        echo "== PyTorch: not importable with CUDA here; no comparison"
    fi
    figures "$bench" "$torch"
    case $status in
        0) echo "GPU CHECK: CUDA tests passed" ;;
        2) echo "GPU CHECK: no usable GPU, nothing was tested (see the reason above)" ;;
        *) echo "GPU CHECK: CUDA tests FAILED" ;;
    esac
    return $status
}

case "${1:-auto}" in
    build) build ;;
    run) run ;;
    auto)
        if [ -x "$OUT/ops" ] && ! command -v cargo >/dev/null; then run; exit $?; fi
        build || exit 1
        if nvidia-smi >/dev/null 2>&1; then run; else echo "no GPU here: built $OUT/ for the device machine"; fi ;;
    *) echo "usage: $0 [build|run]"; exit 2 ;;
esac
