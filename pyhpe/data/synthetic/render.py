"""Scene sampling and rendering of one synthetic image with its exact labels."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pyhpe.data.sample import Sample
from pyhpe.data.synthetic import mesh
from pyhpe.data.synthetic.assets import IdentityAssets, build_assets, cached_assets
from pyhpe.data.synthetic.background import draw_occluders, random_background
from pyhpe.data.synthetic.camera import sample_pose_and_camera
from pyhpe.data.synthetic.config import SynthConfig
from pyhpe.data.synthetic.identity import Identity
from pyhpe.data.synthetic.noise import add_grain
from pyhpe.data.synthetic.raster import draw_ids, quad_planes, signed_areas
from pyhpe.geometry.camera import box_from_points, project, to_camera

VISIBILITY_TOLERANCE_M = 0.006  # a landmark within this depth of the visible surface counts as visible
INV_Z = 3  # column of 1/z among the head's rasterised attributes (u, v, shade, 1/z)


@dataclass
class Scene:
    """Everything random about one image; :func:`render_scene` is a pure function of it."""

    assets: IdentityAssets  # the person: mesh, landmarks, texture
    euler: np.ndarray
    R: np.ndarray
    t: np.ndarray
    K: np.ndarray
    light: np.ndarray  # unit vector toward the light, camera frame
    ambient: float
    diffuse: float
    background: np.ndarray  # (S, S, 3) uint8
    occluders: int
    blur_sigma: float  # 0 = no blur
    noise_sigma: float
    detail_seed: int  # seeds occluders and sensor noise

    @property
    def identity(self) -> Identity:
        return self.assets.identity


def sample_scene(cfg: SynthConfig, rng: np.random.Generator, assets: IdentityAssets | None = None) -> Scene:
    """Draw pose, camera, light, background and degradations from ``rng``.

    ``assets``: the person to render; None draws a new identity from ``rng`` first.
    """
    if assets is None:
        assets = build_assets(rng, cfg.n_lat, cfg.n_lon, cfg.glasses_prob)
    euler, R, t, K = sample_pose_and_camera(cfg, rng, 2.0 * assets.identity.ay)
    light = np.array([rng.uniform(-1, 1), rng.uniform(-1, 1), rng.uniform(-1.2, 0.3)])
    light /= np.linalg.norm(light)
    return Scene(
        assets=assets, euler=euler, R=R, t=t, K=K, light=light,
        ambient=float(rng.uniform(*cfg.ambient)), diffuse=float(rng.uniform(*cfg.diffuse)),
        background=random_background(rng, cfg.size),
        occluders=int(rng.integers(1, 3)) if rng.random() < cfg.occluder_prob else 0,
        blur_sigma=float(rng.uniform(*cfg.blur_sigma)) if rng.random() < cfg.blur_prob else 0.0,
        noise_sigma=float(rng.uniform(*cfg.noise_sigma)),
        detail_seed=int(rng.integers(0, 2**31)),
    )


def _shading(scene: Scene, normals_head: np.ndarray) -> np.ndarray:
    """Per-vertex Lambert shading: ambient + diffuse * max(0, n . light), n in camera axes."""
    lambert = np.maximum((normals_head @ scene.R.T) @ scene.light, 0.0)
    return scene.ambient + scene.diffuse * lambert


def _ids_and_planes(xy, attrs, quads, keep, depth, shape):
    """Rasterise the kept quads far to near: (ID buffer, their QuadPlanes)."""
    sub = quads.take(np.flatnonzero(keep), axis=0)
    planes = quad_planes(xy, attrs, sub)
    order = np.argsort(-depth.take(sub).mean(axis=1), kind="stable")
    return draw_ids(xy, sub, order, shape), planes


def _texture_head(image: np.ndarray, atlas: np.ndarray, ids: np.ndarray, planes, mask: np.ndarray):
    """Paint the head's pixels (``mask``) with the shaded atlas, in place, on the mask's bounding box.

    Returns that box (x0, y0, x1, y1), inclusive, or None when no pixel is covered.
    """
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    if len(rows) == 0:
        return None
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    u, v, shade = planes.evaluate_region(ids[y0:y1, x0:x1], x0, y0, first=3)  # (u, v, shading)
    tex = cv2.remap(atlas, u, v, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    lit = cv2.multiply(tex, cv2.cvtColor(shade, cv2.COLOR_GRAY2RGB), dtype=cv2.CV_8U)
    cv2.copyTo(lit, mask[y0:y1, x0:x1].view(np.uint8), image[y0:y1, x0:x1])  # in place
    return np.array([x0, y0, x1 - 1, y1 - 1], float)


def _draw_glasses(scene: Scene, image: np.ndarray, head_ids: np.ndarray, head_planes, shape) -> None:
    """Rasterise the glasses and keep their pixels that lie in front of the head (depth test)."""
    g_verts, g_normals, g_quads = scene.assets.glasses
    g_cam = to_camera(g_verts, scene.R, scene.t)
    g_xy = project(g_cam, scene.K)
    g_attrs = np.column_stack([_shading(scene, g_normals), 1.0 / g_cam[:, 2]])
    ids, planes = _ids_and_planes(g_xy, g_attrs, g_quads, np.ones(len(g_quads), bool), g_cam[:, 2], shape)
    flat = np.flatnonzero(ids >= 0)
    gy, gx = np.divmod(flat, shape[1])
    gval = planes.evaluate(ids.ravel()[flat], gx, gy)
    head_inv_z = head_planes.evaluate_one(head_ids[gy, gx], gx, gy, INV_Z)  # 0 (infinitely far) off the head
    front = gval[:, 1] > head_inv_z  # larger 1/z = nearer
    frame = scene.identity.frame[None, :] * gval[front, 0:1]
    image[gy[front], gx[front]] = np.clip(frame, 0, 255).astype(np.uint8)


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur with the kernel size cv2.GaussianBlur picks for uint8 (6 sigma + 1, odd), as one
    float separable filter: 2-3x cheaper here than GaussianBlur's bit-exact path, within 2 grey levels."""
    kernel = cv2.getGaussianKernel(round(sigma * 6 + 1) | 1, sigma, cv2.CV_32F)
    return cv2.sepFilter2D(image, -1, kernel, kernel)


