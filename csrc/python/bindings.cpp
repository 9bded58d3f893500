// pyhpe._C: the native rotation kernels for Python, without libtorch.
//
// Every function takes its inputs and the caller-allocated outputs as DLPack tensors (see
// tensor_arg.h), validates them, and runs the CPU kernel table of the best instruction set the
// running CPU supports, or the CUDA launcher (on the given stream) for CUDA tensors.
#include <pybind11/pybind11.h>

#include <string>

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

const cpu::RotationKernels& cpu_kernels() {
  static const cpu::RotationKernels& k =
#if defined(PYHPE_HAVE_AVX2_BUILD)
      cpu_has_avx2() ? cpu::kRotationKernelsAvx2 :
#endif
                     cpu::kRotationKernelsBaseline;
  return k;
}

template <class T>
const cpu::RotationKernelsT<T>& cpu_table();
template <>
const cpu::RotationKernelsT<float>& cpu_table<float>() { return cpu_kernels().f32; }
template <>
const cpu::RotationKernelsT<double>& cpu_table<double>() { return cpu_kernels().f64; }

// Batches at least this large release the GIL while the kernel runs.
constexpr int64_t kReleaseGilAbove = 2048;

void check_eps(const char* op, double eps) {
  if (!(eps >= 0.0 && eps < 1.0)) {
    throw py::value_error(std::string(op) + "(): argument 'eps' must lie in [0, 1), got " +
                          std::to_string(eps));
  }
}

// Runs cpu(T{}) or cuda(T{}) for the lead tensor's dtype and device.
template <class Cpu, class Cuda>
void dispatch(const char* op, const TensorArg& lead, int64_t n, Cpu&& cpu, Cuda&& cuda) {
  if (n == 0) return;
  auto run = [&](auto tag) {
    using T = decltype(tag);
    if (lead.is_cuda()) {
#if defined(PYHPE_WITH_CUDA)
      std::string err = cuda(tag);
      if (!err.empty()) throw std::runtime_error(std::string(op) + "(): CUDA error: " + err);
#else
      (void)cuda;
      throw py::value_error(std::string(op) + "(): got CUDA tensors, but pyhpe._C was built " +
                            "without CUDA (see `pyhpe info`)");
#endif
    } else if (n >= kReleaseGilAbove) {
      py::gil_scoped_release nogil;
      cpu(T{});
    } else {
      cpu(T{});
    }
  };
  if (lead.dtype() == DType::kFloat32) {
    run(float{});
  } else {
    run(double{});
  }
}

#if defined(PYHPE_WITH_CUDA)
#define PYHPE_CUDA_CALL(expr) return expr
#else
#define PYHPE_CUDA_CALL(expr) return std::string()
#endif

void gram_schmidt(py::handle x6_obj, py::handle out_obj, int threads, uintptr_t stream) {
  const char* op = "gram_schmidt";
  TensorArg x6(op, "x6", x6_obj);
  x6.expect_shape(-1, {6});
  const int64_t n = x6.dim(0);
  TensorArg out(op, "out", out_obj);
  out.expect_shape(n, {3, 3});
  out.expect_like(x6);
  check_threads(op, threads);
  (void)stream;
  dispatch(
      op, x6, n,
      [&](auto t) {
        using T = decltype(t);
        cpu_table<T>().gram_schmidt(x6.data<T>(), out.data<T>(), n, threads);
      },
      [&](auto t) -> std::string {
        using T = decltype(t);
        (void)t;
        PYHPE_CUDA_CALL(cuda::gram_schmidt<T>(x6.data<T>(), out.data<T>(), n, x6.device_id(),
                                              stream));
      });
}

void gram_schmidt_backward(py::handle x6_obj, py::handle grad_obj, py::handle out_obj,
                           int threads, uintptr_t stream) {
  const char* op = "gram_schmidt_backward";
  TensorArg x6(op, "x6", x6_obj);
  x6.expect_shape(-1, {6});
  const int64_t n = x6.dim(0);
  TensorArg grad(op, "grad_R", grad_obj);
  grad.expect_shape(n, {3, 3});
  grad.expect_like(x6);
  TensorArg out(op, "grad_x6", out_obj);
  out.expect_shape(n, {6});
  out.expect_like(x6);
  check_threads(op, threads);
  (void)stream;
  dispatch(
      op, x6, n,
      [&](auto t) {
        using T = decltype(t);
        cpu_table<T>().gram_schmidt_backward(x6.data<T>(), grad.data<T>(), out.data<T>(), n,
                                             threads);
      },
      [&](auto t) -> std::string {
        using T = decltype(t);
        (void)t;
        PYHPE_CUDA_CALL(cuda::gram_schmidt_backward<T>(x6.data<T>(), grad.data<T>(),
                                                       out.data<T>(), n, x6.device_id(),
                                                       stream));
      });
}

void geodesic_distance(py::handle r1_obj, py::handle r2_obj, py::handle out_obj, double eps,
                       int threads, uintptr_t stream) {
  const char* op = "geodesic_distance";
  TensorArg R1(op, "R1", r1_obj);
  R1.expect_shape(-1, {3, 3});
  const int64_t n = R1.dim(0);
  TensorArg R2(op, "R2", r2_obj);
  R2.expect_shape(n, {3, 3});
  R2.expect_like(R1);
  TensorArg out(op, "out", out_obj);
  out.expect_shape(n, {});
  out.expect_like(R1);
  check_eps(op, eps);
  check_threads(op, threads);
  (void)stream;
  dispatch(
      op, R1, n,
      [&](auto t) {
        using T = decltype(t);
        cpu_table<T>().geodesic_distance(R1.data<T>(), R2.data<T>(), out.data<T>(), n, eps,
                                         threads);
      },
      [&](auto t) -> std::string {
        using T = decltype(t);
        (void)t;
        PYHPE_CUDA_CALL(cuda::geodesic_distance<T>(R1.data<T>(), R2.data<T>(), out.data<T>(), n,
                                                   eps, R1.device_id(), stream));
      });
}

