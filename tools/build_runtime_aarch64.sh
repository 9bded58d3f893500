#!/usr/bin/env bash
# Cross-build the pyhpe runtime (csrc/runtime) for aarch64 Linux: static pyhpe-infer and
# pyhpe-bench that run under qemu-aarch64 here, or from `adb shell` (/data/local/tmp) on a phone.
#
#   tools/build_runtime_aarch64.sh            -> build/runtime-aarch64/pyhpe-{infer,bench}
#
# The tools are statically linked (PYHPE_RUNTIME_STATIC: glibc, libstdc++, libgomp, ncnn), so they need
# no sysroot: `file build/runtime-aarch64/pyhpe-bench` says "statically linked", and they run from a
# phone's `adb shell` as pushed (docs/android.md, "Timing models on a phone").
# Builds ncnn for aarch64 first when build/ncnn/install-aarch64 is missing (tools/build_ncnn.sh).
# Run: qemu-aarch64 -cpu cortex-a76 build/runtime-aarch64/pyhpe-infer MODEL.ncnn.param --tensor X
# PYHPE_RT_KERNEL_INCLUDE=DIR builds the fused layers' kernels from another copy of csrc/include (default:
# csrc/include; see csrc/runtime/CMakeLists.txt).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
NCNN="${PYHPE_NCNN_DIR:-$ROOT/build/ncnn}/install-aarch64"
OUT="$ROOT/build/runtime-aarch64"
if [[ ! -f "$NCNN/lib/cmake/ncnn/ncnnConfig.cmake" ]]; then
  "$ROOT/tools/build_ncnn.sh" aarch64
fi
cmake -S "$ROOT/csrc/runtime" -B "$OUT" \
  -DCMAKE_TOOLCHAIN_FILE="$ROOT/csrc/runtime/cmake/aarch64-linux-gnu.toolchain.cmake" \
  -DCMAKE_BUILD_TYPE=Release -DPYHPE_RUNTIME_STATIC=ON -Dncnn_DIR="$NCNN/lib/cmake/ncnn" \
  -DPYHPE_RT_KERNEL_INCLUDE="${PYHPE_RT_KERNEL_INCLUDE:-$ROOT/csrc/include}" >"$OUT.configure.log" 2>&1 \
  || { tail -20 "$OUT.configure.log" >&2; echo "build_runtime_aarch64: configure failed" >&2; exit 1; }
cmake --build "$OUT" -j "${JOBS:-$(nproc)}" 2>&1 | grep -v "Using 'dlopen' in statically linked" | grep -E "error|warning:|Built target" || true
test -x "$OUT/pyhpe-infer" && test -x "$OUT/pyhpe-bench" || { echo "build_runtime_aarch64: build failed" >&2; exit 1; }
echo "build_runtime_aarch64: $OUT/pyhpe-infer $OUT/pyhpe-bench"
