// Lane-packed depthwise convolution: the building blocks of the fused RepNeXt mixer.
//
// A depthwise convolution is the same small stencil run over many independent planes (every
// image x channel). Here L planes that share a kernel shape (L = SIMD lanes) are interleaved
// pixel by pixel, so one pack holds one pixel of L planes and every tap is one multiply-add of
// a pack of weights (one weight per plane) with a pack of inputs. This vectorises equally well
// for a 56x56 plane and a 7x7 one, at stride 1 or 2, and for any mix of images and channels:
// with N = 1 (inference) the lanes are L channels, in training they run over images too.
//
//   gather / scatter   L NCHW planes <-> one interleaved buffer (SIMD transposes), the gather
//                      into the interior of a zero-bordered buffer (the convolution padding);
//   conv               out (+)= bias + sum_t w[t] * in[pixel + off[t]], eight output pixels per
//                      step held in registers, any tap offsets (so the same routine runs the
//                      forward pass, the flipped-kernel input gradient and the polyphase input
//                      gradient of a stride-2 convolution);
//   grad_w             acc[t] += sum over pixels g * in[pixel + off[t]], a block of taps per
//                      pass sharing each gradient load.
// Buffers are std::vector<P> (C++17 aligned allocation), addressed in packs.
#pragma once

#include <stdint.h>
#include <string.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "pyhpe/simd.h"

