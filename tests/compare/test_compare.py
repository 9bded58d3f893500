"""``pyhpe compare``: the config, the robustness slices, the verdicts, the warm-up by time, the
renderer's factor labels, and the command end to end on tiny budgets (resume, a failing model,
phone timings, bad input)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from pyhpe.cli import main
from pyhpe.compare.config import load_compare_config, pose_model_name, resolution_kwargs
from pyhpe.compare.report import judge, phone_pairs, stat
from pyhpe.compare.slices import Slice, factor_slices, slice_errors, yaw_curve, yaw_slices
from pyhpe.engine.config import ConfigError

CONFIG = "configs/compare_synthetic.yaml"
TINY = ["budget.minutes=0.03", "data.train.n=128", "data.val.0.n=24", "train.batch_size=16"]


@pytest.fixture(autouse=True)
def _repo_root(monkeypatch):
    monkeypatch.chdir(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


# --- config --------------------------------------------------------------------------------


def test_shipped_configs_validate(tmp_path):
    cfg = load_compare_config(CONFIG)
    assert cfg["models"][:2] == ["sixdrepnet_repnext_m4", "sixdrepnet_repvgg_b1g2"]
    assert cfg["seeds"] == [0, 1] and cfg["budget"]["kind"] == "time"
    assert cfg["pipeline"]["data"]["val"][0]["n"] == 500
    protocol = "configs/compare_protocol1.yaml"
    with pytest.raises(ConfigError, match=r"data\.train\.path: no such file or folder: datasets/300W_LP"):
        load_compare_config(protocol)  # the datasets are not here: one clear error before any training
    paths = {"train": tmp_path / "files.txt", "val.0": tmp_path / "aflw.txt", "val.1": tmp_path / "biwi.npz"}
    for p in paths.values():
        p.write_text("")
    p1 = load_compare_config(protocol, [f"data.{k}.path={v}" for k, v in paths.items()])
    assert p1["budget"]["kind"] == "epochs"
    assert [v["format"] for v in p1["pipeline"]["data"]["val"]] == ["aflw2000", "biwi-npz"]


@pytest.mark.parametrize("override, message", [
    ("budget.kind=steps", "budget.kind"),
    ("budget.minutes=0", "budget.minutes"),
    ("seeds=[]", "seeds"),
    ("seeds=[-1]", "seeds"),
    ("models=[]", "models"),
    ("latency.threads=[0]", "latency.threads"),
    ("train.lr=-1", "train.lr"),
    ("colour=red", "unknown key"),
    ("budget.minuts=3", "unknown config key 'budget.minuts'"),
    ("latency=fast", "'latency' must be a mapping"),
    ("data.val=[]", "data.val"),
])
def test_bad_config_is_one_error(override, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        load_compare_config(CONFIG, [override])


def test_model_names_and_resolution():
    assert pose_model_name("repnext_m4") == "sixdrepnet_repnext_m4"
    assert pose_model_name("sixdrepnet_repnext_m4") == "sixdrepnet_repnext_m4"
    assert pose_model_name("trgv2_resnet18") == "trgv2_resnet18"
    assert resolution_kwargs("sixdrepnet_efficientformerv2_s0", 64) == {"img_size": 64}
    assert resolution_kwargs("sixdrepnet_efficientformerv2_s0", 224) == {}
    assert resolution_kwargs("sixdrepnet_repnext_m4", 64) == {}


# --- slices and verdicts -----------------------------------------------------------------


def test_factor_slices_split_the_set_by_what_was_drawn():
    factors = [{"occluders": 1, "blur_sigma": 0.0, "noise_sigma": 1.0, "glasses": False},
               {"occluders": 0, "blur_sigma": 0.8, "noise_sigma": 1.0, "glasses": True},
               {"occluders": 0, "blur_sigma": 0.0, "noise_sigma": 6.0, "glasses": False},
               {"occluders": 0, "blur_sigma": 0.0, "noise_sigma": 0.0, "glasses": False}]
    yaw = np.array([70.0, -65.0, 10.0, -20.0])
    by_name = {s.name: s for s in factor_slices(factors, yaw)}
    assert by_name["occlusion"].hard.tolist() == [True, False, False, False]
    assert by_name["extreme yaw"].hard.tolist() == [True, True, False, False]
    assert by_name["degradation"].hard.tolist() == [False, True, True, False]
    assert by_name["glasses (identity)"].hard.tolist() == [False, True, False, False]
    for s in by_name.values():
        assert not (s.hard & s.rest).any() and (s.hard | s.rest).all()


def test_slice_errors_and_ratio():
    sl = Slice("x", "hard", "rest", np.array([True, True, False, False]), np.array([False, False, True, True]))
    mae, geo = np.array([4.0, 6.0, 1.0, 3.0]), np.array([8.0, 12.0, 2.0, 6.0])
    e = slice_errors(sl, mae, geo)
    assert e["hard"] == {"n": 2, "mae": 5.0, "geodesic": 10.0}
    assert e["rest"] == {"n": 2, "mae": 2.0, "geodesic": 4.0}
    assert e["mae_ratio"] == 2.5
    empty = Slice("y", "h", "r", np.zeros(4, bool), np.ones(4, bool))
    assert np.isnan(slice_errors(empty, mae, geo)["mae_ratio"])


def test_yaw_slices_and_curve():
    yaw = np.array([-80.0, -45.0, -10.0, 5.0, 40.0, 89.0])
    s30, s60 = yaw_slices(yaw)
    assert s30.hard.tolist() == [False, True, False, False, True, False]
    assert s60.hard.tolist() == [True, False, False, False, False, True]
    assert s30.rest.tolist() == [False, False, True, True, False, False]
    geo = np.arange(6, dtype=float)
    c = yaw_curve(yaw, geo, width=30.0)
    # bins of 30° from -90: [-90,-60) holds -80; [-60,-30) -45; [-30,0) -10; [0,30) 5; [30,60) 40; [60,90) 89
    assert c["yaw"] == [-75.0, -45.0, -15.0, 15.0, 45.0, 75.0]
    assert c["geodesic"] == geo.tolist() and c["n"] == [1] * 6


def test_judge_uses_the_seed_spread():
    a, b = stat([10.0, 11.0]), stat([12.0, 12.5])
    assert judge(a, b, "mae")["verdict"] == "supported"
    assert judge(b, a, "mae")["verdict"] == "not supported"
    close = stat([11.5, 13.0])  # the same mean as b: no difference beyond the spread
    assert judge(close, b, "mae")["verdict"] == "inconclusive"
    one = judge(stat([10.0]), stat([10.1]), "mae")
    assert one["verdict"] == "supported" and "one seed" in one["why"]
    assert judge(stat([]), b, "mae")["verdict"] == "inconclusive"


def test_robustness_needs_models_that_learned():
    from pyhpe.compare.report import hypothesis

    def acc(mae, ratio):
        return {"test_sets": {"t": {"accuracy": {"mae_mean": stat([mae, mae])},
                                    "slices": [{"slice": "s", "hard_label": "h", "rest_label": "r",
                                                "ratio": stat([ratio, ratio])}]}}}

    trivial = {"t": {"mae_6drepnet": {"mean": 30.0}}}
    results = {"config": {"hypothesis": {"model": "a", "baseline": "b"}}, "trivial": trivial,
               "models": {"a": {}, "b": {}}, "machine": {"cpu": "x"}}
    robust = {c["claim"]: c for c in hypothesis(results, {"a": acc(10.0, 1.0), "b": acc(12.0, 1.5)})}
    assert robust["more robust (t)"]["verdict"] == "supported"
    robust = {c["claim"]: c for c in hypothesis(results, {"a": acc(10.0, 1.0), "b": acc(30.5, 1.5)})}
    assert robust["more robust (t)"]["verdict"] == "inconclusive"
    assert "b (MAE 30.50 ± 0.00°) not clearly below the trivial" in robust["more robust (t)"]["why"]


def test_robustness_verdict_needs_most_slices():
    from pyhpe.compare.report import majority

    assert majority(["supported", "inconclusive", "inconclusive", "inconclusive"]) == "inconclusive"
    assert majority(["supported", "supported", "supported", "inconclusive"]) == "supported"
    assert majority(["supported", "supported", "supported", "not supported"]) == "inconclusive"
    assert majority(["not supported", "not supported", "inconclusive"]) == "not supported"


def test_phone_pairs_take_the_fastest_variant():
    rows = [{"model": "sixdrepnet_repnext_m4", "precision": "fp32", "threads": 1, "min_ms": 30.0, "device": "P"},
            {"model": "sixdrepnet_repnext_m4.fused", "precision": "fp32", "threads": 1, "min_ms": 20.0, "device": "P"},
            {"model": "sixdrepnet_repvgg_b1g2", "precision": "fp32", "threads": 1, "min_ms": 50.0, "device": "P"},
            {"model": "sixdrepnet_repvgg_b1g2", "precision": "fp32", "threads": 4, "min_ms": 15.0, "device": "P"}]
    pairs = phone_pairs(rows, "sixdrepnet_repnext_m4", "sixdrepnet_repvgg_b1g2")
    assert pairs == {("P", "fp32", 1): (20.0, 50.0)}


# --- pieces the command uses ----------------------------------------------------------------


def test_time_budget_warms_up_over_a_share_of_the_time():
    from pyhpe.engine.budget import TimeBudget

    now = [0.0]
    tb = TimeBudget(100.0, 0, 0.01, clock=lambda: now[0], warmup_fraction=0.1)
    factors = []
    for t in (0.0, 5.0, 10.0, 55.0, 100.0):
        now[0] = t
        factors.append(tb.lr_factor(10))
    assert factors[0] == pytest.approx(1 / 64) and factors[1] == pytest.approx(0.5)
    assert factors[2] == pytest.approx(1.0)
    assert factors[3] == pytest.approx(0.01 + 0.99 * 0.5)  # half-way through the cosine part
    assert factors[4] == pytest.approx(0.01)


def test_rendered_samples_carry_their_factors():
    from pyhpe.data.synthetic import SynthConfig, SyntheticHeads

    ds = SyntheticHeads(12, seed=3, config=SynthConfig(size=64))
    seen = set()
    for i in range(len(ds)):
        s = ds[i]
        f = s.extra["factors"]
        assert (f["occluders"] > 0) == bool(s.extra["occluder_mask"].any())
        assert 0.0 <= f["occluded_landmarks"] <= 1.0 and f["noise_sigma"] >= 0 and f["blur_sigma"] >= 0
        seen.add((f["occluders"] > 0, f["blur_sigma"] > 0))
    assert len(seen) > 1  # the stream mixes clean and hard images


# --- the command ----------------------------------------------------------------------------


def _compare(tmp_path, *extra, out="cmp"):
    argv = ["compare", "--config", CONFIG, "--out", str(tmp_path / out), "--no-progress", *TINY, *extra]
    return main(argv)


def test_compare_end_to_end_resumes_and_reports_a_failing_model(tmp_path, capsys):
    models = "models=[repnext_m0,nosuchnet]"
    hyp = ["hypothesis.model=repnext_m0", "hypothesis.baseline=nosuchnet"]
    rc = _compare(tmp_path, models, "seeds=[0,1]", *hyp, "--skip-latency")
    out = capsys.readouterr()
    assert rc == 1  # one model failed; the other completed
    assert "nosuchnet (seed 0): build failed: unknown model" in out.out
    assert "Traceback" not in out.out + out.err
    d = tmp_path / "cmp"
    runs = [json.loads((d / "models" / "sixdrepnet_repnext_m0" / f"seed{s}.json").read_text()) for s in (0, 1)]
    assert all(r["train"]["steps"] > 0 for r in runs)
    ev = runs[0]["eval"]["synth-test"]
    assert len(ev["per_image"]["mae"]) == 24
    assert {s["slice"] for s in ev["slices"]} == {"occlusion", "extreme yaw", "degradation", "glasses (identity)"}
    report = (d / "report.md").read_text()
    assert "| repnext_m0 |" in report and "nosuchnet (seed 0): build failed" in report
    assert "*trivial: the training set's mean rotation*" in report
    assert "**inconclusive**" in report  # the baseline never ran
    results = json.loads((d / "results.json").read_text())
    acc = results["aggregate"]["sixdrepnet_repnext_m0"]["test_sets"]["synth-test"]["accuracy"]["mae_mean"]
    maes = [r["eval"]["synth-test"]["report"]["mae_6drepnet"]["mean"] for r in runs]
    assert acc["n"] == 2 and acc["mean"] == pytest.approx(np.mean(maes))
    assert acc["spread"] == pytest.approx(abs(maes[0] - maes[1]))
    for png in ("accuracy_latency.png", "slices.png", "error_vs_yaw.png"):
        assert (d / png).stat().st_size > 1000

    # re-run: nothing is retrained (the stored results are reused), the failure is still reported
    stamps = [(d / "models" / "sixdrepnet_repnext_m0" / f"seed{s}.json").stat().st_mtime_ns for s in (0, 1)]
    rc = _compare(tmp_path, models, "seeds=[0,1]", *hyp, "--skip-latency")
    out = capsys.readouterr().out
    assert rc == 1 and "seed 0: training" not in out and "seed 1: training" not in out
    assert stamps == [(d / "models" / "sixdrepnet_repnext_m0" / f"seed{s}.json").stat().st_mtime_ns
                      for s in (0, 1)]

    # a changed pipeline invalidates the stored runs (a different fingerprint): they train again
    rc = _compare(tmp_path, "models=[repnext_m0]", "seeds=[0]", *hyp, "train.lr=0.001", "--skip-latency")
    assert rc == 0 and "sixdrepnet_repnext_m0 seed 0: training" in capsys.readouterr().out


def test_compare_latency_and_phone_results(tmp_path, capsys):
    phone = tmp_path / "phone.txt"
    phone.write_text(
        "# device: Test Phone\n"
        "RESULT model=sixdrepnet_repnext_m0 precision=fp32 threads=1 input=224 runs=5 clock=wall "
        "min_ms=20.0 median_ms=21.0 p10_ms=20.1 p90_ms=22.0 p99_ms=22.5 mean_ms=21.0\n"
        "RESULT model=sixdrepnet_mobilenetv3_small precision=fp32 threads=1 input=224 runs=5 clock=wall "
        "min_ms=10.0 median_ms=11.0 p10_ms=10.1 p90_ms=12.0 p99_ms=12.5 mean_ms=11.0\n")
    hyp = ["hypothesis.model=repnext_m0", "hypothesis.baseline=mobilenetv3_small"]
    rc = _compare(tmp_path, "models=[repnext_m0,mobilenetv3_small]", "seeds=[0]", *hyp,
                  "latency.threads=[1]", "latency.runs=1", "latency.warmup=0", "--phone-results", str(phone))
    out = capsys.readouterr().out
    assert rc == 0, out
    d = tmp_path / "cmp"
    for model in ("sixdrepnet_repnext_m0", "sixdrepnet_mobilenetv3_small"):
        m = json.loads((d / "models" / model / "measure.json").read_text())
        assert m["input_size"] == 224 and m["params_deploy"] > 0 and m["macs_deploy"] > 0
        assert all(m["latency"]["1"][k]["min_ms"] > 0 for k in ("torch_deploy", "onnxruntime", "ncnn"))
        assert (d / "models" / model / "deploy" / f"{model}.ncnn.param").is_file()  # what a user pushes to a phone
    report = (d / "report.md").read_text()
    assert "## Phone timings" in report and "Test Phone" in report
    assert "as fast or faster (phone: Test Phone, fp32, 1 thread(s)) | **not supported**" in report
    assert "smaller (params, MACs)" in report


def test_compare_bad_input_is_one_line(tmp_path, capsys):
    assert main(["compare", "--config", str(tmp_path / "missing.yaml")]) == 1
    err = capsys.readouterr().err
    assert err.strip().startswith("pyhpe compare: error: config file not found") and "Traceback" not in err
    bad = tmp_path / "phone.txt"
    bad.write_text("nothing here\n")
    assert _compare(tmp_path, "--phone-results", str(bad)) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "phone.txt" in err
    assert main(["compare", "--config", CONFIG, "seeds=[x]"]) == 1
    assert "seeds" in capsys.readouterr().err
