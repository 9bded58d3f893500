"""Building blocks shared by every backbone: conv+BN with an in-place fuse, kernel-merge helpers,
and the :class:`Backbone` base class that fixes what a backbone exposes to heads.

Deploy-form convention: a module that can be simplified for inference has ``reparameterize()``,
which rewrites it in place and is a no-op the second time. After fusing, a :class:`ConvBN`
holds ``weight`` and ``bias`` directly (no ``conv``/``norm`` children), so its state_dict keys are
``<prefix>.weight`` / ``<prefix>.bias`` -- the layout official fused checkpoints use.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "Backbone",
    "ConvBN",
    "fuse_conv_bn",
    "identity_kernel",
    "pad_kernel",
]


def fuse_conv_bn(
    conv_weight: Tensor, conv_bias: Tensor | None, bn: nn.BatchNorm2d | nn.BatchNorm1d
) -> tuple[Tensor, Tensor]:
    """Fold an eval-mode BatchNorm that follows a conv into the conv's (weight, bias).

    With s = γ/√(running_var+eps): W' = s[o]·W[o,...], b' = β + s·(b_conv − running_mean).
    A BN without affine parameters counts as γ=1, β=0. Returns new tensors (no grad history).
    """
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError(
            "fuse_conv_bn needs a BatchNorm with running statistics (track_running_stats)"
        )
    if conv_weight.shape[0] != bn.num_features:
        raise ValueError(
            f"conv has {conv_weight.shape[0]} output channels but the BatchNorm has {bn.num_features}"
        )
    with torch.no_grad():
        mean, var = bn.running_mean, bn.running_var
        gamma = bn.weight if bn.weight is not None else torch.ones_like(mean)
        beta = bn.bias if bn.bias is not None else torch.zeros_like(mean)
        scale = gamma / torch.sqrt(var + bn.eps)
        bias = conv_bias if conv_bias is not None else torch.zeros_like(mean)
        shape = (-1,) + (1,) * (conv_weight.dim() - 1)
        return conv_weight * scale.reshape(shape), beta + scale * (bias - mean)


def pad_kernel(weight: Tensor, size: tuple[int, int]) -> Tensor:
    """Zero-pad a (O, I, kh, kw) kernel to (O, I, H, W), centred (all our branches use 'same' padding)."""
    kh, kw = weight.shape[-2:]
    H, W = size
    if (H - kh) % 2 or (W - kw) % 2 or H < kh or W < kw:
        raise ValueError(f"cannot centre a {kh}x{kw} kernel in {H}x{W}")
    ph, pw = (H - kh) // 2, (W - kw) // 2
    return F.pad(weight, [pw, pw, ph, ph])


def identity_kernel(
    channels: int,
    groups: int,
    size: int,
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Tensor:
    """The (C, C/groups, k, k) kernel of a 'same' conv that returns its input unchanged."""
    if channels % groups:
        raise ValueError(f"channels {channels} not divisible by groups {groups}")
    per_group = channels // groups
    k = torch.zeros(channels, per_group, size, size, dtype=dtype, device=device)
    idx = torch.arange(channels, device=device)
    k[idx, idx % per_group, size // 2, size // 2] = 1.0
    return k


class ConvBN(nn.Module):
    """Conv2d (no bias by default) followed by BatchNorm2d; ``reparameterize()`` folds the BN.

    ``conv_name`` / ``norm_name`` set the child names so that each family keeps its official
    key layout (RepNeXt: ``conv``/``norm``; RepVGG: ``conv``/``bn``; RepViT: ``c``/``bn``).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int] = 1,
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] | None = None,
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
        *,
        conv_bias: bool = False,
        bn_eps: float = 1e-5,
        bn_momentum: float = 0.1,
        bn_weight_init: float = 1.0,
        conv_name: str = "conv",
        norm_name: str = "norm",
    ) -> None:
        super().__init__()
        if padding is None:  # 'same' for odd kernels at stride 1
            ks = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
            padding = (ks[0] // 2, ks[1] // 2)
        conv = nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias=conv_bias,
        )
        norm = nn.BatchNorm2d(out_channels, eps=bn_eps, momentum=bn_momentum)
        nn.init.constant_(norm.weight, bn_weight_init)
        nn.init.zeros_(norm.bias)
        self._conv_name, self._norm_name = conv_name, norm_name
        self.add_module(conv_name, conv)
        self.add_module(norm_name, norm)
        self.stride, self.padding = conv.stride, conv.padding
        self.dilation, self.groups = conv.dilation, conv.groups
        self.deployed = False

    @property
    def out_channels(self) -> int:
        return (
            self.weight.shape[0] if self.deployed else getattr(self, self._conv_name).out_channels
        )

    def forward(self, x: Tensor) -> Tensor:
        if self.deployed:
            return F.conv2d(
                x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups
            )
        return getattr(self, self._norm_name)(getattr(self, self._conv_name)(x))

    def fused_weight_bias(self) -> tuple[Tensor, Tensor]:
        """The (weight, bias) of the single conv equivalent to this module in eval mode."""
        if self.deployed:
            return self.weight.detach(), self.bias.detach()
        conv = getattr(self, self._conv_name)
        return fuse_conv_bn(conv.weight, conv.bias, getattr(self, self._norm_name))

    def reparameterize(self) -> None:
        """Replace conv+BN by one conv with bias, in place (keys become ``weight``/``bias``)."""
        if self.deployed:
            return
        weight, bias = self.fused_weight_bias()
        delattr(self, self._conv_name)
        delattr(self, self._norm_name)
        self.weight = nn.Parameter(weight.clone())
        self.bias = nn.Parameter(bias.clone())
        self.deployed = True

    def extra_repr(self) -> str:
        return "deployed" if self.deployed else ""


class Backbone(nn.Module):
    """What every backbone exposes (set the attributes in ``__init__``).

    - ``num_features``: channels of the last feature map (what a pooled head sees);
    - ``stage_channels`` / ``stage_strides``: channels and output stride of each stage, in order;
    - ``forward_stages(x)``: one feature map per stage (dense heads take the stride-8 one);
    - ``forward_features(x)``: the last feature map; ``forward`` is the same;
    - ``input_size``: the native square input side (MACs and latency are measured there);
    - ``fixed_input_size``: True when the model only runs at ``input_size`` (e.g. learned
      attention biases sized for one resolution); tests then use that size instead of 64;
    - ``classifier_prefixes``: key prefixes of the official classifier, dropped when an ImageNet
      checkpoint is loaded (e.g. ``("head.",)``).
    """

    num_features: int
    stage_channels: tuple[int, ...]
    stage_strides: tuple[int, ...]
    input_size: int = 224
    fixed_input_size: bool = False
    classifier_prefixes: tuple[str, ...] = ()  # official ImageNet-head keys, dropped on loading

    def forward_stages(self, x: Tensor) -> list[Tensor]:
        raise NotImplementedError

    def forward_features(self, x: Tensor) -> Tensor:
        return self.forward_stages(x)[-1]

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_features(x)

    def stage_index_for_stride(self, stride: int) -> int:
        """Index of the stage whose output has this stride (ValueError naming the strides we have)."""
        if stride not in self.stage_strides:
            raise ValueError(f"no stage with stride {stride}; strides are {self.stage_strides}")
        return self.stage_strides.index(stride)
