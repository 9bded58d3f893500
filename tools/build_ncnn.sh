#!/usr/bin/env bash
# Build ncnn from its pinned, sha256-verified source distribution, for the host (x86-64) and/or
# aarch64 Linux (Debian's cross compiler), with only the layers pyhpe's models need.
#
#   tools/build_ncnn.sh [host|aarch64|host-asan|host-bf16|all]   (default: all = host, aarch64, host-asan)
#
# Results (cached; a target whose stamp exists is not rebuilt):
#   build/ncnn/install-host/       lib/libncnn.a, include/ncnn/, lib/cmake/ncnn/
#   build/ncnn/install-aarch64/    same, static, runtime CPU dispatch (NEON, ARMv8.2 fp16/dot)
#   build/ncnn/install-host-asan/  same layers, AddressSanitizer-instrumented (ncnn's NCNN_ASAN;
#                                  its CMake target passes -fsanitize=address on to what links it),
#                                  SSE2 only, no runtime dispatch: for the model-loading fuzz
#                                  harness (csrc/runtime/fuzz, docs/fuzzing.md), not for speed
#   build/ncnn/install-host-bf16/  the host build with NCNN_BF16 and its AVX512-BF16 variants: ncnn's
#                                  net then casts blobs to bf16 (`--precision bf16`), and its own
#                                  layers use VDPBF16PS where the CPU has it. Not part of `all`
#                                  (not needed by the tests): for timing bf16 on such a CPU
#                                  (docs/deployment.md, "Precision")
#
# Source: the ncnn sdist on the package index pip is configured with. Its setup.py stamps the build
# date into its version, so pip's metadata check fails for a pinned version on any other day; the
# download therefore runs under Debian's `faketime` set to the release date. The file is checked
# against NCNN_SHA256 before use. A tarball already at build/ncnn/ncnn-$NCNN_VERSION.tar.gz is used
# as is (after the same check), so an offline machine can be seeded by copying it there.
#
# Needs: cmake, make, g++; for aarch64 g++-aarch64-linux-gnu; for the download pip and faketime
# (apt-get install faketime). Time on 2 cores: the probe measured 251 s for aarch64 (all layers,
# idle machine); here, under a load average of 8-12, host took ~17 min and aarch64 ~20 min.
# The host build with its AVX-512 variants took 2 min 23 s on an idle machine (2026-11-22).
# host-asan took 6 min 0 s wall beside other jobs (385 s of CPU, 112% of the 2 cores: about
# 3.3 min on an idle 2-core machine; 2026-12-05).
set -euo pipefail

NCNN_VERSION=1.0.20261020
NCNN_DATE="2026-10-20 12:00:00"
NCNN_SHA256=ad8cdd63e9755cfa8e23b9b6d9ce46156077d80298a89e7c3ba325ffccfca200

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${PYHPE_NCNN_DIR:-$ROOT/build/ncnn}"
TOOLCHAIN="$ROOT/csrc/runtime/cmake/aarch64-linux-gnu.toolchain.cmake"
JOBS="${JOBS:-$(nproc)}"
TARGET="${1:-all}"

die() { echo "build_ncnn: $*" >&2; exit 1; }

case "$TARGET" in host|aarch64|host-asan|host-bf16|all) ;; *) die "unknown target '$TARGET' (host, aarch64, host-asan, host-bf16 or all)";; esac

# Layers pyhpe's exported models use (pnnx output of every exportable sixdrepnet_* and trgv2_*
# model: TRGv2 adds Deconvolution, GridSample and Convolution1D; see
# docs/deployment.md), plus the ones ncnn's own layers create internally (Packing, Cast, Padding,
# Flatten, Crop, Gemm, activations). Everything else is switched off to shorten the build.
KEEP_LAYERS=(
  Input Convolution ConvolutionDepthWise Pooling InnerProduct Gemm MatMul BinaryOp UnaryOp
  Eltwise Split Concat Slice Reshape Flatten Permute ExpandDims Squeeze Crop Padding Packing Cast
  Reduction Normalize MemoryData Softmax LayerNorm BatchNorm Scale Bias Noop Dropout
  ReLU Clip Sigmoid HardSigmoid HardSwish Swish Mish GELU Erf TanH ELU Power Exp Log AbsVal
  Interp MultiHeadAttention SDPA Tile DeepCopy
  Deconvolution GridSample Convolution1D
)

