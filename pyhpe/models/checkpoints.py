"""Load official checkpoints (6DRepNet, RepNeXt, RepVGG) and pyhpe state_dicts into our models.

Reading is always ``torch.load(..., weights_only=True)`` (no arbitrary unpickling); official
RepNeXt training files also pickle an ``argparse.Namespace``, which is the one extra class we
allow. TorchScript archives (RepNeXt's ``*_fused.pt``) are read with ``torch.jit.load`` for their
tensors only.

Loading is all-or-nothing: the converted keys and shapes are compared with the model first, and a
:class:`CheckpointMismatchError` names the missing and unexpected keys and the differing shapes.
A fused (deploy-form) checkpoint put into a training-form model reparameterizes the model first.
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import zipfile
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from pyhpe.models.reparam import reparameterize

__all__ = [
    "CheckpointMismatchError",
    "convert_state_dict",
    "load_checkpoint",
    "read_state_dict",
]

# Wrappers used by the official training scripts, tried in this order.
_WRAPPER_KEYS = ("model_state_dict", "state_dict", "model")
_MAX_LISTED = 12


class CheckpointMismatchError(ValueError):
    """The checkpoint's keys or shapes do not fit the model; nothing was loaded."""

    def __init__(
        self, missing: list[str], unexpected: list[str], shapes: list[tuple[str, tuple, tuple]]
    ):
        self.missing, self.unexpected, self.shapes = missing, unexpected, shapes
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys: {_clip(missing)}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys: {_clip(unexpected)}")
        if shapes:
            listed = [f"{k}: checkpoint {tuple(a)} vs model {tuple(b)}" for k, a, b in shapes]
            parts.append(f"{len(shapes)} shape mismatches: {_clip(listed)}")
        super().__init__("checkpoint does not match the model, nothing loaded; " + "; ".join(parts))


def _clip(items: list[str]) -> str:
    shown = ", ".join(items[:_MAX_LISTED])
    return shown + (f", ... (+{len(items) - _MAX_LISTED} more)" if len(items) > _MAX_LISTED else "")


def _is_state_dict(obj: object) -> bool:
    return (
        isinstance(obj, Mapping)
        and len(obj) > 0
        and all(isinstance(v, Tensor) for v in obj.values())
    )


def load_weights_only(path: str | os.PathLike) -> Any:
    """``torch.load(path, weights_only=True)`` on the CPU: tensors and containers, no code runs.
    Anything else (a pickle naming other objects, a truncated or foreign file) is a one-line
    ValueError naming the file; the one place pyhpe calls ``torch.load``."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # UnpicklingError, RuntimeError, EOFError, ...: say why, briefly
        text = str(err).strip()
        first = text.splitlines()[0].split(". ")[0] if text else type(err).__name__
        raise ValueError(f"{path}: not weights that torch.load(weights_only=True) can read, which runs no code ({first}); "
                         "re-save just its state_dict (tensors only)") from err

def _is_torchscript(path: str) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as zf:
        return any(n.endswith("constants.pkl") or "/code/" in n for n in zf.namelist())


def read_state_dict(source: str | os.PathLike | Mapping[str, Tensor]) -> dict[str, Tensor]:
    """A flat {name: tensor} from a file or mapping: unwraps ``model_state_dict`` / ``state_dict`` /
    ``model`` and strips a DDP ``module.`` prefix."""
    if isinstance(source, Mapping):
        obj: object = source
    else:
        path = os.fspath(source)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"checkpoint not found: {path}")
        if path.endswith(".safetensors"):
            from safetensors.torch import load_file

            obj = load_file(path)
        elif _is_torchscript(path):
            obj = dict(torch.jit.load(path, map_location="cpu").state_dict())
        else:
            with torch.serialization.safe_globals([argparse.Namespace]):
                obj = load_weights_only(path)
    if not _is_state_dict(obj):
        for key in _WRAPPER_KEYS:
            if isinstance(obj, Mapping) and _is_state_dict(obj.get(key)):
                obj = obj[key]
                break
        else:
            keys = list(obj.keys())[:10] if isinstance(obj, Mapping) else type(obj).__name__
            raise ValueError(
                f"no state_dict found in checkpoint (top level: {keys}); expected tensors or one of "
                f"{_WRAPPER_KEYS}"
            )
    state = dict(obj)
    if all(k.startswith("module.") for k in state):
        state = {k[len("module.") :]: v for k, v in state.items()}
    return state


def _drop_prefixes(state: dict[str, Tensor], prefixes: tuple[str, ...]) -> dict[str, Tensor]:
    return {k: v for k, v in state.items() if not k.startswith(prefixes)}


def convert_state_dict(
    model: nn.Module, state: dict[str, Tensor]
) -> tuple[nn.Module, dict[str, Tensor]]:
    """Map an official key layout onto ``model``'s; returns (module to load into, state).

    - bare backbone: drop the ImageNet classifier (``Backbone.classifier_prefixes``);
    - SixDRepNet with a 6DRepNet release (``layer0.`` ... ``linear_reg.``): prefix ``backbone.``
      and, for RepVGG, rename ``layerN`` to ``stageN``;
    - SixDRepNet with a bare-backbone file (no ``linear_reg``): load into ``model.backbone`` only,
      leaving the fresh head (ImageNet initialisation of a new pose model).
    """
    from pyhpe.models.backbones.repvgg import RepVGG
    from pyhpe.models.sixdrepnet import SixDRepNet

    if isinstance(model, SixDRepNet):
        if any(k.startswith("backbone.") for k in state):
            return model, state
        if not any(k.startswith("linear_reg.") for k in state):
            return convert_state_dict(model.backbone, state)
        converted = {}
        for key, value in state.items():
            if not key.startswith("linear_reg."):
                if isinstance(model.backbone, RepVGG):
                    key = re.sub(r"^layer(\d)\.", r"stage\1.", key)
                key = "backbone." + key
            converted[key] = value
        return model, converted
    prefixes = tuple(getattr(model, "classifier_prefixes", ()))
    return model, _drop_prefixes(state, prefixes) if prefixes else state


def _mismatch(module: nn.Module, state: Mapping[str, Tensor]) -> CheckpointMismatchError | None:
    expected = module.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [
        (k, tuple(state[k].shape), tuple(expected[k].shape))
        for k in expected
        if k in state and state[k].shape != expected[k].shape
    ]
    if missing or unexpected or shapes:
        return CheckpointMismatchError(missing, unexpected, shapes)
    return None


def _problem_count(error: CheckpointMismatchError) -> int:
    return len(error.missing) + len(error.unexpected) + len(error.shapes)


def load_checkpoint(
    model: nn.Module, source: str | os.PathLike | Mapping[str, Tensor]
) -> nn.Module:
    """Load ``source`` into ``model`` in place (all or nothing) and return the model.

    A fused checkpoint for a training-form model reparameterizes the model first (the model then
    stays in deploy form). A training-form checkpoint cannot go into an already fused model: build
    it with ``deploy=False``, load, then reparameterize.
    """
    state = read_state_dict(source)
    target, state = convert_state_dict(model, state)
    error = _mismatch(target, state)
    if error is not None:
        fused_error = _mismatch(reparameterize(copy.deepcopy(target)), state)
        if fused_error is None:
            reparameterize(model)  # in place: `target` (model or model.backbone) is now fused
        else:  # report against whichever form the checkpoint is closer to
            raise min(error, fused_error, key=_problem_count)
    target.load_state_dict(state, strict=True)
    return model
