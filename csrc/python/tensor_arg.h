// Turning a Python argument into a validated view of a DLPack tensor.
//
// An argument may be a "dltensor" PyCapsule (what torch.utils.dlpack.to_dlpack returns; the
// fast path pyhpe.ops uses) or any object with __dlpack__ (torch tensors, numpy arrays, ...).
// Every check raises a Python TypeError or ValueError that names the op and the argument.
#pragma once

#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "python/dlpack_abi.h"

namespace pyhpe {
namespace binding {

namespace py = pybind11;

enum class DType { kFloat32, kFloat64 };

// Owns a consumed DLPack capsule for the duration of one call and releases it after.
class TensorArg {
 public:
  TensorArg(const char* op, const char* name, py::handle obj);
  ~TensorArg();
  TensorArg(const TensorArg&) = delete;
  TensorArg& operator=(const TensorArg&) = delete;

  const char* name() const { return name_; }
  DType dtype() const { return dtype_; }
  bool is_cuda() const { return t_->device.device_type == dlpack::kCUDA; }
  int device_id() const { return t_->device.device_id; }
  int64_t dim(int i) const { return t_->shape[i]; }
  int ndim() const { return t_->ndim; }

  template <class T>
  T* data() const {
    return reinterpret_cast<T*>(static_cast<char*>(t_->data) + t_->byte_offset);
  }

  // Raises unless the tensor is (n, tail...) for the given trailing dims (n = -1: any).
  void expect_shape(int64_t n, std::vector<int64_t> tail) const;
  // Raises unless the tensor has `ndim` dimensions (`what` describes the expected layout).
  void expect_ndim(int ndim, const char* what) const;
  // Raises unless dtype and device equal those of `other`.
  void expect_like(const TensorArg& other) const;

  std::string where() const;  // "op(): argument 'name'"

 private:
  void check_supported() const;
  std::string shape_str() const;

  const char* op_;
  const char* name_;
  py::object capsule_;
  dlpack::ManagedTensor* managed_ = nullptr;
  const dlpack::Tensor* t_ = nullptr;
  DType dtype_ = DType::kFloat32;
};

}  // namespace binding
}  // namespace pyhpe
