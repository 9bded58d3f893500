// Run-time choice between the per-ISA builds of the fused mixer forward.
#include "mixer_forward.h"

#include "cpu.h"

namespace pyhpe_rt {

namespace {

bool use_avx2() {
#if defined(PYHPE_RT_HAVE_AVX2_BUILD)
  static const bool yes = ncnn::cpu_support_x86_avx2() && ncnn::cpu_support_x86_fma();
  return yes;
#else
  return false;
#endif
}

}  // namespace

void mixer_forward(const float* x, const MixerArgs& args, int C, int H, int W, float* y, int threads) {
#if defined(PYHPE_RT_HAVE_AVX2_BUILD)
  if (use_avx2()) {
    mixer_forward_avx2(x, args, C, H, W, y, threads);
    return;
  }
#endif
  mixer_forward_baseline(x, args, C, H, W, y, threads);
}

const char* mixer_isa() { return use_avx2() ? "avx2" : kMixerIsaBaseline; }

}  // namespace pyhpe_rt
