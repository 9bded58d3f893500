"""pyhpe model files (safetensors + JSON sidecar) round-trip in training and deploy form."""

from __future__ import annotations

import json

import pytest
import torch
from support import repnext_m0_eval

from pyhpe.models import create_model, reparameterize
from pyhpe.models.io import load_model, save_model


def _model():
    m = repnext_m0_eval()
    return m


@pytest.mark.parametrize("deploy", [False, True])
def test_round_trip(tmp_path, deploy):
    model = _model()
    if deploy:
        reparameterize(model)
    path = save_model(model, tmp_path / "m.safetensors", name="sixdrepnet_repnext_m0",
                      input_size=64)
    loaded, card = load_model(path)
    assert card.model == "sixdrepnet_repnext_m0" and card.input_size == 64
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(model(x).R, loaded(x).R, atol=1e-6)
    n_params = sum(p.numel() for p in loaded.parameters())
    assert n_params == sum(p.numel() for p in model.parameters())


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="model file not found"):
        load_model(tmp_path / "missing.safetensors")
    path = save_model(_model(), tmp_path / "m.safetensors", name="sixdrepnet_repnext_m0")
    path.with_suffix(".json").unlink()
    with pytest.raises(FileNotFoundError, match="sidecar"):
        load_model(path)
    path.with_suffix(".json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(ValueError, match="not a pyhpe model sidecar"):
        load_model(path)
    path.with_suffix(".json").write_text(json.dumps({"format": "pyhpe-model", "model": "sixdrepnet_repnext_m0"}))
    path.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="safetensors"):
        load_model(path)
    with pytest.raises(ValueError, match=".safetensors"):
        save_model(_model(), tmp_path / "m.pt", name="x")


def test_plain_safetensors_state_dict_loads_as_pretrained(tmp_path):
    from safetensors.torch import save_file


    model = _model()
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp_path / "w.safetensors"))
    loaded = create_model("sixdrepnet_repnext_m0", pretrained=tmp_path / "w.safetensors").eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(model(x).R, loaded(x).R, atol=1e-6)
