// The runtime's model handle and the pieces of runtime.cpp its 6DoF path (sixdof.cpp) shares.
#pragma once

#include <stdint.h>

#include <string>

#include "image_ops.h"
#include "mat.h"
#include "net.h"
#include "pyhpe_runtime.h"

struct pyhpe_model {
  ncnn::Net net;
  pyhpe_options options;
  std::string param_path, bin_path;  // the files (pyhpe_model_load), or "<name>.param/.bin" for messages
  // pyhpe_model_load_memory: the model's own copies of the .param text and .bin bytes (a reload
  // for another thread count or precision reads them again).
  bool from_memory = false;
  std::string param_text, bin_data;
};

namespace pyhpe_rt {

// The 6D or matrix output -> sixd, R (Gram-Schmidt, the native kernels) and Euler degrees.
void finish_pose(const float* raw, int output_kind, pyhpe_pose* out);
// The C API's image arguments, checked (PYHPE_ERR_ARGUMENT with a message when bad).
pyhpe_status pixel_source(const uint8_t* pixels, int width, int height, int stride, int pixel_format,
                          PixelSource* out);
// A 3 x s x s ncnn input holding `chw` (planar float32; NULL: uninitialised); empty when out of memory.
ncnn::Mat input_mat(int s, const float* chw);

}  // namespace pyhpe_rt
