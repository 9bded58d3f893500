// PyhpeRepNeXtMixer (see mixer_layer.h): parameters and weights in ncnn's formats, and an adapter
// from ncnn's Mat (per-channel stride cstep, aligned to 16 bytes) to the contiguous planes
// pyhpe_rt::mixer_forward expects: fp32 planes are used in place when cstep == w * h, else
// copied; fp16/bf16 planes (the storage CustomLayer declares) are widened to fp32 and back.
#include "mixer_layer.h"

#include <string.h>

#include <vector>

#include "custom_layers.h"
#include "mixer_forward.h"
#include "paramdict.h"

namespace pyhpe_rt {

namespace {

struct KernelShape {
  int kh = 0, kw = 0;
};

class RepNeXtMixerLayer : public CustomLayer {
 public:
  RepNeXtMixerLayer() : CustomLayer(kMixerLayerType, /*one_blob=*/true) {}

  int load_param(const ncnn::ParamDict& pd) override {
    downsample_ = pd.get(0, 0);
    channels_ = pd.get(1, 0);
    ks_ = {pd.get(2, 3), pd.get(3, 3)};
    km_ = {pd.get(4, 7), pd.get(5, 7)};
    kl1_ = {pd.get(6, 1), pd.get(7, 11)};
    kl2_ = {pd.get(8, 11), pd.get(9, 1)};
    affine_ = pd.get(10, 0);
    if (downsample_ != 0 && downsample_ != 1) return fail("0=downsample must be 0 or 1");
    if (affine_ != 0 && affine_ != 1) return fail("10=affine must be 0 or 1");
    if (channels_ < 1 || (!downsample_ && channels_ % 4 != 0))
      return fail("1=channels must be positive (and a multiple of 4 for the block mixer), got " +
                  std::to_string(channels_));
    for (const KernelShape* k : {&ks_, &km_, &kl1_, &kl2_})
      if (k->kh < 1 || k->kw < 1 || k->kh > 11 || k->kw > 11 || k->kh % 2 == 0 || k->kw % 2 == 0)
        return fail("kernel sides must be odd and in [1, 11], got " + std::to_string(k->kh) + "x" +
                    std::to_string(k->kw));
    return 0;
  }

  int load_model(const ncnn::ModelBin& mb) override {
    const int K = downsample_ ? channels_ : channels_ / 4;
    auto load = [&](ncnn::Mat& dst, int n, const char* what) { return load_floats(mb, dst, n, what); };
    if (!load(ws_, K * ks_.kh * ks_.kw, "s weights") || !load(bs_, K, "s bias") ||
        !load(wm_, K * km_.kh * km_.kw, "m weights") || !load(bm_, K, "m bias"))
      return -1;
    if (!downsample_ && (!load(wl1_, K * kl1_.kh * kl1_.kw, "l1 weights") || !load(bl1_, K, "l1 bias") ||
                         !load(wl2_, K * kl2_.kh * kl2_.kw, "l2 weights") || !load(bl2_, K, "l2 bias")))
      return -1;
    if (affine_ && (!load(scale_, out_channels(), "scale") || !load(shift_, out_channels(), "shift")))
      return -1;
    return 0;
  }

  int forward(const ncnn::Mat& bottom, ncnn::Mat& top, const ncnn::Option& opt) const override {
    const Storage st = storage_of(*this, bottom, opt);
    if (bottom.dims != 3 || st == Storage::kOther)
      return fail("expects a 3-D blob with elempack 1 in fp32 (or the fp16/bf16 storage it declares), got dims " +
                  std::to_string(bottom.dims) + " elempack " + std::to_string(bottom.elempack) + " elemsize " +
                  std::to_string(bottom.elemsize));
    if (bottom.c != channels_)
      return fail("expects " + std::to_string(channels_) + " channels, got " + std::to_string(bottom.c));
    const int W = bottom.w, H = bottom.h, C = channels_;
    const int Wo = downsample_ ? (W - 1) / 2 + 1 : W, Ho = downsample_ ? (H - 1) / 2 + 1 : H;
    const int Cout = out_channels();
    const bool f32 = st == Storage::kFp32;
    top.create(Wo, Ho, Cout, f32 ? 4u : 2u, opt.blob_allocator);
    if (top.empty()) return -100;
    const size_t in_plane = (size_t)W * H, out_plane = (size_t)Wo * Ho;

    // fp16/bf16 storage: the planes are widened to fp32 and the output narrowed again; the
    // depthwise arithmetic stays fp32 (docs/deployment.md, "Precision").
    const float* x = f32 ? (const float*)bottom : nullptr;
    std::vector<float> x_dense, y_dense;
    if (!f32) {
      x_dense.resize(in_plane * C);
      widen_planes(bottom, st, x_dense.data(), in_plane, opt.num_threads);
      x = x_dense.data();
    } else if (bottom.cstep != in_plane) {  // ncnn aligned each channel: gather the planes densely
      x_dense.resize(in_plane * C);
      for (int c = 0; c < C; ++c) memcpy(&x_dense[c * in_plane], bottom.channel(c), in_plane * sizeof(float));
      x = x_dense.data();
    }
    float* y = f32 ? (float*)top : nullptr;
    if (!f32 || top.cstep != out_plane) {
      y_dense.resize(out_plane * Cout);
      y = y_dense.data();
    }
    mixer_forward(x, args(), C, H, W, y, opt.num_threads);
    if (!f32)
      narrow_planes(y_dense.data(), out_plane, st, top, opt.num_threads);
    else if (!y_dense.empty())
      for (int c = 0; c < Cout; ++c) memcpy(top.channel(c), &y_dense[c * out_plane], out_plane * sizeof(float));
    return 0;
  }

 private:
  int out_channels() const { return downsample_ ? 2 * channels_ : channels_; }

  static MixerKernel kernel(const ncnn::Mat& w, const ncnn::Mat& b, KernelShape k) {
    MixerKernel out;
    out.w = w;
    out.b = b;
    out.kh = k.kh;
    out.kw = k.kw;
    return out;
  }

  MixerArgs args() const {
    MixerArgs a;
    a.downsample = downsample_ != 0;
    a.s = kernel(ws_, bs_, ks_);
    a.m = kernel(wm_, bm_, km_);
    if (!downsample_) {
      a.l1 = kernel(wl1_, bl1_, kl1_);
      a.l2 = kernel(wl2_, bl2_, kl2_);
    }
    if (affine_) {
      a.scale = scale_;
      a.shift = shift_;
    }
    return a;
  }

  int downsample_ = 0, channels_ = 0, affine_ = 0;
  KernelShape ks_, km_, kl1_, kl2_;
  ncnn::Mat ws_, bs_, wm_, bm_, wl1_, bl1_, wl2_, bl2_, scale_, shift_;
};

}  // namespace

int register_mixer_layer(ncnn::Net& net) { return register_layer<RepNeXtMixerLayer>(net, kMixerLayerType); }

}  // namespace pyhpe_rt
