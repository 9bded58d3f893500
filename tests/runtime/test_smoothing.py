"""pyhpe.runtime.smoothing: the One Euro filter against closed forms (exponential low-pass, ramp lag),
its jitter reduction, and the SO(3) version against the scalar filter on the angle of a fixed-axis
rotation, across the ±180° wrap where filtering Euler angles fails."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pyhpe.geometry import euler_to_matrix_scalar, so3_exp, so3_log
from pyhpe.runtime.smoothing import OneEuroFilter, OneEuroRotation, PoseSmoother

FPS = 30.0


def _geodesic(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    return np.linalg.norm(so3_log(np.swapaxes(A, -1, -2) @ B), axis=-1)


def _run(f, times, xs) -> np.ndarray:
    return np.stack([np.asarray(f(t, x)) for t, x in zip(times, xs, strict=True)])


# --- OneEuroFilter ------------------------------------------------------------------------------

def test_first_call_returns_the_input():
    assert OneEuroFilter()(0.0, 3.5) == 3.5
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(OneEuroFilter(beta=1.0)(10.0, x), x)


def test_beta_zero_is_the_exponential_lowpass_with_nonuniform_dt():
    rng = np.random.default_rng(0)
    fc = 1.3
    times = np.cumsum(rng.uniform(0.01, 0.08, 200))
    xs = rng.normal(size=(200, 2))
    got = _run(OneEuroFilter(min_cutoff=fc, beta=0.0), times, xs)
    tau = 1.0 / (2.0 * math.pi * fc)
    ref = [xs[0]]
    for k in range(1, len(xs)):
        alpha = 1.0 / (1.0 + tau / (times[k] - times[k - 1]))
        ref.append(ref[-1] + alpha * (xs[k] - ref[-1]))
    np.testing.assert_allclose(got, np.stack(ref), rtol=0, atol=1e-12)


def test_step_response_closed_form():
    # uniform dt, input 0 then 1: y_n = 1 − (1 − alpha)^n
    fc, dt = 1.0, 1.0 / FPS
    alpha = 1.0 / (1.0 + 1.0 / (2.0 * math.pi * fc * dt))
    f = OneEuroFilter(min_cutoff=fc, beta=0.0)
    f(0.0, 0.0)
    ys = [f(n * dt, 1.0) for n in range(1, 40)]
    np.testing.assert_allclose(ys, 1.0 - (1.0 - alpha) ** np.arange(1, 40), rtol=0, atol=1e-14)


def test_jitter_reduction_on_a_static_signal():
    # white noise through a first-order low-pass: std ratio sqrt(alpha / (2 − alpha)) (0.31 at
    # 30 fps, fc = 1 Hz); frame-to-frame changes: alpha / sqrt(2 − alpha) (0.13)
    rng = np.random.default_rng(1)
    n = 6000
    xs = 5.0 + rng.normal(scale=0.1, size=n)
    times = np.arange(n) / FPS
    ys = _run(OneEuroFilter(min_cutoff=1.0, beta=0.0), times, xs)[100:]
    alpha = 1.0 / (1.0 + FPS / (2.0 * math.pi))
    assert ys.std() / 0.1 == pytest.approx(math.sqrt(alpha / (2 - alpha)), rel=0.05)
    ratio = np.diff(ys).std() / np.diff(xs[100:]).std()
    assert ratio == pytest.approx(alpha / math.sqrt(2 - alpha), rel=0.05)


@pytest.mark.parametrize("beta", [0.0, 0.5, 3.0])
def test_ramp_lag_is_at_most_delay_s(beta):
    rng = np.random.default_rng(2)
    v = 0.7  # units per second
    times = np.cumsum(rng.uniform(0.5, 1.5, 150) / FPS)  # non-uniform, ~30 fps
    f = OneEuroFilter(min_cutoff=1.0, beta=beta)
    ys = _run(f, times, v * times)
    lag_s = (v * times[-1] - ys[-1]) / v
    assert f.delay_s == pytest.approx(1.0 / (2.0 * math.pi))
    assert lag_s <= f.delay_s + 1e-9
    if beta == 0.0:  # the discrete filter lags a ramp by exactly tau, whatever the dt
        assert lag_s == pytest.approx(f.delay_s, rel=1e-6)
    else:  # beta > 0 raises the cutoff to min_cutoff + beta·v
        assert lag_s == pytest.approx(1.0 / (2.0 * math.pi * (1.0 + beta * v)), rel=1e-3)


def test_filter_errors():
    f = OneEuroFilter()
    f(1.0, np.zeros(3))
    with pytest.raises(ValueError, match="increase"):
        f(1.0, np.zeros(3))
    with pytest.raises(ValueError, match="shape"):
        f(2.0, np.zeros(4))
    with pytest.raises(ValueError):
        OneEuroFilter(min_cutoff=0.0)
    with pytest.raises(ValueError):
        OneEuroFilter(beta=-1.0)


# --- OneEuroRotation ----------------------------------------------------------------------------

def test_fixed_axis_rotation_equals_the_scalar_filter_on_the_angle():
    rng = np.random.default_rng(3)
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    n = 120
    times = np.cumsum(rng.uniform(0.6, 1.4, n) / FPS)
    # a turn through 180° (2.5 -> 4.4 rad) with 1° of noise: the unwrapped angle is the reference
    angles = np.linspace(2.5, 4.4, n) + rng.normal(scale=np.radians(1.0), size=n)
    scalar = OneEuroFilter(min_cutoff=1.0, beta=0.8, d_cutoff=1.5)
    rot = OneEuroRotation(min_cutoff=1.0, beta=0.8, d_cutoff=1.5)
    for t, a in zip(times, angles, strict=True):
        got = rot(t, so3_exp(a * axis))
        np.testing.assert_allclose(got, so3_exp(scalar(t, a) * axis), rtol=0, atol=1e-10)


def test_output_is_always_a_rotation():
    rng = np.random.default_rng(4)
    r = OneEuroRotation(beta=2.0)
    for k in range(300):
        R = so3_exp(rng.normal(scale=1.0, size=3)) + rng.normal(scale=1e-3, size=(3, 3))  # noisy
        out = r(k / FPS, R)
        np.testing.assert_allclose(out @ out.T, np.eye(3), rtol=0, atol=1e-12)
        assert np.linalg.det(out) == pytest.approx(1.0, abs=1e-12)


def _static_jitter(beta: float) -> float:
    rng = np.random.default_rng(5)
    n = 1500
    R0 = euler_to_matrix_scalar(10.0, -35.0, 5.0)
    Rs = R0 @ so3_exp(rng.normal(scale=np.radians(1.0), size=(n, 3)))  # 1° per axis per frame
    r = OneEuroRotation(min_cutoff=1.0, beta=beta)
    out = np.stack([r(k / FPS, R) for k, R in enumerate(Rs)])
    raw = _geodesic(Rs[1:], Rs[:-1])[60:]
    smooth = _geodesic(out[1:], out[:-1])[60:]
    return raw.std() / smooth.std()


def test_rotation_jitter_reduction_on_a_static_head():
    # std of the geodesic change between frames, 1° of noise per axis, 30 fps, min_cutoff 1 Hz:
    # measured 7.8× with beta = 0 and 6.1× with the default beta (1 Hz per rad/s)
    assert _static_jitter(0.0) > 7.0
    assert _static_jitter(OneEuroRotation().beta) > 5.0


@pytest.mark.parametrize("beta", [0.0, 1.0])
def test_rotation_ramp_lag_is_at_most_delay_s(beta):
    w = np.radians(90.0) * np.array([0.3, 0.9, 0.1]) / np.linalg.norm([0.3, 0.9, 0.1])  # 90°/s
    R0 = euler_to_matrix_scalar(20.0, 0.0, -10.0)
    r = OneEuroRotation(min_cutoff=1.0, beta=beta)
    times = np.arange(90) / FPS
    for t in times:
        out = r(t, so3_exp(w * t) @ R0)
    lag_s = _geodesic(out, so3_exp(w * times[-1]) @ R0) / np.linalg.norm(w)
    assert lag_s <= r.delay_s + 1e-9
    if beta == 0.0:
        assert lag_s == pytest.approx(r.delay_s, rel=1e-6)


def _decode(R: np.ndarray) -> np.ndarray:
    """Euler angles (pitch, yaw, roll) by the documented decomposition (docs/conventions.md)."""
    s = math.hypot(R[0, 0], R[1, 0])
    return np.array([math.atan2(R[2, 1], R[2, 2]), math.atan2(-R[2, 0], s),
                     math.atan2(R[1, 0], R[0, 0])])


@pytest.mark.parametrize("start,stop", [((10.0, 20.0, 150.0), (10.0, 20.0, 210.0)),   # roll past 180°
                                        ((15.0, 60.0, -5.0), (15.0, 120.0, -5.0))])   # yaw past 90°
def test_geodesic_filter_crosses_the_euler_wrap(start, stop):
    n = 45
    times = np.arange(n) / FPS
    truth = [euler_to_matrix_scalar(*(np.array(start) + (np.array(stop) - start) * k / (n - 1)))
             for k in range(n)]
    speed = np.radians(60.0) * FPS / (n - 1)  # rad/s
    rot, euler = OneEuroRotation(), OneEuroFilter(beta=OneEuroRotation().beta)
    err_rot, err_euler = [], []
    for t, R in zip(times, truth, strict=True):
        err_rot.append(_geodesic(rot(t, R), R))
        e = euler(t, _decode(R))
        err_euler.append(_geodesic(euler_to_matrix_scalar(*np.degrees(e)), R))
    # on SO(3): never more than the lag at this speed; on Euler angles: a jump of tens of degrees
    assert max(err_rot) <= speed * rot.delay_s + 1e-9
    assert np.degrees(max(err_euler)) > 30.0


def test_rotation_errors():
    r = OneEuroRotation()
    with pytest.raises(ValueError, match="det"):
        r(0.0, -np.eye(3))
    with pytest.raises(ValueError):
        r(0.0, np.eye(4))


# --- PoseSmoother -------------------------------------------------------------------------------

def _poses(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    R = so3_exp(np.cumsum(rng.normal(scale=0.05, size=(n, 3)), axis=0))
    t = np.array([0.0, 0.0, 0.8]) + rng.normal(scale=0.01, size=(n, 3))
    return R, t


def test_pose_smoother_keeps_ids_independent():
    RA, tA = _poses(6, 40)
    RB, tB = _poses(7, 40)
    s = PoseSmoother()
    refR, reft = OneEuroRotation(beta=s.beta), OneEuroFilter(beta=s.beta_t)
    for k in range(40):
        t = k / FPS
        ids, R, tv = [0], [RA[k]], [tA[k]]
        if 10 <= k < 30:  # id 1 comes and goes, in front of id 0 in the list
            ids, R, tv = [1, 0], [RB[k], RA[k]], [tB[k], tA[k]]
        out_R, out_t = s(t, ids, np.stack(R), np.stack(tv))
        i0 = ids.index(0)
        np.testing.assert_allclose(out_R[i0], refR(t, RA[k]), atol=1e-14)
        np.testing.assert_allclose(out_t[i0], reft(t, tA[k]), atol=1e-14)
    assert s.ids == [0, 1]
    assert s.delay_s == pytest.approx(1.0 / (2.0 * math.pi * s.min_cutoff))


def test_pose_smoother_forget_and_no_translation():
    RA, _ = _poses(8, 3)
    s = PoseSmoother()
    s(0.0, [0, 1], np.stack([RA[0], RA[0]]))
    s.forget([0])
    assert s.ids == [0]
    out_R, out_t = s(0.1, [0, 1], np.stack([RA[1], RA[2]]), None)
    assert out_t is None
    np.testing.assert_allclose(out_R[1], RA[2], atol=1e-14)  # id 1 starts again: its input
    assert not np.allclose(out_R[0], RA[1])  # id 0 kept its state
    R0, t0 = s(0.2, [], np.zeros((0, 3, 3)), np.zeros((0, 3)))
    assert R0.shape == (0, 3, 3) and t0.shape == (0, 3)
    with pytest.raises(ValueError):
        s(0.3, [0, 0], np.stack([RA[0], RA[0]]))
    with pytest.raises(ValueError):
        s(0.3, [0], RA[:1], np.zeros((2, 3)))
