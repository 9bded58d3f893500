// pyhpe's ncnn custom layers as one set (see custom_layers.h).
#include "custom_layers.h"

#include <string.h>

#include "bf16.h"
#include "cpu.h"
#include "ffn_layer.h"
#include "mat.h"
#include "mixer_layer.h"
#include "platform.h"
#include "split_layer.h"
#include "stem_layer.h"
#include "widen_layer.h"

namespace pyhpe_rt {

namespace {
thread_local std::string g_layer_error;
}  // namespace

int register_custom_layers(ncnn::Net& net) {
  for (int (*reg)(ncnn::Net&) : {register_mixer_layer, register_ffn_layer, register_split_layer,
                                      register_widen_layer, register_stem_layer})
    if (int ret = reg(net)) return ret;
  return 0;
}

int custom_layer_fail(const char* type, const std::string& name, const std::string& message) {
  g_layer_error = std::string(type) + " " + name + ": " + message;
  NCNN_LOGE("%s", g_layer_error.c_str());
  return -1;
}

const std::string& custom_layer_error() { return g_layer_error; }
std::string custom_layer_detail() { return g_layer_error.empty() ? std::string() : " (" + g_layer_error + ")"; }
void clear_custom_layer_error() { g_layer_error.clear(); }

CustomLayer::CustomLayer(const char* type, bool one_blob) : type_(type) {
  one_blob_only = one_blob;
  support_inplace = false;
  support_packing = false;
#if NCNN_ARM82
  support_fp16_storage = ncnn::cpu_support_arm_asimdhp();
#endif
  // The layers handle bf16 blobs on every build (portable conversions); ncnn casts blobs to bf16
  // only when it is built with NCNN_BF16 (tools/build_ncnn.sh builds it without).
  support_bf16_storage = true;
}

Storage storage_of(const ncnn::Layer& layer, const ncnn::Mat& m, const ncnn::Option& opt) {
  if (m.elempack != 1) return Storage::kOther;
  if (m.elemsize == 4u) return Storage::kFp32;
  if (m.elemsize != 2u) return Storage::kOther;
  if (layer.support_fp16_storage && opt.use_fp16_storage) return Storage::kFp16;
  if (layer.support_bf16_storage && opt.use_bf16_storage) return Storage::kBf16;
  return Storage::kOther;
}

const char* storage_name(Storage s) {
  switch (s) {
    case Storage::kFp32: return "fp32";
    case Storage::kFp16: return "fp16";
    case Storage::kBf16: return "bf16";
    default: return "other";
  }
}

namespace {

#if defined(__aarch64__)
inline float f16_to_f32(unsigned short v) {
  __fp16 h;
  memcpy(&h, &v, 2);
  return (float)h;
}
inline unsigned short f32_to_f16(float f) {
  const __fp16 h = (__fp16)f;
  unsigned short v;
  memcpy(&v, &h, 2);
  return v;
}
#else
// Never reached where ncnn does not cast to fp16 (no fp16 storage is declared there).
inline float f16_to_f32(unsigned short v) { return ncnn::float16_to_float32(v); }
inline unsigned short f32_to_f16(float f) { return ncnn::float32_to_float16(f); }
#endif

}  // namespace

void widen_planes(const ncnn::Mat& src, Storage s, float* dst, size_t dst_plane, int threads) {
  const int n = src.w * src.h * src.d;
#pragma omp parallel for num_threads(threads) if (threads > 1)
  for (int c = 0; c < src.c; ++c) {
    const unsigned short* p = src.channel(c);
    float* q = dst + (size_t)c * dst_plane;
    if (s == Storage::kFp16)
      for (int i = 0; i < n; ++i) q[i] = f16_to_f32(p[i]);
    else
      for (int i = 0; i < n; ++i) q[i] = bf16_to_f32(p[i]);
  }
}

void narrow_planes(const float* src, size_t src_plane, Storage s, ncnn::Mat& dst, int threads) {
  const int n = dst.w * dst.h * dst.d;
#pragma omp parallel for num_threads(threads) if (threads > 1)
  for (int c = 0; c < dst.c; ++c) {
    const float* p = src + (size_t)c * src_plane;
    unsigned short* q = dst.channel(c);
    if (s == Storage::kFp16)
      for (int i = 0; i < n; ++i) q[i] = f32_to_f16(p[i]);
    else
      for (int i = 0; i < n; ++i) q[i] = f32_to_bf16(p[i]);
  }
}

}  // namespace pyhpe_rt
