"""pyhpe.geometry.camera: projection (closed form, batch shapes, NumPy/torch, gradients), the
head -> camera transform, crop/resize intrinsics against warping the pixels, box helpers."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from pyhpe.data.geometric import crop, resize, square_box
from pyhpe.data.sample import Sample
from pyhpe.data.transforms import SquareCrop
from pyhpe.geometry import camera as C
from pyhpe.geometry.rotation import euler_to_matrix


def random_K(rng, batch=()) -> np.ndarray:
    K = np.zeros(batch + (3, 3))
    K[..., 0, 0] = rng.uniform(200, 900, batch)
    K[..., 1, 1] = rng.uniform(200, 900, batch)
    K[..., 0, 1] = rng.uniform(-2, 2, batch)  # skew
    K[..., 0, 2] = rng.uniform(50, 400, batch)
    K[..., 1, 2] = rng.uniform(50, 300, batch)
    K[..., 2, 2] = 1.0
    return K


def random_points(rng, shape) -> np.ndarray:
    """Camera-frame points in front of the camera (z in [0.3, 2] m)."""
    p = rng.uniform(-0.3, 0.3, shape + (3,))
    p[..., 2] = rng.uniform(0.3, 2.0, shape)
    return p


def random_pose(rng, batch=()):
    R = euler_to_matrix(rng.uniform(-80, 80, batch + (3,)), degrees=True)
    t = np.concatenate([rng.uniform(-0.1, 0.1, batch + (2,)), rng.uniform(0.5, 1.5, batch + (1,))], -1)
    return R, t


# ---- projection ----------------------------------------------------------------------------------

def test_project_hand_computed_example():
    K = np.array([[100.0, 0.0, 50.0], [0.0, 200.0, 40.0], [0.0, 0.0, 1.0]])
    pts = np.array([[0.0, 0.0, 1.0], [0.5, -0.25, 2.0], [1.0, 1.0, 4.0]])
    # u = 100 x/z + 50, v = 200 y/z + 40
    np.testing.assert_array_equal(C.project(pts, K), [[50.0, 40.0], [75.0, 15.0], [75.0, 90.0]])
    K[0, 1] = 8.0  # skew: u gains 8 y/z
    np.testing.assert_array_equal(C.project(pts, K), [[50.0, 40.0], [74.0, 15.0], [77.0, 90.0]])


def test_project_matches_the_closed_form_and_the_homogeneous_form():
    rng = np.random.default_rng(0)
    K, p = random_K(rng), random_points(rng, (500,))
    x, y, z = p.T
    u = K[0, 0] * x / z + K[0, 1] * y / z + K[0, 2]
    v = K[1, 1] * y / z + K[1, 2]
    uv = C.project(p, K)
    np.testing.assert_allclose(uv, np.stack([u, v], -1), rtol=0, atol=1e-11)
    uvw = p @ K.T  # (K x)_{1,2} / (K x)_3: the same map, other rounding (a few ulp)
    np.testing.assert_allclose(uv, uvw[:, :2] / uvw[:, 2:], rtol=0, atol=1e-11)


@pytest.mark.parametrize("p_shape, k_shape, out", [
    ((7, 3), (3, 3), (7, 2)),
    ((4, 7, 3), (3, 3), (4, 7, 2)),
    ((7, 3), (4, 3, 3), (4, 7, 2)),
    ((4, 7, 3), (4, 3, 3), (4, 7, 2)),
    ((2, 4, 7, 3), (4, 3, 3), (2, 4, 7, 2)),
    ((2, 1, 7, 3), (1, 5, 3, 3), (2, 5, 7, 2)),
])
def test_project_batch_shapes_broadcast_like_a_loop(p_shape, k_shape, out):
    rng = np.random.default_rng(1)
    p, K = random_points(rng, p_shape[:-1]), random_K(rng, k_shape[:-2])
    uv = C.project(p, K)
    assert uv.shape == out
    pb, Kb = np.broadcast_to(p, out[:-2] + p_shape[-2:]), np.broadcast_to(K, out[:-2] + (3, 3))
    for idx in np.ndindex(*out[:-2]):
        np.testing.assert_allclose(uv[idx], C.project(pb[idx], Kb[idx]), rtol=0, atol=1e-12)
    uv_t = C.project(torch.from_numpy(p), torch.from_numpy(K))
    assert uv_t.shape == out
    np.testing.assert_allclose(uv_t.numpy(), uv, rtol=0, atol=1e-12)


def test_project_numpy_and_torch_agree_and_keep_the_dtype():
    rng = np.random.default_rng(2)
    p, K = random_points(rng, (3, 20)), random_K(rng, (3,))
    ref = C.project(p, K)
    assert ref.dtype == np.float64
    out64 = C.project(torch.from_numpy(p), torch.from_numpy(K))
    assert out64.dtype == torch.float64
    np.testing.assert_allclose(out64.numpy(), ref, rtol=0, atol=1e-12)
    out32 = C.project(torch.from_numpy(p).float(), K)  # a NumPy K follows the tensor
    assert out32.dtype == torch.float32
    np.testing.assert_allclose(out32.numpy(), ref, rtol=1e-5)
    np.testing.assert_array_equal(C.project(p.astype(np.float32), K), C.project(p.astype(np.float32).astype(np.float64), K))


def test_project_and_to_camera_gradients():
    rng = np.random.default_rng(3)
    p = torch.from_numpy(random_points(rng, (2, 5))).requires_grad_()
    K = torch.from_numpy(random_K(rng, (2,)) / 100).requires_grad_()  # O(1) entries for gradcheck
    assert torch.autograd.gradcheck(C.project, (p, K))
    R, t = (torch.from_numpy(a).requires_grad_() for a in random_pose(rng, (2,)))
    assert torch.autograd.gradcheck(C.to_camera, (p, R, t))
    assert torch.autograd.gradcheck(lambda p, R, t, K: C.project_points(p, R, t, K), (p, R, t, K))


def test_to_camera_closed_form_and_project_points():
    rng = np.random.default_rng(4)
    R, t = random_pose(rng, (3,))
    v = rng.uniform(-0.1, 0.1, (3, 11, 3))
    cam = C.to_camera(v, R, t)
    np.testing.assert_allclose(cam, np.einsum("bij,bnj->bni", R, v) + t[:, None], rtol=0, atol=1e-15)
    K = random_K(rng)
    np.testing.assert_array_equal(C.project_points(v, R, t, K), C.project(cam, K))
    np.testing.assert_allclose(C.to_camera(torch.from_numpy(v), R, t).numpy(), cam, rtol=0, atol=1e-15)


def test_shape_errors():
    with pytest.raises(ValueError, match="points"):
        C.project(np.zeros(3), np.eye(3))
    with pytest.raises(ValueError, match="K"):
        C.project(np.ones((4, 3)), np.eye(4))
    with pytest.raises(ValueError, match="points"):
        C.to_camera(np.ones((4, 2)), np.eye(3), np.zeros(3))
    with pytest.raises(ValueError, match="points"):
        C.project(torch.ones(4, 2), torch.eye(3))


# ---- crop / resize intrinsics ----------------------------------------------------------------------

def crop_warp(uv, box, size):
    """The pixel map of cropping at box (x0, y0, ...) then resizing to size (integer pixel centres)."""
    x0, y0, x1, y1 = box
    s = np.array([size / (x1 - x0), size / (y1 - y0)])
    return (uv - [x0, y0] + 0.5) * s - 0.5


def test_crop_intrinsics_equal_projecting_then_warping_the_pixels():
    rng = np.random.default_rng(5)
    for _ in range(20):
        K, p = random_K(rng), random_points(rng, (30,))
        x0, y0 = rng.integers(-40, 200, 2)
        side = int(rng.integers(20, 300))
        box, size = (x0, y0, x0 + side, y0 + side), int(rng.integers(16, 256))
        Kc = C.crop_intrinsics(K, box, size)
        np.testing.assert_allclose(C.project(p, Kc), crop_warp(C.project(p, K), box, size), rtol=0, atol=1e-9)
        # closed form: K_crop = [[s, 0, (s-1)/2], [0, s, (s-1)/2], [0, 0, 1]] T(-x0, -y0) K
        s = size / side
        A = np.array([[s, 0, (s - 1) / 2], [0, s, (s - 1) / 2], [0, 0, 1]])
        T = np.array([[1.0, 0, -x0], [0, 1, -y0], [0, 0, 1]])
        np.testing.assert_allclose(Kc, A @ T @ K, rtol=1e-13, atol=1e-9)
        # with pixel corners at integers (x + 1/2) the warp is diag(s, s, 1) T(-x0, -y0)
        corner = np.array([[1.0, 0, 0.5], [0, 1, 0.5], [0, 0, 1]])
        np.testing.assert_allclose(corner @ Kc, np.diag([s, s, 1.0]) @ T @ corner @ K, rtol=1e-13, atol=1e-9)


def test_crop_intrinsics_follow_the_pixels_of_a_real_warp():
    """One bright pixel, cropped and upsampled 3x by the pipeline (cv2 bilinear): the blob's centroid
    is where the cropped K projects the 3D point seen at that pixel's centre."""
    K = np.array([[300.0, 0.0, 97.0], [0.0, 300.0, 81.0], [0.0, 0.0, 1.0]])
    pu, pv, z = 104, 71, 0.6
    p = np.array([[(pu - K[0, 2]) / K[0, 0] * z, (pv - K[1, 2]) / K[1, 1] * z, z]])
    np.testing.assert_allclose(C.project(p, K), [[pu, pv]], atol=1e-12)
    img = np.zeros((160, 200, 3), np.uint8)
    img[pv, pu] = 255
    box, size = (90, 60, 120, 90), 90
    out = resize(crop(Sample(image=img, R=np.eye(3), euler=np.zeros(3), K=K), box), size)
    w = out.image[..., 0].astype(np.float64)
    ys, xs = np.mgrid[:size, :size]
    centroid = np.array([(w * xs).sum(), (w * ys).sum()]) / w.sum()
    Kc = C.crop_intrinsics(K, box, size)
    np.testing.assert_array_equal(out.K, Kc)
    np.testing.assert_allclose(C.project(p, Kc)[0], centroid, atol=1e-6)
    assert np.abs(C.project(p, np.diag([3.0, 3.0, 1.0]) @ [[1, 0, -90], [0, 1, -60], [0, 0, 1]] @ K)[0]
                  - centroid).max() > 0.9  # the pixel-corner formula is a pixel off here


