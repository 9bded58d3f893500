"""`pyhpe demo --quick` end to end (slow: about 1-2 minutes on 2 cores, more on a busy machine)."""

from __future__ import annotations

import json

import pytest

from pyhpe.cli import main


@pytest.mark.slow
def test_demo_quick(tmp_path, capsys):
    assert main(["demo", "--quick", "--out", str(tmp_path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "trivial (mean rot.)" in out and "deploy form vs training form" in out
    (run,) = list(tmp_path.iterdir())
    for f in ("demo.json", "predictions.png", "curves.png", "log.csv", "config.yaml", "model.safetensors"):
        assert (run / f).is_file(), f
    r = json.loads((run / "demo.json").read_text())
    assert r["deploy_max_abs_diff_R"] < 1e-4
    assert r["deploy_report"]["mae_6drepnet"]["mean"] == pytest.approx(r["model_report"]["mae_6drepnet"]["mean"], abs=0.05)
    assert r["trivial_report"]["mae_6drepnet"]["mean"] > 5  # the synthetic poses are spread widely
    assert r["params_deploy"] <= r["params_train"] and r["macs_deploy"] > 0
