// PyhpeRepNeXtFFN: a RepNeXt block's channel MLP and residual add as one ncnn custom layer.
//
// pyhpe/export/ncnn_ffn.py rewrites each `Convolution 1x1 (C -> hidden, bias) -> GELU ->
// Convolution 1x1 (hidden -> C, bias) -> BinaryOp add(r, ·)` chain of an exported model into this
// layer (in <stem>.fused.ncnn.param/.bin, beside PyhpeRepNeXtMixer); pyhpe_model_load registers it
// on every net. Per pixel it computes y = r + W2 · GELU(W1 · h + b1) + b2 with the exact (erf)
// GELU, on elempack-1 blobs like the mixer layer, so a stage's mixer -> FFN chain needs no
// layout conversion; fp32, or the fp16/bf16 storage CustomLayer declares (custom_layers.h): fp16
// arithmetic on ARMv8.2 (ffn_forward_fp16.cpp), bf16 widened to fp32 around the fp32 kernel.
//
// .param line:  PyhpeRepNeXtFFN <name> 2 1 <h> <r> <out> 0=<C> 1=<hidden>
//          or:  PyhpeRepNeXtFFN <name> 1 1 <h> <out> 0=<C> 1=<hidden>   (r = h: after a downsample mixer)
//   0  channels  C, of h, r and the output
//   1  hidden    the MLP's hidden width (RepNeXt: 2C)
// .bin (raw float32, no tag): W1 (hidden x C, row-major: the first convolution's own layout),
//   b1 (hidden), W2 (C x hidden), b2 (C). The layer repacks them at load time into the kernel's
//   tile layout (ffn_kernel.h pack_weights).
#pragma once

#include <string>

#include "net.h"

namespace pyhpe_rt {

constexpr const char* kFfnLayerType = "PyhpeRepNeXtFFN";

// Registers PyhpeRepNeXtFFN on net (before load_param). Returns ncnn's code (0 ok).
// Its errors go to custom_layer_error() (custom_layers.h), which registers all the layers.
int register_ffn_layer(ncnn::Net& net);

}  // namespace pyhpe_rt
