// SIMD pack types for the CPU kernels, each with the VecOps interface of scalar_ops.h.
//
//  * x86 (and any GCC/Clang target): GCC vector extensions. The width follows the compile
//    flags of the translation unit: 64-byte packs under __AVX512F__ (AVX-512 build: 16 floats,
//    8 doubles), 32-byte packs when __AVX__ is on (AVX2 build), 16-byte packs otherwise (SSE2
//    baseline). Arithmetic is written with operators and lowered by the compiler; sqrt uses the
//    SSE/AVX/AVX-512 intrinsics.
//    Test-only: -DPYHPE_PACK_BYTES=16|32|64 sets the pack width regardless of the flags. Packs
//    wider than the registers are lowered by GCC to several registers (64-byte packs with
//    -mavx2 -mfma are two AVX2 halves), so the 16-lane logic of the AVX-512 build runs, and is
//    tested, on a CPU without AVX-512 (csrc/tests variant host-wide16; never a package build).
//  * aarch64: float32x4_t with NEON intrinsics (vld1q/vst1q, vsqrtq, vcltq, vbslq, vdupq).
//
// float packs evaluate acos and atan2 with range-reduced minimax polynomials (Cephes-style
// coefficients, a few ulp); double packs call libm lane by lane, so float64 stays exact.
#pragma once

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "pyhpe/config.h"
#include "pyhpe/scalar_ops.h"

#if defined(__ARM_NEON)
#include <arm_neon.h>
#elif defined(__SSE2__)
#include <immintrin.h>
#endif

