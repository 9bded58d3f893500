"""Prints the GELU coefficient table of csrc/include/pyhpe/ffn_kernel.h (the AVX-512 GELU).

q(a) = (1 - erf(a / sqrt 2)) / 2 = Phi(-a), the standard normal tail, on a in [0, 6): 32 equal
intervals, on each a degree-5 polynomial in u = 32 a / 6 - i in [0, 1), interpolated at the six
Chebyshev nodes (close to minimax). The kernel picks interval i's coefficients with a 32-entry
permute (vpermt2ps) and evaluates the polynomial by Horner's rule; GELU(x) = x q(|x|) for x < 0,
x (1 - q(|x|)) otherwise, q = 0 from 6 on (below 1e-9 there).

Also checks the float32 evaluation against float64 erf on [-12, 12] and prints the worst errors.
Run: python tools/fit_gelu_table.py
"""

from __future__ import annotations

import math

import numpy as np

erf = np.vectorize(math.erf)
erfc = np.vectorize(math.erfc)

INTERVALS, END, DEGREE = 32, 6.0, 5


def fit() -> np.ndarray:
    """float32 coefficients [INTERVALS, DEGREE + 1], lowest power first."""
    k = np.arange(DEGREE + 1)
    u = 0.5 - 0.5 * np.cos((2 * k + 1) * np.pi / (2 * (DEGREE + 1)))
    width = END / INTERVALS
    rows = [np.polynomial.polynomial.polyfit(u, 0.5 * erfc((i + u) * width / np.sqrt(2)), DEGREE)
            for i in range(INTERVALS)]
    return np.asarray(rows, dtype=np.float32)


def gelu_f32(coef: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The kernel's arithmetic in float32, lane for lane."""
    a = np.abs(x)
    s = np.minimum(a * np.float32(INTERVALS / END), np.float32(np.nextafter(np.float32(INTERVALS), 0)))
    i = s.astype(np.int32)
    u = s - i.astype(np.float32)
    p = coef[i, DEGREE]
    for j in range(DEGREE - 1, -1, -1):
        p = (p * u + coef[i, j]).astype(np.float32)
    q = np.where(a >= np.float32(END), np.float32(0), p)
    return (x * np.where(x < 0, q, np.float32(1) - q)).astype(np.float32)


def main() -> None:
    coef = fit()
    x = np.linspace(-12, 12, 2_400_001).astype(np.float32)
    x64 = x.astype(np.float64)
    ref = 0.5 * x64 * (1 + erf(x64 / np.sqrt(2)))
    err = np.abs(gelu_f32(coef, x) - ref)
    tail = (x < -0.5) & (x > -END)
    print(f"// max |error| / max(1, |x|) on [-12, 12]: {(err / np.maximum(1, np.abs(x64))).max():.2e}; "
          f"max relative error on [-{END:g}, -0.5]: {(err[tail] / np.abs(ref[tail])).max():.2e}")
    print(f"alignas(64) constexpr float kGeluTail[{DEGREE + 1}][{INTERVALS}] = {{")
    for j in range(DEGREE + 1):
        values = [f"{v:.9g}f" for v in coef[:, j]]
        lines = [", ".join(values[k:k + 8]) for k in range(0, INTERVALS, 8)]
        print("    {" + ",\n     ".join(lines) + "},")
    print("};")


if __name__ == "__main__":
    main()
