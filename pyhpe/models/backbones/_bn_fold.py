"""BatchNorm folding for layouts that keep conv and BN as *sibling* modules (official key names).

Several official releases (torchvision's MobileNetV3 and ResNet, EfficientFormerV2, MobileViG)
store a conv and its BatchNorm as siblings -- ``features.0.0`` / ``features.0.1`` or ``conv1`` /
``bn1`` -- rather than inside one wrapper. :class:`pyhpe.models.layers.ConvBN` cannot reproduce
those names, so these helpers fold the BN into the existing conv in place instead: the conv keeps
its name and gains a bias, the BN becomes ``nn.Identity`` (no state_dict keys). Folding twice is a
no-op, which makes every ``reparameterize()`` built on them idempotent.
"""

from __future__ import annotations

import itertools

from torch import Tensor, nn

from pyhpe.models.layers import fuse_conv_bn

__all__ = ["ConvNormSequential", "check_images", "fold_bn_pair"]


def fold_bn_pair(owner: nn.Module, conv_name: str, bn_name: str) -> None:
    """Fold ``owner.<bn_name>`` (eval statistics) into ``owner.<conv_name>``; the BN becomes Identity."""
    conv, bn = getattr(owner, conv_name), getattr(owner, bn_name)
    if isinstance(bn, nn.Identity):
        return  # already folded
    if not isinstance(conv, nn.Conv2d) or not isinstance(bn, nn.BatchNorm2d):
        raise TypeError(
            f"cannot fold {type(bn).__name__} {bn_name!r} into {type(conv).__name__} {conv_name!r}"
        )
    weight, bias = fuse_conv_bn(conv.weight, conv.bias, bn)
    conv.weight = nn.Parameter(weight)
    conv.bias = nn.Parameter(bias)
    setattr(owner, bn_name, nn.Identity())


class ConvNormSequential(nn.Sequential):
    """``nn.Sequential`` whose ``reparameterize()`` folds every BatchNorm2d that directly follows a Conv2d.

    Used for the official ``Sequential(conv, bn[, act])`` layouts, so keys stay ``<i>.weight``.
    """

    def reparameterize(self) -> None:
        names = list(self._modules)
        for conv_name, bn_name in itertools.pairwise(names):
            if isinstance(self._modules[conv_name], nn.Conv2d) and isinstance(
                self._modules[bn_name], nn.BatchNorm2d
            ):
                fold_bn_pair(self, conv_name, bn_name)


def check_images(x: Tensor, size: int | None = None) -> None:
    """Raise ValueError unless ``x`` is a (B, 3, H, W) float batch (of side ``size`` when given)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"expected a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"expected images of shape (B, 3, H, W), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"expected a floating-point image batch, got {x.dtype}")
    if x.shape[0] == 0:
        raise ValueError("empty batch")
    if size is not None and tuple(x.shape[-2:]) != (size, size):
        raise ValueError(
            f"this model was built for {size}x{size} inputs (its attention biases are sized for that "
            f"resolution), got {x.shape[-2]}x{x.shape[-1]}; build it with img_size={x.shape[-1]}"
        )
