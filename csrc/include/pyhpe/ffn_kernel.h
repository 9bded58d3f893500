// The RepNeXt channel MLP of the C++ runtime's PyhpeRepNeXtFFN layer (csrc/runtime/src/ffn_layer.h),
// per pixel p:
//   y[:, p] = r[:, p] + W2 · GELU(W1 · h[:, p] + b1) + b2,   GELU(x) = 0.5 x (1 + erf(x / sqrt 2)).
// Header-only, no ncnn: csrc/runtime/src/ffn_forward_isa.cpp compiles it once per instruction set
// (pyhpe/isa.h), and csrc/tests/ffn_native_test.cpp tests it against a long-double reference.
//
// Layout: h, r and y are C planes of P pixels with a per-plane stride (ncnn's cstep). SIMD lanes
// run over consecutive pixels of one channel; a register tile is kTileOc output channels x
// kTileVec vectors of pixels. Per input channel the tile loads kTileVec pixel vectors and
// broadcasts kTileOc weights from the packed weight array (pack_weights), then does FMAs.
// Pixels are processed in chunks sized for L2: the chunk's input is copied into a zero-padded
// scratch (so pixel tails need no masking), GEMM 1 writes GELU(W1 x + b1) into a hidden
// scratch, GEMM 2 reads it and writes b2 + r + W2 · hidden for the valid pixels only. A tail of
// at most half a vector runs as matrix-vector products instead (gemv, below).
// Threads (OpenMP) each run whole chunks; planes of fewer SIMD vectors than threads share one
// chunk and split its output-channel tiles (forward).
#pragma once

#include <stddef.h>
#include <string.h>

#include <algorithm>
#include <memory>
#include <type_traits>
#include <vector>

