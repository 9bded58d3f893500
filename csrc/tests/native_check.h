// The pass/fail tally of the native kernel test programs: check() counts each comparison and
// prints a FAIL line for a miss, finish() prints the closing "N passed, M failed" line that
// tests/ops/test_native_cpp.py reads and gives the exit code.
#pragma once

#include <cstdio>

namespace native_check {

inline int g_passed = 0, g_failed = 0;

inline void check(bool ok, const char* what, const char* cfg, long double err, long double tol) {
  if (ok) {
    ++g_passed;
  } else {
    ++g_failed;
    std::printf("FAIL %s [%s]: error %Lg > %Lg\n", what, cfg, err, tol);
  }
}

inline int finish() {
  std::printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}

}  // namespace native_check
