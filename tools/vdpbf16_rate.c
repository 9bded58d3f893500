// Issue rate of VFMADD231PS zmm (fp32 FMA, 16 lanes x 2 flops) against VDPBF16PS zmm (bf16 pair
// dot product, 16 lanes x 4 flops) on this core: 12 independent accumulators with distinct start
// values (so the compiler cannot merge the chains; 24 give the same rates on the CPU measured),
// thread CPU time. docs/deployment.md "Precision" quotes it.
//
//   gcc -O2 -mavx512f -mavx512bf16 -mfma tools/vdpbf16_rate.c -o build/vdpbf16_rate && build/vdpbf16_rate
#include <immintrin.h>
#include <stdio.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
#define ITERS 20000000L
#define ACC(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11)
int main(void) {
#define DECL(i) __m512 a##i = _mm512_set1_ps((float)(i) * 1e-3f);
  ACC(DECL)
  const __m512 x = _mm512_set1_ps(0.999f), y = _mm512_set1_ps(1e-7f);
  double t = now();
  for (long n = 0; n < ITERS; n++) {
#define FMA(i) a##i = _mm512_fmadd_ps(a##i, x, y);
    ACC(FMA)
  }
  const double tf = now() - t;
  __m512 s = _mm512_setzero_ps();
#define SUM(i) s = _mm512_add_ps(s, a##i);
  ACC(SUM)
  printf("fma    %.2f G instr/s (%g)\n", ITERS * 12 / tf / 1e9, _mm512_reduce_add_ps(s));
  const __m512bh bx = (__m512bh)_mm512_set1_epi16(0x3f80), by = (__m512bh)_mm512_set1_epi16(0x3380);
#define SET(i) a##i = _mm512_set1_ps((float)(i));
  ACC(SET)
  t = now();
  for (long n = 0; n < ITERS; n++) {
#define DP(i) a##i = _mm512_dpbf16_ps(a##i, bx, by);
    ACC(DP)
  }
  const double tb = now() - t;
  s = _mm512_setzero_ps();
  ACC(SUM)
  printf("dpbf16 %.2f G instr/s (%g)\n", ITERS * 12 / tb / 1e9, _mm512_reduce_add_ps(s));
  return 0;
}
