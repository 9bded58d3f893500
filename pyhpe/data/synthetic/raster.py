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

from dataclasses import dataclass, field

import cv2
import numpy as np

SHIFT = 4
_ONE = float(1 << SHIFT)


def signed_areas(xy: np.ndarray, quads: np.ndarray) -> np.ndarray:
    """Signed area of each projected quad; > 0 when it faces the camera (x right, y down).

    For a quadrilateral the shoelace sum equals half the cross product of its diagonals.
    """
    d1 = xy[quads[:, 2]] - xy[quads[:, 0]]
    d2 = xy[quads[:, 3]] - xy[quads[:, 1]]
    return 0.5 * (d1[:, 0] * d2[:, 1] - d1[:, 1] * d2[:, 0])


def draw_ids(xy: np.ndarray, quads: np.ndarray, order: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """ID buffer (H, W) int32: quad index of the last quad drawn at each pixel, -1 where none."""
    buf = np.full(shape, -1, np.int32)
    fixed = np.round(xy[quads[order]] * _ONE).astype(np.int32)
    fill = cv2.fillConvexPoly
    for q, pts in zip(order.tolist(), fixed):
        fill(buf, pts, q, cv2.LINE_8, SHIFT)
    return buf


@dataclass
class QuadPlanes:
    """Per-triangle affine maps pixel -> attributes, and the diagonal that picks the triangle."""

    diagonal: np.ndarray  # (Q, 3) float32: a*x + b*y + c >= 0 selects triangle (v0, v1, v2)
    planes: np.ndarray  # (2Q, 3K) float32: attributes = cx * x + cy * y + c0, blocks [cx | cy | c0]
    _leading: dict = field(default_factory=dict, repr=False)  # cached plane blocks of the first n attributes

    @property
    def n_attributes(self) -> int:
        return self.planes.shape[1] // 3

    def triangle_of(self, quad: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Triangle index (2q or 2q + 1) of pixels (x, y) inside quads ``quad``."""
        d = self.diagonal[quad]
        side = d[:, 0] * x + d[:, 1] * y + d[:, 2]
        return 2 * quad + (side < 0)

    def evaluate(self, quad: np.ndarray, x: np.ndarray, y: np.ndarray, first: int | None = None) -> np.ndarray:
        """(N, K) float32 attributes at pixels (x, y) covered by quads ``quad``.

        ``first``: compute only the first ``first`` attributes (columns 0 .. first - 1).
        """
        x = np.asarray(x, np.float32)
        y = np.asarray(y, np.float32)
        k = self.n_attributes
        n = k if first is None else first
        tri = self.triangle_of(quad, x, y)
        if n < k:
            if n not in self._leading:
                self._leading[n] = np.ascontiguousarray(
                    np.concatenate([self.planes[:, :n], self.planes[:, k: k + n], self.planes[:, 2 * k: 2 * k + n]], 1))
            p = self._leading[n][tri]
        else:
            p = self.planes[tri]
        out = p[:, :n] * x[:, None]
        out += p[:, n: 2 * n] * y[:, None]
        out += p[:, 2 * n: 3 * n]
        return out


def quad_planes(xy: np.ndarray, attrs: np.ndarray, quads: np.ndarray) -> QuadPlanes:
    """Solve the affine attribute maps of every quad's two triangles (closed form, vectorised).

    A degenerate triangle (zero image area, e.g. at a pole) borrows its sibling's map and the
    diagonal test then always picks the sibling.
    """
    v = xy[quads]  # (Q, 4, 2)
    a = attrs[quads]  # (Q, 4, K)
    p0, a0 = v[:, None, 0], a[:, None, 0]  # (Q, 1, .)
    e1, e2 = v[:, 1:3] - p0, v[:, 2:4] - p0  # (Q, 2, 2): triangle 0 = (v0, v1, v2), 1 = (v0, v2, v3)
    d1, d2 = a[:, 1:3] - a0, a[:, 2:4] - a0  # (Q, 2, K)
    det = e1[..., 0] * e2[..., 1] - e1[..., 1] * e2[..., 0]  # (Q, 2)
    ok = np.abs(det) > 1e-6
    inv = (np.where(ok, 1.0, 0.0) / np.where(ok, det, 1.0))[..., None]
    cx = (e2[..., 1:2] * d1 - e1[..., 1:2] * d2) * inv
    cy = (e1[..., 0:1] * d2 - e2[..., 0:1] * d1) * inv
    c0 = a0 - p0[..., 0:1] * cx - p0[..., 1:2] * cy
    planes = np.concatenate([cx, cy, c0], axis=2)  # (Q, 2, 3K)
    bad0, bad1 = ~ok[:, 0], ~ok[:, 1]
    planes[bad0, 0] = planes[bad0, 1]
    planes[bad1, 1] = planes[bad1, 0]
    d = v[:, 2] - v[:, 0]
    diag = np.stack([-d[:, 1], d[:, 0], d[:, 1] * v[:, 0, 0] - d[:, 0] * v[:, 0, 1]], axis=1)
    s1 = (diag[:, :2] * v[:, 1]).sum(1) + diag[:, 2]
    diag *= np.where(s1 < 0, -1.0, 1.0)[:, None]
    diag[bad0] = (0.0, 0.0, -1.0)
    diag[bad1 & ~bad0] = (0.0, 0.0, 1.0)
    return QuadPlanes(diag.astype(np.float32), planes.reshape(2 * len(quads), -1).astype(np.float32))
