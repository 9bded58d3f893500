"""6DoF head pose metrics of the TRG / TRGv2 tables (ARKitFace, BIWI, DD-Pose).

Conventions (docs/conventions.md): a pose (R, t) maps head coordinates to camera coordinates,
x_cam = R v + t, with OpenCV camera axes (x right, y down, z forward). Rotations are column-form
(N, 3, 3) matrices (points are column vectors; TRG's code stores the transposed row-vector form,
which is the same pose). Translations and vertices are **metres in**; lengths come out in
**millimetres**, as the published tables give them. Angles are degrees.

Every function takes torch tensors or NumPy arrays (or nested lists), computes in float64 on the
input's device and is batched over frames (the leading dimension N). Per-frame results are float64
torch tensors; aggregates are Python floats. Inputs with mismatching shapes raise ``ValueError``
naming the argument, so do inputs holding NaN or ±inf (a metric is never silently NaN); non-numeric
inputs raise ``TypeError``.

Metric definitions (/work/shared/reference/trg.md §3):

- Yaw / pitch / roll and MAE_r: the Euler angles of scipy's ``as_euler('yxz')`` on the column-form
  matrices (``euler_yxz_deg``), absolute difference per angle **without wrap-around**, averaged over
  frames; MAE_r is the mean of the three (``mae_r_yxz``). This is not pyhpe's own Euler convention;
  the MAE in pyhpe's (pitch, yaw, roll) convention (6DRepNet's tables) is
  :func:`pyhpe.metrics.rotation.euler_mae`.
- GE: the mean geodesic angle of R_pred R_gtᵀ (:func:`pyhpe.metrics.rotation.geodesic_errors_deg`).
- t_x, t_y, t_z: per-axis mean |Δt| (mm); MAE_t their mean (``translation_errors_mm``).
- ADD (TRGv2 Eq. 15): mean over the GT head-space vertices v of
  ‖(R_pred v + t_pred) − (R_gt v + t_gt)‖ (mm), per frame (``add_mm``).
- Dense landmarks (TRGv2 Table 3): per frame, the mean distance between predicted and GT head-space
  vertices with no alignment; the median and mean over frames (``dense_landmark_report``).
- BMAE and recall (DD-Pose devkit): ``bmae``, ``rotation_angle_deg``, ``recall``.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from pyhpe.metrics.rotation import geodesic_errors_deg

_GIMBAL_EPS = 1e-7  # cos(pitch) below this is gimbal lock (scipy's 1e-7 rad margin on the angle)


# ----------------------------------------------------------------------------------------- input


def _f64(x, name: str) -> torch.Tensor:
    """``x`` as a float64 tensor (same device for tensors); TypeError for non-numeric input,
    ValueError for NaN / inf."""
    if isinstance(x, torch.Tensor):
        t = x.detach()
        if t.is_complex() or t.dtype == torch.bool:
            raise TypeError(f"{name} must be a real numeric array, got dtype {t.dtype}")
    else:
        a = np.asarray(x)
        if a.dtype.kind not in "iuf":
            raise TypeError(f"{name} must be a real numeric array, got dtype {a.dtype}")
        t = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64))
    t = t.to(torch.float64)
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} holds NaN or inf values")
    return t


def _rotations(R, name: str) -> torch.Tensor:
    r = _f64(R, name)
    if r.ndim != 3 or r.shape[1:] != (3, 3):
        raise ValueError(f"{name} must be (N, 3, 3) rotation matrices, got shape {tuple(r.shape)}")
    return r


def _vectors(t, name: str) -> torch.Tensor:
    v = _f64(t, name)
    if v.ndim != 2 or v.shape[1] != 3:
        raise ValueError(f"{name} must be (N, 3) vectors, got shape {tuple(v.shape)}")
    return v


def _vertex_sets(v, name: str) -> torch.Tensor:
    s = _f64(v, name)
    if s.ndim != 3 or s.shape[2] != 3 or s.shape[1] == 0:
        raise ValueError(f"{name} must be (N, V, 3) vertices with V >= 1, "
                         f"got shape {tuple(s.shape)}")
    return s


def _same_n(**arrays: torch.Tensor) -> int:
    sizes = {name: int(a.shape[0]) for name, a in arrays.items()}
    if len(set(sizes.values())) != 1:
        listed = ", ".join(f"{k} has {n}" for k, n in sizes.items())
        raise ValueError(f"the inputs must have the same number of frames: {listed}")
    return next(iter(sizes.values()))


def _nonempty(n: int) -> None:
    if n == 0:
        raise ValueError("no frames to evaluate")


# ------------------------------------------------------------------------------------- rotation


def euler_yxz_deg(R) -> torch.Tensor:
    """(N, 3, 3) head→camera rotations → (N, 3) (yaw, pitch, roll) in degrees, the Euler angles of
    the published 6DoF tables (TRG, PerspNet): scipy's
    ``Rotation.from_matrix(R).as_euler('yxz', degrees=True)`` on the column-form matrices, here in
    closed form.

    Extrinsic y-x-z: R = Rz(roll) · Rx(pitch) · Ry(yaw) (right-handed active factors), so
    pitch = atan2(R21, √(R20² + R22²)) ∈ [−90°, 90°], yaw = atan2(−R20, R22),
    roll = atan2(−R01, R11), yaw and roll in [−180°, 180°]. At gimbal lock (cos pitch < 1e‑7)
    roll is 0 and yaw = ±atan2(R10, R00) (+ for pitch = +90°, − for −90°), as scipy does.
    """
    r = _rotations(R, "R")
    c = torch.hypot(r[:, 2, 0], r[:, 2, 2])
    pitch = torch.atan2(r[:, 2, 1], c)
    lock = c < _GIMBAL_EPS
    yaw = torch.atan2(-r[:, 2, 0], r[:, 2, 2])
    roll = torch.atan2(-r[:, 0, 1], r[:, 1, 1])
    if bool(lock.any()):
        sign = torch.where(r[:, 2, 1] >= 0, 1.0, -1.0).to(r)
        yaw = torch.where(lock, sign * torch.atan2(r[:, 1, 0], r[:, 0, 0]), yaw)
        roll = torch.where(lock, torch.zeros_like(roll), roll)
    return torch.rad2deg(torch.stack([yaw, pitch, roll], dim=1))


def mae_r_yxz(R_pred, R_gt) -> dict[str, float]:
    """MAE per Euler angle in the 6DoF tables' convention (``euler_yxz_deg``): the mean over frames
    of |angle_pred − angle_gt| for yaw, pitch and roll (degrees, **no wrap-around**, as the official
    TRGv2 / PerspNet code), and ``mean`` = MAE_r, their mean. Inputs (N, 3, 3) rotations.

    For pyhpe's own (pitch, yaw, roll) convention with 6DRepNet's or the wrap-around error formula,
    use :func:`pyhpe.metrics.rotation.euler_mae` (or ``pose_report``)."""
    rp, rg = _rotations(R_pred, "R_pred"), _rotations(R_gt, "R_gt")
    _nonempty(_same_n(R_pred=rp, R_gt=rg))
    per = (euler_yxz_deg(rp) - euler_yxz_deg(rg)).abs().mean(dim=0)
    return {"yaw": float(per[0]), "pitch": float(per[1]), "roll": float(per[2]),
            "mean": float(per.mean())}


def rotation_angle_deg(R) -> torch.Tensor:
    """(N,) rotation angle of each (N, 3, 3) rotation from the identity, degrees in [0, 180]:
    the GT angle from frontal when the frontal head pose is R = I (pyhpe's head frame facing the
    camera). DD-Pose measures it against the devkit's frontal frame, so compose that first."""
    r = _rotations(R, "R")
    return geodesic_errors_deg(r, torch.eye(3, dtype=r.dtype, device=r.device).expand_as(r))


