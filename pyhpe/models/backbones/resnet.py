"""ResNet-18 and ResNet-50 (He et al., 2016) as classifier-free backbones (TRGv2's and 6DRepNet360's trunks).

Layout and parameter names follow torchvision (``conv1``/``bn1``, ``layer1..4.<i>.conv1``,
``downsample.0/1``; ResNet-50 is "v1.5", stride on the 3×3), so its ImageNet state_dicts load once
``fc.*`` is dropped. Stages are ``layer1..layer4`` at strides 4, 8, 16, 32. ``reparameterize()``
folds every BatchNorm into the conv before it, keeping the conv's name.
"""

from __future__ import annotations

from torch import Tensor, nn

from pyhpe.models.backbones._bn_fold import ConvNormSequential, check_images, fold_bn_pair
from pyhpe.models.layers import Backbone
from pyhpe.models.registry import register_model
from pyhpe.models.reparam import reparameterize

__all__ = ["BasicBlock", "Bottleneck", "ResNet"]


def _conv(cin: int, cout: int, kernel: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False)


def _shortcut(cin: int, cout: int, stride: int) -> ConvNormSequential | None:
    """1×1 strided projection + BN where the residual changes shape, else None (identity)."""
    if stride == 1 and cin == cout:
        return None
    return ConvNormSequential(_conv(cin, cout, 1, stride), nn.BatchNorm2d(cout))


class _ResidualBlock(nn.Module):
    """Shared forward/fold logic: ``convs`` lists (conv, bn) sibling names applied in order."""

    convs: tuple[tuple[str, str], ...]
    downsample: ConvNormSequential | None

    def forward(self, x: Tensor) -> Tensor:
        y = x
        for i, (conv, bn) in enumerate(self.convs):
            y = getattr(self, bn)(getattr(self, conv)(y))
            if i < len(self.convs) - 1:
                y = self.relu(y)
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(y + shortcut)

    def reparameterize(self) -> None:
        for conv, bn in self.convs:
            fold_bn_pair(self, conv, bn)


class BasicBlock(_ResidualBlock):
    """Two 3×3 convs (stride on the first); ResNet-18/34."""

    expansion = 1
    convs = (("conv1", "bn1"), ("conv2", "bn2"))

    def __init__(self, cin: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1, self.bn1 = _conv(cin, planes, 3, stride), nn.BatchNorm2d(planes)
        self.conv2, self.bn2 = _conv(planes, planes, 3), nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _shortcut(cin, planes, stride)


class Bottleneck(_ResidualBlock):
    """1×1 reduce → 3×3 (strided, v1.5) → 1×1 expand ×4; ResNet-50/101/152."""

    expansion = 4
    convs = (("conv1", "bn1"), ("conv2", "bn2"), ("conv3", "bn3"))

    def __init__(self, cin: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        cout = planes * self.expansion
        self.conv1, self.bn1 = _conv(cin, planes, 1), nn.BatchNorm2d(planes)
        self.conv2, self.bn2 = _conv(planes, planes, 3, stride), nn.BatchNorm2d(planes)
        self.conv3, self.bn3 = _conv(planes, cout, 1), nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _shortcut(cin, cout, stride)


class ResNet(Backbone):
    """Stem (7×7/2 conv, BN, ReLU, 3×3/2 max-pool) and four stages of residual blocks."""

    classifier_prefixes = ("fc.",)

    def __init__(
        self, block: type[BasicBlock | Bottleneck], depths: tuple[int, int, int, int]
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin, channels = 64, []
        for i, depth in enumerate(depths):
            planes = 64 * 2**i
            blocks = [block(cin, planes, 1 if i == 0 else 2)]
            cin = planes * block.expansion
            blocks += [block(cin, planes) for _ in range(depth - 1)]
            self.add_module(f"layer{i + 1}", nn.Sequential(*blocks))
            channels.append(cin)
        self.stage_channels = tuple(channels)
        self.stage_strides = (4, 8, 16, 32)
        self.num_features = cin
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def stem(self, x: Tensor) -> Tensor:
        check_images(x)
        return self.maxpool(self.relu(self.bn1(self.conv1(x))))

    def forward_stages(self, x: Tensor) -> list[Tensor]:
        x = self.stem(x)
        outs = []
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            x = layer(x)
            outs.append(x)
        return outs

    def forward_features(self, x: Tensor) -> Tensor:
        return self.layer4(self.layer3(self.layer2(self.layer1(self.stem(x)))))

    def reparameterize(self) -> None:
        """Fold the stem BN (the blocks fold their own)."""
        fold_bn_pair(self, "conv1", "bn1")


@register_model("resnet18")
def resnet18(deploy: bool = False) -> ResNet:
    """ResNet-18 trunk, 512 output channels (deploy=True: BN folded)."""
    model = ResNet(BasicBlock, (2, 2, 2, 2))
    return reparameterize(model) if deploy else model


@register_model("resnet50")
def resnet50(deploy: bool = False) -> ResNet:
    """ResNet-50 (v1.5) trunk, 2048 output channels (deploy=True: BN folded)."""
    model = ResNet(Bottleneck, (3, 4, 6, 3))
    return reparameterize(model) if deploy else model
