"""The Haar detector: all three cascades on every frame, the mirrored profile mapped back,
NMS across cascades, the downscale mapping; one real face (matplotlib's Grace Hopper photo)."""

from __future__ import annotations

import cv2
import matplotlib.cbook
import numpy as np
import pytest

from pyhpe.data.face_detect import HaarFaceDetector
from pyhpe.detect import make_detector
from pyhpe.detect.haar import HaarDetector

FRONTAL_GREY, PROFILE_GREY = 200, 60


class BlobCascade:
    """Stands in for a cascade: 'detects' each square of one exact grey value. As a profile
    cascade it only sees blobs in the left half of the image it is given (a direction)."""

    def __init__(self, grey: int, left_half_only: bool = False):
        self.grey, self.left_half_only = grey, left_half_only

    def getOriginalWindowSize(self):
        return (20, 20)

    def detectMultiScale2(self, gray, scaleFactor, minNeighbors, minSize):
        mask = (gray == self.grey).astype(np.uint8)
        if self.left_half_only:
            mask[:, gray.shape[1] // 2:] = 0
        _, _, stats, _ = cv2.connectedComponentsWithStats(mask)
        boxes = [s[:4] for s in stats[1:] if s[2] >= minSize[0]]
        return np.array(boxes, np.int32).reshape(-1, 4), np.full(len(boxes), 10, np.int32)


def _stub_detector(**kw) -> HaarDetector:
    det = HaarDetector(equalize="none", **kw)
    det.frontal = BlobCascade(FRONTAL_GREY)
    det.profile = BlobCascade(PROFILE_GREY, left_half_only=True)
    return det


def _scene(scale: int = 1) -> np.ndarray:
    """A frontal 'face' and two profile 'faces', one per direction (the right one is seen by the
    profile cascade only in the mirrored frame)."""
    img = np.full((240 * scale, 320 * scale, 3), 128, np.uint8)
    s = scale
    img[20 * s:80 * s, 130 * s:190 * s] = FRONTAL_GREY  # frontal, columns 130..189
    img[100 * s:150 * s, 20 * s:70 * s] = PROFILE_GREY  # nose to the left
    img[160 * s:220 * s, 240 * s:300 * s] = PROFILE_GREY  # nose to the right (mirrored pass)
    return img


def _by_kind(dets):
    return {k: b.tolist() for k, b in zip(dets.kinds, dets.boxes)}


def test_all_three_cascades_run_with_a_frontal_face_present():
    dets = _stub_detector(max_side=None)(_scene())
    assert _by_kind(dets) == {"frontal": [130, 20, 190, 80], "profile-left": [20, 100, 70, 150],
                              "profile-right": [240, 160, 300, 220]}


def test_boxes_on_a_downscaled_frame_map_back_to_full_resolution():
    full = _stub_detector(max_side=None)(_scene())
    big = _stub_detector(max_side=320, min_face=40)(_scene(scale=4))  # 1280x960 shrunk 4x
    assert _by_kind(big) == {k: [4 * v for v in b] for k, b in _by_kind(full).items()}


def test_min_face_is_in_full_resolution_pixels():
    dets = _stub_detector(max_side=320, min_face=4 * 55)(_scene(scale=4))
    assert sorted(dets.kinds) == ["frontal", "profile-right"]  # the 50-px profile face is too small


def test_overlapping_boxes_of_different_cascades_merge():
    img = np.full((200, 200, 3), 128, np.uint8)
    img[50:110, 40:100] = FRONTAL_GREY
    det = _stub_detector(max_side=None)
    det.profile = BlobCascade(FRONTAL_GREY, left_half_only=True)  # fires on the same face
    dets = det(img)
    assert len(dets) == 1 and dets.boxes[0].tolist() == [40, 50, 100, 110]


def _grace_hopper_frame() -> np.ndarray:
    path = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    photo = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    frame = np.full((480, 640, 3), 90, np.uint8)
    frame[100:400, 250:506] = cv2.resize(photo, (256, 300), interpolation=cv2.INTER_AREA)
    return frame


@pytest.fixture(scope="module")
def grace():
    return _grace_hopper_frame()


def test_real_face_full_and_downscaled_agree(grace):
    full = make_detector("haar", max_side=None)(grace)
    big = cv2.resize(grace, (1280, 960), interpolation=cv2.INTER_LINEAR)
    down = make_detector("haar", max_side=640)(big)
    assert len(full) >= 1 and len(down) >= 1
    best_full, best_down = full.boxes[np.argmax(full.scores)], down.boxes[np.argmax(down.scores)]
    cx, cy = (best_full[0] + best_full[2]) / 2, (best_full[1] + best_full[3]) / 2
    assert abs(cx - 382) < 25 and abs(cy - 207) < 25
    np.testing.assert_allclose(best_down, 2 * best_full, atol=12)


def test_old_xywh_detector_uses_the_new_one(grace):
    boxes = HaarFaceDetector()(grace)
    dets = HaarDetector(max_side=None, min_neighbors=5, profile_min_neighbors=5, equalize="global")(grace)
    np.testing.assert_array_equal(boxes, dets.xywh())


def test_bad_image_and_settings():
    det = HaarDetector()
    with pytest.raises(ValueError, match="uint8"):
        det(np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match="equalize"):
        HaarDetector(equalize="gamma")
