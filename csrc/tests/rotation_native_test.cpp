// Native tests of the header-only rotation kernels (include/pyhpe/rotation_cpu.h).
//
// Every kernel runs through three paths, for float32 and float64:
//   pack   - the default SIMD pack of the build (AVX2/SSE2 GCC vectors on x86, NEON on aarch64),
//   scalar - the same loops with the pack type set to T,
//   table  - the kernel table of cpu/rotation_kernels.cpp, which is what the bindings call,
// and each is compared against a reference written here straight from the formulas, evaluated
// in long double on the inputs as rounded to T. Derivatives of the reference come from
// forward-mode dual numbers (exact up to long double rounding); on well-conditioned rows they
// and the kernels' backward passes are also checked against central finite differences.
//
// Tolerances follow the conditioning of each output instead of one fixed number: a first-order
// error bound in units of the kernel's rounding u (2^-24 for float32, 2^-53 for float64) times
// the factor by which the formula amplifies input rounding (|a2|/|x × a2| for nearly parallel
// columns, 1/sqrt(1 - cos^2) for the arc cosine, ...), times kSlack. For float32 the arc cosine
// and arc tangent may be off by 1e-6 rad more (the pack path evaluates them with polynomials).
// On a well-conditioned float64 row this comes to about 1e-14, on float32 about 1e-6.
//
// Non-finite values: where the reference is NaN or Inf the kernel output must be non-finite
// too; on rows whose inputs contain NaN or Inf an output may also be non-finite where the
// reference is finite (garbage in). The pack and scalar paths must agree exactly on where they
// give NaN or Inf. Nothing may crash or write past its output.
//
// Inputs: batch sizes 0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 64, 1000 (tails of every pack width,
// up to the 16 float lanes of the AVX-512 build) and 8197 (above the kernels' parallel
// threshold), threads 1 and 2; adversarial rows (near-parallel and zero columns, identity,
// 180-degree turns, magnitudes 1e6 and 1e-12, gimbal lock, signed zeros, NaN, Inf) placed at
// every lane position of the build's widest pack and in the scalar tail.
//
// Prints the build's pack ISA, one line per check, and finishes with "N passed, M failed";
// the exit code is 0 only if every check passed. Built by csrc/tests/CMakeLists.txt with
// csrc/cpu/rotation_kernels.cpp (tests/ops/test_native_cpp.py configures, builds and runs it).

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include <algorithm>
#include <array>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "cpu/rotation_kernels.h"
#include "pyhpe/rotation_cpu.h"

// The pack path this build compiles to (named as cpu/rotation_kernels.cpp names its table).
#define TEST_ISA PYHPE_ISA_NAME

namespace {

using LD = long double;
using M3 = std::array<LD, 9>;  // row-major 3x3, R[3*i + j]
using pyhpe::VecOps;

constexpr LD kPiL = 3.141592653589793238462643383279502884L;
const LD kInf = std::numeric_limits<LD>::infinity();
const LD kNaN = std::numeric_limits<LD>::quiet_NaN();

// First-order error bounds count each rounding once; a kernel rounds a few more times, sums in
// another order or fuses multiply-adds, so the bounds are multiplied by this.
constexpr LD kSlack = 16;

// ------------------------------------------------------------------------------------------
// Reporting

int g_passed = 0, g_failed = 0;

std::string strf(const char* f, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, f);
  vsnprintf(buf, sizeof buf, f, ap);
  va_end(ap);
  return buf;
}

void report(bool ok, const std::string& line) {
  printf("%s %s\n", ok ? "PASS" : "FAIL", line.c_str());
  ++(ok ? g_passed : g_failed);
}

bool finite(LD v) { return isfinite(v); }

template <class It>
bool all_finite(It first, It last) {
  for (; first != last; ++first)
    if (!isfinite(static_cast<LD>(*first))) return false;
  return true;
}

// ------------------------------------------------------------------------------------------
// Forward-mode dual numbers: the derivative of the reference along one input direction.

struct Dual {
  LD v, d;
  Dual(LD value = 0, LD deriv = 0) : v(value), d(deriv) {}
};
Dual operator+(Dual a, Dual b) { return {a.v + b.v, a.d + b.d}; }
Dual operator-(Dual a, Dual b) { return {a.v - b.v, a.d - b.d}; }
Dual operator*(Dual a, Dual b) { return {a.v * b.v, a.d * b.v + a.v * b.d}; }
Dual operator/(Dual a, Dual b) {
  LD q = a.v / b.v;
  return {q, (a.d - q * b.d) / b.v};
}
LD value(LD x) { return x; }
LD value(Dual x) { return x.v; }
LD root(LD x) { return sqrtl(x); }
Dual root(Dual x) {
  LD s = sqrtl(x.v);
  return {s, x.d * (0.5L / s)};
}

// ------------------------------------------------------------------------------------------
// The reference, from the formulas (6DRepNet's Gram-Schmidt, geodesic distance, Euler angles).

template <class S>
void cross(const S* u, const S* v, S* out) {
  out[0] = u[1] * v[2] - u[2] * v[1];
  out[1] = u[2] * v[0] - u[0] * v[2];
  out[2] = u[0] * v[1] - u[1] * v[0];
}

template <class S>
S dot(const S* u, const S* v) {
  return u[0] * v[0] + u[1] * v[1] + u[2] * v[2];
}

// x = a1 / max(|a1|, floor), z = normalize(x × a2) with the same floor, y = z × x,
// R = [x | y | z]. A floored norm is the constant floor (no derivative), as in the kernels.
// A NaN norm compares false and stays NaN, as max() propagates it in PyTorch.
template <class S>
void ref_gram_schmidt(const S* a, S* R, LD floor) {
  S n1 = root(dot(a, a));
  S f1 = value(n1) < floor ? S(floor) : n1;
  S x[3] = {a[0] / f1, a[1] / f1, a[2] / f1};
  S c[3];
  cross(x, a + 3, c);
  S nc = root(dot(c, c));
  S fc = value(nc) < floor ? S(floor) : nc;
  S z[3] = {c[0] / fc, c[1] / fc, c[2] / fc};
  S y[3];
  cross(z, x, y);
  for (int i = 0; i < 3; ++i) {
    R[3 * i + 0] = x[i];
    R[3 * i + 1] = y[i];
    R[3 * i + 2] = z[i];
  }
}

// (sum_ij R1_ij R2_ij - 1) / 2 = (tr(R1 R2^T) - 1) / 2, before the clamp.
template <class S>
S ref_cos(const S* R1, const LD* R2) {
  S t = R1[0] * S(R2[0]);
  for (int k = 1; k < 9; ++k) t = t + R1[k] * S(R2[k]);
  return (t - S(1)) * S(0.5L);
}

// clamp(c, lo, hi) with a NaN passing through (as the kernels' compare-and-select does).
LD clamp_ld(LD c, LD lo, LD hi) { return c < lo ? lo : (hi < c ? hi : c); }

LD ref_theta(LD c, LD lo, LD hi) { return acosl(clamp_ld(c, lo, hi)); }

// d theta / d cos as PyTorch's clamp + acos backward give it: zero outside [lo, hi] (and for a
// NaN cos), -1/sqrt(1 - c^2) inside, the bounds included.
LD ref_dtheta_dcos(LD c, LD lo, LD hi) {
  return (lo <= c && c <= hi) ? -1 / sqrtl(1 - c * c) : 0;
}

// pitch = atan2(R21, R22), yaw = atan2(-R20, s), roll = atan2(R10, R00), s = sqrt(R00^2 + R10^2);
// gimbal lock when s < threshold: pitch = atan2(-R12, R11), roll = 0.
void ref_euler(const LD* R, LD threshold, LD* out) {
  LD s = sqrtl(R[0] * R[0] + R[3] * R[3]);
  bool singular = s < threshold;
  out[0] = singular ? atan2l(-R[5], R[4]) : atan2l(R[7], R[8]);
  out[1] = atan2l(-R[6], s);
  out[2] = singular ? 0 : atan2l(R[3], R[0]);
}

