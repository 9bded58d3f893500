"""MobileNetV3 Large and Small (Howard et al., 2019) as classifier-free backbones.

Layout and parameter names follow torchvision's definition (``features.<i>.block.<j>.<k>``), so its
ImageNet state_dicts load once the ``classifier.*`` keys are dropped. ``features`` ends with the
1×1 conv to 960 (Large) / 576 (Small) channels; the pooled 1280/1024-wide Linear layers belong to the
classifier and are not built. ``reparameterize()`` folds every BatchNorm into its conv.
"""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor, nn

from pyhpe.models.backbones._bn_fold import ConvNormSequential, check_images
from pyhpe.models.layers import Backbone
from pyhpe.models.registry import register_model
from pyhpe.models.reparam import reparameterize

__all__ = ["BneckConfig", "InvertedResidual", "MobileNetV3", "SqueezeExcitation", "make_divisible"]

_BN_EPS, _BN_MOMENTUM = 1e-3, 0.01  # the paper's TF defaults, as torchvision uses


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round ``value`` to a multiple of ``divisor``, never dropping more than 10 % (MobileNet rule)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


class BneckConfig(NamedTuple):
    """One bottleneck row of the paper's tables: kernel, expanded width, output width, SE, act, stride."""

    kernel: int
    expanded: int
    out: int
    use_se: bool
    use_hardswish: bool
    stride: int


def conv_norm_act(
    cin: int,
    cout: int,
    kernel: int,
    stride: int = 1,
    groups: int = 1,
    act: type[nn.Module] | None = None,
) -> ConvNormSequential:
    """torchvision's Conv2dNormActivation layout: ``0`` conv (no bias), ``1`` BN, optional ``2`` act."""
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout, eps=_BN_EPS, momentum=_BN_MOMENTUM),
    ]
    if act is not None:
        layers.append(act())
    return ConvNormSequential(*layers)


class SqueezeExcitation(nn.Module):
    """Channel gate: global mean → 1×1 ``fc1`` → ReLU → 1×1 ``fc2`` → hard-sigmoid → scale."""

    def __init__(self, channels: int, squeeze_channels: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, channels, 1)
        self.activation = nn.ReLU()
        self.scale_activation = nn.Hardsigmoid()

    def forward(self, x: Tensor) -> Tensor:
        scale = self.fc2(self.activation(self.fc1(x.mean((2, 3), keepdim=True))))
        return x * self.scale_activation(scale)


class InvertedResidual(nn.Module):
    """Bneck: [1×1 expand] → depthwise k×k → [SE] → 1×1 project (linear); residual when shapes allow."""

    def __init__(self, cin: int, cfg: BneckConfig) -> None:
        super().__init__()
        if cfg.stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {cfg.stride}")
        act = nn.Hardswish if cfg.use_hardswish else nn.ReLU
        layers: list[nn.Module] = []
        if cfg.expanded != cin:
            layers.append(conv_norm_act(cin, cfg.expanded, 1, act=act))
        layers.append(
            conv_norm_act(
                cfg.expanded, cfg.expanded, cfg.kernel, cfg.stride, groups=cfg.expanded, act=act
            )
        )
        if cfg.use_se:
            layers.append(SqueezeExcitation(cfg.expanded, make_divisible(cfg.expanded // 4)))
        layers.append(conv_norm_act(cfg.expanded, cfg.out, 1))
        self.block = nn.Sequential(*layers)
        self.use_res_connect = cfg.stride == 1 and cin == cfg.out
        self.out_channels = cfg.out

    def forward(self, x: Tensor) -> Tensor:
        y = self.block(x)
        return y + x if self.use_res_connect else y


# Paper Tables 1 and 2 (torchvision's rows): (kernel, expanded, out, SE, hard-swish, stride).
LARGE = [
    BneckConfig(3, 16, 16, False, False, 1),
    BneckConfig(3, 64, 24, False, False, 2),
    BneckConfig(3, 72, 24, False, False, 1),
    BneckConfig(5, 72, 40, True, False, 2),
    BneckConfig(5, 120, 40, True, False, 1),
    BneckConfig(5, 120, 40, True, False, 1),
    BneckConfig(3, 240, 80, False, True, 2),
    BneckConfig(3, 200, 80, False, True, 1),
    BneckConfig(3, 184, 80, False, True, 1),
    BneckConfig(3, 184, 80, False, True, 1),
    BneckConfig(3, 480, 112, True, True, 1),
    BneckConfig(3, 672, 112, True, True, 1),
    BneckConfig(5, 672, 160, True, True, 2),
    BneckConfig(5, 960, 160, True, True, 1),
    BneckConfig(5, 960, 160, True, True, 1),
]
SMALL = [
    BneckConfig(3, 16, 16, True, False, 2),
    BneckConfig(3, 72, 24, False, False, 2),
    BneckConfig(3, 88, 24, False, False, 1),
    BneckConfig(5, 96, 40, True, True, 2),
    BneckConfig(5, 240, 40, True, True, 1),
    BneckConfig(5, 240, 40, True, True, 1),
    BneckConfig(5, 120, 48, True, True, 1),
    BneckConfig(5, 144, 48, True, True, 1),
    BneckConfig(5, 288, 96, True, True, 2),
    BneckConfig(5, 576, 96, True, True, 1),
    BneckConfig(5, 576, 96, True, True, 1),
]


class MobileNetV3(Backbone):
    """``features``: stem (/2), bnecks, and the last 1×1 conv (6× the last bneck width).

    Stages are the last layer of each resolution from /4 on, so strides are (4, 8, 16, 32) and the
    /32 stage ends with the last 1×1 conv.
    """

    classifier_prefixes = ("classifier.",)  # official avgpool → Linear → Hardswish → Linear

    def __init__(self, rows: list[BneckConfig], stem_channels: int = 16) -> None:
        super().__init__()
        layers: list[nn.Module] = [conv_norm_act(3, stem_channels, 3, 2, act=nn.Hardswish)]
        strides, channels = [2], [stem_channels]
        cin = stem_channels
        for cfg in rows:
            layers.append(InvertedResidual(cin, cfg))
            cin = cfg.out
            strides.append(strides[-1] * cfg.stride)
            channels.append(cin)
        last = 6 * cin
        layers.append(conv_norm_act(cin, last, 1, act=nn.Hardswish))
        strides.append(strides[-1])
        channels.append(last)
        self.features = nn.Sequential(*layers)

        # Index of the last layer at each stride >= 4.
        self._stage_ends = [
            max(i for i, s in enumerate(strides) if s == target)
            for target in sorted(set(strides))
            if target >= 4
        ]
        self.stage_strides = tuple(strides[i] for i in self._stage_ends)
        self.stage_channels = tuple(channels[i] for i in self._stage_ends)
        self.num_features = last
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward_stages(self, x: Tensor) -> list[Tensor]:
        check_images(x)
        outs = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self._stage_ends:
                outs.append(x)
        return outs

    def forward_features(self, x: Tensor) -> Tensor:
        check_images(x)
        return self.features(x)


@register_model("mobilenetv3_large")
def mobilenetv3_large(deploy: bool = False) -> MobileNetV3:
    """MobileNetV3-Large 1.0 trunk (960 output channels; deploy=True: BN folded)."""
    model = MobileNetV3(LARGE)
    return reparameterize(model) if deploy else model


@register_model("mobilenetv3_small")
def mobilenetv3_small(deploy: bool = False) -> MobileNetV3:
    """MobileNetV3-Small 1.0 trunk (576 output channels; deploy=True: BN folded)."""
    model = MobileNetV3(SMALL)
    return reparameterize(model) if deploy else model
