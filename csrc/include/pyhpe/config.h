// Portability macros shared by the CPU, CUDA and NEON builds of the kernels.
#pragma once

#if defined(__CUDACC__)
#define PYHPE_HD __host__ __device__ __forceinline__
#else
#define PYHPE_HD inline
#endif

namespace pyhpe {

// 6DRepNet floors vector norms at this value in Gram-Schmidt (max(|v|, 1e-8)).
constexpr double kNormFloor = 1e-8;
// 6DRepNet's gimbal-lock test on sqrt(R00^2 + R10^2) in the Euler decomposition.
constexpr double kGimbalThreshold = 1e-6;
constexpr double kPi = 3.14159265358979323846;

}  // namespace pyhpe
