// The RepNeXt token mixers as single fused passes over NCHW tensors.
//
// Block mixer (stride 1, C channels, q = C/4 per group), output channel ranges:
//   [0, q)    identity
//   [q, 2q)   depthwise 3x3 (the small branch, merged)          + bias
//   [2q, 3q)  depthwise 7x7 (the medium branch, merged)         + bias
//   [3q, 4q)  depthwise 1x11 + bias, then depthwise 11x1 + bias (the large branch; it cannot be
//             merged exactly because its first conv has a bias, see docs/kernels.md)
// Downsample mixer (stride 2, C -> 2C): [0, C) the 3x3 branch of every input channel,
// [C, 2C) the 7x7 branch of every input channel.
// An optional per-output-channel affine (scale, shift) folds the BatchNorm that follows the mixer
// in the deploy form, so each output plane is written once.
//
// The branch weights are merged into these kernels by the caller (pyhpe.ops.repnext_mixer does
// it with differentiable torch ops at every training step: "online reparameterization"), so
// training runs one depthwise pass per group, and the backward pass here returns gradients for
// the merged kernels, which autograd chains back to the branch weights.
#pragma once

#include <stdint.h>

#include <algorithm>
#include <vector>

#include "pyhpe/depthwise.h"

namespace pyhpe {
namespace mixer {

template <class T>
struct DwConv {
  const T* w = nullptr;  // (channels, kh, kw) contiguous
  const T* b = nullptr;  // (channels)
  int kh = 0, kw = 0;
};

template <class T>
struct DwConvGrad {
  T* w = nullptr;
  T* b = nullptr;
};

template <class T>
struct Params {
  bool downsample = false;  // false: block mixer (stride 1); true: C -> 2C at stride 2
  DwConv<T> s, m, l1, l2;   // l1/l2 unused in downsample mode
  const T* scale = nullptr;  // optional (C_out): deploy-form BN fold
  const T* shift = nullptr;
};

template <class T>
struct Grads {
  DwConvGrad<T> s, m, l1, l2;
};

inline int out_size(int n, int stride) { return stride == 1 ? n : (n - 1) / 2 + 1; }

// Per-thread scratch planes, sized for the largest padding (the 11-tap strips) and for the
// stride-2 input gradient (the output gradient spread on a stride grid).
template <class T>
struct Scratch {
  std::vector<T> a, b, c, d, even, odd;
  T flipped[121], k_even[121], k_odd[121];
  explicit Scratch(int H, int W) {
    const size_t big = static_cast<size_t>(H + 24) * (W + 24);
    for (auto* v : {&a, &b, &c, &d, &even, &odd}) v->resize(big);
  }
};

// out (Ho x Wo) = same-padded depthwise conv of one input plane, at stride 1 or 2.
template <class T>
inline void conv_plane(const T* in, int H, int W, const T* w, T bias, int kh, int kw, int stride,
                       T* out, int Ho, int Wo, T* pad, Scratch<T>& s) {
  const int ph = (kh - 1) / 2, pw = (kw - 1) / 2;
  const int rows = H + 2 * ph, cols = W + 2 * pw;
  dw::pad_plane(in, H, W, ph, pw, pad);
  if (stride == 1) {
    dw::correlate(pad, cols, w, kh, kw, 1, 1, bias, out, Ho, Wo);
    return;
  }
  // stride 2: even and odd source columns, each correlated with the matching kernel columns
  dw::split_columns(pad, rows, cols, s.even.data(), s.odd.data());
  dw::split_kernel_columns(w, kh, kw, s.k_even, s.k_odd);
  dw::correlate(s.even.data(), (cols + 1) / 2, s.k_even, kh, (kw + 1) / 2, 2, 1, bias, out, Ho,
                Wo);
  if (kw > 1) {  // odd columns into a plane of their own (full-pack tails), then added
    T* odd_out = s.d.data();
    dw::correlate(s.odd.data(), cols / 2, s.k_odd, kh, kw / 2, 2, 1, T(0), odd_out, Ho, Wo);
    const int64_t n = static_cast<int64_t>(Ho) * Wo;
    for (int64_t i = 0; i < n; ++i) out[i] += odd_out[i];
  }
}

// Input gradient of conv_plane for output gradient g (Ho x Wo): gx (H x W), overwritten.
template <class T>
inline void conv_plane_grad_input(const T* g, int Ho, int Wo, const T* w, int kh, int kw,
                                  int stride, T* gx, int H, int W, Scratch<T>& s, T* buf) {
  const int ph = (kh - 1) / 2, pw = (kw - 1) / 2;
  dw::flip_kernel(w, kh, kw, s.flipped);
  if (stride == 1) {  // correlation of the same-padded gradient with the flipped kernel
    dw::pad_plane(g, Ho, Wo, ph, pw, buf);
    dw::correlate(buf, Wo + 2 * pw, s.flipped, kh, kw, 1, 1, T(0), gx, H, W);
    return;
  }
  // stride 2: gx[y][x] = sum flipped[ey][ex] * D[y + ph + ey][x + pw + ex], where D holds g on a
  // stride grid shifted by (kh - 1, kw - 1).
  const int rows = H + ph + kh, cols = W + pw + kw;
  dw::dilate_pad_plane(g, Ho, Wo, stride, kh - 1, kw - 1, rows, cols, buf);
  dw::correlate(buf + ph * cols + pw, cols, s.flipped, kh, kw, 1, 1, T(0), gx, H, W);
}

// Weight (and bias) gradient of conv_plane, accumulated into gw / gb.
template <class T>
inline void conv_plane_grad_weight(const T* g, int Ho, int Wo, const T* in, int H, int W, int kh,
                                   int kw, int stride, T* gw, T* gb, T* pad, Scratch<T>& s) {
  const int ph = (kh - 1) / 2, pw = (kw - 1) / 2;
  const int rows = H + 2 * ph, cols = W + 2 * pw;
  dw::pad_plane(in, H, W, ph, pw, pad);
  *gb += dw::plane_sum(g, static_cast<int64_t>(Ho) * Wo);
  if (stride == 1) {
    dw::correlate_grad_w(g, Ho, Wo, pad, cols, kh, kw, 1, 1, gw);
    return;
  }
  const int ke = (kw + 1) / 2, ko = kw / 2;
  dw::split_columns(pad, rows, cols, s.even.data(), s.odd.data());
  for (int i = 0; i < kh * ke; ++i) s.k_even[i] = 0;
  for (int i = 0; i < kh * ko; ++i) s.k_odd[i] = 0;
  dw::correlate_grad_w(g, Ho, Wo, s.even.data(), (cols + 1) / 2, kh, ke, 2, 1, s.k_even);
  dw::correlate_grad_w(g, Ho, Wo, s.odd.data(), cols / 2, kh, ko, 2, 1, s.k_odd);
  for (int i = 0; i < kh; ++i) {
    for (int j = 0; j < ke; ++j) gw[i * kw + 2 * j] += s.k_even[i * ke + j];
    for (int j = 0; j < ko; ++j) gw[i * kw + 2 * j + 1] += s.k_odd[i * ko + j];
  }
}

template <class T>
inline void affine_plane(T* out, int64_t n, T scale, T shift) {
  for (int64_t i = 0; i < n; ++i) out[i] = out[i] * scale + shift;
}

// Forward of one output plane (image n, output channel oc).
template <class T>
inline void forward_plane(const T* x, const Params<T>& p, int C, int H, int W, int Ho, int Wo,
                          int64_t n, int oc, T* y, Scratch<T>& s) {
  const int64_t in_plane = static_cast<int64_t>(H) * W;
  const int64_t out_plane = static_cast<int64_t>(Ho) * Wo;
  const int Cout = p.downsample ? 2 * C : C;
  T* out = y + (n * Cout + oc) * out_plane;
  T scale = p.scale ? p.scale[oc] : T(1), shift = p.shift ? p.shift[oc] : T(0);
  auto conv = [&](const DwConv<T>& k, int local, const T* src, int stride) {
    const int taps = k.kh * k.kw;
    T w[121];
    for (int i = 0; i < taps; ++i) w[i] = k.w[local * taps + i] * scale;
    conv_plane(src, H, W, w, k.b[local] * scale + shift, k.kh, k.kw, stride, out, Ho, Wo,
               s.a.data(), s);
  };
  if (p.downsample) {
    const int c = oc < C ? oc : oc - C;
    const T* src = x + (n * C + c) * in_plane;
    conv(oc < C ? p.s : p.m, c, src, 2);
    return;
  }
  const int q = C / 4, group = oc / q, local = oc % q;
  const T* src = x + (n * C + oc) * in_plane;
  if (group == 0) {
    for (int64_t i = 0; i < in_plane; ++i) out[i] = src[i] * scale + shift;
  } else if (group == 1) {
    conv(p.s, local, src, 1);
  } else if (group == 2) {
    conv(p.m, local, src, 1);
  } else {
    T* t = s.b.data();  // the 1x11 strip's output
    conv_plane(src, H, W, p.l1.w + local * p.l1.kh * p.l1.kw, p.l1.b[local], p.l1.kh, p.l1.kw, 1,
               t, H, W, s.a.data(), s);
    conv(p.l2, local, t, 1);
  }
}

template <class T>
void forward(const T* x, const Params<T>& p, int64_t N, int C, int H, int W, T* y, int threads) {
  const int Ho = p.downsample ? out_size(H, 2) : H, Wo = p.downsample ? out_size(W, 2) : W;
  const int Cout = p.downsample ? 2 * C : C;
  const int64_t tasks = N * Cout;
#if defined(_OPENMP)
#pragma omp parallel num_threads(threads) if (threads > 1 && tasks > 1)
#endif
  {
    Scratch<T> s(H, W);
#if defined(_OPENMP)
#pragma omp for schedule(dynamic, 4)
#endif
    for (int64_t t = 0; t < tasks; ++t) forward_plane(x, p, C, H, W, Ho, Wo, t / Cout,
                                                      static_cast<int>(t % Cout), y, s);
  }
  (void)threads;
}

// Backward for input channel c over all images: writes gx planes of channel c and accumulates
// the kernel gradients of the kernels that read channel c (no other task touches them).
template <class T>
inline void backward_channel(const T* gy, const T* x, const Params<T>& p, const Grads<T>& g,
                             int64_t N, int C, int H, int W, int Ho, int Wo, int c, T* gx,
                             Scratch<T>& s) {
  const int64_t in_plane = static_cast<int64_t>(H) * W;
  const int64_t out_plane = static_cast<int64_t>(Ho) * Wo;
  if (p.downsample) {
    const int Cout = 2 * C;
    const int ts = p.s.kh * p.s.kw, tm = p.m.kh * p.m.kw;
    for (int64_t n = 0; n < N; ++n) {
      const T* src = x + (n * C + c) * in_plane;
      const T* g_s = gy + (n * Cout + c) * out_plane;
      const T* g_m = gy + (n * Cout + C + c) * out_plane;
      T* dst = gx + (n * C + c) * in_plane;
      conv_plane_grad_input(g_s, Ho, Wo, p.s.w + c * ts, p.s.kh, p.s.kw, 2, dst, H, W, s,
                            s.a.data());
      T* tmp = s.c.data();
      conv_plane_grad_input(g_m, Ho, Wo, p.m.w + c * tm, p.m.kh, p.m.kw, 2, tmp, H, W, s,
                            s.a.data());
      for (int64_t i = 0; i < in_plane; ++i) dst[i] += tmp[i];
      conv_plane_grad_weight(g_s, Ho, Wo, src, H, W, p.s.kh, p.s.kw, 2, g.s.w + c * ts,
                             g.s.b + c, s.b.data(), s);
      conv_plane_grad_weight(g_m, Ho, Wo, src, H, W, p.m.kh, p.m.kw, 2, g.m.w + c * tm,
                             g.m.b + c, s.b.data(), s);
    }
    return;
  }
  const int q = C / 4, group = c / q, local = c % q;
  for (int64_t n = 0; n < N; ++n) {
    const int64_t off = (n * C + c) * in_plane;
    const T* src = x + off;
    const T* gout = gy + off;
    T* dst = gx + off;
    if (group == 0) {
      std::copy(gout, gout + in_plane, dst);
    } else if (group == 1 || group == 2) {
      const DwConv<T>& k = group == 1 ? p.s : p.m;
      const DwConvGrad<T>& gk = group == 1 ? g.s : g.m;
      const int taps = k.kh * k.kw;
      conv_plane_grad_input(gout, H, W, k.w + local * taps, k.kh, k.kw, 1, dst, H, W, s,
                            s.a.data());
      conv_plane_grad_weight(gout, H, W, src, H, W, k.kh, k.kw, 1, gk.w + local * taps,
                             gk.b + local, s.b.data(), s);
    } else {
      const int t1 = p.l1.kh * p.l1.kw, t2 = p.l2.kh * p.l2.kw;
      T* t = s.c.data();   // recomputed 1x11 output
      T* gt = s.d.data();  // its gradient
      conv_plane(src, H, W, p.l1.w + local * t1, p.l1.b[local], p.l1.kh, p.l1.kw, 1, t, H, W,
                 s.a.data(), s);
      conv_plane_grad_input(gout, H, W, p.l2.w + local * t2, p.l2.kh, p.l2.kw, 1, gt, H, W, s,
                            s.a.data());
      conv_plane_grad_weight(gout, H, W, t, H, W, p.l2.kh, p.l2.kw, 1, g.l2.w + local * t2,
                             g.l2.b + local, s.b.data(), s);
      conv_plane_grad_input(gt, H, W, p.l1.w + local * t1, p.l1.kh, p.l1.kw, 1, dst, H, W, s,
                            s.a.data());
      conv_plane_grad_weight(gt, H, W, src, H, W, p.l1.kh, p.l1.kw, 1, g.l1.w + local * t1,
                             g.l1.b + local, s.b.data(), s);
    }
  }
}

// Gradient buffers in `g` must be zeroed by the caller.
template <class T>
void backward(const T* gy, const T* x, const Params<T>& p, const Grads<T>& g, int64_t N, int C,
              int H, int W, T* gx, int threads) {
  const int Ho = p.downsample ? out_size(H, 2) : H, Wo = p.downsample ? out_size(W, 2) : W;
#if defined(_OPENMP)
#pragma omp parallel num_threads(threads) if (threads > 1 && C > 1)
#endif
  {
    Scratch<T> s(H, W);
#if defined(_OPENMP)
#pragma omp for schedule(dynamic, 1)
#endif
    for (int c = 0; c < C; ++c) backward_channel(gy, x, p, g, N, C, H, W, Ho, Wo, c, gx, s);
  }
  (void)threads;
}

}  // namespace mixer
}  // namespace pyhpe
