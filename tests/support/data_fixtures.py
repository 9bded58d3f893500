"""Writers of small dataset fixtures in each format's exact on-disk layout (docs/data.md).

Imported by the tests/data/test_data_*.py modules (``from support.data_fixtures import ...``);
tests/data/test_data_fixtures.py checks the writers themselves.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import scipy.io

from pyhpe.geometry.rotation import euler_to_matrix

# a colour that survives JPEG: flat patches decode to within a few grey levels
BGR_COLOUR = (30, 90, 200)  # as cv2 writes it; RGB = (200, 90, 30)


def face_like_points(centre=(80.0, 70.0), scale=30.0, rng=None) -> np.ndarray:
    """68 distinct 2D points spread around ``centre`` (not a real face, just labelled points)."""
    rng = rng or np.random.default_rng(0)
    return np.asarray(centre) + scale * rng.uniform(-1, 1, size=(68, 2))


def write_pose_mat_pair(root: Path, stem: str, euler_deg, pt2d: np.ndarray,
                        size=(160, 120), extra: dict | None = None) -> Path:
    """``<root>/<stem>.jpg`` (flat BGR_COLOUR) + ``.mat`` with Pose_Para (1×7, rad) and pt2d (2×68)."""
    path = root / stem
    path.parent.mkdir(parents=True, exist_ok=True)
    img = np.zeros((size[1], size[0], 3), np.uint8)
    img[:] = BGR_COLOUR
    assert cv2.imwrite(str(path) + ".jpg", img)
    pose = np.zeros((1, 7))
    pose[0, :3] = np.deg2rad(euler_deg)
    pose[0, 3:] = [size[0] / 2, size[1] / 2, 0.0, 1e-3]
    mat = {"Pose_Para": pose.astype(np.float32), "pt2d": np.asarray(pt2d, np.float32).T}
    mat.update(extra or {})
    scipy.io.savemat(str(path) + ".mat", mat)
    return path


BIWI_K = np.array([[517.679, 0.0, 320.0], [0.0, 517.679, 240.5], [0.0, 0.0, 1.0]])
BIWI_R_CAL = euler_to_matrix([1.0, -2.0, 0.5], degrees=True)
BIWI_T_CAL = np.array([-24.0, 3.5, -12.0])  # mm


def write_rgb_cal(path: Path, K=BIWI_K, R=BIWI_R_CAL, T=BIWI_T_CAL) -> None:
    rows = lambda m: "\n".join(" ".join(f"{v:.9g}" for v in r) for r in np.atleast_2d(m))
    path.write_text(f"{rows(K)}\n\n0 0 0 0\n\n{rows(R)}\n\n{rows(T)}\n\n640 480\n")


def write_pose_txt(path: Path, R: np.ndarray, T: np.ndarray) -> None:
    rows = "\n".join(" ".join(f"{v:.9g}" for v in r) + " " for r in R)
    path.write_text(rows + "\n\n" + " ".join(f"{v:.9g}" for v in T) + " \n")


CUBE_V = np.array([[x, y, z] for x in (-80, 80) for y in (-90, 90) for z in (-60, 60)], float)  # mm
CUBE_F = np.array([[1, 2, 4], [5, 6, 8], [1, 3, 5], [2, 4, 6]])  # 1-based, as .obj


def biwi_head_pose(seq: int, frame: int) -> tuple[np.ndarray, np.ndarray]:
    """A deterministic pose (R_head, T_head mm) for a fixture frame."""
    R = euler_to_matrix([5.0 * frame - 10, 7.0 * seq - 20, 3.0 * frame], degrees=True)
    return R, np.array([10.0 * seq, -5.0 * frame, 900.0 + 10 * frame])


def write_biwi_raw(root: Path, sequences=(1, 2), frames=(3, 4, 5), image=None,
                   missing_pose: tuple = (), with_mesh: bool = True) -> Path:
    """``<root>/hpdb/NN/frame_XXXXX_{rgb.png,pose.txt}``, ``rgb.cal``, ``hpdb/NN.obj``."""
    hpdb = root / "hpdb"
    for seq in sequences:
        d = hpdb / f"{seq:02d}"
        d.mkdir(parents=True, exist_ok=True)
        write_rgb_cal(d / "rgb.cal")
        (d / "depth.cal").write_text("unused\n")
        for f in frames:
            img = image if image is not None else np.full((480, 640, 3), 40 + 10 * f, np.uint8)
            assert cv2.imwrite(str(d / f"frame_{f:05d}_rgb.png"), img)
            if (seq, f) not in missing_pose:
                write_pose_txt(d / f"frame_{f:05d}_pose.txt", *biwi_head_pose(seq, f))
        if with_mesh:
            lines = [f"v {x} {y} {z}" for x, y, z in CUBE_V] + [f"f {a}/{a} {b}/{b} {c}/{c}" for a, b, c in CUBE_F]
            (hpdb / f"{seq:02d}.obj").write_text("# fixture mesh\n" + "\n".join(lines) + "\n")
    return root


def biwi_fan_landmarks(seq: int, frame: int) -> np.ndarray:
    """(68, 3) float32 stand-in FAN landmarks of a fixture frame (x, y pixels, z relative mm),
    spread about a frame-dependent centre (some boxes reach over the image border)."""
    rng = np.random.default_rng([seq, frame])
    centre = (60.0 + 270.0 * (seq - 1) + 40.0 * frame, 60.0 + 90.0 * frame)
    xy = face_like_points(centre, 35.0 + 5.0 * frame, rng)
    return np.c_[xy, rng.normal(0, 30, 68)].astype(np.float32)


def write_biwi_fan(hpdb: Path, sequences=(1, 2), frames=(3, 4, 5), missing: tuple = (),
                   landmarks: dict | None = None, name: str = "annot_mtcnn_fan.pkl") -> Path:
    """``<hpdb>/annot_mtcnn_fan.pkl`` in the released TRGv2 layout (data/preprocess_biwi.py): a dict
    with ``img_path`` (keys like "01/frame_00003_rgb.png"), ``mesh`` (sequence -> vertices, faces)
    and ``pred_kpt`` (key -> (68, 3) float32); ``missing`` (seq, frame) pairs have no prediction,
    ``landmarks`` {(seq, frame): (68, 2|3)} replaces the default ones."""
    import pickle

    out = {"img_path": [], "mesh": {}, "pred_kpt": {}}
    for seq in sequences:
        out["mesh"][f"{seq:02d}"] = {"vertices": CUBE_V.copy(), "faces": CUBE_F - 1}
        for f in frames:
            key = f"{seq:02d}/frame_{f:05d}_rgb.png"
            out["img_path"].append(key)
            if (seq, f) not in missing:
                out["pred_kpt"][key] = (np.asarray((landmarks or {}).get((seq, f)), np.float32)
                                        if (seq, f) in (landmarks or {}) else biwi_fan_landmarks(seq, f))
    path = Path(hpdb) / name
    with open(path, "wb") as fh:
        pickle.dump(out, fh)
    return path


def arkit_pose_gl(i: int) -> tuple[np.ndarray, np.ndarray]:
    """(R_gl, t_gl) of fixture frame i, OpenGL camera (t_z < 0)."""
    R = euler_to_matrix([4.0 * i - 6, 9.0 * i - 15, 2.0 - i], degrees=True)
    return R, np.array([0.01 * i, -0.02, -0.45 - 0.05 * i])


def arkit_verts_gl(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-0.08, 0.08, size=(1220, 3))


def arkit_mirror_template(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(template (1220, 3) m, flip (1220,)): a left/right symmetric stand-in for the ARKit mesh
    whose mirror permutation maps the 68 landmark vertices (ARKitFace's ``kpt_ind``) as the iBUG-68
    relabelling does; the other vertices are paired at random (a few on the midline), so the
    permutation is far from the identity. Symmetric in OpenGL and OpenCV axes alike."""
    from pyhpe.data.arkitface import ARKIT_LANDMARK_IDS
    from pyhpe.data.landmarks import IBUG68_MIRROR

    rng = np.random.default_rng(seed)
    V, ids = 1220, ARKIT_LANDMARK_IDS
    flip = np.arange(V)
    flip[ids] = ids[IBUG68_MIRROR]
    rest = rng.permutation(np.setdiff1d(np.arange(V), ids))
    paired = rest[20:]  # rest[:20] stay on the midline
    flip[paired[0::2]], flip[paired[1::2]] = paired[1::2], paired[0::2]
    template = np.zeros((V, 3))
    for a in range(V):
        b = flip[a]
        if a > b:
            continue
        v = rng.uniform([0.005, -0.09, -0.08], [0.08, 0.09, 0.04])
        if a == b:  # the midline (landmarks and the 20 unpaired vertices)
            v[0] = 0.0
        template[a], template[b] = v, v * [-1.0, 1.0, 1.0]
    return template, flip


