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
  // cv2.invertAffineTransform of the diagonal map, in float as OpenCV's warp kernels take it
  const double d = 1.0 / (sx * sy);
  const float ax = (float)(sy * d), bx = (float)(-(sy * d) * tx), ay = (float)(sx * d), by = (float)(-(sx * d) * ty);
  for (int y = 0; y < dh; ++y) {
    const float fy = ay * (float)y + by;
    const int y0 = (int)floorf(fy);
    const float beta = fy - (float)y0;
    for (int x = 0; x < dw; ++x) {
      const float fx = ax * (float)x + bx;
      const int x0 = (int)floorf(fx);
      const float alpha = fx - (float)x0;
      for (int c = 0; c < 3; ++c) {
        float p[2][2];
        for (int j = 0; j < 2; ++j)
          for (int i = 0; i < 2; ++i) {
            const int xx = x0 + i, yy = y0 + j;
            const bool inside = xx >= 0 && yy >= 0 && xx < src.width && yy < src.height;
            p[j][i] = inside ? (float)src.at(xx, yy, c) : 0.f;
          }
        const float top = p[0][0] + alpha * (p[0][1] - p[0][0]);
        const float bottom = p[1][0] + alpha * (p[1][1] - p[1][0]);
        dst[((size_t)y * dw + x) * 3 + c] = to_u8(top + beta * (bottom - top));
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
