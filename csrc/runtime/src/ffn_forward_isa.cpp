// One instruction-set build of PyhpeRepNeXtFFN's kernel (ffn_kernel.h). Compiled as the baseline
// (PYHPE_RT_FFN_SUFFIX=baseline) and, on x86-64, with -mavx2 -mfma (avx2) and with -mavx512f
// (avx512). ffn_kernel.h puts its functions in an inline namespace named after the instruction
// set (PYHPE_ISA_NAMESPACE, csrc/include/pyhpe/config.h), so the builds never share a symbol.
#include <stddef.h>

#include "ffn_forward.h"
#include "ffn_kernel.h"

#ifndef PYHPE_RT_FFN_SUFFIX
#error "define PYHPE_RT_FFN_SUFFIX (baseline, avx2 or avx512)"
#endif
#define PYHPE_RT_CAT2(a, b) a##b
#define PYHPE_RT_CAT(a, b) PYHPE_RT_CAT2(a, b)
#define PYHPE_RT_FFN_ENTRY(name) PYHPE_RT_CAT(name, PYHPE_RT_FFN_SUFFIX)

namespace pyhpe_rt {

const char* const PYHPE_RT_FFN_ENTRY(kFfnIsa_) = ffn::kIsa;

FfnPacked PYHPE_RT_FFN_ENTRY(ffn_pack_)(const float* w1, const float* b1, const float* w2, const float* b2,
                                        int channels, int hidden) {
  FfnPacked p;
  p.w1 = ffn::pack_weights(w1, hidden, channels);
  p.b1 = ffn::pack_bias(b1, hidden);
  p.w2 = ffn::pack_weights(w2, channels, hidden);
  p.b2 = ffn::pack_bias(b2, channels);
  p.channels = channels;
  p.hidden = hidden;
  return p;
}

void PYHPE_RT_FFN_ENTRY(ffn_forward_)(const FfnPacked& w, const float* h, size_t hs, const float* r, size_t rs,
                                      float* y, size_t ys, int P, int threads) {
  ffn::Weights wt;
  wt.w1 = w.w1.data();
  wt.b1 = w.b1.data();
  wt.w2 = w.w2.data();
  wt.b2 = w.b2.data();
  wt.channels = w.channels;
  wt.hidden = w.hidden;
  ffn::forward(wt, h, hs, r, rs, y, ys, P, threads);
}

}  // namespace pyhpe_rt
