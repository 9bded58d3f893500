// PyhpeRepNeXtFFN (see ffn_layer.h): parameters, weights and blob checks in ncnn's terms; the
// arithmetic is ffn_forward (pyhpe/ffn_kernel.h), which reads ncnn's per-channel stride (cstep) directly.
#include "ffn_layer.h"

#include <vector>

#include "custom_layers.h"
#include "ffn_forward.h"
#include "paramdict.h"

namespace pyhpe_rt {

namespace {

std::string shape(const ncnn::Mat& m) {
  return "dims " + std::to_string(m.dims) + " (w " + std::to_string(m.w) + ", h " + std::to_string(m.h) + ", c " +
         std::to_string(m.c) + ") elempack " + std::to_string(m.elempack) + " elemsize " +
         std::to_string(m.elemsize);
}

class RepNeXtFfnLayer : public CustomLayer {
 public:
  RepNeXtFfnLayer() : CustomLayer(kFfnLayerType, /*one_blob=*/false) {}

  int load_param(const ncnn::ParamDict& pd) override {
    channels_ = pd.get(0, 0);
    hidden_ = pd.get(1, 0);
    if (channels_ < 1 || hidden_ < 1)
      return fail("0=channels and 1=hidden must be positive, got " + std::to_string(channels_) + " and " +
                  std::to_string(hidden_));
    if (bottoms.size() != 1 && bottoms.size() != 2)
      return fail("takes 1 or 2 inputs (h, or h and the residual), got " + std::to_string(bottoms.size()));
    if (tops.size() != 1) return fail("has one output, got " + std::to_string(tops.size()));
    return 0;
  }

  int load_model(const ncnn::ModelBin& mb) override {
    const int C = channels_, Hd = hidden_;
    ncnn::Mat w1, b1, w2, b2;
    if (!load_floats(mb, w1, Hd * C, "W1") || !load_floats(mb, b1, Hd, "b1") || !load_floats(mb, w2, C * Hd, "W2") ||
        !load_floats(mb, b2, C, "b2"))
      return -1;
    packed_ = ffn_pack(w1, b1, w2, b2, C, Hd);
    return 0;
  }

  int forward(const std::vector<ncnn::Mat>& bottoms_in, std::vector<ncnn::Mat>& tops_out,
              const ncnn::Option& opt) const override {
    if (bottoms_in.empty() || tops_out.size() != 1) return fail("called without its blobs");
    const ncnn::Mat& h = bottoms_in[0];
    const ncnn::Mat& r = bottoms_in.size() > 1 ? bottoms_in[1] : bottoms_in[0];
    for (const ncnn::Mat* m : {&h, &r}) {
      if (m->dims != 3 || m->elempack != 1 || m->elemsize != 4u)
        return fail("expects 3-D fp32 blobs with elempack 1, got " + shape(*m));
      if (m->c != channels_)
        return fail("expects " + std::to_string(channels_) + " channels, got " + shape(*m));
    }
    if (r.w != h.w || r.h != h.h)
      return fail("the residual's shape differs from the input's: " + shape(r) + " vs " + shape(h));
    ncnn::Mat& top = tops_out[0];
    top.create(h.w, h.h, channels_, 4u, opt.blob_allocator);
    if (top.empty()) return -100;
    ffn_forward(packed_, h, h.cstep, r, r.cstep, top, top.cstep, h.w * h.h, opt.num_threads);
    return 0;
  }

 private:
  int channels_ = 0, hidden_ = 0;
  FfnPacked packed_;
};

}  // namespace

int register_ffn_layer(ncnn::Net& net) { return register_layer<RepNeXtFfnLayer>(net, kFfnLayerType); }

}  // namespace pyhpe_rt
