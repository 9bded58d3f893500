"""Random pose and intrinsics, and the pinhole projection (OpenCV axes: x right, y down, z forward)."""

from __future__ import annotations

import math

import numpy as np

from pyhpe.data.synthetic.config import SynthConfig


def euler_matrix(pitch: float, yaw: float, roll: float) -> np.ndarray:
    """R = Rz(roll) Ry(yaw) Rx(pitch) of one pose in degrees: the formula of
    :func:`pyhpe.geometry.rotation.euler_to_matrix` (the reference, tested equal) on Python
    floats, without its round trip through torch (which costs more than the rest of the pose)."""
    p, y, r = math.radians(pitch), math.radians(yaw), math.radians(roll)
    cp, sp, cy, sy, cr, sr = math.cos(p), math.sin(p), math.cos(y), math.sin(y), math.cos(r), math.sin(r)
    return np.array([
        [cy * cr, cr * sy * sp - sr * cp, cr * sy * cp + sr * sp],
        [sr * cy, sr * sy * sp + cr * cp, sr * sy * cp - cr * sp],
        [-sy, cy * sp, cy * cp],
    ])


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


def to_camera(points: np.ndarray, R: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Head-frame points (N, 3) -> camera frame: R @ p + t."""
    return points @ R.T + t


def project(points_cam: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Camera-frame points (N, 3) -> pixels (N, 2) (pixel centres at integers)."""
    z = points_cam[:, 2:3]
    return (points_cam[:, :2] / z) @ K[:2, :2].T + K[:2, 2]
