// Kernels compiled once per instruction set, and the choice of one at run time: the one
// mechanism behind the Python extension's CPU kernel tables (csrc/cpu/*) and the C++ runtime's
// fused layers (csrc/runtime/src/mixer_forward*, ffn_forward*).
//
// Build side: CMake's pyhpe_isa_objects() (csrc/cmake/pyhpe_isa.cmake) compiles a group of
// sources once per ISA level with that level's flags and PYHPE_ISA_SUFFIX set to the level's
// name. Each such translation unit defines its table under PYHPE_ISA_TABLE(name), i.e.
// name_baseline, name_avx2 or name_avx512. The function also sets PYHPE_ISAS_<GROUP> on the
// code that chooses: a bit mask of the levels the group was compiled for (bit kAvx2 etc.).
//
// Choosing side: PYHPE_ISA_DECLARE(Type, name) declares the three tables; PYHPE_ISA_BEST(name,
// mask) is the table of the highest level in `mask` the running CPU supports (the baseline
// otherwise; PYHPE_ISA_CHOSEN: the same, chosen once and kept), PYHPE_ISA_AT(name, mask, level)
// the table of one level or nullptr when the group was not compiled for it. Tables of levels outside the mask are only named inside discarded
// `if constexpr` branches, so they need no definition.
//
// The kernel headers put everything they define in an inline namespace named after the
// instruction set (PYHPE_ISA_NAMESPACE, config.h), so that the builds' copies of the same
// inline functions are distinct symbols.
#pragma once

#include <stdlib.h>
#include <string.h>

#include "pyhpe/config.h"

// The ISA name of this translation unit's code ("neon", "avx512", "avx2", "sse2", "scalar").
#if defined(__ARM_NEON)
#define PYHPE_ISA_NAME "neon"
#elif defined(__AVX512F__)
#define PYHPE_ISA_NAME "avx512"
#elif defined(__AVX2__)
#define PYHPE_ISA_NAME "avx2"
#elif defined(__SSE2__)
#define PYHPE_ISA_NAME "sse2"
#else
#define PYHPE_ISA_NAME "scalar"
#endif

// The level this translation unit is compiled as (set by pyhpe_isa_objects; a source compiled
// on its own, as the native tests do, is the baseline).
#ifndef PYHPE_ISA_SUFFIX
#define PYHPE_ISA_SUFFIX baseline
#endif
#define PYHPE_ISA_CAT2_(a, b) a##_##b
#define PYHPE_ISA_CAT_(a, b) PYHPE_ISA_CAT2_(a, b)
// In a per-ISA translation unit: the name of this build's table, e.g. kFfnKernels_avx2.
#define PYHPE_ISA_TABLE(name) PYHPE_ISA_CAT_(name, PYHPE_ISA_SUFFIX)

namespace pyhpe {
namespace isa {

// The levels a group can be compiled for: baseline (the target's default flags: SSE2 on x86-64,
// NEON on aarch64), AVX2+FMA and AVX-512F (+AVX2+FMA), the latter two on x86-64 only.
enum Level : int { kBaseline = 0, kAvx2 = 1, kAvx512 = 2 };
constexpr int kLevels = 3;

constexpr bool in_mask(unsigned mask, Level level) { return ((mask >> level) & 1u) != 0; }

// Whether the running CPU (and OS) executes code compiled for `level`.
inline bool cpu_supports(Level level) {
#if defined(__x86_64__) || defined(_M_X64)
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  switch (level) {
    case kBaseline: return true;
    case kAvx2: return avx2;
    case kAvx512: return avx2 && __builtin_cpu_supports("avx512f");
  }
  return false;
#else
  return level == kBaseline;
#endif
}

// The environment's cap on the level: PYHPE_MAX_ISA=baseline|avx2|avx512 (unset or any other
// value: no cap). It lets one machine time or test a lower table (e.g. AVX2 against AVX-512).
inline Level max_level_from_env() {
  const char* v = getenv("PYHPE_MAX_ISA");
  if (v == nullptr) return Level(kLevels - 1);
  if (strcmp(v, "baseline") == 0) return kBaseline;
  if (strcmp(v, "avx2") == 0) return kAvx2;
  return Level(kLevels - 1);
}

// The highest level of `mask` the running CPU supports and PYHPE_MAX_ISA allows (kBaseline if none).
inline Level best_level(unsigned mask) {
  const Level cap = max_level_from_env();
  for (int l = cap; l > kBaseline; --l)
    if (in_mask(mask, Level(l)) && cpu_supports(Level(l))) return Level(l);
  return kBaseline;
}

}  // namespace isa
}  // namespace pyhpe

// Declares the per-level tables `name`_baseline, _avx2, _avx512 of type Type (in the current
// namespace).
#define PYHPE_ISA_DECLARE(Type, name)  \
  extern const Type name##_baseline;   \
  extern const Type name##_avx2;       \
  extern const Type name##_avx512

// The table of `level` (a pyhpe::isa::Level), or nullptr when `mask` lacks it.
#define PYHPE_ISA_AT(name, mask, level)                                                \
  ([](::pyhpe::isa::Level level_) -> decltype(&name##_baseline) {                     \
    if constexpr (::pyhpe::isa::in_mask((mask), ::pyhpe::isa::kAvx512)) {              \
      if (level_ == ::pyhpe::isa::kAvx512) return &name##_avx512;                      \
    }                                                                                  \
    if constexpr (::pyhpe::isa::in_mask((mask), ::pyhpe::isa::kAvx2)) {                \
      if (level_ == ::pyhpe::isa::kAvx2) return &name##_avx2;                          \
    }                                                                                  \
    return level_ == ::pyhpe::isa::kBaseline ? &name##_baseline : nullptr;             \
  }(level))

// The table of the best level of `mask` for the running CPU (never nullptr).
#define PYHPE_ISA_BEST(name, mask) PYHPE_ISA_AT(name, mask, ::pyhpe::isa::best_level(mask))

// *PYHPE_ISA_BEST(name, mask), chosen on first use and kept (a const reference to the table).
#define PYHPE_ISA_CHOSEN(name, mask) \
  ([]() -> const auto& {             \
    static const auto& chosen_ = *PYHPE_ISA_BEST(name, mask); \
    return chosen_;                  \
  }())