// ------------------------------------------------------------------------------------------
// Rotations for building test inputs (long double, rounded to T afterwards).

M3 matmul(const M3& A, const M3& B) {
  M3 C{};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 3; ++k) C[3 * i + j] += A[3 * i + k] * B[3 * k + j];
  return C;
}

M3 scaled(M3 A, LD s) {
  for (LD& v : A) v *= s;
  return A;
}

// Rodrigues' formula.
M3 axis_angle(LD ax, LD ay, LD az, LD angle) {
  LD n = sqrtl(ax * ax + ay * ay + az * az);
  ax /= n, ay /= n, az /= n;
  LD c = cosl(angle), s = sinl(angle), t = 1 - c;
  return {t * ax * ax + c,      t * ax * ay - s * az, t * ax * az + s * ay,
          t * ax * ay + s * az, t * ay * ay + c,      t * ay * az - s * ax,
          t * ax * az - s * ay, t * ay * az + s * ax, t * az * az + c};
}

// R = Rz(roll) Ry(yaw) Rx(pitch), 6DRepNet's convention.
M3 euler_to_matrix(LD pitch, LD yaw, LD roll) {
  M3 rx = axis_angle(1, 0, 0, pitch), ry = axis_angle(0, 1, 0, yaw), rz = axis_angle(0, 0, 1, roll);
  return matmul(rz, matmul(ry, rx));
}

const M3 kIdentity = {1, 0, 0, 0, 1, 0, 0, 0, 1};

struct Rng {
  std::mt19937_64 gen{20240601};
  std::normal_distribution<double> normal{0.0, 1.0};
  std::uniform_real_distribution<double> uniform{0.0, 1.0};
  LD n() { return normal(gen); }
  LD u(LD lo, LD hi) { return lo + (hi - lo) * static_cast<LD>(uniform(gen)); }
  M3 rotation() {
    LD a[6];
    for (LD& v : a) v = n();
    M3 R;
    ref_gram_schmidt(a, R.data(), 1e-8L);
    return R;
  }
  // A rotation by `angle` about a random axis.
  M3 turn(LD angle) { return axis_angle(n(), n(), n(), angle); }
};

// ------------------------------------------------------------------------------------------
// Test batches: row-major arrays per kernel argument, already rounded to T.

template <class T>
struct Batch {
  std::string name;
  int64_t n = 0;
  double eps = 1e-7;          // geodesic clamp
  std::vector<T> x6;          // (n, 6) raw 6D: gram_schmidt, sixd
  std::vector<T> gR;          // (n, 9) upstream gradient of gram_schmidt_backward
  std::vector<T> Rgt;         // (n, 9) target of sixd_geodesic_distance
  std::vector<T> R1, R2, g;   // (n, 9), (n, 9), (n): geodesic_distance(_backward)
  std::vector<T> Re;          // (n, 9) matrix_to_euler input
};

template <class T, size_t N>
void append(std::vector<T>& dst, const std::array<LD, N>& row) {
  for (LD v : row) dst.push_back(static_cast<T>(v));
}

// Appends the 6D row `a` and a random Gram-Schmidt output gradient; returns the reference
// matrix of `a`.
template <class T>
M3 add_x6_row(Batch<T>& b, Rng& rng, const std::array<LD, 6>& a) {
  append(b.x6, a);
  std::array<LD, 9> gr;
  for (LD& v : gr) v = rng.n();
  append(b.gR, gr);
  M3 Ra;
  ref_gram_schmidt(a.data(), Ra.data(), 1e-8L);
  return Ra;
}

// Random rows. Geodesic pairs and 6D targets come at assorted angles: independent, small,
// near pi, in between.
template <class T>
void add_random_row(Batch<T>& b, Rng& rng, int64_t i) {
  std::array<LD, 6> a;
  for (LD& v : a) v = rng.n();
  const M3 Ra = add_x6_row(b, rng, a);
  auto partner = [&](const M3& R, int mode) {
    switch (mode) {
      case 0: return rng.rotation();
      case 1: return matmul(R, rng.turn(rng.u(1e-3L, 0.3L)));
      case 2: return matmul(R, rng.turn(kPiL - rng.u(1e-3L, 0.3L)));
      default: return matmul(R, rng.turn(rng.u(0.3L, kPiL - 0.3L)));
    }
  };
  append(b.Rgt, partner(Ra, static_cast<int>(i % 4)));
  M3 R1 = rng.rotation();
  append(b.R1, R1);
  append(b.R2, partner(R1, static_cast<int>((i + 1) % 4)));
  b.g.push_back(static_cast<T>(rng.n()));
  M3 Re = (i % 2) ? rng.rotation()
                  : euler_to_matrix(rng.u(-kPiL, kPiL), rng.u(-kPiL / 2, kPiL / 2), rng.u(-kPiL, kPiL));
  append(b.Re, Re);
}

template <class T>
Batch<T> random_batch(int64_t n, Rng& rng) {
  Batch<T> b;
  b.name = strf("random n=%lld", static_cast<long long>(n));
  b.n = n;
  b.eps = n == 64 ? 1e-2 : 1e-7;  // one batch checks that eps is honoured
  for (int64_t i = 0; i < n; ++i) add_random_row(b, rng, i);
  return b;
}

// Adversarial 6D inputs.
std::vector<std::array<LD, 6>> adversarial_x6(Rng& rng) {
  std::vector<std::array<LD, 6>> rows = {
      {1, 0, 0, 0, 1, 0},                          // identity
      {1, 0, 0, 0, -1, 0},                         // 180 deg about x
      {-1, 0, 0, 0, -1, 0},                        // 180 deg about z
      {-1, -0.0L, 0, 0, 1, -0.0L},                 // 180 deg about y, signed zeros
      {1, 2, 3, 1.001L, 2, 3},                     // near-parallel columns
      {1, 2, 3, 1 + 1e-6L, 2 - 1e-6L, 3},          // nearly parallel (cond ~ 1e6)
      {1, 2, 3, 2, 4, 6},                          // parallel: x × a2 is rounding noise
      {0, 0, 0, 1, 2, 3},                          // a1 = 0
      {1, 2, 3, 0, 0, 0},                          // a2 = 0
      {0, 0, 0, 0, 0, 0},                          // both zero
      {3e-9L, -4e-9L, 0, 1, 0, 0},                 // |a1| below the 1e-8 floor
      {3e-7L, -4e-7L, 0, 0, 1, 1},                 // |a1| just above it
  };
  std::array<LD, 6> big, tiny, mixed;
  for (int k = 0; k < 6; ++k) {
    big[k] = 1e6L * rng.n();
    tiny[k] = 1e-12L * rng.n();
    mixed[k] = (k < 3 ? 1e6L : 1e-12L) * rng.n();
  }
  rows.push_back(big);    // magnitude 1e6
  rows.push_back(tiny);   // magnitude 1e-12: both norms floored
  rows.push_back(mixed);  // |a1| ~ 1e6, |a2| ~ 1e-12: |x × a2| floored
  rows.push_back({kNaN, 0, 0, 0, 1, 0});
  rows.push_back({1, 0, 0, 0, 1, kNaN});
  rows.push_back({1, kInf, 0, 0, 1, 0});
  rows.push_back({1, 0, 0, -kInf, 1, 0});
  rows.push_back({kInf, kInf, kInf, kInf, kInf, kInf});
  rows.push_back({kNaN, kNaN, kNaN, kNaN, kNaN, kNaN});
  return rows;
}

struct GeoPair {
  M3 R1, R2;
  LD grad;
};

