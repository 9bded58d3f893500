// The table of batched CPU rotation kernels one build of cpu/rotation_kernels.cpp provides.
// The file is compiled once per instruction set (baseline SSE2, AVX2+FMA and AVX-512F on x86-64,
// NEON on aarch64; pyhpe/isa.h); the bindings pick the best table the running CPU supports.
#pragma once

#include <stdint.h>

#include "pyhpe/isa.h"

namespace pyhpe {
namespace cpu {

template <class T>
struct RotationKernelsT {
  void (*gram_schmidt)(const T* x6, T* R, int64_t n, int threads);
  void (*gram_schmidt_backward)(const T* x6, const T* gR, T* gx6, int64_t n, int threads);
  void (*geodesic_distance)(const T* R1, const T* R2, T* theta, int64_t n, double eps,
                            int threads);
  void (*geodesic_distance_backward)(const T* R1, const T* R2, const T* grad, T* g1, T* g2,
                                     int64_t n, double eps, int threads);
  void (*sixd_geodesic_distance)(const T* x6, const T* Rgt, T* theta, T* grad6, int64_t n,
                                 double eps, int threads);
  void (*matrix_to_euler)(const T* R, T* out, int64_t n, bool degrees, int threads);
  // The training loss in one pass: returns the mean (mean = true) or sum of the distances and,
  // if grad6 is not null, writes the loss's gradient w.r.t. x6 (NaN / 0 for n = 0).
  double (*sixd_geodesic_loss)(const T* x6, const T* Rgt, T* grad6, int64_t n, bool mean,
                               double eps, int threads);
};

struct RotationKernels {
  const char* isa;  // "avx512", "avx2", "sse2", "neon", "scalar"
  int64_t parallel_threshold;  // batches from this size on are split across threads
  RotationKernelsT<float> f32;
  RotationKernelsT<double> f64;
};

// kRotationKernels_baseline, _avx2, ...: one per compiled instruction set (defined by the
// builds of cpu/rotation_kernels.cpp).
PYHPE_ISA_DECLARE(RotationKernels, kRotationKernels);

}  // namespace cpu
}  // namespace pyhpe