def write_arkitface(root: Path, split: str = "test", n: int = 3, size: int = 200,
                    symmetric: bool = False, flip_index: bool = False) -> list[tuple]:
    """ARKitFace layout: csv, ``_ar.jpg`` and ``_info.npz`` (verts, R_t row-vector GL) per row.

    ``symmetric``: the meshes are :func:`arkit_mirror_template` plus a little per-frame noise (not
    symmetric) instead of random points; ``flip_index``: also ``<root>/flip_index.npy``, the
    template's mirror permutation, where the released TRGv2 code reads it."""
    rows = [("225579", "09_LeftToRight_Frown", str(1616212233525 + i)) for i in range(n)]
    lst = root / "ARKitFace_list" / "list"
    lst.mkdir(parents=True, exist_ok=True)
    with open(lst / f"ARKitFace_{split}.csv", "w") as fh:
        fh.write("subject_id,facial_action,img_id\n" + "".join(",".join(r) + "\n" for r in rows))
    template, flip = arkit_mirror_template()
    if flip_index:
        np.save(root / "flip_index.npy", flip)
    for i, (s, a, img_id) in enumerate(rows):
        img_dir = root / f"ARKitFace_image_{split}" / "image" / s / a
        info_dir = root / f"ARKitFace_info_{split}" / "info" / s / a
        img_dir.mkdir(parents=True, exist_ok=True)
        info_dir.mkdir(parents=True, exist_ok=True)
        assert cv2.imwrite(str(img_dir / f"{img_id}_ar.jpg"), np.full((size, size, 3), 128, np.uint8))
        R, t = arkit_pose_gl(i)
        R_t = np.eye(4)
        R_t[:3, :3], R_t[3, :3] = R.T, t
        verts = (template + np.random.default_rng(100 + i).normal(0, 0.002, template.shape)
                 if symmetric else arkit_verts_gl(i))
        np.savez(info_dir / f"{img_id}_info.npz", verts=verts, R_t=R_t)
    return rows


