"""Pictures of samples: pose axes (pyhpe convention), face box, landmarks; and a grid of them."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from pyhpe.data.files import write_image_rgb
from pyhpe.data.sample import Sample
from pyhpe.geometry.camera import project, to_camera

AXIS_COLOURS = ((255, 40, 40), (40, 220, 40), (60, 120, 255))  # head x red, y green, z blue


def axis_endpoints(R: np.ndarray, origin_px, length_px: float, K=None, t=None,
                   length_m: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """(origin (2,), ends (3, 2)) of the head axes in pixels.

    With K and t: perspective projection (pyhpe.geometry.camera) of the head origin and of the
    points length_m along each head axis, i.e. t and t + length_m·R[:, i] (exact for 6DoF data),
    when all four lie in front of the camera. Otherwise orthographic:
    origin + length_px·(R[0, i], R[1, i]) — camera x right, y down.
    """
    R = np.asarray(R, dtype=np.float64)
    if K is not None and t is not None:
        cam = to_camera(np.vstack([np.zeros(3), length_m * np.eye(3)]), R, t)
        if np.all(cam[:, 2] > 1e-6):
            uv = project(cam, K)
            return uv[0], uv[1:]
    o = np.asarray(origin_px, dtype=np.float64)
    return o, o[None] + length_px * R[:2, :].T


def draw_sample(sample: Sample, thickness: int | None = None) -> np.ndarray:
    """A copy of the RGB image with box (yellow), landmarks (cyan; hidden ones grey), axes, angles."""
    img = np.ascontiguousarray(sample.image.copy())
    h, w = img.shape[:2]
    th = thickness or max(1, round(min(h, w) / 160))
    if sample.bbox is not None:
        x0, y0, x1, y1 = (round(v) for v in sample.bbox)
        cv2.rectangle(img, (x0, y0), (x1, y1), (255, 220, 0), th)
        centre, size = ((x0 + x1) / 2, (y0 + y1) / 2), max(x1 - x0, y1 - y0)
    else:
        centre, size = (w / 2, h / 2), min(h, w) * 0.6
    if sample.landmarks is not None:
        vis = sample.landmarks_visible
        for i, (x, y) in enumerate(np.asarray(sample.landmarks)):
            colour = (0, 230, 230) if vis is None or vis[i] else (140, 140, 140)
            cv2.circle(img, (round(x), round(y)), th + 1, colour, -1)
    origin, ends = axis_endpoints(sample.R, centre, 0.5 * size, sample.K, sample.t)
    o = tuple(round(v) for v in origin)
    for end, colour in zip(ends, AXIS_COLOURS):
        cv2.arrowedLine(img, o, tuple(round(v) for v in end), colour, th + 1, tipLength=0.15)
    p, y, r = np.asarray(sample.euler, dtype=np.float64)
    text = f"p{p:+.0f} y{y:+.0f} r{r:+.0f}"
    scale = max(0.35, min(h, w) / 500)
    cv2.putText(img, text, (4, h - 6), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), th + 2, cv2.LINE_AA)
    cv2.putText(img, text, (4, h - 6), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), th, cv2.LINE_AA)
    return img


def fit_tile(image: np.ndarray, tile: int) -> np.ndarray:
    """Letterbox an image into a tile×tile black square, keeping its aspect ratio."""
    h, w = image.shape[:2]
    s = tile / max(h, w)
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    out = np.zeros((tile, tile, 3), dtype=np.uint8)
    y0, x0 = (tile - nh) // 2, (tile - nw) // 2
    out[y0:y0 + nh, x0:x0 + nw] = resized
    return out


def make_grid(images: list[np.ndarray], cols: int | None = None, tile: int = 256) -> np.ndarray:
    """Tiles of the images in rows of ``cols`` (default ≈ sqrt(n))."""
    if not images:
        raise ValueError("make_grid needs at least one image")
    cols = cols or int(np.ceil(np.sqrt(len(images))))
    rows = int(np.ceil(len(images) / cols))
    grid = np.zeros((rows * tile, cols * tile, 3), dtype=np.uint8)
    for i, im in enumerate(images):
        r, c = divmod(i, cols)
        grid[r * tile:(r + 1) * tile, c * tile:(c + 1) * tile] = fit_tile(im, tile)
    return grid


def save_sample_grid(samples: list[Sample], out: str | os.PathLike, tile: int = 256) -> Path:
    """Draw the samples, tile them and write a PNG; returns its path."""
    out = Path(out)
    write_image_rgb(out, make_grid([draw_sample(s) for s in samples], tile=tile))
    return out
