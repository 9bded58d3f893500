// One instruction-set build of the fused mixer forward. Compiled once as the baseline
// (PYHPE_RT_MIXER_AVX2 undefined) and, on x86-64, once with -mavx2 -mfma
// (PYHPE_RT_MIXER_AVX2 defined). See mixer_forward.h for why each copy of the header lives in a
// namespace of its own.
//
// The standard and intrinsic headers repnext_mixer.h pulls in are included here first, at global
// scope, so that their include guards keep them out of the wrapping namespace.
#include <math.h>
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(__ARM_NEON)
#include <arm_neon.h>
#elif defined(__SSE2__)
#include <immintrin.h>
#endif
#if defined(_OPENMP)
#include <omp.h>
#endif

#include "mixer_forward.h"

#if defined(PYHPE_RT_MIXER_AVX2)
#define PYHPE_RT_ISA_NS pyhpe_rt_isa_avx2
#define PYHPE_RT_ISA_ENTRY mixer_forward_avx2
#else
#define PYHPE_RT_ISA_NS pyhpe_rt_isa_baseline
#define PYHPE_RT_ISA_ENTRY mixer_forward_baseline
#endif

namespace PYHPE_RT_ISA_NS {
#include "pyhpe/repnext_mixer.h"
}  // namespace PYHPE_RT_ISA_NS

namespace pyhpe_rt {

#if !defined(PYHPE_RT_MIXER_AVX2)
#if defined(__ARM_NEON)
const char* const kMixerIsaBaseline = "neon";
#elif defined(__SSE2__)
const char* const kMixerIsaBaseline = "sse2";
#else
const char* const kMixerIsaBaseline = "scalar";
#endif
#endif

void PYHPE_RT_ISA_ENTRY(const float* x, const MixerArgs& a, int C, int H, int W, float* y,
                        int threads) {
  namespace mx = PYHPE_RT_ISA_NS::pyhpe::mixer;
  auto conv = [](const MixerKernel& k) {
    mx::DwConv<float> d;
    d.w = k.w;
    d.b = k.b;
    d.kh = k.kh;
    d.kw = k.kw;
    return d;
  };
  mx::Params<float> p;
  p.downsample = a.downsample;
  p.s = conv(a.s);
  p.m = conv(a.m);
  if (!a.downsample) {
    p.l1 = conv(a.l1);
    p.l2 = conv(a.l2);
  }
  p.scale = a.scale;
  p.shift = a.shift;
  mx::forward<float>(x, p, 1, C, H, W, y, threads);
}

}  // namespace pyhpe_rt
