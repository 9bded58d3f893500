// pyhpe._C: the native rotation kernels for Python, without libtorch.
//
// Every function takes its inputs and the caller-allocated outputs as DLPack tensors (see
// tensor_arg.h), validates them, and runs the CPU kernel table of the best instruction set the
// running CPU supports, or the CUDA launcher (on the given stream) for CUDA tensors.
#include <pybind11/pybind11.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "cpu/rotation_kernels.h"
#include "python/common.h"
#include "python/tensor_arg.h"
#if defined(PYHPE_WITH_CUDA)
#include "cuda/rotation_cuda.h"
#endif

namespace py = pybind11;

namespace pyhpe {
namespace binding {
namespace {

const cpu::RotationKernels& cpu_kernels() { return PYHPE_ISA_CHOSEN(cpu::kRotationKernels, PYHPE_ISAS_CPU); }

// Batches at least this large release the GIL while the kernel runs.
constexpr int64_t kReleaseGilAbove = 2048;

void check_eps(const char* op, double eps) {
  if (!(eps >= 0.0 && eps < 1.0)) {
    throw py::value_error(std::string(op) + "(): argument 'eps' must lie in [0, 1), got " +
                          std::to_string(eps));
  }
}

// Where a kernel runs: the CPU with `threads`, or the CUDA device of the tensors on `stream`.
struct Launch {
  bool cuda;
  int threads;
  int device;
  uintptr_t stream;
};

// The CPU table entry `fn` or the CUDA launcher cuda::fn<T>, called with the op's arguments and
// then (threads) or (device, stream); returns the CUDA error message ("" on success).
#if defined(PYHPE_WITH_CUDA)
#define PYHPE_ROTATION_KERNEL(fn)                                            \
  [](auto tag, const Launch& l, auto... args) -> std::string {               \
    using T = decltype(tag);                                                 \
    if (l.cuda) return cuda::fn<T>(args..., l.device, l.stream);             \
    typed<T>(cpu_kernels()).fn(args..., l.threads);                          \
    return std::string();                                                    \
  }
#else
#define PYHPE_ROTATION_KERNEL(fn)                                            \
  [](auto tag, const Launch& l, auto... args) -> std::string {               \
    using T = decltype(tag);                                                 \
    typed<T>(cpu_kernels()).fn(args..., l.threads);                          \
    return std::string();                                                    \
  }
#endif

// One call of a batched rotation op: the lead tensor (n, ...) fixes the batch size, dtype and
// device; every other tensor must be (n, ...) of the same dtype and device. Tensors are checked
// in the order they are added, then eps (if any) and the thread count, as the op's arguments.
class BatchedOp {
 public:
  BatchedOp(const char* op, int threads, uintptr_t stream)
      : op_(op), threads_(threads), stream_(stream) {}

  const TensorArg& lead(const char* name, py::handle obj, std::vector<int64_t> tail) {
    const TensorArg& t = add(name, obj);
    t.expect_shape(-1, std::move(tail));
    n_ = t.dim(0);
    return t;
  }
  const TensorArg& arg(const char* name, py::handle obj, std::vector<int64_t> tail) {
    const TensorArg& t = add(name, obj);
    t.expect_shape(n_, std::move(tail));
    t.expect_like(*args_.front());
    return t;
  }
  // An argument that may be None (then nullptr).
  const TensorArg* optional(const char* name, py::handle obj, std::vector<int64_t> tail) {
    return obj.is_none() ? nullptr : &arg(name, obj, std::move(tail));
  }
  double eps(double eps) const {
    check_eps(op_, eps);
    return eps;
  }
  int64_t n() const { return n_; }

  // Checks the thread count, then runs kernel(T{}, launch, args...) for the lead's dtype, with
  // each TensorArg argument passed as its T* data (nullptr for an absent optional one).
  template <class Kernel, class... Args>
  void run(Kernel kernel, const Args&... args) {
    check_threads(op_, threads_);
    if (n_ == 0) return;
    const TensorArg& lead = *args_.front();
    const Launch launch{lead.is_cuda(), threads_, lead.device_id(), stream_};
#if !defined(PYHPE_WITH_CUDA)
    if (launch.cuda) throw_no_cuda(std::string(op_) + "(): got CUDA tensors");
#endif
    with_dtype(lead, [&](auto tag) {
      using T = decltype(tag);
      if (launch.cuda) {
        check_cuda(op_, kernel(tag, launch, pass<T>(args)...));
      } else if (n_ >= kReleaseGilAbove) {
        py::gil_scoped_release nogil;
        kernel(tag, launch, pass<T>(args)...);
      } else {
        kernel(tag, launch, pass<T>(args)...);
      }
    });
  }

