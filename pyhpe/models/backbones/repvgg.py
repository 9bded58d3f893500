"""RepVGG (Ding et al., CVPR 2021) A0, B0, B1, B1g2, B1g4, B2: the 6DRepNet backbone family.

Training block: ReLU(BN(3×3 conv) + BN(1×1 conv) + BN(x)); ``reparameterize()`` folds the three
branches into one 3×3 conv with bias (``rbr_reparam``), exactly. Key names follow the official
release (``stage0.rbr_dense.conv.weight``, ``stage3.7.rbr_identity.running_var``,
``stage4.0.rbr_reparam.bias``); 6DRepNet renames ``stageN`` to ``layerN`` (see checkpoints.py).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from pyhpe.models.layers import Backbone, ConvBN, fuse_conv_bn, identity_kernel, pad_kernel
from pyhpe.models.registry import register_model

__all__ = ["REPVGG_VARIANTS", "RepVGG", "RepVGGBlock"]


class RepVGGBlock(nn.Module):
    """One RepVGG block; the identity branch exists only when in == out and stride == 1."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        groups: int = 1,
        deploy: bool = False,
    ) -> None:
        super().__init__()
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"channels {in_channels}->{out_channels} not divisible by groups {groups}"
            )
        self.in_channels, self.out_channels = in_channels, out_channels
        self.stride, self.groups = stride, groups
        self.deployed = deploy
        self.nonlinearity = nn.ReLU()
        self.se = nn.Identity()  # the official slot; B-series models here use no SE
        if deploy:
            self.rbr_reparam = self._deploy_conv()
            return
        has_identity = in_channels == out_channels and stride == 1
        self.rbr_identity = nn.BatchNorm2d(in_channels) if has_identity else None
        self.rbr_dense = ConvBN(
            in_channels, out_channels, 3, stride, 1, groups=groups, norm_name="bn"
        )
        # The 1×1 branch at stride s is a stride-1 1×1 conv of x[..., ::s, ::s] (the same taps
        # and output size). oneDNN's strided 1×1 weight gradient on a 3-channel channels_last
        # input corrupts the heap on AVX2-only CPUs (torch 2.13, oneDNN 3.12; the RepVGG stem
        # crashed training), so the subsampling is done here instead.
        self.rbr_1x1 = ConvBN(
            in_channels, out_channels, 1, 1, 0, groups=groups, norm_name="bn"
        )

    def _deploy_conv(self) -> nn.Conv2d:
        return nn.Conv2d(
            self.in_channels, self.out_channels, 3, self.stride, 1, groups=self.groups, bias=True
        )

    def forward(self, x: Tensor) -> Tensor:
        if self.deployed:
            return self.nonlinearity(self.se(self.rbr_reparam(x)))
        x_1x1 = x[:, :, :: self.stride, :: self.stride] if self.stride > 1 else x
        out = self.rbr_dense(x) + self.rbr_1x1(x_1x1)
        if self.rbr_identity is not None:
            out = out + self.rbr_identity(x)
        return self.nonlinearity(self.se(out))

    def merged_weight_bias(self) -> tuple[Tensor, Tensor]:
        """The single 3×3 conv (weight, bias) equal to the three branches in eval mode."""
        w3, b3 = self.rbr_dense.fused_weight_bias()
        w1, b1 = self.rbr_1x1.fused_weight_bias()
        weight, bias = w3 + pad_kernel(w1, (3, 3)), b3 + b1
        if self.rbr_identity is not None:
            eye = identity_kernel(
                self.in_channels, self.groups, 3, dtype=w3.dtype, device=w3.device
            )
            wi, bi = fuse_conv_bn(eye, None, self.rbr_identity)
            weight, bias = weight + wi, bias + bi
        return weight, bias

    def reparameterize(self) -> None:
        if self.deployed:
            return
        with torch.no_grad():
            weight, bias = self.merged_weight_bias()
        conv = self._deploy_conv().to(weight.device, weight.dtype)
        conv.weight.data.copy_(weight)
        conv.bias.data.copy_(bias)
        del self.rbr_dense, self.rbr_1x1, self.rbr_identity
        self.rbr_reparam = conv
        self.deployed = True


class RepVGG(Backbone):
    """RepVGG trunk without the classifier: stage0 (one block, /2) and stage1-4 (/4 ... /32).

    ``group_every_other``: the grouped-conv count applied to blocks with an even global index
    (2, 4, ..., 26; stage1's first block is index 1), as in the g2/g4 variants.
    """

    classifier_prefixes = ("linear.",)

    def __init__(
        self,
        num_blocks: tuple[int, int, int, int],
        width_multipliers: tuple[float, float, float, float],
        group_every_other: int = 1,
        deploy: bool = False,
    ) -> None:
        super().__init__()
        a, b = width_multipliers[0], width_multipliers[3]
        widths = (
            min(64, int(64 * a)),
            int(64 * width_multipliers[0]),
            int(128 * width_multipliers[1]),
            int(256 * width_multipliers[2]),
            int(512 * b),
        )
        self.stage0 = RepVGGBlock(3, widths[0], stride=2, deploy=deploy)
        index = 1
        in_ch = widths[0]
        for s, (n, width) in enumerate(zip(num_blocks, widths[1:]), start=1):
            blocks = []
            for k in range(n):
                groups = group_every_other if index % 2 == 0 and index <= 26 else 1
                blocks.append(RepVGGBlock(in_ch, width, 2 if k == 0 else 1, groups, deploy))
                in_ch, index = width, index + 1
            setattr(self, f"stage{s}", nn.Sequential(*blocks))
        self.num_features = widths[-1]
        self.stage_channels = widths
        self.stage_strides = (2, 4, 8, 16, 32)

    def forward_stages(self, x: Tensor) -> list[Tensor]:
        outs = []
        for s in range(5):
            x = getattr(self, f"stage{s}")(x)
            outs.append(x)
        return outs


# (blocks per stage 1-4, width multipliers, groups on even-indexed blocks), from the RepVGG paper/code.
REPVGG_VARIANTS: dict[str, tuple[tuple[int, ...], tuple[float, ...], int]] = {
    "a0": ((2, 4, 14, 1), (0.75, 0.75, 0.75, 2.5), 1),
    "b0": ((4, 6, 16, 1), (1.0, 1.0, 1.0, 2.5), 1),
    "b1": ((4, 6, 16, 1), (2.0, 2.0, 2.0, 4.0), 1),
    "b1g2": ((4, 6, 16, 1), (2.0, 2.0, 2.0, 4.0), 2),
    "b1g4": ((4, 6, 16, 1), (2.0, 2.0, 2.0, 4.0), 4),
    "b2": ((4, 6, 16, 1), (2.5, 2.5, 2.5, 5.0), 1),
}


def _make_factory(variant: str):
    blocks, widths, groups = REPVGG_VARIANTS[variant]

    def factory(deploy: bool = False) -> RepVGG:
        return RepVGG(blocks, widths, groups, deploy=deploy)

    factory.__name__ = f"repvgg_{variant}"
    factory.__doc__ = f"RepVGG-{variant.upper()} backbone (deploy=True: fused form)."
    return register_model(f"repvgg_{variant}")(factory)


for _variant in REPVGG_VARIANTS:
    _make_factory(_variant)
