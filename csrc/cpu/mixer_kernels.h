// The fused RepNeXt mixer kernels one build of cpu/mixer_kernels.cpp provides (per ISA, like
// the rotation kernels; see rotation_kernels.h).
#pragma once

#include <stdint.h>

#include "pyhpe/isa.h"
#include "pyhpe/repnext_mixer.h"

namespace pyhpe {
namespace cpu {

template <class T>
struct MixerKernelsT {
  void (*forward)(const T* x, const mixer::Params<T>& p, int64_t N, int C, int H, int W, T* y,
                  int threads);
  void (*backward)(const T* gy, const T* x, const mixer::Params<T>& p, const mixer::Grads<T>& g,
                   int64_t N, int C, int H, int W, T* gx, int threads);
};

struct MixerKernels {
  const char* isa;
  MixerKernelsT<float> f32;
  MixerKernelsT<double> f64;
};

PYHPE_ISA_DECLARE(MixerKernels, kMixerKernels);

}  // namespace cpu
}  // namespace pyhpe