std::vector<GeoPair> adversarial_geodesic(Rng& rng) {
  M3 R = rng.rotation();
  M3 nan_at4 = R, inf_at0 = R, ninf_at8 = R, nan_at3 = R, all_inf;
  nan_at4[4] = kNaN, inf_at0[0] = kInf, ninf_at8[8] = -kInf, nan_at3[3] = kNaN;
  all_inf.fill(kInf);
  return {
      {kIdentity, kIdentity, 1},                          // cos = 1: clamped at 1 - eps
      {R, R, -2},                                         // cos ~ 1
      {R, matmul(R, axis_angle(1, 0, 0, kPiL)), 1},       // 180 deg: clamped at -1 + eps
      {R, matmul(R, rng.turn(kPiL - 1e-4L)), 1},
      {R, matmul(R, rng.turn(1e-4L)), 1},                 // inside the clamp in float64 only
      {R, matmul(R, rng.turn(1e-2L)), 0.5},
      {R, matmul(R, rng.turn(0.5L)), 3},
      {scaled(R, 1e6L), R, 1},                            // magnitudes
      {scaled(R, 1e-12L), matmul(R, rng.turn(1)), 1},
      {scaled(R, 1e6L), scaled(R, 1e6L), 1},
      {M3{}, M3{}, 1},                                    // zero matrices: cos = -1/2
      {R, matmul(R, rng.turn(1)), 0},                     // zero upstream gradient
      {nan_at4, R, 1},
      {R, inf_at0, 1},
      {ninf_at8, nan_at3, 1},
      {all_inf, all_inf, 1},
      {R, matmul(R, rng.turn(1)), kNaN},
  };
}

std::vector<M3> adversarial_euler(Rng& rng) {
  M3 rx180 = {1, 0, 0, 0, -1, 0, 0, 0, -1};
  M3 rx180_negzero = rx180;
  rx180_negzero[7] = -0.0L;  // atan2(-0, -1) = -pi
  M3 rz180 = {-1, 0, 0, 0, -1, 0, 0, 0, 1};
  M3 rz180_negzero = rz180;
  rz180_negzero[3] = -0.0L;  // roll = atan2(-0, -1) = -pi
  M3 rx90 = {1, 0, 0, 0, 0, -1, 0, 1, 0};
  M3 R = rng.rotation();
  std::vector<M3> rows = {
      kIdentity,
      rx180,
      {-1, 0, 0, 0, 1, 0, 0, 0, -1},  // 180 deg about y
      rz180,
      rx180_negzero,
      rz180_negzero,
      {0, 0, 1, 0, 1, 0, -1, 0, 0},   // yaw = +90 deg exactly (gimbal lock)
      {0, 0, -1, 0, 1, 0, 1, 0, 0},   // yaw = -90 deg exactly
      euler_to_matrix(0.3L, kPiL / 2, 0.2L),
      euler_to_matrix(-1, -kPiL / 2, 2),
      euler_to_matrix(0.4L, kPiL / 2 - 1e-3L, -0.7L),  // near gimbal, regular branch
      rx90,
      scaled(R, 1e6L),
      scaled(R, 1e-12L),  // s < 1e-6: takes the gimbal branch
      M3{},
  };
  // NaN and Inf: every position of the identity, and R21 = NaN where R22 = 0.
  for (int k = 0; k < 9; ++k) {
    M3 m = kIdentity;
    m[k] = (k % 3 == 2) ? kInf : kNaN;
    rows.push_back(m);
  }
  M3 m = rx90;
  m[7] = kNaN;
  rows.push_back(m);
  m = rx90;
  m[8] = kNaN;
  rows.push_back(m);
  m = kIdentity;
  m[6] = -kInf;
  rows.push_back(m);
  return rows;
}

// `offset` random rows, then every adversarial row of every pool (cycling the shorter pools),
// so that across offsets each adversarial row lands in every SIMD lane and in the scalar tail.
template <class T>
Batch<T> adversarial_batch(int offset, Rng& rng) {
  Batch<T> b;
  b.name = strf("adversarial offset=%d", offset);
  for (int i = 0; i < offset; ++i) add_random_row(b, rng, i);
  auto x6 = adversarial_x6(rng);
  auto geo = adversarial_geodesic(rng);
  auto eul = adversarial_euler(rng);
  size_t rows = std::max({x6.size(), geo.size(), eul.size()});
  for (size_t r = 0; r < rows; ++r) {
    const auto& a = x6[r % x6.size()];
    // Target: the matrix of the (rounded) input itself (theta ~ 0, clamped) or a random one.
    const M3 Ra = add_x6_row(b, rng, a);
    bool usable = all_finite(Ra.begin(), Ra.end()) && fabsl(Ra[0] * Ra[0] + Ra[3] * Ra[3] + Ra[6] * Ra[6] - 1) < 1e-3L;
    append(b.Rgt, (r % 2 == 0 && usable) ? Ra : rng.rotation());
    const GeoPair& p = geo[r % geo.size()];
    append(b.R1, p.R1);
    append(b.R2, p.R2);
    b.g.push_back(static_cast<T>(p.grad));
    append(b.Re, eul[r % eul.size()]);
  }
  b.n = offset + static_cast<int64_t>(rows);
  return b;
}

// The rows of `base` repeated up to n rows: a batch big enough to be split across threads,
// whose expectations are those of the base rows (computing them afresh is slow under qemu,
// where long double is emulated in software).
template <class T>
Batch<T> tiled(const Batch<T>& base, int64_t n) {
  Batch<T> b;
  b.name = strf("tiled(%s) n=%lld", base.name.c_str(), static_cast<long long>(n));
  b.n = n;
  b.eps = base.eps;
  auto tile = [&](const std::vector<T>& src, std::vector<T>& dst) {
    const int64_t w = static_cast<int64_t>(src.size()) / base.n;
    for (int64_t r = 0; r < n; ++r) dst.insert(dst.end(), src.begin() + (r % base.n) * w, src.begin() + (r % base.n + 1) * w);
  };
  tile(base.x6, b.x6), tile(base.gR, b.gR), tile(base.Rgt, b.Rgt);
  tile(base.R1, b.R1), tile(base.R2, b.R2), tile(base.g, b.g), tile(base.Re, b.Re);
  return b;
}

// ------------------------------------------------------------------------------------------
// Expectations: per output element a center and a tolerance, and per row whether its inputs
// hold a NaN or Inf (then a non-finite output is accepted where the reference is finite).

struct Expect {
  int width = 0;
  std::vector<LD> center, tol;
  std::vector<char> nonfinite_input;
};

template <class T>
struct Tol {
  static constexpr LD u = std::numeric_limits<T>::epsilon() / 2;
  static constexpr LD tiny = std::numeric_limits<T>::min();
  // Extra absolute error of the float32 pack path's polynomial acos/atan2 (in radians).
  static constexpr LD transcendental = sizeof(T) == 4 ? 1e-6L : 0;
  // Total absolute tolerance of an angle computed from exact inputs.
  static constexpr LD angle = transcendental + kSlack * u * 3.15L + tiny;
};

template <class T>
std::vector<LD> row_ld(const std::vector<T>& v, int64_t row, int width) {
  return std::vector<LD>(v.begin() + row * width, v.begin() + (row + 1) * width);
}

// Sizes that bound the rounding error of Gram-Schmidt on one row (see gs_tolerances).
struct GsScales {
  LD nx, na2, nc, fc, f1, nz;
};

GsScales gs_scales(const LD* a, LD floor) {
  GsScales s;
  LD n1 = sqrtl(dot(a, a));
  s.f1 = n1 < floor ? floor : n1;
  LD x[3] = {a[0] / s.f1, a[1] / s.f1, a[2] / s.f1}, c[3];
  cross(x, a + 3, c);
  s.nx = sqrtl(dot(x, x));
  s.na2 = sqrtl(dot(a + 3, a + 3));
  s.nc = sqrtl(dot(c, c));
  s.fc = s.nc < floor ? floor : s.nc;
  s.nz = s.nc / s.fc;
  return s;
}

// Absolute error bounds of the columns x, y, z: x is a1 scaled (relative error u); the cross
// product c = x × a2 has absolute error ~u |x||a2|, which z = c / max(|c|, floor) divides by
// the (floored) norm; y = z × x adds both.
template <class T>
void gs_tolerances(const GsScales& s, LD* tol9) {
  const LD u = Tol<T>::u;
  LD tx = kSlack * u * s.nx;
  LD tz = kSlack * u * (s.nx * s.na2 + s.nc) / s.fc;
  LD ty = tz * s.nx + s.nz * tx;
  for (int i = 0; i < 3; ++i) {
    tol9[3 * i + 0] = tx + Tol<T>::tiny;
    tol9[3 * i + 1] = ty + Tol<T>::tiny;
    tol9[3 * i + 2] = tz + Tol<T>::tiny;
  }
}

