"""`pyhpe models`: MAC and parameter counts against closed forms and the published figures."""

from __future__ import annotations

import argparse
import json

import pytest
from torch import nn

from pyhpe.cli import main as cli_main
from pyhpe.models import stats

pytestmark = [
    pytest.mark.filterwarnings("ignore::RuntimeWarning"),  # pure-torch ops fallback
    pytest.mark.usefixtures("one_thread"),
]




def test_macs_and_params_closed_form():
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, groups=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 16 * 16, 5)
    )
    assert stats.count_macs(model, 16) == 8 * 3 * 9 * 16 * 16 + 8 * 16 * 16 * 5
    assert stats.count_parameters(model) == 8 * 3 * 9 + 8 + 8 * 16 * 16 * 5 + 5
    dw = nn.Conv2d(4, 4, 7, padding=3, groups=4)
    assert stats.count_macs(nn.Sequential(nn.Conv2d(3, 4, 1), dw), 10) == 4 * 3 * 100 + 4 * 49 * 100


def test_published_sizes_within_two_percent():
    """backbones.md: RepVGG-B1g2 deployed 41.36 M params / 8.81 GMACs with its 2048→1000
    classifier; RepNeXt-M4 fused 13.34 M / 2.289 GMACs with its 512→1000 classifier."""
    b1g2 = stats.model_stats("repvgg_b1g2", latency=False)
    fc = 2048 * 1000
    assert b1g2["params_deploy"] + fc + 1000 == pytest.approx(41.36e6, rel=0.02)
    assert b1g2["macs_deploy"] + fc == pytest.approx(8.810e9, rel=0.02)
    m4 = stats.model_stats("repnext_m4", latency=False)
    assert m4["params_deploy"] + 512 * 1000 + 1000 == pytest.approx(13.342e6, rel=0.02)
    assert m4["macs_deploy"] + 512 * 1000 == pytest.approx(2.289e9, rel=0.02)
    assert m4["macs_train"] > m4["macs_deploy"]  # the merged branches save MACs


def test_latency_returns_min_and_median():
    timing = stats.measure_latency(
        nn.Conv2d(3, 4, 3), 16, threads=1, warmup=1, min_runs=3, min_seconds=0.0
    )
    assert set(timing) == {"min", "median", "cpu_min"} and 0 < timing["min"] <= timing["median"]
    assert timing["cpu_min"] > 0
    with pytest.raises(ValueError, match="threads"):
        stats.measure_latency(nn.Identity(), 8, threads=0)


def test_cli_list_filter_and_json(tmp_path, capsys):
    assert cli_main(["models", "--list", "--filter", "sixdrepnet_repvgg_*"]) == 0
    listed = capsys.readouterr().out.split()
    assert "sixdrepnet_repvgg_b1g2" in listed and all(
        n.startswith("sixdrepnet_repvgg_") for n in listed
    )
    out = tmp_path / "stats.json"
    assert cli_main(["models", "--filter", "repvgg_a0", "--no-latency", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    (row,) = data["rows"]
    assert row["model"] == "repvgg_a0" and row["input"] == 224 and "latency_ms_1t" not in row
    assert row["params_deploy"] < row["params_train"]
    assert "torch" in data["environment"]
    assert "| repvgg_a0 | 224 |" in capsys.readouterr().out
    assert cli_main(["models", "--list", "--filter", "repvgg_a0, repnext_m0"]) == 0
    assert capsys.readouterr().out.split() == ["repnext_m0", "repvgg_a0"]
    assert (
        stats.run(
            argparse.Namespace(
                list=False, filter="no_such_*", no_latency=True, threads="1", json=None, rounds=1
            )
        )
        == 1
    )
