// The RepNeXt stem of the C++ runtime's PyhpeRepNeXtStem layer (csrc/runtime/src/stem_layer.h):
// two 3x3 convolutions of stride 2 and padding 1, with bias, and the exact GELU between them,
//   mid = GELU(conv1(x)),  y = conv2(mid),
//   x: Cin x H x W,  mid: C1 x H1 x W1,  y: C2 x H2 x W2,  H1 = (H - 1) / 2 + 1,  H2 = (H1 - 1) / 2 + 1
// (W likewise). Header-only, no ncnn: csrc/runtime/src/stem_forward_isa.cpp compiles it once per
// instruction set, csrc/tests/stem_native_test.cpp tests it against a long-double reference.
//
// Why a kernel of its own: ncnn runs the stem as Convolution -> GELU -> Convolution; on the
// AVX-512 Xeon of docs/benchmarks.md ("Why 85 %") that took 3.2 ms of RepNeXt-M4's 40 ms forward
// at 1 thread (convolutions 2.54 ms, GELU 0.66 ms) for 3 % of its multiply-adds (issue 17).
//
// Stride 2 becomes stride 1 by phases. Both convolutions compute on a flat grid of H2 rows of
// S = W2 + 1 columns (the last column is junk, never stored): output pixel (i, j) is p = i S + j.
// Every input they read is split into phase planes of the same geometry, zero-padded by one
// leading row and column: element (m, n) of a plane sits at (m + 1) S + (n + 1).
//   conv2 reads mid in 4 phases per channel, M[c][a][b](i, j) = mid(2i + a, 2j + b);
//   conv1 writes mid directly in those phases: it computes mid(2i + a, 2j + b) for each (a, b),
//   reading x in 16 phases per channel, Q[c][r][s](m, n) = x(4m + r, 4n + s).
// A tap (ky, kx) of output p then reads one phase plane at p + a constant offset (row shift
// dy in {-1, 0}, column shift likewise), so both convolutions are GEMMs whose rows are shifted
// views of the planes: the FFN kernel's register tile (pyhpe/ffn_kernel.h: kTileOc output
// channels x kTileVec vectors of pixels, weights broadcast, pixel vectors loaded) with a row
// offset table instead of a row stride. conv1's junk column and its rows and columns past mid's
// edge land on the planes' padding, which is zeroed again afterwards (fix_mid_plane).
#pragma once

#include <stddef.h>
#include <string.h>

#include <vector>

#include "pyhpe/ffn_kernel.h"

