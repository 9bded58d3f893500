"""ARKitFace (PerspNet / TRG layout): csv list, ``_ar.jpg`` images, ``_info.npz`` (verts, R_t).

Annotations are in OpenGL axes and converted to pyhpe's OpenCV camera frame with
D = diag(1, -1, -1): v' = D v, R' = D R D, t' = D t. See docs/data.md.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pyhpe.data.base import FileDataset
from pyhpe.data.files import DataFileError, expect_shape, load_npz, read_image_rgb, require_file
from pyhpe.data.pose import euler_degrees_from_matrix, is_rotation
from pyhpe.data.sample import Sample
from pyhpe.geometry.camera import box_from_points, project_points

# 68 iBUG-order landmarks as ARKit-topology vertex ids (PerspNet/TRG ``kpt_ind``).
ARKIT_LANDMARK_IDS = np.array([
    57, 376, 208, 905, 462, 921, 923, 986, 975, 1050, 990, 906, 1216, 1215, 1213, 730, 966, 200, 197,
    327, 329, 348, 781, 764, 762, 646, 649, 15, 13, 10, 8, 308, 76, 4, 525, 743, 1101, 1096, 1092,
    1193, 1196, 1106, 1168, 1078, 1074, 1069, 1161, 1165, 190, 108, 94, 21, 543, 557, 639, 713, 706,
    28, 271, 278, 406, 95, 23, 544, 836, 708, 26, 273,
])
ARKIT_VERTEX_COUNT = 1220
ARKIT_COT_HALF_FOV = 1.57443701  # from PerspNet's fixed OpenGL projection matrix
GL_TO_CV = np.diag([1.0, -1.0, -1.0])


def arkit_intrinsics(width: int, height: int) -> np.ndarray:
    """K for an ARKitFace image: f = 1.574437·W/2 (x), ·H/2 (y), principal point at the centre."""
    return np.array([
        [ARKIT_COT_HALF_FOV * width / 2.0, 0.0, width / 2.0],
        [0.0, ARKIT_COT_HALF_FOV * height / 2.0, height / 2.0],
        [0.0, 0.0, 1.0],
    ])


def pose_from_gl_row_matrix(R_t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(R, t) in OpenCV axes from ARKitFace's 4×4 row-vector OpenGL pose ([Rᵀ 0; tᵀ 1])."""
    M = np.asarray(R_t, dtype=np.float64)
    R_gl, t_gl = M[:3, :3].T, M[3, :3]
    return GL_TO_CV @ R_gl @ GL_TO_CV, GL_TO_CV @ t_gl


def read_arkit_list(path: str | os.PathLike) -> list[tuple[str, str, str]]:
    """(subject_id, facial_action, img_id) rows of ``ARKitFace_{split}.csv`` (read as strings)."""
    p = require_file(path)
    with open(p, newline="") as fh:
        reader = csv.DictReader(fh)
        need = {"subject_id", "facial_action", "img_id"}
        if reader.fieldnames is None or not need <= set(reader.fieldnames):
            raise DataFileError(p, f"csv needs columns {sorted(need)}, got {reader.fieldnames}")
        return [(r["subject_id"], r["facial_action"], r["img_id"]) for r in reader]


class ARKitFace(FileDataset):
    """ARKitFace frames with R, t (m), K, 1220 vertices (head frame, m), 68 landmarks and box."""

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "train",
        transform: Callable[[Sample], Any] | None = None,
        skip_bad: bool = False,
    ):
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        self.root, self.split = Path(root), split
        rows = read_arkit_list(self.root / "ARKitFace_list" / "list" / f"ARKitFace_{split}.csv")
        tri = self.root / "ARKitFace_resources" / "triangles.npy"
        self.faces = np.load(tri).astype(np.int64) if tri.is_file() else None
        super().__init__(rows, transform, skip_bad)

    def paths(self, row: tuple[str, str, str]) -> tuple[Path, Path]:
        subject, action, img_id = row
        image = self.root / f"ARKitFace_image_{self.split}" / "image" / subject / action / f"{img_id}_ar.jpg"
        info = self.root / f"ARKitFace_info_{self.split}" / "info" / subject / action / f"{img_id}_info.npz"
        return image, info

    def item_files(self, row: tuple[str, str, str]) -> Sequence[str]:
        return tuple(str(p) for p in self.paths(row))

    def load_sample(self, row: tuple[str, str, str]) -> Sample:
        image_path, info_path = self.paths(row)
        info = load_npz(info_path, ("verts", "R_t"))
        verts_gl = expect_shape(info_path, "verts", info["verts"], (-1, 3)).astype(np.float64)
        R, t = pose_from_gl_row_matrix(expect_shape(info_path, "R_t", info["R_t"], (4, 4)))
        if not is_rotation(R):
            raise DataFileError(info_path, "R_t's rotation block is not a rotation")
        image = read_image_rgb(image_path)
        h, w = image.shape[:2]
        K = np.asarray(info["K"], dtype=np.float64) if "K" in info else arkit_intrinsics(w, h)
        vertices = verts_gl @ GL_TO_CV  # D is symmetric: v' = D v for each row
        landmarks = bbox = None
        if len(vertices) == ARKIT_VERTEX_COUNT:
            landmarks = project_points(vertices[ARKIT_LANDMARK_IDS], R, t, K)
            bbox = box_from_points(landmarks)
        return Sample(
            image=image, R=R, euler=euler_degrees_from_matrix(R), t=t, K=K, bbox=bbox,
            landmarks=landmarks, vertices=vertices, faces=self.faces, subject=row[0],
            source=str(image_path), extra={"facial_action": row[1], "img_id": row[2]},
        )
