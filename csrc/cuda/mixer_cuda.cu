// CUDA kernels of the fused RepNeXt mixer (the CPU version and the layout are in
// include/pyhpe/repnext_mixer.h). Each mixer path is a "job": a same-padded depthwise
// convolution from a range of input channels to a range of output channels. Forward: one thread
// per output element. Input gradient: one thread per input element, gathering the outputs it
// fed. Kernel gradient: one block per (channel, tap), a deterministic block reduction (no atomics).
#include <cuda_runtime.h>

#include "cuda/device_guard.h"
#include "cuda/mixer_cuda.h"

namespace pyhpe {
namespace cuda {
namespace {

constexpr int kThreads = 256;

struct Job {
  int64_t src_n, dst_n;  // elements per image of the source and destination tensors
  int kh, kw, stride;    // kh == 0: identity (copy)
};

int grid_for(int64_t n) {
  int64_t b = (n + kThreads - 1) / kThreads;
  return static_cast<int>(b < 65535 * 16 ? b : 65535 * 16);
}

// dst[n, c] (Ho x Wo) = bias[c] + depthwise conv of src[n, c] (H x W) with w[c], then the affine.
template <class T>
__global__ void conv_forward(const T* src, const T* w, const T* b, T* dst, const T* scale,
                             const T* shift, Job j, int N, int count, int H, int W, int Ho,
                             int Wo) {
  const int64_t total = static_cast<int64_t>(N) * count * Ho * Wo;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total;
       i += (int64_t)gridDim.x * blockDim.x) {
    const int x = i % Wo, y = (i / Wo) % Ho, c = (i / ((int64_t)Wo * Ho)) % count;
    const int64_t n = i / ((int64_t)Wo * Ho * count);
    const T* in = src + n * j.src_n + (int64_t)c * H * W;
    T acc;
    if (j.kh == 0) {
      acc = in[y * W + x];
    } else {
      const int ph = (j.kh - 1) / 2, pw = (j.kw - 1) / 2;
      const T* wc = w + (int64_t)c * j.kh * j.kw;
      acc = b[c];
      for (int dy = 0; dy < j.kh; ++dy) {
        const int iy = y * j.stride + dy - ph;
        if (iy < 0 || iy >= H) continue;
        for (int dx = 0; dx < j.kw; ++dx) {
          const int ix = x * j.stride + dx - pw;
          if (ix >= 0 && ix < W) acc += wc[dy * j.kw + dx] * in[iy * W + ix];
        }
      }
    }
    if (scale) acc = acc * scale[c] + shift[c];
    dst[n * j.dst_n + ((int64_t)c * Ho + y) * Wo + x] = acc;
  }
}

// gx[n, c] (H x W) (+)= input gradient of the job for output gradient g[n, c] (Ho x Wo).
template <class T>
__global__ void conv_grad_input(const T* g, const T* w, T* gx, Job j, int N, int count, int H,
                                int W, int Ho, int Wo, bool accumulate) {
  const int64_t total = static_cast<int64_t>(N) * count * H * W;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total;
       i += (int64_t)gridDim.x * blockDim.x) {
    const int x = i % W, y = (i / W) % H, c = (i / ((int64_t)W * H)) % count;
    const int64_t n = i / ((int64_t)W * H * count);
    const T* gc = g + n * j.dst_n + (int64_t)c * Ho * Wo;
    T acc = 0;
    if (j.kh == 0) {
      acc = gc[y * Wo + x];
    } else {
      const int ph = (j.kh - 1) / 2, pw = (j.kw - 1) / 2;
      const T* wc = w + (int64_t)c * j.kh * j.kw;
      for (int dy = 0; dy < j.kh; ++dy) {
        const int ty = y + ph - dy;
        if (ty < 0 || ty % j.stride) continue;
        const int oy = ty / j.stride;
        if (oy >= Ho) continue;
        for (int dx = 0; dx < j.kw; ++dx) {
          const int tx = x + pw - dx;
          if (tx < 0 || tx % j.stride) continue;
          const int ox = tx / j.stride;
          if (ox < Wo) acc += wc[dy * j.kw + dx] * gc[oy * Wo + ox];
        }
      }
    }
    T* out = gx + n * j.src_n + ((int64_t)c * H + y) * W + x;
    *out = accumulate ? *out + acc : acc;
  }
}

// One block per (channel, tap); tap == kh*kw is the bias. gw[c, tap] = sum over n, oy, ox.
template <class T>
__global__ void conv_grad_weight(const T* g, const T* src, T* gw, T* gb, Job j, int N, int H,
                                 int W, int Ho, int Wo) {
  __shared__ T partial[kThreads];
  const int taps = j.kh * j.kw;
  const int c = blockIdx.x / (taps + 1), tap = blockIdx.x % (taps + 1);
  const int dy = tap / j.kw, dx = tap % j.kw;
  const int ph = (j.kh - 1) / 2, pw = (j.kw - 1) / 2;
  const int64_t per_image = (int64_t)Ho * Wo;
  T acc = 0;
  for (int64_t i = threadIdx.x; i < N * per_image; i += blockDim.x) {
    const int64_t n = i / per_image;
    const int oy = (i % per_image) / Wo, ox = i % Wo;
    const T gv = g[n * j.dst_n + (int64_t)c * per_image + oy * Wo + ox];
    if (tap == taps) {
      acc += gv;
      continue;
    }
    const int iy = oy * j.stride + dy - ph, ix = ox * j.stride + dx - pw;
    if (iy >= 0 && iy < H && ix >= 0 && ix < W)
      acc += gv * src[n * j.src_n + ((int64_t)c * H + iy) * W + ix];
  }
  partial[threadIdx.x] = acc;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s /= 2) {
    if (threadIdx.x < s) partial[threadIdx.x] += partial[threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    if (tap == taps) {
      gb[c] = partial[0];
    } else {
      gw[(int64_t)c * taps + tap] = partial[0];
    }
  }
}

}  // namespace

