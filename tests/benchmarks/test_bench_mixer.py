"""pytest-benchmark suite for the fused RepNeXt mixer (not part of the pass/fail run).

    pytest tests/benchmarks/test_bench_mixer.py --benchmark-enable --benchmark-only

One case per (RepNeXt-M4 mixer at 224 input, batch, mode, implementation, threads): ours
(pyhpe.ops.repnext_mixer), torch_merged (one F.conv2d per group on the merged kernels) and
torch_branches (the plain PyTorch training form). The interleaved comparison that
docs/benchmarks.md reports comes from `pyhpe bench mixer`, which shares these implementations.
"""

from __future__ import annotations

import pytest
import torch

from pyhpe.bench.mixer import IMPLS, M4_MIXERS, _call, build_mixer, implementations


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("mode", ["fwd", "fwdbwd"])
@pytest.mark.parametrize("batch", [1, 32])
@pytest.mark.parametrize("mixer", M4_MIXERS, ids=lambda m: m[0].replace(" ", "-"))
def test_mixer(benchmark, mixer, batch, mode, impl, threads):
    name, channels, size, downsample = mixer
    module = build_mixer(channels, downsample)
    x = torch.randn(batch, channels, size, size).requires_grad_(mode == "fwdbwd")
    fn = implementations(module, downsample, mode)[impl]
    benchmark.group = f"{name}-N{batch}-{mode}-{threads}t"
    benchmark(_call(fn, x, module, mode))
