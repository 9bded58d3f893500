"""`pyhpe bench mixer`'s bound column: the least work of a mixer call, against a count taken
from the module itself."""

from __future__ import annotations

import pytest
import torch

from pyhpe.bench.mixer import add_bounds, build_mixer, merged_params, mixer_work


@pytest.mark.parametrize("downsample", [False, True])
def test_mixer_work_counts_the_merged_kernels(downsample):
    """FLOPs: the multiply-adds of the merged depthwise kernels, each over its output pixels
    (x2; x3 more for forward+backward); bytes: x and y (forward), 3 x and 2 y (with backward)."""
    channels, size, batch = 64, 56, 3
    module = build_mixer(channels, downsample)
    x = torch.randn(batch, channels, size, size)
    with torch.no_grad():
        y = module.forward_plain(x)
    kernels = [p for p in merged_params(module, downsample) if p.dim() == 4]
    macs = sum(k.shape[0] * k.shape[2] * k.shape[3] for k in kernels) * y.shape[2] * y.shape[3] * batch
    flops, nbytes = mixer_work(channels, size, downsample, batch, "fwd")
    assert flops == 2 * macs
    assert nbytes == 4 * (x.numel() + y.numel())
    flops_b, nbytes_b = mixer_work(channels, size, downsample, batch, "fwdbwd")
    assert flops_b == 3 * flops and nbytes_b == 4 * (3 * x.numel() + 2 * y.numel())


def test_bound_is_the_larger_time_and_names_its_limit():
    rows = [{"mixer": "stage0 block", "channels": 64, "size": 56, "batch": 32, "mode": "fwd", "threads": 1},
            {"mixer": "stage0 block", "channels": 64, "size": 56, "batch": 32, "mode": "fwd", "threads": 2}]
    add_bounds(rows, {"fp32_gflops": 1e6, "copy_gbps": 1.0})  # absurd compute: memory bound
    b = rows[0]["bound"]
    assert b["by"] == "memory" and b["seconds"] == pytest.approx(b["bytes"] / 1e9)
    assert "bound" not in rows[1]  # the limits are 1-thread figures
    add_bounds(rows[:1], {"fp32_gflops": 1e-3, "copy_gbps": 1e6})
    assert rows[0]["bound"]["by"] == "compute"


def test_train_step_profile_separates_the_mixer():
    """The fused step's mixer time lands in 'fused mixer (ours)' and none in depthwise
    convolutions; the plain step's the other way round; the dense convolutions in both."""
    from pyhpe.bench.mixer import profile_markdown, train_step_profile

    prof = train_step_profile(batch=2, size=32, threads=1, steps=1)
    fused, plain = prof["fused"], prof["plain"]
    assert fused.get("fused mixer (ours)", 0) > 0 and fused.get("depthwise conv (PyTorch)", 0) == 0
    assert plain.get("depthwise conv (PyTorch)", 0) > 0 and plain.get("fused mixer (ours)", 0) == 0
    assert fused["dense conv (PyTorch/oneDNN)"] > 0 and plain["dense conv (PyTorch/oneDNN)"] > 0
    assert "| fused mixer (ours) |" in profile_markdown(prof)
