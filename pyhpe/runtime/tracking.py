"""Face tracking for video: detect every few frames, follow the boxes in between, keep ids stable.

Why: a face detector run on every frame is the slowest part of video prediction and still misses
faces now and then (a turned head, motion blur); without a link between frames every face is a
stranger each frame and cannot be smoothed. :class:`FaceTracker` follows each face's box from one
frame to the next with sparse optical flow and hands out ids that live as long as the face does.

Each :meth:`FaceTracker.update` with a new frame:

1. **Propagate** every track's box from the previous frame (Median Flow, Kalal et al. 2010):
   a grid of points over the box's inner part is tracked with pyramidal Lucas–Kanade
   (``cv2.calcOpticalFlowPyrLK``, on a crop around the box, downscaled for large faces) forward
   and back; only the points whose backward track returns within the median error and within
   ``fb_max_px`` are kept; the box moves by the median point shift and scales about its centre
   by the median ratio of pairwise point distances (clamped to ``max_scale_step`` per frame).
   With fewer than ``min_points`` good points the box stays where it was.
2. **Match** (only when detections are given, a "detection round"): IoU between the propagated
   boxes and the detections, an optimal one-to-one assignment (Hungarian,
   ``scipy.optimize.linear_sum_assignment``) over pairs with IoU ≥ ``iou_threshold``. A matched
   track takes the detected box and score (``missed = 0``); an unmatched detection starts a new
   track (ids 0, 1, 2, … in order of creation, never reused); an unmatched track keeps its
   propagated box and counts a miss, and is dropped once ``missed > max_missed``.
3. **Drop** tracks whose propagated box has left the frame (less than ``min_visible`` of its area
   inside the image); a box a detector reported this frame is kept whatever its position.

Frames without detections (``boxes=None``) only propagate; they do not count as misses. Boxes are xyxy in pixels, pixel centres at integer coordinates (so a W-wide
image spans [−½, W − ½], docs/conventions.md).
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from pyhpe.geometry.camera import box_iou

__all__ = ["FaceTracker", "Track"]


@dataclass
class Track:
    """One followed face, as :meth:`FaceTracker.update` returns it (a copy of the tracker's state)."""

    id: int  # stable across frames, 0, 1, 2, ... in order of creation
    box: np.ndarray  # (4,) float64 xyxy, image pixels
    score: float  # the last matched detection's score
    detected: bool  # True if a detection confirmed it this frame, False if propagated
    age: int  # frames since created (0 on the frame that created it)
    missed: int  # consecutive detection rounds without a match


def _check_boxes(boxes: np.ndarray | None, scores: np.ndarray | None
                 ) -> tuple[np.ndarray, np.ndarray] | None:
    """Validate a detection round: (N, 4) finite boxes with positive width and height, N scores."""
    if boxes is None:
        if scores is not None:
            raise ValueError("scores given without boxes")
        return None
    b = np.asarray(boxes, dtype=np.float64)
    if b.size == 0:
        b = b.reshape(0, 4)
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(f"boxes must be (N, 4) xyxy, got shape {b.shape}")
    if not np.all(np.isfinite(b)):
        raise ValueError("boxes must be finite")
    if np.any(b[:, 2] <= b[:, 0]) or np.any(b[:, 3] <= b[:, 1]):
        raise ValueError("boxes must be xyxy with x1 > x0 and y1 > y0")
    s = np.ones(len(b)) if scores is None else np.asarray(scores, dtype=np.float64).reshape(-1)
    if s.shape != (len(b),):
        raise ValueError(f"need one score per box: {len(b)} boxes, {s.size} scores")
    return b, s


def _to_gray(frame: np.ndarray) -> np.ndarray:
    """An 8-bit (H, W), (H, W, 1), RGB or RGBA frame -> (H, W) uint8 grey."""
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8:
        kind = frame.dtype if isinstance(frame, np.ndarray) else type(frame).__name__
        raise TypeError(f"frame must be a uint8 image array, got {kind}")
    if frame.ndim == 2:
        return frame
    if frame.ndim == 3 and frame.shape[2] == 1:
        return frame[:, :, 0]
    if frame.ndim == 3 and frame.shape[2] in (3, 4):
        code = cv2.COLOR_RGB2GRAY if frame.shape[2] == 3 else cv2.COLOR_RGBA2GRAY
        return cv2.cvtColor(np.ascontiguousarray(frame), code)
    raise ValueError(f"frame must be (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), got {frame.shape}")


class FaceTracker:
    """Follows face boxes through a video (module docstring): ``update`` once per frame, with the
    detector's boxes on the frames where it ran, ``None`` on the others.

    Args:
        iou_threshold: least IoU between a propagated track box and a detection to match them.
        max_missed: detection rounds in a row a track may go unmatched before it is dropped.
        flow: propagate boxes by optical flow between frames; False keeps each box where it was.
        min_visible: a propagated box with less of its area inside the image is dropped.
        fb_max_px: the largest forward-backward error (pixels) of a flow point that is kept.
        min_points: fewest good flow points for a box to move; fewer leave it in place.
        grid_points: the flow points per box are a grid_points × grid_points grid.
        max_scale_step: the box's scale changes by at most this factor (or its inverse) per frame.
        flow_side: boxes larger than 1.5x this (pixels) are tracked on a crop downscaled by an
            integer factor to about this size.
    """

    def __init__(self, iou_threshold: float = 0.3, max_missed: int = 2, flow: bool = True, *,
                 min_visible: float = 0.3, fb_max_px: float = 1.0, min_points: int = 4,
                 grid_points: int = 8, max_scale_step: float = 1.25,
                 flow_side: float = 128.0) -> None:
        if not 0.0 < iou_threshold <= 1.0:
            raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold}")
        if max_missed < 0:
            raise ValueError(f"max_missed must be >= 0, got {max_missed}")
        if max_scale_step < 1.0:
            raise ValueError(f"max_scale_step must be >= 1, got {max_scale_step}")
        self.iou_threshold, self.max_missed, self.flow = float(iou_threshold), int(max_missed), flow
        self.min_visible, self.fb_max_px = float(min_visible), float(fb_max_px)
        self.min_points, self.grid_points = max(int(min_points), 2), max(int(grid_points), 2)
        self.max_scale_step, self.flow_side = float(max_scale_step), float(flow_side)
        self._win = (15, 15)
        self._levels = 3
        self.reset()

    def reset(self) -> None:
        """Forget every track and the previous frame (a new video); ids start again at 0."""
        self._tracks: list[Track] = []
        self._ids = itertools.count()
        self._gray: np.ndarray | None = None

    @property
    def tracks(self) -> list[Track]:
        """Copies of the current tracks, by id."""
        return [dataclasses.replace(t, box=t.box.copy()) for t in self._tracks]

    def update(self, frame_rgb: np.ndarray, boxes: np.ndarray | None = None,
               scores: np.ndarray | None = None) -> list[Track]:
        """Advance to ``frame_rgb`` (uint8 RGB, RGBA or grey, the same size as the previous frames)
        with this frame's detections, (N, 4) xyxy ``boxes`` and (N,) ``scores`` (1.0 if None), or
        none (``boxes=None``); returns the tracks alive after this frame, by id."""
        gray = _to_gray(frame_rgb)
        if gray is frame_rgb or gray.base is not None:
            gray = gray.copy()  # kept for the next frame: the caller may draw on its frame
        if self._gray is not None and gray.shape != self._gray.shape:
            (h0, w0), (h1, w1) = self._gray.shape, gray.shape
            raise ValueError(f"frame size changed from {w0}x{h0} to {w1}x{h1}; "
                             "call reset() before a new video")
        detections = _check_boxes(boxes, scores)
        if self.flow and self._gray is not None:
            self._propagate(gray)
        self._gray = gray
        for t in self._tracks:
            t.age += 1
            t.detected = False
        if detections is not None:
            self._match(*detections)
        self._drop_lost(gray.shape)
        return self.tracks

    def refine(self, track_id: int, box: np.ndarray) -> None:
        """Replace a track's box on the current frame (e.g. from a 6DoF model's projected
        landmarks); the next frame propagates from it. KeyError for an unknown id."""
        b = np.asarray(box, dtype=np.float64)
        if b.shape != (4,):
            raise ValueError(f"box must be (4,) xyxy, got shape {b.shape}")
        _check_boxes(b[None], None)
        for t in self._tracks:
            if t.id == track_id:
                t.box = b.copy()
                return
        raise KeyError(f"no track with id {track_id}; alive: {[t.id for t in self._tracks]}")

    # --- steps ---------------------------------------------------------------------------------

    def _propagate(self, gray: np.ndarray) -> None:
        """Move every track's box from the previous frame to ``gray``."""
        assert self._gray is not None
        for t in self._tracks:
            t.box = self._flow_box(self._gray, gray, t.box)

    def _flow_box(self, prev: np.ndarray, cur: np.ndarray, box: np.ndarray) -> np.ndarray:
        """One box from ``prev`` to ``cur``: Lucas–Kanade on a crop of both frames around it (the
        box plus half its side and 16 px each way: pyramids of a face-sized crop, not the frame),
        downscaled by an integer factor when the box is much larger than ``flow_side`` pixels."""
        h, w = prev.shape
        pad = 0.5 * float(np.max(box[2:] - box[:2])) + 16.0
        c0, r0 = max(int(box[0] - pad), 0), max(int(box[1] - pad), 0)
        c1, r1 = min(int(box[2] + pad) + 1, w), min(int(box[3] + pad) + 1, h)
        if c1 - c0 < 16 or r1 - r0 < 16:
            return box
        # big faces are tracked at about flow_side px (an integer downscale, INTER_AREA's fast
        # path): the cost stays per face, not per pixel
        f = max(1, round(float(np.max(box[2:] - box[:2])) / self.flow_side))
        a_img, b_img = prev[r0:r1, c0:c1], cur[r0:r1, c0:c1]
        if f > 1:
            a_img = cv2.resize(a_img, None, fx=1.0 / f, fy=1.0 / f, interpolation=cv2.INTER_AREA)
            b_img = cv2.resize(b_img, None, fx=1.0 / f, fy=1.0 / f, interpolation=cv2.INTER_AREA)
        else:
            a_img, b_img = np.ascontiguousarray(a_img), np.ascontiguousarray(b_img)
        # frame pixel x -> crop pixel (x − x0 + ½)/f − ½ (cv2.resize's sampling, conventions.md)
        shift = np.array([c0, r0, c0, r0], np.float64) - 0.5
        crop_box = (box - shift) / f - 0.5
        p0 = self._grid(crop_box).reshape(-1, 1, 2)
        lk = {"winSize": self._win, "maxLevel": self._levels,
              "criteria": (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.01)}
        p1, st1, _ = cv2.calcOpticalFlowPyrLK(a_img, b_img, p0, None, **lk)
        p0b, st2, _ = cv2.calcOpticalFlowPyrLK(b_img, a_img, p1, None, **lk)
        fb = np.linalg.norm((p0b - p0).reshape(-1, 2), axis=1) * f  # in frame pixels
        good = (st1.ravel() == 1) & (st2.ravel() == 1) & np.isfinite(fb)
        if good.sum() < self.min_points:
            return box
        # Median Flow's rule: the better half by forward-backward error, and never worse than
        # fb_max_px
        good &= (fb <= self.fb_max_px) & (fb <= np.median(fb[good]))
        if good.sum() < self.min_points:
            return box
        a = (p0.reshape(-1, 2)[good].astype(np.float64) + 0.5) * f + shift[:2]
        b = (p1.reshape(-1, 2)[good].astype(np.float64) + 0.5) * f + shift[:2]
        return self._move_box(box, a, b)

    def _grid(self, box: np.ndarray) -> np.ndarray:
        """(K, 2) float32 points on a regular grid over the inner 80 % of ``box`` (less
        background). A grid, not the strongest corners: each part of the face gets its share of
        points, so an occluder or a background edge cannot outvote the face in the median."""
        n = self.grid_points
        x0, y0, x1, y1 = box
        mx, my = 0.1 * (x1 - x0), 0.1 * (y1 - y0)
        xs = np.linspace(x0 + mx, x1 - mx, n)
        ys = np.linspace(y0 + my, y1 - my, n)
        return np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2).astype(np.float32)

    def _move_box(self, box: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Median Flow: shift the box by the median displacement of the points a -> b, scale it
        about its centre by the median ratio of their pairwise distances."""
        shift = np.median(b - a, axis=0)
        i, j = np.triu_indices(len(a), k=1)
        da = np.linalg.norm(a[i] - a[j], axis=1)
        db = np.linalg.norm(b[i] - b[j], axis=1)
        ok = da > 1e-3
        scale = float(np.median(db[ok] / da[ok])) if ok.any() else 1.0
        scale = float(np.clip(scale, 1.0 / self.max_scale_step, self.max_scale_step))
        centre = 0.5 * (box[:2] + box[2:]) + shift
        half = 0.5 * (box[2:] - box[:2]) * scale
        return np.concatenate([centre - half, centre + half])

    def _match(self, boxes: np.ndarray, scores: np.ndarray) -> None:
        """Assign detections to tracks (Hungarian on IoU ≥ threshold); start and age tracks."""
        matched_t: set[int] = set()
        matched_d: set[int] = set()
        if self._tracks and len(boxes):
            iou = box_iou(np.stack([t.box for t in self._tracks]), boxes)
            gain = np.where(iou >= self.iou_threshold, iou, 0.0)
            for ti, di in zip(*linear_sum_assignment(-gain), strict=True):
                if gain[ti, di] > 0.0:
                    t = self._tracks[ti]
                    t.box, t.score = boxes[di].copy(), float(scores[di])
                    t.detected, t.missed = True, 0
                    matched_t.add(int(ti))
                    matched_d.add(int(di))
        survivors = []
        for k, t in enumerate(self._tracks):
            if k not in matched_t:
                t.missed += 1
            if t.missed <= self.max_missed:
                survivors.append(t)
        for di in range(len(boxes)):
            if di not in matched_d:
                survivors.append(Track(id=next(self._ids), box=boxes[di].copy(),
                                       score=float(scores[di]), detected=True, age=0, missed=0))
        self._tracks = survivors

    def _drop_lost(self, shape: tuple[int, int]) -> None:
        """Drop propagated tracks with less than ``min_visible`` of their box inside the image."""
        h, w = shape
        frame = np.array([-0.5, -0.5, w - 0.5, h - 0.5])
        kept = []
        for t in self._tracks:
            x0, y0 = np.maximum(t.box[:2], frame[:2])
            x1, y1 = np.minimum(t.box[2:], frame[2:])
            inside = max(x1 - x0, 0.0) * max(y1 - y0, 0.0)
            area = float(np.prod(t.box[2:] - t.box[:2]))
            if t.detected or (area > 0 and inside / area >= self.min_visible):
                kept.append(t)
        self._tracks = kept
