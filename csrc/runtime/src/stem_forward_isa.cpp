// One instruction-set build of PyhpeRepNeXtStem's kernel (pyhpe/stem_kernel.h), the table
// PYHPE_ISA_TABLE(kStemKernels) (pyhpe/isa.h; compiled once per level by pyhpe_isa_objects, like
// ffn_forward_isa.cpp).
#include <stddef.h>

#include "pyhpe/stem_kernel.h"
#include "stem_forward.h"

namespace pyhpe_rt {

namespace {

namespace ffn = ::pyhpe::ffn;
namespace stem = ::pyhpe::stem;

void pack(const float* w1, const float* b1, const float* w2, const float* b2, int cin, int c1, int c2,
          StemPacked* p) {
  p->w1 = ffn::pack_weights(w1, c1, cin * 9);
  p->b1 = ffn::pack_bias(b1, c1);
  p->w2 = ffn::pack_weights(w2, c2, c1 * 9);
  p->b2 = ffn::pack_bias(b2, c2);
  p->cin = cin;
  p->c1 = c1;
  p->c2 = c2;
}

stem::Weights view(const StemPacked& w) {
  stem::Weights wt;
  wt.w1 = w.w1.data();
  wt.b1 = w.b1.data();
  wt.w2 = w.w2.data();
  wt.b2 = w.b2.data();
  wt.cin = w.cin;
  wt.c1 = w.c1;
  wt.c2 = w.c2;
  return wt;
}

size_t scratch_floats(const StemPacked& w, int H, int W) { return stem::scratch_floats(view(w), H, W); }

void forward(const StemPacked& w, const float* x, size_t xs, int H, int W, float* y, size_t ys, float* scratch,
             int threads) {
  stem::forward(view(w), x, xs, H, W, y, ys, scratch, threads);
}

}  // namespace

extern const StemKernels PYHPE_ISA_TABLE(kStemKernels);
const StemKernels PYHPE_ISA_TABLE(kStemKernels) = {ffn::kIsa, &pack, &scratch_floats, &forward};

}  // namespace pyhpe_rt
