"""Baseline backbones: MobileNetV3 L/S, EfficientFormerV2 S0/S1, MobileViG-Ti, RepViT M0.9/M1.0,
ResNet-18/50 -- construction, stage shapes and strides, training step, gradient coverage,
reparameterization, parameter counts against the official definitions, official key names.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pyhpe.models.backbones._bn_fold import ConvNormSequential, fold_bn_pair
from pyhpe.models.backbones.efficientformerv2 import relative_bias_index
from pyhpe.models.backbones.mobilevig import max_relative_features
from pyhpe.models.layers import Backbone
from pyhpe.models.registry import get_factory, list_models
from pyhpe.models.reparam import reparameterize

SIDE = 64  # small inputs keep the suite fast; EfficientFormerV2 is built for it (img_size=SIDE)

# Parameters of the classifier-free trunk, from the official definitions' totals in
# ../shared/reference/backbones.md (and torchvision's docs for ResNet) minus the classifier layers:
#   MobileNetV3-L 5,483,032 - (960*1280+1280 + 1280*1000+1000)     = 2,971,952   (exact)
#   MobileNetV3-S 2,542,856 - (576*1024+1024 + 1024*1000+1000)     =   927,008   (exact)
#   ResNet-18    11,689,512 - (512*1000+1000)                      = 11,176,512  (exact)
#   ResNet-50    25,557,032 - (2048*1000+1000)                     = 23,508,032  (exact)
#   EfficientFormerV2-S0 3.42 M (without dist head) - 176*1000+1000 = 3.243 M
#   EfficientFormerV2-S1 5.96 M (without dist head) - 224*1000+1000 = 5.735 M
#   MobileViG-Ti 4.76 M (without dist head) - head 512*1000+1000 - prediction 256*512+512+2*512
#                                                                  = 4.114 M
#   RepViT-M0.9 5.489 M (training form, two BN1d+Linear heads) - 2*(2*384 + 384*1000+1000) = 4.717 M
#   RepViT-M1.0 7.303 M - 2*(2*448 + 448*1000+1000)                = 6.403 M
REFERENCE_PARAMS = {
    "mobilenetv3_large": 2_971_952,
    "mobilenetv3_small": 927_008,
    "resnet18": 11_176_512,
    "resnet50": 23_508_032,
    "efficientformerv2_s0": 3.243e6,
    "efficientformerv2_s1": 5.735e6,
    "mobilevig_ti": 4.114e6,
    "repvit_m0_9": 4.717e6,
    "repvit_m1_0": 6.403e6,
}
EXACT = {"mobilenetv3_large", "mobilenetv3_small", "resnet18", "resnet50"}
# Fused RepViT: 5.067 M / 6.810 M with one fused Linear(C, 1000) head.
REFERENCE_FUSED_PARAMS = {"repvit_m0_9": 5.067e6 - 385_000, "repvit_m1_0": 6.810e6 - 449_000}

NAMES = sorted(REFERENCE_PARAMS)
EXPECTED_STAGES = {  # channels per stage; strides are 4, 8, 16, 32 for all
    "mobilenetv3_large": (24, 40, 112, 960),
    "mobilenetv3_small": (16, 24, 48, 576),
    "resnet18": (64, 128, 256, 512),
    "resnet50": (256, 512, 1024, 2048),
    "efficientformerv2_s0": (32, 48, 96, 176),
    "efficientformerv2_s1": (32, 48, 120, 224),
    "mobilevig_ti": (42, 84, 168, 256),
    "repvit_m0_9": (48, 96, 192, 384),
    "repvit_m1_0": (56, 112, 224, 448),
}


pytestmark = pytest.mark.usefixtures("one_thread")


def build(name: str, **kw) -> Backbone:
    if name.startswith("efficientformerv2"):
        kw.setdefault("img_size", SIDE)
    return get_factory(name)(**kw)


def count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def randomize(model: nn.Module, seed: int = 0) -> None:
    """Non-trivial BN statistics and affine terms, layer scales and attention biases, so that
    folding errors and dead gradients (zero-initialised γ, 1e-5 layer scales) cannot hide."""
    gen = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            n = module.num_features
            module.running_mean.copy_(0.1 * torch.randn(n, generator=gen))
            module.running_var.copy_(0.5 + 1.5 * torch.rand(n, generator=gen))
            module.weight.copy_(0.5 + torch.rand(n, generator=gen))
            module.bias.copy_(0.1 * torch.randn(n, generator=gen))
    for name, param in model.named_parameters():
        if "layer_scale" in name:
            param.copy_(0.5 + 0.5 * torch.rand(param.shape, generator=gen))
        elif "attention_biases" in name:
            param.copy_(0.1 * torch.randn(param.shape, generator=gen))


def images(batch: int = 2, side: int = SIDE) -> torch.Tensor:
    return torch.randn(batch, 3, side, side, generator=torch.Generator().manual_seed(1))


def test_all_baselines_registered():
    registered = set(list_models())
    assert set(NAMES) <= registered
    # the pose-model wrapper is generated for each bare backbone
    assert {f"sixdrepnet_{n}" for n in NAMES} <= registered


@pytest.mark.parametrize("name", NAMES)
def test_forward_backward_shapes_and_gradients(name):
    torch.manual_seed(0)
    model = build(name)
    assert isinstance(model, Backbone)
    assert model.stage_channels == EXPECTED_STAGES[name]
    assert model.stage_strides == (4, 8, 16, 32)
    assert model.num_features == model.stage_channels[-1]
    assert model.stage_index_for_stride(8) == 1  # TRGv2's dense head takes the stride-8 map
    randomize(model)
    model.train()
    outs = model.forward_stages(images())
    assert [tuple(o.shape) for o in outs] == [
        (2, c, SIDE // s, SIDE // s) for c, s in zip(model.stage_channels, model.stage_strides)
    ]
    torch.testing.assert_close(model.forward_features(images()), outs[-1])
    loss = sum(o.square().mean() for o in outs)
    loss.backward()
    dead = [
        n
        for n, p in model.named_parameters()
        if p.requires_grad and (p.grad is None or not p.grad.any())
    ]
    assert not dead, f"no gradient reaches {dead[:5]} ({len(dead)} in all)"
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.parametrize("name", NAMES)
def test_reparameterize_matches_and_is_idempotent(name):
    torch.manual_seed(0)
    model = build(name)
    randomize(model)
    model.eval()
    x = images()
    with torch.no_grad():
        before = model.forward_stages(x)
    reparameterize(model)
    with torch.no_grad():
        after = model.forward_stages(x)
    for b, a in zip(before, after):
        scale = max(1.0, b.abs().max().item())
        assert (a - b).abs().max().item() <= 1e-4 * scale
    # every BatchNorm is folded, except EfficientFormerV2's final `norm`, which follows a residual sum
    remaining = [n for n, m in model.named_modules() if isinstance(m, nn.BatchNorm2d)]
    assert remaining == (["norm"] if name.startswith("efficientformerv2") else [])
    keys = list(model.state_dict())
    reparameterize(model)
    assert list(model.state_dict()) == keys
    with torch.no_grad():
        again = model.forward_stages(x)
    for a, c in zip(after, again):
        torch.testing.assert_close(a, c, rtol=0, atol=0)
    # the deploy factory gives the same structure
    deployed = build(name, deploy=True)
    assert list(deployed.state_dict()) == keys
    assert count(deployed) == count(model)


@pytest.mark.parametrize("name", NAMES)
def test_parameter_count_matches_official(name):
    model = build(name, img_size=224) if name.startswith("efficientformerv2") else build(name)
    n, ref = count(model), REFERENCE_PARAMS[name]
    if name in EXACT:
        assert n == ref
    else:
        assert abs(n - ref) / ref < 0.02, f"{name}: {n} parameters vs reference {ref:.0f}"
    if name in REFERENCE_FUSED_PARAMS:
        fused = count(reparameterize(model))
        assert abs(fused - REFERENCE_FUSED_PARAMS[name]) / REFERENCE_FUSED_PARAMS[name] < 0.02


OFFICIAL_KEYS = {
    "mobilenetv3_large": [
        "features.0.0.weight",
        "features.4.block.2.fc1.weight",
        "features.16.1.running_var",
    ],
    "mobilenetv3_small": ["features.1.block.1.fc2.bias", "features.12.0.weight"],
    "resnet18": ["conv1.weight", "layer2.0.downsample.0.weight", "layer4.1.bn2.running_mean"],
    "resnet50": ["bn1.bias", "layer4.2.conv3.weight", "layer3.0.downsample.1.weight"],
    "efficientformerv2_s0": [
        "patch_embed.3.weight",
        "network.0.1.mlp.mid_norm.weight",
        "network.1.proj.weight",
        "network.4.5.token_mixer.talking_head1.weight",
        "network.4.4.token_mixer.stride_conv.0.weight",
        "network.5.attn.q.local.0.weight",
        "network.5.attn.attention_bias_idxs",
        "network.6.3.layer_scale_1",
        "norm.running_var",
    ],
    "efficientformerv2_s1": ["network.4.8.token_mixer.proj.1.weight", "network.6.5.mlp.fc2.weight"],
    "mobilevig_ti": [
        "stem.stem.3.weight",
        "local_backbone.2.conv.0.weight",
        "local_backbone.11.layer_scale_2",
        "local_backbone.12.conv.1.weight",
        "backbone.1.0.graph_conv.nn.1.running_mean",
        "backbone.1.1.fc2.0.weight",
    ],
    "repvit_m0_9": [
        "features.0.0.c.weight",
        "features.1.token_mixer.0.conv.c.weight",
        "features.1.token_mixer.0.conv1.bias",
        "features.1.token_mixer.0.bn.weight",
        "features.1.token_mixer.1.fc1.weight",
        "features.4.token_mixer.2.bn.weight",
        "features.26.channel_mixer.m.2.c.weight",
    ],
    "repvit_m1_0": ["features.25.token_mixer.1.fc2.weight", "features.24.token_mixer.0.weight"],
}


@pytest.mark.parametrize("name", NAMES)
def test_official_key_names(name):
    model = build(name)
    keys = set(model.state_dict())
    if name == "repvit_m1_0":  # spot-check the fused layout: a RepVGGDW becomes one conv
        keys = set(reparameterize(model).state_dict())
    missing = [k for k in OFFICIAL_KEYS[name] if k not in keys]
    assert not missing
    assert model.classifier_prefixes and not any(
        k.startswith(model.classifier_prefixes) for k in keys
    )


def test_repvit_se_widths_follow_timm_rounding():
    model = build("repvit_m1_0")
    # 56*0.25 = 14 -> 16, 112*0.25 = 28 -> 32, 224*0.25 = 56 -> 56
    assert model.features[1].token_mixer[1].fc1.out_channels == 16
    assert model.features[5].token_mixer[1].fc1.out_channels == 32
    assert model.features[9].token_mixer[1].fc1.out_channels == 56
    assert isinstance(model.features[2].token_mixer[1], nn.Identity)


def test_efficientformerv2_native_resolution_and_size_check():
    model = build("efficientformerv2_s0", img_size=224).eval()
    assert model.fixed_input_size and model.input_size == 224
    with torch.no_grad():
        outs = model.forward_stages(images(1, 224))
    assert [tuple(o.shape[-2:]) for o in outs] == [(56, 56), (28, 28), (14, 14), (7, 7)]
    with pytest.raises(ValueError, match="img_size=64"):
        model(images(1, 64))
    with pytest.raises(ValueError, match="multiple of 32"):
        build("efficientformerv2_s0", img_size=100)


def test_relative_bias_index_tables():
    index, size = relative_bias_index(7, 7)
    assert size == 49 and index.shape == (49, 49)
    assert index[0, 0] == 0 and index.diagonal().eq(0).all()  # zero offset is seen first
    assert torch.equal(index, index.T)  # |Δ| is symmetric
    index, size = relative_bias_index(
        7, 14
    )  # downsampling attention at 224: 14x14 keys, 7x7 queries
    assert index.shape == (49, 196) and size == 196  # offsets |2q - k| take 14 values per axis
    # query (1,1) sits on key (2,2): same column as the zero offset
    assert index[1 * 7 + 1, 2 * 14 + 2] == index[0, 0]


def test_max_relative_features_against_brute_force():
    x = torch.randn(2, 3, 5, 6, generator=torch.Generator().manual_seed(3))
    got = max_relative_features(x, hop=2)
    want = torch.zeros_like(x)
    for i in range(5):
        for j in range(6):
            neighbours = [((i - s) % 5, j) for s in range(2, 5, 2)] + [
                (i, (j - s) % 6) for s in range(2, 6, 2)
            ]
            for ni, nj in neighbours:
                want[..., i, j] = torch.maximum(want[..., i, j], x[..., i, j] - x[..., ni, nj])
    torch.testing.assert_close(got, want)


def test_bn_folding_helpers():
    torch.manual_seed(0)
    seq = ConvNormSequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())
    randomize(seq)
    seq.eval()
    x = images(2, 8)
    want = seq(x)
    seq.reparameterize()
    assert isinstance(seq[1], nn.Identity) and seq[0].bias is not None
    torch.testing.assert_close(seq(x), want, rtol=1e-5, atol=1e-5)
    seq.reparameterize()  # idempotent
    torch.testing.assert_close(seq(x), want, rtol=1e-5, atol=1e-5)
    owner = nn.Module()
    owner.conv, owner.act = nn.Conv2d(3, 4, 1), nn.ReLU()
    with pytest.raises(TypeError, match="cannot fold"):
        fold_bn_pair(owner, "conv", "act")


@pytest.mark.parametrize(
    "bad",
    [
        torch.randn(2, 1, 64, 64),
        torch.randn(3, 64, 64),
        torch.zeros(2, 3, 64, 64, dtype=torch.int64),
        torch.randn(0, 3, 64, 64),
    ],
)
def test_bad_inputs_are_named(bad):
    model = build("mobilenetv3_small")
    with pytest.raises(ValueError, match="expected|empty"):
        model(bad)


@pytest.mark.parametrize(
    "name", ["mobilevig_ti", "repvit_m0_9", "resnet18", "efficientformerv2_s0"]
)
def test_checkpoint_with_official_classifier_loads(name):
    """A state_dict laid out like an official release (classifier keys included) loads strictly,
    in training form and in fused form, and reproduces the source model's features."""
    from pyhpe.models.checkpoints import load_checkpoint

    source = build(name)
    randomize(source, seed=4)
    source.eval()
    state = dict(source.state_dict())
    for prefix in source.classifier_prefixes:
        state[prefix + "weight"] = torch.zeros(10, source.num_features)
    x = images()
    with torch.no_grad():
        want = source.forward_features(x)
    target = load_checkpoint(build(name), state).eval()
    with torch.no_grad():
        torch.testing.assert_close(target.forward_features(x), want, rtol=0, atol=0)
    fused_state = dict(reparameterize(source).state_dict())
    fused_target = load_checkpoint(build(name), fused_state).eval()  # reparameterizes, then loads
    with torch.no_grad():
        got = fused_target.forward_features(x)
    assert (got - want).abs().max().item() <= 1e-4 * max(1.0, want.abs().max().item())
