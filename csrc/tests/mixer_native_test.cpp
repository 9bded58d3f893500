// Native tests of the fused RepNeXt mixer (include/pyhpe/repnext_mixer.h): the SIMD/threaded
// kernels against a direct long-double convolution written here from the definition, for the
// block mixer (identity | 3x3 | 7x7 | 1x11 -> 11x1) and the stride-2 downsample mixer, forward
// (with and without the BN-folding affine) and backward (input and kernel gradients), float32
// and float64, odd plane sizes, 1 and 2 threads. Prints "isa=..." first and
// "N passed, M failed" last; exits non-zero on any failure.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "pyhpe/isa.h"
#include "pyhpe/repnext_mixer.h"
#include "tests/native_check.h"

namespace {

using LD = long double;
using native_check::check;

// Direct same-padded depthwise correlation of one plane (the definition).
std::vector<LD> ref_conv(const std::vector<LD>& in, int H, int W, const std::vector<LD>& w, int kh,
                         int kw, LD bias, int stride, int& Ho, int& Wo) {
  const int ph = (kh - 1) / 2, pw = (kw - 1) / 2;
  Ho = (H + 2 * ph - kh) / stride + 1;
  Wo = (W + 2 * pw - kw) / stride + 1;
  std::vector<LD> out(static_cast<size_t>(Ho) * Wo, bias);
  for (int y = 0; y < Ho; ++y)
    for (int x = 0; x < Wo; ++x)
      for (int dy = 0; dy < kh; ++dy)
        for (int dx = 0; dx < kw; ++dx) {
          const int iy = y * stride + dy - ph, ix = x * stride + dx - pw;
          if (iy >= 0 && iy < H && ix >= 0 && ix < W) out[y * Wo + x] += w[dy * kw + dx] * in[iy * W + ix];
        }
  return out;
}

// Gradients of ref_conv: gin (H x W) += ..., gw (kh x kw) += ..., gb += ...
void ref_conv_grad(const std::vector<LD>& in, int H, int W, const std::vector<LD>& w, int kh, int kw,
                   int stride, const std::vector<LD>& g, int Ho, int Wo, std::vector<LD>& gin,
                   std::vector<LD>& gw, LD& gb) {
  const int ph = (kh - 1) / 2, pw = (kw - 1) / 2;
  for (int y = 0; y < Ho; ++y)
    for (int x = 0; x < Wo; ++x) {
      const LD gv = g[y * Wo + x];
      gb += gv;
      for (int dy = 0; dy < kh; ++dy)
        for (int dx = 0; dx < kw; ++dx) {
          const int iy = y * stride + dy - ph, ix = x * stride + dx - pw;
          if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
          gin[iy * W + ix] += w[dy * kw + dx] * gv;
          gw[dy * kw + dx] += in[iy * W + ix] * gv;
        }
    }
}

template <class T>
struct Kernel {
  int kh, kw, count;
  std::vector<T> w, b;
  std::vector<LD> gw, gb;  // reference gradients
  std::vector<T> our_gw, our_gb;
  Kernel(int kh_, int kw_, int count_, std::mt19937& rng) : kh(kh_), kw(kw_), count(count_) {
    std::normal_distribution<double> n(0.0, 0.5);
    w.resize(static_cast<size_t>(count) * kh * kw);
    b.resize(count);
    for (auto& v : w) v = static_cast<T>(n(rng));
    for (auto& v : b) v = static_cast<T>(n(rng));
    gw.assign(w.size(), 0);
    gb.assign(b.size(), 0);
    our_gw.assign(w.size(), 0);
    our_gb.assign(b.size(), 0);
  }
  std::vector<LD> plane(int c) const {
    return std::vector<LD>(w.begin() + c * kh * kw, w.begin() + (c + 1) * kh * kw);
  }
  pyhpe::mixer::DwConv<T> view() const { return {w.data(), b.data(), kh, kw}; }
  pyhpe::mixer::DwConvGrad<T> grad_view() { return {our_gw.data(), our_gb.data()}; }
};

template <class T>
LD max_err(const T* ours, const std::vector<LD>& want, LD& scale) {
  LD err = 0;
  scale = 1;
  for (size_t i = 0; i < want.size(); ++i) {
    err = std::max(err, std::fabs(static_cast<LD>(ours[i]) - want[i]));
    scale = std::max(scale, std::fabs(want[i]));
  }
  return err;
}

// NCHW <-> NHWC copies of an N x C x H x W tensor (elements converted to Out).
template <class Out, class T>
std::vector<Out> relayout(const std::vector<T>& t, int N, int C, int H, int W, bool to_nhwc) {
  std::vector<Out> out(t.size());
  for (int n = 0; n < N; ++n)
    for (int c = 0; c < C; ++c)
      for (int i = 0; i < H * W; ++i) {
        const size_t nchw = (static_cast<size_t>(n) * C + c) * H * W + i;
        const size_t nhwc = (static_cast<size_t>(n) * H * W + i) * C + c;
        if (to_nhwc) {
          out[nhwc] = t[nchw];
        } else {
          out[nchw] = t[nhwc];
        }
      }
  return out;
}

template <class T>
std::vector<T> to_nhwc(const std::vector<T>& t, int N, int C, int H, int W) {
  return relayout<T>(t, N, C, H, W, true);
}

template <class T>
std::vector<LD> from_nhwc(const std::vector<T>& t, int N, int C, int H, int W) {
  return relayout<LD>(t, N, C, H, W, false);
}

// The channels_last path (p.nhwc) must give what the NCHW path gave (checked against the
// reference above): forward y, and with affine off the input and kernel gradients.
template <class T>
void check_nhwc(const std::vector<T>& x, const std::vector<T>& gy, const std::vector<T>& y,
                const std::vector<T>* gx, pyhpe::mixer::Params<T> p,
                std::vector<Kernel<T>*> kernels, int N, int C, int H, int W, int Cout, int Ho,
                int Wo, int threads, const char* cfg, LD tol) {
  p.nhwc = true;
  std::vector<T> x_cl = to_nhwc(x, N, C, H, W), y_cl(y.size(), std::nan(""));
  pyhpe::mixer::forward(x_cl.data(), p, N, C, H, W, y_cl.data(), threads);
  LD sc;
  std::vector<LD> y_back = from_nhwc(y_cl, N, Cout, Ho, Wo);
  LD err = max_err(y.data(), y_back, sc);
  check(err <= tol * sc, "nhwc forward", cfg, err, tol * sc);
  if (!gx) return;
  std::vector<T> gy_cl = to_nhwc(gy, N, Cout, Ho, Wo), gx_cl(x.size(), std::nan(""));
  std::vector<std::vector<T>> gws, gbs;
  pyhpe::mixer::Grads<T> g;
  pyhpe::mixer::DwConvGrad<T>* slots[4] = {&g.s, &g.m, &g.l1, &g.l2};
  for (size_t i = 0; i < kernels.size(); ++i) {
    gws.emplace_back(kernels[i]->w.size(), T(0));
    gbs.emplace_back(kernels[i]->b.size(), T(0));
  }
  for (size_t i = 0; i < kernels.size(); ++i) *slots[i] = {gws[i].data(), gbs[i].data()};
  pyhpe::mixer::backward(gy_cl.data(), x_cl.data(), p, g, N, C, H, W, gx_cl.data(), threads);
  std::vector<LD> gx_back = from_nhwc(gx_cl, N, C, H, W);
  err = max_err(gx->data(), gx_back, sc);
  check(err <= tol * sc, "nhwc grad_x", cfg, err, tol * sc);
  for (size_t i = 0; i < kernels.size(); ++i) {
    const std::vector<LD> want_w(kernels[i]->our_gw.begin(), kernels[i]->our_gw.end());
    const std::vector<LD> want_b(kernels[i]->our_gb.begin(), kernels[i]->our_gb.end());
    err = max_err(gws[i].data(), want_w, sc);
    check(err <= tol * sc, "nhwc grad_w", cfg, err, tol * sc);
    err = max_err(gbs[i].data(), want_b, sc);
    check(err <= tol * sc, "nhwc grad_b", cfg, err, tol * sc);
  }
}

template <class T>
void run_case(int N, int C, int H, int W, bool downsample, bool affine, int threads,
              std::mt19937& rng) {
  char cfg[160];
  std::snprintf(cfg, sizeof cfg, "%s %s N=%d C=%d %dx%d affine=%d threads=%d",
                sizeof(T) == 4 ? "f32" : "f64", downsample ? "down" : "block", N, C, H, W,
                int(affine), threads);
  // float32: sums of up to ~121 products of O(1) values; float64 near rounding.
  const LD tol = sizeof(T) == 4 ? 2e-5L : 1e-12L;
  const int K = downsample ? C : C / 4;
  Kernel<T> ks(3, 3, K, rng), km(7, 7, K, rng), kl1(1, 11, K, rng), kl2(11, 1, K, rng);
  const int Cout = downsample ? 2 * C : C;
  const int Ho = downsample ? (H - 1) / 2 + 1 : H, Wo = downsample ? (W - 1) / 2 + 1 : W;
  std::normal_distribution<double> n(0.0, 1.0);
  std::vector<T> x(static_cast<size_t>(N) * C * H * W), gy(static_cast<size_t>(N) * Cout * Ho * Wo);
  for (auto& v : x) v = static_cast<T>(n(rng));
  for (auto& v : gy) v = static_cast<T>(n(rng));
  std::vector<T> scale(Cout), shift(Cout);
  for (int c = 0; c < Cout; ++c) {
    scale[c] = static_cast<T>(0.5 + 0.1 * (c % 7));
    shift[c] = static_cast<T>(0.05 * c - 0.3);
  }

  pyhpe::mixer::Params<T> p;
  p.downsample = downsample;
  p.s = ks.view();
  p.m = km.view();
  if (!downsample) {
    p.l1 = kl1.view();
    p.l2 = kl2.view();
  }
  if (affine) {
    p.scale = scale.data();
    p.shift = shift.data();
  }
  std::vector<T> y(gy.size(), std::nan("")), gx(x.size(), std::nan(""));
  pyhpe::mixer::forward(x.data(), p, N, C, H, W, y.data(), threads);

  std::vector<LD> gx_ref(x.size(), 0);
  for (int n = 0; n < N; ++n) {
    auto plane_of = [&](const std::vector<T>& t, int ch, int chans, int h, int w) {
      const size_t off = (static_cast<size_t>(n) * chans + ch) * h * w;
      return std::vector<LD>(t.begin() + off, t.begin() + off + static_cast<size_t>(h) * w);
    };
    for (int oc = 0; oc < Cout; ++oc) {
      std::vector<LD> want;
      std::vector<LD> g = plane_of(gy, oc, Cout, Ho, Wo);
      int ho = H, wo = W;
      int ic;
      if (downsample) {
        ic = oc % C;
        Kernel<T>& k = oc < C ? ks : km;
        std::vector<LD> in = plane_of(x, ic, C, H, W);
        want = ref_conv(in, H, W, k.plane(ic), k.kh, k.kw, k.b[ic], 2, ho, wo);
        std::vector<LD> gin(in.size(), 0), gw(k.kh * k.kw, 0);
        LD gb = 0;
        ref_conv_grad(in, H, W, k.plane(ic), k.kh, k.kw, 2, g, ho, wo, gin, gw, gb);
        for (size_t i = 0; i < gin.size(); ++i) gx_ref[(static_cast<size_t>(n) * C + ic) * H * W + i] += gin[i];
        for (int i = 0; i < k.kh * k.kw; ++i) k.gw[ic * k.kh * k.kw + i] += gw[i];
        k.gb[ic] += gb;
      } else {
        ic = oc;
        const int q = C / 4, group = oc / q, local = oc % q;
        std::vector<LD> in = plane_of(x, ic, C, H, W);
        std::vector<LD> gin(in.size(), 0);
        if (group == 0) {
          want = in;
          gin = g;
        } else if (group < 3) {
          Kernel<T>& k = group == 1 ? ks : km;
          want = ref_conv(in, H, W, k.plane(local), k.kh, k.kw, k.b[local], 1, ho, wo);
          std::vector<LD> gw(k.kh * k.kw, 0);
          LD gb = 0;
          ref_conv_grad(in, H, W, k.plane(local), k.kh, k.kw, 1, g, ho, wo, gin, gw, gb);
          for (int i = 0; i < k.kh * k.kw; ++i) k.gw[local * k.kh * k.kw + i] += gw[i];
          k.gb[local] += gb;
        } else {
          std::vector<LD> t = ref_conv(in, H, W, kl1.plane(local), 1, 11, kl1.b[local], 1, ho, wo);
          want = ref_conv(t, H, W, kl2.plane(local), 11, 1, kl2.b[local], 1, ho, wo);
          std::vector<LD> gt(t.size(), 0), gw2(11, 0), gw1(11, 0);
          LD gb2 = 0, gb1 = 0;
          ref_conv_grad(t, H, W, kl2.plane(local), 11, 1, 1, g, H, W, gt, gw2, gb2);
          ref_conv_grad(in, H, W, kl1.plane(local), 1, 11, 1, gt, H, W, gin, gw1, gb1);
          for (int i = 0; i < 11; ++i) {
            kl2.gw[local * 11 + i] += gw2[i];
            kl1.gw[local * 11 + i] += gw1[i];
          }
          kl2.gb[local] += gb2;
          kl1.gb[local] += gb1;
        }
        for (size_t i = 0; i < gin.size(); ++i) gx_ref[(static_cast<size_t>(n) * C + ic) * H * W + i] += gin[i];
      }
      if (affine)
        for (auto& v : want) v = v * scale[oc] + shift[oc];
      LD sc;
      const T* ours = y.data() + (static_cast<size_t>(n) * Cout + oc) * Ho * Wo;
      const LD err = max_err(ours, want, sc);
      check(err <= tol * sc && std::isfinite(static_cast<double>(err)), "forward plane", cfg, err,
            tol * sc);
    }
  }
  if (affine) {  // the BN-folded form is inference-only
    check_nhwc<T>(x, gy, y, nullptr, p, {}, N, C, H, W, Cout, Ho, Wo, threads, cfg, tol);
    return;
  }

  pyhpe::mixer::Grads<T> g;
  g.s = ks.grad_view();
  g.m = km.grad_view();
  if (!downsample) {
    g.l1 = kl1.grad_view();
    g.l2 = kl2.grad_view();
  }
  pyhpe::mixer::backward(gy.data(), x.data(), p, g, N, C, H, W, gx.data(), threads);
  LD sc;
  // gradients sum over whole planes and images: allow for the longer float32 sums
  const LD gtol = sizeof(T) == 4 ? 5e-5L : 1e-11L;
  for (int i = 0; i < N * C; ++i) {
    std::vector<LD> want(gx_ref.begin() + static_cast<size_t>(i) * H * W,
                         gx_ref.begin() + static_cast<size_t>(i + 1) * H * W);
    const LD err = max_err(gx.data() + static_cast<size_t>(i) * H * W, want, sc);
    check(err <= gtol * sc, "grad_x plane", cfg, err, gtol * sc);
  }
  std::vector<Kernel<T>*> kernels = {&ks, &km};
  if (!downsample) {
    kernels.push_back(&kl1);
    kernels.push_back(&kl2);
  }
  for (Kernel<T>* k : kernels) {
    LD err = max_err(k->our_gw.data(), k->gw, sc);
    check(err <= gtol * sc, "grad_w", cfg, err, gtol * sc);
    err = max_err(k->our_gb.data(), k->gb, sc);
    check(err <= gtol * sc, "grad_b", cfg, err, gtol * sc);
  }
  check_nhwc<T>(x, gy, y, &gx, p, kernels, N, C, H, W, Cout, Ho, Wo, threads, cfg, gtol);
}

// packed::transpose of the build's float and double packs: v[i] lane j <-> v[j] lane i.
template <class P>
void transpose_check() {
  using O = pyhpe::VecOps<P>;
  using T = typename O::T;
  constexpr int L = O::kLanes;
  P v[L];
  for (int i = 0; i < L; ++i) {
    T row[L];
    for (int j = 0; j < L; ++j) row[j] = static_cast<T>(100 * i + j);
    v[i] = O::load(row);
  }
  pyhpe::packed::transpose(v);
  LD err = 0;
  for (int i = 0; i < L; ++i) {
    T row[L];
    O::store(row, v[i]);
    for (int j = 0; j < L; ++j) err = std::max(err, std::fabs(static_cast<LD>(row[j]) - (100 * j + i)));
  }
  char cfg[64];
  std::snprintf(cfg, sizeof cfg, "%s L=%d", sizeof(T) == 4 ? "f32" : "f64", L);
  native_check::check(err == 0, "transpose", cfg, err, 0);
}

void transpose_checks() {
  transpose_check<pyhpe::F32Pack>();
  transpose_check<pyhpe::F64Pack>();
}

}  // namespace

