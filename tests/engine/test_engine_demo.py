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


# ---- the demo's clock-driven schedule and thread governor (pyhpe.engine.budget), fast ----

class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_time_budget_warmup_then_cosine_over_the_clock():
    from pyhpe.engine.budget import TimeBudget

    clock = FakeClock()
    b = TimeBudget(100.0, warmup_steps=10, min_ratio=0.01, clock=clock)
    assert b.lr_factor(0) == pytest.approx(0.1)  # warm-up counts steps
    assert b.lr_factor(9) == pytest.approx(1.0)
    assert b.lr_factor(10) == pytest.approx(1.0)
    clock.t = 50.0
    assert b.lr_factor(500) == pytest.approx(0.505)  # half the budget: half-way down the cosine
    assert not b.done()
    clock.t = 100.0
    assert b.lr_factor(900) == pytest.approx(0.01) and b.done()
    clock.t = 250.0
    assert b.lr_factor(901) == pytest.approx(0.01)  # stays at the floor


def test_thread_governor_drops_to_one_thread_and_probes_back():
    from pyhpe.engine.budget import ThreadGovernor

    calls = []
    g = ThreadGovernor(2, 2, {1: 0.2, 2: 0.14}, window=5, probe_every=10, probe_steps=4,
                       set_threads=calls.append)
    for _ in range(5):
        g.observe(0.14)  # 2 threads, as calibrated
    assert g.threads == 2 and not calls
    for _ in range(5):
        g.observe(1.0)  # another job took a core: 2 threads collapse
    assert g.threads == 1 and calls == [1]
    for _ in range(10):
        g.observe(0.25)  # 1 thread under load; then a probe with 2 threads starts
    assert calls[-1] == 2
    g.observe(1.0)  # still loaded: the probe stops at once
    assert g.threads == 1 and calls[-1] == 1
    for _ in range(10):
        g.observe(0.25)
    for _ in range(4):
        g.observe(0.14)  # the load went away: the probe keeps 2 threads
    assert g.threads == 2 and calls[-1] == 2
    assert [e["threads"] for e in g.summary()["events"]] == [1, 2]
    assert sum(g.summary()["steps_with"].values()) == 35


def test_budget_hook_stops_the_trainer(tmp_path):
    from pyhpe.engine.budget import BudgetHook, TimeBudget
    from pyhpe.engine.config import validate
    from pyhpe.engine.trainer import train

    clock = FakeClock()
    budget = TimeBudget(10.0, warmup_steps=1, min_ratio=0.01, clock=clock)

    class FourSecondSteps(BudgetHook):
        def on_step_end(self, step: int) -> bool:
            clock.t += 4.0  # every step "takes" 4 s: the budget ends after 3 steps
            return super().on_step_end(step)

    cfg = validate({"model": {"name": "sixdrepnet_repnext_m0"},
                    "data": {"train": {"format": "synthetic", "n": 8, "render_size": 64},
                             "input_size": 32, "workers": 0},
                    "train": {"epochs": 5, "batch_size": 2, "device": "cpu", "eval_every": 0},
                    "output": {"dir": str(tmp_path), "progress": False}})
    summary = train(cfg, callbacks=[FourSecondSteps(budget, clock=clock)])
    assert summary["steps"] == 3 and summary["stopped_early"]
