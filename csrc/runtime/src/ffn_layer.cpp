// PyhpeRepNeXtFFN (see ffn_layer.h): parameters, weights and blob checks in ncnn's terms; the
// arithmetic is ffn_forward (ffn_kernel.h), which reads ncnn's per-channel stride (cstep) directly.
#include "ffn_layer.h"

#include <vector>

#include "custom_layers.h"
#include "ffn_forward.h"
#include "layer.h"
#include "modelbin.h"
#include "paramdict.h"

namespace pyhpe_rt {

namespace {

int layer_fail(const std::string& name, const std::string& message) {
  return custom_layer_fail(kFfnLayerType, name, message);
}

std::string shape(const ncnn::Mat& m) {
  return "dims " + std::to_string(m.dims) + " (w " + std::to_string(m.w) + ", h " + std::to_string(m.h) + ", c " +
         std::to_string(m.c) + ") elempack " + std::to_string(m.elempack) + " elemsize " +
         std::to_string(m.elemsize);
}

class RepNeXtFfnLayer : public ncnn::Layer {
 public:
  RepNeXtFfnLayer() {
    one_blob_only = false;
    support_inplace = false;
    support_packing = false;  // ncnn hands over elempack 1 and fp32 (it converts around the layer)
  }

  int load_param(const ncnn::ParamDict& pd) override {
    channels_ = pd.get(0, 0);
    hidden_ = pd.get(1, 0);
    if (channels_ < 1 || hidden_ < 1)
      return layer_fail(name, "0=channels and 1=hidden must be positive, got " + std::to_string(channels_) + " and " +
                                  std::to_string(hidden_));
    if (bottoms.size() != 1 && bottoms.size() != 2)
      return layer_fail(name, "takes 1 or 2 inputs (h, or h and the residual), got " + std::to_string(bottoms.size()));
    if (tops.size() != 1) return layer_fail(name, "has one output, got " + std::to_string(tops.size()));
    return 0;
  }

  int load_model(const ncnn::ModelBin& mb) override {
    const int C = channels_, Hd = hidden_;
    ncnn::Mat w1, b1, w2, b2;
    auto load = [&](ncnn::Mat& dst, int n, const char* what) {
      dst = mb.load(n, 1);
      if (dst.empty() || dst.w != n) {
        layer_fail(name, std::string("cannot read ") + what + " (" + std::to_string(n) +
                             " floats) from the .bin: truncated, or not this .param's weights");
        return false;
      }
      return true;
    };
    if (!load(w1, Hd * C, "W1") || !load(b1, Hd, "b1") || !load(w2, C * Hd, "W2") || !load(b2, C, "b2")) return -1;
    packed_ = ffn_pack(w1, b1, w2, b2, C, Hd);
    return 0;
  }

  int forward(const std::vector<ncnn::Mat>& bottoms_in, std::vector<ncnn::Mat>& tops_out,
              const ncnn::Option& opt) const override {
    if (bottoms_in.empty() || tops_out.size() != 1) return layer_fail(name, "called without its blobs");
    const ncnn::Mat& h = bottoms_in[0];
    const ncnn::Mat& r = bottoms_in.size() > 1 ? bottoms_in[1] : bottoms_in[0];
    for (const ncnn::Mat* m : {&h, &r}) {
      if (m->dims != 3 || m->elempack != 1 || m->elemsize != 4u)
        return layer_fail(name, "expects 3-D fp32 blobs with elempack 1, got " + shape(*m));
      if (m->c != channels_)
        return layer_fail(name, "expects " + std::to_string(channels_) + " channels, got " + shape(*m));
    }
    if (r.w != h.w || r.h != h.h)
      return layer_fail(name, "the residual's shape differs from the input's: " + shape(r) + " vs " + shape(h));
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

ncnn::Layer* create_ffn_layer(void*) { return new RepNeXtFfnLayer; }
void destroy_ffn_layer(ncnn::Layer* layer, void*) { delete layer; }

}  // namespace

int register_ffn_layer(ncnn::Net& net) {
  return net.register_custom_layer(kFfnLayerType, create_ffn_layer, destroy_ffn_layer);
}

}  // namespace pyhpe_rt
