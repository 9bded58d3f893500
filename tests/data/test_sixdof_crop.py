"""TRGv2 6DoF crop pipeline (pyhpe.data.sixdof_crop): every label checked against an independent
computation — the 3D points projected with the transformed labels must land where the transformed
image (and the closed-form image transform) puts them.

Independent references used here: pinhole projection of the renderer's 3D landmarks / vertices
(pyhpe.geometry.camera.project_points), closed-form 2D rotation / mirror / crop-and-resize of pixel
coordinates written out in this file, and the renderer's head mask (every point of the closed head
surface projects inside its silhouette) carried through the same pipeline as an image.
"""

from __future__ import annotations

import dataclasses
import math

import cv2
import numpy as np
import pytest
import torch

from pyhpe.data.landmarks import IBUG68_MIRROR
from pyhpe.data.sample import Sample
from pyhpe.data.sixdof_crop import SixDoFCrop, rotate_about_principal_point
from pyhpe.data.synthetic import SynthConfig, SyntheticHeads
from pyhpe.geometry import (
    crop_intrinsics,
    euler_to_matrix,
    principal_point_from_crop,
    project_points,
)
from pyhpe.models.trg import synthetic_topology

IMG = 96  # full synthetic camera image side (px)
S = 64  # crop side (px)
M = np.diag([-1.0, 1.0, 1.0])
CFG = SynthConfig(size=IMG, depth=(0.5, 1.2))


@pytest.fixture(scope="module")
def topo():
    return synthetic_topology(CFG.n_lat, CFG.n_lon)


@pytest.fixture(scope="module")
def samples():
    ds = SyntheticHeads(4, seed=11, config=CFG)
    return [ds[i] for i in range(4)]


# ---- independent helpers ---------------------------------------------------------------------------

def _expected_box(landmarks, scale=1.5):
    """The int()-truncated square of side scale·max(w, h) about the landmark box centre."""
    lm = np.asarray(landmarks, np.float64)
    x0, y0 = lm.min(0)
    x1, y1 = lm.max(0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    half = scale * max(x1 - x0, y1 - y0) / 2
    return np.array([int(cx - half), int(cy - half), int(cx + half), int(cy + half)], np.float64)


def _to_crop(points, box, size=S):
    """Full-image pixels -> crop pixels: shift by the box corner, resize (w, h) -> (size, size) with
    integer pixel centres (x -> (x + ½)·s − ½). The int()-truncated corners of a square box can
    differ in width and height by 1 px, hence one scale per axis."""
    s = np.array([size / (box[2] - box[0]), size / (box[3] - box[1])])
    return (np.asarray(points, np.float64) - box[:2] + 0.5) * s - 0.5


def _rot2d(points, angle_deg, centre):
    """Rotate pixel coordinates by angle_deg about centre (x right, y down: clockwise on screen)."""
    a = math.radians(angle_deg)
    c, s = math.cos(a), math.sin(a)
    d = np.asarray(points, np.float64) - centre
    return np.stack([c * d[:, 0] - s * d[:, 1], s * d[:, 0] + c * d[:, 1]], 1) + centre


def _rz(angle_deg):
    a = math.radians(angle_deg)
    return np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1.0]])


def _mask_sample(sample: Sample) -> Sample:
    """The sample with its image replaced by the (1 px dilated) head silhouette, white on black."""
    mask = cv2.dilate(sample.extra["head_mask"].astype(np.uint8) * 255, np.ones((3, 3), np.uint8))
    return dataclasses.replace(sample, image=np.repeat(mask[:, :, None], 3, axis=2))


def _inside_mask_fraction(points_crop, mask_image, keep):
    """Fraction of the kept crop points (inside the crop) whose pixel is on in the mask image."""
    px = np.round(points_crop).astype(int)
    inside = keep & (px >= 0).all(1) & (px < mask_image.shape[1]).all(1)
    assert inside.sum() > 50, "too few vertices to test"
    on = mask_image[px[inside, 1], px[inside, 0], 0] > 0
    return on.mean()


def _in_full_image(sample):
    """Vertices whose original projection lies inside the full image (the mask exists only there)."""
    uv = project_points(sample.vertices, sample.R, sample.t, sample.K)
    return ((uv >= 0) & (uv <= IMG - 1)).all(1)


# ---- 1. the test crop ------------------------------------------------------------------------------

