"""Everything about one identity that does not depend on the pose: mesh, normals, landmarks, texture.

Building these is about a third of an image's cost, so consecutive samples that share an identity
(``SynthConfig.identity_repeat`` > 1) reuse them through a small cache.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from pyhpe.data.synthetic import mesh
from pyhpe.data.synthetic.glasses import glasses_geometry
from pyhpe.data.synthetic.identity import Identity, sample_identity
from pyhpe.data.synthetic.landmarks import landmark_params
from pyhpe.data.synthetic.texture import paint_atlas

IDENTITY_STREAM = 1  # third word of the identity's seed sequence, keeps it apart from scene draws


@dataclass(frozen=True)
class IdentityAssets:
    """Pose-independent data of one identity (head frame, metres; arrays are read-only)."""

    identity: Identity
    vertices: np.ndarray  # (Vr, 3) render vertices
    normals: np.ndarray  # (Vr, 3)
    landmarks_3d: np.ndarray  # (68, 3) points of the rendered mesh
    landmark_normals: np.ndarray  # (68, 3)
    landmark_vertex_ids: np.ndarray  # (68, 3) dense vertex ids of each landmark's triangle
    landmark_vertex_weights: np.ndarray  # (68, 3) barycentric weights: landmark = sum w * vertices[ids]
    atlas: np.ndarray  # unlit texture atlas, uint8 RGB
    glasses: tuple[np.ndarray, np.ndarray, np.ndarray] | None  # (vertices, normals, quads)


def build_assets(rng: np.random.Generator, n_lat: int, n_lon: int, glasses_prob: float) -> IdentityAssets:
    """Draw an identity from ``rng`` and build its mesh, landmarks and texture."""
    idt = sample_identity(rng, glasses_prob)
    topo = mesh.topology(n_lat, n_lon)
    verts = mesh.render_vertices(idt, topo)
    normals = mesh.vertex_normals(verts, topo)
    lm_tp = landmark_params(idt)
    lm_ids, lm_w = mesh.grid_weights(topo, lm_tp[:, 0], lm_tp[:, 1])
    both = np.einsum("nk,nkc->nc", lm_w, np.concatenate([verts, normals], axis=1)[lm_ids])
    lm3d, lm_n = np.ascontiguousarray(both[:, :3]), np.ascontiguousarray(both[:, 3:])
    lm_dense = topo.render_to_dense[lm_ids]
    atlas = paint_atlas(idt, lm_tp, rng)
    glasses = glasses_geometry(idt) if idt.glasses else None
    for a in (verts, normals, lm3d, lm_n, lm_dense, lm_w, atlas, *(glasses or ())):
        a.setflags(write=False)
    return IdentityAssets(idt, verts, normals, lm3d, lm_n, lm_dense, lm_w, atlas, glasses)


@lru_cache(maxsize=16)
def cached_assets(seed: int, group: int, n_lat: int, n_lon: int, glasses_prob: float) -> IdentityAssets:
    """The identity of sample group ``group`` of stream ``seed`` (deterministic; cached)."""
    rng = np.random.default_rng([int(seed), int(group), IDENTITY_STREAM])
    return build_assets(rng, n_lat, n_lon, glasses_prob)
