"""The 68 iBUG landmarks of a synthetic identity, as points on its parameter sphere.

Index order is iBUG-68 as in 300W-LP: 0-16 jaw (from the image-left side of a frontal face, i.e.
the head's -x side), 17-26 brows, 27-35 nose, 36-47 eyes, 48-67 mouth. The jaw points are fixed
points on the 3D jaw (as AFLW2000-3D's pt3d_68), not a view-dependent silhouette.
"""

from __future__ import annotations

import numpy as np

from pyhpe.data.synthetic.identity import Identity

# Identity-independent parts of the landmark layout (each computed exactly as the per-point formula).
_JAW_PSI = [np.pi * k / 16 for k in range(17)]
_JAW_SIN = np.array([np.sin(p) for p in _JAW_PSI])
_JAW_PHI = np.array([-1.3 * np.cos(p) for p in _JAW_PSI])
_BROW_F = [k / 4 for k in range(5)]
_BROW_ARCH = np.array([[0.035 * np.sin(np.pi * (0.3 + 0.6 * f)) for f in _BROW_F],
                       [0.035 * np.sin(np.pi * (0.9 - 0.6 * f)) for f in _BROW_F]])
_BROW_SPAN = np.array([f * 2.3 for f in _BROW_F])
_RIDGE_K = np.arange(4.0)
_NOSTRIL_F = np.array([(k - 2) / 2 for k in range(5)])
_NOSTRIL_RISE = np.array([0.02 * abs(f) for f in _NOSTRIL_F])
# Eyes 36-41 (-x eye; its outer corner is its -phi end) and 42-47 (+x eye): (dx, dy) in half sizes.
_EYE = np.array([[(-1.0, 0.0), (-0.4, -1.0), (0.35, -1.0), (1.0, 0.0), (0.35, 0.8), (-0.4, 0.8)],
                 [(-1.0, 0.0), (-0.35, -1.0), (0.4, -1.0), (1.0, 0.0), (0.4, 0.8), (-0.35, 0.8)]])
# Outer lips 48-59, inner lips 60-67: (dx, dy) in mouth half width / lip height.
_MOUTH = np.array([(-1, 0), (-0.6, -0.8), (-0.25, -1.0), (0, -0.8), (0.25, -1.0), (0.6, -0.8), (1, 0),
                   (0.6, 0.9), (0.25, 1.1), (0, 1.15), (-0.25, 1.1), (-0.6, 0.9),
                   (-0.85, 0), (-0.3, -0.12), (0, -0.12), (0.3, -0.12), (0.85, 0), (0.3, 0.12), (0, 0.12), (-0.3, 0.12)])


def landmark_params(idt: Identity) -> np.ndarray:
    """(68, 2) (theta, phi) of the landmarks of ``idt``."""
    out = np.empty((68, 2))
    theta, phi = out[:, 0], out[:, 1]
    # Jaw 0-16: from under the -x ear, round the chin, to under the +x ear.
    top = idt.ear_theta + 0.06
    theta[:17] = top + (idt.chin_theta - top) * _JAW_SIN
    phi[:17] = _JAW_PHI
    # Brows 17-21 (-x side, outer to inner), 22-26 (+x side, inner to outer).
    brow = idt.eye_theta - idt.brow_gap
    theta[17:22], theta[22:27] = brow - _BROW_ARCH[0], brow - _BROW_ARCH[1]
    phi[17:22] = -(idt.eye_phi + 1.35 * idt.eye_w - _BROW_SPAN * idt.eye_w)
    phi[22:27] = idt.eye_phi - 0.95 * idt.eye_w + _BROW_SPAN * idt.eye_w
    # Nose ridge 27-30, nostril base 31-35.
    theta[27:31] = idt.nose_bridge_theta + (idt.nose_tip_theta - idt.nose_bridge_theta) * _RIDGE_K / 3
    phi[27:31] = 0.0
    theta[31:36] = idt.nose_tip_theta + 0.06 - _NOSTRIL_RISE
    phi[31:36] = 0.7 * idt.nose_w * _NOSTRIL_F
    # Eyes 36-41 (-x eye) and 42-47 (+x eye), corners and lids.
    theta[36:48] = idt.eye_theta + _EYE[:, :, 1].ravel() * idt.eye_h
    phi[36:42] = -idt.eye_phi + _EYE[0, :, 0] * idt.eye_w
    phi[42:48] = idt.eye_phi + _EYE[1, :, 0] * idt.eye_w
    # Outer lips 48-59, inner lips 60-67.
    theta[48:] = idt.mouth_theta + _MOUTH[:, 1] * idt.lip_h
    phi[48:] = _MOUTH[:, 0] * idt.mouth_w
    return out
