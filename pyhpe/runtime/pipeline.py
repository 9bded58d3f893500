"""Faces of a frame → pose, frame after frame: detection, tracking, one batched forward, the pose
in the camera's frame, smoothing. ``pyhpe predict`` runs it on images, folders and videos.

Per frame (:meth:`FacePipeline.frame`):

1. **Detection** (``pyhpe.detect``) on the first frame, every ``detect_every`` frames after it
   and whenever no face is being tracked; single images are always detected.
2. **Tracking** (``pyhpe.runtime.tracking.FaceTracker``, video only): between detections the
   boxes follow the image by optical flow; detections are matched to tracks, so each face keeps
   its id and a missed detection does not drop it.
3. **Pose**: every face of the frame in one batched forward (``Predictor.predict_faces``). A 6DoF
   model (TRGv2) gets the intrinsics: the given ones, or f = W + H with the principal point at
   the image centre.
4. **Pose frame**: a crop-based rotation model answers in the frame of a camera that looks
   through the crop's centre; with ``pose_frame="camera"`` (the default) the answer is rotated by
   that viewing ray (``pyhpe.geometry.crop_rotation_to_camera``, with the same intrinsics as
   above), so a head keeps its reading anywhere in the image. 6DoF models answer in the camera
   frame already.
5. **Smoothing** (video, ``smooth=True``): a One Euro filter per face id on SO(3) and on t
   (``pyhpe.runtime.smoothing.PoseSmoother``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from pyhpe.geometry.camera import crop_rotation_to_camera, project_points
from pyhpe.metrics.rotation import matrix_to_euler_deg
from pyhpe.runtime.preprocess import crop_box, default_intrinsics
from pyhpe.runtime.records import FaceResult

POSE_FRAMES = ("camera", "crop")


@dataclass
class PipelineOptions:
    """How :class:`FacePipeline` runs (``pyhpe predict``'s options)."""

    detect_every: int = 5  # video: detector runs every N frames, tracking in between (1: every frame)
    track: bool = True  # video: follow faces between detections and keep their ids
    smooth: bool = True  # video: One Euro filter per face on the pose
    min_cutoff: float | None = None  # One Euro parameters (None: the smoother's defaults)
    beta: float | None = None
    pose_frame: str = "camera"  # crop models: "camera" (rotated by the viewing ray) or "crop"
    max_faces: int = 0  # keep the N largest detections (0: all)

    def __post_init__(self) -> None:
        if int(self.detect_every) < 1:
            raise ValueError(f"detect_every must be >= 1, got {self.detect_every}")
        if self.pose_frame not in POSE_FRAMES:
            raise ValueError(f"pose_frame must be one of {POSE_FRAMES}, got {self.pose_frame!r}")
        if self.max_faces < 0:
            raise ValueError(f"max_faces must be >= 0, got {self.max_faces}")


@dataclass
class FrameResult:
    """The faces of one frame and the intrinsics used (given or assumed)."""

    faces: list[FaceResult]
    K: np.ndarray
    K_given: bool
    detected: bool  # whether the detector ran on this frame


@dataclass
class StageTimes:
    """Seconds spent per stage, summed over frames (the run's summary)."""

    seconds: dict[str, float] = field(default_factory=dict)

    def add(self, stage: str, since: float) -> float:
        now = time.perf_counter()
        self.seconds[stage] = self.seconds.get(stage, 0.0) + now - since
        return now


def _largest(boxes: np.ndarray, scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    if n and len(boxes) > n:
        keep = np.argsort(-(boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), kind="stable")[:n]
        return boxes[keep], scores[keep]
    return boxes, scores


class FacePipeline:
    """Detection → tracking → pose → camera frame → smoothing (see the module docstring).

    ``video=True`` keeps state between calls (tracks, filters); ``video=False`` treats every
    call as an unrelated image (detection on each, ids are the faces' order).
    """

    def __init__(self, predictor, detector, options: PipelineOptions | None = None, video: bool = False):
        self.predictor = predictor
        self.detector = detector
        self.options = options or PipelineOptions()
        self.video = video
        self.times = StageTimes()
        self.tracker = self.smoother = None
        if video and self.options.track:
            from pyhpe.runtime.tracking import FaceTracker

            self.tracker = FaceTracker()
        if video and self.options.smooth:
            from pyhpe.runtime.smoothing import PoseSmoother

            kwargs = {k: v for k, v in (("min_cutoff", self.options.min_cutoff), ("beta", self.options.beta))
                      if v is not None}
            self.smoother = PoseSmoother(**kwargs)

    @property
    def sixdof(self) -> bool:
        return bool(self.predictor.sixdof)

    def _detect(self, image: np.ndarray, key) -> tuple[np.ndarray, np.ndarray]:
        dets = self.detector(image, key=key)
        boxes = np.asarray(dets.boxes, dtype=np.float64).reshape(-1, 4)
        scores = np.asarray(dets.scores, dtype=np.float64).reshape(-1)
        return _largest(boxes, scores, self.options.max_faces)

    def _faces(self, image: np.ndarray, index: int, key) -> tuple[list[tuple[int, np.ndarray, float, bool]], bool]:
        """(id, box, score, detected) per face of this frame, and whether the detector ran."""
        tracking = self.tracker is not None
        run_detector = (not tracking or index % self.options.detect_every == 0
                        or not self.tracker.tracks)
        boxes = scores = None
        if run_detector:
            boxes, scores = self._detect(image, key)
        if not tracking:
            return [(i, b, float(s), True) for i, (b, s) in enumerate(zip(boxes, scores))], True
        tracks = self.tracker.update(image, boxes=boxes, scores=scores)
        return [(t.id, np.asarray(t.box, dtype=np.float64), float(t.score), bool(t.detected)) for t in tracks], run_detector

    def frame(self, image_rgb: np.ndarray, index: int = 0, time_s: float | None = None, key=None,
              K: np.ndarray | None = None) -> FrameResult:
        """The faces of one RGB frame. ``index``: the frame's number (video); ``time_s``: its time
        in seconds (smoothing; default index / 25); ``key``: what a boxes-file detector looks up
        (the frame index for a video, the file name for an image); ``K``: the camera's intrinsics
        (None: unknown, f = W + H with the principal point at the image centre)."""
        opts = self.options
        K_given = K is not None
        K = np.asarray(K, dtype=np.float64) if K_given else default_intrinsics(*image_rgb.shape[:2])
        t0 = time.perf_counter()
        faces, detected = self._faces(image_rgb, index, index if key is None else key)
        t0 = self.times.add("detect+track", t0)
        if not faces:
            if self.smoother is not None:
                self.smoother.forget([])
            return FrameResult([], K, K_given, detected)
        ids = [f[0] for f in faces]
        boxes = np.stack([f[1] for f in faces])
        out = self.predictor.predict_faces(image_rgb, boxes, K=K if self.sixdof else None)
        t0 = self.times.add("pose", t0)
        R = np.asarray(out["R"], dtype=np.float64)
        t = np.asarray(out["t"], dtype=np.float64) if "t" in out else None
        if not self.sixdof and opts.pose_frame == "camera":
            crops = np.stack([crop_box(b, self.predictor.card.crop) for b in boxes])
            R = crop_rotation_to_camera(R, crops, K)
        if self.smoother is not None:
            R, t = self.smoother(index / 25.0 if time_s is None else time_s, ids, R, t)
            self.smoother.forget(ids)
        euler = matrix_to_euler_deg(R).numpy()
        results = []
        for i, (face_id, box, score, was_detected) in enumerate(faces):
            overlay = {}
            if self.sixdof and "vertices" in out:  # the dense face, drawn projected
                overlay["mesh_image"] = project_points(np.asarray(out["vertices"][i], dtype=np.float64), R[i], t[i], K)
            results.append(FaceResult(id=face_id, box=box, score=score, detected=was_detected, R=R[i],
                                      euler_deg=euler[i], t=None if t is None else t[i], overlay=overlay))
        self.times.add("smooth", t0)
        return FrameResult(results, K, K_given, detected)
