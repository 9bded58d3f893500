"""The official TRGv2 data files, read safely, and the ARKit :class:`FaceTopology` built from them.

The released TRGv2 code (github.com/asw91666/TRGv2_PR26_Released; the same files are in
asw91666/TRG-Release) ships its face topology as pickles and ``.npy`` files:

- ``data/init_vtx_cam.pkl``: a dict; ``t_vtx_1220`` (1220, 3) float32, head frame, metres,
  OpenCV axes (V_0); ``R_t`` (4, 4) float32, a row-vector pose ``[Rᵀ 0; tᵀ 1]`` (R_0; its t is
  not used);
- ``data/arkit_subsample.pkl``: a dict; ``1220_to_305`` (a list of 305 ints), ``1220_to_77``,
  ``1220_to_39``, ``305_to_77``, ``77_to_39`` (lists), ``faces_305`` (542, 3), ``faces_77``,
  ``faces_39`` (uint32) and ``adjmat_305`` (305, 305) bool — a dense NumPy array, no SciPy
  sparse matrix;
- ``data/triangles.npy``: (2304, 3) uint16; ``npy/kpt_ind.npy``: (68,) int64, the iBUG-68
  landmark vertices;
- ``data/arkit_avg_face.pkl`` (TRGv2 only): a bare (1220, 3) float32 array, the mean ARKitFace
  training face.

These four pickles are protocol 4 and reference only ``numpy.core.multiarray._reconstruct``,
``numpy.ndarray`` and ``numpy.dtype``. A pickle runs whatever callable it names, so they are read
with :func:`load_untrusted_pickle`, which admits only what NumPy arrays and plain containers need
and refuses everything else before it can run. SciPy classes are not admitted: no shipped file
needs them (the adjacency is a dense array). (The repository's fifth pickle,
``data/arkit_biwi_align_matrix_250507.pkl``, holds torch tensors and is refused.)

The mirror permutation ``flip_index.npy`` is not shipped (the authors distribute it separately).
:func:`read_official_topology` uses it when it lies in ``data_dir``; otherwise it derives the
permutation by code (:func:`mirror_permutation`) from the most symmetric template available: the
mean face ``arkit_avg_face.pkl`` when present (mirror residual ≤ 0.65 mm; one-to-one after an
optimal assignment; 46 midline vertices; every mirrored triangle is a triangle of the mesh or the
other half of its quad), else ``t_vtx_1220`` — one captured face, not symmetric enough (the mirror
map is not one-to-one and its residual reaches 8 mm), which is refused with an explanation.
"""

from __future__ import annotations

import importlib
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from pyhpe.models.trg.topology import ALIGNMENT_LANDMARKS, FaceTopology

__all__ = [
    "OFFICIAL_FILES",
    "UntrustedPickleError",
    "load_untrusted_pickle",
    "mirror_permutation",
    "read_official_topology",
    "rotation_from_row_pose",
]

# where the official repository keeps each file (read_official_topology also accepts them flat)
OFFICIAL_FILES = {
    "init": "data/init_vtx_cam.pkl",
    "subsample": "data/arkit_subsample.pkl",
    "triangles": "data/triangles.npy",
    "landmarks": "npy/kpt_ind.npy",
    "mean_face": "data/arkit_avg_face.pkl",  # optional (TRGv2 only): the mirror's source
}
# flip_index.npy: the official loader reads dataset/ARKitFace/flip_index.npy
FLIP_LOCATIONS = ("flip_index.npy", "data/flip_index.npy", "npy/flip_index.npy",
                  "dataset/ARKitFace/flip_index.npy")
SUBSAMPLE_KEY = "1220_to_305"
MAX_ASSIGNMENT_VERTICES = 6000  # the optimal-assignment fallback builds a dense V×V cost matrix


class UntrustedPickleError(ValueError):
    """A pickle named a global that :func:`load_untrusted_pickle` does not admit."""


# ---- the restricted unpickler --------------------------------------------------------------------

