"""pytest-benchmark suite for the native rotation ops (not part of the pass/fail run).

    pytest tests/benchmarks/test_bench_kernels.py --benchmark-enable --benchmark-only

Each case times one implementation; for the interleaved comparison that docs/benchmarks.md
reports, use `pyhpe bench kernels`, which shares these implementations.
"""

from __future__ import annotations

import pytest
import torch

from pyhpe.bench.kernels import FULL_SIZES, MODES, OPS, _callable, _implementations
from pyhpe.official import load_official_functions, official_root

IMPLS = ["ours", "clean", "official"]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("batch", FULL_SIZES)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("op", OPS)
def test_rotation_op(benchmark, op, mode, batch, impl, threads):
    if impl == "official" and official_root() is None:
        pytest.skip("pip install --no-deps sixdrepnet==0.1.6")
    official = load_official_functions() if impl == "official" else None
    fn = _implementations(op, official)[impl]
    benchmark.group = f"{op}-{mode}-B{batch}-{threads}t"
    benchmark(_callable(fn, op, mode, batch))
