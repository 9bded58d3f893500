"""The measurement suites moved under ``pyhpe bench`` (deploy, fused, winograd, profile-ffn,
throughput, fixed-steps): each writes results.json, table.md (CPU model, load average) and a plot
PNG to its run directory. Runs here use the smallest options, or skip with the reason when they
need ncnn or the C++ runtime's tools."""

from __future__ import annotations

import json

from pyhpe.cli import main


def _run_dir_shape(out, png):
    assert (out / "results.json").is_file() and (out / png).stat().st_size > 0
    table = (out / "table.md").read_text()
    assert "CPU: " in table and "load average" in table, table
    return table


def test_deploy_report_only_rewrites_table_and_plot(tmp_path):
    lat = {k: {"min_ms": 1.0, "median_ms": 1.5} for k in ("torch_train", "torch_deploy", "onnxruntime", "ncnn")}
    row = {"model": "sixdrepnet_repnext_m4", "input_size": 224, "params_train": 8e6, "params_deploy": 7e6,
           "macs_train": 1e9, "macs_deploy": 9e8, "latency": {"1": lat}}
    env = {"cpu": "Test CPU", "cpu_count": 2, "load_before": 0.5, "load_after": 0.7, "torch": "x"}
    (tmp_path / "results.json").write_text(json.dumps({"env": env, "rows": [row]}))
    assert main(["bench", "deploy", "--out", str(tmp_path), "--report-only", "--threads", "1"]) == 0
    table = _run_dir_shape(tmp_path, "latency.png")
    assert "| repnext_m4 | 8.00 / 7.00 | 0.900 | 1.00 (1.50) |" in table
    assert "CPU: Test CPU (2 cores); load average 0.50 → 0.70" in table
