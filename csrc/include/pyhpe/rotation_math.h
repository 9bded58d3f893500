// The math of the rotation ops, per sample, written once for every value type V (float,
// double, SIMD packs; see scalar_ops.h and simd.h). This file is the single source of truth:
// the CPU loops, the NEON path and the CUDA kernels all instantiate these functions.
//
// Layouts (row-major, batch first): a 6D vector is [a1 (3), a2 (3)], the raw first and second
// columns; a rotation matrix R is 9 values R[3*i + j]; Euler angles are (pitch, yaw, roll).
#pragma once

#include "pyhpe/config.h"
#include "pyhpe/scalar_ops.h"

// The per-sample functions are always inlined into the CPU loops: called out of line, a pack
// function passes its arrays of packs through memory (GCC does not inline the fused chain on
// its own), and the loops interleave two packs, which needs the code of both in one body.
#if defined(__CUDACC__)
#define PYHPE_ROT_HD PYHPE_HD
#else
#define PYHPE_ROT_HD inline __attribute__((always_inline))
#endif

namespace pyhpe {
inline namespace PYHPE_ISA_NAMESPACE {

template <class V>
PYHPE_ROT_HD void cross3(const V* u, const V* v, V* out) {
  out[0] = u[1] * v[2] - u[2] * v[1];
  out[1] = u[2] * v[0] - u[0] * v[2];
  out[2] = u[0] * v[1] - u[1] * v[0];
}

template <class V>
PYHPE_ROT_HD V dot3(const V* u, const V* v) {
  return u[0] * v[0] + u[1] * v[1] + u[2] * v[2];
}

// Everything the backward pass of Gram-Schmidt needs from its forward pass.
template <class V>
struct GramSchmidtState {
  V x[3], y[3], z[3];  // the columns of R
  V a2[3];             // the raw second column
  V inv1, invc;        // 1 / max(|a1|, floor), 1 / max(|x × a2|, floor)
  V keep1, keepc;      // 1 where the norm was above the floor (the projection applies), else 0
};

// 6DRepNet's construction: x = a1/|a1|, z = (x × a2)/|x × a2|, y = z × x, R = [x | y | z],
// with norms floored at kNormFloor (max(|v|, floor), so a NaN norm stays NaN).
// Divide = true divides each component by the norm, as 6DRepNet does, so that the matrix
// agrees with its construction to the last bit; false multiplies by the reciprocal the state
// keeps anyway (one rounding more per component, and six divisions fewer: the loss chain,
// where divisions and square roots are most of the arithmetic's time, uses it).
template <class V, bool Divide = true>
PYHPE_ROT_HD void gram_schmidt_state(const V* a, GramSchmidtState<V>& s) {
  using O = VecOps<V>;
  const V floor = O::splat(static_cast<typename O::T>(kNormFloor));
  const V one = O::splat(1), zero = O::splat(0);
  V n1 = O::sqrt(dot3(a, a));
  auto small1 = O::lt(n1, floor);
  V f1 = O::select(small1, floor, n1);
  s.keep1 = O::select(small1, zero, one);
  s.inv1 = one / f1;
  for (int i = 0; i < 3; ++i) s.x[i] = Divide ? a[i] / f1 : a[i] * s.inv1;
  for (int i = 0; i < 3; ++i) s.a2[i] = a[3 + i];
  V c[3];
  cross3(s.x, s.a2, c);
  V nc = O::sqrt(dot3(c, c));
  auto smallc = O::lt(nc, floor);
  V fc = O::select(smallc, floor, nc);
  s.keepc = O::select(smallc, zero, one);
  s.invc = one / fc;
  for (int i = 0; i < 3; ++i) s.z[i] = Divide ? c[i] / fc : c[i] * s.invc;
  cross3(s.z, s.x, s.y);
}

template <class V>
PYHPE_ROT_HD void store_matrix(const GramSchmidtState<V>& s, V* R) {
  for (int i = 0; i < 3; ++i) {
    R[3 * i + 0] = s.x[i];
    R[3 * i + 1] = s.y[i];
    R[3 * i + 2] = s.z[i];
  }
}

template <class V>
PYHPE_ROT_HD void gram_schmidt_forward(const V* a, V* R) {
  GramSchmidtState<V> s;
  gram_schmidt_state(a, s);
  store_matrix(s, R);
}

// Vector-Jacobian product: grad_a = (dR/da)^T grad_R, through y = z × x, z = c/|c|,
// c = x × a2, x = a1/|a1| (a floored norm is a constant, so its projection term drops).
template <class V>
PYHPE_ROT_HD void gram_schmidt_vjp(const GramSchmidtState<V>& s, const V* gR, V* ga) {
  V gx[3], gy[3], gz[3], t[3];
  for (int i = 0; i < 3; ++i) {
    gx[i] = gR[3 * i + 0];
    gy[i] = gR[3 * i + 1];
    gz[i] = gR[3 * i + 2];
  }
  cross3(s.x, gy, t);  // y = z × x  ->  dz += x × gy, dx += gy × z
  for (int i = 0; i < 3; ++i) gz[i] = gz[i] + t[i];
  cross3(gy, s.z, t);
  for (int i = 0; i < 3; ++i) gx[i] = gx[i] + t[i];
  V pz = dot3(s.z, gz) * s.keepc;  // z = c / |c|
  V gc[3];
  for (int i = 0; i < 3; ++i) gc[i] = (gz[i] - s.z[i] * pz) * s.invc;
  cross3(s.a2, gc, t);  // c = x × a2  ->  dx += a2 × gc, da2 = gc × x
  for (int i = 0; i < 3; ++i) gx[i] = gx[i] + t[i];
  cross3(gc, s.x, ga + 3);
  V px = dot3(s.x, gx) * s.keep1;  // x = a1 / |a1|
  for (int i = 0; i < 3; ++i) ga[i] = (gx[i] - s.x[i] * px) * s.inv1;
}

template <class V>
PYHPE_ROT_HD void gram_schmidt_backward(const V* a, const V* gR, V* ga) {
  GramSchmidtState<V> s;
  gram_schmidt_state(a, s);
  gram_schmidt_vjp(s, gR, ga);
}

// The clamp bounds of the geodesic distance, rounded to the value type as PyTorch rounds a
// Python float bound for a tensor of that dtype (float32: 1 - 1e-7 -> 0.99999988).
template <class T>
struct GeodesicBounds {
  T lo, hi;
  explicit GeodesicBounds(double eps)
      : lo(static_cast<T>(-1.0 + eps)), hi(static_cast<T>(1.0 - eps)) {}
};

// cos of the angle between R1 and R2: (tr(R1 R2^T) - 1) / 2 = (sum_ij R1_ij R2_ij - 1) / 2.
template <class V>
PYHPE_ROT_HD V geodesic_cos(const V* R1, const V* R2) {
  // three partial sums (rows), not one chain of nine: the chain's latency bounds the loops
  V t0 = R1[0] * R2[0] + R1[1] * R2[1] + R1[2] * R2[2];
  V t1 = R1[3] * R2[3] + R1[4] * R2[4] + R1[5] * R2[5];
  V t2 = R1[6] * R2[6] + R1[7] * R2[7] + R1[8] * R2[8];
  V tr = t0 + t1 + t2;
  return (tr - VecOps<V>::splat(1)) * VecOps<V>::splat(0.5);
}

// theta = acos(clamp(cos, lo, hi)); dtheta/dcos as PyTorch's clamp + acos backward give it
// (-1/sqrt(1 - c^2) where lo <= cos <= hi, else 0), halved for d/dR (cos = (tr - 1)/2).
template <class V>
PYHPE_ROT_HD V geodesic_theta(V cos, V lo, V hi, V* dtheta_dtrace) {
  using O = VecOps<V>;
  V c = O::select(O::lt(cos, lo), lo, cos);
  c = O::select(O::lt(hi, c), hi, c);
  if (dtheta_dtrace) {
    auto inside = O::both(O::le(lo, cos), O::le(cos, hi));
    V d = O::splat(-0.5) / O::sqrt(O::splat(1) - c * c);
    *dtheta_dtrace = O::select(inside, d, O::splat(0));
  }
  return O::acos(c);
}

template <class V>
PYHPE_ROT_HD V geodesic_forward(const V* R1, const V* R2, V lo, V hi) {
  return geodesic_theta(geodesic_cos(R1, R2), lo, hi, static_cast<V*>(nullptr));
}

template <class V>
PYHPE_ROT_HD void geodesic_backward(const V* R1, const V* R2, V grad, V lo, V hi, V* g1, V* g2) {
  V k;
  geodesic_theta(geodesic_cos(R1, R2), lo, hi, &k);
  k = k * grad;
  for (int i = 0; i < 9; ++i) {
    g1[i] = k * R2[i];
    g2[i] = k * R1[i];
  }
}

// The fused training chain for one sample: theta(gram_schmidt(a), R_gt) and, if grad_a is
// given, grad_scale * d theta / d a, in one pass with everything in registers. The VJP is
// linear in grad_R = (d theta / d trace) R_gt, so it runs on R_gt and the scalar factor (times
// grad_scale: 1 / B for a batch mean) multiplies the six results.
template <class V>
PYHPE_ROT_HD V sixd_geodesic_forward(const V* a, const V* Rgt, V lo, V hi, V* grad_a, V grad_scale) {
  GramSchmidtState<V> s;
  gram_schmidt_state<V, false>(a, s);
  V R[9];
  store_matrix(s, R);
  V k;
  V theta = geodesic_theta(geodesic_cos(R, Rgt), lo, hi, grad_a ? &k : static_cast<V*>(nullptr));
  if (grad_a) {
    V ga[6];
    gram_schmidt_vjp(s, Rgt, ga);
    k = k * grad_scale;
    for (int i = 0; i < 6; ++i) grad_a[i] = k * ga[i];
  }
  return theta;
}

template <class V>
PYHPE_ROT_HD V sixd_geodesic_forward(const V* a, const V* Rgt, V lo, V hi, V* grad_a) {
  return sixd_geodesic_forward(a, Rgt, lo, hi, grad_a, VecOps<V>::splat(1));
}

// (pitch, yaw, roll) with R = Rz(roll) Ry(yaw) Rx(pitch), 6DRepNet's decomposition including its
// gimbal branch (s = sqrt(R00^2 + R10^2) < 1e-6: pitch = atan2(-R12, R11), roll = 0).
template <class V>
PYHPE_ROT_HD void matrix_to_euler(const V* R, V* out, bool degrees) {
  using O = VecOps<V>;
  using T = typename O::T;
  V s = O::sqrt(R[0] * R[0] + R[3] * R[3]);
  auto singular = O::lt(s, O::splat(static_cast<T>(kGimbalThreshold)));
  const V zero = O::splat(0);
  V pitch = O::select(singular, O::atan2(-R[5], R[4]), O::atan2(R[7], R[8]));
  V yaw = O::atan2(-R[6], s);
  V roll = O::select(singular, zero, O::atan2(R[3], R[0]));
  if (degrees) {
    const V k = O::splat(static_cast<T>(180.0 / kPi));
    pitch = pitch * k;
    yaw = yaw * k;
    roll = roll * k;
  }
  out[0] = pitch;
  out[1] = yaw;
  out[2] = roll;
}

}  // namespace PYHPE_ISA_NAMESPACE
}  // namespace pyhpe
