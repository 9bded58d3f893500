"""The 6DRepNet head on every registered backbone: shapes, a rotation out, the 6D → matrix
mapping in closed form, train steps that reach every parameter, registry behaviour."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pyhpe.models import create_model, list_models
from pyhpe.models.sixdrepnet import SixDRepNet, backbone_names

pytestmark = [
    pytest.mark.filterwarnings("ignore::RuntimeWarning"),  # pure-torch ops fallback
    pytest.mark.usefixtures("one_thread"),
]




def _side(model: nn.Module) -> int:
    return model.input_size if model.fixed_input_size else 64


def test_every_backbone_has_a_pose_model():
    names = set(list_models())
    bare = backbone_names()
    assert {"repnext_m4", "repvgg_b1g2"} <= set(bare)
    assert {f"sixdrepnet_{b}" for b in bare} <= names
    assert not any(n.startswith("sixdrepnet_sixdrepnet") for n in names)


@pytest.mark.parametrize("name", list_models("sixdrepnet_*"))
def test_forward_backward_reaches_every_parameter(name):
    """A training step at batch 2. Parameters are nudged first so that zero-initialised scales
    (e.g. RepViT's last FFN BN γ = 0, which blocks gradients at step 0 by design) do not hide a
    disconnected parameter."""
    torch.manual_seed(0)
    model = create_model(name).train()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1e-2 * torch.randn_like(p))
    side = _side(model)
    x = torch.randn(2, 3, side, side)
    out = model(x)
    six = out.sixd
    assert six.shape == (2, 6)
    R = out.R
    assert R.shape == (2, 3, 3)
    eye = torch.eye(3).expand(2, 3, 3)
    torch.testing.assert_close(R @ R.transpose(1, 2), eye, atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.linalg.det(R), torch.ones(2), atol=1e-5, rtol=0)
    (R * torch.randn_like(R)).sum().backward()
    silent = [
        n
        for n, p in model.named_parameters()
        if p.requires_grad and (p.grad is None or not p.grad.abs().sum() > 0)
    ]
    assert not silent, f"no gradient reached: {silent[:5]}"


def test_matrix_is_gram_schmidt_of_the_6d_output():
    """Columns x = a1/|a1|, z = x×a2/|x×a2|, y = z×x (6DRepNet's construction)."""
    model = create_model("sixdrepnet_repnext_m0").eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        six, R = model(x).sixd.double(), model(x).R.double()
    a1, a2 = six[:, :3], six[:, 3:]
    cx = a1 / a1.norm(dim=1, keepdim=True)
    cz = torch.cross(cx, a2, dim=1)
    cz = cz / cz.norm(dim=1, keepdim=True)
    cy = torch.cross(cz, cx, dim=1)
    torch.testing.assert_close(R, torch.stack([cx, cy, cz], dim=2), atol=1e-5, rtol=0)


def test_head_layout_matches_6drepnet():
    model = create_model("sixdrepnet_repvgg_b1g2")
    assert model.linear_reg.in_features == 2048 and model.linear_reg.out_features == 6
    keys = list(model.state_dict())
    assert keys[-2:] == ["linear_reg.weight", "linear_reg.bias"]


def test_deploy_flag_builds_fused_model():
    model = create_model("sixdrepnet_repvgg_a0", deploy=True)
    assert not model.training and model.backbone.stage1[0].deployed


def test_bad_inputs_are_named():
    model = create_model("sixdrepnet_repnext_m0")
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        model(torch.randn(2, 1, 64, 64))
    with pytest.raises(TypeError, match="num_features"):
        SixDRepNet(nn.Conv2d(3, 3, 1))
    with pytest.raises(KeyError, match="unknown model"):
        create_model("sixdrepnet_repnext_m9")
