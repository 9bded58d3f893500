// PyhpeRepNeXtFFN's kernel (csrc/include/pyhpe/ffn_kernel.h) as the runtime calls it: weights
// packed once for the instruction set chosen at run time, one forward entry point.
//
// ffn_kernel.h's SIMD width and register tile follow the compile flags, so the runtime compiles
// it once per instruction set (ffn_forward_isa.cpp: baseline; AVX2+FMA and AVX-512F on x86-64)
// into tables chosen at run time (csrc/include/pyhpe/isa.h). The packed weights depend on the
// tile, so an FfnPacked belongs to the build that packed it and remembers it.
#pragma once

#include <stddef.h>

#include <vector>

#include "pyhpe/isa.h"

namespace pyhpe_rt {

struct FfnKernels;

struct FfnPacked {
  std::vector<float> w1, b1, w2, b2;  // packed for `kernels` (ffn_kernel.h pack_weights / pack_bias)
  int channels = 0, hidden = 0;
  const FfnKernels* kernels = nullptr;  // the build that packed them
};

// Packs W1 (hidden x C), b1, W2 (C x hidden), b2 for the build ffn_forward will use.
FfnPacked ffn_pack(const float* w1, const float* b1, const float* w2, const float* b2, int channels, int hidden);

// y = r + W2 GELU(W1 h + b1) + b2 per pixel: h, r, y hold `channels` planes of P pixels with
// plane strides hs, rs, ys (ncnn's cstep); r may be h.
void ffn_forward(const FfnPacked& w, const float* h, size_t hs, const float* r, size_t rs, float* y, size_t ys,
                 int P, int threads);

// The instruction set ffn_forward uses on this CPU ("avx512", "avx2", "sse2", "neon", "scalar").
const char* ffn_isa();

// fp16 arithmetic (ffn_forward_fp16.cpp, aarch64 builds only: compiled for ARMv8.2-A+fp16 and to
// be called only where ncnn::cpu_support_arm_asimdhp() holds). Weights packed in fp16 (8-wide
// output-channel tiles); h, r, y are fp16 planes (raw bits in unsigned short) with strides as above.
struct FfnPackedF16 {
  std::vector<unsigned short> w1, b1, w2, b2;
  int channels = 0, hidden = 0;
};
// Whether this build has the fp16 kernel (false off aarch64: the functions below then must not be called).
bool ffn_fp16_compiled();
FfnPackedF16 ffn_pack_fp16(const float* w1, const float* b1, const float* w2, const float* b2, int channels,
                           int hidden);
void ffn_forward_fp16(const FfnPackedF16& w, const unsigned short* h, size_t hs, const unsigned short* r, size_t rs,
                      unsigned short* y, size_t ys, int P, int threads);

// bf16 arithmetic (ffn_forward_bf16.cpp, x86-64 builds whose compiler has -mavx512bf16 and
// -mamx-bf16), two kernels: AMX tiles (TDPBF16PS) where the CPU has AMX-BF16 and Linux grants
// the tile state, else VDPBF16PS where the CPU has AVX512-BF16. Both take bf16 inputs and weights,
// accumulate in fp32, keep the hidden activations in bf16; h, r, y are bf16 planes (raw bits in
// unsigned short) with strides as above.
enum class FfnBf16Kernel { kNone, kDot, kAmx };
struct FfnPackedBf16 {
  FfnBf16Kernel kernel = FfnBf16Kernel::kNone;
  std::vector<unsigned> w1, w2;         // kDot: pairs (W[o][2k], W[o][2k+1]) per 32-bit word
  std::vector<unsigned short> a1, a2;   // kAmx: 16 x 32 bf16 tiles of W
  std::vector<float> b1, b2;
  int channels = 0, hidden = 0;
};
// Whether this build has the bf16 kernels (false elsewhere: the functions below then must not be called).
bool ffn_bf16_compiled();
// The bf16 kernels this CPU runs: AMX needs AMX-BF16 and the kernel's permission for the tile
// state (arch_prctl, asked once); Dot needs AVX512-BF16.
bool ffn_bf16_runs(FfnBf16Kernel kernel);
// The kernel the layer runs bf16 blobs through (kNone: widened to fp32 around the fp32 kernel),
// chosen once per process: AMX where it runs; on a CPU with AVX512-BF16 but no AMX, whichever of
// the VDPBF16PS kernel and widening ffn_bf16_time measures faster here (a few ms, once). On the
// one CPU measured (an Intel Xeon with AMX, docs/deployment.md "Precision") VDPBF16PS issues at a
// quarter of the FMA rate, half the flops, and loses to widening; CPUs whose bf16 dot product
// outruns their fp32 FMA (AMD Zen 4 is reported to) are where it can win, so it is timed, not
// assumed. PYHPE_FFN_BF16 overrides: fp32 (widen), dot or 1 (VDPBF16PS), amx (AMX or widen),
// time (the timed choice even where AMX runs).
FfnBf16Kernel ffn_bf16_kernel();
// The timed choice itself: one M4-sized FFN (C 256, hidden 512, 196 pixels) run through both
// paths on 1 thread, best of interleaved runs; kDot if VDPBF16PS was faster, else kNone. Needs
// ffn_bf16_runs(kDot).
struct FfnBf16Timing {
  double dot_ms = 1e30, fp32_ms = 1e30;
};
FfnBf16Kernel ffn_bf16_time(FfnBf16Timing* timing);
// The times behind ffn_bf16_kernel()'s choice, or nullptr when it did not time.
const FfnBf16Timing* ffn_bf16_timing();
// Whether some bf16 kernel can run here (a cheap check for load time: no timing).
bool ffn_bf16_may_run();
// What bf16 blobs run through on this CPU: "amx", "avx512bf16" or "via fp32", with the times
// when the choice was timed (pyhpe_build_info).
const char* ffn_bf16_path();
FfnPackedBf16 ffn_pack_bf16(const float* w1, const float* b1, const float* w2, const float* b2, int channels,
                            int hidden, FfnBf16Kernel kernel);
// chunk: pixels per chunk, a multiple of 32 (0: the kernel's choice; the native test sets it).
void ffn_forward_bf16(const FfnPackedBf16& w, const unsigned short* h, size_t hs, const unsigned short* r, size_t rs,
                      unsigned short* y, size_t ys, int P, int threads, int chunk = 0);

// What one instruction-set build (ffn_forward_isa.cpp) provides: kFfnKernels_baseline, ...
struct FfnKernels {
  const char* isa;
  void (*pack)(const float* w1, const float* b1, const float* w2, const float* b2, int channels, int hidden,
               FfnPacked* out);
  void (*forward)(const FfnPacked& w, const float* h, size_t hs, const float* r, size_t rs, float* y, size_t ys,
                  int P, int threads);
};
PYHPE_ISA_DECLARE(FfnKernels, kFfnKernels);

}  // namespace pyhpe_rt
