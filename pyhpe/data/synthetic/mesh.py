"""The parametric head mesh: a (theta, phi) grid deformed by an identity, plus two ears.

Head frame (metres): origin at the centre of the skull ellipsoid; x toward the head's left ear
(image right for a frontal face), y down (chin), z from the face into the head (away from the camera
for a frontal face). R = I is therefore a frontal, upright face looking into the camera.

Parameter sphere: theta in [0, pi] is the polar angle from the crown (pi/2 = eye level), phi in
[-pi, pi] the longitude, phi = 0 at the front and phi > 0 toward +x. Grid rows and columns are spaced
denser on the face. The same parameters are the texture coordinates (see :mod:`.texture`), so a
feature painted at (theta, phi) is rendered exactly where :func:`surface_points` puts it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from pyhpe.data.synthetic.identity import Identity
from pyhpe.geometry.rigid import mirror_points

ATLAS_W, ATLAS_H_HEAD, ATLAS_STRIP = 256, 192, 40  # texture atlas: head region + a strip for ears/glasses
EAR_RINGS, EAR_SEGMENTS = 3, 10
EAR_CENTRE_UV = {1.0: (20.0, ATLAS_H_HEAD + 20.0), -1.0: (60.0, ATLAS_H_HEAD + 20.0)}  # +x ear, -x ear
EAR_RADIUS_UV = 18.0


def _warp_table(lo: float, hi: float, density, n: int = 2049) -> tuple[np.ndarray, np.ndarray]:
    """(angle, s) table of a monotone map s in [0, 1] -> angle with grid density ``density(angle)``."""
    a = np.linspace(lo, hi, n)
    w = density(a)
    s = np.concatenate([[0.0], np.cumsum(0.5 * (w[1:] + w[:-1]) * np.diff(a))])
    return a, s / s[-1]


_PHI_TABLE = _warp_table(-np.pi, np.pi, lambda p: 0.3 + np.exp(-((p / 0.9) ** 2)) + 0.25 * np.exp(-(((np.abs(p) - 1.57) / 0.3) ** 2)))
_THETA_TABLE = _warp_table(0.0, np.pi, lambda t: 0.35 + np.exp(-(((t - 0.62 * np.pi) / 0.9) ** 2)))


def phi_of_s(s: np.ndarray) -> np.ndarray:
    """Longitude of grid/texture coordinate s in [0, 1] (denser on the face)."""
    return np.interp(s, _PHI_TABLE[1], _PHI_TABLE[0])


def theta_of_s(s: np.ndarray) -> np.ndarray:
    """Polar angle of grid/texture coordinate s in [0, 1]."""
    return np.interp(s, _THETA_TABLE[1], _THETA_TABLE[0])


def s_of_phi(phi: np.ndarray) -> np.ndarray:
    """Inverse of :func:`phi_of_s`."""
    return np.interp(phi, _PHI_TABLE[0], _PHI_TABLE[1])


def s_of_theta(theta: np.ndarray) -> np.ndarray:
    """Inverse of :func:`theta_of_s`."""
    return np.interp(theta, _THETA_TABLE[0], _THETA_TABLE[1])


def atlas_xy(theta: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Texture-atlas pixel coordinates (x, y) of parameter points (..., 2)."""
    x = s_of_phi(np.asarray(phi)) * (ATLAS_W - 1)
    y = s_of_theta(np.asarray(theta)) * (ATLAS_H_HEAD - 1)
    return np.stack([x, y], axis=-1)


@dataclass(frozen=True)
class Topology:
    """Index structure shared by every identity with the same grid size."""

    n_lat: int
    n_lon: int
    theta: np.ndarray  # (n_lat + 1,) row angles
    phi: np.ndarray  # (n_lon + 1,) column angles; the last column repeats the first (seam at the back)
    quads: np.ndarray  # (Q, 4) render-vertex indices, counter-clockwise seen from outside (y down image)
    double_sided: np.ndarray  # (Q,) bool: ears, never back-face culled
    uv: np.ndarray  # (Vr, 2) atlas pixel coordinates per render vertex
    dense_index: np.ndarray  # (Vd,) render-vertex index of each dense (unique) vertex
    faces: np.ndarray  # (F, 3) triangles over dense vertices, counter-clockwise seen from outside
    flip_index: np.ndarray  # (Vd,) dense vertex mirrored by x -> -x
    render_to_dense: np.ndarray  # (Vr,) dense index of each render vertex (seam and pole copies merge)

    @property
    def n_grid(self) -> int:
        return (self.n_lat + 1) * (self.n_lon + 1)

    @property
    def n_render(self) -> int:
        return len(self.uv)


