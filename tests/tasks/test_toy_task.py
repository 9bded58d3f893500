"""The pose-task seam: a toy task (rotation + a scalar, the yaw / 90°) registered here trains,
resumes, evaluates, exports and predicts through the engine, the export and the runtime with no
edit to them. The references are independent: the run's own model called directly, and
numpy/torch arithmetic on its outputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from pyhpe.cli import main
from pyhpe.engine.config import validate
from pyhpe.engine.trainer import train
from pyhpe.models import load, registry
from pyhpe.models.outputs import PoseOutput
from pyhpe.tasks import register_task
from pyhpe.tasks.sixd_rotation import SixDRotationTask, sixd_to_rotation

pytestmark = pytest.mark.usefixtures("one_thread")
SIZE = 32


class ToyNet(nn.Module):
    """A conv, a pool, and two heads: the 6D rotation vector and one scalar."""

    pose_task = "toy_rotation_yaw"

    def __init__(self, width: int = 8):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, width, 5, stride=4), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                                      nn.Flatten())
        self.rot = nn.Linear(width, 6)
        self.yaw = nn.Linear(width, 1)

    def forward(self, x):
        f = self.features(x)
        sixd = self.rot(f)
        return PoseOutput(R=sixd_to_rotation(sixd), sixd=sixd, extra={"yaw": self.yaw(f)})


class _Both(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        out = self.model(x)
        return out.sixd, out["yaw"]


@register_task
class ToyRotationYaw(SixDRotationTask):
    """Rotation as 6DRepNet plus the yaw angle / 90° regressed directly (L1)."""

    name = "toy_rotation_yaw"
    loss_label = "train_loss"
    deploy_kinds = {"both": (("sixd", (6,)), ("yaw", (1,)))}
    default_deploy = "both"

    def loss(self, out, batch):
        yaw = batch["euler"][:, 1:2].float() / 90.0
        return super().loss(out, batch) + (out["yaw"].float() - yaw).abs().mean()

    def loss_value(self, loss):
        return loss

    def loss_text(self, loss):
        return f"{loss:.3f}"

    def gather(self, out, batch):
        g = super().gather(out, batch)
        g["yaw_pred"] = out["yaw"].float().cpu()[:, 0] * 90.0
        return g

    def predictions(self, gathered):
        rot = super().predictions(gathered)
        rot.yaw_pred = gathered["yaw_pred"]
        base = rot.report

        def report():
            r = base()
            r["yaw_head_mae"] = float((rot.yaw_pred.double() - rot.euler_gt[:, 1]).abs().mean())
            return r

        rot.report = report
        return rot

    def flat_report(self, report, prefix):
        return {**super().flat_report(report, prefix), f"{prefix}/yaw_head": report["yaw_head_mae"]}

    def model_outputs(self):
        return (("R", (3, 3)), ("sixd", (6,)), ("yaw", (1,)))

    def deploy_module(self, model, kind):
        self.deploy_outputs(kind)
        return _Both(model).eval()

    def decode(self, raw):
        out = super().decode({"sixd": raw["sixd"]})
        out["yaw_head_deg"] = np.asarray(raw["yaw"], dtype=np.float32).reshape(-1) * 90.0
        return out

    def result_shapes(self):
        return (*super().result_shapes(), ("yaw_head_deg", ()))


def _register_model() -> None:
    if "toy_rotation_yaw_net" in registry._REGISTRY:
        return

    def toy_rotation_yaw_net(**kwargs):
        return ToyNet(**kwargs)

    toy_rotation_yaw_net.pose_task = ToyNet.pose_task
    registry.register_model("toy_rotation_yaw_net")(toy_rotation_yaw_net)


def _cfg(out_dir, epochs=2):
    return validate({
        "name": "toy", "model": {"name": "toy_rotation_yaw_net", "kwargs": {"width": 8}},
        "data": {"train": {"format": "synthetic", "n": 16, "seed": 0, "render_size": 64},
                 "val": [{"name": "val", "format": "synthetic", "n": 8, "seed": 1000, "render_size": 64}],
                 "input_size": SIZE, "test_resize": 224, "test_margin": 0.2, "workers": 0},
        "train": {"epochs": epochs, "batch_size": 4, "lr": 1e-3, "device": "cpu", "eval_every": 1, "seed": 0},
        "output": {"dir": str(out_dir), "progress": False},
    })


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    _register_model()
    out = tmp_path_factory.mktemp("toy")
    return train(_cfg(out)), out


def test_toy_task_trains_and_reports_its_metric(toy_run):
    summary, _ = toy_run
    final = summary["final"]
    assert summary["steps"] == 8 and np.isfinite(final["train_loss"])
    assert 0 <= final["val/yaw_head"] < 180 and 0 <= final["val/geodesic"] <= 180
    model, card = load(f"{summary['run_dir']}/model.safetensors")
    assert isinstance(model, ToyNet) and card.task == "toy_rotation_yaw" and card.kwargs == {"width": 8}
    assert card.crop.resize == 224 and card.input_size == SIZE
    assert ("yaw", (1,)) in card.outputs


def test_toy_task_resumes_exactly(toy_run, tmp_path):
    summary, _ = toy_run
    first = train(_cfg(tmp_path), stop_after=1)
    resumed = train(_cfg(tmp_path), resume=first["run_dir"])
    assert resumed["steps"] == summary["steps"]
    assert resumed["final"]["train_loss"] == pytest.approx(summary["final"]["train_loss"], abs=1e-6)
    assert resumed["final"]["val/yaw_head"] == pytest.approx(summary["final"]["val/yaw_head"], abs=1e-4)


def test_toy_task_evaluates_through_pyhpe_eval(toy_run, tmp_path):
    summary, _ = toy_run
    ckpt = f"{summary['run_dir']}/model.safetensors"
    assert main(["eval", "--checkpoint", ckpt, "--data", "synthetic", "--n", "8", "--seed", "1000",
                 "--render-size", "64", "--out", str(tmp_path), "--no-progress"]) == 0
    (res_dir,) = tmp_path.iterdir()
    res = json.loads((res_dir / "results.json").read_text())
    assert res["task"] == "toy_rotation_yaw" and res["n"] == 8
    # the same stream the trainer validated on, with the card's crop: the same metric
    assert res["yaw_head_mae"] == pytest.approx(summary["final"]["val/yaw_head"], abs=1e-4)


def test_toy_task_exports_and_predicts(toy_run, tmp_path):
    pytest.importorskip("onnxruntime")
    from pyhpe.runtime import Predictor

    summary, _ = toy_run
    ckpt = f"{summary['run_dir']}/model.safetensors"
    onnx_path = tmp_path / "toy.onnx"
    assert main(["export", "--checkpoint", ckpt, "--format", "onnx", "-o", str(onnx_path)]) == 0
    meta = json.loads((tmp_path / "toy.onnx.json").read_text())
    assert meta["kind"] == "both" and [o["name"] for o in meta["outputs"]] == ["sixd", "yaw"]
    rng = np.random.default_rng(0)
    crops = [rng.integers(0, 256, (50, 40, 3), dtype=np.uint8) for _ in range(3)]
    got = Predictor(onnx_path, backend="onnxruntime").predict(crops)
    ref = Predictor(ckpt, backend="torch").predict(crops)
    model, _ = load(ckpt)
    x = Predictor(ckpt).preprocess(crops)
    with torch.no_grad():
        direct = model(torch.from_numpy(x))
    np.testing.assert_allclose(ref["yaw_head_deg"], direct["yaw"][:, 0].numpy() * 90.0, atol=1e-4)
    np.testing.assert_allclose(got["yaw_head_deg"], ref["yaw_head_deg"], atol=1e-3)
    np.testing.assert_allclose(got["R"], direct.R.numpy(), atol=1e-4)
