"""RepNeXt M0-M5 (Zhao et al., arXiv 2406.16004): a four-stage MetaNeXt CNN whose token mixer
splits channels into identity / small / medium / large depthwise branches.

Training form: the small and medium branches are sums of several depthwise convs (parallel and
serial 1×k→k×1 pairs); ``reparameterize()`` merges each into one depthwise 3×3 / 7×7 exactly.
The large branch (1×11 then 11×1, both with bias) stays two convs: its first bias makes a single
11×11 inexact at the borders. The block and downsample BatchNorms stay, as in the official fuse,
so fused state_dicts have the official fused key names. Module names follow the official
release (``stem.stem.0.conv``, ``stages.i.blocks.j.token_mixer.conv_m.conv_7_7``, ...).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pyhpe.models.layers import Backbone, ConvBN, pad_kernel
from pyhpe.models.registry import register_model
from pyhpe.models.reparam import reparameterize

__all__ = ["MetaNeXtBlock", "RepDWConvM", "RepDWConvS", "RepNeXt", "RepNeXtDownsample"]


def _dw(
    channels: int,
    kernel: tuple[int, int],
    stride: tuple[int, int] = (1, 1),
    padding: tuple[int, int] = (0, 0),
    *,
    bias: bool,
    dilation: int = 1,
) -> nn.Conv2d:
    """A depthwise conv (groups = channels)."""
    return nn.Conv2d(
        channels, channels, kernel, stride, padding, dilation, groups=channels, bias=bias
    )


def _serial_kernel(horizontal: nn.Conv2d, vertical: nn.Conv2d) -> Tensor:
    """k×k kernel of a bias-free 1×k conv followed by a bias-free k×1 conv: outer(v, h) per channel."""
    return vertical.weight @ horizontal.weight  # (c,1,k,1) @ (c,1,1,k) -> (c,1,k,k)


class _MergedDW(nn.Module):
    """Shared deploy logic: after ``reparameterize()`` the module is one depthwise conv with bias."""

    kernel: int
    branch_names: tuple[str, ...]

    def __init__(self, channels: int, stride: int) -> None:
        super().__init__()
        self.channels, self.stride = channels, stride
        self.deployed = False

    def merged_weight_bias(self) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def forward_branches(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        if self.deployed:
            return F.conv2d(
                x, self.weight, self.bias, self.stride, self.kernel // 2, 1, self.channels
            )
        return self.forward_branches(x)

    def dw_kernel(self) -> tuple[Tensor, Tensor]:
        """The single depthwise kernel and bias: the deployed ones, or merged now from the
        branches (differentiable: online reparameterization, used by the fused mixer)."""
        if self.deployed:
            return self.weight, self.bias
        return self.merged_weight_bias()

    def reparameterize(self) -> None:
        if self.deployed:
            return
        with torch.no_grad():
            weight, bias = self.merged_weight_bias()
        for name in self.branch_names:
            delattr(self, name)
        self.weight = nn.Parameter(weight)
        self.bias = nn.Parameter(bias)
        self.deployed = True


class RepDWConvS(_MergedDW):
    """Small branch → one depthwise 3×3.

    Stride 1: parallel 3×3, 1×3, 3×1 and 2×2 dilated-2 convs, all with bias.
    Stride 2: 3×3 + serial bias-free (1×3 → 3×1) + 2×2 dilated-2, summed.
    """

    kernel = 3
    branch_names = ("conv_3_3", "conv_3_w", "conv_3_h", "conv_2_2")

    def __init__(self, channels: int, stride: int = 1) -> None:
        super().__init__(channels, stride)
        if stride not in (1, 2):
            raise ValueError(f"RepDWConvS stride must be 1 or 2, got {stride}")
        self.serial = stride == 2
        s = stride
        self.conv_3_3 = _dw(channels, (3, 3), (s, s), (1, 1), bias=True)
        self.conv_3_w = _dw(channels, (1, 3), (1, s), (0, 1), bias=not self.serial)
        self.conv_3_h = _dw(channels, (3, 1), (s, 1), (1, 0), bias=not self.serial)
        self.conv_2_2 = _dw(channels, (2, 2), (s, s), (1, 1), bias=True, dilation=2)

    def forward_branches(self, x: Tensor) -> Tensor:
        out = self.conv_3_3(x) + self.conv_2_2(x)
        if self.serial:
            return out + self.conv_3_h(self.conv_3_w(x))
        return out + self.conv_3_w(x) + self.conv_3_h(x)

    def merged_weight_bias(self) -> tuple[Tensor, Tensor]:
        w22 = self.conv_2_2.weight
        dilated = w22.new_zeros(w22.shape[0], 1, 3, 3)
        dilated[:, :, ::2, ::2] = w22  # taps of a 2×2 dilation-2 kernel inside a 3×3 window
        weight = self.conv_3_3.weight + dilated
        bias = self.conv_3_3.bias + self.conv_2_2.bias
        if self.serial:
            weight = weight + _serial_kernel(self.conv_3_w, self.conv_3_h)
        else:
            weight = (
                weight
                + pad_kernel(self.conv_3_w.weight, (3, 3))
                + pad_kernel(self.conv_3_h.weight, (3, 3))
            )
            bias = bias + self.conv_3_w.bias + self.conv_3_h.bias
        return weight.clone(), bias.clone()


class RepDWConvM(_MergedDW):
    """Medium branch → one depthwise 7×7: 7×7 + 5×3 + 3×5 (with bias) + serial bias-free
    (1×7 → 7×1) + (1×5 → 5×1), at stride 1 or 2."""

    kernel = 7
    branch_names = (
        "conv_7_7",
        "conv_5_3",
        "conv_3_5",
        "conv_7_w",
        "conv_7_h",
        "conv_5_w",
        "conv_5_h",
    )

    def __init__(self, channels: int, stride: int = 1) -> None:
        super().__init__(channels, stride)
        if stride not in (1, 2):
            raise ValueError(f"RepDWConvM stride must be 1 or 2, got {stride}")
        s = stride
        self.conv_7_7 = _dw(channels, (7, 7), (s, s), (3, 3), bias=True)
        self.conv_5_3 = _dw(channels, (5, 3), (s, s), (2, 1), bias=True)
        self.conv_3_5 = _dw(channels, (3, 5), (s, s), (1, 2), bias=True)
        self.conv_7_w = _dw(channels, (1, 7), (1, s), (0, 3), bias=False)
        self.conv_7_h = _dw(channels, (7, 1), (s, 1), (3, 0), bias=False)
        self.conv_5_w = _dw(channels, (1, 5), (1, s), (0, 2), bias=False)
        self.conv_5_h = _dw(channels, (5, 1), (s, 1), (2, 0), bias=False)

    def forward_branches(self, x: Tensor) -> Tensor:
        return (
            self.conv_7_7(x)
            + self.conv_5_3(x)
            + self.conv_3_5(x)
            + self.conv_7_h(self.conv_7_w(x))
            + self.conv_5_h(self.conv_5_w(x))
        )

    def merged_weight_bias(self) -> tuple[Tensor, Tensor]:
        weight = (
            self.conv_7_7.weight
            + pad_kernel(self.conv_5_3.weight, (7, 7))
            + pad_kernel(self.conv_3_5.weight, (7, 7))
            + _serial_kernel(self.conv_7_w, self.conv_7_h)
            + pad_kernel(_serial_kernel(self.conv_5_w, self.conv_5_h), (7, 7))
        )
        bias = self.conv_7_7.bias + self.conv_5_3.bias + self.conv_3_5.bias
        return weight.clone(), bias.clone()


def _use_fused_op(module: nn.Module) -> bool:
    """The fused native mixer runs unless switched off or while a graph is exported (ONNX and
    torch.export see the plain PyTorch layers, which every runtime understands)."""
    return module.fused and not (
        torch.jit.is_tracing() or torch.onnx.is_in_onnx_export() or torch.compiler.is_exporting()
    )


class _FusedMixer(nn.Module):
    """Switch between pyhpe.ops.repnext_mixer (``fused=True``, the default) and the plain PyTorch
    layers (the reference). ``forward(x, scale, shift)`` folds an eval-mode BN into the output."""

    fused: bool = True

    def mixer_kernels(self) -> list[Tensor | None]:
        raise NotImplementedError

    def forward_plain(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def forward(
        self, x: Tensor, scale: Tensor | None = None, shift: Tensor | None = None
    ) -> Tensor:
        if _use_fused_op(self):
            from pyhpe.ops import repnext_mixer

            return repnext_mixer(x, *self.mixer_kernels(), scale=scale, shift=shift)
        y = self.forward_plain(x)
        if scale is not None:
            y = y * scale.view(1, -1, 1, 1) + shift.view(1, -1, 1, 1)
        return y


def mix_then_norm(mixer: _FusedMixer, norm: nn.BatchNorm2d, x: Tensor) -> Tensor:
    """norm(mixer(x)); in eval mode without autograd, the fused op folds the BN into its output."""
    if _use_fused_op(mixer) and not norm.training and not torch.is_grad_enabled():
        scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
        return mixer(x, scale, norm.bias - norm.running_mean * scale)
    return norm(mixer(x))


def set_fused(model: nn.Module, fused: bool) -> nn.Module:
    """Switch every RepNeXt mixer in ``model`` to the fused op (True) or plain PyTorch (False)."""
    for m in model.modules():
        if isinstance(m, _FusedMixer):
            m.fused = fused
    return model


class ChunkMixer(_FusedMixer):
    """Block token mixer: four equal channel chunks → identity | small | medium | large, re-concatenated."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        if channels % 4:
            raise ValueError(f"RepNeXt block width must be divisible by 4, got {channels}")
        q = channels // 4
        self.chunk = q
        self.conv_s = RepDWConvS(q, 1)
        self.conv_m = RepDWConvM(q, 1)
        self.conv_l = nn.Sequential(
            _dw(q, (1, 11), padding=(0, 5), bias=True), _dw(q, (11, 1), padding=(5, 0), bias=True)
        )

    def forward_plain(self, x: Tensor) -> Tensor:
        x_i, x_s, x_m, x_l = torch.split(x, self.chunk, dim=1)
        return torch.cat([x_i, self.conv_s(x_s), self.conv_m(x_m), self.conv_l(x_l)], dim=1)

    def mixer_kernels(self) -> list[Tensor | None]:
        l1, l2 = self.conv_l[0], self.conv_l[1]
        return [
            *self.conv_s.dw_kernel(),
            *self.conv_m.dw_kernel(),
            l1.weight,
            l1.bias,
            l2.weight,
            l2.bias,
        ]


