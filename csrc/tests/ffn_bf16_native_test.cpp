// Native tests of PyhpeRepNeXtFFN's bf16 kernels (csrc/runtime/src/ffn_forward_bf16.cpp: AMX and
// AVX512-BF16), each where the CPU has it,
// against a long-double reference written here from the definition, y = r + W2 GELU(W1 h + b1) + b2
// with the erf GELU, evaluated on the same bf16 inputs and weights, the hidden activations rounded
// to bf16 as the kernel stores them. Odd shapes as ffn_native_test.cpp: channel and hidden counts
// that are odd (a zero-padded channel pair) or no multiple of the 8-channel tile, pixel counts
// that are no multiple of 16 or of the 48-pixel tile, plane strides beyond the plane, a separate
// residual or the input itself, several chunks, 1 and 2 threads. Prints "isa=avx512bf16 ..."
// first, which kernels ran, and "N passed, M failed" last; on a CPU with neither it prints why and
// "0 passed, 0 failed" (the test that runs it skips there).
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "ffn_forward.h"
#include "tests/native_check.h"

namespace {

using LD = long double;
using native_check::check;

LD ref_gelu(LD x) { return 0.5L * x * (1.0L + std::erf(x / std::sqrt(2.0L))); }

// float -> bf16 bits, round to nearest even (finite inputs only here), and back.
uint16_t to_bf16(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}
float from_bf16(uint16_t b) {
  const uint32_t u = (uint32_t)b << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}
float round_bf16(float f) { return from_bf16(to_bf16(f)); }

struct Case {
  int C, hidden, P, pad;  // pad: plane stride - P
  bool residual;          // a separate residual blob (else r = h)
  int chunk;              // pixels per chunk in units of 32 (0: the kernel's choice)
};

const uint16_t kCanary = 0x7fc1;  // a bf16 NaN in the padding: a write there shows

void test_forward(pyhpe_rt::FfnBf16Kernel kernel, const Case& cs, int threads, std::mt19937& rng) {
  const int C = cs.C, Hd = cs.hidden, P = cs.P;
  const size_t stride = (size_t)P + cs.pad;
  std::normal_distribution<float> n(0.0f, 1.0f);
  // weights bf16-exact, so packing them loses nothing and the reference sees what the kernel sees
  std::vector<float> w1((size_t)Hd * C), b1(Hd), w2((size_t)C * Hd), b2(C);
  for (auto* v : {&w1, &w2})
    for (auto& x : *v) x = round_bf16(n(rng) * 0.5f);
  for (auto* v : {&b1, &b2})
    for (auto& x : *v) x = n(rng) * 0.5f;
  std::vector<uint16_t> h(C * stride, kCanary), r(C * stride, kCanary), y(C * stride + 16, kCanary);
  for (int c = 0; c < C; ++c)
    for (int p = 0; p < P; ++p) {
      h[c * stride + p] = to_bf16(n(rng));
      r[c * stride + p] = to_bf16(n(rng));
    }
  const uint16_t* rr = cs.residual ? r.data() : h.data();
  const pyhpe_rt::FfnPackedBf16 w =
      pyhpe_rt::ffn_pack_bf16(w1.data(), b1.data(), w2.data(), b2.data(), C, Hd, kernel);
  pyhpe_rt::ffn_forward_bf16(w, h.data(), stride, rr, stride, y.data(), stride, P, threads, cs.chunk * 32);

  char cfg[180];
  std::snprintf(cfg, sizeof cfg, "%s C=%d hidden=%d P=%d stride=%zu residual=%d chunk=%d threads=%d",
                kernel == pyhpe_rt::FfnBf16Kernel::kAmx ? "amx" : "dot", C, Hd, P, stride, (int)cs.residual,
                cs.chunk, threads);
  std::vector<LD> hid(Hd);
  for (int p = 0; p < P; ++p) {
    for (int j = 0; j < Hd; ++j) {
      LD a = b1[j];
      for (int c = 0; c < C; ++c) a += (LD)w1[(size_t)j * C + c] * from_bf16(h[c * stride + p]);
      hid[j] = round_bf16((float)ref_gelu(a));
    }
    for (int c = 0; c < C; ++c) {
      const LD res = from_bf16(rr[c * stride + p]);
      LD a = (LD)b2[c] + res, mag = 0;
      for (int j = 0; j < Hd; ++j) {
        a += (LD)w2[(size_t)c * Hd + j] * hid[j];
        mag += std::fabs((LD)w2[(size_t)c * Hd + j] * hid[j]);
      }
      // the output's rounding to bf16 (half a step: at most 2^-8 relative), a hidden value
      // rounded the other way where the kernel's fp32 pre-activation differs from the exact one
      // (at most one bf16 step, 2^-7 relative, of a term), fp32 accumulation and GELU
      const LD tol = std::ldexp(std::fabs(a), -8) + std::ldexp(mag, -7) + 1e-5L * (mag + std::fabs(res) + 1);
      const LD err = std::fabs((LD)from_bf16(y[c * stride + p]) - a);
      check(err <= tol, "forward", cfg, err, tol);  // NaN fails too
    }
  }
  bool clean = true;
  for (int c = 0; c < C; ++c)
    for (size_t p = P; p < stride; ++p) clean = clean && y[c * stride + p] == kCanary;
  for (size_t i = C * stride; i < y.size(); ++i) clean = clean && y[i] == kCanary;
  check(clean, "no write outside the planes", cfg, 0, 0);
}

}  // namespace

int main() {
  using pyhpe_rt::FfnBf16Kernel;
  std::printf("isa=avx512bf16 lanes=16 tile=8x48\n");
  std::vector<FfnBf16Kernel> kernels;
  for (FfnBf16Kernel k : {FfnBf16Kernel::kDot, FfnBf16Kernel::kAmx})
    if (pyhpe_rt::ffn_bf16_runs(k)) kernels.push_back(k);
  std::printf("kernels run: dot %s, amx %s\n", pyhpe_rt::ffn_bf16_runs(FfnBf16Kernel::kDot) ? "yes" : "no",
              pyhpe_rt::ffn_bf16_runs(FfnBf16Kernel::kAmx) ? "yes" : "no");
  if (kernels.empty()) {
    std::printf("this CPU has neither AVX512-BF16 nor AMX-BF16: nothing run\n0 passed, 0 failed\n");
    return 0;
  }
  std::mt19937 rng(11);
  const Case cases[] = {
      {1, 1, 1, 0, true, 0},      {3, 5, 7, 1, true, 0},      {5, 10, 17, 3, false, 0}, {8, 16, 49, 3, true, 0},
      {12, 24, 50, 2, false, 0},  {17, 34, 97, 0, true, 0},   {9, 13, 200, 4, true, 0}, {24, 48, 196, 0, false, 0},
      {32, 64, 1025, 3, true, 0}, {7, 3, 3136, 0, false, 0},  {64, 256, 196, 4, true, 0},
      {33, 70, 64, 0, true, 0},   {96, 384, 49, 1, false, 0},
      // several chunks, the last one short: 1, 2, 3 and 5 units of 32 pixels per chunk
      {16, 32, 301, 3, true, 2},  {10, 20, 301, 0, false, 5}, {41, 81, 150, 2, true, 3}, {6, 11, 33, 1, true, 1},
  };
  for (FfnBf16Kernel kernel : kernels)
    for (const Case& cs : cases)
      for (int threads : {1, 2}) test_forward(kernel, cs, threads, rng);
  return native_check::finish();
}
