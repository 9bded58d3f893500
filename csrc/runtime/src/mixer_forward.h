// The fused RepNeXt mixer forward (csrc/include/pyhpe/repnext_mixer.h) as the runtime calls it:
// one plain argument struct, one entry point that picks the instruction set at run time.
//
// repnext_mixer.h is header-only and its SIMD width follows the compile flags, so the runtime
// compiles it once per instruction set (mixer_forward_isa.cpp: baseline; AVX2+FMA and AVX-512F on x86-64)
// into tables chosen at run time (csrc/include/pyhpe/isa.h).
#pragma once

#include "pyhpe/isa.h"

namespace pyhpe_rt {

struct MixerKernel {
  const float* w = nullptr;  // (channels, kh, kw) contiguous
  const float* b = nullptr;  // (channels)
  int kh = 0, kw = 0;
};

struct MixerArgs {
  bool downsample = false;        // false: block mixer (C -> C); true: C -> 2C at stride 2
  MixerKernel s, m, l1, l2;       // l1/l2 unused when downsample
  const float* scale = nullptr;   // optional per output channel (folded BatchNorm)
  const float* shift = nullptr;
};

// y (Cout planes of Ho x Wo, contiguous) = mixer(x (C planes of H x W, contiguous)), batch 1.
void mixer_forward(const float* x, const MixerArgs& args, int C, int H, int W, float* y, int threads);

// Which instruction set mixer_forward uses on this CPU ("avx512", "avx2", "sse2", "neon", "scalar";
// PYHPE_MAX_ISA=avx2|baseline caps it, pyhpe/isa.h).
const char* mixer_isa();

// What one instruction-set build (mixer_forward_isa.cpp) provides: kMixerKernels_baseline, ...
struct MixerKernels {
  const char* isa;
  void (*forward)(const float* x, const MixerArgs& args, int C, int H, int W, float* y, int threads);
};
PYHPE_ISA_DECLARE(MixerKernels, kMixerKernels);

}  // namespace pyhpe_rt