// Error bounds of the Gram-Schmidt VJP for an upstream gradient of Frobenius norm ngR:
// the gradient through z carries |gR| / |c|, relative error D (z's error plus a few u); the
// a1 part is divided by |a1| and picks up a2 × gc.
template <class T>
void gs_backward_tolerances(const GsScales& s, LD ngR, LD* tol6) {
  const LD u = Tol<T>::u;
  LD dz = u * (s.nx * s.na2 + s.nc) / s.fc;
  LD D = 4 * dz + 6 * u;
  LD M = (1 + s.nx) * ngR / s.fc;
  LD G1 = ngR * (1 + s.nz) + s.na2 * M;
  for (int i = 0; i < 3; ++i) {
    tol6[i] = kSlack * G1 * D / s.f1 + Tol<T>::tiny;
    tol6[3 + i] = kSlack * s.nx * M * D + Tol<T>::tiny;
  }
}

// The geodesic angle for a cos known to within +-dc: the arc cosine of the clamped value is
// monotone, so the kernel's theta lies between its values at c + dc and c - dc.
template <class T>
void theta_expectation(LD c, LD dc, LD lo, LD hi, LD* center, LD* tol) {
  if (!finite(c)) {
    *center = ref_theta(c, lo, hi);  // NaN stays NaN; +-Inf clamps to a bound
    *tol = Tol<T>::angle;
    return;
  }
  LD t_lo = ref_theta(c + dc, lo, hi), t_hi = ref_theta(c - dc, lo, hi);
  *center = (t_lo + t_hi) / 2;
  *tol = (t_hi - t_lo) / 2 + Tol<T>::angle;
}

// The range [kmin, kmax] of d theta / d cos over cos in [c - dc, c + dc]: -1/sqrt(1 - t^2) is
// most negative at the largest |t| and closest to 0 at the smallest; 0 if t can leave [lo, hi].
void dtheta_range(LD c, LD dc, LD lo, LD hi, LD* kmin, LD* kmax) {
  if (!finite(c)) {
    *kmin = *kmax = 0;
    return;
  }
  LD a = c - dc, b = c + dc;
  bool may_leave = a < lo || hi < b;
  a = std::max(a, lo), b = std::min(b, hi);
  if (a > b) {
    *kmin = *kmax = 0;
    return;
  }
  LD big = std::max(fabsl(a), fabsl(b));
  LD small = (a <= 0 && b >= 0) ? 0 : std::min(fabsl(a), fabsl(b));
  *kmin = -1 / sqrtl(1 - big * big);
  *kmax = may_leave ? 0 : -1 / sqrtl(1 - small * small);
}

enum Kernel {
  kGramSchmidt,
  kGramSchmidtBackward,
  kGeodesic,
  kGeodesicBackward,
  kSixd,
  kSixdGrad,
  kEulerRad,
  kEulerDeg,
  kNumKernels
};
const char* const kKernelNames[kNumKernels] = {
    "gram_schmidt",          "gram_schmidt_backward",  "geodesic_distance",
    "geodesic_distance_backward", "sixd_geodesic_distance", "sixd_geodesic_distance+grad6",
    "matrix_to_euler(rad)",  "matrix_to_euler(deg)"};
const int kWidth[kNumKernels] = {9, 6, 1, 18, 1, 7, 3, 3};

template <class T>
struct Bounds {
  LD lo, hi;
  explicit Bounds(double eps)
      : lo(static_cast<T>(-1.0 + eps)), hi(static_cast<T>(1.0 - eps)) {}  // rounded as the kernels
};

template <class T>
std::vector<Expect> build_expectations(const Batch<T>& b) {
  std::vector<Expect> E(kNumKernels);
  for (int k = 0; k < kNumKernels; ++k) {
    E[k].width = kWidth[k];
    E[k].center.assign(b.n * kWidth[k], 0);
    E[k].tol.assign(b.n * kWidth[k], 0);
    E[k].nonfinite_input.assign(b.n, 0);
  }
  const LD floor = static_cast<T>(pyhpe::kNormFloor);
  const LD gimbal = static_cast<T>(pyhpe::kGimbalThreshold);
  const Bounds<T> bd(b.eps);
  const LD u = Tol<T>::u;
  for (int64_t r = 0; r < b.n; ++r) {
    auto a = row_ld(b.x6, r, 6), gR = row_ld(b.gR, r, 9), Rgt = row_ld(b.Rgt, r, 9);
    auto R1 = row_ld(b.R1, r, 9), R2 = row_ld(b.R2, r, 9), Re = row_ld(b.Re, r, 9);
    LD grad = b.g[r];
    bool bad_a = !all_finite(a.begin(), a.end());

    // gram_schmidt
    GsScales s = gs_scales(a.data(), floor);
    LD R[9], tolR[9];
    ref_gram_schmidt(a.data(), R, floor);
    gs_tolerances<T>(s, tolR);
    std::copy(R, R + 9, &E[kGramSchmidt].center[9 * r]);
    std::copy(tolR, tolR + 9, &E[kGramSchmidt].tol[9 * r]);
    E[kGramSchmidt].nonfinite_input[r] = bad_a;

    // gram_schmidt_backward, and d cos / d a of the fused chain, by forward-mode duals.
    LD ga[6], dcos[6];
    for (int j = 0; j < 6; ++j) {
      Dual ad[6], Rd[9];
      for (int i = 0; i < 6; ++i) ad[i] = Dual(a[i], i == j ? 1 : 0);
      ref_gram_schmidt(ad, Rd, floor);
      ga[j] = 0;
      for (int k = 0; k < 9; ++k) ga[j] += gR[k] * Rd[k].d;
      dcos[j] = ref_cos(Rd, Rgt.data()).d;
    }
    LD ngR = sqrtl(std::inner_product(gR.begin(), gR.end(), gR.begin(), 0.0L));
    LD tolga[6];
    gs_backward_tolerances<T>(s, ngR, tolga);
    std::copy(ga, ga + 6, &E[kGramSchmidtBackward].center[6 * r]);
    std::copy(tolga, tolga + 6, &E[kGramSchmidtBackward].tol[6 * r]);
    E[kGramSchmidtBackward].nonfinite_input[r] = bad_a || !all_finite(gR.begin(), gR.end());

    // geodesic_distance: cos carries ~u per product of the trace.
    LD c = ref_cos(R1.data(), R2.data()), sum_abs = 1;
    for (int k = 0; k < 9; ++k) sum_abs += fabsl(R1[k] * R2[k]);
    LD dc = kSlack * u * sum_abs;
    bool bad_geo = !all_finite(R1.begin(), R1.end()) || !all_finite(R2.begin(), R2.end());
    theta_expectation<T>(c, dc, bd.lo, bd.hi, &E[kGeodesic].center[r], &E[kGeodesic].tol[r]);
    E[kGeodesic].nonfinite_input[r] = bad_geo;

    // geodesic_distance_backward: d theta / d R1_ij = k(cos) R2_ij / 2 (and symmetrically),
    // k anywhere in its range over the cos interval.
    LD k = ref_dtheta_dcos(c, bd.lo, bd.hi), kmin, kmax;
    dtheta_range(c, dc, bd.lo, bd.hi, &kmin, &kmax);
    // dk: how far k may move within the cos interval; kabs: its largest size, for the rounding
    // of k itself and of the products.
    LD dk = std::max(fabsl(kmax - k), fabsl(kmin - k));
    LD kabs = std::max(fabsl(kmin), fabsl(kmax));
    for (int i = 0; i < 9; ++i) {
      LD e1 = k * grad * R2[i] / 2, e2 = k * grad * R1[i] / 2;
      E[kGeodesicBackward].center[18 * r + i] = e1;
      E[kGeodesicBackward].center[18 * r + 9 + i] = e2;
      E[kGeodesicBackward].tol[18 * r + i] = (dk + kSlack * u * kabs) * fabsl(grad * R2[i]) / 2 + Tol<T>::tiny;
      E[kGeodesicBackward].tol[18 * r + 9 + i] = (dk + kSlack * u * kabs) * fabsl(grad * R1[i]) / 2 + Tol<T>::tiny;
    }
    E[kGeodesicBackward].nonfinite_input[r] = bad_geo || !finite(grad);

    // sixd_geodesic_distance: cos of the computed matrix against the target; its error adds
    // the matrix's (tolR) to the trace's.
    LD cs = ref_cos(R, Rgt.data()), sum_s = 1, dcs = 0;
    for (int i = 0; i < 9; ++i) {
      sum_s += fabsl(R[i] * Rgt[i]);
      dcs += fabsl(Rgt[i]) * tolR[i] / 2;
    }
    dcs += kSlack * u * sum_s;
    bool bad_sixd = bad_a || !all_finite(Rgt.begin(), Rgt.end());
    theta_expectation<T>(cs, dcs, bd.lo, bd.hi, &E[kSixd].center[r], &E[kSixd].tol[r]);
    E[kSixd].nonfinite_input[r] = bad_sixd;
    E[kSixdGrad].center[7 * r] = E[kSixd].center[r];
    E[kSixdGrad].tol[7 * r] = E[kSixd].tol[r];
    E[kSixdGrad].nonfinite_input[r] = bad_sixd;
    // grad6 = k(cos) d cos / d a, with d cos / d a = J^T Rgt / 2 (a Gram-Schmidt VJP).
    LD ks = ref_dtheta_dcos(cs, bd.lo, bd.hi), ksmin, ksmax, toldc[6];
    dtheta_range(cs, dcs, bd.lo, bd.hi, &ksmin, &ksmax);
    LD dks = std::max(fabsl(ksmax - ks), fabsl(ksmin - ks));
    LD ksabs = std::max(fabsl(ksmin), fabsl(ksmax));
    LD nRgt = sqrtl(std::inner_product(Rgt.begin(), Rgt.end(), Rgt.begin(), 0.0L));
    gs_backward_tolerances<T>(s, nRgt / 2, toldc);
    for (int j = 0; j < 6; ++j) {
      E[kSixdGrad].center[7 * r + 1 + j] = ks * dcos[j];
      E[kSixdGrad].tol[7 * r + 1 + j] = dks * fabsl(dcos[j]) + ksabs * (toldc[j] + kSlack * u * fabsl(dcos[j])) + Tol<T>::tiny;
    }

    // matrix_to_euler: exact inputs, so only the arc tangents' own error, and s's rounding for
    // yaw. Right at the gimbal threshold either branch is acceptable.
    LD eul[3];
    ref_euler(Re.data(), gimbal, eul);
    LD sv = sqrtl(Re[0] * Re[0] + Re[3] * Re[3]);
    bool ambiguous = fabsl(sv - gimbal) <= 4 * u * gimbal;
    bool bad_e = !all_finite(Re.begin(), Re.end());
    const LD deg = 180 / kPiL;
    for (int i = 0; i < 3; ++i) {
      LD t = ambiguous && i != 1 ? kInf : Tol<T>::angle;
      E[kEulerRad].center[3 * r + i] = eul[i];
      E[kEulerRad].tol[3 * r + i] = t;
      E[kEulerDeg].center[3 * r + i] = eul[i] * deg;
      E[kEulerDeg].tol[3 * r + i] = t * deg + kSlack * u * fabsl(eul[i] * deg);
    }
    E[kEulerRad].nonfinite_input[r] = E[kEulerDeg].nonfinite_input[r] = bad_e;
  }
  return E;
}

