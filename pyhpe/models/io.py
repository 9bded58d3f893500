"""pyhpe's own model files: weights as safetensors plus a JSON sidecar that says how to rebuild.

``save_model(model, "run/model.safetensors", name="sixdrepnet_repnext_m4")`` writes
``model.safetensors`` and ``model.json`` ({"format": "pyhpe-model", "model": name, "kwargs": {},
"form": "train"|"deploy", "input_size": 224, ...}). ``load_model`` rebuilds the model from the
registry and loads the weights (all or nothing); no pickle is involved anywhere.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch.nn as nn

FORMAT = "pyhpe-model"
FORMAT_VERSION = 1


def sidecar_path(weights: str | os.PathLike) -> Path:
    return Path(weights).with_suffix(".json")


def save_model(
    model: nn.Module,
    path: str | os.PathLike,
    *,
    name: str,
    kwargs: dict | None = None,
    input_size: int = 224,
    extra: dict | None = None,
) -> Path:
    """Write ``path`` (.safetensors) and its JSON sidecar; return the weights path."""
    from safetensors.torch import save_file

    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"model weights must be a .safetensors file, got {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(state, str(path))
    config = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "model": name,
        "kwargs": kwargs or {},
        "input_size": input_size,
        "extra": extra or {},
    }
    sidecar_path(path).write_text(json.dumps(config, indent=2))
    return path


def read_config(path: str | os.PathLike) -> dict:
    """The sidecar of a pyhpe model file, checked."""
    side = sidecar_path(path)
    if not side.is_file():
        raise FileNotFoundError(f"{side} not found: a pyhpe model file needs its JSON sidecar")
    try:
        config = json.loads(side.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{side} is not valid JSON: {err}") from err
    if config.get("format") != FORMAT or "model" not in config:
        raise ValueError(f"{side} is not a pyhpe model sidecar (format={config.get('format')!r})")
    return config


def load_model(path: str | os.PathLike) -> tuple[nn.Module, dict]:
    """Rebuild the model a pyhpe model file describes and load its weights; (model, config).

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
    config = read_config(path)
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError) as err:
        raise ValueError(f"cannot read {path} as safetensors: {err}") from err
    model = create_model(config["model"], **config.get("kwargs", {}))
    load_checkpoint(model, state)
    return model.eval(), config
