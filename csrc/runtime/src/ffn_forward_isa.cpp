// One instruction-set build of PyhpeRepNeXtFFN's kernel (pyhpe/ffn_kernel.h), the table
// PYHPE_ISA_TABLE(kFfnKernels) (pyhpe/isa.h; compiled once per level by pyhpe_isa_objects).
// ffn_kernel.h puts its functions in an inline namespace named after the instruction set
// (PYHPE_ISA_NAMESPACE, csrc/include/pyhpe/config.h), so the builds never share a symbol.
#include <stddef.h>

#include "ffn_forward.h"
#include "pyhpe/ffn_kernel.h"

namespace pyhpe_rt {

namespace {

namespace ffn = ::pyhpe::ffn;

void pack(const float* w1, const float* b1, const float* w2, const float* b2, int channels, int hidden,
          FfnPacked* p) {
  p->w1 = ffn::pack_weights(w1, hidden, channels);
  p->b1 = ffn::pack_bias(b1, hidden);
  p->w2 = ffn::pack_weights(w2, channels, hidden);
  p->b2 = ffn::pack_bias(b2, channels);
  p->channels = channels;
  p->hidden = hidden;
}

void forward(const FfnPacked& w, const float* h, size_t hs, const float* r, size_t rs, float* y, size_t ys, int P,
             int threads) {
  ffn::Weights wt;
  wt.w1 = w.w1.data();
  wt.b1 = w.b1.data();
  wt.w2 = w.w2.data();
  wt.b2 = w.b2.data();
  wt.channels = w.channels;
  wt.hidden = w.hidden;
  ffn::forward(wt, h, hs, r, rs, y, ys, P, threads);
}

}  // namespace

extern const FfnKernels PYHPE_ISA_TABLE(kFfnKernels);
const FfnKernels PYHPE_ISA_TABLE(kFfnKernels) = {ffn::kIsa, &pack, &forward};

}  // namespace pyhpe_rt
