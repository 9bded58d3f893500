// PyhpeRepNeXtStem: a RepNeXt stem, Convolution 3x3 stride 2 -> GELU -> Convolution 3x3 stride 2,
// as one ncnn custom layer.
//
// pyhpe/export/ncnn_stem.py rewrites the stem of an exported model into this layer (in
// <stem>.fused.ncnn.param/.bin); pyhpe_model_load registers it on every net. It computes
// y = conv2(GELU(conv1(x))) with the exact (erf) GELU, both convolutions 3x3, stride 2, padding 1,
// with bias (csrc/include/pyhpe/stem_kernel.h), and writes an elempack-1 blob, which the first
// PyhpeRepNeXtMixer reads as it is. The arithmetic is fp32: the fused pair masks the layer for
// 16-bit storage (31=6, pyhpe/export/ncnn_precision.py), so it reads the image in fp32 and ncnn
// casts its output for the layers after it; a 16-bit input (an unmasked copy) is widened around
// the kernel like CustomLayer's other layers do.
//
// .param line:  PyhpeRepNeXtStem <name> 1 1 <in> <out> 0=<Cin> 1=<C1> 2=<C2>
//   0  Cin  channels of the input (3: the image)
//   1  C1   channels after the first convolution
//   2  C2   channels of the output
// .bin (raw float32, no tag): W1 (C1 x Cin x 3 x 3, the first convolution's own layout), b1 (C1),
//   W2 (C2 x C1 x 3 x 3), b2 (C2). Repacked at load time into the kernel's tile layout.
#pragma once

#include "net.h"

namespace pyhpe_rt {

constexpr const char* kStemLayerType = "PyhpeRepNeXtStem";

// Registers PyhpeRepNeXtStem on net (before load_param). Returns ncnn's code (0 ok).
int register_stem_layer(ncnn::Net& net);

}  // namespace pyhpe_rt