def test_test_crop_labels_box_and_intrinsics(samples):
    crop = SixDoFCrop(S, num_vertices=None, train=False, output="sample")
    for s in samples:
        out = crop(s)
        box = out.extra["box_info"]
        assert out.image.shape == (S, S, 3)
        # box: the int-truncated 1.5x square of the landmark box; then f, H, W
        np.testing.assert_array_equal(box[:4], _expected_box(s.landmarks))
        assert box[4] == s.K[0, 0] and tuple(box[5:7]) == (IMG, IMG)
        # 3D landmarks through K_crop land on the output (crop) landmarks, and on the crop of the input 2D ones
        lm3d = s.extra["landmarks_3d"]
        np.testing.assert_allclose(project_points(lm3d, out.R, out.t, out.K), out.landmarks, atol=1e-6, rtol=0)
        np.testing.assert_allclose(out.landmarks, _to_crop(s.landmarks, box), atol=1e-9, rtol=0)
        # pose untouched, vertices untouched
        np.testing.assert_array_equal(out.R, s.R)
        np.testing.assert_array_equal(out.t, s.t)
        np.testing.assert_array_equal(out.vertices, s.vertices)
        # K_crop = crop_intrinsics(K, box, S); the principal point comes back from (K_crop, box)
        np.testing.assert_allclose(out.K, crop_intrinsics(s.K, box[:4], S), atol=1e-9, rtol=0)
        pp = principal_point_from_crop(torch.from_numpy(out.K)[None], torch.from_numpy(box)[None])[0]
        np.testing.assert_allclose(pp.numpy(), s.K[:2, 2], atol=1e-9, rtol=0)
        # and the image agrees: head vertices projected through K_crop fall on the head silhouette
        mask_out = crop(_mask_sample(s))
        uv = project_points(s.vertices, out.R, out.t, out.K)
        assert _inside_mask_fraction(uv, mask_out.image, _in_full_image(s)) > 0.99


def test_tensor_output_matches_sample_output(samples, topo):
    kw = {"size": S, "num_vertices": topo.num_vertices, "train": False}
    s = samples[0]
    ref, out = SixDoFCrop(**kw, output="sample")(s), SixDoFCrop(**kw)(s)
    assert out["image"].shape == (3, S, S) and out["image"].dtype == torch.float32
    pairs = {"R": ref.R, "t": ref.t, "euler": ref.euler, "K_crop": ref.K, "box": ref.extra["box_info"],
             "landmarks": ref.landmarks, "vertices": ref.vertices}
    for key, value in pairs.items():
        assert out[key].dtype == torch.float32, key
        np.testing.assert_allclose(out[key].numpy(), np.asarray(value, np.float32), rtol=0, atol=0, err_msg=key)
    np.testing.assert_array_equal(out["landmarks_visible"].numpy(), s.landmarks_visible)
    assert out["has_3d"].item() == 1.0


# ---- 2. in-plane rotation about the principal point ------------------------------------------------

@pytest.mark.parametrize("angle", [17.0, -33.5, 90.0])
def test_rotation_is_an_exact_camera_roll(samples, angle):
    for s in samples[:2]:
        r = rotate_about_principal_point(s, angle)
        c = s.K[:2, 2]
        lm3d = s.extra["landmarks_3d"]
        np.testing.assert_array_equal(r.K, s.K)
        np.testing.assert_array_equal(r.vertices, s.vertices)
        np.testing.assert_allclose(r.R, _rz(angle) @ s.R, atol=1e-12)
        np.testing.assert_allclose(r.t, _rz(angle) @ s.t, atol=1e-12)
        # 3D landmarks with the new pose and the same K = the rotated 2D landmarks = closed form
        np.testing.assert_allclose(project_points(lm3d, r.R, r.t, s.K), r.landmarks, atol=1e-6, rtol=0)
        np.testing.assert_allclose(r.landmarks, _rot2d(s.landmarks, angle, c), atol=1e-9, rtol=0)
        np.testing.assert_allclose(r.bbox, [*r.landmarks.min(0), *r.landmarks.max(0)], atol=1e-12)
        # the Euler label is R's
        R_e = euler_to_matrix(np.asarray(r.euler), degrees=True)
        np.testing.assert_allclose(R_e, r.R, atol=1e-9)
        # the image turned with the labels: vertices land on the rotated silhouette
        rm = rotate_about_principal_point(_mask_sample(s), angle)
        uv = project_points(s.vertices, r.R, r.t, s.K)
        assert _inside_mask_fraction(uv, rm.image, _in_full_image(s)) > 0.99


