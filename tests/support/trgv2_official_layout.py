"""A made-up TRGv2 checkpoint and topology in the official release's layout, deterministic.

No official weight or ARKit file can be shipped in tests, so the tests build their own in the
official formats (docs/trgv2.md "Official checkpoint layout"):

- :func:`write_official_topology` writes ``data/init_vtx_cam.pkl``, ``data/arkit_subsample.pkl``,
  ``data/triangles.npy``, ``npy/kpt_ind.npy`` and ``flip_index.npy`` for a mirror-symmetric
  1220-vertex grid face (the official model hard-codes 1220 vertices and 305 subsampled ones);
- :func:`official_state_dict` fills every key of the official ``state_dict`` with values that
  depend only on the key's name and shape (so a test and ``tools/trgv2_official_reference.py``,
  which runs the official code, build the same tensors without shipping 100 MB);
- :func:`official_inputs` gives the images, full-image intrinsics, ``bbox_info`` and crop
  intrinsics of two test samples, as the official data code computes them.

Imported by tests/models/test_trg_convert.py and by tools/trgv2_official_reference.py (which
writes tests/fixtures/trgv2_official_reference.npz with the official model's outputs).
"""

from __future__ import annotations

import pickle
import zlib
from pathlib import Path

import numpy as np
import torch
from scipy.spatial.transform import Rotation

N_COLS, N_ROWS = 61, 20  # 61 × 20 = 1220 vertices; column 30 is the midline
NUM_VERTICES = N_COLS * N_ROWS
NUM_SUBSAMPLED = 305
CROP = 192
R0_YXZ_DEG = (0.97, 7.43, -2.10)  # the official R_0's yaw, pitch, roll (trg.md §1.9)
R0_T = (-0.018, -0.050, 0.568)  # its translation (unused by the model)


def _vid(ix: int, iy: int) -> int:
    return iy * N_COLS + ix


def grid_face() -> np.ndarray:
    """(1220, 3) float32: a symmetric curved grid, 16 cm × 19 cm, the nose side towards −z."""
    xs = np.linspace(-0.08, 0.08, N_COLS)
    ys = np.linspace(-0.095, 0.095, N_ROWS)
    pts = [(x, y, -0.07 + 4.0 * x * x + 1.5 * y * y) for y in ys for x in xs]
    return np.asarray(pts, np.float32)


def grid_triangles() -> np.ndarray:
    """(2 · 60 · 19, 3) uint16 triangles, every quad split along the same diagonal."""
    tris = []
    for iy in range(N_ROWS - 1):
        for ix in range(N_COLS - 1):
            a, b = _vid(ix, iy), _vid(ix + 1, iy)
            c, d = _vid(ix, iy + 1), _vid(ix + 1, iy + 1)
            tris += [(a, b, d), (a, d, c)]
    return np.asarray(tris, np.uint16)


def grid_flip() -> np.ndarray:
    return np.asarray([_vid(N_COLS - 1 - ix, iy) for iy in range(N_ROWS) for ix in range(N_COLS)],
                      np.int64)


def r0_matrix() -> np.ndarray:
    return Rotation.from_euler("yxz", R0_YXZ_DEG, degrees=True).as_matrix()


def write_official_topology(root: Path, with_flip: bool = True) -> Path:
    """The official repository's topology files for :func:`grid_face`, under ``root``."""
    root = Path(root)
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "npy").mkdir(parents=True, exist_ok=True)
    row_pose = np.eye(4, dtype=np.float32)
    row_pose[:3, :3] = r0_matrix().T
    row_pose[3, :3] = R0_T
    with open(root / "data" / "init_vtx_cam.pkl", "wb") as f:
        pickle.dump({"t_vtx_1220": grid_face(), "R_t": row_pose}, f, protocol=4)
    rng = np.random.default_rng(1220)
    subsample = sorted(rng.choice(NUM_VERTICES, NUM_SUBSAMPLED, replace=False).tolist())
    with open(root / "data" / "arkit_subsample.pkl", "wb") as f:
        pickle.dump({"1220_to_305": subsample, "1220_to_77": subsample[::4]}, f, protocol=4)
    np.save(root / "data" / "triangles.npy", grid_triangles())
    np.save(root / "npy" / "kpt_ind.npy",
            np.sort(rng.choice(NUM_VERTICES, 68, replace=False)).astype(np.int64))
    if with_flip:
        np.save(root / "flip_index.npy", grid_flip())
    return root


# ---- the state_dict --------------------------------------------------------------------------------

def _rng(key: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(key.encode()))


def _is_norm(key: str, keys: set[str]) -> bool:
    prefix = key.rsplit(".", 1)[0]
    return f"{prefix}.running_mean" in keys


