"""EfficientFormerV2 S0 / S1 (Li et al., ICCV 2023) as classifier-free backbones.

Four stages of conv FFN blocks (1×1 → DW3×3 → 1×1, layer-scaled residual); the last two blocks of
stages 3 and 4 add multi-head attention with talking heads, learned relative-position biases and
a local DW3×3 on the values (stage 3 attends at half resolution). The stage 3→4 downsample sums a
strided conv and a strided attention. Names follow the official release (``patch_embed.<i>``,
``network.<i>.<j>.mlp.fc1``, ``network.5.attn.q.local.0``, ...), so its ImageNet checkpoints load
once ``head.*`` / ``dist_head.*`` are dropped; the final ``norm`` (BN before pooling) is kept.

The attention-bias tables are sized for one input resolution (``img_size``, default 224, the
official one); inputs of any other size are refused. ``reparameterize()`` folds every conv+BN pair.
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import Tensor, nn

from pyhpe.models.backbones._bn_fold import ConvNormSequential, check_images, fold_bn_pair
from pyhpe.models.layers import Backbone
from pyhpe.models.registry import register_model
from pyhpe.models.reparam import reparameterize

__all__ = [
    "Attention4D",
    "Attention4DDownsample",
    "AttnFFN",
    "ConvMlp",
    "EfficientFormerV2",
    "FFNBlock",
    "relative_bias_index",
]


def conv_norm(
    cin: int, cout: int, kernel: int = 1, stride: int = 1, groups: int = 1
) -> ConvNormSequential:
    """``0``: conv with bias (the official convs all keep theirs), ``1``: BatchNorm."""
    return ConvNormSequential(
        nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups), nn.BatchNorm2d(cout)
    )


def relative_bias_index(query_side: int, key_side: int) -> tuple[Tensor, int]:
    """(Nq, Nk) index into a per-head bias table, and the table size.

    Query points lie on a ``query_side`` grid whose step is ``ceil(key_side / query_side)`` key
    pixels; a pair's table column is the first-seen order of its offset (|Δy|, |Δx|), scanning
    queries then keys row-major -- the official ordering, so official tables load unchanged.
    """
    step = math.ceil(key_side / query_side)
    columns: dict[tuple[int, int], int] = {}
    index = []
    keys = list(itertools.product(range(key_side), range(key_side)))
    for qy, qx in itertools.product(range(query_side), range(query_side)):
        for ky, kx in keys:
            offset = (abs(qy * step - ky), abs(qx * step - kx))
            index.append(columns.setdefault(offset, len(columns)))
    return torch.tensor(index, dtype=torch.long).view(query_side**2, key_side**2), len(columns)


class _BiasedAttention(nn.Module):
    """Shared part: the learned table ``attention_biases`` (heads, offsets) and its persistent
    index buffer ``attention_bias_idxs`` (both official keys)."""

    def _init_biases(self, num_heads: int, query_side: int, key_side: int) -> None:
        index, size = relative_bias_index(query_side, key_side)
        self.attention_biases = nn.Parameter(torch.zeros(num_heads, size))
        self.register_buffer("attention_bias_idxs", index)

    def position_bias(self) -> Tensor:
        return self.attention_biases[:, self.attention_bias_idxs]


class Attention4D(_BiasedAttention):
    """MHSA on a (B, C, r, r) map: 8 heads, key dim 32, value dim 128 per head.

    logits = q·kᵀ/√32 + bias → talking head → softmax → talking head → ·v, plus a DW3×3 of v;
    then GELU → 1×1 conv+BN back to C. With ``stride=2`` it attends on a DW3×3/2-reduced map and
    upsamples the result bilinearly before the projection.
    """

    def __init__(
        self,
        dim: int,
        resolution: int,
        stride: int | None = None,
        key_dim: int = 32,
        num_heads: int = 8,
        attn_ratio: int = 4,
    ) -> None:
        super().__init__()
        self.num_heads, self.key_dim = num_heads, key_dim
        self.scale = key_dim**-0.5
        self.d = attn_ratio * key_dim
        self.dh = self.d * num_heads
        if stride is not None:
            self.resolution = math.ceil(resolution / stride)
            self.stride_conv = conv_norm(dim, dim, 3, stride, groups=dim)
            self.upsample = nn.Upsample(scale_factor=stride, mode="bilinear")
        else:
            self.resolution = resolution
            self.stride_conv = None
            self.upsample = None
        qk = num_heads * key_dim
        self.q = conv_norm(dim, qk)
        self.k = conv_norm(dim, qk)
        self.v = conv_norm(dim, self.dh)
        self.v_local = conv_norm(self.dh, self.dh, 3, groups=self.dh)
        self.talking_head1 = nn.Conv2d(num_heads, num_heads, 1)
        self.talking_head2 = nn.Conv2d(num_heads, num_heads, 1)
        self.proj = ConvNormSequential(nn.GELU(), nn.Conv2d(self.dh, dim, 1), nn.BatchNorm2d(dim))
        self._init_biases(num_heads, self.resolution, self.resolution)

    def forward(self, x: Tensor) -> Tensor:
        if self.stride_conv is not None:
            x = self.stride_conv(x)
        b, n = x.shape[0], self.resolution**2
        q = self.q(x).reshape(b, self.num_heads, self.key_dim, n).transpose(2, 3)
        k = self.k(x).reshape(b, self.num_heads, self.key_dim, n)
        v_map = self.v(x)
        v_local = self.v_local(v_map)
        v = v_map.reshape(b, self.num_heads, self.d, n).transpose(2, 3)
        attn = (q @ k) * self.scale + self.position_bias()
        attn = self.talking_head2(self.talking_head1(attn).softmax(dim=-1))
        out = (attn @ v).transpose(2, 3).reshape(
            b, self.dh, self.resolution, self.resolution
        ) + v_local
        if self.upsample is not None:
            out = self.upsample(out)
        return self.proj(out)


class LGQuery(nn.Module):
    """Downsampling query: DW3×3/2 (``local``) + stride-2 subsampling (``pool``), then 1×1 conv+BN."""

    def __init__(self, dim: int, out_dim: int) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(1, 2, 0)
        self.local = nn.Sequential(nn.Conv2d(dim, dim, 3, 2, 1, groups=dim))
        self.proj = conv_norm(dim, out_dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(self.local(x) + self.pool(x))


class Attention4DDownsample(_BiasedAttention):
    """Stride-2 attention from ``dim`` to ``out_dim``: queries on the r/2 grid, keys/values on the
    r grid; 8 heads, key dim 16, value dim 64 per head; no talking heads."""

    def __init__(
        self,
        dim: int,
        out_dim: int,
        resolution: int,
        key_dim: int = 16,
        num_heads: int = 8,
        attn_ratio: int = 4,
    ) -> None:
        super().__init__()
        self.num_heads, self.key_dim = num_heads, key_dim
        self.scale = key_dim**-0.5
        self.d = attn_ratio * key_dim
        self.dh = self.d * num_heads
        self.resolution = resolution
        self.resolution2 = math.ceil(resolution / 2)
        qk = num_heads * key_dim
        self.q = LGQuery(dim, qk)
        self.k = conv_norm(dim, qk)
        self.v = conv_norm(dim, self.dh)
        self.v_local = conv_norm(self.dh, self.dh, 3, 2, groups=self.dh)
        self.proj = ConvNormSequential(
            nn.GELU(), nn.Conv2d(self.dh, out_dim, 1), nn.BatchNorm2d(out_dim)
        )
        self._init_biases(num_heads, self.resolution2, self.resolution)

    def forward(self, x: Tensor) -> Tensor:
        b, n, n2 = x.shape[0], self.resolution**2, self.resolution2**2
        q = self.q(x).reshape(b, self.num_heads, self.key_dim, n2).transpose(2, 3)
        k = self.k(x).reshape(b, self.num_heads, self.key_dim, n)
        v_map = self.v(x)
        v_local = self.v_local(v_map)
        v = v_map.reshape(b, self.num_heads, self.d, n).transpose(2, 3)
        attn = ((q @ k) * self.scale + self.position_bias()).softmax(dim=-1)
        out = (attn @ v).transpose(2, 3).reshape(b, self.dh, self.resolution2, self.resolution2)
        return self.proj(out + v_local)


class ConvMlp(nn.Module):
    """1×1 conv+BN → GELU → DW3×3 conv+BN → GELU → 1×1 conv+BN (official ``Mlp`` with ``mid_conv``).

    Conv and BN are siblings (``fc1``/``norm1``, ``mid``/``mid_norm``, ``fc2``/``norm2``), as in the
    official file; ``reparameterize()`` folds each BN into its conv. MobileViG reuses this block.
    """

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(dim, hidden, 1)
        self.norm1 = nn.BatchNorm2d(hidden)
        self.mid = nn.Conv2d(hidden, hidden, 3, 1, 1, groups=hidden)
        self.mid_norm = nn.BatchNorm2d(hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Conv2d(hidden, dim, 1)
        self.norm2 = nn.BatchNorm2d(dim)
        for conv in (self.fc1, self.fc2):
            nn.init.trunc_normal_(conv.weight, std=0.02)
            nn.init.zeros_(conv.bias)

    def forward(self, x: Tensor) -> Tensor:
        x = self.act(self.norm1(self.fc1(x)))
        x = self.act(self.mid_norm(self.mid(x)))
        return self.norm2(self.fc2(x))

    def reparameterize(self) -> None:
        for conv, bn in (("fc1", "norm1"), ("mid", "mid_norm"), ("fc2", "norm2")):
            fold_bn_pair(self, conv, bn)


def _layer_scale(dim: int, init: float) -> nn.Parameter:
    return nn.Parameter(torch.full((dim, 1, 1), init))


class FFNBlock(nn.Module):
    """x + layer_scale_2 · ConvMlp(x) (official ``FFN``)."""

    def __init__(self, dim: int, mlp_ratio: float, layer_scale_init: float = 1e-5) -> None:
        super().__init__()
        self.mlp = ConvMlp(dim, int(dim * mlp_ratio))
        self.layer_scale_2 = _layer_scale(dim, layer_scale_init)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.layer_scale_2 * self.mlp(x)


class AttnFFN(nn.Module):
    """x + layer_scale_1 · Attention4D(x), then x + layer_scale_2 · ConvMlp(x)."""

    def __init__(
        self,
        dim: int,
        mlp_ratio: float,
        resolution: int,
        stride: int | None,
        layer_scale_init: float = 1e-5,
    ) -> None:
        super().__init__()
        self.token_mixer = Attention4D(dim, resolution, stride)
        self.mlp = ConvMlp(dim, int(dim * mlp_ratio))
        self.layer_scale_1 = _layer_scale(dim, layer_scale_init)
        self.layer_scale_2 = _layer_scale(dim, layer_scale_init)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.layer_scale_1 * self.token_mixer(x)
        return x + self.layer_scale_2 * self.mlp(x)


class Embedding(nn.Module):
    """Stride-2 downsample between stages: conv3×3/2 + BN (``proj``/``norm``); with ``attention``,
    ``bn(conv(x)) + attn(x)`` (the official ``asub`` form used before the last stage)."""

    def __init__(self, cin: int, cout: int, resolution: int, attention: bool) -> None:
        super().__init__()
        self.attention = attention
        if attention:
            self.attn = Attention4DDownsample(cin, cout, resolution)
            self.conv = nn.Conv2d(cin, cout, 3, 2, 1)
            self.bn = nn.BatchNorm2d(cout)
        else:
            self.proj = nn.Conv2d(cin, cout, 3, 2, 1)
            self.norm = nn.BatchNorm2d(cout)

    def forward(self, x: Tensor) -> Tensor:
        if self.attention:
            return self.bn(self.conv(x)) + self.attn(x)
        return self.norm(self.proj(x))

    def reparameterize(self) -> None:
        if self.attention:
            fold_bn_pair(self, "conv", "bn")
        else:
            fold_bn_pair(self, "proj", "norm")


class EfficientFormerV2(Backbone):
    """``patch_embed`` (/4), then ``network`` = [stage, Embedding, stage, Embedding, stage, Embedding, stage]
    and the final BN ``norm`` (applied to the last stage's output, as before the official head)."""

    classifier_prefixes = ("head.", "dist_head.")
    fixed_input_size = True

    def __init__(
        self,
        widths: tuple[int, ...],
        depths: tuple[int, ...],
        mlp_ratios: tuple[tuple[float, ...], ...],
        attention_blocks: int = 2,
        img_size: int = 224,
    ) -> None:
        super().__init__()
        if img_size % 32 or img_size < 64:
            raise ValueError(f"img_size must be a multiple of 32 and at least 64, got {img_size}")
        if not len(widths) == len(depths) == len(mlp_ratios) == 4:
            raise ValueError(
                "EfficientFormerV2 has four stages: give four widths, depths and ratio lists"
            )
        for depth, ratios in zip(depths, mlp_ratios):
            if len(ratios) != depth:
                raise ValueError(f"{len(ratios)} MLP ratios given for a stage of {depth} blocks")
        self.input_size = img_size
        self.patch_embed = ConvNormSequential(
            nn.Conv2d(3, widths[0] // 2, 3, 2, 1),
            nn.BatchNorm2d(widths[0] // 2),
            nn.GELU(),
            nn.Conv2d(widths[0] // 2, widths[0], 3, 2, 1),
            nn.BatchNorm2d(widths[0]),
            nn.GELU(),
        )
        network: list[nn.Module] = []
        for i, (width, depth, ratios) in enumerate(zip(widths, depths, mlp_ratios)):
            resolution = math.ceil(img_size / 2 ** (i + 2))
            blocks = []
            for j, ratio in enumerate(ratios):
                if i >= 2 and j >= depth - attention_blocks:
                    blocks.append(AttnFFN(width, ratio, resolution, stride=2 if i == 2 else None))
                else:
                    blocks.append(FFNBlock(width, ratio))
            network.append(nn.Sequential(*blocks))
            if i < 3:
                network.append(Embedding(width, widths[i + 1], resolution, attention=i >= 2))
        self.network = nn.ModuleList(network)
        self.norm = nn.BatchNorm2d(widths[-1])
        self.num_features = widths[-1]
        self.stage_channels = tuple(widths)
        self.stage_strides = (4, 8, 16, 32)

    def forward_stages(self, x: Tensor) -> list[Tensor]:
        check_images(x, self.input_size)
        x = self.patch_embed(x)
        outs = []
        for i, layer in enumerate(self.network):
            x = layer(x)
            if i % 2 == 0:
                outs.append(x)
        outs[-1] = self.norm(outs[-1])
        return outs


_S0 = {
    "widths": (32, 48, 96, 176),
    "depths": (2, 2, 6, 4),
    "mlp_ratios": ((4, 4), (4, 4), (4, 3, 3, 3, 4, 4), (4, 3, 3, 4)),
}
_S1 = {
    "widths": (32, 48, 120, 224),
    "depths": (3, 3, 9, 6),
    "mlp_ratios": ((4, 4, 4), (4, 4, 4), (4, 4, 3, 3, 3, 3, 4, 4, 4), (4, 4, 3, 3, 4, 4)),
}


@register_model("efficientformerv2_s0")
def efficientformerv2_s0(deploy: bool = False, img_size: int = 224) -> EfficientFormerV2:
    """EfficientFormerV2-S0 trunk, 176 output channels, for ``img_size`` inputs (deploy=True: BN folded)."""
    model = EfficientFormerV2(**_S0, img_size=img_size)
    return reparameterize(model) if deploy else model


@register_model("efficientformerv2_s1")
def efficientformerv2_s1(deploy: bool = False, img_size: int = 224) -> EfficientFormerV2:
    """EfficientFormerV2-S1 trunk, 224 output channels, for ``img_size`` inputs (deploy=True: BN folded)."""
    model = EfficientFormerV2(**_S1, img_size=img_size)
    return reparameterize(model) if deploy else model
