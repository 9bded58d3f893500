// Image operations of the runtime's preprocessing, each the C++ counterpart of what the Python
// pipeline calls (so the C++ crop matches pyhpe's evaluation crop): the crop of a box with black
// outside the image (pyhpe.data.geometric.crop), OpenCV's resize as pyhpe.data.geometric.resize
// calls it (INTER_AREA when shrinking, INTER_LINEAR otherwise), OpenCV's bilinear warpAffine of an
// axis-aligned map with a black border (pyhpe.data.sixdof_crop.official_crop) and the
// normalisation to planar float32.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <vector>

namespace pyhpe_rt {

// The source image of pyhpe_infer / pyhpe_infer_6dof: interleaved 8-bit pixels, RGB or BGR order,
// 3 or 4 channels (the 4th ignored), rows `stride` bytes apart.
struct PixelSource {
  const uint8_t* pixels;
  int width, height, stride, channels;
  bool bgr;
  // Channel c (0 R, 1 G, 2 B) of pixel (x, y), which must lie inside the image.
  uint8_t at(int x, int y, int c) const {
    const uint8_t* p = pixels + (size_t)y * stride + (size_t)x * channels;
    return p[bgr ? 2 - c : c];
  }
};

// The pixels of columns x0..x1-1, rows y0..y1-1 as packed RGB (black outside the image).
std::vector<uint8_t> crop_rgb(const PixelSource& src, int x0, int y0, int x1, int y1);

// Packed RGB sw x sh -> dw x dh as cv2.resize with pyhpe.data.geometric.resize's choice: area
// averaging (INTER_AREA) when the area shrinks, bilinear (INTER_LINEAR, ncnn's OpenCV-compatible
// fixed-point kernel) otherwise, a copy at equal size.
void resize_rgb(const uint8_t* src, int sw, int sh, uint8_t* dst, int dw, int dh);

// cv2.warpAffine(image, [[sx, 0, tx], [0, sy, ty]], (dw, dh), INTER_LINEAR, BORDER_CONSTANT 0) of
// the source image into packed RGB dw x dh: each output pixel samples the source at the inverse
// map of its centre, bilinearly, taps outside the image black.
void warp_axis_bilinear_rgb(const PixelSource& src, double sx, double tx, double sy, double ty, int dw, int dh,
                            uint8_t* dst);

// The s x s window at (left, top) of packed RGB rows `width` pixels wide -> planar float32,
// (v / 255 - mean[c]) / std[c].
void normalize_chw(const uint8_t* rgb, int width, int left, int top, int s, const float mean[3], const float std[3],
                   float* out);

}  // namespace pyhpe_rt
