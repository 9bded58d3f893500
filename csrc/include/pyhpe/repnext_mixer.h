// The RepNeXt token mixers as fused passes over NCHW tensors.
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
//
// Work is cut into packs of L planes of one group (L = SIMD lanes; a plane is one image x one
// channel, so lanes run over channels and images alike) and each pack runs through
// packed_dw.h: gather the L input planes into an interleaved, zero-bordered buffer, convolve
// there (both convs of the large branch without leaving the buffers), scatter to the L output
// planes. Packs are the threads' tasks; the kernel gradients go to per-thread sums added at the
// end.
#pragma once

#include <stdint.h>
#include <string.h>

#include <algorithm>
#include <vector>

#include "pyhpe/packed_dw.h"

namespace pyhpe {
namespace mixer {

template <class T>
struct DwConv {
  const T* w = nullptr;  // (channels, kh, kw) contiguous
  const T* b = nullptr;  // (channels)
  int kh = 0, kw = 0;
  int taps() const { return kh * kw; }
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
  bool nhwc = false;  // x, y (and the gradients) are N x H x W x C (channels_last) instead
};

template <class T>
struct Grads {
  DwConvGrad<T> s, m, l1, l2;
};

inline int out_size(int n, int stride) { return stride == 1 ? n : (n - 1) / 2 + 1; }

inline namespace PYHPE_ISA_NAMESPACE {  // see config.h

namespace detail {

using packed::Grid;

// A zero-bordered pack buffer: interior H x W at `org`, rows of `cols` packs.
template <class P>
struct Buf {
  P* org;
  int cols;
  Grid<const P> interior() const { return {org, cols, 1}; }
};

// The packs of lane weights of one conv for one pack of planes, kept while the next pack
// needs the same ones (same conv, same channel in every lane, same tap order).
template <class T>
struct LaneWeights {
  std::vector<packed::Pack<T>> w;
  const T* key_w = nullptr;
  const T* key_scale = nullptr;
  bool key_flip = false;
  int key_valid = -1;
  int key_ch[packed::kLanes<T>];
  const packed::Pack<T>* data() const { return w.data(); }
};

// Per-thread scratch, plus this thread's kernel-gradient sums.
template <class T>
struct Workspace {
  using P = packed::Pack<T>;
  std::vector<P> buf[5], flat, wsel, acc;
  std::vector<int64_t> off;
  std::vector<T> zero_plane;
  std::vector<T> gw[4], gb[4];  // s, m, l1, l2
  LaneWeights<T> w1, w2;
  explicit Workspace(int H, int W)
      : flat(static_cast<size_t>(H) * W), zero_plane(static_cast<size_t>(H) * W, T(0)) {}

  P* tmp() { return flat.data(); }  // H x W packs for packed::gather

  // Buffer i sized for an H x W interior with a (py, px) zero border.
  Buf<P> prepare(int i, int H, int W, int py, int px) {
    const int rows = H + 2 * py, cols = W + 2 * px;
    std::vector<P>& v = buf[i];
    if (v.size() < static_cast<size_t>(rows) * cols) v.resize(static_cast<size_t>(rows) * cols);
    packed::zero_border(v.data(), rows, cols, py, py, px, px);
    return {v.data() + static_cast<int64_t>(py) * cols + px, cols};
  }
};

// Which planes a pack holds: lane l is plane (n[l], channel ch[l] of its conv); `valid` lanes.
template <class T>
struct Lanes {
  static constexpr int L = packed::kLanes<T>;
  int valid = 0;
  int64_t n[L];
  int ch[L];
  T scale[L], shift[L];  // the output affine of each lane (1, 0 when there is none)
  const T* affine = nullptr;  // the scale array's first channel of this conv, if any

  // NCHW planes are numbered channel-major (item = channel * N + image), so with N a multiple
  // of L a pack is one channel of L images and its lane weights stay the same from pack to pack.
  // NHWC (channels_last) ones image-major, so that a pack is L consecutive channels of one image
  // (one pack load per pixel) whenever L divides the conv's channel count.
  Lanes(int64_t pack, int64_t N, int per_image, bool channel_major) {
    for (int l = 0; l < L; ++l) {
      const int64_t item = pack * L + l;
      if (item < N * per_image) {
        valid = l + 1;
        n[l] = channel_major ? item % N : item / per_image;
        ch[l] = static_cast<int>(channel_major ? item / N : item % per_image);
      } else {
        n[l] = 0;
        ch[l] = 0;
      }
      scale[l] = T(1);
      shift[l] = T(0);
    }
  }
  // The affine of output channel first + ch[l], if the mixer has one.
  void set_affine(const Params<T>& p, int first) {
    if (!p.scale) return;
    affine = p.scale + first;
    for (int l = 0; l < valid; ++l) {
      scale[l] = p.scale[first + ch[l]];
      shift[l] = p.shift[first + ch[l]];
    }
  }
};

// Lane weights of conv k (tap order kept, or flipped for the input gradient), scaled by each
// lane's affine scale; lanes past `valid` get zero weights.
template <class T>
void lane_weights(const DwConv<T>& k, const Lanes<T>& lanes, bool flip, LaneWeights<T>& out) {
  constexpr int L = packed::kLanes<T>;
  if (out.key_w == k.w && out.key_flip == flip && out.key_valid == lanes.valid &&
      out.key_scale == lanes.affine && std::equal(lanes.ch, lanes.ch + L, out.key_ch))
    return;
  const int taps = k.taps();
  out.w.resize(taps);
  for (int t = 0; t < taps; ++t) {
    alignas(64) T v[L];
    for (int l = 0; l < L; ++l)
      v[l] = l < lanes.valid ? k.w[lanes.ch[l] * taps + (flip ? taps - 1 - t : t)] *
                                   lanes.scale[l]
                             : T(0);
    out.w[t] = VecOps<packed::Pack<T>>::load(v);
  }
  out.key_w = k.w;
  out.key_flip = flip;
  out.key_valid = lanes.valid;
  out.key_scale = lanes.affine;
  std::copy(lanes.ch, lanes.ch + L, out.key_ch);
}

template <class T>
packed::Pack<T> lane_bias(const DwConv<T>& k, const Lanes<T>& lanes) {
  alignas(64) T v[packed::kLanes<T>] = {};
  for (int l = 0; l < lanes.valid; ++l) v[l] = k.b[lanes.ch[l]] * lanes.scale[l] + lanes.shift[l];
  return VecOps<packed::Pack<T>>::load(v);
}

// out = bias + same-padded conv (kh x kw, stride s) of the buffer `in` (border >= the padding).
template <class P>
void same_conv(Buf<P> in, int kh, int kw, int stride, const P* w, const P* bias, Grid<P> out,
               int Ho, int Wo, std::vector<int64_t>& off) {
  const int ph = (kh - 1) / 2, pw = (kw - 1) / 2;
  off.resize(kh * kw);
  for (int dy = 0; dy < kh; ++dy)
    for (int dx = 0; dx < kw; ++dx) off[dy * kw + dx] = static_cast<int64_t>(dy) * in.cols + dx;
  const Grid<const P> src{in.org - static_cast<int64_t>(ph) * in.cols - pw,
                          static_cast<int64_t>(stride) * in.cols, stride};
  if (packed::conv_sliding(src, in.cols, kh, kw, stride, w, bias, out, Ho, Wo, false,
                           off.data()))
    return;
  packed::conv(src, off.data(), w, kh * kw, bias, out, Ho, Wo, false);
}

// gx (H x W, accumulated) += input gradient of a same-padded stride-2 conv with lane weights w
// (tap order kept) for the output gradient buffer g (Ho x Wo, border >= (ph + 1, pw + 1)):
// each of the four (row, column) parities of gx is a stride-1 correlation of g with the taps of
// that parity.
template <class P>
void conv_input_grad_s2(Buf<P> g, const P* w, int kh, int kw, P* gx, int H, int W,
                        std::vector<int64_t>& off, std::vector<P>& wsel) {
  const int ph = (kh - 1) / 2, pw = (kw - 1) / 2;
  for (int ry = 0; ry < 2; ++ry) {
    for (int rx = 0; rx < 2; ++rx) {
      const int Hy = (H - ry + 1) / 2, Wx = (W - rx + 1) / 2;
      if (Hy <= 0 || Wx <= 0) continue;
      // the taps of this parity form a (ny x nx) grid in g, at rows ey and columns ex
      // ascending as dy and dx descend
      const int dy0 = (ry + ph) % 2, dx0 = (rx + pw) % 2;  // smallest dy / dx of this parity
      const int ny = (kh - dy0 + 1) / 2, nx = (kw - dx0 + 1) / 2;
      if (ny <= 0 || nx <= 0) continue;
      const int ey0 = (ry + ph - (dy0 + 2 * (ny - 1))) / 2;  // from the largest dy
      const int ex0 = (rx + pw - (dx0 + 2 * (nx - 1))) / 2;
      wsel.resize(static_cast<size_t>(ny) * nx);
      for (int i = 0; i < ny; ++i)
        for (int j = 0; j < nx; ++j)
          wsel[i * nx + j] = w[(dy0 + 2 * (ny - 1 - i)) * kw + dx0 + 2 * (nx - 1 - j)];
      off.resize(static_cast<size_t>(ny) * nx);
      const Grid<const P> src{g.org + static_cast<int64_t>(ey0) * g.cols + ex0, g.cols, 1};
      const Grid<P> dst{gx + static_cast<int64_t>(ry) * W + rx, 2 * static_cast<int64_t>(W), 2};
      if (packed::conv_sliding(src, g.cols, ny, nx, 1, wsel.data(), static_cast<const P*>(nullptr),
                               dst, Hy, Wx, true, off.data()))
        continue;
      for (int i = 0; i < ny; ++i)
        for (int j = 0; j < nx; ++j) off[i * nx + j] = static_cast<int64_t>(i) * g.cols + j;
      packed::conv(src, off.data(), wsel.data(), ny * nx, static_cast<const P*>(nullptr), dst,
                   Hy, Wx, true);
    }
  }
}

// Kernel and bias gradient of a same-padded conv (stride s) with output gradient buffer g
// (Ho x Wo) and input buffer in: added lane by lane into gw / gb (this thread's sums).
template <class T>
void add_kernel_grad(Workspace<T>& ws, Buf<packed::Pack<T>> g, Buf<packed::Pack<T>> in, int kh,
                     int kw, int stride, int Ho, int Wo, const Lanes<T>& lanes, T* gw, T* gb) {
  using P = packed::Pack<T>;
  constexpr int L = packed::kLanes<T>;
  const int taps = kh * kw, ph = (kh - 1) / 2, pw = (kw - 1) / 2;
  ws.acc.assign(taps, VecOps<P>::splat(0));
  const Grid<const P> src{in.org - static_cast<int64_t>(ph) * in.cols - pw,
                          static_cast<int64_t>(stride) * in.cols, stride};
  if (!packed::grad_w_sliding(g.interior(), src, in.cols, kh, kw, stride, Ho, Wo,
                              ws.acc.data()))
    packed::grad_w(g.interior(), src, in.cols, kh, kw, Ho, Wo, ws.acc.data());
  alignas(64) T v[L];
  for (int t = 0; t < taps; ++t) {
    VecOps<P>::store(v, ws.acc[t]);
    for (int l = 0; l < lanes.valid; ++l) gw[lanes.ch[l] * taps + t] += v[l];
  }
  VecOps<P>::store(v, packed::grid_sum(g.interior(), Ho, Wo));
  for (int l = 0; l < lanes.valid; ++l) gb[lanes.ch[l]] += v[l];
}

// ---------------------------------------------------------------------------------------------
// Moving packs between the tensors and the buffers (NCHW or NHWC).

// A 4-d tensor: base pointer, channel count, plane size, layout.
template <class U>
struct Tensor4 {
  U* base;
  int channels, H, W;
  bool nhwc;
};

// Lane l's plane (channel first + ch[l] of image n[l]) as a pointer to its pixel (0, 0); the
// pixel step is 1 (NCHW) or t.channels (NHWC). Lanes past `valid` get null.
template <class T, class U>
void lane_pointers(const Lanes<T>& lanes, Tensor4<U> t, int first, U** out) {
  const int64_t hw = static_cast<int64_t>(t.H) * t.W;
  for (int l = 0; l < Lanes<T>::L; ++l) {
    const int c = first + lanes.ch[l];
    out[l] = l >= lanes.valid ? nullptr
             : t.nhwc         ? t.base + lanes.n[l] * hw * t.channels + c
                              : t.base + (lanes.n[l] * t.channels + c) * hw;
  }
}

// All L lanes valid, one image, consecutive channels (an NHWC pixel's pack is one load).
template <class T>
bool consecutive(const Lanes<T>& lanes) {
  if (lanes.valid != Lanes<T>::L) return false;
  for (int l = 1; l < lanes.valid; ++l)
    if (lanes.n[l] != lanes.n[0] || lanes.ch[l] != lanes.ch[0] + l) return false;
  return true;
}

// The pack's planes of channels first + ch[l] into the interior of dst.
template <class T>
void load_pack(const Lanes<T>& lanes, Tensor4<const T> t, int first, Buf<packed::Pack<T>> dst,
               Workspace<T>& ws) {
  const T* src[Lanes<T>::L];
  lane_pointers(lanes, t, first, src);
  if (t.nhwc)
    return packed::gather_strided(src, t.channels, t.H, t.W, dst.org, dst.cols,
                                  consecutive(lanes));
  for (const T*& s : src)
    if (!s) s = ws.zero_plane.data();
  packed::gather(src, t.H, t.W, dst.org, dst.cols, ws.tmp());
}

// An unpadded t.H x t.W pack buffer out to the valid lanes' planes.
template <class T>
void store_pack(const Lanes<T>& lanes, const packed::Pack<T>* src, Tensor4<T> t, int first) {
  T* dst[Lanes<T>::L];
  lane_pointers(lanes, t, first, dst);
  if (t.nhwc) return packed::scatter_strided(src, t.H, t.W, dst, t.channels, consecutive(lanes));
  packed::scatter(src, t.H, t.W, dst);
}

// to = from * scale + shift, lane by lane (the identity group; no affine: a copy).
template <class T>
void copy_pack(const Lanes<T>& lanes, Tensor4<const T> from, Tensor4<T> to, bool affine) {
  const T* src[Lanes<T>::L];
  T* dst[Lanes<T>::L];
  lane_pointers(lanes, from, 0, src);
  lane_pointers(lanes, to, 0, dst);
  const int64_t hw = static_cast<int64_t>(from.H) * from.W;
  const int64_t step = from.nhwc ? from.channels : 1;
  for (int l = 0; l < lanes.valid; ++l) {
    if (!affine && step == 1) {
      memcpy(dst[l], src[l], sizeof(T) * hw);
      continue;
    }
    const T a = affine ? lanes.scale[l] : T(1), b = affine ? lanes.shift[l] : T(0);
    for (int64_t i = 0; i < hw; ++i) dst[l][i * step] = src[l][i * step] * a + b;
  }
}

// The downsample mixer's input pack, bordered for the larger of its two kernels.
template <class T>
Buf<packed::Pack<T>> load_down_input(const Lanes<T>& lanes, const T* x, const Params<T>& p,
                                     int C, int H, int W, Workspace<T>& ws) {
  const int py = std::max(p.s.kh, p.m.kh) / 2, px = std::max(p.s.kw, p.m.kw) / 2;
  Buf<packed::Pack<T>> in = ws.prepare(0, H, W, py, px);
  load_pack(lanes, Tensor4<const T>{x, C, H, W, p.nhwc}, 0, in, ws);
  return in;
}

// ---------------------------------------------------------------------------------------------
// Forward.

template <class T>
void forward_block_pack(const T* x, const Params<T>& p, int64_t N, int C, int H, int W,
                        int group, int64_t pack, T* y, Workspace<T>& ws) {
  using P = packed::Pack<T>;
  const int q = C / 4;
  const Tensor4<const T> xt{x, C, H, W, p.nhwc};
  const Tensor4<T> yt{y, C, H, W, p.nhwc};
  Lanes<T> lanes(pack, N, q, !p.nhwc);
  lanes.set_affine(p, group * q);
  if (group == 0) return copy_pack(lanes, xt, yt, p.scale != nullptr);
  Buf<P> out = ws.prepare(4, H, W, 0, 0);
  if (group < 3) {
    const DwConv<T>& k = group == 1 ? p.s : p.m;
    Buf<P> in = ws.prepare(0, H, W, (k.kh - 1) / 2, (k.kw - 1) / 2);
    load_pack(lanes, xt, group * q, in, ws);
    lane_weights(k, lanes, false, ws.w1);
    const P bias = lane_bias(k, lanes);
    same_conv(in, k.kh, k.kw, 1, ws.w1.data(), &bias, Grid<P>{out.org, out.cols, 1}, H, W, ws.off);
  } else {
    const Lanes<T> plain(pack, N, q, !p.nhwc);  // no affine: the first conv of the large branch
    Buf<P> in = ws.prepare(0, H, W, (p.l1.kh - 1) / 2, (p.l1.kw - 1) / 2);
    Buf<P> mid = ws.prepare(1, H, W, (p.l2.kh - 1) / 2, (p.l2.kw - 1) / 2);
    load_pack(lanes, xt, group * q, in, ws);
    lane_weights(p.l1, plain, false, ws.w1);
    const P b1 = lane_bias(p.l1, plain);
    same_conv(in, p.l1.kh, p.l1.kw, 1, ws.w1.data(), &b1, Grid<P>{mid.org, mid.cols, 1}, H, W,
              ws.off);
    lane_weights(p.l2, lanes, false, ws.w2);
    const P b2 = lane_bias(p.l2, lanes);
    same_conv(mid, p.l2.kh, p.l2.kw, 1, ws.w2.data(), &b2, Grid<P>{out.org, out.cols, 1}, H, W,
              ws.off);
  }
  store_pack(lanes, out.org, yt, group * q);
}

template <class T>
void forward_down_pack(const T* x, const Params<T>& p, int64_t N, int C, int H, int W,
                       int64_t pack, T* y, Workspace<T>& ws) {
  using P = packed::Pack<T>;
  const int Ho = out_size(H, 2), Wo = out_size(W, 2);
  const Lanes<T> lanes(pack, N, C, !p.nhwc);
  Buf<P> in = load_down_input(lanes, x, p, C, H, W, ws);
  Buf<P> out = ws.prepare(4, Ho, Wo, 0, 0);
  for (int branch = 0; branch < 2; ++branch) {
    const DwConv<T>& k = branch == 0 ? p.s : p.m;
    Lanes<T> affine = lanes;
    affine.set_affine(p, branch * C);
    lane_weights(k, affine, false, ws.w1);
    const P bias = lane_bias(k, affine);
    same_conv(in, k.kh, k.kw, 2, ws.w1.data(), &bias, Grid<P>{out.org, out.cols, 1}, Ho, Wo,
              ws.off);
    store_pack(lanes, out.org, Tensor4<T>{y, 2 * C, Ho, Wo, p.nhwc}, branch * C);
  }
}

// ---------------------------------------------------------------------------------------------
// Backward.

template <class T>
void backward_block_pack(const T* gy, const T* x, const Params<T>& p, int64_t N, int C, int H,
                         int W, int group, int64_t pack, T* gx, Workspace<T>& ws) {
  using P = packed::Pack<T>;
  const int q = C / 4, first = group * q;
  const Tensor4<const T> xt{x, C, H, W, p.nhwc}, gyt{gy, C, H, W, p.nhwc};
  const Tensor4<T> gxt{gx, C, H, W, p.nhwc};
  const Lanes<T> lanes(pack, N, q, !p.nhwc);
  if (group == 0) return copy_pack(lanes, gyt, gxt, false);
  Buf<P> out = ws.prepare(4, H, W, 0, 0);
  if (group < 3) {
    const DwConv<T>& k = group == 1 ? p.s : p.m;
    const int ph = (k.kh - 1) / 2, pw = (k.kw - 1) / 2;
    Buf<P> in = ws.prepare(0, H, W, ph, pw), g = ws.prepare(1, H, W, ph, pw);
    load_pack(lanes, xt, first, in, ws);
    load_pack(lanes, gyt, first, g, ws);
    lane_weights(k, lanes, true, ws.w1);
    same_conv(g, k.kh, k.kw, 1, ws.w1.data(), static_cast<const P*>(nullptr),
              Grid<P>{out.org, out.cols, 1}, H, W, ws.off);
    store_pack(lanes, out.org, gxt, first);
    add_kernel_grad(ws, g, in, k.kh, k.kw, 1, H, W, lanes, ws.gw[group - 1].data(),
                    ws.gb[group - 1].data());
    return;
  }
  // Large branch: t = l1(x), y = l2(t); gt = l2^T(g); gx = l1^T(gt).
  const DwConv<T>&k1 = p.l1, &k2 = p.l2;
  const int ph1 = (k1.kh - 1) / 2, pw1 = (k1.kw - 1) / 2;
  const int ph2 = (k2.kh - 1) / 2, pw2 = (k2.kw - 1) / 2;
  Buf<P> in = ws.prepare(0, H, W, ph1, pw1), t = ws.prepare(1, H, W, ph2, pw2);
  Buf<P> g = ws.prepare(2, H, W, ph2, pw2), gt = ws.prepare(3, H, W, ph1, pw1);
  load_pack(lanes, xt, first, in, ws);
  lane_weights(k1, lanes, false, ws.w1);
  const P b1 = lane_bias(k1, lanes);
  same_conv(in, k1.kh, k1.kw, 1, ws.w1.data(), &b1, Grid<P>{t.org, t.cols, 1}, H, W, ws.off);
  load_pack(lanes, gyt, first, g, ws);
  lane_weights(k2, lanes, true, ws.w2);
  same_conv(g, k2.kh, k2.kw, 1, ws.w2.data(), static_cast<const P*>(nullptr),
            Grid<P>{gt.org, gt.cols, 1}, H, W, ws.off);
  add_kernel_grad(ws, g, t, k2.kh, k2.kw, 1, H, W, lanes, ws.gw[3].data(), ws.gb[3].data());
  lane_weights(k1, lanes, true, ws.w1);
  same_conv(gt, k1.kh, k1.kw, 1, ws.w1.data(), static_cast<const P*>(nullptr),
            Grid<P>{out.org, out.cols, 1}, H, W, ws.off);
  store_pack(lanes, out.org, gxt, first);
  add_kernel_grad(ws, gt, in, k1.kh, k1.kw, 1, H, W, lanes, ws.gw[2].data(), ws.gb[2].data());
}

template <class T>
void backward_down_pack(const T* gy, const T* x, const Params<T>& p, int64_t N, int C, int H,
                        int W, int64_t pack, T* gx, Workspace<T>& ws) {
  using P = packed::Pack<T>;
  const int Ho = out_size(H, 2), Wo = out_size(W, 2);
  const Lanes<T> lanes(pack, N, C, !p.nhwc);
  Buf<P> in = load_down_input(lanes, x, p, C, H, W, ws);
  Buf<P> out = ws.prepare(4, H, W, 0, 0);
  std::fill(out.org, out.org + static_cast<int64_t>(H) * W, VecOps<P>::splat(0));
  for (int branch = 0; branch < 2; ++branch) {
    const DwConv<T>& k = branch == 0 ? p.s : p.m;
    Buf<P> g = ws.prepare(1 + branch, Ho, Wo, (k.kh - 1) / 2 + 1, (k.kw - 1) / 2 + 1);
    load_pack(lanes, Tensor4<const T>{gy, 2 * C, Ho, Wo, p.nhwc}, branch * C, g, ws);
    lane_weights(k, lanes, false, ws.w1);
    conv_input_grad_s2(g, ws.w1.data(), k.kh, k.kw, out.org, H, W, ws.off, ws.wsel);
    add_kernel_grad(ws, g, in, k.kh, k.kw, 2, Ho, Wo, lanes, ws.gw[branch].data(),
                    ws.gb[branch].data());
  }
  store_pack(lanes, out.org, Tensor4<T>{gx, C, H, W, p.nhwc}, 0);
}

// Packs per group: ceil(planes / L).
inline int64_t pack_count(int64_t planes, int lanes) { return (planes + lanes - 1) / lanes; }

}  // namespace detail

template <class T>
void forward(const T* x, const Params<T>& p, int64_t N, int C, int H, int W, T* y, int threads) {
  constexpr int L = packed::kLanes<T>;
  const int64_t packs = detail::pack_count(N * (p.downsample ? C : C / 4), L);
  const int64_t tasks = p.downsample ? packs : 4 * packs;
#if defined(_OPENMP)
#pragma omp parallel num_threads(threads) if (threads > 1 && tasks > 1)
#endif
  {
    detail::Workspace<T> ws(H, W);
#if defined(_OPENMP)
#pragma omp for schedule(dynamic, 1)
#endif
    for (int64_t t = 0; t < tasks; ++t) {
      if (p.downsample)
        detail::forward_down_pack(x, p, N, C, H, W, t, y, ws);
      else
        detail::forward_block_pack(x, p, N, C, H, W, static_cast<int>(t / packs), t % packs, y,
                                   ws);
    }
  }
  (void)threads;
}

// Gradient buffers in `g` must be zeroed by the caller.
template <class T>
void backward(const T* gy, const T* x, const Params<T>& p, const Grads<T>& g, int64_t N, int C,
              int H, int W, T* gx, int threads) {
  constexpr int L = packed::kLanes<T>;
  const int per_conv = p.downsample ? C : C / 4;
  const int64_t packs = detail::pack_count(N * per_conv, L);
  const int64_t tasks = p.downsample ? packs : 4 * packs;
  const DwConv<T>* convs[4] = {&p.s, &p.m, &p.l1, &p.l2};
  const DwConvGrad<T>* grads[4] = {&g.s, &g.m, &g.l1, &g.l2};
  const int n_convs = p.downsample ? 2 : 4;
#if defined(_OPENMP)
#pragma omp parallel num_threads(threads) if (threads > 1 && tasks > 1)
#endif
  {
    detail::Workspace<T> ws(H, W);
    for (int i = 0; i < n_convs; ++i) {
      ws.gw[i].assign(static_cast<size_t>(per_conv) * convs[i]->taps(), T(0));
      ws.gb[i].assign(per_conv, T(0));
    }
#if defined(_OPENMP)
#pragma omp for schedule(dynamic, 1)
#endif
    for (int64_t t = 0; t < tasks; ++t) {
      if (p.downsample)
        detail::backward_down_pack(gy, x, p, N, C, H, W, t, gx, ws);
      else
        detail::backward_block_pack(gy, x, p, N, C, H, W, static_cast<int>(t / packs),
                                    t % packs, gx, ws);
    }
#if defined(_OPENMP)
#pragma omp critical(pyhpe_mixer_grads)
#endif
    for (int i = 0; i < n_convs; ++i) {
      for (size_t j = 0; j < ws.gw[i].size(); ++j) grads[i]->w[j] += ws.gw[i][j];
      for (size_t j = 0; j < ws.gb[i].size(); ++j) grads[i]->b[j] += ws.gb[i][j];
    }
  }
  (void)threads;
}

}  // namespace PYHPE_ISA_NAMESPACE
}  // namespace mixer
}  // namespace pyhpe
