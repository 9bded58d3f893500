// One instruction-set build of the fused mixer forward, the table PYHPE_ISA_TABLE(kMixerKernels)
// (pyhpe/isa.h; compiled once per level by pyhpe_isa_objects). The kernel headers put their
// inline functions in an inline namespace named after the instruction set (PYHPE_ISA_NAMESPACE,
// csrc/include/pyhpe/config.h), so the builds never share a symbol.
#include "mixer_forward.h"
#include "pyhpe/repnext_mixer.h"

namespace pyhpe_rt {

namespace {

void forward(const float* x, const MixerArgs& a, int C, int H, int W, float* y, int threads) {
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

}  // namespace

extern const MixerKernels PYHPE_ISA_TABLE(kMixerKernels);
const MixerKernels PYHPE_ISA_TABLE(kMixerKernels) = {PYHPE_ISA_NAME, &forward};

}  // namespace pyhpe_rt
