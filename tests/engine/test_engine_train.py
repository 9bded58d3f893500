"""Training engine end to end on tiny synthetic data: run directory, model file, exact resume."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from pyhpe.engine.config import ConfigError, load_config
from pyhpe.engine.trainer import lr_factor, step_lr_factor, train

TINY = [
    "model.name=sixdrepnet_repnext_m0",
    "data.train.n=8", "data.train.render_size=64",
    "data.val=[{name: val, format: synthetic, n: 4, seed: 5, render_size: 64}]",
    "data.input_size=64", "data.workers=0",
    "train.batch_size=4", "train.lr=1e-3", "train.warmup_epochs=0.5", "train.threads=1",
    "output.progress=false",
]


pytestmark = pytest.mark.usefixtures("one_thread")


def _cfg(tmp_path, *extra):
    return load_config("configs/synthetic.yaml", [*TINY, f"output.dir={tmp_path}", *extra])


def test_train_writes_run_directory_and_model(tmp_path):
    from pyhpe.models.io import load_model

    summary = train(_cfg(tmp_path, "train.epochs=2", "name=e2e"))
    run = tmp_path / summary["run_dir"].split("/")[-1]
    for f in ("config.yaml", "log.csv", "steps.csv", "metrics.json", "curves.png",
              "checkpoints/last.safetensors", "model.safetensors", "model.json"):
        assert (run / f).is_file(), f
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["epochs_done"] == 2 and metrics["steps"] == 4
    final = metrics["final"]
    assert 0 <= final["val/mae"] <= 90 and 0 <= final["val/geodesic"] <= 180
    model, card = load_model(run / "model.safetensors")
    assert card.model == "sixdrepnet_repnext_m0" and card.input_size == 64
    R = model(torch.randn(2, 3, 64, 64)).R
    assert torch.allclose(R @ R.transpose(1, 2), torch.eye(3).expand(2, 3, 3), atol=1e-5)


def test_resume_is_exact(tmp_path):
    extra = ("train.epochs=2", "train.ema=0.9", "augment.jitter=0.2", "augment.noise=2.0")
    straight = train(_cfg(tmp_path / "a", *extra))
    first = train(_cfg(tmp_path / "b", *extra), stop_after=1)
    assert first["epochs_done"] == 1
    resumed = train(_cfg(tmp_path / "b", *extra), resume=first["run_dir"])
    assert resumed["run_dir"] == first["run_dir"] and resumed["steps"] == straight["steps"]
    a = load_file(f"{straight['run_dir']}/checkpoints/last.safetensors")
    b = load_file(f"{resumed['run_dir']}/checkpoints/last.safetensors")
    assert a.keys() == b.keys()
    for k in a:
        if not k.startswith("rng."):
            assert torch.allclose(a[k].double(), b[k].double(), atol=1e-6, rtol=0), k
    assert any(k.startswith("ema.") for k in a) and any(k.startswith("optim.") for k in a)


def test_lr_schedule_warmup_then_cosine():
    assert lr_factor(0, 100, 10, 0.0) == pytest.approx(0.1)
    assert lr_factor(9, 100, 10, 0.0) == pytest.approx(1.0)
    assert lr_factor(10, 100, 10, 0.0) == pytest.approx(1.0)
    assert lr_factor(55, 100, 10, 0.0) == pytest.approx(0.5)
    assert lr_factor(100, 100, 10, 0.1) == pytest.approx(0.1)


def test_step_schedule_matches_torch_multisteplr():
    """TRGv2's schedule (Adam 1e-4, ×0.1 after epoch 20): our factor against torch's MultiStepLR."""
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1.0)
    ref = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[20, 35], gamma=0.1)
    for step in range(50):
        assert step_lr_factor(step, 0, [20, 35], 0.1) == pytest.approx(opt.param_groups[0]["lr"])
        opt.step()
        ref.step()
    assert step_lr_factor(0, 4, [20], 0.1) == pytest.approx(0.25)  # warm-up first


@pytest.mark.parametrize("override, message", [
    ("train.schedule=linear", "cosine or step"),
    ("train.lr_steps=[20, 10]", "increasing list"),
    ("train.lr_steps=[0]", "increasing list"),
    ("train.lr_gamma=0", "lr_gamma"),
])
def test_step_schedule_config_is_validated(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])


def test_finetune_from_model_file_and_time_limit(tmp_path):
    """model.pretrained accepts a pyhpe model file; the time limit stops the run but still writes
    the model file."""
    from pyhpe.models import create_model
    from pyhpe.models.io import save_model

    torch.manual_seed(123)
    src = create_model("sixdrepnet_repnext_m0")
    path = save_model(src, tmp_path / "start.safetensors", name="sixdrepnet_repnext_m0", input_size=64)
    cfg = _cfg(tmp_path / "runs", "train.epochs=3", f"model.pretrained={path}",
               "train.time_limit_s=1e-6", "train.lr=1e-9", "train.min_lr=0", "train.warmup_epochs=0", "data.val=[]",
               "train.freeze_bn=true")
    summary = train(cfg)
    assert summary["stopped_early"] and summary["steps"] == 1 and summary["epochs_done"] == 1
    out = load_file(f"{summary['run_dir']}/model.safetensors")
    ref = src.state_dict()
    # lr 1e-9 and frozen BN: one step leaves the fine-tuning start (not the seed-0 init) in place
    for k, v in out.items():
        assert torch.allclose(v.double(), ref[k].double(), atol=1e-6), k


@pytest.mark.parametrize("name", ["sixdrepnet_repvgg_a0", "sixdrepnet_repnext_m0"])
def test_bf16_autocast_step_on_cpu(tmp_path, name):
    summary = train(_cfg(tmp_path, f"model.name={name}", "train.amp=bf16", "train.epochs=1",
                         "train.max_steps_per_epoch=1", "data.val=[]"))
    assert summary["steps"] == 1
    steps = (tmp_path / summary["run_dir"].split("/")[-1] / "steps.csv").read_text().splitlines()
    assert len(steps) == 2 and "nan" not in steps[1]


def test_channels_last_training_matches_nchw(tmp_path):
    """train.channels_last changes the memory layout only: the first step's loss (same seed, same
    batch, same initial weights) equals the NCHW run's, and the saved model loads as usual."""
    from pyhpe.models.io import load_model

    losses = {}
    for layout in ("false", "true"):
        summary = train(_cfg(tmp_path / layout, f"train.channels_last={layout}", "train.epochs=1", "data.val=[]"))
        run = tmp_path / layout / summary["run_dir"].split("/")[-1]
        rows = (run / "steps.csv").read_text().splitlines()[1:]
        losses[layout] = [float(r.split(",")[2]) for r in rows]
        model, _ = load_model(run / "model.safetensors")
        assert torch.isfinite(model(torch.randn(1, 3, 64, 64)).R).all()
    assert len(losses["true"]) == len(losses["false"]) == 2
    assert abs(losses["true"][0] - losses["false"][0]) < 1e-5
    assert abs(losses["true"][1] - losses["false"][1]) < 1e-2


def test_channels_last_must_be_a_bool(tmp_path):
    from pyhpe.engine.config import ConfigError

    with pytest.raises(ConfigError, match="channels_last"):
        _cfg(tmp_path, "train.channels_last=3")


def test_a_non_finite_loss_stops_before_any_checkpoint(tmp_path, monkeypatch):
    from pyhpe.engine.config import ConfigError
    from pyhpe.tasks.sixd_rotation import SixDRotationTask

    real = SixDRotationTask.loss
    monkeypatch.setattr(SixDRotationTask, "loss", lambda self, out, batch: real(self, out, batch) * float("nan"))
    with pytest.raises(ConfigError, match="training loss is nan at step 1"):
        train(_cfg(tmp_path, "train.epochs=1", "name=nan"))
    assert not list(tmp_path.rglob("*.safetensors"))
