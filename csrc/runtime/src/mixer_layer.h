// PyhpeRepNeXtMixer: the fused RepNeXt token mixer as an ncnn custom layer.
//
// pyhpe/export/ncnn_fuse.py rewrites an exported model's mixer subgraphs into this layer
// (<stem>.fused.ncnn.param/.bin); pyhpe_model_load registers it on every net, so models with and
// without it load alike.
//
// .param line:  PyhpeRepNeXtMixer <name> 1 1 <in> <out> 0=<downsample> 1=<C> [2..9=kernels] 10=<affine>
//   0  downsample   0: block mixer (C -> C, groups identity | s | m | l1 then l2), 1: C -> 2C, stride 2
//   1  channels     input channels C (a multiple of 4 for the block mixer)
//   2,3  s kernel h, w   (default 3, 3)        4,5  m kernel h, w  (default 7, 7)
//   6,7  l1 kernel h, w  (default 1, 11)       8,9  l2 kernel h, w (default 11, 1)
//   10 affine       1: per-output-channel scale and shift follow the kernels (the folded BatchNorm)
//   every kernel side is odd and at most 11; padding is "same", (k - 1) / 2.
// .bin (raw float32, no tag): s.w s.b m.w m.b [l1.w l1.b l2.w l2.b] [scale shift];
//   kernels hold K channels: K = C / 4 (block) or C (downsample); scale/shift hold Cout values.
#pragma once

#include <string>

#include "layer.h"
#include "net.h"

namespace pyhpe_rt {

constexpr const char* kMixerLayerType = "PyhpeRepNeXtMixer";

// Registers PyhpeRepNeXtMixer on net (before load_param). Returns ncnn's code (0 ok).
// Its errors go to custom_layer_error() (custom_layers.h), which registers all the layers.
int register_mixer_layer(ncnn::Net& net);

}  // namespace pyhpe_rt
