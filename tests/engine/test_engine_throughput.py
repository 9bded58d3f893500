"""``python -m pyhpe.engine.throughput``: every candidate runs a real training step, and the
profile splits a step into phases whose convolution share is a fraction."""

from __future__ import annotations

import torch

from pyhpe.engine import throughput


def test_every_candidate_step_updates_its_model(official_sixdrepnet):
    parts = throughput._candidates(batch=2, size=64)
    assert set(parts) == {"ours repnext_m4", "ours repvgg_b1g2", "official repvgg_b1g2",
                          "loss only, ours", "loss only, official"}
    for name, (forward, opt) in parts.items():
        if opt is None:  # loss only: the step must still produce a gradient
            throughput._step(forward, opt)()
            continue
        first = opt.param_groups[0]["params"][0]
        before = first.detach().clone()
        throughput._step(forward, opt)()
        assert not torch.equal(before, first.detach()), f"{name}: the step changed nothing"


def test_profile_splits_the_b1g2_steps(official_sixdrepnet):
    res = throughput.profile_b1g2(batch=2, size=64, threads=1)
    assert set(res) == {"ours repvgg_b1g2", "official repvgg_b1g2"}
    for r in res.values():
        assert r["forward+loss"] > 0 and r["backward"] > 0 and r["optimizer"] > 0
        assert 0.0 < r["conv_share"] <= 1.0
