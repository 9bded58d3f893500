// Run-time choices for PyhpeRepNeXtFFN: between the per-ISA builds of its fp32 kernel (pyhpe/isa.h),
// and of the path bf16 blobs take (AMX, VDPBF16PS or widening; timed where there is no AMX).
#include "ffn_forward.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <string>
#include <vector>

#include "bf16.h"

namespace pyhpe_rt {

namespace {

const FfnKernels& kernels() { return PYHPE_ISA_CHOSEN(kFfnKernels, PYHPE_ISAS_RT_FFN); }

}  // namespace

FfnPacked ffn_pack(const float* w1, const float* b1, const float* w2, const float* b2, int channels, int hidden) {
  FfnPacked p;
  kernels().pack(w1, b1, w2, b2, channels, hidden, &p);
  p.kernels = &kernels();
  return p;
}

void ffn_forward(const FfnPacked& w, const float* h, size_t hs, const float* r, size_t rs, float* y, size_t ys,
                 int P, int threads) {
  w.kernels->forward(w, h, hs, r, rs, y, ys, P, threads);
}

const char* ffn_isa() { return kernels().isa; }

namespace {

// Best wall time of f() in ms over `runs` calls.
template <class F>
double best_ms(F&& f, int runs) {
  double best = 1e30;
  for (int i = 0; i < runs; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

FfnBf16Timing g_timing;  // set by the one timed choice ffn_bf16_kernel makes, if it makes one

// PYHPE_FFN_BF16 ("" when unset; ffn_forward.h lists the values).
std::string requested_bf16_path() {
  const char* v = getenv("PYHPE_FFN_BF16");
  return v ? v : "";
}

}  // namespace

FfnBf16Kernel ffn_bf16_time(FfnBf16Timing* timing) {
  // One RepNeXt-M4 stage-3 FFN (C 256, hidden 512, a 14 x 14 plane), 1 thread, random weights;
  // the fp32 path converts as the layer does (bf16 planes widened, the result narrowed).
  const int C = 256, Hd = 512, P = 196;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-0.5f, 0.5f);
  std::vector<float> w1((size_t)Hd * C), b1(Hd), w2((size_t)C * Hd), b2(C), hf((size_t)C * P), yf((size_t)C * P);
  for (std::vector<float>* v : {&w1, &b1, &w2, &b2})
    for (float& x : *v) x = u(rng) * 0.1f;
  std::vector<uint16_t> h((size_t)C * P), y((size_t)C * P);
  for (uint16_t& x : h) x = f32_to_bf16(u(rng));
  const FfnPackedBf16 dot = ffn_pack_bf16(w1.data(), b1.data(), w2.data(), b2.data(), C, Hd, FfnBf16Kernel::kDot);
  const FfnPacked f32 = ffn_pack(w1.data(), b1.data(), w2.data(), b2.data(), C, Hd);
  auto run_dot = [&] { ffn_forward_bf16(dot, h.data(), P, h.data(), P, y.data(), P, P, 1); };
  auto run_f32 = [&] {
    for (size_t i = 0; i < h.size(); ++i) hf[i] = bf16_to_f32(h[i]);
    ffn_forward(f32, hf.data(), P, hf.data(), P, yf.data(), P, P, 1);
    for (size_t i = 0; i < y.size(); ++i) y[i] = f32_to_bf16(yf[i]);
  };
  FfnBf16Timing t;
  for (int round = 0; round < 4; ++round) {  // interleaved; the first round warms up
    const double d = best_ms(run_dot, 2), f = best_ms(run_f32, 2);
    if (round > 0) t.dot_ms = std::min(t.dot_ms, d), t.fp32_ms = std::min(t.fp32_ms, f);
  }
  if (timing) *timing = t;
  return t.dot_ms < t.fp32_ms ? FfnBf16Kernel::kDot : FfnBf16Kernel::kNone;
}

FfnBf16Kernel ffn_bf16_kernel() {
  static const FfnBf16Kernel k = [] {
    if (!ffn_bf16_compiled()) return FfnBf16Kernel::kNone;
    const std::string want = requested_bf16_path();
    if (want == "fp32") return FfnBf16Kernel::kNone;
    const bool dot = ffn_bf16_runs(FfnBf16Kernel::kDot);
    if (want == "dot" || want == "1") return dot ? FfnBf16Kernel::kDot : FfnBf16Kernel::kNone;
    if (want != "time" && ffn_bf16_runs(FfnBf16Kernel::kAmx)) return FfnBf16Kernel::kAmx;  // unset, "amx"
    if (want == "amx" || !dot) return FfnBf16Kernel::kNone;
    return ffn_bf16_time(&g_timing);  // AVX512-BF16 without AMX (or "time"): the faster of the two here
  }();
  return k;
}

const FfnBf16Timing* ffn_bf16_timing() {
  ffn_bf16_kernel();
  return g_timing.dot_ms < 1e30 ? &g_timing : nullptr;
}

bool ffn_bf16_may_run() {
  if (!ffn_bf16_compiled() || requested_bf16_path() == "fp32") return false;
  return ffn_bf16_runs(FfnBf16Kernel::kAmx) || ffn_bf16_runs(FfnBf16Kernel::kDot);
}

const char* ffn_bf16_path() {
  static const std::string path = [] {
    std::string s = ffn_bf16_kernel() == FfnBf16Kernel::kAmx   ? "amx"
                    : ffn_bf16_kernel() == FfnBf16Kernel::kDot ? "avx512bf16"
                                                               : "via fp32";
    if (const FfnBf16Timing* t = ffn_bf16_timing()) {
      char buf[96];
      snprintf(buf, sizeof buf, " (timed: avx512bf16 %.3f ms, via fp32 %.3f ms)", t->dot_ms, t->fp32_ms);
      s += buf;
    }
    return s;
  }();
  return path.c_str();
}

#if !PYHPE_RT_FFN_FP16
// No fp16 kernel in this build (ffn_forward_fp16.cpp is compiled on aarch64 only).
bool ffn_fp16_compiled() { return false; }
FfnPackedF16 ffn_pack_fp16(const float*, const float*, const float*, const float*, int, int) { return {}; }
void ffn_forward_fp16(const FfnPackedF16&, const unsigned short*, size_t, const unsigned short*, size_t, unsigned short*,
                      size_t, int, int) {}
#endif

#if !PYHPE_RT_FFN_BF16
// No bf16 kernel in this build (ffn_forward_bf16.cpp is compiled on x86-64 with AVX512-BF16 only).
bool ffn_bf16_compiled() { return false; }
bool ffn_bf16_runs(FfnBf16Kernel) { return false; }
FfnPackedBf16 ffn_pack_bf16(const float*, const float*, const float*, const float*, int, int, FfnBf16Kernel) {
  return {};
}
void ffn_forward_bf16(const FfnPackedBf16&, const unsigned short*, size_t, const unsigned short*, size_t,
                      unsigned short*, size_t, int, int, int) {}
#endif

}  // namespace pyhpe_rt