 private:
  const TensorArg& add(const char* name, py::handle obj) {
    args_.emplace_back(new TensorArg(op_, name, obj));
    return *args_.back();
  }
  template <class T>
  static T* pass(const TensorArg& t) { return t.data<T>(); }
  template <class T>
  static T* pass(const TensorArg* t) { return t ? t->data<T>() : nullptr; }
  template <class T, class V>
  static V pass(const V& v) { return v; }

  const char* op_;
  int threads_;
  uintptr_t stream_;
  int64_t n_ = 0;
  std::vector<std::unique_ptr<TensorArg>> args_;
};

void gram_schmidt(py::handle x6, py::handle out, int threads, uintptr_t stream) {
  BatchedOp op("gram_schmidt", threads, stream);
  const TensorArg& a = op.lead("x6", x6, {6});
  const TensorArg& r = op.arg("out", out, {3, 3});
  op.run(PYHPE_ROTATION_KERNEL(gram_schmidt), a, r, op.n());
}

void gram_schmidt_backward(py::handle x6, py::handle grad, py::handle out, int threads,
                           uintptr_t stream) {
  BatchedOp op("gram_schmidt_backward", threads, stream);
  const TensorArg& a = op.lead("x6", x6, {6});
  const TensorArg& g = op.arg("grad_R", grad, {3, 3});
  const TensorArg& r = op.arg("grad_x6", out, {6});
  op.run(PYHPE_ROTATION_KERNEL(gram_schmidt_backward), a, g, r, op.n());
}

void geodesic_distance(py::handle r1, py::handle r2, py::handle out, double eps, int threads,
                       uintptr_t stream) {
  BatchedOp op("geodesic_distance", threads, stream);
  const TensorArg& a = op.lead("R1", r1, {3, 3});
  const TensorArg& b = op.arg("R2", r2, {3, 3});
  const TensorArg& r = op.arg("out", out, {});
  op.run(PYHPE_ROTATION_KERNEL(geodesic_distance), a, b, r, op.n(), op.eps(eps));
}

void geodesic_distance_backward(py::handle r1, py::handle r2, py::handle grad, py::handle g1,
                                py::handle g2, double eps, int threads, uintptr_t stream) {
  BatchedOp op("geodesic_distance_backward", threads, stream);
  const TensorArg& a = op.lead("R1", r1, {3, 3});
  const TensorArg& b = op.arg("R2", r2, {3, 3});
  const TensorArg& g = op.arg("grad", grad, {});
  const TensorArg& ga = op.arg("grad_R1", g1, {3, 3});
  const TensorArg& gb = op.arg("grad_R2", g2, {3, 3});
  op.run(PYHPE_ROTATION_KERNEL(geodesic_distance_backward), a, b, g, ga, gb, op.n(), op.eps(eps));
}

void sixd_geodesic_distance(py::handle x6, py::handle rgt, py::handle out, py::handle grad,
                            double eps, int threads, uintptr_t stream) {
  BatchedOp op("sixd_geodesic_distance", threads, stream);
  const TensorArg& a = op.lead("x6", x6, {6});
  const TensorArg& R = op.arg("R_gt", rgt, {3, 3});
  const TensorArg& r = op.arg("out", out, {});
  const TensorArg* g = op.optional("grad_x6", grad, {6});
  op.run(PYHPE_ROTATION_KERNEL(sixd_geodesic_distance), a, R, r, g, op.n(), op.eps(eps));
}

// The fused loss (mean or sum) and, if grad_x6 is given, its gradient w.r.t. x6, in one pass;
// returns the loss. CPU only: CUDA tensors take sixd_geodesic_distance and a reduction.
double sixd_geodesic_loss(py::handle x6, py::handle rgt, py::handle grad, bool mean, double eps,
                          int threads, uintptr_t stream) {
  BatchedOp op("sixd_geodesic_loss", threads, stream);
  const TensorArg& a = op.lead("x6", x6, {6});
  const TensorArg& R = op.arg("R_gt", rgt, {3, 3});
  const TensorArg* g = op.optional("grad_x6", grad, {6});
  double loss = op.n() == 0 ? (mean ? std::nan("") : 0.0) : 0.0;
  op.run(
      [&loss](auto tag, const Launch& l, auto... args) -> std::string {
        using T = decltype(tag);
        if (l.cuda) return "sixd_geodesic_loss has no CUDA kernel (use sixd_geodesic_distance)";
        loss = typed<T>(cpu_kernels()).sixd_geodesic_loss(args..., l.threads);
        return std::string();
      },
      a, R, g, op.n(), mean, op.eps(eps));
  return loss;
}

void matrix_to_euler(py::handle R, py::handle out, bool degrees, int threads, uintptr_t stream) {
  BatchedOp op("matrix_to_euler", threads, stream);
  const TensorArg& a = op.lead("R", R, {3, 3});
  const TensorArg& r = op.arg("out", out, {3});
  op.run(PYHPE_ROTATION_KERNEL(matrix_to_euler), a, r, op.n(), degrees);
}

py::dict build_info() {
  py::dict d;
  d["version"] = PYHPE_VERSION;
  d["cpu_isa"] = cpu_kernels().isa;
  py::list compiled;
  for (int level = 0; level < isa::kLevels; ++level) {
    const cpu::RotationKernels* k =
        PYHPE_ISA_AT(cpu::kRotationKernels, PYHPE_ISAS_CPU, isa::Level(level));
    if (k) compiled.append(k->isa);
  }
  d["cpu_isa_compiled"] = compiled;
#if defined(__ARM_NEON)
  d["neon"] = true;
#else
  d["neon"] = false;
#endif
#if defined(_OPENMP)
  d["openmp"] = py::int_(_OPENMP);
#else
  d["openmp"] = py::none();
#endif
#if defined(PYHPE_WITH_CUDA)
  d["cuda"] = true;
  d["cuda_arches"] = std::string(cuda::compiled_arches());
#else
  d["cuda"] = false;
  d["cuda_arches"] = std::string();
#endif
  d["compiler"] = std::string(__VERSION__);
  d["parallel_threshold"] = py::int_(cpu_kernels().parallel_threshold);
  return d;
}

}  // namespace
}  // namespace binding
}  // namespace pyhpe

