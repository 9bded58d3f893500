// The ncnn net the single-model tools (pyhpe-run, pyhpe-profile) load: fp32 end to end on the
// CPU (or bf16 storage where asked: pyhpe-profile --bf16), pyhpe's custom layers registered, one
// input and one output; any failure ends the tool.
#pragma once

#include <string>

#include "args.h"
#include "custom_layers.h"
#include "net.h"

namespace pyhpe_tools {

inline void load_fp32_net(const char* prog, ncnn::Net& net, const std::string& param, const std::string& bin,
                          int threads, bool lightmode, bool bf16_storage = false) {
  net.opt.lightmode = lightmode;
  net.opt.num_threads = threads;
  net.opt.use_vulkan_compute = false;
  net.opt.use_fp16_packed = net.opt.use_fp16_storage = net.opt.use_fp16_arithmetic = false;
  net.opt.use_bf16_storage = net.opt.use_bf16_packed = bf16_storage;
  pyhpe_rt::register_custom_layers(net);
  if (net.load_param(param.c_str()) != 0)
    die(prog, param + ": ncnn cannot load it" + pyhpe_rt::custom_layer_detail(), 13);
  if (net.load_model(bin.c_str()) != 0)
    die(prog, bin + ": ncnn cannot load the weights" + pyhpe_rt::custom_layer_detail(), 13);
  if (net.input_names().size() != 1 || net.output_names().size() != 1)
    die(prog, "expects one input and one output", 13);
}

}  // namespace pyhpe_tools
