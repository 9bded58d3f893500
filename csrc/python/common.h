// Helpers shared by the binding files of pyhpe._C.
#pragma once

#include <pybind11/pybind11.h>

#include <string>

namespace pyhpe {
namespace binding {

namespace py = pybind11;

// True when the running x86-64 CPU can execute the AVX2+FMA kernel tables.
inline bool cpu_has_avx2() {
#if defined(__x86_64__) || defined(_M_X64)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

inline void check_threads(const char* op, int threads) {
  if (threads < 1) {
    throw py::value_error(std::string(op) + "(): argument 'num_threads' must be >= 1, got " +
                          std::to_string(threads));
  }
}

// Registers the fused RepNeXt mixer functions (mixer_bindings.cpp).
void register_mixer_bindings(py::module_& m);

}  // namespace binding
}  // namespace pyhpe
