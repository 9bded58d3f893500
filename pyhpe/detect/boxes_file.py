"""Face boxes read from a JSON file: for users who run their own detector.

Two forms, one per input kind; a box is ``[x0, y0, x1, y1]`` or ``[x0, y0, x1, y1, score]`` in
image pixels (x1 > x0, y1 > y0; the score defaults to 1.0, higher = more confident):

    video:  {"width": 1280, "height": 720, "frames": {"0": [[x0, y0, x1, y1, score], ...], ...}}
    folder: {"images": {"a.jpg": [[x0, y0, x1, y1], ...], ...}}

Frame keys are 0-based frame indices written as strings (JSON keys), image keys the file names
(the name alone, or the path relative to the folder as the caller passes it). A frame or image
not listed has no face. A video file's width and height are required and must equal the video's.
Every problem is reported as one line naming the file and the entry (``frames["12"][1]``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from pyhpe.detect.base import Detections, Detector


def _fail(path: Path, where: str, msg: str) -> ValueError:
    return ValueError(f"{path}: {where}: {msg}" if where else f"{path}: {msg}")


def _boxes(path: Path, where: str, value) -> tuple[np.ndarray, np.ndarray]:
    """One entry's list of boxes -> (N, 4) boxes, (N,) scores, validated."""
    if not isinstance(value, list):
        raise _fail(path, where, f"expected a list of boxes, got {type(value).__name__}")
    boxes, scores = [], []
    for k, box in enumerate(value):
        at = f"{where}[{k}]"
        if not isinstance(box, list) or len(box) not in (4, 5):
            raise _fail(path, at, f"a box is [x0, y0, x1, y1] or [x0, y0, x1, y1, score], got {box!r}")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                   for v in box):
            raise _fail(path, at, f"box values must be finite numbers, got {box!r}")
        x0, y0, x1, y1 = (float(v) for v in box[:4])
        if not x1 > x0:
            raise _fail(path, at, f"x1 must be greater than x0, got {box!r}")
        if not y1 > y0:
            raise _fail(path, at, f"y1 must be greater than y0, got {box!r}")
        boxes.append([x0, y0, x1, y1])
        scores.append(float(box[4]) if len(box) == 5 else 1.0)
    return np.asarray(boxes, np.float64).reshape(-1, 4), np.asarray(scores, np.float64)


def _size(path: Path, data: dict, name: str) -> int:
    value = data.get(name)
    if value is None:
        raise _fail(path, "", f'a "frames" file needs "{name}" (the video\'s size in pixels)')
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise _fail(path, name, f"must be a positive integer, got {value!r}")
    return value


def load_boxes_file(path: str | Path) -> dict:
    """Read and validate a boxes file. Returns {"kind": "frames"|"images", "width", "height",
    "entries": {int frame or str name: (boxes, scores)}}; raises FileNotFoundError/ValueError
    (one line)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: boxes file not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise _fail(path, "", f"not valid JSON ({e.msg} at line {e.lineno} column {e.colno})") from None
    except UnicodeDecodeError:
        raise _fail(path, "", "not a UTF-8 text file") from None
    if not isinstance(data, dict):
        raise _fail(path, "", 'expected a JSON object with "frames" or "images"')
    kinds = [k for k in ("frames", "images") if k in data]
    if len(kinds) != 1:
        raise _fail(path, "", 'needs exactly one of "frames" (a video) or "images" (a folder)')
    kind = kinds[0]
    table = data[kind]
    if not isinstance(table, dict):
        raise _fail(path, kind, f"expected an object keyed by {'frame index' if kind == 'frames' else 'file name'}")
    entries: dict = {}
    for key, value in table.items():
        where = f"{kind}[{json.dumps(key)}]"
        if kind == "frames":
            if not (key.isascii() and key.isdigit()):
                raise _fail(path, where, "frame keys are 0-based frame indices such as \"0\"")
            key = int(key)
            if key in entries:
                raise _fail(path, where, "frame listed twice")
        entries[key] = _boxes(path, where, value)
    width = _size(path, data, "width") if kind == "frames" else data.get("width")
    height = _size(path, data, "height") if kind == "frames" else data.get("height")
    return {"kind": kind, "width": width, "height": height, "entries": entries}


class BoxesFileDetector(Detector):
    """Boxes from a JSON file (format: module docstring), looked up by the call's ``key``: the
    frame index (int) for a "frames" file, the image's file name (str) for an "images" file."""

    name = "boxes"

    def __init__(self, boxes: str | Path):
        self.path = Path(boxes)
        loaded = load_boxes_file(self.path)
        self.kind: str = loaded["kind"]
        self.width, self.height = loaded["width"], loaded["height"]
        self.entries: dict = loaded["entries"]
        self._by_name: dict[str, str | None] = {}
        if self.kind == "images":
            for name in self.entries:  # file-name lookup; None marks a name two entries share
                base = Path(name).name
                self._by_name[base] = None if base in self._by_name else name

    def _entry(self, key: int | str | None):
        if key is None:
            raise ValueError(f"{self.path}: the boxes detector needs the frame index or file name")
        if self.kind == "frames":
            if isinstance(key, bool) or not isinstance(key, (int, np.integer)):
                raise ValueError(f"{self.path}: a \"frames\" file is read by frame index, got {key!r}")
            return self.entries.get(int(key))
        key = str(key)
        if key in self.entries:
            return self.entries[key]
        name = self._by_name.get(Path(key).name)
        return self.entries[name] if name is not None else None

    def __call__(self, image_rgb: np.ndarray, key: int | str | None = None) -> Detections:
        """The file's boxes for ``key`` (none listed: no face); the image is not read."""
        entry = self._entry(key)
        return Detections.empty() if entry is None else Detections(entry[0].copy(), entry[1].copy())

    def check_input(self, *, width: int | None = None, height: int | None = None, n_frames: int | None = None,
                    names: list[str] | None = None) -> None:
        """Fail (one line) when the file does not describe this input: a "frames" file for a
        folder or an "images" file for a video, a different video size, a frame index ≥
        ``n_frames``, an image name not among ``names``."""
        if self.kind == "frames":
            if names is not None and n_frames is None:
                raise ValueError(f"{self.path}: a \"frames\" (video) boxes file, but the input is images, not a video")
            if (self.width, self.height) != (width, height):
                raise ValueError(f"{self.path}: boxes for a {self.width}x{self.height} video, "
                                 f"but the video is {width}x{height}")
            if n_frames is not None and self.entries and max(self.entries) >= n_frames:
                raise ValueError(f"{self.path}: frames[\"{max(self.entries)}\"]: the video has only "
                                 f"{n_frames} frames (indices 0-{n_frames - 1})")
            return
        if names is None:
            raise ValueError(f"{self.path}: an \"images\" (folder) boxes file, but the input is a video")
        given = {str(n) for n in names} | {Path(str(n)).name for n in names}
        unknown = [k for k in self.entries if k not in given and Path(k).name not in given]
        if unknown:
            more = f" and {len(unknown) - 1} more" if len(unknown) > 1 else ""
            raise ValueError(f"{self.path}: images[{json.dumps(unknown[0])}]{more} not among the input images")
