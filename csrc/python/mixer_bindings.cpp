// pyhpe._C bindings of the fused RepNeXt mixer (include/pyhpe/repnext_mixer.h): validation of
// the DLPack arguments and dispatch to the CPU kernel table of the best instruction set.
#include <memory>
#include <string>
#include <vector>

#include "cpu/mixer_kernels.h"
#include "python/common.h"
#include "python/tensor_arg.h"
#if defined(PYHPE_WITH_CUDA)
#include "cuda/mixer_cuda.h"
#endif

namespace pyhpe {
namespace binding {
namespace {

const cpu::MixerKernels& mixer_kernels() { return PYHPE_ISA_CHOSEN(cpu::kMixerKernels, PYHPE_ISAS_CPU); }

using Arg = std::unique_ptr<TensorArg>;

// The data of an optional argument (nullptr when absent).
template <class T>
T* ptr(const Arg& t) {
  return t ? t->data<T>() : nullptr;
}

Arg optional_arg(const char* op, const char* name, py::handle obj) {
  if (obj.is_none()) return nullptr;
  return Arg(new TensorArg(op, name, obj));
}

// A depthwise kernel (K, 1, kh, kw) with odd kh, kw <= 11, and its bias (K,).
void check_kernel(const TensorArg& w, const TensorArg* b, int64_t K, const TensorArg& like) {
  w.expect_ndim(4, "a depthwise kernel of shape (channels, 1, kh, kw)");
  const int64_t kh = w.dim(2), kw = w.dim(3);
  if (kh % 2 == 0 || kw % 2 == 0 || kh > 11 || kw > 11 || kh < 1 || kw < 1) {
    throw py::value_error(w.where() + " must have odd kernel sizes of at most 11 (same padding), "
                          "got " + std::to_string(kh) + "x" + std::to_string(kw));
  }
  w.expect_shape(K, {1, kh, kw});
  w.expect_like(like);
  if (b) {
    b->expect_shape(K, {});
    b->expect_like(like);
  }
}

template <class T>
mixer::DwConv<T> conv_of(const TensorArg* w, const TensorArg* b) {
  mixer::DwConv<T> k;
  if (!w) return k;
  k.w = w->data<T>();
  k.b = b ? b->data<T>() : nullptr;
  k.kh = static_cast<int>(w->dim(2));
  k.kw = static_cast<int>(w->dim(3));
  return k;
}

struct MixerArgs {
  const char* op;
  Arg x, ws, bs, wm, bm, wl1, bl1, wl2, bl2;
  bool downsample = false;
  bool nhwc = false;  // x given as N x H x W x C (a channels_last tensor, permuted)
  int64_t N = 0;
  int C = 0, H = 0, W = 0, Cout = 0, Ho = 0, Wo = 0;

  MixerArgs(const char* op, py::handle x_, py::handle ws_, py::handle bs_, py::handle wm_,
            py::handle bm_, py::handle wl1_, py::handle bl1_, py::handle wl2_, py::handle bl2_,
            bool channels_last)
      : op(op), nhwc(channels_last) {
    x.reset(new TensorArg(op, "x", x_));
    x->expect_ndim(4, nhwc ? "an NHWC tensor" : "an NCHW tensor");
#if !defined(PYHPE_WITH_CUDA)
    if (x->is_cuda()) throw_no_cuda(x->where() + " is a CUDA tensor");
#endif
    N = x->dim(0);
    C = static_cast<int>(x->dim(nhwc ? 3 : 1));
    H = static_cast<int>(x->dim(nhwc ? 1 : 2));
    W = static_cast<int>(x->dim(nhwc ? 2 : 3));
    if (nhwc && x->is_cuda()) {
      throw py::value_error(x->where() + ": the CUDA kernels take NCHW tensors only");
    }
    ws.reset(new TensorArg(op, "w_s", ws_));
    bs.reset(new TensorArg(op, "b_s", bs_));
    wm.reset(new TensorArg(op, "w_m", wm_));
    bm.reset(new TensorArg(op, "b_m", bm_));
    wl1 = optional_arg(op, "w_l1", wl1_);
    bl1 = optional_arg(op, "b_l1", bl1_);
    wl2 = optional_arg(op, "w_l2", wl2_);
    bl2 = optional_arg(op, "b_l2", bl2_);
    downsample = !wl1;
    if (downsample != !bl1 || downsample != !wl2 || downsample != !bl2) {
      throw py::value_error(std::string(op) + "(): the large-branch arguments w_l1, b_l1, w_l2, "
                            "b_l2 must be all given (block mixer) or all None (downsample)");
    }
    int64_t K = C;
    if (!downsample) {
      if (C % 4 != 0) {
        throw py::value_error(x->where() + " must have a channel count divisible by 4 for the "
                              "block mixer, got " + std::to_string(C));
      }
      K = C / 4;
    }
    check_kernel(*ws, bs.get(), K, *x);
    check_kernel(*wm, bm.get(), K, *x);
    if (!downsample) {
      check_kernel(*wl1, bl1.get(), K, *x);
      check_kernel(*wl2, bl2.get(), K, *x);
    }
    Cout = downsample ? 2 * C : C;
    Ho = downsample ? mixer::out_size(H, 2) : H;
    Wo = downsample ? mixer::out_size(W, 2) : W;
  }

#if defined(PYHPE_WITH_CUDA)
  template <class T>
  cuda::MixerArgs<T> cuda_args() const {
    cuda::MixerArgs<T> c;
    c.downsample = downsample;
    c.N = N;
    c.C = C;
    c.H = H;
    c.W = W;
    auto set = [](const Arg& w, const Arg& b, const T*& wp, const T*& bp, int& kh, int& kw) {
      if (!w) return;
      wp = w->data<T>();
      bp = b ? b->data<T>() : nullptr;
      kh = static_cast<int>(w->dim(2));
      kw = static_cast<int>(w->dim(3));
    };
    set(ws, bs, c.w_s, c.b_s, c.kh_s, c.kw_s);
    set(wm, bm, c.w_m, c.b_m, c.kh_m, c.kw_m);
    set(wl1, bl1, c.w_l1, c.b_l1, c.kh_l1, c.kw_l1);
    set(wl2, bl2, c.w_l2, c.b_l2, c.kh_l2, c.kw_l2);
    return c;
  }
#endif

