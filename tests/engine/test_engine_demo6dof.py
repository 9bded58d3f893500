"""`pyhpe demo --task 6dof --quick` end to end (slow: about a minute on 2 cores): TRGv2 trained
against the clock, evaluated next to the box-only and mean-rotation baselines."""

from __future__ import annotations

import json
import math

import pytest

from pyhpe.cli import main


@pytest.mark.slow
def test_demo_6dof_quick(tmp_path, capsys):
    assert main(["demo", "--task", "6dof", "--quick", "--out", str(tmp_path), "--no-progress",
                 "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "box-only + mean rot." in out and "TRGv2 ADD / box-only ADD" in out
    (run,) = list(tmp_path.iterdir())
    for f in ("demo6dof.json", "predictions.png", "log.csv", "config.yaml", "model.safetensors"):
        assert (run / f).is_file(), f
    r = json.loads((run / "demo6dof.json").read_text())
    trg = r["variants"]["TRGv2"]["report"]
    for key in ("mae_r", "ge", "mae_t_mm", "add_mm", "vertex_median_mm"):
        assert math.isfinite(trg[key]) and trg[key] >= 0
    # the box-only baseline: a 0.2 m face filling the 1.5x landmark box puts t_z within ~30 %
    assert r["box_only"]["tz_mm"] < 0.3 * 1000 * r["test_depth"][1]
    assert r["variants"]["TRGv2"]["steps"] >= 1


def test_demo_6dof_refuses_a_rotation_model(capsys):
    assert main(["demo", "--task", "6dof", "--model", "sixdrepnet_repnext_m0", "--quick"]) == 1
    assert "TRGv2 model" in capsys.readouterr().err


def test_ablation_flags_belong_to_6dof(capsys):
    assert main(["demo", "--ood-depth"]) == 1
    assert "--task 6dof" in capsys.readouterr().err