@pytest.mark.parametrize("angle", [25.0, -70.0])
def test_rotation_moves_a_bright_pixel_to_its_rotated_position(samples, angle):
    s = samples[0]
    image = np.zeros((IMG, IMG, 3), np.uint8)
    p = np.array([30.0, 62.0])
    image[int(p[1]), int(p[0])] = 255
    r = rotate_about_principal_point(dataclasses.replace(s, image=image), angle)
    q = _rot2d(p[None], angle, s.K[:2, 2])[0]
    g = r.image[:, :, 0].astype(np.float64)
    assert g.sum() > 0
    ys, xs = np.mgrid[:IMG, :IMG]
    centroid = np.array([(g * xs).sum(), (g * ys).sum()]) / g.sum()
    np.testing.assert_allclose(centroid, q, atol=0.5)
    peak = np.array(np.unravel_index(np.argmax(g), g.shape)[::-1], np.float64)
    assert np.abs(peak - q).max() <= 1.0


def test_rotation_needs_square_pixels_and_no_skew(samples):
    s = samples[0]
    K = s.K.copy()
    K[1, 1] *= 1.1
    with pytest.raises(ValueError, match="fx = fy"):
        rotate_about_principal_point(dataclasses.replace(s, K=K), 10.0)
    K = s.K.copy()
    K[0, 1] = 0.5
    with pytest.raises(ValueError, match="skew"):
        rotate_about_principal_point(dataclasses.replace(s, K=K), 10.0)
    with pytest.raises(ValueError):
        rotate_about_principal_point(dataclasses.replace(s, t=None), 10.0)


# ---- 3. horizontal flip ----------------------------------------------------------------------------

def test_flip_mirrors_every_label(samples, topo):
    assert np.array_equal(topo.flip, samples[0].extra["vertex_flip_index"])  # the renderer's grid
    flip = SixDoFCrop(S, topo.num_vertices, train=True, flip_index=topo.flip, flip_p=1.0, rotate_p=0.0,
                      box_shift=0.0, box_scale_jitter=0.0, color=0.0, output="sample", seed=0)
    plain = SixDoFCrop(S, topo.num_vertices, train=False, output="sample")
    for s in samples:
        out, ref = flip(s), plain(s)
        box, ref_box = out.extra["box_info"], ref.extra["box_info"]
        # pose: M R M, M t, (p, -y, -r)
        np.testing.assert_array_equal(out.R, M @ s.R @ M)
        np.testing.assert_array_equal(out.t, M @ s.t)
        np.testing.assert_allclose(out.euler, s.euler * [1, -1, -1], atol=1e-12)
        np.testing.assert_allclose(euler_to_matrix(np.asarray(out.euler), degrees=True), out.R, atol=1e-9)
        # vertices: mirrored then re-indexed through the flip permutation; the synthetic head is
        # left/right symmetric, so that gives the input vertices back
        np.testing.assert_array_equal(out.vertices, (s.vertices * [-1.0, 1.0, 1.0])[topo.flip])
        np.testing.assert_allclose(out.vertices, s.vertices, atol=1e-12)
        # full-image mirror (u -> W - 1 - u), iBUG relabelling; the box is the square of that
        lm_flip = np.stack([IMG - 1 - s.landmarks[:, 0], s.landmarks[:, 1]], 1)[IBUG68_MIRROR]
        np.testing.assert_array_equal(box[:4], _expected_box(lm_flip))
        assert box[4] == s.K[0, 0] and tuple(box[5:7]) == (IMG, IMG)
        # ... which mirrors the un-flipped box up to the int truncation
        mirrored = np.array([IMG - 1 - ref_box[2], ref_box[1], IMG - 1 - ref_box[0], ref_box[3]])
        assert np.abs(box[:4] - mirrored).max() <= 1.0
        np.testing.assert_allclose(out.landmarks, _to_crop(lm_flip, box), atol=1e-9, rtol=0)
        np.testing.assert_array_equal(out.landmarks_visible, np.asarray(s.landmarks_visible)[IBUG68_MIRROR])
        # projections with the output labels = mirrored, re-indexed input projections, in the crop
        uv_in = project_points(s.vertices, s.R, s.t, s.K)
        uv_mirror = np.stack([IMG - 1 - uv_in[:, 0], uv_in[:, 1]], 1)[topo.flip]
        uv_out = project_points(out.vertices, out.R, out.t, out.K)
        np.testing.assert_allclose(uv_out, _to_crop(uv_mirror, box), atol=1e-6, rtol=0)
        lm3d_flip = (s.extra["landmarks_3d"] * [-1.0, 1.0, 1.0])[IBUG68_MIRROR]
        np.testing.assert_allclose(project_points(lm3d_flip, out.R, out.t, out.K), out.landmarks,
                                   atol=1e-6, rtol=0)
        # K_crop: the flipped full-image K (cx -> W - 1 - cx) cropped; its principal point comes back
        K_flip = s.K.copy()
        K_flip[0, 2] = IMG - 1 - K_flip[0, 2]
        np.testing.assert_allclose(out.K, crop_intrinsics(K_flip, box[:4], S), atol=1e-9, rtol=0)
        pp = principal_point_from_crop(torch.from_numpy(out.K)[None], torch.from_numpy(box)[None])[0]
        np.testing.assert_allclose(pp.numpy(), K_flip[:2, 2], atol=1e-9, rtol=0)
        # the image was mirrored with the labels: vertices land on the flipped silhouette
        flip_m = SixDoFCrop(S, topo.num_vertices, train=True, flip_index=topo.flip, flip_p=1.0,
                            box_shift=0.0, box_scale_jitter=0.0, output="sample", seed=0)
        mask_out = flip_m(_mask_sample(s))
        keep = _in_full_image(s)[topo.flip]
        assert _inside_mask_fraction(uv_out, mask_out.image, keep) > 0.99


