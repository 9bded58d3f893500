// PyhpeRepNeXtFFN (see ffn_layer.h): parameters, weights and blob checks in ncnn's terms; the
// arithmetic is ffn_forward (pyhpe/ffn_kernel.h), which reads ncnn's per-channel stride (cstep)
// directly, with fp16 storage and fp16 arithmetic on ARMv8.2 ffn_forward_fp16, with bf16 storage
// ffn_forward_bf16 where ffn_bf16_kernel() names one. bf16 storage otherwise (and fp16 storage
// without fp16 arithmetic) is widened to fp32 around ffn_forward.
#include "ffn_layer.h"

#include <vector>

#include "custom_layers.h"
#include "ffn_forward.h"
#include "paramdict.h"

namespace pyhpe_rt {

namespace {

std::string shape(const ncnn::Mat& m) {
  return "dims " + std::to_string(m.dims) + " (w " + std::to_string(m.w) + ", h " + std::to_string(m.h) + ", c " +
         std::to_string(m.c) + ") elempack " + std::to_string(m.elempack) + " elemsize " +
         std::to_string(m.elemsize);
}

class RepNeXtFfnLayer : public CustomLayer {
 public:
  RepNeXtFfnLayer() : CustomLayer(kFfnLayerType, /*one_blob=*/false) {}

  int load_param(const ncnn::ParamDict& pd) override {
    channels_ = pd.get(0, 0);
    hidden_ = pd.get(1, 0);
    if (channels_ < 1 || hidden_ < 1)
      return fail("0=channels and 1=hidden must be positive, got " + std::to_string(channels_) + " and " +
                  std::to_string(hidden_));
    if (bottoms.size() != 1 && bottoms.size() != 2)
      return fail("takes 1 or 2 inputs (h, or h and the residual), got " + std::to_string(bottoms.size()));
    if (tops.size() != 1) return fail("has one output, got " + std::to_string(tops.size()));
    return 0;
  }

  int load_model(const ncnn::ModelBin& mb) override {
    const int C = channels_, Hd = hidden_;
    ncnn::Mat w1, b1, w2, b2;
    if (!load_floats(mb, w1, Hd * C, "W1") || !load_floats(mb, b1, Hd, "b1") || !load_floats(mb, w2, C * Hd, "W2") ||
        !load_floats(mb, b2, C, "b2"))
      return -1;
    packed_ = ffn_pack(w1, b1, w2, b2, C, Hd);
    // fp16 (ARMv8.2) or bf16 (AVX512-BF16) arithmetic: packed in create_pipeline, once the options are known
    if ((support_fp16_storage && ffn_fp16_compiled()) || ffn_bf16_may_run()) {
      w1_ = w1;
      b1_ = b1;
      w2_ = w2;
      b2_ = b2;
    }
    return 0;
  }

  // fp16 storage with fp16 arithmetic: the fp16 kernel's weights (ffn_forward_fp16.cpp); bf16
  // storage on a CPU with AVX512-BF16: the bf16 kernel's (ffn_forward_bf16.cpp).
  int create_pipeline(const ncnn::Option& opt) override {
    if (support_fp16_storage && opt.use_fp16_storage && opt.use_fp16_arithmetic && ffn_fp16_compiled() && !w1_.empty())
      packed_f16_ = ffn_pack_fp16(w1_, b1_, w2_, b2_, channels_, hidden_);
    if (opt.use_bf16_storage && bf16_arithmetic() && !w1_.empty())
      packed_bf16_ = ffn_pack_bf16(w1_, b1_, w2_, b2_, channels_, hidden_, ffn_bf16_kernel());
    w1_.release();
    b1_.release();
    w2_.release();
    b2_.release();
    return 0;
  }

