"""Spectacle frames as thin double-sided quads (an accessory: not part of the dense vertices)."""

from __future__ import annotations

import numpy as np

from pyhpe.data.synthetic import mesh
from pyhpe.data.synthetic.identity import Identity

RIM_SEGMENTS = 12


def glasses_geometry(idt: Identity) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(vertices (V, 3) head frame, normals (V, 3), quads (Q, 4)) of a pair of glasses."""
    verts: list[np.ndarray] = []
    normals: list[np.ndarray] = []
    quads: list[list[int]] = []
    a = np.linspace(0, 2 * np.pi, RIM_SEGMENTS, endpoint=False)
    rx, ry = 1.5 * idt.eye_w * idt.az_front, 0.017
    # All surface points needed, in one call: the two eye centres, then three temple points per side.
    temple_tp = ((idt.eye_theta - 0.06, 1.05), (idt.ear_theta - 0.14, 1.4), (idt.ear_theta - 0.12, 1.75))
    theta = [idt.eye_theta, idt.eye_theta] + [t for _ in (0, 1) for t, _p in temple_tp]
    phi = [-idt.eye_phi, idt.eye_phi] + [side * p for side in (-1.0, 1.0) for _t, p in temple_tp]
    surface = mesh.surface_points(idt, np.array(theta), np.array(phi))
    eyes = {-1.0: surface[0], 1.0: surface[1]}
    temples = {-1.0: surface[2:5], 1.0: surface[5:8]}
    centres = {}
    for side in (-1.0, 1.0):
        c = eyes[side] + np.array([0.0, 0.003, -0.017])
        centres[side] = c
        outer = c + np.stack([rx * np.cos(a), ry * np.sin(a), np.zeros_like(a)], 1)
        inner = c + 0.8 * np.stack([rx * np.cos(a), ry * np.sin(a), np.zeros_like(a)], 1)
        base = sum(len(v) for v in verts)
        verts += [outer, inner]
        normals += [np.tile([0.0, 0.0, -1.0], (2 * RIM_SEGMENTS, 1))]
        for k in range(RIM_SEGMENTS):
            k1 = (k + 1) % RIM_SEGMENTS
            quads.append([base + k, base + k1, base + RIM_SEGMENTS + k1, base + RIM_SEGMENTS + k])
    # Bridge between the inner rims.
    left, right = centres[-1.0], centres[1.0]
    y0 = left[1] - 0.2 * ry
    z0 = 0.5 * (left[2] + right[2]) - 0.002
    bridge = np.array([[left[0] + 0.8 * rx, y0 - 0.002, z0], [right[0] - 0.8 * rx, y0 - 0.002, z0],
                       [right[0] - 0.8 * rx, y0 + 0.002, z0], [left[0] + 0.8 * rx, y0 + 0.002, z0]])
    base = sum(len(v) for v in verts)
    verts.append(bridge)
    normals.append(np.tile([0.0, 0.0, -1.0], (4, 1)))
    quads.append([base, base + 1, base + 2, base + 3])
    # Temples: from the outer rim, along the side of the head, to behind the ear.
    for side in (-1.0, 1.0):
        c = centres[side]
        start = c + np.array([side * rx, -0.2 * ry, 0.0])
        path = np.concatenate([start[None], temples[side] + np.array([side * 0.007, 0.0, 0.0])])
        base = sum(len(v) for v in verts)
        ribbon = np.concatenate([path + [0, -0.002, 0], path + [0, 0.002, 0]])
        verts.append(ribbon)
        normals.append(np.tile([side, 0.0, 0.0], (len(ribbon), 1)))
        n = len(path)
        for k in range(n - 1):
            quads.append([base + k, base + k + 1, base + n + k + 1, base + n + k])
    return np.concatenate(verts), np.concatenate(normals), np.asarray(quads, dtype=np.int64)
