#!/usr/bin/env bash
# The prepared GPU check: on a machine with a CUDA GPU, build pyhpe with CUDA kernels for that
# GPU, run the CUDA tests (every op against the CPU kernels and the float64 references,
# gradients included) and the CUDA benchmarks (`pyhpe bench cuda`), all results in one folder.
# On a machine without a GPU it runs the same steps, which skip with a message (CI runs that
# path so the script does not rot).
#
#   bash tools/device_check.sh [RESULTS_DIR]     (default: $OUT if set, else runs/device-check-TIME)
#   PYTHON=python3 (the interpreter with torch), DEVICE_CHECK_QUICK=1 (shorter benchmarks)
#
# Exit status: 0 when every step passed (or skipped), 1 when a step failed.
set -uo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
results="${1:-${OUT:-$repo/runs/device-check-$(date +%Y%m%d-%H%M%S)}}"
mkdir -p "$results" && results="$(cd "$results" && pwd)"
PY="${PYTHON:-python3}"
status=0
step() { echo "== $(date +%T) $*"; }

step "machine"
has_gpu=$("$PY" -c "import torch; print(int(torch.cuda.is_available()))") || exit 1
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" \
  | tee "$results/machine.txt"
if [ "$has_gpu" = 1 ]; then
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv \
    | tee -a "$results/machine.txt"
  arch=$("$PY" -c "import torch; a, b = torch.cuda.get_device_capability(); print(f'{a}{b}-real')")
  step "build pyhpe with CUDA kernels for sm_${arch%-real} (pip install --no-deps)"
  t0=$(date +%s)
  if ! PYHPE_CUDA=ON CMAKE_ARGS="-DPYHPE_CUDA_ARCHITECTURES=$arch" \
       CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
       "$PY" -m pip install --no-build-isolation --no-deps -q "$repo" >"$results/build.log" 2>&1; then
    tail -30 "$results/build.log"
    echo "device_check: the CUDA build failed (log: $results/build.log)"
    exit 1
  fi
  echo "built in $(( $(date +%s) - t0 )) s"
else
  step "no CUDA device: the CUDA tests and benchmarks below skip; the installed pyhpe is used"
fi
# Run from the results folder so that `import pyhpe` is the installed package, not the source tree.
cd "$results" || exit 1
"$PY" -c "from pyhpe import _C; print('pyhpe._C', _C.build_info())" | tee -a "$results/machine.txt" \
  || exit 1

step "CUDA tests (tests/ops/test_ops_cuda.py)"
"$PY" -m pytest -p no:cacheprovider -q -rs --rootdir "$repo" -c "$repo/pyproject.toml" \
  "$repo/tests/ops/test_ops_cuda.py" --junitxml="$results/cuda-tests.xml" 2>&1 \
  | tee "$results/cuda-tests.log" | tail -40
[ "${PIPESTATUS[0]}" = 0 ] || status=1

step "CUDA benchmarks (pyhpe bench cuda)"
quick=()
[ "${DEVICE_CHECK_QUICK:-0}" = 1 ] && quick=(--quick)
"$PY" -m pyhpe.cli bench cuda "${quick[@]}" --out "$results/bench" 2>&1 | tee "$results/bench.log"
[ "${PIPESTATUS[0]}" = 0 ] || status=1

step "done (status $status); results in $results"
exit $status