// ------------------------------------------------------------------------------------------
// Running the kernels

enum Path { kPack, kScalar, kTable };
const char* const kPathNames[] = {"pack", "scalar", "table"};

template <class T>
const pyhpe::cpu::RotationKernelsT<T>& table();
template <>
const pyhpe::cpu::RotationKernelsT<float>& table<float>() {
  return pyhpe::cpu::kRotationKernels_baseline.f32;
}
template <>
const pyhpe::cpu::RotationKernelsT<double>& table<double>() {
  return pyhpe::cpu::kRotationKernels_baseline.f64;
}

// Outputs get a guard zone past their end, filled with a marker, to catch writes past the
// batch (the AddressSanitizer build catches them on its own); the outputs themselves start
// as NaN so that an element the kernel forgets to write cannot pass.
constexpr int kGuard = 16;
constexpr double kMarker = 12345.0;

template <class T>
struct Output {
  std::vector<T> buf;
  int64_t size;
  explicit Output(int64_t n) : buf(n + kGuard, static_cast<T>(kMarker)), size(n) {
    std::fill(buf.begin(), buf.begin() + n, std::numeric_limits<T>::quiet_NaN());
  }
  T* data() { return buf.data(); }
  bool guard_intact() const {
    for (int64_t i = size; i < size + kGuard; ++i)
      if (buf[i] != static_cast<T>(kMarker)) return false;
    return true;
  }
};

// Runs one kernel on one path; returns the outputs row by row (kWidth values per row) and
// whether the guard zones stayed intact.
template <class T>
std::vector<T> run_kernel(Kernel kern, Path path, const Batch<T>& b, int threads, bool* guard_ok) {
  using namespace pyhpe::cpu;
  const int64_t n = b.n;
  const RotationKernelsT<T>& tab = table<T>();
  std::vector<T> out(n * kWidth[kern]);
  *guard_ok = true;
  switch (kern) {
    case kGramSchmidt: {
      Output<T> R(9 * n);
      if (path == kPack) gram_schmidt<T>(b.x6.data(), R.data(), n, threads);
      if (path == kScalar) gram_schmidt<T, T>(b.x6.data(), R.data(), n, threads);
      if (path == kTable) tab.gram_schmidt(b.x6.data(), R.data(), n, threads);
      std::copy(R.buf.begin(), R.buf.begin() + 9 * n, out.begin());
      *guard_ok = R.guard_intact();
      break;
    }
    case kGramSchmidtBackward: {
      Output<T> ga(6 * n);
      if (path == kPack) gram_schmidt_backward<T>(b.x6.data(), b.gR.data(), ga.data(), n, threads);
      if (path == kScalar) gram_schmidt_backward<T, T>(b.x6.data(), b.gR.data(), ga.data(), n, threads);
      if (path == kTable) tab.gram_schmidt_backward(b.x6.data(), b.gR.data(), ga.data(), n, threads);
      std::copy(ga.buf.begin(), ga.buf.begin() + 6 * n, out.begin());
      *guard_ok = ga.guard_intact();
      break;
    }
    case kGeodesic: {
      Output<T> th(n);
      if (path == kPack) geodesic_distance<T>(b.R1.data(), b.R2.data(), th.data(), n, b.eps, threads);
      if (path == kScalar) geodesic_distance<T, T>(b.R1.data(), b.R2.data(), th.data(), n, b.eps, threads);
      if (path == kTable) tab.geodesic_distance(b.R1.data(), b.R2.data(), th.data(), n, b.eps, threads);
      std::copy(th.buf.begin(), th.buf.begin() + n, out.begin());
      *guard_ok = th.guard_intact();
      break;
    }
    case kGeodesicBackward: {
      Output<T> g1(9 * n), g2(9 * n);
      const T *p1 = b.R1.data(), *p2 = b.R2.data(), *pg = b.g.data();
      if (path == kPack) geodesic_distance_backward<T>(p1, p2, pg, g1.data(), g2.data(), n, b.eps, threads);
      if (path == kScalar) geodesic_distance_backward<T, T>(p1, p2, pg, g1.data(), g2.data(), n, b.eps, threads);
      if (path == kTable) tab.geodesic_distance_backward(p1, p2, pg, g1.data(), g2.data(), n, b.eps, threads);
      for (int64_t r = 0; r < n; ++r)
        for (int i = 0; i < 9; ++i) {
          out[18 * r + i] = g1.buf[9 * r + i];
          out[18 * r + 9 + i] = g2.buf[9 * r + i];
        }
      *guard_ok = g1.guard_intact() && g2.guard_intact();
      break;
    }
    case kSixd:
    case kSixdGrad: {
      Output<T> th(n), g6(6 * n);
      T* pg6 = kern == kSixdGrad ? g6.data() : nullptr;
      if (path == kPack) sixd_geodesic_distance<T>(b.x6.data(), b.Rgt.data(), th.data(), pg6, n, b.eps, threads);
      if (path == kScalar) sixd_geodesic_distance<T, T>(b.x6.data(), b.Rgt.data(), th.data(), pg6, n, b.eps, threads);
      if (path == kTable) tab.sixd_geodesic_distance(b.x6.data(), b.Rgt.data(), th.data(), pg6, n, b.eps, threads);
      for (int64_t r = 0; r < n; ++r) {
        out[kWidth[kern] * r] = th.buf[r];
        if (kern == kSixdGrad)
          for (int j = 0; j < 6; ++j) out[7 * r + 1 + j] = g6.buf[6 * r + j];
      }
      // Without grad6 the kernel must not touch it: g6 stays NaN, its guard intact.
      bool untouched = true;
      if (kern == kSixd)
        for (int64_t i = 0; i < 6 * n; ++i) untouched = untouched && isnan(g6.buf[i]);
      *guard_ok = th.guard_intact() && g6.guard_intact() && untouched;
      break;
    }
    case kEulerRad:
    case kEulerDeg: {
      Output<T> e(3 * n);
      bool deg = kern == kEulerDeg;
      if (path == kPack) matrix_to_euler<T>(b.Re.data(), e.data(), n, deg, threads);
      if (path == kScalar) matrix_to_euler<T, T>(b.Re.data(), e.data(), n, deg, threads);
      if (path == kTable) tab.matrix_to_euler(b.Re.data(), e.data(), n, deg, threads);
      std::copy(e.buf.begin(), e.buf.begin() + 3 * n, out.begin());
      *guard_ok = e.guard_intact();
      break;
    }
    default:
      break;
  }
  return out;
}

