// PyhpeRepNeXtFFN's kernel in ARMv8.2 fp16 arithmetic (aarch64 only; compiled with
// -march=armv8.2-a+fp16 and called only where ncnn::cpu_support_arm_asimdhp() holds, as ncnn
// compiles and dispatches its own arm82 layer variants). See ffn_forward.h.
//
// Same data flow as the fp32 kernel (pyhpe/ffn_kernel.h), written for float16x8_t: lanes run over
// 8 consecutive pixels of one channel; a register tile is 8 output channels x 2 pixel vectors
// (16 of the 32 q registers accumulate, weights broadcast by lane from one packed 8-wide load).
// Pixels are processed in chunks: the chunk's input is copied into a zero-padded fp16 scratch,
// GEMM 1 accumulates W1 x + b1 in fp16, GELU is evaluated in fp32 (the exact erf form, A&S 7.1.26
// with Cephes' exp, as the fp32 kernel) and stored in fp16, GEMM 2 accumulates b2 + W2 hidden in
// fp16 and adds the residual. Accumulating in fp16 is what ncnn's own fp16 convolutions do; the
// resulting pose error is measured in tests/runtime/test_runtime_precision.py.
//
// Everything here has internal linkage except the three entry points, so no inline function of
// this ARMv8.2 unit can stand in for a baseline one at link time.
#include "ffn_forward.h"

#if defined(__aarch64__) && defined(__ARM_FEATURE_FP16_VECTOR_ARITHMETIC)

#include <arm_neon.h>
#include <string.h>

#include <algorithm>
#include <vector>

