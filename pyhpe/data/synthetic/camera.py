"""Random pose and intrinsics of one synthetic image (OpenCV axes: x right, y down, z forward).

The head -> camera transform and the projection are :mod:`pyhpe.geometry.camera`'s, re-exported
here under the names the renderer's benchmarks use.
"""

from __future__ import annotations

import numpy as np

from pyhpe.data.synthetic.config import SynthConfig
from pyhpe.geometry.camera import project, to_camera
from pyhpe.geometry.rotation import euler_to_matrix_scalar as euler_matrix

__all__ = ["euler_matrix", "project", "sample_pose_and_camera", "to_camera"]


def sample_pose_and_camera(
    cfg: SynthConfig, rng: np.random.Generator, head_height: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(euler degrees (pitch, yaw, roll), R, t metres, K) for one image.

    The focal length makes the head ``head_fraction`` of the image tall at its depth (a crop of a
    larger camera image); the principal point and the head's image position are jittered
    independently, so the head is seen slightly off-axis with the perspective that goes with it.
    """
    euler = np.array([rng.uniform(*cfg.pitch), rng.uniform(*cfg.yaw), rng.uniform(*cfg.roll)])
    R = euler_matrix(*euler.tolist())
    s = cfg.size
    tz = rng.uniform(*cfg.depth)
    f = rng.uniform(*cfg.head_fraction) * s * tz / head_height
    cx, cy = s / 2 + rng.uniform(-cfg.principal_jitter, cfg.principal_jitter, 2) * s
    px, py = s / 2 + rng.uniform(-cfg.center_jitter, cfg.center_jitter, 2) * s
    t = np.array([(px - cx) * tz / f, (py - cy) * tz / f, tz])
    K = np.array([[f, 0.0, cx], [0.0, f, cy], [0.0, 0.0, 1.0]])
    return euler, R, t, K
