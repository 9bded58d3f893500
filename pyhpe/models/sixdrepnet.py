"""6DRepNet's rotation head on any registered backbone.

backbone → global average pool → ``linear_reg`` Linear(num_features, 6) → Gram-Schmidt.
``forward`` returns a :class:`~pyhpe.models.outputs.PoseOutput` with ``sixd`` (the raw 6 numbers,
what deployment exports) and ``R`` (B, 3, 3); the task ``sixd_rotation`` (pyhpe.tasks) trains,
evaluates and exports it.

Every bare backbone registered by a module under ``pyhpe.models.backbones`` gets a
``sixdrepnet_<name>`` entry here, at import time, so new backbone families need no edit here.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

import pyhpe.models.backbones  # noqa: F401  (fills the registry with bare backbones)
from pyhpe.models import registry
from pyhpe.models.layers import Backbone
from pyhpe.models.outputs import PoseOutput
from pyhpe.tasks.sixd_rotation import sixd_to_rotation

__all__ = ["SixDRepNet", "backbone_names"]


class SixDRepNet(nn.Module):
    """Rotation regressor: ``forward(x)`` → PoseOutput(R (B,3,3) head → camera, sixd (B,6))."""

    pose_task = "sixd_rotation"

    def __init__(self, backbone: Backbone) -> None:
        super().__init__()
        num_features = getattr(backbone, "num_features", None)
        if not isinstance(num_features, int):
            raise TypeError(
                f"{type(backbone).__name__} has no integer `num_features`; a SixDRepNet backbone "
                "must follow pyhpe.models.layers.Backbone"
            )
        self.backbone = backbone
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.linear_reg = nn.Linear(num_features, 6)

    @property
    def input_size(self) -> int:
        return getattr(self.backbone, "input_size", 224)

    @property
    def fixed_input_size(self) -> bool:
        return getattr(self.backbone, "fixed_input_size", False)

    def forward(self, x: Tensor) -> PoseOutput:
        """(B,3,H,W) normalised images → R and the raw 6D vector (first and second columns)."""
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"expected images of shape (B, 3, H, W), got {tuple(x.shape)}")
        features = self.backbone.forward_features(x)
        sixd = self.linear_reg(torch.flatten(self.gap(features), 1))
        return PoseOutput(R=sixd_to_rotation(sixd), sixd=sixd)


def backbone_names() -> list[str]:
    """Registered bare backbones: factories defined in a module under ``pyhpe.models.backbones``."""
    return sorted(
        name
        for name, fn in registry._REGISTRY.items()
        if getattr(fn, "__module__", "").startswith("pyhpe.models.backbones.")
    )


def _register_head(backbone_name: str) -> None:
    backbone_factory = registry._REGISTRY[backbone_name]

    def factory(deploy: bool = False, **backbone_kwargs) -> SixDRepNet:
        model = SixDRepNet(backbone_factory(**backbone_kwargs))
        if deploy:
            from pyhpe.models.reparam import reparameterize

            reparameterize(model)
        return model

    factory.pose_task = SixDRepNet.pose_task
    factory.__name__ = f"sixdrepnet_{backbone_name}"
    factory.__doc__ = f"6DRepNet rotation head on {backbone_name} (deploy=True: fused form)."
    registry.register_model(f"sixdrepnet_{backbone_name}")(factory)


for _name in backbone_names():
    _register_head(_name)
