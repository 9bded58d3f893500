#!/usr/bin/env bash
# Fuzz the C++ runtime's model loading (docs/fuzzing.md): N cases of the in-process harness
# pyhpe-model-fuzz (ASan + UBSan, against the ASan ncnn), N/50 (200..2000) replays through the
# Python check and the ncnn Python backend, N/200 (100..500) through the JNI bridge, and the
# regression cases. Prints the harness's summary line.
#
#   tools/fuzz_runtime.sh [N] [SEED]        (default: N=100000, SEED=1)
#
# Needs: tools/build_ncnn.sh host host-asan (the build is not started here), cmake, g++, a JDK,
# the ncnn Python package. CI runs the same test module with its bounded share (4000 cases).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
N="${1:-100000}"
SEED="${2:-1}"
[[ "$N" =~ ^[0-9]+$ && "$SEED" =~ ^[0-9]+$ ]] || { echo "usage: tools/fuzz_runtime.sh [N] [SEED]" >&2; exit 2; }
cd "$ROOT"
PYHPE_FUZZ_CASES="$N" PYHPE_FUZZ_SEED="$SEED" exec python -m pytest tests/runtime/test_runtime_fuzz.py -s -q \
  -p no:cacheprovider
