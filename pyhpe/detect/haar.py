"""Offline face detection at any yaw with the Haar cascades that ship inside opencv-python 4.x.

Three cascades run on every frame, always: the frontal one, the profile one (it finds faces whose
nose points to the image's left) and the profile one on the mirrored frame (nose to the right),
so a turned face is found even when a frontal face shares the frame. Their boxes are merged by
non-maximum suppression. The cascades run on a copy of the frame shrunk to ``max_side`` pixels on
its longer side (the cost of a cascade grows with the pixel count); boxes are mapped back.

Score: the number of raw detection windows the cascade grouped into the box (OpenCV's
"neighbours", `detectMultiScale2`), as a float. It is ≥ ``min_neighbors`` for every box, grows
with how firmly a face is found (typically 3–10 for a weak hit, 20–100 for a clear frontal face
at scale factor 1.1) and is on the same scale for the three cascades, so NMS can compare them.
The cascades' level weights (`detectMultiScale3`) were not used: they are sums of stage weights of
two different cascades, not comparable between frontal and profile boxes.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from pyhpe.detect.base import Detections, Detector, check_image, downscale, nms, upscale_boxes

FRONTAL = "haarcascade_frontalface_default.xml"
PROFILE = "haarcascade_profileface.xml"
EQUALIZE = ("none", "global", "clahe")


def load_cascade(name: str) -> cv2.CascadeClassifier:
    """One of OpenCV's shipped cascades by file name (the one place that locates them)."""
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


def _window(cascade: cv2.CascadeClassifier) -> int:
    """The cascade's training window side in pixels (frontal 24, profile 20): its smallest face."""
    w, h = cascade.getOriginalWindowSize()
    return int(max(w, h))


