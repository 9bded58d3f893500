"""pyhpe's own 6DoF folder layout (what the synthetic renderer writes): csv + images + npz.

Layout and keys in docs/data.md ("pyhpe 6DoF layout"). Everything is in OpenCV camera axes.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from pyhpe.data.base import FileDataset
from pyhpe.data.files import (
    DataFileError,
    expect_shape,
    load_npz,
    read_image_rgb,
    require_file,
    write_image_rgb,
)
from pyhpe.data.pose import euler_degrees_from_matrix, is_rotation
from pyhpe.data.sample import Sample
from pyhpe.geometry.camera import box_from_points

INDEX_NAME = "samples.csv"
INDEX_COLUMNS = ("image", "annotation", "subject")
OPTIONAL_KEYS = ("vertices", "landmarks", "landmarks_visible", "bbox")


def read_sixdof_index(root: str | os.PathLike) -> list[tuple[str, str, str]]:
    """(image, annotation, subject) rows of ``<root>/samples.csv`` (paths relative to root)."""
    p = require_file(Path(root) / INDEX_NAME)
    with open(p, newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or not set(INDEX_COLUMNS) <= set(reader.fieldnames):
            raise DataFileError(p, f"csv needs columns {list(INDEX_COLUMNS)}, got {reader.fieldnames}")
        return [(r["image"], r["annotation"], r["subject"]) for r in reader]


def write_sixdof_dataset(
    root: str | os.PathLike,
    samples: Iterable[Sample],
    image_ext: str = ".jpg",
    faces: np.ndarray | None = None,
    vertex_flip_index: np.ndarray | None = None,
    progress: bool = True,
) -> int:
    """Write samples (R, t, K required) in the 6DoF layout; returns how many were written."""
    root = Path(root)
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    rows = []
    for i, s in enumerate(tqdm(samples, desc="write 6DoF", unit="img", disable=not progress)):
        if s.t is None or s.K is None:
            raise ValueError(f"sample {i} ({s.source}) lacks t or K; the 6DoF layout needs both")
        name = f"{i:06d}"
        arrays = {"R": np.asarray(s.R, np.float64), "t": np.asarray(s.t, np.float64),
                  "K": np.asarray(s.K, np.float64)}
        for key in OPTIONAL_KEYS:
            value = getattr(s, key)
            if value is not None:
                arrays[key] = np.asarray(value)
        write_image_rgb(root / "images" / (name + image_ext), s.image)
        np.savez_compressed(root / "annotations" / (name + ".npz"), **arrays)
        rows.append((f"images/{name}{image_ext}", f"annotations/{name}.npz", s.subject or ""))
    with open(root / INDEX_NAME, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(INDEX_COLUMNS)
        writer.writerows(rows)
    if faces is not None:
        np.save(root / "faces.npy", np.asarray(faces, dtype=np.int64))
    if vertex_flip_index is not None:
        np.save(root / "vertex_flip_index.npy", np.asarray(vertex_flip_index, dtype=np.int64))
    return len(rows)


class SixDoFFolder(FileDataset):
    """Samples of a folder in the pyhpe 6DoF layout."""

    def __init__(
        self,
        root: str | os.PathLike,
        transform: Callable[[Sample], Any] | None = None,
        skip_bad: bool = False,
    ):
        self.root = Path(root)
        rows = read_sixdof_index(self.root)
        faces, flip = self.root / "faces.npy", self.root / "vertex_flip_index.npy"
        self.faces = np.load(faces).astype(np.int64) if faces.is_file() else None
        self.vertex_flip_index = np.load(flip).astype(np.int64) if flip.is_file() else None
        super().__init__(rows, transform, skip_bad)

    def item_files(self, row: tuple[str, str, str]) -> Sequence[str]:
        return (str(self.root / row[0]), str(self.root / row[1]))

    def load_sample(self, row: tuple[str, str, str]) -> Sample:
        image_rel, ann_rel, subject = row
        ann_path = self.root / ann_rel
        ann = load_npz(ann_path, ("R", "t", "K"))
        R = expect_shape(ann_path, "R", ann["R"], (3, 3)).astype(np.float64)
        if not is_rotation(R):
            raise DataFileError(ann_path, "R is not a rotation matrix")
        t = expect_shape(ann_path, "t", ann["t"], (3,)).astype(np.float64)
        K = expect_shape(ann_path, "K", ann["K"], (3, 3)).astype(np.float64)
        fields = {}
        if "vertices" in ann:
            fields["vertices"] = expect_shape(ann_path, "vertices", ann["vertices"], (-1, 3)).astype(np.float64)
        if "landmarks" in ann:
            fields["landmarks"] = expect_shape(ann_path, "landmarks", ann["landmarks"], (-1, 2)).astype(np.float64)
        if "landmarks_visible" in ann:
            fields["landmarks_visible"] = np.asarray(ann["landmarks_visible"]).astype(bool).reshape(-1)
        if "bbox" in ann:
            fields["bbox"] = expect_shape(ann_path, "bbox", ann["bbox"], (4,)).astype(np.float64)
        elif "landmarks" in fields:
            fields["bbox"] = box_from_points(fields["landmarks"])
        extra = {}
        if self.vertex_flip_index is not None:
            extra["vertex_flip_index"] = self.vertex_flip_index
        return Sample(
            image=read_image_rgb(self.root / image_rel), R=R, euler=euler_degrees_from_matrix(R),
            t=t, K=K, faces=self.faces, subject=subject or None, source=str(self.root / image_rel),
            extra=extra, **fields,
        )
