"""pyhpe.geometry.rigid: the horizontal flip (closed form, involution, NumPy/torch) and the
behaviour of the flips it replaced (pyhpe.data.geometric.hflip's inline formulas, the
matrix-product flip_rotation_horizontal, the face detector's box flip), pinned on fixtures."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from pyhpe.data.geometric import hflip
from pyhpe.data.landmarks import IBUG68_MIRROR
from pyhpe.data.sample import Sample
from pyhpe.data.synthetic import SynthConfig, SyntheticHeads
from pyhpe.geometry import rigid
from pyhpe.geometry.camera import project, project_points, to_camera
from pyhpe.geometry.rotation import euler_to_matrix, matrix_to_euler

M = np.diag([-1.0, 1.0, 1.0])


def old_hflip(sample: Sample) -> Sample:
    """pyhpe.data.geometric.hflip as it was before the flip moved to pyhpe.geometry.rigid (the
    reference the new one must equal in value)."""
    w = sample.image.shape[1]
    image = np.ascontiguousarray(sample.image[:, ::-1])
    euler = np.asarray(sample.euler, dtype=np.float64) * np.array([1.0, -1.0, -1.0])
    R = M @ np.asarray(sample.R, dtype=np.float64) @ M
    t = None if sample.t is None else M @ np.asarray(sample.t, dtype=np.float64)
    K = None
    if sample.K is not None:
        K = np.asarray(sample.K, dtype=np.float64).copy()
        K[0, 1] = -K[0, 1]
        K[0, 2] = w - 1 - K[0, 2]
    bbox = None
    if sample.bbox is not None:
        x0, y0, x1, y1 = np.asarray(sample.bbox, dtype=np.float64)
        bbox = np.array([w - 1 - x1, y0, w - 1 - x0, y1])
    landmarks, visible = sample.landmarks, sample.landmarks_visible
    if landmarks is not None:
        landmarks = np.asarray(landmarks, dtype=np.float64).copy()
        landmarks[:, 0] = w - 1 - landmarks[:, 0]
        if len(landmarks) == 68:
            landmarks = landmarks[IBUG68_MIRROR]
            visible = None if visible is None else np.asarray(visible)[IBUG68_MIRROR]
    vertices, faces = sample.vertices, sample.faces
    if vertices is not None:
        vertices = np.asarray(vertices, dtype=np.float64) @ M
        flip_index = sample.extra.get("vertex_flip_index")
        if flip_index is not None:
            vertices = vertices[np.asarray(flip_index)]
        elif faces is not None:
            faces = np.asarray(faces)[:, [0, 2, 1]]
    return dataclasses.replace(sample, image=image, R=R, euler=euler, t=t, K=K, bbox=bbox,
                               landmarks=landmarks, landmarks_visible=visible,
                               vertices=vertices, faces=faces)


FIELDS = ("image", "R", "euler", "t", "K", "bbox", "landmarks", "landmarks_visible", "vertices", "faces")


def assert_same_sample(a: Sample, b: Sample):
    for f in FIELDS:
        x, y = getattr(a, f), getattr(b, f)
        assert (x is None) == (y is None), f
        if x is not None:
            np.testing.assert_array_equal(x, y, err_msg=f)  # value equality (== treats -0.0 as 0.0)
            assert np.asarray(x).dtype == np.asarray(y).dtype, f


@pytest.fixture(scope="module")
def synthetic_samples():
    ds = SyntheticHeads(n=4, seed=11, config=SynthConfig(size=96, glasses_prob=0.5))
    return [ds[i] for i in range(4)]


def test_hflip_equals_the_old_inline_flip_on_fixtures(synthetic_samples):
    for s in synthetic_samples:
        assert_same_sample(hflip(s), old_hflip(s))
        no_index = dataclasses.replace(s, extra={}, landmarks=s.landmarks[:60], landmarks_visible=None)
        assert_same_sample(hflip(no_index), old_hflip(no_index))  # winding reversed, no relabelling
        bare = Sample(image=s.image, R=s.R, euler=s.euler)
        assert_same_sample(hflip(bare), old_hflip(bare))


def test_flip_rotation_equals_M_R_M_and_negates_yaw_and_roll():
    rng = np.random.default_rng(0)
    e = rng.uniform([-80, -85, -170], [80, 85, 170], size=(50, 3))
    R = euler_to_matrix(e, degrees=True)
    F = rigid.flip_rotation_horizontal(R)
    np.testing.assert_array_equal(F, M @ R @ M)
    np.testing.assert_array_equal(rigid.flip_euler_horizontal(e), e * [1, -1, -1])
    np.testing.assert_allclose(F, euler_to_matrix(rigid.flip_euler_horizontal(e), degrees=True), atol=1e-12)
    np.testing.assert_allclose(matrix_to_euler(torch.from_numpy(F), degrees=True).numpy(),
                               rigid.flip_euler_horizontal(e), atol=1e-9)
    Rt = torch.from_numpy(R).float()
    Ft = rigid.flip_rotation_horizontal(Rt)
    assert Ft.dtype == torch.float32
    np.testing.assert_array_equal(Ft.numpy(), (torch.from_numpy(M).float() @ Rt @ torch.from_numpy(M).float()).numpy())


def test_every_flip_is_an_involution_in_numpy_and_torch():
    """Sign flips are exact involutions; W − 1 − x is one up to the rounding of the subtraction
    (exact on the 1/64-pixel grid used here, within an ulp of the coordinates otherwise)."""
    rng = np.random.default_rng(1)
    R = euler_to_matrix(rng.uniform(-90, 90, (5, 3)), degrees=True)

    def grid(x):
        return np.round(x * 64) / 64

    cases = [
        (rigid.flip_rotation_horizontal, R, {}),
        (rigid.flip_euler_horizontal, rng.uniform(-90, 90, (5, 3)), {}),
        (rigid.flip_translation_horizontal, rng.normal(size=(5, 3)), {}),
        (rigid.mirror_points, rng.normal(size=(5, 7, 3)), {}),
        (rigid.flip_points_horizontal, grid(rng.uniform(0, 200, (5, 68, 2))), {"width": 201, "perm": IBUG68_MIRROR}),
        (rigid.flip_points_horizontal, grid(rng.uniform(0, 200, (7, 2))), {"width": 200}),
        (rigid.flip_boxes_horizontal, grid(rng.uniform(0, 200, (5, 4))), {"width": 320}),
        (rigid.flip_xywh_boxes_horizontal, rng.integers(0, 200, (5, 4)).astype(float), {"width": 320}),
        (rigid.flip_intrinsics_horizontal, np.tile([[500.0, 1.5, 150.25], [0, 510.0, 90.0], [0, 0, 1]], (5, 1, 1)),
         {"width": 300}),
    ]
    for f, x, kw in cases:
        np.testing.assert_array_equal(f(f(x, **kw), **kw), x, err_msg=f.__name__)
        xt = torch.from_numpy(x)
        once = f(xt, **kw)
        assert isinstance(once, torch.Tensor) and once.dtype == torch.float64
        np.testing.assert_array_equal(once.numpy(), f(x, **kw), err_msg=f.__name__)
        np.testing.assert_array_equal(f(once, **kw).numpy(), x, err_msg=f.__name__)
    x = rng.uniform(0, 200, (50, 2))
    np.testing.assert_allclose(rigid.flip_points_horizontal(rigid.flip_points_horizontal(x, 201), 201), x,
                               rtol=0, atol=np.spacing(200.0))


def test_flipped_pose_projects_onto_the_mirrored_pixels():
    """project(M v, M R M, M t, K') = (W − 1 − u, v): the flip of the image, in closed form."""
    rng = np.random.default_rng(2)
    W = 257
    for _ in range(10):
        R = euler_to_matrix(rng.uniform(-70, 70, 3), degrees=True)
        t = np.array([rng.uniform(-0.1, 0.1), rng.uniform(-0.1, 0.1), rng.uniform(0.4, 1.2)])
        K = np.array([[rng.uniform(200, 600), rng.uniform(-3, 3), rng.uniform(80, 170)],
                      [0.0, rng.uniform(200, 600), rng.uniform(80, 170)], [0.0, 0.0, 1.0]])
        v = rng.uniform(-0.08, 0.08, (30, 3))
        uv = project_points(v, R, t, K)
        fl = project_points(rigid.mirror_points(v), rigid.flip_rotation_horizontal(R),
                            rigid.flip_translation_horizontal(t), rigid.flip_intrinsics_horizontal(K, W))
        np.testing.assert_allclose(fl, rigid.flip_points_horizontal(uv, W), rtol=0, atol=1e-9)
        # the camera-frame points are mirrored too
        np.testing.assert_allclose(to_camera(rigid.mirror_points(v), rigid.flip_rotation_horizontal(R),
                                             rigid.flip_translation_horizontal(t)),
                                   rigid.mirror_points(to_camera(v, R, t)), rtol=0, atol=1e-15)
        assert np.all(project(to_camera(v, R, t), K)[:, 1] == uv[:, 1])


def test_points_flip_with_permutation_and_boxes():
    pts = np.array([[0.0, 1.0], [10.0, 2.0], [4.5, 3.0]])
    np.testing.assert_array_equal(rigid.flip_points_horizontal(pts, 11), [[10, 1], [0, 2], [5.5, 3]])
    np.testing.assert_array_equal(rigid.flip_points_horizontal(pts, 11, [2, 0, 1]), [[5.5, 3], [10, 1], [0, 2]])
    np.testing.assert_array_equal(rigid.flip_boxes_horizontal([1.0, 2.0, 4.0, 8.0], 10), [5, 2, 8, 8])
    # a detector box covering columns 1..3 of a 10-wide image covers columns 6..8 once mirrored
    np.testing.assert_array_equal(rigid.flip_xywh_boxes_horizontal([1, 2, 3, 4], 10), [6, 2, 3, 4])
    # the face detector's old inline rule: (w - x - bw, y, bw, bh)
    rng = np.random.default_rng(3)
    for x, y, bw, bh in rng.integers(0, 100, (20, 4)):
        np.testing.assert_array_equal(rigid.flip_xywh_boxes_horizontal(np.array([x, y, bw, bh]), 320),
                                      np.array((320 - x - bw, y, bw, bh), dtype=np.float64))


def test_flip_keeps_nan_in_its_coordinate_and_the_sign_of_zero():
    p = np.array([[np.nan, 1.0, 2.0], [0.0, np.inf, 3.0]])
    out = rigid.mirror_points(p)
    assert np.isnan(out[0, 0]) and out[0, 1:].tolist() == [1.0, 2.0]
    assert np.signbit(out[1, 0]) and out[1, 1] == np.inf
    R = np.eye(3)
    assert np.signbit(rigid.flip_rotation_horizontal(R)[1, 0])  # -0.0: the exact mirror of +0.0


def test_flip_is_differentiable():
    R = torch.from_numpy(euler_to_matrix(np.array([10.0, 20.0, 30.0]), degrees=True)).requires_grad_()
    assert torch.autograd.gradcheck(rigid.flip_rotation_horizontal, (R,))
    p = torch.rand(2, 5, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda q: rigid.flip_points_horizontal(q, 10, [4, 3, 2, 1, 0]), (p,))
    K = torch.rand(3, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda k: rigid.flip_intrinsics_horizontal(k, 10), (K,))
