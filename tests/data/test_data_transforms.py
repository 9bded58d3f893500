"""Transforms: flip/crop/resize keep every label consistent (closed forms), 6DRepNet's crops,
photometric ops, normalisation and the ready pipelines."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from pyhpe.data import transforms as T
from pyhpe.data.landmarks import IBUG68_MIRROR
from pyhpe.data.pose import euler_degrees_from_matrix
from pyhpe.data.sample import Sample
from pyhpe.geometry.camera import project_points
from pyhpe.geometry.rotation import euler_to_matrix

F = np.diag([-1.0, 1.0, 1.0])


def symmetric_head(rng) -> np.ndarray:
    """68 head-frame points (m) with point IBUG68_MIRROR[i] = mirror image of point i."""
    v = rng.uniform([-0.07, -0.08, -0.08], [0.07, 0.08, 0.02], size=(68, 3))
    for i, j in enumerate(IBUG68_MIRROR):
        if i == j:
            v[i, 0] = 0.0
        elif i < j:
            v[j] = v[i] * [-1, 1, 1]
    return v


def six_dof_sample(seed=0, size=(200, 160)) -> Sample:
    rng = np.random.default_rng(seed)
    R = euler_to_matrix(rng.uniform([-30, -60, -20], [30, 60, 20]), degrees=True)
    t = np.array([0.02, -0.01, 0.5])
    K = np.array([[250.0, 0.0, 97.3], [0.0, 255.0, 81.9], [0.0, 0.0, 1.0]])
    v = symmetric_head(rng)
    lm = project_points(v, R, t, K)
    img = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    return Sample(image=img, R=R, euler=euler_degrees_from_matrix(R), t=t, K=K,
                  bbox=np.r_[lm.min(0), lm.max(0)], landmarks=lm, landmarks_visible=np.arange(68) < 40,
                  vertices=v, faces=np.array([[0, 1, 2]]), extra={"vertex_flip_index": IBUG68_MIRROR})


def assert_consistent(s: Sample):
    """Vertices projected with (R, t, K) land on the landmarks; Euler matches R."""
    np.testing.assert_allclose(project_points(s.vertices, s.R, s.t, s.K), s.landmarks, atol=1e-9)
    np.testing.assert_allclose(euler_to_matrix(s.euler, degrees=True), s.R, atol=1e-9)


# ---- flip ----------------------------------------------------------------------------------------

def test_flip_label_rule_in_closed_form():
    rng = np.random.default_rng(1)
    for e in rng.uniform([-80, -85, -170], [80, 85, 170], size=(100, 3)):
        R = euler_to_matrix(e, degrees=True)
        mirrored = euler_to_matrix(e * [1, -1, -1], degrees=True)
        np.testing.assert_allclose(mirrored, F @ R @ F, atol=1e-12)  # yaw, roll negated == M R M


def test_euler_matrix_round_trip():
    rng = np.random.default_rng(2)
    e = rng.uniform([-179, -89, -179], [179, 89, 179], size=(200, 3))
    np.testing.assert_allclose(euler_degrees_from_matrix(euler_to_matrix(e, degrees=True)), e, atol=1e-9)


def test_hflip_keeps_6dof_labels_consistent_and_is_an_involution():
    s = six_dof_sample()
    f = T.hflip(s)
    assert_consistent(f)
    np.testing.assert_allclose(f.R, F @ s.R @ F)
    np.testing.assert_allclose(f.euler, s.euler * [1, -1, -1])
    np.testing.assert_array_equal(f.image, s.image[:, ::-1])
    np.testing.assert_allclose(f.vertices, s.vertices, atol=1e-15)  # symmetric head maps to itself
    np.testing.assert_array_equal(f.landmarks_visible, s.landmarks_visible[IBUG68_MIRROR])
    w = s.image.shape[1]
    np.testing.assert_allclose(f.landmarks[IBUG68_MIRROR, 0], w - 1 - s.landmarks[:, 0])
    np.testing.assert_allclose(f.bbox, [w - 1 - s.bbox[2], s.bbox[1], w - 1 - s.bbox[0], s.bbox[3]])
    back = T.hflip(f)
    for name in ("image", "R", "euler", "t", "K", "bbox", "landmarks", "vertices", "landmarks_visible"):
        np.testing.assert_allclose(getattr(back, name), getattr(s, name), atol=1e-12, err_msg=name)


def test_hflip_without_flip_index_mirrors_vertices_and_winding():
    s = dataclasses.replace(six_dof_sample(), extra={})
    f = T.hflip(s)
    np.testing.assert_allclose(f.vertices, s.vertices @ F)
    np.testing.assert_array_equal(f.faces, [[0, 2, 1]])
    np.testing.assert_allclose(project_points(f.vertices, f.R, f.t, f.K)[IBUG68_MIRROR], f.landmarks, atol=1e-9)


# ---- crop and resize ----------------------------------------------------------------------------

def test_crop_truncates_like_pil_and_pads_black():
    s = six_dof_sample()
    c = T.crop(s, (-3.7, 2.9, 5.2, 8.9))  # int(): (-3, 2, 5, 8)
    assert c.image.shape == (6, 8, 3)
    assert not c.image[:, :3].any()
    np.testing.assert_array_equal(c.image[:, 3:], s.image[2:8, 0:5])
    assert_consistent(c)
    np.testing.assert_allclose(c.landmarks, s.landmarks - [-3, 2])


@pytest.mark.parametrize("size", [(100, 80), (400, 320), (123, 321)])
def test_resize_keeps_projection(size):
    assert_consistent(T.resize(six_dof_sample(), size))


def test_resize_pixel_mapping_on_an_image():
    img = np.zeros((40, 40, 3), np.uint8)
    img[10, 17] = 255
    s = Sample(image=img, R=np.eye(3), euler=np.zeros(3), landmarks=np.array([[17.0, 10.0]]))
    big = T.resize(s, (120, 120))  # ×3: the bright blob must be centred where the landmark went
    w = big.image[..., 0].astype(float)
    ys, xs = np.mgrid[:120, :120]
    centroid = [(w * xs).sum() / w.sum(), (w * ys).sum() / w.sum()]
    np.testing.assert_allclose(big.landmarks[0], [(17 + 0.5) * 3 - 0.5, (10 + 0.5) * 3 - 0.5])
    np.testing.assert_allclose(centroid, big.landmarks[0], atol=0.05)


def test_6drepnet_boxes_closed_form():
    class FixedK:
        def uniform(self, lo, hi):
            return 0.3

    box = (10.0, 20.0, 110.0, 220.0)  # w = 100, h = 200
    np.testing.assert_allclose(T.sixdrepnet_test_box(box), [-30.0, -60.0, 166.0, 253.6])
    np.testing.assert_allclose(T.sixdrepnet_train_box(box, FixedK()), [-8.0, -100.0, 131.24, 277.6])
    ks = [T.sixdrepnet_train_box(box, np.random.default_rng(i))[0] for i in range(200)]
    assert 10 - 0.6 * 0.4 * 100 < min(ks) and max(ks) <= 10 - 0.6 * 0.2 * 100  # k in [0.2, 0.4)


def test_random_resized_crop_box_bounds():
    rng = np.random.default_rng(0)
    for _ in range(200):
        x0, y0, x1, y1 = T.random_resized_crop_box(150, 200, rng, scale=(0.8, 1.0))
        assert 0 <= x0 < x1 <= 200 and 0 <= y0 < y1 <= 150
        area = (x1 - x0) * (y1 - y0) / (150 * 200)
        assert 0.78 <= area <= 1.0 and 0.74 <= (x1 - x0) / (y1 - y0) <= 1.35


# ---- photometric and tensors -------------------------------------------------------------------

def test_to_tensor_normalises_imagenet():
    img = np.zeros((4, 5, 3), np.uint8)
    img[..., 0] = 255
    x = T.to_tensor(img)
    assert x.shape == (3, 4, 5) and x.dtype == torch.float32
    np.testing.assert_allclose(x[:, 0, 0], [(1 - 0.485) / 0.229, -0.456 / 0.224, -0.406 / 0.225], rtol=1e-6)
    assert T.to_batch([img, img]).shape == (2, 3, 4, 5)
    with pytest.raises(ValueError, match="uint8"):
        T.to_tensor(img.astype(np.float32))


def test_photometric_ops():
    rng = np.random.default_rng(0)
    img = rng.integers(30, 220, size=(64, 64, 3), dtype=np.uint8)
    np.testing.assert_array_equal(T.color_jitter(img, rng, 0, 0, 0), img)
    noisy = T.gaussian_noise(img, rng, sigma=6.0).astype(float) - img
    assert abs(noisy.mean()) < 0.2 and abs(noisy.std() - 6.0) < 0.3
    flat = np.full((9, 9, 3), 77, np.uint8)
    np.testing.assert_array_equal(T.pil_blur(flat), flat)
    dot = np.zeros((9, 9, 3), np.uint8)
    dot[4, 4] = 160
    blurred = T.pil_blur(dot)[..., 0]
    assert blurred[4, 4] == 0 and blurred[2, 2] == 10 and blurred[2, 4] == 10 and blurred.sum() == 160
    grey = np.full((8, 8, 3), 100, np.uint8)
    assert (T.color_jitter(grey, rng, 0, 0, 0.5) == 100).all()  # saturation leaves grey alone


def _jitter_step_by_step(image, rng, amount):
    """torchvision-style colour jitter one step at a time (brightness, contrast, saturation)."""
    grey_w = np.array([0.299, 0.587, 0.114])
    img = image.astype(np.float64) * rng.uniform(1 - amount, 1 + amount)
    mean = (img @ grey_w).mean()
    img = (img - mean) * rng.uniform(1 - amount, 1 + amount) + mean
    grey = (img @ grey_w)[..., None]
    img = (img - grey) * rng.uniform(1 - amount, 1 + amount) + grey
    return np.clip(np.round(img), 0, 255)


def test_colour_jitter_is_the_three_steps_as_one_transform():
    img = np.random.default_rng(0).integers(0, 256, (37, 29, 3), dtype=np.uint8)
    for seed in range(20):
        got = T.color_jitter(img, np.random.default_rng(seed), 0.4, 0.4, 0.4).astype(int)
        want = _jitter_step_by_step(img, np.random.default_rng(seed), 0.4)
        assert np.abs(got - want).max() <= 1  # rounding of float32 vs float64 at .5


def test_gaussian_noise_every_channel_and_reproducible():
    img = np.full((120, 100, 3), 100, np.uint8)
    noise = T.gaussian_noise(img, np.random.default_rng(3), sigma=5.0).astype(float) - 100
    for c in range(3):
        assert abs(noise[..., c].std() - 5.0) < 0.2 and abs(noise[..., c].mean()) < 0.2
    again = T.gaussian_noise(img, np.random.default_rng(3), sigma=5.0)
    np.testing.assert_array_equal(again, noise + 100)
    assert T.gaussian_noise(np.full((9, 9, 3), 254, np.uint8), np.random.default_rng(0), 20.0).max() == 255


# ---- pipelines ----------------------------------------------------------------------------------

def w300lp_like(seed=0) -> Sample:
    rng = np.random.default_rng(seed)
    lm = rng.uniform([60, 50], [140, 150], size=(68, 2))
    e = np.array([10.0, 40.0, -5.0])
    return Sample(image=rng.integers(0, 256, (200, 220, 3), dtype=np.uint8), R=euler_to_matrix(e, degrees=True),
                  euler=e, bbox=np.r_[lm.min(0), lm.max(0)], landmarks=lm)


def test_train_pipeline_shapes_determinism_and_flip():
    s = w300lp_like()
    out = T.SixDRepNetTrain(seed=5)(s)
    assert out["image"].shape == (3, 224, 224) and out["image"].dtype == torch.float32
    again = T.SixDRepNetTrain(seed=5)(s)
    assert torch.equal(out["image"], again["image"]) and torch.equal(out["R"], again["R"])
    flipped = T.SixDRepNetTrain(flip_p=1.0, seed=1, output="sample")(s)
    np.testing.assert_allclose(flipped.euler, [10.0, -40.0, 5.0])
    np.testing.assert_allclose(flipped.R, F @ s.R @ F)
    torch.manual_seed(0)
    a = T.SixDRepNetTrain()(s)["image"]
    torch.manual_seed(0)
    assert torch.equal(a, T.SixDRepNetTrain()(s)["image"])  # seeded through torch (DataLoader workers)
    extra = T.SixDRepNetTrain(seed=2, augment=T.Augment(jitter=0.3, noise_sigma=4.0))(s)
    assert extra["image"].shape == (3, 224, 224)


def test_test_pipeline_is_6drepnet_crop_resize_centre():
    s = w300lp_like()
    out = T.SixDRepNetTest(output="sample")(s)
    assert out.image.shape == (224, 224, 3)
    manual = T.center_crop(T.resize_shorter_side(T.crop(s, T.sixdrepnet_test_box(s.bbox)), 256), 224)
    np.testing.assert_array_equal(out.image, manual.image)
    np.testing.assert_allclose(out.landmarks, manual.landmarks)
    tensors = T.SixDRepNetTest()(s)
    assert set(tensors) == {"image", "R", "euler", "bbox", "landmarks"}
    npz_like = dataclasses.replace(s, image=s.image[:180, :180], bbox=None, landmarks=None)
    assert T.SixDRepNetTest(margin_crop=False)(npz_like)["image"].shape == (3, 224, 224)
    wide = T.SixDRepNetTest(margin=0.3, resize_to=224, output="sample")(s)
    manual = T.resize_shorter_side(T.crop(s, T.sixdrepnet_test_box(s.bbox, 0.3)), 224)
    np.testing.assert_array_equal(wide.image, T.center_crop(manual, 224).image)
    with pytest.raises(ValueError, match="margin"):
        T.SixDRepNetTest(margin=-0.1)


def test_square_crop_pipeline_keeps_6dof_consistent():
    s = six_dof_sample(3)
    for seed in range(5):
        out = T.SquareCrop(size=192, train=True, flip_p=0.5, output="sample", seed=seed)(s)
        assert out.image.shape == (192, 192, 3)
        assert_consistent(out)
    tensors = T.SquareCrop()(s)
    assert tensors["K"].dtype == torch.float32 and tensors["landmarks_visible"].dtype == torch.bool


def test_train_pipeline_keeps_6dof_consistent():
    s = six_dof_sample(4)
    for seed in range(6):
        out = T.SixDRepNetTrain(flip_p=0.5, output="sample", seed=seed)(s)
        assert out.image.shape == (224, 224, 3)
        assert_consistent(out)
