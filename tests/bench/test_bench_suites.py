"""The measurement suites moved under ``pyhpe bench`` (deploy, fused, winograd, profile-ffn,
throughput, fixed-steps): each writes results.json, table.md (CPU model, load average) and a plot
PNG to its run directory. Runs here use the smallest options, or skip with the reason when they
need ncnn or the C++ runtime's tools."""

from __future__ import annotations

import json

import numpy as np

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


def test_fused_writes_the_run_directory(tmp_path, monkeypatch):
    """The suite's own work around the measurement (exports and pyhpe-bench stubbed)."""
    from pyhpe.bench import fused

    exe = tmp_path / "pyhpe-bench"
    exe.write_text("")
    exe.chmod(0o755)
    monkeypatch.setattr(fused, "export_models", lambda workdir, reuse=False: {})
    monkeypatch.setattr(fused, "deploy_macs", lambda: {fused.M4: 10**9, fused.B1G2: 2 * 10**9})
    from pyhpe.bench import peak
    monkeypatch.setattr(peak, "measure_peaks", lambda quick=False: {
        "fp32_gflops": 2000.0, "bf16_gflops": 1.0, "fp16_gflops": 1.0, "copy_gbps": 10.0})
    lat = {k: {"min_ms": 2.0 + i, "median_ms": 2.5 + i, "n": 3, "clock": "thread"} for i, k in enumerate(fused.COLUMNS)}
    # bf16 at half the fp32 times
    low = {k: {**v, "min_ms": v["min_ms"] / 2, "median_ms": v["median_ms"] / 2} for k, v in lat.items()}
    seen = {}

    def measure(bench, paths, threads, passes, runs, wall=False, precisions=("fp32",)):
        seen["precisions"] = precisions
        return {"1": lat}, {p: {"1": low} for p in precisions if p != "fp32"}

    monkeypatch.setattr(fused, "measure", measure)
    monkeypatch.setattr(fused, "build_info", lambda bench, param: "pyhpe 0.1.0 (stub)")
    out = tmp_path / "run"
    assert main(["bench", "fused", "--pyhpe-bench", str(exe), "--out", str(out), "--threads", "1",
                 "--passes", "1", "--runs", "1", "--precision", "bf16"]) == 0
    assert seen["precisions"] == ["bf16"]
    table = _run_dir_shape(out, "latency.png")
    assert "| 1 (thread clock) | 2.00 (2.50) |" in table
    assert "pyhpe-bench build: pyhpe 0.1.0 (stub)" in table
    # M4 fused 2.0 -> 1.0 ms, M4 4.0 -> 2.0, B1g2 5.0 -> 2.5: 2x each, B1g2 / M4 fused 2.5x
    assert "| 1 (thread clock) | bf16 | 1.00 (1.25) | 2.00 (2.25) | 2.50 (2.75) | 2.00x | 2.00x | 2.00x | 2.50x |" in table
    # 2 flops x 1e9 MACs in 2.0 ms = 1000 GFLOP/s = 50 % of 2000; B1g2: 4e9 flops in 5.0 ms = 40 %
    assert "M4 fused 50%" in table and "B1g2 40%" in table


def test_profile_ffn_writes_the_run_directory(tmp_path, monkeypatch):
    """Stage sums from two pyhpe-profile runs (stubbed: one FFN layer replacing two ncnn layers)."""
    from pyhpe.bench import profile_ffn

    exe, models = tmp_path / "pyhpe-profile", tmp_path / "models"
    exe.write_text("")
    models.mkdir()
    for kind in ("mixer", "fused"):
        (models / f"{profile_ffn.M4}.{kind}.ncnn.param").write_text("")
    runs = {"mixer": {"b_add": ("BinaryOp", "64x56x56", 0.3), "b_conv": ("Convolution", "64x56x56", 0.5)},
            "fused": {"b_add_ffn": (profile_ffn.LAYER_TYPE, "64x56x56", 0.4)}}
    monkeypatch.setattr(profile_ffn, "profile", lambda exe, param, threads, rounds: (
        "summary", runs["mixer" if ".mixer." in param.name else "fused"]))
    monkeypatch.setattr(profile_ffn, "replaced_layers", lambda plain, add: ["b_add", "b_conv"])
    out = tmp_path / "run"
    assert main(["bench", "profile-ffn", "--pyhpe-profile", str(exe), "--models-dir", str(models),
                 "--rounds", "1", "--out", str(out)]) == 0
    table = _run_dir_shape(out, "ffn.png")
    assert "| 64×56×56 | 1 | 0.80 | 0.40 | 2.00 |" in table and "| all | 1 | 0.80 | 0.40 | 2.00 |" in table