def test_crop_intrinsics_equal_the_pipelines_K_bit_for_bit():
    rng = np.random.default_rng(6)
    K = random_K(rng)
    img = np.zeros((180, 240, 3), np.uint8)
    sample = Sample(image=img, R=np.eye(3), euler=np.zeros(3), K=K, bbox=np.array([70.3, 40.8, 150.2, 131.9]))
    for seed in range(5):
        pipe = SquareCrop(size=64, train=True, seed=seed, output="sample")
        out = pipe(sample)
        box = [int(b) for b in square_box(sample.bbox, 1.5, np.random.default_rng(seed))]
        np.testing.assert_array_equal(out.K, C.crop_intrinsics(K, box, 64))
    box = (10, 20, 110, 70)
    np.testing.assert_array_equal(resize(crop(sample, box), (50, 25)).K, C.crop_intrinsics(K, box, (50, 25)))


def test_crop_intrinsics_batched_and_torch():
    rng = np.random.default_rng(7)
    K = random_K(rng, (4,))
    x0 = rng.uniform(0, 100, 4)
    side = rng.uniform(50, 150, 4)
    boxes = np.stack([x0, x0 + 5, x0 + side, x0 + 5 + side], -1)
    Kc = C.crop_intrinsics(K, boxes, 64)
    for i in range(4):
        np.testing.assert_allclose(Kc[i], C.crop_intrinsics(K[i], boxes[i], 64), rtol=0, atol=1e-12)
    np.testing.assert_allclose(C.crop_intrinsics(K[0], boxes, 64)[2], C.crop_intrinsics(K[0], boxes[2], 64),
                               rtol=0, atol=1e-12)  # one K, many boxes
    Kt = C.crop_intrinsics(torch.from_numpy(K), torch.from_numpy(boxes), 64)
    np.testing.assert_allclose(Kt.numpy(), Kc, rtol=0, atol=1e-12)
    Kg = torch.from_numpy(K / 100).requires_grad_()
    bg = torch.from_numpy(boxes).requires_grad_()
    assert torch.autograd.gradcheck(lambda k, b: C.crop_intrinsics(k, b, 64), (Kg, bg))
    np.testing.assert_array_equal(C.shift_intrinsics(K, 3, 4)[:, :2, 2], K[:, :2, 2] - [3, 4])