void geodesic_distance_backward(py::handle r1_obj, py::handle r2_obj, py::handle grad_obj,
                                py::handle g1_obj, py::handle g2_obj, double eps, int threads,
                                uintptr_t stream) {
  const char* op = "geodesic_distance_backward";
  TensorArg R1(op, "R1", r1_obj);
  R1.expect_shape(-1, {3, 3});
  const int64_t n = R1.dim(0);
  TensorArg R2(op, "R2", r2_obj);
  R2.expect_shape(n, {3, 3});
  R2.expect_like(R1);
  TensorArg grad(op, "grad", grad_obj);
  grad.expect_shape(n, {});
  grad.expect_like(R1);
  TensorArg g1(op, "grad_R1", g1_obj);
  g1.expect_shape(n, {3, 3});
  g1.expect_like(R1);
  TensorArg g2(op, "grad_R2", g2_obj);
  g2.expect_shape(n, {3, 3});
  g2.expect_like(R1);
  check_eps(op, eps);
  check_threads(op, threads);
  (void)stream;
  dispatch(
      op, R1, n,
      [&](auto t) {
        using T = decltype(t);
        cpu_table<T>().geodesic_distance_backward(R1.data<T>(), R2.data<T>(), grad.data<T>(),
                                                  g1.data<T>(), g2.data<T>(), n, eps, threads);
      },
      [&](auto t) -> std::string {
        using T = decltype(t);
        (void)t;
        PYHPE_CUDA_CALL(cuda::geodesic_distance_backward<T>(
            R1.data<T>(), R2.data<T>(), grad.data<T>(), g1.data<T>(), g2.data<T>(), n, eps,
            R1.device_id(), stream));
      });
}

void sixd_geodesic_distance(py::handle x6_obj, py::handle rgt_obj, py::handle out_obj,
                            py::handle grad_obj, double eps, int threads, uintptr_t stream) {
  const char* op = "sixd_geodesic_distance";
  TensorArg x6(op, "x6", x6_obj);
  x6.expect_shape(-1, {6});
  const int64_t n = x6.dim(0);
  TensorArg Rgt(op, "R_gt", rgt_obj);
  Rgt.expect_shape(n, {3, 3});
  Rgt.expect_like(x6);
  TensorArg out(op, "out", out_obj);
  out.expect_shape(n, {});
  out.expect_like(x6);
  std::unique_ptr<TensorArg> grad;
  if (!grad_obj.is_none()) {
    grad.reset(new TensorArg(op, "grad_x6", grad_obj));
    grad->expect_shape(n, {6});
    grad->expect_like(x6);
  }
  check_eps(op, eps);
  check_threads(op, threads);
  (void)stream;
  dispatch(
      op, x6, n,
      [&](auto t) {
        using T = decltype(t);
        cpu_table<T>().sixd_geodesic_distance(x6.data<T>(), Rgt.data<T>(), out.data<T>(),
                                              grad ? grad->data<T>() : nullptr, n, eps,
                                              threads);
      },
      [&](auto t) -> std::string {
        using T = decltype(t);
        (void)t;
        PYHPE_CUDA_CALL(cuda::sixd_geodesic_distance<T>(
            x6.data<T>(), Rgt.data<T>(), out.data<T>(), grad ? grad->data<T>() : nullptr, n, eps,
            x6.device_id(), stream));
      });
}

void matrix_to_euler(py::handle r_obj, py::handle out_obj, bool degrees, int threads,
                     uintptr_t stream) {
  const char* op = "matrix_to_euler";
  TensorArg R(op, "R", r_obj);
  R.expect_shape(-1, {3, 3});
  const int64_t n = R.dim(0);
  TensorArg out(op, "out", out_obj);
  out.expect_shape(n, {3});
  out.expect_like(R);
  check_threads(op, threads);
  (void)stream;
  dispatch(
      op, R, n,
      [&](auto t) {
        using T = decltype(t);
        cpu_table<T>().matrix_to_euler(R.data<T>(), out.data<T>(), n, degrees, threads);
      },
      [&](auto t) -> std::string {
        using T = decltype(t);
        (void)t;
        PYHPE_CUDA_CALL(cuda::matrix_to_euler<T>(R.data<T>(), out.data<T>(), n, degrees,
                                                 R.device_id(), stream));
      });
}

py::dict build_info() {
  py::dict d;
  d["version"] = PYHPE_VERSION;
  d["cpu_isa"] = cpu_kernels().isa;
  py::list compiled;
  compiled.append(cpu::kRotationKernelsBaseline.isa);
#if defined(PYHPE_HAVE_AVX2_BUILD)
  compiled.append(cpu::kRotationKernelsAvx2.isa);
#endif
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
  m.def("matrix_to_euler", &matrix_to_euler, py::arg("R"), py::arg("out"),
        py::arg("degrees") = false, py::arg("num_threads") = 1, py::arg("stream") = 0, args_doc);
  m.def("build_info", &build_info, "What this build contains: CPU ISA, NEON, OpenMP, CUDA.");
  register_mixer_bindings(m);
}
