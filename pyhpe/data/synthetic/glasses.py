"""Spectacle frames as thin double-sided quads (an accessory: not part of the dense vertices)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from pyhpe.data.synthetic import mesh
from pyhpe.data.synthetic.identity import Identity

RIM_SEGMENTS = 12
TEMPLE_POINTS = 4  # rim corner + three points along the side of the head


@lru_cache(maxsize=1)
def _layout() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The identity-independent part: (quads, normals, rim cos, rim sin).

    Vertex order: per side (-x, +x) an outer and an inner rim ring, then the bridge (4), then per
    side a temple ribbon (TEMPLE_POINTS below, then TEMPLE_POINTS above).
    """
    k = np.arange(RIM_SEGMENTS)
    k1 = (k + 1) % RIM_SEGMENTS
    rims = [np.stack([b + k, b + k1, b + RIM_SEGMENTS + k1, b + RIM_SEGMENTS + k], 1) for b in (0, 2 * RIM_SEGMENTS)]
    bridge0 = 4 * RIM_SEGMENTS
    n, t = TEMPLE_POINTS, np.arange(TEMPLE_POINTS - 1)
    temples = [np.stack([b + t, b + t + 1, b + n + t + 1, b + n + t], 1) for b in (bridge0 + 4, bridge0 + 4 + 2 * n)]
    quads = np.concatenate([*rims, [[bridge0, bridge0 + 1, bridge0 + 2, bridge0 + 3]], *temples]).astype(np.int64)
    normals = np.zeros((bridge0 + 4 + 4 * n, 3))
    normals[: bridge0 + 4, 2] = -1.0
    normals[bridge0 + 4: bridge0 + 4 + 2 * n, 0] = -1.0
    normals[bridge0 + 4 + 2 * n:, 0] = 1.0
    a = np.linspace(0, 2 * np.pi, RIM_SEGMENTS, endpoint=False)
    for arr in (quads, normals):
        arr.setflags(write=False)
    return quads, normals, np.cos(a), np.sin(a)


def glasses_geometry(idt: Identity) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(vertices (V, 3) head frame, normals (V, 3), quads (Q, 4)) of a pair of glasses."""
    quads, normals, cos_a, sin_a = _layout()
    rx, ry = 1.5 * idt.eye_w * idt.az_front, 0.017
    # All surface points needed, in one call: the two eye centres, then three temple points per side.
    temple_tp = ((idt.eye_theta - 0.06, 1.05), (idt.ear_theta - 0.14, 1.4), (idt.ear_theta - 0.12, 1.75))
    theta = [idt.eye_theta, idt.eye_theta] + [t for _ in (0, 1) for t, _p in temple_tp]
    phi = [-idt.eye_phi, idt.eye_phi] + [side * p for side in (-1.0, 1.0) for _t, p in temple_tp]
    surface = mesh.surface_points(idt, np.array(theta), np.array(phi))
    centres = surface[:2] + np.array([0.0, 0.003, -0.017])  # -x, +x
    ring = np.stack([rx * cos_a, ry * sin_a, np.zeros_like(cos_a)], 1)
    rims = np.stack([centres[:, None] + ring, centres[:, None] + 0.8 * ring], 1)  # (side, outer/inner, k, 3)
    # Bridge between the inner rims.
    left, right = centres
    y0 = left[1] - 0.2 * ry
    z0 = 0.5 * (left[2] + right[2]) - 0.002
    bridge = np.array([[left[0] + 0.8 * rx, y0 - 0.002, z0], [right[0] - 0.8 * rx, y0 - 0.002, z0],
                       [right[0] - 0.8 * rx, y0 + 0.002, z0], [left[0] + 0.8 * rx, y0 + 0.002, z0]])
    # Temples: from the outer rim, along the side of the head, to behind the ear.
    sides = np.array([-1.0, 1.0])[:, None]
    start = centres + np.concatenate([sides * rx, np.full((2, 1), -0.2 * ry), np.zeros((2, 1))], 1)
    along = surface[2:].reshape(2, 3, 3) + np.concatenate([sides * 0.007, np.zeros((2, 2))], 1)[:, None]
    path = np.concatenate([start[:, None], along], 1)  # (side, TEMPLE_POINTS, 3)
    ribbons = np.stack([path + [0, -0.002, 0], path + [0, 0.002, 0]], 1)  # (side, below/above, point, 3)
    verts = np.concatenate([rims.reshape(-1, 3), bridge, ribbons.reshape(-1, 3)])
    return verts, normals, quads  # the last two are shared and read-only