def test_points_follow_the_same_crop_and_resize_as_K():
    rng = np.random.default_rng(8)
    K, p = random_K(rng), random_points(rng, (10,))
    uv = C.project(p, K)
    Ks = C.scale_intrinsics(C.shift_intrinsics(K, 12, 7), 0.5, 1.5)
    np.testing.assert_allclose(C.scale_points(C.shift_points(uv, 12, 7), 0.5, 1.5), C.project(p, Ks),
                               rtol=0, atol=1e-10)
    ut = C.scale_points(C.shift_points(torch.from_numpy(uv), 12, 7), 0.5, 1.5)
    np.testing.assert_allclose(ut.numpy(), C.project(p, Ks), rtol=0, atol=1e-10)


def test_crop_matrix_pyhpe_is_the_pipelines_map_for_image_and_K():
    rng = np.random.default_rng(9)
    K, p = random_K(rng), random_points(rng, (12,))
    box, size = (31, -7, 131, 93), 48
    A = C.crop_matrix(box, size)
    np.testing.assert_array_equal(A, C.crop_matrix(box, size, warp=True))  # one map for both
    uv = C.project(p, K)
    np.testing.assert_allclose(uv @ A[:2, :2].T + A[:2, 2], crop_warp(uv, box, size), rtol=0, atol=1e-10)
    np.testing.assert_allclose(A @ K, C.crop_intrinsics(K, box, size), rtol=1e-13, atol=1e-10)


