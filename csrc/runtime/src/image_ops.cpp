// Image operations of the runtime's preprocessing (see image_ops.h).
#include "image_ops.h"

#include <math.h>
#include <string.h>

#include <algorithm>

#include "mat.h"

namespace pyhpe_rt {

std::vector<uint8_t> crop_rgb(const PixelSource& src, int x0, int y0, int x1, int y1) {
  const int cw = x1 - x0, ch = y1 - y0;
  std::vector<uint8_t> crop((size_t)cw * ch * 3, 0);
  const int xa = std::max(x0, 0), xb = std::min(x1, src.width);
  for (int y = std::max(y0, 0); y < std::min(y1, src.height); ++y) {
    uint8_t* dst = crop.data() + (size_t)(y - y0) * cw * 3;
    for (int x = xa; x < xb; ++x)
      for (int c = 0; c < 3; ++c) dst[(size_t)(x - x0) * 3 + c] = src.at(x, y, c);
  }
  return crop;
}

namespace {

// OpenCV's saturate_cast<uchar> of a float: round half to even, clamp to [0, 255].
uint8_t to_u8(double v) {
  v = nearbyint(v);
  return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

// For each output index, the source indices [first, first + count) and their overlap with the
// output pixel's footprint [i·scale, (i + 1)·scale) (INTER_AREA's weights along one axis).
struct AreaTaps {
  std::vector<int> first, count;
  std::vector<double> weight;  // count[i] weights per output, concatenated
  std::vector<size_t> offset;
};

AreaTaps area_taps(int src, int dst) {
  AreaTaps t;
  const double scale = (double)src / dst;
  for (int i = 0; i < dst; ++i) {
    const double a = i * scale, b = std::min((i + 1) * scale, (double)src);
    const int lo = (int)floor(a), hi = std::min((int)ceil(b), src);
    t.first.push_back(lo);
    t.count.push_back(hi - lo);
    t.offset.push_back(t.weight.size());
    for (int k = lo; k < hi; ++k) t.weight.push_back(std::min(b, k + 1.0) - std::max(a, (double)k));
  }
  return t;
}

// INTER_AREA for shrinking: each output pixel is the mean of the source area it covers.
void resize_area_rgb(const uint8_t* src, int sw, int sh, uint8_t* dst, int dw, int dh) {
  const AreaTaps tx = area_taps(sw, dw), ty = area_taps(sh, dh);
  const double inv_area = (double)dw * dh / ((double)sw * sh);
  for (int y = 0; y < dh; ++y) {
    for (int x = 0; x < dw; ++x) {
      double acc[3] = {0, 0, 0};
      for (int j = 0; j < ty.count[y]; ++j) {
        const double wy = ty.weight[ty.offset[y] + j];
        const uint8_t* row = src + (size_t)(ty.first[y] + j) * sw * 3;
        for (int i = 0; i < tx.count[x]; ++i) {
          const double w = wy * tx.weight[tx.offset[x] + i];
          const uint8_t* p = row + (size_t)(tx.first[x] + i) * 3;
          for (int c = 0; c < 3; ++c) acc[c] += w * p[c];
        }
      }
      for (int c = 0; c < 3; ++c) dst[((size_t)y * dw + x) * 3 + c] = to_u8(acc[c] * inv_area);
    }
  }
}

}  // namespace

void resize_rgb(const uint8_t* src, int sw, int sh, uint8_t* dst, int dw, int dh) {
  if (sw == dw && sh == dh) {
    memcpy(dst, src, (size_t)sw * sh * 3);
  } else if ((double)dw / sw * ((double)dh / sh) < 1) {  // pyhpe.data.geometric.resize: sx·sy < 1
    resize_area_rgb(src, sw, sh, dst, dw, dh);
  } else {
    ncnn::resize_bilinear_c3(src, sw, sh, dst, dw, dh);
  }
}

void warp_axis_bilinear_rgb(const PixelSource& src, double sx, double tx, double sy, double ty, int dw, int dh,
                            uint8_t* dst) {
  // OpenCV's warpAffine (imgwarp.cpp, WarpAffineInvoker + remapBilinear) for 8-bit images: the
  // inverse map (cv::invertAffineTransform) in 10-bit fixed point, source positions quantised to
  // 1/32 pixel, bilinear weights of 15 bits (initInterTab2D), taps outside the image black.
  constexpr int kAbBits = 10, kInterBits = 5, kTab = 1 << kInterBits, kCoefBits = 15;
  const double d = 1.0 / (sx * sy);  // invertAffineTransform of [[sx, 0, tx], [0, sy, ty]]
  const double a11 = sy * d, a22 = sx * d;
  const double b1 = -a11 * tx, b2 = -a22 * ty;
  const double scale = 1 << kAbBits;
  const int round_delta = (1 << kAbBits) / kTab / 2;
  auto cv_round = [](double v) { return (int)nearbyint(v); };  // saturate_cast<int>(double)
  std::vector<int> adelta(dw);
  for (int x = 0; x < dw; ++x) adelta[x] = cv_round(a11 * x * scale);
  for (int y = 0; y < dh; ++y) {
    const int X0 = cv_round(b1 * scale) + round_delta;  // M[1] = 0: the row does not move x
    const int Y0 = cv_round((a22 * y + b2) * scale) + round_delta;
    const int Y = Y0 >> (kAbBits - kInterBits);
    const int y0 = Y >> kInterBits, fy = Y & (kTab - 1);
    for (int x = 0; x < dw; ++x) {
      const int X = (X0 + adelta[x]) >> (kAbBits - kInterBits);
      const int x0 = X >> kInterBits, fx = X & (kTab - 1);
      // (1 - fy/32)(1 - fx/32)·2^15 etc.: exact integers that sum to 2^15
      const int w[4] = {(kTab - fy) * (kTab - fx) * 32, (kTab - fy) * fx * 32, fy * (kTab - fx) * 32, fy * fx * 32};
      uint8_t* out = dst + ((size_t)y * dw + x) * 3;
      if (x0 >= src.width || x0 + 1 < 0 || y0 >= src.height || y0 + 1 < 0) {
        out[0] = out[1] = out[2] = 0;
        continue;
      }
      for (int c = 0; c < 3; ++c) {
        int sum = 0;
        for (int k = 0; k < 4; ++k) {
          const int xx = x0 + (k & 1), yy = y0 + (k >> 1);
          if (xx >= 0 && yy >= 0 && xx < src.width && yy < src.height) sum += w[k] * src.at(xx, yy, c);
        }
        const int v = (sum + (1 << (kCoefBits - 1))) >> kCoefBits;
        out[c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
      }
    }
  }
}

void normalize_chw(const uint8_t* rgb, int width, int left, int top, int s, const float mean[3], const float std[3],
                   float* out) {
  for (int c = 0; c < 3; ++c) {
    float* plane = out + (size_t)c * s * s;
    const float m = mean[c], sd = std[c];
    for (int y = 0; y < s; ++y) {
      const uint8_t* row = rgb + ((size_t)(top + y) * width + left) * 3 + c;
      for (int x = 0; x < s; ++x) plane[y * s + x] = (row[x * 3] / 255.f - m) / sd;
    }
  }
}

}  // namespace pyhpe_rt
