// Host-side launchers of the CUDA fused RepNeXt mixer (plain C++: no CUDA headers needed to
// include it). Pointers are device pointers; `stream` is a cudaStream_t as an integer. Each
// returns an empty string on success, else the CUDA error message.
#pragma once

#include <stdint.h>

#include <string>

namespace pyhpe {
namespace cuda {

template <class T>
struct MixerArgs {
  bool downsample = false;
  int64_t N = 0;
  int C = 0, H = 0, W = 0;
  const T *w_s = nullptr, *b_s = nullptr, *w_m = nullptr, *b_m = nullptr;
  const T *w_l1 = nullptr, *b_l1 = nullptr, *w_l2 = nullptr, *b_l2 = nullptr;
  int kh_s = 0, kw_s = 0, kh_m = 0, kw_m = 0, kh_l1 = 0, kw_l1 = 0, kh_l2 = 0, kw_l2 = 0;
  const T *scale = nullptr, *shift = nullptr;
};

template <class T>
struct MixerGrads {
  T *w_s = nullptr, *b_s = nullptr, *w_m = nullptr, *b_m = nullptr;
  T *w_l1 = nullptr, *b_l1 = nullptr, *w_l2 = nullptr, *b_l2 = nullptr;
};

template <class T>
std::string mixer_forward(const T* x, const MixerArgs<T>& a, T* y, int device, uintptr_t stream);

template <class T>
std::string mixer_backward(const T* gy, const T* x, const MixerArgs<T>& a, const MixerGrads<T>& g,
                           T* gx, int device, uintptr_t stream);

}  // namespace cuda
}  // namespace pyhpe
