"""The TRGv2 crop in the released code's convention (``convention="official"``): its box, image warp
and K_crop against the closed form, the card field that selects it and the task plumbing."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from support.data_fixtures import face_like_points

from pyhpe.data.sample import Sample
from pyhpe.data.sixdof_crop import SixDoFCrop
from pyhpe.geometry import camera
from pyhpe.geometry.camera import box_from_points, crop_intrinsics, project_points, square_box
from pyhpe.models.card import CropRule, ModelCard
from pyhpe.tasks import get_task

S = 48
K = np.array([[300.0, 0.0, 161.0], [0.0, 300.0, 119.5], [0.0, 0.0, 1.0]])


def _sample(seed: int = 0, centre=(150.0, 110.0)) -> Sample:
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
    return Sample(image=image, R=np.eye(3), euler=np.zeros(3), t=np.array([0.0, 0.0, 0.6]), K=K.copy(),
                  landmarks=face_like_points(centre, 25.0, rng))


def _official_box(landmarks, scale=1.5):
    """The released code's box: centre and size of the landmark extent, int() of each corner."""
    lo, hi = landmarks.min(0), landmarks.max(0)
    (cx, cy), size = (lo + hi) / 2, (hi - lo).max()
    h = scale / 2 * size
    return np.array([int(cx - h), int(cy - h), int(cx + h), int(cy + h)], dtype=np.float64)


@pytest.mark.parametrize("seed, centre", [(0, (150.0, 110.0)), (1, (20.0, 200.0)), (2, (301.3, 17.8))])
def test_official_crop_box_warp_and_K_crop_are_the_released_codes(seed, centre):
    s = _sample(seed, centre)
    out = SixDoFCrop(S, None, convention="official", output="sample")(s)
    box = out.extra["box_info"][:4]
    left, top, right, bottom = box
    b = right - left
    np.testing.assert_array_equal(box, _official_box(s.landmarks))
    np.testing.assert_array_equal(box, [int(v) for v in square_box(box_from_points(s.landmarks), 1.5)])
    # image: cv2.getAffineTransform of (l,t),(l,b),(r,t) -> (0,0),(0,S-1),(S-1,0), bilinear, black outside
    src = np.float32([[left, top], [left, bottom], [right, top]])
    dst = np.float32([[0, 0], [0, S - 1], [S - 1, 0]])
    ref = cv2.warpAffine(s.image, cv2.getAffineTransform(src, dst), (S, S))
    assert out.image.shape == (S, S, 3)
    assert np.abs(out.image.astype(int) - ref).max() <= 1  # float32 vs float64 matrix: rounding only
    # K_crop and the landmark labels: (x − left)·S/b, (y − top)·S/b
    np.testing.assert_allclose(out.K, crop_intrinsics(K, box, S, "official"), rtol=0, atol=1e-12)
    expect = (s.landmarks - [left, top]) * S / b
    np.testing.assert_allclose(out.landmarks, expect, rtol=0, atol=1e-9)
    pts = np.array([[0.01, -0.02, 0.0], [0.03, 0.01, 0.02]])
    uv = project_points(pts, s.R, s.t, K)
    np.testing.assert_allclose(project_points(pts, s.R, s.t, out.K), (uv - [left, top]) * S / b, atol=1e-9)
    # box information: [left, top, right, bottom, f, H, W] in full-image pixels
    np.testing.assert_array_equal(out.extra["box_info"], [*box, K[0, 0], 240, 320])