def test_winograd_on_a_tiny_ncnn_model(tmp_path):
    """A hand-written one-convolution ncnn pair (3x3, 3 -> 4 channels), timed with Winograd on and off."""
    import numpy as np
    import pytest

    pytest.importorskip("ncnn")
    param = tmp_path / "tiny.ncnn.param"
    param.write_text("7767517\n2 2\nInput in0 0 1 in0 0=32 1=32 2=3\n"
                     "Convolution conv 1 1 in0 out0 0=4 1=3 4=1 5=0 6=108\n")
    weights = np.random.default_rng(0).standard_normal(108).astype(np.float32)
    (tmp_path / "tiny.ncnn.bin").write_bytes(np.zeros(1, np.int32).tobytes() + weights.tobytes())
    out = tmp_path / "run"
    assert main(["bench", "winograd", str(param), "--rounds", "2", "--out", str(out)]) == 0
    table = _run_dir_shape(out, "winograd.png")
    assert "| tiny.ncnn.param | 1 |" in table
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert {r["winograd"] for r in rows} == {True, False} and all(r["min_ms"] > 0 for r in rows)


def test_fixed_steps_tiny_run_appends_and_tabulates(tmp_path):
    args = ["bench", "fixed-steps", "--n-train", "32", "--batch-size", "32", "--steps", "1", "--size", "32",
            "--render", "48", "--cache", str(tmp_path / "cache"), "--out", str(tmp_path / "run")]
    assert main([*args, "--tag", "A"]) == 0
    assert main([*args, "--tag", "B", "--lr", "1e-3"]) == 0
    table = _run_dir_shape(tmp_path / "run", "mae.png")
    assert "| A | sixdrepnet_repnext_m0 | 1 | 32 | 0.003 |" in table and "| B |" in table
    assert len((tmp_path / "run" / "results.jsonl").read_text().splitlines()) == 2


def test_peak_measures_this_machine(tmp_path):
    """pyhpe bench peak: a positive rate for each limit, written to the run directory; the GEMM rate
    is what torch.mm's time gives (2·n³ flops), the copy rate what dst.copy_(src) gives."""
    import json

    from pyhpe.bench import peak

    out = tmp_path / "peak"
    assert main(["bench", "peak", "--quick", "--out", str(out)]) == 0
    res = json.loads((out / "results.json").read_text())["peaks"]
    assert res["fp32_gflops"] > 1 and res["bf16_gflops"] > 0 and res["fp16_gflops"] > 0 and res["copy_gbps"] > 0.1
    assert "fp32 GEMM (torch.mm)" in (out / "table.md").read_text()
    assert peak.copy_gbps(1, 2) > 0.1


def _rot_z(deg: float) -> np.ndarray:
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def test_precision_compares_each_precision_with_fp32_torch_and_truth(tmp_path, monkeypatch):
    """The suite's own work (model, data, export and pyhpe-infer stubbed): closed-form angles. The
    runtime's fp32 pose is the identity, its bf16 pose 0.1° about z, PyTorch's 0.05° about z and
    the truth the identity, for every head."""
    import torch

    from pyhpe.bench import fused, precision

    n = 4
    exe = tmp_path / "pyhpe-infer"
    exe.write_text("")
    exe.chmod(0o755)

    class Model:
        def __call__(self, x):
            return type("Out", (), {"R": torch.as_tensor(np.stack([_rot_z(0.05)] * len(x)))})()

    card = type("Card", (), {"input_size": 32})()
    monkeypatch.setattr(precision, "load_model", lambda args: (Model(), card, "m"))
    monkeypatch.setattr(precision, "test_inputs", lambda model, card, n, seed, render, progress: (
        torch.zeros(n, 3, 32, 32), torch.eye(3, dtype=torch.float64).expand(n, 3, 3)))
    import pyhpe.export

    monkeypatch.setattr(pyhpe.export, "export_model", lambda *a, **k: None)
    monkeypatch.setattr(precision, "runtime_rotations", lambda exe, param, x, p, fused, work: np.stack(
        [_rot_z({"fp32": 0.0, "bf16": 0.1}[p])] * len(x)))
    monkeypatch.setattr(fused, "build_info", lambda bench, param: "stub")
    out = tmp_path / "run"
    assert main(["bench", "precision", "--pyhpe-infer", str(exe), "--n", str(n), "--precisions", "bf16",
                 "--out", str(out), "--no-progress"]) == 0
    table = _run_dir_shape(out, "errors.png")
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert set(rows) == {"fp32", "bf16", "torch fp32"}
    assert abs(rows["bf16"]["vs_fp32_mean"] - 0.1) < 1e-6 and abs(rows["bf16"]["vs_fp32_max"] - 0.1) < 1e-6
    assert abs(rows["bf16"]["vs_torch_mean"] - 0.05) < 1e-6 and abs(rows["fp32"]["vs_torch_max"] - 0.05) < 1e-6
    assert abs(rows["bf16"]["vs_truth_mean"] - 0.1) < 1e-6 and rows["fp32"]["vs_fp32_max"] < 1e-6
    assert abs(rows["torch fp32"]["vs_truth_mean"] - 0.05) < 1e-6
    assert "| bf16 | 0.1000° |" in table and "random weights" in table
