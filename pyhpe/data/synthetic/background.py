"""Random textured backgrounds and occluders (nothing constant, nothing tied to the pose)."""

from __future__ import annotations

import cv2
import numpy as np

from pyhpe.data.synthetic.noise import GRAIN_STD, add_grain, grain_field


def _rand_colour(rng: np.random.Generator) -> tuple[float, float, float]:
    return tuple(rng.uniform(0, 255, 3).tolist())


def random_background(rng: np.random.Generator, size: int) -> np.ndarray:
    """(size, size, 3) uint8: a smooth colour field, random shapes, stripes and grain."""
    k = int(rng.integers(2, 6))
    img = cv2.resize(rng.integers(0, 256, (k, k, 3), dtype=np.uint8), (size, size), interpolation=cv2.INTER_LINEAR)
    for _ in range(int(rng.integers(2, 8))):
        kind = rng.integers(0, 4)
        c = _rand_colour(rng)
        x, y = (int(v) for v in rng.integers(-size // 4, size + size // 4, 2))
        r = int(rng.integers(size // 16, size // 2))
        if kind == 0:
            cv2.rectangle(img, (x, y), (x + r, y + int(rng.integers(size // 16, size))), c, -1)
        elif kind == 1:
            cv2.circle(img, (x, y), r, c, -1 if rng.random() < 0.7 else int(rng.integers(2, 8)), cv2.LINE_AA)
        elif kind == 2:
            x2, y2 = (int(v) for v in rng.integers(0, size, 2))
            cv2.line(img, (x, y), (x2, y2), c, int(rng.integers(1, 10)), cv2.LINE_AA)
        else:
            pts = rng.integers(-size // 4, size + size // 4, (int(rng.integers(3, 6)), 2)).astype(np.int32)
            cv2.fillPoly(img, [pts], c, cv2.LINE_AA)
    if rng.random() < 0.25:  # stripes / tiles
        step = int(rng.integers(6, 30))
        c = _rand_colour(rng)
        vertical = rng.random() < 0.5
        p = np.arange(0, size, step, dtype=np.int32)
        ends = np.stack([np.stack([p, np.zeros_like(p)], 1), np.stack([p, np.full_like(p, size)], 1)], 1)
        lines = ends if vertical else ends[:, :, ::-1]  # (n, 2 ends, xy)
        cv2.polylines(img, list(np.ascontiguousarray(lines)), False, c, max(1, step // 3))  # = one cv2.line each
    img = add_grain(rng, img, float(rng.uniform(3, 30)), int(rng.choice([1, 2, 4, 8])))
    if rng.random() < 0.3:  # out-of-focus background: down- and up-sampling is a cheap blur
        f = int(rng.integers(2, 6))
        small = cv2.resize(img, (size // f, size // f), interpolation=cv2.INTER_AREA)
        img = cv2.resize(small, (size, size), interpolation=cv2.INTER_LINEAR)
    return img


def constant_image(h: int, w: int, colour: np.ndarray) -> np.ndarray:
    """(h, w, 3) uint8 filled with ``colour`` (one row tiled: numpy's broadcast of a 3-vector
    over an image is ~30x slower)."""
    img = np.empty((h, w, 3), np.uint8)
    img.reshape(h, w * 3)[:] = np.tile(np.asarray(colour, np.uint8), w)
    return img


def draw_occluders(rng: np.random.Generator, image: np.ndarray, box: np.ndarray, count: int) -> np.ndarray:
    """Draw ``count`` textured shapes overlapping ``box`` (x0, y0, x1, y1) in place; returns their mask.

    Centres fall in the box grown by 20 % on each side; radii are 10-30 % of the box. Each shape's
    fill and grain are computed on its own bounding box only.
    """
    h, w = image.shape[:2]
    mask = np.zeros((h, w), bool)
    bw, bh = max(box[2] - box[0], 8.0), max(box[3] - box[1], 8.0)
    for _ in range(count):
        cx = box[0] + rng.uniform(-0.2, 1.2) * bw
        cy = box[1] + rng.uniform(-0.2, 1.2) * bh
        rx, ry = rng.uniform(0.1, 0.3) * bw, rng.uniform(0.1, 0.3) * bh
        layer = np.zeros((h, w), np.uint8)
        if rng.random() < 0.5:
            centre, axes = (int(cx), int(cy)), (int(rx), int(ry))
            cv2.ellipse(layer, centre, axes, float(rng.uniform(0, 180)), 0, 360, 255, -1)
            reach = max(axes) + 2
            lo, hi = (centre[0] - reach, centre[1] - reach), (centre[0] + reach + 1, centre[1] + reach + 1)
        else:
            n = int(rng.integers(3, 7))
            ang = np.sort(rng.uniform(0, 2 * np.pi, n))
            pts = np.stack([cx + rx * np.cos(ang), cy + ry * np.sin(ang)], 1).astype(np.int32)
            cv2.fillPoly(layer, [pts], 255)
            lo, hi = pts.min(0) - 1, pts.max(0) + 2
        colour = rng.integers(0, 256, 3, dtype=np.uint8)
        sigma, scale = float(rng.uniform(5, 40)), int(rng.choice([1, 2, 4]))
        grain = grain_field(rng, h, w, scale)
        x0, y0 = max(int(lo[0]), 0), max(int(lo[1]), 0)
        x1, y1 = min(int(hi[0]), w), min(int(hi[1]), h)
        if x1 <= x0 or y1 <= y0:
            continue
        a = sigma / GRAIN_STD
        fill = cv2.addWeighted(constant_image(y1 - y0, x1 - x0, colour), 1.0, grain[y0:y1, x0:x1], a, -128.0 * a)
        shape = layer[y0:y1, x0:x1]
        cv2.copyTo(fill, shape, image[y0:y1, x0:x1])  # in place
        mask[y0:y1, x0:x1] |= shape > 0
    return mask