  int forward(const std::vector<ncnn::Mat>& bottoms_in, std::vector<ncnn::Mat>& tops_out,
              const ncnn::Option& opt) const override {
    if (bottoms_in.empty() || tops_out.size() != 1) return fail("called without its blobs");
    const ncnn::Mat& h = bottoms_in[0];
    const ncnn::Mat& r = bottoms_in.size() > 1 ? bottoms_in[1] : bottoms_in[0];
    const Storage st = storage_of(*this, h, opt);
    for (const ncnn::Mat* m : {&h, &r}) {
      if (m->dims != 3 || storage_of(*this, *m, opt) == Storage::kOther)
        return fail("expects 3-D blobs with elempack 1 in fp32 (or the fp16/bf16 storage it declares), got " +
                    shape(*m));
      if (m->c != channels_)
        return fail("expects " + std::to_string(channels_) + " channels, got " + shape(*m));
    }
    if (r.w != h.w || r.h != h.h)
      return fail("the residual's shape differs from the input's: " + shape(r) + " vs " + shape(h));
    if (r.elemsize != h.elemsize)
      return fail("the residual's storage differs from the input's: " + shape(r) + " vs " + shape(h));
    const int P = h.w * h.h;
    ncnn::Mat& top = tops_out[0];
    top.create(h.w, h.h, channels_, st == Storage::kFp32 ? 4u : 2u, opt.blob_allocator);
    if (top.empty()) return -100;
    if (st == Storage::kFp32) {
      ffn_forward(packed_, h, h.cstep, r, r.cstep, top, top.cstep, P, opt.num_threads);
      return 0;
    }
    if (st == Storage::kFp16 && !packed_f16_.w1.empty()) {  // ARMv8.2 fp16 arithmetic
      ffn_forward_fp16(packed_f16_, h, h.cstep, r, r.cstep, top, top.cstep, P, opt.num_threads);
      return 0;
    }
    if (st == Storage::kBf16 && packed_bf16_.kernel != FfnBf16Kernel::kNone) {  // AMX or AVX512-BF16
      ffn_forward_bf16(packed_bf16_, h, h.cstep, r, r.cstep, top, top.cstep, P, opt.num_threads);
      return 0;
    }
    // bf16 without bf16 arithmetic (or fp16 without fp16 arithmetic): widen to fp32, the fp32
    // kernel, narrow the result.
    ncnn::Mat hf(h.w, h.h, channels_, 4u, opt.workspace_allocator), yf(h.w, h.h, channels_, 4u, opt.workspace_allocator);
    ncnn::Mat rf;
    if (&r != &h) rf.create(h.w, h.h, channels_, 4u, opt.workspace_allocator);
    if (hf.empty() || yf.empty() || (&r != &h && rf.empty())) return -100;
    widen_planes(h, st, hf, hf.cstep, opt.num_threads);
    if (&r != &h) widen_planes(r, st, rf, rf.cstep, opt.num_threads);
    const ncnn::Mat& rr = &r != &h ? rf : hf;
    ffn_forward(packed_, hf, hf.cstep, rr, rr.cstep, yf, yf.cstep, P, opt.num_threads);
    narrow_planes(yf, yf.cstep, st, top, opt.num_threads);
    return 0;
  }

 private:
  // Whether bf16 blobs run in bf16 arithmetic here (ffn_bf16_kernel, ffn_forward.h).
  static bool bf16_arithmetic() { return ffn_bf16_kernel() != FfnBf16Kernel::kNone; }

  int channels_ = 0, hidden_ = 0;
  FfnPacked packed_;
  FfnPackedF16 packed_f16_;           // create_pipeline, for fp16 storage + fp16 arithmetic
  FfnPackedBf16 packed_bf16_;         // create_pipeline, for bf16 storage + AMX / AVX512-BF16
  ncnn::Mat w1_, b1_, w2_, b2_;       // fp32 weights kept from load_model until create_pipeline
};

}  // namespace

int register_ffn_layer(ncnn::Net& net) { return register_layer<RepNeXtFfnLayer>(net, kFfnLayerType); }

}  // namespace pyhpe_rt