def _value(key: str, shape: tuple[int, ...], keys: set[str]) -> np.ndarray:
    """Key-determined values of plausible scale: BN statistics near identity, He-scaled weights,
    small output heads (so the face stays a face and the pose a pose)."""
    rng = _rng(key)
    leaf = key.rsplit(".", 1)[-1]
    if _is_norm(key, keys):
        if leaf in ("weight", "running_var"):
            return rng.uniform(0.8, 1.2, shape)
        return rng.normal(0.0, 0.05, shape)
    if leaf == "bias":
        return rng.normal(0.0, 0.01, shape)
    if "deconv_layers" in key:  # ConvTranspose2d (in, out, k, k), stride 2: 1/4 of the taps land
        fan_in = shape[0] * int(np.prod(shape[2:])) / 4
    else:
        fan_in = int(np.prod(shape[1:]))
    scale = np.sqrt(2.0 / fan_in)
    if ".decshape." in key:
        scale = 0.0004 / np.sqrt(shape[1])
    elif ".decpose." in key:
        scale = 0.005 / np.sqrt(shape[1])
    elif ".fc1." in key or ".fc2." in key:
        scale = 1.0 / np.sqrt(fan_in)
    return rng.normal(0.0, 1.0, shape) * scale


BUFFERS = ("points_grid", "init_face", "init_head_pose")


def official_buffers(root: Path) -> dict[str, np.ndarray]:
    """The official model's buffers for the topology in ``root``, built from their definitions:
    the 18×18 'ij' grid stacked [x, y] (1, 2, 324); init_face = t_vtx_1220 (1, 1220, 3);
    init_head_pose = [interleaved 6D of R_0, 1, 0, 0] (1, 9)."""
    with open(Path(root) / "data" / "init_vtx_cam.pkl", "rb") as f:
        init = pickle.load(f)  # written by write_official_topology above
    lin = np.linspace(-1, 1, 18, dtype=np.float32)
    xv, yv = np.meshgrid(lin, lin, indexing="ij")
    R0 = init["R_t"][:3, :3].T
    sixd = R0[:, :2].reshape(-1)  # (r00, r01, r10, r11, r20, r21)
    return {
        "points_grid": np.stack([xv.reshape(-1), yv.reshape(-1)])[None].astype(np.float32),
        "init_face": init["t_vtx_1220"][None].astype(np.float32),
        "init_head_pose": np.concatenate([sixd, [1.0, 0.0, 0.0]])[None].astype(np.float32),
    }


def official_state_dict(shapes: dict[str, tuple[int, ...]], root: Path) -> dict[str, torch.Tensor]:
    """Every key of ``shapes`` (the official model's state_dict keys → shapes) filled by
    :func:`_value`; ``num_batches_tracked`` as int64 zeros; the buffers from
    :func:`official_buffers` for the topology written under ``root``."""
    keys = set(shapes)
    buffers = official_buffers(root)
    out = {}
    for key, shape in shapes.items():
        leaf = key.rsplit(".", 1)[-1]
        if leaf == "num_batches_tracked":
            out[key] = torch.zeros(shape, dtype=torch.int64)
        elif leaf in BUFFERS:
            out[key] = torch.from_numpy(buffers[leaf].copy())
        else:
            out[key] = torch.from_numpy(_value(key, tuple(shape), keys).astype(np.float32))
    return out


# ---- inputs ---------------------------------------------------------------------------------------

def official_inputs() -> dict[str, np.ndarray]:
    """Two samples as the official ARKitFace test code feeds them: normalised crops (2, 3, 192,
    192), full-image K (2, 3, 3) of an 800×800 image (f = 1.574437·400, c = (400, 400)),
    bbox_info (2, 7) = [l, t, r, b, f, H, W] and the crop intrinsics K_crop (2, 3, 3) = K shifted
    by (−left, −top), scaled by 192/b."""
    rng = np.random.default_rng(192)
    images = rng.normal(0.0, 1.0, (2, 3, CROP, CROP)).astype(np.float32)
    yy, xx = np.mgrid[0:CROP, 0:CROP] / CROP
    images[:, 0] += np.sin(6 * xx) * 1.5  # structure, so features vary over the image
    images[:, 1] += np.cos(5 * yy + 3 * xx)
    f = 1.57443701 * 400
    boxes = np.array([[301, 288, 541, 528], [180, 350, 420, 590]], np.float64)
    K = np.array([[f, 0, 400], [0, f, 400], [0, 0, 1]], np.float64)
    K_full = np.stack([K, K])
    bbox_info = np.array([[*b, f, 800, 800] for b in boxes], np.float32)
    K_crop = []
    for (left, top, right, _bottom) in boxes:
        s = CROP / (right - left)
        Kc = K.copy()
        Kc[0, 2] -= left
        Kc[1, 2] -= top
        Kc[:2] *= s
        K_crop.append(Kc)
    return {"images": images, "K": K_full.astype(np.float32), "bbox_info": bbox_info,
            "K_crop": np.stack(K_crop).astype(np.float32)}

