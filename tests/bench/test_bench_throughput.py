"""``pyhpe bench throughput``: every candidate runs a real training step, the profile splits a step
into phases whose convolution share is a fraction, and a tiny run writes the run directory."""

from __future__ import annotations

import json

import torch

from pyhpe.bench import throughput
from pyhpe.cli import main


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


def test_tiny_run_writes_the_run_directory(official_sixdrepnet, tmp_path):
    assert main(["bench", "throughput", "--batch-size", "2", "--size", "32", "--threads", "1", "--steps", "1",
                 "--out", str(tmp_path)]) == 0
    table = (tmp_path / "table.md").read_text()
    assert "| ours repnext_m4 |" in table and "CPU: " in table and "load average" in table, table
    assert (tmp_path / "throughput.png").stat().st_size > 0
    assert set(json.loads((tmp_path / "results.json").read_text())["seconds"]["1"]) >= {"ours repnext_m4"}
