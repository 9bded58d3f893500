"""One loader for every kind of weights: ``pyhpe.models.load(path, name=None) -> (model, card)``.

Kinds, told apart by content (not by the caller):

* a pyhpe model file (``.safetensors`` + ``.json`` sidecar, what ``pyhpe train`` writes): the
  card in the sidecar says everything;
* a pyhpe training checkpoint (``checkpoints/last.safetensors``): the model named in its
  metadata, the card from the run's ``config.yaml`` beside it (input size, test crop);
* anything else — an official 6DRepNet release ``.pth`` / training ``.tar``, official backbone
  (ImageNet) weights, a plain state_dict (``.pth``/``.pt``/``.safetensors``) — goes through
  :func:`pyhpe.models.checkpoints.load_checkpoint` into the registry model ``name``, which must
  then be given; its card has the task's default crop.

``name`` given for a file that names its own model must agree with it. A wrong architecture is a
ValueError that says which keys or shapes disagree. Used by train (fine-tuning), eval, export and
predict; nothing is unpickled except through ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import os
from pathlib import Path

from torch import nn

from pyhpe.models.card import CropRule, ModelCard

__all__ = ["load", "describe_kind"]


def describe_kind(path: str | os.PathLike) -> str:
    """"pyhpe-model", "pyhpe-train-checkpoint", "state-dict" (a plain safetensors state_dict) or
    "official" (a .pth/.tar/.pt file in an official or state_dict layout)."""
    from pyhpe.models.io import sidecar_path

    path = Path(path)
    if path.suffix == ".safetensors":
        if sidecar_path(path).is_file():
            return "pyhpe-model"
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="pt") as f:
                if "pyhpe" in (f.metadata() or {}):
                    return "pyhpe-train-checkpoint"
        except Exception as err:  # safetensors raises its own error types
            raise ValueError(f"{path}: not a safetensors file ({err})") from err
        return "state-dict"
    return "official"


def load(path: str | os.PathLike, name: str | None = None, kwargs: dict | None = None,
         input_size: int | None = None) -> tuple[nn.Module, ModelCard]:
    """(model in eval mode, its card) for any supported weights file (see the module docstring).

    ``kwargs``: factory keyword arguments when the file does not carry them; ``input_size``: the
    card's input size for files that do not say (default: the model's own, else 224).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    kind = describe_kind(path)
    if kind == "pyhpe-model":
        from pyhpe.models.io import load_model

        model, card = load_model(path)
        _check_name(path, card.model, name)
        return model, card
    if kind == "pyhpe-train-checkpoint":
        return _load_train_checkpoint(path, name, kwargs)
    if not name:
        raise ValueError(f"{path.name} is not a pyhpe model file: name its architecture (--model NAME, "
                         "see `pyhpe models --list`)")
    model = _create(name, kwargs)
    train_keys = set(model.state_dict())
    from pyhpe.models.checkpoints import load_checkpoint

    load_checkpoint(model, path)
    return model.eval(), _card_for(model, name, kwargs, input_size, train_keys)


def _create(name: str, kwargs: dict | None) -> nn.Module:
    from pyhpe.models import create_model

    try:
        return create_model(name, **(kwargs or {}))
    except KeyError as err:
        raise ValueError(err.args[0]) from err


def _check_name(path: Path, holds: str, wanted: str | None) -> None:
    if wanted and wanted != holds:
        raise ValueError(f"{path} holds {holds}, not {wanted}")


def _card_for(model: nn.Module, name: str, kwargs: dict | None, input_size: int | None,
              train_keys: set[str], crop: CropRule | None = None) -> ModelCard:
    from pyhpe.tasks import task_of

    form = "train" if set(model.state_dict()) == train_keys else "deploy"
    size = int(input_size or getattr(model, "input_size", 224))
    return task_of(model).card(name, kwargs, size, crop, form=form)


def _load_train_checkpoint(path: Path, name: str | None, kwargs: dict | None) -> tuple[nn.Module, ModelCard]:
    """A training checkpoint: its model weights, the card from the run's config.yaml if present."""
    from pyhpe.engine.checkpoint import prefixed, read_checkpoint

    tensors, meta = read_checkpoint(path)
    holds = meta.get("extra", {}).get("model")
    _check_name(path, holds, name) if holds else None
    model_name = holds or name
    if not model_name:
        raise ValueError(f"{path}: the checkpoint does not name its model; pass --model")
    run_cfg = _run_config(path)
    kwargs = kwargs if kwargs is not None else run_cfg.get("model", {}).get("kwargs") or {}
    model = _create(model_name, kwargs)
    train_keys = set(model.state_dict())
    from pyhpe.models.checkpoints import load_checkpoint

    load_checkpoint(model, prefixed(tensors, "model"))
    data = run_cfg.get("data", {})
    crop = None
    if "test_resize" in data or "test_margin" in data:
        crop = CropRule(margin=float(data.get("test_margin", 0.2)), resize=int(data.get("test_resize", 256)))
    return model.eval(), _card_for(model, model_name, kwargs, data.get("input_size"), train_keys, crop)


def _run_config(path: Path) -> dict:
    """``config.yaml`` of the run a checkpoint belongs to (``<run>/checkpoints/x.safetensors``)."""
    run_cfg = path.parent.parent / "config.yaml"
    if not run_cfg.is_file():
        return {}
    from pyhpe.engine.config import read_yaml_mapping

    return read_yaml_mapping(run_cfg)
