// Helpers shared by the binding files of pyhpe._C: argument checks, the dtype switch and the
// float32/float64 half of a CPU kernel table.
#pragma once

#include <pybind11/pybind11.h>

#include <string>
#include <type_traits>

#include "python/tensor_arg.h"

namespace pyhpe {
namespace binding {

namespace py = pybind11;

inline void check_threads(const char* op, int threads) {
  if (threads < 1) {
    throw py::value_error(std::string(op) + "(): argument 'num_threads' must be >= 1, got " +
                          std::to_string(threads));
  }
}

// Calls f(float{}) or f(double{}) for the dtype of `t`.
template <class F>
void with_dtype(const TensorArg& t, F&& f) {
  if (t.dtype() == DType::kFloat32) {
    f(float{});
  } else {
    f(double{});
  }
}

// The f32 or f64 half of a CPU kernel table (RotationKernels, MixerKernels) for T.
template <class T, class Table>
const auto& typed(const Table& table) {
  if constexpr (std::is_same<T, float>::value) {
    return table.f32;
  } else {
    return table.f64;
  }
}

// The error for CUDA tensors given to a build without CUDA.
[[noreturn]] inline void throw_no_cuda(const std::string& where) {
  throw py::value_error(where + ", but pyhpe._C was built without CUDA (see `pyhpe info`)");
}

// Throws "op(): CUDA error: ..." unless err is empty (the CUDA launchers' convention).
inline void check_cuda(const char* op, const std::string& err) {
  if (!err.empty()) throw std::runtime_error(std::string(op) + "(): CUDA error: " + err);
}

// Registers the fused RepNeXt mixer functions (mixer_bindings.cpp).
void register_mixer_bindings(py::module_& m);
// pyhpe._C.check_ncnn_model: the runtime's model check (model_check_bindings.cpp).
void register_model_check_bindings(py::module_& m);

}  // namespace binding
}  // namespace pyhpe
