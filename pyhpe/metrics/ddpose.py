"""DD-Pose evaluation: the devkit's subsets (easy / moderate / hard) and its per-subset report.

Facts from the DD-Pose devkit (github.com/herr-biber/dd-pose, ``dd_pose/evaluation_helpers.py``,
MIT; /work/shared/reference/trg.md §3, §4.3), re-stated here, not copied:

- **Angle from frontal.** The devkit measures a ground-truth head pose against a "frontal" head
  frame whose identity is a head looking into the camera: x towards the camera, y to the image's
  right, z up the image, i.e. R_camdriver_headfrontal = :data:`R_CAMDRIVER_HEADFRONTAL`. A
  frame's angle is the rotation angle of R_headfrontal_head = R_camdriver_headfrontalᵀ · R_gt
  (``gt_angle_from_zero``).
- **Occlusion.** Labels ``none``, ``partial``, ``full`` and their ``-auto`` variants
  (``occlusion-labels.json``). Frames without a label are dropped from every subset; frames
  labelled full are skipped by default (``is_ignore_full_occlusion=True``).
- **Subsets.** easy: angle < 35° and occlusion none; moderate: angle < 60° and occlusion none or
  partial, minus easy; hard: angle ≥ 60° or occlusion full (so, with full-occlusion frames
  skipped, angle ≥ 60°). "all" is every evaluated frame.
- **Metrics per subset.** BMAE (:func:`pyhpe.metrics.sixdof.bmae`: 5° bins [0, 5) … [70, 75) of
  the GT angle, mean of the non-empty bins' mean geodesic error); MAE_r = the mean geodesic angle
  of R_gtᵀ·R_pred (the devkit's ``get_mae``; not the Euler MAE of the other TRGv2 tables);
  translation errors in millimetres, both of the devkit's: ``t_euclid_mm`` = mean Euclidean
  distance (``get_dxyz``) and ``mae_t_mm`` = the mean of the per-axis mean |Δ| (``get_dx/dy/dz``;
  the TRGv2 code's MAE_t); recall = predicted frames / GT frames (``get_recall``). Errors average
  over the frames with a prediction only (the devkit's ``skipna``).

Translations are metres in (the devkit draws its axes 0.1 "m" long through these transforms),
millimetres out; angles are degrees.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from pyhpe.metrics.rotation import geodesic_errors_deg
from pyhpe.metrics.sixdof import bmae, recall, rotation_angle_deg, translation_errors_mm

__all__ = ["OCCLUSION_LABELS", "R_CAMDRIVER_HEADFRONTAL", "SUBSETS", "angle_from_frontal_deg",
           "ddpose_report", "subset_masks"]

#: rotation of the devkit's frontal head frame in the driver camera (x to the camera, y image
#: right, z image up): the devkit's T_camdriver_headfrontal without its zero translation
R_CAMDRIVER_HEADFRONTAL = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [-1.0, 0.0, 0.0]])
_NONE, _PARTIAL, _FULL = ("none", "none-auto"), ("partial", "partial-auto"), ("full", "full-auto")
#: every occlusion label of ``occlusion-labels.json``
OCCLUSION_LABELS = _NONE + _PARTIAL + _FULL
SUBSETS = ("all", "easy", "moderate", "hard")
EASY_MAX_DEG, MODERATE_MAX_DEG = 35.0, 60.0


def angle_from_frontal_deg(R_gt) -> torch.Tensor:
    """(N,) angle in degrees of each (N, 3, 3) head → driver-camera rotation from the devkit's
    frontal head pose (the rotation angle of R_camdriver_headfrontalᵀ · R_gt)."""
    r = torch.as_tensor(np.asarray(R_gt, dtype=np.float64)) if not isinstance(R_gt, torch.Tensor) \
        else R_gt.detach().to(torch.float64)
    if r.ndim != 3 or r.shape[1:] != (3, 3):
        raise ValueError(f"R_gt must be (N, 3, 3) rotation matrices, got shape {tuple(r.shape)}")
    F = torch.as_tensor(R_CAMDRIVER_HEADFRONTAL, dtype=torch.float64, device=r.device)
    return rotation_angle_deg(F.T @ r)


def subset_masks(angles_deg, occlusion: Sequence[str | None],
                 ignore_full_occlusion: bool = True) -> dict[str, np.ndarray]:
    """(N,) boolean masks of the devkit's subsets ``all``, ``easy``, ``moderate``, ``hard`` for
    frames with GT angles ``angles_deg`` (:func:`angle_from_frontal_deg`) and ``occlusion``
    labels (None: the frame has no label and is in no subset). With ``ignore_full_occlusion``
    (the devkit's default) full-occlusion frames are in no subset. ValueError for a label not in
    :data:`OCCLUSION_LABELS`."""
    a = np.asarray(angles_deg.cpu() if isinstance(angles_deg, torch.Tensor) else angles_deg,
                   dtype=np.float64).reshape(-1)
    occ = list(occlusion)
    if len(occ) != len(a):
        raise ValueError(f"{len(a)} angles but {len(occ)} occlusion labels")
    bad = sorted({str(o) for o in occ if o is not None and o not in OCCLUSION_LABELS})
    if bad:
        raise ValueError(f"unknown occlusion label(s) {', '.join(bad)}; "
                         f"valid: {', '.join(OCCLUSION_LABELS)}")
    none = np.array([o in _NONE for o in occ], bool)
    partial = np.array([o in _PARTIAL for o in occ], bool)
    full = np.array([o in _FULL for o in occ], bool)
    valid = np.array([o is not None for o in occ], bool)
    if ignore_full_occlusion:
        valid &= ~full
    easy = valid & (a < EASY_MAX_DEG) & none
    moderate = valid & (a < MODERATE_MAX_DEG) & (none | partial) & ~easy
    hard = valid & ((a >= MODERATE_MAX_DEG) | full)
    return {"all": valid, "easy": easy, "moderate": moderate, "hard": hard}


def _subset_metrics(R_pred: torch.Tensor, t_pred: torch.Tensor, R_gt: torch.Tensor,
                    t_gt: torch.Tensor, angles: torch.Tensor, in_subset: np.ndarray,
                    predicted: np.ndarray) -> dict:
    n_gt = int(in_subset.sum())
    use = torch.from_numpy(np.asarray(in_subset & predicted, dtype=bool))
    n_pred = int(use.sum())
    out: dict = {"n": n_gt, "n_predicted": n_pred,
                 "recall": recall(n_pred, n_gt) if n_gt else None,
                 "bmae": None, "mae_r": None, "mae_t_mm": None, "t_euclid_mm": None,
                 "bmae_bins": None}
    if n_pred == 0:
        return out
    errors = geodesic_errors_deg(R_pred[use], R_gt[use])
    out["mae_r"] = float(errors.mean())
    t = translation_errors_mm(t_pred[use], t_gt[use])
    out["mae_t_mm"], out["t_euclid_mm"] = t["mae_t"], t["euclid"]
    try:
        value, bins = bmae(errors, angles[use])
    except ValueError:  # every frame at >= 75°: no bin holds one (the devkit gives NaN)
        return out
    out["bmae"] = value
    out["bmae_bins"] = {f"{lo:g}-{hi:g}": m for (lo, hi), m in bins.items()}
    return out


def ddpose_report(R_pred, t_pred, R_gt, t_gt, occlusion: Sequence[str | None],
                  predicted=None, ignore_full_occlusion: bool = True) -> dict:
    """The DD-Pose table for every subset: ``{subset: {n, n_predicted, recall, bmae, mae_r,
    mae_t_mm, t_euclid_mm, bmae_bins}}`` for ``all``, ``easy``, ``moderate``, ``hard``.

    ``R_*`` (N, 3, 3) head → driver-camera rotations and ``t_*`` (N, 3) metres of the N GT frames
    (rows of frames without a prediction are ignored); ``occlusion`` the frames' labels;
    ``predicted`` (N,) bool, which frames have a prediction (default: all). ``n`` counts GT
    frames of the subset, ``recall`` = n_predicted / n (0 … 1). Metrics of a subset without
    predicted frames are None, so is its BMAE when none of them lies below 75°. Degrees and
    millimetres; the definitions are in the module docstring."""
    def f64(x, name):
        v = x.detach().cpu().to(torch.float64) if isinstance(x, torch.Tensor) \
            else torch.as_tensor(np.asarray(x, dtype=np.float64))
        if not bool(torch.isfinite(v).all()):
            raise ValueError(f"{name} holds NaN or inf values")
        return v

    rp, tp, rg, tg = f64(R_pred, "R_pred"), f64(t_pred, "t_pred"), f64(R_gt, "R_gt"), f64(t_gt, "t_gt")
    n = len(rg)
    for name, v, shape in (("R_pred", rp, (n, 3, 3)), ("t_pred", tp, (n, 3)), ("t_gt", tg, (n, 3))):
        if tuple(v.shape) != shape:
            raise ValueError(f"{name} must have shape {shape} (R_gt has {n} frames), got {tuple(v.shape)}")
    pred = np.ones(n, bool) if predicted is None else np.asarray(predicted, bool).reshape(-1)
    if len(pred) != n:
        raise ValueError(f"predicted has {len(pred)} entries for {n} frames")
    angles = angle_from_frontal_deg(rg)
    masks = subset_masks(angles, occlusion, ignore_full_occlusion)
    if not masks["all"].any():
        raise ValueError("no DD-Pose frame to evaluate (every frame lacks an occlusion label"
                         + (" or is fully occluded)" if ignore_full_occlusion else ")"))
    return {name: _subset_metrics(rp, tp, rg, tg, angles, masks[name], pred) for name in SUBSETS}
