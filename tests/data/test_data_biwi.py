"""BIWI: FSA-Net npz loader, FSA's label formulas in closed form, raw BIWI 6DoF loader."""

from __future__ import annotations

import numpy as np
import pytest
from support.data_fixtures import (
    BIWI_K,
    BIWI_R_CAL,
    BIWI_T_CAL,
    CUBE_F,
    CUBE_V,
    biwi_head_pose,
    write_biwi_raw,
    write_garbage,
)

from pyhpe.data.biwi import (
    BIWINpz,
    euler_from_fsa_label,
    fsa_label_from_pose_matrix,
    write_biwi_npz,
)
from pyhpe.data.biwi_raw import BIWIRaw, read_obj, read_rgb_cal
from pyhpe.data.files import DataFileError
from pyhpe.geometry.camera import project_points
from pyhpe.geometry.rotation import euler_to_matrix

F = np.diag([-1.0, 1.0, 1.0])


def _rx(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _ry(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rz(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


# ---- FSA-Net label formulas ------------------------------------------------------------------

@pytest.mark.parametrize("deg", [-60.0, -7.5, 0.0, 33.0, 80.0])
def test_fsa_labels_of_single_axis_rotations(deg):
    a = np.deg2rad(deg)
    # pose.txt holds R; FSA transposes it, and its signs make pitch flip and yaw/roll keep
    np.testing.assert_allclose(fsa_label_from_pose_matrix(_rx(a)), [0, -deg, 0], atol=1e-9)
    np.testing.assert_allclose(fsa_label_from_pose_matrix(_ry(a)), [deg, 0, 0], atol=1e-9)
    np.testing.assert_allclose(fsa_label_from_pose_matrix(_rz(a)), [0, 0, deg], atol=1e-9)


def test_fsa_label_matrix_is_flip_conjugated_transpose():
    rng = np.random.default_rng(3)
    for angles in rng.uniform([-70, -80, -60], [70, 80, 60], size=(50, 3)):
        P = euler_to_matrix(angles, degrees=True)
        euler = euler_from_fsa_label(fsa_label_from_pose_matrix(P))
        np.testing.assert_allclose(euler_to_matrix(euler, degrees=True), F @ P.T @ F, atol=1e-12)


# ---- npz ---------------------------------------------------------------------------------------

def _npz(tmp_path, n=4, size=32, name="BIWI_test.npz"):
    images = np.zeros((n, size, size, 3), np.uint8)
    images[..., 0] = 10  # B
    images[..., 2] = 250  # R
    images[:, 0, 0, 1] = np.arange(n)  # a marker per row
    poses = np.array([[10.0 * i - 20, 5.0 - i, 2.0 * i] for i in range(n)])  # yaw, pitch, roll
    write_biwi_npz(tmp_path / name, images, poses)
    return tmp_path / name, images, poses


def test_npz_reads_back_labels_and_converts_bgr(tmp_path):
    path, _images, poses = _npz(tmp_path)
    with np.load(path) as raw:  # the exact FSA key set and types
        assert sorted(raw.files) == ["image", "img_size", "pose"] and int(raw["img_size"]) == 32
    data = BIWINpz(path)
    assert len(data) == 4
    for i in range(4):
        s = data[i]
        np.testing.assert_allclose(s.euler, [poses[i, 1], poses[i, 0], poses[i, 2]])
        np.testing.assert_allclose(s.R, euler_to_matrix(s.euler, degrees=True))
        assert tuple(s.image[5, 5]) == (250, 0, 10) and s.image[0, 0, 1] == i  # RGB
    assert tuple(BIWINpz(path, keep_bgr=True)[0].image[5, 5]) == (10, 0, 250)


def test_npz_bad_files(tmp_path):
    with pytest.raises(DataFileError, match="missing.npz: file not found"):
        BIWINpz(tmp_path / "missing.npz")
    with pytest.raises(DataFileError, match="junk.npz: not a readable .npz"):
        BIWINpz(write_garbage(tmp_path / "junk.npz"))
    np.savez(tmp_path / "nopose.npz", image=np.zeros((2, 8, 8, 3), np.uint8))
    with pytest.raises(DataFileError, match=r"nopose.npz: missing key\(s\) \['pose'\]"):
        BIWINpz(tmp_path / "nopose.npz")
    np.savez(tmp_path / "short.npz", image=np.zeros((2, 8, 8, 3), np.uint8), pose=np.zeros((3, 3)))
    with pytest.raises(DataFileError, match="short.npz: pose must be"):
        BIWINpz(tmp_path / "short.npz")


def test_npz_skip_bad_drops_non_finite_rows(tmp_path):
    poses = np.zeros((3, 3))
    poses[1, 0] = np.nan
    np.savez(tmp_path / "nan.npz", image=np.zeros((3, 8, 8, 3), np.uint8), pose=poses, img_size=8)
    with pytest.raises(DataFileError, match="nan.npz: non-finite pose"):
        BIWINpz(tmp_path / "nan.npz")
    data = BIWINpz(tmp_path / "nan.npz", skip_bad=True)
    assert len(data) == 2 and data.skipped == 1


# ---- raw ---------------------------------------------------------------------------------------

def test_raw_biwi_6dof_labels(tmp_path):
    write_biwi_raw(tmp_path, sequences=(1, 2), frames=(3, 4), missing_pose=((2, 4),))
    data = BIWIRaw(tmp_path)
    assert len(data) == 3  # the frame without a pose file is skipped
    s = data[1]
    R_head, T_head = biwi_head_pose(1, 4)
    np.testing.assert_allclose(s.R, BIWI_R_CAL @ R_head, atol=1e-8)
    np.testing.assert_allclose(s.t, (BIWI_R_CAL @ T_head + BIWI_T_CAL) / 1000, atol=1e-9)
    np.testing.assert_allclose(s.K, BIWI_K)
    np.testing.assert_allclose(euler_to_matrix(s.euler, degrees=True), s.R, atol=1e-8)
    np.testing.assert_allclose(s.vertices, CUBE_V / 1000)
    np.testing.assert_array_equal(s.faces, CUBE_F - 1)
    proj = project_points(s.vertices, s.R, s.t, s.K)
    np.testing.assert_allclose(s.bbox, [*proj.min(0), *proj.max(0)])
    np.testing.assert_allclose(s.extra["fsa_euler"], euler_from_fsa_label(fsa_label_from_pose_matrix(R_head)))
    assert s.subject == "01" and s.source.endswith("01/frame_00004_rgb.png")
    assert s.image.shape == (480, 640, 3) and s.image[0, 0, 0] == 80


def test_raw_biwi_parsers(tmp_path):
    write_biwi_raw(tmp_path, sequences=(1,), frames=(3,))
    cal = read_rgb_cal(tmp_path / "hpdb" / "01" / "rgb.cal")
    assert cal.size == (640, 480) and cal.distortion.shape == (4,)
    v, f = read_obj(tmp_path / "hpdb" / "01.obj")
    assert v.shape == (8, 3) and f.shape == (4, 3)


def test_raw_biwi_bad_files(tmp_path):
    write_biwi_raw(tmp_path, sequences=(1, 2), frames=(3, 4))
    seq1 = tmp_path / "hpdb" / "01"
    (seq1 / "frame_00003_pose.txt").write_text("1 0 0\n0 1\n")
    write_garbage(seq1 / "frame_00004_rgb.png")
    (tmp_path / "hpdb" / "02" / "rgb.cal").unlink()
    data = BIWIRaw(tmp_path)
    with pytest.raises(DataFileError, match="frame_00003_pose.txt: expected 3 rotation rows"):
        data.sample(0)
    with pytest.raises(DataFileError, match="frame_00004_rgb.png: not a readable image"):
        data.sample(1)
    with pytest.raises(DataFileError, match="02/rgb.cal: file not found"):
        data.sample(2)
    write_garbage(tmp_path / "hpdb" / "01.obj", b"v 1 2 x\n")
    with pytest.raises(DataFileError, match="01.obj: not a readable .obj"):
        read_obj(tmp_path / "hpdb" / "01.obj")
    skipping = BIWIRaw(tmp_path, skip_bad=True, load_mesh=False)
    assert len(skipping) == 2 and skipping.skipped == 2  # sequence 02 lacks rgb.cal
    with pytest.raises(DataFileError, match="no readable item"):
        skipping.sample(0)
    assert skipping.skipped == 4
