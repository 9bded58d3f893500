// pyhpe's ncnn custom layers as one set: PyhpeRepNeXtMixer (mixer_layer.h), PyhpeRepNeXtFFN
// (ffn_layer.h) and PyhpeSplit (split_layer.h). Every net the runtime and its tools load
// registers all three (models without them load as before), and the layers report their
// failures through one per-thread message, so callers check a single place.
#pragma once

#include <string>

#include "layer.h"
#include "modelbin.h"
#include "net.h"

namespace pyhpe_rt {

// Registers the three layers on net (before load_param). Returns ncnn's code (0 ok).
int register_custom_layers(ncnn::Net& net);

// For the layers: records "<type> <name>: <message>" as this thread's error, logs it through
// ncnn, and returns -1 (ncnn's failure code) for the layer to return.
int custom_layer_fail(const char* type, const std::string& name, const std::string& message);

// The last custom-layer error on this thread ("" if none), the same as " (<error>)" to append
// to a caller's own message ("" if none), and clearing it.
const std::string& custom_layer_error();
std::string custom_layer_detail();
void clear_custom_layer_error();

// The base of the three layers: fp32 blobs with elempack 1 (ncnn converts around the layer),
// never in place; errors name the layer type.
class CustomLayer : public ncnn::Layer {
 protected:
  CustomLayer(const char* type, bool one_blob) : type_(type) {
    one_blob_only = one_blob;
    support_inplace = false;
    support_packing = false;
  }

  // custom_layer_fail for this layer.
  int fail(const std::string& message) const { return custom_layer_fail(type_, name, message); }

  // Reads n raw float32 values (`what`, for the message) from the .bin into dst; false, with the
  // error recorded, when the file ends first.
  bool load_floats(const ncnn::ModelBin& mb, ncnn::Mat& dst, int n, const char* what) const {
    dst = mb.load(n, 1);
    if (dst.empty() || dst.w != n) {
      fail(std::string("cannot read ") + what + " (" + std::to_string(n) +
           " floats) from the .bin: truncated, or not this .param's weights");
      return false;
    }
    return true;
  }

 private:
  const char* type_;
};

// Registers layer class L under `type` on net (ncnn creates and deletes it).
template <class L>
int register_layer(ncnn::Net& net, const char* type) {
  return net.register_custom_layer(
      type, [](void*) -> ncnn::Layer* { return new L; }, [](ncnn::Layer* layer, void*) { delete layer; });
}

}  // namespace pyhpe_rt
