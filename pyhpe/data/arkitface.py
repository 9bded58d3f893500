"""ARKitFace (PerspNet / TRG layout): csv list, ``_ar.jpg`` images, ``_info.npz`` (verts, R_t).

Annotations are in OpenGL axes and converted to pyhpe's OpenCV camera frame with
D = diag(1, -1, -1): v' = D v, R' = D R D, t' = D t. See docs/data.md.

Horizontal flips need the vertex mirror permutation of the 1220-vertex mesh: the released TRGv2
training reads ``flip_index.npy`` at the dataset root (distributed by the TRG authors, not with
the dataset). It is read when present (validated); otherwise it comes from a given topology (a
:class:`~pyhpe.models.trg.topology.FaceTopology`, a folder of the official TRGv2 files, or a
symmetric template whose mirror is derived by
:func:`pyhpe.models.trg.official.mirror_permutation`); otherwise flips use the model topology's
permutation (:class:`pyhpe.data.sixdof_crop.SixDoFCrop`). ``ARKitFace.flip_source`` and a log line
say which. Samples carry it as ``extra["vertex_flip_index"]`` and the landmark vertex ids as
``extra["landmark_vertex_index"]``, so a flip re-indexes the vertices and re-derives the landmarks.
"""

from __future__ import annotations

import csv
import logging
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
FLIP_INDEX_FILE = "flip_index.npy"  # at the dataset root, where the released TRGv2 code reads it

log = logging.getLogger(__name__)


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


def read_flip_index(path: str | os.PathLike, num_vertices: int = ARKIT_VERTEX_COUNT) -> np.ndarray:
    """The vertex mirror permutation in ``path`` (a plain ``.npy``), validated: integer values
    (integral floats accepted), shape (V,), every index in [0, V), an involution (flip∘flip = id).
    Anything else raises ``ValueError`` naming the file and the problem (``FileNotFoundError`` if
    it is missing)."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: file not found")
    try:
        a = np.load(p, allow_pickle=False)
    except Exception as e:  # not .npy, truncated, or an object array (would need pickle)
        raise ValueError(f"{p}: not a plain .npy array ({type(e).__name__}: {e})") from e
    if a.dtype.kind == "f" and a.size and np.isfinite(a).all() and np.array_equal(a, np.round(a)):
        a = a.astype(np.int64)
    if a.dtype.kind not in "iu":
        raise ValueError(f"{p}: expected integer vertex indices, got dtype {a.dtype}")
    if a.shape != (num_vertices,):
        raise ValueError(f"{p}: shape {a.shape}, expected ({num_vertices},) (one entry per vertex)")
    a = a.astype(np.int64)
    bad = np.nonzero((a < 0) | (a >= num_vertices))[0]
    if bad.size:
        raise ValueError(f"{p}: entry {int(bad[0])} = {int(a[bad[0]])} is out of range for "
                         f"{num_vertices} vertices")
    if not np.array_equal(a[a], np.arange(num_vertices)):
        i = int(np.nonzero(a[a] != np.arange(num_vertices))[0][0])
        raise ValueError(f"{p}: not an involution (flip[flip[{i}]] = {int(a[a[i]])}, not {i})")
    return a


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
    """ARKitFace frames with R, t (m), K, 1220 vertices (head frame, m), 68 landmarks and box.

    ``topology``: where the vertex flip permutation comes from when the root has no
    ``flip_index.npy`` (module docstring): a FaceTopology, a folder of the official TRGv2 files
    (:func:`pyhpe.models.trg.official.read_official_topology`) or a symmetric (1220, 3) template.
    ``flip_index`` / ``flip_source`` say what is used (None / "none": the model topology's).
    """

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "train",
        transform: Callable[[Sample], Any] | None = None,
        skip_bad: bool = False,
        topology: Any = None,
    ):
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        self.root, self.split = Path(root), split
        rows = read_arkit_list(self.root / "ARKitFace_list" / "list" / f"ARKitFace_{split}.csv")
        tri = self.root / "ARKitFace_resources" / "triangles.npy"
        self.faces = np.load(tri).astype(np.int64) if tri.is_file() else None
        self.flip_index, self.flip_source = self._flip_permutation(topology)
        log.info("ARKitFace %s: vertex flip permutation from %s", self.root, self.flip_source)
        super().__init__(rows, transform, skip_bad)

    def _flip_permutation(self, topology: Any) -> tuple[np.ndarray | None, str]:
        """(permutation or None, where it came from): the root's flip_index.npy, else ``topology``."""
        path = self.root / FLIP_INDEX_FILE
        if path.is_file():
            return read_flip_index(path), str(path)
        if topology is None:
            return None, (f"none (no {FLIP_INDEX_FILE} at the root, no topology given): flips use "
                          "the model topology's")
        if isinstance(topology, (str, os.PathLike)):
            from pyhpe.models.trg.official import read_official_topology

            topology, where = read_official_topology(topology), f"the official TRGv2 files in {topology}"
        elif isinstance(topology, np.ndarray):
            from pyhpe.models.trg.official import mirror_permutation

            flip = mirror_permutation(topology, self.faces, source="the given template")
            topology, where = None, "the mirror of the given template (mirror_permutation)"
        else:
            where = f"topology {topology.name!r}"
        if topology is not None:
            flip = np.asarray(topology.flip, dtype=np.int64)
        if flip.shape != (ARKIT_VERTEX_COUNT,):
            raise ValueError(f"ARKitFace {self.root}: {where} has {len(flip)} vertices, ARKitFace "
                             f"meshes {ARKIT_VERTEX_COUNT}")
        return flip, where

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
        extra = {"facial_action": row[1], "img_id": row[2]}
        if len(vertices) == ARKIT_VERTEX_COUNT:
            landmarks = project_points(vertices[ARKIT_LANDMARK_IDS], R, t, K)
            bbox = box_from_points(landmarks)
            extra["landmark_vertex_index"] = ARKIT_LANDMARK_IDS
            if self.flip_index is not None:
                extra["vertex_flip_index"] = self.flip_index
        return Sample(
            image=image, R=R, euler=euler_degrees_from_matrix(R), t=t, K=K, bbox=bbox,
            landmarks=landmarks, vertices=vertices, faces=self.faces, subject=row[0],
            source=str(image_path), extra=extra,
        )
