// Native tests of PyhpeRepNeXtStem's kernel (csrc/include/pyhpe/stem_kernel.h) against a
// long-double reference written here from the definition: y = conv2(GELU(conv1(x))), both 3x3
// convolutions of stride 2 and padding 1 with bias, the erf GELU. Shapes: RepNeXt-M4's stem at
// 224 x 224, and odd ones (sides of 1, 2, odd and even, channel counts that are no multiple of
// the output-channel tile, plane strides larger than the plane as ncnn pads them), 1 and 2
// threads. Also checks that nothing is written outside the output planes. Prints "isa=..."
// first and "N passed, M failed" last; exits non-zero on any failure.
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "pyhpe/stem_kernel.h"
#include "tests/native_check.h"

namespace {

using LD = long double;
namespace ffn = pyhpe::ffn;
namespace stem = pyhpe::stem;
using native_check::check;

LD ref_gelu(LD x) { return 0.5L * x * (1.0L + std::erf(x / std::sqrt(2.0L))); }

// out[o][i][j] = b[o] + sum over c, ky, kx of w[o][c][ky][kx] in[c][2i + ky - 1][2j + kx - 1]
// (zero outside); also the sum of the terms' magnitudes, for the tolerance.
void ref_conv(const std::vector<LD>& in, int C, int H, int W, const std::vector<float>& w, const std::vector<float>& b,
              int O, std::vector<LD>* out, std::vector<LD>* mag) {
  const int Ho = stem::halve(H), Wo = stem::halve(W);
  out->assign((size_t)O * Ho * Wo, 0);
  mag->assign(out->size(), 0);
  for (int o = 0; o < O; ++o)
    for (int i = 0; i < Ho; ++i)
      for (int j = 0; j < Wo; ++j) {
        LD a = b[o], m = std::fabs((LD)b[o]);
        for (int c = 0; c < C; ++c)
          for (int ky = 0; ky < 3; ++ky)
            for (int kx = 0; kx < 3; ++kx) {
              const int y = 2 * i + ky - 1, x = 2 * j + kx - 1;
              if (y < 0 || y >= H || x < 0 || x >= W) continue;
              const LD t = (LD)w[((size_t)(o * C + c) * 3 + ky) * 3 + kx] * in[((size_t)c * H + y) * W + x];
              a += t;
              m += std::fabs(t);
            }
        (*out)[((size_t)o * Ho + i) * Wo + j] = a;
        (*mag)[((size_t)o * Ho + i) * Wo + j] = m;
      }
}

struct Case {
  int cin, c1, c2, H, W, pad;  // pad: extra floats per plane, input and output
};

void test_forward(const Case& cs, int threads, std::mt19937& rng) {
  const stem::Geometry g(cs.H, cs.W);
  std::normal_distribution<float> n(0.0f, 1.0f);
  std::vector<float> w1((size_t)cs.c1 * cs.cin * 9), b1(cs.c1), w2((size_t)cs.c2 * cs.c1 * 9), b2(cs.c2);
  for (auto& v : w1) v = n(rng) * 0.5f;
  for (auto& v : b1) v = n(rng) * 0.5f;
  for (auto& v : w2) v = n(rng) * 0.2f;
  for (auto& v : b2) v = n(rng) * 0.5f;
  const size_t xs = (size_t)cs.H * cs.W + cs.pad, ys = (size_t)g.H2 * g.W2 + cs.pad;
  std::vector<float> x(cs.cin * xs, NAN), y(cs.c2 * ys + 16, NAN);
  std::vector<LD> xl((size_t)cs.cin * cs.H * cs.W);
  for (int c = 0; c < cs.cin; ++c)
    for (int p = 0; p < cs.H * cs.W; ++p) xl[(size_t)c * cs.H * cs.W + p] = x[c * xs + p] = n(rng);
  const auto pw1 = ffn::pack_weights(w1.data(), cs.c1, cs.cin * 9), pb1 = ffn::pack_bias(b1.data(), cs.c1);
  const auto pw2 = ffn::pack_weights(w2.data(), cs.c2, cs.c1 * 9), pb2 = ffn::pack_bias(b2.data(), cs.c2);
  stem::Weights wt;
  wt.w1 = pw1.data();
  wt.b1 = pb1.data();
  wt.w2 = pw2.data();
  wt.b2 = pb2.data();
  wt.cin = cs.cin;
  wt.c1 = cs.c1;
  wt.c2 = cs.c2;
  std::vector<float> scratch(stem::scratch_floats(wt, cs.H, cs.W), NAN);  // NaN: every value read is written first
  stem::forward(wt, x.data(), xs, cs.H, cs.W, y.data(), ys, scratch.data(), threads);

  std::vector<LD> mid, mid_mag, out, out_mag;
  ref_conv(xl, cs.cin, cs.H, cs.W, w1, b1, cs.c1, &mid, &mid_mag);
  std::vector<LD> mid_err(mid.size());
  for (size_t i = 0; i < mid.size(); ++i) {
    // float accumulation over Cin * 9 terms, then the GELU (1e-7 of max(1, |x|))
    mid_err[i] = 1e-7L * mid_mag[i] * std::sqrt((LD)cs.cin * 9) + 2e-7L * std::max((LD)1, std::fabs(mid[i]));
    mid[i] = ref_gelu(mid[i]);
  }
  ref_conv(mid, cs.c1, g.H1, g.W1, w2, b2, cs.c2, &out, &out_mag);
  std::vector<float> w2abs(w2.size());
  for (size_t i = 0; i < w2.size(); ++i) w2abs[i] = std::fabs(w2[i]);
  std::vector<LD> prop, unused;  // how conv2 carries mid's error: |W2| * mid_err
  ref_conv(mid_err, cs.c1, g.H1, g.W1, w2abs, std::vector<float>(cs.c2, 0.0f), cs.c2, &prop, &unused);

  char cfg[160];
  std::snprintf(cfg, sizeof cfg, "Cin=%d C1=%d C2=%d H=%d W=%d pad=%d threads=%d", cs.cin, cs.c1, cs.c2, cs.H, cs.W,
                cs.pad, threads);
  const int P2 = g.H2 * g.W2;
  for (int o = 0; o < cs.c2; ++o)
    for (int p = 0; p < P2; ++p) {
      const size_t i = (size_t)o * P2 + p;
      const LD tol = 1e-7L * out_mag[i] * std::sqrt((LD)cs.c1 * 9) + prop[i] + 1e-7L * (out_mag[i] + 1);
      const LD err = std::fabs((LD)y[o * ys + p] - out[i]);
      check(err <= tol, "forward", cfg, err, tol);  // NaN fails too
    }
  bool clean = true;
  for (int o = 0; o < cs.c2; ++o)
    for (size_t p = P2; p < ys; ++p) clean = clean && std::isnan(y[o * ys + p]);
  for (size_t i = cs.c2 * ys; i < y.size(); ++i) clean = clean && std::isnan(y[i]);
  check(clean, "no write outside the planes", cfg, 0, 0);
}

}  // namespace

int main() {
  std::printf("isa=%s lanes=%d tile=%dx%d\n", ffn::kIsa, ffn::kLanes, ffn::kTileOc, ffn::kTileVec * ffn::kLanes);
  std::mt19937 rng(11);
  const Case cases[] = {
      {3, 32, 64, 224, 224, 0},  // RepNeXt-M4
      {3, 20, 40, 64, 64, 4},    // M0 at the demo's size
      {3, 12, 20, 17, 23, 3},   {3, 5, 9, 1, 1, 0},     {2, 3, 4, 2, 3, 1},   {3, 8, 16, 7, 5, 0},
      {1, 1, 1, 4, 4, 2},       {4, 16, 8, 33, 9, 0},   {3, 9, 17, 6, 50, 5}, {3, 24, 48, 97, 3, 0},
  };
  for (const Case& cs : cases)
    for (int threads : {1, 2}) test_forward(cs, threads, rng);
  return native_check::finish();
}
