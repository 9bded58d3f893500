"""iBUG-68 landmark helpers: the left/right mirror permutation and boxes from points."""

from __future__ import annotations

import numpy as np


def _ibug68_mirror() -> np.ndarray:
    pairs = [(i, 16 - i) for i in range(8)]  # jaw line
    pairs += [(17 + i, 26 - i) for i in range(5)]  # eyebrows
    pairs += [(31, 35), (32, 34)]  # nostrils
    pairs += [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]  # eyes
    pairs += [(48, 54), (49, 53), (50, 52), (55, 59), (56, 58)]  # outer lips
    pairs += [(60, 64), (61, 63), (65, 67)]  # inner lips
    perm = np.arange(68)
    for a, b in pairs:
        perm[a], perm[b] = b, a
    return perm


IBUG68_MIRROR = _ibug68_mirror()
"""``mirrored[i] = original[IBUG68_MIRROR[i]]`` relabels points after a horizontal flip."""


def box_from_points(points: np.ndarray) -> np.ndarray:
    """(N, 2) points -> (4,) x_min, y_min, x_max, y_max (float64)."""
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if p.size == 0:
        raise ValueError("box_from_points needs at least one point")
    return np.concatenate([p.min(axis=0), p.max(axis=0)])


def project_points(points_head: np.ndarray, R: np.ndarray, t: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Pinhole projection of (N, 3) head-frame points with x_cam = R·v + t -> (N, 2) pixels."""
    cam = np.asarray(points_head, dtype=np.float64) @ np.asarray(R, dtype=np.float64).T + np.asarray(t)
    uvw = cam @ np.asarray(K, dtype=np.float64).T
    return uvw[:, :2] / uvw[:, 2:3]