def render_scene(scene: Scene, cfg: SynthConfig) -> Sample:
    """Render ``scene`` to a :class:`Sample` with R, t, K, box, landmarks, visibility and vertices.

    The image has the background's shape (``cfg.size`` square for sampled scenes; any (H, W) for
    scenes built by hand, e.g. :mod:`pyhpe.data.synthetic.video`'s wide frames).
    """
    rng = np.random.default_rng(scene.detail_seed)
    assets = scene.assets
    verts, normals = assets.vertices, assets.normals
    shape = scene.background.shape[:2]
    topo = mesh.topology(cfg.n_lat, cfg.n_lon)
    if len(verts) != topo.n_render:
        raise ValueError(f"scene assets were built for another grid than {cfg.n_lat}x{cfg.n_lon}")

    cam = to_camera(verts, scene.R, scene.t)
    xy = project(cam, scene.K)
    # u, v, Gouraud shading, 1/z (1/z is affine in the image for a planar triangle)
    attrs = np.column_stack([topo.uv, _shading(scene, normals), 1.0 / cam[:, 2]])
    keep = (signed_areas(xy, topo.quads) > 0) | topo.double_sided
    ids, planes = _ids_and_planes(xy, attrs, topo.quads, keep, cam[:, 2], shape)
    head_mask = ids >= 0
    image = scene.background.copy()
    head_box = _texture_head(image, assets.atlas, ids, planes, head_mask)

    if assets.glasses is not None:
        _draw_glasses(scene, image, ids, planes, shape)

    # Landmarks: points of the rendered mesh; visible if nothing nearer covers them and they face us.
    lm3d = assets.landmarks_3d
    lm_cam = to_camera(lm3d, scene.R, scene.t)
    lm2d = project(lm_cam, scene.K)
    lm_n = assets.landmark_normals @ scene.R.T
    visible = _landmark_visibility(lm2d, lm_cam, lm_n, ids, planes, shape)
    bbox = box_from_points(lm2d)

    occluder_mask = np.zeros(shape, bool)
    if scene.occluders:
        # placed around the whole head (not the landmarks, which follow the pose)
        occluder_mask = draw_occluders(rng, image, bbox if head_box is None else head_box, scene.occluders)
    px = np.clip(np.round(lm2d).astype(int), 0, np.array(shape[::-1]) - 1)
    occluded = occluder_mask[px[:, 1], px[:, 0]]

    if scene.blur_sigma > 0:
        image = gaussian_blur(image, scene.blur_sigma)
    if scene.noise_sigma > 0.5:
        image = add_grain(rng, image, scene.noise_sigma)

    return Sample(
        image=image,
        R=scene.R.copy(),
        euler=scene.euler.copy(),
        t=scene.t.copy(),
        K=scene.K.copy(),
        bbox=bbox,
        landmarks=lm2d,
        landmarks_visible=visible & ~occluded,
        vertices=verts.take(topo.dense_index, axis=0),
        faces=topo.faces,
        extra={
            "landmarks_self_visible": visible,
            "landmarks_3d": lm3d.copy(),
            "landmark_vertex_ids": assets.landmark_vertex_ids,
            "landmark_vertex_weights": assets.landmark_vertex_weights,
            "head_mask": head_mask,
            "occluder_mask": occluder_mask,
            "vertex_flip_index": topo.flip_index,
            "factors": scene_factors(scene, float(occluded.mean())),
        },
    )


