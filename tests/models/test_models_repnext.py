"""RepNeXt: sizes against the official counts, branch merging against the unmerged branches,
structure pitfalls (serial vs parallel, concat order, unmerged large branch), train steps."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from support import assert_backbone_trains

from pyhpe.models import create_model, list_models, reparameterize
from pyhpe.models.backbones.repnext import RepDWConvM, RepDWConvS, RepNeXtDownsample

# backbones.md §1.2, verified against the official model: fused backbone params (no head), and
# training-form params including both classifier heads; (embed_dims[-1]) for the head size.
OFFICIAL = {
    "m0": (2_012_200, 2_716_480, 320),
    "m1": (4_444_560, 5_323_316, 384),
    "m2": (6_024_200, 7_049_082, 448),
    "m3": (7_305_920, 8_466_560, 512),
    "m4": (12_829_120, 14_080_480, 512),
    "m5": (21_096_560, 22_708_860, 640),
}


pytestmark = pytest.mark.usefixtures("one_thread")


def count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def randomize(module: nn.Module, seed: int = 0) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.rand(m.num_features, generator=g) - 0.5)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
    return module


def test_registered():
    assert {f"repnext_m{i}" for i in range(6)} <= set(list_models("repnext_*"))


@pytest.mark.parametrize("variant", sorted(OFFICIAL))
def test_parameter_counts_match_official(variant):
    fused_backbone, train_with_heads, c = OFFICIAL[variant]
    model = create_model(f"repnext_{variant}")
    heads = 2 * (2 * c + 1000 * c + 1000)  # two BN1d + Linear(c, 1000) classifier heads
    assert count(model) == train_with_heads - heads
    assert count(reparameterize(model)) == fused_backbone


def test_stage_shapes_m4_at_224():
    model = create_model("repnext_m4").eval()
    assert model.stage_strides == (4, 8, 16, 32) and model.num_features == 512
    with torch.no_grad():
        shapes = [tuple(t.shape) for t in model.forward_stages(torch.randn(1, 3, 224, 224))]
    assert shapes == [(1, 64, 56, 56), (1, 128, 28, 28), (1, 256, 14, 14), (1, 512, 7, 7)]


@pytest.mark.parametrize("cls", [RepDWConvS, RepDWConvM])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("size", [13, 12])
def test_branch_merge_is_exact(cls, stride, size):
    """The merged depthwise kernel reproduces the sum of branches, borders included."""
    module = randomize(cls(6, stride), seed=stride * 100 + size).double()
    x = torch.randn(2, 6, size, size, dtype=torch.float64)
    with torch.no_grad():
        expected = module(x)
        module.reparameterize()
        torch.testing.assert_close(module(x), expected, atol=1e-10, rtol=1e-10)
    assert set(dict(module.named_parameters())) == {"weight", "bias"}


def test_merged_kernel_closed_form_small_stride2():
    """Stride-2 small branch: W = W3x3 + outer(v, h) + dilated 2x2 taps; b = b3x3 + b2x2."""
    m = randomize(RepDWConvS(1, 2), seed=4).requires_grad_(False)
    w33, w22 = m.conv_3_3.weight[0, 0], m.conv_2_2.weight[0, 0]
    h, v = m.conv_3_w.weight[0, 0, 0], m.conv_3_h.weight[0, 0, :, 0]
    expected = w33 + torch.outer(v, h)
    expected = expected + torch.tensor(
        [[w22[0, 0], 0, w22[0, 1]], [0, 0, 0], [w22[1, 0], 0, w22[1, 1]]]
    )
    bias = m.conv_3_3.bias + m.conv_2_2.bias
    m.reparameterize()
    torch.testing.assert_close(m.weight[0, 0].detach(), expected.detach())
    torch.testing.assert_close(m.bias.detach(), bias.detach())


def test_serial_pairs_have_no_bias_and_parallel_pairs_do():
    assert RepDWConvS(4, 1).conv_3_w.bias is not None
    assert RepDWConvS(4, 2).conv_3_w.bias is None and RepDWConvS(4, 2).conv_3_h.bias is None
    m = RepDWConvM(4, 2)
    assert all(getattr(m, n).bias is None for n in ("conv_7_w", "conv_7_h", "conv_5_w", "conv_5_h"))


def test_large_branch_and_block_norm_stay_after_reparameterize():
    model = reparameterize(create_model("repnext_m0"))
    block = model.stages[1].blocks[0]
    assert [tuple(c.weight.shape) for c in block.token_mixer.conv_l] == [
        (20, 1, 1, 11),
        (20, 1, 11, 1),
    ]
    assert all(c.bias is not None for c in block.token_mixer.conv_l)
    assert isinstance(block.norm, nn.BatchNorm2d)


def test_downsample_concatenates_small_then_medium():
    ds = randomize(RepNeXtDownsample(8), seed=1).eval()
    x = torch.randn(2, 8, 10, 10)
    with torch.no_grad():
        mixed = ds.token_mixer(x)
        torch.testing.assert_close(mixed[:, :8], ds.token_mixer.conv_s(x))
        torch.testing.assert_close(mixed[:, 8:], ds.token_mixer.conv_m(x))
        y = ds.norm(mixed)
        torch.testing.assert_close(ds(x), y + ds.channel_mixer(y))  # residual after the BN


def test_block_chunks_identity_first():
    model = create_model("repnext_m0").eval()
    mixer = model.stages[0].blocks[0].token_mixer
    x = torch.randn(1, 40, 8, 8)
    with torch.no_grad():
        out = mixer(x)
        torch.testing.assert_close(out[:, :10], x[:, :10])
        torch.testing.assert_close(out[:, 30:], mixer.conv_l(x[:, 30:]))


def test_bad_width_and_stride_are_named():
    with pytest.raises(ValueError, match="divisible by 4"):
        from pyhpe.models.backbones.repnext import ChunkMixer

        ChunkMixer(10)
    with pytest.raises(ValueError, match="stride"):
        RepDWConvM(4, 3)


@pytest.mark.parametrize("name", [f"repnext_m{i}" for i in range(6)])
def test_train_step_reaches_every_parameter(name):
    assert_backbone_trains(name)


def test_deploy_factory_equals_reparameterize():
    model = create_model("repnext_m0", deploy=True)
    assert not model.training
    assert model.stem.stem[0].deployed and model.stages[2].blocks[0].token_mixer.conv_m.deployed
    x = torch.randn(1, 3, 32, 32)
    assert F.adaptive_avg_pool2d(model(x), 1).shape == (1, 320, 1, 1)
