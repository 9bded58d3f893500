// PyhpeSplit (see split_layer.h): every output shares the input's data (ncnn's Mat is
// reference-counted), in the input's layout.
#include "split_layer.h"

#include <vector>

#include "custom_layers.h"
#include "layer.h"

namespace pyhpe_rt {

namespace {

class PlainSplitLayer : public ncnn::Layer {
 public:
  PlainSplitLayer() {
    one_blob_only = false;
    support_inplace = false;
    support_packing = false;
  }

  int load_param(const ncnn::ParamDict&) override {
    if (bottoms.size() != 1 || tops.empty()) {
      return custom_layer_fail(kSplitLayerType, name, "takes one input and at least one output, got " +
                               std::to_string(bottoms.size()) + " and " + std::to_string(tops.size()));
    }
    return 0;
  }

  int forward(const std::vector<ncnn::Mat>& bottoms_in, std::vector<ncnn::Mat>& tops_out,
              const ncnn::Option&) const override {
    for (ncnn::Mat& t : tops_out) t = bottoms_in[0];
    return 0;
  }
};

ncnn::Layer* create_split_layer(void*) { return new PlainSplitLayer; }
void destroy_split_layer(ncnn::Layer* layer, void*) { delete layer; }

}  // namespace

int register_split_layer(ncnn::Net& net) {
  return net.register_custom_layer(kSplitLayerType, create_split_layer, destroy_split_layer);
}

}  // namespace pyhpe_rt
