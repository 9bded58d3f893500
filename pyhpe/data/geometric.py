"""Geometric transforms of a Sample that keep every label consistent with the image.

Crop, resize and flip update the image, box, landmarks and intrinsics K; a flip also mirrors
R (M R M, M = diag(-1, 1, 1)), t, the Euler label (yaw, roll negated) and the vertices. Pixel
centres sit at integer coordinates (OpenCV), so a W-wide flip maps x -> W - 1 - x and a resize by s
maps x -> (x + 0.5) s - 0.5. The formulas are :mod:`pyhpe.geometry.camera`'s (crop and resize of
K and points, boxes) and :mod:`pyhpe.geometry.rigid`'s (the flip); this module applies them to
the image and every label of a Sample.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from pyhpe.data.landmarks import IBUG68_MIRROR
from pyhpe.data.sample import Sample
from pyhpe.geometry import camera, rigid


def crop(sample: Sample, box) -> Sample:
    """Crop to ``box`` = (x0, y0, x1, y1), each truncated with int() as PIL's crop; outside is black."""
    x0, y0, x1, y1 = (int(v) for v in box)
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"empty crop box {tuple(box)}")
    img = sample.image
    h, w = img.shape[:2]
    out = np.zeros((y1 - y0, x1 - x0) + img.shape[2:], dtype=img.dtype)
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = img[sy0:sy1, sx0:sx1]
    K = None if sample.K is None else camera.shift_intrinsics(sample.K, x0, y0)
    bbox = None if sample.bbox is None else camera.shift_points(np.reshape(sample.bbox, (2, 2)), x0, y0).reshape(4)
    landmarks = None if sample.landmarks is None else camera.shift_points(sample.landmarks, x0, y0)
    return dataclasses.replace(sample, image=out, K=K, bbox=bbox, landmarks=landmarks)


def resize(sample: Sample, size: int | tuple[int, int]) -> Sample:
    """Resize to ``size`` = (width, height) (or a square side); K, box and landmarks follow."""
    out_w, out_h = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    h, w = sample.image.shape[:2]
    sx, sy = out_w / w, out_h / h
    interp = cv2.INTER_AREA if sx * sy < 1 else cv2.INTER_LINEAR
    image = cv2.resize(sample.image, (out_w, out_h), interpolation=interp)

    def scale(points):
        return None if points is None else camera.scale_points(np.reshape(points, (-1, 2)), sx, sy)

    K = None if sample.K is None else camera.scale_intrinsics(sample.K, sx, sy)
    bbox = None if sample.bbox is None else scale(sample.bbox).reshape(4)
    return dataclasses.replace(sample, image=image, K=K, bbox=bbox, landmarks=scale(sample.landmarks))


def resize_shorter_side(sample: Sample, size: int) -> Sample:
    """torchvision ``Resize(size)``: the shorter side becomes ``size``, the aspect ratio is kept."""
    h, w = sample.image.shape[:2]
    if w <= h:
        return resize(sample, (size, int(size * h / w)))
    return resize(sample, (int(size * w / h), size))


def center_crop(sample: Sample, size: int | tuple[int, int]) -> Sample:
    """torchvision ``CenterCrop``: (width, height) or a square side, offsets rounded."""
    tw, th = (size, size) if isinstance(size, int) else size
    h, w = sample.image.shape[:2]
    top, left = round((h - th) / 2.0), round((w - tw) / 2.0)
    return crop(sample, (left, top, left + tw, top + th))