#include "pyhpe/config.h"
#include "pyhpe/isa.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace pyhpe {
inline namespace PYHPE_ISA_NAMESPACE {
namespace ffn {

#if defined(__AVX512F__)
constexpr int kLanes = 16, kTileOc = 8, kTileVec = 3;  // 24 of 32 zmm accumulate
#elif defined(__AVX2__)
constexpr int kLanes = 8, kTileOc = 4, kTileVec = 3;  // 12 of 16 ymm accumulate
#elif defined(__ARM_NEON)
constexpr int kLanes = 4, kTileOc = 8, kTileVec = 2;  // 16 of 32 q registers accumulate
#elif defined(__SSE2__)
constexpr int kLanes = 4, kTileOc = 4, kTileVec = 2;  // 8 of 16 xmm accumulate
#else
constexpr int kLanes = 4, kTileOc = 4, kTileVec = 2;  // GCC lowers the vectors to scalars
#endif

constexpr const char* kIsa = PYHPE_ISA_NAME;

typedef float V __attribute__((vector_size(kLanes * 4)));
typedef float VU __attribute__((vector_size(kLanes * 4), aligned(4)));  // for unaligned access
typedef unsigned VU32 __attribute__((vector_size(kLanes * 4)));

#define PYHPE_FFN_INLINE inline __attribute__((always_inline))

PYHPE_FFN_INLINE V bcast(float s) { return s - V{}; }  // s - 0 is exact, so this folds to a broadcast

// e^x for x <= 0 (clamped at -87, where e^x is below 1.7e-38). x = n ln2 + r with n the nearest
// integer, read off the float t = x log2(e) + 1.5 * 2^23 + 127: its low mantissa bits are n + 127,
// which a shift moves into the exponent field of 2^n. e^r from Cephes' expf polynomial.
PYHPE_FFN_INLINE V exp_neg(V x) {
  x = x < bcast(-87.0f) ? bcast(-87.0f) : x;
  const V magic = bcast(12582912.0f + 127.0f);
  const V t = x * bcast(1.44269504088896341f) + magic;
  const V n = t - magic;
  const V r = x - n * bcast(0.693359375f) - n * bcast(-2.12194440e-4f);
  V p = bcast(1.9875691500e-4f);
  p = p * r + bcast(1.3981999507e-3f);
  p = p * r + bcast(8.3334519073e-3f);
  p = p * r + bcast(4.1665795894e-2f);
  p = p * r + bcast(1.6666665459e-1f);
  p = p * r + bcast(5.0000001201e-1f);
  p = (p * r + bcast(1.0f)) * r + bcast(1.0f);
  return p * (V)((VU32)t << 23);
}

#if defined(__AVX512F__)
// Exact (erf) GELU from a table: GELU(x) = x q(|x|) for x < 0 and x (1 - q(|x|)) otherwise, with
// q(a) = (1 - erf(a / sqrt 2)) / 2 the normal tail. [0, 6) is cut into 32 intervals, each with a
// degree-5 polynomial in u = 32 a / 6 - i (tools/fit_gelu_table.py writes kGeluTail and checks it:
// |error| <= 1e-7 max(1, |x|)); two-register permutes pick the coefficients of all 16 lanes'
// intervals at once. q = 0 from 6 on (q(6) < 1e-9). No division and no exp: about half the
// vector operations of the A&S form below, which the C = 64 stage's GEMMs felt (issue 17).
// clang-format off
alignas(64) constexpr float kGeluTail[6][32] = {
    {0.5f, 0.425634325f, 0.353830248f, 0.286887705f, 0.22662735f, 0.174250707f, 0.130294517f, 0.0946757421f,
     0.066807203f, 0.0457536243f, 0.0303963609f, 0.0195800792f, 0.0122244731f, 0.00739460718f, 0.00433244836f, 0.00245790114f,
     0.00134989806f, 0.000717542309f, 0.000369078451f, 0.000183669952f, 8.84172841e-05f, 4.11674628e-05f, 1.85367371e-05f, 8.0709433e-06f,
     3.3976728e-06f, 1.38281325e-06f, 5.44042166e-07f, 2.06896985e-07f, 7.60495809e-08f, 2.70166645e-08f, 9.27539467e-09f, 3.07733239e-09f},
    {-0.074801676f, -0.0734982938f, -0.0697228238f, -0.0638564155f, -0.0564632639f, -0.0482013561f, -0.0397268683f, -0.0316112228f,
     -0.0242845509f, -0.0180115327f, -0.0128974291f, -0.0089163566f, -0.00595118618f, -0.00383487716f, -0.00238578441f, -0.00143298856f,
     -0.000830971345f, -0.000465222984f, -0.000251459511f, -0.000131222012f, -6.61115118e-05f, -3.21572734e-05f, -1.51012564e-05f, -6.84665793e-06f,
     -2.99692488e-06f, -1.26649877e-06f, -5.16731916e-07f, -2.03543607e-07f, -7.74071793e-08f, -2.84208177e-08f, -1.00744995e-08f, -3.44779894e-09f},
    {-1.14544685e-08f, 0.00129192602f, 0.0024511409f, 0.00336737162f, 0.00397002371f, 0.00423641317f, 0.00418992853f, 0.00388966524f,
     0.00341503136f, 0.00284950412f, 0.00226715044f, 0.0017240817f, 0.00125534309f, 0.000876337814f, 0.000587129791f, 0.000377838267f,
     0.000233708095f, 0.000139018361f, 7.95601227e-05f, 4.38234165e-05f, 2.32403218e-05f, 1.18691778e-05f, 5.83905694e-06f, 2.76755236e-06f,
     1.26402711e-06f, 5.56405212e-07f, 2.36080098e-07f, 9.65635465e-08f, 3.80802057e-08f, 1.44796921e-08f, 5.30921973e-09f, 1.87735827e-09f},
    {0.000438337476f, 0.000415666029f, 0.000351304625f, 0.000256015424f, 0.000144956255f, 3.43488828e-05f, -6.17645055e-05f, -0.000133863461f,
     -0.00017793497f, -0.000195095257f, -0.000190212915f, -0.000170087951f, -0.000141724973f, -0.000111070774f, -8.23605515e-05f, -5.80185479e-05f,
     -3.89405905e-05f, -2.49552068e-05f, -1.52952871e-05f, -8.9774303e-06f, -5.05117305e-06f, -2.7267331e-06f, -1.41320106e-06f, -7.03603234e-07f,
     -3.36687435e-07f, -1.54911191e-07f, -6.85570214e-08f, -2.91924209e-08f, -1.19634391e-08f, -4.71969752e-09f, -1.79282067e-09f, -6.5585265e-10f},
    {-8.03551714e-08f, -1.15081566e-05f, -2.0958596e-05f, -2.69435532e-05f, -2.87671646e-05f, -2.66180559e-05f, -2.14241591e-05f, -1.45391286e-05f,
     -7.37308619e-06f, -1.07957305e-06f, 3.62761693e-06f, 6.50865741e-06f, 7.71219493e-06f, 7.62601621e-06f, 6.72143733e-06f, 5.43244505e-06f,
     4.08709047e-06f, 2.88817e-06f, 1.92825837e-06f, 1.22125005e-06f, 7.35901892e-07f, 4.22837473e-07f, 2.3206529e-07f, 1.21820591e-07f,
     6.12325906e-08f, 2.94977287e-08f, 1.36290597e-08f, 6.04353412e-09f, 2.5733542e-09f, 1.05267606e-09f, 4.13859391e-10f, 1.56432922e-10f},
    {-2.25726149e-06f, -1.87215062e-06f, -1.19285926e-06f, -3.73958045e-07f, 4.11024445e-07f, 1.01607804e-06f, 1.35603739e-06f, 1.41804389e-06f,
     1.25108954e-06f, 9.40899213e-07f, 5.8076472e-07f, 2.47827899e-07f, -9.821016e-09f, -1.74739242e-07f, -2.53548905e-07f, -2.66752551e-07f,
     -2.38994176e-07f, -1.92178177e-07f, -1.42088084e-07f, -9.78885026e-08f, -6.33566941e-08f, -3.87361894e-08f, -2.24585381e-08f, -1.23828636e-08f,
     -6.50693899e-09f, -3.26426375e-09f, -1.56544067e-09f, -7.18475945e-10f, -3.15871884e-10f, -1.33127551e-10f, -5.38230016e-11f, -2.08860013e-11f},
};
// clang-format on

PYHPE_FFN_INLINE V gelu(V x) {
  typedef int VI __attribute__((vector_size(kLanes * 4)));
  const V a = (V)((VU32)x & 0x7fffffffu), last = bcast(31.999998f);  // the largest float below 32
  V s = a * bcast(32.0f / 6.0f);
  s = s < last ? s : last;  // NaN goes to the last interval too (and stays NaN in x f)
  const VI i = __builtin_convertvector(s, VI);  // truncation: the interval
  const V u = s - __builtin_convertvector(i, V);
  const auto coef = [&](int j) {
    return (V)_mm512_permutex2var_ps(_mm512_load_ps(kGeluTail[j]), (__m512i)i, _mm512_load_ps(kGeluTail[j] + 16));
  };
  V q = coef(5);
  for (int j = 4; j >= 0; --j) q = (V)_mm512_fmadd_ps((__m512)q, (__m512)u, (__m512)coef(j));
  q = a < bcast(6.0f) ? q : V{};
  return x * (x < V{} ? q : bcast(1.0f) - q);
}
#else
// Exact (erf) GELU. With z = |x| / sqrt 2 and q = 1 - erf(z) from Abramowitz & Stegun 7.1.26
// (|error in erf| <= 1.5e-7): GELU(x) = x (1 - q / 2) for x >= 0 and x q / 2 for x < 0, so the
// negative side never subtracts nearly equal numbers. The polynomial holds A&S's coefficients
// halved (it yields q / 2) and 1 / sqrt 2 is folded into the constants.
PYHPE_FFN_INLINE V gelu(V x) {
  const V a = (V)((VU32)x & 0x7fffffffu);
  const V t = bcast(1.0f) / (bcast(1.0f) + bcast(0.3275911f * 0.70710678118654752f) * a);
  V p = bcast(0.5f * 1.061405429f);
  p = p * t + bcast(0.5f * -1.453152027f);
  p = p * t + bcast(0.5f * 1.421413741f);
  p = p * t + bcast(0.5f * -0.284496736f);
  p = p * t + bcast(0.5f * 0.254829592f);
  const V hq = p * t * exp_neg(x * (x * bcast(-0.5f)));
  return x * (x < V{} ? hq : bcast(1.0f) - hq);
}
#endif

inline int tiles(int n) { return (n + kTileOc - 1) / kTileOc; }

// W (out x in, row-major: a 1x1 convolution's weights) -> tiles(out) blocks of in x kTileOc
// (block t, input c, lane o holds W[t * kTileOc + o][c]; rows past `out` are zero).
inline std::vector<float> pack_weights(const float* w, int out, int in) {
  std::vector<float> p((size_t)tiles(out) * in * kTileOc, 0.0f);
  for (int o = 0; o < out; ++o)
    for (int c = 0; c < in; ++c) p[((size_t)(o / kTileOc) * in + c) * kTileOc + o % kTileOc] = w[(size_t)o * in + c];
  return p;
}

// A bias padded with zeros to tiles(n) * kTileOc values.
inline std::vector<float> pack_bias(const float* b, int n) {
  std::vector<float> p((size_t)tiles(n) * kTileOc, 0.0f);
  std::copy(b, b + n, p.begin());
  return p;
}

struct Weights {
  const float* w1 = nullptr;  // pack_weights(W1, hidden, C)
  const float* b1 = nullptr;  // pack_bias(b1, hidden)
  const float* w2 = nullptr;  // pack_weights(W2, C, hidden)
  const float* b2 = nullptr;  // pack_bias(b2, C)
  int channels = 0, hidden = 0;
};

// acc[o][v] = bias[o] + sum_k w[k][o] * row(k)[v * kLanes ...] over K input rows; row(k) is the
// k-th row's first pixel, 64-byte aligned when kAligned (the stem kernel's shifted rows are not).
template <int NV, bool kAligned, class Rows>
PYHPE_FFN_INLINE void accumulate_rows(const float* w, const float* bias, int K, Rows&& row,
                                      V (&acc)[kTileOc][NV]) {
#pragma GCC unroll 8
  for (int o = 0; o < kTileOc; ++o)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[o][v] = bcast(bias[o]);
  for (int k = 0; k < K; ++k) {
    const float* in = row(k);
    const float* wk = w + (size_t)k * kTileOc;
    // Weights stream from L3/memory (a model's FFNs hold far more than L2): fetch 2 KB ahead.
    __builtin_prefetch(wk + 512);
    V x[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) x[v] = kAligned ? *(const V*)(in + v * kLanes) : *(const VU*)(in + v * kLanes);
#pragma GCC unroll 8
    for (int o = 0; o < kTileOc; ++o) {
      const V wo = bcast(wk[o]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[o][v] += x[v] * wo;
    }
  }
}

// accumulate_rows over K rows of stride ld from in (aligned).
template <int NV>
PYHPE_FFN_INLINE void accumulate(const float* w, const float* bias, const float* in, size_t ld, int K,
                                 V (&acc)[kTileOc][NV]) {
  accumulate_rows<NV, true>(w, bias, K, [&](int k) { return in + (size_t)k * ld; }, acc);
}

// GEMM 1 on one tile: hid rows (stride ldh) = GELU(W1 x + b1) for NV pixel vectors.
template <int NV>
void hidden_tile(const float* w, const float* b, const float* xs, size_t ldx, int C, float* hid, size_t ldh) {
  V acc[kTileOc][NV];
  accumulate<NV>(w, b, xs, ldx, C, acc);
  for (int o = 0; o < kTileOc; ++o)
    for (int v = 0; v < NV; ++v) *(V*)(hid + o * ldh + v * kLanes) = gelu(acc[o][v]);
}

// GEMM 2 on one tile: y = r + W2 hid + b2 for output channels [oc, oc + kTileOc) ∩ [0, C) and
// pixels [p, p + NV * kLanes) ∩ [0, P) (global pixel indices; planes with strides ys, rs).
template <int NV>
void output_tile(const float* w, const float* b, const float* hid, size_t ldh, int hidden, int oc, int C,
                 int p, int P, const float* r, size_t rs, float* y, size_t ys) {
  V acc[kTileOc][NV];
  accumulate<NV>(w, b, hid, ldh, hidden, acc);
  for (int o = 0; o < kTileOc && oc + o < C; ++o) {
    const float* rr = r + (size_t)(oc + o) * rs;
    float* yr = y + (size_t)(oc + o) * ys;
    for (int v = 0; v < NV; ++v) {
      const int q = p + v * kLanes;
      if (q + kLanes <= P) {
        *(VU*)(yr + q) = acc[o][v] + *(const VU*)(rr + q);
      } else {
        for (int i = 0; q + i < P; ++i) yr[q + i] = acc[o][v][i] + rr[q + i];
      }
    }
  }
}

// Runs F<NV> for nv in [1, kTileVec] (a tile's pixel vectors; fewer at a chunk's end).
template <int NV, class F>
PYHPE_FFN_INLINE void with_vectors(int nv, F&& f) {
  if constexpr (NV > 1) {
    if (nv < NV) return with_vectors<NV - 1>(nv, f);
  }
  f(std::integral_constant<int, NV>());
}

// Float scratch of n values aligned to 64 bytes, left uninitialised: every value the GEMMs read
// is written first (copy_in pads the input rows, GEMM 1 writes every hidden row it reads).
struct Scratch {
  std::unique_ptr<float[]> buf;
  float* data = nullptr;
  explicit Scratch(size_t n) : buf(new float[n + 16]) {
    const size_t mis = ((size_t)buf.get() / sizeof(float)) % 16;
    data = buf.get() + (mis ? 16 - mis : 0);
  }
};

// The pixels past a chunk's last whole vector, when there are at most kGemvMax of them, run as
// matrix-vector products (gemv) instead of one more padded vector tile: a 7x7 plane is 3 x 16 + 1
// pixels, a 14x14 one 12 x 16 + 4 (with this and the table GELU, RepNeXt-M4's 7x7 stage went
// from 65 % to 80 % of the GEMM rate: docs/benchmarks.md "What was done about it"). A gemv keeps
// kGemvTiles output tiles of kTileOc channels in flight per pixel (independent FMA chains), for
// up to kGemvPixels pixels at a time.
#if defined(__AVX512F__)
constexpr int kGemvTiles = 8;
#else
constexpr int kGemvTiles = 4;
#endif
constexpr int kGemvPixels = 3, kGemvMax = kLanes / 2;
typedef float VO __attribute__((vector_size(kTileOc * 4)));
typedef float VOU __attribute__((vector_size(kTileOc * 4), aligned(4)));

// One chunk of pixels [p0, p0 + np): its input copy xs and hidden rows hid (row stride ld, rows
// zero-padded from np to npad, a multiple of kLanes). Vector tiles cover pixels [0, nvec) of the
// chunk (a multiple of kLanes), gemv the rem pixels after them (0, or at most kGemvMax).
struct Chunk {
  int p0 = 0, np = 0, npad = 0, nvec = 0, rem = 0;
  size_t ld = 0;
  float* xs = nullptr;
  float* hid = nullptr;
};

inline void copy_in(const Chunk& k, const float* h, size_t hs, int c0, int c1) {
  for (int c = c0; c < c1; ++c) {
    float* dst = k.xs + (size_t)c * k.ld;
    memcpy(dst, h + (size_t)c * hs + k.p0, k.np * sizeof(float));
    std::fill(dst + k.np, dst + k.npad, 0.0f);
  }
}

// acc[j][i] = b_t + sum_k W_t[k][.] in[k ld + i] for the output tiles t = tile[j], j < kGemvTiles
// (W_t: K x kTileOc at w + t K kTileOc, pack_weights; b_t at bias + t kTileOc), pixels i < R.
template <int R>
PYHPE_FFN_INLINE void gemv(const float* w, const int (&tile)[kGemvTiles], const float* bias, const float* in,
                           size_t ld, int K, VO (&acc)[kGemvTiles][R]) {
  const float* wt[kGemvTiles];
#pragma GCC unroll 8
  for (int j = 0; j < kGemvTiles; ++j) {
    wt[j] = w + (size_t)tile[j] * K * kTileOc;
#pragma GCC unroll 3
    for (int i = 0; i < R; ++i) acc[j][i] = *(const VOU*)(bias + tile[j] * kTileOc);
  }
  for (int k = 0; k < K; ++k) {
    float x[R];
#pragma GCC unroll 3
    for (int i = 0; i < R; ++i) x[i] = in[(size_t)k * ld + i];
#pragma GCC unroll 8
    for (int j = 0; j < kGemvTiles; ++j) {
      const VO wk = *(const VOU*)(wt[j] + (size_t)k * kTileOc);
#pragma GCC unroll 3
      for (int i = 0; i < R; ++i) acc[j][i] += wk * x[i];
    }
  }
}

// Runs f(tiles, tiles in the group, first tile) over the output tiles [t0, t1) in groups of
// kGemvTiles; a short last group repeats its last tile (computed, not used).
template <class F>
PYHPE_FFN_INLINE void gemv_groups(int t0, int t1, F&& f) {
  for (int g = t0; g < t1; g += kGemvTiles) {
    int tile[kGemvTiles];
    const int n = std::min(kGemvTiles, t1 - g);
    for (int j = 0; j < kGemvTiles; ++j) tile[j] = g + std::min(j, n - 1);
    f(tile, n, g);
  }
}

// GEMM 1 for the rem pixels after k.nvec, hidden tiles [t0, t1): GELU(W1 x + b1) into their
// hidden columns.
inline void hidden_gemv(const Weights& wt, const Chunk& k, int t0, int t1) {
  for (int i0 = 0; i0 < k.rem; i0 += kGemvPixels)
    with_vectors<kGemvPixels>(std::min(kGemvPixels, k.rem - i0), [&](auto R) {
      constexpr int n_pix = decltype(R)::value;
      gemv_groups(t0, t1, [&](const int(&tile)[kGemvTiles], int n, int g) {
        VO acc[kGemvTiles][n_pix];
        gemv<n_pix>(wt.w1, tile, wt.b1, k.xs + k.nvec + i0, k.ld, wt.channels, acc);
        static_assert(kGemvTiles * kTileOc % kLanes == 0, "a group's channels are whole vectors");
        alignas(64) float h[kGemvTiles * kTileOc];  // one pixel's values, GELU in vectors
        for (int i = 0; i < n_pix; ++i) {
          for (int j = 0; j < kGemvTiles; ++j) *(VOU*)(h + j * kTileOc) = acc[j][i];
          for (int v = 0; v < kGemvTiles * kTileOc; v += kLanes) *(V*)(h + v) = gelu(*(const V*)(h + v));
          float* col = k.hid + (size_t)g * kTileOc * k.ld + k.nvec + i0 + i;
          for (int c = 0; c < n * kTileOc; ++c) col[(size_t)c * k.ld] = h[c];
        }
      });
    });
}

// GEMM 2 (+ b2 + r, into y) for the rem pixels after k.nvec, output tiles [t0, t1).
inline void output_gemv(const Weights& wt, const Chunk& k, int t0, int t1, const float* r, size_t rs, float* y,
                        size_t ys) {
  for (int i0 = 0; i0 < k.rem; i0 += kGemvPixels)
    with_vectors<kGemvPixels>(std::min(kGemvPixels, k.rem - i0), [&](auto R) {
      constexpr int n_pix = decltype(R)::value;
      gemv_groups(t0, t1, [&](const int(&tile)[kGemvTiles], int n, int g) {
        VO acc[kGemvTiles][n_pix];
        gemv<n_pix>(wt.w2, tile, wt.b2, k.hid + k.nvec + i0, k.ld, wt.hidden, acc);
        for (int i = 0; i < n_pix; ++i) {
          const size_t p = (size_t)k.p0 + k.nvec + i0 + i;
          for (int j = 0; j < n; ++j)
            for (int o = 0; o < kTileOc && (g + j) * kTileOc + o < wt.channels; ++o) {
              const size_t c = (size_t)(g + j) * kTileOc + o;
              y[c * ys + p] = acc[j][i][o] + r[c * rs + p];
            }
        }
      });
    });
}

// GEMM 1 for hidden-channel tiles [t0, t1) of a chunk: per group of kGemvTiles tiles the vector
// tiles, then the gemv pixels while the group's weights are still in cache.
inline void hidden_tiles(const Weights& wt, const Chunk& k, int t0, int t1) {
  for (int g = t0; g < t1; g += kGemvTiles) {
    const int g1 = std::min(t1, g + kGemvTiles);
    for (int t = g; t < g1; ++t)
      for (int q = 0; q < k.nvec; q += kTileVec * kLanes)
        with_vectors<kTileVec>(std::min(kTileVec, (k.nvec - q) / kLanes), [&](auto NV) {
          hidden_tile<decltype(NV)::value>(wt.w1 + (size_t)t * wt.channels * kTileOc, wt.b1 + t * kTileOc, k.xs + q,
                                           k.ld, wt.channels, k.hid + (size_t)t * kTileOc * k.ld + q, k.ld);
        });
    if (k.rem) hidden_gemv(wt, k, g, g1);
  }
}

// GEMM 2 (+ b2 + r, into y) for output-channel tiles [t0, t1) of a chunk; P: pixels per plane.
inline void output_tiles(const Weights& wt, const Chunk& k, int t0, int t1, const float* r, size_t rs, float* y,
                         size_t ys, int P) {
  for (int g = t0; g < t1; g += kGemvTiles) {
    const int g1 = std::min(t1, g + kGemvTiles);
    for (int t = g; t < g1; ++t)
      for (int q = 0; q < k.nvec; q += kTileVec * kLanes)
        with_vectors<kTileVec>(std::min(kTileVec, (k.nvec - q) / kLanes), [&](auto NV) {
          output_tile<decltype(NV)::value>(wt.w2 + (size_t)t * wt.hidden * kTileOc, wt.b2 + t * kTileOc, k.hid + q,
                                           k.ld, wt.hidden, t * kTileOc, wt.channels, k.p0 + q, P, r, rs, y, ys);
        });
    if (k.rem) output_gemv(wt, k, g, g1, r, rs, y, ys);
  }
}

// Pixels per chunk, a multiple of kLanes: input + hidden scratch of a chunk about 1 MB (L2 holds
// it), and a multiple of `threads` chunks of about equal size unless the plane has fewer than
// `threads` vectors of pixels. (Splitting pixels between threads beat splitting channel tiles
// even on 7x7 planes, where it pads 49 pixels to 32 + 32: no barriers, no shared tiles.)
inline int chunk_pixels(int C, int hidden, int P, int threads) {
  const int tile = kTileVec * kLanes;
  const int rows = C + tiles(hidden) * kTileOc;
  const int budget = std::max(tile, (1 << 18) / rows / tile * tile);
  int n = (P + budget - 1) / budget;
  if (P >= threads * kLanes) n = (n + threads - 1) / threads * threads;
  const int per = (P + n - 1) / n;
  return (per + kLanes - 1) / kLanes * kLanes;
}

// y = r + W2 GELU(W1 h + b1) + b2 over P pixels; h, r, y: C planes with strides hs, rs, ys
// (r may be h). threads: OpenMP threads (1: none). With at least as many chunks as threads each
// thread runs whole chunks in its own scratch (no barriers); else (planes of fewer than
// `threads` SIMD vectors) the threads split each GEMM's channel tiles of the shared chunk. chunk: pixels per chunk, a multiple of
// kLanes (0: chunk_pixels; the tests set it to run several chunks on small planes).
inline void forward(const Weights& wt, const float* h, size_t hs, const float* r, size_t rs, float* y, size_t ys,
                    int P, int threads, int chunk = 0) {
  const int C = wt.channels, Hd = wt.hidden, t1 = tiles(Hd), t2 = tiles(C);
  if (chunk <= 0 || chunk % kLanes) chunk = chunk_pixels(C, Hd, P, threads);
  const int n_chunks = (P + chunk - 1) / chunk;
  auto chunk_at = [&](int i, float* xs, float* hid) {
    Chunk k;
    k.p0 = i * chunk;
    k.np = std::min(chunk, P - k.p0);
    k.npad = (k.np + kLanes - 1) / kLanes * kLanes;
    const int whole = k.np / kLanes * kLanes;
    k.rem = k.np - whole <= kGemvMax ? k.np - whole : 0;
    k.nvec = k.rem ? whole : k.npad;
    k.ld = chunk;
    k.xs = xs;
    k.hid = hid;
    return k;
  };
  const size_t xs_size = (size_t)C * chunk, hid_size = (size_t)t1 * kTileOc * chunk;
  (void)threads;
  if (n_chunks >= threads) {
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
      Scratch xs(xs_size), hid(hid_size);
#pragma omp for schedule(dynamic, 1)
      for (int i = 0; i < n_chunks; ++i) {
        const Chunk k = chunk_at(i, xs.data, hid.data);
        copy_in(k, h, hs, 0, C);
        hidden_tiles(wt, k, 0, t1);
        output_tiles(wt, k, 0, t2, r, rs, y, ys, P);
      }
    }
    return;
  }
  Scratch xs(xs_size), hid(hid_size);
#pragma omp parallel num_threads(threads)
  for (int i = 0; i < n_chunks; ++i) {
    const Chunk k = chunk_at(i, xs.data, hid.data);
#pragma omp for schedule(static)
    for (int c = 0; c < C; ++c) copy_in(k, h, hs, c, c + 1);
#pragma omp for schedule(dynamic, 1)
    for (int t = 0; t < t1; ++t) hidden_tiles(wt, k, t, t + 1);
#pragma omp for schedule(dynamic, 1)
    for (int t = 0; t < t2; ++t) output_tiles(wt, k, t, t + 1, r, rs, y, ys, P);
  }
}

#undef PYHPE_FFN_INLINE

}  // namespace ffn
}  // namespace PYHPE_ISA_NAMESPACE
}  // namespace pyhpe
