"""pyhpe.runtime.tracking: boxes followed by optical flow on synthetic frames (textured squares
moved with cv2.warpAffine over a textured background), stable ids through detection gaps and
crossings, tracks ended when a face leaves, and clear errors on bad input."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from pyhpe.geometry import box_iou
from pyhpe.runtime.tracking import FaceTracker, Track

H, W, S = 240, 320, 60  # frame height and width, face side (pixels)


def _texture(h: int, w: int, seed: int) -> np.ndarray:
    r = cv2.GaussianBlur(np.random.default_rng(seed).random((h, w)).astype(np.float32), (0, 0), 2.0)
    return ((r - r.min()) / (r.max() - r.min()) * 255).astype(np.uint8)


BACKGROUND = _texture(H, W, 0)
FACES = [_texture(S, S, 1), _texture(S, S, 2)]


def _frame(positions: list[tuple[float, float] | None]) -> np.ndarray:
    """An RGB frame with face k's top-left pixel centre at positions[k] (later faces in front)."""
    img = BACKGROUND.copy()
    for face, pos in zip(FACES, positions, strict=False):
        if pos is None:
            continue
        M = np.float32([[1, 0, pos[0]], [0, 1, pos[1]]])
        warped = cv2.warpAffine(face, M, (W, H), flags=cv2.INTER_LINEAR)
        mask = cv2.warpAffine(np.full((S, S), 255, np.uint8), M, (W, H), flags=cv2.INTER_LINEAR)
        img = np.where(mask > 127, warped, img)
    return np.dstack([img] * 3)


def _box(pos: tuple[float, float]) -> np.ndarray:
    """The xyxy box of a face at pos (pixel centres at integers: the face spans ±½ beyond them)."""
    x, y = pos
    return np.array([x - 0.5, y - 0.5, x + S - 0.5, y + S - 0.5])


def test_flow_follows_a_moving_face_between_detections():
    tracker = FaceTracker()
    errors = []
    for k in range(30):
        pos = (30 + 3.3 * k, 40 + 1.7 * k)
        tracks = tracker.update(_frame([pos]), _box(pos)[None] if k == 0 else None)
        assert [t.id for t in tracks] == [0]
        assert tracks[0].detected == (k == 0)
        errors.append(np.abs(tracks[0].box - _box(pos)).max())
    assert max(errors) < 1.0  # measured ~0.06 px after 29 frames of flow alone
    # without flow the box stays where the detector put it
    still = FaceTracker(flow=False)
    still.update(_frame([(30, 40)]), _box((30, 40))[None])
    assert np.allclose(still.update(_frame([(60, 50)]))[0].box, _box((30, 40)))


def test_ids_stable_with_detections_every_n_frames_and_gaps_up_to_max_missed():
    tracker = FaceTracker(max_missed=2)
    rng = np.random.default_rng(0)
    misses = []
    for k in range(60):
        pos = (20 + 3.0 * k, 60 + 1.0 * k)
        boxes = None
        if k % 5 == 0:  # a detection round every 5 frames; rounds 2 and 3 (k = 10, 15) find nothing
            boxes = np.zeros((0, 4)) if k in (10, 15) else (_box(pos) + rng.normal(0, 1, 4))[None]
        tracks = tracker.update(_frame([pos]), boxes)
        assert [t.id for t in tracks] == [0], k
        assert tracks[0].age == k
        assert np.abs(tracks[0].box - _box(pos)).max() < 4.0
        misses.append(tracks[0].missed)
    assert misses[10] == 1 and misses[15] == 2 and misses[20] == 0


def test_a_vanished_face_is_dropped_after_max_missed_rounds():
    tracker = FaceTracker(max_missed=2)
    tracker.update(_frame([(100, 80)]), _box((100, 80))[None])
    empty = np.array([])
    for round_ in range(1, 4):
        tracks = tracker.update(_frame([None]), empty)
        alive = [t.id for t in tracks]
        assert alive == ([0] if round_ <= 2 else []), round_
        if round_ <= 2:
            tracks = tracker.update(_frame([None]))  # frames without detection keep it too
            assert [t.missed for t in tracks] == [round_]


