"""pyhpe.geometry.alignment: the geometric median (against a general-purpose minimiser of the
unsquared objective, on data points, invariances), TRGv2's reference offset (exact under an outlier
landmark, where the mean is not), t + R·ΔT (NumPy/torch, by hand and in its meaning), the JSON file."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import scipy.optimize
import torch

from pyhpe.geometry import (
    apply_reference_offset,
    geometric_median,
    landmarks_from_template,
    read_reference_offsets,
    reference_offset,
    write_reference_offsets,
)
from pyhpe.geometry.rotation import euler_to_matrix


def objective(y, points) -> float:
    return float(np.linalg.norm(points - y, axis=1).sum())


def scipy_median(points) -> np.ndarray:
    """An independent minimiser of Σ‖x_i − y‖: BFGS with the analytic gradient, then Nelder–Mead
    (derivative-free, copes with the kink at a data point) to polish."""
    def grad(y, points):
        d = y - points
        n = np.linalg.norm(d, axis=1)
        n = np.where(n == 0, np.inf, n)
        return (d / n[:, None]).sum(axis=0)

    res = scipy.optimize.minimize(objective, points.mean(axis=0), args=(points,), jac=grad,
                                  method="BFGS", options={"gtol": 1e-13, "maxiter": 10000})
    res = scipy.optimize.minimize(objective, res.x, args=(points,), method="Nelder-Mead",
                                  options={"xatol": 1e-13, "fatol": 1e-18, "maxiter": 20000,
                                           "initial_simplex": res.x + 1e-4 * np.vstack([np.zeros(3), np.eye(3)])})
    return res.x


# ---- geometric_median -----------------------------------------------------------------------------

@pytest.mark.parametrize("seed, n", [(0, 3), (1, 4), (2, 5), (3, 7), (4, 7), (5, 20), (6, 68)])
def test_median_matches_a_general_minimiser(seed, n):
    """Random landmark-sized sets (metres, ±8 cm): same point to 1e-7 m, objective no worse."""
    rng = np.random.default_rng(seed)
    points = rng.uniform(-0.08, 0.08, (n, 3))
    ours = geometric_median(points)
    ref = scipy_median(points)
    assert objective(ours, points) <= objective(ref, points) + 1e-14  # (rounding of the sum)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-7)
    # first-order optimality where the median is not a data point: the unit vectors cancel
    d = np.linalg.norm(points - ours, axis=1)
    if d.min() > 1e-9:
        assert np.linalg.norm(((ours - points) / d[:, None]).sum(axis=0)) < 1e-6


def test_median_with_outliers_and_clusters():
    """A tight cluster plus far points (the case where the mean fails): still the minimiser."""
    rng = np.random.default_rng(7)
    points = np.vstack([rng.normal(0.01, 1e-3, (9, 3)), rng.uniform(-0.5, 0.5, (4, 3))])
    ours = geometric_median(points)
    np.testing.assert_allclose(ours, scipy_median(points), rtol=0, atol=1e-7)
    assert np.linalg.norm(ours - 0.01) < 5e-3 < np.linalg.norm(points.mean(axis=0) - 0.01)


@pytest.mark.parametrize("n", [3, 5, 7, 9])
def test_collinear_odd_count_is_the_middle_point(n):
    """Points on a line: the median of an odd count is the middle one, returned exactly."""
    rng = np.random.default_rng(n)
    direction = rng.normal(size=3)
    s = rng.permutation(rng.uniform(-1.0, 1.0, n))
    points = np.array([0.2, -0.1, 0.5]) + s[:, None] * direction
    middle = points[np.argsort(s)[n // 2]]
    np.testing.assert_array_equal(geometric_median(points), middle)


def test_collinear_even_count_lands_between_the_middle_points():
    """An even count on a line: a whole segment is optimal; the answer is on it, objective minimal."""
    s = np.array([-2.0, -0.5, 0.25, 3.0])
    points = s[:, None] * np.array([1.0, 2.0, -1.0])
    y = geometric_median(points)
    t = y[0]  # the coordinate along the line (direction's x component is 1)
    np.testing.assert_allclose(y, t * np.array([1.0, 2.0, -1.0]), atol=1e-12)
    assert -0.5 - 1e-12 <= t <= 0.25 + 1e-12
    assert objective(y, points) == pytest.approx(objective(points[1], points), abs=1e-12)


def test_start_on_a_data_point_that_is_not_the_median():
    """Weiszfeld's weight is undefined at a data point: the centroid (the start) is the data point 0
    here, which is not the median (its other points' unit vectors sum to 2 > 1): Vardi–Zhang steps
    off it. Collinear −3, 0, 1, 1, 1: the median is the triple point 1 (odd count, middle)."""
    points = np.array([[-3.0, 0, 0], [0, 0, 0], [1, 0, 0], [1, 0, 0], [1, 0, 0]])
    assert np.array_equal(points.mean(axis=0), points[1])
    np.testing.assert_array_equal(geometric_median(points), [1.0, 0.0, 0.0])
    # the same in general position: the median is off every data point
    points = np.array([[0.0, 0, 0], [1, 0, 0], [1, 0.5, 0], [1, -0.5, 0.25], [-3, 0, -0.25]])
    assert np.array_equal(points.mean(axis=0), points[0])
    ours = geometric_median(points)
    assert np.linalg.norm(points - ours, axis=1).min() > 1e-3
    np.testing.assert_allclose(ours, scipy_median(points), rtol=0, atol=1e-7)


def test_start_on_a_data_point_that_is_the_median():
    """The centroid is the data point 0 and it is the median (unit vectors of the others sum to
    ‖(1 − 1/√3)(1, 1, 1)‖ ≈ 0.73 ≤ 1): returned as is."""
    points = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [-1, -1, -1]])
    np.testing.assert_array_equal(geometric_median(points), [0.0, 0.0, 0.0])
    ref = scipy_median(points)
    assert np.linalg.norm(ref) < 1e-6


def test_repeated_points_count_with_their_multiplicity():
    points = np.array([[0.0, 0, 0]] * 3 + [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1]])
    np.testing.assert_array_equal(geometric_median(points), [0.0, 0.0, 0.0])  # weight 3 ≥ ‖Σ units‖
    assert np.array_equal(geometric_median(np.ones((4, 3))), np.ones(3))
    assert np.array_equal(geometric_median([[1.0, 2.0, 3.0]]), [1.0, 2.0, 3.0])


def test_invariances():
    """Translation (and rotation/scale) equivariance, and determinism (bit-identical reruns)."""
    rng = np.random.default_rng(11)
    points = rng.uniform(-0.08, 0.08, (7, 3))
    y = geometric_median(points)
    c = np.array([0.3, -1.2, 2.5])
    np.testing.assert_allclose(geometric_median(points + c), y + c, rtol=0, atol=1e-12)
    R = euler_to_matrix(np.array([0.3, -0.7, 1.1]))
    np.testing.assert_allclose(geometric_median(1000.0 * points @ R.T), 1000.0 * R @ y, rtol=0, atol=1e-9)
    assert np.array_equal(geometric_median(points), y)


def test_max_iter_warns_and_bad_input_raises():
    rng = np.random.default_rng(3)
    points = rng.uniform(-1, 1, (9, 3))
    with pytest.warns(RuntimeWarning, match="no convergence"):
        geometric_median(points, max_iter=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        geometric_median(points)
    for bad, match in [(np.zeros((0, 3)), "empty"), (np.zeros((4, 2)), "shape"), (np.zeros(3), "shape"),
                       (np.array([[0.0, 0, 0], [np.nan, 0, 0]]), "NaN"),
                       (np.array([[0.0, np.inf, 0]]), "NaN or inf"), ([[1, 2, "x"]], "numbers")]:
        with pytest.raises(ValueError, match=match):
            geometric_median(bad)


# ---- reference_offset -----------------------------------------------------------------------------

def test_offset_recovers_the_shift_despite_an_outlier_landmark():
    """Test template = train template shifted by a known Δ (b = a − Δ), one landmark off by 2.7 cm:
    ΔT = Δ to rounding; the mean of the differences is pulled by the outlier / 7."""
    rng = np.random.default_rng(5)
    a = rng.uniform(-0.08, 0.08, (7, 3))  # 7 landmarks, like TRGv2's
    delta = np.array([-0.0003, 0.0086, -0.0159])  # TRGv2's mean ARKit -> BIWI offset
    b = a - delta
    b[4] += [0.02, -0.01, 0.015]  # a mislabelled landmark on the test template
    offset = reference_offset(a, b)
    np.testing.assert_allclose(offset, delta, rtol=0, atol=1e-12)
    mean = (a - b).mean(axis=0)
    assert np.linalg.norm(mean - delta) > 1e-3  # the mean is off by ~3.9 mm
    # without the outlier both agree
    np.testing.assert_allclose(reference_offset(a, a - delta), delta, rtol=0, atol=1e-12)


def test_offset_errors():
    a = np.zeros((7, 3))
    with pytest.raises(ValueError, match="landmark count mismatch: 7 train landmarks, 6 test"):
        reference_offset(a, np.zeros((6, 3)))
    with pytest.raises(ValueError, match="test landmarks contain NaN"):
        reference_offset(a, np.full((7, 3), np.nan))
    with pytest.raises(ValueError, match="empty"):
        reference_offset(np.zeros((0, 3)), np.zeros((0, 3)))


def test_landmarks_from_template():
    v = np.arange(30.0).reshape(10, 3)
    np.testing.assert_array_equal(landmarks_from_template(v, [9, 0, 4]), v[[9, 0, 4]])
    np.testing.assert_array_equal(landmarks_from_template(v, np.array([2], np.int32)), v[[2]])
    with pytest.raises(ValueError, match=r"landmark index 10 \(position 1\) out of range for a template of 10"):
        landmarks_from_template(v, [3, 10])
    with pytest.raises(ValueError, match="landmark index -1"):
        landmarks_from_template(v, [-1])
    with pytest.raises(ValueError, match="integers"):
        landmarks_from_template(v, [1.0, 2.0])
    with pytest.raises(ValueError, match="non-empty"):
        landmarks_from_template(v, [])
    with pytest.raises(ValueError, match=r"\(V, 3\)"):
        landmarks_from_template(np.zeros((10, 2)), [0])


# ---- apply_reference_offset -----------------------------------------------------------------------

def _by_hand(R, t, offset):
    B = len(t)
    out = np.array(t, dtype=np.float64)
    off = np.broadcast_to(offset, (B, 3))
    for b in range(B):
        for i in range(3):
            for j in range(3):
                out[b, i] += R[b, i, j] * off[b, j]
    return out


def test_apply_offset_numpy_and_torch_by_hand():
    rng = np.random.default_rng(2)
    R = euler_to_matrix(rng.uniform(-1, 1, (4, 3)))
    t = rng.uniform(-0.2, 0.2, (4, 3)) + [0, 0, 0.8]
    one = np.array([-0.0003, 0.0086, -0.0159])
    per = rng.uniform(-0.02, 0.02, (4, 3))
    for offset in (one, per):
        want = _by_hand(R, t, offset)
        np.testing.assert_allclose(apply_reference_offset(R, t, offset), want, rtol=0, atol=1e-15)
        got = apply_reference_offset(torch.from_numpy(R), torch.from_numpy(t), torch.from_numpy(offset))
        assert got.dtype == torch.float64
        np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=1e-15)
        got32 = apply_reference_offset(torch.from_numpy(R).float(), torch.from_numpy(t).float(), offset)
        assert got32.dtype == torch.float32
        np.testing.assert_allclose(got32.numpy(), want, rtol=0, atol=1e-6)
    # a quarter turn about y: R·(1, 2, 3) = (3, 2, −1)
    Ry = np.array([[[0.0, 0, 1], [0, 1, 0], [-1, 0, 0]]])
    np.testing.assert_array_equal(apply_reference_offset(Ry, np.zeros((1, 3)), [1.0, 2.0, 3.0]), [[3.0, 2.0, -1.0]])
    # differentiable in R, t and the offset
    Rt, tt = torch.from_numpy(R).requires_grad_(), torch.from_numpy(t).requires_grad_()
    ot = torch.from_numpy(one).requires_grad_()
    apply_reference_offset(Rt, tt, ot).sum().backward()
    assert Rt.grad is not None and tt.grad is not None and ot.grad is not None
    np.testing.assert_allclose(ot.grad.numpy(), R.sum(axis=(0, 1)), atol=1e-12)  # Σ_b Σ_i R[b, i, :]
    with pytest.raises(ValueError, match="offset must have shape"):
        apply_reference_offset(R, t, np.zeros(2))
    with pytest.raises(ValueError, match="R must have shape"):
        apply_reference_offset(np.zeros((4, 3)), t, one)


def test_aligned_pose_places_the_test_template_where_the_train_one_was_seen():
    """The meaning of the sign: a pose (R, t) of the train head frame sees train landmark a_i at
    R a_i + t; with t_aligned = t + R·ΔT, the test template's corresponding landmark lands on the
    same camera point: R b_i + t_aligned = R a_i + t."""
    rng = np.random.default_rng(9)
    a = rng.uniform(-0.08, 0.08, (7, 3))
    delta = np.array([0.001, 0.009, -0.016])
    b = a - delta
    R = euler_to_matrix(rng.uniform(-0.6, 0.6, (5, 3)))
    t = rng.uniform(-0.1, 0.1, (5, 3)) + [0, 0, 0.9]
    t_aligned = apply_reference_offset(R, t, reference_offset(a, b))
    np.testing.assert_allclose(b @ R.transpose(0, 2, 1) + t_aligned[:, None], a @ R.transpose(0, 2, 1) + t[:, None],
                               rtol=0, atol=1e-12)


# ---- the offsets file -----------------------------------------------------------------------------

def test_offsets_file_round_trip_and_validation(tmp_path):
    offsets = {"01": np.array([-0.00029, 0.0094, -0.01647]), "02": [0.0, 0.0, 0.0]}
    path = write_reference_offsets(tmp_path / "o.json", offsets, train_template="arkit.npy",
                                   landmarks={"train": [1, 2], "test": [3, 4]})
    back = read_reference_offsets(path)
    assert list(back) == ["01", "02"]
    np.testing.assert_array_equal(back["01"], offsets["01"])
    record = json.loads(path.read_text())
    assert (record["format"], record["version"], record["units"]) == ("pyhpe-reference-offsets", 1, "m")
    assert record["train_template"] == "arkit.npy" and record["landmarks"]["test"] == [3, 4]

    def broken(**change):
        rec = {**record, **change}
        p = tmp_path / "bad.json"
        p.write_text(json.dumps(rec))
        return p

    for change, match in [({"format": "other"}, "format"), ({"version": 2}, "version 2"),
                          ({"units": "mm"}, "units"), ({"offsets": {}}, "non-empty"),
                          ({"offsets": {"01": [1, 2]}}, "'01' must be 3 finite"),
                          ({"offsets": {"01": [1, 2, None]}}, "3 finite"),
                          ({"offsets": {"01": [1, 2, True]}}, "3 finite")]:
        with pytest.raises(ValueError, match=match):
            read_reference_offsets(broken(**change))
    (tmp_path / "nan.json").write_text(path.read_text().replace("0.0094", "NaN"))
    with pytest.raises(ValueError, match="3 finite"):
        read_reference_offsets(tmp_path / "nan.json")
    (tmp_path / "text.json").write_text("not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        read_reference_offsets(tmp_path / "text.json")
    with pytest.raises(FileNotFoundError, match="file not found"):
        read_reference_offsets(tmp_path / "none.json")
    with pytest.raises(ValueError, match="3 finite"):
        write_reference_offsets(tmp_path / "w.json", {"01": [np.nan, 0, 0]})


def test_the_released_trgv2_biwi_offsets_ship_with_pyhpe():
    """The 24 per-sequence ΔT decoded from TRGv2's release (trg.md §2.2): mean (−0.30, +8.59,
    −15.88) mm and mean norm ≈ 18.1 mm as recorded there; readable by name."""
    from pyhpe.geometry.alignment import read_reference_offsets

    offsets = read_reference_offsets("trgv2-biwi")
    assert sorted(offsets) == [f"{i:02d}" for i in range(1, 25)]
    table = np.stack([offsets[k] for k in sorted(offsets)]) * 1000
    np.testing.assert_allclose(table.mean(0), [-0.30, 8.59, -15.88], atol=0.015)
    assert np.linalg.norm(table, axis=1).mean() == pytest.approx(18.1, abs=0.1)
    np.testing.assert_allclose(offsets["09"] * 1000, [-0.35, 12.11, -16.10])
