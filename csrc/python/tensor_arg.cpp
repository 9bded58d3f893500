#include "python/tensor_arg.h"

#include <sstream>

namespace pyhpe {
namespace binding {

namespace {

const char* kCapsuleName = "dltensor";
const char* kUsedCapsuleName = "used_dltensor";

const char* device_name(int32_t type) {
  switch (type) {
    case dlpack::kCPU: return "cpu";
    case dlpack::kCUDA: return "cuda";
    case dlpack::kCUDAHost: return "cuda-host";
    case dlpack::kCUDAManaged: return "cuda-managed";
    default: return "unsupported device";
  }
}

std::string dtype_name(const dlpack::DataType& d) {
  std::ostringstream s;
  switch (d.code) {
    case dlpack::kInt: s << "int"; break;
    case dlpack::kUInt: s << "uint"; break;
    case dlpack::kFloat: s << "float"; break;
    case dlpack::kBfloat: s << "bfloat"; break;
    case dlpack::kBool: s << "bool"; break;
    default: s << "type" << int(d.code); break;
  }
  s << int(d.bits);
  if (d.lanes != 1) s << "x" << d.lanes;
  return s.str();
}

}  // namespace

TensorArg::TensorArg(const char* op, const char* name, py::handle obj) : op_(op), name_(name) {
  if (obj.is_none()) throw py::type_error(where() + " must be a tensor, got None");
  if (PyCapsule_CheckExact(obj.ptr())) {
    capsule_ = py::reinterpret_borrow<py::object>(obj);
  } else if (py::hasattr(obj, "__dlpack__")) {
    capsule_ = obj.attr("__dlpack__")();
  } else {
    throw py::type_error(where() + " must be a tensor or array supporting DLPack, got " +
                         std::string(py::str(py::type::handle_of(obj).attr("__name__"))));
  }
  if (!PyCapsule_IsValid(capsule_.ptr(), kCapsuleName)) {
    throw py::type_error(where() + " is not an unconsumed 'dltensor' DLPack capsule");
  }
  managed_ = static_cast<dlpack::ManagedTensor*>(
      PyCapsule_GetPointer(capsule_.ptr(), kCapsuleName));
  // Take ownership: the capsule's destructor must no longer free it; we do in ~TensorArg.
  PyCapsule_SetName(capsule_.ptr(), kUsedCapsuleName);
  t_ = &managed_->dl_tensor;
  try {
    check_supported();
  } catch (...) {
    if (managed_->deleter) managed_->deleter(managed_);
    managed_ = nullptr;
    throw;
  }
}

TensorArg::~TensorArg() {
  if (managed_ && managed_->deleter) managed_->deleter(managed_);
}

std::string TensorArg::where() const {
  return std::string(op_) + "(): argument '" + name_ + "'";
}

std::string TensorArg::shape_str() const {
  std::ostringstream s;
  s << "(";
  for (int i = 0; i < t_->ndim; ++i) s << (i ? ", " : "") << t_->shape[i];
  if (t_->ndim == 1) s << ",";
  s << ")";
  return s.str();
}

void TensorArg::check_supported() const {
  const auto& d = t_->dtype;
  if (d.code == dlpack::kFloat && d.bits == 32 && d.lanes == 1) {
    const_cast<TensorArg*>(this)->dtype_ = DType::kFloat32;
  } else if (d.code == dlpack::kFloat && d.bits == 64 && d.lanes == 1) {
    const_cast<TensorArg*>(this)->dtype_ = DType::kFloat64;
  } else {
    throw py::type_error(where() + " must be float32 or float64, got " + dtype_name(d));
  }
  const int32_t dev = t_->device.device_type;
  if (dev != dlpack::kCPU && dev != dlpack::kCUDA) {
    throw py::value_error(where() + " is on an unsupported device (" + device_name(dev) + ")");
  }
  int64_t numel = 1;
  for (int i = 0; i < t_->ndim; ++i) numel *= t_->shape[i];
  if (t_->strides && numel > 0) {  // contiguous row-major, ignoring strides of size-1 dims
    int64_t expected = 1;
    for (int i = t_->ndim - 1; i >= 0; --i) {
      if (t_->shape[i] != 1 && t_->strides[i] != expected) {
        throw py::value_error(where() + " must be C-contiguous (call .contiguous())");
      }
      expected *= t_->shape[i];
    }
  }
  if (t_->data == nullptr && numel != 0) {
    throw py::value_error(where() + " has a null data pointer");
  }
}

void TensorArg::expect_shape(int64_t n, std::vector<int64_t> tail) const {
  bool ok = t_->ndim == static_cast<int>(tail.size()) + 1 && (n < 0 || t_->shape[0] == n);
  for (size_t i = 0; ok && i < tail.size(); ++i) ok = t_->shape[i + 1] == tail[i];
  if (ok) return;
  std::ostringstream want;
  want << "(" << (n < 0 ? std::string("B") : std::to_string(n));
  for (int64_t d : tail) want << ", " << d;
  if (tail.empty()) want << ",";
  want << ")";
  throw py::value_error(where() + " must have shape " + want.str() + ", got " + shape_str());
}

void TensorArg::expect_ndim(int ndim, const char* what) const {
  if (t_->ndim != ndim) {
    throw py::value_error(where() + " must be " + what + ", got shape " + shape_str());
  }
}

void TensorArg::expect_like(const TensorArg& other) const {
  if (dtype_ != other.dtype_) {
    throw py::type_error(where() + " must have the dtype of '" + other.name_ + "' (" +
                         dtype_name(other.t_->dtype) + "), got " + dtype_name(t_->dtype));
  }
  if (t_->device.device_type != other.t_->device.device_type ||
      t_->device.device_id != other.t_->device.device_id) {
    std::ostringstream s;
    s << where() << " is on " << device_name(t_->device.device_type) << ":"
      << t_->device.device_id << " but '" << other.name_ << "' is on "
      << device_name(other.t_->device.device_type) << ":" << other.t_->device.device_id;
    throw py::value_error(s.str());
  }
}

}  // namespace binding
}  // namespace pyhpe