def _numpy_core(submodule: str):
    """numpy._core.<sub> on NumPy 2, numpy.core.<sub> on NumPy 1 (both spellings occur in files)."""
    major = int(np.__version__.split(".")[0])
    return importlib.import_module(f"numpy.{'_core' if major >= 2 else 'core'}.{submodule}")


_LATIN1 = {"latin1", "latin-1", "latin_1", "iso-8859-1", "iso8859-1", "l1"}


def _codecs_encode(obj, encoding="utf-8", errors="strict"):
    """``_codecs.encode`` as protocol-2 pickles of bytes use it (``encode(text, 'latin1')``),
    restricted to that one encoding (other codecs are not needed to rebuild bytes)."""
    if not isinstance(obj, str) or str(encoding).lower() not in _LATIN1:
        raise UntrustedPickleError(f"refusing _codecs.encode with encoding {encoding!r}: only "
                                   "latin1-encoded bytes are admitted")
    return obj.encode("latin1", errors)


_BUILTINS = ("list", "dict", "tuple", "set", "frozenset", "int", "float", "complex", "str",
             "bytes", "bytearray", "bool", "slice", "range")


def _allowed_globals() -> dict[tuple[str, str], Any]:
    """(module, name) -> resolver of each admitted global (resolved only when a file names it)."""
    allowed: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): lambda: np.ndarray,
        ("numpy", "dtype"): lambda: np.dtype,
        ("collections", "OrderedDict"): lambda: __import__("collections").OrderedDict,
        ("_codecs", "encode"): lambda: _codecs_encode,
        # trimesh's ndarray subclass (the official BIWI preprocessing pickles mesh arrays as it):
        # rebuilt as a plain ndarray, nothing of trimesh is imported or run
        ("trimesh.caching", "TrackedArray"): lambda: np.ndarray,
    }
    for core in ("numpy.core", "numpy._core"):
        allowed[(f"{core}.multiarray", "_reconstruct")] = \
            lambda: _numpy_core("multiarray")._reconstruct
        allowed[(f"{core}.multiarray", "scalar")] = lambda: _numpy_core("multiarray").scalar
        allowed[(f"{core}.numeric", "_frombuffer")] = lambda: _numpy_core("numeric")._frombuffer
    for name in _BUILTINS:
        allowed[("builtins", name)] = (lambda n=name: getattr(__import__("builtins"), n))
    return allowed


_ALLOWED = _allowed_globals()
_MODULE_ALIASES = {"__builtin__": "builtins"}  # Python 2 pickles


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, source: str, encoding: str) -> None:
        super().__init__(file, encoding=encoding)
        self._source = source

    def find_class(self, module: str, name: str):
        module = _MODULE_ALIASES.get(module, module)
        resolve = _ALLOWED.get((module, name))
        if resolve is None:
            raise UntrustedPickleError(
                f"refusing to load {module}.{name} from {self._source}: pickle files are untrusted "
                "input (only NumPy arrays, NumPy scalars and plain containers are admitted)")
        return resolve()

    def persistent_load(self, pid):
        raise UntrustedPickleError(f"refusing a persistent id in {self._source}: pickle files are "
                                   "untrusted input")


