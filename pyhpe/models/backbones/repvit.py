"""RepViT M0.9 / M1.0 (Wang et al., CVPR 2024) as classifier-free backbones.

A MobileNetV3-shaped CNN with ViT-style separation of token and channel mixing. Names follow the
official release (``features.<i>.token_mixer.0.conv.c``, ``channel_mixer.m.0.bn``, ...), so its
ImageNet checkpoints load once ``classifier.*`` is dropped.

``reparameterize()`` turns each RepVGGDW (BN(DW3×3+BN  +  DW1×1 with bias  +  identity)) into one
depthwise 3×3 with bias and folds every other conv+BN pair, as the official ``fuse`` does.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pyhpe.models.backbones._bn_fold import check_images
from pyhpe.models.layers import Backbone, ConvBN, fuse_conv_bn, identity_kernel, pad_kernel
from pyhpe.models.registry import register_model
from pyhpe.models.reparam import reparameterize

__all__ = ["RepVGGDW", "RepViT", "RepViTBlock", "SqueezeExcite"]


def conv_bn(
    cin: int,
    cout: int,
    kernel: int = 1,
    stride: int = 1,
    groups: int = 1,
    bn_weight_init: float = 1.0,
) -> ConvBN:
    """The official ``Conv2d_BN`` layout: children ``c`` (conv, no bias) and ``bn``."""
    return ConvBN(
        cin,
        cout,
        kernel,
        stride,
        (kernel - 1) // 2,
        groups=groups,
        bn_weight_init=bn_weight_init,
        conv_name="c",
        norm_name="bn",
    )


def _round_to_8(value: float) -> int:
    """Nearest multiple of 8, at least 8 (timm's ``make_divisible`` with round_limit 0)."""
    return max(8, int(value + 4) // 8 * 8)


class SqueezeExcite(nn.Module):
    """timm's SEModule at ratio 0.25: mean → 1×1 ``fc1`` → ReLU → 1×1 ``fc2`` → sigmoid → scale."""

    def __init__(self, channels: int, ratio: float = 0.25) -> None:
        super().__init__()
        hidden = _round_to_8(channels * ratio)
        self.fc1 = nn.Conv2d(channels, hidden, 1)
        self.fc2 = nn.Conv2d(hidden, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        scale = self.fc2(F.relu(self.fc1(x.mean((2, 3), keepdim=True))))
        return x * torch.sigmoid(scale)


class RepVGGDW(nn.Module):
    """Token mixer: ``bn(conv(x) + conv1(x) + x)`` with ``conv`` a DW3×3+BN and ``conv1`` a DW1×1 with bias.

    ``reparameterize()`` merges the three branches and the outer BN into one DW3×3 with bias
    (keys ``weight`` / ``bias``, the official fused layout).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = conv_bn(channels, channels, 3, groups=channels)
        self.conv1 = nn.Conv2d(channels, channels, 1, groups=channels)
        self.bn = nn.BatchNorm2d(channels)
        self.dim = channels
        self.deployed = False

    def forward(self, x: Tensor) -> Tensor:
        if self.deployed:
            return F.conv2d(x, self.weight, self.bias, 1, 1, 1, self.dim)
        return self.bn(self.conv(x) + self.conv1(x) + x)

    def reparameterize(self) -> None:
        if self.deployed:
            return
        with torch.no_grad():
            w3, b3 = self.conv.fused_weight_bias()
            w1 = pad_kernel(self.conv1.weight, (3, 3))
            ident = identity_kernel(self.dim, self.dim, 3, dtype=w3.dtype, device=w3.device)
            weight, bias = fuse_conv_bn(w3 + w1 + ident, b3 + self.conv1.bias, self.bn)
        for name in ("conv", "conv1", "bn"):
            delattr(self, name)
        self.weight = nn.Parameter(weight.clone())
        self.bias = nn.Parameter(bias.clone())
        self.deployed = True


class Residual(nn.Module):
    """``x + m(x)``; the official wrapper name (keys ``m.*``)."""

    def __init__(self, m: nn.Module) -> None:
        super().__init__()
        self.m = m

    def forward(self, x: Tensor) -> Tensor:
        return x + self.m(x)


def channel_mixer(channels: int, hidden: int) -> Residual:
    """Residual FFN: 1×1 conv+BN → GELU → 1×1 conv+BN (γ starts at 0, so each block starts as identity)."""
    return Residual(
        nn.Sequential(
            conv_bn(channels, hidden), nn.GELU(), conv_bn(hidden, channels, bn_weight_init=0.0)
        )
    )


class RowConfig(NamedTuple):
    """One official cfg row: kernel, expansion t, width c, SE, "hs" (GELU either way), stride."""

    kernel: int
    expansion: int
    width: int
    use_se: bool
    use_hs: bool
    stride: int


class RepViTBlock(nn.Module):
    """Stride 1: RepVGGDW [+SE] then residual FFN. Stride 2: DW k×k/2 [+SE] → 1×1 to the new width, then FFN."""

    def __init__(
        self, cin: int, hidden: int, cout: int, kernel: int, stride: int, use_se: bool
    ) -> None:
        super().__init__()
        if hidden != 2 * cin:
            raise ValueError(f"RepViT blocks expand by 2 (hidden {hidden} for {cin} channels)")
        se: nn.Module = SqueezeExcite(cin) if use_se else nn.Identity()
        if stride == 2:
            self.token_mixer = nn.Sequential(
                conv_bn(cin, cin, kernel, 2, groups=cin), se, conv_bn(cin, cout, 1)
            )
            self.channel_mixer = channel_mixer(cout, 2 * cout)
        elif stride == 1:
            if cin != cout:
                raise ValueError(f"a stride-1 RepViT block keeps its width ({cin} -> {cout} given)")
            self.token_mixer = nn.Sequential(RepVGGDW(cin), se)
            self.channel_mixer = channel_mixer(cin, hidden)
        else:
            raise ValueError(f"stride must be 1 or 2, got {stride}")

    def forward(self, x: Tensor) -> Tensor:
        return self.channel_mixer(self.token_mixer(x))


def _rows(widths: tuple[int, int, int, int]) -> list[RowConfig]:
    """The official M0.9/M1.0 table: 3/4/16/3 rows per stage (downsample rows included).

    SE sits on the first stride-1 row of every stage and, in the third stage, on every second row
    after it except the stage's last row; "hs" is set from the third stage on.
    """
    c0, c1, c2, c3 = widths
    rows = [
        RowConfig(3, 2, c0, True, False, 1),
        RowConfig(3, 2, c0, False, False, 1),
        RowConfig(3, 2, c0, False, False, 1),
    ]
    rows += [RowConfig(3, 2, c1, False, False, 2), RowConfig(3, 2, c1, True, False, 1)]
    rows += [RowConfig(3, 2, c1, False, False, 1)] * 2
    rows.append(RowConfig(3, 2, c2, False, True, 2))
    rows += [RowConfig(3, 2, c2, i % 2 == 0, True, 1) for i in range(14)]
    rows.append(RowConfig(3, 2, c2, False, True, 1))
    rows += [
        RowConfig(3, 2, c3, False, True, 2),
        RowConfig(3, 2, c3, True, True, 1),
        RowConfig(3, 2, c3, False, True, 1),
    ]
    return rows


class RepViT(Backbone):
    """``features[0]``: stem (ConvBN 3×3/2 → GELU → ConvBN 3×3/2); ``features[1:]``: RepViT blocks."""

    classifier_prefixes = ("classifier.",)  # BN1d+Linear head and distillation head

    def __init__(self, rows: list[RowConfig]) -> None:
        super().__init__()
        cin = rows[0].width
        layers: list[nn.Module] = [
            nn.Sequential(conv_bn(3, cin // 2, 3, 2), nn.GELU(), conv_bn(cin // 2, cin, 3, 2))
        ]
        stage_ends, channels = [], []
        for i, row in enumerate(rows):
            if row.stride == 2 and i > 0:
                stage_ends.append(len(layers) - 1)
                channels.append(cin)
            cout = _round_to_8(row.width)
            layers.append(
                RepViTBlock(
                    cin, _round_to_8(cin * row.expansion), cout, row.kernel, row.stride, row.use_se
                )
            )
            cin = cout
        stage_ends.append(len(layers) - 1)
        channels.append(cin)
        self.features = nn.ModuleList(layers)
        self._stage_ends = stage_ends
        self.stage_channels = tuple(channels)
        self.stage_strides = tuple(4 * 2**i for i in range(len(channels)))
        self.num_features = cin

    def forward_stages(self, x: Tensor) -> list[Tensor]:
        check_images(x)
        outs = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self._stage_ends:
                outs.append(x)
        return outs


@register_model("repvit_m0_9")
def repvit_m0_9(deploy: bool = False) -> RepViT:
    """RepViT-M0.9 trunk, widths 48/96/192/384 (deploy=True: fused form)."""
    model = RepViT(_rows((48, 96, 192, 384)))
    return reparameterize(model) if deploy else model


@register_model("repvit_m1_0")
def repvit_m1_0(deploy: bool = False) -> RepViT:
    """RepViT-M1.0 trunk, widths 56/112/224/448 (deploy=True: fused form)."""
    model = RepViT(_rows((56, 112, 224, 448)))
    return reparameterize(model) if deploy else model
