// PyhpeRepNeXtStem's kernel (csrc/include/pyhpe/stem_kernel.h) as the runtime calls it: one table
// per instruction set (stem_forward_isa.cpp, compiled once per level like the FFN's; the layer,
// stem_layer.cpp, picks the table for this CPU, pyhpe/isa.h). Weights are packed by the table
// that runs them, which they remember.
#pragma once

#include <stddef.h>

#include <vector>

#include "pyhpe/isa.h"

namespace pyhpe_rt {

struct StemKernels;

struct StemPacked {
  std::vector<float> w1, b1, w2, b2;  // packed for `kernels` (ffn_kernel.h pack_weights / pack_bias)
  int cin = 0, c1 = 0, c2 = 0;
  const StemKernels* kernels = nullptr;  // the build that packed them
};

// What one instruction-set build (stem_forward_isa.cpp) provides: kStemKernels_baseline, ...
struct StemKernels {
  const char* isa;
  // Packs W1 (C1 x Cin x 3 x 3), b1, W2 (C2 x C1 x 3 x 3), b2 for this build.
  void (*pack)(const float* w1, const float* b1, const float* w2, const float* b2, int cin, int c1, int c2,
               StemPacked* out);
  // Floats of scratch `forward` needs for an H x W input.
  size_t (*scratch_floats)(const StemPacked& w, int H, int W);
  // y = conv2(GELU(conv1(x))), both 3x3 stride 2 padding 1: x holds Cin planes of H x W (plane
  // stride xs), y C2 planes of ((H - 1) / 2) / 2 + 1 rows likewise (plane stride ys).
  void (*forward)(const StemPacked& w, const float* x, size_t xs, int H, int W, float* y, size_t ys, float* scratch,
                  int threads);
};
PYHPE_ISA_DECLARE(StemKernels, kStemKernels);

}  // namespace pyhpe_rt
