"""Rigid transforms of a pose and its labels: the horizontal (left-right) flip, written once.

Mirroring an image left-right mirrors the scene through the camera's y-z plane, M = diag(−1, 1, 1)
(OpenCV camera axes, docs/conventions.md). The labels follow:

- rotation R -> M R M (yaw and roll negate, pitch stays: 6DRepNet's flip rule);
- Euler (pitch, yaw, roll) -> (pitch, −yaw, −roll);
- translation t -> M t; 3D points (head or camera frame) p -> M p (x negated);
- 2D points: x -> W − 1 − x for a W-wide image (integer pixel centres), then a left/right
  relabelling permutation (e.g. ``pyhpe.data.landmarks.IBUG68_MIRROR``) if the points are named;
- boxes (x0, y0, x1, y1) -> (W − 1 − x1, y0, W − 1 − x0, y1);
- intrinsics: cx -> W − 1 − cx and the skew s -> −s (K upper triangular).

With these, ``project_points(M v, M R M, M t, K')`` is the mirrored image of ``project_points(v, R, t, K)``.
Sign flips are element-wise multiplications (exact, any batch shape, NaN stays in its
coordinate); every function is an involution. NumPy arrays in, float64 arrays out; torch
tensors in, tensors of their dtype out (differentiable).
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = [
    "MIRROR",
    "flip_boxes_horizontal",
    "flip_euler_horizontal",
    "flip_intrinsics_horizontal",
    "flip_points_horizontal",
    "flip_rotation_horizontal",
    "flip_translation_horizontal",
    "flip_xywh_boxes_horizontal",
    "mirror_points",
]

MIRROR = np.diag([-1.0, 1.0, 1.0])
"""M = diag(−1, 1, 1): the reflection x -> −x of a horizontal flip (do not modify)."""

_X_SIGNS = np.array([-1.0, 1.0, 1.0])
_EULER_SIGNS = np.array([1.0, -1.0, -1.0])
_R_SIGNS = np.array([[1.0, -1.0, -1.0], [-1.0, 1.0, 1.0], [-1.0, 1.0, 1.0]])  # (M R M)_ij = m_i m_j R_ij


def _times(x, signs: np.ndarray):
    if isinstance(x, torch.Tensor):
        return x * torch.as_tensor(signs, dtype=x.dtype if x.is_floating_point() else None, device=x.device)
    return np.asarray(x, dtype=np.float64) * signs


def _copy_float(x):
    if isinstance(x, torch.Tensor):
        return x.clone() if x.is_floating_point() else x.to(torch.get_default_dtype())
    return np.array(x, dtype=np.float64)


def flip_rotation_horizontal(R):
    """(…, 3, 3) rotation of a horizontally mirrored image: M R M with M = diag(−1, 1, 1).

    In Euler terms yaw and roll negate and pitch stays (6DRepNet's flip rule).
    """
    return _times(R, _R_SIGNS)


def flip_euler_horizontal(euler):
    """(…, 3) Euler angles (pitch, yaw, roll), any unit -> (pitch, −yaw, −roll)."""
    return _times(euler, _EULER_SIGNS)


def flip_translation_horizontal(t):
    """(…, 3) translation (camera frame) -> M t: x negated."""
    return _times(t, _X_SIGNS)


def mirror_points(points):
    """(…, 3) 3D points (head or camera frame) -> M p: x negated."""
    return _times(points, _X_SIGNS)


def flip_points_horizontal(points, width: int, perm=None):
    """(…, N, 2) pixel coordinates in a ``width``-wide image -> x = width − 1 − x (integer pixel
    centres), y kept; then ``perm`` (N,) relabels them: ``out[..., i, :] = flipped[..., perm[i], :]``
    (a left/right mirror permutation such as IBUG68_MIRROR; None keeps the order)."""
    p = _copy_float(points)
    p[..., 0] = width - 1 - p[..., 0]
    if perm is not None:
        perm = torch.as_tensor(perm, device=p.device) if isinstance(p, torch.Tensor) else np.asarray(perm)
        p = p[..., perm, :]
    return p


def flip_boxes_horizontal(boxes, width: int):
    """(…, 4) boxes (x0, y0, x1, y1) in a ``width``-wide image -> (W − 1 − x1, y0, W − 1 − x0, y1)."""
    if isinstance(boxes, torch.Tensor):
        x0, y0, x1, y1 = boxes.unbind(-1)
        return torch.stack([width - 1 - x1, y0, width - 1 - x0, y1], dim=-1)
    x0, y0, x1, y1 = (np.asarray(boxes, dtype=np.float64)[..., i] for i in range(4))
    return np.stack([width - 1 - x1, y0, width - 1 - x0, y1], axis=-1)


def flip_xywh_boxes_horizontal(boxes, width: int):
    """(…, 4) detector boxes (x, y, w, h) (columns x … x + w − 1) -> (W − x − w, y, w, h): the same
    pixel columns mirrored, x -> W − 1 − x."""
    b = _copy_float(boxes)
    b[..., 0] = width - b[..., 0] - b[..., 2]
    return b


def flip_intrinsics_horizontal(K, width: int):
    """(…, 3, 3) K of a horizontally mirrored ``width``-wide image: cx -> W − 1 − cx, s -> −s.

    Together with the mirrored pose (M R M, M t) and points (M v) the projections land on
    x -> W − 1 − x. K is upper triangular (K[1, 0] = 0 is not read).
    """
    K = _copy_float(K)
    K[..., 0, 1] = -K[..., 0, 1]
    K[..., 0, 2] = width - 1 - K[..., 0, 2]
    return K
