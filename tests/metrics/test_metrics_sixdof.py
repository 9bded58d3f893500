"""pyhpe.metrics.sixdof against scipy and hand-computed cases: the 'yxz' Euler angles of the 6DoF
tables, translation errors, ADD, dense-vertex errors, DD-Pose's BMAE and recall, the report."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

import pyhpe.metrics as M
from pyhpe.metrics.sixdof import (
    add_mm,
    bmae,
    dense_landmark_report,
    euler_yxz_deg,
    mae_r_yxz,
    recall,
    rotation_angle_deg,
    sixdof_report,
    translation_errors_mm,
    vertex_errors_mm,
)


def rx(deg):
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def ry(deg):
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def rz(deg):
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


RZ90 = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # exactly, by hand


# ------------------------------------------------------------------------------ Euler 'yxz'


def test_euler_yxz_equals_scipy_on_random_rotations():
    R = Rotation.random(2000, random_state=0).as_matrix()
    ref = Rotation.from_matrix(R).as_euler("yxz", degrees=True)
    for x in (R, torch.from_numpy(R), torch.from_numpy(R).float()):
        got = euler_yxz_deg(x)
        assert got.dtype == torch.float64 and got.shape == (2000, 3)
        tol = 1e-9 if x.dtype in (np.float64, torch.float64) else 1e-3
        np.testing.assert_allclose(got.numpy(), ref, rtol=0, atol=tol)


def test_euler_yxz_known_angles():
    # single axes: yaw about y, pitch about x, roll about z
    R = np.stack([ry(30), rx(20), rz(-40), np.eye(3)])
    expect = [[30, 0, 0], [0, 20, 0], [0, 0, -40], [0, 0, 0]]
    np.testing.assert_allclose(euler_yxz_deg(R).numpy(), expect, atol=1e-12)
    # the composition of the convention: R = Rz(roll) Rx(pitch) Ry(yaw)
    R = (rz(10) @ rx(-25) @ ry(60))[None]
    np.testing.assert_allclose(euler_yxz_deg(R).numpy(), [[60, -25, 10]], atol=1e-12)
    np.testing.assert_allclose(
        Rotation.from_matrix(R).as_euler("yxz", degrees=True), [[60, -25, 10]], atol=1e-12)


def test_euler_yxz_gimbal_lock_like_scipy():
    R = np.stack([rz(20) @ rx(90) @ ry(30), rz(20) @ rx(-90) @ ry(30)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns about the gimbal lock
        ref = Rotation.from_matrix(R).as_euler("yxz", degrees=True)
    got = euler_yxz_deg(R).numpy()
    np.testing.assert_allclose(got, ref, atol=1e-9)
    # by hand: roll 0, yaw = yaw + roll at +90°, yaw − roll at −90°
    np.testing.assert_allclose(got, [[50, 90, 0], [10, -90, 0]], atol=1e-9)


def test_mae_r_yxz_no_wraparound():
    R_gt = np.stack([ry(10), rx(5), rz(170)])
    R_pred = np.stack([ry(14), rx(-1), rz(-170)])
    m = mae_r_yxz(R_pred, R_gt)
    # yaw |14−10| = 4 → 4/3; pitch |−1−5| = 6 → 2; roll |−170−170| = 340 (no wrap) → 340/3
    assert m == pytest.approx({"yaw": 4 / 3, "pitch": 2.0, "roll": 340 / 3,
                               "mean": (4 / 3 + 2 + 340 / 3) / 3}, abs=1e-9)


# ------------------------------------------------------------------------------- translation


def test_translation_errors_two_frames_by_hand():
    t_gt = np.array([[0.0, 0.0, 0.5], [0.1, -0.05, 0.6]])
    # Δ (mm): frame 0 (3, 0, 4) → |Δ| 5; frame 1 (0, −6, 8) → |Δ| 10
    t_pred = t_gt + np.array([[0.003, 0.0, 0.004], [0.0, -0.006, 0.008]])
    e = translation_errors_mm(t_pred, torch.from_numpy(t_gt))
    assert e == pytest.approx({"tx": 1.5, "ty": 3.0, "tz": 6.0, "mae_t": 3.5, "euclid": 7.5},
                              abs=1e-9)


# ---------------------------------------------------------------------------------------- ADD


def test_add_equals_translation_error_when_rotations_agree():
    rng = np.random.default_rng(1)
    R = Rotation.random(3, random_state=1).as_matrix()
    t_gt = rng.normal(size=(3, 3))
    t_pred = t_gt + np.array([[0.003, 0.0, 0.004], [0.0, 0.0, 0.0], [0.0, -0.006, 0.008]])
    verts = rng.normal(scale=0.1, size=(3, 50, 3))
    np.testing.assert_allclose(add_mm(R, t_pred, R, t_gt, verts).numpy(), [5.0, 0.0, 10.0],
                               atol=1e-9)
    np.testing.assert_allclose(add_mm(R, t_pred, R, t_gt, verts[0]).numpy(), [5.0, 0.0, 10.0],
                               atol=1e-9)


def test_add_90_degree_rotation_single_vertex_by_hand():
    R_gt = np.stack([np.eye(3), np.eye(3)])
    R_pred = np.stack([RZ90, RZ90])
    t_gt = np.array([[0.0, 0.0, 0.5], [0.0, 0.0, 0.5]])
    t_pred = t_gt + np.array([[0.0, 0.0, 0.0], [0.1, 0.0, 0.0]])
    v = np.array([[0.1, 0.0, 0.0]])  # shared (V, 3)
    # frame 0: R_pred v = (0, .1, 0), R_gt v = (.1, 0, 0) → ‖(−.1, .1, 0)‖ = 100√2 mm
    # frame 1: plus Δt = (.1, 0, 0) → ‖(0, .1, 0)‖ = 100 mm
    expect = [100 * math.sqrt(2), 100.0]
    np.testing.assert_allclose(add_mm(R_pred, t_pred, R_gt, t_gt, v).numpy(), expect, atol=1e-9)
    np.testing.assert_allclose(add_mm(R_pred, t_pred, R_gt, t_gt, np.stack([v, v])).numpy(),
                               expect, atol=1e-9)
    # a second vertex on the rotation axis moves only with Δt: the mean over the two vertices
    v2 = np.array([[0.1, 0.0, 0.0], [0.0, 0.0, 0.05]])
    np.testing.assert_allclose(add_mm(R_pred, t_pred, R_gt, t_gt, v2).numpy(),
                               [50 * math.sqrt(2), (100.0 + 100.0) / 2], atol=1e-9)


# ----------------------------------------------------------------------------------- vertices


def _vertex_case():
    v_gt = np.zeros((4, 2, 3))
    v_pred = np.array([
        [[0.003, 0, 0.004], [0, 0, 0]],  # (5 + 0) / 2 = 2.5 mm
        [[0.001, 0, 0], [0, 0.002, 0]],  # (1 + 2) / 2 = 1.5
        [[0.006, 0.008, 0], [0, 0, 0.01]],  # (10 + 10) / 2 = 10
        [[0.001, 0, 0], [0.001, 0, 0]],  # 1
    ])
    return v_pred, v_gt


def test_vertex_errors_and_dense_report():
    v_pred, v_gt = _vertex_case()
    np.testing.assert_allclose(vertex_errors_mm(v_pred, v_gt).numpy(), [2.5, 1.5, 10.0, 1.0],
                               atol=1e-9)
    # even count: the median is the mean of the middle two (1.5, 2.5), as np.median
    assert dense_landmark_report(v_pred, v_gt) == pytest.approx({"median": 2.0, "mean": 3.75})
    assert dense_landmark_report(v_pred[:3], v_gt[:3]) == pytest.approx(
        {"median": 2.5, "mean": 14 / 3})


# ------------------------------------------------------------------------------ BMAE, recall


def test_rotation_angle_from_frontal():
    R = np.stack([np.eye(3), RZ90, ry(30), rz(20) @ rx(-90) @ ry(30)])
    np.testing.assert_allclose(rotation_angle_deg(R).numpy(), [0.0, 90.0, 30.0,
                               Rotation.from_matrix(R[3]).magnitude() * 180 / math.pi],
                               atol=1e-6)


def test_bmae_hand_made_frames():
    angles = np.array([1.0, 4.0, 5.0, 74.9, 75.0, 80.0])
    errors = np.array([2.0, 4.0, 6.0, 9.0, 100.0, 50.0])
    # bins: [0,5) → (2+4)/2 = 3; [5,10) → 6 (5 belongs to it); [10,15) … [65,70) empty;
    # [70,75) → 9; 75 and 80 are excluded. BMAE = (3 + 6 + 9) / 3 = 6 (the frame mean would be 5.25)
    value, per_bin = bmae(errors, angles)
    assert value == pytest.approx(6.0)
    assert list(per_bin) == [(lo, lo + 5) for lo in range(0, 75, 5)]
    assert per_bin[(0, 5)] == pytest.approx(3.0)
    assert per_bin[(5, 10)] == pytest.approx(6.0)
    assert per_bin[(10, 15)] is None
    assert per_bin[(70, 75)] == pytest.approx(9.0)
    # the same bins from rotations (angles kept off the bin edges, which arccos may round across):
    # errors are geodesic angles, angles from frontal; torch inputs
    R_gt = np.stack([ry(1), ry(4), rx(6), rz(74), rx(76), ry(80)])
    R_pred = np.stack([ry(3), ry(8), rx(0), rz(83), rx(176), ry(30)])
    v2, _ = bmae(M.geodesic_errors_deg(R_pred, R_gt), rotation_angle_deg(torch.from_numpy(R_gt)))
    assert v2 == pytest.approx(6.0, abs=1e-6)


def test_bmae_bad_inputs():
    with pytest.raises(ValueError, match="no frame"):
        bmae([1.0, 2.0], [75.0, 90.0])
    with pytest.raises(ValueError, match="shapes"):
        bmae([1.0, 2.0], [3.0])
    with pytest.raises(ValueError, match="NaN"):
        bmae([1.0, float("nan")], [3.0, 4.0])
    with pytest.raises(ValueError, match=">= 0"):
        bmae([1.0], [-3.0])


def test_recall():
    assert recall(98, 100) == pytest.approx(0.98)
    assert recall(0, 5) == 0.0
    assert recall(np.int64(5), 5) == 1.0
    for bad in ((1, 0), (6, 5), (-1, 5)):
        with pytest.raises(ValueError):
            recall(*bad)
    with pytest.raises(TypeError):
        recall(2.5, 5)


# ------------------------------------------------------------------------------------ report


def test_sixdof_report_keys_and_values():
    R_gt = np.stack([np.eye(3), np.eye(3)])
    R_pred = np.stack([ry(10), np.eye(3)])
    t_gt = np.array([[0.0, 0.0, 0.5], [0.1, -0.05, 0.6]])
    t_pred = t_gt + np.array([[0.003, 0.0, 0.004], [0.0, -0.006, 0.008]])
    base = {"n", "mae_r", "yaw", "pitch", "roll", "ge", "tx_mm", "ty_mm", "tz_mm", "mae_t_mm",
            "t_euclid_mm"}
    rep = sixdof_report(R_pred, t_pred, R_gt, t_gt)
    assert set(rep) == base
    assert rep["n"] == 2 and all(type(v) is float for k, v in rep.items() if k != "n")
    assert rep["yaw"] == pytest.approx(5.0) and rep["pitch"] == pytest.approx(0.0, abs=1e-12)
    assert rep["mae_r"] == pytest.approx(5 / 3) and rep["ge"] == pytest.approx(5.0)
    assert rep["mae_t_mm"] == pytest.approx(3.5) and rep["t_euclid_mm"] == pytest.approx(7.5)

    v = np.array([[0.0, 0.0, 0.0]])  # a vertex at the origin: ADD = |Δt|
    rep = sixdof_report(R_pred, t_pred, R_gt, t_gt, vertices_gt=v)
    assert set(rep) == base | {"add_mm"} and rep["add_mm"] == pytest.approx(7.5)

    v_pred, v_gt = _vertex_case()
    rep = sixdof_report(R_pred, t_pred, R_gt, t_gt, vertices_gt=v_gt[:2], vertices_pred=v_pred[:2])
    assert set(rep) == base | {"add_mm", "vertex_median_mm", "vertex_mean_mm"}
    assert rep["vertex_median_mm"] == pytest.approx(2.0)
    assert rep["vertex_mean_mm"] == pytest.approx(2.0)
    assert rep["add_mm"] == pytest.approx(7.5)
    assert M.sixdof_report is sixdof_report


# -------------------------------------------------------------------------------- bad inputs


def test_bad_inputs_raise():
    R, t = np.stack([np.eye(3)] * 2), np.zeros((2, 3))
    with pytest.raises(ValueError, match="same number of frames"):
        translation_errors_mm(t, t[:1])
    with pytest.raises(ValueError, match="same number of frames"):
        sixdof_report(R, t, R[:1], t)
    with pytest.raises(ValueError, match=r"R_gt must be \(N, 3, 3\)"):
        mae_r_yxz(R, np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"t_pred must be \(N, 3\)"):
        translation_errors_mm(np.zeros((2, 2)), t)
    with pytest.raises(ValueError, match="vertices"):
        add_mm(R, t, R, t, np.zeros((3, 4, 3)))
    with pytest.raises(ValueError, match="vertices"):
        add_mm(R, t, R, t, np.zeros((4, 2)))
    with pytest.raises(ValueError, match="v_pred shape"):
        vertex_errors_mm(np.zeros((2, 4, 3)), np.zeros((2, 5, 3)))
    with pytest.raises(ValueError, match="no frames"):
        mae_r_yxz(np.zeros((0, 3, 3)), np.zeros((0, 3, 3)))
    with pytest.raises(ValueError, match="vertices_pred needs vertices_gt"):
        sixdof_report(R, t, R, t, vertices_pred=np.zeros((2, 4, 3)))
    # NaN / inf never become a NaN metric
    Rn = R.copy()
    Rn[1, 0, 0] = np.nan
    with pytest.raises(ValueError, match="R_pred holds NaN"):
        sixdof_report(Rn, t, R, t)
    with pytest.raises(ValueError, match="NaN or inf"):
        euler_yxz_deg(torch.from_numpy(Rn))
    ti = t.copy()
    ti[0, 2] = np.inf
    with pytest.raises(ValueError, match="t_gt holds NaN or inf"):
        translation_errors_mm(t, ti)
    vn = np.zeros((2, 4, 3))
    vn[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        add_mm(R, t, R, t, vn)
    with pytest.raises(ValueError, match="NaN"):
        dense_landmark_report(vn, np.zeros((2, 4, 3)))
    with pytest.raises(TypeError):
        euler_yxz_deg(np.array([["a"] * 3] * 3, dtype=object)[None])