// ------------------------------------------------------------------------------------------
// Comparing

struct Verdict {
  bool ok = true;
  LD worst = 0;  // largest |out - center| / tol over the finite comparisons
  int64_t worst_at = 0;
  int64_t bad = -1;  // first failing element
  int64_t failures = 0;
  std::string why;
};

template <class T>
Verdict compare(const std::vector<T>& out, const Expect& e) {
  Verdict v;
  for (size_t i = 0; i < out.size(); ++i) {
    LD o = out[i], c = e.center[i], t = e.tol[i];
    bool lenient = e.nonfinite_input[i / e.width];
    const char* why = nullptr;
    if (!finite(c)) {
      if (finite(o)) why = "reference is non-finite, output finite";
    } else if (!finite(o)) {
      if (!lenient) why = "output non-finite, reference finite";
    } else if (isnan(t)) {
      if (!lenient) why = "tolerance is NaN (test bug)";
    } else {
      LD err = fabsl(o - c);
      if (!(err <= t)) why = "outside tolerance";
      LD ratio = t > 0 ? err / t : (err == 0 ? 0 : kInf);
      if (ratio == ratio && ratio > v.worst && ratio <= 1) {
        v.worst = ratio;
        v.worst_at = static_cast<int64_t>(i);
      }
    }
    if (why) ++v.failures;
    if (why && v.ok) {
      v.ok = false;
      v.bad = static_cast<int64_t>(i);
      v.why = why;
    }
  }
  return v;
}

template <class T>
std::string describe_row(Kernel kern, const Batch<T>& b, int64_t r) {
  auto join = [&](const std::vector<T>& v, int w) {
    std::string s = "[";
    for (int i = 0; i < w; ++i) s += strf("%s%.17g", i ? ", " : "", static_cast<double>(v[r * w + i]));
    return s + "]";
  };
  switch (kern) {
    case kGramSchmidt: return "x6=" + join(b.x6, 6);
    case kGramSchmidtBackward: return "x6=" + join(b.x6, 6) + " gR=" + join(b.gR, 9);
    case kGeodesic:
    case kGeodesicBackward:
      return "R1=" + join(b.R1, 9) + " R2=" + join(b.R2, 9) + " grad=" + join(b.g, 1) + strf(" eps=%g", b.eps);
    case kSixd:
    case kSixdGrad: return "x6=" + join(b.x6, 6) + " Rgt=" + join(b.Rgt, 9) + strf(" eps=%g", b.eps);
    default: return "R=" + join(b.Re, 9);
  }
}

template <class T>
void check(const char* tname, const std::string& label, Kernel kern, const Batch<T>& b,
           const std::vector<T>& out, const Expect& e, bool guard_ok) {
  Verdict v = compare(out, e);
  std::string line = strf("%s %s %s: worst %.3Lf of tol (row %lld col %lld)", tname, kKernelNames[kern],
                          label.c_str(), v.worst, static_cast<long long>(v.worst_at / e.width),
                          static_cast<long long>(v.worst_at % e.width));
  if (!guard_ok) line += "; WROTE PAST ITS OUTPUT (or into grad6 when not asked)";
  if (!v.ok) {
    int64_t r = v.bad / e.width;
    line += strf("; %lld bad values, first: %s at row %lld col %lld: got %.17g expected %.17Lg tol %.3Lg; ",
                 static_cast<long long>(v.failures), v.why.c_str(), static_cast<long long>(r),
                 static_cast<long long>(v.bad % e.width),
                 static_cast<double>(out[v.bad]), e.center[v.bad], e.tol[v.bad]);
    line += describe_row(kern, b, r);
  }
  report(v.ok && guard_ok, line);
}

// ------------------------------------------------------------------------------------------
// Suites

template <class T>
void run_batch(const char* tname, const Batch<T>& b, std::vector<Expect> E) {
  for (int threads : {1, 2}) {
    for (int k = 0; k < kNumKernels; ++k) {
      Kernel kern = static_cast<Kernel>(k);
      std::vector<T> outs[3];
      for (int p : {kPack, kScalar, kTable}) {
        bool guard_ok;
        outs[p] = run_kernel(kern, static_cast<Path>(p), b, threads, &guard_ok);
        check(tname, strf("%s %s threads=%d vs reference", kPathNames[p], b.name.c_str(), threads),
              kern, b, outs[p], E[k], guard_ok);
      }
      // Pack against scalar: each is within tol of the reference, so within 2 tol of each other;
      // and the two give NaN or Inf at the same places, whatever the inputs.
      Expect ps = E[k];
      for (size_t i = 0; i < ps.center.size(); ++i) {
        ps.center[i] = outs[kScalar][i];
        ps.tol[i] = isnan(ps.tol[i]) ? 0 : 2 * ps.tol[i];  // no error bound (NaN/Inf inputs): equal
      }
      std::fill(ps.nonfinite_input.begin(), ps.nonfinite_input.end(), 0);
      check(tname, strf("pack %s threads=%d vs scalar", b.name.c_str(), threads), kern, b, outs[kPack], ps, true);
    }
  }
}

