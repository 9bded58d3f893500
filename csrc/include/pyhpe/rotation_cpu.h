// Batched CPU kernels: loop over samples in blocks of one SIMD pack, transposing the
// array-of-structures rows (6 or 9 values per sample) into one pack per field, running the
// per-sample math of rotation_math.h on whole packs, and transposing back. The tail that does
// not fill a pack runs the same math on scalars. Batches above a threshold are split across
// threads (OpenMP when built with it).
#pragma once

#include <stdint.h>

#include "pyhpe/rotation_math.h"
#include "pyhpe/simd.h"

namespace pyhpe {
namespace cpu {
inline namespace PYHPE_ISA_NAMESPACE {

// Batches smaller than this run on one thread: below it, waking threads costs more than it saves.
constexpr int64_t kParallelThreshold = 8192;

template <class V>
struct Lane {
  using Ops = VecOps<V>;
  using T = typename Ops::T;
  static constexpr int kLanes = Ops::kLanes;

  // Fields [0, width) of kLanes consecutive rows (row stride = width) -> one pack per field.
  template <int Width>
  static inline void load_rows(const T* rows, V* fields) {
    if (kLanes == 1) {
      for (int k = 0; k < Width; ++k) fields[k] = Ops::load(rows + k);
      return;
    }
    alignas(64) T buf[Width][kLanes];
    for (int l = 0; l < kLanes; ++l)
      for (int k = 0; k < Width; ++k) buf[k][l] = rows[l * Width + k];
    for (int k = 0; k < Width; ++k) fields[k] = Ops::load(buf[k]);
  }

  template <int Width>
  static inline void store_rows(const V* fields, T* rows) {
    if (kLanes == 1) {
      for (int k = 0; k < Width; ++k) Ops::store(rows + k, fields[k]);
      return;
    }
    alignas(64) T buf[Width][kLanes];
    for (int k = 0; k < Width; ++k) Ops::store(buf[k], fields[k]);
    for (int l = 0; l < kLanes; ++l)
      for (int k = 0; k < Width; ++k) rows[l * Width + k] = buf[k][l];
  }
};

// Calls body(Lane<P>, first_row) for each full pack of rows and body(Lane<T>, row) for the tail.
template <class T, class P, class Body>
inline void for_each_row_block(int64_t n, int threads, Body body) {
  constexpr int64_t L = VecOps<P>::kLanes;
  const int64_t blocks = n / L;
#if defined(_OPENMP)
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && n >= kParallelThreshold)
#endif
  for (int64_t b = 0; b < blocks; ++b) body(Lane<P>{}, b * L);
  (void)threads;
  for (int64_t i = blocks * L; i < n; ++i) body(Lane<T>{}, i);
}

// The pack type used for T on this build (float -> F32Pack, double -> F64Pack).
template <class T>
struct PackFor;
template <>
struct PackFor<float> {
  using type = F32Pack;
};
template <>
struct PackFor<double> {
  using type = F64Pack;
};

template <class T, class P = typename PackFor<T>::type>
void gram_schmidt(const T* x6, T* R, int64_t n, int threads) {
  for_each_row_block<T, P>(n, threads, [&](auto lane, int64_t i) {
    using LaneT = decltype(lane);
    using V = decltype(LaneT::Ops::splat(0));
    V a[6], out[9];
    LaneT::template load_rows<6>(x6 + 6 * i, a);
    pyhpe::gram_schmidt_forward(a, out);
    LaneT::template store_rows<9>(out, R + 9 * i);
  });
}

template <class T, class P = typename PackFor<T>::type>
void gram_schmidt_backward(const T* x6, const T* gR, T* gx6, int64_t n, int threads) {
  for_each_row_block<T, P>(n, threads, [&](auto lane, int64_t i) {
    using LaneT = decltype(lane);
    using V = decltype(LaneT::Ops::splat(0));
    V a[6], g[9], out[6];
    LaneT::template load_rows<6>(x6 + 6 * i, a);
    LaneT::template load_rows<9>(gR + 9 * i, g);
    pyhpe::gram_schmidt_backward(a, g, out);
    LaneT::template store_rows<6>(out, gx6 + 6 * i);
  });
}

template <class T, class P = typename PackFor<T>::type>
void geodesic_distance(const T* R1, const T* R2, T* theta, int64_t n, double eps, int threads) {
  const GeodesicBounds<T> bounds(eps);
  for_each_row_block<T, P>(n, threads, [&](auto lane, int64_t i) {
    using LaneT = decltype(lane);
    using O = typename LaneT::Ops;
    using V = decltype(O::splat(0));
    V r1[9], r2[9], th[1];
    LaneT::template load_rows<9>(R1 + 9 * i, r1);
    LaneT::template load_rows<9>(R2 + 9 * i, r2);
    th[0] = pyhpe::geodesic_forward(r1, r2, O::splat(bounds.lo), O::splat(bounds.hi));
    LaneT::template store_rows<1>(th, theta + i);
  });
}

template <class T, class P = typename PackFor<T>::type>
void geodesic_distance_backward(const T* R1, const T* R2, const T* grad, T* g1, T* g2, int64_t n,
                                double eps, int threads) {
  const GeodesicBounds<T> bounds(eps);
  for_each_row_block<T, P>(n, threads, [&](auto lane, int64_t i) {
    using LaneT = decltype(lane);
    using O = typename LaneT::Ops;
    using V = decltype(O::splat(0));
    V r1[9], r2[9], g[1], o1[9], o2[9];
    LaneT::template load_rows<9>(R1 + 9 * i, r1);
    LaneT::template load_rows<9>(R2 + 9 * i, r2);
    LaneT::template load_rows<1>(grad + i, g);
    pyhpe::geodesic_backward(r1, r2, g[0], O::splat(bounds.lo), O::splat(bounds.hi), o1, o2);
    LaneT::template store_rows<9>(o1, g1 + 9 * i);
    LaneT::template store_rows<9>(o2, g2 + 9 * i);
  });
}

// grad6 may be null (forward only).
template <class T, class P = typename PackFor<T>::type>
void sixd_geodesic_distance(const T* x6, const T* Rgt, T* theta, T* grad6, int64_t n, double eps,
                            int threads) {
  const GeodesicBounds<T> bounds(eps);
  for_each_row_block<T, P>(n, threads, [&](auto lane, int64_t i) {
    using LaneT = decltype(lane);
    using O = typename LaneT::Ops;
    using V = decltype(O::splat(0));
    V a[6], g[9], th[1], ga[6];
    LaneT::template load_rows<6>(x6 + 6 * i, a);
    LaneT::template load_rows<9>(Rgt + 9 * i, g);
    th[0] = pyhpe::sixd_geodesic_forward(a, g, O::splat(bounds.lo), O::splat(bounds.hi),
                                  grad6 ? ga : static_cast<V*>(nullptr));
    LaneT::template store_rows<1>(th, theta + i);
    if (grad6) LaneT::template store_rows<6>(ga, grad6 + 6 * i);
  });
}

template <class T, class P = typename PackFor<T>::type>
void matrix_to_euler(const T* R, T* out, int64_t n, bool degrees, int threads) {
  for_each_row_block<T, P>(n, threads, [&](auto lane, int64_t i) {
    using LaneT = decltype(lane);
    using V = decltype(LaneT::Ops::splat(0));
    V r[9], e[3];
    LaneT::template load_rows<9>(R + 9 * i, r);
    pyhpe::matrix_to_euler(r, e, degrees);
    LaneT::template store_rows<3>(e, out + 3 * i);
  });
}

}  // namespace PYHPE_ISA_NAMESPACE
}  // namespace cpu
}  // namespace pyhpe
