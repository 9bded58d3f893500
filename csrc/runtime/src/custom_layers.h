// pyhpe's ncnn custom layers as one set: PyhpeRepNeXtMixer (mixer_layer.h), PyhpeRepNeXtFFN
// (ffn_layer.h) and PyhpeSplit (split_layer.h). Every net the runtime and its tools load
// registers all three (models without them load as before), and the layers report their
// failures through one per-thread message, so callers check a single place.
#pragma once

#include <string>

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

}  // namespace pyhpe_rt
