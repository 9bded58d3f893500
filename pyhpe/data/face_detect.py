"""Offline face detection with the Haar cascades that ship inside opencv-python(-headless) 4.x,
and FSA-Net's box handling (enlargement, choice among detections)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from pyhpe.geometry.rigid import flip_xywh_boxes_horizontal

FRONTAL = "haarcascade_frontalface_default.xml"
PROFILE = "haarcascade_profileface.xml"


def _cascade(name: str) -> cv2.CascadeClassifier:
    if not hasattr(cv2, "CascadeClassifier") or not hasattr(cv2, "data"):
        raise RuntimeError(
            f"OpenCV {cv2.__version__} has no CascadeClassifier / shipped cascades; "
            "install opencv-python-headless>=4.8,<5"
        )
    path = Path(cv2.data.haarcascades) / name
    cascade = cv2.CascadeClassifier(str(path))
    if cascade.empty():
        raise RuntimeError(f"{path}: could not load the Haar cascade")
    return cascade


class HaarFaceDetector:
    """Frontal Haar cascade, then profile (both directions) if the frontal one finds nothing.

    Call with an (H, W, 3) uint8 RGB image; returns (N, 4) boxes x, y, w, h (float64).
    """

    def __init__(self, min_size: int = 40, scale_factor: float = 1.1, min_neighbors: int = 5,
                 profile: bool = True):
        self.frontal = _cascade(FRONTAL)
        self.profile = _cascade(PROFILE) if profile else None
        self.kwargs = {"scaleFactor": scale_factor, "minNeighbors": min_neighbors,
                           "minSize": (min_size, min_size)}

    def __call__(self, image_rgb: np.ndarray) -> np.ndarray:
        gray = cv2.equalizeHist(cv2.cvtColor(image_rgb, cv2.COLOR_RGB2GRAY))
        boxes = list(self.frontal.detectMultiScale(gray, **self.kwargs))
        if not boxes and self.profile is not None:
            boxes = list(self.profile.detectMultiScale(gray, **self.kwargs))
            mirrored = self.profile.detectMultiScale(np.ascontiguousarray(gray[:, ::-1]), **self.kwargs)
            boxes += list(flip_xywh_boxes_horizontal(np.reshape(mirrored, (-1, 4)), gray.shape[1]))
        return np.array(boxes, dtype=np.float64).reshape(-1, 4)


def enlarge_box(box_xywh, width: int, height: int, margin: float = 0.4) -> np.ndarray:
    """FSA-Net's enlargement: margin·w left and right, margin·h top and bottom, clipped to the
    image; returns (x0, y0, x1, y1) as ints (x1, y1 exclusive)."""
    x, y, w, h = (float(v) for v in box_xywh)
    x0 = int(max(x - margin * w, 0))
    y0 = int(max(y - margin * h, 0))
    x1 = int(min(x + w + margin * w, width))
    y1 = int(min(y + h + margin * h, height))
    return np.array([x0, y0, x1, y1])


def choose_box(boxes_xywh: np.ndarray, width: int, height: int, rule: str = "largest",
               margin: float = 0.4) -> np.ndarray | None:
    """One detection, or None if there is none. ``rule``: "largest" (area) or "fsa" (FSA-Net: the
    enlarged top-left corner nearest, in L1, to (2W/3, 2H/3))."""
    boxes = np.asarray(boxes_xywh, dtype=np.float64).reshape(-1, 4)
    if len(boxes) == 0:
        return None
    if rule == "largest":
        return boxes[int(np.argmax(boxes[:, 2] * boxes[:, 3]))]
    if rule == "fsa":
        corners = np.array([enlarge_box(b, width, height, margin)[:2] for b in boxes], dtype=np.float64)
        dist = np.abs(corners - np.array([2 * width / 3, 2 * height / 3])).sum(axis=1)
        return boxes[int(np.argmin(dist))]
    raise ValueError(f"rule must be 'largest' or 'fsa', got {rule!r}")
