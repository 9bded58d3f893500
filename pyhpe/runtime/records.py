"""What ``pyhpe predict`` writes per face: one :class:`FaceResult`, as a JSON record or a CSV row.

The CSV has one row per frame per face (OpenFace users script against this shape)::

    frame, time_s, id, detected, score, x0, y0, x1, y1, pitch, yaw, roll, R00 … R22[, tx, ty, tz]

Angles in degrees (pyhpe's Euler convention: R = Rz(roll) Ry(yaw) Rx(pitch), R maps head to
camera coordinates), the box in image pixels (x0, y0, x1, y1), t in metres in the camera frame
(OpenCV axes) for models that predict it. ``time_s`` is the frame's time in the video (frame /
fps); for a folder of images the CSV has a ``file`` column instead of ``frame, time_s``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

R_COLUMNS = tuple(f"R{i}{j}" for i in range(3) for j in range(3))
T_COLUMNS = ("tx", "ty", "tz")
FACE_COLUMNS = ("id", "detected", "score", "x0", "y0", "x1", "y1", "pitch", "yaw", "roll", *R_COLUMNS)


@dataclass
class FaceResult:
    """One face of one frame: its track id (the face's index on a single image), the box the pose
    was estimated in, the detector's score (of the last detection, for a tracked box), whether a
    detection confirmed it this frame, R (3, 3), Euler (pitch, yaw, roll) degrees, t (3,) metres
    or None; ``overlay``: what drawing needs beyond that (6DoF: the dense face projected to image
    pixels), not written to the records."""

    id: int
    box: np.ndarray
    score: float
    detected: bool
    R: np.ndarray
    euler_deg: np.ndarray
    t: np.ndarray | None = None
    overlay: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def to_json(self) -> dict:
        record = {"id": int(self.id), "box_xyxy": [float(v) for v in self.box], "score": float(self.score),
                  "detected": bool(self.detected)}
        record.update(zip(("pitch", "yaw", "roll"), (float(v) for v in self.euler_deg)))
        record["R"] = np.asarray(self.R, dtype=float).tolist()
        if self.t is not None:
            record["t"] = [float(v) for v in self.t]
        return record

    def csv_values(self, with_t: bool) -> list:
        values = [int(self.id), int(self.detected), f"{self.score:.4f}", *(f"{v:.2f}" for v in self.box),
                  *(f"{v:.4f}" for v in self.euler_deg), *(f"{v:.6f}" for v in np.asarray(self.R).ravel())]
        if with_t:
            values += [f"{v:.5f}" for v in self.t] if self.t is not None else ["", "", ""]
        return values


class CsvWriter:
    """Rows flushed as they come, so the file written so far stays valid if a run stops."""

    def __init__(self, path: str | Path, key_columns: tuple[str, ...], with_t: bool):
        self.path = Path(path)
        self.with_t = with_t
        self._file = self.path.open("w", newline="")
        self._csv = csv.writer(self._file)
        self._csv.writerow([*key_columns, *FACE_COLUMNS, *(T_COLUMNS if with_t else ())])

    def write(self, key: list, faces: list[FaceResult]) -> None:
        for face in faces:
            self._csv.writerow([*key, *face.csv_values(self.with_t)])
        self._file.flush()

    def close(self) -> None:
        self._file.close()
