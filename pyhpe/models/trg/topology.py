"""The face topology a TRGv2 model is built for: template mesh, triangles and index sets.

A :class:`FaceTopology` holds everything about a mesh that does not change from image to image:

- ``template`` (V, 3): V_0, the initial dense vertices (head frame, metres, OpenCV axes; the
  head centre is the origin);
- ``R0`` (3, 3): the initial rotation (head -> camera);
- ``faces`` (F, 3): triangles over the V vertices (for drawing and the mesh losses);
- ``subsample`` (S,): the vertices fed to the regressor and projected for sampling (TRGv2's
  305 of 1220 ARKit vertices; ours are chosen by farthest-point sampling, see below);
- ``landmark_ids`` (68,): the vertex standing for each iBUG-68 landmark;
- ``flip`` (V,): the vertex each vertex becomes under the mirror x -> −x (horizontal flips);
- ``alignment_ids`` (7,): the landmarks used by reference-system alignment (trg.md §2.1: outer
  and inner eye corners, nose tip, mouth corners), as indices into the 68.

The same model code runs on our synthetic head (:func:`synthetic_topology`) and on ARKit's
1220-vertex topology when a user brings its files (:meth:`FaceTopology.from_arrays`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = ["ALIGNMENT_LANDMARKS", "FaceTopology", "farthest_point_subsample", "synthetic_topology"]

# iBUG-68 indices of the alignment landmarks: eye corners 45, 42, 36, 39, nose tip 30, mouth 54, 48.
ALIGNMENT_LANDMARKS = (45, 42, 36, 39, 30, 54, 48)
NOSE_TIP = 30


@dataclass(frozen=True, eq=False)
class FaceTopology:
    """Template mesh and index sets of one face topology (see the module docstring)."""

    name: str
    template: np.ndarray
    R0: np.ndarray
    faces: np.ndarray
    subsample: np.ndarray
    landmark_ids: np.ndarray
    flip: np.ndarray
    alignment_ids: np.ndarray

    def __post_init__(self) -> None:
        V = len(self.template)
        if self.template.ndim != 2 or self.template.shape[1] != 3 or V < 4:
            raise ValueError(f"topology {self.name!r}: template must be (V, 3) with V >= 4, "
                             f"got {self.template.shape}")
        if not np.isfinite(self.template).all():
            raise ValueError(f"topology {self.name!r}: template has non-finite values")
        R0 = np.asarray(self.R0, dtype=np.float64)
        if R0.shape != (3, 3) or not np.allclose(R0 @ R0.T, np.eye(3), atol=1e-5) \
                or np.linalg.det(R0) < 0:
            raise ValueError(f"topology {self.name!r}: R0 must be a 3x3 rotation")
        for field_name, shape in (("faces", (None, 3)), ("subsample", (None,)),
                                  ("landmark_ids", (68,)), ("flip", (V,))):
            ids = getattr(self, field_name)
            if ids.ndim != len(shape) or any(s is not None and s != d for s, d in zip(shape, ids.shape)):
                raise ValueError(f"topology {self.name!r}: {field_name} has shape {ids.shape}, "
                                 f"expected {tuple('N' if s is None else s for s in shape)}")
            if ids.size and (ids.min() < 0 or ids.max() >= V):
                raise ValueError(f"topology {self.name!r}: {field_name} indexes vertex "
                                 f"{int(ids.max() if ids.max() >= V else ids.min())}, but the "
                                 f"template has {V} vertices")
        if len(np.unique(self.subsample)) != len(self.subsample) or len(self.subsample) < 3:
            raise ValueError(f"topology {self.name!r}: subsample must hold >= 3 distinct vertices")
        if not np.array_equal(self.flip[self.flip], np.arange(V)):
            raise ValueError(f"topology {self.name!r}: flip must be an involution (flip∘flip = id)")
        if self.alignment_ids.min() < 0 or self.alignment_ids.max() >= 68:
            raise ValueError(f"topology {self.name!r}: alignment_ids index the 68 landmarks")

    @property
    def num_vertices(self) -> int:
        return len(self.template)

    @property
    def num_subsampled(self) -> int:
        return len(self.subsample)

    @classmethod
    def from_arrays(cls, name: str, template, faces, subsample, landmark_ids, flip,
                    R0=None, alignment_ids=ALIGNMENT_LANDMARKS) -> FaceTopology:
        """A topology from plain arrays (e.g. ARKit's template, triangles, 305-vertex subsample,
        ``kpt_ind`` and flip index), validated."""
        as_int = lambda a: np.ascontiguousarray(np.asarray(a, dtype=np.int64))  # noqa: E731
        return cls(
            name=name,
            template=np.ascontiguousarray(np.asarray(template, dtype=np.float32)),
            R0=np.eye(3, dtype=np.float32) if R0 is None else np.asarray(R0, dtype=np.float32),
            faces=as_int(faces), subsample=as_int(subsample), landmark_ids=as_int(landmark_ids),
            flip=as_int(flip), alignment_ids=as_int(alignment_ids),
        )

    def to_dict(self) -> dict:
        """JSON-friendly arrays (for a model file's metadata)."""
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v)
                for k, v in self.__dict__.items()}

    @classmethod
    def from_dict(cls, d: dict) -> FaceTopology:
        return cls.from_arrays(d["name"], d["template"], d["faces"], d["subsample"],
                               d["landmark_ids"], d["flip"], d.get("R0"),
                               d.get("alignment_ids", ALIGNMENT_LANDMARKS))