template <class T>
std::string mixer_forward(const T* x, const MixerArgs<T>& a, T* y, int device, uintptr_t stream) {
  if (a.N == 0 || a.C == 0 || a.H == 0 || a.W == 0) return {};
  DeviceGuard guard(device);
  cudaStream_t s = reinterpret_cast<cudaStream_t>(stream);
  const int C = a.C, H = a.H, W = a.W, N = static_cast<int>(a.N);
  const int64_t in_n = (int64_t)C * H * W;
  auto launch = [&](const T* src, int64_t src_n, const T* w, const T* b, int kh, int kw,
                    int stride, int count, T* dst, int64_t dst_n, int Ho, int Wo, int oc) {
    Job j{src_n, dst_n, kh, kw, stride};
    conv_forward<T><<<grid_for((int64_t)N * count * Ho * Wo), kThreads, 0, s>>>(
        src, w, b, dst, a.scale ? a.scale + oc : nullptr, a.shift ? a.shift + oc : nullptr, j, N,
        count, H, W, Ho, Wo);
  };
  if (a.downsample) {
    const int Ho = (H - 1) / 2 + 1, Wo = (W - 1) / 2 + 1;
    const int64_t out_n = 2LL * C * Ho * Wo;
    launch(x, in_n, a.w_s, a.b_s, a.kh_s, a.kw_s, 2, C, y, out_n, Ho, Wo, 0);
    launch(x, in_n, a.w_m, a.b_m, a.kh_m, a.kw_m, 2, C, y + (int64_t)C * Ho * Wo, out_n, Ho, Wo,
           C);
    return status_message(cudaGetLastError());
  }
  const int q = C / 4;
  const int64_t plane = (int64_t)H * W;
  T* t = nullptr;  // the 1x11 strip's output
  cudaError_t e = cudaMallocAsync(reinterpret_cast<void**>(&t), sizeof(T) * a.N * q * plane, s);
  if (e != cudaSuccess) return status_message(e);
  launch(x, in_n, nullptr, nullptr, 0, 0, 1, q, y, in_n, H, W, 0);
  launch(x + q * plane, in_n, a.w_s, a.b_s, a.kh_s, a.kw_s, 1, q, y + q * plane, in_n, H, W, q);
  launch(x + 2 * q * plane, in_n, a.w_m, a.b_m, a.kh_m, a.kw_m, 1, q, y + 2 * q * plane, in_n, H,
         W, 2 * q);
  Job j1{in_n, q * plane, a.kh_l1, a.kw_l1, 1};
  conv_forward<T><<<grid_for(a.N * q * plane), kThreads, 0, s>>>(
      x + 3 * q * plane, a.w_l1, a.b_l1, t, nullptr, nullptr, j1, N, q, H, W, H, W);
  launch(t, q * plane, a.w_l2, a.b_l2, a.kh_l2, a.kw_l2, 1, q, y + 3 * q * plane, in_n, H, W,
         3 * q);
  cudaFreeAsync(t, s);
  return status_message(cudaGetLastError());
}

