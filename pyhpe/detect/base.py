"""What every face detector shares: the result record, the interface, NMS and the downscaling.

A detector is called with an (H, W, 3) uint8 RGB image and an optional key (the frame index of a
video, the file name of an image in a folder; only the boxes-file detector reads it) and returns
`Detections`: boxes (x0, y0, x1, y1) in full-resolution image pixels, the convention of
`pyhpe.geometry.camera` (a detector's (x, y, w, h) becomes (x, y, x + w, y + h)).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pyhpe.geometry.camera import box_iou


@dataclass
class Detections:
    """N faces of one image: ``boxes`` (N, 4) float64 x0, y0, x1, y1 in image pixels; ``scores``
    (N,) float64, higher = more confident (the scale is the detector's, see its docstring);
    ``kinds`` (N,) str or None: which model found each face (Haar: "frontal", "profile-left",
    "profile-right")."""

    boxes: np.ndarray
    scores: np.ndarray
    kinds: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.boxes = np.asarray(self.boxes, dtype=np.float64).reshape(-1, 4)
        self.scores = np.asarray(self.scores, dtype=np.float64).reshape(-1)
        if len(self.scores) != len(self.boxes):
            raise ValueError(f"{len(self.boxes)} boxes but {len(self.scores)} scores")
        if self.kinds is not None:
            self.kinds = np.asarray(self.kinds, dtype=str).reshape(-1)
            if len(self.kinds) != len(self.boxes):
                raise ValueError(f"{len(self.boxes)} boxes but {len(self.kinds)} kinds")

    def __len__(self) -> int:
        return len(self.boxes)

    @classmethod
    def empty(cls) -> Detections:
        """No face."""
        return cls(np.zeros((0, 4)), np.zeros(0))

    def select(self, index) -> Detections:
        """The detections at ``index`` (a boolean mask or integer indices), in that order."""
        kinds = None if self.kinds is None else self.kinds[index]
        return Detections(self.boxes[index], self.scores[index], kinds)

    def xywh(self) -> np.ndarray:
        """(N, 4) boxes as (x, y, w, h), the form `pyhpe.data.face_detect` and OpenCV use."""
        b = self.boxes
        return np.concatenate([b[:, :2], b[:, 2:] - b[:, :2]], axis=1)


class Detector:
    """Interface of a face detector. Subclasses implement ``__call__``; ``check_input`` is a
    no-op unless a detector depends on the input (the boxes file)."""

    name = "detector"

    def __call__(self, image_rgb: np.ndarray, key: int | str | None = None) -> Detections:
        raise NotImplementedError

    def check_input(self, *, width: int | None = None, height: int | None = None, n_frames: int | None = None,
                    names: list[str] | None = None) -> None:
        """Raise ValueError (one line) when the detector cannot serve this input: a video (its
        width, height and frame count when known) or images (their file names)."""


def check_image(image_rgb: np.ndarray) -> None:
    """A detector's input must be (H, W, 3) uint8; say so in one line otherwise."""
    if not isinstance(image_rgb, np.ndarray) or image_rgb.ndim != 3 or image_rgb.shape[2] != 3 \
            or image_rgb.dtype != np.uint8:
        shape = getattr(image_rgb, "shape", None)
        dtype = getattr(image_rgb, "dtype", type(image_rgb).__name__)
        raise ValueError(f"a detector takes an (H, W, 3) uint8 RGB image, got shape {shape} {dtype}")


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float = 0.3,
        max_inside: float | None = None) -> np.ndarray:
    """Greedy non-maximum suppression: indices of the kept boxes, best score first.

    Boxes are visited by decreasing score (ties: the earlier index first); a box is dropped when
    its IoU with an already kept box exceeds ``iou_threshold``, or, with ``max_inside``, when more
    than that fraction of its own area lies inside an already kept box (a cascade's small box on
    a part of a face found better: IoU alone keeps it, being small).
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    order = np.argsort(-scores, kind="stable")
    iou = box_iou(boxes, boxes)
    drop = iou > iou_threshold
    if max_inside is not None:
        lo = np.maximum(boxes[:, None, :2], boxes[None, :, :2])
        hi = np.minimum(boxes[:, None, 2:], boxes[None, :, 2:])
        inter = np.prod(np.clip(hi - lo, 0.0, None), axis=-1)
        area = np.prod(np.clip(boxes[:, 2:] - boxes[:, :2], 0.0, None), axis=-1)
        inside = np.divide(inter, area[None, :], out=np.zeros_like(inter), where=area[None, :] > 0)
        drop |= inside > max_inside  # [i, j]: the share of box j inside box i
    keep: list[int] = []
    suppressed = np.zeros(len(boxes), dtype=bool)
    for i in order:
        if suppressed[i]:
            continue
        keep.append(int(i))
        suppressed |= drop[i]
    return np.array(keep, dtype=np.int64)


def downscale(image: np.ndarray, max_side: int | None) -> tuple[np.ndarray, float, float]:
    """Shrink ``image`` so its longer side is at most ``max_side`` (INTER_AREA; None or a smaller
    image: unchanged). Returns the image and the factors (W / w, H / h) that map a box found on it
    back to the full image (`upscale_boxes`)."""
    h, w = image.shape[:2]
    if max_side is None or max(h, w) <= max_side:
        return image, 1.0, 1.0
    s = max_side / max(h, w)
    sw, sh = max(1, round(w * s)), max(1, round(h * s))
    small = cv2.resize(image, (sw, sh), interpolation=cv2.INTER_AREA)
    return small, w / sw, h / sh


def upscale_boxes(boxes: np.ndarray, fx: float, fy: float) -> np.ndarray:
    """Boxes (x0, y0, x1, y1) on a resized image -> on the original. A box edge sits on a pixel
    boundary (x − ½ in centre coordinates), and cv2.resize maps boundaries by the plain ratio, so
    x0, x1 scale by W / w and y0, y1 by H / h."""
    out = np.asarray(boxes, dtype=np.float64).reshape(-1, 4).copy()
    out[:, 0::2] *= fx
    out[:, 1::2] *= fy
    return out
