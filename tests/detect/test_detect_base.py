"""NMS against a brute-force reference, IoU, downscale mapping, the factory."""

from __future__ import annotations

import numpy as np
import pytest

from pyhpe.detect import DETECTORS, Detections, box_iou, make_detector, nms
from pyhpe.detect.base import downscale, upscale_boxes


def _iou_one(a, b) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union if union > 0 else 0.0


def _nms_reference(boxes, scores, thr) -> list[int]:
    """Repeat: take the best remaining box, drop every remaining box overlapping it > thr."""
    remaining = list(range(len(boxes)))
    keep = []
    while remaining:
        best = max(remaining, key=lambda i: (scores[i], -i))
        keep.append(best)
        remaining = [i for i in remaining if i != best and _iou_one(boxes[best], boxes[i]) <= thr]
    return keep


def _random_boxes(rng, n):
    xy = rng.uniform(0, 100, (n, 2))
    wh = rng.uniform(5, 40, (n, 2))
    return np.concatenate([xy, xy + wh], axis=1)


@pytest.mark.parametrize("seed", range(20))
def test_nms_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 40))
    boxes = _random_boxes(rng, n)
    scores = rng.integers(0, 6, n).astype(float)  # ties on purpose
    thr = float(rng.choice([0.0, 0.3, 0.5, 0.7]))
    assert nms(boxes, scores, thr).tolist() == _nms_reference(boxes, scores, thr)


def test_nms_drops_a_box_mostly_inside_a_better_one():
    face = [100.0, 100.0, 260.0, 260.0]
    part = [110.0, 120.0, 190.0, 200.0]  # wholly inside: IoU 0.25, below any usual threshold
    apart = [300.0, 100.0, 380.0, 180.0]
    boxes, scores = np.array([face, part, apart]), np.array([30.0, 5.0, 4.0])
    assert nms(boxes, scores, 0.3).tolist() == [0, 1, 2]
    assert nms(boxes, scores, 0.3, max_inside=0.8).tolist() == [0, 2]
    # when the inner box scores better, the outer one stays (only a quarter of it is inside)
    assert nms(boxes, np.array([5.0, 30.0, 4.0]), 0.3, max_inside=0.8).tolist() == [1, 0, 2]


def test_box_iou_matches_pairwise():
    rng = np.random.default_rng(0)
    a, b = _random_boxes(rng, 7), _random_boxes(rng, 5)
    ref = np.array([[_iou_one(x, y) for y in b] for x in a])
    np.testing.assert_allclose(box_iou(a, b), ref)
    assert box_iou(np.zeros((0, 4)), b).shape == (0, 5)


def test_downscale_maps_boxes_back():
    image = np.zeros((1080, 1920, 3), np.uint8)
    image[300:501, 801:999] = 255  # whole 3×3 blocks: columns 801..998, edges at 801 and 999
    small, fx, fy = downscale(image, 640)
    assert small.shape == (360, 640, 3) and fx == pytest.approx(3.0) and fy == pytest.approx(3.0)
    ys, xs = np.nonzero(small[..., 0] > 127)
    found = np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], float)
    np.testing.assert_allclose(upscale_boxes(found, fx, fy), [[801, 300, 999, 501]])
    same, gx, gy = downscale(image, None)
    assert same is image and gx == gy == 1.0


def test_detections_record():
    d = Detections([[0, 0, 10, 20]], [3], ["frontal"])
    assert len(d) == 1 and d.boxes.dtype == np.float64 and d.scores.dtype == np.float64
    np.testing.assert_array_equal(d.xywh(), [[0, 0, 10, 20]])
    assert len(Detections.empty()) == 0
    with pytest.raises(ValueError):
        Detections(np.zeros((2, 4)), np.zeros(3))


def test_make_detector_unknown_name_lists_the_names():
    assert DETECTORS == ("haar", "yunet", "boxes")
    with pytest.raises(ValueError, match="haar, yunet, boxes"):
        make_detector("mtcnn")
