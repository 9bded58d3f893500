"""300W-LP: ``.jpg`` images with same-stem ``.mat`` files (``Pose_Para``, ``pt2d``).

The same format serves AFLW2000 (:mod:`pyhpe.data.aflw2000`) and the synthetic 3DoF export.
Angles follow 6DRepNet: ``Pose_Para[:3]`` = (pitch, yaw, roll) in radians go into
R = Rz(roll) Ry(yaw) Rx(pitch) unchanged. See docs/data.md.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pyhpe.data.base import FileDataset
from pyhpe.data.filelist import read_filelist, scan_pose_mat_dir
from pyhpe.data.files import DataFileError, expect_shape, load_mat, read_image_rgb
from pyhpe.data.sample import Sample
from pyhpe.geometry.camera import box_from_points
from pyhpe.geometry.rotation import euler_to_matrix


def read_pose_mat(mat_path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, dict]:
    """(euler degrees (pitch, yaw, roll), pt2d as (68, 2), all variables) from a 300W-LP .mat."""
    mat = load_mat(mat_path, ("Pose_Para", "pt2d"))
    pose = np.asarray(mat["Pose_Para"], dtype=np.float64).reshape(-1)
    if pose.size < 3 or not np.all(np.isfinite(pose[:3])):
        raise DataFileError(mat_path, f"Pose_Para must hold >= 3 finite values, got {pose[:3]}")
    pt2d = expect_shape(mat_path, "pt2d", mat["pt2d"], (2, -1)).astype(np.float64).T
    return np.rad2deg(pose[:3]), pt2d, mat


def load_pose_mat_sample(stem: str | os.PathLike, subject: str | None = None) -> Sample:
    """One Sample from ``<stem>.jpg`` + ``<stem>.mat``."""
    stem = str(stem)
    euler, pt2d, mat = read_pose_mat(stem + ".mat")
    image = read_image_rgb(stem + ".jpg")
    extra: dict[str, Any] = {"pose_para": np.asarray(mat["Pose_Para"], dtype=np.float64).reshape(-1)}
    if "pt3d_68" in mat:
        extra["pt3d_68"] = np.asarray(mat["pt3d_68"], dtype=np.float64)
    return Sample(
        image=image,
        R=euler_to_matrix(euler, degrees=True),
        euler=euler,
        bbox=box_from_points(pt2d),
        landmarks=pt2d,
        subject=subject,
        source=stem + ".jpg",
        extra=extra,
    )


class PoseMatDataset(FileDataset):
    """Images + .mat labels under ``root``: from a 6DRepNet file list or by scanning the folder.

    ``filelist``: a list file (entries ``./dir/stem``, relative to ``root``), or None to take every
    ``*.jpg`` with a ``.mat`` beside it, unfiltered (sorted).
    """

    def __init__(
        self,
        root: str | os.PathLike,
        filelist: str | os.PathLike | None = None,
        transform: Callable[[Sample], Any] | None = None,
        skip_bad: bool = False,
    ):
        self.root = Path(root)
        if not self.root.is_dir():
            raise DataFileError(self.root, "dataset folder not found")
        if filelist is not None:
            entries: Sequence[str] = read_filelist(filelist)
        else:
            entries = scan_pose_mat_dir(self.root)
        super().__init__([str(self.root / e) for e in entries], transform, skip_bad)

    def item_files(self, item: str) -> Sequence[str]:
        return (item + ".jpg", item + ".mat")

    def load_sample(self, item: str) -> Sample:
        subject = Path(item).parent.name or None
        return load_pose_mat_sample(item, subject=subject)


class W300LP(PoseMatDataset):
    """300W-LP (AFW, HELEN, IBUG, LFPW and their _Flip folders); the training set of protocol 1."""
