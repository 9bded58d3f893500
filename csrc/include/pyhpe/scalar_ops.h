// Value operations for plain scalars (float, double): the reference path, and what CUDA
// kernels use per thread. Every SIMD pack type in simd.h provides the same functions, so the
// per-sample math in rotation_math.h is written once for all of them.
#pragma once

#include <math.h>

#include "pyhpe/config.h"

namespace pyhpe {
inline namespace PYHPE_ISA_NAMESPACE {

template <class V>
struct VecOps;

template <>
struct VecOps<float> {
  using T = float;
  using Mask = bool;
  static constexpr int kLanes = 1;
  static PYHPE_HD float splat(float c) { return c; }
  static PYHPE_HD float load(const float* p) { return *p; }
  static PYHPE_HD void store(float* p, float v) { *p = v; }
  static PYHPE_HD float sqrt(float x) { return sqrtf(x); }
  static PYHPE_HD float acos(float x) { return acosf(x); }
  static PYHPE_HD float atan2(float y, float x) { return atan2f(y, x); }
  static PYHPE_HD bool lt(float a, float b) { return a < b; }
  static PYHPE_HD bool le(float a, float b) { return a <= b; }
  static PYHPE_HD bool both(bool a, bool b) { return a && b; }
  static PYHPE_HD float select(bool m, float a, float b) { return m ? a : b; }
};

template <>
struct VecOps<double> {
  using T = double;
  using Mask = bool;
  static constexpr int kLanes = 1;
  static PYHPE_HD double splat(double c) { return c; }
  static PYHPE_HD double load(const double* p) { return *p; }
  static PYHPE_HD void store(double* p, double v) { *p = v; }
  static PYHPE_HD double sqrt(double x) { return ::sqrt(x); }
  static PYHPE_HD double acos(double x) { return ::acos(x); }
  static PYHPE_HD double atan2(double y, double x) { return ::atan2(y, x); }
  static PYHPE_HD bool lt(double a, double b) { return a < b; }
  static PYHPE_HD bool le(double a, double b) { return a <= b; }
  static PYHPE_HD bool both(bool a, bool b) { return a && b; }
  static PYHPE_HD double select(bool m, double a, double b) { return m ? a : b; }
};

}  // namespace PYHPE_ISA_NAMESPACE
}  // namespace pyhpe
