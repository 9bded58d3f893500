"""Writes synthetic samples to disk in the layouts of docs/data.md (300W-LP .jpg + .mat, pyhpe 6DoF)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import scipy.io
from tqdm import tqdm

from pyhpe.data.filelist import write_filelist
from pyhpe.data.files import write_image_rgb
from pyhpe.data.sample import Sample
from pyhpe.data.sixdof import write_sixdof_dataset

LAYOUTS = ("300wlp", "6dof")
SUBFOLDER_300WLP = "synth"


def pose_mat(sample: Sample) -> dict[str, np.ndarray]:
    """The .mat variables of one sample: 300W-LP's ``Pose_Para`` and ``pt2d``, plus exact extras.

    ``Pose_Para`` = [pitch, yaw, roll (radians), 0, 0, 0, 1] (300W-LP's weak-perspective
    translation and scale do not apply; the exact camera is in ``R``, ``t``, ``K``).
    """
    pitch, yaw, roll = np.deg2rad(np.asarray(sample.euler, np.float64))
    out = {
        "Pose_Para": np.array([[pitch, yaw, roll, 0.0, 0.0, 0.0, 1.0]]),
        "pt2d": np.asarray(sample.landmarks, np.float64).T.copy(),
        "R": np.asarray(sample.R, np.float64),
        "t": np.asarray(sample.t, np.float64).reshape(1, 3),
        "K": np.asarray(sample.K, np.float64),
        "bbox": np.asarray(sample.bbox, np.float64).reshape(1, 4),
    }
    if sample.landmarks_visible is not None:
        out["pt2d_visible"] = np.asarray(sample.landmarks_visible, np.uint8).reshape(1, -1)
    return out


def write_300wlp(root: str | os.PathLike, samples: Iterable[Sample], progress: bool = True,
                 first_index: int = 0) -> int:
    """``<root>/synth/<id>.jpg`` + ``.mat`` and ``<root>/files.txt``; returns the count written.

    Files are named by sample index (``first_index`` + position, six digits).
    """
    root = Path(root)
    folder = root / SUBFOLDER_300WLP
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for i, s in enumerate(tqdm(samples, desc="synth 300W-LP", unit="img", disable=not progress)):
        stem = f"{first_index + i:06d}"
        write_image_rgb(folder / f"{stem}.jpg", s.image)
        scipy.io.savemat(folder / f"{stem}.mat", pose_mat(s))
        entries.append(f"./{SUBFOLDER_300WLP}/{stem}")
    write_filelist(entries, root / "files.txt")
    return len(entries)


def write_dataset(root: str | os.PathLike, samples: Iterable[Sample], layout: str,
                  faces: np.ndarray | None = None, vertex_flip_index: np.ndarray | None = None,
                  progress: bool = True, first_index: int = 0) -> int:
    """Write ``samples`` under ``root`` in ``layout`` ("300wlp" or "6dof").

    ``first_index`` names the 300W-LP files; the 6DoF writer always numbers from 0.
    """
    if layout == "300wlp":
        return write_300wlp(root, samples, progress=progress, first_index=first_index)
    if layout == "6dof":
        return write_sixdof_dataset(root, samples, faces=faces, vertex_flip_index=vertex_flip_index,
                                    progress=progress)
    raise ValueError(f"unknown layout {layout!r}; choose one of {LAYOUTS}")
