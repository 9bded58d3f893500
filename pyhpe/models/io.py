"""pyhpe's own model files: weights as safetensors plus a JSON sidecar holding the model card.

``save_model(model, "run/model.safetensors", card)`` writes ``model.safetensors`` and
``model.json``::

    {"format": "pyhpe-model", "version": 2, "card": {...pyhpe.models.card...}, "extra": {...}}

Version-1 sidecars ({"format": "pyhpe-model", "version": 1, "model", "kwargs", "input_size",
"extra"}) still read: their card gets the model's task and that task's default crop.
``load_model`` rebuilds the model from the registry and loads the weights (all or nothing); no
pickle is involved anywhere. :func:`pyhpe.models.load` reads every other kind of weights too.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch.nn as nn

from pyhpe.models.card import ModelCard

FORMAT = "pyhpe-model"
FORMAT_VERSION = 2


def sidecar_path(weights: str | os.PathLike) -> Path:
    return Path(weights).with_suffix(".json")


def model_form(model: nn.Module, name: str, kwargs: dict | None = None) -> str:
    """"train" when ``model`` has the parameter layout of a fresh ``name`` model, else "deploy"."""
    from pyhpe.models import create_model

    fresh = create_model(name, **(kwargs or {}))
    return "train" if set(fresh.state_dict()) == set(model.state_dict()) else "deploy"


def save_model(
    model: nn.Module,
    path: str | os.PathLike,
    card: ModelCard | None = None,
    *,
    name: str | None = None,
    kwargs: dict | None = None,
    input_size: int = 224,
    extra: dict | None = None,
) -> Path:
    """Write ``path`` (.safetensors) and its JSON sidecar; return the weights path.

    ``card`` says what the weights are; without one it is made from ``name``, ``kwargs`` and
    ``input_size`` with the model's task's default crop, and the form read off the weights.
    """
    from safetensors.torch import save_file

    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"model weights must be a .safetensors file, got {path}")
    if card is None:
        if not name:
            raise ValueError("save_model needs a card or a registry name")
        from pyhpe.tasks import task_of

        card = task_of(model).card(name, kwargs, input_size, form=model_form(model, name, kwargs))
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(state, str(path))
    config = {"format": FORMAT, "version": FORMAT_VERSION, "card": card.to_dict(), "extra": extra or {}}
    sidecar_path(path).write_text(json.dumps(config, indent=2))
    return path


def read_config(path: str | os.PathLike) -> dict:
    """The sidecar of a pyhpe model file, checked (any version)."""
    side = sidecar_path(path)
    if not side.is_file():
        raise FileNotFoundError(f"{side} not found: a pyhpe model file needs its JSON sidecar")
    try:
        config = json.loads(side.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{side} is not valid JSON: {err}") from err
    if not isinstance(config, dict) or config.get("format") != FORMAT or not ("card" in config or "model" in config):
        fmt = config.get("format") if isinstance(config, dict) else None
        raise ValueError(f"{side} is not a pyhpe model sidecar (format={fmt!r})")
    return config


def read_card(path: str | os.PathLike) -> ModelCard:
    """The model card of a pyhpe model file (version-1 sidecars converted)."""
    config = read_config(path)
    where = str(sidecar_path(path))
    if "card" in config:
        return ModelCard.from_dict(config["card"], where)
    from pyhpe.tasks import task_of

    try:
        task = task_of(str(config["model"]))
    except KeyError as err:
        raise ValueError(f"{where}: {err.args[0]}") from err
    return task.card(str(config["model"]), config.get("kwargs", {}), int(config.get("input_size", 224)))


def load_model(path: str | os.PathLike) -> tuple[nn.Module, ModelCard]:
    """Rebuild the model a pyhpe model file describes and load its weights; (model, card).

    A file saved in deploy form is loaded into a reparameterized model (see
    :func:`pyhpe.models.checkpoints.load_checkpoint`).
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from pyhpe.models import create_model
    from pyhpe.models.checkpoints import load_checkpoint

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    card = read_card(path)
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError) as err:
        raise ValueError(f"cannot read {path} as safetensors: {err}") from err
    try:
        model = create_model(card.model, **card.kwargs)
    except KeyError as err:
        raise ValueError(f"{sidecar_path(path)}: {err.args[0]}") from err
    load_checkpoint(model, state)
    return model.eval(), card
