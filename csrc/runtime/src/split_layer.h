// PyhpeSplit: ncnn's Split (one blob handed to several consumers, no copy) for the fused pair.
//
// ncnn converts a layer's input to its packed layout (elempack 4/8/16) whenever the layer
// supports packing, as its own Split does; between pyhpe's fused layers, which take elempack 1,
// that would pack each block's input and unpack it again in front of the mixer and the FFN.
// This Split declares no packing support, so the blob passes through in the layout it has.
// pyhpe/export/ncnn_fuse.py writes it for every Split whose consumers are all fused layers.
//
// .param line:  PyhpeSplit <name> 1 <n> <in> <out1> ... <outn>   (no keys, no weights)
#pragma once

#include <string>

#include "net.h"

namespace pyhpe_rt {

constexpr const char* kSplitLayerType = "PyhpeSplit";

// Registers PyhpeSplit on net (before load_param). Returns ncnn's code (0 ok).
// Its errors go to custom_layer_error() (custom_layers.h), which registers all the layers.
int register_split_layer(ncnn::Net& net);

}  // namespace pyhpe_rt