def farthest_point_subsample(points: np.ndarray, count: int, start: int) -> np.ndarray:
    """``count`` vertex ids spread evenly over ``points`` (greedy farthest-point sampling from
    ``start``): each next vertex is the one farthest from those already chosen. Deterministic
    (ties go to the lowest index); returned sorted."""
    n = len(points)
    if not 1 <= count <= n:
        raise ValueError(f"cannot choose {count} of {n} vertices")
    chosen = [int(start)]
    dist = np.linalg.norm(points - points[start], axis=1)
    for _ in range(count - 1):
        nxt = int(np.argmax(dist))
        chosen.append(nxt)
        dist = np.minimum(dist, np.linalg.norm(points - points[nxt], axis=1))
    return np.sort(np.asarray(chosen, dtype=np.int64))


@lru_cache(maxsize=4)
def synthetic_topology(n_lat: int = 20, n_lon: int = 32, identities: int = 64,
                       subsample_fraction: float = 0.25) -> FaceTopology:
    """The topology of our synthetic head (pyhpe.data.synthetic), derived by code:

    - template = the mean dense mesh of ``identities`` identities drawn from a fixed stream;
    - landmark_ids = the template vertex nearest to each landmark's mean 3D position;
    - subsample = farthest-point sampling of ``subsample_fraction`` of the vertices from the nose
      tip (TRGv2 keeps a quarter of ARKit's vertices: 305 of 1220);
    - flip = the renderer's mirror map of the (theta, phi) grid (column phi <-> −phi, ear <-> ear);
    - R0 = identity (a frontal face), faces = the renderer's dense triangles.
    """
    from pyhpe.data.synthetic import mesh
    from pyhpe.data.synthetic.identity import sample_identity
    from pyhpe.data.synthetic.landmarks import landmark_params

    topo = mesh.topology(n_lat, n_lon)
    rng = np.random.default_rng([20261204, n_lat, n_lon])
    verts, marks = [], []
    for _ in range(identities):
        idt = sample_identity(rng, 0.0)
        render = mesh.render_vertices(idt, topo)
        lm = landmark_params(idt)
        ids, w = mesh.grid_weights(topo, lm[:, 0], lm[:, 1])
        verts.append(render[topo.dense_index])
        marks.append(np.einsum("nk,nkc->nc", w, render[ids]))
    template = np.mean(verts, axis=0)
    landmarks = np.mean(marks, axis=0)
    landmark_ids = np.argmin(np.linalg.norm(template[None] - landmarks[:, None], axis=2), axis=1)
    count = max(3, int(round(subsample_fraction * len(template))))
    subsample = farthest_point_subsample(template, count, int(landmark_ids[NOSE_TIP]))
    return FaceTopology.from_arrays(f"synthetic_{n_lat}x{n_lon}", template, topo.faces, subsample,
                                    landmark_ids, topo.flip_index)
