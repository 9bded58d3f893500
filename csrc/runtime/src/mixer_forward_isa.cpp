// One instruction-set build of the fused mixer forward. Compiled once as the baseline
// (PYHPE_RT_MIXER_AVX2 undefined) and, on x86-64, once with -mavx2 -mfma
// (PYHPE_RT_MIXER_AVX2 defined). The kernel headers put their inline functions in an inline
// namespace named after the instruction set the translation unit is compiled for
// (PYHPE_ISA_NAMESPACE, csrc/include/pyhpe/config.h), so the two builds never share a symbol.
#include "mixer_forward.h"
#include "pyhpe/repnext_mixer.h"

#if defined(PYHPE_RT_MIXER_AVX2)
#define PYHPE_RT_ISA_ENTRY mixer_forward_avx2
#else
#define PYHPE_RT_ISA_ENTRY mixer_forward_baseline
#endif

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
  namespace mx = ::pyhpe::mixer;
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
