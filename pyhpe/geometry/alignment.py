"""Reference-system alignment between two mesh topologies (TRGv2, paper §3.3, Eq. 13).

A model trained on one dataset predicts the pose (R, t) of *that* dataset's head frame, whose origin
is the origin of its mesh topology (ARKitFace: the ARKit head centre). Another dataset (BIWI) puts
its head origin elsewhere. The two head frames differ by a constant offset ΔT (3,), expressed in
the head frame (OpenCV axes, metres), found from geometry alone by matching corresponding
landmarks of the two templates:

    ΔT = argmin_Δ Σ_i ‖a_i − (b_i + Δ)‖        (sum of UNSQUARED distances, Eq. 13)

with a_i the train template's landmarks and b_i the test template's, i.e. ΔT is the geometric
median of the differences d_i = a_i − b_i (:func:`reference_offset`). Evaluation moves each
prediction onto the test topology's origin with t_aligned = t_pred + R_pred·ΔT, rotation unchanged
(:func:`apply_reference_offset`).

Offsets are stored as JSON (:func:`write_reference_offsets`, :func:`read_reference_offsets`)::

    {"format": "pyhpe-reference-offsets", "version": 1, "units": "m",
     "offsets": {"01": [dx, dy, dz], ...}, "train_template": ..., "landmarks": ...}

``pyhpe align`` (:mod:`pyhpe.geometry.align_cli`) computes such a file from two meshes.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from pyhpe.geometry.camera import _as_torch, _check, _is_torch

__all__ = [
    "OFFSETS_FORMAT",
    "RELEASED_OFFSETS",
    "apply_reference_offset",
    "geometric_median",
    "landmarks_from_template",
    "read_reference_offsets",
    "reference_offset",
    "reference_offsets_path",
    "write_reference_offsets",
]

OFFSETS_FORMAT = "pyhpe-reference-offsets"
OFFSETS_VERSION = 1
# Offsets shipped with pyhpe, by name (usable wherever an offsets file is asked for):
# "trgv2-biwi": TRGv2's released per-sequence ARKit -> BIWI ΔT (24 sequences "01".."24"; trg.md §2.2),
# for numbers comparable with the paper's Table 5 (ours, from `pyhpe align`, may differ slightly).
RELEASED_OFFSETS = {"trgv2-biwi": Path(__file__).parent / "resources" / "trgv2_biwi_released_offsets.json"}


def _points(name: str, points) -> np.ndarray:
    """``points`` as a finite (N >= 1, 3) float64 array, or ValueError."""
    try:
        x = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be an (N, 3) array of numbers ({exc})") from None
    if x.ndim != 2 or x.shape[1] != 3:
        raise ValueError(f"{name} must have shape (N, 3), got {x.shape}")
    if len(x) == 0:
        raise ValueError(f"{name} is empty (need at least one point)")
    bad = ~np.isfinite(x).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise ValueError(f"{name} contain NaN or inf (rows {rows[:10].tolist()}"
                         f"{', ...' if len(rows) > 10 else ''})")
    return x


def _is_median_at(z: np.ndarray, j: int) -> bool:
    """Vardi–Zhang's optimality test at data point z[j]: ‖Σ_{z_i ≠ z_j} (z_j − z_i)/‖z_j − z_i‖‖
    (the norm of the sum of the unit vectors of the other points) ≤ the multiplicity of z[j]."""
    diff = z[j] - z
    d = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    off = d > 0.0
    r = (diff[off] / d[off, None]).sum(axis=0)
    return bool(np.linalg.norm(r) <= len(d) - int(off.sum()))


def geometric_median(points, tol: float = 1e-12, max_iter: int = 10000) -> np.ndarray:
    """The geometric median of ``points`` (N, 3): the y minimising Σ_i ‖x_i − y‖ (float64, (3,)).

    Why not the mean: the mean minimises the sum of *squared* distances. TRGv2's alignment
    objective (Eq. 13) is the sum of unsquared distances, whose minimiser is the geometric median;
    it is robust (one bad landmark pair moves the mean by its error / N, the median not at all while
    the others agree). Why not a fixed number of gradient steps (the official
    ``find_reference_alignment_matrix.py``: plain SGD, lr 1e-4 from 0, at most 10 000 steps, an
    early stop when the loss stalls): that ends wherever the learning rate, the step budget and the
    stall test leave it, and where the minimum sits at a data point (the objective has a kink
    there, its gradient never shrinks) fixed steps oscillate around it instead of converging.
    This is the minimiser itself, to ``tol``.

    Method: Weiszfeld's iteration from the centroid, with Vardi & Zhang's (2000) modification for
    an iterate that lands on a data point x_j (where Weiszfeld's weight 1/‖x_j − y‖ is undefined):
    with η the number of points at y and r = ‖Σ_{x_i ≠ y} (x_i − y)/‖x_i − y‖‖, y is the median
    if r ≤ η; otherwise the step is y ← (1 − η/r)·T(y) + (η/r)·y, T the Weiszfeld map over the
    other points. Because Weiszfeld can approach a median that is a data point only sublinearly, the same
    test is also applied at the data point nearest to each iterate; a data point that passes it is
    returned exactly. The points are centred and scaled first, so the result does not depend on
    the position or units of the set (beyond rounding).

    ``tol``: stop when a step is shorter than ``tol`` × the spread of the points (their largest
    distance from the centroid). ``max_iter``: a RuntimeWarning if reached (the last iterate is
    returned; the objective decreases monotonically). Deterministic.

    Collinear points with an even count have a whole segment of minimisers (between the two
    middle points); a point of it is returned. An odd count on a line gives the middle point.

    Raises ValueError for a shape other than (N, 3), N = 0, or a NaN/inf coordinate.
    """
    x = _points("points", points)
    if not (tol > 0) or max_iter < 1:
        raise ValueError(f"tol must be > 0 and max_iter >= 1, got tol={tol}, max_iter={max_iter}")
    centre = x.mean(axis=0)
    z = x - centre
    scale = float(np.sqrt(np.einsum("ij,ij->i", z, z)).max())
    if scale == 0.0:  # all points coincide (or N == 1)
        return x[0].copy()
    z = z / scale
    y = np.zeros(3)
    for _ in range(max_iter):
        diff = z - y
        d = np.sqrt(np.einsum("ij,ij->i", diff, diff))
        # a median at (or next to) a data point: test that point directly (exact answer)
        j = int(np.argmin(d))
        if _is_median_at(z, j):
            return x[j].copy()
        on = d == 0.0
        eta = int(on.sum())
        off = ~on
        w = 1.0 / d[off]
        T = (w[:, None] * z[off]).sum(axis=0) / w.sum()
        if eta == 0:
            y_new = T
        else:  # Vardi–Zhang: y sits on a data point that is not the median (tested above): step off
            r = float(np.linalg.norm((w[:, None] * (z[off] - y)).sum(axis=0)))
            gamma = eta / r  # < 1 here
            y_new = (1.0 - gamma) * T + gamma * y
        step = float(np.linalg.norm(y_new - y))
        y = y_new
        if step <= tol:
            break
    else:
        warnings.warn(f"geometric_median: no convergence to tol={tol} in {max_iter} iterations",
                      RuntimeWarning, stacklevel=2)
    return centre + scale * y


def reference_offset(train_landmarks, test_landmarks) -> np.ndarray:
    """ΔT (3,), metres: where the test topology's head origin lies in the train topology's head frame.

    ``train_landmarks`` a_i and ``test_landmarks`` b_i are corresponding landmarks (N, 3) of the
    train and test templates, each in its own head frame (OpenCV axes: x right, y down, z into
    the head; metres). ΔT = argmin_Δ Σ_i ‖a_i − (b_i + Δ)‖ = the geometric median of a_i − b_i
    (:func:`geometric_median`; TRGv2 Eq. 13).

    Sign convention: the two frames differ by a translation only, a = b + ΔT for the same physical
    point, so the test origin (b = 0) has train coordinates ΔT. A model trained on the train
    topology predicts (R, t) of the train head frame (x_cam = R·a + t); the test origin is then at
    R·ΔT + t in the camera, which is what the test set's ground truth t measures:
    t_aligned = t + R·ΔT (:func:`apply_reference_offset`). Conversely t_gt − R_gt·ΔT places the
    train template on a test image. TRGv2's released ARKit → BIWI offsets average
    (−0.3, +8.6, −15.9) mm: the BIWI origin is lower and nearer the face surface than ARKit's.

    ValueError for unequal counts, a bad shape, no landmarks or a NaN/inf coordinate.
    """
    a = _points("train landmarks", train_landmarks)
    b = _points("test landmarks", test_landmarks)
    if a.shape != b.shape:
        raise ValueError(f"landmark count mismatch: {len(a)} train landmarks, {len(b)} test landmarks")
    return geometric_median(a - b)


def apply_reference_offset(R, t, offset):
    """t_aligned = t + R·ΔT: a prediction (R, t) of the train topology's head frame moved by the
    head-frame offset ``offset`` = ΔT (:func:`reference_offset`); the rotation is unchanged.

    R (B, 3, 3) head → camera, t (B, 3) the head origin in the camera frame, ``offset`` (3,) (one
    ΔT for all) or (B, 3) (one per sample, e.g. per BIWI sequence), all in metres (any leading
    shape broadcasts). NumPy arrays are computed in float64; a torch tensor anywhere selects torch
    (the tensors' dtype and device, differentiable), as in :mod:`pyhpe.geometry.camera`.
    """
    if _is_torch(R, t, offset):
        R, t, offset = _as_torch(R, t, offset)
        _check("R", R, (3, 3), 2)
        _check("t", t, (3,), 1)
        _check("offset", offset, (3,), 1)
        return t + (R @ offset[..., None])[..., 0]
    R = np.asarray(R, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    offset = np.asarray(offset, dtype=np.float64)
    _check("R", R, (3, 3), 2)
    _check("t", t, (3,), 1)
    _check("offset", offset, (3,), 1)
    return t + (R @ offset[..., None])[..., 0]


def landmarks_from_template(vertices, ids) -> np.ndarray:
    """The landmarks ``vertices[ids]`` (N, 3) of a template mesh (V, 3); float64, a copy.

    ``ids``: N >= 1 zero-based vertex indices (integers). ValueError naming the first index out of
    [0, V) (negative indices are not counted from the end), or a bad shape.
    """
    v = np.asarray(vertices, dtype=np.float64)
    if v.ndim != 2 or v.shape[1] != 3 or len(v) == 0:
        raise ValueError(f"template vertices must have shape (V, 3) with V >= 1, got {v.shape}")
    idx = np.asarray(ids)
    if idx.ndim != 1 or len(idx) == 0:
        raise ValueError(f"landmark ids must be a non-empty list, got shape {idx.shape}")
    if not np.issubdtype(idx.dtype, np.integer):
        raise ValueError(f"landmark ids must be integers, got {idx.dtype}")
    bad = np.flatnonzero((idx < 0) | (idx >= len(v)))
    if len(bad):
        k = int(bad[0])
        raise ValueError(f"landmark index {int(idx[k])} (position {k}) out of range for a template of "
                         f"{len(v)} vertices (valid 0..{len(v) - 1})")
    return v[idx.astype(np.int64)].copy()


# ---- the offsets file -----------------------------------------------------------------------------

def write_reference_offsets(path: str | os.PathLike, offsets: Mapping[str, Any], **fields: Any) -> Path:
    """Write ``offsets`` (key -> ΔT (3,) in metres) as a ``pyhpe-reference-offsets`` JSON file.

    ``fields`` (e.g. ``train_template=...``, ``landmarks=...``) are stored beside them (JSON
    values). Returns the path. ValueError for a non-finite or wrongly shaped offset.
    """
    table = {}
    for key, value in offsets.items():
        v = np.asarray(value, dtype=np.float64)
        if v.shape != (3,) or not np.isfinite(v).all():
            raise ValueError(f"offset {key!r} must be 3 finite numbers, got {value!r}")
        table[str(key)] = [float(c) for c in v]
    record = {"format": OFFSETS_FORMAT, "version": OFFSETS_VERSION, "units": "m", "offsets": table,
              **fields}
    p = Path(path)
    p.write_text(json.dumps(record, indent=2) + "\n")
    return p


def reference_offsets_path(spec: str | os.PathLike) -> Path:
    """A shipped offsets name (:data:`RELEASED_OFFSETS`, e.g. "trgv2-biwi") -> its file; any other
    value is taken as a path."""
    return RELEASED_OFFSETS.get(str(spec), Path(spec))


def read_reference_offsets(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The offsets (key -> ΔT (3,) float64, metres) of a ``pyhpe-reference-offsets`` JSON file
    (or of a shipped one named in :data:`RELEASED_OFFSETS`).

    Validates the format name, version 1, units "m" and every offset (3 finite numbers).
    FileNotFoundError if the file is missing; ValueError (naming the file) if it is not such a file.
    """
    p = reference_offsets_path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: file not found")
    try:
        record = json.loads(p.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{p}: not valid JSON ({exc})") from None

    def bad(problem: str) -> ValueError:
        return ValueError(f"{p}: not a {OFFSETS_FORMAT} file: {problem}")

    if not isinstance(record, dict) or record.get("format") != OFFSETS_FORMAT:
        raise bad(f"format is {record.get('format') if isinstance(record, dict) else None!r}")
    if record.get("version") != OFFSETS_VERSION:
        raise bad(f"unsupported version {record.get('version')!r} (expected {OFFSETS_VERSION})")
    if record.get("units") != "m":
        raise bad(f"units must be 'm', got {record.get('units')!r}")
    table = record.get("offsets")
    if not isinstance(table, dict) or not table:
        raise bad("'offsets' must be a non-empty object")
    out = {}
    for key, value in table.items():
        ok = (isinstance(value, list) and len(value) == 3
              and all(isinstance(c, (int, float)) and not isinstance(c, bool) and math.isfinite(c)
                      for c in value))
        if not ok:
            raise bad(f"offset {key!r} must be 3 finite numbers, got {value!r}")
        out[key] = np.asarray(value, dtype=np.float64)
    return out