class HaarDetector(Detector):
    """Frontal + profile (both directions) Haar cascades, merged by NMS, on a downscaled frame.

    ``min_face``: smallest face side in full-resolution pixels (on a downscaled frame it cannot go
    below the cascade window, 24 px, times the downscale factor). ``max_side``: the frame is shrunk
    so its longer side is at most this (None: never). ``scale_factor``: the cascades' pyramid step
    (``profile_scale_factor`` the profile cascade's, None: the same).
    ``min_neighbors``: raw windows a frontal box needs (the main guard against false positives);
    ``profile_min_neighbors`` the same for the profile cascade (None: ``min_neighbors``).
    ``equalize``: "none" (default), "global" (cv2.equalizeHist, OpenCV tutorials' usual step) or
    "clahe" (local). ``nms_iou``: boxes of the three cascades overlapping more than this are
    merged, the higher score kept; ``nms_inside``: a box with more than this share of its area
    inside a better-scored one is dropped too (a cascade firing on part of a face another found:
    on the 720p two-head clip of `pyhpe bench predict` these were the only false positives, scores
    4-6 against 20-54 for the heads). Haar boxes are square (the cascades' windows are).

    Defaults chosen on synthetic heads (`pyhpe bench detect`, seed 7; reported on another
    seed): no equalisation, because the cascades already normalise every window by its standard
    deviation, so a global histogram stretch adds nothing for a face and amplifies background
    texture and grain (on seed 7: frontal-bin rate 43 % -> 67 %, false positives 0.32 -> 0.11 per
    frame, 1.9x faster); 4 / 3 neighbours (frontal / profile) trade a few more false positives
    (0.11 -> 0.15 per frame) for +4 points overall; scale factor 1.05 found a little more but
    doubled both the time and the false positives.
    ``profile=False`` runs the frontal cascade alone. Scores: see the module docstring.
    """

    name = "haar"

    def __init__(self, min_face: int = 40, max_side: int | None = 640, scale_factor: float = 1.1,
                 min_neighbors: int = 4, profile_min_neighbors: int | None = 3,
                 equalize: str = "none", nms_iou: float = 0.3, profile: bool = True,
                 profile_scale_factor: float | None = None, nms_inside: float | None = 0.8):
        if equalize not in EQUALIZE:
            raise ValueError(f"equalize must be one of {', '.join(EQUALIZE)}, got {equalize!r}")
        for value in (scale_factor, profile_scale_factor):
            if value is not None and not value > 1.0:
                raise ValueError(f"scale factors must be > 1, got {value}")
        if max_side is not None and max_side < 32:
            raise ValueError(f"max_side must be >= 32 pixels (or None), got {max_side}")
        self.min_face = int(min_face)
        self.max_side = max_side
        self.scale_factor = float(scale_factor)
        self.profile_scale_factor = float(profile_scale_factor or scale_factor)
        self.min_neighbors = int(min_neighbors)
        self.profile_min_neighbors = int(min_neighbors if profile_min_neighbors is None
                                         else profile_min_neighbors)
        self.equalize = equalize
        self.nms_iou = float(nms_iou)
        self.nms_inside = nms_inside
        self.frontal = load_cascade(FRONTAL)
        self.profile = load_cascade(PROFILE) if profile else None
        self._clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))

    @property
    def settings(self) -> dict:
        """The detector's effective settings (for reports)."""
        return {"min_face": self.min_face, "max_side": self.max_side, "scale_factor": self.scale_factor,
                "min_neighbors": self.min_neighbors, "profile_min_neighbors": self.profile_min_neighbors,
                "profile_scale_factor": self.profile_scale_factor,
                "equalize": self.equalize, "nms_iou": self.nms_iou, "nms_inside": self.nms_inside,
                "profile": self.profile is not None}

    def gray(self, image_rgb: np.ndarray) -> np.ndarray:
        """The cascades' input: grayscale, equalised as configured."""
        gray = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2GRAY)
        if self.equalize == "global":
            return cv2.equalizeHist(gray)
        if self.equalize == "clahe":
            return self._clahe.apply(gray)
        return gray

    def _run(self, cascade: cv2.CascadeClassifier, gray: np.ndarray, min_side: float,
             min_neighbors: int, scale_factor: float) -> tuple[np.ndarray, np.ndarray]:
        side = max(_window(cascade), round(min_side))
        boxes, counts = cascade.detectMultiScale2(gray, scaleFactor=scale_factor,
                                                  minNeighbors=min_neighbors, minSize=(side, side))
        xywh = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        xyxy = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
        return xyxy, np.asarray(counts, dtype=np.float64).reshape(-1)

    def detect_all(self, gray: np.ndarray, min_side: float) -> Detections:
        """Every cascade's boxes on one (already downscaled) gray frame, before NMS."""
        boxes, scores = self._run(self.frontal, gray, min_side, self.min_neighbors, self.scale_factor)
        parts = [(boxes, scores, "frontal")]
        if self.profile is not None:
            width = gray.shape[1]
            pkw = {"min_side": min_side, "min_neighbors": self.profile_min_neighbors,
                   "scale_factor": self.profile_scale_factor}
            parts.append((*self._run(self.profile, gray, **pkw), "profile-left"))
            mboxes, mscores = self._run(self.profile, np.ascontiguousarray(gray[:, ::-1]), **pkw)
            mboxes = np.stack([width - mboxes[:, 2], mboxes[:, 1], width - mboxes[:, 0],
                               mboxes[:, 3]], axis=1)  # column x -> W − 1 − x, edges W − x
            parts.append((mboxes, mscores, "profile-right"))
        return Detections(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
                          np.concatenate([[p[2]] * len(p[0]) for p in parts]).astype(str))

    def __call__(self, image_rgb: np.ndarray, key: int | str | None = None) -> Detections:
        """Faces in an (H, W, 3) uint8 RGB image; ``key`` is ignored."""
        check_image(image_rgb)
        small, fx, fy = downscale(image_rgb, self.max_side)
        found = self.detect_all(self.gray(small), self.min_face / max(fx, fy))
        if len(found) == 0:
            return found
        found = found.select(nms(found.boxes, found.scores, self.nms_iou, self.nms_inside))
        found.boxes = upscale_boxes(found.boxes, fx, fy)
        return found