def test_train_pipeline_end_to_end_labels_follow_the_image(samples, topo):
    """Flip, rotation and box jitter together (colour off so the mask survives): labels exact."""
    kw = {"size": S, "num_vertices": topo.num_vertices, "train": True, "flip_index": topo.flip,
          "flip_p": 1.0, "rotate_p": 1.0, "rotate_deg": 40.0, "output": "sample"}
    for i, s in enumerate(samples):
        out = SixDoFCrop(**kw, seed=100 + i)(s)
        mask_out = SixDoFCrop(**kw, seed=100 + i)(_mask_sample(s))
        box = out.extra["box_info"]
        np.testing.assert_array_equal(mask_out.extra["box_info"], box)
        np.testing.assert_array_equal(mask_out.R, out.R)
        # the roll: R_out = Rz(a)·M R M for some a, t_out = Rz(a)·M t
        Rz = out.R @ (M @ s.R @ M).T
        a = math.degrees(math.atan2(Rz[1, 0], Rz[0, 0]))
        assert abs(a) <= 40.0
        np.testing.assert_allclose(Rz, _rz(a), atol=1e-12)
        np.testing.assert_allclose(out.t, _rz(a) @ M @ s.t, atol=1e-12)
        np.testing.assert_allclose(euler_to_matrix(np.asarray(out.euler), degrees=True), out.R, atol=1e-9)
        # 2D labels: input landmarks mirrored, relabelled, rotated about the mirrored principal point, cropped
        c = np.array([IMG - 1 - s.K[0, 2], s.K[1, 2]])
        lm = _rot2d(np.stack([IMG - 1 - s.landmarks[:, 0], s.landmarks[:, 1]], 1)[IBUG68_MIRROR], a, c)
        np.testing.assert_allclose(out.landmarks, _to_crop(lm, box), atol=1e-6, rtol=0)
        lm3d_flip = (s.extra["landmarks_3d"] * [-1.0, 1.0, 1.0])[IBUG68_MIRROR]
        np.testing.assert_allclose(project_points(lm3d_flip, out.R, out.t, out.K), out.landmarks,
                                   atol=1e-6, rtol=0)
        pp = principal_point_from_crop(torch.from_numpy(out.K)[None], torch.from_numpy(box)[None])[0]
        np.testing.assert_allclose(pp.numpy(), c, atol=1e-9, rtol=0)
        # the jittered box: side within 1.5·(0.95..1.05)·extent (+1 px truncation), centre within 0.15·extent
        ext = np.ptp(lm, axis=0).max()
        side = box[2] - box[0]
        assert abs(side - (box[3] - box[1])) <= 1  # a square, up to the int truncation
        assert 1.5 * 0.95 * ext - 1 <= side <= 1.5 * 1.05 * ext + 1
        centre = (box[:2] + box[2:4]) / 2
        assert np.all(np.abs(centre - (lm.min(0) + lm.max(0)) / 2) <= 0.15 * ext + 1)
        # the image: vertices through the output labels land on the transformed silhouette
        uv_out = project_points(out.vertices, out.R, out.t, out.K)
        keep = _in_full_image(s)[topo.flip]
        assert _inside_mask_fraction(uv_out, mask_out.image, keep) > 0.98


