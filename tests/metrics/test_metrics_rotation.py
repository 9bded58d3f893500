"""pyhpe.metrics against closed forms: wrap-around, the 6DRepNet fold, geodesic angles, gimbal lock."""

import math

import numpy as np
import pytest
import torch

from pyhpe.geometry.rotation import euler_to_matrix
from pyhpe.metrics import (
    angle_errors,
    euler_mae,
    geodesic_errors_deg,
    mean_rotation,
    pose_report,
    within_99,
)


def test_wraparound_both_formulas():
    pred = torch.tensor([179.0, -179.0, 10.0, 350.0])
    gt = torch.tensor([-179.0, 179.0, -10.0, -5.0])
    for f in ("6drepnet", "wrap360"):
        assert angle_errors(pred, gt, f).tolist() == pytest.approx([2.0, 2.0, 20.0, 5.0])


def test_6drepnet_folds_errors_above_90_wrap360_does_not():
    pred, gt = torch.tensor([0.0, 0.0, 0.0]), torch.tensor([100.0, 170.0, -135.0])
    # 6DRepNet: |p+180-g| etc. -> 80, 10, 45; clean form: 100, 170, 135
    assert angle_errors(pred, gt, "6drepnet").tolist() == pytest.approx([80.0, 10.0, 45.0])
    assert angle_errors(pred, gt, "wrap360").tolist() == pytest.approx([100.0, 170.0, 135.0])


def test_euler_mae_order_and_mean():
    gt = np.zeros((2, 3))
    pred = np.array([[1.0, 2.0, 3.0], [3.0, 4.0, 5.0]])  # (pitch, yaw, roll)
    m = euler_mae(pred, gt, "wrap360")
    assert m == pytest.approx({"pitch": 2.0, "yaw": 3.0, "roll": 4.0, "mean": 3.0})
    with pytest.raises(ValueError):
        euler_mae(pred, gt, "nope")
    with pytest.raises(ValueError):
        euler_mae(pred[:1], gt)


def test_geodesic_closed_form_single_axis():
    angles = torch.tensor([0.0, 10.0, 90.0, 179.0])
    R1 = euler_to_matrix(torch.stack([torch.zeros(4), angles, torch.zeros(4)], 1), degrees=True)
    R0 = torch.eye(3).expand(4, 3, 3)
    assert geodesic_errors_deg(R1, R0).tolist() == pytest.approx(angles.tolist(), abs=1e-4)
    # composition: Rz(a)·Rz(b)ᵀ is a rotation by a - b
    Ra = euler_to_matrix(torch.tensor([[0.0, 0.0, 50.0]]), degrees=True)
    Rb = euler_to_matrix(torch.tensor([[0.0, 0.0, -20.0]]), degrees=True)
    assert geodesic_errors_deg(Ra, Rb).item() == pytest.approx(70.0, abs=1e-4)


def test_gimbal_branch_euler_error_but_zero_geodesic():
    # yaw = 90°: the decomposition puts all of pitch - roll into pitch with roll = 0, so the
    # label angles differ from the decoded ones although the rotation is predicted exactly.
    gt = torch.tensor([[30.0, 90.0, 20.0]], dtype=torch.float64)
    R = euler_to_matrix(gt, degrees=True).to(torch.float32)
    rep = pose_report(R, R, gt)
    assert rep["geodesic_deg"] == pytest.approx(0.0, abs=0.05)
    # decoded: roll 0, pitch = 30 - 20 = 10 -> errors pitch 20, roll 20 (yaw within float noise)
    assert rep["mae_wrap360"]["pitch"] == pytest.approx(20.0, abs=0.1)
    assert rep["mae_wrap360"]["roll"] == pytest.approx(20.0, abs=0.1)
    assert rep["mae_wrap360"]["yaw"] < 0.1


def test_decoding_beyond_90_yaw_jumps_and_6drepnet_formula_hides_it():
    # (10, 95, 5) decodes to (-170, 85, -175): the ±180 candidates hide pitch/roll, not the yaw
    gt = torch.tensor([[10.0, 95.0, 5.0]], dtype=torch.float64)
    R = euler_to_matrix(gt, degrees=True).to(torch.float32)
    rep = pose_report(R, R, gt)
    assert rep["mae_6drepnet"]["pitch"] == pytest.approx(0.0, abs=1e-3)
    assert rep["mae_6drepnet"]["roll"] == pytest.approx(0.0, abs=1e-3)
    assert rep["mae_6drepnet"]["yaw"] == pytest.approx(10.0, abs=1e-3)  # 2·(95 − 90)
    assert rep["mae_wrap360"]["pitch"] == pytest.approx(180.0, abs=1e-3)


def test_within_99_inclusive():
    e = torch.tensor([[99.0, 0, 0], [0, -99.0, 0], [0, 0, 99.01], [-120, 5, 5]])
    assert within_99(e).tolist() == [True, True, False, False]


def test_mean_rotation_recovers_a_common_rotation():
    base = euler_to_matrix(torch.tensor([[10.0, -20.0, 5.0]]), degrees=True)[0]
    # symmetric perturbations about the x axis around `base` average back to it
    d = euler_to_matrix(torch.tensor([[15.0, 0, 0], [-15.0, 0, 0]]), degrees=True)
    Rs = base @ d
    M = mean_rotation(Rs)
    assert torch.allclose(M, base.float(), atol=1e-5)
    assert math.isclose(torch.det(M).item(), 1.0, abs_tol=1e-5)