  template <class T>
  mixer::Params<T> params() const {
    mixer::Params<T> p;
    p.downsample = downsample;
    p.nhwc = nhwc;
    p.s = conv_of<T>(ws.get(), bs.get());
    p.m = conv_of<T>(wm.get(), bm.get());
    p.l1 = conv_of<T>(wl1.get(), bl1.get());
    p.l2 = conv_of<T>(wl2.get(), bl2.get());
    return p;
  }

  // Checks the thread count, then runs fn(T{}) for x's dtype unless there is nothing to compute.
  template <class F>
  void run(int threads, F fn) const {
    check_threads(op, threads);
    if (N == 0 || H == 0 || W == 0 || C == 0) return;
    with_dtype(*x, fn);
  }

  // (C, H, W) in this call's layout: the expected trailing shape of an input-sized tensor.
  std::vector<int64_t> in_tail() const {
    return nhwc ? std::vector<int64_t>{H, W, C} : std::vector<int64_t>{C, H, W};
  }
  std::vector<int64_t> out_tail() const {
    return nhwc ? std::vector<int64_t>{Ho, Wo, Cout} : std::vector<int64_t>{Cout, Ho, Wo};
  }
};

void mixer_forward(py::handle x, py::handle ws, py::handle bs, py::handle wm, py::handle bm,
                   py::handle wl1, py::handle bl1, py::handle wl2, py::handle bl2,
                   py::handle scale_obj, py::handle shift_obj, py::handle out_obj, int threads,
                   uintptr_t stream, bool channels_last) {
  const char* op = "repnext_mixer";
  MixerArgs a(op, x, ws, bs, wm, bm, wl1, bl1, wl2, bl2, channels_last);
  Arg scale = optional_arg(op, "scale", scale_obj), shift = optional_arg(op, "shift", shift_obj);
  for (TensorArg* t : {scale.get(), shift.get()}) {
    if (t) {
      t->expect_shape(a.Cout, {});
      t->expect_like(*a.x);
    }
  }
  TensorArg out(op, "out", out_obj);
  out.expect_shape(a.N, a.out_tail());
  out.expect_like(*a.x);
  (void)stream;
  a.run(threads, [&](auto tag) {
    using T = decltype(tag);
#if defined(PYHPE_WITH_CUDA)
    if (a.x->is_cuda()) {
      cuda::MixerArgs<T> c = a.cuda_args<T>();
      c.scale = ptr<T>(scale);
      c.shift = ptr<T>(shift);
      check_cuda(op, cuda::mixer_forward<T>(a.x->data<T>(), c, out.data<T>(), a.x->device_id(), stream));
      return;
    }
#endif
    mixer::Params<T> p = a.params<T>();
    p.scale = ptr<T>(scale);
    p.shift = ptr<T>(shift);
    py::gil_scoped_release nogil;
    typed<T>(mixer_kernels()).forward(a.x->data<T>(), p, a.N, a.C, a.H, a.W, out.data<T>(), threads);
  });
}

void mixer_backward(py::handle grad_obj, py::handle x, py::handle ws, py::handle bs,
                    py::handle wm, py::handle bm, py::handle wl1, py::handle bl1, py::handle wl2,
                    py::handle bl2, py::handle gx_obj, py::handle gws_obj, py::handle gbs_obj,
                    py::handle gwm_obj, py::handle gbm_obj, py::handle gwl1_obj,
                    py::handle gbl1_obj, py::handle gwl2_obj, py::handle gbl2_obj, int threads,
                    uintptr_t stream, bool channels_last) {
  const char* op = "repnext_mixer_backward";
  MixerArgs a(op, x, ws, bs, wm, bm, wl1, bl1, wl2, bl2, channels_last);
  TensorArg grad(op, "grad_out", grad_obj);
  grad.expect_shape(a.N, a.out_tail());
  grad.expect_like(*a.x);
  TensorArg gx(op, "grad_x", gx_obj);
  gx.expect_shape(a.N, a.in_tail());
  gx.expect_like(*a.x);
  // gradient buffers mirror the parameters they belong to (zero-filled by the caller)
  auto like = [&](const char* name, py::handle obj, const TensorArg* param) -> Arg {
    if (!param) {
      if (!obj.is_none()) {
        throw py::value_error(std::string(op) + "(): argument '" + name + "' must be None "
                              "for the downsample mixer");
      }
      return nullptr;
    }
    Arg g(new TensorArg(op, name, obj));
    if (param->ndim() == 4) {
      g->expect_shape(param->dim(0), {param->dim(1), param->dim(2), param->dim(3)});
    } else {
      g->expect_shape(param->dim(0), {});
    }
    g->expect_like(*a.x);
    return g;
  };
  Arg gws = like("grad_w_s", gws_obj, a.ws.get()), gbs = like("grad_b_s", gbs_obj, a.bs.get());
  Arg gwm = like("grad_w_m", gwm_obj, a.wm.get()), gbm = like("grad_b_m", gbm_obj, a.bm.get());
  Arg gwl1 = like("grad_w_l1", gwl1_obj, a.wl1.get());
  Arg gbl1 = like("grad_b_l1", gbl1_obj, a.bl1.get());
  Arg gwl2 = like("grad_w_l2", gwl2_obj, a.wl2.get());
  Arg gbl2 = like("grad_b_l2", gbl2_obj, a.bl2.get());
  (void)stream;
  a.run(threads, [&](auto tag) {
    using T = decltype(tag);
#if defined(PYHPE_WITH_CUDA)
    if (a.x->is_cuda()) {
      cuda::MixerGrads<T> cg;
      cg.w_s = ptr<T>(gws);
      cg.b_s = ptr<T>(gbs);
      cg.w_m = ptr<T>(gwm);
      cg.b_m = ptr<T>(gbm);
      cg.w_l1 = ptr<T>(gwl1);
      cg.b_l1 = ptr<T>(gbl1);
      cg.w_l2 = ptr<T>(gwl2);
      cg.b_l2 = ptr<T>(gbl2);
      check_cuda(op, cuda::mixer_backward<T>(grad.data<T>(), a.x->data<T>(), a.cuda_args<T>(), cg,
                                             gx.data<T>(), a.x->device_id(), stream));
      return;
    }
#endif
    mixer::Params<T> p = a.params<T>();
    mixer::Grads<T> g;
    auto set = [](mixer::DwConvGrad<T>& d, const Arg& w, const Arg& b) {
      d.w = ptr<T>(w);
      d.b = ptr<T>(b);
    };
    set(g.s, gws, gbs);
    set(g.m, gwm, gbm);
    set(g.l1, gwl1, gbl1);
    set(g.l2, gwl2, gbl2);
    py::gil_scoped_release nogil;
    typed<T>(mixer_kernels()).backward(grad.data<T>(), a.x->data<T>(), p, g, a.N, a.C, a.H, a.W,
                                       gx.data<T>(), threads);
  });
}

}  // namespace

void register_mixer_bindings(py::module_& m) {
  m.def("repnext_mixer", &mixer_forward, py::arg("x"), py::arg("w_s"), py::arg("b_s"),
        py::arg("w_m"), py::arg("b_m"), py::arg("w_l1").none(true), py::arg("b_l1").none(true),
        py::arg("w_l2").none(true), py::arg("b_l2").none(true), py::arg("scale").none(true),
        py::arg("shift").none(true), py::arg("out"), py::arg("num_threads") = 1,
        py::arg("stream") = 0, py::arg("channels_last") = false,
        "Fused RepNeXt mixer forward (block: large branch given; downsample: it is None). "
        "channels_last: x and out are N x H x W x C.");
  m.def("repnext_mixer_backward", &mixer_backward, py::arg("grad_out"), py::arg("x"),
        py::arg("w_s"), py::arg("b_s"), py::arg("w_m"), py::arg("b_m"),
        py::arg("w_l1").none(true), py::arg("b_l1").none(true), py::arg("w_l2").none(true),
        py::arg("b_l2").none(true), py::arg("grad_x"), py::arg("grad_w_s"), py::arg("grad_b_s"),
        py::arg("grad_w_m"), py::arg("grad_b_m"), py::arg("grad_w_l1").none(true),
        py::arg("grad_b_l1").none(true), py::arg("grad_w_l2").none(true),
        py::arg("grad_b_l2").none(true), py::arg("num_threads") = 1, py::arg("stream") = 0,
        py::arg("channels_last") = false,
        "Gradients of the fused mixer; kernel/bias gradient buffers must be zero-filled. "
        "channels_last: x, grad_out and grad_x are N x H x W x C.");
}

}  // namespace binding
}  // namespace pyhpe
