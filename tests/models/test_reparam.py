"""Reparameterization: ConvBN folding against the closed form, and for every registered pose
model: eval outputs before and after agree (non-trivial BN statistics), idempotence."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from support import randomize_bn

from pyhpe.models import create_model, list_models, reparameterize
from pyhpe.models.layers import ConvBN, fuse_conv_bn, identity_kernel, pad_kernel

pytestmark = [
    pytest.mark.filterwarnings("ignore::RuntimeWarning"),  # pure-torch ops fallback
    pytest.mark.usefixtures("one_thread"),
]


def test_fuse_conv_bn_closed_form():
    bn = randomize_bn(nn.BatchNorm2d(3), seed=1)
    w, b = torch.randn(3, 2, 3, 3), torch.randn(3)
    fw, fb = fuse_conv_bn(w, b, bn)
    s = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    torch.testing.assert_close(fw, w * s[:, None, None, None])
    torch.testing.assert_close(fb, (b - bn.running_mean) * s + bn.bias)
    with pytest.raises(ValueError, match="output channels"):
        fuse_conv_bn(torch.randn(4, 2, 1, 1), None, bn)


def test_convbn_fuses_in_place_with_official_key_names():
    m = randomize_bn(ConvBN(4, 6, 3, stride=2, groups=2, norm_name="bn"), seed=2).eval()
    assert set(m.state_dict()) >= {"conv.weight", "bn.running_var"}
    x = torch.randn(2, 4, 9, 9)
    with torch.no_grad():
        y = m(x)
        m.reparameterize()
        m.reparameterize()
        torch.testing.assert_close(m(x), y, atol=1e-5, rtol=1e-5)
    assert set(m.state_dict()) == {"weight", "bias"} and m.out_channels == 6


def test_kernel_helpers():
    x = torch.randn(1, 4, 7, 7)
    torch.testing.assert_close(F.conv2d(x, identity_kernel(4, 2, 3), padding=1, groups=2), x)
    k = torch.randn(2, 1, 1, 3)
    padded = pad_kernel(k, (3, 5))
    assert padded.shape == (2, 1, 3, 5) and torch.equal(padded[:, :, 1, 1:4], k[:, :, 0])
    with pytest.raises(ValueError, match="centre"):
        pad_kernel(k, (2, 3))


def test_reparameterize_rejects_non_modules():
    with pytest.raises(TypeError, match="nn.Module"):
        reparameterize(object())


def _input_side(model: nn.Module) -> int:
    return model.input_size if getattr(model, "fixed_input_size", False) else 64


@pytest.mark.parametrize("name", list_models("sixdrepnet_*"))
def test_eval_outputs_agree_after_reparameterize(name):
    """Rotation outputs within 1e-4; backbone features within 1e-4 of their scale."""
    torch.manual_seed(0)
    model = randomize_bn(create_model(name), seed=3).eval()
    side = _input_side(model)
    x = torch.randn(2, 3, side, side)
    with torch.no_grad():
        features = model.backbone.forward_features(x)
        rotation = model(x).R
        reparameterize(model)
        state = {k: v.clone() for k, v in model.state_dict().items()}
        fused_features = model.backbone.forward_features(x)
        scale = max(1.0, features.abs().max().item())
        assert (fused_features - features).abs().max().item() <= 1e-4 * scale
        torch.testing.assert_close(model(x).R, rotation, atol=1e-4, rtol=0)
        reparameterize(model)  # idempotent: nothing changes the second time
    again = model.state_dict()
    assert state.keys() == again.keys() and all(torch.equal(state[k], again[k]) for k in state)
