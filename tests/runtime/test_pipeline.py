"""FacePipeline on synthetic clips (pyhpe.data.synthetic.video) with an oracle pose model.

The oracle answers what a perfect crop model would: the true camera-frame pose of the head whose
box it is given, turned into that crop's frame (the inverse of the viewing-ray rotation). So the
pipeline's camera-frame output must be the truth, the crop-frame output must not, ids must stay
the same through a turn, and smoothing must lag the truth by no more than the filter's stated
delay.
"""

from __future__ import annotations

import numpy as np
import pytest

from pyhpe.data.synthetic.video import HeadPath, render_clip
from pyhpe.detect import make_detector
from pyhpe.detect.base import Detections
from pyhpe.geometry import box_iou, ray_rotation
from pyhpe.metrics.rotation import geodesic_errors_deg
from pyhpe.models.card import CropRule
from pyhpe.runtime.pipeline import FacePipeline, PipelineOptions
from pyhpe.runtime.preprocess import crop_box, default_intrinsics

FPS = 25.0


def geodesic_deg(A, B) -> np.ndarray:
    return geodesic_errors_deg(A, B).numpy()


class _Card:
    crop = CropRule()  # 6DRepNet's test crop


class OraclePredictor:
    """A perfect crop model for one clip: the true pose of the head nearest the box, in the
    crop's frame (K: the pipeline's assumed intrinsics)."""

    sixdof = False
    backend_name = "oracle"
    card = _Card()

    def __init__(self, clip, K):
        self.clip, self.K, self.frame_index = clip, K, 0

    def predict_faces(self, image, boxes, K=None):
        labels = self.clip.labels[self.frame_index]
        R = []
        for box in boxes:
            if not labels:  # a box the tracker still carries after the head has gone
                R.append(np.eye(3))
                continue
            centre = (box[:2] + box[2:]) / 2
            head = min(labels, key=lambda d: np.linalg.norm((d["box"][:2] + d["box"][2:]) / 2 - centre))
            crop_centre = crop_box(box, self.card.crop)
            ray = ray_rotation(self.K, (crop_centre[:2] + crop_centre[2:]) / 2)
            R.append(ray.T @ head["R"])
        return {"R": np.array(R), "euler_deg": np.zeros((len(R), 3))}


class TruthDetector:
    """The clip's true landmark boxes, on frames where ``seen(frame, label)`` says so."""

    def __init__(self, clip, seen=lambda frame, label: True):
        self.clip, self.seen = clip, seen

    def __call__(self, image, key=None):
        labels = [d for d in self.clip.labels[int(key)] if self.seen(int(key), d)]
        boxes = np.array([d["box"] for d in labels]).reshape(-1, 4)
        return Detections(boxes=boxes, scores=np.ones(len(boxes)))

    def check_input(self, **kwargs):
        pass


@pytest.fixture(scope="module")
def turning_clip():
    """One head crossing a wide frame left to right while it turns from frontal to 80° yaw,
    three frames without a head at the end, and a second head shown from frame 10 on."""
    paths = [HeadPath(identity=1, start=(0.2, 0.5, 1.0, 0, 0, 0), end=(0.75, 0.5, 1.0, 0, 80, 0), shown=(0, 40)),
             HeadPath(identity=2, start=(0.85, 0.3, 1.6, 0, -40, 0), shown=(10, 40))]
    return render_clip(paths, n_frames=43, width=640, height=360, hfov_deg=90.0, fps=FPS)


def _run(clip, options, detector=None):
    K = default_intrinsics(*clip.frames[0].shape[:2])
    predictor = OraclePredictor(clip, K)
    pipeline = FacePipeline(predictor, detector or TruthDetector(clip), options, video=True)
    results = []
    for i, frame in enumerate(clip.frames):
        predictor.frame_index = i
        results.append(pipeline.frame(frame, index=i, time_s=i / FPS))
    return results


def _truth(clip, frame, head):
    return next(d for d in clip.labels[frame] if d["head"] == head)


def _head_of(clip, frame, face):
    centre = (face.box[:2] + face.box[2:]) / 2
    return min(clip.labels[frame], key=lambda d: np.linalg.norm((d["box"][:2] + d["box"][2:]) / 2 - centre))["head"]


def test_ids_stay_through_the_turn_and_new_heads_get_new_ids(turning_clip):
    results = _run(turning_clip, PipelineOptions(detect_every=5, smooth=False))
    ids = {0: set(), 1: set()}
    for i, r in enumerate(results[:40]):
        assert len(r.faces) == len(turning_clip.labels[i]), f"frame {i}"
        for face in r.faces:
            ids[_head_of(turning_clip, i, face)].add(face.id)
    assert len(ids[0]) == 1 and len(ids[1]) == 1 and ids[0] != ids[1]
    # frames without detection carry tracked boxes
    assert any(not f.detected for r in results for f in r.faces)
    # the heads leave at frame 40: their tracks coast (no detection round yet) and end after it
    assert all(f.detected is False for r in results[40:] for f in r.faces)


