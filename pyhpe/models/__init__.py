"""Models: backbones by family, the 6DRepNet head, reparameterization and checkpoint loading.

``create_model(name, pretrained=None, **kw)`` builds any registered model (see ``list_models()``)
and optionally loads an official or pyhpe checkpoint into it; ``load(path, name=None)`` reads any
kind of weights file and returns ``(model, card)`` (pyhpe.models.loader).
"""

from __future__ import annotations

import os

from torch import nn

from pyhpe.models.registry import get_factory, list_models
from pyhpe.models.reparam import reparameterize

__all__ = ["create_model", "list_models", "load", "reparameterize"]


def create_model(name: str, pretrained: str | os.PathLike | None = None, **kwargs) -> nn.Module:
    """Build the registered model ``name`` (factory keyword arguments in ``kwargs``).

    ``pretrained``: path to a checkpoint (6DRepNet .pth/.tar, RepNeXt/RepVGG ImageNet files, or a
    state_dict of this model); see :func:`pyhpe.models.checkpoints.load_checkpoint`. A fused
    checkpoint reparameterizes the model first, so the result is in deploy form.
    """
    model = get_factory(name)(**kwargs)
    if pretrained is not None:
        from pyhpe.models.checkpoints import load_checkpoint

        load_checkpoint(model, pretrained)
    return model


def load(path: str | os.PathLike, name: str | None = None, **options):
    """(model, card) from any weights file; see :func:`pyhpe.models.loader.load`."""
    from pyhpe.models.loader import load as _load

    return _load(path, name, **options)
