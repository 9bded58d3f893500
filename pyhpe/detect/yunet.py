"""YuNet face detection through OpenCV's own `cv2.FaceDetectorYN`, weights supplied by the user.

YuNet (OpenCV Zoo, ``face_detection_yunet_2023mar.onnx``) is a small CNN face detector that finds
turned faces far better than Haar cascades; pyhpe ships no weights (none can be downloaded here),
the user passes the ONNX file. No dependency beyond opencv-python.

The frame is shrunk to ``max_side`` pixels on its longer side (YuNet's cost grows with the pixel
count; it pads the input to a multiple of 32 itself) and the boxes are mapped back. Score: YuNet's
confidence √(class · objectness) in [0, 1]; boxes below ``score_threshold`` are dropped by OpenCV,
and OpenCV's NMS merges overlaps above ``nms_threshold``. ``min_face`` (full-resolution pixels)
drops boxes whose shorter side is smaller.
"""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np

from pyhpe.detect.base import Detections, Detector, check_image, downscale, upscale_boxes


def _reason(e: cv2.error) -> str:
    """OpenCV's message without its source path and function: one short clause."""
    text = " ".join(str(e).split())
    found = re.search(r"error: \([^)]*\)\s*(.*?)(?: in function .*)?$", text)
    return (found.group(1) if found else text) or "OpenCV error"


def _create(path: Path, score_threshold: float, nms_threshold: float, top_k: int):
    if not hasattr(cv2, "FaceDetectorYN"):
        raise RuntimeError(f"OpenCV {cv2.__version__} has no FaceDetectorYN; install opencv-python>=4.8")
    try:
        return cv2.FaceDetectorYN.create(str(path), "", (320, 320), score_threshold, nms_threshold, top_k)
    except cv2.error as e:
        raise ValueError(f"{path}: not a YuNet ONNX model OpenCV can load ({_reason(e)})") from None


class YuNetDetector(Detector):
    """`cv2.FaceDetectorYN` on a YuNet ONNX file (``weights``). See the module docstring."""

    name = "yunet"

    def __init__(self, weights: str | Path, score_threshold: float = 0.6, nms_threshold: float = 0.3,
                 top_k: int = 5000, min_face: int = 0, max_side: int | None = 640):
        path = Path(weights)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: YuNet weights file not found (pass the .onnx file, "
                                    "e.g. face_detection_yunet_2023mar.onnx from the OpenCV Zoo)")
        if path.stat().st_size == 0:
            raise ValueError(f"{path}: the YuNet weights file is empty")
        if not 0.0 <= score_threshold <= 1.0:
            raise ValueError(f"score_threshold must lie in [0, 1], got {score_threshold}")
        if max_side is not None and max_side < 32:
            raise ValueError(f"max_side must be >= 32 pixels (or None), got {max_side}")
        self.path = path
        self.min_face = float(min_face)
        self.max_side = max_side
        self.net = _create(path, float(score_threshold), float(nms_threshold), int(top_k))
        self._size: tuple[int, int] | None = None
        self._check_outputs()

    def _check_outputs(self) -> None:
        """Run once on a blank image so a model with the wrong outputs fails here, in one line."""
        try:
            self._detect(np.zeros((64, 64, 3), np.uint8))
        except cv2.error as e:
            raise ValueError(f"{self.path}: not a YuNet face detector (expects outputs cls_8 … kps_32; "
                             f"OpenCV: {_reason(e)})") from None

    def _detect(self, bgr: np.ndarray) -> np.ndarray:
        h, w = bgr.shape[:2]
        if self._size != (w, h):
            self.net.setInputSize((w, h))
            self._size = (w, h)
        _, faces = self.net.detect(bgr)
        return np.zeros((0, 15), np.float32) if faces is None else np.asarray(faces).reshape(-1, 15)

    def __call__(self, image_rgb: np.ndarray, key: int | str | None = None) -> Detections:
        """Faces in an (H, W, 3) uint8 RGB image; ``key`` is ignored."""
        check_image(image_rgb)
        small, fx, fy = downscale(image_rgb, self.max_side)
        faces = self._detect(cv2.cvtColor(small, cv2.COLOR_RGB2BGR)).astype(np.float64)
        boxes = np.concatenate([faces[:, :2], faces[:, :2] + faces[:, 2:4]], axis=1)
        dets = Detections(upscale_boxes(boxes, fx, fy), faces[:, 14])
        if self.min_face > 0 and len(dets):
            side = np.minimum(dets.boxes[:, 2] - dets.boxes[:, 0], dets.boxes[:, 3] - dets.boxes[:, 1])
            dets = dets.select(side >= self.min_face)
        return dets