template <class T>
std::string mixer_backward(const T* gy, const T* x, const MixerArgs<T>& a, const MixerGrads<T>& g,
                           T* gx, int device, uintptr_t stream) {
  if (a.N == 0 || a.C == 0 || a.H == 0 || a.W == 0) return {};
  DeviceGuard guard(device);
  cudaStream_t s = reinterpret_cast<cudaStream_t>(stream);
  const int C = a.C, H = a.H, W = a.W, N = static_cast<int>(a.N);
  const int64_t in_n = (int64_t)C * H * W, plane = (int64_t)H * W;
  auto grad_in = [&](const T* gsrc, int64_t g_n, const T* w, int kh, int kw, int stride,
                     int count, T* dst, int64_t dst_n, int Ho, int Wo, bool acc) {
    Job j{dst_n, g_n, kh, kw, stride};
    conv_grad_input<T><<<grid_for((int64_t)N * count * plane), kThreads, 0, s>>>(
        gsrc, w, dst, j, N, count, H, W, Ho, Wo, acc);
  };
  auto grad_w = [&](const T* gsrc, int64_t g_n, const T* src, int64_t src_n, int kh, int kw,
                    int stride, int count, T* gw, T* gb, int Ho, int Wo) {
    Job j{src_n, g_n, kh, kw, stride};
    conv_grad_weight<T><<<count * (kh * kw + 1), kThreads, 0, s>>>(gsrc, src, gw, gb, j, N, H, W,
                                                                   Ho, Wo);
  };
  if (a.downsample) {
    const int Ho = (H - 1) / 2 + 1, Wo = (W - 1) / 2 + 1;
    const int64_t out_n = 2LL * C * Ho * Wo;
    const T* g_m = gy + (int64_t)C * Ho * Wo;
    grad_in(gy, out_n, a.w_s, a.kh_s, a.kw_s, 2, C, gx, in_n, Ho, Wo, false);
    grad_in(g_m, out_n, a.w_m, a.kh_m, a.kw_m, 2, C, gx, in_n, Ho, Wo, true);
    grad_w(gy, out_n, x, in_n, a.kh_s, a.kw_s, 2, C, g.w_s, g.b_s, Ho, Wo);
    grad_w(g_m, out_n, x, in_n, a.kh_m, a.kw_m, 2, C, g.w_m, g.b_m, Ho, Wo);
    return status_message(cudaGetLastError());
  }
  const int q = C / 4;
  grad_in(gy, in_n, nullptr, 0, 0, 1, q, gx, in_n, H, W, false);
  grad_in(gy + q * plane, in_n, a.w_s, a.kh_s, a.kw_s, 1, q, gx + q * plane, in_n, H, W, false);
  grad_w(gy + q * plane, in_n, x + q * plane, in_n, a.kh_s, a.kw_s, 1, q, g.w_s, g.b_s, H, W);
  grad_in(gy + 2 * q * plane, in_n, a.w_m, a.kh_m, a.kw_m, 1, q, gx + 2 * q * plane, in_n, H, W,
          false);
  grad_w(gy + 2 * q * plane, in_n, x + 2 * q * plane, in_n, a.kh_m, a.kw_m, 1, q, g.w_m, g.b_m,
         H, W);
  // large branch: recompute the strip output t, then through the 11x1 and the 1x11
  T *t = nullptr, *gt = nullptr;
  const size_t bytes = sizeof(T) * a.N * q * plane;
  cudaError_t e = cudaMallocAsync(reinterpret_cast<void**>(&t), bytes, s);
  if (e == cudaSuccess) e = cudaMallocAsync(reinterpret_cast<void**>(&gt), bytes, s);
  if (e != cudaSuccess) return status_message(e);
  const T* xl = x + 3 * q * plane;
  const T* gl = gy + 3 * q * plane;
  Job j1{in_n, q * plane, a.kh_l1, a.kw_l1, 1};
  conv_forward<T><<<grid_for(a.N * q * plane), kThreads, 0, s>>>(xl, a.w_l1, a.b_l1, t, nullptr,
                                                                 nullptr, j1, N, q, H, W, H, W);
  grad_in(gl, in_n, a.w_l2, a.kh_l2, a.kw_l2, 1, q, gt, q * plane, H, W, false);
  grad_w(gl, in_n, t, q * plane, a.kh_l2, a.kw_l2, 1, q, g.w_l2, g.b_l2, H, W);
  grad_in(gt, q * plane, a.w_l1, a.kh_l1, a.kw_l1, 1, q, gx + 3 * q * plane, in_n, H, W, false);
  grad_w(gt, q * plane, xl, in_n, a.kh_l1, a.kw_l1, 1, q, g.w_l1, g.b_l1, H, W);
  cudaFreeAsync(t, s);
  cudaFreeAsync(gt, s);
  return status_message(cudaGetLastError());
}

template std::string mixer_forward<float>(const float*, const MixerArgs<float>&, float*, int,
                                          uintptr_t);
template std::string mixer_forward<double>(const double*, const MixerArgs<double>&, double*, int,
                                           uintptr_t);
template std::string mixer_backward<float>(const float*, const float*, const MixerArgs<float>&,
                                           const MixerGrads<float>&, float*, int, uintptr_t);
template std::string mixer_backward<double>(const double*, const double*,
                                            const MixerArgs<double>&, const MixerGrads<double>&,
                                            double*, int, uintptr_t);

}  // namespace cuda
}  // namespace pyhpe
