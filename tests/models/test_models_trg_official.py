"""The official TRGv2 data files: the restricted unpickler (arrays and containers only; code-running
pickles refused before they run), the ARKit topology read from fixture files in the official
formats (protocol-4/5 and protocol-2 pickles, a hand-made Python 2 pickle, .npy files), the
row-vector R_t, the mirror permutation, and the errors for missing or malformed files.

Set PYHPE_TRGV2_DATA to a copy of the official repository's data (data/, npy/) to also check the
real files' facts."""

from __future__ import annotations

import builtins
import codecs
import collections
import os
import pickle
import shlex
import struct
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from pyhpe.models.trg import FaceTopology
from pyhpe.models.trg.official import (
    UntrustedPickleError,
    load_untrusted_pickle,
    mirror_permutation,
    read_official_topology,
    rotation_from_row_pose,
)
from pyhpe.models.trg.topology import ALIGNMENT_LANDMARKS

NX, NY = 5, 6  # a small mirror-symmetric grid face: x = (ix − 2)·2 cm
V = NX * NY
YXZ_DEG = (0.97, 7.43, -2.10)  # the official R_0's yaw, pitch, roll (trg.md §1.9)
SUBSAMPLE = [0, 2, 4, 7, 12, 17, 22, 29]


def _vid(ix, iy):
    return iy * NX + ix


def _template() -> np.ndarray:
    pts = []
    for iy in range(NY):
        for ix in range(NX):
            x, y = (ix - 2) * 0.02, (iy - 2.5) * 0.02
            pts.append((x, y, -0.05 + 4.0 * x * x + 0.5 * y * y))
    return np.asarray(pts, np.float32)


def _faces() -> np.ndarray:
    """Each quad split along the same diagonal (as the ARKit mesh): mirrored triangles are then
    the other half of their quad, not triangles of the mesh."""
    tris = []
    for iy in range(NY - 1):
        for ix in range(NX - 1):
            a, b, c, d = _vid(ix, iy), _vid(ix + 1, iy), _vid(ix, iy + 1), _vid(ix + 1, iy + 1)
            tris += [(a, b, d), (a, d, c)]
    return np.asarray(tris, np.uint16)


