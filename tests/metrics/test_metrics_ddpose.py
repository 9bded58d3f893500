"""pyhpe.metrics.ddpose against hand-computed cases: the devkit's frontal frame, its subsets
(easy / moderate / hard, full occlusion skipped, unlabelled frames dropped) and the per-subset
BMAE / MAE_r / MAE_t / recall."""

from __future__ import annotations

import numpy as np
import pytest

from pyhpe.geometry.rotation import euler_to_matrix
from pyhpe.metrics.ddpose import (
    R_CAMDRIVER_HEADFRONTAL,
    angle_from_frontal_deg,
    ddpose_report,
    subset_masks,
)

F = R_CAMDRIVER_HEADFRONTAL


def rx(deg):
    return euler_to_matrix([deg, 0.0, 0.0], degrees=True)  # pitch: about x


def ry(deg):
    return euler_to_matrix([0.0, deg, 0.0], degrees=True)  # yaw: about y


def test_frontal_frame_facts():
    # the devkit's frontal head: x towards the camera (−z_cam), y image right, z image up (−y_cam)
    np.testing.assert_array_equal(F[:, 0], [0, 0, -1])
    np.testing.assert_array_equal(F[:, 1], [1, 0, 0])
    np.testing.assert_array_equal(F[:, 2], [0, -1, 0])
    assert np.linalg.det(F) == pytest.approx(1.0)
    angles = angle_from_frontal_deg(np.stack([F, F @ rx(40), F @ ry(-75), np.eye(3)]))
    # head frame = camera axes is 120° from frontal: trace(F) = 0 -> cos = -1/2
    np.testing.assert_allclose(angles.numpy(), [0, 40, 75, 120], atol=1e-9)


def test_subset_masks_devkit_rules():
    angles = [10, 10, 34.9, 35.1, 59.9, 60.1, 20, 20, 20, 80]
    occ = ["none", "partial", "none-auto", "none", "partial-auto", "none", "full", "full-auto", None, "partial"]
    m = subset_masks(angles, occ)
    assert m["easy"].tolist() == [1, 0, 1, 0, 0, 0, 0, 0, 0, 0]
    assert m["moderate"].tolist() == [0, 1, 0, 1, 1, 0, 0, 0, 0, 0]
    assert m["hard"].tolist() == [0, 0, 0, 0, 0, 1, 0, 0, 0, 1]
    assert m["all"].tolist() == [1, 1, 1, 1, 1, 1, 0, 0, 0, 1]  # full skipped, unlabelled dropped
    kept = subset_masks(angles, occ, ignore_full_occlusion=False)
    assert kept["hard"].tolist() == [0, 0, 0, 0, 0, 1, 1, 1, 0, 1]  # full occlusion is hard
    assert kept["all"].tolist() == [1, 1, 1, 1, 1, 1, 1, 1, 0, 1]
    for name in ("easy", "moderate", "hard"):  # the three subsets partition "all"
        assert not (m[name] & ~m["all"]).any()
    assert (m["easy"].astype(int) + m["moderate"] + m["hard"] == m["all"]).all()


def test_subset_masks_bad_label():
    with pytest.raises(ValueError, match=r"unknown occlusion label\(s\) occluded; valid: none, none-auto"):
        subset_masks([1.0], ["occluded"])
    with pytest.raises(ValueError, match="2 angles but 1 occlusion"):
        subset_masks([1.0, 2.0], ["none"])


def _case():
    """8 frames (angles off the bin edges): (angle from frontal, occlusion, geodesic error or None = no prediction)."""
    frames = [(12, "none", 2), (12, "partial", 6), (42, "none", 8), (72, "none", 12),
              (22, "full", 30), (22, None, 30), (52, "partial-auto", None), (32, "none-auto", 4)]
    R_gt = np.stack([F @ rx(a) for a, _, _ in frames])
    R_pred = np.stack([R @ ry(e or 0) for R, (_, _, e) in zip(R_gt, frames)])
    t_gt = np.tile([0.05, -0.1, 0.7], (len(frames), 1))
    t_pred = t_gt + [0.003, -0.004, 0.012]  # |Δ| = 3, 4, 12 mm: Euclidean 13, per-axis mean 19/3
    return R_pred, t_pred, R_gt, t_gt, [o for _, o, _ in frames], [e is not None for *_, e in frames]


