"""BIWI preprocessing's face detection: the Haar detector of `pyhpe.detect` with (x, y, w, h)
boxes, and FSA-Net's box handling (enlargement, choice among detections)."""

from __future__ import annotations

import numpy as np

from pyhpe.detect.haar import HaarDetector


class HaarFaceDetector:
    """`pyhpe.detect.haar.HaarDetector` (frontal + profile cascades in both directions, merged
    by NMS; the one home of the cascades) on the full-resolution, globally equalised image (as
    BIWI preprocessing always ran it), with (x, y, w, h) output.

    Call with an (H, W, 3) uint8 RGB image; returns (N, 4) boxes x, y, w, h (float64), best first.
    """

    def __init__(self, min_size: int = 40, scale_factor: float = 1.1, min_neighbors: int = 5,
                 profile: bool = True):
        self.detector = HaarDetector(min_face=min_size, max_side=None, scale_factor=scale_factor,
                                     min_neighbors=min_neighbors,
                                     profile_min_neighbors=min_neighbors, equalize="global",
                                     profile=profile)

    def __call__(self, image_rgb: np.ndarray) -> np.ndarray:
        return self.detector(image_rgb).xywh()


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
