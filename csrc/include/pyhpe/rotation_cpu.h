// Batched CPU kernels: loop over samples in blocks of one SIMD pack, moving the
// array-of-structures rows (6 or 9 values per sample) into one pack per field, running the
// per-sample math of rotation_math.h on whole packs, and moving the results back. On the GCC
// vector packs (x86) the rows move with register shuffles (the "row transposes" below); NEON
// and 6-wide float64 rows go through a small stack buffer. The tail that does not fill a pack
// runs the same math on scalars. Batches above a threshold are split across threads (OpenMP
// when built with it).
//
// The fused training chain (sixd_geodesic_distance, sixd_geodesic_loss) runs two packs at a
// time (Pair): its per-sample math is one long dependency chain (two square roots and a
// division, the cosine, a third square root and division, acos, then the VJP), longer than
// the out-of-order window of a core, so one pack at a time leaves the core waiting on latency.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <type_traits>
#include <utility>

#include "pyhpe/rotation_math.h"
#include "pyhpe/simd.h"

namespace pyhpe {
namespace cpu {
inline namespace PYHPE_ISA_NAMESPACE {

// Batches smaller than this run on one thread: below it, waking threads costs more than it saves.
constexpr int64_t kParallelThreshold = 8192;

#if !defined(__ARM_NEON) && !defined(__CUDACC__)
// Row transposes in registers for the GCC vector packs (any lane count N, float or double).
//
// W consecutive packs hold N rows of width W: flat element f = v * N + p (pack v, lane p) is
// field f % W of row f / W. For odd W (N is a power of two, so gcd(W, N) = 1) every lane p
// holds each field k in exactly one of the W packs, v = src_pack(p, k): a blend of the W packs
// gathers field k (of rows in a scrambled order), and one in-register permutation puts row q
// in lane q. Storing runs the same two steps backwards. float32 rows of width >= 4 take the
// 4 x 4 transposes below instead (fewer shuffles than blending 9 packs).
namespace rows {

template <int W, int N>
constexpr int src_pack(int p, int k) {
  for (int v = 0; v < W; ++v)
    if ((v * N + p) % W == k) return v;
  return -1;
}

// Lane p of `acc` replaced by lane p of `src` where pack Vs holds field K at lane p.
template <class P, int W, int N, int K, int Vs, size_t... I>
inline P blend_field(P acc, P src, std::index_sequence<I...>) {
  return __builtin_shufflevector(acc, src,
                                 (src_pack<W, N>(int(I), K) == Vs ? int(I) + N : int(I))...);
}

// Field K of N rows (row q in lane q) from the W packs s.
template <class P, int W, int N, int K, size_t... Vs, size_t... I>
inline P gather_field(const P* s, std::index_sequence<Vs...>, std::index_sequence<I...> lanes) {
  P acc = s[src_pack<W, N>(0, K)];
  ((acc = blend_field<P, W, N, K, int(Vs)>(acc, s[Vs], lanes)), ...);
  return __builtin_shufflevector(acc, acc, ((int(I) * W + K) % N)...);
}

template <class P, int W, int N, size_t... K>
inline void load_odd(const P* s, P* fields, std::index_sequence<K...>) {
  ((fields[K] = gather_field<P, W, N, int(K)>(s, std::make_index_sequence<W>{},
                                               std::make_index_sequence<N>{})),
   ...);
}

// Field K moved so that its row of flat element v * N + p sits in lane p (the inverse of the
// permutation in gather_field).
template <class P, int W, int N, int K, size_t... I>
inline P scatter_field(P f, std::index_sequence<I...>) {
  return __builtin_shufflevector(f, f, ((src_pack<W, N>(int(I), K) * N + int(I)) / W)...);
}

template <class P, int W, int N, int V, int K, size_t... I>
inline P blend_pack(P acc, P src, std::index_sequence<I...>) {
  return __builtin_shufflevector(acc, src, ((V * N + int(I)) % W == K ? int(I) + N : int(I))...);
}

// Pack V of the W output packs from the scattered fields t.
template <class P, int W, int N, int V, size_t... K>
inline P pack_from_fields(const P* t, std::index_sequence<K...>) {
  P acc = t[(V * N) % W];
  ((acc = blend_pack<P, W, N, V, int(K)>(acc, t[K], std::make_index_sequence<N>{})), ...);
  return acc;
}

template <class P, int W, int N, size_t... Vs>
inline void store_odd(const P* fields, P* out, std::index_sequence<Vs...>) {
  P t[W];
  ((t[Vs] = scatter_field<P, W, N, int(Vs)>(fields[Vs], std::make_index_sequence<N>{})), ...);
  ((out[Vs] = pack_from_fields<P, W, N, int(Vs)>(t, std::make_index_sequence<W>{})), ...);
}

// float32 rows of width W >= 4, N a multiple of 4: the classic 4 x 4 transposes. Each group
// of 4 rows is one 128-bit lane of the packs (rows 4b..4b+3 in lanes 4b..4b+3); its fields
// come 4 at a time from unaligned 16-byte loads of the rows, transposed with unpack/movlh/movhl
// shuffles. A width that is not a multiple of 4 takes its last fields from the group that ends
// at W (overlapping the one before; stores write the shared fields twice, with equal values).
typedef float f32x4 __attribute__((vector_size(16)));

inline void transpose4(f32x4& a, f32x4& b, f32x4& c, f32x4& d) {
  f32x4 t0 = __builtin_shufflevector(a, b, 0, 4, 1, 5), t1 = __builtin_shufflevector(c, d, 0, 4, 1, 5);
  f32x4 t2 = __builtin_shufflevector(a, b, 2, 6, 3, 7), t3 = __builtin_shufflevector(c, d, 2, 6, 3, 7);
  a = __builtin_shufflevector(t0, t1, 0, 1, 4, 5);
  b = __builtin_shufflevector(t0, t1, 2, 3, 6, 7);
  c = __builtin_shufflevector(t2, t3, 0, 1, 4, 5);
  d = __builtin_shufflevector(t2, t3, 2, 3, 6, 7);
}

// The pack of N = 4 * M lanes made of the 128-bit parts q[0..M), and part j of a pack.
template <class P, int M>
inline P join4(const f32x4* q) {
  if constexpr (M == 1) {
    return P(q[0]);
  } else if constexpr (M == 2) {
    return __builtin_shufflevector(q[0], q[1], 0, 1, 2, 3, 4, 5, 6, 7);
  } else {
    static_assert(M == 4, "packs of 4, 8 or 16 floats");
    typedef float f32x8 __attribute__((vector_size(32)));
    f32x8 lo = __builtin_shufflevector(q[0], q[1], 0, 1, 2, 3, 4, 5, 6, 7);
    f32x8 hi = __builtin_shufflevector(q[2], q[3], 0, 1, 2, 3, 4, 5, 6, 7);
    return __builtin_shufflevector(lo, hi, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  }
}
template <int J, class P>
inline f32x4 part4(P x) {
  return __builtin_shufflevector(x, x, 4 * J, 4 * J + 1, 4 * J + 2, 4 * J + 3);
}

template <int W>
constexpr int group_start(int g) {
  return 4 * g + 4 <= W ? 4 * g : W - 4;
}

template <class P, int W, int N>
inline void load4(const float* rows, P* fields) {
  constexpr int M = N / 4, G = (W + 3) / 4;
  f32x4 q[W][M];
  for (int b = 0; b < M; ++b) {
    const float* r = rows + 4 * b * W;
    for (int g = 0; g < G; ++g) {
      const int c0 = group_start<W>(g);
      f32x4 x[4];
      for (int i = 0; i < 4; ++i) memcpy(&x[i], r + i * W + c0, sizeof(f32x4));
      transpose4(x[0], x[1], x[2], x[3]);
      // only the fields not taken from the group before (the compiler drops the other shuffles)
      for (int i = 0; i < 4; ++i)
        if (c0 + i >= 4 * g) q[c0 + i][b] = x[i];
    }
  }
  for (int k = 0; k < W; ++k) fields[k] = join4<P, M>(q[k]);
}

// Rows 4B..4B+3 of every field. The last W mod 4 fields: 8-byte stores of (field, field + 1)
// pairs for 2, 4-byte stores for 1, the overlapping group for 3.
template <class P, int W, int N, int B>
inline void store4_part(const P* fields, float* rows) {
  constexpr int G = W / 4, rem = W % 4;
  float* r = rows + 4 * B * W;
  for (int g = 0; g < G; ++g) {
    f32x4 x[4];
    for (int i = 0; i < 4; ++i) x[i] = part4<B>(fields[4 * g + i]);
    transpose4(x[0], x[1], x[2], x[3]);
    for (int i = 0; i < 4; ++i) memcpy(r + i * W + 4 * g, &x[i], sizeof(f32x4));
  }
  if constexpr (rem == 2) {
    const f32x4 u = part4<B>(fields[W - 2]), v = part4<B>(fields[W - 1]);
    const f32x4 lo = __builtin_shufflevector(u, v, 0, 4, 1, 5), hi = __builtin_shufflevector(u, v, 2, 6, 3, 7);
    const f32x4 lo1 = __builtin_shufflevector(lo, lo, 2, 3, 2, 3), hi1 = __builtin_shufflevector(hi, hi, 2, 3, 2, 3);
    memcpy(r + W - 2, &lo, 2 * sizeof(float));
    memcpy(r + W + W - 2, &lo1, 2 * sizeof(float));
    memcpy(r + 2 * W + W - 2, &hi, 2 * sizeof(float));
    memcpy(r + 3 * W + W - 2, &hi1, 2 * sizeof(float));
  } else if constexpr (rem == 1) {
    const f32x4 u = part4<B>(fields[W - 1]);
    for (int i = 0; i < 4; ++i) r[i * W + W - 1] = u[i];
  } else if constexpr (rem == 3) {
    f32x4 x[4];
    for (int i = 0; i < 4; ++i) x[i] = part4<B>(fields[W - 4 + i]);
    transpose4(x[0], x[1], x[2], x[3]);
    for (int i = 0; i < 4; ++i) memcpy(r + i * W + W - 4, &x[i], sizeof(f32x4));
  }
}

template <class P, int W, int N, size_t... B>
inline void store4(const P* fields, float* rows, std::index_sequence<B...>) {
  (store4_part<P, W, N, int(B)>(fields, rows), ...);
}

// How rows of width W move for element type T in packs of N lanes: 4 x 4 transposes (float32,
// W >= 4), blends and one permutation (odd W), or a stack buffer (0: float64 with even W).
template <class T, int W, int N>
constexpr int register_method() {
  if (N <= 1) return 0;
  if (sizeof(T) == 4 && N % 4 == 0 && W >= 4) return 4;
  if (W % 2 == 1) return 1;
  return 0;
}
template <class T, int W, int N>
constexpr bool in_registers() {
  return register_method<T, W, N>() != 0;
}

template <class P, class T, int W, int N>
inline void load(const T* rows, P* fields) {
  if constexpr (register_method<T, W, N>() == 4) {
    load4<P, W, N>(rows, fields);
  } else if constexpr (W == 1) {
    memcpy(fields, rows, sizeof(P));
  } else {
    static_assert(W % 2 == 1, "odd widths");
    P s[W];
    memcpy(s, rows, sizeof(s));
    load_odd<P, W, N>(s, fields, std::make_index_sequence<W>{});
  }
}

template <class P, class T, int W, int N>
inline void store(const P* fields, T* rows) {
  if constexpr (register_method<T, W, N>() == 4) {
    store4<P, W, N>(fields, rows, std::make_index_sequence<N / 4>{});
  } else if constexpr (W == 1) {
    memcpy(rows, fields, sizeof(P));
  } else {
    static_assert(W % 2 == 1, "odd widths");
    P out[W];
    store_odd<P, W, N>(fields, out, std::make_index_sequence<W>{});
    memcpy(rows, out, sizeof(out));
  }
}

}  // namespace rows

template <class V>
constexpr bool kGccPack = std::is_same<V, F32Pack>::value || std::is_same<V, F64Pack>::value;
#else
template <class V>
constexpr bool kGccPack = false;
#endif

template <class V>
struct Lane {
  using Ops = VecOps<V>;
  using T = typename Ops::T;
  static constexpr int kLanes = Ops::kLanes;

  // Fields [0, width) of kLanes consecutive rows (row stride = width) -> one pack per field.
  template <int Width>
  static inline void load_rows(const T* rows, V* fields) {
    if constexpr (kLanes == 1) {
      for (int k = 0; k < Width; ++k) fields[k] = Ops::load(rows + k);
      return;
    }
#if !defined(__ARM_NEON) && !defined(__CUDACC__)
    if constexpr (kGccPack<V> && rows::in_registers<T, Width, kLanes>()) {
      rows::load<V, T, Width, kLanes>(rows, fields);
      return;
    }
#endif
    alignas(64) T buf[Width][kLanes];
    for (int l = 0; l < kLanes; ++l)
      for (int k = 0; k < Width; ++k) buf[k][l] = rows[l * Width + k];
    for (int k = 0; k < Width; ++k) fields[k] = Ops::load(buf[k]);
  }

  template <int Width>
  static inline void store_rows(const V* fields, T* rows) {
    if constexpr (kLanes == 1) {
      for (int k = 0; k < Width; ++k) Ops::store(rows + k, fields[k]);
      return;
    }
#if !defined(__ARM_NEON) && !defined(__CUDACC__)
    if constexpr (kGccPack<V> && rows::in_registers<T, Width, kLanes>()) {
      rows::store<V, T, Width, kLanes>(fields, rows);
      return;
    }
#endif
    alignas(64) T buf[Width][kLanes];
    for (int k = 0; k < Width; ++k) Ops::store(buf[k], fields[k]);
    for (int l = 0; l < kLanes; ++l)
      for (int k = 0; k < Width; ++k) rows[l * Width + k] = buf[k][l];
  }

  // The sum of the lanes, in double.
  static inline double sum(V x) {
    if constexpr (kLanes == 1) {
      return static_cast<double>(x);
    } else {
      alignas(64) T buf[kLanes];
      Ops::store(buf, x);
      double r = 0;
      for (int l = 0; l < kLanes; ++l) r += static_cast<double>(buf[l]);
      return r;
    }
  }
};

// Two packs as one value: every operation is applied to both halves, so the code of two
// independent packs is interleaved and the core overlaps their dependency chains.
template <class V>
struct Pair {
  V a, b;
};
#define PYHPE_PAIR_OP(op)                                                   \
  template <class V>                                                        \
  inline __attribute__((always_inline)) Pair<V> operator op(Pair<V> x, Pair<V> y) { \
    return {x.a op y.a, x.b op y.b};                                        \
  }
PYHPE_PAIR_OP(+)
PYHPE_PAIR_OP(-)
PYHPE_PAIR_OP(*)
PYHPE_PAIR_OP(/)
#undef PYHPE_PAIR_OP

}  // namespace PYHPE_ISA_NAMESPACE
}  // namespace cpu

inline namespace PYHPE_ISA_NAMESPACE {
template <class V>
struct VecOps<cpu::Pair<V>> {
  using P = cpu::Pair<V>;
  using B = VecOps<V>;
  using T = typename B::T;
  struct Mask {
    typename B::Mask a, b;
  };
  static constexpr int kLanes = 2 * B::kLanes;
#define PYHPE_PAIR_FN inline __attribute__((always_inline))
  static PYHPE_PAIR_FN P splat(T c) {
    V v = B::splat(c);
    return {v, v};
  }
  static PYHPE_PAIR_FN P sqrt(P x) { return {B::sqrt(x.a), B::sqrt(x.b)}; }
  static PYHPE_PAIR_FN P acos(P x) { return {B::acos(x.a), B::acos(x.b)}; }
  static PYHPE_PAIR_FN Mask lt(P x, P y) { return {B::lt(x.a, y.a), B::lt(x.b, y.b)}; }
  static PYHPE_PAIR_FN Mask le(P x, P y) { return {B::le(x.a, y.a), B::le(x.b, y.b)}; }
  static PYHPE_PAIR_FN Mask both(Mask x, Mask y) { return {B::both(x.a, y.a), B::both(x.b, y.b)}; }
  static PYHPE_PAIR_FN P select(Mask m, P x, P y) {
    return {B::select(m.a, x.a, y.a), B::select(m.b, x.b, y.b)};
  }
#undef PYHPE_PAIR_FN
};
}  // namespace PYHPE_ISA_NAMESPACE

namespace cpu {
inline namespace PYHPE_ISA_NAMESPACE {

// Rows of a pair: the first pack's kLanes rows, then the second's.
template <class V>
struct Lane<Pair<V>> {
  using Ops = VecOps<Pair<V>>;
  using T = typename Ops::T;
  static constexpr int kLanes = Ops::kLanes;
  static constexpr int kHalf = VecOps<V>::kLanes;

  template <int Width>
  static inline void load_rows(const T* rows, Pair<V>* fields) {
    V a[Width], b[Width];
    Lane<V>::template load_rows<Width>(rows, a);
    Lane<V>::template load_rows<Width>(rows + kHalf * Width, b);
    for (int k = 0; k < Width; ++k) fields[k] = {a[k], b[k]};
  }
  template <int Width>
  static inline void store_rows(const Pair<V>* fields, T* rows) {
    V a[Width], b[Width];
    for (int k = 0; k < Width; ++k) {
      a[k] = fields[k].a;
      b[k] = fields[k].b;
    }
    Lane<V>::template store_rows<Width>(a, rows);
    Lane<V>::template store_rows<Width>(b, rows + kHalf * Width);
  }
  // The sum of the lanes, in double.
  static inline double sum(Pair<V> x) { return Lane<V>::sum(x.a) + Lane<V>::sum(x.b); }
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

// The fused chain over rows [0, n): theta (written where `theta` is not null), grad_scale *
// d theta / d x6 (where WithGrad), and the sum of theta (returned). Rows run in chunks of
// kChunk, two packs at a time, then one pack, then scalars; the chunks are the threads' tasks
// and their partial sums are added in chunk order, so the sum does not depend on the thread
// count. Within a chunk each lane accumulates at most kChunk / (2 x lanes) values in T.
constexpr int64_t kChunk = 1024;

template <class T, class P, bool WithGrad>
double sixd_geodesic_chain(const T* x6, const T* Rgt, T* theta, T* grad6, T grad_scale, int64_t n,
                           double eps, int threads) {
  const GeodesicBounds<T> bounds(eps);
  auto step = [&](auto lane, int64_t i) {
    using LaneT = decltype(lane);
    using O = typename LaneT::Ops;
    using V = decltype(O::splat(0));
    V a[6], g[9], ga[6];
    LaneT::template load_rows<6>(x6 + 6 * i, a);
    LaneT::template load_rows<9>(Rgt + 9 * i, g);
    V th = pyhpe::sixd_geodesic_forward(a, g, O::splat(bounds.lo), O::splat(bounds.hi),
                                        WithGrad ? ga : static_cast<V*>(nullptr),
                                        O::splat(grad_scale));
    if (theta) LaneT::template store_rows<1>(&th, theta + i);
    if (WithGrad) LaneT::template store_rows<6>(ga, grad6 + 6 * i);
    return th;
  };
  using P2 = Pair<P>;
  constexpr int64_t L = VecOps<P>::kLanes;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  double small[64];
  double* partial = chunks <= 64 ? small : new double[chunks];
#if defined(_OPENMP)
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && n >= kParallelThreshold)
#endif
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t end = c + 1 < chunks ? (c + 1) * kChunk : n;
    int64_t i = c * kChunk;
    P2 acc2 = VecOps<P2>::splat(0);
    P acc1 = VecOps<P>::splat(0);
    double acc0 = 0;
    for (; i + 2 * L <= end; i += 2 * L) acc2 = acc2 + step(Lane<P2>{}, i);
    for (; i + L <= end; i += L) acc1 = acc1 + step(Lane<P>{}, i);
    for (; i < end; ++i) acc0 += static_cast<double>(step(Lane<T>{}, i));
    partial[c] = Lane<P2>::sum(acc2) + Lane<P>::sum(acc1) + acc0;
  }
  (void)threads;
  double total = 0;
  for (int64_t c = 0; c < chunks; ++c) total += partial[c];
  if (partial != small) delete[] partial;
  return total;
}

// Per-sample distances; grad6 (d theta_i / d x6_i) may be null (forward only).
template <class T, class P = typename PackFor<T>::type>
void sixd_geodesic_distance(const T* x6, const T* Rgt, T* theta, T* grad6, int64_t n, double eps,
                            int threads) {
  if (grad6)
    sixd_geodesic_chain<T, P, true>(x6, Rgt, theta, grad6, T(1), n, eps, threads);
  else
    sixd_geodesic_chain<T, P, false>(x6, Rgt, theta, grad6, T(1), n, eps, threads);
}

// The training loss in one pass: returns the mean (or sum) of the distances and writes, where
// grad6 is not null, the gradient of that loss w.r.t. x6 (d theta_i / d x6_i / n for the
// mean). Reads x6 and R_gt once, writes grad6 once; nothing per sample is kept.
template <class T, class P = typename PackFor<T>::type>
double sixd_geodesic_loss(const T* x6, const T* Rgt, T* grad6, int64_t n, bool mean, double eps,
                          int threads) {
  if (n <= 0) return mean ? NAN : 0.0;
  const T scale = mean ? static_cast<T>(1.0 / static_cast<double>(n)) : T(1);
  const double sum =
      grad6 ? sixd_geodesic_chain<T, P, true>(x6, Rgt, nullptr, grad6, scale, n, eps, threads)
            : sixd_geodesic_chain<T, P, false>(x6, Rgt, nullptr, nullptr, scale, n, eps, threads);
  return mean ? sum / static_cast<double>(n) : sum;
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
