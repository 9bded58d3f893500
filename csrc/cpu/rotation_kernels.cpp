// Instantiates the header-only kernels of include/pyhpe/rotation_cpu.h for the instruction set
// this translation unit is compiled for. PYHPE_KERNEL_TABLE names the table it defines.
#include "cpu/rotation_kernels.h"

#include "pyhpe/rotation_cpu.h"

#ifndef PYHPE_KERNEL_TABLE
#define PYHPE_KERNEL_TABLE kRotationKernelsBaseline
#endif

#if defined(__ARM_NEON)
#define PYHPE_ISA_NAME "neon"
#elif defined(__AVX2__)
#define PYHPE_ISA_NAME "avx2"
#elif defined(__SSE2__)
#define PYHPE_ISA_NAME "sse2"
#else
#define PYHPE_ISA_NAME "scalar"
#endif

namespace pyhpe {
namespace cpu {

template <class T>
constexpr RotationKernelsT<T> make_table() {
  return RotationKernelsT<T>{
      &gram_schmidt<T>,           &gram_schmidt_backward<T>,
      &geodesic_distance<T>,      &geodesic_distance_backward<T>,
      &sixd_geodesic_distance<T>, &matrix_to_euler<T>,
  };
}

extern const RotationKernels PYHPE_KERNEL_TABLE;
const RotationKernels PYHPE_KERNEL_TABLE = {PYHPE_ISA_NAME, kParallelThreshold,
                                            make_table<float>(), make_table<double>()};

}  // namespace cpu
}  // namespace pyhpe