namespace pyhpe {
inline namespace PYHPE_ISA_NAMESPACE {

// ---------------------------------------------------------------------------------------------
// Polynomial transcendental functions for float packs (written once on the VecOps interface).

template <class V>
inline V poly_acos_f32(V x) {
  using O = VecOps<V>;
  const V one = O::splat(1.0f), half = O::splat(0.5f), zero = O::splat(0.0f);
  V ax = O::select(O::lt(x, zero), zero - x, x);
  auto big = O::lt(half, ax);
  V z = O::select(big, (one - ax) * half, x * x);
  V s = O::select(big, O::sqrt(z), ax);
  // asin(s) = s + s z P(z) on |s| <= 0.5
  V p = O::splat(4.2163199048e-2f);
  p = p * z + O::splat(2.4181311049e-2f);
  p = p * z + O::splat(4.5470025998e-2f);
  p = p * z + O::splat(7.4953002686e-2f);
  p = p * z + O::splat(1.6666752422e-1f);
  V asin_s = s + s * z * p;
  auto neg = O::lt(x, zero);
  V two_asin = asin_s + asin_s;
  V r_big = O::select(neg, O::splat(static_cast<float>(kPi)) - two_asin, two_asin);
  V r_small = O::splat(static_cast<float>(kPi / 2)) - O::select(neg, zero - asin_s, asin_s);
  return O::select(big, r_big, r_small);
}

template <class V>
inline V poly_atan2_f32(V y, V x) {
  using O = VecOps<V>;
  const V zero = O::splat(0.0f), one = O::splat(1.0f), inf = O::splat(INFINITY);
  V ax = O::abs(x), ay = O::abs(y);
  auto y_big = O::lt(ax, ay);
  V mx = O::select(y_big, ay, ax);
  V mn = O::select(y_big, ax, ay);
  V a = O::select(O::le(mx, zero), zero, mn / mx);         // atan2(±0, ±0): magnitude 0
  a = O::select(O::both(O::le(inf, ax), O::le(inf, ay)), one, a);  // both infinite: pi/4
  // atan(a) for a in [0, 1]: reduce a > tan(pi/8) by atan(a) = pi/4 + atan((a-1)/(a+1)).
  auto reduce = O::lt(O::splat(0.41421356237309503f), a);
  V t = O::select(reduce, (a - one) / (a + one), a);
  V off = O::select(reduce, O::splat(static_cast<float>(kPi / 4)), zero);
  V z = t * t;
  V p = O::splat(8.05374449538e-2f);
  p = p * z - O::splat(1.38776856032e-1f);
  p = p * z + O::splat(1.99777106478e-1f);
  p = p * z - O::splat(3.33329491539e-1f);
  V r = off + (t + t * z * p);
  r = O::select(y_big, O::splat(static_cast<float>(kPi / 2)) - r, r);
  // Quadrants from the sign bits, so -0.0 behaves as in libm: atan2(±0, -0) = ±pi.
  r = O::select(O::sign_set(x), O::splat(static_cast<float>(kPi)) - r, r);
  r = O::copysign(r, y);
  // NaN in, NaN out (the comparisons above are false for NaN and could pick a number).
  r = O::select(O::le(x, x), r, x);
  return O::select(O::le(y, y), r, y);
}

// ---------------------------------------------------------------------------------------------
// GCC vector-extension packs (x86 SSE2/AVX2, and any other GCC target without NEON).

#if !defined(__ARM_NEON) && !defined(__CUDACC__)

// The widest registers of this translation unit's flags (0: no x86 SIMD; GCC lowers the packs).
#if defined(__AVX512F__)
#define PYHPE_SIMD_NATIVE_BYTES 64
#elif defined(__AVX__)
#define PYHPE_SIMD_NATIVE_BYTES 32
#elif defined(__SSE2__)
#define PYHPE_SIMD_NATIVE_BYTES 16
#else
#define PYHPE_SIMD_NATIVE_BYTES 0
#endif

// The pack width in bytes, as a macro for #if (kPackBytes below is the same number).
#if defined(PYHPE_PACK_BYTES)
#if PYHPE_PACK_BYTES != 16 && PYHPE_PACK_BYTES != 32 && PYHPE_PACK_BYTES != 64
#error "PYHPE_PACK_BYTES must be 16, 32 or 64"
#endif
#define PYHPE_SIMD_PACK_BYTES PYHPE_PACK_BYTES
#elif PYHPE_SIMD_NATIVE_BYTES == 0
#define PYHPE_SIMD_PACK_BYTES 16
#else
#define PYHPE_SIMD_PACK_BYTES PYHPE_SIMD_NATIVE_BYTES
#endif

constexpr int kPackBytes = PYHPE_SIMD_PACK_BYTES;

typedef float f32pack __attribute__((vector_size(kPackBytes)));
typedef double f64pack __attribute__((vector_size(kPackBytes)));
typedef int32_t i32pack __attribute__((vector_size(kPackBytes)));

// sqrt of a whole pack with the widest sqrt instruction of the flags, applied to each
// register-sized part of a pack wider than the registers (PYHPE_PACK_BYTES); lane by lane
// without x86 SIMD.
namespace simd_detail {
typedef float f32x4 __attribute__((vector_size(16)));
typedef float f32x8 __attribute__((vector_size(32)));
typedef float f32x16 __attribute__((vector_size(64)));
typedef double f64x2 __attribute__((vector_size(16)));
typedef double f64x4 __attribute__((vector_size(32)));
typedef double f64x8 __attribute__((vector_size(64)));
#if defined(__SSE2__)
inline f32x4 native_sqrt(f32x4 x) { return _mm_sqrt_ps(x); }
inline f64x2 native_sqrt(f64x2 x) { return _mm_sqrt_pd(x); }
#endif
#if defined(__AVX__)
inline f32x8 native_sqrt(f32x8 x) { return _mm256_sqrt_ps(x); }
inline f64x4 native_sqrt(f64x4 x) { return _mm256_sqrt_pd(x); }
#endif
#if defined(__AVX512F__)
// the all-lanes mask form: GCC 12's _mm512_sqrt_ps reads _mm512_undefined_ps(), which
// -Wuninitialized reports; with every lane selected this is the same single vsqrtps/vsqrtpd
inline f32x16 native_sqrt(f32x16 x) { return _mm512_mask_sqrt_ps(x, static_cast<__mmask16>(0xffff), x); }
inline f64x8 native_sqrt(f64x8 x) { return _mm512_mask_sqrt_pd(x, static_cast<__mmask8>(0xff), x); }
#endif

template <class P, class T>
inline P pack_sqrt(P x) {
  constexpr int part_bytes = PYHPE_SIMD_NATIVE_BYTES < kPackBytes ? PYHPE_SIMD_NATIVE_BYTES
                                                                  : kPackBytes;
  if constexpr (part_bytes == 0) {
    for (int i = 0; i < kPackBytes / static_cast<int>(sizeof(T)); ++i)
      x[i] = static_cast<T>(::sqrt(static_cast<double>(x[i])));
    return x;
  } else if constexpr (part_bytes == kPackBytes) {
    return native_sqrt(x);
  } else {
    typedef T Part __attribute__((vector_size(part_bytes)));
    Part parts[kPackBytes / part_bytes];
    memcpy(parts, &x, sizeof(P));
    for (Part& part : parts) part = native_sqrt(part);
    memcpy(&x, parts, sizeof(P));
    return x;
  }
}
}  // namespace simd_detail

template <class P, class T, int N>
struct GccPackOps {
  using Mask = decltype(P{} < P{});
  static constexpr int kLanes = N;
  static inline P splat(T c) { return P{} + c; }
  static inline P load(const T* p) {
    P v;
    memcpy(&v, p, sizeof(P));
    return v;
  }
  static inline void store(T* p, P v) { memcpy(p, &v, sizeof(P)); }
  static inline Mask lt(P a, P b) { return a < b; }
  static inline Mask le(P a, P b) { return a <= b; }
  static inline Mask both(Mask a, Mask b) { return a & b; }
  static inline P select(Mask m, P a, P b) { return m ? a : b; }
};

template <>
struct VecOps<f32pack> : GccPackOps<f32pack, float, kPackBytes / 4> {
  using T = float;
  static inline f32pack abs(f32pack x) {
    return reinterpret_cast<f32pack>(reinterpret_cast<i32pack>(x) & 0x7fffffff);
  }
  static inline Mask sign_set(f32pack x) { return reinterpret_cast<i32pack>(x) < 0; }
  static inline f32pack copysign(f32pack mag, f32pack sign) {
    i32pack bits = (reinterpret_cast<i32pack>(mag) & 0x7fffffff) |
                   (reinterpret_cast<i32pack>(sign) & static_cast<int32_t>(0x80000000u));
    return reinterpret_cast<f32pack>(bits);
  }
  static inline f32pack sqrt(f32pack x) { return simd_detail::pack_sqrt<f32pack, float>(x); }
  static inline f32pack acos(f32pack x) { return poly_acos_f32(x); }
  static inline f32pack atan2(f32pack y, f32pack x) { return poly_atan2_f32(y, x); }
};

template <>
struct VecOps<f64pack> : GccPackOps<f64pack, double, kPackBytes / 8> {
  using T = double;
  static inline f64pack sqrt(f64pack x) { return simd_detail::pack_sqrt<f64pack, double>(x); }
  static inline f64pack acos(f64pack x) {
    for (int i = 0; i < kLanes; ++i) x[i] = ::acos(x[i]);
    return x;
  }
  static inline f64pack atan2(f64pack y, f64pack x) {
    for (int i = 0; i < kLanes; ++i) y[i] = ::atan2(y[i], x[i]);
    return y;
  }
};

using F32Pack = f32pack;
using F64Pack = f64pack;

#endif  // GCC vector packs

// ---------------------------------------------------------------------------------------------
// NEON packs (aarch64). float64 uses the scalar path there.

#if defined(__ARM_NEON) && !defined(__CUDACC__)

template <>
struct VecOps<float32x4_t> {
  using T = float;
  using Mask = uint32x4_t;
  static constexpr int kLanes = 4;
  static inline float32x4_t splat(float c) { return vdupq_n_f32(c); }
  static inline float32x4_t load(const float* p) { return vld1q_f32(p); }
  static inline void store(float* p, float32x4_t v) { vst1q_f32(p, v); }
  static inline float32x4_t sqrt(float32x4_t x) { return vsqrtq_f32(x); }
  static inline Mask lt(float32x4_t a, float32x4_t b) { return vcltq_f32(a, b); }
  static inline Mask le(float32x4_t a, float32x4_t b) { return vcleq_f32(a, b); }
  static inline Mask both(Mask a, Mask b) { return vandq_u32(a, b); }
  static inline float32x4_t select(Mask m, float32x4_t a, float32x4_t b) {
    return vbslq_f32(m, a, b);
  }
  static inline float32x4_t abs(float32x4_t x) { return vabsq_f32(x); }
  static inline Mask sign_set(float32x4_t x) {
    return vcltq_s32(vreinterpretq_s32_f32(x), vdupq_n_s32(0));
  }
  static inline float32x4_t copysign(float32x4_t mag, float32x4_t sign) {
    return vbslq_f32(vdupq_n_u32(0x80000000u), sign, mag);
  }
  static inline float32x4_t acos(float32x4_t x) { return poly_acos_f32(x); }
  static inline float32x4_t atan2(float32x4_t y, float32x4_t x) { return poly_atan2_f32(y, x); }
};

using F32Pack = float32x4_t;
using F64Pack = double;  // scalar

#endif  // NEON

}  // namespace PYHPE_ISA_NAMESPACE
}  // namespace pyhpe
