"""pyhpe.models.load: one loader for every kind of weights, each giving (model, card); clear
errors for a missing name, an unknown name and a wrong architecture."""

from __future__ import annotations

import pytest
import torch
from support import repnext_m0_eval

from pyhpe.models import create_model, load, reparameterize
from pyhpe.models.card import CropRule
from pyhpe.models.io import save_model

pytestmark = pytest.mark.usefixtures("one_thread")


def _same(a, b, size=64):
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        torch.testing.assert_close(a(x).R, b(x).R, atol=1e-5, rtol=0)


def test_pyhpe_model_file(tmp_path):
    model = repnext_m0_eval()
    path = save_model(model, tmp_path / "m.safetensors", name="sixdrepnet_repnext_m0", input_size=64)
    loaded, card = load(path)
    assert (card.model, card.task, card.form, card.input_size) == ("sixdrepnet_repnext_m0", "sixd_rotation", "train", 64)
    _same(model, loaded)
    reparameterize(model)
    deploy, card = load(save_model(model, tmp_path / "d.safetensors", name="sixdrepnet_repnext_m0", input_size=64))
    assert card.form == "deploy"
    _same(model, deploy)
    with pytest.raises(ValueError, match="holds sixdrepnet_repnext_m0, not sixdrepnet_repvgg_a0"):
        load(path, "sixdrepnet_repvgg_a0")


def test_official_release_and_state_dicts(tmp_path):
    torch.manual_seed(0)
    model = reparameterize(create_model("sixdrepnet_repvgg_a0").eval())
    torch.save({k.replace("backbone.stage", "layer"): v for k, v in model.state_dict().items()}, tmp_path / "r.pth")
    loaded, card = load(tmp_path / "r.pth", "sixdrepnet_repvgg_a0", input_size=64)
    assert card.form == "deploy" and card.crop == CropRule(margin=0.2, resize=256) and card.input_size == 64
    _same(model, loaded)
    with pytest.raises(ValueError, match="name its architecture"):
        load(tmp_path / "r.pth")
    with pytest.raises(ValueError, match="unknown model"):
        load(tmp_path / "r.pth", "sixdrepnet_no_such_backbone")
    with pytest.raises(ValueError, match="does not match"):
        load(tmp_path / "r.pth", "sixdrepnet_repnext_m0")
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        load(tmp_path / "missing.pth", "sixdrepnet_repvgg_a0")


def test_training_checkpoint_takes_its_card_from_the_run(tmp_path):
    from pyhpe.engine.config import validate
    from pyhpe.engine.trainer import train

    cfg = validate({"model": {"name": "sixdrepnet_repnext_m0"},
                    "data": {"train": {"format": "synthetic", "n": 4, "render_size": 64}, "input_size": 32,
                             "test_resize": 240, "test_margin": 0.25, "workers": 0},
                    "train": {"epochs": 1, "batch_size": 2, "device": "cpu", "eval_every": 0},
                    "output": {"dir": str(tmp_path), "progress": False}})
    run = train(cfg)["run_dir"]
    model, card = load(f"{run}/checkpoints/last.safetensors")
    assert card.input_size == 32 and card.crop == CropRule(margin=0.25, resize=240)
    final, final_card = load(f"{run}/model.safetensors")
    assert final_card.crop == card.crop
    _same(model, final, 32)