def test_a_new_face_gets_a_new_id_and_crossing_faces_keep_theirs():
    tracker = FaceTracker()
    rng = np.random.default_rng(1)
    history: dict[int, list[float]] = {0: [], 1: []}
    for k in range(50):
        a = (20 + 4.0 * k, 60.0)  # face 0 moves right
        b = (260 - 4.0 * k, 100.0) if k >= 6 else None  # face 1 appears at frame 6, moves left
        boxes = None
        if k % 3 == 0:
            dets = [_box(a)] + ([_box(b)] if b is not None else [])
            boxes = np.stack(dets)[rng.permutation(len(dets))]  # detector order carries no id
        tracks = tracker.update(_frame([a, b]), boxes)
        assert [t.id for t in tracks] == ([0] if b is None else [0, 1]), k
        for t, truth in zip(tracks, [a, b], strict=False):
            history[t.id].append(np.abs(t.box - _box(truth)).max())
    # they cross around frame 30 with boxes overlapping by at most IoU 0.2 (40 px vertical offset)
    assert box_iou(_box((140, 60)), _box((140, 100)))[0, 0] == pytest.approx(0.2)
    assert max(history[0]) < 5.0 and max(history[1]) < 5.0


def test_a_face_leaving_the_frame_is_dropped():
    tracker = FaceTracker()
    tracker.update(_frame([(220, 90)]), _box((220, 90))[None])
    alive = []
    for k in range(1, 20):
        alive.append(bool(tracker.update(_frame([(220 + 6.0 * k, 90)]))))
    assert alive[0] and not alive[-1]  # gone once less than min_visible (0.3) of it is inside
    assert sum(alive) <= 13  # 0.3 of 60 px left inside by x = 278, i.e. frame 10 (+ flow slack)


def test_refine_reset_and_returned_tracks_are_copies():
    tracker = FaceTracker()
    tracks = tracker.update(_frame([(100, 80)]), _box((100, 80))[None], scores=np.array([0.9]))
    assert isinstance(tracks[0], Track) and tracks[0].score == pytest.approx(0.9)
    tracks[0].box[:] = 0  # the caller's copy
    assert np.allclose(tracker.tracks[0].box, _box((100, 80)))
    tracker.refine(0, _box((101, 81)))
    assert np.allclose(tracker.tracks[0].box, _box((101, 81)))
    with pytest.raises(KeyError):
        tracker.refine(7, _box((101, 81)))
    tracker.reset()
    assert tracker.tracks == []
    tracks = tracker.update(np.zeros((100, 100, 3), np.uint8), np.array([[10, 10, 50, 50]]))
    assert [t.id for t in tracks] == [0]  # ids start again after reset; a new size is fine


def test_bad_input_is_a_clear_error():
    tracker = FaceTracker()
    tracker.update(_frame([(100, 80)]), _box((100, 80))[None])
    with pytest.raises(ValueError, match=r"frame size changed from 320x240 to 160x120.*reset\(\)"):
        tracker.update(np.zeros((120, 160, 3), np.uint8))
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        tracker.update(_frame([(100, 80)]), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="score"):
        tracker.update(_frame([(100, 80)]), _box((100, 80))[None], scores=np.ones(2))
    with pytest.raises(ValueError, match="x1 > x0"):
        tracker.update(_frame([(100, 80)]), np.array([[50.0, 10, 40, 30]]))
    with pytest.raises(TypeError, match="uint8"):
        tracker.update(_frame([(100, 80)]).astype(np.float32))
    assert [t.id for t in tracker.update(_frame([(100, 80)]), np.zeros((0, 4)))] == [0]
    with pytest.raises(ValueError):
        FaceTracker(iou_threshold=0.0)
