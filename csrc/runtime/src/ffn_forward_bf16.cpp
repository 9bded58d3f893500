// PyhpeRepNeXtFFN's kernels in bf16 arithmetic on x86-64: AMX tiles (TDPBF16PS) and AVX512-BF16
// (VDPBF16PS). Compiled with -mavx512bf16 -mamx-tile -mamx-bf16 (CMakeLists.txt); each runs only
// where the CPU has it (ffn_bf16_runs), as ncnn compiles and dispatches its own avx512bf16 layer
// variants. See ffn_forward.h.
//
// Both share the fp32 kernel's data flow (pyhpe/ffn_kernel.h): pixels in chunks sized for L2, the
// chunk's input copied into a zero-padded scratch, GEMM 1 into a hidden scratch through GELU
// (ffn_kernel.h's, the exact erf form, in fp32), GEMM 2 plus b2 plus the residual in fp32 before
// the one rounding to bf16 (round to nearest even). bf16 products are taken in *pairs* of input
// channels, so the scratch holds channel pairs interleaved per pixel (row k: pixel p's channels
// 2k and 2k+1 as one 32-bit word), zero-padded.
// - VDPBF16PS: lane i of the accumulator gains a[2i] b[2i] + a[2i+1] b[2i+1]; lanes run over 16
//   pixels of one channel, a register tile is 8 output channels x 3 pixel vectors (24 of 32 zmm
//   accumulate), and the packed weights hold per output channel the pair (W[o][2k], W[o][2k+1])
//   broadcast to all lanes.
// - AMX: see the section below.
//
// Everything here has internal linkage except the entry points; ffn_kernel.h, included for
// GELU, lives in its own inline namespace in this unit (isa_avx512bf16, pyhpe/config.h).
#include "ffn_forward.h"

#if defined(__x86_64__) && defined(__AVX512BF16__) && defined(__AMX_BF16__)

#include <immintrin.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "pyhpe/ffn_kernel.h"

