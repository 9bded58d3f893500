"""Model registry: every constructible model (bare backbones and full pose models) by name."""

from __future__ import annotations

from typing import Callable

import torch.nn as nn

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}


def register_model(name: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator: ``@register_model("repnext_m4")`` on a factory ``fn(**kw) -> nn.Module``."""

    def wrap(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is registered twice")
        _REGISTRY[name] = fn
        return fn

    return wrap


def _import_all() -> None:
    """Import the modules whose decorators fill the registry."""
    import pyhpe.models.backbones  # noqa: F401
    import pyhpe.models.sixdrepnet  # noqa: F401
    import pyhpe.models.trg  # noqa: F401


def list_models(pattern: str = "*") -> list[str]:
    """Sorted registered names matching a glob pattern."""
    import fnmatch

    _import_all()
    return sorted(n for n in _REGISTRY if fnmatch.fnmatch(n, pattern))


def get_factory(name: str) -> Callable[..., nn.Module]:
    _import_all()
    if name not in _REGISTRY:
        import difflib

        close = difflib.get_close_matches(name, _REGISTRY, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise KeyError(f"unknown model {name!r}{hint} (see `pyhpe models --list`)")
    return _REGISTRY[name]
