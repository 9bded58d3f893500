"""The 68 iBUG landmarks of a synthetic identity, as points on its parameter sphere.

Index order is iBUG-68 as in 300W-LP: 0-16 jaw (from the image-left side of a frontal face, i.e.
the head's -x side), 17-26 brows, 27-35 nose, 36-47 eyes, 48-67 mouth. The jaw points are fixed
points on the 3D jaw (as AFLW2000-3D's pt3d_68), not a view-dependent silhouette.
"""

from __future__ import annotations

import numpy as np

from pyhpe.data.synthetic.identity import Identity


def landmark_params(idt: Identity) -> np.ndarray:
    """(68, 2) (theta, phi) of the landmarks of ``idt``."""
    pts: list[tuple[float, float]] = []
    # Jaw 0-16: from under the -x ear, round the chin, to under the +x ear.
    top = idt.ear_theta + 0.06
    for k in range(17):
        psi = np.pi * k / 16
        pts.append((top + (idt.chin_theta - top) * np.sin(psi), -1.3 * np.cos(psi)))
    # Brows 17-21 (-x side, outer to inner), 22-26 (+x side, inner to outer).
    brow = idt.eye_theta - idt.brow_gap
    for k in range(5):
        f = k / 4
        pts.append((brow - 0.035 * np.sin(np.pi * (0.3 + 0.6 * f)), -(idt.eye_phi + 1.35 * idt.eye_w - f * 2.3 * idt.eye_w)))
    for k in range(5):
        f = k / 4
        pts.append((brow - 0.035 * np.sin(np.pi * (0.9 - 0.6 * f)), idt.eye_phi - 0.95 * idt.eye_w + f * 2.3 * idt.eye_w))
    # Nose ridge 27-30, nostril base 31-35.
    for k in range(4):
        pts.append((idt.nose_bridge_theta + (idt.nose_tip_theta - idt.nose_bridge_theta) * k / 3, 0.0))
    for k in range(5):
        f = (k - 2) / 2
        pts.append((idt.nose_tip_theta + 0.06 - 0.02 * abs(f), 0.7 * idt.nose_w * f))
    # Eyes 36-41 (-x eye) and 42-47 (+x eye), corners and lids.
    w, h = idt.eye_w, idt.eye_h
    lid = [(-1.0, 0.0), (-0.4, -1.0), (0.35, -1.0), (1.0, 0.0), (0.35, 0.8), (-0.4, 0.8)]
    for dx, dy in lid:  # -x eye: outer corner is its -phi end
        pts.append((idt.eye_theta + dy * h, -idt.eye_phi + dx * w))
    for dx, dy in [(-1.0, 0.0), (-0.35, -1.0), (0.4, -1.0), (1.0, 0.0), (0.4, 0.8), (-0.35, 0.8)]:
        pts.append((idt.eye_theta + dy * h, idt.eye_phi + dx * w))
    # Outer lips 48-59, inner lips 60-67.
    mw, lh = idt.mouth_w, idt.lip_h
    outer = [(-1, 0), (-0.6, -0.8), (-0.25, -1.0), (0, -0.8), (0.25, -1.0), (0.6, -0.8), (1, 0),
             (0.6, 0.9), (0.25, 1.1), (0, 1.15), (-0.25, 1.1), (-0.6, 0.9)]
    inner = [(-0.85, 0), (-0.3, -0.12), (0, -0.12), (0.3, -0.12), (0.85, 0), (0.3, 0.12), (0, 0.12), (-0.3, 0.12)]
    for dx, dy in outer + inner:
        pts.append((idt.mouth_theta + dy * lh, dx * mw))
    return np.asarray(pts, dtype=np.float64)