def test_report_by_hand():
    R_pred, t_pred, R_gt, t_gt, occ, predicted = _case()
    r = ddpose_report(R_pred, t_pred, R_gt, t_gt, occ, predicted)
    approx = lambda v: pytest.approx(v, abs=1e-9)
    # easy: frames 0 (12°, err 2) and 7 (32°, err 4): bins [10, 15) and [30, 35)
    assert r["easy"]["n"] == 2 and r["easy"]["recall"] == 1.0
    assert r["easy"]["bmae"] == approx(3.0) and r["easy"]["mae_r"] == approx(3.0)
    # moderate: frames 1 (12°, err 6), 2 (42°, err 8) and 6 (no prediction)
    assert r["moderate"]["n"] == 3 and r["moderate"]["n_predicted"] == 2
    assert r["moderate"]["recall"] == approx(2 / 3)
    assert r["moderate"]["bmae"] == approx(7.0) and r["moderate"]["mae_r"] == approx(7.0)
    # hard: frame 3 (72°, err 12), the last bin [70, 75)
    assert r["hard"]["n"] == 1 and r["hard"]["bmae"] == approx(12.0)
    assert r["hard"]["bmae_bins"]["70-75"] == approx(12.0)
    # all: 6 labelled, not fully occluded frames, 5 predicted; bins [10,15) = mean(2, 6) = 4,
    # [30,35) = 4, [40,45) = 8, [70,75) = 12 -> BMAE 7; MAE_r = (2+6+8+12+4)/5 = 6.4
    a = r["all"]
    assert (a["n"], a["n_predicted"]) == (6, 5) and a["recall"] == approx(5 / 6)
    assert a["bmae"] == approx(7.0) and a["mae_r"] == approx(6.4)
    assert a["bmae_bins"]["10-15"] == approx(4.0) and a["bmae_bins"]["0-5"] is None
    assert len(a["bmae_bins"]) == 15
    for name in ("all", "easy", "moderate", "hard"):
        assert r[name]["t_euclid_mm"] == approx(13.0)
        assert r[name]["mae_t_mm"] == approx(19 / 3)


def test_report_keeps_full_occlusion_when_asked():
    R_pred, t_pred, R_gt, t_gt, occ, predicted = _case()
    r = ddpose_report(R_pred, t_pred, R_gt, t_gt, occ, predicted, ignore_full_occlusion=False)
    # frame 4 (22°, full, err 30) joins hard and all: hard bins [20,25) = 30, [70,75) = 12
    assert r["hard"]["n"] == 2 and r["hard"]["bmae"] == pytest.approx(21.0)
    assert r["all"]["n"] == 7


def test_report_subset_without_predictions_or_bins():
    R_gt = np.stack([F @ rx(80), F @ rx(10)])
    occ = ["none", "none"]
    r = ddpose_report(R_gt, np.zeros((2, 3)), R_gt, np.zeros((2, 3)), occ)
    # hard holds one frame at 80°: no BMAE bin (the devkit's NaN), but MAE_r and recall exist
    assert r["hard"]["bmae"] is None and r["hard"]["mae_r"] == pytest.approx(0.0, abs=1e-6)
    assert r["moderate"] == {"n": 0, "n_predicted": 0, "recall": None, "bmae": None, "mae_r": None,
                             "mae_t_mm": None, "t_euclid_mm": None, "bmae_bins": None}
    r = ddpose_report(R_gt, np.zeros((2, 3)), R_gt, np.zeros((2, 3)), occ, predicted=[False, False])
    assert r["all"]["recall"] == 0.0 and r["all"]["mae_r"] is None


def test_report_bad_input():
    R_pred, t_pred, R_gt, t_gt, occ, _ = _case()
    with pytest.raises(ValueError, match="no DD-Pose frame to evaluate"):
        ddpose_report(R_pred, t_pred, R_gt, t_gt, [None] * len(occ))
    with pytest.raises(ValueError, match=r"t_pred must have shape \(8, 3\)"):
        ddpose_report(R_pred, t_pred[:3], R_gt, t_gt, occ)
    with pytest.raises(ValueError, match="predicted has 2 entries"):
        ddpose_report(R_pred, t_pred, R_gt, t_gt, occ, predicted=[True, False])
    bad = t_pred.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="t_pred holds NaN"):
        ddpose_report(R_pred, bad, R_gt, t_gt, occ)
