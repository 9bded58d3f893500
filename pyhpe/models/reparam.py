"""Turn a training-form model into its deploy form by calling every module's ``reparameterize()``."""

from __future__ import annotations

from torch import nn


def reparameterize(model: nn.Module) -> nn.Module:
    """Reparameterize ``model`` in place, children before parents, and return it.

    Every module with a callable ``reparameterize`` attribute is converted; modules must make
    that method idempotent, so calling this twice is harmless. The model is switched to eval
    mode first: fusing uses BatchNorm running statistics, i.e. inference behaviour.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"reparameterize expects an nn.Module, got {type(model).__name__}")
    model.eval()
    _visit(model)
    return model


def _visit(module: nn.Module) -> None:
    # Snapshot the children: reparameterize() may delete or add submodules.
    for child in list(module.children()):
        _visit(child)
    method = getattr(module, "reparameterize", None)
    if callable(method):
        method()
