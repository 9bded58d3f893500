"""BIWI as FSA-Net-style npz (``image`` BGR (N,S,S,3) uint8, ``pose`` [yaw, pitch, roll] degrees).

Also FSA-Net's label formulas from a raw BIWI pose matrix, so that preprocessing raw BIWI
(:mod:`pyhpe.data.biwi_preprocess`) writes the same labels. See docs/data.md.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from pyhpe.data.base import FileDataset
from pyhpe.data.files import DataFileError, load_npz
from pyhpe.data.sample import Sample
from pyhpe.geometry.rotation import euler_to_matrix

log = logging.getLogger(__name__)


def fsa_label_from_pose_matrix(P: np.ndarray) -> np.ndarray:
    """FSA-Net's BIWI label [yaw, pitch, roll] (degrees) from the 3×3 of ``frame_*_pose.txt``."""
    M = np.asarray(P, dtype=np.float64).T
    roll = -np.arctan2(M[1, 0], M[0, 0])
    yaw = -np.arctan2(-M[2, 0], np.hypot(M[2, 1], M[2, 2]))
    pitch = np.arctan2(M[2, 1], M[2, 2])
    return np.rad2deg(np.array([yaw, pitch, roll]))


def euler_from_fsa_label(label_ypr: np.ndarray) -> np.ndarray:
    """npz order [yaw, pitch, roll] -> pyhpe order (pitch, yaw, roll), degrees."""
    label = np.asarray(label_ypr, dtype=np.float64)
    return label[..., [1, 0, 2]]


def write_biwi_npz(path: str | os.PathLike, images_bgr: np.ndarray, poses_ypr: np.ndarray) -> None:
    """Write the FSA-Net npz: ``image`` (N,S,S,3) uint8 BGR, ``pose`` (N,3), ``img_size`` S."""
    images = np.asarray(images_bgr, dtype=np.uint8)
    poses = np.asarray(poses_ypr, dtype=np.float64).reshape(-1, 3)
    if images.ndim != 4 or images.shape[1] != images.shape[2] or images.shape[3] != 3:
        raise ValueError(f"images must be (N, S, S, 3), got {images.shape}")
    if len(images) != len(poses):
        raise ValueError(f"{len(images)} images but {len(poses)} poses")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, image=images, pose=poses, img_size=np.int64(images.shape[1]))


class BIWINpz(FileDataset):
    """Samples of one FSA-Net-style BIWI npz.

    ``keep_bgr=True`` leaves the pixels in FSA's BGR order (what 6DRepNet's BIWI loader feeds its
    network); the default converts to RGB as ``Sample`` specifies. ``skip_bad=True`` drops rows
    with non-finite labels (counted in ``skipped``); an unreadable file always raises.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        keep_bgr: bool = False,
        transform: Callable[[Sample], Any] | None = None,
        skip_bad: bool = False,
    ):
        self.path = str(path)
        data = load_npz(path, ("image", "pose"))
        images, poses = data["image"], np.asarray(data["pose"], dtype=np.float64)
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
            raise DataFileError(path, f"image must be uint8 (N, S, S, 3), got {images.dtype} {images.shape}")
        if poses.shape != (len(images), 3):
            raise DataFileError(path, f"pose must be ({len(images)}, 3), got {poses.shape}")
        if "img_size" in data and int(data["img_size"]) != images.shape[1]:
            raise DataFileError(path, f"img_size {int(data['img_size'])} != image side {images.shape[1]}")
        self.images, self.poses, self.keep_bgr = images, poses, keep_bgr
        rows = list(range(len(images)))
        finite = np.all(np.isfinite(poses), axis=1)
        bad_rows = [i for i in rows if not finite[i]]
        if bad_rows and not skip_bad:
            raise DataFileError(path, f"non-finite pose in row(s) {bad_rows[:10]}")
        super().__init__([i for i in rows if finite[i]], transform, skip_bad)
        for i in bad_rows:
            self.record_bad(DataFileError(path, f"row {i}: non-finite pose {poses[i]}"))

    def load_sample(self, row: int) -> Sample:
        img = self.images[row]
        image = np.ascontiguousarray(img if self.keep_bgr else img[..., ::-1])
        euler = euler_from_fsa_label(self.poses[row])
        h, w = image.shape[:2]
        return Sample(
            image=image,
            R=euler_to_matrix(euler, degrees=True),
            euler=euler,
            bbox=np.array([0.0, 0.0, w - 1.0, h - 1.0]),
            source=f"{self.path}#{row}",
            extra={"channel_order": "BGR" if self.keep_bgr else "RGB"},
        )