int main() {
  std::printf("isa=%s f32_lanes=%d f64_lanes=%d\n", PYHPE_ISA_NAME,
              pyhpe::VecOps<pyhpe::F32Pack>::kLanes, pyhpe::VecOps<pyhpe::F64Pack>::kLanes);
  transpose_checks();
  std::mt19937 rng(1234);
  // {3, 32, 10, 12}: 8 channels per group, so NHWC packs are whole pixels of one image (AVX2);
  // {1, 64, 5, 16}: 16 per group (the same with the 16 lanes of AVX-512) and rows of 16 pixels
  // (whole 16 x 16 transposes); {2, 64, 6, 17}: two full 16-lane packs per group, 17-pixel rows
  // (a transpose tail); {3, 20, 4, 33}: 15 planes per group, one partial 16-lane pack
  const int shapes[][4] = {{1, 4, 1, 1},   {2, 8, 9, 13},  {1, 16, 14, 14}, {1, 4, 23, 30},
                           {2, 8, 7, 4},   {3, 32, 10, 12}, {1, 64, 5, 16},  {2, 64, 6, 17},
                           {3, 20, 4, 33}};
  for (const auto& s : shapes)
    for (int threads : {1, 2})
      for (bool downsample : {false, true})
        for (bool affine : {false, true}) {
          run_case<float>(s[0], s[1], s[2], s[3], downsample, affine, threads, rng);
          run_case<double>(s[0], s[1], s[2], s[3], downsample, affine, threads, rng);
        }
  return native_check::finish();
}