PYBIND11_MODULE(_C, m) {
  using namespace pyhpe::binding;
  m.doc() = "pyhpe native kernels (DLPack in, caller-allocated DLPack out; no libtorch)";
  const char* args_doc = "Tensors are DLPack capsules or objects with __dlpack__.";
  m.def("gram_schmidt", &gram_schmidt, py::arg("x6"), py::arg("out"), py::arg("num_threads") = 1,
        py::arg("stream") = 0, args_doc);
  m.def("gram_schmidt_backward", &gram_schmidt_backward, py::arg("x6"), py::arg("grad_R"),
        py::arg("grad_x6"), py::arg("num_threads") = 1, py::arg("stream") = 0, args_doc);
  m.def("geodesic_distance", &geodesic_distance, py::arg("R1"), py::arg("R2"), py::arg("out"),
        py::arg("eps") = 1e-7, py::arg("num_threads") = 1, py::arg("stream") = 0, args_doc);
  m.def("geodesic_distance_backward", &geodesic_distance_backward, py::arg("R1"), py::arg("R2"),
        py::arg("grad"), py::arg("grad_R1"), py::arg("grad_R2"), py::arg("eps") = 1e-7,
        py::arg("num_threads") = 1, py::arg("stream") = 0, args_doc);
  m.def("sixd_geodesic_distance", &sixd_geodesic_distance, py::arg("x6"), py::arg("R_gt"),
        py::arg("out"), py::arg("grad_x6").none(true), py::arg("eps") = 1e-7,
        py::arg("num_threads") = 1, py::arg("stream") = 0, args_doc);
  m.def("sixd_geodesic_loss", &sixd_geodesic_loss, py::arg("x6"), py::arg("R_gt"),
        py::arg("grad_x6").none(true), py::arg("mean") = true, py::arg("eps") = 1e-7,
        py::arg("num_threads") = 1, py::arg("stream") = 0,
        "The mean (or sum) of sixd_geodesic_distance, and its gradient w.r.t. x6 written to "
        "grad_x6 (or None), in one pass; returns the loss as a float. CPU only. "
        "Tensors are DLPack capsules or objects with __dlpack__.");
  m.def("matrix_to_euler", &matrix_to_euler, py::arg("R"), py::arg("out"),
        py::arg("degrees") = false, py::arg("num_threads") = 1, py::arg("stream") = 0, args_doc);
  m.def("build_info", &build_info, "What this build contains: CPU ISA, NEON, OpenMP, CUDA.");
  register_mixer_bindings(m);
  register_model_check_bindings(m);
}