DDPOSE_K = np.array([[1200.0, 0.0, 512.0], [0.0, 1210.0, 300.0], [0.0, 0.0, 1.0]])


# the DD-Pose devkit's frontal head frame in the driver camera (pyhpe.metrics.ddpose)
DDPOSE_FRONTAL = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [-1.0, 0.0, 0.0]])


def ddpose_transform(stamp: int, frontal_deg: float | None = None) -> np.ndarray:
    """The fixture's head -> camera transform of ``stamp``; with ``frontal_deg`` a head turned
    that many degrees (about its x axis) from the devkit's frontal pose instead."""
    T = np.eye(4)
    if frontal_deg is None:
        T[:3, :3] = euler_to_matrix([stamp % 7 - 3.0, stamp % 11 - 5.0, 1.0], degrees=True)
    else:
        T[:3, :3] = DDPOSE_FRONTAL @ euler_to_matrix([frontal_deg, 0.0, 0.0], degrees=True)
    T[:3, 3] = [0.05, -0.1, 0.7]
    return T


def write_ddpose(root: Path, subject=1, scenario=2, stamps=(1000, 1100, 1200), labelled=(1000, 1200),
                 k_nested: bool = False, size=(64, 48), humanhash: str = "tango-alpha-bravo",
                 occlusion: dict | None = None, landmarks: bool = False,
                 frontal_deg: dict | None = None) -> Path:
    """One DD-Pose item: stamps.txt, t-camdriver-head.json, occlusion-labels.json (``occlusion``:
    stamp -> label, default "none" for all), 16-bit left images + camera json; with
    ``landmarks`` also pyhpe's optional small-resolution/driver-left-landmarks-68.json (68
    points about the image centre, per stamp); ``frontal_deg``: stamp -> the head's angle from
    the devkit's frontal pose (:func:`ddpose_transform`) for those stamps."""
    item = root / f"subject-{subject:02d}" / f"scenario-{scenario:02d}" / humanhash
    img_dir = item / "small-resolution" / "driver-left-img"
    img_dir.mkdir(parents=True, exist_ok=True)
    (item / "stamps.txt").write_text("\n".join(str(s) for s in stamps) + "\n")
    (item / "t-camdriver-head.json").write_text(
        json.dumps({str(s): ddpose_transform(s, (frontal_deg or {}).get(s)).tolist() for s in labelled}))
    labels = {s: "none" for s in stamps} | dict(occlusion or {})
    (item / "occlusion-labels.json").write_text(json.dumps({str(s): v for s, v in labels.items()}))
    if landmarks:
        pts = {str(s): face_like_points((size[0] / 2, size[1] / 2), min(size) / 5,
                                        np.random.default_rng(s)).tolist() for s in stamps}
        (item / "small-resolution" / "driver-left-landmarks-68.json").write_text(json.dumps(pts))
    for s in stamps:
        img = np.full((size[1], size[0]), (s // 100) * 256 + 77, np.uint16)
        assert cv2.imwrite(str(img_dir / f"{s}.png"), img)
        K = DDPOSE_K.tolist() if k_nested else DDPOSE_K.reshape(-1).tolist()
        cam = {"height": size[1], "width": size[0], "distortion_model": "plumb_bob", "D": [0.0] * 5,
               "K": K, "R": np.eye(3).reshape(-1).tolist(), "P": np.zeros(12).tolist(),
               "binning_x": 0, "binning_y": 0}
        (img_dir / f"{s}.json").write_text(json.dumps(cam))
    return item


def write_garbage(path: Path, data: bytes = b"this is not the file you expect\x00\x01") -> Path:
    path.write_bytes(data)
    return path