# ---- 4. determinism --------------------------------------------------------------------------------

def _train(topo, seed):
    return SixDoFCrop(S, topo.num_vertices, train=True, flip_index=topo.flip, flip_p=0.5, rotate_p=0.5,
                      color=0.3, seed=seed)


def _run(pipe, samples):
    return [pipe(s) for s in samples for _ in range(2)]


def _same(a, b):
    return all(torch.equal(x[k], y[k]) for x, y in zip(a, b) for k in x)


def test_same_seed_same_outputs_different_seed_differs(samples, topo):
    a, b = _run(_train(topo, 5), samples), _run(_train(topo, 5), samples)
    assert _same(a, b)
    c = _run(_train(topo, 6), samples)
    assert not _same(a, c)
    assert any(not torch.equal(x["box"], y["box"]) for x, y in zip(a, c))
    # repeated calls of one pipeline draw new augmentations
    assert not all(torch.equal(a[2 * i]["box"], a[2 * i + 1]["box"]) for i in range(len(samples)))
    # without a seed the draws come from torch's RNG
    torch.manual_seed(123)
    d = _run(_train(topo, None), samples)
    torch.manual_seed(123)
    e = _run(_train(topo, None), samples)
    assert _same(d, e)


# ---- 5. bad input ----------------------------------------------------------------------------------

def test_bad_input_raises(samples, topo):
    s = samples[0]
    crop = SixDoFCrop(S, topo.num_vertices)
    with pytest.raises(ValueError, match="rotation-only"):
        crop(dataclasses.replace(s, K=None))
    with pytest.raises(ValueError, match="68"):
        crop(dataclasses.replace(s, landmarks=s.landmarks[:67]))
    with pytest.raises(ValueError, match="68"):
        crop(dataclasses.replace(s, landmarks=None))
    no_own = dataclasses.replace(s, extra={k: v for k, v in s.extra.items() if k != "vertex_flip_index"})
    with pytest.raises(ValueError, match="vertex mirror permutation"):  # none on the sample, none given
        SixDoFCrop(S, topo.num_vertices, train=True, flip_p=1.0, seed=0)(no_own)
    with pytest.raises(ValueError, match="vertex flip permutation has"):
        SixDoFCrop(S, topo.num_vertices, train=True, flip_p=1.0, flip_index=topo.flip[:-1], seed=0)(no_own)
    with pytest.raises(ValueError, match="crop convention"):
        SixDoFCrop(S, topo.num_vertices, convention="paper")
    with pytest.raises(ValueError, match="vertices"):
        crop(dataclasses.replace(s, vertices=s.vertices[:-1]))
    with pytest.raises(ValueError, match="vertices"):
        SixDoFCrop(S, topo.num_vertices + 1)(s)
    with pytest.raises(ValueError, match="output"):
        SixDoFCrop(S, topo.num_vertices, output="dict")
    K = s.K.copy()
    K[0, 0] *= 1.2
    with pytest.raises(ValueError, match="fx = fy"):
        SixDoFCrop(S, topo.num_vertices, train=True, rotate_p=1.0, seed=0)(dataclasses.replace(s, K=K))


# ---- 6. has_3d ---------------------------------------------------------------------------------------

def test_has_3d(samples, topo):
    crop = SixDoFCrop(S, topo.num_vertices)
    for s in samples[:2]:
        out = crop(s)
        assert out["has_3d"].item() == 1.0
        assert out["vertices"].shape == (topo.num_vertices, 3)
    s = samples[0]
    out = crop(dataclasses.replace(s, vertices=None))
    assert out["has_3d"].item() == 0.0
    assert out["vertices"].shape == (topo.num_vertices, 3) and not out["vertices"].any()
    np.testing.assert_allclose(out["landmarks"].numpy(), crop(s)["landmarks"].numpy(), atol=0)
    # no t: no 3D supervision either (and the in-plane rotation, which needs t, is skipped)
    train = SixDoFCrop(S, topo.num_vertices, train=True, rotate_p=1.0, seed=0)
    out = train(dataclasses.replace(s, t=None))
    assert out["has_3d"].item() == 0.0 and not out["t"].any()
    # a flipped sample without vertices keeps has_3d = 0 and zeros
    flip = SixDoFCrop(S, topo.num_vertices, train=True, flip_index=topo.flip, flip_p=1.0, seed=0)
    out = flip(dataclasses.replace(s, vertices=None))
    assert out["has_3d"].item() == 0.0 and not out["vertices"].any()
