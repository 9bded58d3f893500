// CUDA kernels for the rotation ops: one thread per sample, grid-stride loops, the per-sample
// math of include/pyhpe/rotation_math.h on scalars (float or double).
#include <cuda_runtime.h>

#include "cuda/device_guard.h"
#include "cuda/rotation_cuda.h"
#include "pyhpe/rotation_math.h"

#ifndef PYHPE_CUDA_ARCHES
#define PYHPE_CUDA_ARCHES ""
#endif

namespace pyhpe {
namespace cuda {
namespace {

constexpr int kThreads = 256;

int blocks_for(int64_t n) {
  int64_t b = (n + kThreads - 1) / kThreads;
  return static_cast<int>(b < 65535 * 8 ? b : 65535 * 8);
}

#define PYHPE_GRID_STRIDE(i, n) \
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (n); \
       i += (int64_t)gridDim.x * blockDim.x)

template <int W, class T>
__device__ __forceinline__ void load_row(const T* p, T* v) {
#pragma unroll
  for (int k = 0; k < W; ++k) v[k] = p[k];
}

template <class T>
__global__ void gram_schmidt_kernel(const T* x6, T* R, int64_t n) {
  PYHPE_GRID_STRIDE(i, n) {
    T a[6], r[9];
    load_row<6>(x6 + 6 * i, a);
    pyhpe::gram_schmidt_forward(a, r);
#pragma unroll
    for (int k = 0; k < 9; ++k) R[9 * i + k] = r[k];
  }
}

template <class T>
__global__ void gram_schmidt_backward_kernel(const T* x6, const T* gR, T* gx6, int64_t n) {
  PYHPE_GRID_STRIDE(i, n) {
    T a[6], g[9], out[6];
    load_row<6>(x6 + 6 * i, a);
    load_row<9>(gR + 9 * i, g);
    pyhpe::gram_schmidt_backward(a, g, out);
#pragma unroll
    for (int k = 0; k < 6; ++k) gx6[6 * i + k] = out[k];
  }
}

template <class T>
__global__ void geodesic_kernel(const T* R1, const T* R2, T* theta, int64_t n, T lo, T hi) {
  PYHPE_GRID_STRIDE(i, n) {
    T a[9], b[9];
    load_row<9>(R1 + 9 * i, a);
    load_row<9>(R2 + 9 * i, b);
    theta[i] = pyhpe::geodesic_forward(a, b, lo, hi);
  }
}

template <class T>
__global__ void geodesic_backward_kernel(const T* R1, const T* R2, const T* grad, T* g1, T* g2,
                                         int64_t n, T lo, T hi) {
  PYHPE_GRID_STRIDE(i, n) {
    T a[9], b[9], o1[9], o2[9];
    load_row<9>(R1 + 9 * i, a);
    load_row<9>(R2 + 9 * i, b);
    pyhpe::geodesic_backward(a, b, grad[i], lo, hi, o1, o2);
#pragma unroll
    for (int k = 0; k < 9; ++k) {
      g1[9 * i + k] = o1[k];
      g2[9 * i + k] = o2[k];
    }
  }
}

template <class T>
__global__ void sixd_geodesic_kernel(const T* x6, const T* Rgt, T* theta, T* grad6, int64_t n,
                                     T lo, T hi) {
  PYHPE_GRID_STRIDE(i, n) {
    T a[6], g[9], ga[6];
    load_row<6>(x6 + 6 * i, a);
    load_row<9>(Rgt + 9 * i, g);
    theta[i] = pyhpe::sixd_geodesic_forward(a, g, lo, hi, grad6 ? ga : static_cast<T*>(nullptr));
    if (grad6) {
#pragma unroll
      for (int k = 0; k < 6; ++k) grad6[6 * i + k] = ga[k];
    }
  }
}

template <class T>
__global__ void matrix_to_euler_kernel(const T* R, T* out, int64_t n, bool degrees) {
  PYHPE_GRID_STRIDE(i, n) {
    T r[9], e[3];
    load_row<9>(R + 9 * i, r);
    pyhpe::matrix_to_euler(r, e, degrees);
#pragma unroll
    for (int k = 0; k < 3; ++k) out[3 * i + k] = e[k];
  }
}

std::string last_error() { return status_message(cudaGetLastError()); }

template <class Launch>
std::string launch(int64_t n, int device, Launch&& go) {
  if (n == 0) return {};
  DeviceGuard guard(device);
  go(blocks_for(n));
  return last_error();
}

}  // namespace

#define PYHPE_STREAM reinterpret_cast<cudaStream_t>(stream)

template <class T>
std::string gram_schmidt(const T* x6, T* R, int64_t n, int device, uintptr_t stream) {
  return launch(n, device, [&](int blocks) {
    gram_schmidt_kernel<T><<<blocks, kThreads, 0, PYHPE_STREAM>>>(x6, R, n);
  });
}

template <class T>
std::string gram_schmidt_backward(const T* x6, const T* gR, T* gx6, int64_t n, int device,
                                  uintptr_t stream) {
  return launch(n, device, [&](int blocks) {
    gram_schmidt_backward_kernel<T><<<blocks, kThreads, 0, PYHPE_STREAM>>>(x6, gR, gx6, n);
  });
}

template <class T>
std::string geodesic_distance(const T* R1, const T* R2, T* theta, int64_t n, double eps,
                              int device, uintptr_t stream) {
  const GeodesicBounds<T> b(eps);
  return launch(n, device, [&](int blocks) {
    geodesic_kernel<T><<<blocks, kThreads, 0, PYHPE_STREAM>>>(R1, R2, theta, n, b.lo, b.hi);
  });
}

template <class T>
std::string geodesic_distance_backward(const T* R1, const T* R2, const T* grad, T* g1, T* g2,
                                       int64_t n, double eps, int device, uintptr_t stream) {
  const GeodesicBounds<T> b(eps);
  return launch(n, device, [&](int blocks) {
    geodesic_backward_kernel<T>
        <<<blocks, kThreads, 0, PYHPE_STREAM>>>(R1, R2, grad, g1, g2, n, b.lo, b.hi);
  });
}

template <class T>
std::string sixd_geodesic_distance(const T* x6, const T* Rgt, T* theta, T* grad6, int64_t n,
                                   double eps, int device, uintptr_t stream) {
  const GeodesicBounds<T> b(eps);
  return launch(n, device, [&](int blocks) {
    sixd_geodesic_kernel<T>
        <<<blocks, kThreads, 0, PYHPE_STREAM>>>(x6, Rgt, theta, grad6, n, b.lo, b.hi);
  });
}

template <class T>
std::string matrix_to_euler(const T* R, T* out, int64_t n, bool degrees, int device,
                            uintptr_t stream) {
  return launch(n, device, [&](int blocks) {
    matrix_to_euler_kernel<T><<<blocks, kThreads, 0, PYHPE_STREAM>>>(R, out, n, degrees);
  });
}

const char* compiled_arches() { return PYHPE_CUDA_ARCHES; }

#define PYHPE_INSTANTIATE(T)                                                                   \
  template std::string gram_schmidt<T>(const T*, T*, int64_t, int, uintptr_t);                \
  template std::string gram_schmidt_backward<T>(const T*, const T*, T*, int64_t, int,          \
                                                uintptr_t);                                    \
  template std::string geodesic_distance<T>(const T*, const T*, T*, int64_t, double, int,      \
                                            uintptr_t);                                        \
  template std::string geodesic_distance_backward<T>(const T*, const T*, const T*, T*, T*,     \
                                                     int64_t, double, int, uintptr_t);         \
  template std::string sixd_geodesic_distance<T>(const T*, const T*, T*, T*, int64_t, double,  \
                                                  int, uintptr_t);                             \
  template std::string matrix_to_euler<T>(const T*, T*, int64_t, bool, int, uintptr_t);

PYHPE_INSTANTIATE(float)
PYHPE_INSTANTIATE(double)

}  // namespace cuda
}  // namespace pyhpe
