"""Small NumPy-facing wrappers over :mod:`pyhpe.geometry.rotation` for the loaders."""

from __future__ import annotations

import numpy as np
import torch

from pyhpe.geometry.rotation import matrix_to_euler


def euler_degrees_from_matrix(R: np.ndarray) -> np.ndarray:
    """(3, 3) or (N, 3, 3) rotation -> (pitch, yaw, roll) degrees, float64, 6DRepNet's decoding."""
    R = np.asarray(R, dtype=np.float64)
    batch = torch.from_numpy(R.reshape(-1, 3, 3).copy())
    out = matrix_to_euler(batch, degrees=True).numpy().astype(np.float64)
    return out.reshape(R.shape[:-2] + (3,))


def is_rotation(R: np.ndarray, atol: float = 1e-4) -> bool:
    """True if R is orthonormal with determinant +1 (within ``atol``)."""
    R = np.asarray(R, dtype=np.float64)
    return R.shape == (3, 3) and np.allclose(R @ R.T, np.eye(3), atol=atol) and np.linalg.det(R) > 0