layer_flags() {
  local src="$1" all keep flags=()
  all=$(grep -oE 'ncnn_add_layer\([A-Za-z0-9_]+' "$src/src/CMakeLists.txt" | sed 's/ncnn_add_layer(//')
  for layer in $all; do
    keep=OFF
    for k in "${KEEP_LAYERS[@]}"; do [[ "$k" == "$layer" ]] && keep=ON && break; done
    flags+=("-DWITH_LAYER_$(echo "$layer" | tr '[:upper:]' '[:lower:]')=$keep")
  done
  echo "${flags[@]}"
}

fetch_source() {
  local tarball="$OUT/ncnn-$NCNN_VERSION.tar.gz"
  mkdir -p "$OUT"
  if [[ ! -f "$tarball" ]]; then
    command -v faketime >/dev/null || die "faketime not found (apt-get install faketime) and $tarball absent"
    echo "build_ncnn: downloading the ncnn $NCNN_VERSION sdist with pip (faketime $NCNN_DATE)"
    local tmp; tmp=$(mktemp -d)
    faketime "$NCNN_DATE" python3 -m pip download --no-deps --no-binary :all: \
      "ncnn==$NCNN_VERSION" -d "$tmp" >"$tmp/pip.log" 2>&1 || { tail -5 "$tmp/pip.log" >&2; die "pip download failed"; }
    mv "$tmp/ncnn-$NCNN_VERSION.tar.gz" "$tarball" || die "pip did not produce ncnn-$NCNN_VERSION.tar.gz"
    rm -rf "$tmp"
  fi
  echo "$NCNN_SHA256  $tarball" | sha256sum -c --quiet - || die "sha256 mismatch for $tarball (expected $NCNN_SHA256)"
  if [[ ! -f "$OUT/src/ncnn-$NCNN_VERSION/CMakeLists.txt" ]]; then
    mkdir -p "$OUT/src"
    tar -xzf "$tarball" -C "$OUT/src"
  fi
  SRC="$OUT/src/ncnn-$NCNN_VERSION"
}

common_flags() {
  echo -DCMAKE_BUILD_TYPE=Release -DNCNN_SHARED_LIB=OFF -DNCNN_VULKAN=OFF -DNCNN_BUILD_TOOLS=OFF \
    -DNCNN_BUILD_EXAMPLES=OFF -DNCNN_BUILD_BENCHMARK=OFF -DNCNN_BUILD_TESTS=OFF -DNCNN_PYTHON=OFF \
    -DNCNN_OPENMP=ON -DNCNN_INT8=OFF -DNCNN_BF16=OFF -DNCNN_PIXEL_DRAWING=OFF \
    -DNCNN_PIXEL_ROTATE=OFF -DNCNN_PIXEL_AFFINE=ON -DNCNN_C_API=OFF
}

# The stamp names the version and the layer set: a build made with another KEEP_LAYERS is rebuilt.
STAMP=".stamp-$NCNN_VERSION-$(echo "${KEEP_LAYERS[*]}" | md5sum | cut -c1-8)"