namespace pyhpe {
namespace packed {
inline namespace PYHPE_ISA_NAMESPACE {

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

template <class T>
using Pack = typename PackOf<T>::type;
template <class T>
constexpr int kLanes = VecOps<Pack<T>>::kLanes;

// ---------------------------------------------------------------------------------------------
// In-register transposes of an L x L block held as L packs: v[i] lane j <-> v[j] lane i.

template <class P>
inline void transpose(P* v) {  // generic: through memory (double packs, scalar "packs")
  using O = VecOps<P>;
  using T = typename O::T;
  constexpr int L = O::kLanes;
  T m[L][L];
  for (int i = 0; i < L; ++i) O::store(m[i], v[i]);
  for (int i = 0; i < L; ++i) {
    T col[L];
    for (int j = 0; j < L; ++j) col[j] = m[j][i];
    v[i] = O::load(col);
  }
}

#if !defined(__ARM_NEON) && !defined(__CUDACC__) && PYHPE_SIMD_PACK_BYTES == 64
// 16 x 16 floats (the AVX-512 build, and the test-only 64-byte packs of PYHPE_PACK_BYTES): four
// rounds of "zip" (new[2i] = the low halves of v[i] and v[i + 8] interleaved, new[2i + 1] the
// high halves) transpose any 2^k x 2^k block. Written with GCC/Clang generic shuffles, so the
// same code is lowered to AVX-512 permutes in the AVX-512 build and to AVX2 in the test build.
namespace zip_detail {
constexpr int index(int j, int lanes, bool high) {
  return (j % 2 ? lanes : 0) + (high ? lanes / 2 : 0) + j / 2;
}
template <bool High, int... J>
inline f32pack zip(f32pack a, f32pack b, std::integer_sequence<int, J...>) {
  return __builtin_shufflevector(a, b, index(J, sizeof...(J), High)...);
}
}  // namespace zip_detail

template <>
inline void transpose<f32pack>(f32pack* v) {
  constexpr int L = VecOps<f32pack>::kLanes;
  using Seq = std::make_integer_sequence<int, L>;
#pragma GCC unroll 4
  for (int round = 0; round < 4; ++round) {
    f32pack w[L];
#pragma GCC unroll 8
    for (int i = 0; i < L / 2; ++i) {
      w[2 * i] = zip_detail::zip<false>(v[i], v[i + L / 2], Seq{});
      w[2 * i + 1] = zip_detail::zip<true>(v[i], v[i + L / 2], Seq{});
    }
    for (int i = 0; i < L; ++i) v[i] = w[i];
  }
}
#elif !defined(__ARM_NEON) && !defined(__CUDACC__) && PYHPE_SIMD_PACK_BYTES == 32 && \
    defined(__AVX__)
template <>
inline void transpose<f32pack>(f32pack* v) {
  const __m256 t0 = _mm256_unpacklo_ps(v[0], v[1]), t1 = _mm256_unpackhi_ps(v[0], v[1]);
  const __m256 t2 = _mm256_unpacklo_ps(v[2], v[3]), t3 = _mm256_unpackhi_ps(v[2], v[3]);
  const __m256 t4 = _mm256_unpacklo_ps(v[4], v[5]), t5 = _mm256_unpackhi_ps(v[4], v[5]);
  const __m256 t6 = _mm256_unpacklo_ps(v[6], v[7]), t7 = _mm256_unpackhi_ps(v[6], v[7]);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  v[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
  v[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
  v[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
  v[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
  v[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
  v[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
  v[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
  v[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}
#elif !defined(__ARM_NEON) && !defined(__CUDACC__) && PYHPE_SIMD_PACK_BYTES == 16 && \
    defined(__SSE2__)
template <>
inline void transpose<f32pack>(f32pack* v) {
  const __m128 t0 = _mm_unpacklo_ps(v[0], v[1]), t1 = _mm_unpacklo_ps(v[2], v[3]);
  const __m128 t2 = _mm_unpackhi_ps(v[0], v[1]), t3 = _mm_unpackhi_ps(v[2], v[3]);
  v[0] = _mm_movelh_ps(t0, t1);
  v[1] = _mm_movehl_ps(t1, t0);
  v[2] = _mm_movelh_ps(t2, t3);
  v[3] = _mm_movehl_ps(t3, t2);
}
#elif defined(__ARM_NEON) && !defined(__CUDACC__)
template <>
inline void transpose<float32x4_t>(float32x4_t* v) {
  const float32x4x2_t a = vtrnq_f32(v[0], v[1]), b = vtrnq_f32(v[2], v[3]);
  v[0] = vcombine_f32(vget_low_f32(a.val[0]), vget_low_f32(b.val[0]));
  v[1] = vcombine_f32(vget_low_f32(a.val[1]), vget_low_f32(b.val[1]));
  v[2] = vcombine_f32(vget_high_f32(a.val[0]), vget_high_f32(b.val[0]));
  v[3] = vcombine_f32(vget_high_f32(a.val[1]), vget_high_f32(b.val[1]));
}
#endif

// ---------------------------------------------------------------------------------------------
// Layout changes.

// Zeroes the border of a rows x cols pack buffer around its interior
// [top, rows - bottom) x [left, cols - right).
template <class P>
inline void zero_border(P* buf, int rows, int cols, int top, int bottom, int left, int right) {
  const P zero = VecOps<P>::splat(0);
  std::fill(buf, buf + static_cast<int64_t>(top) * cols, zero);
  std::fill(buf + static_cast<int64_t>(rows - bottom) * cols, buf + static_cast<int64_t>(rows) * cols,
            zero);
  if (left == 0 && right == 0) return;
  for (int r = top; r < rows - bottom; ++r) {
    P* row = buf + static_cast<int64_t>(r) * cols;
    std::fill(row, row + left, zero);
    std::fill(row + cols - right, row + cols, zero);
  }
}

// Transposes n consecutive elements of L source runs into n packs: dst[i] lane l = src[l][i].
template <class T>
inline void interleave(const T* const* src, int64_t n, Pack<T>* dst) {
  using P = Pack<T>;
  using O = VecOps<P>;
  constexpr int L = O::kLanes;
  int64_t i = 0;
  for (; i + L <= n; i += L) {
    P v[L];
    for (int l = 0; l < L; ++l) v[l] = O::load(src[l] + i);
    transpose(v);
    for (int j = 0; j < L; ++j) dst[i + j] = v[j];
  }
  for (; i < n; ++i) {
    alignas(64) T lanes[L];
    for (int l = 0; l < L; ++l) lanes[l] = src[l][i];
    dst[i] = O::load(lanes);
  }
}

// The inverse: dst[l][i] = src[i] lane l, for the lanes whose dst[l] is not null.
template <class T>
inline void deinterleave(const Pack<T>* src, int64_t n, T* const* dst) {
  using P = Pack<T>;
  using O = VecOps<P>;
  constexpr int L = O::kLanes;
  int64_t i = 0;
  for (; i + L <= n; i += L) {
    P v[L];
    for (int j = 0; j < L; ++j) v[j] = src[i + j];
    transpose(v);
    for (int l = 0; l < L; ++l)
      if (dst[l]) O::store(dst[l] + i, v[l]);
  }
  for (; i < n; ++i) {
    alignas(64) T lanes[L];
    O::store(lanes, src[i]);
    for (int l = 0; l < L; ++l)
      if (dst[l]) dst[l][i] = lanes[l];
  }
}

// dst[y * cols + x] lane l = src[l][y * W + x] for the H x W interior (dst already points at
// the interior's first pixel). Every src[l] must be readable (a zero plane for unused lanes).
// Rows whose width is not a multiple of L go through `tmp` (H * W packs): interleaved as one
// flat run, then copied row by row, so small planes transpose in full blocks too.
template <class T>
inline void gather(const T* const* src, int H, int W, Pack<T>* dst, int cols, Pack<T>* tmp) {
  using P = Pack<T>;
  constexpr int L = VecOps<P>::kLanes;
  if (W % L == 0 || W == cols) {
    if (W == cols) return interleave(src, static_cast<int64_t>(H) * W, dst);
    const T* rows[L];
    for (int y = 0; y < H; ++y) {
      for (int l = 0; l < L; ++l) rows[l] = src[l] + static_cast<int64_t>(y) * W;
      interleave(rows, W, dst + static_cast<int64_t>(y) * cols);
    }
    return;
  }
  interleave(src, static_cast<int64_t>(H) * W, tmp);
  for (int y = 0; y < H; ++y)
    std::copy(tmp + static_cast<int64_t>(y) * W, tmp + static_cast<int64_t>(y + 1) * W,
              dst + static_cast<int64_t>(y) * cols);
}

// dst[l][y * W + x] = src[y * W + x] lane l for an unpadded H x W pack buffer.
template <class T>
inline void scatter(const Pack<T>* src, int H, int W, T* const* dst) {
  deinterleave(src, static_cast<int64_t>(H) * W, dst);
}

// dst[y * cols + x] lane l = src[l][(y * W + x) * stride]: planes stored with a pixel stride
// (channels_last tensors, stride = the channel count); null lanes read zero. `consecutive`:
// src[l] = src[0] + l for every lane, so each pixel is one pack load.
template <class T>
inline void gather_strided(const T* const* src, int64_t stride, int H, int W, Pack<T>* dst,
                           int cols, bool consecutive) {
  using O = VecOps<Pack<T>>;
  constexpr int L = O::kLanes;
  for (int y = 0; y < H; ++y) {
    Pack<T>* d = dst + static_cast<int64_t>(y) * cols;
    for (int x = 0; x < W; ++x) {
      const int64_t i = (static_cast<int64_t>(y) * W + x) * stride;
      if (consecutive) {
        d[x] = O::load(src[0] + i);
        continue;
      }
      alignas(64) T lanes[L];
      for (int l = 0; l < L; ++l) lanes[l] = src[l] ? src[l][i] : T(0);
      d[x] = O::load(lanes);
    }
  }
}

// The inverse for an unpadded H x W pack buffer: dst[l][(y * W + x) * stride] = src lane l,
// for the lanes whose dst[l] is not null.
template <class T>
inline void scatter_strided(const Pack<T>* src, int H, int W, T* const* dst, int64_t stride,
                            bool consecutive) {
  using O = VecOps<Pack<T>>;
  constexpr int L = O::kLanes;
  const int64_t n = static_cast<int64_t>(H) * W;
  for (int64_t i = 0; i < n; ++i) {
    if (consecutive) {
      O::store(dst[0] + i * stride, src[i]);
      continue;
    }
    alignas(64) T lanes[L];
    O::store(lanes, src[i]);
    for (int l = 0; l < L; ++l)
      if (dst[l]) dst[l][i * stride] = lanes[l];
  }
}

// ---------------------------------------------------------------------------------------------
// Convolution and its kernel gradient on packed buffers.

// Where the pixels of a Ho x Wo grid live in a pack buffer: pixel (y, x) at base[y*rs + x*cs].
template <class P>
struct Grid {
  P* base;
  int64_t rs;
  int cs;
};

// out(y, x) (+)= bias + sum_t w[t] * in(y, x)[off[t]] for the Ho x Wo grid. bias may be null
// (zero). Eight output pixels per step (the grid walked in row-major order), each tap's weight
// pack loaded once for all eight.
template <class P>
inline void conv(Grid<const P> in, const int64_t* off, const P* w, int taps, const P* bias,
                 Grid<P> out, int Ho, int Wo, bool accumulate) {
  using O = VecOps<P>;
  constexpr int J = 8;
  const int64_t total = static_cast<int64_t>(Ho) * Wo;
  const P zero = O::splat(0);
  for (int64_t p = 0; p < total; p += J) {
    const P* src[J];
    P* dst[J];
    const int n = static_cast<int>(std::min<int64_t>(J, total - p));
    int64_t yy = p / Wo;
    int xx = static_cast<int>(p % Wo);
    for (int j = 0; j < J; ++j) {  // pixels past the end repeat the last one (not stored)
      src[j] = in.base + yy * in.rs + static_cast<int64_t>(xx) * in.cs;
      dst[j] = out.base + yy * out.rs + static_cast<int64_t>(xx) * out.cs;
      if (j + 1 < n && ++xx == Wo) {
        xx = 0;
        ++yy;
      }
    }
    P acc[J];
    for (int j = 0; j < J; ++j) acc[j] = accumulate ? *dst[j] : (bias ? *bias : zero);
    for (int t = 0; t < taps; ++t) {
      const P wt = w[t];
      const int64_t o = off[t];
      for (int j = 0; j < J; ++j) acc[j] = acc[j] + wt * src[j][o];
    }
    for (int j = 0; j < n; ++j) *dst[j] = acc[j];
  }
}

// acc[r*K + k] += sum over the Ho x Wo grid of g(y, x) * in(y, x)[off0 + r*rstep + k]:
// the gradient of an R x K block of taps, one load of g shared by all R*K of them.
template <class P, int R, int K>
inline void grad_w_block(Grid<const P> g, Grid<const P> in, int64_t off0, int64_t rstep, int Ho,
                         int Wo, P* acc_out) {
  using O = VecOps<P>;
  P acc[R * K];
  for (int i = 0; i < R * K; ++i) acc[i] = O::splat(0);
  for (int y = 0; y < Ho; ++y) {
    const P* gr = g.base + y * g.rs;
    const P* ir = in.base + y * in.rs + off0;
    for (int x = 0; x < Wo; ++x) {
      const P gv = gr[static_cast<int64_t>(x) * g.cs];
      const P* s = ir + static_cast<int64_t>(x) * in.cs;
      for (int r = 0; r < R; ++r)
        for (int k = 0; k < K; ++k) acc[r * K + k] = acc[r * K + k] + gv * s[r * rstep + k];
    }
  }
  for (int i = 0; i < R * K; ++i) acc_out[i] = acc_out[i] + acc[i];
}

// acc[dy*kw + dx] += sum over the grid of g(y, x) * in(y, x)[dy*rstep + dx] for a kh x kw kernel:
// the whole kernel in one pass when it is small, else one pass per kernel row.
template <class P>
inline void grad_w(Grid<const P> g, Grid<const P> in, int64_t rstep, int kh, int kw, int Ho,
                   int Wo, P* acc) {
#define PYHPE_GRAD_W_WHOLE(R, K) \
  if (kh == R && kw == K) return grad_w_block<P, R, K>(g, in, 0, rstep, Ho, Wo, acc);
  PYHPE_GRAD_W_WHOLE(3, 3)
  PYHPE_GRAD_W_WHOLE(1, 3)
  PYHPE_GRAD_W_WHOLE(3, 1)
  PYHPE_GRAD_W_WHOLE(1, 5)
  PYHPE_GRAD_W_WHOLE(5, 1)
  PYHPE_GRAD_W_WHOLE(1, 7)
  PYHPE_GRAD_W_WHOLE(7, 1)
  PYHPE_GRAD_W_WHOLE(1, 11)
  PYHPE_GRAD_W_WHOLE(11, 1)
  PYHPE_GRAD_W_WHOLE(1, 1)
#undef PYHPE_GRAD_W_WHOLE
  for (int dy = 0; dy < kh; ++dy) {
    P* a = acc + dy * kw;
    const int64_t o = dy * rstep;
    switch (kw) {
      case 5: grad_w_block<P, 1, 5>(g, in, o, rstep, Ho, Wo, a); break;
      case 7: grad_w_block<P, 1, 7>(g, in, o, rstep, Ho, Wo, a); break;
      case 9: grad_w_block<P, 1, 9>(g, in, o, rstep, Ho, Wo, a); break;
      case 11: grad_w_block<P, 1, 11>(g, in, o, rstep, Ho, Wo, a); break;
      default:
        for (int dx = 0; dx < kw; ++dx)
          grad_w_block<P, 1, 1>(g, in, o + dx, rstep, Ho, Wo, a + dx);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Sliding-window kernels for convolutions whose kernel rows (or, for a k x 1 kernel, its
// column) are "lines" of K taps: J consecutive output pixels along the line (stride S) share
// their inputs, so each input pack is loaded once and feeds up to K multiply-adds with the
// line's weights held in registers (about 0.4 loads per multiply-add instead of 1.1).
// Output j of a block reads the line's inputs S*j .. S*j + K - 1.

template <class P, int J, int K, int S>
inline void slide_conv(const P* in, int64_t kstep, const P* w, P* acc) {
  P wr[K];
#pragma GCC unroll 16
  for (int k = 0; k < K; ++k) wr[k] = w[k];
#pragma GCC unroll 32
  for (int i = 0; i < S * (J - 1) + K; ++i) {
    const P v = in[i * kstep];
#pragma GCC unroll 16
    for (int k = 0; k < K; ++k) {
      const int d = i - k;
      if (d >= 0 && d % S == 0 && d / S < J) acc[d / S] = acc[d / S] + wr[k] * v;
    }
  }
}

template <class P, int J, int K, int S>
inline void slide_grad(const P* g, int64_t gstep, const P* in, int64_t kstep, P* acc) {
  P gr[J];
#pragma GCC unroll 16
  for (int j = 0; j < J; ++j) gr[j] = g[j * gstep];
#pragma GCC unroll 32
  for (int i = 0; i < S * (J - 1) + K; ++i) {
    const P v = in[i * kstep];
#pragma GCC unroll 16
    for (int k = 0; k < K; ++k) {
      const int d = i - k;
      if (d >= 0 && d % S == 0 && d / S < J) acc[k] = acc[k] + gr[d / S] * v;
    }
  }
}

// How many outputs a sliding block holds: 8 (J accumulators + K <= 7 weights + 1 input fit in
// 16 AVX registers; with K = 11 some weights stay in memory operands, still faster than J = 4).
// A run length that 7 divides but 8 does not uses J = 7 instead of leaving a tail (7x7, 14x14).
inline int slide_width(int run) { return run % 8 != 0 && run % 7 == 0 ? 7 : 8; }

// A convolution as lines: line r of the output pixel (y, x) has its K taps at
// in(y, x)[r * rstep + k * kstep], weights w[r * K + k]. Lines run along x (kernel rows) or,
// with along_x false, along y (the column of a k x 1 kernel); the grid's step in that direction
// must be S * kstep. out (+)= bias + the sum.
struct Lines {
  int64_t rstep, kstep;
  int count;
  bool along_x;
};

template <class P, int K, int J, int S>
inline void conv_lines(Grid<const P> in, Lines ln, const P* w, const P* bias, Grid<P> out,
                       int Ho, int Wo, bool accumulate, int64_t* off) {
  using O = VecOps<P>;
  const int64_t ostep = ln.along_x ? out.cs : out.rs;
  const int outer = ln.along_x ? Ho : Wo, inner = ln.along_x ? Wo : Ho;
  const int full = inner / J * J;
  for (int a = 0; a < outer; ++a) {
    for (int b = 0; b < full; b += J) {
      const int y = ln.along_x ? a : b, x = ln.along_x ? b : a;
      const P* src = in.base + y * in.rs + static_cast<int64_t>(x) * in.cs;
      P* dst = out.base + y * out.rs + static_cast<int64_t>(x) * out.cs;
      P acc[J];
      for (int j = 0; j < J; ++j) acc[j] = accumulate ? dst[j * ostep] : bias ? *bias : O::splat(0);
      for (int r = 0; r < ln.count; ++r)
        slide_conv<P, J, K, S>(src + r * ln.rstep, ln.kstep, w + r * K, acc);
      for (int j = 0; j < J; ++j) dst[j * ostep] = acc[j];
    }
  }
  if (full == inner) return;
  for (int r = 0; r < ln.count; ++r)
    for (int k = 0; k < K; ++k) off[r * K + k] = r * ln.rstep + k * ln.kstep;
  const int rest = inner - full;
  if (ln.along_x) {
    conv(Grid<const P>{in.base + static_cast<int64_t>(full) * in.cs, in.rs, in.cs}, off, w,
         ln.count * K, bias, Grid<P>{out.base + static_cast<int64_t>(full) * out.cs, out.rs, out.cs},
         Ho, rest, accumulate);
  } else {
    conv(Grid<const P>{in.base + full * in.rs, in.rs, in.cs}, off, w, ln.count * K, bias,
         Grid<P>{out.base + full * out.rs, out.rs, out.cs}, rest, Wo, accumulate);
  }
}

// acc[r * K + k] += sum over the grid of g(y, x) * in(y, x)[r * rstep + k * kstep] (the kernel
// gradient of conv_lines' convolution), sliding the same way.
template <class P, int K, int J, int S>
inline void grad_w_lines(Grid<const P> g, Grid<const P> in, Lines ln, int Ho, int Wo,
                         P* acc_out) {
  using O = VecOps<P>;
  using T = typename O::T;
  const int64_t gstep = ln.along_x ? g.cs : g.rs;
  const int outer = ln.along_x ? Ho : Wo, inner = ln.along_x ? Wo : Ho;
  const int full = inner / J * J;
  for (int r = 0; r < ln.count; ++r) {
    P acc[K];
    for (int k = 0; k < K; ++k) acc[k] = O::splat(T(0));
    for (int a = 0; a < outer; ++a) {
      for (int b = 0; b < inner; b += J) {
        const int y = ln.along_x ? a : b, x = ln.along_x ? b : a;
        const P* gp = g.base + y * g.rs + static_cast<int64_t>(x) * g.cs;
        const P* src = in.base + y * in.rs + static_cast<int64_t>(x) * in.cs + r * ln.rstep;
        if (b < full) {
          slide_grad<P, J, K, S>(gp, gstep, src, ln.kstep, acc);
          continue;
        }
        for (int j = 0; j < inner - b; ++j) {  // the tail, one pixel at a time
          const P gv = gp[j * gstep];
          for (int k = 0; k < K; ++k) acc[k] = acc[k] + gv * src[(S * j + k) * ln.kstep];
        }
      }
    }
    for (int k = 0; k < K; ++k) acc_out[r * K + k] = acc_out[r * K + k] + acc[k];
  }
}

// conv_lines / grad_w_lines for a kh x kw kernel at stride s over a buffer with rows of `cols`
// packs: kernel rows as lines, or the column of a k x 1 kernel. False when no instantiation
// fits (then use conv / grad_w).
template <class P>
inline bool conv_sliding(Grid<const P> in, int64_t cols, int kh, int kw, int s, const P* w,
                         const P* bias, Grid<P> out, int Ho, int Wo, bool accumulate,
                         int64_t* off) {
  const bool rows = kw > 1 || kh == 1;
  const Lines ln{cols, rows ? 1 : cols, rows ? kh : 1, rows};
  const int K = rows ? kw : kh, J = slide_width(rows ? Wo : Ho);
#define PYHPE_CONV(KK, JJ, SS)                                                       \
  if (K == KK && J == JJ && s == SS)                                                 \
    return conv_lines<P, KK, JJ, SS>(in, ln, w, bias, out, Ho, Wo, accumulate, off), \
           true;
#define PYHPE_CONV_K(KK) PYHPE_CONV(KK, 8, 1) PYHPE_CONV(KK, 7, 1) PYHPE_CONV(KK, 8, 2) \
  PYHPE_CONV(KK, 7, 2)
  PYHPE_CONV_K(1) PYHPE_CONV_K(2) PYHPE_CONV_K(3) PYHPE_CONV_K(4) PYHPE_CONV_K(5)
  PYHPE_CONV_K(7) PYHPE_CONV_K(11)
#undef PYHPE_CONV_K
#undef PYHPE_CONV
  return false;
}

template <class P>
inline bool grad_w_sliding(Grid<const P> g, Grid<const P> in, int64_t cols, int kh, int kw,
                           int s, int Ho, int Wo, P* acc) {
  const bool rows = kw > 1 || kh == 1;
  const Lines ln{cols, rows ? 1 : cols, rows ? kh : 1, rows};
  const int K = rows ? kw : kh, J = slide_width(rows ? Wo : Ho);
#define PYHPE_GRAD(KK, JJ, SS) \
  if (K == KK && J == JJ && s == SS) return grad_w_lines<P, KK, JJ, SS>(g, in, ln, Ho, Wo, acc), true;
#define PYHPE_GRAD_K(KK) PYHPE_GRAD(KK, 8, 1) PYHPE_GRAD(KK, 7, 1) PYHPE_GRAD(KK, 8, 2) \
  PYHPE_GRAD(KK, 7, 2)
  PYHPE_GRAD_K(1) PYHPE_GRAD_K(3) PYHPE_GRAD_K(5) PYHPE_GRAD_K(7) PYHPE_GRAD_K(11)
#undef PYHPE_GRAD_K
#undef PYHPE_GRAD
  return false;
}

// sum over the grid of g(y, x) (the bias gradient).
template <class P>
inline P grid_sum(Grid<const P> g, int Ho, int Wo) {
  P a = VecOps<P>::splat(0), b = a;
  for (int y = 0; y < Ho; ++y) {
    const P* gr = g.base + y * g.rs;
    int x = 0;
    for (; x + 2 <= Wo; x += 2) {
      a = a + gr[static_cast<int64_t>(x) * g.cs];
      b = b + gr[static_cast<int64_t>(x + 1) * g.cs];
    }
    if (x < Wo) a = a + gr[static_cast<int64_t>(x) * g.cs];
  }
  return a + b;
}

}  // namespace PYHPE_ISA_NAMESPACE
}  // namespace packed
}  // namespace pyhpe
