"""The stages of one comparison: train each (model, seed) under the shared pipeline, evaluate it
per image on the test sets, measure each model's size and latency.

Every stage writes its result as JSON in the model's folder with a fingerprint of what it depends
on; a re-run reuses a result whose fingerprint matches (a finished model is not retrained) and
redoes the rest. A stage that fails is recorded (``failed-<stage>[-seed<k>].json``: the error in
one line) and the comparison goes on with the other models.
"""

from __future__ import annotations

import json
import os
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from pyhpe.compare.config import fingerprint, training_config


@dataclass
class TestSet:
    """One test set held in memory: its samples (crop-ready) and per-image factors (or None)."""

    name: str
    src: dict
    samples: object  # a Dataset of Samples
    factors: list[dict | None] = field(default_factory=list)


@dataclass
class Failure:
    model: str
    stage: str
    seed: int | None
    error: str

    def line(self) -> str:
        seed = "" if self.seed is None else f" (seed {self.seed})"
        return f"{self.model}{seed}: {self.stage} failed: {self.error}"


def write_json(path: Path, data: dict) -> None:
    """Write ``data`` atomically (a killed run leaves the old file or none, never half of one)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=float))
    tmp.replace(path)


def read_result(path: Path, key: str) -> dict | None:
    """The stored result at ``path`` when its fingerprint is ``key``; None otherwise."""
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return data if data.get("fingerprint") == key else None


def error_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}".rstrip(": ")


def record_failure(folder: Path, failure: Failure, err: BaseException) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    suffix = "" if failure.seed is None else f"-seed{failure.seed}"
    write_json(folder / f"failed-{failure.stage}{suffix}.json",
               {"model": failure.model, "stage": failure.stage, "seed": failure.seed, "error": failure.error,
                "traceback": traceback.format_exception(err)})


def clear_failure(folder: Path, stage: str, seed: int | None) -> None:
    suffix = "" if seed is None else f"-seed{seed}"
    (folder / f"failed-{stage}{suffix}.json").unlink(missing_ok=True)


# --- data --------------------------------------------------------------------------------------


def load_test_sets(cfg: dict, progress: bool) -> list[TestSet]:
    """Every ``data.val`` source, in memory; rendered images keep their factors."""
    from pyhpe.engine.data import open_samples

    sets = []
    for src in cfg["pipeline"]["data"]["val"]:
        ds = open_samples(src, progress=progress)
        samples = getattr(ds, "samples", None)
        factors = [s.extra.get("factors") for s in samples] if samples is not None else [None] * len(ds)
        sets.append(TestSet(src.get("name") or src["format"], src, ds, factors))
    return sets


def load_train_samples(cfg: dict, progress: bool):
    """The training set, opened (rendered) once and shared by every model and seed."""
    from pyhpe.engine.data import open_samples

    return open_samples(cfg["pipeline"]["data"]["train"], progress=progress)


def trivial_key(cfg: dict) -> str:
    return fingerprint("trivial", cfg["pipeline"]["data"]["train"], cfg["pipeline"]["data"]["val"])


def trivial_reports(train_samples, test_sets: list[TestSet]) -> dict | None:
    """Per test set, the report of the trivial predictor (always the training set's mean rotation,
    as `pyhpe demo` shows it): the level a model that learned nothing reaches. Only for sets held
    in memory (rendered); a real training set would have to be read once more."""
    import torch

    from pyhpe.metrics import mean_rotation, pose_report

    train = getattr(train_samples, "samples", None)
    if train is None:
        return None
    mean_R = mean_rotation(torch.stack([torch.as_tensor(s.R, dtype=torch.float32) for s in train]))
    out = {}
    for ts in test_sets:
        test = getattr(ts.samples, "samples", None)
        if test is None:
            continue
        R_gt = torch.stack([torch.as_tensor(s.R, dtype=torch.float32) for s in test])
        euler = torch.stack([torch.as_tensor(s.euler, dtype=torch.float64) for s in test])
        out[ts.name] = pose_report(mean_R.expand(len(test), 3, 3), R_gt, euler)
    return out


# --- stages ------------------------------------------------------------------------------------


def train_key(cfg: dict, model: str, seed: int) -> str:
    return fingerprint("train", cfg["pipeline"]["data"]["train"], cfg["pipeline"]["augment"],
                       cfg["pipeline"]["train"], cfg["pipeline"]["data"]["input_size"],
                       cfg["pipeline"]["data"].get("test_resize"), cfg["budget"], model, seed)


def train_one(cfg: dict, model: str, seed: int, folder: Path, train_samples) -> dict:
    """Train ``model`` with ``seed`` under the budget; returns the trainer's summary (run_dir, steps,
    time)."""
    from pyhpe.engine.budget import BudgetHook, TimeBudget
    from pyhpe.engine.trainer import train

    run_cfg = training_config(cfg, cfg["pipeline"], model, seed, folder / f"seed{seed}")
    callbacks = []
    if cfg["budget"]["kind"] == "time":
        t = run_cfg["train"]
        clock = TimeBudget(cfg["budget"]["minutes"] * 60, 0, t["min_lr"] / t["lr"],
                           warmup_fraction=float(cfg["budget"].get("warmup_fraction", 0.05)))
        callbacks.append(BudgetHook(clock))
    summary = train(run_cfg, samples={"train": train_samples, "val": {}}, callbacks=callbacks)
    return {k: summary[k] for k in ("run_dir", "epochs_done", "steps", "train_time_s")}


def evaluate_one(run_dir: Path, test_sets: list[TestSet]) -> dict:
    """Per test set: the standard report and, per image, yaw, MAE (6DRepNet formula) and geodesic
    error, plus the robustness slices and the error-vs-yaw curve."""
    from pyhpe.compare.slices import slice_errors, slices_for, yaw_curve
    from pyhpe.engine.data import Transformed
    from pyhpe.engine.inference import predict_dataset
    from pyhpe.models import load
    from pyhpe.tasks import task_of
    from pyhpe.tasks.sixd_rotation import per_sample_errors

    model, card = load(run_dir / "model.safetensors")
    task = task_of(model)
    out = {}
    for ts in test_sets:
        ds = Transformed(ts.samples, task.test_transform(card.crop, card.input_size, ts.src), task.batch_keys)
        preds = predict_dataset(model, ds, "cpu", batch_size=64)
        errors = per_sample_errors(preds)
        mae, geo = errors["MAE (6DRepNet)"], errors["geodesic"]
        yaw = preds.euler_gt[:, 1].numpy()
        out[ts.name] = {
            "report": preds.report(),
            "slices": [slice_errors(s, mae, geo) for s in slices_for(ts.factors, yaw)],
            "yaw_curve": yaw_curve(yaw, geo),
            "per_image": {"yaw": yaw.round(3).tolist(), "mae": mae.round(4).tolist(),
                          "geodesic": geo.round(4).tolist()},
        }
    return out


def measure_key(cfg: dict, model: str) -> str:
    return fingerprint("measure", cfg["latency"], model)


def measure_one(cfg: dict, model: str, folder: Path) -> dict:
    """Params, MACs and batch-1 latency of the deploy form (PyTorch, onnxruntime, ncnn; each thread
    count; runtimes interleaved), at the model's deploy input size; the exports stay in
    ``folder/deploy`` (what a user pushes to a phone)."""
    from pyhpe.bench.deploy import bench_model
    from pyhpe.bench.report import machine

    lat = cfg["latency"]
    workdir = folder / "deploy"
    workdir.mkdir(parents=True, exist_ok=True)
    env = machine()
    row = bench_model(model, lat["threads"], lat["runs"], lat["warmup"], workdir)
    env["load_after"] = os.getloadavg()[0]
    row["env"] = env
    return row


def fused_pair(cfg: dict, out: Path) -> dict | None:
    """The hypothesis pair through the C++ runtime with the fused RepNeXt layers (``pyhpe bench
    fused``'s measurement: one interleaved run, CPU time at 1 thread), when the pair is RepNeXt-M4
    vs RepVGG-B1g2 and ``latency.pyhpe_bench`` exists; else None."""
    from pyhpe.bench import fused

    hyp, lat = cfg["hypothesis"], cfg["latency"]
    bench = Path(lat["pyhpe_bench"])
    if (hyp["model"], hyp["baseline"]) != (fused.M4, fused.B1G2) or not bench.is_file():
        return None
    workdir = out / "fused"
    workdir.mkdir(parents=True, exist_ok=True)
    paths = fused.export_models(workdir, reuse=True)
    from pyhpe.bench.report import machine

    env = machine()
    latency, _ = fused.measure(bench, paths, lat["threads"], lat["fused_passes"], 3)
    env["load_after"] = os.getloadavg()[0]
    return {"latency": latency, "env": env, "pyhpe_bench": str(bench)}


def seconds_estimate(cfg: dict) -> float | None:
    """Expected wall time of the training stages (time budgets only)."""
    if cfg["budget"]["kind"] != "time":
        return None
    return len(cfg["models"]) * len(cfg["seeds"]) * (cfg["budget"]["minutes"] * 60 + 15)
