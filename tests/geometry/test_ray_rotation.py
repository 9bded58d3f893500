"""The viewing-ray rotation of a crop (pyhpe.geometry.camera.ray_rotation / crop_rotation_to_camera).

Independent reference: a head rendered at the edge of a wide-angle frame with camera-frame pose
ray · R0, re-imaged through the virtual camera that looks along the ray (a pure-rotation
homography), is the same picture as the head rendered at the frame's centre with pose R0.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from pyhpe.data.synthetic.assets import cached_assets
from pyhpe.data.synthetic.config import SynthConfig
from pyhpe.data.synthetic.render import Scene, render_scene
from pyhpe.data.synthetic.video import wide_intrinsics
from pyhpe.geometry import crop_rotation_to_camera, ray_rotation
from pyhpe.geometry.rotation import euler_to_matrix_scalar


def test_ray_rotation_is_the_smallest_rotation_onto_the_ray():
    K = wide_intrinsics(1280, 720, 90.0)
    pixels = np.array([[0.0, 0.0], [1279.0, 719.0], [639.5, 359.5], [100.0, 600.0]])
    R = ray_rotation(K, pixels)
    assert np.allclose(R @ np.swapaxes(R, -1, -2), np.eye(3), atol=1e-12)
    assert np.allclose(np.linalg.det(R), 1.0)
    rays = np.column_stack([pixels, np.ones(len(pixels))]) @ np.linalg.inv(K).T
    assert np.allclose(R[:, :, 2], rays / np.linalg.norm(rays, axis=1, keepdims=True))
    assert np.allclose(R[2], np.eye(3))  # the principal point: no rotation
    # smallest rotation: its axis is perpendicular to both z and the ray (no turn about the ray),
    # and its angle is the angle between them
    for r, d in zip(R, R[:, :, 2]):
        angle = np.arccos(np.clip((np.trace(r) - 1) / 2, -1, 1))
        assert angle == pytest.approx(np.arccos(d[2]), abs=1e-9)
        if angle > 1e-6:
            axis = np.array([r[2, 1] - r[1, 2], r[0, 2] - r[2, 0], r[1, 0] - r[0, 1]]) / (2 * np.sin(angle))
            assert np.allclose(axis, np.cross([0, 0, 1.0], d) / np.linalg.norm(np.cross([0, 0, 1.0], d)))


def test_ray_rotation_rejects_bad_shapes():
    with pytest.raises(ValueError, match="ray_rotation"):
        ray_rotation(np.eye(2), [[0.0, 0.0]])


def _render(assets, cfg, K, background, R, t):
    """Ambient light only: a camera-frame light would turn with the virtual camera."""
    scene = Scene(assets=assets, euler=np.zeros(3), R=R, t=t, K=K, light=np.array([0.0, 0.0, -1.0]),
                  ambient=1.0, diffuse=0.0, background=background, occluders=0, blur_sigma=0.0,
                  noise_sigma=0.0, detail_seed=0)
    return render_scene(scene, cfg)


@pytest.mark.parametrize("pixel", [(1120.0, 580.0), (130.0, 360.0)])
def test_a_head_at_the_edge_seen_along_its_ray_is_the_centred_head(pixel):
    cfg = SynthConfig(glasses_prob=0.0)
    assets = cached_assets(3, 0, cfg.n_lat, cfg.n_lon, 0.0)
    W, H = 1280, 720
    K = wide_intrinsics(W, H, 100.0)
    background = np.zeros((H, W, 3), np.uint8)
    R0 = euler_to_matrix_scalar(10.0, 35.0, -5.0)
    distance = 1.2
    centre = _render(assets, cfg, K, background, R0, np.array([0.0, 0.0, distance]))

    ray = ray_rotation(K, np.array(pixel))
    R_cam = crop_rotation_to_camera(R0[None], np.array([[pixel[0] - 5, pixel[1] - 5, pixel[0] + 5, pixel[1] + 5]]), K)[0]
    assert np.allclose(R_cam, ray @ R0)
    edge = _render(assets, cfg, K, background, R_cam, distance * ray[:, 2])
    # re-image the edge frame through the virtual camera looking along the ray: x_real = K ray K⁻¹ x_virtual
    homography = K @ ray @ np.linalg.inv(K)
    virtual = cv2.warpPerspective(edge.image, homography, (W, H), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
    mask_c = centre.extra["head_mask"]
    mask_v = cv2.warpPerspective(edge.extra["head_mask"].astype(np.uint8), homography, (W, H),
                                 flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP).astype(bool)
    iou = (mask_c & mask_v).sum() / (mask_c | mask_v).sum()
    assert iou > 0.97
    both = mask_c & mask_v
    diff = np.abs(centre.image[both].astype(int) - virtual[both].astype(int))
    assert np.median(diff) <= 6
    # without the ray, the edge head's camera-frame pose differs from the centred one by the ray's angle
    angle = np.degrees(np.arccos((np.trace(R_cam @ R0.T) - 1) / 2))
    assert angle > 25.0
