"""Training checkpoints: one safetensors file, tensors as tensors and everything else as JSON.

Layout of ``<run>/checkpoints/last.safetensors`` (and ``epoch_<n>.safetensors``):

- tensors: ``model.<key>``, ``ema.<key>``, ``optim.<param index>.<state key>``, ``rng.torch``,
  ``rng.cuda.<device>``;
- the safetensors metadata holds one JSON string under ``"pyhpe"``: epoch, step, optimizer param
  groups and scalar state, scheduler and GradScaler state, numpy and Python RNG states, the config.

Files are written to a temporary name (``.tmp-*.safetensors``) in the same folder, flushed to disk
(fsync) and moved into place with ``os.replace``, so a crash, a kill or a full disk never leaves a
half-written checkpoint: the previous one stays. A failed write removes its temporary file and
raises :class:`CheckpointWriteError`; a killed one leaves it behind, and :func:`remove_temp_files`
(run by the trainer before it resumes) deletes it. Nothing is unpickled on load.

A checkpoint taken inside an epoch (Ctrl-C, ``train.checkpoint_every``) also records its place
in the epoch (metadata ``position``: steps done in the epoch, the epoch's loss sum and image
count), from which the trainer resumes exactly.
"""

from __future__ import annotations

import errno
import json
import os
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

FORMAT = "pyhpe-train-checkpoint"
TEMP_PREFIX = ".tmp-"
_CHUNK = 16 << 20  # bytes per write call


class CheckpointWriteError(OSError):
    """A checkpoint could not be written (disk full, no permission...); the previous one is intact.
    ``str()`` is one line: ``cannot write checkpoint PATH: REASON``."""

    def __init__(self, path: Path, err: OSError):
        super().__init__(err.errno, err.strerror or str(err), str(path))
        self.message = f"cannot write checkpoint {path}: {err.strerror or err}"

    def __str__(self) -> str:
        return self.message


def rng_state() -> tuple[dict[str, torch.Tensor], dict]:
    """The torch (+ CUDA), NumPy and Python RNG states: (tensors, JSON-able metadata)."""
    tensors = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = s
    name, keys, pos, has_gauss, cached = np.random.get_state()
    py = random.getstate()
    meta = {
        "numpy": [name, keys.tolist(), int(pos), int(has_gauss), float(cached)],
        "python": [py[0], list(py[1]), py[2]],
    }
    return tensors, meta