def _expected_flip() -> np.ndarray:
    return np.asarray([_vid(NX - 1 - (i % NX), i // NX) for i in range(V)], np.int64)


def _R_known() -> np.ndarray:
    return Rotation.from_euler("yxz", YXZ_DEG, degrees=True).as_matrix()


def _row_pose(R, t=(-0.018, -0.050, 0.568)) -> np.ndarray:
    M = np.eye(4)
    M[:3, :3] = np.asarray(R).T
    M[3, :3] = t
    return M.astype(np.float32)


def _py2_pickle(d: dict) -> bytes:
    """A protocol-2 pickle of {str: ndarray} as Python 2 + NumPy wrote it: GLOBAL opcodes,
    py2 ``str`` (SHORT_BINSTRING/BINSTRING) keys, dtype codes and raw array bytes."""
    def s(b: bytes) -> bytes:
        return b"U" + bytes([len(b)]) + b if len(b) < 256 else b"T" + struct.pack("<I", len(b)) + b

    def i(n: int) -> bytes:
        return b"K" + bytes([n]) if n < 256 else b"J" + struct.pack("<i", n)

    out = bytearray(b"\x80\x02}")
    for key, arr in d.items():
        arr = np.ascontiguousarray(arr, dtype=np.asarray(arr).dtype.newbyteorder("<"))
        out += s(key.encode())
        out += b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n" + i(0) + b"\x85"
        out += s(b"b") + b"\x87R"
        out += b"(" + i(1) + b"(" + b"".join(i(n) for n in arr.shape) + b"t"
        out += b"cnumpy\ndtype\n" + s(arr.dtype.str[1:].encode()) + i(0) + i(1) + b"\x87R"
        out += b"(" + i(3) + s(b"<") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xff" + i(0) + b"tb"
        out += b"\x89" + s(arr.tobytes()) + b"tbs"
    return bytes(out + b".")


def _write(root: Path, *, layout="repo", protocol=4, init=None, subsample=None, triangles=None,
           kpt=None, mean_face=None, flip=None, skip=()) -> Path:
    """The official files in tmp ``root``: ``layout`` "repo" (data/, npy/) or "flat"."""
    data = root / "data" if layout == "repo" else root
    npy = root / "npy" if layout == "repo" else root
    data.mkdir(parents=True, exist_ok=True)
    npy.mkdir(parents=True, exist_ok=True)
    init = {"t_vtx_1220": _template(), "R_t": _row_pose(_R_known())} if init is None else init
    subsample = {"1220_to_305": list(SUBSAMPLE), "305_to_77": [0, 1, 2],
                 "faces_305": np.zeros((2, 3), np.uint32),
                 "adjmat_305": np.eye(len(SUBSAMPLE), dtype=bool)} \
        if subsample is None else subsample
    files = {
        data / "init_vtx_cam.pkl": init if isinstance(init, bytes)
        else pickle.dumps(init, protocol),
        data / "arkit_subsample.pkl": subsample if isinstance(subsample, bytes)
        else pickle.dumps(subsample, protocol),
    }
    for path, blob in files.items():
        if path.name not in skip:
            path.write_bytes(blob)
    if "triangles.npy" not in skip:
        np.save(data / "triangles.npy", _faces() if triangles is None else triangles)
    if "kpt_ind.npy" not in skip:
        np.save(npy / "kpt_ind.npy", np.arange(68) % V if kpt is None else kpt)
    if mean_face is not None:
        (data / "arkit_avg_face.pkl").write_bytes(pickle.dumps(mean_face, protocol))
    if flip is not None:
        np.save(root / "flip_index.npy", flip)
    return root


# ---- the topology from files in the official formats ---------------------------------------------

@pytest.mark.parametrize("layout,protocol", [("repo", 4), ("flat", 2), ("repo", 5)])
def test_reads_the_official_layout(tmp_path, layout, protocol):
    topo = read_official_topology(_write(tmp_path, layout=layout, protocol=protocol))
    assert isinstance(topo, FaceTopology) and topo.name == "arkit_1220"
    np.testing.assert_array_equal(topo.template, _template())
    np.testing.assert_array_equal(topo.faces, _faces().astype(np.int64))
    np.testing.assert_array_equal(topo.subsample, SUBSAMPLE)
    np.testing.assert_array_equal(topo.landmark_ids, np.arange(68) % V)
    np.testing.assert_array_equal(topo.flip, _expected_flip())
    np.testing.assert_array_equal(topo.alignment_ids, ALIGNMENT_LANDMARKS)
    np.testing.assert_allclose(topo.R0, _R_known(), atol=1e-6)


def test_python2_pickles_need_latin1(tmp_path):
    init = {"t_vtx_1220": _template(), "R_t": _row_pose(_R_known())}
    blob = _py2_pickle(init)
    assert b"cnumpy.core.multiarray\n_reconstruct" in blob and b"\x80\x02" == blob[:2]
    sub = _py2_pickle({"1220_to_305": np.asarray(SUBSAMPLE)})
    root = _write(tmp_path, init=blob, subsample=sub)
    loaded = load_untrusted_pickle(root / "data" / "init_vtx_cam.pkl")  # latin1 by default
    np.testing.assert_array_equal(loaded["t_vtx_1220"], init["t_vtx_1220"])
    np.testing.assert_array_equal(loaded["R_t"], init["R_t"])
    topo = read_official_topology(root)
    np.testing.assert_allclose(topo.R0, _R_known(), atol=1e-6)
    with pytest.raises(ValueError, match="latin1"):  # the raw float bytes are not ASCII
        load_untrusted_pickle(root / "data" / "init_vtx_cam.pkl", encoding="ASCII")


def test_row_vector_pose_is_transposed():
    R, t = _R_known(), np.array([0.01, -0.02, 0.6])
    M = _row_pose(R, t).astype(np.float64)
    R0, t0 = rotation_from_row_pose(M)
    np.testing.assert_allclose(R0, R, atol=1e-7)
    np.testing.assert_allclose(t0, t, atol=1e-7)
    v = np.array([0.03, -0.01, -0.05])
    np.testing.assert_allclose(np.append(v, 1.0) @ M, np.append(R0 @ v + t0, 1.0), atol=1e-7)
    # the official R_0's facts: ~7.8° from identity, yaw/pitch/roll in scipy 'yxz'
    rot = Rotation.from_matrix(R0)
    np.testing.assert_allclose(rot.as_euler("yxz", degrees=True), YXZ_DEG, atol=1e-6)
    assert 7.6 < np.degrees(rot.magnitude()) < 7.9
    column_form = np.eye(4)
    column_form[:3, :3], column_form[:3, 3] = R, t
    with pytest.raises(ValueError, match="column-vector"):
        rotation_from_row_pose(column_form)
    with pytest.raises(ValueError, match="not a rotation"):
        rotation_from_row_pose(np.diag([1.0, 1.0, -1.0, 1.0]))
    with pytest.raises(ValueError, match=r"\(4, 4\)"):
        rotation_from_row_pose(np.eye(3))


# ---- the restricted unpickler --------------------------------------------------------------------

class _System:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


class _Eval:
    def __init__(self, expression):
        self.expression = expression

    def __reduce__(self):
        return builtins.eval, (self.expression,)


class _Custom:
    pass


class _Reduce:
    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


@pytest.mark.parametrize("protocol", [2, 4])
def test_code_running_pickles_are_refused_before_they_run(tmp_path, protocol):
    marker = tmp_path / "pwned"
    system = tmp_path / "system.pkl"
    system.write_bytes(pickle.dumps({"t_vtx_1220": _System(f"touch {shlex.quote(str(marker))}")},
                                    protocol))
    with pytest.raises(UntrustedPickleError, match=r"refusing to load (posix|nt|os)\.system from "
                       r".*system\.pkl: pickle files are untrusted input"):
        load_untrusted_pickle(system)
    assert not marker.exists()

    evil = tmp_path / "eval.pkl"
    evil.write_bytes(pickle.dumps([_Eval(f"open({str(marker)!r}, 'w').close()")], protocol))
    pickle.loads(evil.read_bytes())  # the payload is live: a plain unpickler runs it
    assert marker.exists()
    marker.unlink()
    with pytest.raises(ValueError, match=r"refusing to load builtins\.eval from .*eval\.pkl"):
        load_untrusted_pickle(evil)
    assert not marker.exists()


def test_poisoned_official_file_is_refused_by_the_reader(tmp_path):
    marker = tmp_path / "pwned"
    init = {"t_vtx_1220": _template(),
            "R_t": _Eval(f"open({str(marker)!r}, 'w').close() or __import__('numpy').eye(4)")}
    root = _write(tmp_path, init=init)
    with pytest.raises(UntrustedPickleError, match="init_vtx_cam.pkl"):
        read_official_topology(root)
    assert not marker.exists()
    # an object .npy would need pickle: refused without unpickling
    root2 = _write(tmp_path / "b", triangles=np.array([_Eval(f"open({str(marker)!r}, 'w')")],
                                                      dtype=object))
    with pytest.raises(ValueError, match=r"triangles\.npy"):
        read_official_topology(root2)
    assert not marker.exists()


@pytest.mark.parametrize("payload,refused", [
    (collections.Counter({"a": 1}), "collections.Counter"),
    (_Custom(), "_Custom"),
    (_Reduce(getattr, "text", "upper"), "builtins.getattr"),
    (_Reduce(np.load, "x.npy"), "numpy.load"),
])
def test_other_classes_are_refused(tmp_path, payload, refused):
    path = tmp_path / "x.pkl"
    path.write_bytes(pickle.dumps({"k": payload}, protocol=4))
    with pytest.raises(UntrustedPickleError, match=rf"refusing to load .*{refused}"):
        load_untrusted_pickle(path)


def test_plain_data_is_admitted(tmp_path):
    obj = collections.OrderedDict(a=np.arange(6, dtype=np.int64).reshape(2, 3), b=[1, 2.5, "s"],
                                  c=(True, None, b"\x00\xff"), d={3, 4}, e=frozenset([1]),
                                  f=np.float32(1.5), g=complex(1, 2), h=np.zeros(3, bool))
    for protocol in (2, 4, 5):
        path = tmp_path / f"ok{protocol}.pkl"
        path.write_bytes(pickle.dumps(obj, protocol))
        got = load_untrusted_pickle(path)
        assert isinstance(got, collections.OrderedDict) and list(got) == list(obj)
        np.testing.assert_array_equal(got["a"], obj["a"])
        assert got["b"] == obj["b"] and got["c"] == obj["c"] and got["f"] == np.float32(1.5)


def test_codecs_encode_admits_latin1_only(tmp_path):
    path = tmp_path / "rot13.pkl"
    path.write_bytes(pickle.dumps(_Reduce(codecs.encode, "abc", "rot13"), protocol=2))
    with pytest.raises(UntrustedPickleError, match="latin1"):
        load_untrusted_pickle(path)


def test_unreadable_pickles_name_the_file(tmp_path):
    path = tmp_path / "truncated.pkl"
    path.write_bytes(pickle.dumps({"a": np.zeros(10)}, 4)[:-20])
    with pytest.raises(ValueError, match="truncated.pkl"):
        load_untrusted_pickle(path)
    with pytest.raises(FileNotFoundError, match="absent.pkl"):
        load_untrusted_pickle(tmp_path / "absent.pkl")


# ---- missing and malformed files -----------------------------------------------------------------

@pytest.mark.parametrize("missing", ["init_vtx_cam.pkl", "arkit_subsample.pkl", "triangles.npy",
                                     "kpt_ind.npy"])
def test_missing_file_is_named(tmp_path, missing):
    with pytest.raises(FileNotFoundError, match=missing.replace(".", r"\.")):
        read_official_topology(_write(tmp_path, skip=(missing,)))
    with pytest.raises(FileNotFoundError, match="not found"):
        read_official_topology(tmp_path / "nowhere")


@pytest.mark.parametrize("kwargs,message", [
    ({"init": {"t_vtx_1220": _template()[:, :2], "R_t": _row_pose(np.eye(3))}}, "t_vtx_1220"),
    ({"init": {"t_vtx": _template(), "R_t": _row_pose(np.eye(3))}}, "key 't_vtx_1220' missing"),
    ({"init": {"t_vtx_1220": _template(), "R_t": np.eye(3, dtype=np.float32)}}, r"R_t.*\(4, 4\)"),
    ({"init": [_template()]}, "expected a dict"),
    ({"subsample": {"1220_to_77": [0, 1, 2]}}, "'1220_to_305' missing"),
    ({"subsample": {"1220_to_305": [0, 1, V]}}, "out of range"),
    ({"subsample": {"1220_to_305": [0.5, 1, 2]}}, "integer"),
    ({"kpt": np.arange(67)}, r"kpt_ind\.npy.*\(67,\)"),
    ({"kpt": np.arange(68) + V}, r"kpt_ind\.npy.*out of range"),
    ({"triangles": np.zeros((4, 4), np.uint16)}, r"triangles\.npy.*expected \('N', 3\)"),
    ({"triangles": np.full((2, 3), -1)}, "out of range"),
])
def test_malformed_files(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        read_official_topology(_write(tmp_path, **kwargs))


# ---- the flip permutation ------------------------------------------------------------------------

def _asymmetric_template() -> np.ndarray:
    t = _template()
    t[_vid(0, 0), 0] += 0.012  # one vertex 1.2 cm off its mirror image
    return t


def test_asymmetric_template_is_refused_unless_flip_is_given(tmp_path):
    init = {"t_vtx_1220": _asymmetric_template(), "R_t": _row_pose(_R_known())}
    with pytest.raises(ValueError, match=r"flip_index\.npy.*not shipped|not left-right symmetric"):
        read_official_topology(_write(tmp_path / "a", init=init))
    # an explicit flip_index.npy (flat, or where the official loader keeps it) overrides
    given = _expected_flip()
    topo = read_official_topology(_write(tmp_path / "b", init=init, flip=given))
    np.testing.assert_array_equal(topo.flip, given)
    root = _write(tmp_path / "c", init=init)
    (root / "dataset" / "ARKitFace").mkdir(parents=True)
    np.save(root / "dataset" / "ARKitFace" / "flip_index.npy", given)
    np.testing.assert_array_equal(read_official_topology(root).flip, given)
    # the mean face, when present, is the mirror's source
    topo = read_official_topology(_write(tmp_path / "d", init=init, mean_face=_template()))
    np.testing.assert_array_equal(topo.flip, given)
    with pytest.raises(ValueError, match="does not match"):
        read_official_topology(_write(tmp_path / "e", init=init, mean_face=_template()[:-1]))


def test_explicit_flip_must_be_an_involution(tmp_path):
    bad = np.roll(np.arange(V), 1)
    with pytest.raises(ValueError, match="involution"):
        read_official_topology(_write(tmp_path, flip=bad))
    with pytest.raises(ValueError, match=r"flip_index\.npy.*shape"):
        read_official_topology(_write(tmp_path / "b", flip=np.arange(V - 1)))


def test_mirror_permutation():
    T, faces = _template(), _faces().astype(np.int64)
    np.testing.assert_array_equal(mirror_permutation(T, faces), _expected_flip())
    # noise below the tolerance: still the exact permutation (one-to-one through the assignment)
    rng = np.random.default_rng(0)
    noisy = T + rng.normal(0, 2e-4, T.shape).astype(np.float32)
    np.testing.assert_array_equal(mirror_permutation(noisy, faces), _expected_flip())
    with pytest.raises(ValueError, match="tolerance"):
        mirror_permutation(noisy, faces, tolerance=1e-4)
    # a triangle with no mirrored counterpart: not a symmetry of the mesh
    lopsided = np.concatenate([faces, [[_vid(0, 0), _vid(1, 0), _vid(0, 2)]]])
    with pytest.raises(ValueError, match="not a symmetry of the mesh"):
        mirror_permutation(T, lopsided)
    with pytest.raises(ValueError, match="not left-right symmetric"):
        mirror_permutation(_asymmetric_template(), faces)


# ---- the real files (optional) -------------------------------------------------------------------

@pytest.mark.skipif(not os.environ.get("PYHPE_TRGV2_DATA"),
                    reason="PYHPE_TRGV2_DATA (the official data/, npy/) not set")
def test_real_official_files():
    root = Path(os.environ["PYHPE_TRGV2_DATA"])
    mean_face = any((root / p).is_file() for p in ("data/arkit_avg_face.pkl", "arkit_avg_face.pkl"))
    flip_file = any((root / p).is_file() for p in ("flip_index.npy", "data/flip_index.npy",
                                                   "npy/flip_index.npy",
                                                   "dataset/ARKitFace/flip_index.npy"))
    if not (mean_face or flip_file):  # one captured face: too asymmetric for the mirror
        with pytest.raises(ValueError, match=r"flip_index\.npy"):
            read_official_topology(root)
        return
    topo = read_official_topology(root)
    assert topo.template.shape == (1220, 3) and topo.faces.shape == (2304, 3)
    assert topo.subsample.shape == (305,) and topo.subsample.max() == 1218
    assert topo.landmark_ids[:4].tolist() == [57, 376, 208, 905]
    rot = Rotation.from_matrix(topo.R0.astype(np.float64))
    np.testing.assert_allclose(rot.as_euler("yxz", degrees=True), YXZ_DEG, atol=0.01)
    assert abs(np.degrees(rot.magnitude()) - 7.77) < 0.01
    if mean_face and not flip_file:
        assert int(np.sum(topo.flip == np.arange(1220))) == 46  # the midline