// The one-pass loss kernel (sixd_geodesic_loss: mean or sum, and its gradient) against the
// per-row expectations of sixd_geodesic_distance + grad6: the gradient rows are those of
// kSixdGrad times 1/n (mean) or 1, the loss is the mean or sum of the row centers, within the
// rows' tolerances plus the rounding of the summation (per-lane sums in T over at most a chunk).
// Pack template (default pack type), scalar template and the table; 1 and 2 threads.
template <class T>
void fused_loss_checks(const char* tname, const Batch<T>& b, const Expect& E) {
  using namespace pyhpe::cpu;
  const int64_t n = b.n;
  const RotationKernelsT<T>& kt = table<T>();
  bool any_nonfinite = false;
  LD sum = 0, sum_tol = 0, sum_abs = 0;
  for (int64_t r = 0; r < n; ++r) {
    any_nonfinite = any_nonfinite || E.nonfinite_input[r] || !finite(E.center[7 * r]) ||
                    isnan(E.tol[7 * r]);
    sum += E.center[7 * r];
    sum_tol += E.tol[7 * r];
    sum_abs += fabsl(E.center[7 * r]);
  }
  for (int threads : {1, 2})
    for (bool mean : {true, false})
      for (int p : {kPack, kScalar, kTable}) {
        Output<T> g6(6 * n);
        double loss = 0;
        if (p == kPack) loss = sixd_geodesic_loss<T>(b.x6.data(), b.Rgt.data(), g6.data(), n, mean, b.eps, threads);
        if (p == kScalar) loss = sixd_geodesic_loss<T, T>(b.x6.data(), b.Rgt.data(), g6.data(), n, mean, b.eps, threads);
        if (p == kTable) loss = kt.sixd_geodesic_loss(b.x6.data(), b.Rgt.data(), g6.data(), n, mean, b.eps, threads);
        const LD scale = mean && n ? static_cast<LD>(static_cast<T>(1.0L / n)) : 1;
        // gradient rows: kSixdGrad's expectation scaled (theta column: the center itself)
        Expect es = E;
        std::vector<T> out(7 * n);
        for (int64_t r = 0; r < n; ++r) {
          out[7 * r] = static_cast<T>(E.center[7 * r]);
          es.tol[7 * r] = finite(E.center[7 * r]) ? fabsl(E.center[7 * r]) * 2 * Tol<T>::u : E.tol[7 * r];
          for (int j = 1; j < 7; ++j) {
            es.center[7 * r + j] = E.center[7 * r + j] * scale;
            es.tol[7 * r + j] = E.tol[7 * r + j] * scale + 4 * Tol<T>::u * fabsl(es.center[7 * r + j]);
            out[7 * r + j] = g6.buf[6 * r + j - 1];
          }
        }
        check(tname, strf("loss gradient (%s) %s %s threads=%d", mean ? "mean" : "sum", kPathNames[p],
                          b.name.c_str(), threads),
              kSixdGrad, b, out, es, g6.guard_intact());
        if (n == 0) {
          report(mean ? isnan(loss) : loss == 0,
                 strf("%s sixd_geodesic_loss (%s) %s empty batch: %g", tname, mean ? "mean" : "sum",
                      kPathNames[p], loss));
          continue;
        }
        if (any_nonfinite) {
          report(!isfinite(loss) || isfinite(static_cast<double>(sum)),
                 strf("%s sixd_geodesic_loss (%s) %s %s threads=%d: non-finite rows", tname,
                      mean ? "mean" : "sum", kPathNames[p], b.name.c_str(), threads));
          continue;
        }
        const LD div = mean ? n : 1;
        const LD want = sum / div;
        const LD tol = (sum_tol + (kChunk + 4) * Tol<T>::u * sum_abs) / div + Tol<T>::tiny;
        const LD err = fabsl(static_cast<LD>(loss) - want);
        report(err <= tol, strf("%s sixd_geodesic_loss (%s) %s %s threads=%d: error %.3Lg, tol %.3Lg",
                                tname, mean ? "mean" : "sum", kPathNames[p], b.name.c_str(), threads,
                                err, tol));
      }
}

// Backward passes against central finite differences of the long double reference, on the
// well-conditioned random rows. Step 1e-6: truncation error ~1e-12 h-relative and rounding
// ~1e-13 in x86 long double, so the differences are good to ~1e-10; both the dual-number
// reference and the kernel (pack path) must agree with them to that plus the kernel's tolerance.
template <class T>
void finite_difference_checks(const char* tname, const Batch<T>& b) {
  const LD floor = static_cast<T>(pyhpe::kNormFloor), h = 1e-6L, fd_tol = 1e-9L;
  const Bounds<T> bd(b.eps);
  std::vector<Expect> E = build_expectations(b);
  bool g;
  auto ga = run_kernel(kGramSchmidtBackward, kPack, b, 1, &g);
  auto gg = run_kernel(kGeodesicBackward, kPack, b, 1, &g);
  auto gs = run_kernel(kSixdGrad, kPack, b, 1, &g);
  struct Acc {
    int rows = 0;
    LD worst_ref = 0, worst_kernel = 0;  // |diff| / allowed
    bool ok = true;
  } acc[3];
  auto account = [fd_tol](Acc& a, LD fd, LD ref, LD kern, LD tol) {
    LD scale = 1 + fabsl(fd);
    LD r1 = fabsl(ref - fd) / (fd_tol * scale), r2 = fabsl(kern - fd) / (tol + fd_tol * scale);
    a.worst_ref = std::max(a.worst_ref, r1);
    a.worst_kernel = std::max(a.worst_kernel, r2);
    a.ok = a.ok && r1 <= 1 && r2 <= 1;
  };
  for (int64_t r = 0; r < b.n; ++r) {
    auto a = row_ld(b.x6, r, 6), gR = row_ld(b.gR, r, 9), Rgt = row_ld(b.Rgt, r, 9);
    auto R1 = row_ld(b.R1, r, 9), R2 = row_ld(b.R2, r, 9);
    GsScales s = gs_scales(a.data(), floor);
    bool gs_ok = s.f1 > 0.1L && s.nc > 0.1L && s.nx * s.na2 / s.fc < 20;
    if (gs_ok) {
      ++acc[0].rows;
      for (int j = 0; j < 6; ++j) {
        auto f = [&](LD aj) {
          auto ap = a;
          ap[j] = aj;
          LD R[9], sum = 0;
          ref_gram_schmidt(ap.data(), R, floor);
          for (int k = 0; k < 9; ++k) sum += gR[k] * R[k];
          return sum;
        };
        LD fd = (f(a[j] + h) - f(a[j] - h)) / (2 * h);
        account(acc[0], fd, E[kGramSchmidtBackward].center[6 * r + j], ga[6 * r + j],
                E[kGramSchmidtBackward].tol[6 * r + j]);
      }
    }
    LD c = ref_cos(R1.data(), R2.data());
    if (c > bd.lo + 1e-3L && c < bd.hi - 1e-3L) {  // away from the clamp's kinks
      ++acc[1].rows;
      for (int i = 0; i < 18; ++i) {
        auto f = [&](LD delta) {
          auto p = R1, q = R2;
          (i < 9 ? p[i] : q[i - 9]) += delta;
          return ref_theta(ref_cos(p.data(), q.data()), bd.lo, bd.hi) * static_cast<LD>(b.g[r]);
        };
        LD fd = (f(h) - f(-h)) / (2 * h);
        account(acc[1], fd, E[kGeodesicBackward].center[18 * r + i], gg[18 * r + i],
                E[kGeodesicBackward].tol[18 * r + i]);
      }
    }
    LD R[9];
    ref_gram_schmidt(a.data(), R, floor);
    LD cs = ref_cos(R, Rgt.data());
    if (gs_ok && cs > bd.lo + 1e-3L && cs < bd.hi - 1e-3L) {
      ++acc[2].rows;
      for (int j = 0; j < 6; ++j) {
        auto f = [&](LD aj) {
          auto ap = a;
          ap[j] = aj;
          LD Rp[9];
          ref_gram_schmidt(ap.data(), Rp, floor);
          return ref_theta(ref_cos(Rp, Rgt.data()), bd.lo, bd.hi);
        };
        LD fd = (f(a[j] + h) - f(a[j] - h)) / (2 * h);
        account(acc[2], fd, E[kSixdGrad].center[7 * r + 1 + j], gs[7 * r + 1 + j],
                E[kSixdGrad].tol[7 * r + 1 + j]);
      }
    }
  }
  const char* names[3] = {"gram_schmidt_backward", "geodesic_distance_backward", "sixd_geodesic_distance grad6"};
  for (int i = 0; i < 3; ++i)
    report(acc[i].ok && acc[i].rows > 10,
           strf("%s %s vs central differences (%s, %d rows): reference worst %.3Lf, pack kernel worst %.3Lf of tol",
                tname, names[i], b.name.c_str(), acc[i].rows, acc[i].worst_ref, acc[i].worst_kernel));
}