namespace pyhpe_rt {

namespace {

constexpr int kLanes = 8, kTileOc = 8, kTileVec = 2, kChunkVecs = kTileVec;

inline int tiles(int n) { return (n + kTileOc - 1) / kTileOc; }

std::vector<unsigned short> pack_weights(const float* w, int out, int in) {
  std::vector<unsigned short> p((size_t)tiles(out) * in * kTileOc, 0);
  for (int o = 0; o < out; ++o)
    for (int c = 0; c < in; ++c) {
      const __fp16 h = (__fp16)w[(size_t)o * in + c];
      memcpy(&p[((size_t)(o / kTileOc) * in + c) * kTileOc + o % kTileOc], &h, 2);
    }
  return p;
}

std::vector<unsigned short> pack_bias(const float* b, int n) {
  std::vector<unsigned short> p((size_t)tiles(n) * kTileOc, 0);
  for (int i = 0; i < n; ++i) {
    const __fp16 h = (__fp16)b[i];
    memcpy(&p[i], &h, 2);
  }
  return p;
}

// e^x for x <= 0, clamped at -87 (the fp32 kernel's exp_neg, in NEON intrinsics).
inline float32x4_t exp_neg(float32x4_t x) {
  x = vmaxq_f32(x, vdupq_n_f32(-87.0f));
  const float32x4_t magic = vdupq_n_f32(12582912.0f + 127.0f);
  const float32x4_t t = vfmaq_f32(magic, x, vdupq_n_f32(1.44269504088896341f));
  const float32x4_t n = vsubq_f32(t, magic);
  float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693359375f));
  r = vfmsq_f32(r, n, vdupq_n_f32(-2.12194440e-4f));
  float32x4_t p = vdupq_n_f32(1.9875691500e-4f);
  p = vfmaq_f32(vdupq_n_f32(1.3981999507e-3f), p, r);
  p = vfmaq_f32(vdupq_n_f32(8.3334519073e-3f), p, r);
  p = vfmaq_f32(vdupq_n_f32(4.1665795894e-2f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.6666665459e-1f), p, r);
  p = vfmaq_f32(vdupq_n_f32(5.0000001201e-1f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
  return vmulq_f32(p, vreinterpretq_f32_u32(vshlq_n_u32(vreinterpretq_u32_f32(t), 23)));
}

// Exact (erf) GELU: x (1 - q/2) for x >= 0, x q/2 for x < 0, q = 1 - erf(|x| / sqrt 2).
inline float32x4_t gelu(float32x4_t x) {
  const float32x4_t a = vabsq_f32(x);
  const float32x4_t t = vdivq_f32(vdupq_n_f32(1.0f), vfmaq_f32(vdupq_n_f32(1.0f), a, vdupq_n_f32(0.3275911f * 0.70710678118654752f)));
  float32x4_t p = vdupq_n_f32(0.5f * 1.061405429f);
  p = vfmaq_f32(vdupq_n_f32(0.5f * -1.453152027f), p, t);
  p = vfmaq_f32(vdupq_n_f32(0.5f * 1.421413741f), p, t);
  p = vfmaq_f32(vdupq_n_f32(0.5f * -0.284496736f), p, t);
  p = vfmaq_f32(vdupq_n_f32(0.5f * 0.254829592f), p, t);
  const float32x4_t hq = vmulq_f32(vmulq_f32(p, t), exp_neg(vmulq_f32(x, vmulq_f32(x, vdupq_n_f32(-0.5f)))));
  const uint32x4_t neg = vcltq_f32(x, vdupq_n_f32(0.0f));
  return vmulq_f32(x, vbslq_f32(neg, hq, vsubq_f32(vdupq_n_f32(1.0f), hq)));
}

inline float16x8_t gelu(float16x8_t x) {
  return vcombine_f16(vcvt_f16_f32(gelu(vcvt_f32_f16(vget_low_f16(x)))), vcvt_f16_f32(gelu(vcvt_high_f32_f16(x))));
}

// acc[o][v] = bias[o] + sum_k w[k][o] * in[k][v * 8 ...] over K rows (row stride ld).
inline void accumulate(const __fp16* w, const __fp16* bias, const __fp16* in, size_t ld, int K,
                       float16x8_t (&acc)[kTileOc][kTileVec]) {
  const float16x8_t b = vld1q_f16(bias);
#define PYHPE_INIT(o) acc[o][0] = acc[o][1] = vdupq_laneq_f16(b, o);
  PYHPE_INIT(0) PYHPE_INIT(1) PYHPE_INIT(2) PYHPE_INIT(3) PYHPE_INIT(4) PYHPE_INIT(5) PYHPE_INIT(6) PYHPE_INIT(7)
#undef PYHPE_INIT
  for (int k = 0; k < K; ++k) {
    const __fp16* row = in + (size_t)k * ld;
    const float16x8_t wk = vld1q_f16(w + (size_t)k * kTileOc);
    __builtin_prefetch(w + (size_t)k * kTileOc + 512);
    const float16x8_t x0 = vld1q_f16(row), x1 = vld1q_f16(row + kLanes);
#define PYHPE_FMA(o)                                   \
  acc[o][0] = vfmaq_laneq_f16(acc[o][0], x0, wk, o);   \
  acc[o][1] = vfmaq_laneq_f16(acc[o][1], x1, wk, o);
    PYHPE_FMA(0) PYHPE_FMA(1) PYHPE_FMA(2) PYHPE_FMA(3) PYHPE_FMA(4) PYHPE_FMA(5) PYHPE_FMA(6) PYHPE_FMA(7)
#undef PYHPE_FMA
  }
}

// One chunk of n pixels (n <= chunk) starting at pixel p0.
void run_chunk(const FfnPackedF16& w, const __fp16* h, size_t hs, const __fp16* r, size_t rs, __fp16* y, size_t ys,
               int p0, int n, int chunk, __fp16* xs, __fp16* hid) {
  const int C = w.channels, Hd = w.hidden;
  for (int c = 0; c < C; ++c) {
    memcpy(xs + (size_t)c * chunk, h + c * hs + p0, n * sizeof(__fp16));
    memset(xs + (size_t)c * chunk + n, 0, (chunk - n) * sizeof(__fp16));
  }
  const __fp16* w1 = (const __fp16*)w.w1.data();
  const __fp16* b1 = (const __fp16*)w.b1.data();
  const __fp16* w2 = (const __fp16*)w.w2.data();
  const __fp16* b2 = (const __fp16*)w.b2.data();
  float16x8_t acc[kTileOc][kTileVec];
  for (int t = 0; t < tiles(Hd); ++t)
    for (int v0 = 0; v0 < chunk; v0 += kTileVec * kLanes) {
      accumulate(w1 + (size_t)t * C * kTileOc, b1 + t * kTileOc, xs + v0, chunk, C, acc);
      for (int o = 0; o < kTileOc && t * kTileOc + o < Hd; ++o)
        for (int v = 0; v < kTileVec; ++v)
          vst1q_f16(hid + (size_t)(t * kTileOc + o) * chunk + v0 + v * kLanes, gelu(acc[o][v]));
    }
  __fp16 tmp[kTileVec * kLanes];
  for (int t = 0; t < tiles(C); ++t)
    for (int v0 = 0; v0 < n; v0 += kTileVec * kLanes) {
      accumulate(w2 + (size_t)t * Hd * kTileOc, b2 + t * kTileOc, hid + v0, chunk, Hd, acc);
      const int m = std::min(n - v0, kTileVec * kLanes);
      for (int o = 0; o < kTileOc && t * kTileOc + o < C; ++o) {
        const int c = t * kTileOc + o;
        const __fp16* rr = r + c * rs + p0 + v0;
        __fp16* yy = y + c * ys + p0 + v0;
        if (m == kTileVec * kLanes) {
          vst1q_f16(yy, vaddq_f16(acc[o][0], vld1q_f16(rr)));
          vst1q_f16(yy + kLanes, vaddq_f16(acc[o][1], vld1q_f16(rr + kLanes)));
        } else {
          vst1q_f16(tmp, acc[o][0]);
          vst1q_f16(tmp + kLanes, acc[o][1]);
          for (int i = 0; i < m; ++i) yy[i] = tmp[i] + rr[i];
        }
      }
    }
}

}  // namespace

bool ffn_fp16_compiled() { return true; }

FfnPackedF16 ffn_pack_fp16(const float* w1, const float* b1, const float* w2, const float* b2, int channels,
                           int hidden) {
  FfnPackedF16 p;
  p.w1 = pack_weights(w1, hidden, channels);
  p.b1 = pack_bias(b1, hidden);
  p.w2 = pack_weights(w2, channels, hidden);
  p.b2 = pack_bias(b2, channels);
  p.channels = channels;
  p.hidden = hidden;
  return p;
}

void ffn_forward_fp16(const FfnPackedF16& w, const unsigned short* h, size_t hs, const unsigned short* r, size_t rs,
                      unsigned short* y, size_t ys, int P, int threads) {
  const int C = w.channels, Hd = w.hidden, step = kChunkVecs * kLanes;
  // Chunk: the fp16 scratch (C + Hd) x chunk within ~192 KB (L2), a multiple of 16 pixels, and at
  // least as many chunks as threads when the plane allows it.
  int chunk = std::max(step, (int)(196608 / (2 * (C + Hd))) / step * step);
  const int per_thread = ((P + threads - 1) / threads + step - 1) / step * step;
  chunk = std::min(chunk, std::max(step, per_thread));
  const int n_chunks = (P + chunk - 1) / chunk;
#pragma omp parallel num_threads(threads) if (threads > 1 && n_chunks > 1)
  {
    std::vector<__fp16> xs((size_t)C * chunk), hid((size_t)Hd * chunk);
#pragma omp for schedule(dynamic, 1)
    for (int i = 0; i < n_chunks; ++i) {
      const int p0 = i * chunk;
      run_chunk(w, (const __fp16*)h, hs, (const __fp16*)r, rs, (__fp16*)y, ys, p0, std::min(chunk, P - p0), chunk,
                xs.data(), hid.data());
    }
  }
}

}  // namespace pyhpe_rt

#endif
