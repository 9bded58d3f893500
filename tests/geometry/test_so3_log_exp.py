"""pyhpe.geometry.so3_exp / so3_log: against SciPy's rotation vectors, inverse of each other, and
accurate near 0 and near π where the textbook formulas lose precision."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from pyhpe.geometry import so3_exp, so3_log


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    a = rng.normal(size=(n, 3))
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def test_exp_and_log_match_scipy():
    w = Rotation.random(500, random_state=0).as_rotvec()  # |w| <= π
    R = so3_exp(w)
    np.testing.assert_allclose(R, Rotation.from_rotvec(w).as_matrix(), rtol=0, atol=1e-14)
    np.testing.assert_allclose(so3_log(Rotation.from_rotvec(w).as_matrix()), w, rtol=0, atol=1e-13)


def test_convention_is_the_active_right_handed_rotation():
    # +90° about z takes the x axis to the y axis (column vectors, R x)
    R = so3_exp(np.array([0.0, 0.0, np.pi / 2]))
    np.testing.assert_allclose(R @ [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], atol=1e-15)


@pytest.mark.parametrize("theta", [0.0, 1e-14, 1e-9, 1e-5, 0.3, np.pi / 2 - 1e-9, np.pi / 2 + 1e-9,
                                   2.5, np.pi - 1e-5, np.pi - 1e-9, np.pi - 1e-13])
def test_round_trip_at_every_angle(theta):
    a = _unit(np.random.default_rng(1), 64)
    w = theta * a
    R = so3_exp(w)
    w2 = so3_log(R)
    assert np.all(np.linalg.norm(w2, axis=1) <= np.pi + 1e-15)
    # relative precision near 0 (the rotation vector itself), absolute near π
    tol = max(1e-15, 1e-12 * theta) if theta < 1.0 else 1e-12
    np.testing.assert_allclose(w2, w, rtol=0, atol=tol)
    np.testing.assert_allclose(so3_exp(w2), R, rtol=0, atol=1e-14)


def test_log_at_exactly_pi_is_either_sign():
    for a in _unit(np.random.default_rng(2), 32):
        R = 2.0 * np.outer(a, a) - np.eye(3)  # the closed form of a half turn about a
        w = so3_log(R)
        assert min(np.abs(w - np.pi * a).max(), np.abs(w + np.pi * a).max()) < 1e-13
        np.testing.assert_allclose(so3_exp(w), R, atol=1e-14)


def test_batched_shapes_and_errors():
    w = np.random.default_rng(3).normal(size=(2, 5, 3))
    assert so3_exp(w).shape == (2, 5, 3, 3)
    assert so3_log(so3_exp(w)).shape == (2, 5, 3)
    assert so3_log(np.eye(3)).shape == (3,)
    with pytest.raises(ValueError):
        so3_exp(np.zeros(4))
    with pytest.raises(ValueError):
        so3_log(np.zeros((3, 4)))
