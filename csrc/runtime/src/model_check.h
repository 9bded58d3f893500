// A strict check of an ncnn model (.param text + .bin bytes) before ncnn sees it.
//
// ncnn parses what it is given and trusts the counts, names and sizes in it; a corrupted or
// truncated file could make it (or a layer's forward) read out of bounds. pyhpe_model_load and
// pyhpe_model_load_memory run this check first, so a bad file is an error code with a message
// ("m4.ncnn.param line 12: blob 'x' used before it is produced"), never a crash. The rules
// (docs/fuzzing.md; pyhpe._C compiles this file too, so pyhpe/runtime/ncnn_check.py runs the same
// check in front of the ncnn Python package):
//
//   text     printable ASCII, tabs and line ends only; at most kMaxParamBytes
//   line 1   the magic 7767517
//   line 2   "<layers> <blobs>", each in [1, kMaxCount]; the file then holds exactly that many
//            layer lines (blank lines aside), and the layers name exactly that many blobs
//   layer    "Type name nb nt bottoms... tops... key=value..." on one line; Type one of the layer
//            types pyhpe's exports use (KnownLayer in model_check.cpp) with its bottom/top counts;
//            names at most 255 characters; every bottom produced by an earlier layer and
//            consumed once (ncnn's Split fans out); every top a new blob
//   params   key=value with key in [0, 31] and an int32 or finite float32 value, or
//            -233xx=n,v1,...,vn with n the number of values, n <= kMaxArray; no key twice
//   shapes   followed from the Inputs (a declared shape, or the image the runtime feeds the
//            input blob) through convolutions, deconvolution, pooling (global, windowed,
//            adaptive), inner product, batch norm, element-wise layers, broadcasting BinaryOp,
//            Eltwise, Split/Slice/Concat along any axis, Padding, Flatten, Reshape, Crop, Interp,
//            Gemm, MemoryData, Noop and the custom layers; each layer's parameters must agree with
//            its input (channels, weight sizes, dims, element counts, windows inside the input,
//            spatial size >= 1). Not followed (their outputs unknown, later layers then checked
//            structurally only): Permute, MatMul, GridSample, Squeeze, ExpandDims, Reduction,
//            Tile, Convolution1D and 4-D blobs (TRGv2's head)
//   .bin     walked layer by layer as ncnn reads it: tagged arrays fp32 (tag 0) or fp16 only,
//            every array inside the file, and the file ends where the last layer's weights end
#pragma once

#include <stddef.h>

#include <string>

#include "pyhpe_runtime.h"

namespace pyhpe_rt {

constexpr size_t kMaxParamBytes = 16u << 20;
constexpr int kMaxCount = 100000;  // layers, blobs
constexpr int kMaxArray = 1024;    // elements of one -233xx array parameter

// Checks `param` (the .param text, named param_name in messages) and `bin` (bin_size bytes,
// named bin_name); an Input layer without a declared shape whose blob is image_blob takes
// 3 x image_size x image_size (what the runtime feeds it). PYHPE_OK, or PYHPE_ERR_MODEL with pyhpe_last_error() naming the file, the
// line and the problem.
pyhpe_status check_ncnn_model(const std::string& param, const std::string& param_name, const unsigned char* bin,
                              size_t bin_size, const std::string& bin_name, const std::string& image_blob = "",
                              int image_size = 0);

// For the fuzz harness's --no-check mode only (what would ncnn do without the check?): when
// false, check_ncnn_model passes everything. Default true.
void set_model_check_enabled(bool enabled);

}  // namespace pyhpe_rt
