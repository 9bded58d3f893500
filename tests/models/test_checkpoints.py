"""Checkpoint loading: official 6DRepNet and RepVGG code as the reference, RepNeXt key layouts,
all-or-nothing mismatch errors."""

from __future__ import annotations

import argparse
import fractions

import pytest
import torch
from support import randomize_bn, require
from torch import nn

from pyhpe.models import create_model, list_models, reparameterize
from pyhpe.models.checkpoints import CheckpointMismatchError, load_checkpoint, read_state_dict

pytestmark = [
    pytest.mark.filterwarnings("ignore::RuntimeWarning"),  # pure-torch ops fallback until built
    pytest.mark.filterwarnings("ignore:.*torch.jit.*:DeprecationWarning"),
    pytest.mark.usefixtures("one_thread"),
]


@pytest.fixture(scope="module")
def official():
    """The pip package sixdrepnet==0.1.6 (installed with --no-deps): its model.py and
    backbone/repvgg.py, loaded by file path (see pyhpe.official)."""
    from pyhpe.official import INSTALL_HINT, load_official_model_code, official_root

    require(official_root() is not None, f"the official 6DRepNet package ({INSTALL_HINT})")
    return load_official_model_code()


def _randomize_all(model: nn.Module, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return randomize_bn(model, seed)


X64 = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("deploy", [True, False], ids=["deploy_pth", "train_tar"])
def test_official_6drepnet_release_gives_official_outputs(official, tmp_path, deploy):
    ref = official.model.SixDRepNet("RepVGG-B1g2", "", deploy=deploy, pretrained=False)
    _randomize_all(ref, seed=3).eval()
    if deploy:  # released weights: a plain state_dict
        path = tmp_path / "6DRepNet_300W_LP_AFLW2000.pth"
        torch.save(ref.state_dict(), path)
    else:  # train.py snapshot
        path = tmp_path / "epoch_1.tar"
        torch.save(
            {"epoch": 0, "model_state_dict": ref.state_dict(), "optimizer_state_dict": {}}, path
        )
    ours = create_model("sixdrepnet_repvgg_b1g2", pretrained=path).eval()
    assert ours.backbone.stage0.deployed == deploy
    with torch.no_grad():
        expected = ref(X64)
        torch.testing.assert_close(ours(X64).R, expected, atol=1e-5, rtol=0)
        if not deploy:  # and our fused form matches the official training form
            torch.testing.assert_close(reparameterize(ours)(X64).R, expected, atol=1e-4, rtol=0)


@pytest.mark.parametrize("fused", [False, True], ids=["train", "fused"])
def test_official_repvgg_imagenet_checkpoint_loads_into_backbone(official, tmp_path, fused):
    ref = _randomize_all(official.repvgg.create_RepVGG_A0(deploy=False), seed=5).eval()
    if fused:
        ref = official.repvgg.repvgg_model_convert(ref, do_copy=True).eval()
    path = tmp_path / "RepVGG-A0.pth"
    torch.save({"state_dict": {"module." + k: v for k, v in ref.state_dict().items()}}, path)
    ours = create_model("repvgg_a0", pretrained=path).eval()
    # float64: our blocks take the strided 1×1 branch by subsampling first (RepVGGBlock), the same
    # taps in another float32 summation order; through 22 randomized blocks that order alone moves
    # float32 outputs of magnitude ~1e3 by a few 1e-4 relative, so equality is checked in float64
    ref, ours, x64 = ref.double(), ours.double(), X64.double()
    with torch.no_grad():
        x = x64
        for s in range(5):  # the official stages, run by hand (its forward ends in the classifier)
            stage = getattr(ref, f"stage{s}")
            x = stage(x) if s == 0 else nn.Sequential(*stage)(x)
        torch.testing.assert_close(ours(x64), x, atol=1e-9, rtol=1e-9)


def _official_repnext_layout(model, with_head: bool = True) -> dict[str, torch.Tensor]:
    """Our backbone's state_dict plus the official classifier keys (two BN1d+Linear heads)."""
    state = dict(model.state_dict())
    c = model.num_features
    if with_head:
        for head in ("head", "head_dist"):
            bn = nn.BatchNorm1d(c)
            for k, v in bn.state_dict().items():
                state[f"head.{head}.norm.{k}"] = v
            state[f"head.{head}.linear.weight"] = torch.randn(1000, c)
            state[f"head.{head}.linear.bias"] = torch.zeros(1000)
    return state


def test_repnext_m4_official_key_layout():
    """Key counts and names as the official release (backbones.md §1.6): 1646 training keys with
    the 14 head keys, 708 fused keys with the 2 head keys."""
    model = create_model("repnext_m4")
    keys = set(model.state_dict())
    assert len(keys) + 14 == 1646
    for key, shape in {
        "stem.stem.0.conv.weight": (32, 3, 3, 3),
        "stem.stem.2.norm.running_var": (64,),
        "stages.2.blocks.24.token_mixer.conv_m.conv_7_w.weight": (64, 1, 1, 7),
        "stages.0.blocks.0.token_mixer.conv_s.conv_2_2.bias": (16,),
        "stages.0.blocks.0.token_mixer.conv_l.1.weight": (16, 1, 11, 1),
        "stages.3.downsample.token_mixer.conv_s.conv_3_h.weight": (256, 1, 3, 1),
        "stages.3.downsample.norm.weight": (512,),
        "stages.3.downsample.channel_mixer.0.conv.weight": (1024, 512, 1, 1),
        "stages.1.blocks.4.channel_mixer.2.norm.num_batches_tracked": (),
    }.items():
        assert tuple(model.state_dict()[key].shape) == shape, key
    assert "stages.1.downsample.token_mixer.conv_s.conv_3_w.bias" not in keys  # serial: no bias
    assert "stages.1.blocks.0.token_mixer.conv_s.conv_3_w.bias" in keys  # parallel: bias
    fused = reparameterize(model).state_dict()
    assert len(fused) + 2 == 708
    assert fused["stages.2.blocks.3.token_mixer.conv_m.weight"].shape == (64, 1, 7, 7)
    assert fused["stages.1.downsample.token_mixer.conv_s.weight"].shape == (64, 1, 3, 3)
    assert fused["stem.stem.0.bias"].shape == (32,)
    assert "stages.2.blocks.3.norm.running_mean" in fused  # the official fuse keeps this BN


def test_repnext_training_checkpoint_round_trip(tmp_path):
    src = randomize_bn(create_model("repnext_m0"), seed=7).eval()
    path = tmp_path / "repnext_m0_distill_300e.pth"
    ns = argparse.Namespace(model="repnext_m0", lr=4e-3)  # the official files also pickle `args`
    torch.save({"model": _official_repnext_layout(src), "args": ns, "epoch": 299}, path)
    dst = create_model("repnext_m0", pretrained=path).eval()
    with torch.no_grad():
        torch.testing.assert_close(dst(X64), src(X64), atol=0, rtol=0)


def test_repnext_fused_torchscript_checkpoint(tmp_path):
    """Official fused files are TorchScript archives of the fused model (with its head)."""
    src = reparameterize(randomize_bn(create_model("repnext_m0"), seed=8))

    class OfficialFused(nn.Module):  # the official module layout: stem, stages, head
        def __init__(self):
            super().__init__()
            self.stem, self.stages, self.head = src.stem, src.stages, nn.Linear(320, 1000)

        def forward(self, x):
            for stage in self.stages:
                x = stage(self.stem(x)) if stage is self.stages[0] else stage(x)
            return self.head(x.mean((2, 3)))

    path = tmp_path / "repnext_m0_distill_300e_fused.pt"
    torch.jit.trace(OfficialFused().eval(), X64).save(str(path))
    dst = create_model("repnext_m0", pretrained=path)
    assert dst.stages[0].blocks[0].token_mixer.conv_s.deployed
    with torch.no_grad():
        torch.testing.assert_close(dst(X64), src(X64), atol=0, rtol=0)


def test_backbone_file_initialises_pose_model_backbone_only(tmp_path):
    src = randomize_bn(create_model("repnext_m0"), seed=9)
    path = tmp_path / "imagenet.pth"
    torch.save({"model": _official_repnext_layout(src)}, path)
    pose = create_model("sixdrepnet_repnext_m0")
    head_before = pose.linear_reg.weight.clone()
    load_checkpoint(pose, path)
    torch.testing.assert_close(pose.backbone.stem.stem[0].conv.weight, src.stem.stem[0].conv.weight)
    torch.testing.assert_close(pose.linear_reg.weight, head_before)


def test_pyhpe_state_dict_round_trip(tmp_path):
    src = randomize_bn(create_model("sixdrepnet_repvgg_a0"), seed=2).eval()
    path = tmp_path / "ours.pth"
    torch.save(src.state_dict(), path)
    dst = create_model("sixdrepnet_repvgg_a0", pretrained=path).eval()
    with torch.no_grad():
        torch.testing.assert_close(dst(X64).R, src(X64).R, atol=0, rtol=0)


def test_mismatch_names_keys_and_shapes_and_loads_nothing():
    model = create_model("repvgg_a0")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    state = {k: torch.randn_like(v.float()).to(v.dtype) for k, v in before.items()}
    del state["stage1.0.rbr_dense.conv.weight"]
    state["stage9.bogus.weight"] = torch.zeros(3)
    state["stage4.0.rbr_1x1.bn.bias"] = torch.zeros(7)
    with pytest.raises(CheckpointMismatchError) as info:
        load_checkpoint(model, state)
    msg = str(info.value)
    assert "stage1.0.rbr_dense.conv.weight" in msg and "missing" in msg
    assert "stage9.bogus.weight" in msg and "unexpected" in msg
    assert "stage4.0.rbr_1x1.bn.bias: checkpoint (7,) vs model (1280,)" in msg
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), f"{k} changed although loading failed"


