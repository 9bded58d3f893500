// PyhpeWiden: any blob to fp32, so that the layers after it run in fp32 under 16-bit storage.
//
// Under bf16 (x86) or fp16 (ARMv8.2) storage every blob between ncnn layers keeps 8 or 11
// significant bits, the network's output too: a pose head whose 6D output is rounded to bf16
// moves the pose by ~0.06 degrees on average from that rounding alone (docs/deployment.md,
// "Precision"). ncnn keeps a layer in fp32 when its .param line carries featmask 31=2 (no fp16)
// / 31=4 (no bf16), but it then hands that layer a 16-bit input unconverted: a masked layer must
// receive fp32. This layer gives it that: it declares 16-bit storage, so ncnn passes the blob
// through as it is, and writes it widened to fp32 (in fp32 it hands the blob over, no copy).
// pyhpe/export/ncnn_precision.py writes it in front of the masked pose head of the fused pair.
//
// .param line:  PyhpeWiden <name> 1 1 <in> <out>   (no keys, no weights)
#pragma once

#include "net.h"

namespace pyhpe_rt {

constexpr const char* kWidenLayerType = "PyhpeWiden";

// Registers PyhpeWiden on net (before load_param). Returns ncnn's code (0 ok).
int register_widen_layer(ncnn::Net& net);

}  // namespace pyhpe_rt
