"""Pose smoothing for video: the One Euro filter (Casiez, Roussel & Vogel, CHI 2012) on vectors and
on SO(3).

Why One Euro: a head pose estimator run frame by frame jitters (each frame is an independent
guess), and a plain low-pass filter trades that jitter for lag. The One Euro filter is a first-order
low-pass whose cutoff rises with the signal's speed, fc = min_cutoff + beta·|speed|: a still head
gets a low cutoff (strong smoothing), a turning head a high one (little lag). It needs no model of
the motion and has three parameters with a physical meaning.

Each step, with dt the time since the previous sample (seconds, any spacing) and
alpha(fc) = 1 / (1 + tau/dt), tau = 1 / (2π fc) (the exact first-order low-pass over dt):

    speed  = (x − x_prev) / dt             (between the raw samples, as the authors' code does)
    ŝ      = ŝ_prev + alpha(d_cutoff)·(speed − ŝ_prev)
    fc     = min_cutoff + beta·|ŝ|
    x̂      = x̂_prev + alpha(fc)·(x − x̂_prev)

Taking the speed between raw samples (not from the filtered value, as some re-implementations do)
makes ŝ an unbiased estimate of the true speed, so beta means "Hz per unit of speed" at any frame
rate. :class:`OneEuroFilter` filters each element of an array on its own.

On SO(3) (:class:`OneEuroRotation`) the speed is the angular velocity between the raw samples,
ω = log(R R_prevᵀ) / dt (rad/s, camera frame, so that successive speeds add in one frame) and |ŝ|
its norm; the estimate moves along the geodesic toward the new sample,
R̂ = R̂_prev exp(alpha·log(R̂_prevᵀ R)). No Euler angles are involved, so nothing jumps at yaw ±90°
or roll ±180°, and the output is always a rotation. For rotations about one fixed axis this is
exactly the scalar filter on the (unwrapped) angle.

Lag: for a constant-speed input (a ramp), the discrete filter above with a fixed cutoff fc settles
exactly tau = 1/(2π fc) seconds behind (solve e = (1 − alpha)(e + v·dt) for the error e: e = v·tau),
whatever the frame rate. With beta > 0 the cutoff is never below min_cutoff, so
``delay_s = 1 / (2π min_cutoff)`` is an upper bound on the steady-state lag (0.159 s at 1 Hz).

Units: min_cutoff and d_cutoff are in Hz; beta is in Hz per unit of speed, so it depends on the
signal's unit — Hz per (rad/s) for rotation, Hz per (m/s) for translation in metres (a translation
in millimetres needs a beta 1000 times smaller).

Defaults, for 25–30 fps head pose video (measured at 30 fps; the rotation jitter and lag figures
are asserted in tests/runtime/test_smoothing.py):
- ``min_cutoff = 1.0`` Hz (the paper's suggested start): at 30 fps alpha ≈ 0.17, which cuts the
  frame-to-frame jitter of a still head ~7–8 times with beta = 0; the lag bound is 0.159 s.
- ``d_cutoff = 1.0`` Hz (the paper's value): the speed estimate is smoothed over ~0.16 s, so frame
  noise barely opens the filter.
- rotation ``beta = 1.0`` Hz per rad/s: a 90°/s turn (1.57 rad/s) lifts the cutoff to ~2.6 Hz (lag
  ~0.06 s, ~2 frames), a 300°/s turn to ~6 Hz (lag ~0.03 s); a still head with 1° of per-axis
  noise per frame keeps ~6× less frame-to-frame jitter (7.8× at beta = 0).
- translation ``beta_t = 3.0`` Hz per m/s: lag ~0.08 s at 0.3 m/s; 2 cm of depth noise per frame
  is cut ~5×.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from pyhpe.geometry.rotation import so3_exp, so3_log

__all__ = [
    "DEFAULT_BETA_ROTATION",
    "DEFAULT_BETA_TRANSLATION",
    "DEFAULT_D_CUTOFF",
    "DEFAULT_MIN_CUTOFF",
    "OneEuroFilter",
    "OneEuroRotation",
    "PoseSmoother",
    "lag_bound_s",
    "lowpass_alpha",
]

DEFAULT_MIN_CUTOFF = 1.0  # Hz
DEFAULT_D_CUTOFF = 1.0  # Hz
DEFAULT_BETA_ROTATION = 1.0  # Hz per rad/s
DEFAULT_BETA_TRANSLATION = 3.0  # Hz per m/s


def lowpass_alpha(cutoff_hz: float | np.ndarray, dt: float) -> float | np.ndarray:
    """The smoothing factor of a first-order low-pass at ``cutoff_hz`` over a step of ``dt`` s:
    alpha = 1 / (1 + tau/dt), tau = 1 / (2π fc)."""
    tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff_hz, dtype=np.float64))
    return 1.0 / (1.0 + tau / dt)


def _check_params(min_cutoff: float, beta: float, d_cutoff: float) -> None:
    if not (min_cutoff > 0 and d_cutoff > 0):
        raise ValueError(f"min_cutoff and d_cutoff must be > 0 Hz, got {min_cutoff}, {d_cutoff}")
    if not beta >= 0:
        raise ValueError(f"beta must be >= 0, got {beta}")


class _Clock:
    """The time step between successive calls, refusing time that does not move forward."""

    def __init__(self) -> None:
        self.t: float | None = None

    def step(self, t: float) -> float | None:
        """Record ``t`` and return the step since the previous call (None on the first)."""
        t = float(t)
        if not math.isfinite(t):
            raise ValueError(f"time must be finite, got {t}")
        if self.t is None:
            self.t = t
            return None
        dt = t - self.t
        if dt <= 0:
            raise ValueError(f"time must increase between calls: {t} s after {self.t} s")
        self.t = t
        return dt


def lag_bound_s(min_cutoff: float) -> float:
    """Steady-state lag of a constant-speed motion at cutoff ``min_cutoff`` Hz, 1 / (2π fc)
    seconds: exact with beta = 0, an upper bound otherwise (module docstring)."""
    return 1.0 / (2.0 * math.pi * min_cutoff)


class _OneEuro:
    """The three parameters, checked, and the lag bound they imply (module docstring)."""

    def __init__(self, min_cutoff: float, beta: float, d_cutoff: float) -> None:
        _check_params(min_cutoff, beta, d_cutoff)
        self.min_cutoff, self.beta, self.d_cutoff = float(min_cutoff), float(beta), float(d_cutoff)
        self.reset()

    @property
    def delay_s(self) -> float:
        """Steady-state lag bound for a constant speed (:func:`lag_bound_s`)."""
        return lag_bound_s(self.min_cutoff)

    def reset(self) -> None:  # pragma: no cover - each filter defines its state
        raise NotImplementedError


class OneEuroFilter(_OneEuro):
    """The One Euro filter on an array of any shape, each element filtered on its own.

    ``f(t, x)`` takes the time in seconds (strictly increasing, any spacing) and returns the
    filtered value, the input itself on the first call; a float in, a float out.
    """

    def __init__(self, min_cutoff: float = DEFAULT_MIN_CUTOFF, beta: float = 0.0,
                 d_cutoff: float = DEFAULT_D_CUTOFF) -> None:
        super().__init__(min_cutoff, beta, d_cutoff)

    def reset(self) -> None:
        """Forget the state; the next call returns its input."""
        self._clock = _Clock()
        self._x: np.ndarray | None = None  # filtered value
        self._raw: np.ndarray | None = None  # previous input
        self._dx: np.ndarray | None = None  # filtered speed

    def __call__(self, t: float, x: float | np.ndarray) -> float | np.ndarray:
        arr = np.asarray(x, dtype=np.float64)
        if self._x is not None and arr.shape != self._x.shape:
            raise ValueError(f"x changed shape from {self._x.shape} to {arr.shape}; reset() first")
        dt = self._clock.step(t)
        if dt is None:
            self._x, self._dx = arr.copy(), np.zeros_like(arr)
        else:
            speed = (arr - self._raw) / dt
            self._dx = self._dx + lowpass_alpha(self.d_cutoff, dt) * (speed - self._dx)
            cutoff = self.min_cutoff + self.beta * np.abs(self._dx)
            self._x = self._x + lowpass_alpha(cutoff, dt) * (arr - self._x)
        self._raw = arr.copy()
        return float(self._x) if arr.ndim == 0 else self._x.copy()


def _nearest_rotation(R: np.ndarray) -> np.ndarray:
    """The rotation nearest to R in the Frobenius norm (SVD polar factor), so that a model's
    slightly non-orthonormal output cannot leak into the filter state."""
    u, _, vt = np.linalg.svd(R)
    d = np.sign(np.linalg.det(u @ vt))
    return (u * np.array([1.0, 1.0, d])) @ vt


class OneEuroRotation(_OneEuro):
    """The One Euro filter on SO(3): geodesic steps, angular speed in rad/s (module docstring).

    ``r(t, R)`` takes the time in seconds and a (3, 3) rotation (projected to the nearest rotation
    first; det must be positive) and returns the filtered (3, 3) rotation.
    """

    def __init__(self, min_cutoff: float = DEFAULT_MIN_CUTOFF, beta: float = DEFAULT_BETA_ROTATION,
                 d_cutoff: float = DEFAULT_D_CUTOFF) -> None:
        super().__init__(min_cutoff, beta, d_cutoff)

    def reset(self) -> None:
        """Forget the state; the next call returns its input."""
        self._clock = _Clock()
        self._R: np.ndarray | None = None  # filtered rotation
        self._raw: np.ndarray | None = None  # previous input
        self._omega = np.zeros(3)  # filtered angular velocity, camera frame, rad/s

    def __call__(self, t: float, R: np.ndarray) -> np.ndarray:
        R = np.asarray(R, dtype=np.float64)
        if R.shape != (3, 3) or not np.all(np.isfinite(R)):
            raise ValueError(f"R must be a finite (3, 3) matrix, got shape {R.shape}")
        if np.linalg.det(R) <= 0:
            raise ValueError("R must be a rotation (det > 0), got a reflection or singular matrix")
        R = _nearest_rotation(R)
        dt = self._clock.step(t)
        if dt is None or self._R is None or self._raw is None:
            self._R, self._raw = R, R
            return R.copy()
        # angular velocity between the raw samples, camera frame: R = exp([ω dt]×) R_prev
        speed = so3_log(R @ self._raw.T) / dt
        self._raw = R
        self._omega = self._omega + lowpass_alpha(self.d_cutoff, dt) * (speed - self._omega)
        cutoff = self.min_cutoff + self.beta * float(np.linalg.norm(self._omega))
        d = so3_log(self._R.T @ R)  # body-frame step from the estimate to the new sample
        self._R = self._R @ so3_exp(lowpass_alpha(cutoff, dt) * d)
        return self._R.copy()


class PoseSmoother:
    """One rotation filter and one translation filter per track id.

    ``smoother(t, ids, R, t_vec)`` with R (N, 3, 3) and t_vec (N, 3) in metres or None returns the
    smoothed (N, 3, 3) and (N, 3) (or None). A new id starts its own filters (its first pose is
    returned as is); ``forget(keep_ids)`` drops the filters of the other ids. min_cutoff and
    d_cutoff are shared (Hz); beta is per quantity because its unit is (``beta`` for rotation in rad/s,
    ``beta_t`` for translation in m/s).
    """

    def __init__(self, min_cutoff: float = DEFAULT_MIN_CUTOFF, beta: float = DEFAULT_BETA_ROTATION,
                 d_cutoff: float = DEFAULT_D_CUTOFF,
                 beta_t: float = DEFAULT_BETA_TRANSLATION) -> None:
        _check_params(min_cutoff, beta, d_cutoff)
        _check_params(min_cutoff, beta_t, d_cutoff)
        self.min_cutoff, self.beta, self.d_cutoff = float(min_cutoff), float(beta), float(d_cutoff)
        self.beta_t = float(beta_t)
        self._rot: dict[int, OneEuroRotation] = {}
        self._trans: dict[int, OneEuroFilter] = {}

    @property
    def delay_s(self) -> float:
        """Steady-state lag bound for a constant-speed motion (:func:`lag_bound_s`)."""
        return lag_bound_s(self.min_cutoff)

    @property
    def ids(self) -> list[int]:
        """The ids that have filters."""
        return sorted(set(self._rot) | set(self._trans))

    def __call__(self, t: float, ids: Sequence[int], R: np.ndarray,
                 t_vec: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        ids = [int(i) for i in ids]
        R = np.asarray(R, dtype=np.float64).reshape(-1, 3, 3) if len(ids) else np.zeros((0, 3, 3))
        if len(R) != len(ids) or len(set(ids)) != len(ids):
            raise ValueError(f"need one R per distinct id: {len(ids)} ids, {len(R)} rotations")
        out_R = np.empty_like(R)
        for k, i in enumerate(ids):
            if i not in self._rot:
                self._rot[i] = OneEuroRotation(self.min_cutoff, self.beta, self.d_cutoff)
            out_R[k] = self._rot[i](t, R[k])
        if t_vec is None:
            return out_R, None
        tv = np.asarray(t_vec, dtype=np.float64)
        if tv.size == 0:
            tv = tv.reshape(0, 3)
        if tv.shape != (len(ids), 3):
            raise ValueError(f"t must be ({len(ids)}, 3), got {tv.shape}")
        out_t = np.empty_like(tv)
        for k, i in enumerate(ids):
            if i not in self._trans:
                self._trans[i] = OneEuroFilter(self.min_cutoff, self.beta_t, self.d_cutoff)
            out_t[k] = self._trans[i](t, tv[k])
        return out_R, out_t

    def forget(self, keep_ids: Iterable[int]) -> None:
        """Drop the filters of every id not in ``keep_ids`` (tracks that ended)."""
        keep = {int(i) for i in keep_ids}
        for table in (self._rot, self._trans):
            for i in [i for i in table if i not in keep]:
                del table[i]

    def reset(self) -> None:
        """Drop every filter."""
        self._rot.clear()
        self._trans.clear()
