// Run-time choice between the per-ISA builds of the fused mixer forward (pyhpe/isa.h).
#include "mixer_forward.h"

namespace pyhpe_rt {

namespace {

const MixerKernels& kernels() { return PYHPE_ISA_CHOSEN(kMixerKernels, PYHPE_ISAS_RT_MIXER); }

}  // namespace

void mixer_forward(const float* x, const MixerArgs& args, int C, int H, int W, float* y, int threads) {
  kernels().forward(x, args, C, H, W, y, threads);
}

const char* mixer_isa() { return kernels().isa; }

}  // namespace pyhpe_rt