def test_official_image_warp_puts_a_pixel_at_x_minus_left_times_s_minus_1_over_b():
    """A bright full-image pixel lands at (x − left)·(S−1)/b in the crop (the released warp), while
    K_crop puts the same point at (x − left)·S/b: the two differ, as in the released code.
    (192 px: upsampled, so the bilinear blob's centroid is the pixel's exact position.)"""
    S = 192
    s = _sample(3)
    s.image[:] = 0
    out0 = SixDoFCrop(S, None, convention="official", output="sample")(s)
    left, top, right, bottom = out0.extra["box_info"][:4]
    b = right - left
    x, y = int(left) + 37, int(top) + 23
    s.image[y, x] = 255
    out = SixDoFCrop(S, None, convention="official", output="sample")(s)
    w = out.image[..., 0].astype(np.float64)
    ys, xs = np.mgrid[:S, :S]
    centroid = np.array([(w * xs).sum(), (w * ys).sum()]) / w.sum()
    # (cv2 interpolates with 1/32-pixel weights: centroids to a few hundredths of a pixel)
    np.testing.assert_allclose(centroid, [(x - left) * (S - 1) / b, (y - top) * (S - 1) / (bottom - top)],
                               atol=0.03)
    A = camera.crop_matrix((left, top, right, bottom), S, "official")
    at_K = camera.affine_points([[x, y]], A)[0]
    np.testing.assert_allclose(at_K, [(x - left) * S / b, (y - top) * S / b], rtol=0, atol=1e-12)
    np.testing.assert_allclose(at_K, project_points([[(x - K[0, 2]) / 300.0, (y - K[1, 2]) / 300.0, 1.0]],
                                                    np.eye(3), np.zeros(3), out.K)[0], atol=1e-9)
    assert np.abs(centroid - at_K).max() > 0.25  # image and K_crop disagree, as released
    # the default (pyhpe) crop is one consistent map: image and K agree
    ref = SixDoFCrop(S, None, output="sample")(s)
    bx = ref.extra["box_info"][:4]
    Ap = camera.crop_matrix(bx, S)
    w = ref.image[..., 0].astype(np.float64)
    centroid = np.array([(w * xs).sum(), (w * ys).sum()]) / w.sum()
    np.testing.assert_allclose(centroid, camera.affine_points([[x, y]], Ap)[0], atol=0.03)
    np.testing.assert_allclose(ref.K, Ap @ K, rtol=1e-12, atol=1e-9)


def test_official_crop_of_a_given_box_is_used_as_is_and_pyhpe_squares_it():
    s = _sample(4)
    s.extra["crop_box"] = np.array([100.0, 80.0, 170.0, 151.0])  # 70 wide, 71 high (int truncation)
    off = SixDoFCrop(S, None, convention="official", output="sample")(s)
    np.testing.assert_array_equal(off.extra["box_info"][:4], [100, 80, 170, 151])
    ours = SixDoFCrop(S, None, output="sample")(s)
    np.testing.assert_array_equal(ours.extra["box_info"][:4], [100, 80, 170, 150])
    with pytest.raises(ValueError, match="crop box"):
        SixDoFCrop(S, None, train=True, output="sample")(s)


# ---- the card field and the task ---------------------------------------------------------------------

def test_card_convention_field_round_trips_and_old_cards_are_unchanged():
    assert CropRule().convention == "pyhpe"
    assert set(camera.CROP_CONVENTIONS) == {"pyhpe", "official"}
    old = {"version": 1, "task": "trgv2_6dof", "model": "trgv2_resnet18", "kwargs": {}, "form": "train",
           "input_size": 192, "crop": {"kind": "landmark_box", "margin": 0.5, "resize": 224},
           "normalize": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}, "outputs": []}
    card = ModelCard.from_dict(old)
    assert card.crop.convention == "pyhpe"
    assert json.dumps(card.to_dict()) == json.dumps(old)  # writes identically: no new key
    official = card.with_(crop={"kind": "landmark_box", "margin": 0.5, "resize": 224, "convention": "official"})
    d = official.to_dict()
    assert d["crop"]["convention"] == "official"
    assert ModelCard.from_dict(json.loads(json.dumps(d))) == official
    with pytest.raises(ValueError, match="crop convention must be one of"):
        CropRule(kind="landmark_box", convention="paper")
    with pytest.raises(ValueError, match="model.json: crop convention"):
        ModelCard.from_dict(dict(old, crop=dict(old["crop"], convention=3)), where="model.json")


def test_task_test_transform_crops_in_the_cards_convention():
    task = get_task("trgv2_6dof")
    s = _sample(5)
    rule = CropRule(kind="landmark_box", margin=0.5, resize=224, convention="official")
    tf = task.test_transform(rule, S, {}, output="sample")
    assert tf.convention == "official"
    np.testing.assert_array_equal(tf(s).K, SixDoFCrop(S, None, convention="official", output="sample")(s).K)
    assert task.test_transform(task.config_crop({}), S, {}).convention == "pyhpe"