@lru_cache(maxsize=8)
def topology(n_lat: int, n_lon: int) -> Topology:
    """The fixed topology for an ``n_lat`` x ``n_lon`` head grid (cached)."""
    s_v = np.linspace(0.0, 1.0, n_lat + 1)
    s_u = np.linspace(0.0, 1.0, n_lon + 1)
    theta, phi = theta_of_s(s_v), phi_of_s(s_u)
    ncol = n_lon + 1
    i, j = np.meshgrid(np.arange(n_lat), np.arange(n_lon), indexing="ij")
    v0 = (i * ncol + j).ravel()
    head_quads = np.stack([v0, v0 + 1, v0 + 1 + ncol, v0 + ncol], axis=1)
    uv_grid = np.stack(np.meshgrid(s_u * (ATLAS_W - 1), s_v * (ATLAS_H_HEAD - 1), indexing="xy"), -1).reshape(-1, 2)

    n_ear = EAR_RINGS * EAR_SEGMENTS
    r = np.repeat(np.linspace(0.0, 1.0, EAR_RINGS), EAR_SEGMENTS)
    a = np.tile(np.linspace(0.0, 2 * np.pi, EAR_SEGMENTS, endpoint=False), EAR_RINGS)
    uv_ears = [np.stack([c[0] + EAR_RADIUS_UV * r * np.cos(a), c[1] + EAR_RADIUS_UV * r * np.sin(a)], -1)
               for c in (EAR_CENTRE_UV[1.0], EAR_CENTRE_UV[-1.0])]
    k, s = np.meshgrid(np.arange(EAR_RINGS - 1), np.arange(EAR_SEGMENTS), indexing="ij")
    e0, e1 = (k * EAR_SEGMENTS + s).ravel(), (k * EAR_SEGMENTS + (s + 1) % EAR_SEGMENTS).ravel()
    ear_quads = np.stack([e0, e1, e1 + EAR_SEGMENTS, e0 + EAR_SEGMENTS], axis=1)
    n_grid = (n_lat + 1) * ncol
    quads = np.concatenate([head_quads, ear_quads + n_grid, ear_quads + n_grid + n_ear])
    double = np.zeros(len(quads), bool)
    double[len(head_quads):] = True
    uv = np.concatenate([uv_grid, *uv_ears]).astype(np.float64)

    # Dense (unique) vertices: crown, interior rows without the seam copy, chin-bottom pole, ears
    # without repeated centres.
    interior = (np.arange(1, n_lat)[:, None] * ncol + np.arange(n_lon)[None, :]).ravel()
    ear_unique = np.concatenate([[0], np.arange(EAR_SEGMENTS, n_ear)])
    dense_index = np.concatenate([[0], interior, [n_lat * ncol], n_grid + ear_unique, n_grid + n_ear + ear_unique])
    render_to_dense = np.full(len(uv), -1, np.int64)
    render_to_dense[dense_index] = np.arange(len(dense_index))
    grid_ids = np.arange(n_grid).reshape(n_lat + 1, ncol)
    grid_dense = np.empty_like(grid_ids)
    grid_dense[0, :] = 0
    grid_dense[-1, :] = render_to_dense[n_lat * ncol]
    grid_dense[1:-1, :n_lon] = render_to_dense[grid_ids[1:-1, :n_lon]]
    grid_dense[1:-1, n_lon] = grid_dense[1:-1, 0]
    for base in (n_grid, n_grid + n_ear):
        centre = render_to_dense[base]
        render_to_dense[base + 1: base + EAR_SEGMENTS] = centre
    render_to_dense[:n_grid] = grid_dense.ravel()
    # Dense triangles wound counter-clockwise seen from outside (normals point out): the head and
    # the -x ear need their quads reversed, the +x ear already has that order.
    n_head = len(head_quads)
    reverse = np.ones(len(quads), bool)
    reverse[n_head: n_head + len(ear_quads)] = False
    first = np.where(reverse[:, None], quads[:, [0, 2, 1]], quads[:, [0, 1, 2]])
    second = np.where(reverse[:, None], quads[:, [0, 3, 2]], quads[:, [0, 2, 3]])
    faces = render_to_dense[np.concatenate([first, second])]
    keep = (faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 0] != faces[:, 2])
    faces = faces[keep]

    # Mirror x -> -x: column phi_j <-> -phi_j (the phi warp is symmetric), left ear <-> right ear.
    col_mirror = (n_lon - np.arange(ncol)) % n_lon
    mirror_render = np.arange(len(uv))
    mirror_render[:n_grid] = (grid_ids[:, col_mirror]).ravel()
    mirror_render[n_grid: n_grid + n_ear] = np.arange(n_grid + n_ear, n_grid + 2 * n_ear)
    mirror_render[n_grid + n_ear:] = np.arange(n_grid, n_grid + n_ear)
    flip_index = render_to_dense[mirror_render[dense_index]]
    arrays = (theta, phi, quads, double, uv, dense_index, faces, flip_index, render_to_dense)
    for a in arrays:
        a.setflags(write=False)  # shared by every sample of this grid size
    return Topology(n_lat, n_lon, *arrays)