def hflip(sample: Sample) -> Sample:
    """Mirror the image left-right and every label with it (6DRepNet: yaw, roll -> -yaw, -roll).

    Landmarks with 68 points are relabelled with the iBUG-68 mirror permutation; vertices become
    M v and are permuted by ``extra["vertex_flip_index"]`` when given (otherwise the triangle
    winding is reversed so that normals still point outwards).
    """
    w = sample.image.shape[1]
    image = np.ascontiguousarray(sample.image[:, ::-1])
    euler = rigid.flip_euler_horizontal(sample.euler)
    R = rigid.flip_rotation_horizontal(sample.R)
    t = None if sample.t is None else rigid.flip_translation_horizontal(sample.t)
    K = None if sample.K is None else rigid.flip_intrinsics_horizontal(sample.K, w)
    bbox = None if sample.bbox is None else rigid.flip_boxes_horizontal(sample.bbox, w)
    landmarks, visible = sample.landmarks, sample.landmarks_visible
    if landmarks is not None:
        perm = IBUG68_MIRROR if len(landmarks) == 68 else None
        landmarks = rigid.flip_points_horizontal(landmarks, w, perm)
        if perm is not None and visible is not None:
            visible = np.asarray(visible)[perm]
    vertices, faces = sample.vertices, sample.faces
    if vertices is not None:
        vertices = rigid.mirror_points(vertices)
        flip_index = sample.extra.get("vertex_flip_index")
        if flip_index is not None:
            vertices = vertices[np.asarray(flip_index)]
        elif faces is not None:
            faces = np.asarray(faces)[:, [0, 2, 1]]
    return dataclasses.replace(sample, image=image, R=R, euler=euler, t=t, K=K, bbox=bbox,
                               landmarks=landmarks, landmarks_visible=visible,
                               vertices=vertices, faces=faces)


def sixdrepnet_train_box(bbox, rng: np.random.Generator) -> np.ndarray:
    """6DRepNet's 300W-LP random margin: k ~ U[0.2, 0.4); edges moved in order (see docs)."""
    x0, y0, x1, y1 = (float(v) for v in bbox)
    w, h = x1 - x0, y1 - y0
    k = rng.uniform(0.2, 0.4)
    x0 -= 0.6 * k * w
    y0 -= 2 * k * h
    x1 += 0.6 * k * (x1 - x0)
    y1 += 0.6 * k * (y1 - y0)
    return np.array([x0, y0, x1, y1])


def sixdrepnet_test_box(bbox, k: float = 0.20) -> np.ndarray:
    """6DRepNet's AFLW2000 fixed margin (k = 0.2); edges moved in order (see docs)."""
    x0, y0, x1, y1 = (float(v) for v in bbox)
    w, h = x1 - x0, y1 - y0
    x0 -= 2 * k * w
    y0 -= 2 * k * h
    x1 += 2 * k * (x1 - x0)
    y1 += 0.6 * k * (y1 - y0)
    return np.array([x0, y0, x1, y1])


def square_box(bbox, scale: float = 1.5, rng: np.random.Generator | None = None,
               shift: float = 0.15, scale_jitter: float = 0.05) -> np.ndarray:
    """TRG's square crop: side ``scale``·max(w, h) about the box centre; with ``rng``, the
    centre moves by U(±shift·s) and the side by U(1 ± scale_jitter)."""
    if rng is None:
        return camera.square_box(bbox, scale)
    dx, dy = rng.uniform(-shift, shift), rng.uniform(-shift, shift)
    return camera.square_box(bbox, scale, (dx, dy), rng.uniform(1 - scale_jitter, 1 + scale_jitter))


def random_resized_crop_box(height: int, width: int, rng: np.random.Generator,
                            scale=(0.8, 1.0), ratio=(3 / 4, 4 / 3)) -> np.ndarray:
    """torchvision ``RandomResizedCrop``'s box (x0, y0, x1, y1): 10 tries, then a centre crop."""
    area = height * width
    log_ratio = np.log(ratio)
    for _ in range(10):
        target = area * rng.uniform(*scale)
        aspect = np.exp(rng.uniform(*log_ratio))
        w = round(np.sqrt(target * aspect))
        h = round(np.sqrt(target / aspect))
        if 0 < w <= width and 0 < h <= height:
            top = int(rng.integers(0, height - h + 1))
            left = int(rng.integers(0, width - w + 1))
            return np.array([left, top, left + w, top + h])
    in_ratio = width / height
    if in_ratio < min(ratio):
        w, h = width, round(width / min(ratio))
    elif in_ratio > max(ratio):
        h, w = height, round(height * max(ratio))
    else:
        w, h = width, height
    top, left = (height - h) // 2, (width - w) // 2
    return np.array([left, top, left + w, top + h])
