"""Rotation conversions in pyhpe's convention (see docs/conventions.md).

A rotation matrix maps head coordinates to camera coordinates. Euler angles are
(pitch, yaw, roll) with R = Rz(roll) @ Ry(yaw) @ Rx(pitch) (6DRepNet's ``get_R``), each
factor a right-handed active rotation. The 6D representation is the first two columns
of R (Zhou et al.), stored as ``[c0, c1]`` = ``[R00, R10, R20, R01, R11, R21]``.

The batched hot-path conversions (6D -> matrix, matrix -> Euler) are native kernels in
:mod:`pyhpe.ops`; this module re-exports them so that callers have one place to look.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from pyhpe.geometry.rigid import flip_rotation_horizontal  # re-exported: the flip lives in rigid.py
from pyhpe.ops import gram_schmidt, matrix_to_euler

__all__ = [
    "SIXD_COLUMNS_TO_INTERLEAVED",
    "SIXD_INTERLEAVED_TO_COLUMNS",
    "euler_to_matrix",
    "euler_to_matrix_scalar",
    "flip_rotation_horizontal",
    "matrix_to_euler",
    "matrix_to_sixd",
    "sixd_to_matrix",
]

sixd_to_matrix = gram_schmidt


def euler_to_matrix(angles: torch.Tensor | np.ndarray, degrees: bool = False):
    """(…, 3) pitch, yaw, roll -> (…, 3, 3) R = Rz(roll) Ry(yaw) Rx(pitch).

    Accepts a torch tensor (returns a tensor of the same dtype/device) or anything
    NumPy can read (returns a float64 ndarray).
    """
    if isinstance(angles, torch.Tensor):
        a = torch.deg2rad(angles) if degrees else angles
        p, y, r = a.unbind(-1)
        cp, sp, cy, sy, cr, sr = p.cos(), p.sin(), y.cos(), y.sin(), r.cos(), r.sin()
        rows = [
            cy * cr, cr * sy * sp - sr * cp, cr * sy * cp + sr * sp,
            sr * cy, sr * sy * sp + cr * cp, sr * sy * cp - cr * sp,
            -sy, cy * sp, cy * cp,
        ]
        return torch.stack(rows, dim=-1).reshape(*a.shape[:-1], 3, 3)
    a = np.asarray(angles, dtype=np.float64)
    if a.shape[-1:] != (3,):
        raise ValueError(f"angles must have a last dimension of 3, got shape {a.shape}")
    return euler_to_matrix(torch.from_numpy(a), degrees=degrees).numpy()


def euler_to_matrix_scalar(pitch: float, yaw: float, roll: float) -> np.ndarray:
    """(3, 3) float64 R = Rz(roll) Ry(yaw) Rx(pitch) of one pose given as Python floats in degrees.

    A specialised copy of :func:`euler_to_matrix` (the same formula, on ``math`` floats) for
    per-sample code: ~4.5 µs against ~220 µs for the torch round trip of one pose (measured for
    the synthetic renderer, whose pose draw it serves). Tested equal to :func:`euler_to_matrix`
    (tests/geometry/test_rotation.py); the renderer's outputs depend on its exact bits.
    """
    p, y, r = math.radians(pitch), math.radians(yaw), math.radians(roll)
    cp, sp, cy, sy, cr, sr = math.cos(p), math.sin(p), math.cos(y), math.sin(y), math.cos(r), math.sin(r)
    return np.array([
        [cy * cr, cr * sy * sp - sr * cp, cr * sy * cp + sr * sp],
        [sr * cy, sr * sy * sp + cr * cp, sr * sy * cp - cr * sp],
        [-sy, cy * sp, cy * cp],
    ])


# The other 6D layout in use: the first two columns interleaved row by row (r00, r01, r10, r11,
# r20, r21), as Zhou et al.'s and TRGv2's code store it (``x.view(-1, 3, 2)``):
# ours[k] = interleaved[SIXD_INTERLEAVED_TO_COLUMNS[k]], interleaved[j] = ours[SIXD_COLUMNS_TO_INTERLEAVED[j]].
SIXD_INTERLEAVED_TO_COLUMNS = (0, 2, 4, 1, 3, 5)
SIXD_COLUMNS_TO_INTERLEAVED = (0, 3, 1, 4, 2, 5)


def matrix_to_sixd(R: torch.Tensor) -> torch.Tensor:
    """(…, 3, 3) -> (…, 6): the first two columns, column-major ([c0, c1])."""
    if R.shape[-2:] != (3, 3):
        raise ValueError(f"R must end in (3, 3), got {tuple(R.shape)}")
    return torch.cat([R[..., :, 0], R[..., :, 1]], dim=-1)