@pytest.mark.parametrize("box", [(118, 57, 311, 250), (-20, 30, 172, 221), (5, 9, 100, 105)])
def test_official_crop_convention_closed_form(box):
    """The released TRGv2 code: the image warp maps the box corners onto 0…S−1 (scale (S−1)/b),
    K_crop is K shifted by the box origin and scaled by S/b (b = right − left, both axes)."""
    S = 192
    left, top, right, bottom = box
    b = right - left
    rng = np.random.default_rng(10)
    K, p = random_K(rng), random_points(rng, (40,))
    K[0, 1] = 0.0  # the official update_after_resize leaves a skew unscaled; no camera has one
    uv = C.project(p, K)
    # K_crop: a point at full-image pixel x lands at (x − left)·S/b through K_crop
    Kc = C.crop_intrinsics(K, box, S, convention="official")
    expect = np.stack([(uv[:, 0] - left) * S / b, (uv[:, 1] - top) * S / b], -1)
    np.testing.assert_allclose(C.project(p, Kc), expect, rtol=0, atol=1e-9)
    np.testing.assert_allclose(Kc, [[K[0, 0] * S / b, 0, (K[0, 2] - left) * S / b],
                                    [0, K[1, 1] * S / b, (K[1, 2] - top) * S / b], [0, 0, 1]], rtol=1e-14)
    A = C.crop_matrix(box, S, convention="official")
    np.testing.assert_allclose(A @ K, Kc, rtol=1e-13, atol=1e-10)
    # the image: (x − left)·(S−1)/b (and (y − top)·(S−1)/(bottom − top)), = cv2.getAffineTransform
    W = C.crop_matrix(box, S, convention="official", warp=True)
    src = np.float32([[left, top], [left, bottom], [right, top]])
    dst = np.float32([[0, 0], [0, S - 1], [S - 1, 0]])
    np.testing.assert_allclose(W[:2], cv2.getAffineTransform(src, dst), rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(uv @ W[:2, :2].T + W[:2, 2],
                               np.stack([(uv[:, 0] - left) * (S - 1) / b,
                                         (uv[:, 1] - top) * (S - 1) / (bottom - top)], -1), rtol=0, atol=1e-9)
    # torch and batches give the same K_crop
    Kt = C.crop_intrinsics(torch.from_numpy(K), torch.tensor([box, box], dtype=torch.float64), S, "official")
    np.testing.assert_allclose(Kt.numpy(), np.stack([Kc, Kc]), rtol=0, atol=1e-10)


def test_official_warp_moves_a_bright_pixel_where_the_closed_form_says():
    img = np.zeros((240, 320, 3), np.uint8)
    img[150, 200] = 255
    box, S = (120, 90, 220, 190), 101  # (S − 1)/b = 1: the pixel lands on an integer crop pixel
    W = C.crop_matrix(box, S, convention="official", warp=True)
    out = cv2.warpAffine(img, W[:2], (S, S), flags=cv2.INTER_LINEAR)
    ys, xs = np.nonzero(out[..., 0])
    assert (xs.tolist(), ys.tolist()) == ([(200 - 120) * (S - 1) // 100], [(150 - 90) * (S - 1) // 100])


def test_crop_convention_is_validated():
    with pytest.raises(ValueError, match="crop convention must be one of"):
        C.crop_intrinsics(np.eye(3), (0, 0, 10, 10), 8, convention="paper")
    with pytest.raises(ValueError, match="empty crop box"):
        C.crop_matrix((5, 5, 5, 10), 8)


# ---- boxes -----------------------------------------------------------------------------------------

def test_box_helpers():
    pts = np.array([[3.0, 9.0], [-1.0, 4.0], [7.0, 5.0]])
    np.testing.assert_array_equal(C.box_from_points(pts), [-1, 4, 7, 9])
    np.testing.assert_array_equal(C.box_from_points(pts.ravel()), [-1, 4, 7, 9])
    with pytest.raises(ValueError, match="at least one point"):
        C.box_from_points(np.zeros((0, 2)))
    batch = torch.from_numpy(np.stack([pts, pts + 1]))
    np.testing.assert_array_equal(C.box_from_points(batch).numpy(), [[-1, 4, 7, 9], [0, 5, 8, 10]])
    box = np.array([[10.0, 20.0, 30.0, 60.0], [0.0, 0.0, 1.0, 3.0]])
    cxcywh = C.box_xyxy_to_cxcywh(box)
    np.testing.assert_array_equal(cxcywh, [[20, 40, 20, 40], [0.5, 1.5, 1, 3]])
    np.testing.assert_array_equal(C.box_cxcywh_to_xyxy(cxcywh), box)
    np.testing.assert_array_equal(C.box_xyxy_to_cxcywh(torch.from_numpy(box)).numpy(), cxcywh)
    np.testing.assert_array_equal(C.box_cxcywh_to_xyxy(torch.from_numpy(cxcywh)).numpy(), box)
    np.testing.assert_array_equal(C.box_xywh_to_xyxy([5.0, 6.0, 10.0, 20.0]), [5, 6, 15, 26])
    np.testing.assert_array_equal(C.box_xywh_to_xyxy(torch.tensor([5.0, 6.0, 10.0, 20.0])).numpy(), [5, 6, 15, 26])


def test_square_box():
    np.testing.assert_array_equal(C.square_box([10, 20, 30, 60], 1.5), [-10, 10, 50, 70])
    np.testing.assert_array_equal(C.square_box([10, 20, 30, 60]), [0, 20, 40, 60])
    # centre moved by (0.25, -0.5) x 40 px, side x 0.5
    np.testing.assert_array_equal(C.square_box([10, 20, 30, 60], 1.5, (0.25, -0.5), 0.5), [15, 5, 45, 35])
