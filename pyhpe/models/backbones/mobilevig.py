"""MobileViG-Ti (Munir et al., CVPRW 2023) as a classifier-free backbone.

Three local stages of inverted-residual conv blocks (42/84/168 channels at /4, /8, /16), then a
/32 global stage of 256 channels mixing tokens with Sparse Vision Graph Attention (SVGA): each
pixel connects to the pixels every K=2 steps along its row and column (cyclically), aggregated by
max-relative graph convolution. Names follow the official release (``stem.stem.<i>``,
``local_backbone.<i>``, ``backbone.<i>.0.graph_conv.nn.0``, ...), so its ImageNet checkpoints load
once ``prediction.*`` (pool → 1×1 conv 256→512 → BN → GELU), ``head.*`` and ``dist_head.*`` are
dropped. ``reparameterize()`` folds every conv+BN pair.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from pyhpe.models.backbones._bn_fold import ConvNormSequential, check_images
from pyhpe.models.backbones.efficientformerv2 import ConvMlp
from pyhpe.models.layers import Backbone
from pyhpe.models.registry import register_model
from pyhpe.models.reparam import reparameterize

__all__ = ["FFN", "Grapher", "InvertedResidual", "MRConv4d", "MobileViG", "max_relative_features"]


def conv_norm(cin: int, cout: int, kernel: int = 1, stride: int = 1) -> ConvNormSequential:
    """``0``: conv with bias, ``1``: BatchNorm (the official ``Sequential(Conv2d, BatchNorm2d)``)."""
    return ConvNormSequential(
        nn.Conv2d(cin, cout, kernel, stride, kernel // 2), nn.BatchNorm2d(cout)
    )


class InvertedResidual(nn.Module):
    """x + layer_scale_2 · ConvMlp(x) with 4× expansion (EfficientFormerV2's FFN block)."""

    def __init__(self, dim: int, mlp_ratio: int = 4, layer_scale_init: float = 1e-5) -> None:
        super().__init__()
        self.mlp = ConvMlp(dim, dim * mlp_ratio)
        self.layer_scale_2 = nn.Parameter(torch.full((dim, 1, 1), layer_scale_init))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.layer_scale_2 * self.mlp(x)


class Downsample(nn.Module):
    """Conv3×3/2 + BN (``conv.0`` / ``conv.1``)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = conv_norm(cin, cout, 3, 2)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x)


def max_relative_features(x: Tensor, hop: int) -> Tensor:
    """SVGA neighbour aggregation: max over j of (x − x_j), j the pixels hop, 2·hop, ... away along
    the column and the row (cyclic shifts, shifts < side only); 0 when there is none."""
    h, w = x.shape[-2:]
    out = torch.zeros_like(x)
    for shift in range(hop, h, hop):
        out = torch.maximum(out, x - torch.roll(x, shift, dims=2))
    for shift in range(hop, w, hop):
        out = torch.maximum(out, x - torch.roll(x, shift, dims=3))
    return out


class MRConv4d(nn.Module):
    """Max-relative graph conv: concat [x, max_relative(x)] → 1×1 conv 2C→2C → BN → GELU (``nn.0/1/2``)."""

    def __init__(self, channels: int, hop: int = 2) -> None:
        super().__init__()
        if hop < 1:
            raise ValueError(f"SVGA hop K must be at least 1, got {hop}")
        self.nn = ConvNormSequential(
            nn.Conv2d(2 * channels, 2 * channels, 1), nn.BatchNorm2d(2 * channels), nn.GELU()
        )
        self.K = hop

    def forward(self, x: Tensor) -> Tensor:
        return self.nn(torch.cat([x, max_relative_features(x, self.K)], dim=1))


class Grapher(nn.Module):
    """x + fc2(graph_conv(fc1(x))): 1×1 conv+BN C→C, MRConv 2C, 1×1 conv+BN 2C→C."""

    def __init__(self, channels: int, hop: int = 2) -> None:
        super().__init__()
        self.fc1 = conv_norm(channels, channels)
        self.graph_conv = MRConv4d(channels, hop)
        self.fc2 = conv_norm(2 * channels, channels)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.fc2(self.graph_conv(self.fc1(x)))


class FFN(nn.Module):
    """x + fc2(GELU(fc1(x))): 1×1 conv+BN C→4C and 4C→C."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = conv_norm(channels, hidden)
        self.act = nn.GELU()
        self.fc2 = conv_norm(hidden, channels)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.fc2(self.act(self.fc1(x)))


class Stem(nn.Module):
    """Two conv3×3/2+BN+GELU to ``width`` channels at /4 (keys ``stem.<i>``)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.stem = ConvNormSequential(
            nn.Conv2d(3, width // 2, 3, 2, 1),
            nn.BatchNorm2d(width // 2),
            nn.GELU(),
            nn.Conv2d(width // 2, width, 3, 2, 1),
            nn.BatchNorm2d(width),
            nn.GELU(),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.stem(x)


class MobileViG(Backbone):
    """``stem`` (/4) → ``local_backbone`` (inverted residuals, Downsamples, the transition to the
    global width) → ``backbone`` (Grapher + FFN pairs at /32)."""

    classifier_prefixes = ("prediction.", "head.", "dist_head.")

    def __init__(
        self,
        local_blocks: tuple[int, ...],
        local_channels: tuple[int, ...],
        global_blocks: int,
        global_channels: int,
        hop: int = 2,
    ) -> None:
        super().__init__()
        if len(local_blocks) != len(local_channels):
            raise ValueError(
                f"local_blocks {local_blocks} and local_channels {local_channels} differ in length"
            )
        self.stem = Stem(local_channels[0])
        local: list[nn.Module] = []
        self._stage_ends: list[int] = []
        for i, (depth, width) in enumerate(zip(local_blocks, local_channels)):
            if i > 0:
                local.append(Downsample(local_channels[i - 1], width))
            local += [InvertedResidual(width) for _ in range(depth)]
            self._stage_ends.append(len(local) - 1)
        local.append(Downsample(local_channels[-1], global_channels))
        self.local_backbone = nn.ModuleList(local)
        self.backbone = nn.ModuleList(
            nn.Sequential(Grapher(global_channels, hop), FFN(global_channels, 4 * global_channels))
            for _ in range(global_blocks)
        )
        self.num_features = global_channels
        self.stage_channels = (*local_channels, global_channels)
        self.stage_strides = tuple(4 * 2**i for i in range(len(self.stage_channels)))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward_stages(self, x: Tensor) -> list[Tensor]:
        check_images(x)
        x = self.stem(x)
        outs = []
        for i, layer in enumerate(self.local_backbone):
            x = layer(x)
            if i in self._stage_ends:
                outs.append(x)
        for layer in self.backbone:
            x = layer(x)
        outs.append(x)
        return outs


@register_model("mobilevig_ti")
def mobilevig_ti(deploy: bool = False) -> MobileViG:
    """MobileViG-Ti trunk: local 2/2/6 blocks at 42/84/168, 2 graph blocks at 256 (deploy=True: BN folded)."""
    model = MobileViG((2, 2, 6), (42, 84, 168), 2, 256)
    return reparameterize(model) if deploy else model
