// PyhpeSplit (see split_layer.h): every output shares the input's data (ncnn's Mat is
// reference-counted), in the input's layout.
#include "split_layer.h"

#include <vector>

#include "cpu.h"
#include "custom_layers.h"

namespace pyhpe_rt {

namespace {

class PlainSplitLayer : public CustomLayer {
 public:
  // Any element type passes through: fp16 and bf16 storage as ncnn's own Split declares them
  // (fp16 where the CPU has ARMv8.2 fp16 arithmetic, bf16 always).
  PlainSplitLayer() : CustomLayer(kSplitLayerType, /*one_blob=*/false) {
    support_fp16_storage = ncnn::cpu_support_arm_asimdhp() != 0;
    support_bf16_storage = true;
  }

  int load_param(const ncnn::ParamDict&) override {
    if (bottoms.size() != 1 || tops.empty()) {
      return fail("takes one input and at least one output, got " + std::to_string(bottoms.size()) + " and " +
                  std::to_string(tops.size()));
    }
    return 0;
  }

  int forward(const std::vector<ncnn::Mat>& bottoms_in, std::vector<ncnn::Mat>& tops_out,
              const ncnn::Option&) const override {
    for (ncnn::Mat& t : tops_out) t = bottoms_in[0];
    return 0;
  }
};

}  // namespace

int register_split_layer(ncnn::Net& net) { return register_layer<PlainSplitLayer>(net, kSplitLayerType); }

}  // namespace pyhpe_rt
