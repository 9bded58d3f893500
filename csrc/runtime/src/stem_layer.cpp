// PyhpeRepNeXtStem (see stem_layer.h): parameters, weights and blob checks in ncnn's terms; the
// arithmetic is the StemKernels table (stem_forward.h, pyhpe/stem_kernel.h) chosen for this CPU.
#include "stem_layer.h"

#include <limits.h>

#include <string>

#include "custom_layers.h"
#include "paramdict.h"
#include "stem_forward.h"

namespace pyhpe_rt {

namespace {

const StemKernels& kernels() { return PYHPE_ISA_CHOSEN(kStemKernels, PYHPE_ISAS_RT_STEM); }

class RepNeXtStemLayer : public CustomLayer {
 public:
  RepNeXtStemLayer() : CustomLayer(kStemLayerType, /*one_blob=*/true) {}

  int load_param(const ncnn::ParamDict& pd) override {
    cin_ = pd.get(0, 0);
    c1_ = pd.get(1, 0);
    c2_ = pd.get(2, 0);
    if (cin_ < 1 || c1_ < 1 || c2_ < 1)
      return fail("0=Cin, 1=C1 and 2=C2 must be positive, got " + std::to_string(cin_) + ", " + std::to_string(c1_) +
                  " and " + std::to_string(c2_));
    if (bottoms.size() != 1 || tops.size() != 1)
      return fail("takes one input and one output, got " + std::to_string(bottoms.size()) + " and " +
                  std::to_string(tops.size()));
    return 0;
  }

  int load_model(const ncnn::ModelBin& mb) override {
    ncnn::Mat w1, b1, w2, b2;
    if (!load_floats(mb, w1, c1_ * cin_ * 9, "W1") || !load_floats(mb, b1, c1_, "b1") ||
        !load_floats(mb, w2, c2_ * c1_ * 9, "W2") || !load_floats(mb, b2, c2_, "b2"))
      return -1;
    const StemKernels& k = kernels();
    k.pack(w1, b1, w2, b2, cin_, c1_, c2_, &packed_);
    packed_.kernels = &k;
    return 0;
  }

  int forward(const ncnn::Mat& bottom, ncnn::Mat& top, const ncnn::Option& opt) const override {
    const Storage st = storage_of(*this, bottom, opt);
    if (bottom.dims != 3 || st == Storage::kOther || bottom.c != cin_)
      return fail("expects a 3-D blob of " + std::to_string(cin_) +
                  " channels with elempack 1 in fp32 (or the fp16/bf16 storage it declares), got dims " +
                  std::to_string(bottom.dims) + " c " + std::to_string(bottom.c) + " elempack " +
                  std::to_string(bottom.elempack) + " elemsize " + std::to_string(bottom.elemsize));
    const int H = bottom.h, W = bottom.w, H2 = ((H - 1) / 2) / 2 + 1, W2 = ((W - 1) / 2) / 2 + 1;
    const size_t scratch_floats = packed_.kernels->scratch_floats(packed_, H, W);
    if (scratch_floats > (size_t)INT_MAX)  // the kernel's row offsets are int
      return fail("input " + std::to_string(W) + " x " + std::to_string(H) + " is too large (" +
                  std::to_string(scratch_floats) + " floats of scratch)");
    ncnn::Mat scratch((int)scratch_floats, 4u, opt.workspace_allocator);
    top.create(W2, H2, c2_, st == Storage::kFp32 ? 4u : 2u, opt.blob_allocator);
    if (scratch.empty() || top.empty()) return -100;
    if (st == Storage::kFp32) {
      packed_.kernels->forward(packed_, bottom, bottom.cstep, H, W, top, top.cstep, scratch, opt.num_threads);
      return 0;
    }
    // 16-bit storage (an unmasked copy of the layer): widen, the fp32 kernel, narrow
    ncnn::Mat xf(W, H, cin_, 4u, opt.workspace_allocator), yf(W2, H2, c2_, 4u, opt.workspace_allocator);
    if (xf.empty() || yf.empty()) return -100;
    widen_planes(bottom, st, xf, xf.cstep, opt.num_threads);
    packed_.kernels->forward(packed_, xf, xf.cstep, H, W, yf, yf.cstep, scratch, opt.num_threads);
    narrow_planes(yf, yf.cstep, st, top, opt.num_threads);
    return 0;
  }

 private:
  int cin_ = 0, c1_ = 0, c2_ = 0;
  StemPacked packed_;
};

}  // namespace

int register_stem_layer(ncnn::Net& net) { return register_layer<RepNeXtStemLayer>(net, kStemLayerType); }

}  // namespace pyhpe_rt
