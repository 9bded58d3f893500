// bf16 <-> float32, scalar: the one rounding rule the runtime's portable bf16 paths use (the
// custom layers' plane conversions, the FFN's timed kernel choice). bf16 is the high half of a
// float32; narrowing rounds to nearest, ties to even, and keeps a NaN a (quiet) NaN.
#pragma once

#include <string.h>

namespace pyhpe_rt {

inline float bf16_to_f32(unsigned short v) {
  const unsigned u = (unsigned)v << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

inline unsigned short f32_to_bf16(float f) {
  unsigned u;
  memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (unsigned short)((u >> 16) | 0x40u);  // NaN stays NaN
  return (unsigned short)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);                  // nearest, ties to even
}

}  // namespace pyhpe_rt
