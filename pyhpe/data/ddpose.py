"""DD-Pose (Roth & Gavrila 2019): driver-camera frames with 4×4 head -> camera transforms.

Layout from the public devkit; unit of t (metres assumed), rectification and head-frame axes are
not verifiable here: see docs/data.md.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pyhpe.data.base import FileDataset
from pyhpe.data.files import DataFileError, read_image_rgb, require_file
from pyhpe.data.pose import euler_degrees_from_matrix, is_rotation
from pyhpe.data.sample import Sample

log = logging.getLogger(__name__)

TEST_SUBJECTS = (3, 6, 10, 11, 14, 15, 16, 17)  # devkit resources/dataset-items-test.txt
TRGV2_VAL_SUBJECTS = (8, 19, 23)
ITEM_RE = re.compile(r"^subject-(\d+)$")


def read_json(path: str | os.PathLike) -> Any:
    p = require_file(path)
    try:
        return json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataFileError(p, f"not valid JSON ({exc})") from exc


def read_stamped_transforms(path: str | os.PathLike) -> dict[int, np.ndarray]:
    """``t-camdriver-head.json``: stamp -> 4×4 transform (entries set to null are dropped)."""
    data = read_json(path)
    if not isinstance(data, dict):
        raise DataFileError(path, "expected a JSON object stamp -> 4x4 matrix")
    out = {}
    for stamp, T in data.items():
        if T is None:
            continue
        M = np.asarray(T, dtype=np.float64)
        if M.shape != (4, 4):
            raise DataFileError(path, f"transform for stamp {stamp} has shape {M.shape}, expected (4, 4)")
        out[int(stamp)] = M
    return out


def read_camera_json(path: str | os.PathLike) -> np.ndarray:
    """K (3, 3) from a devkit camera-model json (ROS fields; K as 9 numbers or 3×3)."""
    data = read_json(path)
    try:
        return np.asarray(data["K"], dtype=np.float64).reshape(3, 3)
    except (KeyError, TypeError, ValueError) as exc:
        raise DataFileError(path, f"no usable 'K' ({exc})") from exc


def find_ddpose_items(root: str | os.PathLike) -> list[Path]:
    """``subject-XX/scenario-YY/<humanhash>`` folders under root (sorted)."""
    root = Path(root)
    if not root.is_dir():
        raise DataFileError(root, "DD-Pose folder not found")
    return sorted(p for p in root.glob("subject-*/scenario-*/*") if p.is_dir())


class DDPose(FileDataset):
    """Labelled driver-left frames: R, t (head -> camera), K, subject, occlusion label in ``extra``.

    ``subjects``: subject numbers to keep (default all); ``resolution``: "small" or "full".
    Items without ``t-camdriver-head.json`` (the withheld test split) contribute no frames.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        subjects: Sequence[int] | None = None,
        resolution: str = "small",
        transform: Callable[[Sample], Any] | None = None,
        skip_bad: bool = False,
    ):
        if resolution not in ("small", "full"):
            raise ValueError(f"resolution must be 'small' or 'full', got {resolution!r}")
        self.resolution = resolution
        self.occlusion: dict[Path, dict[int, Any]] = {}
        items, bad = [], []
        for item_dir in find_ddpose_items(root):
            subject = int(item_dir.parent.parent.name.split("-")[1])
            if subjects is not None and subject not in subjects:
                continue
            pose_file = item_dir / "t-camdriver-head.json"
            if not pose_file.is_file():
                continue
            try:
                transforms = read_stamped_transforms(pose_file)
                occ = item_dir / "occlusion-labels.json"
                self.occlusion[item_dir] = (
                    {int(k): v for k, v in read_json(occ).items()} if occ.is_file() else {}
                )
            except DataFileError as exc:
                if not skip_bad:
                    raise
                bad.append(exc)
                continue
            items += [(item_dir, subject, stamp, T) for stamp, T in sorted(transforms.items())]
        super().__init__(items, transform, skip_bad)
        for exc in bad:
            self.record_bad(exc)

    def image_paths(self, item) -> tuple[Path, Path]:
        item_dir, _, stamp, _ = item
        folder = item_dir / f"{self.resolution}-resolution" / "driver-left-img"
        return folder / f"{stamp}.png", folder / f"{stamp}.json"

    def item_files(self, item) -> Sequence[str]:
        return tuple(str(p) for p in self.image_paths(item))

    def load_sample(self, item) -> Sample:
        item_dir, subject, stamp, T = item
        image_path, camera_path = self.image_paths(item)
        raw = read_image_rgb(image_path, unchanged=True)
        if raw.dtype == np.uint16:
            raw = (raw >> 8).astype(np.uint8)
        image = np.repeat(raw[..., None], 3, axis=2) if raw.ndim == 2 else raw[..., :3][..., ::-1]
        R = T[:3, :3]
        if not is_rotation(R):
            raise DataFileError(item_dir / "t-camdriver-head.json", f"stamp {stamp}: not a rotation")
        return Sample(
            image=np.ascontiguousarray(image), R=R.copy(), euler=euler_degrees_from_matrix(R),
            t=T[:3, 3].copy(), K=read_camera_json(camera_path), subject=f"{subject:02d}",
            source=str(image_path),
            extra={"stamp": stamp, "occlusion": self.occlusion.get(item_dir, {}).get(stamp)},
        )
