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

// Kernels compiled once per instruction set (csrc/cpu/*.cpp: SSE2 baseline, AVX2, AVX-512 on x86-64)
// live in an inline namespace named after it, so that each build's copies of the same inline
// functions and templates are distinct symbols. Without it the linker keeps one copy of each
// (they are weak symbols with one name), and a table may run the other ISA's code: slower, or
// an illegal instruction on a CPU without AVX2.
// A test-only pack width (PYHPE_PACK_BYTES, simd.h) gets its own namespace too (isa_avx2_p64).
#if defined(__CUDACC__)
#define PYHPE_ISA_NAMESPACE_ isa_cuda
#elif defined(__ARM_NEON)
#define PYHPE_ISA_NAMESPACE_ isa_neon
#elif defined(__AVX512BF16__)
#define PYHPE_ISA_NAMESPACE_ isa_avx512bf16  // the runtime's bf16 FFN unit (ffn_forward_bf16.cpp)
#elif defined(__AVX512F__)
#define PYHPE_ISA_NAMESPACE_ isa_avx512
#elif defined(__AVX2__)
#define PYHPE_ISA_NAMESPACE_ isa_avx2
#elif defined(__AVX__)
#define PYHPE_ISA_NAMESPACE_ isa_avx
#elif defined(__SSE2__)
#define PYHPE_ISA_NAMESPACE_ isa_sse2
#else
#define PYHPE_ISA_NAMESPACE_ isa_generic
#endif
#if defined(PYHPE_PACK_BYTES) && !defined(__CUDACC__)
#define PYHPE_ISA_NS_CAT2_(a, b) a##_p##b
#define PYHPE_ISA_NS_CAT_(a, b) PYHPE_ISA_NS_CAT2_(a, b)
#define PYHPE_ISA_NAMESPACE PYHPE_ISA_NS_CAT_(PYHPE_ISA_NAMESPACE_, PYHPE_PACK_BYTES)
#else
#define PYHPE_ISA_NAMESPACE PYHPE_ISA_NAMESPACE_
#endif
