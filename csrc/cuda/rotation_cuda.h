// Host-side launchers for the CUDA rotation kernels. Plain C++ (no CUDA headers) so the
// bindings compile without the CUDA toolkit; `stream` is a cudaStream_t passed as an integer
// and `device` the CUDA device index of the tensors. Each returns an empty string on success,
// else the CUDA error message.
#pragma once

#include <stdint.h>

#include <string>

namespace pyhpe {
namespace cuda {

template <class T>
std::string gram_schmidt(const T* x6, T* R, int64_t n, int device, uintptr_t stream);
template <class T>
std::string gram_schmidt_backward(const T* x6, const T* gR, T* gx6, int64_t n, int device,
                                  uintptr_t stream);
template <class T>
std::string geodesic_distance(const T* R1, const T* R2, T* theta, int64_t n, double eps,
                              int device, uintptr_t stream);
template <class T>
std::string geodesic_distance_backward(const T* R1, const T* R2, const T* grad, T* g1, T* g2,
                                       int64_t n, double eps, int device, uintptr_t stream);
template <class T>
std::string sixd_geodesic_distance(const T* x6, const T* Rgt, T* theta, T* grad6, int64_t n,
                                   double eps, int device, uintptr_t stream);
template <class T>
std::string matrix_to_euler(const T* R, T* out, int64_t n, bool degrees, int device,
                            uintptr_t stream);

// The SM architectures this build carries code for, e.g. "75;80;86;89;90".
const char* compiled_arches();

}  // namespace cuda
}  // namespace pyhpe