// On a clamp bound exactly, PyTorch's clamp passes the gradient (its bounds are inclusive), so
// the backward pass must give the inside derivative there, not 0. The random and adversarial
// batches cannot pin this down (their cos carries rounding error), so it is built exactly here:
// with eps = 2^-20 the bounds are dyadic and the traces of I * diag(+-1, +-1, d) are exact in T.
template <class T>
void clamp_boundary_checks(const char* tname) {
  const double eps = 0x1p-20;
  const LD hi = 1 - eps, lo = -1 + eps;
  const int64_t n = 19;  // whole packs and a tail
  for (LD bound : {hi, lo}) {
    const LD d = bound > 0 ? 1 - 0x1p-19L : 1 + 0x1p-19L, sign = bound > 0 ? 1 : -1;
    Batch<T> b;
    b.name = strf("cos exactly %s", bound > 0 ? "1-eps" : "-1+eps");
    b.n = n;
    b.eps = eps;
    for (int64_t r = 0; r < n; ++r) {
      append(b.R1, kIdentity);
      append(b.R2, M3{sign, 0, 0, 0, sign, 0, 0, 0, d});
      b.g.push_back(1);
    }
    const LD k = -0.5L / sqrtl(1 - bound * bound);  // d theta / d R_ij = k * (other R)_ij
    for (Path p : {kPack, kScalar}) {
      bool guard_ok;
      auto out = run_kernel(kGeodesicBackward, p, b, 1, &guard_ok);
      LD worst = 0;
      for (int64_t r = 0; r < n; ++r)
        for (int i = 0; i < 9; ++i) {
          LD e1 = k * static_cast<LD>(b.R2[9 * r + i]), e2 = k * static_cast<LD>(b.R1[9 * r + i]);
          worst = std::max({worst, fabsl(out[18 * r + i] - e1), fabsl(out[18 * r + 9 + i] - e2)});
        }
      report(worst <= kSlack * Tol<T>::u * fabsl(k) && guard_ok,
             strf("%s geodesic_distance_backward %s %s: gradient passes the bound, worst error %.3Lg (k = %.6Lg)",
                  tname, kPathNames[p], b.name.c_str(), worst, k));
    }
  }
}

// The reference itself, against facts that do not depend on it.
void reference_self_checks(Rng& rng) {
  // Euler angles of R = Rz(roll) Ry(yaw) Rx(pitch) come back (|yaw| < 90 deg).
  LD worst = 0;
  for (int i = 0; i < 100; ++i) {
    LD p = rng.u(-3, 3), y = rng.u(-1.5L, 1.5L), r = rng.u(-3, 3), e[3];
    ref_euler(euler_to_matrix(p, y, r).data(), 1e-6L, e);
    worst = std::max({worst, fabsl(e[0] - p), fabsl(e[1] - y), fabsl(e[2] - r)});
  }
  report(worst < 1e-15L, strf("reference euler round trip: worst %.3Lg rad", worst));
  // Gram-Schmidt gives a rotation (orthonormal, det +1) whose first column is along a1.
  worst = 0;
  for (int i = 0; i < 100; ++i) {
    LD a[6], R[9];
    for (LD& v : a) v = rng.n();
    ref_gram_schmidt(a, R, 1e-8L);
    for (int p = 0; p < 3; ++p)
      for (int q = 0; q < 3; ++q) {
        LD d = 0;
        for (int k = 0; k < 3; ++k) d += R[3 * k + p] * R[3 * k + q];
        worst = std::max(worst, fabsl(d - (p == q)));
      }
    LD x[3] = {R[0], R[3], R[6]}, y[3] = {R[1], R[4], R[7]}, z[3] = {R[2], R[5], R[8]}, xy[3], a1x[3];
    cross(x, y, xy);
    cross(a, x, a1x);
    worst = std::max({worst, fabsl(dot(xy, z) - 1), sqrtl(dot(a1x, a1x))});
  }
  report(worst < 1e-15L, strf("reference gram_schmidt is a rotation along a1: worst %.3Lg", worst));
  // The geodesic distance between R and R * (rotation by alpha) is alpha.
  worst = 0;
  for (int i = 0; i < 100; ++i) {
    LD alpha = rng.u(0.01L, 3.1L);
    M3 R = rng.rotation(), S = matmul(R, rng.turn(alpha));
    worst = std::max(worst, fabsl(ref_theta(ref_cos(R.data(), S.data()), -1, 1) - alpha));
  }
  report(worst < 1e-12L, strf("reference geodesic distance of a known turn: worst %.3Lg rad", worst));
}

// Expectations of `base` repeated as tiled() repeats its rows.
std::vector<Expect> tiled(const std::vector<Expect>& base, int64_t base_n, int64_t n) {
  std::vector<Expect> E = base;
  for (size_t k = 0; k < E.size(); ++k) {
    const int64_t w = base[k].width;
    E[k].center.clear(), E[k].tol.clear(), E[k].nonfinite_input.clear();
    for (int64_t r = 0; r < n; ++r) {
      const int64_t src = r % base_n;
      E[k].center.insert(E[k].center.end(), base[k].center.begin() + src * w, base[k].center.begin() + (src + 1) * w);
      E[k].tol.insert(E[k].tol.end(), base[k].tol.begin() + src * w, base[k].tol.begin() + (src + 1) * w);
      E[k].nonfinite_input.push_back(base[k].nonfinite_input[src]);
    }
  }
  return E;
}

template <class T>
void run_suite(const char* tname) {
  Rng rng;
  for (int64_t n : {0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 64, 1000}) {
    Batch<T> b = random_batch<T>(n, rng);
    std::vector<Expect> E = build_expectations(b);
    fused_loss_checks(tname, b, E[kSixdGrad]);
    run_batch(tname, b, E);
  }
  // every lane of the widest pack (at least the 8 of AVX2), then one more row: the scalar tail
  const int lanes = std::max(8, VecOps<pyhpe::F32Pack>::kLanes);
  for (int offset = 0; offset <= lanes; ++offset) {
    Batch<T> b = adversarial_batch<T>(offset, rng);
    std::vector<Expect> E = build_expectations(b);
    fused_loss_checks(tname, b, E[kSixdGrad]);
    run_batch(tname, b, E);
  }
  // Above the kernels' parallel threshold, so that threads=2 splits the batch (with OpenMP);
  // 8197 also leaves a scalar tail for every pack width.
  Batch<T> base = adversarial_batch<T>(40, rng);
  const int64_t big = pyhpe::cpu::kParallelThreshold + 5;
  std::vector<Expect> Ebig = tiled(build_expectations(base), base.n, big);
  fused_loss_checks(tname, tiled(base, big), Ebig[kSixdGrad]);
  run_batch(tname, tiled(base, big), Ebig);
  finite_difference_checks(tname, random_batch<T>(64, rng));
  clamp_boundary_checks<T>(tname);
}

}  // namespace

int main() {
  const int f32_lanes = VecOps<pyhpe::F32Pack>::kLanes, f64_lanes = VecOps<pyhpe::F64Pack>::kLanes;
#if defined(_OPENMP)
  const int openmp = 1;
#else
  const int openmp = 0;
#endif
  printf("isa=%s f32_lanes=%d f64_lanes=%d openmp=%d long_double_digits=%d table_isa=%s\n", TEST_ISA,
         f32_lanes, f64_lanes, openmp, std::numeric_limits<LD>::digits,
         pyhpe::cpu::kRotationKernels_baseline.isa);
  report(std::string(pyhpe::cpu::kRotationKernels_baseline.isa) == TEST_ISA,
         strf("kernel table isa '%s' is the build's '%s'", pyhpe::cpu::kRotationKernels_baseline.isa, TEST_ISA));
  Rng rng;
  reference_self_checks(rng);
  run_suite<float>("f32");
  run_suite<double>("f64");
  printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}
