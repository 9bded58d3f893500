// Native tests of PyhpeRepNeXtFFN's kernel (csrc/include/pyhpe/ffn_kernel.h) against a long-double
// reference written here from the definition, y = r + W2 GELU(W1 h + b1) + b2 with the erf GELU:
// the vector GELU over [-12, 12], then whole forwards on odd shapes (pixel counts that are no
// multiple of the SIMD width or the tile, channel and hidden counts that are no multiple of the
// output-channel tile, plane strides larger than the plane as ncnn pads them, a separate residual
// or the input itself), 1 and 2 threads. Prints "isa=..." first and "N passed, M failed" last;
// exits non-zero on any failure.
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "pyhpe/ffn_kernel.h"
#include "tests/native_check.h"

namespace {

using LD = long double;
namespace ffn = pyhpe::ffn;
using native_check::check;

LD ref_gelu(LD x) { return 0.5L * x * (1.0L + std::erf(x / std::sqrt(2.0L))); }

// The vector GELU on a grid: absolute error <= 1e-6 * max(1, |x|) (A&S 7.1.26 is good to 1.5e-7
// in erf, plus float rounding).
void test_gelu() {
  const int n = 24001;
  std::vector<float> xs(n);
  for (int i = 0; i < n; ++i) xs[i] = -12.0f + 24.0f * i / (n - 1);
  xs.push_back(0.0f);
  xs.push_back(-0.0f);
  xs.push_back(1e-30f);
  xs.push_back(-80.0f);
  xs.push_back(80.0f);
  while (xs.size() % ffn::kLanes) xs.push_back(0.5f);
  LD worst = 0;
  for (size_t i = 0; i < xs.size(); i += ffn::kLanes) {
    ffn::V v;
    for (int l = 0; l < ffn::kLanes; ++l) v[l] = xs[i + l];
    const ffn::V g = ffn::gelu(v);
    for (int l = 0; l < ffn::kLanes; ++l) {
      const LD x = xs[i + l], err = std::fabs((LD)g[l] - ref_gelu(x)) / std::max((LD)1, std::fabs(x));
      worst = std::max(worst, err);
      check(err <= 1e-6L, "gelu", "grid", err, 1e-6L);
    }
  }
  std::printf("gelu: max error %.3Lg (relative to max(1, |x|))\n", worst);
}

struct Case {
  int C, hidden, P, pad;  // pad: plane stride - P
  bool residual;          // a separate residual blob (else r = h)
  int chunk;              // pixels per chunk in SIMD vectors (0: the kernel's choice)
};

void test_forward(const Case& cs, int threads, std::mt19937& rng) {
  const int C = cs.C, Hd = cs.hidden, P = cs.P;
  const size_t stride = (size_t)P + cs.pad;
  std::normal_distribution<float> n(0.0f, 1.0f);
  std::vector<float> w1((size_t)Hd * C), b1(Hd), w2((size_t)C * Hd), b2(C);
  for (auto* v : {&w1, &b1, &w2, &b2})
    for (auto& x : *v) x = n(rng) * 0.5f;
  // ncnn-like blobs: C planes of `stride` floats; the padding holds NaN so reading it would show
  std::vector<float> h(C * stride, NAN), r(C * stride, NAN), y(C * stride + 16, NAN);
  for (int c = 0; c < C; ++c)
    for (int p = 0; p < P; ++p) {
      h[c * stride + p] = n(rng);
      r[c * stride + p] = n(rng);
    }
  const float* rr = cs.residual ? r.data() : h.data();
  const auto pw1 = ffn::pack_weights(w1.data(), Hd, C), pb1 = ffn::pack_bias(b1.data(), Hd);
  const auto pw2 = ffn::pack_weights(w2.data(), C, Hd), pb2 = ffn::pack_bias(b2.data(), C);
  ffn::Weights wt;
  wt.w1 = pw1.data();
  wt.b1 = pb1.data();
  wt.w2 = pw2.data();
  wt.b2 = pb2.data();
  wt.channels = C;
  wt.hidden = Hd;
  ffn::forward(wt, h.data(), stride, rr, stride, y.data(), stride, P, threads, cs.chunk * ffn::kLanes);

  char cfg[160];
  std::snprintf(cfg, sizeof cfg, "C=%d hidden=%d P=%d stride=%zu residual=%d chunk=%d threads=%d", C, Hd, P,
                stride, (int)cs.residual, cs.chunk, threads);
  std::vector<LD> hid(Hd);
  for (int p = 0; p < P; ++p) {
    for (int j = 0; j < Hd; ++j) {
      LD a = b1[j];
      for (int c = 0; c < C; ++c) a += (LD)w1[(size_t)j * C + c] * h[c * stride + p];
      hid[j] = ref_gelu(a);
    }
    for (int c = 0; c < C; ++c) {
      LD a = (LD)b2[c] + rr[c * stride + p], mag = std::fabs((LD)b2[c]) + std::fabs((LD)rr[c * stride + p]);
      for (int j = 0; j < Hd; ++j) {
        a += (LD)w2[(size_t)c * Hd + j] * hid[j];
        mag += std::fabs((LD)w2[(size_t)c * Hd + j] * hid[j]);
      }
      // float accumulation over C + hidden terms, and the GELU's ~1e-6
      const LD tol = 1e-6L * (mag + 1) * std::sqrt((LD)(C + Hd)) + 1e-6L * mag;
      const LD err = std::fabs((LD)y[c * stride + p] - a);
      check(err <= tol, "forward", cfg, err, tol);  // NaN fails too
    }
  }
  // nothing written outside the planes' P pixels
  bool clean = true;
  for (int c = 0; c < C; ++c)
    for (size_t p = P; p < stride; ++p) clean = clean && std::isnan(y[c * stride + p]);
  for (size_t i = C * stride; i < y.size(); ++i) clean = clean && std::isnan(y[i]);
  check(clean, "no write outside the planes", cfg, 0, 0);
}

}  // namespace

int main() {
  std::printf("isa=%s lanes=%d tile=%dx%d\n", ffn::kIsa, ffn::kLanes, ffn::kTileOc, ffn::kTileVec * ffn::kLanes);
  test_gelu();
  std::mt19937 rng(7);
  const Case cases[] = {
      {1, 1, 1, 0, true, 0},      {3, 5, 7, 1, true, 0},     {5, 10, 17, 3, false, 0}, {8, 16, 49, 3, true, 0},
      {12, 24, 50, 2, false, 0},  {17, 34, 97, 0, true, 0},  {9, 13, 200, 4, true, 0}, {24, 48, 196, 0, false, 0},
      {32, 64, 1025, 3, true, 0}, {7, 3, 3136, 0, false, 0},
      // several chunks, the last one short: 2, 5 and 7 SIMD vectors per chunk
      {16, 32, 301, 3, true, 2},  {10, 20, 301, 0, false, 5}, {40, 80, 150, 2, true, 7},
  };
  for (const Case& cs : cases)
    for (int threads : {1, 2}) test_forward(cs, threads, rng);
  return native_check::finish();
}