def load_untrusted_pickle(path, encoding: str = "latin1") -> object:
    """Unpickle ``path`` admitting only NumPy arrays / dtypes / scalars and plain containers.

    Any other global (``os.system``, ``builtins.eval``, a custom class, ``collections.Counter``,
    SciPy or torch classes...) raises :class:`UntrustedPickleError` (a ``ValueError``) naming the
    file and the global, before anything it names can run. ``encoding`` decodes Python 2 ``str``
    objects: "latin1" (the default, as ``np.load`` uses) rebuilds the NumPy arrays of Python 2-era
    pickles byte for byte and reads Python 3 pickles unchanged. Other unreadable content raises
    ``ValueError`` naming the file; a missing file ``FileNotFoundError``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found")
    with path.open("rb") as f:
        try:
            return _RestrictedUnpickler(f, str(path), encoding).load()
        except UntrustedPickleError:
            raise
        except UnicodeDecodeError as e:
            raise ValueError(f"could not read {path}: {e} (a Python 2 pickle? read it with "
                             "encoding='latin1')") from e
        except Exception as e:  # truncated or malformed data, bad array state...
            raise ValueError(f"could not read {path} as a pickle of NumPy arrays: "
                             f"{type(e).__name__}: {e}") from e


# ---- pose, mirror --------------------------------------------------------------------------------

def rotation_from_row_pose(M, source: str = "R_t") -> tuple[np.ndarray, np.ndarray]:
    """A row-vector 4×4 pose ``[Rᵀ 0; tᵀ 1]`` (points multiply on the left: [v, 1]·M, the
    official files' form) -> (R (3, 3), t (3,)) with x_cam = R v + t.

    R is the transposed upper-left block, re-orthonormalised (SVD) after a check that it is a
    rotation to 1e-4 (the files store float32). A column-vector pose (translation in the last
    column) is refused rather than silently transposed twice.
    """
    M = np.asarray(M, dtype=np.float64)
    if M.shape != (4, 4) or not np.isfinite(M).all():
        raise ValueError(f"{source}: expected a finite (4, 4) row-vector pose, got shape {M.shape}")
    if not np.allclose(M[:, 3], [0, 0, 0, 1], atol=1e-6):
        hint = (" (it looks like a column-vector pose [R t; 0 1]: the official files store "
                "[Rᵀ 0; tᵀ 1])" if np.allclose(M[3], [0, 0, 0, 1], atol=1e-6) else "")
        raise ValueError(f"{source}: the last column of a row-vector pose must be (0, 0, 0, 1), "
                         f"got {M[:, 3].round(6).tolist()}{hint}")
    R = M[:3, :3].T
    if not np.allclose(R @ R.T, np.eye(3), atol=1e-4) or np.linalg.det(R) <= 0:
        raise ValueError(f"{source}: the 3×3 block is not a rotation (det {np.linalg.det(R):.6f})")
    U, _, Vt = np.linalg.svd(R)
    return U @ Vt, M[3, :3].copy()


def _quad_halves(faces: np.ndarray) -> set[frozenset]:
    """Every vertex triple inside a quad formed by two triangles that share an edge."""
    by_edge: dict[frozenset, list[frozenset]] = {}
    for tri in faces.tolist():
        t = frozenset(tri)
        for a, b in ((tri[0], tri[1]), (tri[1], tri[2]), (tri[0], tri[2])):
            by_edge.setdefault(frozenset((a, b)), []).append(t)
    halves: set[frozenset] = set()
    for tris in by_edge.values():
        for i in range(len(tris)):
            for j in range(i + 1, len(tris)):
                quad = tris[i] | tris[j]
                halves.update(quad - {v} for v in quad)
    return halves


def mirror_permutation(template, faces=None, tolerance: float = 0.01,
                       source: str = "the template") -> np.ndarray:
    """The vertex each vertex becomes under the mirror x -> −x, derived from a symmetric template.

    The nearest vertex to each mirrored vertex; where that is not one-to-one (a template
    symmetric only to within noise), the one-to-one map of least total distance (an optimal
    assignment). Accepted only if it is an involution (flip∘flip = id) whose largest residual
    |mirror(v_i) − v_flip(i)| is at most ``tolerance`` × the template's largest extent, and, when
    ``faces`` are given, if every mirrored triangle is a triangle of the mesh or the other half of
    one of its quads (the ARKit mesh splits mirrored quads along the same diagonal). Otherwise
    ``ValueError`` says which test failed.
    """
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial import cKDTree
    from scipy.spatial.distance import cdist

    T = np.asarray(template, dtype=np.float64)
    if T.ndim != 2 or T.shape[1] != 3 or len(T) < 2 or not np.isfinite(T).all():
        raise ValueError(f"{source}: expected finite (V, 3) vertices, got shape {T.shape}")
    V = len(T)
    mirrored = T * np.array([-1.0, 1.0, 1.0])
    _, perm = cKDTree(T).query(mirrored)
    how = "nearest neighbour"
    if len(np.unique(perm)) != V:
        if V > MAX_ASSIGNMENT_VERTICES:
            raise ValueError(f"{source}: the mirror's nearest neighbours are not one-to-one and "
                             f"{V} vertices are too many for the assignment fallback")
        perm = linear_sum_assignment(cdist(mirrored, T))[1]
        how = "optimal assignment (nearest neighbours were not one-to-one)"
    perm = perm.astype(np.int64)
    if not np.array_equal(perm[perm], np.arange(V)):
        bad = int(np.sum(perm[perm] != np.arange(V)))
        raise ValueError(f"{source} is not left-right symmetric about x = 0: its mirror map "
                         f"({how}) is not an involution ({bad} of {V} vertices do not map back)")
    residual = np.linalg.norm(mirrored - T[perm], axis=1)
    extent = float(np.max(T.max(0) - T.min(0)))
    worst = int(np.argmax(residual))
    if residual[worst] > tolerance * extent:
        raise ValueError(f"{source} is not left-right symmetric about x = 0: the mirror of vertex "
                         f"{worst} lies {residual[worst]:.4g} from vertex {perm[worst]} ({how}), "
                         f"more than tolerance {tolerance} × extent {extent:.4g}")
    if faces is not None:
        faces = np.asarray(faces, dtype=np.int64)
        triangles = {frozenset(t) for t in faces.tolist()}
        mapped = [frozenset(t) for t in perm[faces].tolist()]
        stray = [t for t in mapped if t not in triangles]
        if stray:
            halves = _quad_halves(faces)
            stray = [t for t in stray if t not in halves]
        if stray:
            raise ValueError(f"{source}: the mirror map ({how}) is not a symmetry of the mesh: "
                             f"{len(stray)} of {len(faces)} mirrored triangles are neither "
                             f"triangles nor quad halves of it (e.g. {sorted(stray[0])})")
    return perm


# ---- the topology --------------------------------------------------------------------------------

def _locate(root: Path, relative: str, required: bool = True) -> Path | None:
    candidates = [root / relative, root / Path(relative).name]
    for c in candidates:
        if c.is_file():
            return c
    if required:
        raise FileNotFoundError(f"official TRGv2 file {Path(relative).name} not found: looked for "
                                f"{' and '.join(str(c) for c in dict.fromkeys(candidates))}")
    return None


def _entry(obj, key: str, path: Path):
    if not isinstance(obj, Mapping):
        raise ValueError(  # noqa: TRY004 (a file's content, not an argument's type)
            f"{path}: expected a dict with key {key!r}, got {type(obj).__name__}")
    if key not in obj:
        raise ValueError(f"{path}: key {key!r} missing (keys: {sorted(map(str, obj))})")
    return obj[key]


def _vertices(value, what: str) -> np.ndarray:
    a = np.asarray(value)
    if a.dtype.kind not in "fiu" or a.ndim != 2 or a.shape[1] != 3 or len(a) < 4:
        raise ValueError(f"{what}: expected (V, 3) vertices with V >= 4, got {a.dtype} {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{what}: non-finite vertices")
    return a.astype(np.float32)


def _indices(value, what: str, shape: tuple, V: int) -> np.ndarray:
    """An integer index array of ``shape`` (None: any length) into V vertices."""
    a = np.asarray(value)
    if a.dtype.kind == "f" and a.size and np.isfinite(a).all() and np.all(a == np.round(a)):
        a = a.astype(np.int64)
    if a.dtype.kind not in "iu":
        raise ValueError(f"{what}: expected integer vertex indices, got dtype {a.dtype}")
    if a.ndim != len(shape) or any(s is not None and s != d for s, d in zip(shape, a.shape)):
        expected = tuple("N" if s is None else s for s in shape)
        raise ValueError(f"{what}: shape {a.shape}, expected {expected}")
    a = a.astype(np.int64)
    if a.size and (a.min() < 0 or a.max() >= V):
        raise ValueError(f"{what}: index {int(a.min() if a.min() < 0 else a.max())} out of range "
                         f"for a template of {V} vertices")
    return a


def _load_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as e:  # object arrays need pickle: refused
        raise ValueError(f"could not read {path} as a plain .npy array: {e}") from e


def read_official_topology(data_dir, name: str = "arkit_1220", tolerance: float = 0.01,
                           alignment_ids=ALIGNMENT_LANDMARKS,
                           encoding: str = "latin1") -> FaceTopology:
    """The ARKit :class:`FaceTopology` from the official TRGv2 data files in ``data_dir``.

    ``data_dir`` is the official repository's root (``data/...``, ``npy/...``) or a folder holding
    the files side by side. template = ``init_vtx_cam.pkl['t_vtx_1220']``; R0 = the rotation of
    its ``R_t`` (row-vector form, transposed: :func:`rotation_from_row_pose`); faces =
    ``triangles.npy``; subsample = ``arkit_subsample.pkl['1220_to_305']`` (its order kept);
    landmark_ids = ``kpt_ind.npy``; flip = ``flip_index.npy`` when present in ``data_dir`` (or
    ``data/``, ``npy/``, ``dataset/ARKitFace/``), else :func:`mirror_permutation` of the mean
    face ``arkit_avg_face.pkl`` if present, else of the template; alignment_ids as given.

    Raises ``FileNotFoundError`` naming a missing file, :class:`UntrustedPickleError` for a pickle
    naming anything but arrays and containers, ``ValueError`` for wrong keys, shapes, dtypes,
    out-of-range indices or a template too asymmetric for the mirror.
    """
    root = Path(data_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"TRGv2 data directory {root} not found")
    init_path = _locate(root, OFFICIAL_FILES["init"])
    sub_path = _locate(root, OFFICIAL_FILES["subsample"])
    tri_path = _locate(root, OFFICIAL_FILES["triangles"])
    kpt_path = _locate(root, OFFICIAL_FILES["landmarks"])

    init = load_untrusted_pickle(init_path, encoding)
    template = _vertices(_entry(init, "t_vtx_1220", init_path), f"{init_path}['t_vtx_1220']")
    V = len(template)
    R0, _ = rotation_from_row_pose(_entry(init, "R_t", init_path), f"{init_path}['R_t']")
    subsample = _indices(_entry(load_untrusted_pickle(sub_path, encoding), SUBSAMPLE_KEY, sub_path),
                         f"{sub_path}[{SUBSAMPLE_KEY!r}]", (None,), V)
    faces = _indices(_load_npy(tri_path), str(tri_path), (None, 3), V)
    landmark_ids = _indices(_load_npy(kpt_path), str(kpt_path), (68,), V)

    flip_path = next((root / p for p in FLIP_LOCATIONS if (root / p).is_file()), None)
    if flip_path is not None:
        from pyhpe.data.arkitface import read_flip_index  # the one reader of flip_index.npy

        flip = read_flip_index(flip_path, V)
    else:
        mean_path = _locate(root, OFFICIAL_FILES["mean_face"], required=False)
        if mean_path is not None:
            source = _vertices(load_untrusted_pickle(mean_path, encoding), str(mean_path))
            if source.shape != template.shape:
                raise ValueError(f"{mean_path}: shape {source.shape} does not match the template's "
                                 f"{template.shape}")
            what = str(mean_path)
        else:
            source, what = template, f"{init_path}['t_vtx_1220']"
        try:
            flip = mirror_permutation(source, faces, tolerance, source=what)
        except ValueError as e:
            raise ValueError(
                f"cannot derive the flip permutation by code: {e}. The official flip_index.npy is "
                f"not shipped with the code; put it in {root} (or data/, npy/, dataset/ARKitFace/) "
                "to use it, or add the mean face arkit_avg_face.pkl (TRGv2's data/) as the "
                "symmetric source") from e
    return FaceTopology.from_arrays(name, template, faces, subsample, landmark_ids, flip, R0=R0,
                                    alignment_ids=alignment_ids)
