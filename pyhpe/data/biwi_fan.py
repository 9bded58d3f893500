"""The official TRGv2 BIWI test crops: FAN-predicted landmarks → the 1.5× box, shifted into the image.

The released TRGv2 evaluation on BIWI (``data/biwi_dataset.py``) does not crop around the ground
truth: it reads ``hpdb/annot_mtcnn_fan.pkl``, written by its ``data/preprocess_biwi.py`` with the
face_alignment package (FAN, 3D landmark type). The pickle is a dict:

- ``img_path``: a list of frame keys relative to ``hpdb``, e.g. ``"01/frame_00003_rgb.png"`` (the
  frames that have a pose file: the test set, in order);
- ``pred_kpt``: a dict, frame key → (68, 3) float32 FAN landmarks (x, y in image pixels, z a
  relative depth); frames where FAN found no face have no entry;
- ``mesh``: a dict, sequence → {"vertices", "faces"} of its neutral mesh (not read here).

The box (:func:`fan_crop_box`): centre and size s = max(w, h) of the landmarks' (x, y) extent,
corners ``int(centre ∓ 0.75·s)`` one by one, then the box shifted (not shrunk) to lie inside the
image: right by −left if left < 0, then left by right − (W − 1) if right > W − 1, and the same for
top/bottom. (The released code round-trips the landmarks through its camera in float32 first; that
moves them by ~1e-5 px.) A frame with no prediction makes the released code fail (NaN box);
:class:`pyhpe.data.biwi_raw.BIWIRaw` counts and skips such frames instead.

Pickles are untrusted input: the file is read with
:func:`pyhpe.models.trg.official.load_untrusted_pickle` (NumPy arrays and plain containers only).
Accepted layouts: the official dict above; the same with ``pred_kpt`` a list parallel to
``img_path``; or a list of per-frame dicts ``{"img_path": ..., "pred_kpt": ...}``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["FAN_BOX_SCALE", "FAN_FILE", "FanAnnotations", "fan_crop_box", "fan_frame_key",
           "read_fan_annotations"]

FAN_FILE = "annot_mtcnn_fan.pkl"  # in hpdb/, where the released code reads it
FAN_BOX_SCALE = 1.5


def fan_frame_key(path: str | os.PathLike) -> str:
    """The key of a frame: its sequence folder and file name, ``"NN/frame_XXXXX_rgb.png"`` (any
    leading folders dropped, ``\\`` read as ``/``)."""
    parts = [p for p in str(path).replace("\\", "/").split("/") if p not in ("", ".")]
    return "/".join(parts[-2:])


@dataclass
class FanAnnotations:
    """FAN landmarks per frame (see the module docstring)."""

    path: Path
    frames: list[str]  # the file's img_path list (keys), in its order
    landmarks: dict[str, np.ndarray]  # key -> (68, 2) float64 image pixels

    def __len__(self) -> int:
        return len(self.landmarks)

    def get(self, frame_path: str | os.PathLike) -> np.ndarray | None:
        """The (68, 2) landmarks of a frame (a path or key), or None if the file has none."""
        return self.landmarks.get(fan_frame_key(frame_path))


def _landmarks(value, path: Path, key: str) -> np.ndarray:
    a = np.asarray(value)
    if a.dtype.kind not in "fiu" or a.ndim != 2 or a.shape[0] != 68 or a.shape[1] not in (2, 3):
        raise ValueError(f"{path}: pred_kpt[{key!r}]: expected (68, 2) or (68, 3) numbers, got "
                         f"{a.dtype} {a.shape}")
    xy = a[:, :2].astype(np.float64)
    if not np.isfinite(xy).all():
        raise ValueError(f"{path}: pred_kpt[{key!r}]: non-finite landmark coordinates")
    return xy


def _str_list(value, path: Path, what: str) -> list[str]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        raise ValueError(  # noqa: TRY004 (a file's content)
            f"{path}: {what} must be a list of frame paths, got {type(value).__name__}")
    out = []
    for v in value:
        if not isinstance(v, str):
            raise ValueError(  # noqa: TRY004 (a file's content)
                f"{path}: {what} must hold frame paths (str), got {type(v).__name__}")
        out.append(fan_frame_key(v))
    return out


def read_fan_annotations(path: str | os.PathLike) -> FanAnnotations:
    """Read and validate an ``annot_mtcnn_fan.pkl`` (module docstring for the layouts).

    ``FileNotFoundError`` for a missing file; ``ValueError`` naming the file for anything else
    (a pickle that names anything but arrays and containers, a wrong layout, landmarks that are
    not (68, 2|3) finite numbers).
    """
    from pyhpe.models.trg.official import UntrustedPickleError, load_untrusted_pickle

    p = Path(path)
    try:
        data = load_untrusted_pickle(p)  # trimesh's TrackedArray (the 'mesh' entries) reads as ndarray
    except UntrustedPickleError as e:
        hint = (" (pyhpe reads only 'img_path' and 'pred_kpt': a copy of the file holding just "
                "those two keys reads)")
        raise UntrustedPickleError(f"{e}{hint}") from e
    landmarks: dict[str, np.ndarray] = {}
    if isinstance(data, Mapping):
        if "pred_kpt" not in data:
            raise ValueError(f"{p}: not a FAN annotation file: no 'pred_kpt' key (keys: "
                             f"{sorted(map(str, data))[:8]})")
        frames = _str_list(data["img_path"], p, "img_path") if "img_path" in data else []
        pred = data["pred_kpt"]
        if isinstance(pred, Mapping):
            for k, v in pred.items():
                if not isinstance(k, str):
                    raise ValueError(  # noqa: TRY004 (a file's content)
                        f"{p}: pred_kpt keys must be frame paths (str), got {type(k).__name__}")
                landmarks[fan_frame_key(k)] = _landmarks(v, p, k)
        elif isinstance(pred, (Sequence, np.ndarray)) and not isinstance(pred, (str, bytes)):
            if "img_path" not in data or len(pred) != len(frames):
                raise ValueError(f"{p}: a pred_kpt list needs an img_path list of the same length "
                                 f"({len(pred)} predictions, {len(frames)} paths)")
            for k, v in zip(frames, pred):
                if v is not None:
                    landmarks[k] = _landmarks(v, p, k)
        else:
            raise ValueError(  # noqa: TRY004 (a file's content)
                f"{p}: pred_kpt must be a dict (frame path -> landmarks) or a list, "
                f"got {type(pred).__name__}")
    elif isinstance(data, (list, tuple)):
        frames = []
        for i, rec in enumerate(data):
            if not isinstance(rec, Mapping) or "img_path" not in rec:
                raise ValueError(f"{p}: record {i} is not a dict with 'img_path' (and 'pred_kpt')")
            key = _str_list([rec["img_path"]], p, f"record {i} img_path")[0]
            frames.append(key)
            if rec.get("pred_kpt") is not None:
                landmarks[key] = _landmarks(rec["pred_kpt"], p, key)
    else:
        raise ValueError(  # noqa: TRY004 (a file's content)
            f"{p}: not a FAN annotation file: expected a dict or a list, got "
            f"{type(data).__name__}")
    return FanAnnotations(p, frames, landmarks)


def fan_crop_box(landmarks, width: int, height: int, scale: float = FAN_BOX_SCALE) -> np.ndarray:
    """The released code's BIWI crop box (x0, y0, x1, y1) (integer corners, float64) from (68, 2)
    landmarks in a ``width`` × ``height`` image: the ``scale``× square about the centre of their
    extent, corners truncated one by one, shifted (not shrunk) inside the image."""
    xy = np.asarray(landmarks, dtype=np.float64)[:, :2]
    lo, hi = xy.min(0), xy.max(0)
    (cx, cy), size = (lo + hi) / 2, float((hi - lo).max())
    half = scale / 2 * size
    left, right, top, bottom = int(cx - half), int(cx + half), int(cy - half), int(cy + half)
    if left < 0:
        left, right = 0, right - left
    if right > width - 1:
        left, right = left - (right - (width - 1)), width - 1
    if top < 0:
        top, bottom = 0, bottom - top
    if bottom > height - 1:
        top, bottom = top - (bottom - (height - 1)), height - 1
    return np.array([left, top, right, bottom], dtype=np.float64)