def scene_factors(scene: Scene, occluded_landmarks: float) -> dict:
    """What the renderer drew that makes an image hard, per image (robustness slices of
    ``pyhpe compare``): occluder count, share of the 68 landmarks under an occluder, blur sigma
    (0 = sharp), sensor-noise sigma (grey levels) and whether the person wears glasses."""
    return {"occluders": int(scene.occluders), "occluded_landmarks": occluded_landmarks,
            "blur_sigma": float(scene.blur_sigma), "noise_sigma": float(scene.noise_sigma),
            "glasses": scene.assets.glasses is not None}


def _landmark_visibility(lm2d, lm_cam, lm_normals, ids, planes, shape) -> np.ndarray:
    """(68,) bool: inside the image, facing the camera, and no more than VISIBILITY_TOLERANCE_M
    behind the surface the ID buffer shows at the landmark's pixel."""
    px = np.round(lm2d).astype(int)
    inside = (px[:, 0] >= 0) & (px[:, 0] < shape[1]) & (px[:, 1] >= 0) & (px[:, 1] < shape[0])
    visible = np.zeros(len(lm2d), bool)
    facing = (lm_normals * lm_cam).sum(1) < 0
    cand = np.nonzero(inside & facing)[0]
    if len(cand) == 0:
        return visible
    q = ids[px[cand, 1], px[cand, 0]]
    hit = q >= 0
    cand, q = cand[hit], q[hit]
    inv_z = planes.evaluate_one(q, lm2d[cand, 0], lm2d[cand, 1], INV_Z)
    surface_z = 1.0 / np.maximum(inv_z, 1e-9)
    visible[cand] = lm_cam[cand, 2] <= surface_z + VISIBILITY_TOLERANCE_M
    return visible


def render_index(cfg: SynthConfig, seed: int, index: int) -> Sample:
    """Sample ``index`` of the stream with seed ``seed`` (always the same image)."""
    if index < 0:
        raise IndexError(f"sample index must be >= 0, got {index}")
    rng = np.random.default_rng([int(seed), int(index)])
    assets = cached_assets(seed, index // cfg.identity_repeat, cfg.n_lat, cfg.n_lon, cfg.glasses_prob)
    sample = render_scene(sample_scene(cfg, rng, assets), cfg)
    sample.subject = f"synth-s{seed}-p{index // cfg.identity_repeat}"  # one subject per person
    sample.source = f"synthetic:seed={seed}:index={index}"
    return sample
