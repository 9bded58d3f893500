// Run-time choice between the per-ISA builds of PyhpeRepNeXtFFN's kernel.
#include "ffn_forward.h"

#include "cpu.h"

namespace pyhpe_rt {

namespace {

FfnIsa best_isa() {
#if defined(PYHPE_RT_HAVE_X86_BUILDS)
  static const FfnIsa isa = ncnn::cpu_support_x86_avx512()                                   ? kFfnAvx512
                            : (ncnn::cpu_support_x86_avx2() && ncnn::cpu_support_x86_fma()) ? kFfnAvx2
                                                                                             : kFfnBaseline;
  return isa;
#else
  return kFfnBaseline;
#endif
}

}  // namespace

FfnPacked ffn_pack(const float* w1, const float* b1, const float* w2, const float* b2, int channels, int hidden) {
  FfnPacked p;
  switch (best_isa()) {
#if defined(PYHPE_RT_HAVE_X86_BUILDS)
    case kFfnAvx512: p = ffn_pack_avx512(w1, b1, w2, b2, channels, hidden); break;
    case kFfnAvx2: p = ffn_pack_avx2(w1, b1, w2, b2, channels, hidden); break;
#endif
    default: p = ffn_pack_baseline(w1, b1, w2, b2, channels, hidden); break;
  }
  p.isa = best_isa();
  return p;
}

void ffn_forward(const FfnPacked& w, const float* h, size_t hs, const float* r, size_t rs, float* y, size_t ys,
                 int P, int threads) {
  switch (w.isa) {
#if defined(PYHPE_RT_HAVE_X86_BUILDS)
    case kFfnAvx512: ffn_forward_avx512(w, h, hs, r, rs, y, ys, P, threads); return;
    case kFfnAvx2: ffn_forward_avx2(w, h, hs, r, rs, y, ys, P, threads); return;
#endif
    default: ffn_forward_baseline(w, h, hs, r, rs, y, ys, P, threads); return;
  }
}

const char* ffn_isa() {
  switch (best_isa()) {
#if defined(PYHPE_RT_HAVE_X86_BUILDS)
    case kFfnAvx512: return kFfnIsa_avx512;
    case kFfnAvx2: return kFfnIsa_avx2;
#endif
    default: return kFfnIsa_baseline;
  }
}

}  // namespace pyhpe_rt