def _smoothstep(lo: float, hi: float, x: np.ndarray) -> np.ndarray:
    t = np.minimum(np.maximum((x - lo) / (hi - lo), 0.0), 1.0)  # np.clip, without its wrapper's cost
    return t * t * (3 - 2 * t)


def hairline(identity: Identity, phi: np.ndarray) -> np.ndarray:
    """Polar angle of the hair boundary at longitude ``phi`` (hair where theta is smaller)."""
    back = ((1 - np.cos(phi)) / 2) ** 0.8
    return identity.hair_front + (identity.hair_back - identity.hair_front) * back


def _separable_terms(idt: Identity, theta: np.ndarray, phi: np.ndarray, front: np.ndarray) -> np.ndarray:
    """Depth offsets that are a product f(theta) * g(phi): chin, eye sockets, brow ridge,
    cheekbones, nostril wings, lips. Evaluated as one batch of exponentials per variable."""
    # One row per term (both sides of the face for the paired ones):
    # theta centre, theta width, phi centre, phi width, weight (added to z).
    e, b, n = idt.eye_theta, idt.eye_theta - idt.brow_gap, 0.75 * idt.nose_w
    pairs = [(e, 0.09, idt.eye_phi, 0.17, 0.006), (b, 0.07, idt.eye_phi, 0.25, -0.004),
             (e + 0.17, 0.1, idt.eye_phi + 0.12, 0.15, -0.004),
             (idt.nose_tip_theta + 0.01, 0.05, n, 0.06, -0.3 * idt.nose_len)]
    rows = np.array([(tc, tw, side * pc, pw, w) for side in (-1.0, 1.0) for tc, tw, pc, pw, w in pairs]
                    + [(idt.chin_theta - 0.02, 0.2, 0.0, 1.0, -idt.chin_forward),
                       (idt.mouth_theta, 0.07, 0.0, 1.0, -0.005)])
    t_shape, p_shape = (-1,) + (1,) * theta.ndim, (-1,) + (1,) * phi.ndim
    f_theta = np.exp(-np.square((theta - rows[:, 0].reshape(t_shape)) / rows[:, 1].reshape(t_shape)))
    g_phi = np.empty((len(rows),) + phi.shape)
    g_phi[:-2] = np.exp(-np.square((phi - rows[:-2, 2].reshape(p_shape)) / rows[:-2, 3].reshape(p_shape)))
    g_phi[-2] = front * front  # the chin comes forward only on the face side
    g_phi[-1] = np.exp(-((phi / idt.mouth_w) ** 4))
    f_theta *= rows[:, 4].reshape(t_shape)
    if theta.ndim == 2 and phi.ndim == 2 and theta.shape[1] == 1 and phi.shape[0] == 1:  # a grid: one product
        return f_theta[:, :, 0].T @ g_phi[:, 0, :]
    return np.einsum("b...,b...->...", f_theta, g_phi)


