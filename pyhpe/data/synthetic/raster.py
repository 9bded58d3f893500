"""A small quad rasteriser: painter's-order ID buffer drawn by OpenCV, attributes by plane equations.

1. Quads (v0, v1, v2, v3) are back-face culled by their signed image area (unless double-sided),
   sorted far to near, and filled with their index into an int32 ID buffer by
   ``cv2.fillConvexPoly`` (sub-pixel vertices). Later (nearer) quads overwrite earlier ones.
2. Each quad is split along v0-v2 into two triangles; for each triangle an affine map
   (x, y, 1) -> attributes is solved once. A covered pixel picks its triangle by the side of the
   diagonal and evaluates the map: texture coordinates, shading, 1/z (exact for a plane in 3D).
Pixel centres are at integer coordinates (OpenCV's convention).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from itertools import repeat

import cv2
import numpy as np

SHIFT = 4
_ONE = float(1 << SHIFT)


def signed_areas(xy: np.ndarray, quads: np.ndarray) -> np.ndarray:
    """Signed area of each projected quad; > 0 when it faces the camera (x right, y down).

    For a quadrilateral the shoelace sum equals half the cross product of its diagonals.
    """
    d1 = xy.take(quads[:, 2], axis=0) - xy.take(quads[:, 0], axis=0)  # take(): far cheaper than xy[...] on rows
    d2 = xy.take(quads[:, 3], axis=0) - xy.take(quads[:, 1], axis=0)
    return 0.5 * (d1[:, 0] * d2[:, 1] - d1[:, 1] * d2[:, 0])


def draw_ids(xy: np.ndarray, quads: np.ndarray, order: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """ID buffer (H, W) int32: quad index of the last quad drawn at each pixel, -1 where none."""
    buf = np.full(shape, -1, np.int32)
    fixed = np.round(xy.take(quads.take(order, axis=0), axis=0) * _ONE).astype(np.int32)
    # one cv2 call per quad (about 0.6 us each, mostly call overhead); map() keeps the loop in C
    deque(map(cv2.fillConvexPoly, repeat(buf), fixed, order.tolist(), repeat(cv2.LINE_8), repeat(SHIFT)), maxlen=0)
    return buf


@dataclass
class QuadPlanes:
    """Per-triangle affine maps pixel -> attributes, and the diagonal that picks the triangle.

    Stored attribute-major so that per-pixel evaluation is a few 1-D gathers (``take``) and
    multiply-adds. Triangle ``2q`` is (v0, v1, v2) of quad ``q``, ``2q + 1`` is (v0, v2, v3); one
    extra quad at the end (index -1) has all-zero maps, so an ID buffer's -1 (no quad) can be
    evaluated like any other pixel.
    """

    diagonal: np.ndarray  # (3, Q + 1) float32: a*x + b*y + c >= 0 selects triangle (v0, v1, v2)
    coeffs: np.ndarray  # (3, K, 2Q + 2) float32: attribute k = coeffs[0, k] * x + coeffs[1, k] * y + coeffs[2, k]

    @property
    def n_attributes(self) -> int:
        return self.coeffs.shape[1]

    def triangle_of(self, quad: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Triangle index (2q or 2q + 1; -2 or -1 for quad -1) of pixels (x, y) in quads ``quad``."""
        q = np.asarray(quad, np.intp)
        d = self.diagonal
        side = d[0].take(q, mode="wrap") * x
        side += d[1].take(q, mode="wrap") * y
        side += d[2].take(q, mode="wrap")
        tri = 2 * q
        tri += side < 0
        return tri

    def _rows(self, quad, x, y, which) -> list[np.ndarray]:
        tri = self.triangle_of(quad, x, y)
        c = self.coeffs
        rows = []
        for k in which:
            out = c[0, k].take(tri, mode="wrap") * x
            out += c[1, k].take(tri, mode="wrap") * y
            out += c[2, k].take(tri, mode="wrap")
            rows.append(out)
        return rows

    def evaluate(self, quad: np.ndarray, x: np.ndarray, y: np.ndarray, first: int | None = None) -> np.ndarray:
        """(N, K) float32 attributes at pixels (x, y) covered by quads ``quad``.

        ``first``: compute only the first ``first`` attributes (columns 0 .. first - 1).
        """
        x = np.asarray(x, np.float32)
        y = np.asarray(y, np.float32)
        return np.stack(self._rows(quad, x, y, range(first or self.n_attributes)), axis=-1)

    def evaluate_one(self, quad: np.ndarray, x: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
        """Attribute ``k`` alone at pixels (x, y) covered by quads ``quad`` (quad -1 gives 0)."""
        return self._rows(quad, np.asarray(x, np.float32), np.asarray(y, np.float32), (k,))[0]

    def evaluate_region(self, ids: np.ndarray, x0: int, y0: int, first: int | None = None) -> list[np.ndarray]:
        """Attributes over a block of an ID buffer: one (h, w) float32 array per attribute.

        ``ids``: (h, w) quad indices (-1 = none, evaluates to 0) of the pixels whose top-left one
        is (x0, y0).
        """
        h, w = ids.shape
        x = np.arange(x0, x0 + w, dtype=np.float32)[None, :]
        y = np.arange(y0, y0 + h, dtype=np.float32)[:, None]
        return self._rows(ids, x, y, range(first or self.n_attributes))


def quad_planes(xy: np.ndarray, attrs: np.ndarray, quads: np.ndarray) -> QuadPlanes:
    """Solve the affine attribute maps of every quad's two triangles (closed form, vectorised).

    A degenerate triangle (zero image area, e.g. at a pole) borrows its sibling's map and the
    diagonal test then always picks the sibling.
    """
    n_q = len(quads)
    x, y = np.ascontiguousarray(xy[:, 0]), np.ascontiguousarray(xy[:, 1])
    a_t = np.ascontiguousarray(np.asarray(attrs, np.float64).T)  # (K, V); take() beats fancy indexing here
    i0, i1, i2, i3 = np.asarray(quads).T
    t0 = np.repeat(i0, 2)  # triangles interleaved: 2q = (v0, v1, v2), 2q + 1 = (v0, v2, v3)
    t1 = np.stack([i1, i2], 1).ravel()
    t2 = np.stack([i2, i3], 1).ravel()
    px, py = x.take(t0), y.take(t0)
    e1x, e1y, e2x, e2y = x.take(t1) - px, y.take(t1) - py, x.take(t2) - px, y.take(t2) - py
    det = e1x * e2y - e1y * e2x
    ok = np.abs(det) > 1e-6
    inv = np.where(ok, 1.0, 0.0) / np.where(ok, det, 1.0)
    a0 = a_t.take(t0, axis=1)
    d1, d2 = a_t.take(t1, axis=1) - a0, a_t.take(t2, axis=1) - a0
    cx = (e2y * d1 - e1y * d2) * inv
    cy = (e1x * d2 - e2x * d1) * inv
    coeffs = np.zeros((3, len(a_t), 2 * n_q + 2), np.float32)
    coeffs[0, :, :-2], coeffs[1, :, :-2] = cx, cy
    coeffs[2, :, :-2] = a0 - px * cx - py * cy
    bad0, bad1 = ~ok[0::2], ~ok[1::2]
    tri0, tri1 = coeffs[:, :, 0:-2:2], coeffs[:, :, 1:-2:2]  # views
    tri0[:, :, bad0] = tri1[:, :, bad0]
    tri1[:, :, bad1] = tri0[:, :, bad1]
    # Diagonal v0-v2 as a line a*x + b*y + c, positive on v1's side.
    dx, dy = e1x[1::2], e1y[1::2]  # v2 - v0
    x0, y0 = px[0::2], py[0::2]
    diag = np.zeros((3, n_q + 1))
    diag[0, :-1], diag[1, :-1] = -dy, dx
    diag[2, :-1] = dy * x0 - dx * y0
    s1 = diag[0, :-1] * x.take(i1) + diag[1, :-1] * y.take(i1) + diag[2, :-1]
    diag[:, :-1] *= np.where(s1 < 0, -1.0, 1.0)
    diag[:, :-1][:, bad0] = [[0.0], [0.0], [-1.0]]
    diag[:, :-1][:, bad1 & ~bad0] = [[0.0], [0.0], [1.0]]
    diag[2, -1] = 1.0  # quad -1 (no quad): always its first (all-zero) triangle
    return QuadPlanes(diag.astype(np.float32), coeffs)