build_target() {
  local target="$1" build="$OUT/build-$1" install="$OUT/install-$1" extra=()
  if [[ -f "$install/$STAMP" ]]; then
    echo "build_ncnn: $target already built ($install)"; return 0
  fi
  case "$target" in
    host)
      # runtime-dispatched x86-64 variants up to AVX-512F (these machines have it; ncnn picks the
      # widest the CPU supports at load time). The int8/bf16/fp16-only extensions are off: the
      # models run in fp32 and those variants would only lengthen the build.
      extra=(-DNCNN_AVX512=ON -DNCNN_AVX512VNNI=OFF -DNCNN_AVX512BF16=OFF -DNCNN_AVX512FP16=OFF
             -DNCNN_AVXVNNI=OFF -DNCNN_AVXNECONVERT=OFF -DNCNN_XOP=OFF -DNCNN_FMA4=OFF) ;;
    host-bf16)
      # as host, plus bf16 storage and the AVX512-BF16 variants of ncnn's layers (the common flags'
      # -DNCNN_BF16=OFF is overridden: the later -D wins)
      extra=(-DNCNN_AVX512=ON -DNCNN_AVX512VNNI=OFF -DNCNN_BF16=ON -DNCNN_AVX512BF16=ON -DNCNN_AVX512FP16=OFF
             -DNCNN_AVXVNNI=OFF -DNCNN_AVXNECONVERT=OFF -DNCNN_XOP=OFF -DNCNN_FMA4=OFF) ;;
    host-asan)
      # ASan sees ncnn's own reads of a malformed model. One x86 code path (SSE2, no AVX variants,
      # no runtime dispatch) keeps the build short: each layer is compiled once, not five times.
      # -O1 -g1: what ASan reports stays readable; the fuzz cases are tiny models.
      extra=(-DNCNN_ASAN=ON -DNCNN_RUNTIME_CPU=OFF -DNCNN_AVX=OFF -DNCNN_AVX2=OFF -DNCNN_AVX512=OFF
             -DNCNN_FMA=OFF -DNCNN_F16C=OFF -DNCNN_XOP=OFF -DNCNN_FMA4=OFF -DNCNN_AVXVNNI=OFF
             "-DCMAKE_CXX_FLAGS_RELEASE=-O1 -g1 -DNDEBUG -fno-omit-frame-pointer"
             "-DCMAKE_C_FLAGS_RELEASE=-O1 -g1 -DNDEBUG -fno-omit-frame-pointer") ;;
    aarch64)
      command -v aarch64-linux-gnu-g++ >/dev/null || die "aarch64-linux-gnu-g++ not found (apt-get install g++-aarch64-linux-gnu)"
      extra=(-DCMAKE_TOOLCHAIN_FILE="$TOOLCHAIN" -DNCNN_RUNTIME_CPU=ON -DNCNN_ARM86SVE=OFF
             -DNCNN_ARM84BF16=OFF -DNCNN_ARM84I8MM=OFF) ;;
  esac
  rm -rf "$build"; mkdir -p "$build"
  echo "build_ncnn: configuring $target"
  # shellcheck disable=SC2046
  cmake -S "$SRC" -B "$build" -DCMAKE_INSTALL_PREFIX="$install" $(common_flags) $(layer_flags "$SRC") \
    "${extra[@]}" >"$build/configure.log" 2>&1 || { tail -20 "$build/configure.log" >&2; die "configure failed ($target)"; }
  echo "build_ncnn: building $target with $JOBS jobs (log: $build/build.log)"
  cmake --build "$build" -j "$JOBS" >"$build/build.log" 2>&1 || { grep -m5 -B2 -A5 "error" "$build/build.log" >&2; die "build failed ($target)"; }
  cmake --install "$build" >"$build/install.log" 2>&1 || die "install failed ($target)"
  rm -f "$install"/.stamp-*
  touch "$install/$STAMP"
  echo "build_ncnn: $target done: $install/lib/libncnn.a"
}

fetch_source
case "$TARGET" in
  host) build_target host ;;
  aarch64) build_target aarch64 ;;
  host-asan) build_target host-asan ;;
  host-bf16) build_target host-bf16 ;;
  all) build_target host; build_target aarch64; build_target host-asan ;;
esac