def test_training_checkpoint_into_fused_model_is_refused():
    train_state = create_model("repvgg_a0").state_dict()
    fused_model = create_model("repvgg_a0", deploy=True)
    with pytest.raises(CheckpointMismatchError, match="rbr_reparam"):
        load_checkpoint(fused_model, train_state)


def test_unsafe_or_empty_files_are_refused(tmp_path):
    bad = tmp_path / "bad.pth"  # an arbitrary class: weights_only loading must not unpickle it
    torch.save({"state_dict": fractions.Fraction(1, 3)}, bad)
    with pytest.raises(ValueError, match="weights_only"):
        read_state_dict(bad)
    with pytest.raises(FileNotFoundError):
        read_state_dict(tmp_path / "absent.pth")
    empty = tmp_path / "empty.pth"
    torch.save({"epoch": 3}, empty)
    with pytest.raises(ValueError, match="no state_dict"):
        read_state_dict(empty)


@pytest.mark.parametrize("variant", ["A0", "B0", "B1", "B1g2", "B1g4", "B2"])
def test_repvgg_keys_and_shapes_equal_official(official, variant):
    """Every variant, training and deploy form: the official state_dict minus its classifier."""
    for deploy in (False, True):
        ref = getattr(official.repvgg, f"create_RepVGG_{variant}")(deploy=deploy)
        expected = {
            k: tuple(v.shape) for k, v in ref.state_dict().items() if not k.startswith("linear.")
        }
        ours = create_model(f"repvgg_{variant.lower()}", deploy=deploy)
        assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == expected


def test_6drepnet360_resnet50_layout(tmp_path):
    """6DRepNet360 releases: a plain state_dict of 320 tensors (conv1/bn1/layerN.../linear_reg)."""
    if "sixdrepnet_resnet50" not in list_models():
        pytest.skip("resnet50 backbone not registered")
    src = randomize_bn(create_model("sixdrepnet_resnet50"), seed=11).eval()
    official = {k.removeprefix("backbone."): v for k, v in src.state_dict().items()}
    assert len(official) == 320 and "conv1.weight" in official and "linear_reg.bias" in official
    path = tmp_path / "6DRepNet360_300W_LP.pth"
    torch.save(official, path)
    dst = create_model("sixdrepnet_resnet50", pretrained=path).eval()
    with torch.no_grad():
        torch.testing.assert_close(dst(X64).R, src(X64).R, atol=0, rtol=0)
