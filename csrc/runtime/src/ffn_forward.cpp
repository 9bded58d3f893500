// Run-time choice between the per-ISA builds of PyhpeRepNeXtFFN's kernel (pyhpe/isa.h).
#include "ffn_forward.h"

#include <stdlib.h>
#include <string>


namespace pyhpe_rt {

namespace {

const FfnKernels& kernels() { return PYHPE_ISA_CHOSEN(kFfnKernels, PYHPE_ISAS_RT_FFN); }

}  // namespace

FfnPacked ffn_pack(const float* w1, const float* b1, const float* w2, const float* b2, int channels, int hidden) {
  FfnPacked p;
  kernels().pack(w1, b1, w2, b2, channels, hidden, &p);
  p.kernels = &kernels();
  return p;
}

void ffn_forward(const FfnPacked& w, const float* h, size_t hs, const float* r, size_t rs, float* y, size_t ys,
                 int P, int threads) {
  w.kernels->forward(w, h, hs, r, rs, y, ys, P, threads);
}

const char* ffn_isa() { return kernels().isa; }

FfnBf16Kernel ffn_bf16_kernel() {
  static const FfnBf16Kernel k = [] {
    if (!ffn_bf16_compiled()) return FfnBf16Kernel::kNone;
    const char* v = getenv("PYHPE_FFN_BF16");
    const std::string want = v ? v : "";
    if (want == "fp32") return FfnBf16Kernel::kNone;
    if (want == "dot" || want == "1") return ffn_bf16_runs(FfnBf16Kernel::kDot) ? FfnBf16Kernel::kDot : FfnBf16Kernel::kNone;
    return ffn_bf16_runs(FfnBf16Kernel::kAmx) ? FfnBf16Kernel::kAmx : FfnBf16Kernel::kNone;  // unset, "amx"
  }();
  return k;
}

const char* ffn_bf16_path() {
  switch (ffn_bf16_kernel()) {
    case FfnBf16Kernel::kAmx: return "amx";
    case FfnBf16Kernel::kDot: return "avx512bf16";
    default: return "via fp32";
  }
}

#if !PYHPE_RT_FFN_FP16
// No fp16 kernel in this build (ffn_forward_fp16.cpp is compiled on aarch64 only).
bool ffn_fp16_compiled() { return false; }
FfnPackedF16 ffn_pack_fp16(const float*, const float*, const float*, const float*, int, int) { return {}; }
void ffn_forward_fp16(const FfnPackedF16&, const unsigned short*, size_t, const unsigned short*, size_t, unsigned short*,
                      size_t, int, int) {}
#endif

#if !PYHPE_RT_FFN_BF16
// No bf16 kernel in this build (ffn_forward_bf16.cpp is compiled on x86-64 with AVX512-BF16 only).
bool ffn_bf16_compiled() { return false; }
bool ffn_bf16_runs(FfnBf16Kernel) { return false; }
FfnPackedBf16 ffn_pack_bf16(const float*, const float*, const float*, const float*, int, int, FfnBf16Kernel) {
  return {};
}
void ffn_forward_bf16(const FfnPackedBf16&, const unsigned short*, size_t, const unsigned short*, size_t,
                      unsigned short*, size_t, int, int, int) {}
#endif

}  // namespace pyhpe_rt
