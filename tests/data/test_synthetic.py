"""Synthetic head renderer: labels against geometry, visibility, determinism, variety, disk round trip."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest
import torch

from pyhpe.data.synthetic import (
    SynthConfig,
    SyntheticHeads,
    render_index,
    render_scene,
    sample_scene,
)
from pyhpe.data.synthetic.mesh import topology
from pyhpe.geometry.camera import project, to_camera
from pyhpe.geometry.rotation import euler_to_matrix, matrix_to_euler

CLEAN = SynthConfig(occluder_prob=0.0, blur_prob=0.0, noise_sigma=(0.0, 0.0), glasses_prob=0.0)
MINUS_X_EYE, PLUS_X_EYE = np.arange(36, 42), np.arange(42, 48)  # image-left / image-right eye of a frontal face


def posed_scene(cfg: SynthConfig, euler_deg, seed: int = 5, depth: float | None = None):
    """A random scene with its pose replaced by ``euler_deg`` and the head centred on the axis."""
    scene = sample_scene(cfg, np.random.default_rng(seed))
    scene.euler = np.asarray(euler_deg, float)
    scene.R = euler_to_matrix(scene.euler, degrees=True)
    if depth is not None:
        scene.K[:2, :2] *= depth / scene.t[2]
        scene.t = scene.t * (depth / scene.t[2])
    return scene


def head_region(cfg: SynthConfig, scene) -> np.ndarray:
    """Head pixels found from the images alone: render on black and on white, keep what is equal."""
    black = dataclasses.replace(scene, background=np.zeros_like(scene.background))
    white = dataclasses.replace(scene, background=np.full_like(scene.background, 255))
    a, b = render_scene(black, cfg).image, render_scene(white, cfg).image
    return np.all(a == b, axis=-1)


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="yaw"):
        SynthConfig(yaw=(10.0, -10.0))
    with pytest.raises(ValueError, match="depth"):
        SynthConfig(depth=(0.05, 1.0))
    with pytest.raises(ValueError, match="size"):
        SynthConfig(size=8)
    with pytest.raises(ValueError, match="occluder_prob"):
        SynthConfig(occluder_prob=1.5)
    with pytest.raises(IndexError):
        render_index(SynthConfig(), 0, -1)


def test_pose_matrix_is_the_geometry_modules_formula():
    from pyhpe.geometry.rotation import euler_to_matrix_scalar as euler_matrix

    for euler in np.random.default_rng(0).uniform(-180, 180, (50, 3)):
        np.testing.assert_allclose(euler_matrix(*euler), euler_to_matrix(euler, degrees=True), atol=1e-14)


def test_tint_equals_per_channel_multiply():
    from pyhpe.data.synthetic.noise import material_bank, tint

    grey = material_bank()["skin"][:40, :50]
    for colour in np.random.default_rng(1).uniform(0, 255, (20, 3)):
        want = cv2.multiply(cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB), tuple(colour / 128.0) + (0.0,))
        np.testing.assert_array_equal(tint(grey, colour), want)


def test_sample_fields_are_consistent():
    cfg = SynthConfig(size=160)
    s = render_index(cfg, 1, 0)
    topo = topology(cfg.n_lat, cfg.n_lon)
    assert s.image.shape == (160, 160, 3) and s.image.dtype == np.uint8
    np.testing.assert_allclose(s.R @ s.R.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(s.R) == pytest.approx(1.0)
    np.testing.assert_allclose(euler_to_matrix(s.euler, degrees=True), s.R, atol=1e-12)
    assert cfg.depth[0] <= s.t[2] <= cfg.depth[1]
    assert s.landmarks.shape == (68, 2) and s.landmarks_visible.shape == (68,)
    assert s.vertices.shape == (len(topo.dense_index), 3) and s.faces.max() < len(s.vertices)
    np.testing.assert_allclose(s.bbox, [*s.landmarks.min(0), *s.landmarks.max(0)])
    # landmarks are barycentric points of the dense mesh's triangles ...
    ids, w = s.extra["landmark_vertex_ids"], s.extra["landmark_vertex_weights"]
    np.testing.assert_allclose(w.sum(1), 1.0)
    assert (w >= -1e-12).all()
    np.testing.assert_allclose(np.einsum("nk,nkc->nc", w, s.vertices[ids]), s.extra["landmarks_3d"], atol=1e-12)
    # ... projected with the sample's own camera
    lm = project(to_camera(s.extra["landmarks_3d"], s.R, s.t), s.K)
    np.testing.assert_allclose(lm, s.landmarks, atol=1e-9)


@pytest.mark.parametrize("size", [48, 600])
def test_small_and_large_images_render(size):
    cfg = SynthConfig(size=size, occluder_prob=1.0, blur_prob=1.0)
    s = render_index(cfg, 0, 1)
    assert s.image.shape == (size, size, 3)
    frac = s.extra["head_mask"].mean()
    assert 0.05 < frac < 0.8, f"head covers {frac:.2f} of the image"


def test_vertex_count_follows_the_grid():
    for n_lat, n_lon in ((12, 16), (30, 44)):
        s = render_index(dataclasses.replace(CLEAN, n_lat=n_lat, n_lon=n_lon), 0, 0)
        # crown + interior rows + bottom pole + 2 ears of (1 centre + 2 rings x 10)
        assert len(s.vertices) == (n_lat - 1) * n_lon + 2 + 2 * 21


def test_same_seed_and_index_give_the_same_sample():
    cfg = SynthConfig()
    a, b = render_index(cfg, 7, 3), render_index(cfg, 7, 3)
    assert np.array_equal(a.image, b.image)
    for key in ("R", "t", "K", "landmarks", "landmarks_visible", "vertices"):
        assert np.array_equal(getattr(a, key), getattr(b, key)), key
    other = render_index(cfg, 7, 4)
    assert not np.array_equal(a.image, other.image)
    assert not np.allclose(a.R, other.R)
    assert not np.array_equal(render_index(cfg, 8, 3).image, a.image)


def test_identity_repeat_shares_the_person_not_the_scene():
    cfg = SynthConfig(identity_repeat=3)
    group = [render_index(cfg, 6, i) for i in (2, 0, 1)]  # out of order on purpose
    nxt = render_index(cfg, 6, 3)
    for s in group[1:]:
        np.testing.assert_array_equal(s.vertices, group[0].vertices)
        assert not np.allclose(s.R, group[0].R)
    assert not np.allclose(nxt.vertices, group[0].vertices)
    assert {s.subject for s in group} == {"synth-s6-p0"} and nxt.subject == "synth-s6-p1"
    from pyhpe.data.synthetic.assets import cached_assets

    cached_assets.cache_clear()  # a fresh process gives the same sample
    assert np.array_equal(render_index(cfg, 6, 1).image, group[2].image)
    with pytest.raises(ValueError, match="identity_repeat"):
        SynthConfig(identity_repeat=0)


def test_dataset_items_match_render_index_in_any_order():
    ds = SyntheticHeads(6, seed=2, config=CLEAN)
    assert len(ds) == 6
    later_first = ds[5]
    assert np.array_equal(later_first.image, render_index(CLEAN, 2, 5).image)
    assert np.array_equal(ds[-1].image, later_first.image)
    with pytest.raises(IndexError):
        ds[6]
    mirrored = ds.vertex_flip_index
    np.testing.assert_array_equal(mirrored[mirrored], np.arange(len(mirrored)))
    assert isinstance(ds, torch.utils.data.Dataset)


def test_dataloader_workers_give_the_same_samples():
    ds = SyntheticHeads(6, seed=3, config=SynthConfig(size=96))
    loader = torch.utils.data.DataLoader(ds, batch_size=3, num_workers=2, collate_fn=list)
    got = [s for batch in loader for s in batch]
    for i, s in enumerate(got):
        assert np.array_equal(s.image, render_index(ds.config, 3, i).image)


def test_head_is_left_right_symmetric_under_the_flip_index():
    s = render_index(CLEAN, 0, 11)
    flip = topology(CLEAN.n_lat, CLEAN.n_lon).flip_index
    np.testing.assert_allclose(s.vertices[flip], s.vertices * [-1.0, 1.0, 1.0], atol=1e-9)


def test_labels_round_trip_through_euler_angles():
    cfg = SynthConfig(yaw=(-85.0, 85.0))
    R = np.stack([render_index(cfg, 4, i).R for i in range(12)])
    euler = np.stack([render_index(cfg, 4, i).euler for i in range(12)])
    back = matrix_to_euler(torch.from_numpy(R), degrees=True).numpy()
    np.testing.assert_allclose(back, euler, atol=1e-6)


@pytest.mark.parametrize("euler, depth", [((0, 0, 0), 0.8), ((10, 80, 0), 0.5), ((-50, -30, 40), 0.3),
                                          ((55, 20, -45), 1.4), ((0, 180, 0), 0.9)])
def test_projected_vertices_land_on_the_rendered_head(euler, depth):
    scene = posed_scene(CLEAN, euler, depth=depth)
    region = head_region(CLEAN, scene)
    s = render_scene(scene, CLEAN)
    xy = project(to_camera(s.vertices, s.R, s.t), s.K)
    px = np.round(xy).astype(int)
    assert (px >= 0).all() and (px < CLEAN.size).all(), "the head should be inside the image"
    grown = cv2.dilate(region.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    assert grown[px[:, 1], px[:, 0]].all(), "a vertex projects outside the rendered head"
    # and the head covers the projected mesh: same extent within a pixel or two
    ys, xs = np.nonzero(region)
    np.testing.assert_allclose([xs.min(), ys.min(), xs.max(), ys.max()],
                               [*xy.min(0), *xy.max(0)], atol=2.0)
    np.testing.assert_array_equal(region, s.extra["head_mask"])


def test_far_side_landmarks_are_hidden_when_the_head_turns():
    frontal = render_scene(posed_scene(CLEAN, (0, 0, 0)), CLEAN)
    assert frontal.landmarks_visible[17:].all(), "brows, nose, eyes and mouth face the camera"
    # positive yaw turns the face toward the image left: the head's +x side comes into view and
    # the -x side (image-left eye and jaw of a frontal face) turns away
    left = render_scene(posed_scene(CLEAN, (0, 80, 0)), CLEAN)
    assert left.landmarks_visible[PLUS_X_EYE].all() and not left.landmarks_visible[MINUS_X_EYE].any()
    assert left.landmarks_visible[13:17].all() and not left.landmarks_visible[:4].any()
    right = render_scene(posed_scene(CLEAN, (0, -80, 0)), CLEAN)
    assert right.landmarks_visible[MINUS_X_EYE].all() and not right.landmarks_visible[PLUS_X_EYE].any()
    assert right.landmarks_visible[:4].all() and not right.landmarks_visible[13:17].any()
    back = render_scene(posed_scene(CLEAN, (0, 180, 0)), CLEAN)
    assert not back.landmarks_visible.any()


def test_pose_senses_positive_yaw_to_image_left_positive_pitch_down():
    base = render_scene(posed_scene(CLEAN, (0, 0, 0)), CLEAN)
    turned = render_scene(posed_scene(CLEAN, (0, 40, 0)), CLEAN)
    centre = base.landmarks[[0, 16]].mean(0)[0]
    assert base.landmarks[30, 0] == pytest.approx(centre, abs=1.5)
    assert turned.landmarks[30, 0] < turned.landmarks[[0, 16]].mean(0)[0] - 10
    # positive pitch looks down: the protruding nose tip (30) drops toward the nostril base (33)
    down = render_scene(posed_scene(CLEAN, (30, 0, 0)), CLEAN)
    up = render_scene(posed_scene(CLEAN, (-30, 0, 0)), CLEAN)
    gaps = [s.landmarks[33, 1] - s.landmarks[30, 1] for s in (down, base, up)]
    assert gaps[0] < gaps[1] < gaps[2]


def test_occluders_hide_landmarks_they_cover():
    cfg = dataclasses.replace(CLEAN, occluder_prob=1.0)
    seen = 0
    for i in range(8):
        s = render_index(cfg, 9, i)
        px = np.clip(np.round(s.landmarks).astype(int), 0, cfg.size - 1)
        covered = s.extra["occluder_mask"][px[:, 1], px[:, 0]]
        assert not (s.landmarks_visible & covered).any()
        np.testing.assert_array_equal(s.landmarks_visible, s.extra["landmarks_self_visible"] & ~covered)
        seen += int(covered.any())
    assert seen > 0, "occluders should overlap the face sometimes"


def test_backgrounds_vary_and_are_textured():
    samples = [render_index(SynthConfig(), 12, i) for i in range(10)]
    means, spreads = [], []
    for s in samples:
        bg = s.image[~s.extra["head_mask"]].astype(float)
        means.append(bg.mean(0))
        spreads.append(bg.std(0).mean())
    assert np.std(np.array(means), axis=0).mean() > 15, "background colours should differ between images"
    assert min(spreads) > 5, "no flat backgrounds"


def test_brightness_does_not_follow_the_pose():
    samples = [render_index(SynthConfig(), 21, i) for i in range(48)]
    brightness = np.array([s.image[s.extra["head_mask"]].mean() for s in samples])
    for k in range(3):
        angle = np.array([s.euler[k] for s in samples])
        r = np.corrcoef(np.abs(angle), brightness)[0, 1]
        assert abs(r) < 0.45, f"head brightness correlates with |angle {k}| (r={r:.2f})"
    yaw = np.array([s.euler[1] for s in samples])
    assert abs(np.corrcoef(yaw, brightness)[0, 1]) < 0.45


def test_horizontal_flip_keeps_the_labels_on_the_mirrored_head():
    from pyhpe.data.geometric import hflip
    from pyhpe.data.landmarks import IBUG68_MIRROR

    s = render_scene(posed_scene(CLEAN, (15, 50, -20), depth=0.5), CLEAN)
    f = hflip(s)
    # the mirrored head is the same symmetric head: vertices map onto themselves
    np.testing.assert_allclose(f.vertices, s.vertices, atol=1e-9)
    mask = cv2.dilate(s.extra["head_mask"][:, ::-1].astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    px = np.round(project(to_camera(f.vertices, f.R, f.t), f.K)).astype(int)
    assert mask[px[:, 1], px[:, 0]].all()
    mirrored_3d = (s.extra["landmarks_3d"] * [-1.0, 1.0, 1.0])[IBUG68_MIRROR]
    np.testing.assert_allclose(project(to_camera(mirrored_3d, f.R, f.t), f.K), f.landmarks, atol=1e-9)


def test_faces_are_wound_outward():
    s = render_index(CLEAN, 0, 2)
    a, b, c = (s.vertices[s.faces[:, k]] for k in range(3))
    normal, centre = np.cross(b - a, c - a), (a + b + c) / 3
    n_head = len(s.vertices) - 2 * 21
    head = (s.faces < n_head).all(axis=1)
    assert ((normal[head] * centre[head]).sum(1) > 0).all(), "head normals point away from the origin"
    ear_side = np.sign(centre[~head, 0])
    assert (np.sign(normal[~head, 0]) == ear_side).all(), "ear normals point away from the head"
