"""Pose metrics: MAE per Euler angle (two error formulas), geodesic error, AFLW2000's ±99° filter.

Euler angles are pyhpe's (pitch, yaw, roll) in degrees (docs/conventions.md); reports list them as
yaw, pitch, roll, the order of the 6DRepNet tables. The 6DoF tables (TRG, PerspNet) use another
Euler convention (scipy's 'yxz'); their metrics are in :mod:`pyhpe.metrics.sixdof`.

Two per-angle error formulas:

- ``"6drepnet"``: min(|g−p|, |p+360−g|, |p−360−g|, |p+180−g|, |p−180−g|), the five candidates of
  the official ``test.py``. Use it to compare with published tables. Its ±180 candidates fold any
  error above 90° back (a single angle's error never exceeds 90°) and hide the 180° pitch/roll jumps
  of the decomposition near |yaw| = 90°.
- ``"wrap360"``: min(|d|, 360 − |d|) with d = (p − g) mod 360, the clean wrap-around (0 … 180°),
  which 6DRepNet360's fixed ``test.py`` uses.

The geodesic error (the angle of R_pred R_gtᵀ, degrees) is computed in float64 with no clamp
margin, so it is exact to rounding and independent of the Euler decomposition.
"""

from __future__ import annotations

import numpy as np
import torch

FORMULAS = ("6drepnet", "wrap360")
ANGLE_NAMES = ("pitch", "yaw", "roll")  # column order of pyhpe Euler tensors


def _as_f64(x) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x).to(torch.float64)


def angle_errors(pred_deg, gt_deg, formula: str = "6drepnet") -> torch.Tensor:
    """Absolute per-angle errors in degrees, same shape as the inputs (any shape, float64)."""
    if formula not in FORMULAS:
        raise ValueError(f"formula must be one of {FORMULAS}, got {formula!r}")
    p, g = _as_f64(pred_deg), _as_f64(gt_deg)
    if p.shape != g.shape:
        raise ValueError(f"prediction shape {tuple(p.shape)} != ground truth shape {tuple(g.shape)}")
    if formula == "6drepnet":
        cands = torch.stack([(g - p).abs(), (p + 360 - g).abs(), (p - 360 - g).abs(),
                             (p + 180 - g).abs(), (p - 180 - g).abs()])
        return cands.min(dim=0).values
    d = torch.remainder(p - g, 360.0)
    return torch.minimum(d, 360.0 - d)


def euler_mae(pred_deg, gt_deg, formula: str = "6drepnet") -> dict[str, float]:
    """MAE per angle and their mean (degrees) for (N, 3) (pitch, yaw, roll) arrays.

    ``mean`` is (yaw + pitch + roll) / 3, i.e. the sum of all errors over 3N, as 6DRepNet reports.
    """
    err = angle_errors(pred_deg, gt_deg, formula)
    if err.ndim != 2 or err.shape[1] != 3:
        raise ValueError(f"expected (N, 3) Euler angles, got {tuple(err.shape)}")
    if err.shape[0] == 0:
        raise ValueError("no samples to evaluate")
    per = err.mean(dim=0)
    out = {"yaw": float(per[1]), "pitch": float(per[0]), "roll": float(per[2])}
    out["mean"] = float(per.mean())
    return out


def geodesic_errors_deg(R_pred, R_gt) -> torch.Tensor:
    """(N,) angle of R_pred · R_gtᵀ in degrees (float64, arccos of the clamped cosine)."""
    a, b = _as_f64(R_pred), _as_f64(R_gt)
    if a.shape != b.shape or a.shape[-2:] != (3, 3):
        raise ValueError(f"expected two (N, 3, 3) rotation batches, got {tuple(a.shape)} and {tuple(b.shape)}")
    cos = ((a * b).sum(dim=(-2, -1)) - 1.0) / 2.0  # tr(A Bᵀ) = Σ A∘B
    return torch.rad2deg(torch.arccos(cos.clamp(-1.0, 1.0)))


def geodesic_error(R_pred, R_gt) -> float:
    """Mean geodesic error in degrees."""
    return float(geodesic_errors_deg(R_pred, R_gt).mean())


def within_99(euler_deg) -> torch.Tensor:
    """(N,) bool: |pitch|, |yaw| and |roll| all ≤ 99° (inclusive), the AFLW2000/300W-LP list filter."""
    e = _as_f64(euler_deg)
    return (e.abs() <= 99.0).all(dim=-1)


def matrix_to_euler_deg(R) -> torch.Tensor:
    """(N, 3, 3) → (N, 3) (pitch, yaw, roll) degrees with 6DRepNet's decomposition (pyhpe.ops)."""
    from pyhpe.ops import matrix_to_euler

    return matrix_to_euler(torch.as_tensor(R).to(torch.float32), degrees=True).to(torch.float64)


def pose_report(R_pred, R_gt, euler_gt_deg=None) -> dict:
    """Every rotation metric at once: ``mae_6drepnet``, ``mae_wrap360`` (dicts yaw/pitch/roll/mean),
    ``geodesic_deg`` and ``n``. Ground-truth angles are the dataset labels when given (as the
    official test does), else decoded from ``R_gt``; predictions are decoded from ``R_pred``."""
    pred = matrix_to_euler_deg(R_pred)
    gt = matrix_to_euler_deg(R_gt) if euler_gt_deg is None else _as_f64(euler_gt_deg)
    return {
        "n": int(pred.shape[0]),
        "mae_6drepnet": euler_mae(pred, gt, "6drepnet"),
        "mae_wrap360": euler_mae(pred, gt, "wrap360"),
        "geodesic_deg": geodesic_error(R_pred, R_gt),
    }


def mean_rotation(R) -> torch.Tensor:
    """The chordal L2 mean of (N, 3, 3) rotations: the rotation nearest (Frobenius) to their
    arithmetic mean, via SVD with det fixed to +1. The "trivial predictor" of the demo."""
    M = _as_f64(R).mean(dim=0)
    U, _, Vh = torch.linalg.svd(M)
    D = torch.diag(torch.tensor([1.0, 1.0, float(torch.sign(torch.det(U @ Vh)) or 1.0)], dtype=M.dtype))
    return (U @ D @ Vh).to(torch.float32)