namespace pyhpe_rt {

namespace {

namespace ffn = ::pyhpe::ffn;
// The fp32 kernel's AVX-512 register tile (16 lanes, 8 output channels x 3 pixel vectors), its
// tile count and its dispatch on the pixel vectors left in a chunk.
using ffn::kLanes;
using ffn::kTileOc;
using ffn::kTileVec;
using ffn::tiles;
using ffn::with_vectors;
static_assert(kLanes == 16, "the bf16 kernels are written for 16-lane AVX-512 vectors");

inline int pairs(int n) { return (n + 1) / 2; }

// bf16 bits of f, rounded to nearest even (NaN stays NaN): the instruction the kernel rounds with.
inline uint32_t bf16_bits(float f) {
  return (uint32_t)(uint16_t)_mm_extract_epi16((__m128i)_mm_cvtneps_pbh(_mm_set_ss(f)), 0);
}

// W (out x in, row-major) -> tiles(out) blocks of pairs(in) x kTileOc words; word (t, k, o) holds
// bf16 W[t * 8 + o][2k] in its low and W[t * 8 + o][2k + 1] in its high half (zero past the ends).
std::vector<uint32_t> pack_weights(const float* w, int out, int in) {
  std::vector<uint32_t> p((size_t)tiles(out) * pairs(in) * kTileOc, 0u);
  for (int o = 0; o < out; ++o)
    for (int c = 0; c < in; ++c)
      p[((size_t)(o / kTileOc) * pairs(in) + c / 2) * kTileOc + o % kTileOc] |= bf16_bits(w[(size_t)o * in + c])
                                                                                << (16 * (c & 1));
  return p;
}

// padded with zeros to a multiple of 32 (the AMX blocks; the dot kernel's 8-channel tiles too)
std::vector<float> pack_bias(const float* b, int n) {
  std::vector<float> p((size_t)(n + 31) / 32 * 32, 0.0f);
  std::copy(b, b + n, p.begin());
  return p;
}

// 16 bf16 values widened to 32-bit words (low halves), and words shifted into the high halves.
// (The masked zero-extend and a vector shift: GCC 12's plain intrinsics warn of an uninitialized
// pass-through operand.)
typedef unsigned U32x16 __attribute__((vector_size(64)));
inline __m512i widen(__m256i x) { return _mm512_maskz_cvtepu16_epi32((__mmask16)0xffff, x); }
inline __m512i high(__m512i x) { return (__m512i)((U32x16)x << 16); }

inline __mmask16 valid(int n) { return n >= kLanes ? (__mmask16)0xffff : (__mmask16)((1u << std::max(n, 0)) - 1u); }

// 16 bf16 values (the first n; zeros after) widened to 32-bit words in the low halves.
inline __m512i load_low(const uint16_t* p, int n) {
  return widen(_mm256_maskz_loadu_epi16(valid(n), p));
}

// Words whose halves are bf16(a) (low) and bf16(b) (high), lane by lane.
inline __m512i pair_of(__m512 a, __m512 b) {
  return _mm512_or_si512(widen((__m256i)_mm512_cvtneps_pbh(a)), high(widen((__m256i)_mm512_cvtneps_pbh(b))));
}

// acc[o][v] = bias[o] + sum over pair rows k of dot(in[k][v * 16 ...], w[k][o]) (row stride ld words).
template <int NV>
inline __attribute__((always_inline)) void accumulate(const uint32_t* w, const float* bias, const uint32_t* in,
                                                       size_t ld, int K, __m512 (&acc)[kTileOc][NV]) {
#pragma GCC unroll 8
  for (int o = 0; o < kTileOc; ++o)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[o][v] = _mm512_set1_ps(bias[o]);
  for (int k = 0; k < K; ++k) {
    const uint32_t* row = in + (size_t)k * ld;
    const uint32_t* wk = w + (size_t)k * kTileOc;
    __builtin_prefetch(wk + 512);
    __m512bh x[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) x[v] = (__m512bh)_mm512_loadu_si512(row + v * kLanes);
#pragma GCC unroll 8
    for (int o = 0; o < kTileOc; ++o) {
      const __m512bh wo = (__m512bh)_mm512_set1_epi32((int)wk[o]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[o][v] = _mm512_dpbf16_ps(acc[o][v], x[v], wo);
    }
  }
}

struct Chunk {
  int p0 = 0, np = 0, npad = 0;  // pixels [p0, p0 + np), rows padded with zeros to npad
  size_t ld = 0;                 // row stride of xs and hid, in words
  uint32_t* xs = nullptr;        // pairs(C) rows (zero rows after, to 16k rows): the input's channel pairs
  uint32_t* hid = nullptr;       // hidden / 2 rows (hidden padded to 32): GELU(W1 x + b1) in channel pairs
};

// The chunk's input as channel pairs (odd C: the last pair's high halves are zero).
void copy_in(const Chunk& k, const uint16_t* h, size_t hs, int C) {
  for (int kp = 0; kp < pairs(C); ++kp) {
    const uint16_t* a = h + (size_t)(2 * kp) * hs + k.p0;
    const uint16_t* b = 2 * kp + 1 < C ? h + (size_t)(2 * kp + 1) * hs + k.p0 : nullptr;
    uint32_t* row = k.xs + (size_t)kp * k.ld;
    for (int q = 0; q < k.npad; q += kLanes) {
      __m512i word = load_low(a + q, k.np - q);
      if (b) word = _mm512_or_si512(word, high(load_low(b + q, k.np - q)));
      _mm512_storeu_si512(row + q, word);
    }
  }
}

template <int NV>
void hidden_tile(const uint32_t* w, const float* b, const uint32_t* xs, size_t ld, int KP, uint32_t* hid) {
  __m512 acc[kTileOc][NV];
  accumulate<NV>(w, b, xs, ld, KP, acc);
  // fully unrolled, as every loop over acc: an indexed access would keep the tile on the stack
#pragma GCC unroll 4
  for (int j = 0; j < kTileOc / 2; ++j)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      _mm512_storeu_si512(hid + (size_t)j * ld + v * kLanes,
                          pair_of((__m512)ffn::gelu((ffn::V)acc[2 * j][v]),
                                  (__m512)ffn::gelu((ffn::V)acc[2 * j + 1][v])));
}

// y = bf16(r + b2 + W2 hid) for output channels [oc, oc + 8) ∩ [0, C), pixels [p, p + NV * 16) ∩ [0, P).
template <int NV>
void output_tile(const uint32_t* w, const float* b, const uint32_t* hid, size_t ld, int KP, int oc, int C, int p,
                 int P, const uint16_t* r, size_t rs, uint16_t* y, size_t ys) {
  __m512 acc[kTileOc][NV];
  accumulate<NV>(w, b, hid, ld, KP, acc);
#pragma GCC unroll 8
  for (int o = 0; o < kTileOc; ++o) {
    if (oc + o >= C) break;
    const uint16_t* rr = r + (size_t)(oc + o) * rs;
    uint16_t* yr = y + (size_t)(oc + o) * ys;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      const int q = p + v * kLanes;
      const __mmask16 m = valid(P - q);
      const __m512 res = (__m512)high(widen(_mm256_maskz_loadu_epi16(m, rr + q)));
      _mm256_mask_storeu_epi16(yr + q, m, (__m256i)_mm512_cvtneps_pbh(_mm512_add_ps(acc[o][v], res)));
    }
  }
}

void dot_chunk(const FfnPackedBf16& w, const Chunk& k, const uint16_t* h, size_t hs, const uint16_t* r, size_t rs,
               uint16_t* y, size_t ys, int P) {
  const int C = w.channels, Hd = w.hidden;
  copy_in(k, h, hs, C);
  for (int t = 0; t < tiles(Hd); ++t)
    for (int q = 0; q < k.npad; q += kTileVec * kLanes)
      with_vectors<kTileVec>(std::min(kTileVec, (k.npad - q) / kLanes), [&](auto NV) {
        hidden_tile<decltype(NV)::value>(w.w1.data() + (size_t)t * pairs(C) * kTileOc, w.b1.data() + t * kTileOc,
                                         k.xs + q, k.ld, pairs(C), k.hid + (size_t)t * (kTileOc / 2) * k.ld + q);
      });
  for (int t = 0; t < tiles(C); ++t)
    for (int q = 0; q < k.npad; q += kTileVec * kLanes)
      with_vectors<kTileVec>(std::min(kTileVec, (k.npad - q) / kLanes), [&](auto NV) {
        output_tile<decltype(NV)::value>(w.w2.data() + (size_t)t * pairs(Hd) * kTileOc, w.b2.data() + t * kTileOc,
                                         k.hid + q, k.ld, pairs(Hd), t * kTileOc, C, k.p0 + q, P, r, rs, y, ys);
      });
}

// ---- AMX (TDPBF16PS) -------------------------------------------------------------------------
// A tile multiply C[16 x 16 fp32] += A[16 x 32 bf16] . B[16 x 16 bf16 pairs] sums over 32 input
// channels: A's row m is W[m][k0 .. k0 + 31], B's row j holds, per pixel, the pair of channels
// k0 + 2j, k0 + 2j + 1 — the chunk's pair rows as they are. Tiles 0-3 accumulate 32 output
// channels x 32 pixels (2 x 2), 4-5 hold two W blocks, 6-7 two blocks of 16 pixels. Channel and
// hidden counts are padded with zeros to multiples of 32, pixels to 32.

inline int round_up(int n, int m) { return (n + m - 1) / m * m; }

struct alignas(64) TileConfig {
  uint8_t palette = 1, start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

// Every tile 16 rows x 64 bytes; per thread, before its first tile instruction.
void configure_tiles() {
  TileConfig c;
  for (int t = 0; t < 8; ++t) {
    c.colsb[t] = 64;
    c.rows[t] = 16;
  }
  _tile_loadconfig(&c);
}

// The tile state is off by default on Linux; a process asks for it once (arch_prctl
// ARCH_REQ_XCOMP_PERM for XFEATURE_XTILEDATA).
bool amx_granted() {
  static const bool ok = [] {
    if (!__builtin_cpu_supports("amx-tile") || !__builtin_cpu_supports("amx-bf16")) return false;
    return syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XFEATURE_XTILEDATA */) == 0;
  }();
  return ok;
}

// W (out x in, row-major) -> blocks (out / 16, in / 32) of 16 x 32 bf16, row m = W[16 b + m][32 k ...].
std::vector<uint16_t> pack_amx(const float* w, int out, int in) {
  const int kb = round_up(in, 32) / 32;
  std::vector<uint16_t> p((size_t)round_up(out, 32) / 16 * kb * 512, 0);
  for (int o = 0; o < out; ++o)
    for (int c = 0; c < in; ++c)
      p[((size_t)(o / 16) * kb + c / 32) * 512 + (o % 16) * 32 + c % 32] = (uint16_t)bf16_bits(w[(size_t)o * in + c]);
  return p;
}

// tmp (32 x 32 fp32, row stride 32) = the two W block rows at a (KB blocks each) times the pair
// rows at b (KB x 16 rows of stride ld words), 32 pixels.
inline void amx_block(const uint16_t* a, int KB, const uint32_t* b, size_t ld, float* tmp) {
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  for (int kb = 0; kb < KB; ++kb) {
    _tile_loadd(4, a + (size_t)kb * 512, 64);
    _tile_loadd(5, a + ((size_t)KB + kb) * 512, 64);
    const uint32_t* bk = b + (size_t)kb * 16 * ld;
    _tile_loadd(6, bk, ld * 4);
    _tile_loadd(7, bk + 16, ld * 4);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
  _tile_stored(0, tmp, 128);
  _tile_stored(1, tmp + 16, 128);
  _tile_stored(2, tmp + 16 * 32, 128);
  _tile_stored(3, tmp + 16 * 32 + 16, 128);
}

void amx_chunk(const FfnPackedBf16& w, const Chunk& k, const uint16_t* h, size_t hs, const uint16_t* r, size_t rs,
               uint16_t* y, size_t ys, int P, float* tmp) {
  const int C = w.channels, Hd = w.hidden, K1 = round_up(C, 32) / 32, K2 = round_up(Hd, 32) / 32;
  copy_in(k, h, hs, C);
  for (int ob = 0; ob < 2 * K2; ob += 2)  // 32 hidden channels at a time
    for (int q = 0; q < k.npad; q += 32) {
      amx_block(w.a1.data() + (size_t)ob * K1 * 512, K1, k.xs + q, k.ld, tmp);
      for (int o = 0; o < 32; o += 2) {
        const int j = ob * 16 + o;
        uint32_t* row = k.hid + (size_t)(j / 2) * k.ld + q;
        for (int v = 0; v < 2; ++v) {
          const __m512 a = _mm512_add_ps(_mm512_load_ps(tmp + o * 32 + v * 16), _mm512_set1_ps(w.b1[j]));
          const __m512 b = _mm512_add_ps(_mm512_load_ps(tmp + (o + 1) * 32 + v * 16), _mm512_set1_ps(w.b1[j + 1]));
          _mm512_storeu_si512(row + v * 16, pair_of((__m512)ffn::gelu((ffn::V)a), (__m512)ffn::gelu((ffn::V)b)));
        }
      }
    }
  for (int ob = 0; ob < 2 * K1; ob += 2)  // 32 output channels at a time
    for (int q = 0; q < k.npad; q += 32) {
      amx_block(w.a2.data() + (size_t)ob * K2 * 512, K2, k.hid + q, k.ld, tmp);
      for (int o = 0; o < 32 && ob * 16 + o < C; ++o) {
        const int c = ob * 16 + o;
        for (int v = 0; v < 2; ++v) {
          const int p = k.p0 + q + v * 16;
          const __mmask16 m = valid(P - p);
          const __m512 res = (__m512)high(widen(_mm256_maskz_loadu_epi16(m, r + (size_t)c * rs + p)));
          const __m512 acc = _mm512_add_ps(_mm512_load_ps(tmp + o * 32 + v * 16), _mm512_set1_ps(w.b2[c]));
          const __m512 out = _mm512_add_ps(acc, res);
          _mm256_mask_storeu_epi16(y + (size_t)c * ys + p, m, (__m256i)_mm512_cvtneps_pbh(out));
        }
      }
    }
}

}  // namespace

bool ffn_bf16_compiled() { return true; }

bool ffn_bf16_runs(FfnBf16Kernel kernel) {
  if (kernel == FfnBf16Kernel::kAmx) return amx_granted();
  if (kernel == FfnBf16Kernel::kDot) return __builtin_cpu_supports("avx512bf16");
  return false;
}

FfnPackedBf16 ffn_pack_bf16(const float* w1, const float* b1, const float* w2, const float* b2, int channels,
                            int hidden, FfnBf16Kernel kernel) {
  FfnPackedBf16 p;
  if (kernel == FfnBf16Kernel::kNone) return p;
  p.kernel = kernel;
  if (kernel == FfnBf16Kernel::kAmx) {
    p.a1 = pack_amx(w1, hidden, channels);
    p.a2 = pack_amx(w2, channels, hidden);
  } else {
    p.w1 = pack_weights(w1, hidden, channels);
    p.w2 = pack_weights(w2, channels, hidden);
  }
  p.b1 = pack_bias(b1, hidden);
  p.b2 = pack_bias(b2, channels);
  p.channels = channels;
  p.hidden = hidden;
  return p;
}

void ffn_forward_bf16(const FfnPackedBf16& w, const unsigned short* h, size_t hs, const unsigned short* r, size_t rs,
                      unsigned short* y, size_t ys, int P, int threads, int chunk) {
  const int C = w.channels, Hd = w.hidden, unit = 32;
  // Scratch rows: the input's channel pairs (padded to 16 pair rows, AMX's block) and the hidden
  // pairs (hidden padded to 32). Chunk: that scratch within ~1 MB (L2), a multiple of 32 pixels,
  // and at least as many chunks as threads when the plane allows (each thread runs whole chunks).
  const size_t xs_rows = (size_t)round_up(pairs(C), 16), hid_rows = (size_t)round_up(Hd, 32) / 2;
  const int budget = std::max(unit, (int)((1 << 18) / (xs_rows + hid_rows)) / unit * unit);
  int n = (P + budget - 1) / budget;
  if (P >= threads * kLanes) n = (n + threads - 1) / threads * threads;
  if (chunk <= 0 || chunk % unit) chunk = round_up((P + n - 1) / n, unit);
  const int n_chunks = (P + chunk - 1) / chunk;
  const bool amx = w.kernel == FfnBf16Kernel::kAmx;
  (void)threads;
#pragma omp parallel num_threads(threads) if (threads > 1 && n_chunks > 1)
  {
    // zero-initialised: the padding rows are never written and must read as zero
    std::vector<uint32_t> xs(xs_rows * chunk), hid(hid_rows * chunk);
    alignas(64) float tmp[32 * 32];
    if (amx) configure_tiles();
#pragma omp for schedule(dynamic, 1)
    for (int i = 0; i < n_chunks; ++i) {
      Chunk k;
      k.p0 = i * chunk;
      k.np = std::min(chunk, P - k.p0);
      k.npad = round_up(k.np, unit);
      k.ld = chunk;
      k.xs = xs.data();
      k.hid = hid.data();
      if (amx)
        amx_chunk(w, k, (const uint16_t*)h, hs, (const uint16_t*)r, rs, (uint16_t*)y, ys, P, tmp);
      else
        dot_chunk(w, k, (const uint16_t*)h, hs, (const uint16_t*)r, rs, (uint16_t*)y, ys, P);
    }
    if (amx) _tile_release();
  }
}

}  // namespace pyhpe_rt

#endif