namespace pyhpe {
inline namespace PYHPE_ISA_NAMESPACE {
namespace stem {

using ffn::kLanes;
using ffn::kTileOc;
using ffn::kTileVec;
using ffn::V;
using ffn::VU;

#define PYHPE_STEM_INLINE inline __attribute__((always_inline))

struct Weights {
  const float* w1 = nullptr;  // ffn::pack_weights(W1, C1, Cin * 9): W1 is (C1, Cin, 3, 3)
  const float* b1 = nullptr;  // ffn::pack_bias(b1, C1)
  const float* w2 = nullptr;  // ffn::pack_weights(W2, C2, C1 * 9)
  const float* b2 = nullptr;  // ffn::pack_bias(b2, C2)
  int cin = 0, c1 = 0, c2 = 0;
};

// Output size of a 3x3 stride-2 padding-1 convolution.
constexpr int halve(int n) { return (n - 1) / 2 + 1; }

// The phase-plane geometry of an H x W input.
struct Geometry {
  int H = 0, W = 0, H1 = 0, W1 = 0, H2 = 0, W2 = 0;
  int S = 0;         // row stride of the planes and the flat grid (W2 + 1)
  int grid = 0;      // flat output positions computed: H2 S rounded up to whole tiles
  size_t plane = 0;  // floats per phase plane: (H2 + 1) S rows, and room for the last tile's overrun
  Geometry(int h, int w) : H(h), W(w), H1(halve(h)), W1(halve(w)), H2(halve(H1)), W2(halve(W1)), S(W2 + 1) {
    const int tile = kTileVec * kLanes;
    grid = (H2 * S + tile - 1) / tile * tile;
    // reads and conv1's writes reach p + S + 1 for p < grid
    plane = ((size_t)grid + S + 1 + kLanes + 15) / 16 * 16;
  }
};

// acc[o][v] = bias[o] + sum_k w[k][o] * src[off[k] + v * kLanes ...]: the FFN kernel's
// accumulation with a row offset table (unaligned rows).
template <int NV>
PYHPE_STEM_INLINE void accumulate(const float* w, const float* bias, const float* src, const int* off, int K,
                                  V (&acc)[kTileOc][NV]) {
  ffn::accumulate_rows<NV, false>(w, bias, K, [&](int k) { return src + off[k]; }, acc);
}

// Splits channel plane x (H x W, row-major) into its 16 phase planes Q[r][s] at q + (4r + s) plane.
inline void split_input(const float* x, const Geometry& g, float* q) {
  for (int r = 0; r < 4; ++r)
    for (int s = 0; s < 4; ++s) {
      float* dst = q + (size_t)(4 * r + s) * g.plane;
      memset(dst, 0, g.plane * sizeof(float));
      for (int m = 0; 4 * m + r < g.H && m < g.H2; ++m) {
        const float* row = x + (size_t)(4 * m + r) * g.W;
        float* out = dst + (size_t)(m + 1) * g.S + 1;
        for (int n = 0; 4 * n + s < g.W && n < g.W2; ++n) out[n] = row[4 * n + s];
      }
    }
}

// Zeroes what conv1 wrote onto mid phase plane (a, b)'s padding: row 0, column 0, the rows and
// columns past mid's edge, and the room after the last row.
inline void fix_mid_plane(float* m, const Geometry& g, int a, int b) {
  memset(m, 0, (g.S + 1) * sizeof(float));
  const int rows = (g.H1 - a + 1) / 2, cols = (g.W1 - b + 1) / 2;  // i, j with 2i + a < H1, 2j + b < W1
  for (int i = 0; i < g.H2; ++i) {
    float* row = m + (size_t)(i + 1) * g.S;
    if (i >= rows) {
      memset(row, 0, g.S * sizeof(float));
      continue;
    }
    row[0] = 0.0f;
    for (int j = cols; j < g.W2; ++j) row[j + 1] = 0.0f;
  }
  const size_t end = (size_t)(g.H2 + 1) * g.S;
  memset(m + end, 0, (g.plane - end) * sizeof(float));
}

// Offset of tap t in {-1, 0, 1} along one axis for an output of phase a (0 for conv2, whose
// outputs are not phased) and stride 2 over an input split in `phases` phases: (phase, shift).
inline void tap(int a, int t, int phases, int* phase, int* shift) {
  const int u = 2 * a + t;  // conv1: 4i + u = 2 (2i + a) + t; conv2 (a = 0): 2i + t
  *phase = (u + phases) % phases;
  *shift = u < 0 ? 0 : 1;  // padded index = i + (u < 0 ? -1 : 0) + 1
}

// conv1 + GELU for mid phase (a, b), channels [t kTileOc, ...): reads the input phases q (Cin x 16
// planes), writes mid phase planes mid + ((c * 4) + 2a + b) plane.
inline void conv1_tile(const Weights& wt, const Geometry& g, const float* q, float* mid, int a, int b, int t) {
  const int K = wt.cin * 9;
  std::vector<int> off(K);
  for (int c = 0; c < wt.cin; ++c)
    for (int ky = 0; ky < 3; ++ky)
      for (int kx = 0; kx < 3; ++kx) {
        int r, dy, s, dx;
        tap(a, ky - 1, 4, &r, &dy);
        tap(b, kx - 1, 4, &s, &dx);
        off[c * 9 + ky * 3 + kx] = (int)((size_t)(c * 16 + 4 * r + s) * g.plane) + dy * g.S + dx;
      }
  const float* w = wt.w1 + (size_t)t * K * kTileOc;
  const float* bias = wt.b1 + t * kTileOc;
  const int tile = kTileVec * kLanes, oc0 = t * kTileOc;
  for (int p = 0; p < g.grid; p += tile) {
    V acc[kTileOc][kTileVec];
    accumulate<kTileVec>(w, bias, q + p, off.data(), K, acc);
    for (int o = 0; o < kTileOc && oc0 + o < wt.c1; ++o) {
      float* dst = mid + (size_t)((oc0 + o) * 4 + 2 * a + b) * g.plane + p + g.S + 1;
      for (int v = 0; v < kTileVec; ++v) *(VU*)(dst + v * kLanes) = ffn::gelu(acc[o][v]);
    }
  }
  for (int o = 0; o < kTileOc && oc0 + o < wt.c1; ++o)
    fix_mid_plane(mid + (size_t)((oc0 + o) * 4 + 2 * a + b) * g.plane, g, a, b);
}

// conv2's row offsets into the mid phases, tap k = c * 9 + ky * 3 + kx (W2 is C2 x C1 x 3 x 3).
inline std::vector<int> conv2_offsets(const Weights& wt, const Geometry& g) {
  std::vector<int> off((size_t)wt.c1 * 9);
  for (int c = 0; c < wt.c1; ++c)
    for (int ky = 0; ky < 3; ++ky)
      for (int kx = 0; kx < 3; ++kx) {
        int a, dy, b, dx;
        tap(0, ky - 1, 2, &a, &dy);
        tap(0, kx - 1, 2, &b, &dx);
        off[c * 9 + ky * 3 + kx] = (int)((size_t)(c * 4 + 2 * a + b) * g.plane) + dy * g.S + dx;
      }
  return off;
}

// conv2 for the flat pixels [p, p + kTileVec kLanes), every output channel tile (the tile's
// input rows, K x kTileVec vectors, stay in L1/L2 across the channel tiles); writes y's planes
// (H2 x W2 each, plane stride ys).
inline void conv2_pixels(const Weights& wt, const Geometry& g, const float* mid, const int* off, float* y, size_t ys,
                         int p) {
  const int K = wt.c1 * 9;
  for (int t = 0; t < ffn::tiles(wt.c2); ++t) {
    const int oc0 = t * kTileOc;
    V acc[kTileOc][kTileVec];
    accumulate<kTileVec>(wt.w2 + (size_t)t * K * kTileOc, wt.b2 + oc0, mid + p, off, K, acc);
    for (int o = 0; o < kTileOc && oc0 + o < wt.c2; ++o) {
      float* plane = y + (size_t)(oc0 + o) * ys;
      for (int v = 0; v < kTileVec; ++v) {
        const int q = p + v * kLanes, i = q / g.S, j = q % g.S;
        if (i >= g.H2) break;
        if (j + kLanes <= g.W2) {  // one row's valid columns
          *(VU*)(plane + (size_t)i * g.W2 + j) = acc[o][v];
          continue;
        }
        for (int l = 0; l < kLanes; ++l) {
          const int ql = q + l, il = ql / g.S, jl = ql % g.S;
          if (il < g.H2 && jl < g.W2) plane[(size_t)il * g.W2 + jl] = acc[o][v][l];
        }
      }
    }
  }
}

// Float scratch the forward needs for an H x W input: input phases, then mid phases.
inline size_t scratch_floats(const Weights& wt, int H, int W) {
  const Geometry g(H, W);
  return ((size_t)wt.cin * 16 + (size_t)wt.c1 * 4) * g.plane + 16;
}

// y = conv2(GELU(conv1(x))): x holds Cin planes of H x W (plane stride xs), y C2 planes of
// H2 x W2 (plane stride ys). scratch: scratch_floats(wt, H, W) floats (any alignment: the
// shifted rows are read unaligned anyway).
// threads: OpenMP threads over input channels, then conv1's (phase, channel tile) tasks, then
// conv2's pixel tiles.
inline void forward(const Weights& wt, const float* x, size_t xs, int H, int W, float* y, size_t ys, float* scratch,
                    int threads) {
  const Geometry g(H, W);
  float* q = scratch;
  float* mid = scratch + (size_t)wt.cin * 16 * g.plane;
  const int t1 = ffn::tiles(wt.c1), tile = kTileVec * kLanes;
  const std::vector<int> off2 = conv2_offsets(wt, g);
  (void)threads;
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
#pragma omp for schedule(static)
    for (int c = 0; c < wt.cin; ++c) split_input(x + (size_t)c * xs, g, q + (size_t)c * 16 * g.plane);
#pragma omp for schedule(dynamic, 1)
    for (int task = 0; task < 4 * t1; ++task) conv1_tile(wt, g, q, mid, task / 2 % 2, task % 2, task / 4);
#pragma omp for schedule(dynamic, 4)
    for (int p = 0; p < g.grid; p += tile) conv2_pixels(wt, g, mid, off2.data(), y, ys, p);
  }
}

#undef PYHPE_STEM_INLINE

}  // namespace stem
}  // namespace PYHPE_ISA_NAMESPACE
}  // namespace pyhpe