def surface_points(identity: Identity, theta: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Head-frame points (..., 3) of the continuous head surface at parameters (theta, phi).

    ``theta`` and ``phi`` broadcast; a grid given as (n, 1) and (1, m) stays cheap.
    """
    idt = identity
    theta, phi = np.asarray(theta, float), np.asarray(phi, float)
    st, ct, sp, cp = np.sin(theta), np.cos(theta), np.sin(phi), np.cos(phi)
    dx, dy, dz = st * sp, -ct, -st * cp
    front = np.maximum(cp, 0.0)
    low = _smoothstep(0.5 * np.pi, 0.95 * np.pi, theta)
    x = idt.ax * dx * (1 - idt.jaw_taper * low * (0.5 + 0.5 * front))
    y = idt.ay * dy
    z = np.where(cp > 0, idt.az_front, idt.az_back * (1 - 0.35 * low)) * dz
    # Chin and jaw pushed forward, eye sockets back, brow ridge, cheekbones, nostrils, lips forward.
    z = z + _separable_terms(idt, theta, phi, front)

    # Nose: a ridge from the bridge to the tip, then a quick fall to the upper lip.
    span = idt.nose_tip_theta - idt.nose_bridge_theta
    u = np.minimum(np.maximum((theta - idt.nose_bridge_theta) / span, 0.0), 1.0)
    ridge = np.where(
        theta < idt.nose_bridge_theta,
        0.25 * np.exp(-(((theta - idt.nose_bridge_theta) / 0.08) ** 2)),
        np.where(theta <= idt.nose_tip_theta, 0.25 + 0.75 * u**1.6, np.exp(-(((theta - idt.nose_tip_theta) / 0.045) ** 2))),
    )
    width = idt.nose_w * (0.3 + 0.45 * u)
    z = z - idt.nose_len * ridge * np.exp(-np.square(phi / width))

    # Hair volume: push the hair region outward.
    hair = 1.0 - _smoothstep(-0.04, 0.04, theta - hairline(idt, phi))
    h = idt.hair_thick * hair
    x, y, z = np.broadcast_arrays(x + h * dx, y + h * dy, z + h * dz)
    return np.stack([x, y, z], axis=-1)


_EAR_R = np.repeat(np.linspace(0.0, 1.0, EAR_RINGS), EAR_SEGMENTS)  # ring radius (0..1) of each ear vertex
_EAR_ANGLE = np.tile(np.linspace(0.0, 2 * np.pi, EAR_SEGMENTS, endpoint=False), EAR_RINGS)
_EAR_COS, _EAR_SIN = np.cos(_EAR_ANGLE), np.sin(_EAR_ANGLE)


def ear_points(identity: Identity, side: float, attach: np.ndarray | None = None) -> np.ndarray:
    """(EAR_RINGS * EAR_SEGMENTS, 3) vertices of one ear; ``side`` +1 = +x ear, -1 = -x ear.

    ``attach``: the surface point at (ear_theta, side * pi/2), if already computed.
    """
    if attach is None:
        attach = surface_points(identity, identity.ear_theta, side * 0.5 * np.pi)
    r, size = _EAR_R, identity.ear_size
    y = attach[1] + r * size * _EAR_SIN
    z = attach[2] + 0.25 * size + r * 0.55 * size * _EAR_COS
    x = attach[0] - side * 0.004 + side * identity.ear_out * r * (0.7 + 0.3 * _EAR_COS)
    return np.stack([x, y, z], axis=-1)


def render_vertices(identity: Identity, topo: Topology) -> np.ndarray:
    """(Vr, 3) head-frame positions of every render vertex (grid, then the +x ear, then the -x ear)."""
    n_ear = EAR_RINGS * EAR_SEGMENTS
    out = np.empty((topo.n_grid + 2 * n_ear, 3))
    grid = out[: topo.n_grid]
    grid[:] = surface_points(identity, topo.theta[:, None], topo.phi[None, :]).reshape(-1, 3)
    # The head is left-right symmetric: build the +x ear on the rendered grid and mirror it.
    attach = grid_points(grid, topo, np.array([identity.ear_theta]), np.array([0.5 * np.pi]))[0]
    plus = out[topo.n_grid: topo.n_grid + n_ear]
    plus[:] = ear_points(identity, 1.0, attach)
    out[topo.n_grid + n_ear:] = mirror_points(plus)  # exactly ear_points(identity, -1.0, mirrored)
    return out


def vertex_normals(vertices: np.ndarray, topo: Topology) -> np.ndarray:
    """Outward unit normals of render vertices (grid by central differences; ears face sideways)."""
    n_lat, n_lon = topo.n_lat, topo.n_lon
    # Component-major (3, rows, columns without the seam copy): every step below is on contiguous rows.
    core = np.ascontiguousarray(vertices[: topo.n_grid].T.reshape(3, n_lat + 1, n_lon + 1)[:, :, :-1])
    cols = np.arange(n_lon)
    a = core.take((cols + 1) % n_lon, axis=2) - core.take((cols - 1) % n_lon, axis=2)  # along phi
    b = np.empty_like(core)  # along theta
    b[:, 1:-1] = core[:, 2:] - core[:, :-2]
    b[:, 0], b[:, -1] = core[:, 1] - core[:, 0], core[:, -1] - core[:, -2]
    n = np.stack([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]])
    radial = core / np.sqrt(core[0] * core[0] + core[1] * core[1] + core[2] * core[2])
    norm = np.sqrt(n[0] * n[0] + n[1] * n[1] + n[2] * n[2])
    n = np.where(norm > 1e-9, n / np.maximum(norm, 1e-12), radial)
    n *= np.where(n[0] * radial[0] + n[1] * radial[1] + n[2] * radial[2] < 0, -1.0, 1.0)
    n[:, 0], n[:, -1] = radial[:, 0], radial[:, -1]  # the poles point straight out
    out = np.empty_like(vertices)
    grid = out[: topo.n_grid].reshape(n_lat + 1, n_lon + 1, 3)
    grid[:, :-1] = n.transpose(1, 2, 0)
    grid[:, -1] = grid[:, 0]
    ears = vertices[topo.n_grid:]
    ear_n = out[topo.n_grid:]
    ear_n[:, 0], ear_n[:, 1], ear_n[:, 2] = np.sign(ears[:, 0]), 0.0, 0.35
    ear_n /= np.sqrt((ear_n * ear_n).sum(-1, keepdims=True))
    return out


def grid_weights(topo: Topology, theta: np.ndarray, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(render-vertex ids (N, 3), weights (N, 3)) of the rendered grid's points at (theta, phi).

    The point is sum_k weights[:, k] * vertices[ids[:, k]]: barycentric in the triangle of the
    rasteriser's split of each quad (v0, v1, v2, v3) along the diagonal v0-v2.
    """
    fi = s_of_theta(np.asarray(theta, float)) * topo.n_lat
    fj = s_of_phi(np.asarray(phi, float)) * topo.n_lon
    i = np.minimum(np.maximum(np.floor(fi).astype(int), 0), topo.n_lat - 1)
    j = np.minimum(np.maximum(np.floor(fj).astype(int), 0), topo.n_lon - 1)
    b, a = fi - i, fj - j
    ncol = topo.n_lon + 1
    v0, v1, v2, v3 = i * ncol + j, i * ncol + j + 1, (i + 1) * ncol + j + 1, (i + 1) * ncol + j
    upper = a >= b
    ids = np.stack([v0, np.where(upper, v1, v3), v2], axis=1)
    weights = np.stack([np.where(upper, 1 - a, 1 - b), np.abs(a - b), np.where(upper, b, a)], axis=1)
    return ids, weights


def grid_points(vertices: np.ndarray, topo: Topology, theta: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Points (N, C) of the *rendered* (piecewise-flat) head grid at parameters (theta, phi).

    ``vertices`` may carry any per-vertex values (positions, normals...), shape (Vr, C).
    """
    ids, weights = grid_weights(topo, theta, phi)
    return np.einsum("nk,nkc->nc", weights, vertices.take(ids, axis=0))
