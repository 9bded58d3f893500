"""RepVGG: B1g2 layout and sizes as 6DRepNet documents them, exact block merging, train steps."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from support import assert_backbone_trains, randomize_bn

from pyhpe.models import create_model, list_models, reparameterize
from pyhpe.models.backbones.repvgg import REPVGG_VARIANTS, RepVGGBlock

VARIANTS = [f"repvgg_{v}" for v in REPVGG_VARIANTS]


pytestmark = pytest.mark.usefixtures("one_thread")


def count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_registered():
    assert set(VARIANTS) <= set(list_models("repvgg_*"))
    assert {
        "repvgg_a0",
        "repvgg_b0",
        "repvgg_b1",
        "repvgg_b1g2",
        "repvgg_b1g4",
        "repvgg_b2",
    } <= set(VARIANTS)


def test_b1g2_sizes_match_6drepnet():
    """sixdrepnet.md §1.2: 43,745,670 / 39,323,398 params with the 12,294-parameter head."""
    model = create_model("repvgg_b1g2")
    assert count(model) == 43_745_670 - 12_294
    assert count(reparameterize(model)) == 39_323_398 - 12_294
    assert model.num_features == 2048 and model.stage_channels == (64, 128, 256, 512, 2048)


def test_b1g2_groups_and_identity_branches():
    """Groups 2 on odd block indices of stage1-3 (global even indices 2..26); identity only on
    stride-1 blocks with equal widths."""
    model = create_model("repvgg_b1g2")
    for s, n in zip(range(1, 5), (4, 6, 16, 1)):
        stage = getattr(model, f"stage{s}")
        for k in range(n):
            block = stage[k]
            assert block.groups == (2 if (k % 2 == 1 and s < 4) else 1), (s, k)
            assert (block.rbr_identity is not None) == (k > 0), (s, k)
    assert model.stage0.rbr_identity is None and model.stage0.groups == 1
    assert model.state_dict()["stage3.7.rbr_dense.conv.weight"].shape == (512, 256, 3, 3)


def test_b1g2_stage_shapes_at_224():
    model = create_model("repvgg_b1g2", deploy=True)
    with torch.no_grad():
        shapes = [tuple(t.shape[1:]) for t in model.forward_stages(torch.randn(1, 3, 224, 224))]
    assert shapes == [(64, 112, 112), (128, 56, 56), (256, 28, 28), (512, 14, 14), (2048, 7, 7)]


@pytest.mark.parametrize(
    "cin,cout,stride,groups", [(8, 8, 1, 1), (8, 8, 1, 2), (8, 8, 1, 4), (4, 8, 2, 2), (3, 6, 2, 1)]
)
def test_block_merge_is_exact(cin, cout, stride, groups):
    block = randomize_bn(RepVGGBlock(cin, cout, stride, groups), seed=cin + groups).double().eval()
    x = torch.randn(2, cin, 9, 9, dtype=torch.float64)
    with torch.no_grad():
        expected = block(x)
        # independent closed form of the three branches, before any fusing
        w3 = block.rbr_dense.conv.weight
        w1 = block.rbr_1x1.conv.weight

        def bn(t, m):
            return F.batch_norm(
                t, m.running_mean, m.running_var, m.weight, m.bias, False, 0.0, m.eps
            )

        ref = bn(F.conv2d(x, w3, None, stride, 1, 1, groups), block.rbr_dense.bn)
        ref = ref + bn(F.conv2d(x, w1, None, stride, 0, 1, groups), block.rbr_1x1.bn)
        if block.rbr_identity is not None:
            ref = ref + bn(x, block.rbr_identity)
        torch.testing.assert_close(expected, F.relu(ref))
        block.reparameterize()
        block.reparameterize()  # idempotent
        torch.testing.assert_close(block(x), expected, atol=1e-10, rtol=1e-10)
    assert set(block.state_dict()) == {"rbr_reparam.weight", "rbr_reparam.bias"}


def test_bad_groups_are_named():
    with pytest.raises(ValueError, match="groups"):
        RepVGGBlock(6, 6, 1, 4)


@pytest.mark.parametrize("name", VARIANTS)
def test_train_step_reaches_every_parameter(name):
    assert_backbone_trains(name)


def test_strided_block_equals_the_stride_2_convolutions():
    """The 1×1 branch runs on x[..., ::2, ::2] (see RepVGGBlock): the block still computes
    BN(conv3×3 stride 2) + BN(conv1×1 stride 2), odd sizes included."""
    import torch.nn.functional as F

    torch.manual_seed(0)
    block = RepVGGBlock(3, 8, stride=2).eval()
    for size in (15, 16):
        x = torch.randn(2, 3, size, size)
        dense, one = block.rbr_dense, block.rbr_1x1
        ref = (dense.bn(F.conv2d(x, dense.conv.weight, stride=2, padding=1))
               + one.bn(F.conv2d(x, one.conv.weight, stride=2)))
        torch.testing.assert_close(block(x), torch.relu(ref))


def test_channels_last_training_step_of_the_stem_does_not_crash():
    """oneDNN's strided 1×1 weight gradient on a 3-channel channels_last input corrupted the heap on
    AVX2-only CPUs (torch 2.13): RepVGG training crashed. Run in a child process so a regression is
    a failure, not a dead test session."""
    import subprocess
    import sys

    code = ("import torch\n"
            "from pyhpe.models.backbones.repvgg import RepVGGBlock\n"
            "torch.set_num_threads(1)\n"
            "b = RepVGGBlock(3, 64, stride=2).train().to(memory_format=torch.channels_last)\n"
            "x = torch.randn(8, 3, 64, 64).to(memory_format=torch.channels_last)\n"
            "for _ in range(2):\n"
            "    b(x).sum().backward()\n"
            "print('ok')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr[-2000:]