def set_rng_state(tensors: dict[str, torch.Tensor], meta: dict) -> None:
    """Set the RNGs to a state from :func:`rng_state` (or a checkpoint's tensors and ``meta["rng"]``)."""
    torch.set_rng_state(tensors["rng.torch"])
    cuda = sorted(k for k in tensors if k.startswith("rng.cuda."))
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([tensors[k] for k in cuda])
    name, keys, pos, has_gauss, cached = meta["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    v, state, gauss = meta["python"]
    random.setstate((v, tuple(state), gauss))


def _json_safe(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.item() if value.numel() == 1 else value.tolist()
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value


def _optimizer_split(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    sd = optimizer.state_dict()
    tensors, scalars = {}, {}
    for idx, state in sd["state"].items():
        for key, value in state.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{idx}.{key}"] = value
            else:
                scalars.setdefault(str(idx), {})[key] = _json_safe(value)
    return tensors, {"param_groups": _json_safe(sd["param_groups"]), "scalars": scalars}


def _optimizer_join(tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    state: dict[int, dict] = {}
    for name, value in tensors.items():
        if name.startswith("optim."):
            _, idx, key = name.split(".", 2)
            state.setdefault(int(idx), {})[key] = value
    for idx, scalars in meta["scalars"].items():
        state.setdefault(int(idx), {}).update(scalars)
    return {"state": state, "param_groups": meta["param_groups"]}


def save_checkpoint(path: str | os.PathLike, *, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    scheduler: Any, scaler: Any = None, ema: dict[str, torch.Tensor] | None = None,
                    epoch: int, step: int, extra: dict | None = None, position: dict | None = None,
                    rank: int = 0) -> Path:
    """Write the full training state atomically; returns the path. ``epoch``: epochs completed;
    ``position``: where inside the next epoch the state was taken (``epoch_step``, ``loss_sum``,
    ``images``), None at an epoch boundary. Raises :class:`CheckpointWriteError` when the file
    cannot be written; the previous checkpoint at ``path`` is then unchanged."""
    from safetensors.torch import save

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    if ema is not None:
        tensors.update({f"ema.{k}": v for k, v in ema.items()})
    opt_tensors, opt_meta = _optimizer_split(optimizer)
    tensors.update(opt_tensors)
    rng_tensors, rng_meta = rng_state()
    tensors.update(rng_tensors)
    sched = {k: v for k, v in scheduler.state_dict().items() if k != "lr_lambdas"}
    meta = {
        "format": FORMAT,
        "epoch": int(epoch),
        "step": int(step),
        "optimizer": opt_meta,
        "scheduler": _json_safe(sched),
        "scaler": _json_safe(scaler.state_dict()) if scaler is not None else None,
        "rng": rng_meta,
        "extra": _json_safe(extra or {}),
        "position": _json_safe(position) if position else None,
    }
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    data = save(tensors, metadata={"pyhpe": json.dumps(meta)})
    del tensors
    try:
        fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=".safetensors", dir=path.parent)
    except OSError as err:
        raise CheckpointWriteError(path, err) from err
    try:
        try:
            _write_file(fd, data, rank)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        _sync_folder(path.parent)
    except BaseException as err:  # KeyboardInterrupt too: never leave the temporary file
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise CheckpointWriteError(path, err) from err
        raise
    return path


def _write_file(fd: int, data: bytes, rank: int) -> None:
    """All of ``data`` into ``fd`` in chunks, then fsync; the test pause point ``checkpoint`` sits
    after the first chunk (pyhpe.engine.testhooks)."""
    from pyhpe.engine.testhooks import pause_point

    view, done, first = memoryview(data), 0, True
    while done < len(view):
        n = os.write(fd, view[done:done + min(_CHUNK, max(1, len(view) // 2))] if first
                         else view[done:done + _CHUNK])
        if n <= 0:
            raise OSError(errno.EIO, "write returned no progress")
        done += n
        if first:
            pause_point("checkpoint", rank)
            first = False
    os.fsync(fd)


def _sync_folder(folder: Path) -> None:
    """fsync a directory so that a rename in it survives a power cut (POSIX; a no-op elsewhere)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove_temp_files(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporary files that killed checkpoint writes left in ``folder``; returns them.
    Call only while no other process writes checkpoints there."""
    folder = Path(folder)
    stale = sorted(folder.glob(f"{TEMP_PREFIX}*.safetensors")) if folder.is_dir() else []
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


def read_checkpoint(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict]:
    """(tensors, metadata) of a training checkpoint; ValueError if it is not one."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            raw = (f.metadata() or {}).get("pyhpe")
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open has no __iter__)
    except Exception as err:  # safetensors raises its own error types
        raise ValueError(f"{path}: not a safetensors file ({err})") from err
    meta = json.loads(raw) if raw else {}
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path}: not a pyhpe training checkpoint")
    return tensors, meta


def read_position(path: str | os.PathLike) -> tuple[int, int] | None:
    """(epochs done, step) of the checkpoint at ``path`` from its metadata alone; None when there
    is no readable checkpoint."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = json.loads((f.metadata() or {}).get("pyhpe") or "{}")
        return int(meta["epoch"]), int(meta["step"])
    except Exception:  # noqa: BLE001 — missing, unreadable or not ours: no position
        return None


def prefixed(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The tensors under ``prefix.`` with the prefix removed."""
    n = len(prefix) + 1
    return {k[n:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}


def restore(path: str | os.PathLike, *, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
            scheduler: Any, scaler: Any = None) -> tuple[dict, dict[str, torch.Tensor] | None]:
    """Load a checkpoint into the live objects (and the RNGs); returns (metadata, ema or None)."""
    tensors, meta = read_checkpoint(path)
    model.load_state_dict(prefixed(tensors, "model"))
    optimizer.load_state_dict(_optimizer_join(tensors, meta["optimizer"]))
    sched = scheduler.state_dict()
    sched.update(meta["scheduler"])
    scheduler.load_state_dict(sched)
    if scaler is not None and meta.get("scaler"):
        scaler.load_state_dict(meta["scaler"])
    set_rng_state(tensors, meta["rng"])
    ema = prefixed(tensors, "ema") or None
    return meta, ema
