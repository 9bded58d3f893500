// PyhpeWiden (see widen_layer.h): fp32 blobs handed over, fp16/bf16 blobs widened plane by plane.
#include "widen_layer.h"

#include <string>

#include "custom_layers.h"

namespace pyhpe_rt {

namespace {

class WidenLayer : public CustomLayer {
 public:
  WidenLayer() : CustomLayer(kWidenLayerType, /*one_blob=*/true) {}

  int load_param(const ncnn::ParamDict&) override {
    if (bottoms.size() != 1 || tops.size() != 1)
      return fail("takes one input and one output, got " + std::to_string(bottoms.size()) + " and " +
                  std::to_string(tops.size()));
    return 0;
  }

  int forward(const ncnn::Mat& bottom, ncnn::Mat& top, const ncnn::Option& opt) const override {
    const Storage st = storage_of(*this, bottom, opt);
    if (st == Storage::kOther)
      return fail("expects a blob with elempack 1 in fp32, fp16 or bf16, got elemsize " +
                  std::to_string(bottom.elemsize) + " elempack " + std::to_string(bottom.elempack));
    if (st == Storage::kFp32) {
      top = bottom;
      return 0;
    }
    switch (bottom.dims) {  // the same shape, 4-byte elements
      case 1: top.create(bottom.w, 4u, opt.blob_allocator); break;
      case 2: top.create(bottom.w, bottom.h, 4u, opt.blob_allocator); break;
      case 3: top.create(bottom.w, bottom.h, bottom.c, 4u, opt.blob_allocator); break;
      default: top.create(bottom.w, bottom.h, bottom.d, bottom.c, 4u, opt.blob_allocator); break;
    }
    if (top.empty()) return -100;
    widen_planes(bottom, st, top, top.cstep, opt.num_threads);
    return 0;
  }
};

}  // namespace

int register_widen_layer(ncnn::Net& net) { return register_layer<WidenLayer>(net, kWidenLayerType); }

}  // namespace pyhpe_rt