class CopyMixer(_FusedMixer):
    """Downsample token mixer: all C channels through a stride-2 small and medium branch → 2C
    channels, ordered [all small outputs, all medium outputs]."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv_s = RepDWConvS(channels, 2)
        self.conv_m = RepDWConvM(channels, 2)

    def forward_plain(self, x: Tensor) -> Tensor:
        return torch.cat([self.conv_s(x), self.conv_m(x)], dim=1)

    def mixer_kernels(self) -> list[Tensor | None]:
        return [*self.conv_s.dw_kernel(), *self.conv_m.dw_kernel()]


def _mlp(channels: int, ratio: int = 2) -> nn.Sequential:
    hidden = channels * ratio
    return nn.Sequential(ConvBN(channels, hidden, 1), nn.GELU(), ConvBN(hidden, channels, 1))


class MetaNeXtBlock(nn.Module):
    """x + MLP(BN(ChunkMixer(x))); MLP = 1×1 ConvBN (2×) → GELU → 1×1 ConvBN."""

    def __init__(self, channels: int, mlp_ratio: int = 2) -> None:
        super().__init__()
        self.token_mixer = ChunkMixer(channels)
        self.norm = nn.BatchNorm2d(channels)
        self.channel_mixer = _mlp(channels, mlp_ratio)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.channel_mixer(mix_then_norm(self.token_mixer, self.norm, x))


class RepNeXtDownsample(nn.Module):
    """C → 2C at stride 2: y = BN(CopyMixer(x)); out = y + MLP(y) (the residual starts after BN)."""

    def __init__(self, channels: int, mlp_ratio: int = 2) -> None:
        super().__init__()
        self.token_mixer = CopyMixer(channels)
        self.norm = nn.BatchNorm2d(2 * channels)
        self.channel_mixer = _mlp(2 * channels, mlp_ratio)

    def forward(self, x: Tensor) -> Tensor:
        y = mix_then_norm(self.token_mixer, self.norm, x)
        return y + self.channel_mixer(y)


class RepNeXtStem(nn.Module):
    """3×3 s2 ConvBN → GELU → 3×3 s2 ConvBN (stride 4, no activation at the end)."""

    def __init__(self, out_channels: int) -> None:
        super().__init__()
        mid = out_channels // 2
        self.stem = nn.Sequential(
            ConvBN(3, mid, 3, 2, 1), nn.GELU(), ConvBN(mid, out_channels, 3, 2, 1)
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.stem(x)


class RepNeXtStage(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, depth: int, mlp_ratio: int = 2) -> None:
        super().__init__()
        if in_channels == out_channels:
            self.downsample: nn.Module = nn.Identity()
        elif out_channels == 2 * in_channels:
            self.downsample = RepNeXtDownsample(in_channels, mlp_ratio)
        else:
            raise ValueError(
                f"RepNeXt stage must keep or double the width, got {in_channels}->{out_channels}"
            )
        self.blocks = nn.Sequential(*[MetaNeXtBlock(out_channels, mlp_ratio) for _ in range(depth)])

    def forward(self, x: Tensor) -> Tensor:
        return self.blocks(self.downsample(x))


class RepNeXt(Backbone):
    """RepNeXt trunk without the classifier: stem (/4) and four stages (/4, /8, /16, /32)."""

    classifier_prefixes = ("head.",)  # official head.head.*, head.head_dist.* (fused: head.*)

    def __init__(
        self, embed_dims: tuple[int, ...], depths: tuple[int, ...], mlp_ratio: int = 2
    ) -> None:
        super().__init__()
        if len(embed_dims) != len(depths):
            raise ValueError(f"embed_dims {embed_dims} and depths {depths} differ in length")
        self.stem = RepNeXtStem(embed_dims[0])
        widths_in = (embed_dims[0],) + tuple(embed_dims[:-1])
        self.stages = nn.ModuleList(
            RepNeXtStage(cin, cout, d, mlp_ratio)
            for cin, cout, d in zip(widths_in, embed_dims, depths)
        )
        self.num_features = embed_dims[-1]
        self.stage_channels = tuple(embed_dims)
        self.stage_strides = tuple(4 * 2**i for i in range(len(embed_dims)))

    def forward_stages(self, x: Tensor) -> list[Tensor]:
        x = self.stem(x)
        outs = []
        for stage in self.stages:
            x = stage(x)
            outs.append(x)
        return outs

    def forward_features(self, x: Tensor) -> Tensor:
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        return x


# Variants: (embed dims, depths), from the official model file.
REPNEXT_VARIANTS: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "m0": ((40, 80, 160, 320), (2, 2, 9, 1)),
    "m1": ((48, 96, 192, 384), (3, 3, 15, 2)),
    "m2": ((56, 112, 224, 448), (3, 3, 15, 2)),
    "m3": ((64, 128, 256, 512), (3, 3, 13, 2)),
    "m4": ((64, 128, 256, 512), (5, 5, 25, 4)),
    "m5": ((80, 160, 320, 640), (7, 7, 35, 2)),
}


def _make_factory(variant: str):
    dims, depths = REPNEXT_VARIANTS[variant]

    def factory(deploy: bool = False, fused: bool = True) -> RepNeXt:
        model = set_fused(RepNeXt(dims, depths), fused)
        return reparameterize(model) if deploy else model

    factory.__name__ = f"repnext_{variant}"
    factory.__doc__ = (
        f"RepNeXt-{variant.upper()} backbone (deploy=True: reparameterized form; "
        "fused=False: plain PyTorch mixers instead of pyhpe.ops.repnext_mixer)."
    )
    return register_model(f"repnext_{variant}")(factory)


for _variant in REPNEXT_VARIANTS:
    _make_factory(_variant)
