// Single-plane depthwise convolution building blocks (one channel of one image at a time).
//
// Every RepNeXt mixer path is a "same"-padded depthwise convolution: kernel kh x kw, padding
// ((kh-1)/2, (kw-1)/2), stride 1 or 2. The three routines here are enough for its forward pass
// and both halves of its backward pass:
//   correlate        out[y][x] = bias + sum_{dy,dx} w[dy][dx] * src[(y*s+dy)][(x*s+dx)]
//                    over a source plane that already carries the padding;
//   correlate_grad_w gw[dy][dx] += sum_{y,x} g[y][x] * src[(y*s+dy)][(x*s+dx)];
//   pad_plane / dilate_pad_plane  build those padded sources (the latter for the input gradient of
//                    a strided convolution: the output gradient spread on a stride grid).
// Stride-1 loops run on SIMD packs (VecOps: AVX2/SSE2 GCC vectors, NEON intrinsics on aarch64),
// holding a pack of outputs in a register across all taps.
#pragma once

#include <stdint.h>
#include <string.h>

#include "pyhpe/simd.h"

namespace pyhpe {
namespace dw {

// Copies an H x W plane into the middle of a (H + 2ph) x (W + 2pw) zero-filled buffer.
template <class T>
inline void pad_plane(const T* in, int H, int W, int ph, int pw, T* dst) {
  const int Wp = W + 2 * pw;
  memset(dst, 0, sizeof(T) * static_cast<size_t>(H + 2 * ph) * Wp);
  for (int y = 0; y < H; ++y) memcpy(dst + (y + ph) * Wp + pw, in + y * W, sizeof(T) * W);
}

// Spreads an Ho x Wo gradient plane on a stride-s grid with `lead` zero rows/cols before it,
// into a zero-filled rows x cols buffer: dst[lead + y*s][lead_w + x*s] = g[y][x].
template <class T>
inline void dilate_pad_plane(const T* g, int Ho, int Wo, int s, int lead_h, int lead_w, int rows,
                             int cols, T* dst) {
  memset(dst, 0, sizeof(T) * static_cast<size_t>(rows) * cols);
  for (int y = 0; y < Ho; ++y)
    for (int x = 0; x < Wo; ++x) dst[(lead_h + y * s) * cols + lead_w + x * s] = g[y * Wo + x];
}

template <class T>
struct PackOf;
template <>
struct PackOf<float> {
  using type = F32Pack;
};
template <>
struct PackOf<double> {
  using type = F64Pack;
};

// out (Ho x Wo) = bias + correlation of src (row stride srcW) with w (kh x kw), output rows
// stepping sy source rows and columns sx source columns. With accumulate, adds to out instead.
// The SIMD path needs sx == 1 (stride 2 is reduced to it by splitting even and odd columns).
template <class T>
inline void correlate(const T* src, int srcW, const T* w, int kh, int kw, int sy, int sx, T bias,
                      T* out, int Ho, int Wo, bool accumulate = false) {
  using P = typename PackOf<T>::type;
  using O = VecOps<P>;
  constexpr int L = O::kLanes;
  for (int y = 0; y < Ho; ++y) {
    T* o = out + y * Wo;
    const T* rows = src + static_cast<int64_t>(y) * sy * srcW;
    int x = 0;
    if (sx == 1 && L > 1) {
      // Two packs of outputs per step: two independent FMA chains hide the FMA latency.
      for (; x + 2 * L <= Wo; x += 2 * L) {
        P acc0 = accumulate ? O::load(o + x) : O::splat(bias);
        P acc1 = accumulate ? O::load(o + x + L) : O::splat(bias);
        for (int dy = 0; dy < kh; ++dy) {
          const T* r = rows + dy * srcW + x;
          const T* wr = w + dy * kw;
          for (int dx = 0; dx < kw; ++dx) {
            const P wv = O::splat(wr[dx]);
            acc0 = acc0 + wv * O::load(r + dx);
            acc1 = acc1 + wv * O::load(r + dx + L);
          }
        }
        O::store(o + x, acc0);
        O::store(o + x + L, acc1);
      }
      // The last partial pack: recompute a full pack ending at the row's end (the overlap
      // rewrites the same values), unless accumulating, where it would add twice.
      for (int done = 0; done == 0 && x < Wo && Wo >= L;) {
        if (x + L > Wo) {
          if (accumulate) break;
          x = Wo - L;
        }
        P acc = accumulate ? O::load(o + x) : O::splat(bias);
        for (int dy = 0; dy < kh; ++dy) {
          const T* r = rows + dy * srcW + x;
          for (int dx = 0; dx < kw; ++dx) acc = acc + O::splat(w[dy * kw + dx]) * O::load(r + dx);
        }
        O::store(o + x, acc);
        x += L;
        done = x >= Wo;
      }
    }
    for (; x < Wo; ++x) {
      T acc = accumulate ? o[x] : bias;
      for (int dy = 0; dy < kh; ++dy) {
        const T* r = rows + dy * srcW + x * sx;
        for (int dx = 0; dx < kw; ++dx) acc += w[dy * kw + dx] * r[dx];
      }
      o[x] = acc;
    }
  }
}

// gw (kh x kw) += sum over the Ho x Wo plane of g[y][x] * src[y*sy + dy][x*sx + dx].
template <class T>
inline void correlate_grad_w(const T* g, int Ho, int Wo, const T* src, int srcW, int kh, int kw,
                             int sy, int sx, T* gw) {
  using P = typename PackOf<T>::type;
  using O = VecOps<P>;
  constexpr int L = O::kLanes;
  for (int dy = 0; dy < kh; ++dy) {
    for (int dx = 0; dx < kw; ++dx) {
      T total = 0;
      // four independent accumulators: a single one would wait on the FMA latency every step
      P acc = O::splat(0), acc1 = O::splat(0), acc2 = O::splat(0), acc3 = O::splat(0);
      for (int y = 0; y < Ho; ++y) {
        const T* gr = g + y * Wo;
        const T* r = src + static_cast<int64_t>(y * sy + dy) * srcW + dx;
        int x = 0;
        if (sx == 1 && L > 1) {
          for (; x + 4 * L <= Wo; x += 4 * L) {
            acc = acc + O::load(gr + x) * O::load(r + x);
            acc1 = acc1 + O::load(gr + x + L) * O::load(r + x + L);
            acc2 = acc2 + O::load(gr + x + 2 * L) * O::load(r + x + 2 * L);
            acc3 = acc3 + O::load(gr + x + 3 * L) * O::load(r + x + 3 * L);
          }
          for (; x + L <= Wo; x += L) acc = acc + O::load(gr + x) * O::load(r + x);
        }
        for (; x < Wo; ++x) total += gr[x] * r[x * sx];
      }
      acc = (acc + acc1) + (acc2 + acc3);
      alignas(64) T lanes[L];
      O::store(lanes, acc);
      for (int l = 0; l < L; ++l) total += lanes[l];
      gw[dy * kw + dx] += total;
    }
  }
}

// Splits the columns of a rows x cols plane: even[r][j] = src[r][2j], odd[r][j] = src[r][2j+1].
// A stride-2 correlation over src is then two stride-1 (in columns) correlations.
template <class T>
inline void split_columns(const T* src, int rows, int cols, T* even, T* odd) {
  const int ce = (cols + 1) / 2, co = cols / 2;
  for (int r = 0; r < rows; ++r) {
    const T* s = src + static_cast<int64_t>(r) * cols;
    T* e = even + static_cast<int64_t>(r) * ce;
    T* o = odd + static_cast<int64_t>(r) * co;
    for (int j = 0; j < co; ++j) {
      e[j] = s[2 * j];
      o[j] = s[2 * j + 1];
    }
    if (ce > co) e[co] = s[2 * co];
  }
}

// The even and odd columns of a kh x kw kernel, as (kh x ceil(kw/2)) and (kh x floor(kw/2)).
template <class T>
inline void split_kernel_columns(const T* w, int kh, int kw, T* we, T* wo) {
  const int ke = (kw + 1) / 2, ko = kw / 2;
  for (int i = 0; i < kh; ++i) {
    for (int j = 0; j < ke; ++j) we[i * ke + j] = w[i * kw + 2 * j];
    for (int j = 0; j < ko; ++j) wo[i * ko + j] = w[i * kw + 2 * j + 1];
  }
}

template <class T>
inline T plane_sum(const T* g, int64_t n) {
  T total = 0;
  for (int64_t i = 0; i < n; ++i) total += g[i];
  return total;
}

// The kernel rotated by 180 degrees (the input gradient correlates with it).
template <class T>
inline void flip_kernel(const T* w, int kh, int kw, T* out) {
  for (int i = 0; i < kh * kw; ++i) out[i] = w[kh * kw - 1 - i];
}

}  // namespace dw
}  // namespace pyhpe