# ---------------------------------------------------------------------------------- translation


def translation_errors_mm(t_pred, t_gt) -> dict[str, float]:
    """Translation errors of (N, 3) translations in metres, in millimetres:
    ``tx``, ``ty``, ``tz`` the per-axis mean |t_pred − t_gt|, ``mae_t`` their mean (MAE_t of the
    TRGv2 tables) and ``euclid`` the mean Euclidean distance ‖t_pred − t_gt‖ (the DD-Pose devkit's
    position error)."""
    tp, tg = _vectors(t_pred, "t_pred"), _vectors(t_gt, "t_gt")
    _nonempty(_same_n(t_pred=tp, t_gt=tg))
    d = (tp - tg) * 1000.0
    per = d.abs().mean(dim=0)
    return {"tx": float(per[0]), "ty": float(per[1]), "tz": float(per[2]),
            "mae_t": float(per.mean()), "euclid": float(torch.linalg.vector_norm(d, dim=1).mean())}


# ------------------------------------------------------------------------------------- vertices


def add_mm(R_pred, t_pred, R_gt, t_gt, vertices) -> torch.Tensor:
    """(N,) ADD per frame in millimetres (TRGv2 Eq. 15): the mean over the head-space vertices v of
    ‖(R_pred v + t_pred) − (R_gt v + t_gt)‖. ``R_*`` (N, 3, 3), ``t_*`` (N, 3) metres, ``vertices``
    (N, V, 3) per frame (ARKitFace: the frame's GT mesh) or (V, 3) shared by all frames (BIWI: the
    subject's neutral mesh), metres. The mean over frames is the tables' ADD."""
    rp, rg = _rotations(R_pred, "R_pred"), _rotations(R_gt, "R_gt")
    tp, tg = _vectors(t_pred, "t_pred"), _vectors(t_gt, "t_gt")
    n = _same_n(R_pred=rp, t_pred=tp, R_gt=rg, t_gt=tg)
    v = _f64(vertices, "vertices")
    if v.ndim == 2 and v.shape[1] == 3 and v.shape[0] > 0:
        v = v.expand(n, -1, -1)
    elif v.ndim == 3 and v.shape[2] == 3 and v.shape[1] > 0:
        if v.shape[0] != n:
            raise ValueError(f"vertices has {v.shape[0]} frames, the poses have {n}")
    else:
        raise ValueError(f"vertices must be (N, V, 3) or (V, 3) with V >= 1, "
                         f"got shape {tuple(v.shape)}")
    v = v.to(rp.device)
    # (R_p v + t_p) − (R_g v + t_g) = (R_p − R_g) v + (t_p − t_g), with row-vector points
    diff = v @ (rp - rg).transpose(1, 2) + (tp - tg)[:, None, :]
    return torch.linalg.vector_norm(diff, dim=2).mean(dim=1) * 1000.0


