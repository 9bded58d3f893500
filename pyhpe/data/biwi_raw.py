"""Raw BIWI Kinect Head Pose for 6DoF: frames, pose files, RGB calibration, per-sequence mesh.

Pose in the RGB camera as TRG/PerspNet compute it: R = R_cal·R_head, t = R_cal·T_head + T_cal
(mm -> m). See docs/data.md for the layout.

With ``fan_annotations`` (the official ``hpdb/annot_mtcnn_fan.pkl``) each sample also carries the
released TRGv2 test crop: ``extra["crop_box"]``, the 1.5× box of the frame's FAN landmarks shifted
inside the image (:mod:`pyhpe.data.biwi_fan`), which :class:`pyhpe.data.sixdof_crop.SixDoFCrop`
uses as is; frames the file has no prediction for are counted (``fan_skipped``), logged and
skipped (the released code raises on them).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pyhpe.data.base import FileDataset
from pyhpe.data.biwi import euler_from_fsa_label, fsa_label_from_pose_matrix
from pyhpe.data.files import DataFileError, read_image_rgb, read_number_rows, require_file
from pyhpe.data.pose import euler_degrees_from_matrix
from pyhpe.data.sample import Sample
from pyhpe.geometry.camera import box_from_points, project_points

FRAME_RE = re.compile(r"^frame_(\d+)_rgb\.png$")
log = logging.getLogger(__name__)


@dataclass
class RGBCalibration:
    K: np.ndarray  # (3, 3)
    distortion: np.ndarray  # (4,)
    R: np.ndarray  # (3, 3) depth camera -> RGB camera
    T: np.ndarray  # (3,) mm
    size: tuple[int, int]  # (width, height)


def read_pose_txt(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """(R_head (3, 3), T_head (3,) mm) from ``frame_XXXXX_pose.txt`` (depth camera frame)."""
    rows = read_number_rows(path)
    if len(rows) != 4 or any(len(r) != 3 for r in rows):
        raise DataFileError(path, f"expected 3 rotation rows and 1 translation row of 3 numbers, got {rows}")
    return np.array(rows[:3]), np.array(rows[3])


def read_rgb_cal(path: str | os.PathLike) -> RGBCalibration:
    """BIWI ``rgb.cal``: K (3 rows), distortion (4), R (3 rows), T (mm), ``width height``."""
    rows = read_number_rows(path)
    shape = [len(r) for r in rows]
    if shape != [3, 3, 3, 4, 3, 3, 3, 3, 2]:
        raise DataFileError(path, f"unexpected layout (numbers per non-empty line {shape})")
    return RGBCalibration(
        K=np.array(rows[0:3]), distortion=np.array(rows[3]), R=np.array(rows[4:7]),
        T=np.array(rows[7]), size=(int(rows[8][0]), int(rows[8][1])),
    )


def read_obj(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """(vertices (V, 3), triangles (F, 3) zero-based) of a Wavefront .obj (polygons fanned)."""
    p = require_file(path)
    verts, faces = [], []
    try:
        for line in p.read_text().splitlines():
            parts = line.split()
            if not parts:
                continue
            if parts[0] == "v":
                verts.append([float(v) for v in parts[1:4]])
            elif parts[0] == "f":
                ids = [int(tok.split("/")[0]) - 1 for tok in parts[1:]]
                faces += [[ids[0], ids[i], ids[i + 1]] for i in range(1, len(ids) - 1)]
    except (ValueError, IndexError, UnicodeDecodeError) as exc:
        raise DataFileError(p, f"not a readable .obj ({exc})") from exc
    v = np.array(verts, dtype=np.float64).reshape(-1, 3)
    f = np.array(faces, dtype=np.int64).reshape(-1, 3)
    if len(v) == 0 or (len(f) and (f.min() < 0 or f.max() >= len(v))):
        raise DataFileError(p, f"no vertices or face indices out of range ({len(v)} vertices)")
    return v, f


def biwi_sequence_dirs(root: str | os.PathLike) -> list[Path]:
    """The sequence folders (two-digit names) under ``root/hpdb`` or ``root``."""
    root = Path(root)
    base = root / "hpdb" if (root / "hpdb").is_dir() else root
    if not base.is_dir():
        raise DataFileError(root, "BIWI folder not found")
    return sorted(p for p in base.iterdir() if p.is_dir() and p.name.isdigit())


class BIWIRaw(FileDataset):
    """Frames of raw BIWI with 6DoF labels in the RGB camera frame (metres).

    ``sequences``: names like ``"01"`` to keep (default all). Frames without a pose file are
    skipped, as TRG does. ``extra["fsa_euler"]`` holds FSA-Net's 3DoF label for the frame.
    ``fan_annotations``: path of the official ``annot_mtcnn_fan.pkl`` (module docstring); then
    ``extra["crop_box"]`` and ``extra["fan_landmarks"]`` (68, 2), and ``fan_skipped`` lists the
    frames (keys ``"NN/frame_XXXXX_rgb.png"``) skipped for want of a prediction.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        sequences: Sequence[str] | None = None,
        load_mesh: bool = True,
        transform: Callable[[Sample], Any] | None = None,
        skip_bad: bool = False,
        fan_annotations: str | os.PathLike | None = None,
    ):
        self.root = Path(root)
        self.load_mesh = load_mesh
        items = []
        for seq_dir in biwi_sequence_dirs(self.root):
            if sequences is not None and seq_dir.name not in sequences:
                continue
            for name in sorted(os.listdir(seq_dir)):
                m = FRAME_RE.match(name)
                if m and (seq_dir / f"frame_{m.group(1)}_pose.txt").is_file():
                    items.append((seq_dir, m.group(1)))
        self.fan = None
        self.fan_skipped: list[str] = []
        if fan_annotations is not None:
            from pyhpe.data.biwi_fan import read_fan_annotations

            self.fan = read_fan_annotations(fan_annotations)
            kept = [it for it in items if self.fan.get(self._frame_path(it)) is not None]
            self.fan_skipped = [f"{d.name}/frame_{f}_rgb.png" for d, f in items
                                if self.fan.get(self._frame_path((d, f))) is None]
            if self.fan_skipped:
                log.warning("BIWI %s: %d of %d frames have no FAN prediction in %s and are skipped "
                            "(the released TRGv2 code fails on them), e.g. %s", self.root,
                            len(self.fan_skipped), len(items), self.fan.path, self.fan_skipped[0])
            items = kept
        self._calibration: dict[Path, RGBCalibration] = {}
        self._mesh: dict[Path, tuple[np.ndarray, np.ndarray] | None] = {}
        super().__init__(items, transform, skip_bad)

    def sequences(self) -> list[str]:
        """Every frame's sequence name ("01" ... "24"), in the dataset's order (no file is read):
        the key of per-sequence quantities such as the reference-system offsets."""
        return [seq_dir.name for seq_dir, _ in self.items]

    @staticmethod
    def _frame_path(item: tuple[Path, str]) -> Path:
        seq_dir, frame = item
        return seq_dir / f"frame_{frame}_rgb.png"

    def item_files(self, item: tuple[Path, str]) -> Sequence[str]:
        return (str(self._frame_path(item)), str(item[0] / "rgb.cal"))

    def calibration(self, seq_dir: Path) -> RGBCalibration:
        if seq_dir not in self._calibration:
            self._calibration[seq_dir] = read_rgb_cal(seq_dir / "rgb.cal")
        return self._calibration[seq_dir]

    def mesh(self, seq_dir: Path) -> tuple[np.ndarray, np.ndarray] | None:
        """(vertices in m, faces) of ``<seq>.obj`` beside the sequence folder, or None if absent."""
        if seq_dir not in self._mesh:
            path = seq_dir.parent / f"{seq_dir.name}.obj"
            if self.load_mesh and path.is_file():
                v, f = read_obj(path)
                self._mesh[seq_dir] = (v * 1e-3, f)
            else:
                self._mesh[seq_dir] = None
        return self._mesh[seq_dir]

    def load_sample(self, item: tuple[Path, str]) -> Sample:
        seq_dir, frame = item
        R_head, T_head = read_pose_txt(seq_dir / f"frame_{frame}_pose.txt")
        cal = self.calibration(seq_dir)
        image = read_image_rgb(seq_dir / f"frame_{frame}_rgb.png")
        R = cal.R @ R_head
        t = (cal.R @ T_head + cal.T) * 1e-3
        mesh = self.mesh(seq_dir)
        vertices, faces = mesh if mesh is not None else (None, None)
        bbox = box_from_points(project_points(vertices, R, t, cal.K)) if vertices is not None else None
        extra = {
            "fsa_euler": euler_from_fsa_label(fsa_label_from_pose_matrix(R_head)),
            "R_depth": R_head, "T_depth_mm": T_head, "distortion": cal.distortion,
        }
        if self.fan is not None:
            from pyhpe.data.biwi_fan import fan_crop_box

            fan = self.fan.get(self._frame_path(item))
            extra["fan_landmarks"] = fan
            extra["crop_box"] = fan_crop_box(fan, image.shape[1], image.shape[0])
        return Sample(
            image=image, R=R, euler=euler_degrees_from_matrix(R), t=t, K=cal.K.copy(), bbox=bbox,
            vertices=vertices, faces=faces, subject=seq_dir.name,
            source=str(self._frame_path(item)), extra=extra,
        )
