// pyhpe's ncnn custom layers as one set (see custom_layers.h).
#include "custom_layers.h"

#include "ffn_layer.h"
#include "mixer_layer.h"
#include "platform.h"
#include "split_layer.h"

namespace pyhpe_rt {

namespace {
thread_local std::string g_layer_error;
}  // namespace

int register_custom_layers(ncnn::Net& net) {
  for (int (*reg)(ncnn::Net&) : {register_mixer_layer, register_ffn_layer, register_split_layer})
    if (int ret = reg(net)) return ret;
  return 0;
}

int custom_layer_fail(const char* type, const std::string& name, const std::string& message) {
  g_layer_error = std::string(type) + " " + name + ": " + message;
  NCNN_LOGE("%s", g_layer_error.c_str());
  return -1;
}

const std::string& custom_layer_error() { return g_layer_error; }
std::string custom_layer_detail() { return g_layer_error.empty() ? std::string() : " (" + g_layer_error + ")"; }
void clear_custom_layer_error() { g_layer_error.clear(); }

}  // namespace pyhpe_rt