def vertex_errors_mm(v_pred, v_gt) -> torch.Tensor:
    """(N,) per frame: the mean over vertices of ‖v_pred − v_gt‖ in millimetres, for (N, V, 3)
    head-space vertices in metres in the same order, with no alignment (TRGv2 Table 3)."""
    vp, vg = _vertex_sets(v_pred, "v_pred"), _vertex_sets(v_gt, "v_gt")
    if vp.shape != vg.shape:
        raise ValueError(f"v_pred shape {tuple(vp.shape)} != v_gt shape {tuple(vg.shape)}")
    return torch.linalg.vector_norm(vp - vg.to(vp.device), dim=2).mean(dim=1) * 1000.0


def _median(x: torch.Tensor) -> float:
    """NumPy's median: the mean of the two middle values for an even count (torch.median takes
    the lower one)."""
    s = torch.sort(x).values
    n = s.numel()
    return float(s[n // 2]) if n % 2 else float((s[n // 2 - 1] + s[n // 2]) / 2)


def dense_landmark_report(v_pred, v_gt) -> dict[str, float]:
    """TRGv2 Table 3 (mm): ``median`` and ``mean`` over frames of ``vertex_errors_mm`` (the median
    of an even count is the mean of the two middle values, as NumPy's)."""
    e = vertex_errors_mm(v_pred, v_gt)
    _nonempty(e.numel())
    return {"median": _median(e), "mean": float(e.mean())}


# ------------------------------------------------------------------------------------- DD-Pose


def bmae(errors_deg, angles_deg, bin_deg: float = 5, max_deg: float = 75) -> tuple[float, dict]:
    """Balanced MAE of the DD-Pose devkit (TRGv2 Eq. 14 with d = ``bin_deg``, k = ``max_deg``).

    ``errors_deg`` (N,): the per-frame error to average (the devkit passes the geodesic angle of
    GT⁻¹ · prediction, e.g. ``geodesic_errors_deg(R_pred, R_gt)``); ``angles_deg`` (N,): the GT
    rotation angle from frontal (``rotation_angle_deg``), ≥ 0. The bins are [lo, lo + bin_deg) for
    lo in range(0, max_deg − 1, bin_deg), the devkit's: [0, 5), [5, 10), …, [70, 75) by default,
    so frames at ≥ 75° fall in no bin and are left out. BMAE is the mean over the **non-empty**
    bins of the mean error in each bin.

    Returns ``(value, per_bin)``; ``per_bin`` maps every bin (lo, hi) in order to its mean error,
    or ``None`` when the bin holds no frame. ValueError when no frame falls in any bin."""
    e, a = _f64(errors_deg, "errors_deg"), _f64(angles_deg, "angles_deg")
    if e.ndim != 1 or a.shape != e.shape:
        raise ValueError(f"errors_deg and angles_deg must be two (N,) arrays, got shapes "
                         f"{tuple(e.shape)} and {tuple(a.shape)}")
    if bool((a < 0).any()):
        raise ValueError("angles_deg must be rotation angles >= 0")
    finite = math.isfinite(bin_deg) and math.isfinite(max_deg)
    if not (finite and 0 < bin_deg < max_deg):
        raise ValueError(f"need 0 < bin_deg < max_deg, got bin_deg={bin_deg}, max_deg={max_deg}")
    a = a.to(e.device)
    per_bin: dict[tuple[float, float], float | None] = {}
    k, lo = 0, 0 * bin_deg
    while lo < max_deg - 1:  # range(0, max_deg - 1, bin_deg), also for float steps
        hi = lo + bin_deg
        inside = (a >= lo) & (a < hi)
        per_bin[(lo, hi)] = float(e[inside].mean()) if bool(inside.any()) else None
        k += 1
        lo = k * bin_deg
    filled = [m for m in per_bin.values() if m is not None]
    if not filled:
        raise ValueError(f"no frame has an angle below {max_deg}°: BMAE is undefined")
    return sum(filled) / len(filled), per_bin


def recall(n_predicted: int, n_ground_truth: int) -> float:
    """DD-Pose recall: the fraction (0 … 1; the tables print percent) of the ground-truth frames
    for which a prediction was made."""
    for name, v in (("n_predicted", n_predicted), ("n_ground_truth", n_ground_truth)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{name} must be an integer count, got {type(v).__name__}")
    if n_ground_truth <= 0:
        raise ValueError(f"n_ground_truth must be > 0, got {n_ground_truth}")
    if not 0 <= n_predicted <= n_ground_truth:
        raise ValueError(f"n_predicted must be in [0, n_ground_truth={n_ground_truth}], "
                         f"got {n_predicted}")
    return n_predicted / n_ground_truth


# -------------------------------------------------------------------------------------- report


def sixdof_report(R_pred, t_pred, R_gt, t_gt, vertices_gt=None, vertices_pred=None) -> dict:
    """Every 6DoF metric of the TRGv2 tables at once, as a flat dict:

    ``n`` (frames, int); ``yaw``, ``pitch``, ``roll``, ``mae_r`` (degrees, ``mae_r_yxz``); ``ge``
    (mean geodesic error, degrees); ``tx_mm``, ``ty_mm``, ``tz_mm``, ``mae_t_mm``, ``t_euclid_mm``
    (``translation_errors_mm``); with ``vertices_gt`` ((N, V, 3) or (V, 3) head-space GT vertices,
    metres) also ``add_mm`` (mean ADD); with both ``vertices_gt`` and ``vertices_pred`` ((N, V, 3))
    also ``vertex_median_mm`` and ``vertex_mean_mm`` (``dense_landmark_report``).
    All values but ``n`` are floats."""
    rp, rg = _rotations(R_pred, "R_pred"), _rotations(R_gt, "R_gt")
    tp, tg = _vectors(t_pred, "t_pred"), _vectors(t_gt, "t_gt")
    n = _same_n(R_pred=rp, t_pred=tp, R_gt=rg, t_gt=tg)
    _nonempty(n)
    if vertices_pred is not None and vertices_gt is None:
        raise ValueError("vertices_pred needs vertices_gt")
    m = mae_r_yxz(rp, rg)
    t = translation_errors_mm(tp, tg)
    out: dict = {
        "n": n,
        "mae_r": m["mean"], "yaw": m["yaw"], "pitch": m["pitch"], "roll": m["roll"],
        "ge": float(geodesic_errors_deg(rp, rg).mean()),
        "tx_mm": t["tx"], "ty_mm": t["ty"], "tz_mm": t["tz"], "mae_t_mm": t["mae_t"],
        "t_euclid_mm": t["euclid"],
    }
    if vertices_gt is not None:
        out["add_mm"] = float(add_mm(rp, tp, rg, tg, vertices_gt).mean())
        if vertices_pred is not None:
            vg = _f64(vertices_gt, "vertices_gt")
            if vg.ndim == 2:
                vg = vg.expand(n, -1, -1)
            vp = _vertex_sets(vertices_pred, "vertices_pred")
            if vp.shape[0] != n:
                raise ValueError(f"vertices_pred has {vp.shape[0]} frames, the poses have {n}")
            d = dense_landmark_report(vp, vg)
            out["vertex_median_mm"], out["vertex_mean_mm"] = d["median"], d["mean"]
    return out
