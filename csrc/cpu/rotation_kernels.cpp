// Instantiates the header-only kernels of include/pyhpe/rotation_cpu.h for the instruction set
// this translation unit is compiled for, as the table PYHPE_ISA_TABLE(kRotationKernels)
// (pyhpe/isa.h).
#include "cpu/rotation_kernels.h"

#include "pyhpe/rotation_cpu.h"

namespace pyhpe {
namespace cpu {

template <class T>
constexpr RotationKernelsT<T> make_table() {
  return RotationKernelsT<T>{
      &gram_schmidt<T>,           &gram_schmidt_backward<T>,
      &geodesic_distance<T>,      &geodesic_distance_backward<T>,
      &sixd_geodesic_distance<T>, &matrix_to_euler<T>,
      &sixd_geodesic_loss<T>,
  };
}

extern const RotationKernels PYHPE_ISA_TABLE(kRotationKernels);
const RotationKernels PYHPE_ISA_TABLE(kRotationKernels) = {PYHPE_ISA_NAME, kParallelThreshold,
                                                           make_table<float>(), make_table<double>()};

}  // namespace cpu
}  // namespace pyhpe