def test_a_detector_that_loses_the_turned_face_does_not_lose_its_id(turning_clip):
    """A frontal-only detector (nothing beyond 45° yaw): the tracker carries the face on."""
    frontal = TruthDetector(turning_clip, seen=lambda f, d: abs(d["euler"][1]) < 45 or f % 10 == 0)
    results = _run(turning_clip, PipelineOptions(detect_every=5, smooth=False), frontal)
    head0 = {f.id for i, r in enumerate(results[:40]) for f in r.faces if _head_of(turning_clip, i, f) == 0}
    assert len(head0) == 1


def test_camera_frame_pose_is_the_truth_and_crop_frame_is_not(turning_clip):
    camera = _run(turning_clip, PipelineOptions(detect_every=1, smooth=False))
    crop = _run(turning_clip, PipelineOptions(detect_every=1, smooth=False, pose_frame="crop"))
    err_camera, err_crop = [], []
    for i in range(40):
        for fc, fr in zip(camera[i].faces, crop[i].faces):
            truth = _truth(turning_clip, i, _head_of(turning_clip, i, fc))["R"]
            err_camera.append(geodesic_deg(fc.R, truth))
            err_crop.append(geodesic_deg(fr.R, truth))
    assert max(err_camera) < 1e-4
    assert np.median(err_crop) > 5.0  # at the sides of a 90° frame the crop frame is far off


def test_smoothing_lags_by_at_most_the_stated_delay(turning_clip):
    from pyhpe.runtime.smoothing import PoseSmoother

    delay = PoseSmoother().delay_s
    smoothed = _run(turning_clip, PipelineOptions(detect_every=1, smooth=True))
    yaw_rate = 80.0 / (39 / FPS)  # degrees per second
    for i in range(15, 40):  # after the filter has settled
        face = next(f for f in smoothed[i].faces if _head_of(turning_clip, i, f) == 0)
        err = geodesic_deg(face.R, _truth(turning_clip, i, 0)["R"])
        assert err <= yaw_rate * delay + 1.0, f"frame {i}: {err:.2f} deg behind"


def test_smoothing_cuts_jitter_on_a_static_head():
    """A still head, the oracle's answer perturbed by 1.5° noise: the frame-to-frame geodesic
    change drops with smoothing."""
    clip = render_clip([HeadPath(identity=3, start=(0.5, 0.5, 1.0, 5, 20, 0))], n_frames=40, width=320, height=240)
    rng = np.random.default_rng(0)
    noise = [np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
             for a in np.radians(rng.normal(0, 1.5, 40))]

    class Noisy(OraclePredictor):
        def predict_faces(self, image, boxes, K=None):
            out = super().predict_faces(image, boxes, K)
            out["R"] = out["R"] @ noise[self.frame_index]
            return out

    def jitter(smooth):
        K = default_intrinsics(240, 320)
        predictor = Noisy(clip, K)
        pipeline = FacePipeline(predictor, TruthDetector(clip), PipelineOptions(detect_every=1, smooth=smooth), video=True)
        Rs = []
        for i, frame in enumerate(clip.frames):
            predictor.frame_index = i
            Rs.append(pipeline.frame(frame, index=i, time_s=i / FPS).faces[0].R)
        return np.std(geodesic_deg(np.array(Rs[11:]), np.array(Rs[10:-1])))

    assert jitter(True) < 0.4 * jitter(False)


def test_images_are_independent_and_max_faces_keeps_the_largest(turning_clip):
    K = default_intrinsics(360, 640)
    predictor = OraclePredictor(turning_clip, K)
    predictor.frame_index = 20
    pipeline = FacePipeline(predictor, TruthDetector(turning_clip), PipelineOptions(max_faces=1), video=False)
    r = pipeline.frame(turning_clip.frames[20], key=20)
    assert len(r.faces) == 1 and _head_of(turning_clip, 20, r.faces[0]) == 0  # the nearer, larger head
    assert r.faces[0].id == 0 and not r.K_given


def test_options_are_checked():
    with pytest.raises(ValueError, match="detect_every"):
        PipelineOptions(detect_every=0)
    with pytest.raises(ValueError, match="pose_frame"):
        PipelineOptions(pose_frame="world")


def test_the_offline_detector_finds_both_heads_of_a_720p_frame():
    """The real Haar detector through the same interface, on the first frame of `pyhpe bench
    predict`'s clip (two heads turned -20° and +30°): one face per head, ids 0 and 1."""
    from pyhpe.bench.predict import speed_clip

    clip = speed_clip(1280, 720, 1)
    r = FacePipeline(OraclePredictor(clip, default_intrinsics(720, 1280)), make_detector("haar"),
                     video=False).frame(clip.frames[0])
    truth = np.array([lab["head_box"] for lab in clip.labels[0]])
    boxes = np.array([f.box for f in r.faces])
    assert [f.id for f in r.faces] == [0, 1]
    assert (box_iou(truth, boxes).max(axis=1) >= 0.3).all()
