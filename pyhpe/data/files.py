"""Reading the files loaders need, with errors that name the file."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import scipy.io


class DataFileError(OSError):
    """A dataset file is missing, unreadable or malformed; the message names the file."""

    def __init__(self, path: str | os.PathLike, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


def require_file(path: str | os.PathLike) -> Path:
    """The path as a Path, or DataFileError if it is not an existing file."""
    p = Path(path)
    if not p.is_file():
        raise DataFileError(p, "file not found")
    return p


def read_image_rgb(path: str | os.PathLike, unchanged: bool = False) -> np.ndarray:
    """An image file as (H, W, 3) uint8 RGB (``unchanged=True``: the raw array, any depth)."""
    p = require_file(path)
    data = np.fromfile(p, dtype=np.uint8)
    flag = cv2.IMREAD_UNCHANGED if unchanged else cv2.IMREAD_COLOR
    img = cv2.imdecode(data, flag) if data.size else None
    if img is None:
        raise DataFileError(p, "not a readable image (corrupt or unsupported format)")
    if unchanged:
        return img
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def write_image_rgb(path: str | os.PathLike, image: np.ndarray, jpeg_quality: int = 95) -> None:
    """Write an (H, W, 3) uint8 RGB image; the format follows the extension."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    bgr = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR)
    params = [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)] if p.suffix.lower() in (".jpg", ".jpeg") else []
    ok, buf = cv2.imencode(p.suffix, bgr, params)
    if not ok:
        raise DataFileError(p, "could not encode image")
    buf.tofile(p)


def load_mat(path: str | os.PathLike, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The named variables of a MATLAB .mat file; DataFileError if unreadable or a key is missing."""
    p = require_file(path)
    try:
        mat = scipy.io.loadmat(p)
    except Exception as exc:  # scipy raises several types for corrupt files
        raise DataFileError(p, f"not a readable .mat file ({exc})") from exc
    missing = [k for k in keys if k not in mat]
    if missing:
        raise DataFileError(p, f"missing key(s) {missing}")
    return {k: np.asarray(mat[k]) for k in mat if not k.startswith("__")}


def load_npz(path: str | os.PathLike, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """All arrays of an .npz file (no pickles); DataFileError if unreadable or a key is missing."""
    p = require_file(path)
    try:
        with np.load(p, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except Exception as exc:
        raise DataFileError(p, f"not a readable .npz file ({exc})") from exc
    missing = [k for k in keys if k not in arrays]
    if missing:
        raise DataFileError(p, f"missing key(s) {missing}")
    return arrays


def read_number_rows(path: str | os.PathLike) -> list[list[float]]:
    """The non-empty lines of a text file, each split into floats."""
    p = require_file(path)
    try:
        text = p.read_text()
        return [[float(v) for v in line.split()] for line in text.splitlines() if line.strip()]
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataFileError(p, f"not a table of numbers ({exc})") from exc


def expect_shape(path: str | os.PathLike, name: str, array: np.ndarray, shape: tuple) -> np.ndarray:
    """``array`` if its shape matches ``shape`` (-1 = any), else DataFileError naming the file."""
    a = np.asarray(array)
    ok = a.ndim == len(shape) and all(s in (-1, d) for s, d in zip(shape, a.shape))
    if not ok:
        raise DataFileError(path, f"{name} has shape {a.shape}, expected {shape}")
    return a
